"""The garbage collector's schedule for commands that build a large result and print it.

A replay keeps every chunk record and message it makes; each of the cyclic collector's passes
scans all of them, and on a 32,000-chunk file those passes cost more than the replay. The
library pauses the collector while a replay runs (:func:`streamreel.playback.replay.replay`),
but resuming it with the result still alive costs one last pass over everything. A command
can do better: it frees the result before the collector resumes, and freed objects leave the
collector's lists, so the pass that follows has nearly nothing to scan.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click

__all__ = ["collector_paused"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def collector_paused(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``command`` with the cyclic garbage collector paused, resuming it once its locals are
    gone.

    A command that ends by raising (``SystemExit`` for its exit status, a click error) would
    keep its frame, and so its result, alive through the exception's traceback; for those
    expected exits the traceback is dropped before the collector resumes. Any other exception
    keeps its traceback: it is a bug to be read, not an exit status.
    """

    @functools.wraps(command)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not gc.isenabled():
            return command(*args, **kwargs)
        gc.disable()
        expected: BaseException | None = None
        try:
            return command(*args, **kwargs)
        except (SystemExit, click.ClickException, click.exceptions.Exit) as exc:
            expected = exc.with_traceback(None)
        finally:
            if expected is None:
                gc.enable()
        gc.enable()
        raise expected

    return run
