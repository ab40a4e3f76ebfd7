"""Small cassettes for tests: OpenAI chat-completions streams, as the API sends them over SSE."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamreel.cassettes.storage import save_cassette
from streamreel.core.cassette import (
    BodyChunk,
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)

URL = "https://api.openai.com/v1/chat/completions"
MODEL = "gpt-4o-mini-2024-07-18"
RECORDED_AT = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)

# Roughly how a tokenizer cuts JSON text: escapes whole, words, runs of spaces, single marks.
_TOKEN = re.compile(r"\\u[0-9a-fA-F]{4}|\\.|\w+|\s+|.", re.DOTALL)


def tokens(text: str, *, per_chunk: int = 2) -> list[str]:
    """``text`` in token-like pieces of ``per_chunk`` tokens; escapes are never cut."""
    found = _TOKEN.findall(text)
    return ["".join(found[i : i + per_chunk]) for i in range(0, len(found), per_chunk)]


def _chunk(
    completion: str, delta: dict[str, Any], finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": completion,
        "object": "chat.completion.chunk",
        "created": 1741944413,
        "model": MODEL,
        "system_fingerprint": "fp_06737a9306",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
        **extra,
    }


def tool_call_chunks(
    name: str,
    arguments: dict[str, Any],
    *,
    call_id: str = "call_Xf3kq0ZtP8vYw2RjLmN5aBcD",
    completion: str = "chatcmpl-B9xQ2mZr7Lk0pT4vWn1cY8sHdE3fG",
    ensure_ascii: bool = False,
    per_chunk: int = 2,
) -> list[dict[str, Any]]:
    """One streamed tool call: the header fragment, argument pieces, then ``tool_calls``."""
    text = json.dumps(arguments, ensure_ascii=ensure_ascii)
    chunks = [
        _chunk(
            completion,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": call_id,
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }
                ],
                "refusal": None,
            },
        )
    ]
    for piece in tokens(text, per_chunk=per_chunk):
        delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        chunks.append(_chunk(completion, delta))
    chunks.append(_chunk(completion, {}, "tool_calls"))
    usage = {"prompt_tokens": 412, "completion_tokens": 57, "total_tokens": 469}
    chunks.append({**_chunk(completion, {}), "choices": [], "usage": usage})
    return chunks


def content_chunks(
    text: str, *, completion: str = "chatcmpl-B9xQ3nAs8Ml1qU5wXo2dZ9tIeF4gH"
) -> list[dict[str, Any]]:
    chunks = [_chunk(completion, {"role": "assistant", "content": "", "refusal": None})]
    chunks += [_chunk(completion, {"content": piece}) for piece in tokens(text, per_chunk=1)]
    chunks.append(_chunk(completion, {}, "stop"))
    return chunks


def sse_events(chunks: list[dict[str, Any]]) -> list[bytes]:
    """Each chunk as the SSE event OpenAI writes (raw UTF-8, ``[DONE]`` last)."""
    events = [
        f"data: {json.dumps(c, ensure_ascii=False, separators=(',', ':'))}\n\n" for c in chunks
    ]
    return [e.encode() for e in [*events, "data: [DONE]\n\n"]]


def interaction(
    chunks: list[dict[str, Any]], *, per_read: int = 1, recorded_at: datetime = RECORDED_AT
) -> Interaction:
    """A recorded streaming call whose body arrived ``per_read`` SSE events per read."""
    events = sse_events(chunks)
    reads = [b"".join(events[i : i + per_read]) for i in range(0, len(events), per_read)]
    body = b"".join(reads)
    pieces = [BodyChunk(offset_ms=300.0 + 12.5 * n, data=data) for n, data in enumerate(reads)]
    request = RecordedRequest(
        method="POST",
        uri=URL,
        headers={"content-type": ["application/json"]},
        body=json.dumps(
            {
                "model": "gpt-4o-mini",
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            }
        ).encode(),
    )
    response = RecordedResponse(
        status=200,
        reason="OK",
        headers={"content-type": ["text/event-stream; charset=utf-8"]},
        body=body,
        chunks=pieces,
    )
    return Interaction(request=request, response=response, recorded_at=recorded_at)


def cassette(*interactions: Interaction) -> Cassette:
    return Cassette(interactions=list(interactions), info=CassetteInfo(recorded_at=RECORDED_AT))


def write(path: Path, *interactions: Interaction) -> Path:
    save_cassette(cassette(*interactions), path)
    return path


SEND_ARGS = {
    "inner_thoughts": 'User asked about the caf\u00e9; answer with its "hours".',
    "message": 'The caf\u00e9 is open 8\u201318h.\nSee you "soon" \U0001f600 C:\\temp',
}
SEARCH_ARGS = {
    "inner_thoughts": "Look it up first.",
    "query": "caf\u00e9 hours",
    "limit": 5,
    "exact": True,
}


def send_message(**kwargs: Any) -> Interaction:
    return interaction(tool_call_chunks("send_message", SEND_ARGS), **kwargs)


def search_call(**kwargs: Any) -> Interaction:
    return interaction(
        tool_call_chunks(
            "archival_memory_search", SEARCH_ARGS, call_id="call_Q7wE9rT1yU3iO5pA2sD4fG6h"
        ),
        **kwargs,
    )


# -- tool loops: each step's request holds the conversation so far, tool results included --

SEARCH_ID = "call_Q7wE9rT1yU3iO5pA2sD4fG6h"
SEND_ID = "call_Xf3kq0ZtP8vYw2RjLmN5aBcD"


def json_request(
    body: dict[str, Any], uri: str = "https://api.openai.com/v1/chat/completions"
) -> RecordedRequest:
    return RecordedRequest(
        "POST", uri, {"content-type": ["application/json"]}, json.dumps(body).encode()
    )


def asking(step: Interaction, messages: list[dict[str, Any]]) -> Interaction:
    """``step`` with a request that sends ``messages`` (the conversation so far)."""
    body = {"model": "gpt-4o-mini", "stream": True, "messages": messages}
    return dataclasses.replace(step, request=json_request(body))


def call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {
        "role": "assistant",
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


def returned(call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


USER = {"role": "user", "content": "When is the café open?"}
SEARCHED = call(SEARCH_ID, "archival_memory_search", SEARCH_ARGS)


def three_steps(result: str) -> list[Interaction]:
    """search; send_message (the search's result in its request); a step repeating both."""
    first = asking(search_call(), [USER])
    second = asking(send_message(), [USER, SEARCHED, returned(SEARCH_ID, result)])
    history = [USER, SEARCHED, returned(SEARCH_ID, result), call(SEND_ID, "send_message", {})]
    third = asking(search_call(), [*history, returned(SEND_ID, "None")])
    return [first, second, third]
