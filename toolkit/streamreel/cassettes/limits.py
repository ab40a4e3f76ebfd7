"""Budgets that keep reading a hostile or broken file bounded in time and memory.

A cassette is input from anywhere (a colleague's branch, a download, an attachment to a bug
report), so every reader must finish quickly on any bytes, with a
:class:`~streamreel.core.errors.CassetteError` rather than a hang, an exhausted machine or a
``RecursionError``. Three things could otherwise blow up:

**YAML aliases.** A loaded YAML document shares the object behind an alias instead of copying
it, so a "billion laughs" (nine levels, each a list of nine aliases of the level below) loads
in a few kilobytes, and explodes only later, when something walks it as a tree: re-encoding a
pydantic-ai ``parsed_body`` as JSON, matching, scrubbing, printing. :func:`check_document`
measures the document *as a tree would be*, visiting each shared object once and multiplying by
how often it is reached, and refuses one whose expanded size exceeds
:func:`expansion_budget` of the file's own size. Honest files stay within it: a tree with no
aliases is never larger than its text, and vcrpy's own aliases (a headers mapping reused) add
little. A self-referencing alias (``&a [*a]``) is refused too, since no tree can hold it.

**Nesting.** Python's recursive JSON encoder and decoder, and every recursive walk after them,
stop with ``RecursionError`` near a depth of 1,000. Cassettes written by real clients nest a few
dozen levels at most, so anything deeper than :data:`MAX_DEPTH` is refused up front.

**Compression.** A small gzip body can inflate to gigabytes; bodies are decompressed to at most
:data:`MAX_BODY_BYTES` (the content decoder, shared with the recorder, enforces it).

**Lines.** A chunk file is read a line at a time, and no line longer than
:data:`MAX_LINE_BYTES` is held (:mod:`streamreel.cassettes.textfile`); a file that is not text
is refused from its first bytes there too.

The walk is iterative, so measuring a deep document cannot itself overflow the stack.
"""

from __future__ import annotations

import itertools
from typing import Any

from streamreel.core.encoding import MAX_DECODED_BYTES
from streamreel.core.errors import CassetteError

__all__ = [
    "ALIAS_ALLOWANCE",
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "MAX_LINE_BYTES",
    "check_document",
    "depth_error",
    "expansion_budget",
]

MAX_DEPTH = 200
"""Deepest nesting of mappings and lists a cassette document may have (the document is 1)."""

ALIAS_ALLOWANCE = 1_000_000
"""Characters of expanded size allowed beyond four times the file's length."""

MAX_BODY_BYTES = MAX_DECODED_BYTES
"""Largest body a compressed body may inflate to (:mod:`streamreel.core.encoding` enforces it)."""

MAX_LINE_BYTES = 32 * 1024 * 1024
"""Longest line a chunk file may have: one chunk is kilobytes; a longer line is not a chunk."""

_REMEDY = "streamreel never writes such a file; check where this one came from"


def expansion_budget(text_length: int) -> int:
    """The largest expanded size (in characters, roughly) a document of this length may have."""
    return 4 * text_length + ALIAS_ALLOWANCE


def depth_error(limit: int = MAX_DEPTH) -> CassetteError:
    """The error for a document nested deeper than ``limit`` levels."""
    return CassetteError(
        f"cannot read cassette: expected mappings and lists nested at most {limit} deep, got "
        f"deeper nesting; {_REMEDY}"
    )


_CONTAINERS = (dict, list, tuple)


def check_document(document: Any, *, text_length: int, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a parsed document too deep, too large once aliases expand, or cyclic.

    Time and memory are linear in the number of distinct objects and references, whatever the
    expanded size: each container is measured once and its size remembered.
    """
    if not isinstance(document, _CONTAINERS):
        return
    budget = expansion_budget(text_length)
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    open_ids: set[int] = {id(document)}
    # Each frame: a container, the size of its scalars, the containers it holds, and how many
    # of those were visited.
    stack: list[list[Any]] = [_frame(document)]
    while stack:
        frame = stack[-1]
        nested, position = frame[2], frame[3]
        if position < len(nested):
            frame[3] = position + 1
            child = nested[position]
            if id(child) in sizes:
                continue
            if id(child) in open_ids:
                raise CassetteError(
                    "cannot read cassette: expected a tree of mappings and lists, got a YAML "
                    f"alias that contains itself; {_REMEDY}"
                )
            if len(stack) >= max_depth:
                raise depth_error(max_depth)
            open_ids.add(id(child))
            stack.append(_frame(child))
            continue
        stack.pop()
        container = frame[0]
        open_ids.discard(id(container))
        size = frame[1]
        depth = 1
        for child in nested:
            size += sizes[id(child)]
            depth = max(depth, depths[id(child)] + 1)
        if size > budget:
            raise CassetteError(
                f"cannot read cassette: expected a document that expands to at most {budget:,} "
                f"characters, got one that expands to more through YAML aliases; {_REMEDY}"
            )
        if len(stack) + depth > max_depth:
            raise depth_error(max_depth)
        sizes[id(container)] = size
        depths[id(container)] = depth


def _frame(container: Any) -> list[Any]:
    """A container's frame: its scalars (keys included) sized at once, its containers listed."""
    size = 1
    nested: list[Any] = []
    values = (
        itertools.chain(container.keys(), container.values())
        if isinstance(container, dict)
        else container
    )
    for value in values:
        if isinstance(value, _CONTAINERS):
            nested.append(value)
        elif isinstance(value, str | bytes):
            size += len(value) + 1
        else:
            size += 1
    return [container, size, nested, 0]
