"""Provider adapters, detection and the pipeline, on synthetic streams built here.

The real recorded streams are checked in ``test_providers_corpus.py``; these tests pin every
rule one at a time, including the cases the corpus lacks (refusals, ``overloaded_error``,
cut streams), which are synthetic.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamreel.core.cassette import RecordedRequest, RecordedResponse
from streamreel.core.chunks import ChatCompletionChunk, StreamFault
from streamreel.core.errors import (
    ChunkError,
    StreamDecodeError,
    StreamreelError,
    UnsupportedStreamError,
)
from streamreel.core.providers import (
    StreamDecoder,
    StreamKind,
    chunks_from_json_body,
    detect_stream,
    http_error_fault,
)

Out = ChatCompletionChunk | StreamFault

OPENAI = StreamKind("openai", "chat-completions", "sse")
ANTHROPIC = StreamKind("anthropic", "messages", "sse")
RESPONSES = StreamKind("openai", "responses", "sse")
GEMINI_SSE = StreamKind("gemini", "generate-content", "sse")
GEMINI_ARRAY = StreamKind("gemini", "generate-content", "json-array")
OLLAMA_CHAT = StreamKind("ollama", "ollama-chat", "ndjson")
OLLAMA_GENERATE = StreamKind("ollama", "ollama-generate", "ndjson")


# --- helpers ------------------------------------------------------------------------------


def sse(*events: Any, end: str = "\n") -> bytes:
    """An SSE body: a dict is a ``data:`` event, ``(name, dict)`` a named one, a str raw lines."""
    blocks = []
    for event in events:
        if isinstance(event, str):
            blocks.append(event)
        elif isinstance(event, tuple):
            name, data = event
            blocks.append(f"event: {name}{end}data: {json.dumps(data)}")
        else:
            blocks.append(f"data: {json.dumps(event)}")
    return "".join(block + end + end for block in blocks).encode()


def named(*payloads: dict[str, Any]) -> bytes:
    """Events named by their payload's ``type``, as Anthropic and OpenAI Responses send them."""
    return sse(*((payload["type"], payload) for payload in payloads))


def run(kind: StreamKind, *pieces: bytes, status: int | None = None) -> list[Out]:
    decoder = StreamDecoder(kind, status=status)
    out: list[Out] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    out.extend(decoder.close())
    return out


def outcome(kind: StreamKind, pieces: list[bytes]) -> tuple[list[Out], str | None]:
    decoder = StreamDecoder(kind)
    out: list[Out] = []
    try:
        for piece in pieces:
            out.extend(decoder.feed(piece))
        out.extend(decoder.close())
    except StreamreelError as exc:
        return out, str(exc)
    return out, None


def chunks(out: list[Out]) -> list[ChatCompletionChunk]:
    return [item for item in out if isinstance(item, ChatCompletionChunk)]


def faults(out: list[Out]) -> list[StreamFault]:
    return [item for item in out if isinstance(item, StreamFault)]


def content(out: list[Out]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks(out) if c.choices)


def reasoning(out: list[Out]) -> str:
    return "".join(c.choices[0].delta.reasoning_content or "" for c in chunks(out) if c.choices)


def calls(out: list[Out]) -> dict[int, dict[str, Any]]:
    """Tool calls accumulated by index: id, name, arguments."""
    merged: dict[int, dict[str, Any]] = {}
    for chunk in chunks(out):
        for choice in chunk.choices:
            for fragment in choice.delta.tool_calls or []:
                assert fragment.index is not None
                call = merged.setdefault(fragment.index, {"id": None, "name": "", "arguments": ""})
                if fragment.id:
                    call["id"] = fragment.id
                if fragment.function is not None:
                    call["name"] += fragment.function.name or ""
                    call["arguments"] += fragment.function.arguments or ""
    return merged


def finish(out: list[Out]) -> list[str]:
    return [
        c.choices[0].finish_reason for c in chunks(out) if c.choices and c.choices[0].finish_reason
    ]


def split_at(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    return [body[a:b] for a, b in pairwise([0, *points, len(body)])]


def chat_chunk(
    delta: dict[str, Any], finish_reason: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        **extra,
    }


# --- OpenAI Chat Completions and compatible servers ---------------------------------------

OPENAI_TEXT = sse(
    chat_chunk({"role": "assistant", "content": ""}),
    chat_chunk({"content": "Hel"}),
    chat_chunk({"content": "lo"}),
    chat_chunk({}, "stop"),
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-test",
        "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    },
    "data: [DONE]",
)


def test_openai_text_stream() -> None:
    out = run(OPENAI, OPENAI_TEXT)
    assert content(out) == "Hello"
    assert finish(out) == ["stop"]
    assert not faults(out)
    usage = chunks(out)[-1]
    assert usage.choices == [] and usage.usage is not None and usage.usage.total_tokens == 5
    assert all(c.model == "gpt-test" for c in chunks(out))


def test_openai_without_done_is_incomplete() -> None:
    out = run(OPENAI, OPENAI_TEXT.replace(b"data: [DONE]\n\n", b""))
    assert content(out) == "Hello"
    assert faults(out) == [
        StreamFault(
            "incomplete",
            "the stream ended before data: [DONE]; the recording may have been cut",
        )
    ]


def test_a_body_stripped_of_its_trailing_newlines_still_ends_cleanly() -> None:
    assert run(OPENAI, OPENAI_TEXT.rstrip()) == run(OPENAI, OPENAI_TEXT)


def test_a_body_cut_inside_its_last_event_is_incomplete_not_an_error() -> None:
    body = sse(chat_chunk({"content": "kept"})) + b'data: {"choices": [{"del'
    out = run(OPENAI, body)
    assert content(out) == "kept" and [f.kind for f in faults(out)] == ["incomplete"]


def test_writer_ends_at_its_finish_reason_without_done() -> None:
    body = OPENAI_TEXT.replace(b"data: [DONE]\n\n", b"")
    assert not faults(run(StreamKind("writer", "chat-completions", "sse"), body))
    cut = sse(chat_chunk({"content": "x"}))
    assert faults(run(StreamKind("writer", "chat-completions", "sse"), cut))[0].kind == "incomplete"


def test_azure_prompt_filter_chunk_is_not_emitted() -> None:
    body = sse(
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
        },
        chat_chunk({"content": "hi"}, "stop"),
        "data: [DONE]",
    )
    out = run(StreamKind("azure-openai", "chat-completions", "sse"), body)
    assert len(out) == 1 and content(out) == "hi"


