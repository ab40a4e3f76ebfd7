"""The adapters on every real recorded stream of the corpus, checked against independent readers.

For OpenAI-compatible Chat Completions streams the oracle is the openai SDK's own
``ChatCompletionStreamState``, for Anthropic streams the anthropic SDK's ``accumulate_event``,
both fed from the SDK's own SSE parser, so nothing of streamreel's decoding is on the oracle's
side. Responses streams are checked against the provider's own final ``response.completed``
object; Gemini, Ollama and legacy completion streams against a plain reading of the payloads.

Runs only where the corpus sits beside the project (the ``corpus_dir`` fixture).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from anthropic_oracle import accumulate
from conftest import CORPUS
from openai._models import construct_type
from openai._streaming import SSEDecoder as SDKSSEDecoder
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk as SDKChunk
from streamreel.cassettes.storage import load_cassette
from streamreel.core.cassette import Interaction
from streamreel.core.chunks import ChatCompletionChunk, StreamFault
from streamreel.core.errors import UnsupportedStreamError
from streamreel.core.providers import (
    StreamDecoder,
    StreamKind,
    chunks_from_json_body,
    detect_stream,
    http_error_fault,
)
from streamreel.core.providers.detection import whole_reply_adapted

Out = ChatCompletionChunk | StreamFault


class Case(NamedTuple):
    path: str
    index: int
    streamed: bool


def _cases() -> list[Case]:
    inventory = CORPUS / "inventory.json"
    if not inventory.is_file():
        return []
    entries = json.loads(inventory.read_text())
    return [
        Case(entry["file"], index, bool(item.get("stream")))
        for entry in entries
        for index, item in enumerate(entry["interactions"])
    ]


CASES = _cases()
STREAMS = [case for case in CASES if case.streamed]
WHOLE = [case for case in CASES if not case.streamed]

# What each streamed interaction is: the folder's default, then overrides by file name.
REFUSED = "refused"
FOLDER_KIND: dict[str, tuple[str, str, str]] = {
    "anthropic": ("anthropic", "messages", "sse"),
    "azure-openai": ("azure-openai", "chat-completions", "sse"),
    "deepseek": ("deepseek", "chat-completions", "sse"),
    "gemini": ("gemini", "generate-content", "sse"),
    "groq": ("groq", "chat-completions", "sse"),
    "huggingface": ("huggingface", "chat-completions", "sse"),
    "mistral": ("mistral", "chat-completions", "sse"),
    "openai": ("openai", "chat-completions", "sse"),
    "openrouter": ("openrouter", "chat-completions", "sse"),
    "together": ("together", "chat-completions", "sse"),
    "vllm": ("openai-compatible", "chat-completions", "sse"),
    "writer": ("writer", "chat-completions", "sse"),
    "zai": ("zai", "chat-completions", "sse"),
}
FILE_KIND: list[tuple[str, tuple[str, str, str] | tuple[str, str, str, str]]] = [
    ("anthropic_instrumentation_completions_streaming", ("anthropic", "complete", "sse")),
    ("deepseek_responses", ("deepseek", "responses", "sse")),
    ("llm-gemini__", ("gemini", "generate-content", "json-array")),
    ("gemini_token_counts_streaming", ("gemini", "generate-content", "json-array")),
    ("google_streaming_returns_usage_metrics", ("gemini", "generate-content", "json")),
    ("interactions_instrumentation", ("gemini", "interactions", "sse")),
    ("ollama_streaming_chat", ("ollama", "ollama-chat", "ndjson")),
    ("ollama_streaming_generation", ("ollama", "ollama-generate", "ndjson")),
    ("streaming_new_assistant", ("openai", "assistants", "sse")),
    ("completion_streaming_with_events", ("openai", "completions", "sse")),
    ("VLLMOpenAI", ("openai-compatible", "completions", "sse")),
    ("openai_agents", ("openai", "responses", "sse")),
    ("cohere", ("cohere", "cohere-chat", "sse")),
    ("TestInvokeModelWithStreamResponse", ("bedrock", "invoke-stream", "eventstream")),
    ("bedrock-agent", (REFUSED, "bedrock", "InvokeAgent", "orchestration")),
    ("converse-stream-responses", ("bedrock", "converse-stream", "eventstream")),
    ("xai", (REFUSED, "xai", "gRPC", "protobuf")),
    ("responses", ("", "responses", "sse")),
]


def expected(case: Case) -> tuple[str, ...]:
    folder = case.path.split("/")[0]
    default = FOLDER_KIND.get(folder, ("", "", ""))
    for marker, kind in FILE_KIND:
        if marker in case.path:
            if kind[0] == REFUSED:
                return kind
            provider, api, framing = kind
            return (provider or default[0], api, framing)
    return default


def load(case: Case) -> Interaction:
    return load_cassette(CORPUS / case.path).interactions[case.index]


def decode(kind: StreamKind, body: bytes, size: int | None = None, status: int = 200) -> list[Out]:
    decoder = StreamDecoder(kind, status=status)
    out: list[Out] = []
    step = size or max(len(body), 1)
    for start in range(0, len(body), step):
        out.extend(decoder.feed(body[start : start + step]))
    out.extend(decoder.close())
    return out


def ident(case: Case) -> str:
    return f"{case.path.split('/')[-1][:70]}#{case.index}"


# --- what our chunks add up to --------------------------------------------------------------


class Totals(NamedTuple):
    content: str
    reasoning: str
    calls: dict[int, tuple[str | None, str, Any]]
    finish: str | None
    faults: list[StreamFault]
    signatures: list[str]
    redacted: list[str]


def totals(out: list[Out], choice: int = 0) -> Totals:
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, list[Any]] = {}
    finish = None
    signatures: list[str] = []
    redacted: list[str] = []
    for item in out:
        if isinstance(item, StreamFault):
            continue
        assert item.model, "every chunk carries the model"
        for c in item.choices:
            if c.index != choice:
                continue
            delta = c.delta
            content.append(delta.content or "")
            reasoning.append(delta.reasoning_content or "")
            if delta.reasoning_content_signature:
                signatures.append(delta.reasoning_content_signature)
            if delta.redacted_reasoning_content:
                redacted.append(delta.redacted_reasoning_content)
            for fragment in delta.tool_calls or []:
                assert fragment.index is not None
                call = calls.setdefault(fragment.index, [None, "", ""])
                if fragment.id:
                    # Concatenated, as the SDK does: one server (Kimi via OpenRouter) restates
                    # the id on every fragment, and the chunks pass that through unchanged.
                    call[0] = (call[0] or "") + fragment.id
                if fragment.function is not None:
                    call[1] += fragment.function.name or ""
                    call[2] += fragment.function.arguments or ""
            finish = c.finish_reason or finish
    parsed = {i: (c[0], c[1], json.loads(c[2] or "{}")) for i, c in calls.items()}
    faults = [item for item in out if isinstance(item, StreamFault)]
    return Totals(
        "".join(content), "".join(reasoning), parsed, finish, faults, signatures, redacted
    )


def sdk_events(body: bytes) -> Iterator[tuple[str | None, str]]:
    for event in SDKSSEDecoder().iter_bytes(iter([body])):
        yield event.event, event.data


# --- the oracles ----------------------------------------------------------------------------


def openai_oracle(body: bytes) -> dict[int, Totals]:
    """What the openai SDK accumulates from the same bytes, per choice."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    fed = False
    for name, data in sdk_events(body):
        if data.strip() == "[DONE]" or name == "error":
            continue
        payload = json.loads(data)
        if payload.get("error") is not None:
            continue  # the SDK raises on these; the fault is checked separately
        _sdk_compatible(payload)
        state.handle_chunk(construct_type(type_=SDKChunk, value=payload))  # type: ignore[arg-type]
        fed = True
    assert fed
    result: dict[int, Totals] = {}
    for choice in state.current_completion_snapshot.choices:
        message = choice.message
        extra = message.model_extra or {}
        reasoning = (extra.get("reasoning_content") or "") + (extra.get("reasoning") or "")
        calls = {
            i: (call.id, call.function.name, json.loads(call.function.arguments or "{}"))
            for i, call in enumerate(message.tool_calls or [])
        }
        refusal = [StreamFault("refusal", message.refusal)] if message.refusal else []
        result[choice.index] = Totals(
            message.content or "", reasoning, calls, choice.finish_reason, refusal, [], []
        )
    return result


