"""The AWS event stream framing (``application/vnd.amazon.eventstream``), sans-I/O.

Theory of operation
-------------------

Bedrock streams (``InvokeModelWithResponseStream``, ``ConverseStream``, ``InvokeAgent``) are
not text: the body is a sequence of binary *messages*, each self-delimiting and checksummed::

    total length   uint32, big-endian: the whole message, these 4 bytes and the CRC included
    headers length uint32, big-endian
    prelude CRC    uint32: CRC-32 of the 8 bytes above
    headers        headers-length bytes of (name length u8, name, type u8, value)
    payload        total - headers - 16 bytes (JSON for every Bedrock event)
    message CRC    uint32: CRC-32 of everything before it

A header value's type says how it is laid out: booleans carry no bytes (the type is the value),
integers are 1, 2, 4 or 8 bytes big-endian, byte arrays and strings have a 2-byte length, a
timestamp is 8 bytes of milliseconds, a UUID 16 bytes. The headers that matter are
``:message-type`` (``event``, ``exception`` or ``error``), ``:event-type`` (``chunk``,
``contentBlockDelta``...), ``:exception-type`` and ``:error-code``/``:error-message``.

:class:`EventStreamDecoder` has the shape of :class:`streamreel.core.sse.SSEDecoder`:
``feed(bytes)`` returns the messages the new bytes completed, ``close()`` ends the body. It keeps
only the bytes of the message it cannot finish yet and never rescans them: it waits for the 12
prelude bytes, then for the length they announce, so each ``feed`` costs time proportional to
its own input plus the messages it completes. Both CRCs are checked; a mismatch, a length too
small to hold a message or larger than the 16 MiB AWS allows, or headers that run past their
length, raise :class:`~streamreel.core.errors.StreamDecodeError` whose ``chunk`` is the 0-based
ordinal of the bad message. As in the other decoders, messages completed before the fault are
returned first and the error is raised by the next call, and a failed decoder stays failed.

A body that ends inside a message was cut; ``close()`` raises for it unless the caller reports
cut streams its own way (``close(allow_unterminated=True)``), as the provider pipeline does.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from uuid import UUID

from streamreel.core.errors import StreamDecodeError

__all__ = ["EventStreamDecoder", "EventStreamMessage", "HeaderValue", "encode_message"]

HeaderValue = bool | int | bytes | str | UUID
"""A decoded header value; timestamps are integers of milliseconds since the epoch."""

_PRELUDE = 12
_OVERHEAD = 16  # prelude and message CRC
_MAX_MESSAGE = 16 * 1024 * 1024
_MAX_HEADERS = 128 * 1024


@dataclass(frozen=True, slots=True)
class EventStreamMessage:
    """One decoded message: its headers by name, and its payload bytes."""

    headers: dict[str, HeaderValue]
    payload: bytes

    def text_header(self, name: str) -> str | None:
        """A header that should be a string; None when absent or of another type."""
        value = self.headers.get(name)
        return value if isinstance(value, str) else None

    @property
    def message_type(self) -> str:
        """``event``, ``exception`` or ``error``; ``event`` when the header is missing."""
        return self.text_header(":message-type") or "event"

    @property
    def event_type(self) -> str:
        """What the message is: the event type, exception type or error code."""
        for name in (":event-type", ":exception-type", ":error-code"):
            value = self.text_header(name)
            if value:
                return value
        return ""


def _crc(data: bytes | memoryview, start: int = 0) -> int:
    return zlib.crc32(data, start) & 0xFFFFFFFF


class EventStreamDecoder:
    """Push bytes in, in pieces of any size; get :class:`EventStreamMessage` values out."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._ordinal = 0
        self._error: StreamDecodeError | None = None
        self._closed = False

    @property
    def pending(self) -> bool:
        """Whether bytes of an unfinished message are held."""
        return bool(self._buffer)

    def feed(self, data: bytes) -> list[EventStreamMessage]:
        """The next piece of the body; returns the messages it completed."""
        self._check()
        self._buffer += data
        out: list[EventStreamMessage] = []
        try:
            while True:
                message = self._next()
                if message is None:
                    break
                out.append(message)
        except StreamDecodeError as exc:
            self._error = exc
            if not out:
                raise
        return out

    def close(self, *, allow_unterminated: bool = False) -> list[EventStreamMessage]:
        """The body has ended; a message left unfinished is an error unless allowed."""
        self._check()
        self._closed = True
        if self._buffer and not allow_unterminated:
            held = len(self._buffer)
            self._buffer.clear()
            raise StreamDecodeError(
                f"cannot decode the event stream: expected whole messages, got {held} bytes of"
                " an unfinished message at the end; the recording was cut",
                chunk=self._ordinal,
            )
        self._buffer.clear()
        return []

    def _check(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise StreamDecodeError(
                "cannot decode the event stream: expected an open decoder, got one already"
                " closed; create a new decoder for each body"
            )

    def _fail(self, reason: str) -> StreamDecodeError:
        return StreamDecodeError(
            f"cannot decode event-stream message {self._ordinal}: {reason}; the recording is"
            " damaged, re-record it",
            chunk=self._ordinal,
        )

    def _next(self) -> EventStreamMessage | None:
        buffer = self._buffer
        if len(buffer) < _PRELUDE:
            return None
        total, headers_length, prelude_crc = struct.unpack_from(">III", buffer)
        view = memoryview(buffer)
        try:
            if _crc(view[:8]) != prelude_crc:
                raise self._fail(
                    f"expected the prelude CRC {prelude_crc:#010x}, got {_crc(view[:8]):#010x}"
                )
            if total < _OVERHEAD + headers_length or total > _MAX_MESSAGE:
                raise self._fail(
                    f"expected a length of {_OVERHEAD + headers_length} to {_MAX_MESSAGE}"
                    f" bytes, got {total}"
                )
            if headers_length > _MAX_HEADERS:
                raise self._fail(
                    f"expected headers of at most {_MAX_HEADERS} bytes, got {headers_length}"
                )
            if len(buffer) < total:
                return None
            (message_crc,) = struct.unpack_from(">I", buffer, total - 4)
            computed = _crc(view[: total - 4])
            if computed != message_crc:
                raise self._fail(
                    f"expected the message CRC {message_crc:#010x}, got {computed:#010x}"
                )
            headers = self._headers(bytes(view[_PRELUDE : _PRELUDE + headers_length]))
            payload = bytes(view[_PRELUDE + headers_length : total - 4])
        finally:
            view.release()
        del buffer[:total]
        self._ordinal += 1
        return EventStreamMessage(headers, payload)

    def _headers(self, raw: bytes) -> dict[str, HeaderValue]:
        headers: dict[str, HeaderValue] = {}
        pos = 0
        try:
            while pos < len(raw):
                size = raw[pos]
                name = raw[pos + 1 : pos + 1 + size].decode("utf-8")
                pos += 1 + size
                kind = raw[pos]
                pos += 1
                value, pos = self._value(kind, raw, pos)
                if pos > len(raw):
                    raise IndexError(pos)
                headers[name] = value
        except (IndexError, struct.error):
            raise self._fail(
                "expected headers that fit their length, got a header cut short"
            ) from None
        except UnicodeDecodeError:
            raise self._fail("expected UTF-8 header names and strings, got other bytes") from None
        return headers

    def _value(self, kind: int, raw: bytes, pos: int) -> tuple[HeaderValue, int]:
        match kind:
            case 0 | 1:
                return kind == 0, pos
            case 2:
                return struct.unpack_from(">b", raw, pos)[0], pos + 1
            case 3:
                return struct.unpack_from(">h", raw, pos)[0], pos + 2
            case 4:
                return struct.unpack_from(">i", raw, pos)[0], pos + 4
            case 5 | 8:
                return struct.unpack_from(">q", raw, pos)[0], pos + 8
            case 6 | 7:
                (length,) = struct.unpack_from(">H", raw, pos)
                start = pos + 2
                value = raw[start : start + length]
                if len(value) != length:
                    raise IndexError(start + length)
                return (value.decode("utf-8") if kind == 7 else value), start + length
            case 9:
                value = raw[pos : pos + 16]
                if len(value) != 16:
                    raise IndexError(pos + 16)
                return UUID(bytes=value), pos + 16
            case _:
                raise self._fail(f"expected a header type from 0 to 9, got {kind}")


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message with string headers, as AWS writes it: for the emulator and synthetic streams.

    Strings are the only header type Bedrock sends in its streams, so the writer needs no other.
    """
    block = bytearray()
    for name, value in headers.items():
        key = name.encode("utf-8")
        text = value.encode("utf-8")
        block += struct.pack(">B", len(key)) + key + b"\x07" + struct.pack(">H", len(text)) + text
    total = _OVERHEAD + len(block) + len(payload)
    prelude = struct.pack(">II", total, len(block))
    head = prelude + struct.pack(">I", _crc(prelude)) + bytes(block) + payload
    return head + struct.pack(">I", _crc(head))