def test_openrouter_comments_and_error_chunk() -> None:
    body = sse(
        ": OPENROUTER PROCESSING",
        chat_chunk({"role": "assistant", "content": "", "reasoning": "We need"}),
        {
            **chat_chunk({"content": ""}),
            "error": {"code": 400, "message": "Token limit reached"},
            "usage": {"prompt_tokens": 4, "completion_tokens": 10, "total_tokens": 14},
        },
        "data: [DONE]",
    )
    out = run(StreamKind("openrouter", "chat-completions", "sse"), body)
    assert reasoning(out) == "We need"
    assert isinstance(out[-2], ChatCompletionChunk) and out[-2].usage is not None
    assert out[-1] == StreamFault("error", "Token limit reached", status=400)


def test_groq_error_event_mid_stream_keeps_what_came_before_and_ends_the_stream() -> None:
    error = {
        "error": {
            "message": "Tool call validation failed",
            "type": "invalid_request_error",
            "code": "tool_use_failed",
            "status_code": 400,
        }
    }
    body = sse(chat_chunk({"reasoning": "thinking"}), ("error", error))
    out = run(StreamKind("groq", "chat-completions", "sse"), body)
    assert reasoning(out) == "thinking"
    assert faults(out) == [
        StreamFault("error", "Tool call validation failed", "tool_use_failed", status=400)
    ]


def test_mistral_whole_tool_calls_without_index_get_distinct_indexes() -> None:
    body = sse(
        chat_chunk({"role": "assistant", "content": ""}),
        chat_chunk(
            {
                "content": None,
                "tool_calls": [
                    {
                        "id": "a1",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {"id": "b2", "function": {"name": "get_time", "arguments": "{}"}},
                ],
            },
            "tool_calls",
        ),
        "data: [DONE]",
    )
    out = run(StreamKind("mistral", "chat-completions", "sse"), body)
    assert calls(out) == {
        0: {"id": "a1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        1: {"id": "b2", "name": "get_time", "arguments": "{}"},
    }


def test_openai_parallel_tool_call_fragments_interleave_by_index() -> None:
    body = sse(
        chat_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "c0",
                        "type": "function",
                        "function": {"name": "f", "arguments": ""},
                    }
                ]
            }
        ),
        chat_chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "g", "arguments": ""},
                    }
                ]
            }
        ),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
        chat_chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chat_chunk({}, "tool_calls"),
        "data: [DONE]",
    )
    assert calls(run(OPENAI, body)) == {
        0: {"id": "c0", "name": "f", "arguments": '{"a":1}'},
        1: {"id": "c1", "name": "g", "arguments": "{}"},
    }


def test_deepseek_reasoning_content_and_vllm_reasoning_alias() -> None:
    body = sse(
        chat_chunk({"reasoning_content": "Let me "}),
        chat_chunk({"reasoning": "think."}),
        chat_chunk({"content": "4"}, "stop"),
        "data: [DONE]",
    )
    out = run(StreamKind("deepseek", "chat-completions", "sse"), body)
    assert (reasoning(out), content(out)) == ("Let me think.", "4")


def test_magistral_content_parts_split_into_reasoning_and_text() -> None:
    body = sse(
        chat_chunk({"role": "assistant", "content": ""}),
        chat_chunk(
            {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Ok"}]}]}
        ),
        chat_chunk({"content": [{"type": "thinking", "thinking": "ay."}]}),
        chat_chunk(
            {
                "content": [
                    {"type": "text", "text": "Look "},
                    {"type": "reference", "ids": [1]},
                    {"type": "text", "text": "left."},
                ]
            }
        ),
        chat_chunk({}, "stop"),
        "data: [DONE]",
    )
    out = run(StreamKind("mistral", "chat-completions", "sse"), body)
    assert (reasoning(out), content(out)) == ("Okay.", "Look left.")


def test_groq_usage_is_read_from_x_groq() -> None:
    body = sse(
        chat_chunk({}, "stop", x_groq={"usage": {"prompt_tokens": 1, "completion_tokens": 2}}),
        "data: [DONE]",
    )
    usage = chunks(run(StreamKind("groq", "chat-completions", "sse"), body))[0].usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (1, 2)


def test_refusal_deltas_become_one_refusal_fault_when_the_choice_finishes() -> None:
    # Synthetic: no real refusal stream was found.
    body = sse(
        chat_chunk({"role": "assistant", "content": None, "refusal": ""}),
        chat_chunk({"refusal": "I can't "}),
        chat_chunk({"refusal": "help with that."}),
        chat_chunk({}, "stop"),
        "data: [DONE]",
    )
    out = run(OPENAI, body)
    assert faults(out) == [StreamFault("refusal", "I can't help with that.")]
    assert isinstance(out[-1], StreamFault) and out[-2] == chunks(out)[-1]
    assert all(c.choices[0].delta.refusal is None for c in chunks(out))


def test_refusal_without_finish_is_flushed_before_incomplete() -> None:
    out = run(OPENAI, sse(chat_chunk({"refusal": "No."})))
    assert [f.kind for f in faults(out)] == ["refusal", "incomplete"]


def test_legacy_text_completions() -> None:
    body = sse(
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "davinci-002",
            "choices": [{"text": "Once", "index": 0, "finish_reason": None}],
        },
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "davinci-002",
            "choices": [{"text": " upon", "index": 0, "finish_reason": "length"}],
        },
        "data: [DONE]",
    )
    out = run(StreamKind("openai", "completions", "sse"), body)
    assert content(out) == "Once upon" and finish(out) == ["length"] and not faults(out)


def test_invalid_json_in_a_data_line_is_an_error_after_the_chunks_before_it() -> None:
    body = sse(chat_chunk({"content": "kept"})) + b"data: {not json\n\n" + sse("data: [DONE]")
    decoder = StreamDecoder(OPENAI)
    out = decoder.feed(body)
    assert content(out) == "kept"
    with pytest.raises(StreamDecodeError) as caught:
        decoder.close()
    error = caught.value
    assert error.chunk == 1
    assert str(error).startswith(
        "chunk 1: cannot decode SSE event 'message': expected JSON data, got '{not json'"
    )
    assert str(error).endswith("fix or remove this event in the recording")
    with pytest.raises(StreamDecodeError):
        decoder.feed(b"")


def test_a_payload_of_the_wrong_shape_is_a_chunk_error_naming_its_ordinal() -> None:
    body = sse(": comment", chat_chunk({"content": "a"}), {"choices": "nope"})
    with pytest.raises(ChunkError) as caught:
        run(OPENAI, body)
    assert caught.value.chunk == 1
    assert "cannot read chat.completion.chunk: expected 'choices' to be an array" in str(
        caught.value
    )


