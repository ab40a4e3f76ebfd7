"""From response bytes to chunks: framing decoder plus provider adapter, and whole JSON bodies.

Theory of operation
-------------------

:class:`StreamDecoder` joins the two halves of the work for one response. The framing decoder
(:mod:`streamreel.core.sse` or :mod:`streamreel.core.framing`) turns bytes into events; each
event's payload is
decoded from JSON here, once, and handed to the adapter of the API (one class per API, in this
package), which turns it into :class:`~streamreel.core.chunks.ChatCompletionChunk` and
:class:`~streamreel.core.chunks.StreamFault` values. ``data: [DONE]`` is a sentinel, not JSON, and
is
handed to the adapter as such; an event with blank data carries nothing and is skipped.

``close()`` flushes the framing, lets the adapter emit what it held back (a refusal waiting
for its end), and, when the adapter never saw its provider's terminator (``data: [DONE]``,
``message_stop``, ``response.completed``, a finish reason, ``"done": true``), adds
``StreamFault("incomplete")``: a recording cut short must not replay as a clean ending.

The body may end inside its last SSE event, because recorders that strip trailing whitespace
remove its final line end and blank line. That event is used when its data decodes; when it
does not, it was cut, and is dropped in favour of the ``incomplete`` fault.

A body framed ``"json"`` (a non-streamed reply, or an error) is buffered and converted at
``close()`` by :func:`chunks_from_json_body`, so non-streamed interactions replay through the
same interface. ``"none"`` (an empty body) produces nothing.

Two kinds of trouble, two channels
----------------------------------

*What the provider said* goes into the output, in order, as a :class:`StreamFault`: error
events and error objects inside the stream, refusals, a missing terminator, an HTTP error body.

*What cannot be read* is raised: bytes that are not the framing (:mod:`streamreel.core.framing`), an
event whose data is not JSON (:class:`~streamreel.core.errors.StreamDecodeError`), or a payload of
the
wrong shape (:class:`~streamreel.core.errors.ChunkError`). Its ``chunk`` attribute is the 0-based
ordinal of the event in the stream (for SSE, counting every dispatched event, ``[DONE]``
included). Such a recording is broken; replaying a guess would hide that. Nothing decoded
before the fault is lost: when a call has already produced values before it meets the fault,
it returns them and the next call raises. After a fault every call raises the same error.
"""

from __future__ import annotations

import json
from typing import Any

from streamreel.core.chunks import StreamFault
from streamreel.core.errors import StreamDecodeError, StreamreelError, preview
from streamreel.core.eventstream import EventStreamDecoder, EventStreamMessage
from streamreel.core.framing import JSONArrayDecoder, NDJSONDecoder, stripped_loads
from streamreel.core.providers._adapter import Adapter, Output, Stamp, error_fault
from streamreel.core.providers.anthropic import MessagesAdapter, message_events
from streamreel.core.providers.anthropic_complete import CompleteAdapter
from streamreel.core.providers.bedrock import (
    ConverseStreamAdapter,
    InvokeStreamAdapter,
    converse_events,
    exception_fault,
)
from streamreel.core.providers.cohere import CohereChatAdapter, chat_events
from streamreel.core.providers.detection import (
    StreamKind,
    check_framing,
    unsupported,
    whole_reply_adapted,
)
from streamreel.core.providers.gemini import GenerateContentAdapter
from streamreel.core.providers.gemini_interactions import InteractionsAdapter
from streamreel.core.providers.ollama import OllamaAdapter
from streamreel.core.providers.openai_assistants import AssistantsAdapter
from streamreel.core.providers.openai_chat import (
    ChatCompletionsAdapter,
    CompletionsAdapter,
    completion_chunks,
)
from streamreel.core.providers.openai_responses import ResponsesAdapter, response_events
from streamreel.core.sse import SSEDecoder

__all__ = ["StreamDecoder", "chunks_from_json_body", "http_error_fault", "make_adapter"]

# Servers that end a Chat Completions stream without ``data: [DONE]``.
_NO_DONE_SENTINEL = frozenset({"writer"})


def make_adapter(kind: StreamKind) -> Adapter:
    """A fresh adapter for ``kind``'s API; :class:`UnsupportedStreamError` when there is none."""
    match kind.api:
        case "chat-completions":
            return ChatCompletionsAdapter(needs_done=kind.provider not in _NO_DONE_SENTINEL)
        case "completions":
            return CompletionsAdapter()
        case "messages":
            return MessagesAdapter()
        case "responses":
            return ResponsesAdapter()
        case "generate-content":
            return GenerateContentAdapter()
        case "ollama-chat":
            return OllamaAdapter()
        case "ollama-generate":
            return OllamaAdapter(generate=True)
        case "complete":
            return CompleteAdapter()
        case "assistants":
            return AssistantsAdapter()
        case "cohere-chat":
            return CohereChatAdapter(model=kind.model)
        case "interactions":
            return InteractionsAdapter()
        case "invoke-stream":
            return InvokeStreamAdapter(model=kind.model)
        case "converse-stream" | "converse":
            return ConverseStreamAdapter(model=kind.model)
        case _:
            raise unsupported(kind)


