"""Server-sent events, decoded from bytes as the WHATWG HTML standard says.

Theory of operation
-------------------

An event stream is UTF-8 text cut into lines; a blank line dispatches the event built from the
lines before it. :class:`SSEDecoder` is a push parser with no I/O: hand it bytes as they arrive
with :meth:`~SSEDecoder.feed`, in pieces of any size, and it returns the events those bytes
completed. :meth:`~SSEDecoder.close` says the body has ended.

Three layers, each holding only what it cannot finish yet:

1. *Bytes to text.* An incremental UTF-8 decoder keeps the bytes of a character split between
   two pieces. Invalid bytes become U+FFFD, because the standard decodes the stream with
   "UTF-8 decode", which never fails. One leading byte order mark is dropped.
2. *Text to lines.* A line ends at CR, LF or CRLF and nowhere else (not at the other Unicode
   line breaks ``str.splitlines`` knows). A CR that ends one piece might be the first half of a
   CRLF whose LF opens the next piece, so the decoder remembers it and swallows that LF. The
   unfinished line is kept as a list of fragments and joined once, when its end arrives, so a
   long line fed one byte at a time still costs time proportional to its length: nothing
   already seen is ever scanned again.
3. *Lines to events.* ``field: value`` lines fill the event being built; one space after the
   colon is dropped; a line without a colon is a field with an empty value; a line starting
   with a colon is a comment (a gateway's ``: PROCESSING`` keep-alive, say) and is
   ignored; unknown fields are ignored. ``data`` lines are joined with LF. A blank line
   dispatches the event unless no ``data`` line was seen, which is what the standard does with
   an event that carries no data.

The standard keeps the last event id across events, so :attr:`SSEEvent.id` is the id in force
when the event was dispatched. ``retry`` is reported on the event that carried it (it is a
hint to a reconnecting client, not event content).

At the end of the body, an event that never got its blank line is discarded, as the standard
says (``close(keep_unterminated=True)`` dispatches it instead); :attr:`SSEDecoder.pending`
tells a caller, before closing, whether there is such an event.

Nothing in this module can fail on any input: the only error is using the decoder after
:meth:`~SSEDecoder.close`.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from streamreel.core.errors import StreamDecodeError

__all__ = ["EventFields", "SSEDecoder", "SSEEvent"]

# Only these three end a line in an event stream.
_LINE_END = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"
_LONGEST_FIELD = len("event")  # a longer name is no field: the line is ignored unread
_LONG_LINE = 64 * 1024


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event.

    ``event`` is the type (``"message"`` when the stream named none), ``data`` the ``data``
    lines joined by LF, ``id`` the last event id seen so far (``""`` when none), ``retry`` the
    reconnection time in milliseconds when this event carried a valid ``retry`` field.
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


EventFields = tuple[str, str, str, int | None]
"""An event's ``event``, ``data``, ``id`` and ``retry``, as :class:`SSEEvent` holds them."""


