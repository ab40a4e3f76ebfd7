"""Anthropic Messages streams.

Theory of operation
-------------------

The stream is ``message_start``, then for each content block ``content_block_start``, any
number of ``content_block_delta`` and ``content_block_stop``, then ``message_delta`` (stop
reason and cumulative usage) and ``message_stop``, with ``ping`` anywhere. Every payload repeats
its event type in ``type``, which is what the adapter dispatches on (the SSE event name is the
fallback), one handler per event type, one per block type and one per delta type.

The adapter remembers each block's kind by its index, because a delta names only the index:

* ``text`` blocks: ``text_delta`` becomes ``content``.
* ``thinking`` blocks: ``thinking_delta`` becomes ``reasoning_content``; ``signature_delta``
  becomes a chunk with ``reasoning_content_signature`` and an empty ``reasoning_content``.
* ``redacted_thinking`` blocks arrive whole: their ``data`` becomes
  ``redacted_reasoning_content``.
* ``tool_use`` blocks: the start becomes a tool-call fragment with the id, the name and empty
  arguments, and each ``input_json_delta`` an arguments piece. The fragment's ``index`` is the
  content block's index, so calls stay apart however the blocks interleave. A call without
  parameters streams no input at all; its block stop then adds ``"{}"``, so the arguments a
  consumer accumulates are always a JSON document.
* Server-side tools (``server_tool_use``, ``mcp_tool_use``) ran at the provider; they are not
  calls the client must make, so they are not turned into tool calls and their input deltas
  are dropped. Their result blocks (``web_search_tool_result``, ...) are not text either; a
  result that reports a failure (content of a ``..._error`` type) becomes
  ``StreamFault("error")`` with the provider's ``error_code``, so a failed search is never lost.
  The stream goes on after it, as the provider's does.
* ``citations_delta`` annotates text already emitted; the chunk schema has no place for it and
  it is not text, so it is left out.
* Blocks and deltas of types this adapter does not know are ignored, as Anthropic asks of
  clients; a known type with fields of the wrong type raises
  :class:`~streamreel.core.errors.ChunkError`.

``message_delta`` becomes a chunk with the ``finish_reason`` (``end_turn`` -> ``stop``,
``max_tokens`` -> ``length``, ``tool_use`` -> ``tool_calls``, anything else as sent) and the
usage. Usage follows OpenAI's meaning: prompt tokens include cache reads and cache writes,
which Anthropic counts apart from ``input_tokens``. ``message_stop`` is the terminator. An
``error`` event (``overloaded_error`` inside an HTTP 200) becomes ``StreamFault("error")`` and
ends the stream. Every chunk carries the ``model`` and ``id`` from ``message_start``.
"""

from __future__ import annotations

import json
from typing import Any, Literal, assert_never, cast, get_args

from streamreel.core.chunks import StreamFault, Usage
from streamreel.core.providers._adapter import (
    AdapterBase,
    Output,
    Stamp,
    ToolArguments,
    as_object,
    error_fault,
    opt_int,
    opt_list,
    opt_obj,
    opt_str,
    req_int,
    req_obj,
    req_str,
    tool_call,
    usage,
)

__all__ = ["MessagesAdapter", "message_events"]

_EventType = Literal[
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
]
_EVENT_TYPES: frozenset[str] = frozenset(get_args(_EventType))

_BlockKind = Literal[
    "text", "thinking", "redacted", "tool", "server_tool", "server_result", "other"
]
_DeltaType = Literal[
    "text_delta", "thinking_delta", "signature_delta", "input_json_delta", "citations_delta"
]
_DELTA_TYPES: frozenset[str] = frozenset(get_args(_DeltaType))

_FINISH = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def _block_kind(block_type: str) -> _BlockKind:
    if block_type == "text":
        return "text"
    if block_type == "thinking":
        return "thinking"
    if block_type == "redacted_thinking":
        return "redacted"
    if block_type == "tool_use":
        return "tool"
    if block_type in ("server_tool_use", "mcp_tool_use"):
        return "server_tool"
    if block_type.endswith("_tool_result"):
        return "server_result"
    return "other"


