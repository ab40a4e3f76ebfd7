"""Amazon Bedrock streams: ``InvokeModelWithResponseStream`` and ``ConverseStream``.

Theory of operation
-------------------

Both arrive as AWS event-stream messages (:mod:`streamreel.core.eventstream`), whose
``:event-type`` header the pipeline hands to the adapter as the event name and whose payload it
decodes from JSON. An ``exception`` message (``throttlingException``,
``modelStreamErrorException``...) never reaches the adapter's ``event``: the pipeline turns it
into a fault through ``fail``, which ends the stream.

``InvokeModelWithResponseStream`` wraps the model's own stream: each ``chunk`` event's payload is
``{"bytes": <base64>}``, and the bytes are one event of the model family's native API. For
Anthropic models those are Anthropic Messages events, so :class:`InvokeStreamAdapter` decodes
them and hands them to a :class:`~streamreel.core.providers.anthropic.MessagesAdapter`: one set
of handlers for Claude on Anthropic's API and on AWS. Bedrock adds its invocation metrics to
``message_stop``; the Messages adapter ignores fields it does not know. Legacy Claude models
send text-completion payloads, Amazon Nova sends ConverseStream events, and Meta, Mistral,
Titan and Cohere payloads are read by :mod:`streamreel.core.providers.bedrock_native`. The
families with no adapter (AI21, DeepSeek, Writer) are refused by detection, by model id.

``ConverseStream`` is Bedrock's own model-neutral shape:

* ``messageStart`` opens the reply (a chunk with the role);
* ``contentBlockStart`` with ``start.toolUse`` opens a tool call: a fragment with the
  ``toolUseId`` and the ``name``, at the block's ``contentBlockIndex``, so calls stay apart;
* ``contentBlockDelta`` carries ``delta.text`` (``content``), ``delta.toolUse.input`` (an
  arguments piece), or ``delta.reasoningContent`` with ``text`` (``reasoning_content``),
  ``signature`` or ``redactedContent``;
* ``contentBlockStop`` closes a block; a tool call that streamed no input gets ``"{}"``, so the
  arguments are always a JSON document;
* ``messageStop`` has the ``stopReason`` (``end_turn`` -> ``stop``, ``tool_use`` ->
  ``tool_calls``, ``max_tokens`` -> ``length``, ``guardrail_intervened`` and
  ``content_filtered`` -> ``content_filter``) and is the terminator;
* ``metadata`` follows with the usage, which becomes a usage chunk.

Converse events name no model and no id, so chunks carry the model id from the request URL.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal, assert_never, cast, get_args

from streamreel.core.chunks import StreamFault
from streamreel.core.errors import ChunkError
from streamreel.core.providers._adapter import (
    AdapterBase,
    Output,
    Stamp,
    ToolArguments,
    as_object,
    opt_int,
    opt_list,
    opt_obj,
    opt_str,
    req_int,
    req_str,
    tool_call,
    usage,
)
from streamreel.core.providers.anthropic import MessagesAdapter
from streamreel.core.providers.anthropic_complete import CompleteAdapter
from streamreel.core.providers.bedrock_native import NativeModelAdapter, native_shape

__all__ = ["ConverseStreamAdapter", "InvokeStreamAdapter", "converse_events"]


class InvokeStreamAdapter(AdapterBase):
    """Bedrock ``chunk`` events in; each base64 payload through the adapter of its family.

    Anthropic Messages events go to the Messages adapter, legacy Claude ``{"completion"}``
    payloads (claude-instant, claude-v2) to the text-completions one, Amazon Nova's ConverseStream
    events to the Converse adapter, and Meta, Mistral, Titan and Cohere payloads to
    :class:`~streamreel.core.providers.bedrock_native.NativeModelAdapter`. Each payload is
    told by its own keys, so a model id that names no family (an ARN) still replays.
    """

    TERMINATOR = "a chunk that ends the reply (message_stop, or a stop reason)"

    def __init__(self, *, model: str | None = None) -> None:
        super().__init__()
        self._messages = MessagesAdapter()
        self._complete = CompleteAdapter()
        self._converse = ConverseStreamAdapter(model=model)
        self._native = NativeModelAdapter(model=model)

    @property
    def finished(self) -> bool:
        return self._finished or any(
            adapter.finished
            for adapter in (self._messages, self._complete, self._converse, self._native)
        )

    def event(self, name: str, payload: Any) -> list[Output]:
        data = as_object(payload, f"Bedrock {name or 'event'}")
        if name not in ("chunk", ""):
            return []
        encoded = req_str(data, "bytes", "Bedrock chunk")
        try:
            inner = json.loads(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ChunkError(
                f"cannot read Bedrock chunk: expected base64 of a JSON event in 'bytes', got"
                f" {encoded[:40]!r} ({type(exc).__name__}); fix or remove this event"
            ) from None
        event = as_object(inner, "Bedrock chunk bytes")
        kind = event.get("type")
        if isinstance(kind, str):
            return self._messages.event(kind, event)
        if "completion" in event:
            out = self._complete.event("completion", event)
            return out + self._native.metrics(event, "Bedrock completion chunk")
        for key in _CONVERSE_EVENTS:
            if key in event:
                return self._converse.event(key, event[key])
        shape = native_shape(event)
        if shape is not None:
            return self._native.payload(shape, event)
        return self._messages.event("", event)


_ConverseEvent = Literal[
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
]
_CONVERSE_EVENTS: frozenset[str] = frozenset(get_args(_ConverseEvent))

_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


class ConverseStreamAdapter(AdapterBase):
    """Bedrock ``ConverseStream`` events in, chunks and faults out."""

    TERMINATOR = "messageStop"

    def __init__(self, *, model: str | None = None) -> None:
        super().__init__()
        self._stamp = Stamp()
        self._stamp.model = model
        self._arguments = ToolArguments()

    def event(self, name: str, payload: Any) -> list[Output]:
        data = as_object(payload, f"Bedrock {name or 'event'}")
        if name not in _CONVERSE_EVENTS:
            return []
        return self._dispatch(cast(_ConverseEvent, name), data)

    def _dispatch(self, kind: _ConverseEvent, data: dict[str, Any]) -> list[Output]:
        where = f"Bedrock {kind}"
        chunk = self._stamp.chunk
        match kind:
            case "messageStart":
                return [chunk(role=opt_str(data, "role", where) or "assistant")]
            case "contentBlockStart":
                index = req_int(data, "contentBlockIndex", where)
                tool = opt_obj(opt_obj(data, "start", where), "toolUse", f"{where} start")
                if not tool:
                    return []
                self._arguments.begin(index)
                call = tool_call(
                    index,
                    id=req_str(tool, "toolUseId", f"{where} toolUse"),
                    name=req_str(tool, "name", f"{where} toolUse"),
                    arguments="",
                )
                return [chunk(tool_calls=[call])]
            case "contentBlockDelta":
                index = req_int(data, "contentBlockIndex", where)
                return self._on_delta(index, opt_obj(data, "delta", where))
            case "contentBlockStop":
                fragment = self._arguments.end(req_int(data, "contentBlockIndex", where))
                return [chunk(tool_calls=[fragment])] if fragment is not None else []
            case "messageStop":
                self._finished = True
                reason = opt_str(data, "stopReason", where) or "end_turn"
                return [chunk(finish_reason=_STOP.get(reason, reason))]
            case "metadata":
                raw = opt_obj(data, "usage", where)
                reported = usage(
                    opt_int(raw, "inputTokens", f"{where} usage"),
                    opt_int(raw, "outputTokens", f"{where} usage"),
                    opt_int(raw, "totalTokens", f"{where} usage"),
                )
                return [self._stamp.usage_chunk(reported)] if reported is not None else []
            case _:
                assert_never(kind)

    def _on_delta(self, index: int, delta: dict[str, Any]) -> list[Output]:
        where = "Bedrock contentBlockDelta delta"
        chunk = self._stamp.chunk
        if "text" in delta:
            return [chunk(content=req_str(delta, "text", where))]
        if "toolUse" in delta:
            piece = opt_str(opt_obj(delta, "toolUse", where), "input", f"{where} toolUse")
            fragment = self._arguments.piece(index, piece or "")
            return [chunk(tool_calls=[fragment])] if fragment is not None else []
        if "reasoningContent" in delta:
            reasoning = opt_obj(delta, "reasoningContent", where)
            text = opt_str(reasoning, "text", f"{where} reasoningContent")
            signature = opt_str(reasoning, "signature", f"{where} reasoningContent")
            redacted = opt_str(reasoning, "redactedContent", f"{where} reasoningContent")
            if redacted:
                return [chunk(redacted=redacted)]
            if signature:
                return [chunk(reasoning=text or "", signature=signature)]
            return [chunk(reasoning=text)] if text else []
        return []


def exception_fault(name: str, payload: bytes) -> StreamFault:
    """The fault an event-stream ``exception`` or ``error`` message stands for."""
    text = payload.decode("utf-8", errors="replace")
    try:
        value: Any = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    message = value.get("message") if isinstance(value, dict) else None
    shown = message if isinstance(message, str) else " ".join(text.split())[:500]
    return StreamFault("error", shown or name, error_type=name or None)


def converse_events(reply: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The ConverseStream events equivalent to a whole ``Converse`` reply.

    Replaying them through :class:`ConverseStreamAdapter` gives the chunks a stream of that
    reply would, so the two paths share one set of handlers.
    """
    where = "Bedrock Converse reply"
    message = opt_obj(opt_obj(reply, "output", where), "message", f"{where} output")
    events: list[tuple[str, dict[str, Any]]] = [
        ("messageStart", {"role": opt_str(message, "role", where) or "assistant"})
    ]
    for index, raw in enumerate(opt_list(message, "content", f"{where} message")):
        block = as_object(raw, f"{where} content block")
        tool = opt_obj(block, "toolUse", where)
        reasoning = opt_obj(opt_obj(block, "reasoningContent", where), "reasoningText", where)
        if tool:
            start = {"toolUse": {"toolUseId": tool.get("toolUseId"), "name": tool.get("name")}}
            events.append(("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            given = tool.get("input")
            if given:
                delta = {"toolUse": {"input": json.dumps(given)}}
                events.append(("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        elif reasoning:
            delta = {"reasoningContent": reasoning}
            events.append(("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        elif "text" in block:
            delta = {"text": block["text"]}
            events.append(("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
    events.append(("messageStop", {"stopReason": reply.get("stopReason")}))
    events.append(("metadata", {"usage": reply.get("usage") or {}}))
    return events
