"""Letta 0.7.8's own interface against streamreel's, on the same streams.

Letta runs in its own virtualenv, which ``streamreel install-letta`` builds (the README's test
command runs it before pytest). On every defect fixture, every bundled cassette and Hypothesis-made
streams both interfaces run, and :func:`streamreel.testing.compat.compare_with_letta` aligns
their messages: where Letta's output is right, streamreel's must equal it field by field; where
it differs, the difference must carry the number of a defect class (or be named noise), and the
README's defect table must list exactly the classes this run shows.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cassettefactory import SEARCH_ID, SEND_ID, cassette, three_steps
from chunkfactory import DATE, MESSAGE_ID, chunk, run, tool, tool_stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamreel.cassettes.storage import load_cassette
from streamreel.core.cassette import Cassette
from streamreel.core.errors import ParserError
from streamreel.core.messages import (
    AgentMessage,
    AssistantMessage,
    ReasoningMessage,
    ToolCallDelta,
    ToolCallMessage,
    ToolReturnMessage,
)
from streamreel.core.parser import InterfaceSettings
from streamreel.letta.real import LettaInterface, letta_parser, require_letta
from streamreel.playback.replay import ParserFactory, replay
from streamreel.testing.compat import (
    UNEXPLAINED,
    Comparison,
    compare_interactions,
    compare_with_letta,
)
from streamreel.testing.evidence import content_of

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = sorted((ROOT / "cassettes").glob("*.yaml"))
SEND = {"inner_thoughts": "User said hi.", "message": "Hello there!"}


@pytest.fixture(scope="session")
def letta() -> ParserFactory:
    # The README's test command runs `streamreel install-letta` first: tests never install.
    require_letta()
    return letta_parser


def through_letta(
    chunks: list[dict[str, Any]], expect_reasoning_content: bool = False, **knobs: Any
) -> list[AgentMessage]:
    parser = LettaInterface(InterfaceSettings(**knobs))
    parser.stream_start()
    for piece in chunks:
        # Where Letta raises, the interface says so (ParserError) after keeping its messages;
        # later chunks of the same call are ignored, as Letta's server never sends them.
        with contextlib.suppress(ParserError):
            parser.process_chunk(piece, MESSAGE_ID, DATE, expect_reasoning_content)
    parser.step_complete()
    parser.step_yield()
    return parser.drain()


def compared(
    chunks: list[dict[str, Any]], expect_reasoning_content: bool = False, **knobs: Any
) -> Comparison:
    theirs = through_letta(chunks, expect_reasoning_content, **knobs)
    ours = run(chunks, expect_reasoning_content, **knobs)
    found = compare_with_letta(
        theirs,
        ours,
        source=content_of(chunks),
        settings=InterfaceSettings(**knobs),
        expect_reasoning_content=expect_reasoning_content,
    )
    assert not found.unexplained, [(d.row, d.reason) for d in found.unexplained]
    return found


def spaced(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, separators=(", ", ": "))


def parallel_calls() -> list[dict[str, Any]]:
    a = json.dumps({"inner_thoughts": "A", "city": "Paris"})
    b = json.dumps({"inner_thoughts": "B", "city": "Oslo"})
    stream = [
        tool("", name="weather", call_id="call_a", index=0),
        tool("", name="weather", call_id="call_b", index=1),
    ]
    for i in range(0, max(len(a), len(b)), 5):
        stream += [tool(a[i : i + 5], index=0), tool(b[i : i + 5], index=1)]
    return [*stream, chunk(finish="tool_calls")]


def split_name() -> list[dict[str, Any]]:
    text = json.dumps(SEND)
    stream = [tool("", name="send_", call_id="call_1"), tool("", name="message")]
    return stream + [tool(text[i : i + 7]) for i in range(0, len(text), 7)]


def deepseek_json() -> list[dict[str, Any]]:
    content = json.dumps({"name": "search", "arguments": {"q": "rust"}})
    stream = [chunk({"reasoning_content": "Need to search."})]
    return stream + [chunk({"content": content[i : i + 3]}) for i in range(0, len(content), 3)]


def many_messages() -> list[dict[str, Any]]:
    stream = []
    for i in range(70):
        stream += [
            chunk({"reasoning_content": f"r{i}"}),
            chunk({"redacted_reasoning_content": f"h{i}"}),
        ]
    return stream


# The defect fixtures of tests/test_parser.py, each with the class it shows.
FIXTURES: list[tuple[str, int, list[dict[str, Any]], dict[str, Any]]] = [
    (
        "escapes",
        1,
        tool_stream({"inner_thoughts": "ok", "message": 'He said "hi"\nCaf\u00e9'}),
        {"use_assistant_message": True},
    ),
    (
        "backslash-before-more-keys",
        1,
        tool_stream(
            '{"inner_thoughts":"path is C:\\\\","message":"done","x":1}', cuts=[28, 29, 30]
        ),
        {"use_assistant_message": True},
    ),
    (
        "python-literals",
        3,
        tool_stream('{"inner_thoughts": "t", "flag": True}', name="set_flag", cuts=[30, 31]),
        {},
    ),
    (
        "usage-chunk",
        2,
        [chunk({"content": "hi"}), {"id": "x", "model": "m", "choices": [], "usage": {}}],
        {},
    ),
    ("message-is-a-number", 4, tool_stream('{"message": 42}'), {"use_assistant_message": True}),
    (
        "no-arguments-field",
        2,
        [tool(None, name="get_time", call_id="call_9"), chunk(finish="tool_calls")],
        {},
    ),
    ("over-127-messages", 2, many_messages(), {"expect_reasoning_content": True}),
    (
        "numbers-get-a-quote",
        3,
        tool_stream(spaced({"inner_thoughts": "t", "n": 5, "b": False}), name="calc"),
        {},
    ),
    ("thoughts-missing", 4, tool_stream({"message": "hi"}), {"use_assistant_message": True}),
    (
        "whole-arguments-in-one-chunk",
        4,
        tool_stream(json.dumps(SEND), cuts=[]),
        {"use_assistant_message": True},
    ),
    ("parallel-calls", 5, parallel_calls(), {}),
    (
        "signature",
        8,
        [
            chunk({"reasoning_content": ""}),
            chunk({"reasoning_content": "Let me think."}),
            chunk({"reasoning_content": "", "reasoning_content_signature": "sig=="}),
        ],
        {"expect_reasoning_content": True},
    ),
    (
        "trailing-space-at-a-cut",
        4,
        tool_stream('{"message":"Hello ', finish=False, cuts=[]),
        {"use_assistant_message": True},
    ),
    ("otids", 12, tool_stream(SEND), {"use_assistant_message": True}),
]


@pytest.mark.parametrize(
    ("defect", "chunks", "knobs"),
    [pytest.param(d, c, k, id=f"defect-{d}-{name}") for name, d, c, k in FIXTURES],
)
def test_each_defect_fixture_shows_its_class_in_letta_itself(
    letta: ParserFactory, defect: int, chunks: list[dict[str, Any]], knobs: dict[str, Any]
) -> None:
    found = compared(chunks, **knobs)
    assert defect in found.defects, [d.label for d in found.disagreements]


def with_arguments(message: AgentMessage, old: str, new: str) -> AgentMessage:
    if not isinstance(message, ToolCallMessage) or not message.tool_call.arguments:
        return message
    arguments = message.tool_call.arguments.replace(old, new)
    return message.model_copy(
        update={"tool_call": message.tool_call.model_copy(update={"arguments": arguments})}
    )


def renamed(message: AgentMessage, name: str) -> AgentMessage:
    if not isinstance(message, ToolCallMessage) or not message.tool_call.name:
        return message
    call = message.tool_call.model_copy(update={"name": name})
    return message.model_copy(update={"tool_call": call})


def invented(messages: list[AgentMessage]) -> list[AgentMessage]:
    extra = AssistantMessage(id=MESSAGE_ID, date=DATE, content="I also booked you a table.")
    return [*messages, extra]


def without_call(messages: list[AgentMessage], call_id: str) -> list[AgentMessage]:
    dropped = {
        m.otid
        for m in messages
        if isinstance(m, ToolCallMessage) and m.tool_call.tool_call_id == call_id
    }
    return [m for m in messages if not (isinstance(m, ToolCallMessage) and m.otid in dropped)]


CORRUPTIONS: list[tuple[str, list[dict[str, Any]], dict[str, Any], Any]] = [
    (
        "wrong-arguments",
        tool_stream(spaced({"inner_thoughts": "t", "n": 5, "b": False}), name="calc"),
        {},
        lambda ms: [with_arguments(m, "5", "6") for m in ms],
    ),
    (
        "wrong-tool-name",
        split_name(),
        {},
        lambda ms: [renamed(m, "send_mail") for m in ms],
    ),
    (
        "invented-message",
        tool_stream(json.dumps(SEND), cuts=[]),
        {"use_assistant_message": True},
        invented,
    ),
    ("dropped-call", parallel_calls(), {}, lambda ms: without_call(ms, "call_b")),
]


@pytest.mark.parametrize(
    ("chunks", "knobs", "corrupt"),
    [pytest.param(c, k, f, id=name) for name, c, k, f in CORRUPTIONS],
)
def test_a_corrupted_streamreel_output_is_unexplained_not_blamed_on_letta(
    letta: ParserFactory, chunks: list[dict[str, Any]], knobs: dict[str, Any], corrupt: Any
) -> None:
    theirs = through_letta(chunks, **knobs)
    ours = run(chunks, **knobs)
    source = content_of(chunks)
    settings = InterfaceSettings(**knobs)
    honest = compare_with_letta(theirs, ours, source=source, settings=settings)
    assert not honest.unexplained and honest.disagreements, "each stream shows a Letta defect"
    bad = corrupt(ours)
    assert bad != ours
    found = compare_with_letta(theirs, bad, source=source, settings=settings)
    assert found.unexplained, [d.label for d in found.disagreements]
    # The stream's own content says what is wrong, whatever Letta did.
    assert any(d.row.kind == "source" for d in found.unexplained)


@pytest.mark.parametrize(
    ("chunks", "knobs", "corrupt"),
    [pytest.param(c, k, f, id=name) for name, c, k, f in CORRUPTIONS[:3]],
)
def test_a_defect_label_needs_streamreel_s_side_of_the_row_to_be_in_the_stream(
    letta: ParserFactory, chunks: list[dict[str, Any]], knobs: dict[str, Any], corrupt: Any
) -> None:
    theirs = through_letta(chunks, **knobs)
    bad = corrupt(run(chunks, **knobs))
    found = compare_with_letta(
        theirs, bad, source=content_of(chunks), settings=InterfaceSettings(**knobs)
    )
    # Not only the check against the stream: the row that differs from Letta loses its label.
    rows = [d for d in found.unexplained if d.row.kind != "source"]
    assert rows and all("not what the stream says" in d.label for d in rows), [
        d.label for d in found.disagreements
    ]


def test_a_defect_needs_its_own_sign_in_the_stream() -> None:
    # An extra call on Letta's side is defect 5 only when the stream has parallel calls.
    chunks = tool_stream(json.dumps({"inner_thoughts": "t", "city": "Oslo"}), name="weather")
    ours = run(chunks)
    call = next(m for m in ours if isinstance(m, ToolCallMessage))
    extra = call.model_copy(
        update={"otid": "x", "tool_call": ToolCallDelta(name="weather", arguments="{}")}
    )
    found = compare_with_letta([*ours, extra], ours, source=content_of(chunks))
    assert [d.detail for d in found.unexplained] == [
        "defect 5 needs parallel tool calls in the stream"
    ]


@pytest.mark.parametrize(
    ("chunks", "knobs"),
    [
        pytest.param([chunk({"content": "All good."})], {}, id="monologue"),
        pytest.param(deepseek_json(), {"expect_reasoning_content": True}, id="deepseek-json"),
    ],
)
def test_where_letta_is_right_the_messages_are_equal_field_by_field(
    letta: ParserFactory, chunks: list[dict[str, Any]], knobs: dict[str, Any]
) -> None:
    found = compared(chunks, **knobs)
    assert found.agree and found.rows and all(r.kind == "same" for r in found.rows)
    assert [m.model_dump() for m in found.letta] == [m.model_dump() for m in found.ours]


@pytest.mark.parametrize("expect", [False, True], ids=["plain", "expect-reasoning"])
@pytest.mark.parametrize("path", CASSETTES, ids=[p.stem for p in CASSETTES])
def test_bundled_cassettes_differ_only_where_letta_is_wrong(
    letta: ParserFactory, path: Path, expect: bool
) -> None:
    cassette_defects(path, letta, expect)


def cassette_defects(path: Path, letta: ParserFactory, expect: bool) -> set[int]:
    """Both interfaces over a bundled cassette: the defect classes their differences show."""
    theirs = replay(path, parser=letta, expect_reasoning_content=expect)
    ours = replay(path, expect_reasoning_content=expect)
    recorded = load_cassette(path).interactions
    assert len(theirs.interactions) == len(ours.interactions)
    defects: set[int] = set()
    for left, right in zip(theirs.interactions, ours.interactions, strict=True):
        found = compare_interactions(
            left,
            right,
            settings=ours.settings,
            expect_reasoning_content=expect,
            recorded=recorded[right.index],
        )
        assert not found.unexplained, [(d.row, d.reason) for d in found.unexplained]
        defects |= found.defects
        if not found.disagreements:
            assert [m.model_dump() for m in found.letta] == [m.model_dump() for m in found.ours]
    return defects


prose = st.text(
    alphabet=st.one_of(st.sampled_from(list('"\\/{}:, \n\u00e9')), st.characters(codec="ascii")),
    min_size=1,
    max_size=20,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(thoughts=prose, message=prose, cuts=st.lists(st.integers(1, 80), max_size=6))
def test_generated_send_message_streams(
    letta: ParserFactory, thoughts: str, message: str, cuts: list[int]
) -> None:
    source = json.dumps({"inner_thoughts": thoughts, "message": message})
    found = compared(tool_stream(source, cuts=cuts), use_assistant_message=True)
    said = [m.content for m in found.letta if isinstance(m, AssistantMessage)]
    thought = [m.reasoning for m in found.letta if isinstance(m, ReasoningMessage)]
    # The reference is the stream's own content: when Letta reproduces it, it is right, and
    # streamreel must then agree with it field by field.
    if said == [message] and thought == [thoughts]:
        assert [m.model_dump() for m in found.letta] == [m.model_dump() for m in found.ours]
    else:
        assert found.disagreements and all(
            d.defect is not None or d.reason != UNEXPLAINED for d in found.disagreements
        )


def tool_returns(messages: list[AgentMessage]) -> list[ToolReturnMessage]:
    return [m for m in messages if isinstance(m, ToolReturnMessage)]


def compared_replays(
    loop: Cassette, letta: ParserFactory, **knobs: Any
) -> tuple[list[ToolReturnMessage], list[ToolReturnMessage], set[int]]:
    """Both interfaces over a tool loop, step by step: their tool returns, and the defects."""
    settings = InterfaceSettings(**knobs)
    theirs = replay(loop, parser=letta, settings=settings)
    ours = replay(loop, settings=settings)
    defects: set[int] = set()
    recorded = loop.interactions
    for left, right in zip(theirs.interactions, ours.interactions, strict=True):
        found = compare_interactions(left, right, settings=settings, recorded=recorded[right.index])
        assert not found.unexplained, [(d.row, d.reason) for d in found.unexplained]
        defects |= found.defects
    return tool_returns(theirs.messages), tool_returns(ours.messages), defects


@pytest.mark.parametrize("use_assistant_message", [False, True], ids=["tool-calls", "assistant"])
def test_tool_returns_agree_with_letta_field_by_field(
    letta: ParserFactory, use_assistant_message: bool
) -> None:
    record = '{"status": "OK", "message": "8 to 18h", "time": "2025-06-01 12:00:01 PM UTC+0000"}'
    theirs, ours, _ = compared_replays(
        cassette(*three_steps(record)), letta, use_assistant_message=use_assistant_message
    )
    # Letta shows send_message's return only when it did not show the message as text.
    assert len(ours) == (1 if use_assistant_message else 2)
    assert [m.model_dump() for m in theirs] == [m.model_dump() for m in ours]
    assert ours[0].tool_return == "8 to 18h" and ours[0].status == "success"


def test_a_failed_tool_is_an_error_return_in_both(letta: ParserFactory) -> None:
    record = '{"status": "Failed", "message": "Error: timed out", "time": "now"}'
    theirs, ours, _ = compared_replays(cassette(*three_steps(record)[:2]), letta)
    assert [m.model_dump() for m in theirs] == [m.model_dump() for m in ours]
    assert [(m.tool_return, m.status) for m in ours] == [("Error: timed out", "error")]


def test_letta_removes_the_success_prefix_inside_the_return_too(letta: ParserFactory) -> None:
    theirs, ours, defects = compared_replays(cassette(*three_steps("Success: 3 rows")[:2]), letta)
    assert [m.tool_return for m in ours] == ["Success: 3 rows"]
    assert [m.tool_return for m in theirs] == ["3 rows"]
    assert 9 in defects


def test_recorded_tool_loop_returns_agree_with_letta(
    letta: ParserFactory, corpus_dir: Path
) -> None:
    loop = load_cassette(
        corpus_dir / "anthropic" / "llm-anthropic__test_anthropic__test_tools.yaml"
    )
    theirs, ours, _ = compared_replays(loop, letta)
    assert [m.tool_return for m in ours] == ["Charles", "Sammy"]
    assert [m.model_dump() for m in theirs] == [m.model_dump() for m in ours]


def test_letta_shows_the_send_message_return_with_inner_thoughts_off(letta: ParserFactory) -> None:
    theirs, ours, defects = compared_replays(
        cassette(*three_steps("x")),
        letta,
        use_assistant_message=True,
        inner_thoughts_in_kwargs=False,
    )
    assert [m.tool_call_id for m in ours] == [SEARCH_ID]
    assert [m.tool_call_id for m in theirs] == [SEARCH_ID, SEND_ID]
    assert 9 in defects


def test_letta_gets_its_server_s_flags_per_provider_unless_told(letta: ParserFactory) -> None:
    path = ROOT / "cassettes" / "deepseek-reasoning-content.yaml"

    def thinking(messages: list[AgentMessage]) -> list[str]:
        return [
            m.reasoning
            for m in messages
            if isinstance(m, ReasoningMessage) and m.source == "reasoner_model"
        ]

    # DeepSeek goes through the OpenAI path of Letta's server: reasoning_content is read.
    assert thinking(replay(path, parser=letta).messages)
    assert thinking(replay(path, parser=letta).messages) == thinking(
        replay(path, parser=letta, expect_reasoning_content=True).messages
    )
    assert not thinking(replay(path, parser=letta, expect_reasoning_content=False).messages)


def test_the_bundled_tool_loop_shows_the_same_return_in_letta(letta: ParserFactory) -> None:
    loop = load_cassette(ROOT / "cassettes" / "openai-tool-return-next-request.yaml")
    sent = json.loads(loop.interactions[1].request.json()["messages"][-1]["content"])
    theirs, ours, _ = compared_replays(loop, letta, use_assistant_message=True)
    assert [(m.tool_return, m.status) for m in ours] == [(sent["message"], "success")]
    assert [m.model_dump() for m in theirs] == [m.model_dump() for m in ours]


def test_letta_s_anthropic_path_forces_inner_thoughts_in_kwargs(letta: ParserFactory) -> None:
    path = ROOT / "cassettes" / "anthropic-thinking-tool-use.yaml"
    off, on = (InterfaceSettings(inner_thoughts_in_kwargs=value) for value in (False, True))

    def dumped(**options: Any) -> list[dict[str, Any]]:
        return [m.model_dump() for m in replay(path, parser=letta, **options).messages]

    # With the server's flags, Letta reads the call as its server would, whatever the setting;
    # with a flag chosen by hand, the setting given stays, and the tool call then shows.
    assert dumped(settings=off) == dumped(settings=on)
    chosen = dumped(settings=off, expect_reasoning_content=True)
    assert chosen != dumped(settings=on, expect_reasoning_content=True)
    assert any(m["message_type"] == "tool_call_message" for m in chosen)


# -- the commands, with letta as a parser name -------------------------------------------------


def invoke(*args: str) -> Any:
    from click.testing import CliRunner
    from streamreel.cli import main

    return CliRunner().invoke(main, list(args))


def test_diff_command_against_letta_shows_where_letta_differs(letta: ParserFactory) -> None:
    cassette = ROOT / "cassettes" / "openai-send-message-inner-thoughts.yaml"
    result = invoke("diff", str(cassette), "--against", "letta")
    assert result.exit_code == 1, result.output
    assert "1 of 1 cassettes differ between streamreel and letta" in result.output
    # Letta's undecoded escapes and its crash, against streamreel's decoded text.
    assert '+ letta       {"error":"Letta 0.7.8 raised IndexError at chunk' in result.output
    assert '- streamreel  "content":"Here is your sign:\\n\\"Ferm\\u00e9' in result.output
    assert '"content":"\\\\u00e9 t\\\\u00f4t' in result.output


def test_diff_command_against_letta_agrees_where_letta_is_right(letta: ParserFactory) -> None:
    cassette = ROOT / "cassettes" / "openai-http-429.yaml"
    result = invoke("diff", str(cassette), "--against", "letta")
    assert result.exit_code == 0, result.output
    assert f"{cassette}: same (1 interaction, 1 message)" in result.output


def test_diff_command_against_letta_gives_both_sides_the_server_s_flags(
    letta: ParserFactory, tmp_path: Path
) -> None:
    from cassettefactory import content_chunks, interaction, write

    # DeepSeek-style JSON in content is a tool call only when reasoning_content is expected,
    # which Letta's server expects on OpenAI's path: with the same flags, both sides agree.
    text = json.dumps({"name": "search", "arguments": {"q": "rust"}})
    path = write(tmp_path / "json-content.yaml", interaction(content_chunks(text)))
    result = invoke("diff", str(path), "--against", "letta")
    assert result.exit_code == 0, result.output
    assert f"{path}: same (1 interaction, 1 message)" in result.output
    chosen = invoke("diff", str(path), "--against", "letta", "--no-expect-reasoning-content")
    assert chosen.exit_code == 1 and '- streamreel  "reasoning":' in chosen.output


def test_fuzz_command_with_letta_reports_its_split_sensitivity(letta: ParserFactory) -> None:
    cassette = ROOT / "cassettes" / "openai-send-message-inner-thoughts.yaml"
    result = invoke("fuzz", str(cassette), "--parser", "letta", "--seed", "3", "--examples", "5")
    assert result.exit_code == 1, result.output
    assert "the merged messages change with the split (seed 3, example" in result.output
    assert "reproduce with: streamreel fuzz" in result.output and "--against letta" in result.output


def test_fuzz_command_with_letta_passes_a_stream_letta_reads_whatever_the_split(
    letta: ParserFactory,
) -> None:
    cassette = ROOT / "cassettes" / "openai-parallel-tool-calls.yaml"
    result = invoke("fuzz", str(cassette), "--parser", "letta", "--seed", "3", "--examples", "5")
    assert result.exit_code == 0, result.output
    assert "ok (5 splits, same merged messages)" in result.output


@pytest.mark.parametrize(
    "args",
    [["diff", "--against", "letta"], ["diff", "--parser", "letta"], ["fuzz", "--parser", "letta"]],
    ids=["diff-against", "diff-parser", "fuzz"],
)
def test_diff_and_fuzz_without_letta_say_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("STREAMREEL_LETTA_VENV", str(tmp_path / "none"))
    result = invoke(args[0], str(CASSETTES[0]), *args[1:])
    assert result.exit_code == 2 and "streamreel install-letta" in result.output


def readme_defect_rows() -> dict[int, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    # The Letta 0.7.8 column, then Letta 0.16.8's (tests/test_letta_three_way.py checks it).
    rows = re.findall(r"^\| (\d+) \|.*\| (shown|not shown) \| (?:shown|not shown) \|$", text, re.M)
    return {int(number): status for number, status in rows}


def test_the_readme_defect_table_is_what_this_run_shows(letta: ParserFactory) -> None:
    # Every input of this module that does not need the corpus, run again here so that the
    # check holds however the tests are selected or ordered.
    observed: set[int] = set()
    for _, _, chunks, knobs in FIXTURES:
        observed |= compared(chunks, **knobs).defects
    for path in CASSETTES:
        for expect in (False, True):
            observed |= cassette_defects(path, letta, expect)
    observed |= compared_replays(cassette(*three_steps("Success: 3 rows")[:2]), letta)[2]
    observed |= compared_replays(
        cassette(*three_steps("x")), letta, use_assistant_message=True,
        inner_thoughts_in_kwargs=False,
    )[2]  # fmt: skip
    table = readme_defect_rows()
    assert table, "the README's defect table is missing its numbered rows"
    shown = {number for number, status in table.items() if status == "shown"}
    assert shown == observed


def test_the_diff_widget_labels_every_place_letta_and_streamreel_disagree(
    letta: ParserFactory,
) -> None:
    from streamreel.notebook.widgets import SequenceDiff

    path = ROOT / "cassettes" / "openai-send-message-inner-thoughts.yaml"
    theirs = replay(path, parser=letta)
    ours = replay(path, expect_reasoning_content="auto")
    found = compare_interactions(
        theirs.interactions[0], ours.interactions[0], settings=ours.settings
    )
    view = SequenceDiff(
        found.letta, found.ours, ignore=("otid",), merge=False, notes=found.note, fold=False
    )
    # The widget aligns exactly as the comparison did, so every differing row has its label.
    differing = [row for row in view.rows if row.kind != "same"]
    assert differing and len(differing) == len([r for r in found.rows if r.kind != "same"])
    labels = [found.note(row.left, row.right) for row in differing]
    assert all(labels) and any(label and label.startswith("defect ") for label in labels)
    for label in labels:
        assert f"<td class='sr-note'>{html.escape(label or '')}</td>" in view.html


def test_a_missing_letta_says_exactly_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner
    from streamreel.cli import main
    from streamreel.core.errors import ConfigurationError
    from streamreel.testing.diff import load_factory

    monkeypatch.setenv("STREAMREEL_LETTA_VENV", str(tmp_path / "none"))
    with pytest.raises(ConfigurationError, match="do run `streamreel install-letta`"):
        load_factory("letta")
    result = CliRunner().invoke(main, ["replay", str(CASSETTES[0]), "--parser", "letta"])
    assert result.exit_code == 2 and "streamreel install-letta" in result.output


def test_replay_command_runs_letta_and_keeps_what_came_before_its_crash(
    letta: ParserFactory,
) -> None:
    from click.testing import CliRunner
    from streamreel.cli import main

    cassette = ROOT / "cassettes" / "openai-send-message-inner-thoughts.yaml"
    args = ["replay", str(cassette), "--parser", "letta", "--format", "jsonl", "--merge"]
    result = CliRunner().invoke(main, args)
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert result.exit_code == 1
    crash = [i for i, m in enumerate(lines) if "Letta 0.7.8 raised" in m.get("error", "")]
    assert crash and crash[0] > 0 and "at chunk" in lines[crash[0]]["error"]
    # The crash is also an error entry of the replay, at the chunk that caused it.
    replayed = replay(cassette, parser=letta)
    entries = [e for e in replayed.errors if e.kind == "parser"]
    assert entries and all(
        e.chunk is not None and "Letta 0.7.8 raised" in e.message for e in entries
    )
    assert lines[0]["message_type"] == "reasoning_message"
