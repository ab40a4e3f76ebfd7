"""The wire format: Letta's field order, dates, null handling, SSE framing, and round trips."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from chunkfactory import MESSAGE_ID, run, tool_stream
from streamreel.core.messages import (
    AssistantMessage,
    ErrorMessage,
    ForeignMessage,
    HiddenReasoningMessage,
    ReasoningMessage,
    ToolCall,
    ToolCallDelta,
    ToolCallMessage,
    ToolReturnMessage,
    UsageStatistics,
    merge_deltas,
    parse_wire,
    to_sse,
    to_wire,
    tool_call_id,
)

DATE = datetime(2024, 5, 1, 2, 3, 4, 567890, tzinfo=timezone(timedelta(hours=2)))


def test_reasoning_message_keys_are_in_letta_order_and_keep_nulls() -> None:
    wire = to_wire(ReasoningMessage(id="message-1", date=DATE, reasoning="hm"))
    assert wire == (
        '{"id":"message-1","date":"2024-05-01T00:03:04+00:00","name":null,'
        '"message_type":"reasoning_message","otid":null,"sender_id":null,'
        '"source":"non_reasoner_model","reasoning":"hm","signature":null}'
    )


def test_tool_call_message_drops_every_null_key() -> None:
    message = ToolCallMessage(id="m", date=DATE, tool_call=ToolCallDelta(arguments='{"a"'))
    assert to_wire(message) == (
        '{"id":"m","date":"2024-05-01T00:03:04+00:00","message_type":"tool_call_message",'
        '"tool_call":{"arguments":"{\\"a\\""}}'
    )


def test_tool_return_and_hidden_reasoning_keep_their_nulls() -> None:
    ret = json.loads(
        to_wire(
            ToolReturnMessage(
                id="m", date=DATE, tool_return="ok", status="success", tool_call_id="c"
            )
        )
    )
    assert list(ret)[-5:] == ["tool_return", "status", "tool_call_id", "stdout", "stderr"]
    assert ret["stdout"] is None
    hidden = json.loads(to_wire(HiddenReasoningMessage(id="m", date=DATE, state="omitted")))
    assert hidden["hidden_reasoning"] is None


def test_wire_is_ascii_escaped_and_naive_dates_are_utc() -> None:
    naive = datetime(2024, 5, 1, 12, 0, 0, 999)
    wire = to_wire(AssistantMessage(id="m", date=naive, content="caf\u00e9 \U0001f600"))
    assert '"content":"caf\\u00e9 \\ud83d\\ude00"' in wire
    assert '"date":"2024-05-01T12:00:00+00:00"' in wire
    assert wire.isascii()


def test_error_message_is_written_as_letta_writes_errors() -> None:
    assert (
        to_wire(ErrorMessage(error="overloaded_error: Overloaded"))
        == '{"error":"overloaded_error: Overloaded"}'
    )


def test_sse_stream_ends_with_usage_then_done() -> None:
    events = list(
        to_sse(
            [AssistantMessage(id="m", date=DATE, content="hi")],
            UsageStatistics(prompt_tokens=3, completion_tokens=2, total_tokens=5, step_count=1),
        )
    )
    assert events[0].startswith("data: {") and events[0].endswith("}\n\n")
    assert events[1] == (
        'data: {"message_type":"usage_statistics","completion_tokens":2,"prompt_tokens":3,'
        '"total_tokens":5,"step_count":1,"run_ids":null}\n\n'
    )
    assert events[2] == "data: [DONE]\n\n"


@pytest.mark.parametrize(
    "message",
    [
        ReasoningMessage(
            id="m",
            date=DATE.replace(microsecond=0),
            reasoning="r",
            source="reasoner_model",
            signature="s",
        ),
        HiddenReasoningMessage(
            id="m", date=DATE.replace(microsecond=0), state="redacted", hidden_reasoning="x"
        ),
        ToolCallMessage(
            id="m",
            date=DATE.replace(microsecond=0),
            tool_call=ToolCall(name="f", arguments="{}", tool_call_id="c"),
        ),
        ToolCallMessage(
            id="m", date=DATE.replace(microsecond=0), tool_call=ToolCallDelta(name="f")
        ),
        ToolReturnMessage(
            id="m",
            date=DATE.replace(microsecond=0),
            tool_return="ok",
            status="error",
            tool_call_id="c",
            stderr=["boom"],
        ),
        AssistantMessage(id="m", date=DATE.replace(microsecond=0), content="hi", otid="o"),
        ErrorMessage(error="bad"),
        UsageStatistics(completion_tokens=1),
    ],
)
def test_messages_parse_back_from_their_wire_json(message: object) -> None:
    wire = to_wire(message)  # type: ignore[arg-type]
    again = parse_wire(wire)
    assert to_wire(again) == wire
    assert type(again) is type(message)


def test_every_streamed_message_round_trips() -> None:
    args = {"inner_thoughts": "t", "message": "m\u00e9"}
    for knobs in ({"use_assistant_message": True}, {}, {"inner_thoughts_in_kwargs": False}):
        for message in run(tool_stream(args), **knobs):
            assert to_wire(parse_wire(to_wire(message))) == to_wire(message)


def test_merge_joins_only_deltas_of_one_logical_message() -> None:
    messages = run(
        tool_stream({"inner_thoughts": "ab", "message": "cd"}, cuts=[2, 21, 22, 23]),
        use_assistant_message=True,
    )
    merged = merge_deltas(messages)
    assert [type(m) for m in merged] == [ReasoningMessage, AssistantMessage]
    assert merged[0].id == MESSAGE_ID
    # Deltas without an otid (the non-streaming path) are never joined.
    loose = [
        AssistantMessage(id="m", date=DATE, content="a"),
        AssistantMessage(id="m", date=DATE, content="b"),
    ]
    assert len(merge_deltas(loose)) == 2


def test_merge_gathers_interleaved_deltas_of_one_logical_message() -> None:
    from chunkfactory import chunk, tool

    stream = [
        tool("", name="weather", call_id="a", index=0),
        tool("", name="weather", call_id="b", index=1),
    ]
    stream += [
        tool('{"city":', index=0),
        tool('{"city":', index=1),
        tool('"Oslo"}', index=0),
        tool('"Rome"}', index=1),
    ]
    stream.append(chunk(finish="tool_calls"))
    merged = merge_deltas(run(stream, inner_thoughts_in_kwargs=False))
    calls = [
        (m.tool_call.tool_call_id, m.tool_call.arguments)
        for m in merged
        if isinstance(m, ToolCallMessage)
    ]
    assert calls == [("a", '{"city":"Oslo"}'), ("b", '{"city":"Rome"}')]


def test_merge_puts_a_call_split_by_its_inner_thoughts_back_together() -> None:
    args = '{"query": "x", "inner_thoughts": "why", "limit": 2}'
    merged = merge_deltas(run(tool_stream(args, name="search")))
    assert [type(m) for m in merged] == [ToolCallMessage, ReasoningMessage]
    call = merged[0].tool_call  # type: ignore[union-attr]
    assert json.loads(call.arguments or "") == {"query": "x", "limit": 2}


def test_name_uuid_is_uuid5_in_the_url_namespace() -> None:
    import uuid

    from streamreel.core.messages import name_uuid

    for name in ("streamreel:a.yaml#0", "caf\u00e9 \U0001f680", ""):
        assert name_uuid(name) == uuid.uuid5(uuid.NAMESPACE_URL, name)


def _foreign(**data: object) -> ForeignMessage:
    return ForeignMessage(message_type=str(data.get("message_type", "dict")), data=dict(data))


def test_a_foreign_parser_s_parallel_calls_sharing_an_otid_merge_by_their_call_id() -> None:
    # Letta 0.16.8 gives every tool-call delta of a step one otid: only the call id parts them.
    def delta(call: str, **fields: str) -> ForeignMessage:
        return _foreign(
            id="m", otid="o", message_type="tool_call_message",
            tool_call={"tool_call_id": call, **fields},
        )  # fmt: skip

    deltas = [
        delta("a", name="weather"),
        delta("b", name="clock"),
        delta("a", arguments='{"city":'),
        delta("b", arguments='{"zone":'),
        delta("a", arguments='"Oslo"}'),
        delta("b", arguments='"UTC"}'),
    ]
    merged = merge_deltas(deltas)
    assert [m.data["tool_call"] for m in merged if isinstance(m, ForeignMessage)] == [
        {"tool_call_id": "a", "name": "weather", "arguments": '{"city":"Oslo"}'},
        {"tool_call_id": "b", "name": "clock", "arguments": '{"zone":"UTC"}'},
    ]


def test_a_foreign_call_id_is_found_wherever_the_message_s_own_data_puts_it() -> None:
    assert tool_call_id({"tool_call": {"tool_call_id": "a"}}) == "a"
    assert tool_call_id({"tool_call": {"id": "b", "name": "f"}}) == "b"
    assert tool_call_id({"tool_calls": [{"id": "c"}]}) == "c"
    assert tool_call_id({"tool_call_id": "d", "arguments": "{}"}) == "d"
    assert tool_call_id({"tool_calls": [{"id": "c"}, {"id": "e"}]}) is None  # names no one call
    assert tool_call_id({"content": "hi"}) is None


def test_a_foreign_delta_naming_no_call_continues_the_latest_call_of_its_otid() -> None:
    # The deltas before a call first names itself belong to it, as do those after that name none.
    deltas = [
        _foreign(id="m", otid="o", message_type="t", arguments="{"),
        _foreign(id="m", otid="o", message_type="t", tool_call_id="a", arguments='"x"'),
        _foreign(id="m", otid="o", message_type="t", arguments=":1"),
        _foreign(id="m", otid="o", message_type="t", tool_call_id="b", arguments="{"),
        _foreign(id="m", otid="o", message_type="t", arguments="}"),
        _foreign(id="m", otid="o", message_type="t", tool_call_id="a", arguments="}"),
    ]
    merged = merge_deltas(deltas)
    assert [(m.data["tool_call_id"], m.data["arguments"]) for m in merged] == [  # type: ignore[union-attr]
        ("a", '{"x":1}'),
        ("b", "{}"),
    ]
    # Without any call id, one otid is still one message.
    plain = [_foreign(id="m", otid="o", content="he"), _foreign(id="m", otid="o", content="y")]
    assert [m.data["content"] for m in merge_deltas(plain)] == ["hey"]  # type: ignore[union-attr]
