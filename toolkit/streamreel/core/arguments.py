"""Incremental reading of tool-call arguments: a JSON object that arrives in arbitrary pieces.

Theory of operation
-------------------
A provider streams a tool call's ``arguments`` as JSON text cut at arbitrary points: inside a
key, inside an escape (``\\`` | ``u00e9``), between a surrogate pair, inside a number. The
interface needs three things from that text while it arrives:

* the *decoded* text of chosen keys (the inner thoughts, the ``send_message`` text), so a reader
  sees ``é`` rather than ``\\u00e9``, each character exactly once;
* the raw JSON text of chosen values (DeepSeek's ``arguments`` value inside ``content``);
* the *remainder*: the arguments object without some keys (the inner thoughts), as deltas whose
  concatenation is valid JSON.

:class:`ArgumentsReader` is a push parser for exactly one top-level JSON object. ``feed(piece)``
returns the events the piece completes; ``close()`` returns what is left when the input ends.
Each top-level value is routed by its key (:class:`Route`):

``TEXT``
    the value's decoded text as :data:`VALUE` events (a non-string value: its JSON text);
``VALUE``
    the value's raw JSON text as :data:`VALUE` events;
``REMAINDER``
    the ``"key":value`` pair, re-serialized into the remainder object as :data:`REST` events;
``DROP``
    parsed and discarded.

The parser is a state machine over the text. Inside strings it jumps with a compiled regex to the
next quote or backslash, so a piece costs time proportional to its own length: the accumulated
text is never re-parsed. Text is held back only while it is undecidable: an incomplete key
(is it the inner-thoughts key?), an incomplete escape, a high surrogate waiting for its pair, or
an incomplete bare word (``tru`` may become ``true`` or ``True``).

Leniency: Python-style ``True``/``False``/``None`` are read as ``true``/``false``/``null`` (and
written so in the remainder), and a trailing comma before ``}`` is ignored. Anything else that is
not JSON switches the reader to *fallback*: the rest is buffered and, at ``close()``, the whole
text is decoded by json or, failing that, demjson3's lenient decoder, and whatever had not yet
been emitted is emitted then. Should what was already emitted not be a prefix of the repaired
value, an :data:`ERROR` event says so: streamed text is never retracted.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from streamreel.core.errors import preview

__all__ = [
    "ERROR",
    "REST",
    "VALUE",
    "ArgumentEvent",
    "ArgumentsReader",
    "EventKind",
    "Route",
    "decode_lenient",
]


class EventKind(enum.Enum):
    """What an :class:`ArgumentEvent` carries."""

    VALUE = "value"
    REST = "rest"
    ERROR = "error"


VALUE = EventKind.VALUE
REST = EventKind.REST
ERROR = EventKind.ERROR


class Route(enum.Enum):
    TEXT = "text"
    VALUE = "value"
    REMAINDER = "remainder"
    DROP = "drop"


class ArgumentEvent(NamedTuple):
    """``kind`` is VALUE (``key`` set), REST (remainder JSON text) or ERROR (``text`` says why)."""

    kind: EventKind
    key: str | None
    text: str


# An event made from its fields in one C call: the class's own __new__ is Python, a frame per
# event.
_new_event = tuple.__new__


# Parser states.
_START = 0  # before "{"
_KEY_OR_END = 1  # after "{" or ","
_KEY = 2  # inside a key string
_COLON = 3  # after a key, before ":"
_VALUE_START = 4  # after ":", before the value
_STRING = 5  # inside a top-level string value
_COMPOUND = 6  # inside a top-level array or object value
_SCALAR = 7  # inside a top-level number or bare word
_AFTER_VALUE = 8  # after a value, before "," or "}"
_END = 9  # after the closing "}"
_FAILED = 10  # not JSON we can stream; buffering for the lenient decoder

_STRING_STOP = re.compile(r'["\\]')
_SCALAR_STOP = re.compile(r'[\s,}\]"{\[]')
_COMPOUND_STOP = re.compile(r'["{}\[\]A-Za-z]')
_WORD = re.compile(r"[A-Za-z]+")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
# A run of string text whose escapes are all complete and valid: decoded in one call of the
# json module's C string scanner instead of one Python step per escape. Unrolled and
# possessive, so the regex engine keeps no state per character or escape (an alternation
# repeated once per character took 50 MB to scan half a megabyte).
_ESCAPED_RUN = re.compile(r'[^"\\]*+(?:\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4})[^"\\]*+)*+')
# The json module's own string scanner (C), which its typing stubs do not declare.
_SCANSTRING: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_WHITESPACE = " \t\r\n"
_SIMPLE_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_WORDS = {
    "true": "true",
    "false": "false",
    "null": "null",
    "True": "true",
    "False": "false",
    "None": "null",
}
# Inside arrays and objects a number's exponent marker is the only other bare letter.
_NESTED_WORDS = {**_WORDS, "e": "e", "E": "E"}


def decode_lenient(text: str) -> Any:
    """Decode complete JSON, accepting what models write instead (Python literals, single quotes).

    Tries the strict decoder first; raises ``ValueError`` when neither can make sense of it.
    """
    try:
        return json.loads(text)
    except ValueError:
        pass
    except RecursionError:
        raise ValueError("nested deeper than a JSON decoder goes") from None
    # Loaded only for text json refuses: most streams never need it, and every command paid
    # for importing it.
    import demjson3

    try:
        return demjson3.decode(text, strict=False)
    except demjson3.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None
    except RecursionError:
        raise ValueError("nested deeper than a JSON decoder goes") from None


class ArgumentsReader:
    """Push parser for one JSON object arriving in pieces; see the module docstring."""

    __slots__ = (
        "_default",
        "_depth",
        "_emitted",
        "_escape",
        "_failure",
        "_high_surrogate",
        "_in_string",
        "_key",
        "_key_name",
        "_key_route",
        "_out",
        "_rest_open",
        "_routes",
        "_state",
        "_string_escape",
        "_text_is_string",
        "_whole",
        "_word",
    )

    def __init__(self, routes: Mapping[str, Route], default: Route = Route.REMAINDER) -> None:
        self._routes = dict(routes)
        self._default = default
        self._state = _START
        self._key: list[str] = []  # raw text of the key being read
        self._key_route = default
        self._key_name = ""
        self._escape = ""  # an escape sequence cut by a piece boundary, without its backslash
        self._high_surrogate = ""  # a decoded high surrogate waiting for its low half
        self._word = ""  # a bare word cut by a piece boundary
        self._depth = 0  # nesting inside a compound value
        self._in_string = False  # inside a string within a compound value
        self._string_escape = False  # the previous compound-string character was a backslash
        self._text_is_string = False  # the current TEXT value is a JSON string (decode it)
        self._rest_open = False  # "{" of the remainder has been emitted
        self._whole: list[str] = []  # every piece, for the lenient fallback
        self._emitted: dict[str | None, list[str]] = {}  # what was emitted, per key (None: rest)
        self._failure = ""
        # Events not taken yet, adjacent texts of one kind and key kept together as one group:
        # a piece holding many escapes makes one event, not one per run between escapes.
        self._out: list[tuple[EventKind, str | None, list[str]]] = []

    # -- public -----------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """The closing brace has been read."""
        return self._state == _END

    def feed(self, piece: str) -> list[ArgumentEvent]:
        if not piece:
            return []
        self._whole.append(piece)
        if self._state != _FAILED:
            self._scan(piece)
        return self._take()

    def close(self) -> list[ArgumentEvent]:
        """Finish the input: flush held text, or decode leniently if streaming failed."""
        state = self._state
        if state == _FAILED:
            self._fallback()
        elif state == _START and not "".join(self._whole).strip():
            pass  # no arguments at all: nothing to say
        elif state != _END:
            self._incomplete()
        return self._take()

    # -- output -----------------------------------------------------------------------------

    def _take(self) -> list[ArgumentEvent]:
        out = self._out
        if not out:
            return []
        self._out = []
        events: list[ArgumentEvent] = []
        for kind, key, texts in out:
            text = texts[0] if len(texts) == 1 else "".join(texts)
            if kind != ERROR:
                self._emitted.setdefault(key, []).append(text)
            events.append(_new_event(ArgumentEvent, (kind, key, text)))
        return events

    def _emit(self, kind: EventKind, key: str | None, text: str) -> None:
        out = self._out
        if out and kind != ERROR and out[-1][0] == kind and out[-1][1] == key:
            out[-1][2].append(text)
        else:
            out.append((kind, key, [text]))

    def _emitted_text(self, key: str | None) -> str:
        """Everything emitted so far for ``key``, taken or not."""
        pending = [t for kind, k, texts in self._out if kind != ERROR and k == key for t in texts]
        return "".join([*self._emitted.get(key, ()), *pending])

    def _value_text(self, text: str) -> None:
        if not text:
            return
        if self._key_route is Route.DROP:
            return
        if self._key_route is Route.REMAINDER:
            self._rest(text)
            return
        self._emit(VALUE, self._key_name, text)

    def _rest(self, text: str) -> None:
        self._emit(REST, None, text)

    def _error(self, reason: str) -> None:
        self._emit(ERROR, None, reason)

    # -- scanning ---------------------------------------------------------------------------

    def _fail(self, reason: str) -> None:
        self._state = _FAILED
        self._failure = reason

    def _scan(self, text: str) -> None:
        i, n = 0, len(text)
        while i < n and self._state != _FAILED:
            state = self._state
            if state == _STRING:
                i = self._scan_string(text, i)
            elif state == _COMPOUND:
                i = self._scan_compound(text, i)
            elif state == _SCALAR:
                i = self._scan_scalar(text, i)
            elif state == _KEY:
                i = self._scan_key(text, i)
            else:
                char = text[i]
                i += 1
                if char in _WHITESPACE:
                    continue
                self._structural(char)

    def _structural(self, char: str) -> None:
        state = self._state
        if state == _START:
            if char == "{":
                self._state = _KEY_OR_END
            else:
                self._fail(f"expected '{{' to open the arguments object, got {char!r}")
        elif state == _KEY_OR_END:
            if char == '"':
                self._key = []
                self._state = _KEY
            elif char == "}":
                self._close_object()
            else:
                self._fail(f"expected a quoted key or '}}', got {char!r}")
        elif state == _COLON:
            if char == ":":
                self._state = _VALUE_START
            else:
                self._fail(f"expected ':' after a key, got {char!r}")
        elif state == _VALUE_START:
            self._start_value(char)
        elif state == _AFTER_VALUE:
            if char == ",":
                self._state = _KEY_OR_END
            elif char == "}":
                self._close_object()
            else:
                self._fail(f"expected ',' or '}}' after a value, got {char!r}")
        elif state == _END:
            self._fail(f"expected nothing after the closing '}}', got {char!r}")

    def _close_object(self) -> None:
        if self._default is Route.REMAINDER or self._rest_open:
            self._rest("}" if self._rest_open else "{}")
        self._state = _END

    def _start_value(self, char: str) -> None:
        raw_key = "".join(self._key)
        try:
            key = json.loads('"' + raw_key + '"') if "\\" in raw_key else raw_key
        except ValueError:
            self._fail(f"expected a JSON string key, got {raw_key!r}")
            return
        self._key_name = key
        route = self._routes.get(key, self._default)
        self._key_route = route
        if route is Route.REMAINDER:
            self._rest(("," if self._rest_open else "{") + json.dumps(key) + ":")
            self._rest_open = True
        if char == '"':
            self._state = _STRING
            self._text_is_string = route is Route.TEXT
            if not self._text_is_string:
                self._value_text('"')
        elif char in "{[":
            self._state = _COMPOUND
            self._depth = 1
            self._in_string = False
            self._string_escape = False
            self._value_text(char)
        elif char.isalpha():
            self._state = _SCALAR
            self._depth = 0
            self._word = char
        elif char in "-0123456789":
            self._state = _SCALAR
            self._depth = 0
            self._word = ""
            self._value_text(char)
        else:
            self._fail(f"expected a value after ':', got {char!r}")

    def _string_end(self, text: str, i: int) -> int | None:
        """Where the string being scanned closes in ``text`` (from ``i``), honouring escapes.

        None when it does not close in this piece; an escape cut by the piece boundary is
        remembered so the next piece starts by skipping the escaped character.
        """
        n = len(text)
        if self._string_escape:
            self._string_escape = False
            i += 1
        while i < n:
            match = _STRING_STOP.search(text, i)
            if match is None:
                return None
            j = match.start()
            if text[j] == '"':
                return j
            if j + 1 >= n:
                self._string_escape = True
                return None
            i = j + 2
        return None

    def _scan_key(self, text: str, i: int) -> int:
        end = self._string_end(text, i)
        if end is None:
            self._key.append(text[i:])
            return len(text)
        self._key.append(text[i:end])
        self._state = _COLON
        return end + 1

    def _scan_string(self, text: str, i: int) -> int:
        if not self._text_is_string:
            return self._scan_raw_string(text, i)
        n = len(text)
        while i < n:
            if self._escape or self._high_surrogate:
                i = self._continue_escape(text, i)
                if self._escape:
                    return n
                continue
            match = _STRING_STOP.search(text, i)
            if match is None:
                self._value_text(text[i:])
                return n
            j = match.start()
            if text[j] == '"':
                self._value_text(text[i:j])
                self._state = _AFTER_VALUE
                return j + 1
            escaped = _ESCAPED_RUN.match(text, j)
            if escaped is not None and escaped.end() > j:
                i = self._decoded_run(text, i, escaped.end())
                continue
            # An escape cut by the piece's end, or one JSON does not define: step by step.
            self._value_text(text[i:j])
            self._escape = "\\"
            i = j + 1
        return i

    def _decoded_run(self, text: str, i: int, end: int) -> int:
        """Emit ``text[i:end]``, complete escapes and all, decoded; returns ``end``.

        A high surrogate at its end is held for the low one, which may come in the next piece.
        """
        decoded = _SCANSTRING(f'"{text[i:end]}"', 1, False)[0]
        if decoded and "\ud800" <= decoded[-1] <= "\udbff":
            self._value_text(decoded[:-1])
            self._high_surrogate = decoded[-1]
        else:
            self._value_text(decoded)
        return end

    def _continue_escape(self, text: str, i: int) -> int:
        """Decode an escape whose start was already seen; returns where decoding stopped."""
        n = len(text)
        if self._high_surrogate and not self._escape:
            # Waiting for "\uDCxx" after a high surrogate.
            if i >= n:
                return i
            if text[i] != "\\":
                self._value_text(self._high_surrogate)
                self._high_surrogate = ""
                return i
            self._escape = "\\"
            i += 1
        need = self._escape + text[i : i + 6]
        if len(need) < 2:
            self._escape = need
            return n
        kind = need[1]
        if kind in _SIMPLE_ESCAPES:
            consumed = 2 - len(self._escape)
            self._flush_surrogate()
            self._escape = ""
            self._value_text(_SIMPLE_ESCAPES[kind])
            return i + consumed
        if kind != "u":
            # Unknown escape: keep the character, as a lenient reader would.
            consumed = 2 - len(self._escape)
            self._flush_surrogate()
            self._escape = ""
            self._value_text(kind)
            return i + consumed
        if len(need) < 6:
            self._escape = need
            return n
        digits = need[2:6]
        consumed = 6 - len(self._escape)
        self._escape = ""
        if not _HEX4.fullmatch(digits):
            self._flush_surrogate()
            self._value_text(digits)
            return i + consumed
        code = int(digits, 16)
        if 0xD800 <= code < 0xDC00:
            self._flush_surrogate()
            self._high_surrogate = chr(code)
        elif 0xDC00 <= code < 0xE000 and self._high_surrogate:
            pair = 0x10000 + ((ord(self._high_surrogate) - 0xD800) << 10) + (code - 0xDC00)
            self._high_surrogate = ""
            self._value_text(chr(pair))
        else:
            self._flush_surrogate()
            self._value_text(chr(code))
        return i + consumed

    def _flush_surrogate(self) -> None:
        if self._high_surrogate:
            self._value_text(self._high_surrogate)
            self._high_surrogate = ""

    def _scan_raw_string(self, text: str, i: int) -> int:
        """A string value passed through as JSON text: find its end, honouring escapes."""
        end = self._string_end(text, i)
        if end is None:
            self._value_text(text[i:])
            return len(text)
        self._value_text(text[i : end + 1])
        self._state = _AFTER_VALUE
        return end + 1

    def _take_word(self, text: str, i: int, words: Mapping[str, str]) -> int | None:
        """Extend the bare word being read; once complete, emit it normalized or fail.

        Returns where the word ended, or None while it may still continue in the next piece.
        """
        match = _WORD.match(text, i)
        end = match.end() if match else i
        self._word += text[i:end]
        if end >= len(text):
            return None
        word, self._word = self._word, ""
        normal = words.get(word)
        if normal is None:
            self._fail(f"expected a JSON value, got the word {word!r}")
        else:
            self._value_text(normal)
        return end

    def _scan_scalar(self, text: str, i: int) -> int:
        if self._word:
            end = self._take_word(text, i, _WORDS)
            if end is None:
                return len(text)
            if self._state != _FAILED:
                self._state = _AFTER_VALUE
            return end
        match = _SCALAR_STOP.search(text, i)
        if match is None:
            self._value_text(text[i:])
            return len(text)
        j = match.start()
        self._value_text(text[i:j])
        self._state = _AFTER_VALUE
        return j

    def _scan_compound(self, text: str, i: int) -> int:
        n = len(text)
        start = i
        while i < n and self._state == _COMPOUND:
            if self._in_string:
                end = self._string_end(text, i)
                if end is None:
                    break
                self._in_string = False
                i = end + 1
                continue
            if self._word:
                self._value_text(text[start:i])
                end = self._take_word(text, i, _NESTED_WORDS)
                if end is None:
                    return n
                start = i = end
                continue
            match = _COMPOUND_STOP.search(text, i)
            if match is None:
                break
            j = match.start()
            char = text[j]
            if char == '"':
                self._in_string = True
                i = j + 1
            elif char in "{[":
                self._depth += 1
                i = j + 1
            elif char in "}]":
                self._depth -= 1
                i = j + 1
                if self._depth == 0:
                    self._value_text(text[start:i])
                    self._state = _AFTER_VALUE
                    return i
            else:
                # A bare word inside the value: held until complete, then normalized.
                self._value_text(text[start:j])
                start = i = j
                self._word = ""
                end = self._take_word(text, j, _NESTED_WORDS)
                if end is None:
                    return n
                start = i = end
        if self._state == _COMPOUND:
            self._value_text(text[start:n])
        return n

    # -- the end ----------------------------------------------------------------------------

    def _incomplete(self) -> None:
        self._error(
            "cannot finish the arguments: expected a complete JSON object, got text that ends"
            " mid-value; the stream was probably cut"
        )

    def _fallback(self) -> None:
        whole = "".join(self._whole)
        try:
            value = decode_lenient(whole)
        except ValueError:
            self._error(
                f"cannot read the arguments: {self._failure}; not even a lenient decoder could"
                f" repair {preview(whole)}"
            )
            return
        if not isinstance(value, dict):
            self._error(f"cannot read the arguments: expected a JSON object, got {preview(whole)}")
            return
        rest: dict[str, Any] = {}
        for key, item in value.items():
            route = self._routes.get(key, self._default)
            if route is Route.REMAINDER:
                rest[key] = item
            elif route is not Route.DROP:
                full = item if route is Route.TEXT and isinstance(item, str) else _dumps(item)
                self._complete(key, full)
        if self._default is Route.REMAINDER or self._rest_open:
            self._complete(None, _dumps(rest))

    def _complete(self, key: str | None, full: str) -> None:
        """Emit what is missing of ``full`` after what was already emitted for ``key``."""
        done = self._emitted_text(key)
        if not full.startswith(done):
            what = "the remaining arguments" if key is None else f"the value of {key!r}"
            self._error(
                f"cannot stream {what} correctly: the JSON was malformed ({self._failure}) and the"
                f" text already sent differs from the repaired value {preview(full)}"
            )
            return
        tail = full[len(done) :]
        if not tail:
            return
        self._emit(REST if key is None else VALUE, key, tail)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
