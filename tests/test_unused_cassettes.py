"""Unused cassettes: listed after a run, failed on or deleted on request, never guessed at.

A cassette is deleted only when streamreel can prove no test of the run would use it: the tests
that did not pass keep what their markers name, and a run that cannot know (a deselected test
naming no cassette, a file argument) lists nothing. Under pytest-xdist the workers pool what they
used, so a cassette used on one worker is never "unused" on another.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import cassettefactory as cf
import pytest
from plugin_runs import NO_SYRUPY

pytest_plugins = ["pytester"]


TESTS = """
import pytest
import streamreel

@pytest.mark.cassette("send")
def test_send(replay):
    assert replay().interactions

@pytest.mark.cassette("kept")
def test_kept(replay):
    assert replay().interactions

def test_by_name(replay):
    assert replay("sub/named").interactions

def test_direct(request):
    streamreel.replay(request.config.rootpath / "cassettes" / "direct.yaml")

@pytest.mark.cassette("broken")
def test_broken(replay):
    raise AssertionError("fails before it replays")
"""

CASSETTES = ("send", "kept", "sub/named", "direct", "broken", "old", "sub/older")


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    for name in CASSETTES:
        cf.write(pytester.path / "cassettes" / f"{name}.yaml", cf.send_message())
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_it.py").write_text(textwrap.dedent(TESTS))
    return pytester


def _left(project: pytest.Pytester) -> set[str]:
    folder = project.path / "cassettes"
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*.yaml")}


def _everything() -> set[str]:
    return {f"{name}.yaml" for name in CASSETTES}


def test_a_run_lists_the_cassettes_no_test_used(project: pytest.Pytester) -> None:
    result = project.runpytest_inprocess(*NO_SYRUPY)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*streamreel: unused cassettes*",
            "2 cassettes unused (no test of this run used it):",
            "  cassettes/old.yaml",
            "  cassettes/sub/older.yaml",
            "delete them with --streamreel-unused delete*",
        ]
    )
    assert _left(project) == _everything()  # reporting deletes nothing


def test_delete_removes_only_what_no_test_could_use(project: pytest.Pytester) -> None:
    # test_kept is deselected and test_broken fails before replaying: their files stay.
    result = project.runpytest_inprocess(*NO_SYRUPY, "-k", "not kept", "--streamreel-unused=delete")
    result.assert_outcomes(passed=3, failed=1, deselected=1)
    result.stdout.fnmatch_lines(["2 cassettes deleted*", "  cassettes/old.yaml"])
    assert _left(project) == _everything() - {"old.yaml", "sub/older.yaml"}


def test_fail_turns_unused_cassettes_into_a_failed_run(project: pytest.Pytester) -> None:
    project.path.joinpath("tests", "test_it.py").write_text(
        textwrap.dedent(TESTS).replace(
            'raise AssertionError("fails before it replays")', "replay()"
        )
    )
    result = project.runpytest_inprocess(*NO_SYRUPY, "--streamreel-unused", "fail")
    result.assert_outcomes(passed=5)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    for name in ("old", "sub/older"):
        (project.path / "cassettes" / f"{name}.yaml").unlink()
    result = project.runpytest_inprocess(*NO_SYRUPY, "--streamreel-unused", "fail")
    assert result.ret == pytest.ExitCode.OK
    assert "unused cassettes" not in result.stdout.str()


def test_a_test_that_did_not_run_and_names_no_cassette_stops_any_verdict(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest_inprocess(
        *NO_SYRUPY, "-k", "not by_name", "--streamreel-unused", "delete"
    )
    result.stdout.fnmatch_lines(
        ["not checked: tests/test_it.py::test_by_name did not pass*names no cassette*"]
    )
    assert _left(project) == _everything()


def test_a_run_over_single_files_judges_no_shared_folder(project: pytest.Pytester) -> None:
    result = project.runpytest_inprocess(
        *NO_SYRUPY, "tests/test_it.py", "--streamreel-unused", "delete"
    )
    assert "unused cassettes" not in result.stdout.str()
    assert _left(project) == _everything()


def test_a_project_without_streamreel_tests_hears_nothing(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    cf.write(pytester.path / "cassettes" / "vcr.yaml", cf.send_message())
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_inprocess(*NO_SYRUPY, "--streamreel-unused", "delete")
    result.assert_outcomes(passed=1)
    assert "unused cassettes" not in result.stdout.str()
    assert (pytester.path / "cassettes" / "vcr.yaml").is_file()


def test_under_xdist_the_workers_pool_what_they_used(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(
        *NO_SYRUPY, "-n", "2", "-k", "not kept", "--streamreel-unused=delete"
    )
    result.assert_outcomes(passed=3, failed=1)  # the controller does not count deselections
    result.stdout.fnmatch_lines(["2 cassettes deleted*"])
    assert _left(project) == _everything() - {"old.yaml", "sub/older.yaml"}


def test_under_xdist_a_run_that_lost_a_worker_deletes_nothing(project: pytest.Pytester) -> None:
    path: Path = project.path / "tests" / "test_crash.py"
    path.write_text("import os\n\ndef test_crash():\n    os._exit(3)\n")
    result = project.runpytest_subprocess(*NO_SYRUPY, "-n", "2", "--streamreel-unused=delete")
    assert "deleted" not in result.stdout.str()
    assert _left(project) == _everything()
