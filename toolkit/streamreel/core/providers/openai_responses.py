"""OpenAI Responses API streams (and the compatible ones DeepSeek and OpenRouter serve).

Theory of operation
-------------------

Every payload names its event in ``type`` (OpenRouter sends no SSE event names at all, so the
payload is what the adapter dispatches on), one handler per event type. Events not listed
below (``content_part.*``, ``output_text.done``, annotations, web-search progress...) carry
nothing a chunk can hold and are ignored.

* ``response.created`` / ``queued`` / ``in_progress``: the first one seen sets the stream's id
  and model and emits the assistant role. A background-mode resume (``GET
  /responses/{id}?starting_after=N``) starts at a later event, so any of the three will do.
* ``response.output_text.delta`` becomes ``content``.
* ``response.reasoning_summary_text.delta`` and ``response.reasoning_text.delta`` become
  ``reasoning_content``. Summary parts are separate paragraphs that the wire does not
  separate; a blank line is put between two parts of the same reasoning item so they do not
  run together.
* A ``function_call`` output item becomes a tool call whose index is the item's
  ``output_index``: ``response.output_item.added`` gives its ``call_id`` and name,
  ``response.function_call_arguments.delta`` its argument pieces. When a server sends no
  argument deltas, the arguments of ``function_call_arguments.done`` (or of the finished item)
  are emitted instead, once. Other output items (web search, file search, MCP...) run at the
  provider and are not client tool calls.
* ``response.refusal.delta`` is not assistant content: the refusal is emitted once, as
  ``StreamFault("refusal", text)``, at ``response.refusal.done`` (or when the response ends).
* ``response.completed`` is the terminator and becomes a chunk with the ``finish_reason``
  (``tool_calls`` when the response called a function, else ``stop``) and the usage.
* ``response.incomplete`` also ends the stream: a chunk with ``finish_reason`` ``length``
  (``max_output_tokens``) or ``content_filter``, then ``StreamFault("incomplete")`` naming the
  reason. ``response.failed`` and ``error`` become ``StreamFault("error")`` and end it too.

:func:`response_events` turns a whole (non-streamed) ``response`` object into the events a
stream of it would have carried, so both paths share these handlers.
"""

from __future__ import annotations

from typing import Any, Literal, assert_never, cast, get_args

