"""The replayer: steps of one turn, any parser, and faults that never empty a result."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncGenerator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from chunkfactory import chunk, tool_stream
from streamreel.cassettes.storage import save_cassette
from streamreel.core.cassette import (
    BodyChunk,
    Cassette,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import CassetteError, ParserError
from streamreel.core.messages import (
    AgentMessage,
    AssistantMessage,
    ErrorMessage,
    ReasoningMessage,
    to_wire,
)
from streamreel.core.parser import InterfaceSettings
from streamreel.playback.replay import replay, replay_chunk_file

URL = "https://api.openai.com/v1/chat/completions"
SEND = {"inner_thoughts": "Greet them.", "message": "Hello, caf\u00e9!"}


def sse(chunks: list[dict[str, Any]], *, done: bool = True) -> bytes:
    events = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks]
    return b"".join(events) + (b"data: [DONE]\n\n" if done else b"")


def streamed(
    body: bytes, *, pieces: int = 4, status: int = 200, error: str | None = None
) -> Interaction:
    size = max(1, len(body) // pieces)
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    chunks = [BodyChunk(200.0 + 50 * n, part) for n, part in enumerate(parts)]
    request = RecordedRequest(
        "POST", URL, {"content-type": ["application/json"]}, b'{"model":"gpt-4o","stream":true}'
    )
    response = RecordedResponse(
        status, "OK", {"content-type": ["text/event-stream"]}, body, chunks, error
    )
    return Interaction(request, response)


def plain(status: int, body: dict[str, Any]) -> Interaction:
    request = RecordedRequest("POST", URL, {}, b'{"model":"gpt-4o","stream":true}')
    response = RecordedResponse(
        status, "", {"content-type": ["application/json"]}, json.dumps(body).encode()
    )
    return Interaction(request, response)


def kinds(messages: list[AgentMessage]) -> list[str]:
    return [m.message_type for m in messages]


def test_interactions_replay_as_steps_of_one_turn() -> None:
    second = sse([chunk({"content": "Done."}), chunk(finish="stop")])
    cassette = Cassette([streamed(sse(tool_stream(SEND))), streamed(second)])
    result = replay(cassette)
    first, then = result.interactions
    assert kinds(first.merged) == ["reasoning_message", "assistant_message"]
    assert (
        isinstance(first.merged[1], AssistantMessage)
        and first.merged[1].content == "Hello, caf\u00e9!"
    )
    assert kinds(then.merged) == ["reasoning_message"]
    assert first.message_id != then.message_id  # each step is its own LLM call
    assert result.usage.step_count == 2
    assert first.timing.time_to_first_chunk_ms == 200.0 and first.timing.duration_ms == 350.0
    assert (
        first.request.provider == "openai"
        and first.request.model == "gpt-4o"
        and first.request.stream
    )


def test_each_chunk_record_holds_what_it_produced() -> None:
    result = replay(Cassette([streamed(sse(tool_stream(SEND)), pieces=12)]))
    records = result.interactions[0].chunks
    assert [m for r in records for m in r.messages] == result.interactions[0].messages
    assert sum(len(r.produced) for r in records) == len(tool_stream(SEND))
    assert b"".join(r.data for r in records) == sse(tool_stream(SEND))


def test_replays_are_reproducible() -> None:
    cassette = Cassette([streamed(sse(tool_stream(SEND)))], path=Path("x.yaml"))
    first = [to_wire(m) for m in replay(cassette).messages]
    assert first == [to_wire(m) for m in replay(cassette).messages]


def test_settings_and_fixed_ids_are_honoured() -> None:
    date = datetime.fromisoformat("2024-05-01T00:00:00+00:00")
    result = replay(
        Cassette([streamed(sse(tool_stream(SEND)))]),
        settings=InterfaceSettings(use_assistant_message=False),
        message_id="message-6b1f3d52-7a0e-4f0a-9c1e-3d2b4a5c6d7e",
        message_date=date,
    )
    assert kinds(result.merged) == ["reasoning_message", "tool_call_message"]
    assert {m.id for m in result.messages if not isinstance(m, ErrorMessage)} == {
        "message-6b1f3d52-7a0e-4f0a-9c1e-3d2b4a5c6d7e"
    }


def test_http_error_is_an_error_entry_and_an_error_message() -> None:
    error = {
        "error": {
            "message": "Rate limit reached",
            "type": "tokens",
            "code": "rate_limit_exceeded",
        }
    }
    result = replay(Cassette([plain(429, error)]))
    (entry,) = result.errors
    assert (entry.kind, entry.status) == ("http", 429)
    assert entry.error_type == "rate_limit_exceeded" and "Rate limit reached" in entry.message
    assert isinstance(result.messages[-1], ErrorMessage) and "429" in result.messages[-1].error


def test_error_event_mid_stream_comes_after_the_messages_before_it() -> None:
    body = sse([chunk({"content": "Partial answer"})], done=False)
    failure = {"error": {"message": "tool_use_failed", "type": "invalid_request_error"}}
    body += b"event: error\ndata: " + json.dumps(failure).encode() + b"\n\n"
    result = replay(Cassette([streamed(body)]))
    messages = result.interactions[0].messages
    assert isinstance(messages[0], ReasoningMessage) and messages[0].reasoning == "Partial answer"
    assert isinstance(messages[-1], ErrorMessage) and "tool_use_failed" in messages[-1].error
    assert result.errors[0].kind == "stream"


def test_stream_without_terminator_is_incomplete_and_keeps_its_messages() -> None:
    body = sse(tool_stream('{"inner_thoughts": "t", "message": "Hel', finish=False), done=False)
    result = replay(Cassette([streamed(body, error="peer closed connection")]))
    step = result.interactions[0]
    assert not step.complete
    assert "".join(m.content for m in step.messages if isinstance(m, AssistantMessage)) == "Hel"
    assert {e.kind for e in step.errors} >= {"incomplete", "truncated"}
    assert "incomplete" in step.features


def test_malformed_sse_data_is_a_decode_error_after_earlier_messages() -> None:
    body = sse([chunk({"content": "fine"})], done=False) + b"data: {not json\n\n"
    result = replay(Cassette([streamed(body, pieces=1)]))
    step = result.interactions[0]
    assert isinstance(step.messages[0], ReasoningMessage) and step.messages[0].reasoning == "fine"
    assert isinstance(step.messages[-1], ErrorMessage)
    assert any(e.kind == "decode" for e in step.errors)


def test_unsupported_stream_is_marked_not_raised() -> None:
    # Bedrock Agents stay refused: an agent's trace is not a model's reply.
    request = RecordedRequest(
        "POST",
        "https://bedrock-agent-runtime.us-east-1.amazonaws.com/agents/A/agentAliases/T/sessions/s/text",
        {},
        b'{"inputText": "x"}',
    )
    body = b"\x00\x00\x00\x10\x00\x00\x00\x00"
    response = RecordedResponse(
        200, "OK", {"content-type": ["application/vnd.amazon.eventstream"]}, body
    )
    result = replay(Cassette([Interaction(request, response)]))
    assert [e.kind for e in result.errors] == ["unsupported"]
    assert "unsupported" in result.errors[0].message


def test_interactions_can_be_picked() -> None:
    cassette = Cassette(
        [streamed(sse([chunk({"content": "a"})])), streamed(sse([chunk({"content": "b"})]))]
    )
    result = replay(cassette, interactions=[1])
    assert [i.index for i in result.interactions] == [1]


def test_corrupt_cassette_raises_a_cassette_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("interactions:\n- request: {method: POST}\n  response: [not, a, mapping\n")
    with pytest.raises(CassetteError) as raised:
        replay(path)
    assert raised.value.path == str(path) and "broken.yaml" in str(raised.value)


def test_saved_cassette_replays_the_same(tmp_path: Path) -> None:
    cassette = Cassette([streamed(sse(tool_stream(SEND)))])
    save_cassette(cassette, tmp_path / "c.yaml")
    assert [to_wire(m) for m in replay(tmp_path / "c.yaml").merged] == [
        to_wire(m) for m in replay(Cassette(cassette.interactions, path=tmp_path / "c.yaml")).merged
    ]


class EchoParser:
    """A second implementation, written here: every content piece becomes an assistant message.

    It has only Letta's API (no ``drain``), so the replayer must read its async generator.
    """

    def __init__(self, settings: InterfaceSettings) -> None:
        self.settings = settings
        self.queue: deque[AgentMessage] = deque()
        self.active = True
        self.wakeup = asyncio.Event()

    def stream_start(self) -> None:
        self.active = True

    def stream_end(self) -> None:
        return None

    def step_complete(self) -> None:
        return None

    def step_yield(self) -> None:
        self.active = False
        self.wakeup.set()

    def process_chunk(
        self, chunk: Any, message_id: str, message_date: datetime, *_: Any, **__: Any
    ) -> str | None:
        for choice in chunk.choices:
            if choice.delta.content:
                self.queue.append(
                    AssistantMessage(
                        id=message_id, date=message_date, content=choice.delta.content.upper()
                    )
                )
                self.wakeup.set()
                return "assistant_message"
        return None

    async def _generate(self) -> AsyncGenerator[AgentMessage, None]:
        while True:
            while self.queue:
                yield self.queue.popleft()
            if not self.active:
                return
            self.wakeup.clear()
            await self.wakeup.wait()

    def get_generator(self) -> AsyncGenerator[AgentMessage, None]:
        return self._generate()


def test_a_second_parser_implementation_can_stand_in() -> None:
    body = sse([chunk({"content": "one "}), chunk({"content": "two"}), chunk(finish="stop")])
    result = replay(Cassette([streamed(body, pieces=3)]), parser=EchoParser)
    messages = result.interactions[0].messages
    assert [m.content for m in messages if isinstance(m, AssistantMessage)] == ["ONE ", "TWO"]
    # Messages are attributed to the chunk whose bytes completed them.
    assert sum(len(r.messages) for r in result.interactions[0].chunks) == 2


def test_a_generator_only_parser_replays_inside_a_running_event_loop() -> None:
    # Every Jupyter cell runs inside an event loop, and so does code under asyncio.run: replay
    # must not try to start a second loop in the same thread.
    body = sse([chunk({"content": "one "}), chunk({"content": "two"}), chunk(finish="stop")])

    async def inside() -> list[str]:
        result = replay(Cassette([streamed(body, pieces=3)]), parser=EchoParser)
        return [m.content for m in result.messages if isinstance(m, AssistantMessage)]

    assert asyncio.run(inside()) == ["ONE ", "TWO"]


def test_a_parser_that_raises_inside_a_running_loop_raises_to_the_caller() -> None:
    class Exploding(EchoParser):
        def process_chunk(self, *args: Any, **kwargs: Any) -> str | None:
            raise ValueError("parser bug")

    async def inside() -> None:
        replay(Cassette([streamed(sse([chunk({"content": "x"})]))]), parser=Exploding)

    with pytest.raises(ValueError, match="parser bug"):
        asyncio.run(inside())


def test_a_parser_that_gives_up_leaves_an_error_entry_and_what_it_made_before() -> None:
    class GivingUp(EchoParser):
        def process_chunk(self, chunk: Any, *args: Any, **kwargs: Any) -> str | None:
            if any(choice.delta.content == "boom" for choice in chunk.choices):
                raise ParserError("cannot go on: a chunk this parser does not understand")
            return super().process_chunk(chunk, *args, **kwargs)

    body = sse([chunk({"content": "one"}), chunk({"content": "boom"}), chunk({"content": "x"})])
    result = replay(Cassette([streamed(body, pieces=3)]), parser=GivingUp)
    (entry,) = result.errors
    assert entry.kind == "parser" and entry.chunk is not None and "cannot go on" in entry.message
    assert next(m.content for m in result.messages if isinstance(m, AssistantMessage)) == "ONE"
    assert result.interactions[0].complete  # the stream itself was whole


def test_a_parser_that_gives_up_on_a_chunk_file_leaves_an_error_entry(tmp_path: Path) -> None:
    class GivingUp(EchoParser):
        def process_chunk(self, chunk: Any, *args: Any, **kwargs: Any) -> str | None:
            if any(choice.delta.content == "boom" for choice in chunk.choices):
                raise ParserError("cannot go on: a chunk this parser does not understand")
            return super().process_chunk(chunk, *args, **kwargs)

    lines = [chunk({"content": "one"}), chunk({"content": "boom"}), chunk({"content": "two"})]
    path = tmp_path / "chunks.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = replay_chunk_file(path, parser=GivingUp)
    (entry,) = result.errors
    assert entry.kind == "parser" and entry.chunk == 1
    assert [m.content for m in result.messages if isinstance(m, AssistantMessage)] == ["ONE", "TWO"]


def test_a_parser_without_error_reporting_still_gets_error_messages() -> None:
    result = replay(
        Cassette([plain(500, {"error": {"message": "boom", "type": "server_error"}})]),
        parser=EchoParser,
    )
    assert isinstance(result.messages[-1], ErrorMessage) and "boom" in result.messages[-1].error


def test_a_chosen_message_id_names_the_first_step_and_numbers_the_rest() -> None:
    steps = [streamed(sse([chunk({"content": text})])) for text in ("a", "b", "c")]
    chosen = "message-6b1f3d52-7a0e-4f0a-9c1e-3d2b4a5c6d7e"
    result = replay(Cassette(steps), message_id=chosen)
    assert [step.message_id for step in result.interactions] == [
        chosen,
        f"{chosen}-1",
        f"{chosen}-2",
    ]


@pytest.mark.parametrize(
    ("fault", "bad"),
    # Bytes that are not UTF-8 on the first line make the file no text at all: refused whole.
    [("not json", bad) for bad in (1, 255, 256, 257, 513, 600)]
    + [(b"\xff\xfe", bad) for bad in (2, 256, 257, 600)],
)
def test_a_chunk_file_stopped_anywhere_keeps_every_chunk_before_the_fault(
    tmp_path: Path, bad: int, fault: str | bytes
) -> None:
    # Lines are parsed a block at a time and then replayed: a fault in any block, at its first
    # or last line or between, must still come after every chunk before it and name its line.
    lines = [json.dumps(chunk({"content": f"w{i} "})).encode() for i in range(1, 601)]
    lines.insert(100, b"")  # a line that carries no chunk is no chunk before the fault
    number = bad + 1 if bad > 100 else bad  # the line number, counting the blank line
    broken = [*lines]
    broken[number - 1] = fault if isinstance(fault, bytes) else fault.encode()
    path = tmp_path / "cut.jsonl"
    path.write_bytes(b"\n".join(broken) + b"\n")
    whole = tmp_path / "before.jsonl"
    whole.write_bytes(b"\n".join(lines[: number - 1]) + b"\n" if number > 1 else b"\n")

    ident = "message-7d1f6c1e-95c1-4b61-9a53-0b6e3b0c5f10"
    result = replay_chunk_file(path, message_id=ident)
    (entry,) = result.errors
    assert entry.kind == "decode" and f"{path}:{number}: cannot read chunk" in entry.message
    assert entry.chunk == bad - 1 == len(result.interactions[0].chunks)
    *before, error = result.messages
    assert isinstance(error, ErrorMessage) and f"{path}:{number}:" in error.error
    if bad > 1:
        assert before == replay_chunk_file(whole, message_id=ident).messages
    else:
        assert before == []