def _sdk_compatible(payload: dict[str, Any]) -> None:
    """Rewrite the shapes the openai SDK cannot take into what they mean.

    Mistral: a tool call without ``index`` is a whole call, numbered in arrival order; content
    given as typed parts is text parts (``content``) and thinking parts (``reasoning_content``).
    Writer: ``"type": null`` on later tool-call fragments means "not restated" (the SDK would
    overwrite the call's type with it and then fail its own assertion).
    """
    for choice in payload.get("choices") or []:
        delta = choice.get("delta") or {}
        for number, call in enumerate(delta.get("tool_calls") or []):
            call.setdefault("index", number)
            for key in [key for key, value in call.items() if value is None]:
                del call[key]
        parts = delta.get("content")
        if isinstance(parts, list):
            text = [p["text"] for p in parts if p.get("type") == "text"]
            thinking = [
                t["text"]
                for p in parts
                if p.get("type") == "thinking"
                for t in p["thinking"]
                if t.get("type") == "text"
            ]
            delta["content"] = "".join(text) or None
            if thinking:
                delta["reasoning_content"] = "".join(thinking)


def anthropic_oracle(body: bytes) -> tuple[Totals, Any]:
    """What the anthropic SDK accumulates from the same bytes."""
    snapshot: Any = None
    json_bufs: dict[int, bytes] = {}
    for _name, data in sdk_events(body):
        payload = json.loads(data)
        if payload.get("type") in ("ping", "error"):
            continue
        snapshot = accumulate(payload, snapshot, json_bufs)
    text = "".join(b.text for b in snapshot.content if b.type == "text")
    thinking = "".join(b.thinking for b in snapshot.content if b.type == "thinking")
    signatures = [b.signature for b in snapshot.content if b.type == "thinking" and b.signature]
    redacted = [b.data for b in snapshot.content if b.type == "redacted_thinking"]
    calls = {
        i: (b.id, b.name, b.input) for i, b in enumerate(snapshot.content) if b.type == "tool_use"
    }
    finish = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"}.get(
        snapshot.stop_reason, snapshot.stop_reason
    )
    return Totals(text, thinking, calls, finish, [], signatures, redacted), snapshot


