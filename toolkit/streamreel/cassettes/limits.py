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


def _own_size(value: Any) -> int:
    if isinstance(value, str | bytes):
        return len(value) + 1
    return 1


def check_document(document: Any, *, text_length: int, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a parsed document too deep, too large once aliases expand, or cyclic.

    Time and memory are linear in the number of distinct objects and references, whatever the
    expanded size: each container is measured once and its size remembered.
    """
    budget = expansion_budget(text_length)
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    open_ids: set[int] = set()
    # Each frame: a container, its children, and how many of them were visited.
    root_children = _children(document)
    if root_children is None:
        return
    stack: list[tuple[Any, list[Any], int]] = [(document, root_children, 0)]
    open_ids.add(id(document))
    while stack:
        container, children, position = stack[-1]
        if position < len(children):
            stack[-1] = (container, children, position + 1)
            child = children[position]
            if not isinstance(child, dict | list | tuple) or id(child) in sizes:
                continue
            if id(child) in open_ids:
                raise CassetteError(
                    "cannot read cassette: expected a tree of mappings and lists, got a YAML "
                    f"alias that contains itself; {_REMEDY}"
                )
            if len(stack) >= max_depth:
                raise depth_error(max_depth)
            open_ids.add(id(child))
            stack.append((child, _children(child) or [], 0))
            continue
        stack.pop()
        open_ids.discard(id(container))
        size = 1
        depth = 1
        for child in children:
            known = sizes.get(id(child))
            if known is None:
                size += _own_size(child)
            else:
                size += known
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


def _children(value: Any) -> list[Any] | None:
    """The values a container holds (keys included), or None for a scalar."""
    if isinstance(value, dict):
        out: list[Any] = []
        for key, item in value.items():
            out.append(key)
            out.append(item)
        return out
    if isinstance(value, list | tuple):
        return list(value)
    return None
