"""Proof on real streams: replayed messages agree with what each provider's own SDK accumulates.

For every streamed OpenAI-compatible chat-completions and Anthropic messages interaction in the
corpus, the bytes are decoded twice: once by streamreel's replay (SSE decoder, adapter, streaming
interface) and once by the official SDK's own SSE decoder and accumulator. The text, reasoning,
tool names, ids and parsed arguments must be the same. The interface runs with inner thoughts
and assistant messages off, so tool-call arguments pass through exactly as the provider sent
them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from streamreel.cassettes.discovery import expand
from streamreel.cassettes.storage import load_cassette
from streamreel.core.messages import ReasoningMessage, ToolCallMessage
from streamreel.core.parser import InterfaceSettings
from streamreel.core.results import InteractionResult
from streamreel.playback.replay import replay

PASSTHROUGH = InterfaceSettings(use_assistant_message=False, inner_thoughts_in_kwargs=False)


@dataclass
class Accumulated:
    text: str = ""
    reasoning: str = ""
    signatures: list[str] = field(default_factory=list)
    calls: dict[str, tuple[str, Any]] = field(default_factory=dict)


def ours(result: InteractionResult) -> Accumulated:
    acc = Accumulated()
    calls: dict[str, list[ToolCallMessage]] = {}
    for message in result.merged:
        if isinstance(message, ReasoningMessage):
            if message.source == "reasoner_model":
                acc.reasoning += message.reasoning
                if message.signature:
                    acc.signatures.append(message.signature)
            else:
                acc.text += message.reasoning
        elif isinstance(message, ToolCallMessage):
            calls.setdefault(message.otid or "", []).append(message)
    for group in calls.values():
        call_id = next((m.tool_call.tool_call_id for m in group if m.tool_call.tool_call_id), None)
        name = "".join(m.tool_call.name or "" for m in group)
        arguments = "".join(m.tool_call.arguments or "" for m in group)
        acc.calls[call_id or name] = (name, json.loads(arguments) if arguments.strip() else {})
    return acc


def _sse_events(body: bytes, decoder_type: Any) -> list[Any]:
    return list(decoder_type().iter_bytes(iter([body])))


def _split_typed_content(delta: dict[str, Any], thinking: list[str]) -> None:
    """Mistral's magistral sends ``content`` as a list of typed parts, which the SDK does not
    model: keep the text parts as the content and collect the thinking parts' text aside."""
    content = delta.get("content")
    if not isinstance(content, list):
        return
    text = []
    for part in content:
        if part.get("type") == "text":
            text.append(part.get("text") or "")
        elif part.get("type") == "thinking":
            thinking.extend(
                p.get("text") or "" for p in part.get("thinking") or [] if p.get("type") == "text"
            )
    delta["content"] = "".join(text)


def openai_sdk(body: bytes) -> Accumulated:
    from openai._models import construct_type
    from openai._streaming import SSEDecoder
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk

    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    first_ids: dict[int, str] = {}
    thinking: list[str] = []
    named: set[int] = set()
    for event in _sse_events(body, SSEDecoder):
        if event.data.strip() == "[DONE]" or event.event == "error" or not event.data.strip():
            continue
        data = json.loads(event.data)
        if "error" in data or not isinstance(data.get("choices"), list):
            continue
        for choice in data["choices"]:
            _split_typed_content(choice.get("delta") or {}, thinking)
            # Mistral sends whole calls without "index", which the SDK cannot accumulate; give the
            # SDK the index OpenAI would have sent (one call after another).
            # Some servers also leave out "type" on a call's first fragment, which the SDK asserts,
            # or send later fragments with explicit nulls (Writer), which it cannot merge.
            delta = choice.get("delta") or {}
            delta["tool_calls"] = [
                {k: v for k, v in f.items() if v is not None} for f in delta.get("tool_calls") or []
            ] or None
            for position, fragment in enumerate(delta["tool_calls"] or []):
                fragment.setdefault("index", position)
                if "id" in fragment:
                    fragment.setdefault("type", "function")
                    # The SDK concatenates an id and name restated on every fragment (Kimi).
                    if (
                        first_ids.setdefault(fragment["index"], fragment["id"]) == fragment["id"]
                        and fragment["index"] in named
                    ):
                        fragment.pop("id")
                        (fragment.get("function") or {}).pop("name", None)
                    named.add(fragment["index"])
        state.handle_chunk(construct_type(type_=ChatCompletionChunk, value=data))
    snapshot = state.current_completion_snapshot
    acc = Accumulated()
    if not snapshot.choices:
        return acc
    message = snapshot.choices[0].message
    acc.text = message.content if isinstance(message.content, str) else ""
    extra = message.model_extra or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    acc.reasoning = reasoning if isinstance(reasoning, str) else "".join(thinking)
    for call in message.tool_calls or []:
        arguments = call.function.arguments
        acc.calls[call.id or call.function.name] = (
            call.function.name,
            json.loads(arguments) if arguments.strip() else {},
        )
    return acc


