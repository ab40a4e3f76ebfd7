"""The Letta-compatible shells: async generator, non-streaming path, queuing interface."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from chunkfactory import DATE, MESSAGE_ID, chunk, tool_stream
from streamreel.core.errors import ConfigurationError
from streamreel.core.messages import (
    AssistantMessage,
    ErrorMessage,
    HiddenReasoningMessage,
    ReasoningMessage,
    ToolCallMessage,
    ToolReturnMessage,
    merge_deltas,
    otid_for,
)
from streamreel.letta.interface import QueuingInterface, StreamingServerInterface


@dataclass
class Function:
    name: str
    arguments: str


@dataclass
class Call:
    id: str
    function: Function


@dataclass
class Return:
    status: str
    stdout: list[str] | None = None
    stderr: list[str] | None = None


@dataclass
class Part:
    type: str
    text: str = ""
    reasoning: str = ""
    signature: str | None = None
    data: str = ""


@dataclass
class Record:
    """Stands in for Letta's ``Message``: the fields the non-streaming path reads."""

    id: str = MESSAGE_ID
    created_at: datetime = DATE
    name: str | None = None
    content: list[Part] = field(default_factory=list)
    tool_calls: list[Call] | None = None
    tool_call_id: str | None = None
    tool_returns: list[Return] = field(default_factory=list)


def feed(interface: StreamingServerInterface, chunks: list[dict[str, Any]]) -> list[str | None]:
    return [interface.process_chunk(c, message_id=MESSAGE_ID, message_date=DATE) for c in chunks]


def test_process_chunk_returns_the_type_it_emitted() -> None:
    interface = StreamingServerInterface(use_assistant_message=True)
    returned = feed(
        interface, tool_stream({"inner_thoughts": "t", "message": "hello"}, cuts=[10, 22, 30])
    )
    assert "reasoning_message" in returned and "assistant_message" in returned
    assert returned[0] is None  # the name alone says nothing yet


def test_generator_started_after_the_producer_finished_still_yields_everything() -> None:
    interface = StreamingServerInterface(use_assistant_message=True)
    interface.stream_start()
    feed(interface, tool_stream({"inner_thoughts": "t", "message": "hello"}))
    interface.stream_end()
    interface.step_yield()

    async def consume() -> list[Any]:
        return [m async for m in interface.get_generator()]

    got = asyncio.run(consume())
    merged = merge_deltas(got)
    assert [type(m) for m in merged] == [ReasoningMessage, AssistantMessage]


def test_generator_streams_while_the_producer_runs() -> None:
    interface = StreamingServerInterface(use_assistant_message=True)
    stream = tool_stream({"message": "one two three"}, cuts=[14, 18, 22])
    seen_before_end: list[str] = []

    async def produce() -> None:
        for c in stream:
            interface.process_chunk(c, MESSAGE_ID, DATE)
            await asyncio.sleep(0)
        interface.step_yield()

    async def consume() -> list[Any]:
        out = []
        async for message in interface.get_generator():
            out.append(message)
            if interface._active:
                seen_before_end.append(message.message_type)
        return out

    async def main() -> list[Any]:
        results = await asyncio.gather(consume(), produce())
        return results[0]

    got = asyncio.run(main())
    assert "".join(m.content for m in got if isinstance(m, AssistantMessage)) == "one two three"
    assert seen_before_end  # messages arrived before the stream ended


def test_single_step_mode_ends_the_stream_at_step_complete() -> None:
    interface = StreamingServerInterface(multi_step=False)
    feed(interface, [chunk({"content": "x"})])
    interface.step_complete()

    async def consume() -> list[Any]:
        return [m async for m in interface.get_generator()]

    assert len(asyncio.run(consume())) == 1


def test_error_comes_after_everything_before_it() -> None:
    interface = StreamingServerInterface(use_assistant_message=True)
    feed(interface, tool_stream('{"message": "partial', finish=False))
    interface.error("overloaded_error: Overloaded")
    messages = interface.drain()
    assert (
        isinstance(messages[-1], ErrorMessage)
        and messages[-1].error == "overloaded_error: Overloaded"
    )
    assert "".join(m.content for m in messages if isinstance(m, AssistantMessage)) == "partial"


def test_letta_chunk_models_and_json_are_accepted() -> None:
    interface = StreamingServerInterface()
    interface.process_chunk(json.dumps(chunk({"content": "a"})), MESSAGE_ID, DATE)
    interface.process_chunk(chunk({"content": "b"}), MESSAGE_ID, DATE)
    assert (
        "".join(m.reasoning for m in interface.drain() if isinstance(m, ReasoningMessage)) == "ab"
    )


# -- the non-streaming path -------------------------------------------------------------------


