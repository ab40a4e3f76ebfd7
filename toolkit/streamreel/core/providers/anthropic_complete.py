"""Anthropic's legacy text completions (``POST /v1/complete`` with ``stream: true``).

Theory of operation
-------------------

Before the Messages API, Claude streamed ``event: completion`` events (CRLF-framed, with
trailing blanks inside the JSON), each a whole ``completion`` object whose ``completion`` field
is the next piece of text. The last one has a ``stop_reason`` (``stop_sequence`` -> ``stop``,
``max_tokens`` -> ``length``) and is the terminator. ``ping`` carries nothing; an ``error``
event (``overloaded_error``) becomes ``StreamFault("error")`` and ends the stream. The ``model``
and ``id`` of the first event stamp every chunk.
"""

from __future__ import annotations

from typing import Any, Literal, assert_never, cast, get_args

from streamreel.core.providers._adapter import (
    AdapterBase,
    Output,
    Stamp,
    as_object,
    error_fault,
    opt_str,
    req_str,
)

__all__ = ["CompleteAdapter"]

_EventType = Literal["completion", "ping", "error"]
_EVENT_TYPES: frozenset[str] = frozenset(get_args(_EventType))
_FINISH = {"stop_sequence": "stop", "max_tokens": "length"}


class CompleteAdapter(AdapterBase):
    """Legacy ``completion`` events in, chunks whose ``content`` is the text out."""

    TERMINATOR = "a completion with a stop_reason"

    def __init__(self) -> None:
        super().__init__()
        self._stamp = Stamp()
        self._started = False

    def event(self, name: str, payload: Any) -> list[Output]:
        data = as_object(payload, f"Anthropic {name or 'completion'}")
        kind = data.get("type", name)
        if not isinstance(kind, str) or kind not in _EVENT_TYPES:
            return []
        return self._dispatch(cast(_EventType, kind), data)

    def _dispatch(self, kind: _EventType, data: dict[str, Any]) -> list[Output]:
        match kind:
            case "completion":
                return self._on_completion(data)
            case "ping":
                return []
            case "error":
                return self.fail(error_fault(data.get("error", data)))
            case _:
                assert_never(kind)

    def _on_completion(self, data: dict[str, Any]) -> list[Output]:
        where = "Anthropic completion"
        self._stamp.id = opt_str(data, "id", where) or self._stamp.id
        self._stamp.model = opt_str(data, "model", where) or self._stamp.model
        text = req_str(data, "completion", where)
        reason = opt_str(data, "stop_reason", where)
        role = None if self._started else "assistant"
        self._started = True
        out: list[Output] = []
        if text or role:
            out.append(self._stamp.chunk(role=role, content=text or None))
        if reason is not None:
            self._finished = True
            out.append(self._stamp.chunk(finish_reason=_FINISH.get(reason, reason)))
        return out