def test_decoder_cannot_be_used_after_close() -> None:
    decoder = StreamDecoder(OPENAI)
    decoder.close()
    with pytest.raises(StreamDecodeError, match="already closed"):
        decoder.feed(b"")


# --- Anthropic Messages -------------------------------------------------------------------

MESSAGE_START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 1},
    },
}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def block_stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_end(
    stop_reason: str | None = "end_turn", output_tokens: int = 20
) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


ANTHROPIC_FULL = named(
    MESSAGE_START,
    block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
    {"type": "ping"},
    block_delta(0, {"type": "thinking_delta", "thinking": "Weather "}),
    block_delta(0, {"type": "thinking_delta", "thinking": "needed."}),
    block_delta(0, {"type": "signature_delta", "signature": "sig=="}),
    block_stop(0),
    block_start(1, {"type": "text", "text": ""}),
    block_delta(1, {"type": "text_delta", "text": "Checking."}),
    block_stop(1),
    block_start(2, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
    block_delta(2, {"type": "input_json_delta", "partial_json": ""}),
    block_delta(2, {"type": "input_json_delta", "partial_json": '{"city": '}),
    block_delta(2, {"type": "input_json_delta", "partial_json": '"Paris"}'}),
    block_stop(2),
    block_start(3, {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}),
    block_stop(3),
    *message_end("tool_use"),
)


def test_anthropic_full_stream() -> None:
    out = run(ANTHROPIC, ANTHROPIC_FULL)
    assert reasoning(out) == "Weather needed."
    assert content(out) == "Checking."
    signatures = [
        c.choices[0].delta for c in chunks(out) if c.choices[0].delta.reasoning_content_signature
    ]
    assert [(d.reasoning_content, d.reasoning_content_signature) for d in signatures] == [
        ("", "sig==")
    ]
    # Tool calls are indexed by their content block, not numbered from 0.
    assert calls(out) == {
        2: {"id": "toolu_1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        3: {"id": "toolu_2", "name": "get_time", "arguments": "{}"},
    }
    assert finish(out) == ["tool_calls"]
    last = chunks(out)[-1]
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.output_tokens) == (
        15,
        20,
        20,
    )
    assert {(c.id, c.model) for c in chunks(out)} == {("msg_1", "claude-test")}
    assert chunks(out)[0].choices[0].delta.role == "assistant"
    assert not faults(out)


def test_anthropic_tool_start_fragment_has_empty_arguments() -> None:
    out = run(ANTHROPIC, ANTHROPIC_FULL)
    starts = [f for c in chunks(out) for f in c.choices[0].delta.tool_calls or [] if f.id]
    assert [(f.index, f.type, f.function and f.function.arguments) for f in starts] == [
        (2, "function", ""),
        (3, "function", ""),
    ]


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("stop_sequence", "stop_sequence"),
        ("pause_turn", "pause_turn"),
        ("refusal", "refusal"),
    ],
)
def test_anthropic_stop_reasons(stop_reason: str, finish_reason: str) -> None:
    assert finish(run(ANTHROPIC, named(MESSAGE_START, *message_end(stop_reason)))) == [
        finish_reason
    ]


def test_anthropic_redacted_thinking() -> None:
    body = named(
        MESSAGE_START,
        block_start(0, {"type": "redacted_thinking", "data": "EqkECkYIBxgC"}),
        block_stop(0),
        *message_end(),
    )
    redacted = [c.choices[0].delta.redacted_reasoning_content for c in chunks(run(ANTHROPIC, body))]
    assert "EqkECkYIBxgC" in redacted


def test_anthropic_server_tools_and_citations_are_not_client_tool_calls() -> None:
    body = named(
        MESSAGE_START,
        block_start(
            0, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
        ),
        block_delta(0, {"type": "input_json_delta", "partial_json": '{"query": "weather"}'}),
        block_stop(0),
        block_start(
            1,
            {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_1",
                "content": [{"type": "web_search_result", "title": "t", "url": "u"}],
            },
        ),
        block_stop(1),
        block_start(2, {"citations": [], "type": "text", "text": ""}),
        block_delta(
            2, {"type": "citations_delta", "citation": {"type": "web_search_result_location"}}
        ),
        block_delta(2, {"type": "text_delta", "text": "Sunny."}),
        block_stop(2),
        *message_end(),
    )
    out = run(ANTHROPIC, body)
    assert calls(out) == {} and content(out) == "Sunny." and not faults(out)


def test_anthropic_failed_server_tool_result_is_an_error_fault_and_the_stream_goes_on() -> None:
    body = named(
        MESSAGE_START,
        block_start(
            0,
            {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_1",
                "content": {
                    "type": "web_search_tool_result_error",
                    "error_code": "max_uses_exceeded",
                },
            },
        ),
        block_stop(0),
        block_start(1, {"type": "text", "text": ""}),
        block_delta(1, {"type": "text_delta", "text": "Sorry."}),
        block_stop(1),
        *message_end(),
    )
    out = run(ANTHROPIC, body)
    assert faults(out) == [
        StreamFault(
            "error",
            "the provider's web_search_tool_result failed: max_uses_exceeded",
            "max_uses_exceeded",
        )
    ]
    assert content(out) == "Sorry." and finish(out) == ["stop"]


def test_anthropic_overloaded_error_event_keeps_the_text_before_it() -> None:
    # Synthetic: the corpus has no real overloaded_error.
    body = named(
        MESSAGE_START,
        block_start(0, {"type": "text", "text": ""}),
        block_delta(0, {"type": "text_delta", "text": "Partial"}),
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    out = run(ANTHROPIC, body)
    assert content(out) == "Partial"
    assert faults(out) == [StreamFault("error", "Overloaded", "overloaded_error")]


def test_anthropic_without_message_stop_is_incomplete() -> None:
    body = named(MESSAGE_START, block_start(0, {"type": "text", "text": "Hi"}))
    out = run(ANTHROPIC, body)
    assert content(out) == "Hi"
    assert faults(out)[-1].kind == "incomplete" and "message_stop" in faults(out)[-1].message


def test_anthropic_padded_json_and_unknown_types() -> None:
    body = (
        named(MESSAGE_START)
        + b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}        \n\n'
        + named(
            block_delta(0, {"type": "text_delta", "text": "ok"}),
            block_delta(0, {"type": "future_delta", "x": 1}),
            block_start(1, {"type": "container_upload", "file_id": "f"}),
            {"type": "some_future_event"},
            *message_end(),
        )
    )
    out = run(ANTHROPIC, body)
    assert content(out) == "ok" and not faults(out)


