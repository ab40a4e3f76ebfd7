"""Reviewable cassette changes: `streamreel textconv` for git diff, `streamreel diff OLD NEW`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cassettefactory as cf
import pytest
from click.testing import CliRunner
from streamreel.cli import main
from streamreel.core.cassette import Interaction
from streamreel.testing.review import cassette_text, compare_versions

CHANGED_ARGS = {**cf.SEARCH_ARGS, "query": "opening hours", "limit": 3}


def _search(arguments: dict[str, object], *, call_id: str = cf.SEARCH_ID, per_read: int = 1):
    chunks = cf.tool_call_chunks("archival_memory_search", arguments, call_id=call_id)
    return cf.asking(cf.interaction(chunks, per_read=per_read), [cf.USER])


def _later(step: Interaction, by_ms: float) -> Interaction:
    """``step`` with every chunk arriving ``by_ms`` later."""
    chunks = [replace(c, offset_ms=c.offset_ms + by_ms) for c in step.response.chunks or []]
    return replace(step, response=replace(step.response, chunks=chunks))


def _versions(tmp_path: Path) -> tuple[Path, Path]:
    old = cf.write(tmp_path / "old.yaml", _search(cf.SEARCH_ARGS), cf.send_message())
    changed = _later(_search(CHANGED_ARGS, per_read=2), 150.0)
    new = cf.write(tmp_path / "new.yaml", changed, cf.send_message())
    return old, new


def test_textconv_shows_requests_and_messages_the_same_for_a_rerecorded_conversation(
    tmp_path: Path,
) -> None:
    first = cf.write(tmp_path / "a.yaml", _search(cf.SEARCH_ARGS), cf.send_message())
    # The same conversation again: other chunk boundaries, another tool-call id.
    again = cf.write(
        tmp_path / "b.yaml",
        _search(cf.SEARCH_ARGS, call_id="call_other", per_read=3),
        cf.send_message(per_read=2),
    )
    text = cassette_text(first)
    assert text.replace("a.yaml", "b.yaml") == cassette_text(again)
    assert "interaction 0: POST https://api.openai.com/v1/chat/completions" in text
    assert "asks: 1 message; last user turn 'When is the café open?'" in text
    assert (
        '[tool_call] archival_memory_search <tool-call-1> {"exact": true, "limit": 5, '
        '"query": "café hours"}' in text
    )
    assert "[assistant] The café is open 8–18h." in text
    assert cf.SEARCH_ID not in text


def test_textconv_on_the_command_line_and_for_an_unreadable_file(tmp_path: Path) -> None:
    old, _ = _versions(tmp_path)
    result = CliRunner().invoke(main, ["textconv", str(old)])
    assert result.exit_code == 0
    assert result.output == cassette_text(old)
    broken = tmp_path / "broken.yaml"
    broken.write_text("interactions: [\n")
    result = CliRunner().invoke(main, ["textconv", str(broken)])
    assert result.exit_code == 3
    assert "broken.yaml" in result.output


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_diff_with_the_textconv_driver_shows_message_level_changes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "cassettes").mkdir(parents=True)
    old, new = _versions(tmp_path)
    target = repo / "cassettes" / "search.yaml"
    shutil.copy(old, target)
    command = f"{Path(sys.executable).parent / 'streamreel'} textconv"

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    git("init", "-q")
    git("config", "diff.streamreel.textconv", command)
    (repo / ".gitattributes").write_text("cassettes/*.yaml diff=streamreel\n")
    git("add", ".")
    git("commit", "-qm", "first recording")
    shutil.copy(new, target)
    shown = git("diff")
    changed = [line for line in shown.splitlines() if line[:1] in "+-" and line[:3] not in "+++---"]
    assert changed == [
        '-  [tool_call] archival_memory_search <tool-call-1> {"exact": true, "limit": 5, '
        '"query": "café hours"}',
        '+  [tool_call] archival_memory_search <tool-call-1> {"exact": true, "limit": 3, '
        '"query": "opening hours"}',
    ]
    assert "base64" not in shown and "offset" not in shown


def test_diff_old_new_reports_each_changed_interaction(tmp_path: Path) -> None:
    old, new = _versions(tmp_path)
    diff = compare_versions(old, new)
    assert diff.differs
    first, second = diff.interactions
    assert second.changes == ()
    whats = {change.what: (change.old, change.new) for change in first.changes}
    assert set(whats) == {"messages", "tool arguments", "chunks", "time to first chunk"}
    assert '"query":"café hours"' in whats["tool arguments"][0]
    assert '"query":"opening hours"' in whats["tool arguments"][1]
    assert int(whats["chunks"][0]) > int(whats["chunks"][1])
    assert whats["time to first chunk"] == ("300 ms", "450 ms")
    assert [line[:2] for line in first.message_lines] == ["- ", "+ "]

    result = CliRunner().invoke(main, ["diff", str(old), str(new)])
    assert result.exit_code == 1
    assert "interaction 0: POST https://api.openai.com/v1/chat/completions" in result.output
    assert "interaction 1" not in result.output
    assert "  tool arguments: archival_memory_search(" in result.output

    same = CliRunner().invoke(main, ["diff", str(old), str(old)])
    assert same.exit_code == 0
    assert "no change" in same.output


def test_diff_old_new_writes_a_markdown_table_for_the_step_summary(tmp_path: Path) -> None:
    old, new = _versions(tmp_path)
    result = CliRunner().invoke(main, ["diff", str(old), str(new), "--format", "markdown"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "### streamreel diff: `new.yaml`"
    assert "| interaction | what | old | new |" in lines
    rows = [line for line in lines if line.startswith("| 0 |")]
    assert [row.split(" | ")[1] for row in rows] == [
        "messages",
        "tool arguments",
        "chunks",
        "time to first chunk",
    ]
    assert "```diff" in lines
    assert "<details><summary>interaction 0: messages</summary>" in lines


def test_markdown_is_refused_for_a_comparison_of_two_parsers(tmp_path: Path) -> None:
    old, _ = _versions(tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "diff",
            str(old),
            "--right-settings",
            "use_assistant_message=false",
            "--format",
            "markdown",
        ],
    )
    assert result.exit_code == 2
    assert "two versions OLD NEW" in result.output
