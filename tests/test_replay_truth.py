"""Replay tells the truth: one choice per step, a note and an exit status for every fault.

Also the command line's smaller promises: ``--interaction`` out of range names the file and its
count, an empty file is not told to be deleted, ``-`` reads standard input, ``NO_COLOR`` turns
colour off, and ``diff``/``fuzz`` take chunk files and count an unreadable file apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cassettefactory as cf
import pytest
from click.testing import CliRunner
from streamreel.cassettes.discovery import expand, file_kind, looks_like_chunk_lines
from streamreel.cassettes.storage import load_cassette
from streamreel.cli import main
from streamreel.core.chunks import parse_chunk, select_choice
from streamreel.core.messages import merge_deltas
from streamreel.core.parser import StreamParser
from streamreel.playback.replay import replay, replay_chunk_file

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"

# -- n > 1: each chunk carries one choice, alternating 0 and 1, as OpenAI streams n=2 ----------

FIRST = ["I'm", " unable", " to", " help", " with", " that."]
SECOND = ["Sorry,", " I", " can't", " do", " that."]


def choice_chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-n2",
        "object": "chat.completion.chunk",
        "created": 1741944413,
        "model": cf.MODEL,
        "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def two_choices() -> list[dict[str, Any]]:
    chunks = [choice_chunk(index, {"role": "assistant", "content": ""}) for index in (0, 1)]
    for a, b in zip(FIRST, [*SECOND, None], strict=True):
        chunks.append(choice_chunk(0, {"content": a}))
        if b is not None:
            chunks.append(choice_chunk(1, {"content": b}))
    chunks += [choice_chunk(index, {}, "stop") for index in (0, 1)]
    return chunks


def reasoning_text(messages: list[Any]) -> list[str]:
    return [m.reasoning for m in merge_deltas(messages) if m.message_type == "reasoning_message"]


def test_the_chunks_really_alternate_their_choice() -> None:
    indexes = [c["choices"][0]["index"] for c in two_choices()]
    assert indexes[:6] == [0, 1, 0, 1, 0, 1] and set(indexes) == {0, 1}


def test_the_parser_takes_choice_zero_as_the_step_and_skips_the_others() -> None:
    parser = StreamParser()
    out = []
    for raw in two_choices():
        out += parser.feed(parse_chunk(raw), message_id="m", message_date=cf.RECORDED_AT)
    out += parser.finish()
    assert reasoning_text(out) == ["".join(FIRST)]


def test_a_cassette_with_two_choices_replays_choice_zero_and_offers_the_other(
    tmp_path: Path,
) -> None:
    path = cf.write(tmp_path / "n2.yaml", cf.interaction(two_choices()))
    assert reasoning_text(replay(path).messages) == ["".join(FIRST)]
    assert reasoning_text(replay(path, choice=1).messages) == ["".join(SECOND)]
    # The other choice's chunks are still in the record of what each read produced.
    produced = [c for record in replay(path).interactions[0].chunks for c in record.produced]
    assert any(choice.index == 1 for c in produced for choice in getattr(c, "choices", []))


def test_a_chunk_file_with_two_choices_replays_choice_zero(tmp_path: Path) -> None:
    path = tmp_path / "n2.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in two_choices()), encoding="utf-8")
    assert reasoning_text(replay_chunk_file(path).messages) == ["".join(FIRST)]
    assert reasoning_text(replay_chunk_file(path, choice=1).messages) == ["".join(SECOND)]


def test_select_choice_renumbers_the_kept_choice_and_keeps_usage() -> None:
    chunk = parse_chunk(
        {"choices": [{"index": 1, "delta": {"content": "x"}}], "usage": {"prompt_tokens": 3}}
    )
    kept = select_choice(chunk, 1)
    assert [c.index for c in kept.choices] == [0] and kept.usage == chunk.usage
    assert select_choice(chunk, 0).choices == []


def test_the_command_replays_another_choice_on_request(tmp_path: Path) -> None:
    path = cf.write(tmp_path / "n2.yaml", cf.interaction(two_choices()))
    args = ["replay", str(path), "--format", "jsonl", "--merge"]
    first = CliRunner().invoke(main, args)
    second = CliRunner().invoke(main, [*args, "--choice", "1"])
    assert json.loads(first.stdout.splitlines()[0])["reasoning"] == "".join(FIRST)
    assert json.loads(second.stdout.splitlines()[0])["reasoning"] == "".join(SECOND)


# -- notes and exit statuses -------------------------------------------------------------------


# Bedrock Agents InvokeAgent: an event stream streamreel recognises and refuses.
AGENT_URL = (
    "https://bedrock-agent-runtime.us-east-1.amazonaws.com/agents/A/agentAliases/T/sessions/s/text"
)


def unsupported(tmp_path: Path) -> Path:
    """A cassette whose one stream is a Bedrock Agents event stream, which streamreel refuses."""
    interaction = cf.send_message()
    interaction.request.uri = AGENT_URL
    interaction.response.headers = {"content-type": ["application/vnd.amazon.eventstream"]}
    interaction.response.body = b"\x00\x00\x00\x10binary"
    interaction.response.chunks = None
    return cf.write(tmp_path / "unsupported.yaml", interaction)


def mixed(tmp_path: Path) -> Path:
    """A good stream, then a Bedrock one: both the messages and the note must come out."""
    bedrock = cf.send_message()
    bedrock.request.uri = AGENT_URL
    bedrock.response.headers = {"content-type": ["application/vnd.amazon.eventstream"]}
    bedrock.response.body = b"\x00\x00\x00\x10binary"
    bedrock.response.chunks = None
    return cf.write(tmp_path / "mixed.yaml", cf.send_message(), bedrock)


FORMATS = ["jsonl", "sse", "table"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unsupported_stream_gets_a_note_naming_it_and_exit_5(tmp_path: Path, fmt: str) -> None:
    path = mixed(tmp_path)
    result = CliRunner().invoke(main, ["replay", str(path), "--format", fmt])
    assert result.exit_code == 5, result.output
    notes = [line for line in result.stderr.splitlines() if "unsupported" in line]
    assert len(notes) == 1
    assert notes[0].startswith(f"streamreel: {path}: interaction 1 (POST https://bedrock")
    assert "Here is" in result.stdout or "caf" in result.stdout  # the good stream still shows


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_cut_stream_gets_a_note_naming_it_and_exit_4(fmt: str) -> None:
    path = CASSETTES / "openai-truncated-stream.yaml"
    result = CliRunner().invoke(main, ["replay", str(path), "--format", fmt])
    assert result.exit_code == 4, result.output
    (note,) = [line for line in result.stderr.splitlines() if "incomplete" in line]
    assert note.startswith(f"streamreel: {path}: interaction 0 (POST https://api.openai.com")
    assert result.stdout.strip()  # the messages before the cut are printed


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_replayed_provider_error_exits_1_without_a_note(fmt: str) -> None:
    result = CliRunner().invoke(
        main, ["replay", str(CASSETTES / "openai-http-429.yaml"), "--format", fmt]
    )
    assert result.exit_code == 1
    assert "unsupported" not in result.stderr and "incomplete" not in result.stderr


def test_a_clean_replay_exits_0_and_says_nothing_on_stderr() -> None:
    path = CASSETTES / "openai-send-message-inner-thoughts.yaml"
    result = CliRunner().invoke(main, ["replay", str(path), "--format", "jsonl"])
    assert result.exit_code == 0 and result.stderr == ""


def test_an_unreadable_source_exits_3(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("interactions: {oops", encoding="utf-8")
    result = CliRunner().invoke(main, ["replay", str(broken), "--format", "jsonl"])
    assert result.exit_code == 3 and str(broken) in result.stderr


def test_inspect_exits_3_for_an_unreadable_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("interactions: {oops", encoding="utf-8")
    result = CliRunner().invoke(main, ["inspect", str(broken)])
    assert result.exit_code == 3 and str(broken) in result.stderr


def test_the_highest_status_wins(tmp_path: Path) -> None:
    cut = cf.send_message()
    cut.response.body = cut.response.body.replace(b"data: [DONE]\n\n", b"")
    cut.response.chunks = None
    failed = cf.send_message()
    failed.response.status = 429
    failed.response.body = b'{"error": {"message": "slow down", "type": "rate_limit"}}'
    failed.response.chunks = None
    bedrock = next(iter(load_cassette(unsupported(tmp_path)).interactions))
    cases = {"cut-and-error": ([failed, cut], 4), "all-three": ([failed, cut, bedrock], 5)}
    for name, (interactions, status) in cases.items():
        path = cf.write(tmp_path / f"{name}.yaml", *interactions)
        assert CliRunner().invoke(main, ["replay", str(path)]).exit_code == status, name


def test_the_exit_statuses_are_documented_in_help_and_readme() -> None:
    shown = CliRunner().invoke(main, ["replay", "--help"]).output
    readme = (CASSETTES.parent / "README.md").read_text(encoding="utf-8")
    for code in range(6):
        assert f"\n    {code}  " in shown, code
        assert f"| {code} |" in readme, code


# -- smaller ---------------------------------------------------------------------------------


def test_interaction_out_of_range_names_the_file_and_its_count() -> None:
    path = CASSETTES / "openai-send-message-inner-thoughts.yaml"
    result = CliRunner().invoke(main, ["replay", str(path), "--interaction", "999"])
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    assert str(path) in text and "2 interactions" in text and "999" in text


def test_an_empty_file_is_not_told_to_be_deleted(tmp_path: Path) -> None:
    for source in ("/dev/null", str(tmp_path / "empty.yaml")):
        Path(source).write_bytes(b"") if source != "/dev/null" else None
        result = CliRunner().invoke(main, ["replay", source])
        assert result.exit_code == 3
        assert "empty file" in result.stderr and "delete" not in result.stderr


def test_a_dash_reads_a_cassette_or_a_chunk_file_from_standard_input() -> None:
    cassette = CASSETTES / "openai-send-message-inner-thoughts.yaml"
    chunks = CASSETTES / "openai-send-message.jsonl"
    for source in (cassette, chunks):
        piped = CliRunner().invoke(
            main, ["replay", "-", "--format", "jsonl", "--merge"], input=source.read_bytes()
        )
        named = CliRunner().invoke(main, ["replay", str(source), "--format", "jsonl", "--merge"])
        assert piped.exit_code == named.exit_code == 0, piped.output
        kinds = [json.loads(line)["message_type"] for line in piped.stdout.splitlines()]
        assert kinds == [json.loads(line)["message_type"] for line in named.stdout.splitlines()]
    bad = CliRunner().invoke(main, ["replay", "-"], input=b"\xff\xfe junk")
    assert bad.exit_code == 3 and "<stdin>" in bad.stderr


def test_no_color_turns_colour_off() -> None:
    args = ["replay", str(CASSETTES / "openai-send-message-inner-thoughts.yaml")]
    coloured = CliRunner().invoke(main, [*args, "--format", "table"], color=True)
    plain = CliRunner().invoke(
        main, [*args, "--format", "table"], color=True, env={"NO_COLOR": "1"}
    )
    assert "\x1b[" in coloured.output
    assert "\x1b[" not in plain.output and plain.exit_code == 0


# -- diff and fuzz: chunk files, folders, unreadable files -------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "recordings"
    (root / "sub").mkdir(parents=True)
    (root / "__snapshots__").mkdir()
    (root / ".hidden").mkdir()
    (root / "sub" / "chunks.jsonl").write_bytes(
        (CASSETTES / "openai-send-message.jsonl").read_bytes()
    )
    cf.write(root / "b.yaml", cf.send_message())
    (root / "__snapshots__" / "snap.jsonl").write_text('{"not": "chunks"}\n', encoding="utf-8")
    (root / ".hidden" / "x.yaml").write_text("nope", encoding="utf-8")
    (root / "notes.txt").write_text("not a recording", encoding="utf-8")
    return root


def test_a_folder_expands_recursively_to_cassettes_and_chunk_files(folder: Path) -> None:
    assert expand([folder]) == [folder / "b.yaml", folder / "sub" / "chunks.jsonl"]
    assert expand([folder], recursive=False) == [folder / "b.yaml"]
    assert expand([folder], chunk_files=False) == [folder / "b.yaml"]
    assert expand([folder / "notes.txt", folder]) == [
        folder / "notes.txt", folder / "b.yaml", folder / "sub" / "chunks.jsonl",
    ]  # fmt: skip


def test_a_folder_walk_skips_installed_packages_whatever_their_folder_is_named(
    folder: Path,
) -> None:
    venv = folder / "venv"  # a virtualenv is known by its pyvenv.cfg, not its name
    (venv / "lib" / "site").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    (venv / "lib" / "site" / "direct_url.json").write_text("{}", encoding="utf-8")
    for name in ("site-packages", "node_modules"):
        (folder / name).mkdir()
        (folder / name / "package.json").write_text("{}", encoding="utf-8")
    assert expand([folder]) == [folder / "b.yaml", folder / "sub" / "chunks.jsonl"]


def test_a_file_of_unknown_kind_is_told_by_its_first_line() -> None:
    assert looks_like_chunk_lines('\n{"choices": []}\n')
    assert looks_like_chunk_lines("data: {}\n")
    assert not looks_like_chunk_lines('{\n "log": {}}\n')
    assert not looks_like_chunk_lines("version: 1\n")
    assert file_kind(Path("x.txt"), "data: {}") == "chunks"
    assert file_kind(Path("x.yaml"), "data: {}") == "cassette"


def test_diff_compares_chunk_files_and_finds_them_in_folders(folder: Path) -> None:
    args = ["diff", "--right-settings", "use_assistant_message=false"]
    direct = CliRunner().invoke(main, [*args, str(folder / "sub" / "chunks.jsonl")])
    assert direct.exit_code == 1 and "YAML" not in direct.output
    assert "chunks.jsonl: interaction 0" in direct.output
    whole = CliRunner().invoke(main, [*args, str(folder)])
    assert "chunks.jsonl" in whole.output and "snap.jsonl" not in whole.output


def test_diff_counts_an_unreadable_file_as_an_error_not_a_difference(folder: Path) -> None:
    (folder / "broken.yaml").write_text("interactions: {oops", encoding="utf-8")
    args = ["diff", "--right-settings", "use_assistant_message=true"]
    result = CliRunner().invoke(main, [*args, str(folder / "broken.yaml"), str(folder / "b.yaml")])
    assert result.exit_code == 3, result.output
    assert "0 of 2 cassettes differ" in result.output and "1 could not be read" in result.output


def test_fuzz_takes_chunk_files_and_exits_3_for_an_unreadable_file(folder: Path) -> None:
    ok = CliRunner().invoke(main, ["fuzz", str(folder), "--seed", "1", "--examples", "3"])
    assert ok.exit_code == 0, ok.output
    assert "chunks.jsonl: ok (3 splits" in ok.output
    (folder / "broken.yaml").write_text("interactions: {oops", encoding="utf-8")
    bad = CliRunner().invoke(main, ["fuzz", str(folder), "--seed", "1", "--examples", "3"])
    assert bad.exit_code == 3 and "broken.yaml: cannot fuzz" in bad.output


def test_a_file_with_another_suffix_is_replayed_as_what_its_content_is(tmp_path: Path) -> None:
    chunks = tmp_path / "stream.txt"
    chunks.write_bytes((CASSETTES / "openai-send-message.jsonl").read_bytes())
    cassette = tmp_path / "recording.txt"
    cassette.write_bytes((CASSETTES / "openai-send-message-inner-thoughts.yaml").read_bytes())
    for path in (chunks, cassette):
        result = CliRunner().invoke(main, ["replay", str(path), "--format", "jsonl", "--merge"])
        assert result.exit_code == 0, result.output
        assert "assistant_message" in result.stdout