# --- tests ------------------------------------------------------------------------------------


def test_the_corpus_is_all_here(corpus_dir: Path) -> None:
    assert len({case.path for case in CASES}) == 86
    supported = refused = 0
    for case in STREAMS:
        interaction = load(case)
        try:
            detect_stream(interaction.request, interaction.response)
        except UnsupportedStreamError:
            refused += 1
        else:
            supported += 1
    # Pinned so that a change in coverage is a visible decision.
    assert (supported, refused) == (108, 2)


@pytest.mark.parametrize("case", STREAMS, ids=ident)
def test_detection_of_every_streamed_interaction(corpus_dir: Path, case: Case) -> None:
    interaction = load(case)
    want = expected(case)
    if want[0] == REFUSED:
        with pytest.raises(UnsupportedStreamError) as caught:
            detect_stream(interaction.request, interaction.response)
        text = str(caught.value)
        assert "unsupported" in text and want[1] in text and want[2] in text
        return
    kind = detect_stream(interaction.request, interaction.response)
    assert (kind.provider, kind.api, kind.framing) == want


@pytest.mark.parametrize("case", WHOLE, ids=ident)
def test_whole_bodies_are_detected_and_read(corpus_dir: Path, case: Case) -> None:
    interaction = load(case)
    response = interaction.response
    kind = detect_stream(interaction.request, response)
    assert kind.framing in ("json", "none")
    if response.status >= 400:
        fault = http_error_fault(response.status, response.body)
        assert fault.kind == "error" and fault.message and fault.status == response.status
        assert decode(kind, response.body, status=response.status) == [fault]
    elif whole_reply_adapted(kind.api) and kind.framing == "json":
        out = chunks_from_json_body(kind, response.body)
        assert out and not [f for f in out if isinstance(f, StreamFault)]
    elif not kind.model_reply:
        # An endpoint that is not a model call (a model-info GET): nothing to replay, no fault.
        assert kind.framing == "json" and chunks_from_json_body(kind, response.body) == []
    elif kind.framing == "json":
        with pytest.raises(UnsupportedStreamError, match="unsupported"):
            chunks_from_json_body(kind, response.body)


def adapted_streams(api: str | None = None) -> list[Case]:
    cases = []
    for case in STREAMS:
        want = expected(case)
        if want[0] != REFUSED and want[2] != "json" and (api is None or want[1] == api):
            cases.append(case)
    return cases


