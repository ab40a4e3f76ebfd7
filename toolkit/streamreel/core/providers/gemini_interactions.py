"""The Gemini Interactions API (``POST /v1beta/interactions`` with ``stream: true``).

Theory of operation
-------------------

Named SSE events whose payload repeats the name in ``event_type``. An interaction is made of
*steps*, each opened by ``step.start`` (``step.type``: ``thought``, ``model_output``,
``function_call``...), filled by ``step.delta`` and closed by ``step.stop``; every delta names
its step's ``index``. The older content-based events (``content.start``/``content.delta``/
``content.stop``, ``interaction.start``/``interaction.complete``) have the same payloads and
go through the same handlers.

A delta's ``type`` says what it carries:

* ``text``: ``delta.text`` becomes ``content``;
* ``thought_summary``: ``delta.content.text`` becomes ``reasoning_content``;
* ``thought_signature``: a non-empty ``delta.signature`` becomes
  ``reasoning_content_signature`` (with an empty ``reasoning_content``); empty ones, which the
  server sends between summaries, carry nothing;
* ``function_call``: a whole call (``id``, ``name``, ``arguments`` as an object), one fragment;
  ``arguments_delta`` adds a piece of a call's arguments when they stream as text;
* anything else (images, server-side tool calls and their results) is not assistant text or a
  client call, and is left out.

A ``function_call`` step opens a call (its ``id`` and ``name``); calls are numbered in the order
they open, so parallel calls stay apart. ``interaction.completed`` ends the stream: status
``completed`` (``requires_action`` when a function was called) gives the ``finish_reason``
(``stop`` or ``tool_calls``), ``incomplete`` gives ``length``, ``failed`` and ``cancelled`` a
fault; ``metadata.usage`` and the interaction's ``usage`` give the usage (thought tokens count
as completion tokens). An ``error`` event ends the stream with ``StreamFault("error")``. A
trailing ``data: [DONE]`` is accepted.
"""

from __future__ import annotations

import json
from typing import Any, Literal, assert_never, cast, get_args

from streamreel.core.chunks import StreamFault, Usage
from streamreel.core.providers._adapter import (
    AdapterBase,
    Output,
    Stamp,
    as_object,
    error_fault,
    opt_int,
    opt_obj,
    opt_str,
    req_int,
    tool_call,
    usage,
)

__all__ = ["InteractionsAdapter"]

_EventType = Literal[
    "interaction.created",
    "interaction.start",
    "interaction.status_update",
    "step.start",
    "step.delta",
    "step.stop",
    "content.start",
    "content.delta",
    "content.stop",
    "interaction.completed",
    "interaction.complete",
    "error",
]
_EVENT_TYPES: frozenset[str] = frozenset(get_args(_EventType))

_DeltaType = Literal[
    "text", "thought_summary", "thought_signature", "function_call", "arguments_delta"
]
_DELTA_TYPES: frozenset[str] = frozenset(get_args(_DeltaType))