def anthropic_sdk(body: bytes) -> Accumulated:
    from anthropic._models import construct_type
    from anthropic._streaming import SSEDecoder
    from anthropic.types import RawMessageStreamEvent
    from anthropic_oracle import accumulate

    snapshot: Any = None
    buffers: dict[int, bytes] = {}
    for event in _sse_events(body, SSEDecoder):
        if event.event in ("ping", "error") or not event.data.strip():
            continue
        parsed = construct_type(type_=RawMessageStreamEvent, value=json.loads(event.data))  # type: ignore[arg-type]
        snapshot = accumulate(parsed, snapshot, buffers)
    acc = Accumulated()
    for block in snapshot.content if snapshot is not None else []:
        if block.type == "text":
            acc.text += block.text
        elif block.type == "thinking":
            acc.reasoning += block.thinking
            if block.signature:
                acc.signatures.append(block.signature)
        elif block.type == "tool_use":
            acc.calls[block.id] = (block.name, block.input)
    return acc


def _cases(corpus: Path) -> list[tuple[Path, InteractionResult, bytes]]:
    cases = []
    for path in sorted(
        p for p in expand([corpus], chunk_files=False) if p.name != "inventory.json"
    ):
        cassette = load_cassette(path)
        result = replay(cassette, settings=PASSTHROUGH)
        for step in result.interactions:
            kind = step.kind
            if kind is None or kind.framing != "sse" or step.status != 200:
                continue
            if kind.api in ("chat-completions", "messages") and not any(
                e.kind == "unsupported" for e in step.errors
            ):
                cases.append((path, step, cassette.interactions[step.index].response.body))
    return cases


def test_replay_agrees_with_the_provider_sdks(corpus_dir: Path) -> None:
    compared = {"chat-completions": 0, "messages": 0}
    disagreements = []
    for path, step, body in _cases(corpus_dir):
        assert step.kind is not None
        sdk = openai_sdk if step.kind.api == "chat-completions" else anthropic_sdk
        try:
            expected = sdk(body)
        except Exception as exc:  # the reference itself failed: say on which recording
            raise AssertionError(f"the SDK cannot accumulate {path.name}[{step.index}]") from exc
        got = ours(step)
        compared[step.kind.api] += 1
        if step.kind.api == "messages":
            # Server tools (web search) are carried as tool calls too; compare the client tools.
            got.calls = {
                k: v
                for k, v in got.calls.items()
                if k in expected.calls or not k.startswith("srvtoolu_")
            }
        for what in ("text", "reasoning", "calls", "signatures"):
            if what == "signatures" and step.kind.api != "messages":
                continue
            if getattr(got, what) != getattr(expected, what):
                mine, theirs = repr(getattr(got, what))[:200], repr(getattr(expected, what))[:200]
                disagreements.append(f"{path.name}[{step.index}] {what}: ours {mine} sdk {theirs}")
    assert not disagreements, "\n".join(disagreements)
    # Enough real streams were compared for the agreement to mean something.
    assert compared["chat-completions"] >= 40 and compared["messages"] >= 15, compared


def test_every_corpus_file_replays_without_raising(corpus_dir: Path) -> None:
    supported = unsupported = 0
    for path in sorted(
        p for p in expand([corpus_dir], chunk_files=False) if p.name != "inventory.json"
    ):
        result = replay(path)
        for step in result.interactions:
            if any(e.kind == "unsupported" for e in step.errors):
                unsupported += 1
            elif step.kind is not None and step.kind.framing not in ("json", "none"):
                supported += 1
    assert supported >= 90 and unsupported >= 5, (supported, unsupported)


