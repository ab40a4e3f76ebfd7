"""Strict usage: a recorded interaction the code no longer asks for fails the test.

The recorder reports what a block left unplayed (``recording.unplayed``, ``strict=True``); the
plugin turns it on under CI or when asked, and lets an interaction answer twice only when told.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import cassettefactory as cf
import httpx
import pytest
from plugin_runs import NO_SYRUPY
from streamreel.core.errors import NoMatchError, UnplayedError
from streamreel.recording.recorder import Unplayed, record

pytest_plugins = ["pytester"]


FIRST = [cf.USER]
SECOND = [cf.USER, cf.SEARCHED, cf.returned(cf.SEARCH_ID, "8-18h")]


def _body(messages: list[dict[str, object]]) -> dict[str, object]:
    return {"model": "gpt-4o-mini", "stream": True, "messages": messages}


def _two_step_cassette(path: Path) -> Path:
    return cf.write(path, cf.asking(cf.search_call(), FIRST), cf.asking(cf.send_message(), SECOND))


def _send(messages: list[dict[str, object]]) -> int:
    with httpx.Client() as client:
        response = client.post(cf.URL, json=_body(messages))
        return len(response.content)


def test_the_recording_lists_the_interactions_a_block_did_not_replay(tmp_path: Path) -> None:
    path = _two_step_cassette(tmp_path / "steps.yaml")
    with record(path, mode="none") as recording:
        assert _send(FIRST) > 0
        assert recording.unplayed == [Unplayed(1, "POST", cf.URL)]
    assert [str(item) for item in recording.unplayed] == [f"#1 POST {cf.URL}"]

    with record(path, mode="none") as recording:
        _send(FIRST)
        _send(SECOND)
    assert recording.unplayed == []


def test_a_strict_recording_raises_naming_the_cassette_and_each_unplayed_interaction(
    tmp_path: Path,
) -> None:
    path = _two_step_cassette(tmp_path / "steps.yaml")
    with pytest.raises(UnplayedError) as caught, record(path, mode="none", strict=True):
        _send(SECOND)
    message = str(caught.value)
    assert str(path) in message
    assert f"#0 POST {cf.URL}" in message
    assert "1 of 2 unplayed" in message
    # A block that raised for its own reasons reports that, not the unplayed interactions.
    with pytest.raises(ZeroDivisionError), record(path, mode="none", strict=True):
        _ = 1 / 0


def test_an_interaction_answers_twice_only_when_repeats_are_allowed(tmp_path: Path) -> None:
    path = _two_step_cassette(tmp_path / "steps.yaml")
    with pytest.raises(NoMatchError, match="already played"), record(path, mode="none"):
        _send(FIRST)
        _send(FIRST)
    with record(path, mode="none", allow_repeats=True) as recording:
        assert _send(FIRST) == _send(FIRST)
    assert recording.unplayed == [Unplayed(1, "POST", cf.URL)]


# -- through the pytest plugin -----------------------------------------------------------------

CONFTEST = f"""
import httpx

URL = {cf.URL!r}
FIRST = {FIRST!r}
SECOND = {SECOND!r}

def send(messages):
    with httpx.Client() as client:
        body = {{"model": "gpt-4o-mini", "stream": True, "messages": messages}}
        return client.post(URL, json=body).content
"""

TESTS = """
import pytest
from conftest import FIRST, SECOND, send

@pytest.mark.cassette("steps")
def test_skips_the_second_step(streamreel_record):
    with streamreel_record():
        send(FIRST)

@pytest.mark.cassette("steps")
def test_plays_both(streamreel_record):
    with streamreel_record():
        send(FIRST)
        send(SECOND)

@pytest.mark.cassette("steps", strict=False)
def test_opts_out(streamreel_record):
    with streamreel_record():
        send(SECOND)
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    pytester.makeini("[pytest]\n")
    _two_step_cassette(pytester.path / "cassettes" / "steps.yaml")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_steps=textwrap.dedent(TESTS))
    return pytester


def test_under_ci_a_test_that_skips_an_interaction_fails_naming_it(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "1")
    result = project.runpytest_inprocess(*NO_SYRUPY)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"E *UnplayedError: *steps.yaml*1 of 2 unplayed (#1 POST {cf.URL})*",
            "*FAILED test_steps.py::test_skips_the_second_step*",
        ]
    )


def test_strict_usage_is_off_locally_and_follows_the_option_and_the_ini_key(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.runpytest_inprocess(*NO_SYRUPY).assert_outcomes(passed=3)
    project.runpytest_inprocess(*NO_SYRUPY, "--streamreel-strict").assert_outcomes(
        passed=2, failed=1
    )
    project.makeini("[pytest]\nstreamreel_strict = true\n")
    project.runpytest_inprocess(*NO_SYRUPY).assert_outcomes(passed=2, failed=1)
    monkeypatch.setenv("CI", "true")
    project.makeini("[pytest]\nstreamreel_strict = false\n")
    project.runpytest_inprocess(*NO_SYRUPY).assert_outcomes(passed=3)
    project.makeini("[pytest]\n")
    project.runpytest_inprocess(*NO_SYRUPY, "--streamreel-no-strict").assert_outcomes(passed=3)


def test_a_bad_strict_ini_value_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nstreamreel_strict = maybe\n")
    result = project.runpytest_inprocess(*NO_SYRUPY)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*streamreel_strict*expected true or false*'maybe'*"])


def test_the_plugin_allows_a_repeat_only_where_the_user_says_so(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_repeat=textwrap.dedent(
            """
            import pytest
            from conftest import FIRST, SECOND, send

            @pytest.mark.cassette("steps")
            def test_repeats(streamreel_record):
                with streamreel_record():
                    send(FIRST)
                    send(FIRST)
                    send(SECOND)

            @pytest.mark.cassette("steps", allow_repeats=True)
            def test_repeats_allowed(streamreel_record):
                with streamreel_record():
                    send(FIRST)
                    send(FIRST)
                    send(SECOND)
            """
        )
    )
    result = project.runpytest_inprocess(*NO_SYRUPY, "test_repeat.py")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FAILED test_repeat.py::test_repeats - *NoMatchError*"])
    project.runpytest_inprocess(
        *NO_SYRUPY, "test_repeat.py", "--streamreel-allow-repeats"
    ).assert_outcomes(passed=2)
