"""The adapters of Cohere v2 chat, Anthropic's legacy completions, Gemini Interactions and
OpenAI Assistants runs: how each ends, fails and numbers its tool calls."""

from __future__ import annotations

import json
from typing import Any

from streamreel.core.chunks import ChatCompletionChunk, StreamFault
from streamreel.core.providers import StreamDecoder, StreamKind, chunks_from_json_body

COHERE = StreamKind("cohere", "cohere-chat", "sse", "command-a")
COMPLETE = StreamKind("anthropic", "complete", "sse")
INTERACTIONS = StreamKind("gemini", "interactions", "sse")
ASSISTANTS = StreamKind("openai", "assistants", "sse")


def sse(*events: tuple[str, dict[str, Any]], eol: str = "\n") -> bytes:
    return "".join(
        f"event: {name}{eol}data: {json.dumps(data)}{eol}{eol}" for name, data in events
    ).encode()


def run(kind: StreamKind, body: bytes) -> list[Any]:
    decoder = StreamDecoder(kind)
    one_by_one = [item for i in range(len(body)) for item in decoder.feed(body[i : i + 1])]
    out = one_by_one + decoder.close()
    whole = StreamDecoder(kind)
    assert whole.feed(body) + whole.close() == out
    return out


def text(out: list[Any]) -> str:
    return "".join(
        c.choices[0].delta.content or ""
        for c in out
        if isinstance(c, ChatCompletionChunk) and c.choices
    )