def test_anthropic_delta_with_wrong_field_type_is_a_chunk_error() -> None:
    body = named(MESSAGE_START, block_delta(0, {"type": "text_delta", "text": 5}))
    with pytest.raises(ChunkError, match="expected 'text' to be a string, got int 5") as caught:
        run(ANTHROPIC, body)
    assert caught.value.chunk == 1


# --- OpenAI Responses ---------------------------------------------------------------------

RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 7,
    "model": "gpt-resp",
    "status": "in_progress",
    "output": [],
}
RESPONSE_DONE = {
    **RESPONSE,
    "status": "completed",
    "usage": {"input_tokens": 5, "output_tokens": 9, "total_tokens": 14},
}

RESPONSES_FULL = named(
    {"type": "response.created", "sequence_number": 0, "response": RESPONSE},
    {"type": "response.in_progress", "sequence_number": 1, "response": RESPONSE},
    {
        "type": "response.output_item.added",
        "output_index": 0,
        "item": {"id": "rs_1", "type": "reasoning", "summary": []},
    },
    {"type": "response.reasoning_summary_part.added", "output_index": 0, "summary_index": 0},
    {
        "type": "response.reasoning_summary_text.delta",
        "output_index": 0,
        "summary_index": 0,
        "delta": "**Plan**",
    },
    {
        "type": "response.reasoning_summary_text.delta",
        "output_index": 0,
        "summary_index": 1,
        "delta": "**Act**",
    },
    {
        "type": "response.output_item.added",
        "output_index": 1,
        "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
    },
    {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": "Let"},
    {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": " me."},
    {"type": "response.output_text.done", "output_index": 1, "content_index": 0, "text": "Let me."},
    {
        "type": "response.output_item.added",
        "output_index": 2,
        "item": {
            "id": "fc_1",
            "type": "function_call",
            "call_id": "call_1",
            "name": "add",
            "arguments": "",
        },
    },
    {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": '{"a":'},
    {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": "1}"},
    {"type": "response.function_call_arguments.done", "output_index": 2, "arguments": '{"a":1}'},
    {
        "type": "response.output_item.done",
        "output_index": 2,
        "item": {
            "id": "fc_1",
            "type": "function_call",
            "call_id": "call_1",
            "name": "add",
            "arguments": '{"a":1}',
        },
    },
    {"type": "response.completed", "sequence_number": 9, "response": RESPONSE_DONE},
)


def test_responses_full_stream() -> None:
    out = run(RESPONSES, RESPONSES_FULL)
    assert reasoning(out) == "**Plan**\n\n**Act**"
    assert content(out) == "Let me."
    assert calls(out) == {2: {"id": "call_1", "name": "add", "arguments": '{"a":1}'}}
    assert finish(out) == ["tool_calls"]
    assert [c.choices[0].delta.role for c in chunks(out)].count("assistant") == 1
    last = chunks(out)[-1]
    assert last.usage is not None and last.usage.total_tokens == 14
    assert {(c.id, c.model, c.created) for c in chunks(out)} == {("resp_1", "gpt-resp", 7)}
    assert not faults(out)


def test_responses_arguments_sent_only_whole_are_emitted_once() -> None:
    body = named(
        {"type": "response.created", "response": RESPONSE},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"type": "function_call", "call_id": "c", "name": "f", "arguments": ""},
        },
        {"type": "response.function_call_arguments.done", "output_index": 0, "arguments": "{}"},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        },
        {"type": "response.completed", "response": RESPONSE_DONE},
    )
    assert calls(run(RESPONSES, body)) == {0: {"id": "c", "name": "f", "arguments": "{}"}}


def test_responses_reasoning_text_without_event_names() -> None:
    # OpenRouter and DeepSeek send no SSE event names; the payload type decides.
    body = sse(
        ": OPENROUTER PROCESSING",
        {"type": "response.created", "response": RESPONSE},
        {"type": "response.reasoning_text.delta", "output_index": 0, "delta": "2+2"},
        {"type": "response.output_text.delta", "output_index": 1, "delta": "4"},
        {"type": "response.completed", "response": RESPONSE_DONE},
        "data: [DONE]",
    )
    out = run(StreamKind("openrouter", "responses", "sse"), body)
    assert (reasoning(out), content(out), finish(out)) == ("2+2", "4", ["stop"])


def test_responses_refusal() -> None:
    # Synthetic: no real refusal stream was found.
    body = named(
        {"type": "response.created", "response": RESPONSE},
        {"type": "response.refusal.delta", "output_index": 0, "delta": "I can't"},
        {"type": "response.refusal.delta", "output_index": 0, "delta": " do that."},
        {"type": "response.refusal.done", "output_index": 0, "refusal": "I can't do that."},
        {"type": "response.completed", "response": RESPONSE_DONE},
    )
    out = run(RESPONSES, body)
    assert faults(out) == [StreamFault("refusal", "I can't do that.")] and content(out) == ""


def test_responses_failed_incomplete_and_error() -> None:
    failed = {**RESPONSE, "status": "failed", "error": {"code": "server_error", "message": "boom"}}
    out = run(RESPONSES, named({"type": "response.failed", "response": failed}))
    assert faults(out) == [StreamFault("error", "boom", "server_error")]

    cut = {
        **RESPONSE,
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
    }
    out = run(
        RESPONSES,
        named(
            {"type": "response.output_text.delta", "delta": "a"},
            {"type": "response.incomplete", "response": cut},
        ),
    )
    assert finish(out) == ["length"]
    assert faults(out) == [
        StreamFault(
            "incomplete", "the response is incomplete: max_output_tokens", "max_output_tokens"
        )
    ]

    error = {"type": "error", "code": "rate_limit_exceeded", "message": "slow down", "param": None}
    assert faults(run(RESPONSES, named(error))) == [
        StreamFault("error", "slow down", "rate_limit_exceeded")
    ]


def test_responses_background_resume_starts_mid_stream() -> None:
    body = named(
        {"type": "response.queued", "sequence_number": 1, "response": RESPONSE},
        {"type": "response.in_progress", "sequence_number": 2, "response": RESPONSE},
        {"type": "response.output_text.delta", "delta": "2 + 2 equals 4."},
        {"type": "response.completed", "response": RESPONSE_DONE},
    )
    out = run(RESPONSES, body)
    assert chunks(out)[0].choices[0].delta.role == "assistant"
    assert content(out) == "2 + 2 equals 4." and not faults(out)


# --- Gemini -------------------------------------------------------------------------------


