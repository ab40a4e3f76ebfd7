"""Builders of chat-completion chunks for tests: one stream, cut wherever a test wants."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from streamreel.core.messages import AgentMessage, merge_deltas, to_wire
from streamreel.core.parser import InterfaceSettings
from streamreel.letta.interface import messages_from_chunks

MESSAGE_ID = "message-6b1f3d52-7a0e-4f0a-9c1e-3d2b4a5c6d7e"
DATE = datetime(2024, 5, 1, tzinfo=UTC)


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"id": "chatcmpl-1", "model": "gpt-4o", "choices": [choice], **extra}


def tool(
    arguments: str | None = None,
    *,
    name: str | None = None,
    call_id: str | None = None,
    index: int | None = 0,
) -> dict[str, Any]:
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if arguments is not None:
        function["arguments"] = arguments
    fragment: dict[str, Any] = {"function": function}
    if index is not None:
        fragment["index"] = index
    if call_id is not None:
        fragment["id"] = call_id
        fragment["type"] = "function"
    return chunk({"tool_calls": [fragment]})


def split(text: str, cuts: list[int]) -> list[str]:
    """``text`` cut at the given offsets (sorted, deduplicated, within the text)."""
    points = sorted({c for c in cuts if 0 < c < len(text)})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


def tool_stream(
    arguments: dict[str, Any] | str,
    *,
    name: str = "send_message",
    call_id: str = "call_1",
    cuts: list[int] | None = None,
    index: int = 0,
    finish: bool = True,
) -> list[dict[str, Any]]:
    """A whole tool call as OpenAI streams it: name and id first, then argument pieces."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    pieces = (
        split(text, cuts) if cuts is not None else [text[i : i + 4] for i in range(0, len(text), 4)]
    )
    chunks = [tool("", name=name, call_id=call_id, index=index)]
    chunks += [tool(piece, index=index) for piece in pieces]
    if finish:
        chunks.append(chunk(finish="tool_calls"))
    return chunks


def run(
    chunks: list[dict[str, Any]], expect_reasoning_content: bool = False, **knobs: Any
) -> list[AgentMessage]:
    return messages_from_chunks(
        chunks,
        message_id=MESSAGE_ID,
        message_date=DATE,
        expect_reasoning_content=expect_reasoning_content,
        settings=InterfaceSettings(**knobs),
    )


def merged(chunks: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    """The merged messages as wire dictionaries, for comparing."""
    return [json.loads(to_wire(m)) for m in merge_deltas(run(chunks, **kwargs))]


def kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("message_type", "error") for m in messages]