def calls(out: list[Any]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for c in out:
        if not isinstance(c, ChatCompletionChunk) or not c.choices:
            continue
        for f in c.choices[0].delta.tool_calls or []:
            entry = found.setdefault(f.index or 0, ["", "", ""])
            entry[0] += f.id or ""
            entry[1] += (f.function.name if f.function else None) or ""
            entry[2] += (f.function.arguments if f.function else None) or ""
    return found


def faults(out: list[Any]) -> list[StreamFault]:
    return [f for f in out if isinstance(f, StreamFault)]


def finish(out: list[Any]) -> str | None:
    reasons = [
        c.choices[0].finish_reason
        for c in out
        if isinstance(c, ChatCompletionChunk) and c.choices and c.choices[0].finish_reason
    ]
    return reasons[-1] if reasons else None


def cohere_message(**fields: Any) -> dict[str, Any]:
    return {"delta": {"message": fields}}


def test_cohere_text_with_the_requested_model_and_usage() -> None:
    body = sse(
        (
            "message-start",
            {"type": "message-start", "id": "r1", **cohere_message(role="assistant")},
        ),
        (
            "content-start",
            {
                "type": "content-start",
                "index": 0,
                **cohere_message(content={"type": "text", "text": ""}),
            },
        ),
        (
            "content-delta",
            {"type": "content-delta", "index": 0, **cohere_message(content={"text": "Bonjour"})},
        ),
        ("content-end", {"type": "content-end", "index": 0}),
        (
            "message-end",
            {
                "type": "message-end",
                "delta": {
                    "finish_reason": "COMPLETE",
                    "usage": {"billed_units": {"input_tokens": 2, "output_tokens": 1}},
                },
            },
        ),
    )
    out = run(COHERE, body)
    assert text(out) == "Bonjour" and finish(out) == "stop" and not faults(out)
    assert all(c.model == "command-a" and c.id == "r1" for c in out)
    assert out[-1].usage.total_tokens == 3


def test_cohere_a_call_without_arguments_gets_empty_json_and_an_error_end_is_a_fault() -> None:
    start = {"type": "tool-call-start", "index": 0}
    start.update(
        cohere_message(
            tool_calls={
                "id": "c1",
                "type": "function",
                "function": {"name": "now", "arguments": ""},
            }
        )
    )
    body = sse(
        ("message-start", {"type": "message-start", "id": "r", **cohere_message(role="assistant")}),
        ("tool-call-start", start),
        ("tool-call-end", {"type": "tool-call-end", "index": 0}),
        (
            "message-end",
            {"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "model crashed"}},
        ),
    )
    out = run(COHERE, body)
    assert calls(out) == {0: ["c1", "now", "{}"]}
    assert faults(out) == [StreamFault("error", "model crashed", error_type="ERROR")]


def test_cohere_cut_before_message_end_is_incomplete() -> None:
    body = sse(
        ("message-start", {"type": "message-start", "id": "r", **cohere_message(role="assistant")})
    )
    assert [f.kind for f in faults(run(COHERE, body))] == ["incomplete"]


def test_legacy_complete_with_crlf_and_max_tokens() -> None:
    body = sse(
        (
            "completion",
            {
                "type": "completion",
                "completion": " Hi",
                "stop_reason": None,
                "model": "claude-2.1",
                "id": "c",
            },
        ),
        ("ping", {"type": "ping"}),
        (
            "completion",
            {
                "type": "completion",
                "completion": " there",
                "stop_reason": "max_tokens",
                "model": "claude-2.1",
                "id": "c",
            },
        ),
        eol="\r\n",
    )
    out = run(COMPLETE, body)
    assert text(out) == " Hi there" and finish(out) == "length" and not faults(out)


def test_legacy_complete_error_event_ends_the_stream() -> None:
    body = sse(
        (
            "completion",
            {"type": "completion", "completion": "x", "stop_reason": None, "model": "m"},
        ),
        (
            "error",
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        ),
    )
    out = run(COMPLETE, body)
    assert faults(out) == [StreamFault("error", "Overloaded", error_type="overloaded_error")]


def interaction(status: str, **extra: Any) -> dict[str, Any]:
    return {"interaction": {"id": "i1", "model": "gemini-3", "status": status, **extra}}


def test_interactions_function_calls_stay_apart_and_finish_as_tool_calls() -> None:
    body = sse(
        (
            "interaction.created",
            {"event_type": "interaction.created", **interaction("in_progress")},
        ),
        (
            "step.start",
            {
                "event_type": "step.start",
                "index": 0,
                "step": {
                    "type": "function_call",
                    "id": "f1",
                    "name": "weather",
                    "arguments": {"city": "Paris"},
                },
            },
        ),
        ("step.stop", {"event_type": "step.stop", "index": 0}),
        (
            "step.start",
            {
                "event_type": "step.start",
                "index": 1,
                "step": {"type": "function_call", "id": "f2", "name": "time"},
            },
        ),
        (
            "step.delta",
            {
                "event_type": "step.delta",
                "index": 1,
                "delta": {"type": "arguments_delta", "arguments": '{"tz": "CET"}'},
            },
        ),
        (
            "interaction.completed",
            {
                "event_type": "interaction.completed",
                **interaction(
                    "requires_action", usage={"total_input_tokens": 5, "total_output_tokens": 3}
                ),
            },
        ),
    )
    out = run(INTERACTIONS, body)
    assert calls(out) == {
        0: ["f1", "weather", '{"city": "Paris"}'],
        1: ["f2", "time", '{"tz": "CET"}'],
    }
    assert finish(out) == "tool_calls" and not faults(out)


def test_interactions_failed_is_a_fault() -> None:
    body = sse(
        (
            "interaction.created",
            {"event_type": "interaction.created", **interaction("in_progress")},
        ),
        (
            "step.delta",
            {"event_type": "step.delta", "index": 0, "delta": {"type": "text", "text": "Par"}},
        ),
        (
            "interaction.completed",
            {
                "event_type": "interaction.completed",
                **interaction("failed", error={"code": "INTERNAL", "message": "boom"}),
            },
        ),
    )
    out = run(INTERACTIONS, body)
    assert text(out) == "Par"
    assert faults(out) == [StreamFault("error", "boom", error_type="INTERNAL")]


def run_event(name: str, status: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    return (
        name,
        {"id": "run_1", "object": "thread.run", "model": "gpt-4o", "status": status, **extra},
    )


def step_delta(index: int, **call: Any) -> tuple[str, dict[str, Any]]:
    details = {"type": "tool_calls", "tool_calls": [{"index": index, **call}]}
    return ("thread.run.step.delta", {"id": "step_1", "delta": {"step_details": details}})


def test_assistants_function_calls_end_with_requires_action() -> None:
    body = (
        sse(
            run_event("thread.run.created", "queued"),
            step_delta(
                0, id="call_a", type="function", function={"name": "lookup", "arguments": ""}
            ),
            step_delta(0, type="function", function={"arguments": '{"q": 1}'}),
            step_delta(1, id="ci", type="code_interpreter", code_interpreter={"input": "1+1"}),
            run_event("thread.run.requires_action", "requires_action"),
        )
        + b"event: done\ndata: [DONE]\n\n"
    )
    out = run(ASSISTANTS, body)
    assert calls(out) == {0: ["call_a", "lookup", '{"q": 1}']}
    assert finish(out) == "tool_calls" and not faults(out)
    assert all(c.model == "gpt-4o" for c in out)


def test_assistants_failed_run_carries_its_last_error() -> None:
    body = sse(
        run_event("thread.run.created", "queued"),
        (
            "thread.message.delta",
            {"delta": {"content": [{"index": 0, "type": "text", "text": {"value": "Hal"}}]}},
        ),
        run_event(
            "thread.run.failed",
            "failed",
            last_error={"code": "rate_limit_exceeded", "message": "slow down"},
        ),
    )
    out = run(ASSISTANTS, body)
    assert text(out) == "Hal"
    assert faults(out) == [StreamFault("error", "slow down", error_type="rate_limit_exceeded")]


def whole(kind: StreamKind, reply: dict[str, Any]) -> list[Any]:
    return chunks_from_json_body(kind, json.dumps(reply).encode())


def test_whole_cohere_reply_replays_like_its_stream() -> None:
    reply = {
        "id": "r9",
        "finish_reason": "TOOL_CALL",
        "message": {
            "role": "assistant",
            "tool_plan": "I will look it up.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "rye"}'},
                }
            ],
        },
        "usage": {"tokens": {"input_tokens": 10, "output_tokens": 5}},
    }
    out = whole(COHERE, reply)
    assert calls(out) == {0: ["c1", "lookup", '{"q": "rye"}']}
    assert finish(out) == "tool_calls" and not faults(out)
    reasoning = "".join(c.choices[0].delta.reasoning_content or "" for c in out if c.choices)
    assert reasoning == "I will look it up."
    text_reply = {"id": "r8", "finish_reason": "COMPLETE", "message": {"role": "assistant"}}
    text_reply["message"]["content"] = [{"type": "text", "text": "Yes."}]
    assert text(whole(COHERE, text_reply)) == "Yes."


def test_whole_legacy_completion_replays_like_its_stream() -> None:
    reply = {"type": "completion", "completion": " Hi.", "stop_reason": "stop_sequence"}
    reply["model"] = "claude-2.1"
    out = whole(COMPLETE, reply)
    assert text(out) == " Hi." and finish(out) == "stop" and not faults(out)


def test_whole_bedrock_converse_reply_replays_like_its_stream() -> None:
    kind = StreamKind("bedrock", "converse", "json", "anthropic.claude-v2")
    reply = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "hm", "signature": "s"}}},
                    {"text": "Looking."},
                    {"toolUse": {"toolUseId": "t1", "name": "find", "input": {"q": 1}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 4, "outputTokens": 6, "totalTokens": 10},
    }
    out = whole(kind, reply)
    assert text(out) == "Looking."
    assert calls(out) == {2: ["t1", "find", '{"q": 1}']}
    assert finish(out) == "tool_calls" and not faults(out)
    assert out[-1].usage.total_tokens == 10 and out[-1].model == "anthropic.claude-v2"