class InteractionsAdapter(AdapterBase):
    """Gemini Interactions events in, chunks and faults out."""

    TERMINATOR = "event: interaction.completed"

    def __init__(self) -> None:
        super().__init__()
        self._stamp = Stamp()
        self._calls: dict[int, int] = {}  # step index -> tool-call index
        self._argued: set[int] = set()
        self._usage: Usage | None = None
        self._started = False

    def event(self, name: str, payload: Any) -> list[Output]:
        data = as_object(payload, f"Gemini Interactions {name or 'event'}")
        kind = data.get("event_type", name)
        if not isinstance(kind, str) or kind not in _EVENT_TYPES:
            return []
        self._take_usage(opt_obj(opt_obj(data, "metadata", kind), "usage", f"{kind} metadata"))
        return self._dispatch(cast(_EventType, kind), data)

    def _dispatch(self, kind: _EventType, data: dict[str, Any]) -> list[Output]:
        where = f"Gemini Interactions {kind}"
        match kind:
            case "interaction.created" | "interaction.start":
                return self._on_created(opt_obj(data, "interaction", where))
            case "interaction.status_update" | "step.stop" | "content.stop":
                return []
            case "step.start" | "content.start":
                index = req_int(data, "index", where)
                step = opt_obj(data, "step", where) or opt_obj(data, "content", where)
                if step.get("type") != "function_call":
                    return []
                return self._on_call(index, step)
            case "step.delta" | "content.delta":
                index = req_int(data, "index", where)
                delta = opt_obj(data, "delta", where)
                delta_type = delta.get("type")
                if not isinstance(delta_type, str) or delta_type not in _DELTA_TYPES:
                    return []
                return self._on_delta(index, cast(_DeltaType, delta_type), delta)
            case "interaction.completed" | "interaction.complete":
                return self._on_completed(opt_obj(data, "interaction", where))
            case "error":
                return self.fail(error_fault(data.get("error", data)))
            case _:
                assert_never(kind)

    def _on_created(self, interaction: dict[str, Any]) -> list[Output]:
        where = "Gemini interaction"
        self._stamp.id = opt_str(interaction, "id", where) or self._stamp.id
        self._stamp.model = opt_str(interaction, "model", where) or self._stamp.model
        if self._started:
            return []
        self._started = True
        return [self._stamp.chunk(role="assistant")]

    def _on_delta(self, index: int, kind: _DeltaType, delta: dict[str, Any]) -> list[Output]:
        where = f"Gemini Interactions {kind} delta"
        chunk = self._stamp.chunk
        match kind:
            case "text":
                text = opt_str(delta, "text", where)
                return [chunk(content=text)] if text else []
            case "thought_summary":
                text = opt_str(opt_obj(delta, "content", where), "text", where)
                return [chunk(reasoning=text)] if text else []
            case "thought_signature":
                signature = opt_str(delta, "signature", where)
                return [chunk(reasoning="", signature=signature)] if signature else []
            case "function_call":
                return self._on_call(index, delta)
            case "arguments_delta":
                piece = opt_str(delta, "arguments", where) or opt_str(
                    delta, "partial_arguments", where
                )
                if not piece or index not in self._calls:
                    return []
                self._argued.add(index)
                return [chunk(tool_calls=[tool_call(self._calls[index], arguments=piece)])]
            case _:
                assert_never(kind)

    def _on_call(self, index: int, call: dict[str, Any]) -> list[Output]:
        where = "Gemini Interactions function_call"
        given = call.get("arguments")
        arguments = given if isinstance(given, str) else json.dumps(given) if given else ""
        name = opt_str(call, "name", where)
        if index in self._calls:
            if not arguments or index in self._argued:
                return []
            self._argued.add(index)
            fragment = tool_call(self._calls[index], arguments=arguments)
            return [self._stamp.chunk(tool_calls=[fragment])]
        position = len(self._calls)
        self._calls[index] = position
        if arguments:
            self._argued.add(index)
        fragment = tool_call(
            position,
            id=opt_str(call, "id", where) or f"call_{self._stamp.id or 'interaction'}_{position}",
            name=name or "",
            arguments=arguments,
        )
        return [self._stamp.chunk(tool_calls=[fragment])]

    def _on_completed(self, interaction: dict[str, Any]) -> list[Output]:
        where = "Gemini interaction"
        self._stamp.id = opt_str(interaction, "id", where) or self._stamp.id
        self._stamp.model = opt_str(interaction, "model", where) or self._stamp.model
        self._take_usage(opt_obj(interaction, "usage", where))
        status = opt_str(interaction, "status", where) or "completed"
        if status in ("failed", "cancelled"):
            error = interaction.get("error")
            if error is not None:
                return self.fail(error_fault(error))
            return self.fail(StreamFault("error", f"the interaction {status}", error_type=status))
        self._finished = True
        out: list[Output] = []
        for index in sorted(self._calls):
            if index not in self._argued:
                # A call without parameters streams none; "{}" keeps its arguments JSON.
                empty = tool_call(self._calls[index], arguments="{}")
                out.append(self._stamp.chunk(tool_calls=[empty]))
        finish = "tool_calls" if self._calls else "stop"
        if status == "incomplete":
            finish = "length"
        out.append(self._stamp.chunk(finish_reason=finish, usage=self._usage))
        return out

    def _take_usage(self, raw: dict[str, Any]) -> None:
        if not raw:
            return
        where = "Gemini Interactions usage"
        output = opt_int(raw, "total_output_tokens", where)
        thought = opt_int(raw, "total_thought_tokens", where)
        completion = None
        if output is not None or thought is not None:
            completion = (output or 0) + (thought or 0)
        self._usage = usage(
            opt_int(raw, "total_input_tokens", where),
            completion,
            opt_int(raw, "total_tokens", where),
        )