def gemini(parts: list[dict[str, Any]], finish_reason: Any = None, **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
    return {"candidates": [candidate], "modelVersion": "gemini-test", "responseId": "r1", **extra}


USAGE = {
    "promptTokenCount": 7,
    "candidatesTokenCount": 3,
    "thoughtsTokenCount": 5,
    "totalTokenCount": 15,
}
GEMINI_EVENTS = [
    gemini([{"text": "Thinking about it.", "thought": True}]),
    gemini(
        [{"functionCall": {"name": "temp", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"}]
    ),
    gemini([{"functionCall": {"name": "temp", "args": {"city": "London"}}}]),
    gemini([{"text": ""}], "STOP", usageMetadata=USAGE),
]


def test_gemini_sse_with_crlf() -> None:
    out = run(GEMINI_SSE, sse(*GEMINI_EVENTS, end="\r\n"))
    assert reasoning(out) == "Thinking about it."
    assert calls(out) == {
        0: {"id": "call_r1_0", "name": "temp", "arguments": '{"city": "Paris"}'},
        1: {"id": "call_r1_1", "name": "temp", "arguments": '{"city": "London"}'},
    }
    signed = [
        c.choices[0].delta for c in chunks(out) if c.choices[0].delta.reasoning_content_signature
    ]
    assert [(d.reasoning_content, d.reasoning_content_signature) for d in signed] == [("", "c2ln")]
    assert finish(out) == ["tool_calls"]
    last = chunks(out)[-1]
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (
        7,
        8,
        15,
    )
    assert {c.model for c in chunks(out)} == {"gemini-test"} and not faults(out)


def test_gemini_json_array_with_integer_enums() -> None:
    elements = [gemini([{"text": "Hello"}]), gemini([{"text": " there"}], 1)]
    body = ("[" + "\n,\r\n".join(json.dumps(e, indent=2) for e in elements) + "]").encode()
    out = run(GEMINI_ARRAY, body)
    assert content(out) == "Hello there" and finish(out) == ["stop"] and not faults(out)


def test_gemini_array_cut_mid_element_is_incomplete() -> None:
    body = ("[" + json.dumps(gemini([{"text": "Hel"}])) + ",\n" + '{"candidates": [{"cont').encode()
    out = run(GEMINI_ARRAY, body)
    assert content(out) == "Hel" and [f.kind for f in faults(out)] == ["incomplete"]


def test_gemini_given_call_ids_are_kept_and_thought_signatures_ride_with_thoughts() -> None:
    body = sse(
        gemini([{"text": "hmm", "thought": True, "thoughtSignature": "s1"}]),
        gemini([{"functionCall": {"id": "dv8", "name": "f", "args": {}}}], "STOP"),
    )
    out = run(GEMINI_SSE, body)
    first = chunks(out)[0].choices[0].delta
    assert (first.reasoning_content, first.reasoning_content_signature) == ("hmm", "s1")
    assert calls(out) == {0: {"id": "dv8", "name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "malformed_function_call"),
        (2, "length"),
        (7, "content_filter"),
        (42, "finish_reason_42"),
    ],
)
def test_gemini_finish_reasons(reason: Any, expected: str) -> None:
    assert finish(run(GEMINI_SSE, sse(gemini([{"text": "x"}], reason)))) == [expected]


def test_gemini_without_finish_reason_is_incomplete() -> None:
    out = run(GEMINI_SSE, sse(gemini([{"text": "cut"}])))
    assert content(out) == "cut" and faults(out)[-1].kind == "incomplete"


def test_gemini_error_and_blocked_prompt() -> None:
    error = {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}
    assert faults(run(GEMINI_SSE, sse(error))) == [
        StreamFault("error", "overloaded", "UNAVAILABLE", status=503)
    ]
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": "g"}
    assert faults(run(GEMINI_SSE, sse(blocked))) == [
        StreamFault("error", "the prompt was blocked: SAFETY", "SAFETY")
    ]


# --- Ollama -------------------------------------------------------------------------------


def ndjson(*values: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(v).encode() + b"\n" for v in values)


def test_ollama_chat_with_thinking_and_tool_calls() -> None:
    body = ndjson(
        {
            "model": "qwen3",
            "message": {"role": "assistant", "content": "", "thinking": "Hmm."},
            "done": False,
        },
        {
            "model": "qwen3",
            "message": {
                "role": "assistant",
                "content": "Calling.",
                "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}],
            },
            "done": False,
        },
        {
            "model": "qwen3",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 4,
            "eval_count": 6,
        },
    )
    out = run(OLLAMA_CHAT, body)
    assert (reasoning(out), content(out)) == ("Hmm.", "Calling.")
    assert calls(out) == {0: {"id": "call_0", "name": "f", "arguments": '{"x": 1}'}}
    assert finish(out) == ["tool_calls"]
    usage = chunks(out)[-1].usage
    assert usage is not None and usage.total_tokens == 10 and not faults(out)


def test_ollama_generate_and_cut_stream() -> None:
    body = ndjson(
        {"model": "llama3", "response": "A", "done": False},
        {"model": "llama3", "response": " joke", "done": True, "done_reason": "length"},
    )
    out = run(OLLAMA_GENERATE, body)
    assert content(out) == "A joke" and finish(out) == ["length"] and not faults(out)
    cut = run(OLLAMA_GENERATE, body.split(b"\n")[0])
    assert content(cut) == "A" and faults(cut)[-1].kind == "incomplete"


def test_ollama_error_line() -> None:
    out = run(OLLAMA_CHAT, ndjson({"error": "model 'x' not found"}))
    assert faults(out) == [StreamFault("error", "model 'x' not found")]


# --- detection ----------------------------------------------------------------------------


def detect(
    uri: str,
    body: bytes,
    *,
    status: int = 200,
    headers: dict[str, list[str]] | None = None,
    request_body: bytes = b"",
    method: str = "POST",
    **overrides: str,
) -> StreamKind:
    request = RecordedRequest(method=method, uri=uri, body=request_body)
    response = RecordedResponse(status=status, headers=headers or {}, body=body)
    return detect_stream(request, response, **overrides)


@pytest.mark.parametrize(
    ("uri", "body", "expected"),
    [
        (
            "https://api.openai.com/v1/chat/completions",
            OPENAI_TEXT,
            ("openai", "chat-completions", "sse"),
        ),
        (
            "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=1",
            OPENAI_TEXT,
            ("azure-openai", "chat-completions", "sse"),
        ),
        (
            "https://api.mistral.ai/v1/chat/completions#stream",
            OPENAI_TEXT,
            ("mistral", "chat-completions", "sse"),
        ),
        (
            "https://api.groq.com/openai/v1/chat/completions",
            OPENAI_TEXT,
            ("groq", "chat-completions", "sse"),
        ),
        (
            "https://router.huggingface.co/novita/v3/openai/chat/completions",
            OPENAI_TEXT,
            ("huggingface", "chat-completions", "sse"),
        ),
        ("https://api.writer.com/v1/chat", OPENAI_TEXT, ("writer", "chat-completions", "sse")),
        (
            "http://localhost:8000/v1/chat/completions",
            OPENAI_TEXT,
            ("openai-compatible", "chat-completions", "sse"),
        ),
        (
            "http://localhost:8000/v1/completions",
            b"data: {}\n\n",
            ("openai-compatible", "completions", "sse"),
        ),
        (
            "https://api.anthropic.com/v1/messages?beta=true",
            ANTHROPIC_FULL,
            ("anthropic", "messages", "sse"),
        ),
        ("https://api.openai.com/v1/responses", RESPONSES_FULL, ("openai", "responses", "sse")),
        (
            "https://api.openai.com/v1/responses/resp_1?starting_after=0&stream=true",
            RESPONSES_FULL,
            ("openai", "responses", "sse"),
        ),
        ("https://api.deepseek.com/responses", RESPONSES_FULL, ("deepseek", "responses", "sse")),
        (
            "https://generativelanguage.googleapis.com/v1beta/models/g:streamGenerateContent?alt=sse",
            sse(*GEMINI_EVENTS, end="\r\n"),
            ("gemini", "generate-content", "sse"),
        ),
        (
            "https://generativelanguage.googleapis.com/v1beta/models/g:streamGenerateContent",
            b'[{"candidates": []}\n]',
            ("gemini", "generate-content", "json-array"),
        ),
        (
            "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/google/models/"
            "g:streamGenerateContent?%24alt=json%3Benum-encoding%3Dint",
            b"[{}]",
            ("gemini", "generate-content", "json-array"),
        ),
        (
            "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/anthropic/models/"
            "claude:streamRawPredict",
            ANTHROPIC_FULL,
            ("anthropic", "messages", "sse"),
        ),
        (
            "http://127.0.0.1:11434/api/chat",
            b'{"done": false}\n',
            ("ollama", "ollama-chat", "ndjson"),
        ),
        (
            "http://127.0.0.1:11434/api/generate",
            b'{"done": false}\n',
            ("ollama", "ollama-generate", "ndjson"),
        ),
        (
            "https://api.openai.com/v1/chat/completions",
            b'{"object": "chat.completion"}',
            ("openai", "chat-completions", "json"),
        ),
        ("https://api.openai.com/v1/traces/ingest", b"", ("openai", "unknown", "none")),
        ("https://example.test/proxy", ANTHROPIC_FULL, ("anthropic", "messages", "sse")),
        (
            "https://example.test/proxy",
            OPENAI_TEXT,
            ("openai-compatible", "chat-completions", "sse"),
        ),
        ("https://example.test/proxy", RESPONSES_FULL, ("openai-compatible", "responses", "sse")),
        (
            "https://example.test/proxy",
            b'{"model":"m","message":{},"done":false}\n{}',
            ("ollama", "ollama-chat", "ndjson"),
        ),
    ],
)
def test_detection(uri: str, body: bytes, expected: tuple[str, str, str]) -> None:
    assert detect(uri, body) == StreamKind(*expected)  # type: ignore[arg-type]


def test_detection_needs_no_response_headers_and_ignores_a_lying_content_encoding() -> None:
    headers = {"Content-Encoding": ["gzip"], "Content-Type": ["application/json"]}
    kind = detect("https://api.openai.com/v1/chat/completions", OPENAI_TEXT, headers=headers)
    assert kind.framing == "sse"


def test_gemini_error_labelled_event_stream_is_a_json_body() -> None:
    body = (
        b'{\n  "error": {"code": 400, "message": "API key not valid.",'
        b' "status": "INVALID_ARGUMENT"}\n}\n'
    )
    kind = detect(
        "https://generativelanguage.googleapis.com/v1beta/models/g:streamGenerateContent?alt=sse",
        body,
        status=400,
        headers={"content-type": ["text/event-stream"]},
    )
    assert kind == StreamKind("gemini", "generate-content", "json")
    assert run(kind, body, status=400) == [
        StreamFault("error", "API key not valid.", "INVALID_ARGUMENT", status=400)
    ]


def test_an_empty_body_for_a_stream_request_is_a_stream_cut_at_once() -> None:
    uri = "https://api.openai.com/v1/chat/completions"
    kind = detect(uri, b"", request_body=b'{"stream": true}')
    assert kind.framing == "sse"
    assert [f.kind for f in faults(run(kind, b""))] == ["incomplete"]
    assert detect(uri, b"", request_body=b'{"stream": false}').framing == "none"
    assert detect(uri, b"", status=500, request_body=b'{"stream": true}').framing == "none"
    gemini_uri = "https://generativelanguage.googleapis.com/v1beta/models/g:streamGenerateContent"
    assert detect(gemini_uri, b"").framing == "json-array"
    assert detect(gemini_uri + "?alt=sse", b"").framing == "sse"


def test_ollama_told_not_to_stream_answers_one_json_body() -> None:
    kind = detect(
        "http://localhost:11434/api/chat", b'{"done": true}', request_body=b'{"stream": false}'
    )
    assert kind.framing == "json"


def test_overrides_win() -> None:
    kind = detect("https://example.test/x", OPENAI_TEXT, provider="acme", api="chat-completions")
    assert kind == StreamKind("acme", "chat-completions", "sse")
    kind = detect("https://api.openai.com/v1/chat/completions", ANTHROPIC_FULL, api="messages")
    assert kind == StreamKind("openai", "messages", "sse")


@pytest.mark.parametrize(
    ("uri", "body", "method", "names"),
    [
        (
            "https://api.cohere.com/v1/chat",
            b'{"is_finished":false,"event_type":"stream-start"}\n{"is_finished":false}\n',
            "POST",
            ("cohere", "Cohere v1 chat", "/v2/chat"),
        ),
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/ai21.jamba-instruct-v1%3A0/invoke-with-response-stream",
            b"\x00\x00\x01\xe8\x00\x00",
            "POST",
            ("bedrock", "unadapted model family", "AI21, DeepSeek and Writer ones are not"),
        ),
        (
            "https://bedrock-agent-runtime.us-east-2.amazonaws.com/agents/A/agentAliases/T/sessions/s/text",
            b"\x00\x00\x02\xfd",
            "POST",
            ("bedrock", "InvokeAgent", "traces of the agent's own orchestration"),
        ),
        (
            "grpc:grok-4-fast",
            b'{"chunk": {"id": "x"}}\n',
            "GRPC",
            ("xai", "gRPC", "protobuf"),
        ),
    ],
)
def test_recognised_streams_without_an_adapter_are_refused_with_the_reason(
    uri: str, body: bytes, method: str, names: tuple[str, ...]
) -> None:
    # Cohere's v1 stream says what it is only in its content type.
    headers = {"content-type": ["application/stream+json"]}
    with pytest.raises(UnsupportedStreamError) as caught:
        detect(uri, body, method=method, headers=headers)
    text = str(caught.value)
    assert "unsupported" in text and all(name in text for name in names)


def test_bedrock_paths_are_recognised_behind_a_local_server() -> None:
    kind = detect("http://127.0.0.1:8000/model/m-v1%3A0/converse-stream", b"\x00\x00\x00\xb8")
    assert (kind.provider, kind.api, kind.framing, kind.model) == (
        "bedrock",
        "converse-stream",
        "eventstream",
        "m-v1:0",
    )


@pytest.mark.parametrize(
    ("uri", "body", "api", "framing"),
    [
        (
            "https://api.anthropic.com/v1/complete",
            b'event: completion\r\ndata: {"completion": "x"}\r\n\r\n',
            "complete",
            "sse",
        ),
        (
            "https://api.openai.com/v1/threads/thread_1/runs",
            b"event: thread.run.created\ndata: {}\n\n",
            "assistants",
            "sse",
        ),
        (
            "https://api.cohere.com/v2/chat",
            b"event: message-start\ndata: {}\n\n",
            "cohere-chat",
            "sse",
        ),
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse-stream",
            b"\x00\x00\x00\xb8\x00\x00\x00R\xc0\xf0",
            "converse-stream",
            "eventstream",
        ),
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-3-7-sonnet-v1%3A0/invoke-with-response-stream",
            b"\x00\x00\x01\xe8\x00\x00",
            "invoke-stream",
            "eventstream",
        ),
        (
            "https://generativelanguage.googleapis.com/v1beta/interactions",
            b'event: interaction.created\ndata: {"event_type": "interaction.created"}\n\n',
            "interactions",
            "sse",
        ),
    ],
)
def test_the_apis_adapted_later_are_detected(uri: str, body: bytes, api: str, framing: str) -> None:
    kind = detect(uri, body)
    assert (kind.api, kind.framing) == (api, framing) and kind.adapted


def test_non_streamed_bodies_of_stream_only_apis_are_detected_not_refused() -> None:
    kind = detect("https://api.openai.com/v1/assistants", b'{"id": "asst_1"}')
    assert kind == StreamKind("openai", "assistants", "json")
    with pytest.raises(UnsupportedStreamError, match="whole reply of openai OpenAI Assistants"):
        chunks_from_json_body(kind, b'{"id": "asst_1"}')


def test_a_body_still_gzipped_is_reported() -> None:
    with pytest.raises(StreamDecodeError, match="expected identity-encoded bytes, got a gzip body"):
        detect("https://api.openai.com/v1/chat/completions", b"\x1f\x8b\x08\x00")


def test_stream_decoder_refuses_unadapted_stream_kinds() -> None:
    with pytest.raises(UnsupportedStreamError, match="unsupported"):
        StreamDecoder(StreamKind("bedrock", "invoke-agent", "eventstream"))
    with pytest.raises(StreamDecodeError, match="expected a framing"):
        StreamDecoder(StreamKind("openai", "chat-completions", "xml"))  # type: ignore[arg-type]


# --- HTTP error bodies and whole JSON replies ---------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"error": {"message": "The model `x` does not exist",'
            b' "type": "invalid_request_error", "param": null, "code": "model_not_found"}}',
            StreamFault("error", "The model `x` does not exist", "model_not_found", 404),
        ),
        (
            b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
            StreamFault("error", "Overloaded", "overloaded_error", 404),
        ),
        (
            b'{"error": {"code": 429, "message": "Resource exhausted.",'
            b' "status": "RESOURCE_EXHAUSTED"}}',
            StreamFault("error", "Resource exhausted.", "RESOURCE_EXHAUSTED", 404),
        ),
        (
            b'[{"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}]',
            StreamFault("error", "bad", "INVALID_ARGUMENT", 404),
        ),
        (
            b'{"error": {"code": 429, "message": "Provider returned error",'
            b' "metadata": {"raw": "slow"}}}',
            StreamFault("error", "Provider returned error (slow)", None, 404),
        ),
        (
            b'{"error": "bad_credentials", "message": "Bad credentials"}',
            StreamFault("error", "Bad credentials", "bad_credentials", 404),
        ),
        (b'{"error": "model not found"}', StreamFault("error", "model not found", None, 404)),
        (
            b'{"message": "The provided model identifier is invalid."}',
            StreamFault("error", "The provided model identifier is invalid.", None, 404),
        ),
        (
            b"<html>\n  Not   Found\n</html>",
            StreamFault("error", "<html> Not Found </html>", None, 404),
        ),
        (b"", StreamFault("error", "HTTP 404", None, 404)),
    ],
)
def test_http_error_fault(body: bytes, expected: StreamFault) -> None:
    assert http_error_fault(404, body) == expected


