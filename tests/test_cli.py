"""The command line, through click's runner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import pytest
from chunkfactory import chunk, tool_stream
from click.testing import CliRunner
from streamreel.cli import main


def write_chunks(path: Path, chunks: list[dict[str, object]], *, prefix: str = "") -> Path:
    lines = [prefix + json.dumps(c) for c in chunks]
    path.write_text("\n".join(lines) + "\n\n" + prefix + "[DONE]\n", encoding="utf-8")
    return path


SEND = {"inner_thoughts": "User greets me.", "message": 'Hi! Caf\u00e9 "open".'}


def test_replay_chunk_file_as_table(tmp_path: Path) -> None:
    source = write_chunks(tmp_path / "s.jsonl", tool_stream(SEND), prefix="data: ")
    result = CliRunner().invoke(main, ["replay", str(source), "--format", "table"])
    assert result.exit_code == 0, result.output
    assert "reasoning    User greets me." in result.output
    assert 'assistant    Hi! Caf\u00e9 "open".' in result.output


def test_replay_chunk_file_as_jsonl_deltas_and_merged(tmp_path: Path) -> None:
    source = write_chunks(tmp_path / "s.jsonl", tool_stream(SEND))
    deltas = CliRunner().invoke(main, ["replay", str(source), "--format", "jsonl"])
    merged = CliRunner().invoke(main, ["replay", str(source), "--format", "jsonl", "--merge"])
    assert deltas.exit_code == merged.exit_code == 0
    merged_lines = [json.loads(line) for line in merged.output.splitlines()]
    assert [m["message_type"] for m in merged_lines] == ["reasoning_message", "assistant_message"]
    assert len(deltas.output.splitlines()) > len(merged_lines)


def test_replay_sse_ends_with_usage_and_done(tmp_path: Path) -> None:
    source = write_chunks(tmp_path / "s.jsonl", tool_stream(SEND))
    result = CliRunner().invoke(main, ["replay", str(source), "--format", "sse"])
    events = result.output.split("\n\n")
    assert events[-2] == "data: [DONE]"
    assert json.loads(events[-3].removeprefix("data: "))["message_type"] == "usage_statistics"


def test_knobs_and_fixed_id_and_date(tmp_path: Path) -> None:
    source = write_chunks(tmp_path / "s.jsonl", tool_stream(SEND))
    result = CliRunner().invoke(
        main,
        [
            "replay", str(source), "--format", "jsonl", "--merge", "--no-use-assistant-message",
            "--message-id", "message-6b1f3d52-7a0e-4f0a-9c1e-3d2b4a5c6d7e",
            "--message-date", "1714521600",
        ],
    )  # fmt: skip
    messages = [json.loads(line) for line in result.output.splitlines()]
    assert messages[1]["message_type"] == "tool_call_message"
    assert messages[1]["tool_call"]["name"] == "send_message"
    assert {m["id"] for m in messages} == {"message-6b1f3d52-7a0e-4f0a-9c1e-3d2b4a5c6d7e"}
    assert {m["date"] for m in messages} == {"2024-05-01T00:00:00+00:00"}
    iso = CliRunner().invoke(
        main,
        ["replay", str(source), "--format", "jsonl", "--message-date", "2024-05-01T02:00:00+02:00"],
    )
    assert '"date":"2024-05-01T00:00:00+00:00"' in iso.output


def test_custom_names_reach_the_interface(tmp_path: Path) -> None:
    stream = tool_stream({"thinking": "t", "text": "said"}, name="reply")
    source = write_chunks(tmp_path / "s.jsonl", stream)
    result = CliRunner().invoke(
        main,
        [
            "replay", str(source), "--format", "jsonl", "--merge",
            "--assistant-message-tool-name", "reply", "--assistant-message-tool-kwarg", "text",
            "--inner-thoughts-kwarg", "thinking",
        ],
    )  # fmt: skip
    assert [json.loads(line).get("content") for line in result.output.splitlines()] == [
        None,
        "said",
    ]


def test_malformed_line_is_reported_with_its_number_and_earlier_messages_kept(
    tmp_path: Path,
) -> None:
    source = tmp_path / "bad.jsonl"
    good = [json.dumps(chunk({"content": "before the fault"}))]
    source.write_text(
        "\n".join([*good, "", '{"choices": [ {"delta": ', json.dumps(chunk({"content": "after"}))])
    )
    result = CliRunner().invoke(main, ["replay", str(source), "--format", "jsonl", "--merge"])
    assert result.exit_code == 4  # damaged part-way: incomplete
    lines = result.stdout.splitlines()
    assert json.loads(lines[0])["reasoning"] == "before the fault"
    assert "error" in json.loads(lines[-1]) and "bad.jsonl:3" in json.loads(lines[-1])["error"]
    assert "bad.jsonl:3" in result.stderr and "after" not in result.stdout


def test_missing_file_and_bad_date_are_usage_errors(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["replay", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    source = write_chunks(tmp_path / "s.jsonl", tool_stream(SEND))
    bad = CliRunner().invoke(main, ["replay", str(source), "--message-date", "yesterday"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_every_command_has_help() -> None:
    for name, command in main.commands.items():
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0, name
        assert (command.help or "").strip(), name


def test_inspect_lists_interactions_with_features(tmp_path: Path) -> None:
    from streamreel.cassettes.storage import save_cassette
    from streamreel.core.cassette import (
        BodyChunk,
        Cassette,
        Interaction,
        RecordedRequest,
        RecordedResponse,
    )

    body = (
        b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in tool_stream(SEND))
        + b"data: [DONE]\n\n"
    )
    request = RecordedRequest(
        "POST",
        "https://api.openai.com/v1/chat/completions",
        body=b'{"model": "gpt-4o", "stream": true}',
    )
    response = RecordedResponse(
        200,
        "OK",
        {"content-type": ["text/event-stream"]},
        body,
        [BodyChunk(250.0, body[:40]), BodyChunk(400.0, body[40:])],
    )
    save_cassette(Cassette([Interaction(request, response)]), tmp_path / "c.yaml")
    result = CliRunner().invoke(main, ["inspect", str(tmp_path / "c.yaml")])
    assert result.exit_code == 0, result.output
    assert (
        "openai chat-completions (sse), model gpt-4o, HTTP 200, 2 chunks, 2 messages"
        in result.output
    )
    assert "first chunk 250 ms, duration 400 ms, 5.0/s" in result.output
    assert "features: tool-calls" in result.output


def test_import_writes_a_cassette_and_reports_bad_input(tmp_path: Path) -> None:
    stream = "data: " + json.dumps(chunk({"content": "hi"})) + "\n\ndata: [DONE]\n\n"
    request = {
        "method": "POST",
        "url": "https://api.openai.com/v1/chat/completions",
        "headers": [],
        "postData": {"text": "{}"},
    }
    response = {
        "status": 200,
        "statusText": "OK",
        "headers": [{"name": "content-type", "value": "text/event-stream"}],
        "content": {"text": stream},
    }
    har = {"log": {"version": "1.2", "entries": [{"request": request, "response": response}]}}
    (tmp_path / "r.har").write_text(json.dumps(har))
    result = CliRunner().invoke(
        main, ["import", str(tmp_path / "r.har"), "-o", str(tmp_path / "out.yaml")]
    )
    assert result.exit_code == 0, result.output
    replayed = CliRunner().invoke(
        main, ["replay", str(tmp_path / "out.yaml"), "--format", "jsonl", "--merge"]
    )
    assert json.loads(replayed.output.splitlines()[0])["reasoning"] == "hi"
    (tmp_path / "bad.json").write_text('{"neither": "har nor nock"}')
    bad = CliRunner().invoke(
        main, ["import", str(tmp_path / "bad.json"), "-o", str(tmp_path / "x.yaml")]
    )
    assert bad.exit_code == 3 and "bad.json" in bad.output and not (tmp_path / "x.yaml").exists()


CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"


def test_replay_one_interaction_of_a_cassette() -> None:
    source = CASSETTES / "openai-send-message-inner-thoughts.yaml"
    both = CliRunner().invoke(main, ["replay", str(source), "--format", "jsonl", "--merge"])
    second = CliRunner().invoke(
        main, ["replay", str(source), "--format", "jsonl", "--merge", "-i", "1"]
    )
    assert both.exit_code == second.exit_code == 0
    all_lines, one = both.output.splitlines(), second.output.splitlines()
    assert 0 < len(one) < len(all_lines) and one == all_lines[-len(one) :]
    missing = CliRunner().invoke(main, ["replay", str(source), "--interaction", "7"])
    assert missing.exit_code == 2 and "cannot replay interaction 7" in missing.output


def test_http_error_in_a_cassette_is_an_error_line_in_jsonl_and_sse() -> None:
    source = CASSETTES / "openai-http-429.yaml"
    jsonl = CliRunner().invoke(main, ["replay", str(source), "--format", "jsonl"])
    assert jsonl.exit_code == 1
    (line,) = jsonl.stdout.splitlines()
    assert set(json.loads(line)) == {"error"} and "429" in json.loads(line)["error"]
    sse = CliRunner().invoke(main, ["replay", str(source), "--format", "sse"])
    assert sse.stdout.startswith('data: {"error":') and sse.stdout.endswith("data: [DONE]\n\n")


def test_load_ext_streamreel_registers_the_record_cell_magic() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "streamreel")
    assert shell.find_cell_magic("record") is not None


def test_the_help_listing_says_what_each_command_says_of_itself() -> None:
    from streamreel.cli import _COMMANDS

    for name, entry in _COMMANDS.items():
        command = main.get_command(click.Context(main), name)
        assert command is not None and command.name == name
        assert (command.help or "").splitlines()[0] == entry.summary, name


SEEING_PARSER = """
import os

