"""``-j/--jobs N``: one job per cassette, spread over worker processes, results in input order.

A folder run (``fuzz``, ``diff``) is one independent job per cassette, so it parallelises
without coordination. :func:`ordered_map` runs the jobs in ``N`` worker processes and hands
back each result in the order of the inputs as soon as every earlier one is in, so the report
a command prints is the same, line for line, whatever ``N`` is and whichever worker finished
first; with ``N`` = 1 the jobs run in this process, with no pool at all.

Workers are started with ``forkserver``: a command may have started threads (a progress bar
does), and forking a process that has threads can deadlock. A job is a module-level function
and picklable arguments: a parser is passed by its ``MODULE:FACTORY`` text and loaded in the
worker (:func:`load_once`), since a factory object need not pickle. Results should be small
(lines of a report, flags): they cross a pipe.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import click

__all__ = ["jobs_option", "load_once", "ordered_map", "worker_count"]

_In = TypeVar("_In")
_Out = TypeVar("_Out")
_F = TypeVar("_F", bound=Callable[..., Any])


def worker_count(jobs: int) -> int:
    """``jobs`` as a number of workers: 0 means one per core."""
    return jobs if jobs > 0 else (os.cpu_count() or 1)


def ordered_map(
    work: Callable[[_In], _Out], items: Sequence[_In], *, jobs: int = 1
) -> Iterator[_Out]:
    """``work(item)`` for each item, in the order of ``items``, over ``jobs`` processes."""
    workers = min(worker_count(jobs), max(1, len(items)))
    if workers == 1:
        for item in items:
            yield work(item)
        return
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # One item at a time: cassettes differ in cost by orders of magnitude, and a worker
        # that took a batch of big ones would leave the others idle.
        yield from pool.map(work, items, chunksize=1)


@functools.cache
def load_once(spec: str | None) -> Any:
    """The parser factory ``spec`` names, loaded once per process (None for streamreel's)."""
    from streamreel.cli.options import factory_option

    return factory_option(spec)


def jobs_option(function: _F) -> _F:
    """The ``-j/--jobs N`` option every folder command shares."""
    return click.option(
        "-j",
        "--jobs",
        type=click.IntRange(min=0),
        default=1,
        show_default=True,
        help="Run N cassettes at once in worker processes (0: one per core). The report is "
        "the same, in the same order, whatever N is.",
    )(function)
