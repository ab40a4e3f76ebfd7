"""The fast paths give what pydantic gives: unvalidated messages, the wire writer, block output.

Messages the parser builds skip validation and are written without pydantic's serializer; both
are only worth having if nothing downstream can tell, so each is compared here with the slow
path it replaces, field by field and byte by byte.
"""

from __future__ import annotations

import gc
import json
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click
import pytest
from chunkfactory import MESSAGE_ID, tool_stream
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from streamreel.cli import main
from streamreel.cli.collector import collector_paused
from streamreel.cli.render import _LABEL_WIDTH, _TEXT_WIDTH, render_table, write_blocks
from streamreel.core.chunks import parse_chunk
from streamreel.core.errors import StreamreelError
from streamreel.core.messages import (
    AgentMessage,
    AssistantMessage,
    ErrorMessage,
    HiddenReasoningMessage,
    ReasoningMessage,
    SystemMessage,
    ToolCall,
    ToolCallDelta,
    ToolCallMessage,
    ToolReturnMessage,
    UsageStatistics,
    UserMessage,
    to_wire,
    trusted,
    wire_dict,
)
from streamreel.core.parser import InterfaceSettings, StreamParser
from streamreel.core.providers.openai_chat import ChatCompletionsAdapter
from streamreel.playback.replay import replay_chunk_file

DATE = datetime(2024, 5, 1, 2, 3, 4, 567890, tzinfo=timezone(timedelta(hours=2)))
NAIVE = datetime(2024, 5, 1, 2, 3, 4)

_EXAMPLES: list[tuple[type[Any], dict[str, Any]]] = [
    (ReasoningMessage, {"id": "m", "date": DATE, "reasoning": "r\u00e9", "signature": "s"}),
    (ReasoningMessage, {"id": "m", "date": NAIVE, "reasoning": "", "source": "reasoner_model"}),
    (HiddenReasoningMessage, {"id": "m", "date": DATE, "state": "redacted"}),
    (AssistantMessage, {"id": "m", "date": DATE, "name": "n", "content": '"q"\n'}),
    (SystemMessage, {"id": "m", "date": DATE, "content": "sys"}),
    (UserMessage, {"id": "m", "date": DATE, "content": "hi", "sender_id": "u"}),
    (
        ToolReturnMessage,
        {
            "id": "m",
            "date": DATE,
            "tool_return": "ok",
            "status": "success",
            "tool_call_id": "c",
            "stdout": ["a"],
        },
    ),
    (ToolCallMessage, {"id": "m", "date": DATE, "tool_call": ToolCallDelta(arguments="{")}),
    (
        ToolCallMessage,
        {
            "id": "m",
            "date": DATE,
            "otid": "o",
            "tool_call": ToolCall(name="f", arguments="{}", tool_call_id="c"),
        },
    ),
]


@pytest.mark.parametrize(("cls", "values"), _EXAMPLES)
def test_a_trusted_message_equals_prints_and_writes_as_a_validated_one(
    cls: type[Any], values: dict[str, Any]
) -> None:
    validated, built = cls(**values), trusted(cls, **values)
    assert built == validated
    assert repr(built) == repr(validated)
    assert built.model_fields_set == validated.model_fields_set
    assert built.model_dump_json() == validated.model_dump_json()
    assert to_wire(built) == to_wire(validated)