def test_whole_chat_completion_replays_as_chunks() -> None:
    body = {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "created": 3,
        "model": "gpt-test",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "Sure.",
                    "reasoning_content": "why",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
    out = chunks_from_json_body(StreamKind("openai", "chat-completions", "json"), json.dumps(body))
    assert (content(out), reasoning(out), finish(out)) == ("Sure.", "why", ["tool_calls"])
    assert calls(out) == {0: {"id": "c1", "name": "f", "arguments": "{}"}}
    assert chunks(out)[0].usage is not None and not faults(out)


def test_whole_anthropic_message_replays_as_chunks() -> None:
    body = {
        "id": "msg_9",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": "s"},
            {"type": "text", "text": "Hi."},
            {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    out = chunks_from_json_body(
        StreamKind("anthropic", "messages", "json"), json.dumps(body).encode()
    )
    assert (reasoning(out), content(out), finish(out)) == ("hm", "Hi.", ["tool_calls"])
    assert calls(out) == {2: {"id": "toolu_9", "name": "f", "arguments": '{"a": 1}'}}
    assert [c.choices[0].delta.reasoning_content_signature for c in chunks(out)].count("s") == 1


def test_whole_responses_object_replays_as_chunks() -> None:
    body = {
        **RESPONSE_DONE,
        "output": [
            {
                "type": "reasoning",
                "summary": [
                    {"type": "summary_text", "text": "a"},
                    {"type": "summary_text", "text": "b"},
                ],
            },
            {"type": "message", "content": [{"type": "output_text", "text": "Hi."}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": '{"x":1}'},
        ],
    }
    out = chunks_from_json_body(StreamKind("openai", "responses", "json"), json.dumps(body))
    assert (reasoning(out), content(out), finish(out)) == ("a\n\nb", "Hi.", ["tool_calls"])
    assert calls(out) == {2: {"id": "c", "name": "f", "arguments": '{"x":1}'}}


def test_whole_gemini_and_ollama_replies() -> None:
    out = chunks_from_json_body(
        StreamKind("gemini", "generate-content", "json"),
        json.dumps(gemini([{"text": "Hi"}], "STOP")),
    )
    assert content(out) == "Hi" and finish(out) == ["stop"]
    reply = {"model": "m", "message": {"role": "assistant", "content": "Yo"}, "done": True}
    out = chunks_from_json_body(StreamKind("ollama", "ollama-chat", "json"), json.dumps(reply))
    assert content(out) == "Yo" and finish(out) == ["stop"]


def test_json_body_errors() -> None:
    kind = StreamKind("openai", "chat-completions", "json")
    assert chunks_from_json_body(kind, b'{"error": {"message": "m"}}') == [
        StreamFault("error", "m")
    ]
    assert chunks_from_json_body(kind, b"{}", status=500) == [
        StreamFault("error", "{}", status=500)
    ]
    assert chunks_from_json_body(kind, b"  ") == []
    with pytest.raises(StreamDecodeError, match="cannot decode the openai Chat Completions body"):
        chunks_from_json_body(kind, b"<html>")


def test_stream_decoder_converts_a_json_body_at_close() -> None:
    kind = StreamKind("openai", "chat-completions", "json")
    body = json.dumps({"object": "chat.completion", "choices": [{"message": {"content": "ok"}}]})
    decoder = StreamDecoder(kind)
    assert decoder.feed(body[:10].encode()) == []
    out = decoder.feed(body[10:].encode()) + decoder.close()
    assert content(out) == "ok"
    assert run(StreamKind("openai", "unknown", "none"), b"") == []


# --- properties ---------------------------------------------------------------------------

SAMPLES: list[tuple[StreamKind, bytes]] = [
    (OPENAI, OPENAI_TEXT),
    (
        StreamKind("groq", "chat-completions", "sse"),
        sse(chat_chunk({"reasoning": "é🙂"}), ("error", {"error": {"message": "x"}})),
    ),
    (ANTHROPIC, ANTHROPIC_FULL),
    (RESPONSES, RESPONSES_FULL),
    (GEMINI_SSE, sse(*GEMINI_EVENTS, end="\r\n")),
    (
        GEMINI_ARRAY,
        ("[" + "\n,\r\n".join(json.dumps(e, indent=2) for e in GEMINI_EVENTS) + "]").encode(),
    ),
    (
        OLLAMA_CHAT,
        ndjson(
            {"model": "m", "message": {"content": "héllo"}, "done": False},
            {"model": "m", "done": True},
        ),
    ),
    (OPENAI, sse(chat_chunk({"content": "a"})) + b"data: {bad\n\n" + sse("data: [DONE]")),
]
cuts = st.lists(st.integers(min_value=0), max_size=15)
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(sample=st.sampled_from(SAMPLES), cuts=cuts)
def test_any_split_of_a_body_gives_the_same_output(
    sample: tuple[StreamKind, bytes], cuts: list[int]
) -> None:
    kind, body = sample
    assert outcome(kind, split_at(body, cuts)) == outcome(kind, [body])


@PROPS
@given(sample=st.sampled_from(SAMPLES), data=st.data())
def test_byte_by_byte_gives_the_same_output(
    sample: tuple[StreamKind, bytes], data: st.DataObject
) -> None:
    kind, body = sample
    pieces = [body[i : i + 1] for i in range(len(body))]
    assert outcome(kind, pieces) == outcome(kind, [body])


KINDS = [
    OPENAI,
    StreamKind("openai", "completions", "sse"),
    ANTHROPIC,
    RESPONSES,
    GEMINI_SSE,
    GEMINI_ARRAY,
    OLLAMA_CHAT,
    OLLAMA_GENERATE,
]


@PROPS
@given(kind=st.sampled_from(KINDS), body=st.binary(max_size=150), cuts=cuts)
def test_arbitrary_bytes_give_output_or_our_errors(
    kind: StreamKind, body: bytes, cuts: list[int]
) -> None:
    # outcome() lets only StreamreelError through; anything else fails the test.
    assert outcome(kind, split_at(body, cuts)) == outcome(kind, [body])


EVENT_TYPES = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "error",
    "ping",
    "response.created",
    "response.output_item.added",
    "response.output_item.done",
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.reasoning_summary_text.delta",
    "response.refusal.delta",
    "response.refusal.done",
    "response.completed",
    "response.incomplete",
    "response.failed",
]
FIELDS = [
    "type",
    "index",
    "delta",
    "content_block",
    "message",
    "usage",
    "text",
    "thinking",
    "signature",
    "partial_json",
    "id",
    "name",
    "input",
    "data",
    "stop_reason",
    "error",
    "response",
    "item",
    "output_index",
    "summary_index",
    "arguments",
    "call_id",
    "choices",
    "content",
    "tool_calls",
    "function",
    "refusal",
    "candidates",
    "parts",
    "functionCall",
    "args",
    "finishReason",
    "thought",
    "thoughtSignature",
    "usageMetadata",
    "promptFeedback",
    "blockReason",
    "done",
    "done_reason",
    "model",
    "x_groq",
    "status",
    "incomplete_details",
    "reasoning",
    "finish_reason",
]
leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=4), st.sampled_from(EVENT_TYPES)
)
payloads = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=5)
    ),
    max_leaves=25,
)


@PROPS
@given(kind=st.sampled_from(KINDS), events=st.lists(payloads, max_size=6), cuts=cuts)
def test_adapters_are_total_over_json_of_any_shape(
    kind: StreamKind, events: list[Any], cuts: list[int]
) -> None:
    # Well-framed events whose payloads have the adapters' field names at every level but any
    # shape: only chunks, faults or streamreel's errors may come out.
    if kind.framing == "sse":
        body = sse(*events)
    elif kind.framing == "ndjson":
        body = b"".join(json.dumps(e).encode() + b"\n" for e in events)
    else:
        body = json.dumps(events).encode()
    assert outcome(kind, split_at(body, cuts)) == outcome(kind, [body])
