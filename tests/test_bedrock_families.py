"""Bedrock InvokeModelWithResponseStream of every model family: adapted, or refused by family.

Each test writes a cassette whose body is the event stream a family sends (synthetic payloads
of the documented shapes), loads it back and replays it, as a user's recording would.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from streamreel.cassettes.storage import load_cassette, save_cassette
from streamreel.core.cassette import (
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.chunks import ChatCompletionChunk, StreamFault
from streamreel.core.eventstream import encode_message
from streamreel.playback.replay import replay

HOST = "https://bedrock-runtime.us-east-1.amazonaws.com"
METRICS = {"inputTokenCount": 7, "outputTokenCount": 3, "invocationLatency": 9}


def chunk_event(payload: dict[str, Any]) -> bytes:
    headers = {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    inner = base64.b64encode(json.dumps(payload).encode()).decode()
    return encode_message(headers, json.dumps({"bytes": inner}).encode())


def bedrock_cassette(tmp_path: Path, model: str, payloads: list[dict[str, Any]]) -> Path:
    request = RecordedRequest(
        method="POST",
        uri=f"{HOST}/model/{model.replace(':', '%3A')}/invoke-with-response-stream",
        headers={"content-type": ["application/json"]},
        body=b'{"prompt": "hi"}',
    )
    response = RecordedResponse(
        status=200,
        headers={"content-type": ["application/vnd.amazon.eventstream"]},
        body=b"".join(chunk_event(payload) for payload in payloads),
    )
    path = tmp_path / "bedrock.yaml"
    save_cassette(Cassette([Interaction(request, response)], CassetteInfo()), path)
    return path


def replayed(path: Path) -> tuple[str, list[str | None], list[Any], list[str]]:
    """The text, finish reasons, usage and error kinds of the replayed interaction."""
    result = replay(load_cassette(path)).interactions[0]
    produced = [output for record in result.chunks for output in record.produced]
    chunks = [c for c in produced if isinstance(c, ChatCompletionChunk)]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasons = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    usage = [c.usage for c in chunks if c.usage is not None]
    kinds = [error.kind for error in result.errors]
    kinds += [f.kind for f in produced if isinstance(f, StreamFault)]
    return text, reasons, usage, kinds


FAMILIES: dict[str, tuple[str, list[dict[str, Any]], str]] = {
    "claude-v2 legacy completion": (
        "anthropic.claude-v2:1",
        [
            {"completion": " Hello", "stop_reason": None, "stop": None},
            {"completion": " world", "stop_reason": None, "stop": None},
            {
                "completion": ".",
                "stop_reason": "stop_sequence",
                "stop": "\n\nHuman:",
                "amazon-bedrock-invocationMetrics": METRICS,
            },
        ],
        "stop",
    ),
    "claude-instant legacy completion": (
        "anthropic.claude-instant-v1",
        [
            {"completion": " Hello world", "stop_reason": None, "stop": None},
            {"completion": ".", "stop_reason": "max_tokens", "stop": None},
        ],
        "length",
    ),
    "meta llama": (
        "meta.llama3-8b-instruct-v1:0",
        [
            {"generation": " Hello", "prompt_token_count": 7, "generation_token_count": 1,
             "stop_reason": None},
            {"generation": " world.", "prompt_token_count": None, "generation_token_count": 3,
             "stop_reason": "stop", "amazon-bedrock-invocationMetrics": METRICS},
        ],
        "stop",
    ),
    "meta llama through a us. inference profile": (
        "us.meta.llama3-2-1b-instruct-v1:0",
        [
            {"generation": " Hello world.", "stop_reason": "length",
             "amazon-bedrock-invocationMetrics": METRICS},
        ],
        "length",
    ),
    "mistral completion": (
        "mistral.mistral-7b-instruct-v0:2",
        [
            {"outputs": [{"text": " Hello", "stop_reason": None}]},
            {"outputs": [{"text": " world.", "stop_reason": "stop"}],
             "amazon-bedrock-invocationMetrics": METRICS},
        ],
        "stop",
    ),
    "mistral chat": (
        "mistral.mistral-large-2407-v1:0",
        [
            {"id": "c1", "object": "chat.completion.chunk",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": " Hello"},
                          "stop_reason": None}]},
            {"id": "c1", "object": "chat.completion.chunk",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": " world."},
                          "stop_reason": "stop"}],
             "amazon-bedrock-invocationMetrics": METRICS},
        ],
        "stop",
    ),
    "amazon titan": (
        "amazon.titan-text-express-v1",
        [
            {"outputText": " Hello", "index": 0, "totalOutputTextTokenCount": 1,
             "completionReason": None, "inputTextTokenCount": 7},
            {"outputText": " world.", "index": 0, "totalOutputTextTokenCount": 3,
             "completionReason": "FINISH", "amazon-bedrock-invocationMetrics": METRICS},
        ],
        "stop",
    ),
    "amazon nova": (
        "us.amazon.nova-lite-v1:0",
        [
            {"messageStart": {"role": "assistant"}},
            {"contentBlockDelta": {"delta": {"text": " Hello"}, "contentBlockIndex": 0}},
            {"contentBlockDelta": {"delta": {"text": " world."}, "contentBlockIndex": 0}},
            {"contentBlockStop": {"contentBlockIndex": 0}},
            {"messageStop": {"stopReason": "end_turn"}},
            {"metadata": {"usage": {"inputTokens": 7, "outputTokens": 3}},
             "amazon-bedrock-invocationMetrics": METRICS},
        ],
        "stop",
    ),
    "cohere command": (
        "cohere.command-text-v14",
        [
            {"generations": [{"id": "g", "text": " Hello"}], "is_finished": False},
            {"generations": [{"id": "g", "text": " world.", "finish_reason": "COMPLETE"}],
             "is_finished": True, "amazon-bedrock-invocationMetrics": METRICS},
        ],
        "stop",
    ),
    "cohere command r": (
        "cohere.command-r-v1:0",
        [
            {"is_finished": False, "event_type": "stream-start", "generation_id": "g"},
            {"is_finished": False, "event_type": "text-generation", "text": " Hello"},
            {"is_finished": False, "event_type": "text-generation", "text": " world."},
            {"is_finished": True, "event_type": "stream-end", "finish_reason": "COMPLETE",
             "amazon-bedrock-invocationMetrics": METRICS},
        ],
        "stop",
    ),
}  # fmt: skip


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_adapted_family_replays_its_text_and_its_stop(tmp_path: Path, family: str) -> None:
    model, payloads, finish = FAMILIES[family]
    text, reasons, usage, kinds = replayed(bedrock_cassette(tmp_path, model, payloads))
    assert text.strip() == "Hello world."
    assert reasons == [finish]
    assert kinds == []
    if any("amazon-bedrock-invocationMetrics" in p or "metadata" in p for p in payloads):
        assert usage and usage[-1].prompt_tokens == 7 and usage[-1].completion_tokens == 3


@pytest.mark.parametrize("family", ["meta llama", "amazon titan", "claude-v2 legacy completion"])
def test_a_family_stream_cut_before_its_stop_is_incomplete(tmp_path: Path, family: str) -> None:
    model, payloads, _ = FAMILIES[family]
    _, reasons, _, kinds = replayed(bedrock_cassette(tmp_path, model, payloads[:-1]))
    assert reasons == []
    assert "incomplete" in kinds


def test_a_tool_call_from_mistral_chat_replays_as_a_call(tmp_path: Path) -> None:
    call = {"id": "t1", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    payloads = [
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": "",
                                              "tool_calls": [call]}, "stop_reason": "tool_calls"}]},
    ]  # fmt: skip
    result = replay(
        load_cassette(bedrock_cassette(tmp_path, "mistral.mistral-large-2407-v1:0", payloads))
    )
    produced = [o for r in result.interactions[0].chunks for o in r.produced]
    calls = [
        fragment
        for c in produced
        if isinstance(c, ChatCompletionChunk) and c.choices and c.choices[0].delta.tool_calls
        for fragment in c.choices[0].delta.tool_calls or []
    ]
    assert [(f.id, f.function.name if f.function else None) for f in calls] == [("t1", "lookup")]
    assert result.interactions[0].errors == []


@pytest.mark.parametrize(
    "model", ["ai21.jamba-1-5-mini-v1:0", "us.deepseek.r1-v1:0", "writer.palmyra-x5-v1:0"]
)
def test_families_without_an_adapter_are_refused_by_family_not_as_a_cut_claude_stream(
    tmp_path: Path, model: str
) -> None:
    payloads = [{"choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]}]
    result = replay(load_cassette(bedrock_cassette(tmp_path, model, payloads))).interactions[0]
    assert [error.kind for error in result.errors] == ["unsupported"]
    message = result.errors[0].message
    assert "unadapted model family" in message and "AI21, DeepSeek and Writer" in message
    assert "message_stop" not in message
