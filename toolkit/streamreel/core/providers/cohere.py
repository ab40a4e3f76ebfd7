"""Cohere v2 chat streams (``POST /v2/chat`` with ``stream: true``).

Theory of operation
-------------------

Named SSE events whose payload repeats the name in ``type``; the adapter dispatches on it (the
SSE event name is the fallback). Every piece of the reply sits under ``delta.message``:

* ``message-start`` carries the reply's ``id``;
* ``tool-plan-delta`` streams ``tool_plan``, the model's plan written before it calls tools.
  It is the model thinking aloud, not the answer, so it becomes ``reasoning_content``;
* ``content-start`` / ``content-delta`` / ``content-end`` stream a content block: ``text``
  becomes ``content``, ``thinking`` (reasoning models) ``reasoning_content``;
* ``tool-call-start`` opens a call (``id``, ``function.name``, maybe a first piece of
  ``function.arguments``), ``tool-call-delta`` adds argument pieces, ``tool-call-end`` closes it.
  Each call keeps the event's ``index``, so calls stay apart; a call that streamed no arguments
  gets ``"{}"`` at its end, so the arguments are always a JSON document;
* ``citation-start`` / ``citation-end`` annotate text already sent and are left out;
* ``message-end`` has the ``finish_reason`` (``COMPLETE`` -> ``stop``, ``TOOL_CALL`` ->
  ``tool_calls``, ``MAX_TOKENS`` -> ``length``, ``STOP_SEQUENCE`` -> ``stop``) and the usage
  (``tokens`` as the model counted them, else ``billed_units``) and is the terminator. A
  ``message-end`` whose ``finish_reason`` is ``ERROR``, or that carries an ``error``, ends the
  stream with ``StreamFault("error")``.

Some servers add ``data: [DONE]`` after ``message-end``; it is accepted and means nothing more.
"""

from __future__ import annotations

from typing import Any, Literal, assert_never, cast, get_args

from streamreel.core.chunks import StreamFault
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
    tool_call,
    usage,
)

__all__ = ["CohereChatAdapter", "chat_events"]

_EventType = Literal[
    "message-start",
    "tool-plan-delta",
    "content-start",
    "content-delta",
    "content-end",
    "tool-call-start",
    "tool-call-delta",
    "tool-call-end",
    "citation-start",
    "citation-end",
    "message-end",
]
_EVENT_TYPES: frozenset[str] = frozenset(get_args(_EventType))

_FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "TOOL_CALL": "tool_calls",
    "MAX_TOKENS": "length",
}


class CohereChatAdapter(AdapterBase):
    """Cohere v2 chat events in, chunks and faults out."""

    TERMINATOR = "event: message-end"

    def __init__(self, *, model: str | None = None) -> None:
        super().__init__()
        self._stamp = Stamp()
        self._stamp.model = model
        self._arguments = ToolArguments()

    def event(self, name: str, payload: Any) -> list[Output]:
        data = as_object(payload, f"Cohere {name or 'event'}")
        kind = data.get("type", name)
        if not isinstance(kind, str) or kind not in _EVENT_TYPES:
            return []
        return self._dispatch(cast(_EventType, kind), data)

    def _dispatch(self, kind: _EventType, data: dict[str, Any]) -> list[Output]:
        where = f"Cohere {kind}"
        chunk = self._stamp.chunk
        message = opt_obj(opt_obj(data, "delta", where), "message", f"{where} delta")
        match kind:
            case "message-start":
                self._stamp.id = opt_str(data, "id", where) or self._stamp.id
                return [chunk(role=opt_str(message, "role", where) or "assistant")]
            case "tool-plan-delta":
                plan = opt_str(message, "tool_plan", where)
                return [chunk(reasoning=plan)] if plan else []
            case "content-start" | "content-delta":
                content = opt_obj(message, "content", where)
                text = opt_str(content, "text", where)
                thinking = opt_str(content, "thinking", where)
                out: list[Output] = []
                if thinking:
                    out.append(chunk(reasoning=thinking))
                if text:
                    out.append(chunk(content=text))
                return out
            case "tool-call-start" | "tool-call-delta":
                return self._on_call(req_int(data, "index", where), message, kind, where)
            case "tool-call-end":
                fragment = self._arguments.end(req_int(data, "index", where))
                return [chunk(tool_calls=[fragment])] if fragment is not None else []
            case "content-end" | "citation-start" | "citation-end":
                return []
            case "message-end":
                return self._on_end(opt_obj(data, "delta", where), where)
            case _:
                assert_never(kind)

    def _on_call(self, index: int, message: dict[str, Any], kind: str, where: str) -> list[Output]:
        call = opt_obj(message, "tool_calls", where)
        function = opt_obj(call, "function", f"{where} tool_calls")
        arguments = opt_str(function, "arguments", f"{where} function") or ""
        if kind != "tool-call-start":
            piece = self._arguments.piece(index, arguments)
            return [self._stamp.chunk(tool_calls=[piece])] if piece is not None else []
        self._arguments.begin(index, arguments)
        fragment = tool_call(
            index,
            id=opt_str(call, "id", where) or f"call_{index}",
            name=opt_str(function, "name", f"{where} function") or "",
            arguments=arguments,
        )
        return [self._stamp.chunk(tool_calls=[fragment])]

    def _on_end(self, delta: dict[str, Any], where: str) -> list[Output]:
        reason = opt_str(delta, "finish_reason", where)
        error = delta.get("error")
        if reason == "ERROR" or error:
            text = error if isinstance(error, str) and error else "the model stopped on an error"
            return self.fail(StreamFault("error", text, error_type=reason or None))
        self._finished = True
        counts = opt_obj(delta, "usage", where)
        tokens = opt_obj(counts, "tokens", f"{where} usage") or opt_obj(
            counts, "billed_units", f"{where} usage"
        )
        reported = usage(
            opt_int(tokens, "input_tokens", f"{where} usage"),
            opt_int(tokens, "output_tokens", f"{where} usage"),
        )
        finish = _FINISH.get(reason, reason.lower()) if reason else "stop"
        return [self._stamp.chunk(finish_reason=finish, usage=reported)]


def chat_events(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """The v2 chat stream events equivalent to a whole (non-streamed) chat reply.

    Replaying them through :class:`CohereChatAdapter` gives the chunks a stream of that reply
    would, so both paths share one set of handlers.
    """
    where = "Cohere chat reply"
    message = opt_obj(reply, "message", where)
    start = {"role": opt_str(message, "role", where) or "assistant"}
    events: list[dict[str, Any]] = [
        {"type": "message-start", "id": reply.get("id"), "delta": {"message": start}}
    ]
    plan = opt_str(message, "tool_plan", where)
    if plan:
        events.append({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": plan}}})
    for index, raw in enumerate(opt_list(message, "content", where)):
        part = as_object(raw, f"{where} content")
        content = {key: part[key] for key in ("text", "thinking") if key in part}
        events.append(
            {"type": "content-delta", "index": index, "delta": {"message": {"content": content}}}
        )
    for index, raw in enumerate(opt_list(message, "tool_calls", where)):
        call = as_object(raw, f"{where} tool call")
        events.append(
            {"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": call}}}
        )
        events.append({"type": "tool-call-end", "index": index})
    end = {"finish_reason": reply.get("finish_reason"), "usage": reply.get("usage") or {}}
    events.append({"type": "message-end", "delta": end})
    return events