@pytest.mark.parametrize(("cls", "values"), _EXAMPLES)
def test_the_wire_writer_matches_pydantics_serializer(
    cls: type[Any], values: dict[str, Any]
) -> None:
    message = cls(**values)
    exclude_none = cls is ToolCallMessage
    expected = message.model_dump(mode="json", exclude_none=exclude_none)
    written = wire_dict(message)
    assert written == expected
    assert list(written) == list(expected)  # the wire's key order
    assert json.dumps(written) == json.dumps(expected)


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "\u2028", "\ud83d\ude80"]
)
_OPTIONAL = st.none() | _TEXT
_DATES = st.sampled_from(
    [DATE, NAIVE, DATE.replace(tzinfo=UTC), datetime(1999, 12, 31, 23, 59, 59)]
)
_BASE = {"id": _TEXT, "date": _DATES, "name": _OPTIONAL, "otid": _OPTIONAL, "sender_id": _OPTIONAL}
_CALLS = st.builds(ToolCallDelta, name=_OPTIONAL, arguments=_OPTIONAL, tool_call_id=_OPTIONAL) | (
    st.builds(ToolCall, name=_TEXT, arguments=_TEXT, tool_call_id=_TEXT)
)
_MESSAGES = st.one_of(
    st.builds(
        ReasoningMessage,
        **_BASE,
        reasoning=_TEXT,
        signature=_OPTIONAL,
        source=st.sampled_from(["reasoner_model", "non_reasoner_model"]),
    ),
    st.builds(
        HiddenReasoningMessage, **_BASE, state=st.just("omitted"), hidden_reasoning=_OPTIONAL
    ),
    st.builds(AssistantMessage, **_BASE, content=_TEXT),
    st.builds(SystemMessage, **_BASE, content=_TEXT),
    st.builds(UserMessage, **_BASE, content=_TEXT),
    st.builds(
        ToolReturnMessage,
        **_BASE,
        tool_return=_TEXT,
        status=st.sampled_from(["success", "error"]),
        tool_call_id=_TEXT,
        stdout=st.none() | st.lists(_TEXT, max_size=2),
        stderr=st.none() | st.lists(_TEXT, max_size=2),
    ),
    st.builds(ToolCallMessage, **_BASE, tool_call=_CALLS),
)


@given(st.lists(_MESSAGES, min_size=1, max_size=8))
@settings(max_examples=300, deadline=None)
def test_the_wire_text_is_pydantics_json_for_any_message(messages: list[AgentMessage]) -> None:
    # Several messages a run, so that what the writer keeps of one (its first fields, by id,
    # date and otid) is tried on the next; and each message twice, taken from what it kept.
    for message in [*messages, *messages]:
        exclude_none = isinstance(message, ToolCallMessage)
        expected = message.model_dump(mode="json", exclude_none=exclude_none)
        assert to_wire(message) == json.dumps(expected, separators=(",", ":"))


def test_errors_and_usage_keep_their_wire_form() -> None:
    assert wire_dict(ErrorMessage(error="boom")) == {"error": "boom"}
    usage = UsageStatistics(prompt_tokens=3, run_ids=["r"])
    assert wire_dict(usage) == usage.model_dump(mode="json")


def test_the_parser_still_checks_the_date_it_is_given() -> None:
    parser = StreamParser(InterfaceSettings())
    chunk = parse_chunk({"choices": [{"index": 0, "delta": {"content": "hi"}}]})
    [message] = parser.feed(
        chunk,
        message_id=MESSAGE_ID,
        message_date="2024-05-01T00:00:00Z",  # type: ignore[arg-type]
    )
    assert message.date == datetime(2024, 5, 1, tzinfo=UTC)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="datetime"):
        parser.feed(chunk, message_id=MESSAGE_ID, message_date="soon")  # type: ignore[arg-type]


def test_block_output_is_the_lines_joined(capsys: pytest.CaptureFixture[str]) -> None:
    lines = [f"line {i}" for i in range(5000)]
    write_blocks(iter(lines))
    assert capsys.readouterr().out == "".join(f"{line}\n" for line in lines)
    write_blocks(["a\n\n", "b\n\n"], end="")
    assert capsys.readouterr().out == "a\n\nb\n\n"
    write_blocks([])
    assert capsys.readouterr().out == ""