def _decode_data(data: str, event: str, ordinal: int) -> Any:
    try:
        return stripped_loads(data)  # the caller strips it
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at column {exc.colno}"
    except (ValueError, RecursionError) as exc:
        reason = type(exc).__name__
    raise StreamDecodeError(
        f"cannot decode SSE event {event!r}: expected JSON data, got {preview(data)} ({reason});"
        " fix or remove this event in the recording",
        chunk=ordinal,
    )


class StreamDecoder:
    """Push a response body in, in pieces of any size; get chunks and faults out."""

    def __init__(self, kind: StreamKind, *, status: int | None = None) -> None:
        self.kind = kind
        self._framing = check_framing(kind.framing)
        self._status = status
        streamed = self._framing not in ("json", "none")
        self._adapter: Adapter | None = make_adapter(kind) if streamed else None
        # Chat Completions chunks can be validated from their text (see its event_text).
        self._chat = self._adapter if isinstance(self._adapter, ChatCompletionsAdapter) else None
        self._sse = SSEDecoder() if self._framing == "sse" else None
        self._ndjson = NDJSONDecoder() if self._framing == "ndjson" else None
        self._array = JSONArrayDecoder() if self._framing == "json-array" else None
        self._events = EventStreamDecoder() if self._framing == "eventstream" else None
        self._body: list[bytes] = []
        self._ordinal = 0
        self._error: StreamreelError | None = None
        self._closed = False

    def feed(self, data: bytes) -> list[Output]:
        """The next piece of the body; returns what it completed."""
        self._check()
        out: list[Output] = []
        try:
            if self._sse is not None:
                for name, text, _, _ in self._sse.feed_fields(data):
                    out.extend(self._on_sse(name, text))
            elif self._ndjson is not None:
                for value in self._ndjson.feed(data):
                    out.extend(self._on_value(value))
            elif self._array is not None:
                for value in self._array.feed(data):
                    out.extend(self._on_value(value))
            elif self._events is not None:
                for message in self._events.feed(data):
                    out.extend(self._on_message(message))
            else:
                self._body.append(data)
        except StreamreelError as exc:
            return self._fail(exc, out)
        return out

    def close(self) -> list[Output]:
        """The body has ended: flush, and report a stream that never reached its terminator."""
        self._check()
        self._closed = True
        out: list[Output] = []
        try:
            if self._adapter is None:
                body = b"".join(self._body)
                if body.strip():
                    out.extend(chunks_from_json_body(self.kind, body, status=self._status))
                return out
            if self._sse is not None:
                for name, text, _, _ in self._sse.close_fields(keep_unterminated=True):
                    out.extend(self._on_last_sse(name, text))
            elif self._ndjson is not None:
                for value in self._ndjson.close():
                    out.extend(self._on_value(value))
            elif self._array is not None:
                # A cut array is reported below as an incomplete stream, not as bad bytes.
                for value in self._array.close(allow_unterminated=True):
                    out.extend(self._on_value(value))
            elif self._events is not None:
                # A message cut off is reported below as an incomplete stream, not as bad bytes.
                self._events.close(allow_unterminated=True)
            out.extend(self._adapter.end())
            if not self._adapter.finished:
                out.append(
                    StreamFault(
                        "incomplete",
                        f"the stream ended before {self._adapter.terminator}; the recording"
                        " may have been cut",
                    )
                )
        except StreamreelError as exc:
            return self._fail(exc, out)
        return out

    def _check(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise StreamDecodeError(
                "cannot decode the stream: expected an open decoder, got one already closed;"
                " create a new StreamDecoder for each response"
            )

    def _fail(self, exc: StreamreelError, out: list[Output]) -> list[Output]:
        self._error = exc
        if not out:
            raise exc
        return out

    def _next_ordinal(self) -> int:
        ordinal = self._ordinal
        self._ordinal += 1
        return ordinal

    def _on_sse(self, name: str, text: str) -> list[Output]:
        """One SSE event, by its type and data."""
        assert self._adapter is not None
        ordinal = self._ordinal
        self._ordinal = ordinal + 1
        data = text.strip()
        if not data:
            return []
        try:
            if data == "[DONE]":
                return self._adapter.done()
            if self._chat is not None:
                fast = self._chat.event_text(name, data)
                if fast is not None:
                    return fast
            return self._adapter.event(name, _decode_data(data, name, ordinal))
        except StreamreelError as exc:
            raise exc.located(chunk=ordinal) from None

    def _on_last_sse(self, name: str, text: str) -> list[Output]:
        """The event the body ended inside: whole if its data decodes, else cut off."""
        try:
            return self._on_sse(name, text)
        except StreamDecodeError:
            return []  # the missing terminator is reported as an incomplete stream

    def _on_message(self, message: EventStreamMessage) -> list[Output]:
        """One event-stream message: an event for the adapter, or an exception ending it."""
        assert self._adapter is not None
        ordinal = self._next_ordinal()
        name = message.event_type
        if message.message_type != "event":
            return self._adapter.fail(exception_fault(name, message.payload))
        data = message.payload.decode("utf-8", errors="replace").strip()
        if not data:
            return []
        try:
            return self._adapter.event(name, _decode_data(data, name, ordinal))
        except StreamreelError as exc:
            raise exc.located(chunk=ordinal) from None

    def _on_value(self, value: Any) -> list[Output]:
        assert self._adapter is not None
        ordinal = self._next_ordinal()
        try:
            return self._adapter.event("", value)
        except StreamreelError as exc:
            raise exc.located(chunk=ordinal) from None


def _error_object(value: Any) -> Any | None:
    """The error object a JSON error body carries, or None when the body is not an error."""
    if isinstance(value, list) and value:
        value = value[0]
    if not isinstance(value, dict):
        return None
    error = value.get("error")
    if error is not None:
        if isinstance(error, str) and isinstance(value.get("message"), str):
            return {"type": error, "message": value["message"]}
        return error
    if value.get("type") == "error":
        return value
    return None


def chunks_from_json_body(
    kind: StreamKind, body: bytes | str, *, status: int | None = None
) -> list[Output]:
    """The chunks equivalent to a whole (non-streamed) JSON reply, so it replays as a stream.

    Handles a chat completion, a legacy text completion, an Anthropic message, a Responses
    object, a Gemini response (or a list of them) and an Ollama reply. An error body (any HTTP
    status of 400 or more, or a body with an ``error`` object) becomes one fault, as
    :func:`http_error_fault` reads it. Raises :class:`~streamreel.core.errors.StreamDecodeError`
    for a
    body that is not JSON and :class:`~streamreel.core.errors.UnsupportedStreamError` for an API
    without an adapter.
    """
    if status is not None and status >= 400:
        return [http_error_fault(status, body)]
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if not text.strip():
        return []
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise StreamDecodeError(
            f"cannot decode the {kind.describe()} body: expected JSON, got {preview(text)}"
            f" ({type(exc).__name__}); check the recorded body",
            chunk=0,
        ) from None
    if _error_object(value) is not None:
        return [http_error_fault(status, text)]
    try:
        return _whole_reply(kind, value)
    except StreamreelError as exc:
        raise exc.located(chunk=0) from None


def _whole_reply(kind: StreamKind, value: Any) -> list[Output]:
    if not kind.model_reply:
        return []  # an endpoint that is not a model call: nothing a parser would read
    if kind.adapted and not whole_reply_adapted(kind.api):
        raise unsupported(kind, whole=True)
    adapter = make_adapter(kind)
    out: list[Output] = []
    match kind.api:
        case "chat-completions":
            out.extend(adapter.event("", _chat_completion_as_chunk(value)))
            out.extend(adapter.done())
        case "completions":
            out.extend(completion_chunks(_object(value, kind), Stamp()))
        case "messages":
            for event in message_events(_object(value, kind)):
                out.extend(adapter.event(event["type"], event))
        case "responses":
            for event in response_events(_object(value, kind)):
                out.extend(adapter.event(event["type"], event))
        case "converse":
            for name, payload in converse_events(_object(value, kind)):
                out.extend(adapter.event(name, payload))
        case "cohere-chat":
            for event in chat_events(_object(value, kind)):
                out.extend(adapter.event(event["type"], event))
        case "complete":
            out.extend(adapter.event("completion", _object(value, kind)))
        case _:
            for item in value if isinstance(value, list) else [value]:
                out.extend(adapter.event("", item))
    out.extend(adapter.end())
    return out


def _object(value: Any, kind: StreamKind) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StreamDecodeError(
            f"cannot read the {kind.describe()} body: expected a JSON object, got"
            f" {type(value).__name__}; check the recorded body"
        )
    return value


def _chat_completion_as_chunk(value: Any) -> Any:
    """A ``chat.completion`` rewritten as one chunk: each choice's message becomes its delta."""
    if not isinstance(value, dict):
        return value  # the adapter reports the wrong shape
    chunk = dict(value)
    choices = value.get("choices")
    if isinstance(choices, list):
        rewritten = []
        for choice in choices:
            if isinstance(choice, dict) and "message" in choice and "delta" not in choice:
                choice = {**choice, "delta": choice["message"]}
            rewritten.append(choice)
        chunk["choices"] = rewritten
    return chunk


def http_error_fault(status: int | None, body: bytes | str) -> StreamFault:
    """The fault an HTTP error response stands for, with the provider's error type and message.

    Reads OpenAI's ``{"error": {"message", "type", "code"}}``, Anthropic's ``{"type": "error",
    "error": {...}}``, Google's ``{"error": {"code", "message", "status"}}``, a list of any of
    these, ``{"error": "type", "message": "..."}``, ``{"message": "..."}`` (Bedrock), and
    falls back to the body's text. ``status`` is kept on the fault.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        value: Any = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    error = _error_object(value)
    if error is None and isinstance(value, dict) and isinstance(value.get("message"), str):
        error = value
    if error is not None:
        return error_fault(error, status=status)
    shown = " ".join(text.split())[:500]
    return StreamFault("error", shown or f"HTTP {status}", status=status)
