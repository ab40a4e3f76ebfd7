"""The exit statuses of the commands, one table so that a script can tell the cases apart.

:data:`STATUSES` is the table; the README's "Exit statuses" section prints the same rows, and
``tests/test_exits.py`` holds the two together. Each command documents the ones it uses in its
``--help``; when several apply to one run, the highest wins, since it names the case that says
least was shown (an unsupported stream replays nothing; an incomplete one replays part; a
provider error replays whole). The convention around them: results go to standard output, and
every error and note to standard error, naming the file (``<stdin>`` for ``-``).
"""

from __future__ import annotations

import enum
import os
import sys

import click

__all__ = ["STATUSES", "Exit", "Unreadable", "quiet_closed_output"]


class Exit(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    UNREADABLE = 3
    INCOMPLETE = 4
    UNSUPPORTED = 5
    INTERRUPTED = 130
    """128 + SIGINT, as a shell reports a program Ctrl-C stopped."""
    PIPE_CLOSED = 141
    """128 + SIGPIPE, as a shell reports a program whose reader went away."""


STATUSES: dict[Exit, str] = {
    Exit.OK: "everything ran, and nothing was wrong",
    Exit.FAILED: (
        "something was found wrong: `replay` replayed an error (the provider's or the "
        "parser's), `diff` found a cassette that differs, `fuzz` a split that changes the "
        "messages, `audit` found something (fixed or not), `record` saved a failed session"
    ),
    Exit.USAGE: (
        "usage error: a bad option or argument, a missing file, a folder with no cassettes, an "
        "`--interaction` or `--choice` the input does not have, a `record` without its key, "
        "base URL or SDK"
    ),
    Exit.UNREADABLE: (
        "an input could not be read: not a cassette or chunk file, not text, damaged, empty, "
        "or past a size limit (`diff` and `fuzz` report it and go on with the others)"
    ),
    Exit.INCOMPLETE: (
        "`replay`: a stream is incomplete: cut before its terminator, or damaged part-way"
    ),
    Exit.UNSUPPORTED: "`replay`: a stream streamreel does not adapt, so nothing of it was replayed",
    Exit.INTERRUPTED: "interrupted (Ctrl-C): stopped at once, without a traceback",
    Exit.PIPE_CLOSED: "standard output was closed early (piped into `head`): output stops quietly",
}
"""Each status and what it means, for every command: the README's table."""


class Unreadable(click.ClickException):
    """An input that cannot be read: printed as ``Error: ...``, exits with ``UNREADABLE``."""

    exit_code = Exit.UNREADABLE


def quiet_closed_output() -> None:
    """Point standard output at the null device, so that the interpreter's last flush of a pipe
    whose reader went away does not print a second error on the way out."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass  # not a real file (a test runner's capture): nothing will be flushed to a pipe
