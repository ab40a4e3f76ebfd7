"""The native-parser contract: parsers of the SDK's own stream, and of whole exchanges.

A parser may be any object with ``process(stream)`` (Letta 0.8+'s shape: the SDK's typed stream
in, messages out) or ``process_exchange(interaction, kind)`` (the recorded exchange in, for
parsers running out of process). Replay prefers ``process_exchange``, then ``process``, then
``process_chunk``; their messages (dicts, dataclasses, pydantic models) are held as
``ForeignMessage``s of their JSON values, field order kept.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from streamreel.core.cassette import Interaction
from streamreel.core.messages import ErrorMessage, ForeignMessage, merge_deltas
from streamreel.core.parser import InterfaceSettings
from streamreel.core.providers import StreamKind
from streamreel.playback.replay import (
    ProcessingExchanges,
    ProcessingStreams,
    StreamingInterfaceLike,
    replay,
)

pytest_plugins = ["pytester"]

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
OPENAI_CHAT = CASSETTES / "openai-parallel-tool-calls.yaml"
RESPONSES = CASSETTES / "openai-responses-function-call.yaml"
ANTHROPIC = CASSETTES / "anthropic-thinking-tool-use.yaml"


class ChatArguments:
    """A sync process(stream) parser: one dict per tool-call fragment of OpenAI chat chunks."""

    def process(self, stream: Iterable[Any]) -> Iterator[dict[str, Any]]:
        for chunk in stream:
            assert type(chunk).__name__ == "ChatCompletionChunk"
            for choice in chunk.choices:
                for call in choice.delta.tool_calls or ():
                    yield {"index": call.index, "arguments": call.function.arguments}


class AnthropicEvents:
    """An async process(stream) parser that also takes the recorded request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def process(self, stream: Any, request: dict[str, Any]) -> AsyncIterator[Any]:
        self.requests.append(request)
        async for event in stream:
            yield {"type": event.type}


