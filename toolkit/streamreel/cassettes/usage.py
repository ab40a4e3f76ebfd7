"""Which cassette files a program read or wrote: observers told of each one.

The pytest plugin lists the cassettes no test used, and may delete them; it can only do that
safely if it sees every use, whichever way a test reaches a file (the ``replay`` fixture,
``streamreel.replay(path)``, ``record(path)``, the emulator). Every read and write of a
cassette file goes through :mod:`streamreel.cassettes.storage` or
:mod:`streamreel.cassettes.chunkfile`, which call :func:`note` here; the plugin registers an
observer with :func:`watch`. With no observer, :func:`note` costs one truth test.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["note", "unwatch", "watch"]

_observers: list[Callable[[str], None]] = []


def watch(observer: Callable[[str], None]) -> None:
    """Call ``observer`` with the absolute path of every cassette file read or written."""
    _observers.append(observer)


def unwatch(observer: Callable[[str], None]) -> None:
    """Stop calling ``observer`` (a no-op when it is not watching)."""
    if observer in _observers:
        _observers.remove(observer)


def note(path: str | os.PathLike[str]) -> None:
    """Tell the observers that the cassette at ``path`` is being used."""
    if _observers:
        where = os.path.abspath(path)
        for observer in list(_observers):
            observer(where)
