"""JSON stream framings other than SSE: NDJSON lines and one JSON array sent in pieces.

Theory of operation
-------------------

Two push decoders with the shape of :class:`streamreel.core.sse.SSEDecoder`: ``feed(bytes)``
returns the
JSON values the new bytes completed, ``close()`` ends the body. Neither does I/O, and each keeps
only what it cannot finish yet, so every ``feed`` costs time proportional to its own input.

:class:`NDJSONDecoder` (``application/x-ndjson``) cuts the bytes at LF. The cut is made
on bytes, which is safe because LF never occurs inside a multi-byte UTF-8 character. A CR
before the LF and blank lines are tolerated; a last line without LF is decoded at ``close()``.

:class:`JSONArrayDecoder` (``streamGenerateContent`` without ``alt=sse``) reads
``[ value , value ... ]`` where the values arrive in pieces and the separators carry any JSON
whitespace (``}\\n,\\r\\n{`` in the recordings). It is a small state machine: *before the array*,
*before a value*, *in a value*, *after a value*, *after the array*. Inside a value it tracks
only what decides where the value ends: whether it is inside a string, whether the previous
character was a backslash, and the bracket depth. It jumps between the characters that matter
with a regular expression, so the text between them is never looked at one character at a
time, and it keeps the value's text as fragments joined once when the value ends. The value is
then handed to :func:`json.loads`, which does the real validation.

Errors
------

Bytes that are not the framing they claim raise :class:`~streamreel.core.errors.StreamDecodeError`
whose ``chunk`` is the 0-based ordinal of the value that failed (and, for NDJSON, ``line`` is
the 1-based line number). Nothing decoded before the fault is lost: when a ``feed`` has already
decoded values before it meets the fault, it returns those values and raises the error from the
next call instead. A decoder that has failed stays failed and raises the same error on every
later call. A JSON array that never reached its closing bracket is an error at ``close()``,
unless the caller reports cut streams its own way (``close(allow_unterminated=True)``).
"""

from __future__ import annotations

import codecs
import json
import re
from enum import Enum, auto
from typing import Any, cast

from streamreel.core.errors import StreamDecodeError, preview

__all__ = ["JSONArrayDecoder", "NDJSONDecoder", "stripped_loads"]

_BOM = "\ufeff"


def _closed_error(name: str) -> StreamDecodeError:
    return StreamDecodeError(
        f"cannot decode {name}: expected an open decoder, got one that was already closed;"
        f" create a new decoder for each body"
    )


# json.loads's own scanner (C where there is one), which the stubs leave undeclared.
_SCAN = cast(Any, json.JSONDecoder()).scan_once


def stripped_loads(text: str) -> Any:
    """``json.loads`` of text that has no whitespace around it, as one call to the scanner.

    On a short value json.loads spends about a third of its time in Python, finding where the
    value starts and checking what follows it; stripped text needs neither. Whatever the scanner
    does not take whole (an error, a BOM, text after the value) goes to json.loads, which
    decodes or raises exactly as it always does.
    """
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError, RecursionError):
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def _loads(text: str, *, what: str, ordinal: int, line: int | None = None) -> Any:
    try:
        return stripped_loads(text)
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at column {exc.colno}"
    except (ValueError, RecursionError) as exc:
        # ValueError: integers longer than Python converts; RecursionError: absurd nesting.
        reason = type(exc).__name__
    raise StreamDecodeError(
        f"cannot decode {what}: expected a JSON value, got {preview(text)} ({reason});"
        f" fix or remove this value in the recording",
        chunk=ordinal,
        line=line,
    )


