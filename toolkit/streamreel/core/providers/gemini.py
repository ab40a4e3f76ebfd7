"""Gemini ``generateContent`` / ``streamGenerateContent`` (Google AI and Vertex AI).

Theory of operation
-------------------

Each event, whether an ``alt=sse`` data line or an element of the JSON array sent without
``alt=sse``, is a whole ``GenerateContentResponse``: candidates, each with content parts and,
on its last response, a ``finishReason``. Parts are never split across responses, so the
adapter is stateless apart from tool-call numbering and completion:

* a ``text`` part becomes ``content``; with ``thought: true`` it becomes ``reasoning_content``;
* a ``thoughtSignature`` becomes ``reasoning_content_signature``: on a thought part, in the same
  chunk; on any other part (text or function call, which is where Gemini 3 puts it), as a chunk
  with an empty ``reasoning_content`` emitted just before the part, since it seals the thinking
  that led to that part;
* a ``functionCall`` part arrives whole and becomes one tool-call fragment with the id, the
  name and ``arguments = json.dumps(args)``. Each call in a candidate gets the next index.
  Gemini 2 sends no id, so one is made from the response id and the call's ordinal in the
  stream: deterministic, so replays and snapshots are stable, and distinct within a response;
* other parts (function responses, inline data, code the provider executed) are not assistant
  text or client calls and are left out.

``finishReason`` (an upper-case string, or an integer where Vertex was asked for
``enum-encoding=int``) becomes ``finish_reason``: ``STOP`` -> ``stop`` (``tool_calls`` when the
candidate called a function, matching what the other adapters report), ``MAX_TOKENS`` ->
``length``, the safety-style reasons -> ``content_filter``, anything else lower-cased. There is
no terminator: the stream is complete once every candidate seen has a finish reason. The
usage (``usageMetadata`` is cumulative; thought tokens count as completion tokens, as OpenAI
counts reasoning tokens) rides on the chunk that completes the stream.

An ``error`` object in the stream, or a prompt blocked before any candidate
(``promptFeedback.blockReason``), becomes ``StreamFault("error")`` and ends the stream.
"""

from __future__ import annotations

import json
from typing import Any, Literal, assert_never

from streamreel.core.chunks import StreamFault, ToolCallFragment
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

__all__ = ["GenerateContentAdapter"]

_WHERE = "Gemini response"

_PartKind = Literal["text", "thought", "call", "other"]

# Vertex's FinishReason enum, the only one sent as integers.
_REASON_NAMES = {
    0: "FINISH_REASON_UNSPECIFIED",
    1: "STOP",
    2: "MAX_TOKENS",
    3: "SAFETY",
    4: "RECITATION",
    5: "OTHER",
    6: "BLOCKLIST",
    7: "PROHIBITED_CONTENT",
    8: "SPII",
    9: "MALFORMED_FUNCTION_CALL",
}
_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)


def _part_kind(part: dict[str, Any]) -> _PartKind:
    if "functionCall" in part:
        return "call"
    if "text" in part:
        return "thought" if opt_bool(part, "thought", "Gemini part") else "text"
    return "other"


