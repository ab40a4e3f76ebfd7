"""One convention for exit statuses and streams, in every command.

The statuses are written once, in ``streamreel.cli.exits`` and in the README's table, and a test
holds the two together. Each case runs through click's runner; Ctrl-C and a closed pipe run
through the real console script in a child process, since only a real process has signals and
pipes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chunkfactory import chunk
from click.testing import CliRunner
from streamreel.cli import main
from streamreel.cli.exits import STATUSES, Exit

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
CASSETTE = CASSETTES / "openai-send-message-inner-thoughts.yaml"
CHUNKS = CASSETTES / "openai-send-message.jsonl"
# A second side for diff, so that a run compares something.
DIFF_SIDES = ["--right-settings", "use_assistant_message=false"]


def _run(*arguments: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in arguments], input=stdin)
    assert not isinstance(result.exception, AssertionError | TypeError | AttributeError), (
        result.exception
    )
    return result.exit_code, result.stdout, result.stderr


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text, text


# -- the table ---------------------------------------------------------------------------------


def test_the_readme_table_is_the_table_in_exits() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit statuses", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section, flags=re.M)
    assert [(int(status), meaning) for status, meaning in rows] == [
        (int(status), meaning) for status, meaning in STATUSES.items()
    ]
    assert list(STATUSES) == list(Exit)


# -- unreadable input: 3, naming the file, on stderr ---------------------------------------------


@pytest.fixture
def garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.yaml"
    path.write_text("interactions: [not, a, mapping\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["replay"],
        ["inspect"],
        ["import", "-o", "OUT"],
        ["serve", "--port", "0"],
        ["diff", *DIFF_SIDES],
        ["fuzz", "--examples", "2"],
    ],
    ids=lambda c: c[0],
)
def test_unreadable_input_exits_3_in_every_command_naming_the_file(
    command: list[str], garbage: Path, tmp_path: Path
) -> None:
    arguments = [str(tmp_path / "out.yaml") if a == "OUT" else a for a in command]
    status, out, err = _run(*arguments[:1], str(garbage), *arguments[1:])
    assert status == Exit.UNREADABLE, (out, err)
    assert str(garbage) in err
    _no_traceback(out + err)
    assert "cannot" not in out  # errors go to stderr, results to stdout


@pytest.mark.parametrize("command", ["replay", "inspect", "import", "diff", "fuzz"])
def test_an_empty_file_says_so_and_exits_3(command: str, tmp_path: Path) -> None:
    for name in ("empty.jsonl", "empty.yaml"):
        if command in ("inspect", "import") and name.endswith(".jsonl"):
            continue  # these read cassettes only
        path = tmp_path / name
        path.write_bytes(b"")
        extra = {"import": ["-o", str(tmp_path / "o.yaml")], "diff": DIFF_SIDES}.get(command, [])
        status, out, err = _run(command, str(path), *extra)
        assert status == Exit.UNREADABLE, (name, out, err)
        assert "empty" in err and str(path) in err, err


def test_a_chunk_file_of_blank_lines_only_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.jsonl"
    path.write_text("\n\n   \n", encoding="utf-8")
    status, _, err = _run("replay", str(path))
    assert status == Exit.UNREADABLE and "empty" in err


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("none.yaml", "version: 1\ninteractions: []\n"),
        ("none.har", '{"log": {"version": "1.2", "entries": []}}'),
    ],
)
def test_a_cassette_of_no_interactions_does_not_replay_as_a_success(
    name: str, text: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    for arguments, stdin, shown in (([str(path)], None, str(path)), (["-"], text, "<stdin>")):
        status, out, err = _run("replay", *arguments, stdin=stdin)
        assert status == Exit.UNREADABLE, (out, err)
        assert f"{shown}: cannot replay cassette: expected at least one interaction" in err
        assert out == ""
        _no_traceback(err)


@pytest.mark.parametrize("command", ["diff", "fuzz", "serve"])
def test_an_empty_folder_argument_is_a_usage_error(command: str, tmp_path: Path) -> None:
    folder = tmp_path / "nothing"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a cassette", encoding="utf-8")
    extra = DIFF_SIDES if command == "diff" else []
    status, out, err = _run(command, str(folder), *extra)
    assert status == Exit.USAGE, (out, err)
    assert str(folder) in err and "no cassettes" in err


@pytest.mark.parametrize("command", ["replay", "diff", "fuzz"])
def test_random_bytes_named_jsonl_are_unreadable_not_same_or_ok(
    command: str, tmp_path: Path
) -> None:
    path = tmp_path / "random.jsonl"
    path.write_bytes(os.urandom(64 * 1024))
    extra = DIFF_SIDES if command == "diff" else []
    status, out, err = _run(command, str(path), *extra)
    assert status == Exit.UNREADABLE, (out, err)
    assert "same" not in out and "ok (" not in out
    assert "not text" in err and str(path) in err


def test_non_utf8_bytes_in_a_chunk_line_are_an_error_not_a_replacement_character(
    tmp_path: Path,
) -> None:
    good = json.dumps(chunk({"content": "fine"}))
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(good.encode() + b"\n" + good.encode().replace(b"fine", b"caf\xe9") + b"\n")
    status, out, err = _run("replay", str(path), "--format", "jsonl")
    assert "\ufffd" not in out
    assert status not in (Exit.OK, Exit.FAILED), (out, err)
    assert "fine" in out  # what came before the bad line is kept
    assert "UTF-8" in out + err and ":2" in out + err


# -- usage errors: 2 ---------------------------------------------------------------------------


def test_a_choice_the_stream_does_not_have_is_a_usage_error() -> None:
    status, out, err = _run("replay", str(CHUNKS), "--choice", "1", "--format", "jsonl")
    assert status == Exit.USAGE, (out, err)
    assert "--choice" in err and "1" in err


def test_record_usage_errors_exit_2_and_name_the_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["record", "--model", "m", "--prompt", "hi", "-o", str(tmp_path / "r.yaml")]
    status, _, err = _run(*base, "--provider", "openai-compatible")
    assert status == Exit.USAGE and "--base-url" in err, err
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    status, _, err = _run(*base, "--provider", "openai")
    assert status == Exit.USAGE and "OPENAI_API_KEY" in err, err
    tools = tmp_path / "tools.json"
    tools.write_text("{not json", encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    status, _, err = _run(*base, "--provider", "openai", "--tools", str(tools))
    assert status == Exit.UNREADABLE and str(tools) in err, err
    assert not (tmp_path / "r.yaml").exists()


# -- standard input: - everywhere a file is read -----------------------------------------------


def test_inspect_reads_standard_input() -> None:
    status, out, err = _run("inspect", "-", stdin=CASSETTE.read_text(encoding="utf-8"))
    assert status == Exit.OK, err
    assert out.startswith("<stdin>: 2 interactions")


def test_import_reads_standard_input(tmp_path: Path) -> None:
    har = {
        "log": {
            "version": "1.2",
            "entries": [
                {
                    "request": {"method": "GET", "url": "https://x.test/", "headers": []},
                    "response": {"status": 200, "headers": [], "content": {"text": "{}"}},
                }
            ],
        }
    }
    out_path = tmp_path / "o.yaml"
    status, out, err = _run("import", "-", "-o", str(out_path), stdin=json.dumps(har))
    assert status == Exit.OK, err
    assert out_path.exists() and "1 interaction)" in out


@pytest.mark.parametrize("command", ["diff", "fuzz"])
def test_diff_and_fuzz_read_standard_input(command: str) -> None:
    extra = DIFF_SIDES if command == "diff" else ["--examples", "3", "--seed", "1"]
    for source in (CASSETTE, CHUNKS):
        status, out, err = _run(command, "-", *extra, stdin=source.read_text(encoding="utf-8"))
        assert status in (Exit.OK, Exit.FAILED), (out, err)
        assert "<stdin>" in out


def test_standard_input_that_is_empty_or_not_text_is_unreadable() -> None:
    for command in ("replay", "inspect", "fuzz"):
        status, _, err = _run(command, "-", stdin=b"")
        assert status == Exit.UNREADABLE and "<stdin>" in err and "empty" in err, (command, err)
        status, _, err = _run(command, "-", stdin=b"\x00\x01\xff" * 100)
        assert status == Exit.UNREADABLE and "<stdin>" in err and "not text" in err, err


# -- for scripts: --json -----------------------------------------------------------------------


def test_inspect_json_describes_every_interaction() -> None:
    status, out, err = _run("inspect", str(CASSETTE), "--json")
    assert status == Exit.OK, err
    document = json.loads(out)
    assert document["path"] == str(CASSETTE)
    assert [i["index"] for i in document["interactions"]] == [0, 1]
    first = document["interactions"][0]
    assert first["provider"] == "openai" and first["api"] == "chat-completions"
    assert first["status"] == 200 and first["chunks"] > 0 and first["complete"] is True


def test_diff_json_reports_each_cassette(garbage: Path) -> None:
    status, out, _ = _run("diff", str(CASSETTE), str(garbage), *DIFF_SIDES, "--json")
    assert status == Exit.UNREADABLE
    document = json.loads(out)
    outcomes = {c["path"]: c["outcome"] for c in document["cassettes"]}
    assert outcomes == {str(CASSETTE): "differs", str(garbage): "unreadable"}
    assert document["differing"] == 1 and document["unreadable"] == 1


def test_fuzz_json_reports_each_cassette(garbage: Path) -> None:
    status, out, _ = _run(
        "fuzz", str(CASSETTE), str(garbage), "--examples", "2", "--seed", "3", "--json"
    )
    assert status == Exit.UNREADABLE
    document = json.loads(out)
    assert document["seed"] == 3 and document["examples"] == 2
    outcomes = {c["path"]: c["outcome"] for c in document["cassettes"]}
    assert outcomes == {str(CASSETTE): "ok", str(garbage): "unreadable"}


# -- signals and pipes, through the console script ---------------------------------------------


def _script() -> str:
    found = shutil.which("streamreel", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("the streamreel console script is not installed beside this Python")
    return found


def test_ctrl_c_exits_130_without_a_traceback() -> None:
    child = subprocess.Popen(
        [_script(), "replay", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(1.5)  # the child waits on its standard input, which never ends
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == Exit.INTERRUPTED, err
    _no_traceback(err.decode())


def test_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    line = json.dumps(chunk({"content": "word " * 20}))
    source = tmp_path / "long.jsonl"
    source.write_text((line + "\n") * 20000, encoding="utf-8")
    status = tmp_path / "status"
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"'{_script()}' replay '{source}' --format jsonl | head -n 1; "
            f"echo ${{PIPESTATUS[0]}} > '{status}'",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.count("\n") == 1
    assert done.stderr == "", done.stderr
    assert int(status.read_text()) == Exit.PIPE_CLOSED


# -- what the outputs say -------------------------------------------------------------------------


def test_a_raw_line_separator_inside_a_json_string_stays_in_its_chunk_line(tmp_path: Path) -> None:
    line = json.dumps(chunk({"content": "one\u2028two\u2029three\x85four"}), ensure_ascii=False)
    assert "\u2028" in line
    path = tmp_path / "separators.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    status, out, err = _run("replay", str(path), "--format", "jsonl", "--merge")
    assert status == Exit.OK, err
    (message,) = [json.loads(row) for row in out.splitlines()]
    assert message["reasoning"] == "one\u2028two\u2029three\x85four"
    # diff and fuzz read the file as a cassette: one line, one event
    from streamreel.cassettes.chunkfile import read_chunk_file

    (interaction,) = read_chunk_file(path).interactions
    assert len(interaction.response.body_chunks()) == 1
    status, out, err = _run("fuzz", str(path), "--examples", "3", "--seed", "1")
    assert status == Exit.OK, (out, err)


def test_an_unsupported_stream_is_labelled_unsupported_in_the_table(tmp_path: Path) -> None:
    path = tmp_path / "cohere-v1.yaml"
    path.write_text(
        "interactions:\n- request: {method: POST, uri: 'https://api.cohere.com/v1/chat',"
        " headers: {content-type: [application/json]}, body: '{\"stream\": true}'}\n"
        "  response:\n    status: {code: 200, message: OK}\n"
        "    headers: {content-type: [application/stream+json]}\n"
        '    body: {string: "{\\"event_type\\": \\"stream-start\\"}\\n"}\n',
        encoding="utf-8",
    )
    status, out, err = _run("replay", str(path), "--format", "table")
    assert status == Exit.UNSUPPORTED, (out, err)
    assert "[unsupported]" in out and "[incomplete]" not in out


def test_counts_of_one_are_singular(tmp_path: Path) -> None:
    single = tmp_path / "one.yaml"
    source = CASSETTES / "openai-parallel-tool-calls.yaml"
    single.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    status, out, _ = _run("inspect", str(single))
    assert status == Exit.OK
    assert "1 interactions" not in out and "1 chunks" not in out and "1 messages" not in out
    assert out.startswith(f"{single}: 1 interaction\n")
