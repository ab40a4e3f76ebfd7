"""OpenAI Assistants runs (``POST /v1/threads/{id}/runs`` and ``/threads/runs`` streamed).

Theory of operation
-------------------

Named SSE events ``thread.*``, each payload a whole object or a delta of one; the SSE event
name is what the adapter dispatches on (payloads say only ``object``). A run goes through
status events (``thread.run.created``, ``queued``, ``in_progress``...), *steps* and *messages*:

* ``thread.run.*`` status events stamp the chunks with the run's ``id`` and ``model``; the
  first one gives the chunk with the role;
* ``thread.message.delta`` carries ``delta.content``, a list of parts; ``text`` parts'
  ``text.value`` becomes ``content`` (annotations and image parts are not text);
* ``thread.run.step.delta`` with ``step_details.tool_calls``: a ``function`` call becomes a
  tool-call fragment (the first with its ``id`` and ``function.name``, later ones argument
  pieces). The index is given per step, so each (step, index) pair gets the next index of the
  run, and parallel calls stay apart. ``code_interpreter``, ``file_search`` and other tools run
  at the provider; they are not calls the client must make and are left out;
* ``thread.run.requires_action`` (the run waits for the client's tool outputs) ends the stream
  with ``finish_reason`` ``tool_calls``; ``thread.run.completed`` with ``stop`` and the run's
  usage; ``thread.run.incomplete`` with ``length``. ``thread.run.failed``, ``cancelled`` and
  ``expired`` end it with ``StreamFault("error")`` carrying the run's ``last_error``, as does
  an ``error`` event;
* ``data: [DONE]`` (``event: done``) follows and is accepted.
"""

from __future__ import annotations

from typing import Any, Literal, assert_never, cast, get_args

from streamreel.core.chunks import StreamFault
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
    tool_call,
    usage,
)

__all__ = ["AssistantsAdapter"]

_EventType = Literal[
    "thread.created",
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.cancelling",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.run.step.delta",
    "thread.run.step.completed",
    "thread.run.step.failed",
    "thread.run.step.cancelled",
    "thread.run.step.expired",
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta",
    "thread.message.completed",
    "thread.message.incomplete",
    "thread.run.requires_action",
    "thread.run.completed",
    "thread.run.incomplete",
    "thread.run.failed",
    "thread.run.cancelled",
    "thread.run.expired",
    "error",
]
_EVENT_TYPES: frozenset[str] = frozenset(get_args(_EventType))


class AssistantsAdapter(AdapterBase):
    """Assistants run events in, chunks and faults out."""

    TERMINATOR = "thread.run.completed or thread.run.requires_action"

    def __init__(self) -> None:
        super().__init__()
        self._stamp = Stamp()
        self._started = False
        self._calls: dict[tuple[str, int], int] = {}

    def event(self, name: str, payload: Any) -> list[Output]:
        data = as_object(payload, f"Assistants {name or 'event'}")
        if name not in _EVENT_TYPES:
            return []
        return self._dispatch(cast(_EventType, name), data)

    def _dispatch(self, kind: _EventType, data: dict[str, Any]) -> list[Output]:
        where = f"Assistants {kind}"
        match kind:
            case (
                "thread.run.created"
                | "thread.run.queued"
                | "thread.run.in_progress"
                | "thread.run.cancelling"
            ):
                return self._on_run(data)
            case "thread.message.delta":
                return self._on_message_delta(opt_obj(data, "delta", where))
            case "thread.run.step.delta":
                step = opt_str(data, "id", where) or ""
                return self._on_step_delta(step, opt_obj(data, "delta", where))
            case "thread.run.requires_action":
                self._on_run(data)
                self._finished = True
                return [self._stamp.chunk(finish_reason="tool_calls")]
            case "thread.run.completed" | "thread.run.incomplete":
                self._on_run(data)
                self._finished = True
                finish = "stop" if kind == "thread.run.completed" else "length"
                if finish == "stop" and self._calls:
                    finish = "tool_calls"
                return [self._stamp.chunk(finish_reason=finish, usage=_usage(data))]
            case "thread.run.failed" | "thread.run.cancelled" | "thread.run.expired":
                self._on_run(data)
                error = data.get("last_error")
                if error is not None:
                    return self.fail(error_fault(error))
                status = kind.rsplit(".", 1)[-1]
                return self.fail(StreamFault("error", f"the run {status}", error_type=status))
            case "error":
                return self.fail(error_fault(data.get("error", data)))
            case (
                "thread.created"
                | "thread.run.step.created"
                | "thread.run.step.in_progress"
                | "thread.run.step.completed"
                | "thread.run.step.failed"
                | "thread.run.step.cancelled"
                | "thread.run.step.expired"
                | "thread.message.created"
                | "thread.message.in_progress"
                | "thread.message.completed"
                | "thread.message.incomplete"
            ):
                return []
            case _:
                assert_never(kind)

    def _on_run(self, run: dict[str, Any]) -> list[Output]:
        where = "Assistants run"
        self._stamp.id = opt_str(run, "id", where) or self._stamp.id
        self._stamp.model = opt_str(run, "model", where) or self._stamp.model
        self._stamp.created = opt_int(run, "created_at", where) or self._stamp.created
        if self._started:
            return []
        self._started = True
        return [self._stamp.chunk(role="assistant")]

    def _on_message_delta(self, delta: dict[str, Any]) -> list[Output]:
        out: list[Output] = []
        for raw in opt_list(delta, "content", "Assistants message delta"):
            part = as_object(raw, "Assistants message content part")
            if part.get("type") != "text":
                continue
            text = opt_str(opt_obj(part, "text", "Assistants text part"), "value", "text")
            if text:
                out.append(self._stamp.chunk(content=text))
        return out

    def _on_step_delta(self, step: str, delta: dict[str, Any]) -> list[Output]:
        where = "Assistants step delta"
        details = opt_obj(delta, "step_details", where)
        out: list[Output] = []
        for raw in opt_list(details, "tool_calls", f"{where} step_details"):
            call = as_object(raw, f"{where} tool call")
            if call.get("type", "function") != "function" or "function" not in call:
                continue
            key = (step, req_int(call, "index", f"{where} tool call"))
            function = opt_obj(call, "function", f"{where} tool call")
            arguments = opt_str(function, "arguments", f"{where} function") or ""
            if key in self._calls:
                if arguments:
                    fragment = tool_call(self._calls[key], arguments=arguments)
                    out.append(self._stamp.chunk(tool_calls=[fragment]))
                continue
            position = self._calls[key] = len(self._calls)
            fragment = tool_call(
                position,
                id=opt_str(call, "id", f"{where} tool call") or f"call_{position}",
                name=opt_str(function, "name", f"{where} function") or "",
                arguments=arguments,
            )
            out.append(self._stamp.chunk(tool_calls=[fragment]))
        return out


def _usage(run: dict[str, Any]) -> Any:
    raw = opt_obj(run, "usage", "Assistants run")
    return usage(
        opt_int(raw, "prompt_tokens", "Assistants usage"),
        opt_int(raw, "completion_tokens", "Assistants usage"),
        opt_int(raw, "total_tokens", "Assistants usage"),
    )