def test_internal_monologue_of_plain_text_and_of_mixed_content() -> None:
    interface = StreamingServerInterface()
    interface.internal_monologue(
        "plain", Record(content=[Part("text", text="plain")]), chunk_index=3
    )
    interface.internal_monologue(
        "",
        Record(
            content=[
                Part("reasoning", reasoning="deep", signature="sig"),
                Part("redacted_reasoning", data="xx"),
                Part("text", text="t"),
            ]
        ),
    )
    first, deep, hidden, text = interface.drain()
    assert (
        isinstance(first, ReasoningMessage)
        and first.reasoning == "plain"
        and first.otid == otid_for(MESSAGE_ID, 3)
    )
    assert (
        isinstance(deep, ReasoningMessage)
        and deep.source == "reasoner_model"
        and deep.signature == "sig"
    )
    assert isinstance(hidden, HiddenReasoningMessage) and hidden.hidden_reasoning == "xx"
    assert isinstance(text, ReasoningMessage) and text.reasoning == "t" and text.otid is None


def test_running_send_message_is_assistant_text_and_its_return_is_suppressed() -> None:
    for inner in (True, False):
        interface = StreamingServerInterface(
            use_assistant_message=True, inner_thoughts_in_kwargs=inner
        )
        call = Call("call_1", Function("send_message", '{"message": "Hi!"}'))
        interface.function_message("Running send_message()", Record(tool_calls=[call]))
        interface.function_message("Success: None", Record(tool_call_id="call_1"))
        messages = interface.drain()
        assert [type(m) for m in messages] == [AssistantMessage], inner
        assert messages[0].content == "Hi!"


def test_streamed_send_message_suppresses_its_return_with_inner_thoughts_off() -> None:
    interface = StreamingServerInterface(use_assistant_message=True, inner_thoughts_in_kwargs=False)
    feed(interface, tool_stream({"message": "Hi"}, call_id="call_7"))
    interface.step_complete()
    interface.function_message("Success: None", Record(tool_call_id="call_7"))
    assert not any(isinstance(m, ToolReturnMessage) for m in interface.drain())


def test_running_other_tool_is_a_whole_tool_call_and_success_prefix_is_removed_once() -> None:
    interface = StreamingServerInterface(use_assistant_message=True)
    call = Call("call_2", Function("search", '{"q": "x"}'))
    interface.function_message("Running search()", Record(tool_calls=[call]), chunk_index=0)
    interface.function_message(
        "Success: Success: found",
        Record(tool_call_id="call_2", tool_returns=[Return("success", stdout=["log"])]),
        chunk_index=1,
    )
    interface.function_message("Error: Error: boom", Record(tool_call_id="call_3"), chunk_index=2)
    tool_call, ret, err = interface.drain()
    assert isinstance(tool_call, ToolCallMessage) and tool_call.tool_call.name == "search"
    assert (
        isinstance(ret, ToolReturnMessage)
        and ret.tool_return == "Success: found"
        and ret.stdout == ["log"]
    )
    assert (
        isinstance(err, ToolReturnMessage)
        and err.status == "error"
        and err.tool_return == "Error: boom"
    )


def test_streaming_mode_silences_the_non_streaming_calls() -> None:
    interface = StreamingServerInterface()
    interface.streaming_mode = True
    interface.internal_monologue("x", Record())
    interface.function_message("Running f()", Record(tool_calls=[Call("c", Function("f", "{}"))]))
    assert interface.drain() == []


def test_unknown_function_message_becomes_an_error_message_and_missing_record_raises_clearly() -> (
    None
):
    interface = StreamingServerInterface()
    interface.function_message("Weird thing", Record())
    assert isinstance(interface.drain()[0], ErrorMessage)
    with pytest.raises(ConfigurationError, match="expected the agent message"):
        interface.internal_monologue("x")


def test_queuing_interface_queues_plain_dictionaries() -> None:
    queue = QueuingInterface()
    record = Record(created_at=datetime(2024, 1, 1, tzinfo=UTC))
    queue.internal_monologue("thinking", record)
    queue.assistant_message("hello")
    queue.function_message("Running f()", record)
    queue.function_message("Ran f()", record)
    queue.function_message("Success: Success: ok", record)
    queue.step_yield()
    api = queue.to_list("api")
    assert api[0] == {
        "internal_monologue": "thinking",
        "id": MESSAGE_ID,
        "date": "2024-01-01T00:00:00+00:00",
    }
    assert api[1]["assistant_message"] == "hello" and api[1]["id"] == MESSAGE_ID
    assert api[2]["function_call"] == "f()"
    assert api[3] == {
        "function_return": "Success: ok",
        "status": "success",
        "id": MESSAGE_ID,
        "date": "2024-01-01T00:00:00+00:00",
    }
    assert len(api) == 4  # "Ran" is hidden by default, STOP is dropped


def test_queuing_interface_generator_stops_at_stop() -> None:
    queue = QueuingInterface()
    queue.internal_monologue("a", Record())
    queue.error("boom")

    async def consume() -> list[Any]:
        return [item async for item in queue.message_generator("api")]

    items = asyncio.run(consume())
    assert items[0]["internal_monologue"] == "a" and items[1] == {"internal_error": "boom"}
