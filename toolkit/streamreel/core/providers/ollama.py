"""Ollama's native API: ``/api/chat`` and ``/api/generate``, streamed as NDJSON.

Theory of operation
-------------------

Each line is one object with the ``model``, a piece of output and ``done``. The last line has
``done: true``, the ``done_reason`` and the token counts; it is the terminator.

* ``/api/chat``: ``message.content`` becomes ``content``, ``message.thinking``
  ``reasoning_content``. ``message.tool_calls`` arrive whole, with ``arguments`` as an object;
  each becomes one fragment with the next index, ``arguments = json.dumps(arguments)`` and the
  call's ``id`` when the server sent one, else an id made from the call's ordinal (Ollama
  before 0.12 sends none; a fixed rule keeps replays and snapshots stable).
* ``/api/generate``: ``response`` becomes ``content``, ``thinking`` ``reasoning_content``.
* ``done_reason`` becomes ``finish_reason`` (``stop`` turns into ``tool_calls`` when the reply
  called a tool, as the other adapters report it); ``prompt_eval_count`` and ``eval_count``
  become the usage.
* A line ``{"error": "..."}`` becomes ``StreamFault("error")`` and ends the stream.

A non-streamed reply is the same object as the last line, so it goes through the same handler.
"""

from __future__ import annotations

import json
from typing import Any

from streamreel.core.chunks import ToolCallFragment
from streamreel.core.providers._adapter import (
    AdapterBase,
    Output,
    Stamp,
    as_object,
    error_fault,
    opt_bool,
    opt_int,
    opt_list,
    opt_obj,
    opt_str,
    req_str,
    tool_call,
    usage,
)

__all__ = ["OllamaAdapter"]


class OllamaAdapter(AdapterBase):
    """Ollama NDJSON objects in, chunks and faults out; ``generate`` picks the endpoint."""

    TERMINATOR = 'a line with "done": true'

    def __init__(self, *, generate: bool = False) -> None:
        super().__init__()
        self._generate = generate
        self._stamp = Stamp()
        self._started = False
        self._calls = 0

    def event(self, name: str, payload: Any) -> list[Output]:
        where = "Ollama reply"
        data = as_object(payload, where)
        if "error" in data:
            return self.fail(error_fault(data["error"]))
        self._stamp.model = opt_str(data, "model", where) or self._stamp.model
        if self._generate:
            content = opt_str(data, "response", where)
            reasoning = opt_str(data, "thinking", where)
            calls: list[ToolCallFragment] = []
        else:
            message = opt_obj(data, "message", where)
            content = opt_str(message, "content", f"{where} message")
            reasoning = opt_str(message, "thinking", f"{where} message")
            calls = [self._call(raw) for raw in opt_list(message, "tool_calls", where)]
        out: list[Output] = []
        role = None if self._started else "assistant"
        self._started = True
        if content or reasoning or calls or role:
            out.append(
                self._stamp.chunk(
                    role=role,
                    content=content or None,
                    reasoning=reasoning or None,
                    tool_calls=calls or None,
                )
            )
        if opt_bool(data, "done", where):
            out.append(self._on_done(data, where))
        return out

    def _call(self, raw: Any) -> ToolCallFragment:
        where = "Ollama tool call"
        call = as_object(raw, where)
        function = opt_obj(call, "function", where)
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments if arguments is not None else {})
        index = self._calls
        self._calls += 1
        return tool_call(
            index,
            id=opt_str(call, "id", where) or f"call_{index}",
            name=req_str(function, "name", f"{where} function"),
            arguments=arguments,
        )

    def _on_done(self, data: dict[str, Any], where: str) -> Output:
        self._finished = True
        reason = opt_str(data, "done_reason", where) or "stop"
        if reason == "stop" and self._calls:
            reason = "tool_calls"
        reported = usage(
            opt_int(data, "prompt_eval_count", where), opt_int(data, "eval_count", where)
        )
        return self._stamp.chunk(finish_reason=reason, usage=reported)