from streamreel.core.chunks import StreamFault, Usage
from streamreel.core.providers._adapter import (
    AdapterBase,
    Output,
    Stamp,
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

__all__ = ["ResponsesAdapter", "response_events"]

_EventType = Literal[
    "response.created",
    "response.queued",
    "response.in_progress",
    "response.output_item.added",
    "response.output_item.done",
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta",
    "response.refusal.delta",
    "response.refusal.done",
    "response.completed",
    "response.incomplete",
    "response.failed",
    "error",
]
_EVENT_TYPES: frozenset[str] = frozenset(get_args(_EventType))

_INCOMPLETE_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


class ResponsesAdapter(AdapterBase):
    """Responses API events in, chunks and faults out."""

    TERMINATOR = "response.completed"

    def __init__(self) -> None:
        super().__init__()
        self._stamp = Stamp()
        self._started = False
        self._calls: set[int] = set()  # output indexes of function calls announced
        self._arguments_seen: set[int] = set()  # ... and of those whose arguments were emitted
        self._last_summary: tuple[int, int] | None = None
        self._refusal: list[str] = []

    def event(self, name: str, payload: Any) -> list[Output]:
        data = as_object(payload, f"Responses {name or 'event'}")
        kind = data.get("type", name)
        if not isinstance(kind, str) or kind not in _EVENT_TYPES:
            return []
        return self._dispatch(cast(_EventType, kind), data)

    def end(self) -> list[Output]:
        return self._flush_refusal(None)

    def _dispatch(self, kind: _EventType, data: dict[str, Any]) -> list[Output]:
        where = f"Responses {kind}"
        match kind:
            case "response.created" | "response.queued" | "response.in_progress":
                return self._on_started(req_obj(data, "response", where))
            case "response.output_item.added":
                return self._on_item_added(data, where)
            case "response.output_item.done":
                return self._on_item_done(data, where)
            case "response.output_text.delta":
                return [self._stamp.chunk(content=req_str(data, "delta", where))]
            case "response.function_call_arguments.delta":
                return self._on_arguments(req_int(data, "output_index", where), data, "delta")
            case "response.function_call_arguments.done":
                index = req_int(data, "output_index", where)
                if index in self._arguments_seen:
                    return []
                return self._on_arguments(index, data, "arguments")
            case "response.reasoning_summary_text.delta":
                return self._on_summary(data, where)
            case "response.reasoning_text.delta":
                return [self._stamp.chunk(reasoning=req_str(data, "delta", where))]
            case "response.refusal.delta":
                self._refusal.append(req_str(data, "delta", where))
                return []
            case "response.refusal.done":
                return self._flush_refusal(opt_str(data, "refusal", where))
            case "response.completed":
                return self._on_completed(req_obj(data, "response", where))
            case "response.incomplete":
                return self._on_incomplete(req_obj(data, "response", where))
            case "response.failed":
                return self._on_failed(req_obj(data, "response", where))
            case "error":
                inner = data.get("error")
                if not isinstance(inner, dict):
                    inner = {k: v for k, v in data.items() if k != "type"}
                return self.fail(error_fault(inner))
            case _:
                assert_never(kind)

    def _stamp_from(self, response: dict[str, Any]) -> None:
        where = "Responses response"
        self._stamp.id = opt_str(response, "id", where) or self._stamp.id
        self._stamp.model = opt_str(response, "model", where) or self._stamp.model
        self._stamp.created = opt_int(response, "created_at", where) or self._stamp.created

    def _on_started(self, response: dict[str, Any]) -> list[Output]:
        self._stamp_from(response)
        if self._started:
            return []
        self._started = True
        return [self._stamp.chunk(role="assistant")]

    def _on_item_added(self, data: dict[str, Any], where: str) -> list[Output]:
        item = req_obj(data, "item", where)
        if item.get("type") != "function_call":
            return []
        index = req_int(data, "output_index", where)
        self._calls.add(index)
        call = tool_call(
            index,
            id=opt_str(item, "call_id", where) or opt_str(item, "id", where),
            name=req_str(item, "name", where),
            arguments="",
        )
        return [self._stamp.chunk(tool_calls=[call])]

    def _on_item_done(self, data: dict[str, Any], where: str) -> list[Output]:
        item = req_obj(data, "item", where)
        index = req_int(data, "output_index", where)
        if item.get("type") != "function_call" or index in self._arguments_seen:
            return []
        return self._on_arguments(index, item, "arguments")

    def _on_arguments(self, index: int, data: dict[str, Any], key: str) -> list[Output]:
        piece = opt_str(data, key, f"Responses function call {key}")
        if not piece:
            return []
        self._arguments_seen.add(index)
        return [self._stamp.chunk(tool_calls=[tool_call(index, arguments=piece)])]

    def _on_summary(self, data: dict[str, Any], where: str) -> list[Output]:
        text = req_str(data, "delta", where)
        key = (req_int(data, "output_index", where), opt_int(data, "summary_index", where) or 0)
        previous = self._last_summary
        self._last_summary = key
        if previous is not None and previous[0] == key[0] and previous != key:
            text = "\n\n" + text
        return [self._stamp.chunk(reasoning=text)]

    def _flush_refusal(self, whole: str | None) -> list[Output]:
        text = whole if whole else "".join(self._refusal)
        self._refusal.clear()
        return [StreamFault("refusal", text)] if text else []

    def _on_completed(self, response: dict[str, Any]) -> list[Output]:
        self._stamp_from(response)
        self._finished = True
        out = self._flush_refusal(None)
        finish = "tool_calls" if self._calls else "stop"
        chunk = self._stamp.chunk(finish_reason=finish, usage=_usage(response))
        return [*out, chunk]

    def _on_incomplete(self, response: dict[str, Any]) -> list[Output]:
        self._stamp_from(response)
        self._finished = True
        details = opt_obj(response, "incomplete_details", "Responses response")
        reason = opt_str(details, "reason", "Responses incomplete_details") or "unknown"
        finish = _INCOMPLETE_FINISH.get(reason, reason)
        chunk = self._stamp.chunk(finish_reason=finish, usage=_usage(response))
        fault = StreamFault("incomplete", f"the response is incomplete: {reason}", reason)
        return [*self._flush_refusal(None), chunk, fault]

    def _on_failed(self, response: dict[str, Any]) -> list[Output]:
        self._stamp_from(response)
        error = response.get("error")
        return self.fail(error_fault(error if error is not None else "the response failed"))


def _usage(response: dict[str, Any]) -> Usage | None:
    where = "Responses usage"
    raw = opt_obj(response, "usage", "Responses response")
    return usage(
        opt_int(raw, "input_tokens", where),
        opt_int(raw, "output_tokens", where),
        opt_int(raw, "total_tokens", where),
    )


def response_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream events equivalent to a whole (non-streamed) ``response`` object."""
    where = "Responses response"
    events: list[dict[str, Any]] = [{"type": "response.created", "response": response}]
    for index, raw in enumerate(opt_list(response, "output", where)):
        item = as_object(raw, f"{where} output item")
        kind = item.get("type")
        if kind == "message":
            for raw_part in opt_list(item, "content", f"{where} message"):
                part = as_object(raw_part, f"{where} content part")
                if part.get("type") == "output_text":
                    text = req_str(part, "text", f"{where} output_text")
                    events.append({"type": "response.output_text.delta", "delta": text})
                elif part.get("type") == "refusal":
                    refusal = req_str(part, "refusal", f"{where} refusal")
                    events.append({"type": "response.refusal.done", "refusal": refusal})
        elif kind == "reasoning":
            for summary_index, raw_part in enumerate(opt_list(item, "summary", f"{where} item")):
                part = as_object(raw_part, f"{where} summary part")
                events.append(
                    {
                        "type": "response.reasoning_summary_text.delta",
                        "output_index": index,
                        "summary_index": summary_index,
                        "delta": req_str(part, "text", f"{where} summary part"),
                    }
                )
            for raw_part in opt_list(item, "content", f"{where} item"):
                part = as_object(raw_part, f"{where} reasoning part")
                if part.get("type") == "reasoning_text":
                    text = req_str(part, "text", f"{where} reasoning_text")
                    events.append({"type": "response.reasoning_text.delta", "delta": text})
        elif kind == "function_call":
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": item}
            )
            events.append(
                {"type": "response.output_item.done", "output_index": index, "item": item}
            )
    final = {"failed": "response.failed", "incomplete": "response.incomplete"}
    status = response.get("status")
    kind = final.get(status, "response.completed") if isinstance(status, str) else None
    events.append({"type": kind or "response.completed", "response": response})
    return events