from streamreel.playback.replay import default_parser

seen = []


def factory(settings):
    seen.append(os.environ.get("PYDANTIC_DISABLE_PLUGINS"))
    return default_parser(settings)
"""


def test_a_command_runs_without_pydantic_plugins_unless_the_environment_says_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Finding pydantic's plugins scans every installed distribution, and streamreel's own
    # validation of each chunk is nothing a plugin should trace: off for the command, then put
    # back as it was; a value the user set (even empty, which keeps plugins on) is theirs.
    (tmp_path / "seeing.py").write_text(SEEING_PARSER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import seeing  # type: ignore[import-not-found]

    source = write_chunks(tmp_path / "s.jsonl", tool_stream(SEND))
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    args = ["replay", str(source), "--parser", "seeing:factory"]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert "PYDANTIC_DISABLE_PLUGINS" not in os.environ
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "")
    assert CliRunner().invoke(main, args).exit_code == 0
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == ""
    assert seeing.seen == ["__all__", ""]


# A fresh interpreter, as a user's command starts: which loader pydantic's first validator found,
# and what the process holds once the command is over.
LOADER_PROBE = """
import gc, json, sys
from streamreel.cli import main
paused = []
import importlib
real_import = importlib.import_module
def watching(name, *args, **kwargs):
    if name == "streamreel.cli.replay":
        paused.append(not gc.isenabled())
    return real_import(name, *args, **kwargs)