@pytest.mark.parametrize("case", adapted_streams(), ids=ident)
def test_every_adapted_stream_decodes_the_same_in_any_pieces(corpus_dir: Path, case: Case) -> None:
    interaction = load(case)
    kind = detect_stream(interaction.request, interaction.response)
    body = interaction.response.body
    whole = decode(kind, body)
    assert [c for c in whole if isinstance(c, ChatCompletionChunk)]
    assert not [f for f in whole if isinstance(f, StreamFault) and f.kind == "incomplete"]
    for size in (1, 7, 1000) if len(body) < 100_000 else (997, 65_536):
        assert decode(kind, body, size) == whole


@pytest.mark.parametrize("case", adapted_streams("chat-completions"), ids=ident)
def test_chat_completions_match_the_openai_sdk(corpus_dir: Path, case: Case) -> None:
    interaction = load(case)
    body = interaction.response.body
    kind = detect_stream(interaction.request, interaction.response)
    out = decode(kind, body)
    for index, want in openai_oracle(body).items():
        got = totals(out, index)
        assert got.content == want.content
        assert got.reasoning == want.reasoning
        assert got.calls == want.calls
        assert got.finish == want.finish
        refusals = [f for f in got.faults if f.kind == "refusal"]
        assert refusals == want.faults


def test_in_band_errors_of_the_corpus_reach_the_output(corpus_dir: Path) -> None:
    groq = load(
        Case("groq/pydantic-ai__test_groq__test_tool_use_failed_error_streaming.yaml", 0, True)
    )
    out = decode(detect_stream(groq.request, groq.response), groq.response.body)
    assert out[-1] == StreamFault(
        "error",
        out[-1].message,  # type: ignore[union-attr]
        error_type="tool_use_failed",
        status=400,
    )
    assert "Tool call validation failed" in out[-1].message  # type: ignore[union-attr]
    assert totals(out).reasoning  # the reasoning before the error is kept

    router = load(
        Case("openrouter/pydantic-ai__test_openrouter__test_openrouter_stream_error.yaml", 0, True)
    )
    out = decode(detect_stream(router.request, router.response), router.response.body)
    assert [f for f in out if isinstance(f, StreamFault)] == [
        StreamFault("error", "Token limit reached", status=400)
    ]


@pytest.mark.parametrize("case", adapted_streams("messages"), ids=ident)
def test_anthropic_messages_match_the_anthropic_sdk(corpus_dir: Path, case: Case) -> None:
    interaction = load(case)
    body = interaction.response.body
    out = decode(detect_stream(interaction.request, interaction.response), body)
    want, snapshot = anthropic_oracle(body)
    got = totals(out)
    assert got.content == want.content
    assert got.reasoning == want.reasoning
    assert got.calls == want.calls
    assert got.finish == want.finish
    assert got.signatures == want.signatures
    assert got.redacted == want.redacted
    last = [c for c in out if isinstance(c, ChatCompletionChunk) and c.usage][-1]
    assert last.output_tokens == snapshot.usage.output_tokens
    assert {c.model for c in out if isinstance(c, ChatCompletionChunk)} == {snapshot.model}


@pytest.mark.parametrize("case", adapted_streams("responses"), ids=ident)
def test_responses_match_the_providers_final_response(corpus_dir: Path, case: Case) -> None:
    interaction = load(case)
    body = interaction.response.body
    out = decode(detect_stream(interaction.request, interaction.response), body)
    final = None
    for _name, data in sdk_events(body):
        if data.strip() != "[DONE]" and json.loads(data).get("type") == "response.completed":
            final = json.loads(data)["response"]
    assert final is not None
    text, summaries, reasoning_text, calls = [], [], [], {}
    for index, item in enumerate(final["output"]):
        if item["type"] == "message":
            text += [p["text"] for p in item["content"] if p["type"] == "output_text"]
        elif item["type"] == "reasoning":
            summaries += [p["text"] for p in item.get("summary") or []]
            reasoning_text += [p["text"] for p in item.get("content") or []]
        elif item["type"] == "function_call":
            calls[index] = (item["call_id"], item["name"], json.loads(item["arguments"]))
    got = totals(out)
    assert got.content == "".join(text)
    assert got.reasoning == "\n\n".join(summaries) + "".join(reasoning_text)
    assert got.calls == calls
    assert got.finish == ("tool_calls" if calls else "stop")