def test_a_long_replay_prints_every_message_once_in_order(tmp_path: Path) -> None:
    arguments = {"inner_thoughts": "t " * 1500, "message": "word " * 3000}
    source = tmp_path / "long.jsonl"
    source.write_text(
        "\n".join(json.dumps(c) for c in tool_stream(arguments)) + "\n",
        encoding="utf-8",
    )
    expected: list[AgentMessage] = replay_chunk_file(source).messages
    assert len(expected) > 4096  # more than one block
    for output_format, rendered in (
        ("jsonl", "".join(to_wire(m) + "\n" for m in expected)),
        ("sse", None),
    ):
        outcome = CliRunner().invoke(main, ["replay", str(source), "--format", output_format])
        assert outcome.exit_code == 0, outcome.output
        if rendered is not None:
            assert outcome.stdout == rendered
        else:
            events = outcome.stdout.split("\n\n")
            assert events[-2:] == ["data: [DONE]", ""]
            assert [e.removeprefix("data: ") for e in events[: len(expected)]] == [
                to_wire(m) for m in expected
            ]


def test_a_paused_command_resumes_the_collector_however_it_ends() -> None:
    @collector_paused
    def finish(how: str) -> str:
        assert not gc.isenabled()
        if how == "exit":
            raise SystemExit(3)
        if how == "click":
            raise click.ClickException("no")
        if how == "bug":
            raise KeyError("bug")
        return "done"

    assert gc.isenabled()
    assert finish("return") == "done"
    with pytest.raises(SystemExit) as stopped:
        finish("exit")
    assert stopped.value.code == 3
    with pytest.raises(click.ClickException):
        finish("click")
    with pytest.raises(KeyError) as bug:
        finish("bug")
    assert bug.traceback[-1].name == "finish"  # a bug keeps its traceback
    assert gc.isenabled()
    gc.disable()
    try:
        assert finish("return") == "done"
        assert not gc.isenabled()  # a collector paused by the caller stays paused
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "pieces",
    [
        ['{"m": "caf\\u00e9 \\"q\\"\\n\\ud83d\\ude80 end"}'],  # one run, decoded at once
        ['{"m": "caf\\u00e9 \\"q\\"\\n\\ud83d', '\\ude80 end"}'],  # the pair split between pieces
        ['{"m": "caf\\u00e9 \\"q\\"\\n\\ud8', '3d\\ude80 end"}'],  # an escape cut mid-way
        ['{"m": "caf\\u00', 'e9 \\"q\\"\\', 'n\\ud83d\\ude80 end"}'],
    ],
)
def test_string_runs_decode_as_escape_by_escape_would(pieces: list[str]) -> None:
    from streamreel.core.arguments import VALUE, ArgumentsReader, Route

    reader = ArgumentsReader({"m": Route.TEXT}, default=Route.DROP)
    events = [e for piece in pieces for e in reader.feed(piece)] + reader.close()
    assert all(e.kind == VALUE for e in events)
    assert "".join(e.text for e in events) == 'caf\u00e9 "q"\n\U0001f680 end'


def test_an_escape_json_does_not_define_keeps_its_character_around_decoded_runs() -> None:
    from streamreel.core.arguments import ArgumentsReader, Route

    reader = ArgumentsReader({"m": Route.TEXT}, default=Route.DROP)
    events = reader.feed('{"m": "a\\n\\qb\\u00e9\\ud83dz"}') + reader.close()
    assert "".join(e.text for e in events) == "a\nqb\u00e9\ud83dz"


def test_a_lean_chunk_file_replay_gives_the_same_messages_without_the_payload(
    tmp_path: Path,
) -> None:
    from streamreel.cli.benchmark import send_message_lines
    from streamreel.playback.replay import replay_chunk_file

    path = tmp_path / "stream.jsonl"
    path.write_text("\n".join(send_message_lines(60)) + "\n", encoding="utf-8")
    full, lean = replay_chunk_file(path), replay_chunk_file(path, lean=True)
    assert [to_wire(m) for m in lean.messages] == [to_wire(m) for m in full.messages]
    (whole,), (kept,) = full.interactions, lean.interactions
    assert [r.index for r in kept.chunks] == [r.index for r in whole.chunks]
    assert all(r.data == b"" and not r.produced and not r.messages for r in kept.chunks)
    assert kept.features == whole.features