class SSEDecoder:
    """Push bytes in, get :class:`SSEEvent` objects out (or their fields, as tuples)."""

    __slots__ = (
        "_after_cr",
        "_closed",
        "_data",
        "_event",
        "_has_data",
        "_last_id",
        "_line",
        "_retry",
        "_started",
        "_text",
    )

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._started = False  # whether the first character (a possible BOM) has been seen
        self._after_cr = False  # the last piece ended with CR: a leading LF completes a CRLF
        self._line: list[str] = []  # fragments of the unfinished line
        self._event = ""
        self._data: list[str] = []
        self._has_data = False
        self._last_id = ""
        self._retry: int | None = None
        self._closed = False

    @property
    def pending(self) -> bool:
        """Whether input has started an event (or a line) that no blank line has finished yet."""
        return bool(self._line) or self._has_data or bool(self._event) or self._retry is not None

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Decode the next piece of the body; return the events it completed."""
        return [SSEEvent(*fields) for fields in self.feed_fields(data)]

    def feed_fields(self, data: bytes) -> list[EventFields]:
        """:meth:`feed`, each event given as its fields: a reader of thousands of events (a
        replay) is spared making an object of each."""
        self._check_open()
        return self._lines(self._text.decode(data))

    def close(self, *, keep_unterminated: bool = False) -> list[SSEEvent]:
        """End the body. An event the body ends inside is discarded, as the standard says.

        With ``keep_unterminated`` it is dispatched instead, as if its last line end and blank
        line had come: recorders that strip trailing whitespace from a body remove exactly
        those. Whether such an event is whole or was cut is for the caller to judge.
        """
        return [
            SSEEvent(*fields) for fields in self.close_fields(keep_unterminated=keep_unterminated)
        ]

    def close_fields(self, *, keep_unterminated: bool = False) -> list[EventFields]:
        """:meth:`close`, each event given as its fields."""
        self._check_open()
        events = self._lines(self._text.decode(b"", final=True))
        if keep_unterminated:
            if self._line:
                line = "".join(self._line)
                self._process(line, 0, len(line))
            event = self._dispatch()
            if event is not None:
                events.append(event)
        self._closed = True
        self._line.clear()
        self._reset_event()
        return events

    def _check_open(self) -> None:
        if self._closed:
            raise StreamDecodeError(
                "cannot decode SSE: expected an open decoder, got one that was already closed;"
                " create a new SSEDecoder for each body"
            )

    def _lines(self, text: str) -> list[EventFields]:
        if not text:
            return []
        if not self._started:
            self._started = True
            if text.startswith(_BOM):
                text = text[1:]
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
        self._after_cr = text.endswith("\r")
        events: list[EventFields] = []
        if len(text) > _LONG_LINE * (text.count("\n") + text.count("\r") + 1):
            # Lines of 64 KiB or more on average: read in place, one at a time, so a line of
            # megabytes is copied once, as its value, and not first as a line of its own.
            self._lines_in_place(text, events)
            return events
        # One split of the whole piece, in C: a body recorded as one piece (a plain vcrpy
        # cassette) is scanned once, not line by line. Without a CR, LF alone ends lines.
        lines = _LINE_END.split(text) if "\r" in text else text.split("\n")
        rest = lines.pop()  # the unfinished line ("" when the piece ended a line)
        if lines:
            if self._line:
                self._line.append(lines[0])
                lines[0] = "".join(self._line)
                self._line.clear()
            data = self._data
            # The lines of nearly every event (``event``, ``data``, the blank line) are handled
            # here, without a call: per event, the calls cost as much as splitting the body.
            for line in lines:
                if line.startswith("data:"):
                    data.append(line[6:] if line.startswith(" ", 5) else line[5:])
                    self._has_data = True
                elif not line:
                    if self._has_data:
                        events.append(
                            (self._event or "message", "\n".join(data), self._last_id, self._retry)
                        )
                    self._event = ""
                    data.clear()
                    self._has_data = False
                    self._retry = None
                elif line.startswith("event:"):
                    self._event = line[7:] if line.startswith(" ", 6) else line[6:]
                else:
                    self._process(line, 0, len(line))  # not blank: it dispatches nothing
        if rest:
            self._line.append(rest)
        return events

    def _lines_in_place(self, text: str, events: list[EventFields]) -> None:
        start = 0
        for match in _LINE_END.finditer(text):
            if self._line:
                self._line.append(text[start : match.start()])
                line = "".join(self._line)
                self._line.clear()
                event = self._process(line, 0, len(line))
            else:
                event = self._process(text, start, match.start())
            if event is not None:
                events.append(event)
            start = match.end()
        if start < len(text):
            self._line.append(text[start:])

    def _process(self, text: str, start: int, end: int) -> EventFields | None:
        """Process the line ``text[start:end]``, copying only its value, and that once."""
        if start == end:
            return self._dispatch()
        if text.startswith(":", start, end):
            return None
        colon = text.find(":", start, end)
        if colon < 0:
            if end - start > _LONGEST_FIELD:
                return None  # no field has so long a name
            name, value = text[start:end], ""
        else:
            if colon - start > _LONGEST_FIELD:
                return None
            name = text[start:colon]
            value_start = colon + 1 + text.startswith(" ", colon + 1, end)
            value = text[value_start:end]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            # An id with NUL is ignored so that a client never sends one back in a header.
            if "\0" not in value:
                self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit() and len(value) <= 18:
            # Only ASCII digits count; a value too long for int() is no usable delay either.
            self._retry = int(value)
        return None

    def _dispatch(self) -> EventFields | None:
        if not self._has_data:
            self._reset_event()
            return None
        event = (self._event or "message", "\n".join(self._data), self._last_id, self._retry)
        self._reset_event()
        return event

    def _reset_event(self) -> None:
        self._event = ""
        self._data.clear()
        self._has_data = False
        self._retry = None
