"""Delta debugging: the smallest part of a failing set of changes that still fails.

Both fuzzers find a failure made of many small changes (the cut points of a split, the sites
of a hazard) of which usually one or two matter. :func:`shrink_items` removes them, first in
large groups and then one by one, for as long as the failure persists, within a budget of
tries, so a report shows the change that breaks the parser and not the hundred around it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["shrink_items"]

_Item = TypeVar("_Item")


def shrink_items(
    items: Sequence[_Item], fails: Callable[[list[_Item]], bool], *, budget: int = 400
) -> tuple[list[_Item], int]:
    """The smallest sublist of ``items`` found that still ``fails``, and how many were tried.

    Groups of half the list are dropped first; the group size halves when none can go, down
    to single items. Order is kept. ``budget`` bounds the calls to ``fails``.
    """
    kept = list(items)
    tried = 0
    size = max(1, len(kept) // 2)
    while kept and tried < budget:
        removed = False
        start = 0
        while start < len(kept) and tried < budget:
            candidate = kept[:start] + kept[start + size :]
            tried += 1
            if fails(candidate):
                kept = candidate
                removed = True
            else:
                start += size
        if size == 1 and not removed:
            break
        if not removed or size > 1:
            size = max(1, size // 2)
    return kept, tried