@pytest.mark.parametrize("name", ["text", "reasoning"])
def test_accumulators_are_not_trivially_empty(corpus_dir: Path, name: str) -> None:
    filled = sum(bool(getattr(ours(step), name)) for _, step, _ in _cases(corpus_dir))
    assert filled >= 5


def _plain_sse(body: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    from openai._streaming import SSEDecoder

    return [
        (event.event, json.loads(event.data))
        for event in _sse_events(body, SSEDecoder)
        if event.data.strip() and event.data.strip() != "[DONE]"
    ]


def _plain_eventstream(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    from botocore.eventstream import EventStreamBuffer

    buffer = EventStreamBuffer()
    buffer.add_data(body)
    return [(m.headers[":event-type"], json.loads(m.payload)) for m in buffer]


def _later_expectations(name: str, body: bytes) -> Accumulated:
    """What each newly adapted API sent, read from the bytes without streamreel."""
    import base64

    want = Accumulated()
    if name == "invoke":
        buffers: dict[int, bytes] = {}
        snapshot: Any = None
        from anthropic_oracle import accumulate

        for _, payload in _plain_eventstream(body):
            event = json.loads(base64.b64decode(payload["bytes"]))
            snapshot = accumulate(event, snapshot, buffers)
        for block in snapshot.content:
            if block.type == "text":
                want.text += block.text
            elif block.type == "tool_use":
                want.calls[block.id] = (block.name, block.input)
    elif name == "converse":
        for kind, payload in _plain_eventstream(body):
            if kind == "contentBlockDelta":
                want.text += payload["delta"].get("text", "")
    elif name == "cohere":
        pieces: dict[int, list[str]] = {}
        heads: dict[int, tuple[str, str]] = {}
        for _, payload in _plain_sse(body):
            message = (payload.get("delta") or {}).get("message") or {}
            if payload["type"] == "tool-plan-delta":
                want.reasoning += message["tool_plan"]
            elif payload["type"] in ("tool-call-start", "tool-call-delta"):
                call = message["tool_calls"]
                if "id" in call:
                    heads[payload["index"]] = (call["id"], call["function"]["name"])
                pieces.setdefault(payload["index"], []).append(call["function"]["arguments"])
        for index, (call_id, call_name) in heads.items():
            want.calls[call_id] = (call_name, json.loads("".join(pieces[index])))
    elif name == "complete":
        want.text = "".join(p["completion"] for e, p in _plain_sse(body) if e == "completion")
    elif name == "interactions":
        for _, payload in _plain_sse(body):
            delta = payload.get("delta") or {}
            if delta.get("type") == "text":
                want.text += delta["text"]
            elif delta.get("type") == "thought_summary":
                want.reasoning += delta["content"]["text"]
            elif delta.get("type") == "thought_signature" and delta["signature"]:
                want.signatures.append(delta["signature"])
    elif name == "assistants":
        for event, payload in _plain_sse(body):
            if event == "thread.message.delta":
                want.text += "".join(
                    part["text"]["value"]
                    for part in payload["delta"]["content"]
                    if part["type"] == "text"
                )
    return want


LATER = {
    "TestInvokeModelWithStreamResponse": "invoke",
    "converse-stream-responses": "converse",
    "cohere_v2_chat": "cohere",
    "anthropic_instrumentation_completions_streaming": "complete",
    "interactions_with_thinking_stream": "interactions",
    "test_streaming_new_assistant": "assistants",
}


@pytest.mark.parametrize("marker", list(LATER))
def test_the_apis_adapted_later_replay_to_what_the_provider_sent(
    corpus_dir: Path, marker: str
) -> None:
    path = next(p for p in corpus_dir.rglob("*") if marker in p.name)
    cassette = load_cassette(path)
    step = replay(cassette, settings=PASSTHROUGH).interactions[-1]
    assert step.complete and not step.errors, step.errors
    got = ours(step)
    want = _later_expectations(LATER[marker], cassette.interactions[step.index].response.body)
    # The plan and thought summaries are reasoning; text the model wrote to the user is text.
    assert (got.text, got.reasoning, got.calls) == (want.text, want.reasoning, want.calls)
    assert got.text or got.reasoning
    if want.signatures:
        assert got.signatures == want.signatures
