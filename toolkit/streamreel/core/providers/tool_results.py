"""Tool results in a recorded request: what the client sent back after running the model's calls.

Theory of operation
-------------------

A multi-step cassette holds the return of each tool the model called in step *i* inside the
*request* of step *i + 1*: the client ran the tools and sent their results with the
conversation. Replay shows them where an agent server would, between the two LLM calls, so it
needs them out of the request body, whose shape each API defines:

* ``chat-completions``: ``messages`` items with ``role: "tool"``, ``tool_call_id`` and
  ``content`` (a string, or a list of text parts).
* ``messages`` (Anthropic): ``tool_result`` blocks in ``user`` messages, with ``tool_use_id``,
  ``content`` (a string or text blocks) and ``is_error``.
* ``responses``: ``input`` items of type ``function_call_output`` with ``call_id`` and
  ``output`` (a string or text parts).
* ``generate-content`` (Gemini): ``functionResponse`` (or ``function_response``) parts with
  ``name``, ``response`` and an ``id`` when the client set one (Gemini itself sends none, so
  it is the client's, and may not be the id the replay gave the call). A response object
  holding only ``output`` is that output; one holding ``error`` is a failed call, as Gemini's
  function-calling guide asks clients to send them.
* ``ollama-chat``: ``messages`` items with ``role: "tool"``, ``content`` and, when the client
  sent them, ``tool_call_id`` and ``tool_name``; ``cohere-chat`` (Cohere v2) the same with
  ``tool_call_id``.
* ``invoke-stream`` (Bedrock InvokeModel): the model's own request body; Claude's is Anthropic's.
* ``converse-stream`` / ``converse`` (Bedrock): ``toolResult`` blocks in ``user`` messages,
  with ``toolUseId``, ``content`` (``text`` and ``json`` blocks) and ``status``.
* ``assistants``: the ``tool_outputs`` of a ``submit_tool_outputs`` request (``tool_call_id``,
  ``output``), all answering the run's latest step.

Each result also says whether it comes after the request's last model turn (``latest``): the
whole conversation is sent again at every step, so older results reappear in every later
request. Results with an id are told apart by it; the others (Gemini, older Ollama) can only be
matched by name and order, which is sound only for the latest turn.

A request body that does not have the expected shape yields no results rather than an error:
the request is context for the replay, not the stream being replayed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from streamreel.core.cassette import RecordedRequest
from streamreel.core.providers.detection import StreamKind

__all__ = ["ToolResult", "tool_results"]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """One tool's return as the client sent it to the model.

    ``call_id`` names the call it answers (None when the API sends no id); ``content`` is the
    text the model saw; ``is_error`` is the provider's own failure mark.
    """

    call_id: str | None
    name: str | None
    content: str
    is_error: bool = False
    latest: bool = True


def _text_of(value: Any) -> str:
    """Text of a string, or of a list of text parts (others, such as images, carry no text)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            part["text"]
            for part in value
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _objects(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _mark_latest(found: list[tuple[int, ToolResult]], last_turn: int) -> list[ToolResult]:
    return [
        ToolResult(r.call_id, r.name, r.content, r.is_error, latest=position > last_turn)
        for position, r in found
    ]


def _chat_messages(body: dict[str, Any]) -> list[ToolResult]:
    found: list[tuple[int, ToolResult]] = []
    last_turn = -1
    for position, message in enumerate(_objects(body.get("messages"))):
        role = message.get("role")
        if role == "assistant":
            last_turn = position
        elif role == "tool":
            name = _str_or_none(message.get("tool_name")) or _str_or_none(message.get("name"))
            result = ToolResult(
                _str_or_none(message.get("tool_call_id")), name, _text_of(message.get("content"))
            )
            found.append((position, result))
    return _mark_latest(found, last_turn)


def _anthropic(body: dict[str, Any]) -> list[ToolResult]:
    found: list[tuple[int, ToolResult]] = []
    last_turn = -1
    for position, message in enumerate(_objects(body.get("messages"))):
        if message.get("role") == "assistant":
            last_turn = position
            continue
        for block in _objects(message.get("content")):
            if block.get("type") != "tool_result":
                continue
            result = ToolResult(
                _str_or_none(block.get("tool_use_id")),
                None,
                _text_of(block.get("content")),
                is_error=block.get("is_error") is True,
            )
            found.append((position, result))
    return _mark_latest(found, last_turn)


def _responses(body: dict[str, Any]) -> list[ToolResult]:
    found: list[tuple[int, ToolResult]] = []
    last_turn = -1
    for position, item in enumerate(_objects(body.get("input"))):
        kind = item.get("type")
        if kind in ("function_call", "reasoning") or item.get("role") == "assistant":
            last_turn = position
        elif kind == "function_call_output":
            result = ToolResult(
                _str_or_none(item.get("call_id")), None, _text_of(item.get("output"))
            )
            found.append((position, result))
    return _mark_latest(found, last_turn)


def _converse_content(blocks: Any) -> str:
    parts: list[str] = []
    for block in _objects(blocks):
        if isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif "json" in block:
            parts.append(json.dumps(block["json"], ensure_ascii=False))
    return "".join(parts)


def _converse(body: dict[str, Any]) -> list[ToolResult]:
    found: list[tuple[int, ToolResult]] = []
    last_turn = -1
    for position, message in enumerate(_objects(body.get("messages"))):
        if message.get("role") == "assistant":
            last_turn = position
            continue
        for block in _objects(message.get("content")):
            result = block.get("toolResult")
            if isinstance(result, dict):
                found.append(
                    (
                        position,
                        ToolResult(
                            _str_or_none(result.get("toolUseId")),
                            None,
                            _converse_content(result.get("content")),
                            is_error=result.get("status") == "error",
                        ),
                    )
                )
    return _mark_latest(found, last_turn)


def _assistants(body: dict[str, Any]) -> list[ToolResult]:
    return [
        ToolResult(_str_or_none(item.get("tool_call_id")), None, _text_of(item.get("output")))
        for item in _objects(body.get("tool_outputs"))
    ]


def _gemini_response(part: dict[str, Any]) -> ToolResult:
    response = part.get("response")
    is_error = False
    if isinstance(response, dict) and set(response) == {"output"}:
        content = _text_of(response["output"])
    elif isinstance(response, dict) and "error" in response:
        is_error = True
        content = _text_of(response["error"])
    else:
        content = _text_of(response)
    return ToolResult(
        _str_or_none(part.get("id")), _str_or_none(part.get("name")), content, is_error
    )


def _gemini(body: dict[str, Any]) -> list[ToolResult]:
    found: list[tuple[int, ToolResult]] = []
    last_turn = -1
    for position, content in enumerate(_objects(body.get("contents"))):
        if content.get("role") == "model":
            last_turn = position
            continue
        for part in _objects(content.get("parts")):
            # Gemini's JSON accepts the proto field names too, and clients send either.
            response = part.get("functionResponse", part.get("function_response"))
            if isinstance(response, dict):
                found.append((position, _gemini_response(response)))
    return _mark_latest(found, last_turn)


def tool_results(kind: StreamKind, request: RecordedRequest) -> list[ToolResult]:
    """The tool results ``request`` sends, in request order; none for an API without them."""
    body = request.json()
    if not isinstance(body, dict):
        return []
    if kind.api in ("chat-completions", "ollama-chat", "cohere-chat"):
        return _chat_messages(body)
    if kind.api in ("messages", "invoke-stream"):
        return _anthropic(body)
    if kind.api in ("converse-stream", "converse"):
        return _converse(body)
    if kind.api == "assistants":
        return _assistants(body)
    if kind.api == "responses":
        return _responses(body)
    if kind.api == "generate-content":
        return _gemini(body)
    return []
