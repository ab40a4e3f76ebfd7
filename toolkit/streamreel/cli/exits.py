"""The exit statuses of the commands, one table so that a script can tell the cases apart.

Each command documents the ones it uses in its ``--help``; when several apply to one run, the
highest wins, since it names the case that says least was shown (an unsupported stream replays
nothing; an incomplete one replays part; a provider error replays whole).
"""

from __future__ import annotations

import enum

import click

__all__ = ["Exit", "Unreadable"]


class Exit(enum.IntEnum):
    OK = 0
    """Everything ran, and nothing was wrong."""
    FAILED = 1
    """replay: a provider's or the parser's error was replayed; diff: a cassette differs; fuzz:
    a split changed the messages; audit: something was found (fixed or not)."""
    USAGE = 2
    """A bad option or argument (click's own status for usage errors)."""
    UNREADABLE = 3
    """An input could not be read: not a cassette or chunk file, or damaged."""
    INCOMPLETE = 4
    """replay: a stream ended before its terminator, or is damaged part-way."""
    UNSUPPORTED = 5
    """replay: a stream streamreel does not adapt, so nothing of it was replayed."""


class Unreadable(click.ClickException):
    """An input that cannot be read: printed as ``Error: ...``, exits with ``UNREADABLE``."""

    exit_code = Exit.UNREADABLE