class MessagesAdapter(AdapterBase):
    """Anthropic Messages events in, chunks and faults out."""

    TERMINATOR = "event: message_stop"

    def __init__(self) -> None:
        super().__init__()
        self._stamp = Stamp()
        self._blocks: dict[int, _BlockKind] = {}
        self._arguments = ToolArguments()
        self._input_tokens: int | None = None
        self._cache_creation: int | None = None
        self._cache_read: int | None = None
        self._output_tokens: int | None = None

    def event(self, name: str, payload: Any) -> list[Output]:
        data = as_object(payload, f"Anthropic {name or 'event'}")
        kind = data.get("type", name)
        if not isinstance(kind, str) or kind not in _EVENT_TYPES:
            return []
        return self._dispatch(cast(_EventType, kind), data)

    def _dispatch(self, kind: _EventType, data: dict[str, Any]) -> list[Output]:
        match kind:
            case "message_start":
                return self._on_message_start(data)
            case "content_block_start":
                return self._on_block_start(data)
            case "content_block_delta":
                return self._on_block_delta(data)
            case "content_block_stop":
                return self._on_block_stop(data)
            case "ping":
                return []
            case "message_delta":
                return self._on_message_delta(data)
            case "message_stop":
                self._finished = True
                return []
            case "error":
                return self.fail(error_fault(data.get("error", data)))
            case _:
                assert_never(kind)

    def _on_message_start(self, data: dict[str, Any]) -> list[Output]:
        where = "Anthropic message_start"
        message = req_obj(data, "message", where)
        self._stamp.id = opt_str(message, "id", where)
        self._stamp.model = opt_str(message, "model", where)
        self._take_usage(opt_obj(message, "usage", where))
        # The prompt is counted here already: a stream cut before message_delta keeps it.
        return [self._stamp.chunk(role="assistant", usage=self._usage())]

    def _on_block_start(self, data: dict[str, Any]) -> list[Output]:
        where = "Anthropic content_block_start"
        index = req_int(data, "index", where)
        block = req_obj(data, "content_block", where)
        block_type = req_str(block, "type", f"{where} content_block")
        kind = _block_kind(block_type)
        self._blocks[index] = kind
        where = f"Anthropic {block_type} block"
        chunk = self._stamp.chunk
        match kind:
            case "text":
                text = opt_str(block, "text", where)
                return [chunk(content=text)] if text else []
            case "thinking":
                out: list[Output] = []
                thinking = opt_str(block, "thinking", where)
                if thinking:
                    out.append(chunk(reasoning=thinking))
                signature = opt_str(block, "signature", where)
                if signature:
                    out.append(chunk(reasoning="", signature=signature))
                return out
            case "redacted":
                return [chunk(redacted=req_str(block, "data", where))]
            case "tool":
                given = opt_obj(block, "input", where)
                arguments = json.dumps(given) if given else ""
                self._arguments.begin(index, arguments)
                call = tool_call(
                    index,
                    id=req_str(block, "id", where),
                    name=req_str(block, "name", where),
                    arguments=arguments,
                )
                return [chunk(tool_calls=[call])]
            case "server_tool" | "other":
                return []
            case "server_result":
                return _result_fault(block_type, block.get("content"))
            case _:
                assert_never(kind)

    def _on_block_delta(self, data: dict[str, Any]) -> list[Output]:
        where = "Anthropic content_block_delta"
        index = req_int(data, "index", where)
        delta = req_obj(data, "delta", where)
        delta_type = req_str(delta, "type", f"{where} delta")
        if delta_type not in _DELTA_TYPES:
            return []
        block = self._blocks.get(index, "other")
        return self._on_delta(index, block, cast(_DeltaType, delta_type), delta)

    def _on_delta(
        self, index: int, block: _BlockKind, delta_type: _DeltaType, delta: dict[str, Any]
    ) -> list[Output]:
        where = f"Anthropic {delta_type}"
        chunk = self._stamp.chunk
        match delta_type:
            case "text_delta":
                return [chunk(content=req_str(delta, "text", where))]
            case "thinking_delta":
                return [chunk(reasoning=req_str(delta, "thinking", where))]
            case "signature_delta":
                return [chunk(reasoning="", signature=req_str(delta, "signature", where))]
            case "input_json_delta":
                piece = req_str(delta, "partial_json", where)
                fragment = self._arguments.piece(index, piece) if block == "tool" else None
                return [chunk(tool_calls=[fragment])] if fragment is not None else []
            case "citations_delta":
                return []
            case _:
                assert_never(delta_type)

    def _on_block_stop(self, data: dict[str, Any]) -> list[Output]:
        index = req_int(data, "index", "Anthropic content_block_stop")
        fragment = self._arguments.end(index) if self._blocks.get(index) == "tool" else None
        return [self._stamp.chunk(tool_calls=[fragment])] if fragment is not None else []

    def _on_message_delta(self, data: dict[str, Any]) -> list[Output]:
        where = "Anthropic message_delta"
        stop_reason = opt_str(opt_obj(data, "delta", where), "stop_reason", f"{where} delta")
        self._take_usage(opt_obj(data, "usage", where))
        finish = _FINISH.get(stop_reason, stop_reason) if stop_reason is not None else None
        return [
            self._stamp.chunk(
                finish_reason=finish, usage=self._usage(), output_tokens=self._output_tokens
            )
        ]

    def _take_usage(self, raw: dict[str, Any]) -> None:
        # Counts are cumulative; a count missing from a later report keeps its earlier value.
        where = "Anthropic usage"
        self._input_tokens = _latest(opt_int(raw, "input_tokens", where), self._input_tokens)
        self._cache_creation = _latest(
            opt_int(raw, "cache_creation_input_tokens", where), self._cache_creation
        )
        self._cache_read = _latest(opt_int(raw, "cache_read_input_tokens", where), self._cache_read)
        self._output_tokens = _latest(opt_int(raw, "output_tokens", where), self._output_tokens)

    def _usage(self) -> Usage | None:
        counted = [n for n in (self._input_tokens, self._cache_creation, self._cache_read) if n]
        prompt = sum(counted) if self._input_tokens is not None or counted else None
        return usage(prompt, self._output_tokens)


def _latest(new: int | None, old: int | None) -> int | None:
    return new if new is not None else old


def _result_fault(block_type: str, content: Any) -> list[Output]:
    if not isinstance(content, dict):
        return []
    kind = content.get("type")
    if not isinstance(kind, str) or not kind.endswith("_error"):
        return []
    code = content.get("error_code")
    label = code if isinstance(code, str) else kind
    return [StreamFault("error", f"the provider's {block_type} failed: {label}", error_type=label)]


def message_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream events equivalent to a whole (non-streamed) ``message`` object.

    Replaying them through :class:`MessagesAdapter` gives the same chunks a stream of that
    message would, so both paths share one set of handlers.
    """
    where = "Anthropic message"
    head = {key: value for key, value in message.items() if key != "content"}
    head["content"] = []
    events: list[dict[str, Any]] = [{"type": "message_start", "message": head}]
    for index, raw in enumerate(opt_list(message, "content", where)):
        block = as_object(raw, f"{where} content block")
        events.append({"type": "content_block_start", "index": index, "content_block": block})
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message.get("stop_reason")},
            "usage": message.get("usage") or {},
        }
    )
    events.append({"type": "message_stop"})
    return events