class NDJSONDecoder:
    """Push bytes of newline-delimited JSON in, get the decoded values out."""

    __slots__ = ("_closed", "_error", "_line_no", "_ordinal", "_parts")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._line_no = 0
        self._ordinal = 0
        self._error: StreamDecodeError | None = None
        self._closed = False

    def feed(self, data: bytes) -> list[Any]:
        """Decode the next piece; return the values of the lines it completed."""
        self._check()
        values: list[Any] = []
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            self._parts.append(data[start:end])
            start = end + 1
            line = b"".join(self._parts)
            self._parts.clear()
            if not self._take(line, values):
                return values
        if start < len(data):
            self._parts.append(data[start:])
        return values

    def close(self) -> list[Any]:
        """End the body; a last line without LF still counts."""
        self._check()
        self._closed = True
        values: list[Any] = []
        if self._parts:
            line = b"".join(self._parts)
            self._parts.clear()
            self._take(line, values)
        return values

    def _check(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise _closed_error("NDJSON")

    def _take(self, raw: bytes, values: list[Any]) -> bool:
        """Decode one line into ``values``; on a fault, raise now or keep it for the next call."""
        self._line_no += 1
        try:
            value = self._decode(raw)
        except StreamDecodeError as exc:
            self._error = exc
            if not values:
                raise
            return False
        if value is not _BLANK:
            values.append(value)
            self._ordinal += 1
        return True

    def _decode(self, raw: bytes) -> Any:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StreamDecodeError(
                f"cannot decode NDJSON: expected UTF-8 text, got byte {raw[exc.start]:#04x} at"
                f" offset {exc.start} of the line; re-record or fix the body's encoding",
                chunk=self._ordinal,
                line=self._line_no,
            ) from None
        if self._line_no == 1 and text.startswith(_BOM):
            text = text[1:]
        text = text.strip(" \t\r")
        if not text:
            return _BLANK
        return _loads(text, what="NDJSON line", ordinal=self._ordinal, line=self._line_no)


class _Blank:
    """Marks a blank NDJSON line, which carries no value."""


_BLANK: Any = _Blank()


class _State(Enum):
    BEFORE_ARRAY = auto()
    FIRST_VALUE = auto()  # just after '[': a value or ']'
    VALUE = auto()  # just after ',': a value must follow
    IN_VALUE = auto()
    AFTER_VALUE = auto()
    AFTER_ARRAY = auto()


class _Mode(Enum):
    CONTAINER = auto()  # an object or array: ends when the depth returns to 0
    STRING = auto()  # a bare string value: ends at its closing quote
    SCALAR = auto()  # a number or literal: ends at whitespace, ',' or ']'


_SPACE = re.compile(r"[ \t\n\r]*")
_IN_STRING = re.compile(r'["\\]')
_IN_CONTAINER = re.compile(r'["{}\[\]]')
_SCALAR_END = re.compile(r"[ \t\n\r,\]]")


class JSONArrayDecoder:
    """Push bytes of one JSON array in, get each element out as soon as it is complete."""

    __slots__ = (
        "_closed",
        "_depth",
        "_error",
        "_escape",
        "_in_string",
        "_mode",
        "_ordinal",
        "_parts",
        "_started",
        "_state",
        "_text",
    )

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._state = _State.BEFORE_ARRAY
        self._started = False
        self._mode = _Mode.CONTAINER
        self._depth = 0
        self._in_string = False
        self._escape = False
        self._parts: list[str] = []
        self._ordinal = 0
        self._error: StreamDecodeError | None = None
        self._closed = False

    @property
    def finished(self) -> bool:
        """Whether the closing bracket of the array has been read."""
        return self._state is _State.AFTER_ARRAY

    def feed(self, data: bytes) -> list[Any]:
        """Decode the next piece; return the array elements it completed."""
        self._check()
        return self._run(data, final=False)

    def close(self, *, allow_unterminated: bool = False) -> list[Any]:
        """End the body; raise if the array is not complete.

        With ``allow_unterminated``, a body that stops before the closing bracket is not an
        error (a caller that reports cut streams its own way); the elements completed before
        the cut are all out by then, and a partial one is dropped. Bad bytes still raise.
        """
        self._check()
        values = self._run(b"", final=True)
        self._closed = True
        cut = self._state is not _State.AFTER_ARRAY
        if self._error is None and cut and not allow_unterminated:
            self._error = StreamDecodeError(
                "cannot decode JSON array: expected ']' to close it, got the end of the body;"
                " the recording was cut, re-record it",
                chunk=self._ordinal,
            )
        if self._error is not None and not values:
            raise self._error
        return values

    def _check(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise _closed_error("JSON array")

    def _decode(self, data: bytes, *, final: bool) -> tuple[str, StreamDecodeError | None]:
        """The text of ``data``; on invalid UTF-8, the valid text before it and the error."""
        error: StreamDecodeError | None = None
        try:
            text = self._text.decode(data, final)
        except UnicodeDecodeError as exc:
            # exc.object is the decoder's held-back bytes plus data: its prefix up to the fault
            # is valid, and its elements must still come out before the error does.
            text = bytes(exc.object[: exc.start]).decode("utf-8")
            error = StreamDecodeError(
                f"cannot decode JSON array: expected UTF-8 text, got {exc.reason};"
                " re-record or fix the body's encoding",
            )
        if text and not self._started:
            self._started = True
            if text.startswith(_BOM):
                text = text[1:]
        return text, error

    def _fail(self, reason: str) -> StreamDecodeError:
        self._error = StreamDecodeError(reason, chunk=self._ordinal)
        return self._error

    def _run(self, data: bytes, *, final: bool) -> list[Any]:
        text, error = self._decode(data, final=final)
        values: list[Any] = []
        try:
            self._scan(text, values)
            if error is not None:
                error.located(chunk=self._ordinal)
                raise error
        except StreamDecodeError as exc:
            self._error = exc
            if not values:
                raise
        return values

    def _scan(self, text: str, values: list[Any]) -> None:
        pos, end = 0, len(text)
        while pos < end:
            state = self._state
            if state is _State.IN_VALUE:
                pos = self._in_value(text, pos, values)
                continue
            match = _SPACE.match(text, pos)
            pos = match.end() if match else pos
            if pos >= end:
                return
            char = text[pos]
            if state is _State.BEFORE_ARRAY:
                if char != "[":
                    raise self._fail(self._unexpected("'[' to open the array", char))
                self._state = _State.FIRST_VALUE
                pos += 1
            elif state is _State.FIRST_VALUE and char == "]":
                self._state = _State.AFTER_ARRAY
                pos += 1
            elif state is _State.FIRST_VALUE or state is _State.VALUE:
                if char in ",]":
                    raise self._fail(self._unexpected("a value", char))
                self._begin_value(char)
            elif state is _State.AFTER_VALUE:
                if char == ",":
                    self._state = _State.VALUE
                elif char == "]":
                    self._state = _State.AFTER_ARRAY
                else:
                    raise self._fail(self._unexpected("',' or ']' after a value", char))
                pos += 1
            else:
                raise self._fail(self._unexpected("nothing after the closing ']'", char))

    def _unexpected(self, expected: str, char: str) -> str:
        return (
            f"cannot decode JSON array: expected {expected}, got {char!r};"
            " the body is not a JSON array of values, check the stream's framing"
        )

    def _begin_value(self, char: str) -> None:
        self._state = _State.IN_VALUE
        self._depth = 0
        self._in_string = False
        self._escape = False
        if char in "{[":
            self._mode = _Mode.CONTAINER
        elif char == '"':
            # The opening quote is consumed by the scan in string mode, not here.
            self._mode = _Mode.STRING
        else:
            self._mode = _Mode.SCALAR

    def _in_value(self, text: str, pos: int, values: list[Any]) -> int:
        """Advance through the current value; return where scanning should continue."""
        start = pos
        end = len(text)
        if self._mode is _Mode.SCALAR:
            match = _SCALAR_END.search(text, pos)
            if match is None:
                self._parts.append(text[start:])
                return end
            self._finish_value(text[start : match.start()], values)
            return match.start()
        while pos < end:
            if self._escape:
                self._escape = False
                pos += 1
                continue
            if self._in_string:
                match = _IN_STRING.search(text, pos)
                if match is None:
                    break
                pos = match.end()
                if match.group() == "\\":
                    self._escape = True
                    continue
                self._in_string = False
                if self._mode is _Mode.STRING:
                    self._finish_value(text[start:pos], values)
                    return pos
                continue
            if self._mode is _Mode.STRING:
                # The value's opening quote.
                self._in_string = True
                pos += 1
                continue
            match = _IN_CONTAINER.search(text, pos)
            if match is None:
                break
            pos = match.end()
            char = match.group()
            if char == '"':
                self._in_string = True
            elif char in "{[":
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 0:
                    self._finish_value(text[start:pos], values)
                    return pos
        self._parts.append(text[start:])
        return end

    def _finish_value(self, tail: str, values: list[Any]) -> None:
        self._parts.append(tail)
        raw = "".join(self._parts)
        self._parts.clear()
        self._state = _State.AFTER_VALUE
        values.append(_loads(raw, what="JSON array element", ordinal=self._ordinal))
        self._ordinal += 1