_ABSENT = object()
_junk = st.sampled_from([_ABSENT, None, True, -1, 1.0, "1", [], {}, "\ud800", "a\u00e9"])


def _mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` seven times in eight, else something a chunk should not hold there (or
    nothing): the odd value sends a chunk down the decoded path, and is the exception."""
    return st.integers(0, 7).flatmap(lambda n: _junk if n == 0 else valid)


def _present(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not _ABSENT}


_texts = st.sampled_from([_ABSENT, None, "", "x", "\u2028"])
_fragments = st.builds(
    _present,
    index=_mostly(st.integers(0, 3)),
    id=_mostly(st.sampled_from([_ABSENT, "call_1"])),
    function=_mostly(st.builds(_present, name=_mostly(_texts), arguments=_mostly(_texts))),
)
_deltas = st.builds(
    _present,
    content=_mostly(st.one_of(_texts, st.just([{"type": "text", "text": "t"}]))),
    refusal=_mostly(st.sampled_from([_ABSENT, _ABSENT, None, "no"])),
    role=_mostly(st.sampled_from([_ABSENT, "assistant"])),
    reasoning=_mostly(_texts),
    tool_calls=_mostly(
        st.sampled_from([_ABSENT, None]) | st.lists(_fragments, min_size=1, max_size=2)
    ),
)
_choices = st.builds(
    _present,
    index=_mostly(st.integers(0, 2)),
    delta=_mostly(_deltas),
    finish_reason=_mostly(st.sampled_from([_ABSENT, None, None, "stop"])),
    logprobs=_mostly(st.sampled_from([_ABSENT, None, {"content": [1.5]}])),
)
_chat_chunks = st.builds(
    _present,
    id=_mostly(st.sampled_from([_ABSENT, "chatcmpl-1"])),
    created=_mostly(st.sampled_from([_ABSENT, 1748779200, "2025-06-01T12:00:00Z"])),
    choices=_mostly(st.lists(_choices, min_size=1, max_size=2)),
    usage=_mostly(st.sampled_from([_ABSENT, None, {"prompt_tokens": 3}])),
    x_groq=st.sampled_from([_ABSENT] * 7 + [{"usage": {"prompt_tokens": 2}}]),
    error=st.sampled_from([_ABSENT] * 7 + [None, {"message": "m"}]),
)


def _adapted(chunks: list[str], names: list[str], *, fast: bool) -> list[object]:
    adapter = ChatCompletionsAdapter()
    out: list[object] = []
    for text, name in zip(chunks, names, strict=True):
        try:
            produced = adapter.event_text(name, text) if fast else None
            if produced is None:
                produced = adapter.event(name, json.loads(text))
            out.append(produced)
        except StreamreelError as exc:
            out.append(("raised", type(exc).__name__, str(exc)))
    out.append(adapter.done())
    return out


@settings(max_examples=400, deadline=None)
@given(
    chunks=st.lists(_chat_chunks.map(json.dumps), min_size=1, max_size=4),
    names=st.lists(st.sampled_from(["", "message", "error"]), min_size=4, max_size=4),
)
def test_a_chat_chunk_validated_from_its_text_is_the_chunk_the_decoded_path_gives(
    chunks: list[str], names: list[str]
) -> None:
    named = names[: len(chunks)]
    assert _adapted(chunks, named, fast=True) == _adapted(chunks, named, fast=False)


@pytest.mark.parametrize(
    "text",
    [
        '{"choices":[{"index":0,"delta":{"refusal":"no"}}]}',
        '{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"a"}]}}]}',
        '{"choices":[],"x_groq":{"usage":{"prompt_tokens":3}}}',
        '{"choices":[],"x\\u005fgroq":{"usage":{"prompt_tokens":3}}}',
        '{"choices":[{"delta":{"content":[{"type":"text","text":"t"}]}}]}',
        '{"choices":[{"index":"1","delta":{}}]}',
        '{"choices":[{"index":1.0,"delta":{}}]}',
        '{"choices":[{"index":true,"delta":{}}]}',
        '{"choices":[{"delta":{"content":"\\ud800"}}]}',
        '{"error":{"message":"m"},"choices":[]}',
        # A numeric string: older pydantic reads it as a timestamp in strict JSON.
        '{"created":"1","choices":[{}]}',
    ],
)
def test_a_chunk_that_needs_normalising_is_left_to_the_decoded_path(text: str) -> None:
    assert ChatCompletionsAdapter().event_text("", text) is None
    assert _adapted([text], [""], fast=True) == _adapted([text], [""], fast=False)


def test_the_fast_chat_path_takes_an_ordinary_chunk() -> None:
    text = json.dumps(
        {
            "id": "c",
            "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "a"}]}}],
        }
    )
    assert ChatCompletionsAdapter().event_text("", text) is not None


def test_a_tool_call_read_from_text_still_numbers_the_calls_after_it() -> None:
    # The second chunk's call has no index: it takes the one after the first chunk's call.
    first = '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"id":"a"}]}}]}'
    second = '{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"b"}]}}]}'
    fast = _adapted([first, second], ["", ""], fast=True)
    assert fast == _adapted([first, second], ["", ""], fast=False)
    [chunk] = fast[1]  # type: ignore[misc]
    assert chunk.choices[0].delta.tool_calls[0].index == 3  # type: ignore[attr-defined]


_texts = st.one_of(st.none(), st.text(max_size=6))


@settings(max_examples=200, deadline=None)
@given(
    stamp=st.tuples(_texts, _texts, st.one_of(st.none(), st.integers(0, 2**40))),
    index=st.integers(0, 3),
    role=_texts,
    content=_texts,
    reasoning=_texts,
    signature=_texts,
    redacted=_texts,
    call=st.one_of(st.none(), st.tuples(st.integers(0, 3), _texts, _texts, _texts)),
    finish=_texts,
    counts=st.one_of(st.none(), st.tuples(st.integers(0, 9), st.integers(0, 9))),
    output_tokens=st.one_of(st.none(), st.integers(0, 99)),
)
def test_a_chunk_an_adapter_makes_is_the_one_its_models_built_one_by_one_give(
    stamp: tuple[str | None, str | None, int | None],
    index: int,
    role: str | None,
    content: str | None,
    reasoning: str | None,
    signature: str | None,
    redacted: str | None,
    call: tuple[int, str | None, str | None, str | None] | None,
    finish: str | None,
    counts: tuple[int, int] | None,
    output_tokens: int | None,
) -> None:
    # Adapters validate one nested mapping with the chunk model's own validator; what they
    # get must equal, print, dump and have the fields set of the models made one by one.
    from streamreel.core.chunks import (
        ChatCompletionChunk,
        Choice,
        ChunkDelta,
        FunctionDelta,
        ToolCallFragment,
        Usage,
    )
    from streamreel.core.providers._adapter import Stamp, tool_call, usage

    made = Stamp()
    made.id, made.model, made.created = stamp
    fragments = None
    expected_fragments = None
    if call is not None:
        at, call_id, name, arguments = call
        fragments = [tool_call(at, id=call_id, name=name, arguments=arguments)]
        expected_fragments = [
            ToolCallFragment(
                index=at,
                id=call_id,
                type="function" if call_id is not None or name is not None else None,
                function=FunctionDelta(name=name, arguments=arguments),
            )
        ]
    used = usage(*counts) if counts is not None else None
    chunk = made.chunk(
        index=index,
        role=role,
        content=content,
        reasoning=reasoning,
        signature=signature,
        redacted=redacted,
        tool_calls=fragments,
        finish_reason=finish,
        usage=used,
        output_tokens=output_tokens,
    )
    expected = ChatCompletionChunk(
        id=stamp[0],
        model=stamp[1],
        created=stamp[2],
        choices=[
            Choice(
                index=index,
                delta=ChunkDelta(
                    role=role,
                    content=content,
                    reasoning_content=reasoning,
                    reasoning_content_signature=signature,
                    redacted_reasoning_content=redacted,
                    tool_calls=expected_fragments,
                ),
                finish_reason=finish,
            )
        ],
        usage=Usage(**used.model_dump()) if used is not None else None,
        output_tokens=output_tokens,
    )
    assert chunk == expected
    assert repr(chunk) == repr(expected)
    assert chunk.model_dump_json() == expected.model_dump_json()
    pairs: list[tuple[Any, Any]] = [(chunk, expected), (chunk.choices[0], expected.choices[0])]
    pairs.append((chunk.choices[0].delta, expected.choices[0].delta))
    if fragments is not None and expected_fragments is not None:
        pairs.append((fragments[0], expected_fragments[0]))
        pairs.append((fragments[0].function, expected_fragments[0].function))
    for got, want in pairs:
        assert type(got) is type(want)
        assert got.model_fields_set == want.model_fields_set


@pytest.mark.parametrize(("cls", "values"), _EXAMPLES)
def test_only_the_kinds_the_replay_command_picks_out_can_report_an_error(
    cls: type[Any], values: dict[str, Any]
) -> None:
    # streamreel replay keeps each interaction's error messages by type first, then asks
    # reports_error: a message of any other kind must never report one.
    from streamreel.cli.replay import MAY_REPORT_ERROR
    from streamreel.core.messages import ForeignMessage, reports_error

    assert not issubclass(cls, MAY_REPORT_ERROR)
    assert not reports_error(cls(**values))
    assert reports_error(ErrorMessage(error="boom"))
    assert reports_error(ForeignMessage(message_type="error_message", data={}))


_WHITESPACE_HEAVY = st.text(
    st.sampled_from([" ", "\t", "\x0b", "\x0c", "\r", "\u00a0", "\u3000", "a", "\u00e9", "-"]),
    max_size=120,
)


@given(st.lists(_WHITESPACE_HEAVY | st.text(max_size=200), min_size=1, max_size=4))
@settings(max_examples=300, deadline=None)
def test_the_table_wraps_text_as_textwrap_does(paragraphs: list[str]) -> None:
    # The table's short-line shortcut against what textwrap itself makes of the same text, as
    # the table shows it: each line after the label or indent, trailing whitespace stripped.
    text = "\n".join(paragraphs)
    message = trusted(AssistantMessage, id="m", date=DATE, content=text)
    expected: list[str] = []
    for paragraph in text.split("\n"):
        expected += textwrap.wrap(paragraph, _TEXT_WIDTH, replace_whitespace=False) or [""]
    rows = render_table([message]).split("\n")
    assert rows[0].startswith("assistant")
    shown = [rows[0][_LABEL_WIDTH + 1 :], *(row[_LABEL_WIDTH + 1 :] for row in rows[1:])]
    assert shown == [line.rstrip() for line in expected]


def test_a_message_built_with_values_of_other_types_is_written_as_the_encoder_writes_it() -> None:
    # model_construct checks nothing: a list where a string belongs cannot be kept by the
    # writer's shortcut, and the message is written as the JSON encoder writes its fields.
    odd = AssistantMessage.model_construct(id=["a", 1], date=DATE, otid=7, content=1.5)
    assert to_wire(odd) == json.dumps(wire_dict(odd), separators=(",", ":"))
    assert to_wire(odd).startswith('{"id":["a",1],')
