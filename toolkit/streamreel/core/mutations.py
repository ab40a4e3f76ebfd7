"""Edits to a recorded response body: the bytes it holds and where its reads end.

Theory of operation
-------------------

A hazard (:mod:`streamreel.core.hazards`) rewrites a recorded stream into another stream that
means the same thing by its wire specification. It does so by proposing :class:`Edit` values
against the body as recorded: replace a span of bytes (insert when the span is empty), add a
read boundary, or remove a recorded one. Each edit is one *site*: applying any subset of a
hazard's edits still gives a valid stream, so a failure can be shrunk by dropping edits
(:mod:`streamreel.testing.shrinking`) until the smallest set that still fails is left.

:func:`apply_edits` works in the recorded body's coordinates: edits are sorted, replacements
are spliced in one pass, and every read boundary (the recorded ones that were not removed, and
the new ones) is carried to where its byte went. A boundary inside a replaced span moves to the
end of the replacement; a boundary at the place of an insertion stays before the inserted
bytes. The result keeps, for each boundary, its position in the recorded body too, so a caller
can give each new read the arrival time of the recorded read it ends in.

This module also reads just enough of the framings to place edits: SSE lines and events
(:func:`sse_lines`, :func:`sse_events`) and JSON escapes. It never decodes a stream for
meaning: that is the decoders' job, and the hazards' tests check that the meaning is kept.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from streamreel.core.cassette import BodyChunk, RecordedResponse

__all__ = [
    "Edit",
    "EditsOf",
    "Hazard",
    "MutatedBody",
    "SSEEvent",
    "SSELine",
    "applies",
    "apply_edits",
    "edited_response",
    "json_structure",
    "remembered",
    "sse_events",
    "sse_lines",
]

Action = Literal["replace", "cut", "join"]


@dataclass(frozen=True, slots=True, order=True)
class Edit:
    """One site of a hazard, in the recorded body's byte offsets.

    ``replace``: ``body[start:end]`` becomes ``data`` (an insertion when ``start == end``).
    ``cut``: a read ends at ``start``. ``join``: the recorded read boundary at ``start`` goes.
    """

    start: int
    end: int = -1
    data: bytes = b""
    action: Action = "replace"

    def __post_init__(self) -> None:
        if self.end < 0:
            object.__setattr__(self, "end", self.start)


@dataclass(frozen=True, slots=True)
class MutatedBody:
    """A body after edits: its bytes, and each read boundary as ``(new offset, old offset)``."""

    body: bytes
    boundaries: tuple[tuple[int, int], ...]

    def reads(self) -> list[bytes]:
        """The body cut at its boundaries, one entry per read."""
        points = [new for new, _ in self.boundaries]
        return [self.body[a:b] for a, b in itertools.pairwise([0, *points, len(self.body)])]


def apply_edits(body: bytes, boundaries: Iterable[int], edits: Iterable[Edit]) -> MutatedBody:
    """``body`` (read boundaries at ``boundaries``) with ``edits`` applied.

    Overlapping replacements keep the first (by start offset) and drop the rest, so any subset
    of a hazard's edits applies.
    """
    cuts = set(boundaries)
    replacements: list[Edit] = []
    for edit in sorted(edits):
        if edit.action == "cut":
            cuts.add(edit.start)
        elif edit.action == "join":
            cuts.discard(edit.start)
        elif not replacements or edit.start >= replacements[-1].end:
            if replacements and edit.start == edit.end == replacements[-1].start:
                continue  # two insertions at one place: keep one, order would be a guess
            replacements.append(edit)
    pieces: list[bytes] = []
    position = 0
    for edit in replacements:
        pieces.append(body[position : edit.start])
        pieces.append(edit.data)
        position = edit.end
    pieces.append(body[position:])
    new_body = b"".join(pieces)
    mapped: list[tuple[int, int]] = []
    for old in sorted(c for c in cuts if 0 < c < len(body)):
        new = _moved(old, replacements)
        if 0 < new < len(new_body) and (not mapped or mapped[-1][0] < new):
            mapped.append((new, old))
    return MutatedBody(new_body, tuple(mapped))


def edited_response(
    response: RecordedResponse, edits: Iterable[Edit], *, keep_reads: bool = True
) -> RecordedResponse:
    """``response`` with ``edits`` applied to its body; without ``keep_reads``, the recorded
    read boundaries are dropped first, so the edits' cuts are the only ones.

    Each new read arrives when the recorded read holding its last byte did.
    """
    original = response.body_chunks()
    body = b"".join(piece.data for piece in original)
    ends = list(itertools.accumulate(len(piece.data) for piece in original))
    mutated = apply_edits(body, ends[:-1] if keep_reads else (), edits)
    olds = [old for _, old in mutated.boundaries] + [len(body)]
    chunks = []
    for data, old in zip(mutated.reads(), olds, strict=True):
        at = min(bisect.bisect_left(ends, old), len(original) - 1)
        chunks.append(BodyChunk(original[at].offset_ms if original else 0.0, data))
    return RecordedResponse(
        status=response.status,
        reason=response.reason,
        headers=response.headers,
        body=mutated.body,
        chunks=chunks,
        error=response.error,
    )


def _moved(position: int, replacements: Sequence[Edit]) -> int:
    shift = 0
    for edit in replacements:
        if edit.start >= position:
            break
        if edit.end > position:  # inside a replaced span: after the replacement
            return edit.start + shift + len(edit.data)
        shift += len(edit.data) - (edit.end - edit.start)
    return position + shift


EditsOf = Callable[[bytes, Sequence[int]], Iterable[Edit]]
"""A hazard's sites in one body, in order; a generator may stand for a long list, so that
asking whether there are any (a campaign's collection) stops at the first."""


@dataclass(frozen=True, slots=True)
class Hazard:
    """One named, documented rewrite.

    ``edits(body, boundaries)`` proposes the sites in one recorded body. ``framings`` are the
    framings it applies to (``sse``, ``ndjson``, ``json-array``, ``eventstream``); ``apis``,
    when set, narrows it to those APIs. ``source`` is the specification text or public issue
    that makes the rewritten stream valid and the hazard real.
    """

    name: str
    summary: str
    source: str
    framings: frozenset[str]
    edits: EditsOf
    apis: frozenset[str] | None = None
    adds_error: bool = False


def applies(hazard: Hazard, framing: str, api: str) -> bool:
    """Whether ``hazard`` can rewrite a body of this framing and API."""
    if framing not in hazard.framings:
        return False
    return hazard.apis is None or api in hazard.apis


# -- reading SSE just enough to place edits ------------------------------------------------------

_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSELine:
    """One line: its text spans ``start:end``, its line end ``end:stop`` (empty at the end)."""

    start: int
    end: int
    stop: int

    @property
    def eol(self) -> tuple[int, int]:
        return self.end, self.stop


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """The non-blank lines of one event, and the ``data`` value when there is one line of it."""

    lines: tuple[SSELine, ...]
    start: int
    stop: int
    data: bytes | None


_Reading = TypeVar("_Reading")


def remembered(read: Callable[[bytes], _Reading]) -> Callable[[bytes], _Reading]:
    """``read``, with its readings of the last few bodies kept.

    Most hazards read a body's lines or events to place their edits, and a campaign asks every
    hazard of the same body in turn. A body's bytes are the key; a reading must be immutable
    (tuples), so no caller changes what the next one reads. Bodies over a MiB are read afresh:
    holding several would cost more memory than reading them again costs time.
    """
    kept = functools.lru_cache(maxsize=_REMEMBERED)(read)

    @functools.wraps(read)
    def reading(body: bytes) -> _Reading:
        return read(body) if len(body) > _REMEMBERED_BODY else kept(body)

    return reading


_REMEMBERED = 8
_REMEMBERED_BODY = 1 << 20


@remembered
def sse_lines(body: bytes) -> tuple[SSELine, ...]:
    """Every line of an SSE body, as the standard cuts them (CR, LF or CRLF)."""
    lines: list[SSELine] = []
    start = 0
    for match in _LINE_END.finditer(body):
        lines.append(SSELine(start, match.start(), match.end()))
        start = match.end()
    if start < len(body):
        lines.append(SSELine(start, len(body), len(body)))
    return tuple(lines)


@remembered
def sse_events(body: bytes) -> tuple[SSEEvent, ...]:
    """The events of an SSE body in order; ``stop`` is after the blank line that ends each."""
    events: list[SSEEvent] = []
    current: list[SSELine] = []
    for line in sse_lines(body):
        if line.start == line.end:
            if current:
                events.append(_event(body, current, line.stop))
                current = []
            continue
        current.append(line)
    if current:
        events.append(_event(body, current, current[-1].stop))
    return tuple(events)


def _event(body: bytes, lines: list[SSELine], stop: int) -> SSEEvent:
    values = []
    for line in lines:
        name, _, value = body[line.start : line.end].partition(b":")
        if name == b"data":
            values.append(value[1:] if value.startswith(b" ") else value)
    return SSEEvent(tuple(lines), lines[0].start, stop, values[0] if len(values) == 1 else None)


_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[,:\[{]', re.DOTALL)


def json_structure(text: bytes, start: int = 0, end: int | None = None) -> list[tuple[int, bytes]]:
    """Structural characters (``, : [ {``) outside JSON strings in ``text[start:end]``: each
    as (offset just after it, the character)."""
    found = []
    for match in _JSON_TOKEN.finditer(text, start, len(text) if end is None else end):
        token = match.group()
        if not token.startswith(b'"'):
            found.append((match.end(), token))
    return found
