"""Hazards: rewrites of a recorded stream that its wire specification says mean the same thing.

Theory of operation
-------------------

A parser's author tests it on the streams they have seen. The bugs that reach production are in
the streams they have not: bytes that are valid by the specification but that no recording
showed them. A raw U+2028 inside a JSON string is split by ``str.splitlines()``; a CR-only line
end is not a line end to a parser that looks for LF; an ``id:`` line is data to a parser that
knows only ``event:`` and ``data:``. Each :class:`Hazard` here is one such rewrite, named,
with the specification line or the public issue it comes from, and it is *meaning-preserving*:
a correct reader gives the same merged messages for the stream before and after. (One kind is
not: a hazard that ``adds_error`` ends the stream with the provider's error event after the
last content, and a correct reader keeps every message before it and reports the error.)

A hazard looks at one recorded body (its bytes and its read boundaries) and proposes
:class:`~streamreel.core.mutations.Edit` values, one per *site*; any subset of them is a valid
rewrite, which is what lets a failure be shrunk to the fewest sites that still fail. It applies
to the framings (and, for the API-level hazards of :mod:`streamreel.core.providers.hazards`,
the APIs) it names, and proposes nothing where it finds nothing to do: the line-separator
hazard needs a ``\\u2028`` escape in the stream, the split-character hazard a multi-byte
character.

:data:`HAZARDS` is the catalogue by name; :func:`select_hazards` reads ``all`` or a
comma-separated list of names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence

from streamreel.core.errors import ConfigurationError
from streamreel.core.mutations import (
    Edit,
    EditsOf,
    Hazard,
    json_structure,
    remembered,
    sse_events,
    sse_lines,
)
from streamreel.core.providers.hazards import API_HAZARDS

__all__ = ["HAZARDS", "describe_catalogue", "escape_sites", "select_hazards"]

# -- SSE line ends ------------------------------------------------------------------------------


def _line_end_runs(body: bytes) -> list[tuple[int, int, int]]:
    """Runs of adjacent line ends as ``(start, stop, count)``.

    A run is rewritten whole: turning the LF of ``\\n\\n`` into CR alone would make ``\\r\\n``,
    one line end where there were two, and the blank line that ends an event would be lost.
    """
    runs: list[tuple[int, int, int]] = []
    for line in sse_lines(body):
        if line.end == line.stop:
            continue
        if runs and runs[-1][1] == line.end and line.start == line.end:
            start, _, count = runs[-1]
            runs[-1] = (start, line.stop, count + 1)
        else:
            runs.append((line.end, line.stop, 1))
    return runs


def _line_ends_as(eol: bytes) -> EditsOf:
    def edits(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
        return (
            Edit(start, stop, eol * count)
            for start, stop, count in _line_end_runs(body)
            if body[start:stop] != eol * count
        )

    return edits


def _bom(body: bytes, boundaries: Sequence[int]) -> list[Edit]:
    return [] if body.startswith(b"\xef\xbb\xbf") else [Edit(0, 0, b"\xef\xbb\xbf")]


def _eol_after(body: bytes, position: int) -> bytes:
    match = re.compile(rb"\r\n|\r|\n").search(body, position)
    return match.group() if match else b"\n"


def _line_before_events(text: bytes) -> EditsOf:
    def edits(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
        return (
            Edit(event.start, event.start, text + _eol_after(body, event.start))
            for event in sse_events(body)
        )

    return edits


def _ids(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
    return (
        Edit(event.start, event.start, b"id: %d" % (number + 1) + _eol_after(body, event.start))
        for number, event in enumerate(sse_events(body))
    )


def _comments(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
    # A comment before every event and after every line inside one: ignored wherever it is.
    for event in sse_events(body):
        yield Edit(event.start, event.start, b": ping" + _eol_after(body, event.start))
        for line in event.lines[:-1]:
            yield Edit(line.stop, line.stop, b":" + body[line.end : line.stop])


def _no_space(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
    return (
        Edit(line.start + 5, line.start + 6)
        for line in sse_lines(body)
        if body[line.start : line.start + 6] == b"data: "
        and body[line.start + 6 : line.end][:1] not in (b" ", b"")
    )


def _multiline_data(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
    for line in sse_lines(body):
        value_start = line.start + 6
        if body[line.start : value_start] != b"data: " or body[value_start:][:1] not in b"{[":
            continue
        eol = body[line.end : line.stop] or b"\n"
        for after, char in json_structure(body, value_start, line.end):
            if char == b",":
                yield Edit(after, after, eol + b"data: ")


# -- JSON text in any text framing --------------------------------------------------------------

_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})(?:\\u([dD][c-fC-F][0-9a-fA-F]{2}))?|.)", re.DOTALL)


def escape_sites(body: bytes) -> list[tuple[int, int, int]]:
    """Every ``\\uXXXX`` escape (a surrogate pair as one) as ``(start, end, code point)``.

    Escapes are matched left to right, so the ``u`` after an escaped backslash is never taken
    for an escape.
    """
    found = []
    for match in _ESCAPE.finditer(body):
        if match.group(1) is None:
            continue
        code = int(match.group(1), 16)
        if 0xD800 <= code < 0xDC00:
            if match.group(2) is None:
                continue
            code = 0x10000 + ((code - 0xD800) << 10) + (int(match.group(2), 16) - 0xDC00)
        elif 0xDC00 <= code < 0xE000:
            continue
        found.append((match.start(), match.end(), code))
    return found


def _raw_escapes(chosen: Callable[[int], bool]) -> EditsOf:
    def edits(body: bytes, boundaries: Sequence[int]) -> list[Edit]:
        return [
            Edit(start, end, chr(code).encode("utf-8"))
            for start, end, code in escape_sites(body)
            if chosen(code)
        ]

    return edits


def _separator(code: int) -> bool:
    return code in (0x2028, 0x2029)


def _other_unicode(code: int) -> bool:
    # JSON must escape '"', '\' and the controls below U+0020; everything else may be raw.
    return code >= 0x20 and code not in (0x22, 0x5C) and not _separator(code)


def _is_json(text: bytes) -> bool:
    # '[DONE]' starts like an array and is not one.
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@remembered
def _json_lines(body: bytes) -> tuple[tuple[int, int], ...]:
    """Spans of the JSON texts in a text body: SSE data values, NDJSON lines, or the array."""
    spans = []
    for line in sse_lines(body):
        text = body[line.start : line.end]
        offset = 6 if text.startswith(b"data: ") else 5 if text.startswith(b"data:") else 0
        if text[offset:].lstrip()[:1] in (b"{", b"[") and _is_json(text[offset:]):
            spans.append((line.start + offset, line.end))
    return tuple(spans)


def _whitespace(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
    # Inside an SSE data line or an NDJSON line a line end would end the line: spaces and tabs
    # only. (The JSON array framing gets line ends too, in _array_whitespace.)
    return (
        Edit(after, after, b" \t")
        for start, end in _json_lines(body)
        for after, _ in json_structure(body, start, end)
    )


def _array_whitespace(body: bytes, boundaries: Sequence[int]) -> list[Edit]:
    return [Edit(after, after, b"\r\n\t ") for after, _ in json_structure(body)]


# -- read boundaries ----------------------------------------------------------------------------

_CHARACTER = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _split_characters(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
    return (Edit(m.start() + 1, action="cut") for m in _CHARACTER.finditer(body))


def _coalesce(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
    return (Edit(at, action="join") for at in boundaries)


def _split_lines(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
    for line in sse_lines(body):
        if line.end - line.start >= 2:
            yield Edit((line.start + line.end) // 2, action="cut")
        if body[line.end : line.stop] == b"\r\n":
            yield Edit(line.end + 1, action="cut")


def _split_preludes(body: bytes, boundaries: Sequence[int]) -> list[Edit]:
    found = []
    position = 0
    while position + 12 <= len(body):
        total = int.from_bytes(body[position : position + 4], "big")
        if total < 16:
            break
        found += [Edit(position + at, action="cut") for at in (2, 4, 8, 12)]
        position += total
    return [edit for edit in found if 0 < edit.start < len(body)]


# -- the catalogue ------------------------------------------------------------------------------

_WHATWG = "WHATWG HTML, 9.2.6 Interpreting an event stream"
_RFC_JSON = "RFC 8259 (JSON)"
_TEXT = frozenset({"sse", "ndjson", "json-array"})
_EVERY = frozenset({"sse", "ndjson", "json-array", "eventstream"})
_SSE = frozenset({"sse"})


def _catalogue() -> dict[str, Hazard]:
    framing = [
        Hazard(
            "sse-crlf",
            "every line ends with CRLF",
            f"{_WHATWG}: lines are separated by a CRLF pair, a single LF, or a single CR",
            _SSE,
            _line_ends_as(b"\r\n"),
        ),
        Hazard(
            "sse-cr",
            "every line ends with a lone CR",
            f"{_WHATWG}: lines are separated by a CRLF pair, a single LF, or a single CR",
            _SSE,
            _line_ends_as(b"\r"),
        ),
        Hazard(
            "sse-lf",
            "every line ends with a lone LF",
            f"{_WHATWG}: lines are separated by a CRLF pair, a single LF, or a single CR",
            _SSE,
            _line_ends_as(b"\n"),
        ),
        Hazard(
            "sse-bom",
            "the body starts with a UTF-8 byte order mark",
            f"{_WHATWG}: one leading U+FEFF BYTE ORDER MARK character must be ignored",
            _SSE,
            _bom,
        ),
        Hazard(
            "sse-comments",
            "a comment line (': ping', ':') before every event and between its lines",
            f"{_WHATWG}: a line that starts with ':' is ignored; proxies and servers send them "
            "as keep-alives (DeepSeek ': keep-alive', OpenRouter ': OPENROUTER PROCESSING')",
            _SSE,
            _comments,
        ),
        Hazard(
            "sse-id",
            "an 'id:' line opens every event",
            f"{_WHATWG}: the 'id' field sets the last event ID and is not part of the data",
            _SSE,
            _ids,
        ),
        Hazard(
            "sse-retry",
            "a 'retry: 3000' line opens every event",
            f"{_WHATWG}: the 'retry' field sets the reconnection time and is not part of the data",
            _SSE,
            _line_before_events(b"retry: 3000"),
        ),
        Hazard(
            "sse-no-space",
            "'data:' without the space after the colon",
            f"{_WHATWG}: one space after the colon is removed if present; none is required",
            _SSE,
            _no_space,
        ),
        Hazard(
            "sse-multiline-data",
            "one event's JSON spread over several 'data:' lines, cut after its commas",
            f"{_WHATWG}: 'data' lines are joined with LF; {_RFC_JSON} section 2: LF is "
            "insignificant whitespace after a comma",
            _SSE,
            _multiline_data,
        ),
        Hazard(
            "raw-line-separator",
            "U+2028 and U+2029 written raw inside JSON strings instead of escaped",
            f"{_RFC_JSON} section 7: only '\"', '\\' and U+0000-U+001F must be escaped; "
            "openai-python #1230, httpx-sse #34: str.splitlines() cuts a line at U+2028",
            _TEXT,
            _raw_escapes(_separator),
        ),
        Hazard(
            "raw-unicode",
            "every other \\uXXXX escape (surrogate pairs too) written as raw UTF-8",
            f"{_RFC_JSON} section 7: any character but '\"', '\\' and U+0000-U+001F may be raw",
            _TEXT,
            _raw_escapes(_other_unicode),
        ),
        Hazard(
            "json-whitespace",
            "spaces and tabs after every ',', ':', '[' and '{' of the JSON",
            f"{_RFC_JSON} section 2: insignificant whitespace is allowed around structural "
            "characters (Anthropic pads its JSON this way)",
            frozenset({"sse", "ndjson"}),
            _whitespace,
        ),
        Hazard(
            "array-whitespace",
            "CRLF, tab and space after every structural character of a streamed JSON array",
            f"{_RFC_JSON} section 2; Gemini streams its array with '\\r\\n,' between elements",
            frozenset({"json-array"}),
            _array_whitespace,
        ),
        Hazard(
            "split-character",
            "a read ends inside every multi-byte UTF-8 character",
            "RFC 9112 section 7.1: chunk boundaries carry no meaning; Azure SDK for Python "
            "#39565: Chinese text broke when a read split a character",
            _EVERY,
            _split_characters,
        ),
        Hazard(
            "coalesced-reads",
            "the whole body arrives in one read (every event in it)",
            "RFC 9112 section 7.1: a read may hold any number of events; proxies and "
            "gateways buffer streams",
            _EVERY,
            _coalesce,
        ),
        Hazard(
            "split-lines",
            "a read ends in the middle of every line, and between every CR and its LF",
            f"{_WHATWG}: a CR followed by LF across two reads is still one line end",
            _TEXT,
            _split_lines,
        ),
        Hazard(
            "eventstream-split-prelude",
            "reads end inside every message's prelude and at its headers",
            "AWS event stream encoding: each message is length-prefixed; a read may end "
            "anywhere in one",
            frozenset({"eventstream"}),
            _split_preludes,
        ),
    ]
    return {hazard.name: hazard for hazard in [*framing, *API_HAZARDS]}


HAZARDS: dict[str, Hazard] = _catalogue()
"""Every hazard by name."""


def select_hazards(spec: str | Sequence[str]) -> list[Hazard]:
    """``"all"`` or names (a comma-separated string or a list) to hazards, in catalogue order."""
    names = [n.strip() for n in spec.split(",")] if isinstance(spec, str) else list(spec)
    names = [n for n in names if n]
    if not names:
        raise ConfigurationError(
            "cannot select hazards: expected 'all' or hazard names, got nothing; do pass "
            "--hazards all or names from 'streamreel fuzz --list-hazards'"
        )
    if "all" in names:
        return list(HAZARDS.values())
    unknown = [n for n in names if n not in HAZARDS]
    if unknown:
        raise ConfigurationError(
            f"cannot select hazards: expected names from the catalogue, got {', '.join(unknown)};"
            f" do choose from {', '.join(HAZARDS)} or all"
        )
    return [hazard for name, hazard in HAZARDS.items() if name in names]


def describe_catalogue() -> list[str]:
    """One entry per hazard: its name, what it does, where it applies and its source."""
    lines = []
    for hazard in HAZARDS.values():
        where = ", ".join(sorted(hazard.framings))
        if hazard.apis is not None:
            where += " (" + ", ".join(sorted(hazard.apis)) + ")"
        lines.append(f"{hazard.name}: {hazard.summary} [{where}]")
        lines.append(f"    source: {hazard.source}")
    return lines
