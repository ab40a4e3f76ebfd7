"""Progress on long work: a bar on a terminal, nothing in a pipe, a log file or CI.

Replaying or inspecting a big cassette, fuzzing or diffing a folder of them can take a
minute; silence that long reads as a hang. The bar is tqdm's (a small, dependency-free and
well-kept progress meter) on standard error, so standard output stays the data a pipe
expects. It is drawn only when standard error is a terminal and ``CI`` is not set, and only
once the work has lasted :data:`DELAY` seconds, so quick commands print exactly what they
printed before. ``NO_COLOR`` is honoured: the bar is coloured only without it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Protocol

__all__ = ["DELAY", "Bar", "bar", "colour", "shown", "to", "writing"]

DELAY = 0.5
"""Seconds of work before a bar appears."""


class Bar(Protocol):
    """What the commands do with a bar: move it on, or put it at a position."""

    n: float

    def update(self, n: float = 1) -> bool | None: ...


class _Silent:
    n: float = 0

    def update(self, n: float = 1) -> bool | None:
        self.n += n
        return None


def shown() -> bool:
    """Whether a bar would be seen: standard error is a terminal and this is not CI."""
    if os.environ.get("CI"):
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def colour() -> str | None:
    """The bar's colour: none when ``NO_COLOR`` is set (https://no-color.org)."""
    return None if os.environ.get("NO_COLOR") else "cyan"


@contextlib.contextmanager
def bar(
    total: float | None, description: str, *, unit: str = "it", unit_scale: bool = False
) -> Iterator[Bar]:
    """A bar over ``total`` units, or one that counts nothing when it would not be seen."""
    if not shown():
        yield _Silent()
        return
    from tqdm import tqdm  # imported only by a command that shows one

    meter = tqdm(
        total=total,
        desc=description,
        unit=unit,
        unit_scale=unit_scale,
        file=sys.stderr,
        delay=DELAY,
        leave=False,
        dynamic_ncols=True,
        colour=colour(),
    )
    try:
        yield meter
    finally:
        meter.close()


def to(meter: Bar, position: float) -> None:
    """Put ``meter`` at ``position`` (for work that reports how far it got, not how much)."""
    if position > meter.n:
        meter.update(position - meter.n)


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """Print inside this: a bar on the same terminal is lifted first and drawn again after."""
    tqdm_module = sys.modules.get("tqdm")
    if tqdm_module is None:  # no bar was ever drawn
        yield
        return
    with tqdm_module.tqdm.external_write_mode(file=sys.stderr):
        yield
