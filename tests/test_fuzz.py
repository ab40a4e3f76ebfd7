"""Rechunk fuzzing: cut points, splits, the re-cutting parser wrapper, shrinking, the command."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import cassettefactory as cf
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamreel.cassettes.discovery import expand
from streamreel.cassettes.storage import load_cassette
from streamreel.cli import main
from streamreel.core.chunks import ChatCompletionChunk, parse_chunk
from streamreel.core.messages import AgentMessage, AssistantMessage, otid_for
from streamreel.core.parser import InterfaceSettings
from streamreel.playback.replay import replay
from streamreel.testing.fuzz import (
    RechunkingParser,
    Split,
    Variant,
    compare_views,
    finest_split,
    fuzz_cassette,
    interesting_cuts,
    layout,
    merged_view,
    random_cuts,
    random_split,
    shrink,
    split_at,
)
from streamreel.testing.strategies import assert_split_invariant, cut_points, rechunked, splits

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = [pytest.param(path, id=path.stem) for path in expand([ROOT / "cassettes"])] or [
    pytest.param(None, marks=pytest.mark.skip(reason="cassettes/ holds no cassette yet"))
]


# -- a deliberately naive parser ---------------------------------------------------------------

_MARKER = re.compile(r'"message"\s*:\s*"')


class NaiveParser:
    """Streams the ``send_message`` text by decoding each argument fragment on its own.

    It is right whenever the provider happens to cut between JSON escapes, which a tokenizer
    usually does, and wrong as soon as a cut falls inside ``\\n`` or ``\\"``: the escape is not
    valid JSON on its own, so the fragment goes out undecoded.
    """

    def __init__(self, settings: InterfaceSettings) -> None:
        self.queue: list[AgentMessage] = []
        self.seen = ""
        self.speaking = False

    def process_chunk(
        self,
        chunk: ChatCompletionChunk,
        message_id: str,
        message_date: datetime,
        expect_reasoning_content: bool = False,
        name: str | None = None,
        message_index: int = 0,
    ) -> None:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                piece = (call.function.arguments if call.function else None) or ""
                if not self.speaking:
                    self.seen += piece
                    found = _MARKER.search(self.seen)
                    if found is None:
                        continue
                    self.speaking = True
                    piece = self.seen[found.end() :]
                piece = piece.removesuffix('"}')
                try:
                    text = json.loads(f'"{piece}"')
                except ValueError:
                    text = piece
                self.queue.append(
                    AssistantMessage(
                        id=message_id,
                        date=message_date,
                        otid=otid_for(message_id, 0),
                        content=text,
                    )
                )

    def drain(self) -> list[AgentMessage]:
        taken, self.queue = self.queue, []
        return taken

    def stream_start(self) -> None: ...
    def stream_end(self) -> None: ...
    def step_yield(self) -> None: ...
    def get_generator(self) -> Any: ...

    def step_complete(self) -> None:
        self.seen, self.speaking = "", False


def naive_parser(settings: InterfaceSettings) -> NaiveParser:
    return NaiveParser(settings)


@pytest.fixture
def send_cassette(tmp_path: Path) -> Path:
    return cf.write(tmp_path / "send.yaml", cf.search_call(), cf.send_message(per_read=3))


# -- cut points --------------------------------------------------------------------------------


def test_interesting_cuts_find_escapes_characters_lines_and_tokens() -> None:
    body = 'data: {"a":"caf\u00e9 \\"x\\"","n":12,"ok":true}\r\n\r\n'.encode()
    cuts = interesting_cuts(body)
    assert all(0 < c < len(body) for c in cuts) and cuts == sorted(set(cuts))
    e_acute = body.index("\u00e9".encode())
    assert e_acute + 1 in cuts  # inside the two-byte character
    backslash = body.index(b"\\")
    assert backslash + 1 in cuts  # between the backslash and the quote it escapes
    crlf = body.index(b"\r\n")
    assert crlf + 1 in cuts  # between CR and LF
    assert body.index(b"true") + 2 in cuts and body.index(b"12") + 1 in cuts
    assert body.index(b"ata:") in cuts  # inside the field name


def test_interesting_cuts_of_text_cut_unicode_escapes_and_keys() -> None:
    text = '{"inner_thoughts": "\\ud83d\\ude00 ok"}'
    cuts = interesting_cuts(text)
    pair = text.index("\\ude00")
    assert pair in cuts  # between the two halves of a surrogate pair
    assert all(p in cuts for p in range(pair - 5, pair))  # inside \\ud83d
    assert text.index("thoughts") in cuts  # inside a key


def test_interesting_cuts_find_keys_of_up_to_256_characters_or_escapes() -> None:
    def cut_inside_key(key: str) -> bool:
        # Only a key puts a cut between two letters: no escape, literal or mark is there.
        text = f'{{"{key}" \t: 1}}'
        return text.index("xy") + 1 in interesting_cuts(text)

    assert cut_inside_key("xy" + '\\"' * 254)  # escaped quotes are items of the key
    assert not cut_inside_key("xy" + '\\"' * 255)  # 257 items: no key
    assert not cut_inside_key("xy\\\nz")  # an escaped line end ends no key
    # In a value dense with escaped quotes every quote opens a candidate key and none is one.
    dense = '{"m": "' + '\\"ab\\": 1, ' * 2000 + '", "xy": 2}'
    assert dense.index("xy") + 1 in interesting_cuts(dense)
    assert dense.index("ab") + 1 not in interesting_cuts(dense)


def test_split_at_joins_back_and_ignores_bad_points() -> None:
    assert split_at("abcdef", [3, 1, 3, 0, 9]) == ["a", "bc", "def"]
    assert split_at(b"ab", []) == [b"ab"]


def test_random_cuts_are_in_range_and_reproducible() -> None:
    first = [random_cuts(random.Random(f"s{i}"), 50, interesting=[7, 8]) for i in range(40)]
    again = [random_cuts(random.Random(f"s{i}"), 50, interesting=[7, 8]) for i in range(40)]
    assert first == again
    assert all(0 < c < 50 for cuts in first for c in cuts)
    assert any(not cuts for cuts in first) and any(len(cuts) > 3 for cuts in first)
    assert random_cuts(random.Random(1), 1) == ()


# -- layout and variants -----------------------------------------------------------------------


def test_layout_finds_the_argument_runs(send_cassette: Path) -> None:
    shape = layout(load_cassette(send_cassette))
    assert sorted(shape.bodies) == [0, 1]
    assert [run.interaction for run in shape.runs] == [0, 1]
    # The opening chunk (id and name, empty arguments) starts the run: it may carry text too.
    assert json.loads(shape.runs[1].text) == cf.SEND_ARGS
    assert shape.runs[1].start == 0 and shape.runs[1].target == "arguments"
    assert shape.runs[1].describe().startswith("interaction 1, tool call 0 arguments (chunks 0-")


def test_extreme_splits_keep_the_built_in_messages(send_cassette: Path) -> None:
    cassette = load_cassette(send_cassette)
    shape = layout(cassette)
    expected = merged_view(replay(cassette))
    for split in (Split(), finest_split(shape)):
        result = Variant(cassette, shape, split).replay()
        assert compare_views(expected, merged_view(result)) is None
    # The finest split really hands the parser one character a chunk.
    fine = Variant(cassette, shape, finest_split(shape)).replay()
    assert len(fine.interactions[1].messages) > len(replay(cassette).interactions[1].messages)


def test_a_long_run_is_re_cut_only_as_the_parser_takes_its_chunks(tmp_path: Path) -> None:
    import tracemalloc

    from streamreel.cassettes import chunkfile
    from streamreel.testing.fuzz import _schedule

    arguments = json.dumps({"message": "word " * 400_000})
    call = {"index": 0, "id": "call_1", "type": "function"}
    call["function"] = {"name": "send_message", "arguments": arguments}
    line = json.dumps({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    path = tmp_path / "long.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    cassette = chunkfile.read_chunk_file(path)
    shape = layout(cassette, provider=chunkfile.PROVIDER, api=chunkfile.API)
    split = finest_split(shape)
    tracemalloc.start()
    try:
        _, release = _schedule(shape, split)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Scheduling holds no copy of the 2 MB run: its pieces are made when they are handed on.
    assert peak < len(arguments) // 4, f"{peak:,} bytes traced for a {len(arguments):,} run"
    handed = [chunk.choices[0].delta.tool_calls for chunk in release[-1]]
    assert len(handed) == len(split.text[0]) + 1
    assert handed[0][0].function.name == "send_message"
    assert all(calls[0].function.name is None for calls in handed[1:])
    assert "".join(calls[0].function.arguments for calls in handed) == arguments


def test_recut_bodies_arrive_in_the_new_reads(send_cassette: Path) -> None:
    cassette = load_cassette(send_cassette)
    shape = layout(cassette)
    result = Variant(cassette, shape, Split(body={0: (5, 6, 100)})).replay()
    assert [len(c.data) for c in result.interactions[0].chunks][:3] == [5, 1, 94]
    assert len(result.interactions[1].chunks) == 1  # not mentioned: one read


def test_the_wrapper_notices_a_stream_that_decoded_differently() -> None:
    def chunk(text: str) -> ChatCompletionChunk:
        return parse_chunk({"choices": [{"delta": {"content": text}}]})

    fed: list[str] = []

    class Recorder:
        def process_chunk(self, c: ChatCompletionChunk, *args: Any) -> None:
            fed.append(c.choices[0].delta.content or "")

        def step_complete(self) -> None: ...

    a, b, c = chunk("ab"), chunk("cd"), chunk("zz")
    wrapper = RechunkingParser(
        Recorder(),  # type: ignore[arg-type]
        expected=[a, b],
        release=[[], [chunk("a"), chunk("bcd")]],
    )
    date = datetime(2024, 1, 1)
    wrapper.process_chunk(a, "m", date)
    assert fed == [] and not wrapper.desynchronized
    wrapper.process_chunk(c, "m", date)  # not the chunk the layout promised
    assert wrapper.desynchronized and fed == ["ab", "zz"]


# -- shrinking ---------------------------------------------------------------------------------


def test_shrink_keeps_only_the_cut_that_matters() -> None:
    big = Split(body={0: tuple(range(1, 200))}, text={0: (3, 5, 8), 1: (2,)})

    def fails(split: Split) -> bool:
        return 5 in split.text.get(0, ()) and 150 in split.body.get(0, ())

    smallest, tried = shrink(big, fails)
    assert smallest.cuts() == [("body", 0, 150), ("text", 0, 5)]
    assert tried < 200


# -- the fuzzer --------------------------------------------------------------------------------


def test_the_fuzzer_catches_a_naive_parser(send_cassette: Path) -> None:
    report = fuzz_cassette(send_cassette, parser=naive_parser, seed=7, examples=20)
    assert report.failure is not None
    failure = report.failure
    assert len(failure.split.cuts()) <= 2
    assert failure.difference.interaction == 1
    text = "\n".join(report.describe())
    assert "seed 7, example" in text and "smallest split found" in text
    assert "interaction 1, tool call 0 arguments" in text
    assert "assistant_message" in text


def test_the_built_in_interface_passes_on_generated_cassettes(tmp_path: Path) -> None:
    path = cf.write(
        tmp_path / "mixed.yaml",
        cf.interaction(cf.content_chunks('Caf\u00e9 "quoted" \\ back\nslash \U0001f600')),
        cf.interaction(
            cf.tool_call_chunks("send_message", cf.SEND_ARGS, ensure_ascii=True), per_read=7
        ),
        cf.search_call(per_read=2),
    )
    report = fuzz_cassette(path, seed=11, examples=25)
    assert not report.failed and report.error is None, "\n".join(report.describe())
    assert report.examples == 25


@pytest.mark.parametrize("path", BUNDLED)
def test_the_built_in_interface_passes_on_every_bundled_cassette(path: Path) -> None:
    report = fuzz_cassette(path, seed=2024, examples=12)
    assert not report.failed and report.error is None, "\n".join(report.describe())


def test_the_built_in_interface_passes_on_the_corpus(corpus_dir: Path) -> None:
    # The two fixed examples (no cuts, and cuts everywhere), on the streams small
    # enough to keep this quick; the command runs the long ones.
    paths = expand([corpus_dir], chunk_files=False)
    failures = []
    for path in paths:
        if path.name == "inventory.json" or path.stat().st_size > 64_000:
            continue
        report = fuzz_cassette(path, seed=5, examples=2)
        if report.failed or report.error is not None:
            failures.extend(report.describe())
    assert not failures, "\n".join(failures)


def test_a_cassette_with_nothing_to_cut_is_skipped(tmp_path: Path) -> None:
    interaction = cf.send_message()
    interaction.response.status = 500
    interaction.response.body = b'{"error": {"message": "boom", "type": "server_error"}}'
    interaction.response.chunks = None
    report = fuzz_cassette(cf.write(tmp_path / "err.yaml", interaction), examples=3)
    assert report.skipped and not report.failed


# -- Hypothesis strategies ---------------------------------------------------------------------


@given(st.data())
def test_splits_join_back(data: st.DataObject) -> None:
    body = 'data: {"x":"caf\u00e9\\n"}\r\n\r\n'.encode()
    pieces = data.draw(splits(body))
    assert b"".join(pieces) == body and all(pieces)
    cuts = data.draw(cut_points("abc\\n"))
    assert list(cuts) == sorted(set(cuts)) and all(0 < c < 5 for c in cuts)


_CASSETTE = cf.cassette(cf.send_message(per_read=2))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rechunked(_CASSETTE))
def test_the_built_in_interface_is_split_invariant(variant: Variant) -> None:
    assert_split_invariant(variant)


def test_the_strategy_finds_the_naive_parser_out() -> None:
    @settings(max_examples=100, deadline=None, database=None, derandomize=True)
    @given(rechunked(_CASSETTE))
    def check(variant: Variant) -> None:
        assert_split_invariant(variant, parser=naive_parser)

    with pytest.raises(AssertionError, match="the merged messages change"):
        check()


def test_random_split_covers_every_site(send_cassette: Path) -> None:
    shape = layout(load_cassette(send_cassette))
    seen_body, seen_text = set(), set()
    for n in range(30):
        split = random_split(random.Random(n), shape)
        seen_body |= set(split.body)
        seen_text |= set(split.text)
    assert seen_body == {0, 1} and seen_text == {0, 1}


# -- the command -------------------------------------------------------------------------------


def test_fuzz_command_reports_the_naive_parser_with_its_seed(send_cassette: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "fuzz", str(send_cassette), "--seed", "7", "--examples", "10",
            "--against", "test_fuzz:naive_parser",
        ],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "the merged messages change with the split (seed 7, example" in result.output
    assert "reproduce with: streamreel fuzz" in result.output and "--seed 7" in result.output


def test_fuzz_command_passes_the_built_in_interface(send_cassette: Path) -> None:
    result = CliRunner().invoke(main, ["fuzz", str(send_cassette.parent), "--examples", "5"])
    assert result.exit_code == 0, result.output
    assert "ok (5 splits, same merged messages)" in result.output


def test_fuzz_command_rejects_a_bad_factory(send_cassette: Path) -> None:
    result = CliRunner().invoke(main, ["fuzz", str(send_cassette), "--against", "nowhere"])
    assert result.exit_code == 2
    assert "expected MODULE:FACTORY" in result.output
