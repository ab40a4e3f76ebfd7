"""The native payloads of non-Anthropic models inside Bedrock ``InvokeModelWithResponseStream``.

Theory of operation
-------------------

Each ``chunk`` event of an InvokeModelWithResponseStream reply holds one JSON object in the
model family's own schema. :class:`~streamreel.core.providers.bedrock.InvokeStreamAdapter`
decodes it and hands the families that are not Anthropic's (nor Amazon Nova's, which are
ConverseStream events) to :class:`NativeModelAdapter`, which reads each by the keys it carries:

* Meta Llama: ``{"generation", "prompt_token_count", "generation_token_count", "stop_reason"}``;
* Mistral's completion models: ``{"outputs": [{"text", "stop_reason"}]}``; its chat models
  (Mistral Large): ``{"choices": [{"message": {"content", "tool_calls"}, "stop_reason"}]}``;
* Amazon Titan: ``{"outputText", "completionReason", "inputTextTokenCount",
  "totalOutputTextTokenCount"}``;
* Cohere Command: ``{"generations": [{"text", "finish_reason"}]}``; Command R:
  ``{"event_type": "text-generation", "text"}`` ... ``{"event_type": "stream-end",
  "finish_reason"}``, and ``tool-calls-generation`` with whole calls.

A stop reason is the terminator. Bedrock adds ``amazon-bedrock-invocationMetrics`` (token
counts) to the last chunk of every family; it becomes a usage chunk. The chunks carry the model
id from the request URL, since these payloads name none.
"""

from __future__ import annotations

import json
from typing import Any

from streamreel.core.providers._adapter import (
    AdapterBase,
    Output,
    Stamp,
    as_object,
    opt_int,
    opt_list,
    opt_obj,
    opt_str,
    tool_call,
    usage,
)

__all__ = ["NativeModelAdapter", "native_shape"]

_FINISH = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "finish": "stop",
    "complete": "stop",
    "stop_criteria_met": "stop",
    "length": "length",
    "max_tokens": "length",
    "content_filtered": "content_filter",
    "error_toxic": "content_filter",
    "tool_calls": "tool_calls",
    "tool_call": "tool_calls",
}

_METRICS = "amazon-bedrock-invocationMetrics"


def native_shape(event: dict[str, Any]) -> str | None:
    """Which family's payload ``event`` is, by the keys it carries; None for none known."""
    if "generation" in event:
        return "meta"
    if "outputText" in event:
        return "amazon-titan"
    if "outputs" in event or "choices" in event:
        return "mistral"
    if "generations" in event or "event_type" in event or "is_finished" in event:
        return "cohere"
    return None


class NativeModelAdapter(AdapterBase):
    """Decoded native payloads of Meta, Mistral, Titan and Cohere models in, chunks out."""

    TERMINATOR = "a chunk with a stop reason"

    def __init__(self, *, model: str | None = None) -> None:
        super().__init__()
        self._stamp = Stamp()
        self._stamp.model = model
        self._started = False
        self._calls = 0

    def payload(self, shape: str, event: dict[str, Any]) -> list[Output]:
        """One decoded chunk payload of the family ``shape`` (from :func:`native_shape`)."""
        where = f"Bedrock {shape} chunk"
        out: list[Output] = []
        text: str | None = None
        reason: str | None = None
        calls: list[Any] = []
        match shape:
            case "meta":
                text = opt_str(event, "generation", where)
                reason = opt_str(event, "stop_reason", where)
            case "amazon-titan":
                text = opt_str(event, "outputText", where)
                reason = opt_str(event, "completionReason", where)
            case "mistral":
                text, reason, calls = self._mistral(event, where)
            case "cohere":
                text, reason, calls = self._cohere(event, where)
        role = None if self._started else "assistant"
        self._started = True
        fragments = [self._call(raw, where) for raw in calls]
        if text or role or fragments:
            out.append(
                self._stamp.chunk(role=role, content=text or None, tool_calls=fragments or None)
            )
        if reason is not None:
            self._finished = True
            finish = (
                "tool_calls" if self._calls and reason.lower() in ("stop", "complete") else None
            )
            out.append(
                self._stamp.chunk(finish_reason=finish or _FINISH.get(reason.lower(), reason))
            )
        return out + self.metrics(event, where)

    def metrics(self, event: dict[str, Any], where: str) -> list[Output]:
        """The usage chunk for Bedrock's invocation metrics on ``event``, if it has them."""
        metrics = opt_obj(event, _METRICS, where)
        reported = usage(
            opt_int(metrics, "inputTokenCount", f"{where} {_METRICS}"),
            opt_int(metrics, "outputTokenCount", f"{where} {_METRICS}"),
        )
        return [self._stamp.usage_chunk(reported)] if reported is not None else []

    def _mistral(
        self, event: dict[str, Any], where: str
    ) -> tuple[str | None, str | None, list[Any]]:
        if "outputs" in event:
            first = _first(event, "outputs", where)
            return opt_str(first, "text", where), opt_str(first, "stop_reason", where), []
        choice = _first(event, "choices", where)
        message = opt_obj(choice, "message", where) or opt_obj(choice, "delta", where)
        reason = opt_str(choice, "stop_reason", where) or opt_str(choice, "finish_reason", where)
        calls = opt_list(message, "tool_calls", f"{where} message")
        return opt_str(message, "content", f"{where} message"), reason, calls

    def _cohere(
        self, event: dict[str, Any], where: str
    ) -> tuple[str | None, str | None, list[Any]]:
        if "generations" in event:
            first = _first(event, "generations", where)
            reason = opt_str(first, "finish_reason", where) or opt_str(
                event, "finish_reason", where
            )
            return opt_str(first, "text", where), reason, []
        kind = opt_str(event, "event_type", where)
        if kind == "text-generation":
            return opt_str(event, "text", where), None, []
        if kind == "tool-calls-generation":
            return None, None, opt_list(event, "tool_calls", where)
        if kind == "stream-end" or event.get("is_finished") is True:
            return None, opt_str(event, "finish_reason", where) or "COMPLETE", []
        return None, None, []

    def _call(self, raw: Any, where: str) -> Any:
        call = as_object(raw, f"{where} tool call")
        function = opt_obj(call, "function", f"{where} tool call")
        name = opt_str(function, "name", where) or opt_str(call, "name", where)
        given = function.get("arguments", call.get("parameters"))
        arguments = given if isinstance(given, str) else json.dumps(given or {})
        index = self._calls
        self._calls += 1
        identity = opt_str(call, "id", where) or f"call_{index}"
        return tool_call(index, id=identity, name=name or "", arguments=arguments)


def _first(event: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """The first object of the list ``event[key]`` (these payloads hold one); empty if none."""
    items = opt_list(event, key, where)
    return as_object(items[0], f"{where} {key}[0]") if items else {}
