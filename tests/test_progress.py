"""Progress on long commands: drawn on a terminal, silent in a pipe or CI, NO_COLOR honoured."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from chunkfactory import tool_stream
from click.testing import CliRunner
from conftest import CASSETTES
from streamreel.cassettes.storage import save_cassette
from streamreel.cli import main, progress
from streamreel.playback.replay import replay_chunk_file
from streamreel.testing.fuzz import fuzz_cassette
from streamreel.testing.synthetic import scaled_cassette


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_is_shown_only_on_a_terminal_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not progress.shown()  # a pipe or a file
    monkeypatch.setattr("sys.stderr", _Terminal())
    assert progress.shown()
    monkeypatch.setenv("CI", "true")
    assert not progress.shown()


def test_no_color_takes_the_colour_away(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert progress.colour() is not None
    monkeypatch.setenv("NO_COLOR", "1")
    assert progress.colour() is None


def test_a_silent_bar_still_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "shown", lambda: False)
    with progress.bar(10, "x") as meter:
        progress.to(meter, 4)
        progress.to(meter, 2)  # never backwards
        meter.update(3)
    assert meter.n == 7


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bars drawn at once, as on a terminal."""
    monkeypatch.setattr(progress, "shown", lambda: True)
    monkeypatch.setattr(progress, "DELAY", 0)


def _invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    outcome = CliRunner().invoke(main, list(args), env=env)
    return outcome.exit_code, outcome.stdout, outcome.stderr


def test_replay_and_inspect_of_a_cassette_show_how_much_was_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.yaml"
    save_cassette(scaled_cassette(3000), path)
    quiet = _invoke("replay", str(path), "--format", "jsonl")
    quiet_inspect = _invoke("inspect", str(path))
    assert "B/s" not in quiet[2] and "B/s" not in quiet_inspect[2]  # not a terminal: silent
    monkeypatch.setattr(progress, "shown", lambda: True)
    monkeypatch.setattr(progress, "DELAY", 0)
    loud = _invoke("replay", str(path), "--format", "jsonl")
    assert loud[1] == quiet[1]  # the output is the same; the bar is on standard error
    assert "big.yaml" in loud[2] and "B" in loud[2]
    loud_inspect = _invoke("inspect", str(path))
    assert loud_inspect[1] == quiet_inspect[1]
    assert "big.yaml" in loud_inspect[2]


def test_a_chunk_file_reports_its_progress(tmp_path: Path) -> None:
    source = tmp_path / "long.jsonl"
    chunks = tool_stream({"inner_thoughts": "t " * 4000, "message": "w " * 16000})
    source.write_text("\n".join(json.dumps(c) for c in chunks) + "\n", encoding="utf-8")
    seen: list[int] = []
    replay_chunk_file(source, progress=seen.append)
    assert len(seen) >= 2 and seen == sorted(seen)
    assert seen[-1] <= source.stat().st_size


def test_fuzz_and_diff_over_a_folder_show_a_bar(drawn: None, tmp_path: Path) -> None:
    folder = tmp_path / "cassettes"
    folder.mkdir()
    for name in ("openai-send-message-inner-thoughts.yaml", "openai-tool-name-split.yaml"):
        (folder / name).write_bytes((CASSETTES / name).read_bytes())
    code, out, err = _invoke("fuzz", str(folder), "--examples", "3", "--seed", "1")
    assert code == 0, out + err
    assert "fuzz" in err and "/6 " in err
    code, out, err = _invoke("diff", str(folder), "--right-settings", "use_assistant_message=false")
    assert code == 1, out + err  # the sides differ: that is the report, after the bar
    assert "diff" in err and "/2 " in err


def test_fuzz_tells_how_many_splits_were_tried() -> None:
    seen: list[int] = []
    report = fuzz_cassette(
        CASSETTES / "openai-tool-name-split.yaml", examples=4, progress=seen.append
    )
    assert not report.failed
    assert seen == [1, 2, 3, 4]


def test_no_color_strips_the_commands_colours() -> None:
    cassette = str(CASSETTES / "openai-truncated-stream.yaml")
    coloured = CliRunner().invoke(main, ["replay", cassette, "--format", "table"], color=True)
    assert "\x1b[" in coloured.stdout
    plain = CliRunner().invoke(
        main, ["replay", cassette, "--format", "table"], color=True, env={"NO_COLOR": "1"}
    )
    assert "\x1b[" not in plain.stdout
    assert (
        plain.stdout == CliRunner().invoke(main, ["replay", cassette, "--format", "table"]).stdout
    )