@pytest.mark.parametrize("case", adapted_streams("generate-content"), ids=ident)
def test_gemini_matches_a_plain_reading_of_its_responses(corpus_dir: Path, case: Case) -> None:
    interaction = load(case)
    body = interaction.response.body
    kind = detect_stream(interaction.request, interaction.response)
    out = decode(kind, body)
    if kind.framing == "sse":
        responses = [json.loads(data) for _name, data in sdk_events(body)]
    else:
        responses = json.loads(body)
    text, thought, calls = "", "", []
    for response in responses:
        for candidate in response["candidates"]:
            for part in candidate["content"].get("parts", []):
                if "functionCall" in part:
                    call = part["functionCall"]
                    calls.append((call.get("id"), call["name"], call.get("args", {})))
                elif part.get("thought"):
                    thought += part["text"]
                else:
                    text += part.get("text", "")
    got = totals(out)
    assert (got.content, got.reasoning) == (text, thought)
    ours = [got.calls[i] for i in sorted(got.calls)]
    assert [(name, args) for _, name, args in ours] == [(name, args) for _, name, args in calls]
    for (our_id, _, _), (their_id, _, _) in zip(ours, calls, strict=True):
        assert our_id == their_id or (their_id is None and our_id)
    assert len({our_id for our_id, _, _ in ours}) == len(ours)  # made-up ids are distinct


@pytest.mark.parametrize(
    "case", adapted_streams("ollama-chat") + adapted_streams("ollama-generate"), ids=ident
)
def test_ollama_matches_its_lines(corpus_dir: Path, case: Case) -> None:
    interaction = load(case)
    body = interaction.response.body
    out = decode(detect_stream(interaction.request, interaction.response), body)
    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    text = "".join(
        line.get("response") or (line.get("message") or {}).get("content", "") for line in lines
    )
    assert totals(out).content == text
    assert totals(out).finish == lines[-1]["done_reason"]


@pytest.mark.parametrize("case", adapted_streams("completions"), ids=ident)
def test_legacy_completions_match_their_text(corpus_dir: Path, case: Case) -> None:
    interaction = load(case)
    body = interaction.response.body
    out = decode(detect_stream(interaction.request, interaction.response), body)
    text = "".join(
        choice["text"]
        for _name, data in sdk_events(body)
        if data.strip() != "[DONE]"
        for choice in json.loads(data)["choices"]
        if choice.get("index", 0) == 0
    )
    assert totals(out).content == text


# --- the APIs adapted later: each against its own independent reading -------------------------


def _corpus_case(marker: str) -> tuple[Interaction, list[Out]]:
    case = next(c for c in STREAMS if marker in c.path)
    interaction = load(case)
    kind = detect_stream(interaction.request, interaction.response)
    return interaction, decode(kind, interaction.response.body)