def finish_reason(raw: Any, *, called: bool) -> str:
    """The OpenAI ``finish_reason`` for a Gemini ``finishReason``."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        name = _REASON_NAMES.get(raw, f"finish_reason_{raw}")
    elif isinstance(raw, str):
        name = raw
    else:
        name = str(raw)
    if name == "STOP":
        return "tool_calls" if called else "stop"
    if name == "MAX_TOKENS":
        return "length"
    if name in _FILTERED:
        return "content_filter"
    return name.lower()


class GenerateContentAdapter(AdapterBase):
    """``GenerateContentResponse`` objects in, chunks and faults out."""

    TERMINATOR = "a finishReason on every candidate"

    def __init__(self) -> None:
        super().__init__()
        self._stamp = Stamp()
        self._calls = 0  # calls so far in the stream, for generated ids
        self._next_index: dict[int, int] = {}  # per candidate: the next tool-call index
        self._open: set[int] = set()  # candidates seen without a finish reason yet
        self._closed: set[int] = set()
        # The latest usageMetadata's counts (prompt, completion, total): Gemini repeats it in
        # every chunk, and only a finishing chunk reports it, so it is made into a Usage there.
        self._counts: tuple[int | None, int | None, int | None] | None = None

    @property
    def finished(self) -> bool:
        return self._finished or (bool(self._closed) and not self._open)

    def event(self, name: str, payload: Any) -> list[Output]:
        data = as_object(payload, _WHERE)
        if "error" in data:
            return self.fail(error_fault(data["error"]))
        self._stamp.id = opt_str(data, "responseId", _WHERE) or self._stamp.id
        self._stamp.model = opt_str(data, "modelVersion", _WHERE) or self._stamp.model
        self._take_usage(opt_obj(data, "usageMetadata", _WHERE))
        candidates = opt_list(data, "candidates", _WHERE)
        if not candidates:
            return self._on_no_candidates(opt_obj(data, "promptFeedback", _WHERE))
        out: list[Output] = []
        for position, raw in enumerate(candidates):
            candidate = as_object(raw, f"{_WHERE} candidate")
            index = opt_int(candidate, "index", f"{_WHERE} candidate")
            out.extend(self._on_candidate(position if index is None else index, candidate))
        return out

    def _on_no_candidates(self, feedback: dict[str, Any]) -> list[Output]:
        reason = feedback.get("blockReason")
        if reason is None:
            return []
        label = reason if isinstance(reason, str) else str(reason)
        return self.fail(StreamFault("error", f"the prompt was blocked: {label}", error_type=label))

    def _on_candidate(self, index: int, candidate: dict[str, Any]) -> list[Output]:
        where = f"{_WHERE} candidate"
        if index not in self._closed:
            self._open.add(index)
        out: list[Output] = []
        content = opt_obj(candidate, "content", where)
        for raw in opt_list(content, "parts", f"{where} content"):
            out.extend(self._on_part(index, as_object(raw, f"{where} part")))
        raw_reason = candidate.get("finishReason")
        if raw_reason is not None:
            called = self._next_index.get(index, 0) > 0
            self._open.discard(index)
            self._closed.add(index)
            reported = usage(*self._counts) if self.finished and self._counts else None
            finish = finish_reason(raw_reason, called=called)
            out.append(self._stamp.chunk(index=index, finish_reason=finish, usage=reported))
        return out

    def _on_part(self, index: int, part: dict[str, Any]) -> list[Output]:
        where = "Gemini part"
        chunk = self._stamp.chunk
        signature = opt_str(part, "thoughtSignature", where)
        kind = _part_kind(part)
        match kind:
            case "thought":
                text = req_str(part, "text", where)
                if not text and not signature:
                    return []
                return [chunk(index=index, reasoning=text, signature=signature)]
            case "text":
                text = req_str(part, "text", where)
                out = self._signature(index, signature)
                if text:
                    out.append(chunk(index=index, content=text))
                return out
            case "call":
                out = self._signature(index, signature)
                out.append(chunk(index=index, tool_calls=[self._call(index, part)]))
                return out
            case "other":
                return self._signature(index, signature)
            case _:
                assert_never(kind)

    def _signature(self, index: int, signature: str | None) -> list[Output]:
        if not signature:
            return []
        return [self._stamp.chunk(index=index, reasoning="", signature=signature)]

    def _call(self, candidate: int, part: dict[str, Any]) -> ToolCallFragment:
        where = "Gemini functionCall"
        call = opt_obj(part, "functionCall", "Gemini part")
        position = self._next_index.get(candidate, 0)
        self._next_index[candidate] = position + 1
        ordinal = self._calls
        self._calls += 1
        given = opt_str(call, "id", where)
        stem = f"call_{self._stamp.id}" if self._stamp.id else "call"
        return tool_call(
            position,
            id=given or f"{stem}_{ordinal}",
            name=req_str(call, "name", where),
            arguments=json.dumps(opt_obj(call, "args", where)),
        )

    def _take_usage(self, raw: dict[str, Any]) -> None:
        if not raw:
            return
        where = "Gemini usageMetadata"
        candidates = opt_int(raw, "candidatesTokenCount", where)
        thoughts = opt_int(raw, "thoughtsTokenCount", where)
        completion = None
        if candidates is not None or thoughts is not None:
            completion = (candidates or 0) + (thoughts or 0)
        self._counts = (
            opt_int(raw, "promptTokenCount", where),
            completion,
            opt_int(raw, "totalTokenCount", where),
        )
