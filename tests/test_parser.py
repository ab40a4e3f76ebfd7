"""The streaming interface's behaviour: Letta's output where Letta is right, and each of its
defects (LETTA-FACTS.md, section 5) corrected."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chunkfactory import DATE, MESSAGE_ID, chunk, kinds, merged, run, split, tool, tool_stream
from streamreel.core.messages import (
    AssistantMessage,
    ErrorMessage,
    ReasoningMessage,
    ToolCallMessage,
    merge_deltas,
    otid_for,
    to_wire,
)

SEND = {"inner_thoughts": "User said hi.", "message": "Hello there!"}


def texts(messages: list[dict[str, Any]]) -> list[Any]:
    out: list[Any] = []
    for m in messages:
        if m.get("message_type") == "reasoning_message":
            out.append(("reasoning", m["reasoning"]))
        elif m.get("message_type") == "assistant_message":
            out.append(("assistant", m["content"]))
        elif m.get("message_type") == "tool_call_message":
            out.append(("tool", m["tool_call"].get("name"), m["tool_call"].get("arguments")))
        elif m.get("message_type") == "hidden_reasoning_message":
            out.append(("hidden", m["hidden_reasoning"]))
        else:
            out.append(("error", m["error"]))
    return out


# -- the knobs ------------------------------------------------------------------------------


def test_send_message_with_inner_thoughts_becomes_reasoning_then_assistant_text() -> None:
    result = merged(tool_stream(SEND), use_assistant_message=True)
    assert texts(result) == [("reasoning", "User said hi."), ("assistant", "Hello there!")]


def test_without_assistant_message_send_message_is_a_tool_call_without_inner_thoughts() -> None:
    result = merged(tool_stream(SEND), use_assistant_message=False)
    assert texts(result) == [
        ("reasoning", "User said hi."),
        ("tool", "send_message", '{"message":"Hello there!"}'),
    ]
    assert result[1]["tool_call"]["tool_call_id"] == "call_1"


def test_other_tool_streams_header_then_arguments_without_inner_thoughts() -> None:
    args = {"inner_thoughts": "Look it up.", "query": "weather in Paris", "limit": 3}
    messages = run(tool_stream(args, name="search"), use_assistant_message=True)
    # The header (name and id) is one delta, the arguments follow as deltas without a name.
    calls = [m for m in messages if isinstance(m, ToolCallMessage)]
    assert calls[0].tool_call.name == "search" and calls[0].tool_call.arguments is None
    assert all(c.tool_call.name is None for c in calls[1:])
    assert texts(merged(tool_stream(args, name="search"), use_assistant_message=True)) == [
        ("reasoning", "Look it up."),
        ("tool", "search", '{"query":"weather in Paris","limit":3}'),
    ]


def test_without_inner_thoughts_in_kwargs_arguments_pass_through_verbatim() -> None:
    text = '{"query": "x",  "inner_thoughts": "kept"}'
    result = merged(tool_stream(text, name="search"), inner_thoughts_in_kwargs=False)
    assert texts(result) == [("tool", "search", text)]


def test_without_inner_thoughts_in_kwargs_send_message_still_becomes_text() -> None:
    stream = tool_stream({"message": "Hi \u00e9"})
    result = merged(stream, inner_thoughts_in_kwargs=False, use_assistant_message=True)
    assert texts(result) == [("assistant", "Hi \u00e9")]


def test_custom_tool_name_and_keyword_names() -> None:
    args = {"thinking": "Hmm.", "text": "Done."}
    result = merged(
        tool_stream(args, name="reply"),
        use_assistant_message=True,
        assistant_message_tool_name="reply",
        assistant_message_tool_kwarg="text",
        inner_thoughts_kwarg="thinking",
    )
    assert texts(result) == [("reasoning", "Hmm."), ("assistant", "Done.")]


def test_content_is_inner_monologue_when_reasoning_is_not_expected() -> None:
    result = merged(
        [chunk({"role": "assistant"}), chunk({"content": "I think "}), chunk({"content": "so."})]
    )
    assert texts(result) == [("reasoning", "I think so.")]
    assert result[0]["source"] == "non_reasoner_model"


def test_reasoning_content_is_reasoning_whatever_the_flag_says() -> None:
    stream = [chunk({"reasoning_content": "Step one."}), chunk({"reasoning": " Step two."})]
    for expect in (False, True):
        result = merged(stream, expect_reasoning_content=expect)
        assert texts(result) == [("reasoning", "Step one. Step two.")]
        assert result[0]["source"] == "reasoner_model"


def test_redacted_reasoning_becomes_hidden_reasoning() -> None:
    result = merged([chunk({"redacted_reasoning_content": "EncryptedBlob=="})])
    assert result[0]["message_type"] == "hidden_reasoning_message"
    assert result[0]["state"] == "redacted" and result[0]["hidden_reasoning"] == "EncryptedBlob=="


def test_every_message_of_a_call_shares_its_id_and_date() -> None:
    for message in run(tool_stream(SEND), use_assistant_message=True):
        assert not isinstance(message, ErrorMessage)
        assert message.id == MESSAGE_ID and message.date == DATE


def test_first_delta_comes_with_the_chunk_that_brings_its_text() -> None:
    stream = tool_stream('{"inner_thoughts":"ab', finish=False, cuts=[])
    messages = run(stream[:2])
    assert [m.reasoning for m in messages if isinstance(m, ReasoningMessage)] == ["ab"]


# -- Letta's defects, corrected (LETTA-FACTS.md section 5) -----------------------------------


def test_defect_1_escapes_are_decoded_once_even_when_split() -> None:
    message = 'He said "hi"\nCaf\u00e9 \U0001f600 C:\\path'
    text = json.dumps({"inner_thoughts": "ok", "message": message})
    for cut in range(1, len(text)):
        result = merged(tool_stream(text, cuts=[cut]), use_assistant_message=True)
        assert texts(result) == [("reasoning", "ok"), ("assistant", message)], cut


def test_defect_1_non_ascii_escapes_split_inside_the_escape() -> None:
    text = '{"message":"caf\\u00e9 \\ud83d\\ude00!"}'
    for cut in range(1, len(text)):
        for second in range(cut + 1, len(text)):
            result = merged(tool_stream(text, cuts=[cut, second]), use_assistant_message=True)
            assert texts(result) == [("assistant", "caf\u00e9 \U0001f600!")]


def test_defect_2_escaped_backslash_before_more_keys_does_not_crash() -> None:
    text = '{"inner_thoughts":"path is C:\\\\","message":"done","x":1}'
    result = merged(tool_stream(text, cuts=[28, 29, 30]), use_assistant_message=True)
    assert texts(result) == [("reasoning", "path is C:\\"), ("assistant", "done")]


def test_defect_2_python_literals_are_tolerated_and_normalised() -> None:
    text = '{"inner_thoughts": "t", "flag": True, "other": [False, None]}'
    result = merged(tool_stream(text, name="set_flag", cuts=[30, 31, 45]))
    assert texts(result)[1] == ("tool", "set_flag", '{"flag":true,"other":[false, null]}')


def test_defect_2_usage_chunk_with_empty_choices_is_counted_not_a_crash() -> None:
    stream = [
        chunk({"content": "hi"}),
        {"id": "x", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}},
    ]
    from streamreel.core.chunks import parse_chunk
    from streamreel.core.parser import StreamParser

    parser = StreamParser()
    out = []
    for c in stream:
        out += parser.feed(parse_chunk(c), message_id=MESSAGE_ID, message_date=DATE)
    assert texts([json.loads(to_wire(m)) for m in out]) == [("reasoning", "hi")]
    usage = parser.usage()
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.step_count) == (
        9,
        2,
        11,
        1,
    )


def test_defect_2_message_that_is_a_number_becomes_its_text() -> None:
    result = merged(tool_stream('{"message": 42}'), use_assistant_message=True)
    assert texts(result) == [("assistant", "42")]


def test_defect_2_tool_call_without_arguments_field_is_still_shown() -> None:
    stream = [tool(None, name="get_time", call_id="call_9"), chunk(finish="tool_calls")]
    result = merged(stream)
    assert texts(result) == [("tool", "get_time", None)]
    assert result[0]["tool_call"]["tool_call_id"] == "call_9"


def test_defect_2_more_than_127_messages_in_one_call_never_crash() -> None:
    stream = []
    for i in range(300):
        stream.append(chunk({"reasoning_content": f"r{i}"}))
        stream.append(chunk({"redacted_reasoning_content": f"h{i}"}))
    messages = run(stream)
    otids = [m.otid for m in messages if not isinstance(m, ErrorMessage)]
    assert len(otids) == 600 and len(set(otids)) == 600
    # Below 128 the otid is Letta's: the uuid with its low seven bits replaced by the index.
    assert otids[5] == otid_for(MESSAGE_ID, 5) == "6b1f3d52-7a0e-4f0a-9c1e-3d2b4a5c6d05"


@pytest.mark.parametrize(
    "arguments",
    [
        {"inner_thoughts": "t", "n": 5, "f": 1.5e-3, "b": False, "z": None, "o": {"a": [1, "}"]}},
        {"inner_thoughts": "t", "text": 'value with ] and } and \\ and "'},
    ],
)
def test_defect_3_remaining_arguments_are_exactly_the_json_without_inner_thoughts(
    arguments: dict[str, Any],
) -> None:
    spaced = json.dumps(arguments, indent=None, separators=(", ", ": "))
    for cut in range(1, len(spaced), 3):
        result = merged(tool_stream(spaced, name="calc", cuts=[cut, cut + 1]))
        tool_args = result[-1]["tool_call"]["arguments"]
        expected = {k: v for k, v in arguments.items() if k != "inner_thoughts"}
        assert json.loads(tool_args) == expected


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"message": "hi"}, [("assistant", "hi")]),  # no inner thoughts
        (
            {"message": "hi", "inner_thoughts": "t"},
            [("assistant", "hi"), ("reasoning", "t")],
        ),  # not first
        (
            {"inner_thoughts": "only"},
            [("reasoning", "only"), ("tool", "send_message", "{}")],
        ),  # only key
    ],
)
def test_defect_4_inner_thoughts_missing_late_or_alone(
    arguments: dict[str, Any], expected: list[Any]
) -> None:
    assert texts(merged(tool_stream(arguments), use_assistant_message=True)) == expected


def test_defect_4_whole_arguments_in_one_chunk() -> None:
    text = json.dumps(SEND)
    result = merged(tool_stream(text, cuts=[]), use_assistant_message=True)
    assert texts(result) == [("reasoning", "User said hi."), ("assistant", "Hello there!")]


def test_defect_4_thoughts_end_and_message_start_in_one_chunk() -> None:
    text = json.dumps(SEND)
    cut = text.index('"message"')
    result = merged(tool_stream(text, cuts=[cut - 4, cut + 14]), use_assistant_message=True)
    assert texts(result) == [("reasoning", "User said hi."), ("assistant", "Hello there!")]


def test_defect_5_parallel_tool_calls_are_told_apart_by_index() -> None:
    a = json.dumps({"inner_thoughts": "A", "city": "Paris"})
    b = json.dumps({"inner_thoughts": "B", "city": "Oslo"})
    stream = [
        tool("", name="weather", call_id="call_a", index=0),
        tool("", name="weather", call_id="call_b", index=1),
    ]
    # Interleave the two calls' pieces.
    for i in range(0, max(len(a), len(b)), 5):
        if a[i : i + 5]:
            stream.append(tool(a[i : i + 5], index=0))
        if b[i : i + 5]:
            stream.append(tool(b[i : i + 5], index=1))
    stream.append(chunk(finish="tool_calls"))
    messages = run(stream)
    by_otid: dict[str, list[Any]] = {}
    for m in messages:
        assert not isinstance(m, ErrorMessage)
        by_otid.setdefault(m.otid or "", []).append(m)
    calls = {}
    for group in by_otid.values():
        if isinstance(group[0], ToolCallMessage):
            name = "".join(m.tool_call.name or "" for m in group)
            args = "".join(m.tool_call.arguments or "" for m in group)
            call_id = next(m.tool_call.tool_call_id for m in group if m.tool_call.tool_call_id)
            calls[call_id] = (name, json.loads(args))
    assert calls == {
        "call_a": ("weather", {"city": "Paris"}),
        "call_b": ("weather", {"city": "Oslo"}),
    }
    thoughts = sorted(
        "".join(m.reasoning for m in g)
        for g in by_otid.values()
        if isinstance(g[0], ReasoningMessage)
    )
    assert thoughts == ["A", "B"]


def test_defect_5_whole_calls_without_index_are_separate_calls() -> None:
    stream = [
        chunk({"tool_calls": [
            {"id": "c1", "function": {"name": "f", "arguments": '{"a": 1}'}},
            {"id": "c2", "function": {"name": "g", "arguments": '{"b": 2}'}},
        ]}),
        chunk(finish="tool_calls"),
    ]  # fmt: skip
    result = merged(stream, inner_thoughts_in_kwargs=False)
    assert texts(result) == [("tool", "f", '{"a": 1}'), ("tool", "g", '{"b": 2}')]


def test_defect_6_a_name_split_across_chunks_is_one_name() -> None:
    text = json.dumps(SEND)
    stream = [tool("", name="send_", call_id="call_1"), tool("", name="message")]
    stream += [tool(text[i : i + 7]) for i in range(0, len(text), 7)] + [chunk(finish="stop")]
    for knobs in (
        {"use_assistant_message": True},
        {"use_assistant_message": True, "inner_thoughts_in_kwargs": False},
    ):
        result = merged(stream, **knobs)
        assert kinds(result)[-1] == "assistant_message"
    result = merged(stream, inner_thoughts_in_kwargs=False)
    assert texts(result) == [("tool", "send_message", text)]
    tool_messages = [
        m for m in run(stream, inner_thoughts_in_kwargs=False) if isinstance(m, ToolCallMessage)
    ]
    assert len({m.otid for m in tool_messages}) == 1


def test_a_name_restated_with_its_id_on_every_fragment_is_not_repeated() -> None:
    stream = [
        tool("", name="llm_version", call_id="0"),
        tool("{}", name="llm_version", call_id="0"),
        chunk(finish="tool_calls"),
    ]
    for knobs in ({}, {"inner_thoughts_in_kwargs": False}):
        result = merged(stream, **knobs)
        assert texts(result) == [("tool", "llm_version", "{}")]
        assert result[0]["tool_call"]["tool_call_id"] == "0"


def test_defect_7_json_in_content_is_emitted_once_and_reset_between_steps() -> None:
    content = json.dumps({"name": "search", "arguments": {"q": "rust \u00e9"}})
    stream = [chunk({"reasoning_content": "Need to search."})]
    stream += [chunk({"content": content[i : i + 3]}) for i in range(0, len(content), 3)]
    result = merged(stream, expect_reasoning_content=True)
    assert texts(result) == [
        ("reasoning", "Need to search."),
        ("tool", "search", '{"q": "rust \\u00e9"}'),
    ]
    # A second step must not see the first step's content.
    from streamreel.core.chunks import parse_chunk
    from streamreel.core.parser import StreamParser

    parser = StreamParser()
    first = [
        m
        for c in stream
        for m in parser.feed(
            parse_chunk(c), message_id=MESSAGE_ID, message_date=DATE, expect_reasoning_content=True
        )
    ]
    first += parser.finish()
    second_id = "message-00000000-0000-4000-8000-000000000001"
    second = parser.feed(
        parse_chunk(chunk({"content": '{"name": "x", "arguments": {}}'})),
        message_id=second_id,
        message_date=DATE,
        expect_reasoning_content=True,
    )
    second += parser.finish()
    assert texts([json.loads(to_wire(m)) for m in merge_deltas(second)]) == [("tool", "x", "{}")]


def test_defect_7_plain_text_content_in_reasoning_mode_is_kept() -> None:
    result = merged([chunk({"content": "  Just text."})], expect_reasoning_content=True)
    assert texts(result) == [("reasoning", "  Just text.")]


def test_defect_8_signature_chunks_are_kept_and_source_is_reasoner() -> None:
    stream = [
        chunk({"reasoning_content": ""}),
        chunk({"reasoning_content": "Let me think."}),
        chunk({"reasoning_content": "", "reasoning_content_signature": "sig=="}),
        chunk({"content": "x"}),
    ]
    result = merged(stream, expect_reasoning_content=True)
    assert result[0]["source"] == "reasoner_model"
    assert result[0]["reasoning"] == "Let me think." and result[0]["signature"] == "sig=="


def test_defect_11_trailing_space_is_not_held_back() -> None:
    stream = tool_stream('{"message":"Hello ', finish=False, cuts=[])
    messages = run(stream, use_assistant_message=True)
    assert [m.content for m in messages if isinstance(m, AssistantMessage)] == ["Hello "]


def test_defect_12_each_logical_message_gets_the_next_otid() -> None:
    messages = run(tool_stream(SEND), use_assistant_message=True)
    reasoning = {m.otid for m in messages if isinstance(m, ReasoningMessage)}
    assistant = {m.otid for m in messages if isinstance(m, AssistantMessage)}
    assert reasoning == {otid_for(MESSAGE_ID, 0)} and assistant == {otid_for(MESSAGE_ID, 1)}


def test_defect_12_otids_continue_after_chunks_that_emit_nothing() -> None:
    stream = [
        chunk({"reasoning_content": "a"}),
        chunk({"role": "assistant"}),
        chunk({}),
        chunk({"redacted_reasoning_content": "b"}),
    ]
    messages = run(stream)
    assert [m.otid for m in messages if not isinstance(m, ErrorMessage)] == [
        otid_for(MESSAGE_ID, 0),
        otid_for(MESSAGE_ID, 1),
    ]


# -- faults become messages, after what came before ------------------------------------------


def test_truncated_arguments_keep_what_streamed_and_end_with_an_error() -> None:
    stream = tool_stream('{"inner_thoughts": "partial", "message": "Hel', finish=False)
    result = merged(stream, use_assistant_message=True)
    assert texts(result)[:2] == [("reasoning", "partial"), ("assistant", "Hel")]
    assert kinds(result)[-1] == "error" and "ends mid-value" in result[-1]["error"]


def test_malformed_arguments_fall_back_to_a_lenient_decoder() -> None:
    text = "{'message': 'single quoted', 'inner_thoughts': 'py style'}"
    result = merged(tool_stream(text), use_assistant_message=True)
    assert texts(result) == [("assistant", "single quoted"), ("reasoning", "py style")]


def test_garbage_arguments_become_an_error_message_not_an_exception() -> None:
    result = merged(tool_stream("not json at all", name="f"))
    assert kinds(result)[-1] == "error"
    assert "cannot read the arguments" in result[-1]["error"]


def test_split_points_never_change_the_merged_messages() -> None:
    text = json.dumps(
        {"inner_thoughts": 'Th\u00efnk "twice"', "message": "Line1\nLine2 \\o/ \U0001f680"}
    )
    whole = merged(tool_stream(text, cuts=[]), use_assistant_message=True)
    for step in (1, 2, 3, 5, 8):
        cuts = list(range(step, len(text), step))
        assert merged(tool_stream(text, cuts=cuts), use_assistant_message=True) == whole
    assert split("abcdef", [2, 4]) == ["ab", "cd", "ef"]