def botocore_messages(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The event stream as botocore's own parser reads it: (event type, JSON payload) pairs."""
    from botocore.eventstream import EventStreamBuffer

    buffer = EventStreamBuffer()
    buffer.add_data(body)
    out = []
    for message in buffer:
        assert message.headers[":message-type"] == "event"
        out.append((message.headers[":event-type"], json.loads(message.payload)))
    return out


def test_bedrock_invoke_stream_matches_botocore_and_the_anthropic_sdk(corpus_dir: Path) -> None:
    import base64

    interaction, out = _corpus_case("TestInvokeModelWithStreamResponse")
    snapshot: Any = None
    json_bufs: dict[int, bytes] = {}
    for name, payload in botocore_messages(interaction.response.body):
        assert name == "chunk"
        event = json.loads(base64.b64decode(payload["bytes"]))
        snapshot = accumulate(event, snapshot, json_bufs)
    got = totals(out)
    assert got.content == "".join(b.text for b in snapshot.content if b.type == "text")
    want_calls = {
        i: (b.id, b.name, b.input) for i, b in enumerate(snapshot.content) if b.type == "tool_use"
    }
    assert got.calls == want_calls and len(want_calls) == 2
    assert got.finish == "tool_calls" and not got.faults


def test_bedrock_converse_stream_matches_botocore(corpus_dir: Path) -> None:
    interaction, out = _corpus_case("converse-stream-responses")
    text = []
    stop = usage = None
    for name, payload in botocore_messages(interaction.response.body):
        if name == "contentBlockDelta":
            text.append(payload["delta"].get("text", ""))
        elif name == "messageStop":
            stop = payload["stopReason"]
        elif name == "metadata":
            usage = payload["usage"]
    got = totals(out)
    assert got.content == "".join(text) and got.content.startswith("Hello!")
    assert stop == "end_turn" and got.finish == "stop" and not got.faults
    last = [c for c in out if isinstance(c, ChatCompletionChunk)][-1]
    assert usage is not None and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (
        usage["inputTokens"],
        usage["outputTokens"],
    )
    assert last.model == "anthropic.claude-3-5-sonnet-20240620-v1:0"


def _sdk_payloads(body: bytes) -> list[tuple[str | None, Any]]:
    return [
        (name, json.loads(data))
        for name, data in sdk_events(body)
        if data.strip() and data.strip() != "[DONE]"
    ]


def test_cohere_v2_chat_matches_a_plain_reading(corpus_dir: Path) -> None:
    interaction, out = _corpus_case("cohere")
    plan = []
    calls: dict[int, list[str]] = {}
    names: dict[int, tuple[str, str]] = {}
    finish = None
    for _name, payload in _sdk_payloads(interaction.response.body):
        message = (payload.get("delta") or {}).get("message") or {}
        if payload["type"] == "tool-plan-delta":
            plan.append(message["tool_plan"])
        elif payload["type"] == "tool-call-start":
            call = message["tool_calls"]
            names[payload["index"]] = (call["id"], call["function"]["name"])
            calls[payload["index"]] = [call["function"].get("arguments", "")]
        elif payload["type"] == "tool-call-delta":
            calls[payload["index"]].append(message["tool_calls"]["function"]["arguments"])
        elif payload["type"] == "message-end":
            finish = payload["delta"]["finish_reason"]
    got = totals(out)
    assert got.reasoning == "".join(plan) and got.reasoning.startswith("I will")
    want = {i: (*names[i], json.loads("".join(calls[i]))) for i in calls}
    assert got.calls == want and len(want) == 2
    assert finish == "TOOL_CALL" and got.finish == "tool_calls" and not got.faults


def test_anthropic_legacy_complete_matches_a_plain_reading(corpus_dir: Path) -> None:
    interaction, out = _corpus_case("anthropic_instrumentation_completions_streaming")
    payloads = [p for name, p in _sdk_payloads(interaction.response.body) if name == "completion"]
    got = totals(out)
    assert got.content == "".join(p["completion"] for p in payloads) == " Light scatters blue."
    assert payloads[-1]["stop_reason"] == "stop_sequence" and got.finish == "stop"
    assert not got.faults


def test_gemini_interactions_match_a_plain_reading(corpus_dir: Path) -> None:
    interaction, out = _corpus_case("interactions_instrumentation")
    text, thought, signatures = [], [], []
    for _name, payload in _sdk_payloads(interaction.response.body):
        if payload.get("event_type") != "step.delta":
            continue
        delta = payload["delta"]
        if delta["type"] == "text":
            text.append(delta["text"])
        elif delta["type"] == "thought_summary":
            thought.append(delta["content"]["text"])
        elif delta["type"] == "thought_signature" and delta["signature"]:
            signatures.append(delta["signature"])
    got = totals(out)
    assert got.content == "".join(text) and got.content.startswith("The sky is blue")
    assert got.reasoning == "".join(thought) and got.reasoning
    assert got.signatures == signatures and len(signatures) == 1
    assert got.finish == "stop" and not got.faults
    last = [c for c in out if isinstance(c, ChatCompletionChunk)][-1]
    assert last.usage is not None and last.usage.total_tokens == 179


def test_openai_assistants_run_matches_the_final_message(corpus_dir: Path) -> None:
    interaction, out = _corpus_case("streaming_new_assistant")
    payloads = _sdk_payloads(interaction.response.body)
    final = next(p for name, p in payloads if name == "thread.message.completed")
    pieces = [
        part["text"]["value"]
        for name, p in payloads
        if name == "thread.message.delta"
        for part in p["delta"]["content"]
        if part["type"] == "text"
    ]
    got = totals(out)
    assert got.content == "".join(pieces) == final["content"][0]["text"]["value"]
    # The code interpreter ran at OpenAI: not a call for the client.
    assert got.calls == {} and got.finish == "stop" and not got.faults
    run = next(p for name, p in payloads if name == "thread.run.completed")
    last = [c for c in out if isinstance(c, ChatCompletionChunk)][-1]
    assert last.usage is not None and last.usage.total_tokens == run["usage"]["total_tokens"]
