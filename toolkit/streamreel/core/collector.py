"""The cyclic garbage collector paused for a block that only builds what it keeps.

Imports, a replay's result, a loaded cassette: everything such a block allocates stays alive
until it ends, so each of the collector's passes during it would scan a heap that only grows
and free nothing. On a 32,000-chunk stream those passes took longer than the replay; on a short
command's imports they were a twentieth of its run. Nothing cyclic is lost by waiting: the
collector runs again, on its usual schedule, when the block ends.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["paused"]


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Pause the collector for the block; one that was already paused stays paused."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