importlib.import_module = watching
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    importlib.import_module = real_import
during = "pydantic.plugin._loader" in sys.modules
import pydantic.plugin._loader as loader
print(json.dumps({
    "loader_imported_by_the_command": during,
    "loader_after": type(loader).__name__ + ":" + loader.__file__.rsplit("/", 1)[-1],
    "collector_paused_for_command_imports": paused,
    "collector_enabled_after": gc.isenabled(),
}))
"""


@pytest.mark.parametrize("user_setting", [None, ""])
def test_a_command_never_imports_pydantics_plugin_loader_unless_plugins_are_on(
    tmp_path: Path, user_setting: str | None
) -> None:
    # The loader's import (importlib.metadata, email, zipfile...) was a sixth of a one-chunk
    # replay. With plugins off a stand-in answers pydantic's one question instead; with the
    # user's own setting the real loader runs. Either way the real one is there afterwards.
    import subprocess
    import sys

    source = write_chunks(tmp_path / "s.jsonl", tool_stream(SEND))
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if user_setting is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = user_setting
    done = subprocess.run(
        [sys.executable, "-c", LOADER_PROBE, "replay", str(source), "--format", "jsonl"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    *messages, probe = done.stdout.strip().splitlines()
    assert [json.loads(line)["message_type"] for line in messages][-1] == "assistant_message"
    seen = json.loads(probe)
    assert seen["loader_imported_by_the_command"] is (user_setting is not None)
    assert seen["loader_after"] == "module:_loader.py"
    assert seen["collector_paused_for_command_imports"] == [True]
    assert seen["collector_enabled_after"] is True


def test_the_stand_in_loader_hands_any_other_name_to_the_real_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from streamreel.cli.plugins import plugins_off

    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    real = sys.modules.pop("pydantic.plugin._loader", None)
    try:
        with plugins_off():
            stand_in = sys.modules["pydantic.plugin._loader"]
            assert list(stand_in.get_plugins()) == []
            assert not hasattr(stand_in, "__path__")  # not a package: the import system asks
            assert stand_in.get_plugins.__name__ == "get_plugins"
            group = stand_in.PYDANTIC_ENTRY_POINT_GROUP  # a name only the real loader has
            assert group == "pydantic"
            real_one = sys.modules["pydantic.plugin._loader"]
            assert real_one is not stand_in and real_one.__file__.endswith("_loader.py")
        assert "pydantic.plugin._loader" in sys.modules  # the real one, which stays
    finally:
        if real is not None:
            sys.modules["pydantic.plugin._loader"] = real