class Exchanges:
    """A process_exchange parser that also has the other shapes, which must go unused."""

    def __init__(self) -> None:
        self.seen: list[tuple[Interaction, StreamKind]] = []

    def process_exchange(self, interaction: Interaction, kind: StreamKind) -> list[dict[str, Any]]:
        self.seen.append((interaction, kind))
        return [{"api": kind.api, "bytes": len(interaction.response.body)}]

    def process(self, stream: Any) -> Iterator[Any]:
        raise AssertionError("process_exchange is preferred over process")

    def process_chunk(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("process_exchange is preferred over process_chunk")


class StreamsAndChunks(ChatArguments):
    """Has process and the whole chunk interface: process must win."""

    def stream_start(self) -> None: ...
    def stream_end(self) -> None: ...
    def step_complete(self) -> None: ...
    def step_yield(self) -> None: ...
    def get_generator(self) -> Any: ...

    def process_chunk(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("process is preferred over process_chunk")


def _data(messages: Iterable[Any]) -> list[dict[str, Any]]:
    return [m.data for m in messages if isinstance(m, ForeignMessage)]


def test_the_native_shapes_are_protocols_checked_with_isinstance() -> None:
    assert isinstance(ChatArguments(), ProcessingStreams)
    assert isinstance(Exchanges(), ProcessingExchanges)
    assert not isinstance(ChatArguments(), ProcessingExchanges)
    assert isinstance(StreamsAndChunks(), StreamingInterfaceLike)


def test_a_sync_process_parser_reads_the_openai_sdks_own_chunks() -> None:
    result = replay(OPENAI_CHAT, parser=lambda settings: ChatArguments())
    data = _data(result.messages)
    assert data and all(isinstance(m, ForeignMessage) for m in result.messages)
    joined: dict[int, str] = {}
    for item in data:
        joined[item["index"]] = joined.get(item["index"], "") + (item["arguments"] or "")
    assert len(joined) == 2  # two parallel calls, each with whole JSON arguments
    assert all(text.startswith("{") and text.endswith("}") for text in joined.values())
    assert result.errors == []


def test_each_message_of_a_process_parser_sits_at_the_chunk_the_sdk_had_read() -> None:
    result = replay(OPENAI_CHAT, parser=lambda settings: ChatArguments())
    per_chunk = [len(record.messages) for record in result.interactions[0].chunks]
    assert sum(per_chunk) == len(result.messages)
    assert max(per_chunk) <= 2 and per_chunk.count(0) < len(per_chunk) // 2


def test_an_async_process_parser_reads_the_anthropic_sdks_events_and_gets_the_request() -> None:
    parser = AnthropicEvents()
    result = replay(ANTHROPIC, parser=lambda settings: parser)
    types = [item["type"] for item in _data(result.messages)]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert "content_block_delta" in types
    assert parser.requests and "messages" in parser.requests[0] and "tools" in parser.requests[0]


def test_process_exchange_is_preferred_and_receives_the_interaction_and_its_kind() -> None:
    parser = Exchanges()
    result = replay(RESPONSES, parser=lambda settings: parser)
    interaction, kind = parser.seen[0]
    assert isinstance(interaction, Interaction) and kind.api == "responses"
    assert _data(result.messages) == [{"api": "responses", "bytes": len(interaction.response.body)}]


def test_process_is_preferred_over_process_chunk() -> None:
    result = replay(OPENAI_CHAT, parser=lambda settings: StreamsAndChunks())
    assert _data(result.messages) == _data(
        replay(OPENAI_CHAT, parser=lambda settings: ChatArguments()).messages
    )


@dataclass
class Piece:
    text: str
    id: str
    when: datetime


class Said(BaseModel):
    message_type: str = "said"
    id: str
    otid: str
    content: str


class Mixed:
    def process(self, stream: Iterable[Any]) -> Iterator[Any]:
        when = datetime(2024, 5, 1, tzinfo=UTC)
        yield Piece("a", "p1", when)
        yield Said(id="m", otid="o", content="he")
        yield Said(id="m", otid="o", content="llo")
        yield {"z": 1, "a": 2}
        for _ in stream:
            pass


def test_dataclasses_models_and_dicts_are_held_as_json_in_their_own_field_order() -> None:
    result = replay(OPENAI_CHAT, parser=lambda settings: Mixed())
    messages = result.messages
    assert [m.message_type for m in messages] == ["Piece", "said", "said", "dict"]
    assert list(_data(messages)[0].items()) == [
        ("text", "a"), ("id", "p1"), ("when", "2024-05-01T00:00:00Z"),
    ]  # fmt: skip
    assert list(_data(messages)[3]) == ["z", "a"]
    merged = merge_deltas(messages)
    assert [m.data for m in merged if isinstance(m, ForeignMessage)][1]["content"] == "hello"


def test_a_dict_parser_s_interleaved_calls_sharing_an_otid_merge_each_whole() -> None:
    from sdkparsers import one_otid_calls
    from streamreel.testing.snapshot import serialize_stream

    result = replay(OPENAI_CHAT, parser=one_otid_calls)
    deltas = _data(result.messages)
    firsts = [d["tool_call"]["id"] for d in deltas if d["tool_call"]["name"]]
    assert len(set(firsts)) == 2 and deltas[1]["tool_call"]["id"] == firsts[1]  # interleaved
    merged = [m.data["tool_call"] for m in result.merged if isinstance(m, ForeignMessage)]
    assert [(c["id"], c["name"]) for c in merged] == [(i, "get_weather") for i in firsts]
    assert [json.loads(c["arguments"])["city"] for c in merged] == ["Lisbon", "Porto"]
    # Snapshots show the same two calls, whole.
    text = serialize_stream(result)
    assert '"messages":2' in text
    assert '"arguments":"{\\"city\\":\\"Porto\\",\\"unit\\":\\"celsius\\"}"' in text


class Failing:
    def process(self, stream: Iterable[Any]) -> Iterator[Any]:
        for number, _ in enumerate(stream):
            if number == 3:
                raise ValueError("the parser gave up")
            yield {"n": number}


def test_a_failing_process_parser_keeps_its_messages_then_an_error_message() -> None:
    result = replay(OPENAI_CHAT, parser=lambda settings: Failing())
    assert _data(result.messages) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert isinstance(result.messages[-1], ErrorMessage)
    assert "the parser gave up" in result.messages[-1].error
    assert [e.kind for e in result.errors] == ["parser"]


def test_a_message_that_cannot_be_held_is_an_error_naming_its_type() -> None:
    class Odd:
        def process(self, stream: Iterable[Any]) -> Iterator[Any]:
            yield {"ok": True}
            yield 42

    result = replay(OPENAI_CHAT, parser=lambda settings: Odd())
    assert _data(result.messages) == [{"ok": True}]
    assert "got int" in result.errors[0].message


def test_a_process_parser_is_refused_for_a_chunk_file_with_a_clear_error(tmp_path: Path) -> None:
    from streamreel.core.errors import ConfigurationError
    from streamreel.playback.replay import replay_chunk_file

    chunks = tmp_path / "c.jsonl"
    chunks.write_text("")
    with pytest.raises(ConfigurationError, match="process\\(stream\\)"):
        replay_chunk_file(chunks, parser=lambda settings: ChatArguments())


def test_the_default_parser_is_untouched_by_the_native_shapes() -> None:
    settings = InterfaceSettings(use_assistant_message=True)
    result = replay(OPENAI_CHAT, settings=settings)
    assert result.messages and not any(isinstance(m, ForeignMessage) for m in result.messages)


# -- the same parser everywhere a parser is chosen --------------------------------------------

FOUR = [
    "openai-parallel-tool-calls",
    "openai-responses-function-call",
    "anthropic-thinking-tool-use",
    "gemini-sse-function-call",
]


def _wires(messages: Iterable[Any]) -> list[str]:
    from streamreel.core.messages import to_wire

    return [to_wire(m) for m in messages]


@pytest.mark.parametrize("name", FOUR)
def test_sync_and_async_process_parsers_replay_the_four_apis_alike(name: str) -> None:
    from sdkparsers import async_items, sync_items
    from streamreel.playback.sdkstream import sdk_stream

    synced = replay(CASSETTES / f"{name}.yaml", parser=sync_items)
    awaited = replay(CASSETTES / f"{name}.yaml", parser=async_items)
    assert synced.errors == [] and awaited.errors == []
    assert _wires(synced.messages) == _wires(awaited.messages)
    items = list(sdk_stream(CASSETTES / f"{name}.yaml"))
    assert len(synced.messages) == len(items)
    assert "".join(m.data["text"] for m in synced.messages if isinstance(m, ForeignMessage))


@pytest.mark.parametrize("name", FOUR)
@pytest.mark.parametrize("factory", ["sync_items", "async_items"])
def test_the_cli_replays_and_diffs_a_process_parser(name: str, factory: str) -> None:
    from click.testing import CliRunner
    from streamreel.cli import main

    path = str(CASSETTES / f"{name}.yaml")
    out = CliRunner().invoke(
        main, ["replay", path, "--parser", f"sdkparsers:{factory}", "--format", "jsonl"]
    )
    assert out.exit_code == 0, out.output
    expected = replay(path, parser=__import__("sdkparsers").sync_items).messages
    assert out.output.count('"message_type":') == len(expected)
    table = CliRunner().invoke(
        main, ["replay", path, "--parser", f"sdkparsers:{factory}", "--format", "table"]
    )
    assert table.exit_code == 0, table.output
    assert expected[0].message_type in table.output
    same = CliRunner().invoke(
        main,
        ["diff", path, "--parser", "sdkparsers:sync_items", "--against", f"sdkparsers:{factory}"],
    )
    assert same.exit_code == 0, same.output
    differs = CliRunner().invoke(main, ["diff", path, "--against", f"sdkparsers:{factory}"])
    assert differs.exit_code == 1, differs.output


@pytest.mark.parametrize("name", FOUR)
def test_the_fuzzer_re_cuts_the_bytes_a_process_parser_reads(name: str) -> None:
    from sdkparsers import async_items, sync_items
    from streamreel.testing.fuzz import fuzz_cassette

    for factory in (sync_items, async_items):
        report = fuzz_cassette(CASSETTES / f"{name}.yaml", parser=factory, examples=6, seed=3)
        assert not report.failed and report.examples == 6, report.describe()


def test_the_fuzzer_reaches_a_parser_of_exchanges_with_the_re_cut_body() -> None:
    from click.testing import CliRunner
    from sdkparsers import body_reads
    from streamreel.cli import main
    from streamreel.testing.fuzz import fuzz_cassette

    report = fuzz_cassette(OPENAI_CHAT, parser=body_reads, examples=4, seed=1)
    assert report.failed  # the number of reads is all it says, and the cuts change it
    cli = CliRunner().invoke(main, ["fuzz", str(OPENAI_CHAT), "--parser", "sdkparsers:sync_items"])
    assert cli.exit_code == 0 and "ok" in cli.output, cli.output


def test_volatile_values_of_foreign_messages_become_placeholders() -> None:
    from streamreel.testing.snapshot import serialize_stream

    class Letta:
        def process(self, stream: Iterable[Any]) -> Iterator[Any]:
            for number, _ in enumerate(stream):
                if number < 2:
                    yield {
                        "id": f"msg-{number}x",
                        "otid": f"o-{number}x",
                        "date": "2026-01-01T00:00:00Z",
                        "run_id": "run-abc",
                        "step_id": "step-xyz",
                        "message_type": "reasoning_message",
                        "reasoning": "hm",
                        "tool_call": {"tool_call_id": "call_1", "name": "f"},
                    }

    text = serialize_stream(replay(OPENAI_CHAT, parser=lambda settings: Letta()))
    for volatile in ("msg-0x", "o-1x", "run-abc", "step-xyz", "call_1", "2026-01-01"):
        assert volatile not in text
    assert '"run_id":"<run-1>"' in text and '"step_id":"<step-1>"' in text
    assert '"reasoning":"hm"' in text and '"otid":"<otid-2>"' in text


def test_the_player_the_message_view_and_the_browser_show_foreign_messages(
    tmp_path: Path,
) -> None:
    from sdkparsers import sync_items
    from streamreel.notebook.widgets import (
        CassetteBrowser,
        MessageView,
        SequenceDiff,
        StreamPlayer,
    )

    result = replay(ANTHROPIC, parser=sync_items)
    player = StreamPlayer(result)
    player.step_button.click()
    player.step_button.click()
    assert player.messages and all(isinstance(m, ForeignMessage) for m in player.messages)
    player.end_button.click()
    assert _wires(player.messages) == _wires(result.merged)
    assert "RawMessageStartEvent" in player.messages_pane.value
    view = MessageView(result)
    assert "RawContentBlockDeltaEvent" in view.pane.value
    compared = SequenceDiff(result, replay(ANTHROPIC), labels=("events", "streamreel"))
    assert "RawMessageStartEvent" in compared.pane.value and "events" in compared.pane.value
    assert "The user asks about tomorrow" in view.pane.value
    player.close()

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / ANTHROPIC.name).write_bytes(ANTHROPIC.read_bytes())
    browser = CassetteBrowser(tmp_path / "c", parser=sync_items)
    [entry] = browser.entries
    assert entry.status == "ok" and entry.providers == ["anthropic"]
    browser.close()


def test_the_plugin_snapshots_a_process_parser_from_option_marker_and_fixture(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (pytester.path / "cassettes").mkdir()
    for name in FOUR:
        (pytester.path / "cassettes" / f"{name}.yaml").write_bytes(
            (CASSETTES / f"{name}.yaml").read_bytes()
        )
    pytester.makepyfile(
        test_streams=f"""
        import pytest
        from sdkparsers import async_items

        NAMES = {FOUR!r}

        @pytest.mark.parametrize("name", NAMES)
        def test_through_the_chosen_parser(replay, stream_snapshot, name):
            result = replay(name)
            assert result.errors == []
            assert stream_snapshot == result

        @pytest.mark.parametrize(
            "name",
            [pytest.param(n, marks=pytest.mark.cassette(n, parser=async_items)) for n in NAMES],
        )
        def test_through_the_marker(replay, name):
            result = replay()
            assert result.messages
            assert all(type(m).__name__ == "ForeignMessage" for m in result.messages)
        """,
        conftest="""
        import pytest
        from sdkparsers import sync_items

        @pytest.fixture
        def streamreel_parser():
            return sync_items
        """,
    )
    first = pytester.runpytest_inprocess("-p", "no:randomly", "--snapshot-update")
    first.assert_outcomes(passed=8)
    snapshots = sorted((pytester.path / "__snapshots__").rglob("*.jsonl"))
    assert len(snapshots) == 4
    gemini = next(path for path in snapshots if "gemini" in path.name).read_text()
    assert '"message_type":"GenerateContentResponse"' in gemini and "book_table" in gemini
    # The same snapshots hold through the async parser given on the command line.
    pytester.runpytest_inprocess(
        "-p", "no:randomly", "--streamreel-parser", "sdkparsers:async_items"
    ).assert_outcomes(passed=8)
    # And a parser that says something else fails them.
    pytester.runpytest_inprocess(
        "-p", "no:randomly", "--streamreel-parser", "sdkparsers:body_reads"
    ).assert_outcomes(passed=4, failed=4)


# What the SDKs themselves refuse in the corpus, as they would live: a Gemini body that is a
# JSON array (its client never asked for alt=sse), and the error events some streams end with.
_SDK_REFUSALS: tuple[str, ...] = ("UnknownApiResponseError", "APIError", "APIStatusError")


def _sdk_refusals() -> tuple[str, ...]:
    from importlib.metadata import version

    anthropic = tuple(int(part) for part in version("anthropic").split(".")[:2])
    if anthropic < (0, 58):
        # Releases before 0.58 cannot build the web-search blocks of a server-tool stream: their
        # half-built models raise this TypeError, which replay reports as the parser's error.
        return (*_SDK_REFUSALS, "TypeError: 'MockValSer' object cannot be converted")
    return _SDK_REFUSALS


def test_process_parsers_replay_the_corpus_of_the_four_apis_sync_and_async(
    corpus_dir: Path,
) -> None:
    from sdkparsers import async_items, sync_items
    from streamreel.cassettes.discovery import is_chunk_file

    refusals = _sdk_refusals()
    replayed = 0
    for path in sorted(corpus_dir.rglob("*.yaml")):
        if is_chunk_file(path):
            continue
        synced = replay(path, parser=sync_items)
        if not any(
            step.request.api in ("chat-completions", "responses", "messages", "generate-content")
            for step in synced.interactions
        ):
            continue
        awaited = replay(path, parser=async_items)
        assert _wires(synced.messages) == _wires(awaited.messages), path
        for error in synced.errors:
            if error.kind == "parser":
                assert error.message.startswith(refusals), (path, error)
        replayed += 1
    assert replayed >= 40


def _whole_reply() -> Any:
    """The bundled chat cassette with its stream replaced by one JSON reply."""
    from dataclasses import replace as changed

    from streamreel.cassettes.storage import load_cassette

    cassette = load_cassette(OPENAI_CHAT)
    interaction = cassette.interactions[0]
    body = (
        b'{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",'
        b'"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},'
        b'"finish_reason":"stop"}]}'
    )
    response = changed(
        interaction.response,
        headers={"content-type": ["application/json"]},
        body=body,
        chunks=None,
    )
    return changed(cassette, interactions=[changed(interaction, response=response)])


def test_a_whole_reply_is_refused_to_process_but_handed_to_process_exchange() -> None:
    from sdkparsers import body_reads, sync_items

    streamed_only = replay(_whole_reply(), parser=sync_items)
    assert streamed_only.messages == []
    [entry] = streamed_only.errors
    assert entry.kind == "unsupported" and "process_exchange" in entry.message
    assert _data(replay(_whole_reply(), parser=body_reads).messages) == [{"reads": 1}]


def test_a_foreign_parsers_own_error_record_makes_replay_exit_1() -> None:
    from click.testing import CliRunner
    from streamreel.cli import main

    ok = CliRunner().invoke(main, ["replay", str(OPENAI_CHAT), "--parser", "sdkparsers:body_reads"])
    failed = CliRunner().invoke(
        main, ["replay", str(OPENAI_CHAT), "--parser", "sdkparsers:stops_on_error"]
    )
    assert ok.exit_code == 0, ok.output
    assert failed.exit_code == 1, failed.output
    assert "the SDK could not read the stream" in failed.output
