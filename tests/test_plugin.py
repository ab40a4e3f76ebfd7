"""The pytest plugin, run inside pytester: fixtures, marker, options, precedence, snapshots.

Runs that touch syrupy go to a subprocess: syrupy keeps its session in a module global, which an
in-process run would take over from the session running these tests. The other runs are
in-process with syrupy switched off, which is faster.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import cassettefactory as cf
import pytest

pytest_plugins = ["pytester"]

# Other plugins installed beside streamreel cost a second per run to set up; none is needed here.
OTHER_PLUGINS = ("nbval", "benchmark", "asyncio", "anyio", "hypothesispytest", "timeout")
QUIET = (
    *(arg for name in OTHER_PLUGINS for arg in ("-p", f"no:{name}")),
    *("-p", "no:cacheprovider", "--strict-markers"),
)
NO_SYRUPY = ("-p", "no:syrupy", *QUIET)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with a rootdir, one bundled cassette and a tests folder.

    The runs inside it are sessions of their own, even when this suite runs under pytest-xdist:
    a worker's variables, inherited, would make them pass for xdist workers too (syrupy, for
    one, then reports nothing and leaves the snapshot summary to a controller there is none of).
    """
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\n")
    cf.write(pytester.path / "cassettes" / "send.yaml", cf.search_call(), cf.send_message())
    (pytester.path / "tests").mkdir()
    return pytester


def write_test(pytester: pytest.Pytester, body: str, name: str = "tests/test_it.py") -> Path:
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


# -- finding cassettes -------------------------------------------------------------------------


def test_the_marker_names_the_cassette_in_the_project_folder(project: pytest.Pytester) -> None:
    write_test(
        project,
        """
        import pytest

        @pytest.mark.cassette("send")
        def test_marker(replay):
            result = replay()
            assert [m.message_type for m in result.interactions[1].merged] == [
                "reasoning_message", "assistant_message"]
            assert replay.path().name == "send.yaml"

        def test_by_name(replay):
            assert replay("send.yaml").interactions[0].request.model == "gpt-4o-mini"
        """,
    )
    project.runpytest_inprocess(*NO_SYRUPY).assert_outcomes(passed=2)


def test_a_cassette_beside_the_test_shadows_the_project_one(project: pytest.Pytester) -> None:
    cf.write(project.path / "tests" / "near" / "cassettes" / "send.yaml", cf.search_call())
    write_test(
        project,
        """
        def test_near(replay):
            assert len(replay("send").interactions) == 1
        """,
        "tests/near/test_near.py",
    )
    write_test(
        project,
        """
        def test_far(replay):
            assert len(replay("send").interactions) == 2
        """,
        "tests/far/test_far.py",
    )
    project.runpytest_inprocess(*NO_SYRUPY).assert_outcomes(passed=2)


def test_the_command_line_folder_replaces_the_search(project: pytest.Pytester) -> None:
    cf.write(project.path / "elsewhere" / "send.yaml", cf.search_call())
    write_test(
        project,
        """
        def test_it(replay):
            assert len(replay("send").interactions) == 1
        """,
    )
    project.runpytest_inprocess(*NO_SYRUPY, "--streamreel-cassettes", "elsewhere").assert_outcomes(
        passed=1
    )


def test_the_folder_fixture_can_be_overridden(project: pytest.Pytester) -> None:
    cf.write(project.path / "data" / "one.yaml", cf.search_call())
    project.makeconftest(
        """
        import pytest

        @pytest.fixture
        def streamreel_cassette_dirs(request):
            return [request.config.rootpath / "data"]
        """
    )
    write_test(
        project,
        """
        def test_it(replay):
            assert len(replay("one").interactions) == 1
        """,
    )
    project.runpytest_inprocess(*NO_SYRUPY).assert_outcomes(passed=1)


def test_a_missing_cassette_says_where_it_looked(project: pytest.Pytester) -> None:
    write_test(
        project,
        """
        import pytest

        def test_missing(replay):
            replay("nope")

        def test_no_name(replay):
            replay()
        """,
    )
    result = project.runpytest_inprocess(*NO_SYRUPY)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*cannot find cassette 'nope': expected it (or with a .yaml, .yml, .json or .har "
            "suffix) in *tests/cassettes, *cassettes, got no such file; do record it*",
            "*cannot pick a cassette: expected a name, or a @pytest.mark.cassette(name)*",
        ]
    )


# -- precedence --------------------------------------------------------------------------------

PRECEDENCE_TESTS = """
import pytest
from streamreel.core.parser import InterfaceSettings

def kinds(result):
    return [m.message_type for m in result.interactions[1].merged]

TOOL = ["reasoning_message", "tool_call_message"]
SPOKEN = ["reasoning_message", "assistant_message"]

def test_fixture(replay):
    assert kinds(replay("send")) == TOOL

@pytest.mark.cassette("send", use_assistant_message=True)
def test_marker_beats_fixture(replay):
    assert kinds(replay()) == SPOKEN

@pytest.mark.cassette("send", use_assistant_message=True)
def test_call_beats_marker(replay):
    assert kinds(replay(settings=InterfaceSettings(use_assistant_message=False))) == TOOL
"""


def test_settings_precedence_fixture_marker_call(project: pytest.Pytester) -> None:
    project.makeconftest(
        """
        import pytest
        from streamreel.core.parser import InterfaceSettings

        @pytest.fixture
        def streamreel_settings():
            return InterfaceSettings(use_assistant_message=False)
        """
    )
    write_test(project, PRECEDENCE_TESTS)
    project.runpytest_inprocess(*NO_SYRUPY).assert_outcomes(passed=3)


def test_the_command_line_beats_everything(project: pytest.Pytester) -> None:
    write_test(
        project,
        """
        import pytest
        from streamreel.core.parser import InterfaceSettings

        @pytest.mark.cassette("send", use_assistant_message=True)
        def test_it(replay):
            result = replay(settings=InterfaceSettings(use_assistant_message=True))
            assert [m.message_type for m in result.interactions[1].merged] == [
                "reasoning_message", "tool_call_message"]
        """,
    )
    project.runpytest_inprocess(
        *NO_SYRUPY, "--streamreel-settings", "use-assistant-message=no"
    ).assert_outcomes(passed=1)


PARSERS = """
from streamreel.letta.interface import StreamingServerInterface

USED = []

def tagged(tag):
    def factory(settings):
        USED.append(tag)
        return StreamingServerInterface(use_assistant_message=settings.use_assistant_message)
    return factory

fixture_parser = tagged("fixture")
marker_parser = tagged("marker")
call_parser = tagged("call")
cli_parser = tagged("cli")
"""


def test_parser_precedence(project: pytest.Pytester) -> None:
    write_test(project, PARSERS, "tests/parsers.py")
    project.makeconftest(
        """
        import pytest
        import parsers

        @pytest.fixture
        def streamreel_parser():
            return parsers.fixture_parser
        """
    )
    write_test(
        project,
        """
        import pytest
        import parsers

        def test_a_fixture(replay):
            replay("send")
            assert parsers.USED[-1] == "fixture"

        @pytest.mark.cassette("send", parser=parsers.marker_parser)
        def test_b_marker(replay):
            replay()
            assert parsers.USED[-1] == "marker"

        @pytest.mark.cassette("send", parser=parsers.marker_parser)
        def test_c_call(replay):
            replay(parser=parsers.call_parser)
            assert parsers.USED[-1] == "call"
        """,
    )
    # conftest.py beside the tests puts tests/ on sys.path, where parsers.py lives.
    (project.path / "conftest.py").rename(project.path / "tests" / "conftest.py")
    project.runpytest_inprocess(*NO_SYRUPY).assert_outcomes(passed=3)
    result = project.runpytest_inprocess(
        *NO_SYRUPY, "--streamreel-parser", "parsers:cli_parser", "-k", "c_call"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 'cli' == 'call'*"])


def test_expect_reasoning_content_from_the_marker_reaches_the_replay(
    project: pytest.Pytester,
) -> None:
    write_test(
        project,
        """
        import pytest
        import streamreel.testing.replayer

        SEEN = []

        @pytest.fixture(autouse=True)
        def spy(monkeypatch):
            SEEN.clear()
            real = streamreel.testing.replayer.replay_file
            def fake(*args, **kwargs):
                SEEN.append(kwargs["expect_reasoning_content"])
                return real(*args, **kwargs)
            monkeypatch.setattr(streamreel.testing.replayer, "replay_file", fake)

        @pytest.mark.cassette("send", expect_reasoning_content=True)
        def test_marker(replay):
            replay()
            assert SEEN == [True]

        def test_default(replay):
            replay("send")
            assert SEEN == [None]
        """,
    )
    project.runpytest_inprocess(*NO_SYRUPY).assert_outcomes(passed=2)


# -- options and the marker --------------------------------------------------------------------


def test_bad_options_are_usage_errors(project: pytest.Pytester) -> None:
    write_test(project, "def test_it():\n    pass\n")
    bad = project.runpytest_inprocess(*NO_SYRUPY, "--streamreel-settings", "colour=blue")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*cannot read the setting 'colour=blue': expected key=value*"])
    bad = project.runpytest_inprocess(*NO_SYRUPY, "--streamreel-parser", "no_such_module:f")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*cannot load a parser: expected an importable module*"])
    bad = project.runpytest_inprocess(*NO_SYRUPY, "--streamreel-record-mode", "sometimes")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR


def test_the_marker_is_registered_and_checks_its_options(project: pytest.Pytester) -> None:
    write_test(
        project,
        """
        import pytest

        @pytest.mark.cassette("send", use_assistant_mesage=True)
        def test_typo(replay):
            pass
        """,
    )
    result = project.runpytest_inprocess(*NO_SYRUPY)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*cannot read the cassette marker: expected options among*got use_assistant_mesage*"]
    )
    listed = project.runpytest_inprocess(*NO_SYRUPY, "--markers")
    listed.stdout.fnmatch_lines(["@pytest.mark.cassette(name, **options)*"])
    helped = project.runpytest_inprocess(*NO_SYRUPY, "--help")
    helped.stdout.fnmatch_lines(["*--streamreel-cassettes=DIR*", "*--streamreel-record-mode*"])


def test_the_record_mode_reaches_the_recorder(project: pytest.Pytester) -> None:
    project.makeconftest(
        """
        import contextlib
        import pytest
        import streamreel.recording.recorder

        CALLS = []

        @pytest.fixture(autouse=True)
        def fake_recorder(monkeypatch):
            def record(path, *, mode=None, **kwargs):
                CALLS.append((path, mode))
                return contextlib.nullcontext()
            monkeypatch.setattr(streamreel.recording.recorder, "record", record)
            return CALLS

        @pytest.fixture
        def streamreel_record_mode():
            return "new_episodes"
        """
    )
    write_test(
        project,
        """
        import pytest

        def test_fixture(streamreel_record, fake_recorder, request):
            with streamreel_record("fresh"):
                pass
            path, mode = fake_recorder[-1]
            assert path == request.config.rootpath / "cassettes" / "fresh.yaml"
            assert mode == (request.config.getoption("streamreel_record_mode") or "new_episodes")

        @pytest.mark.cassette("send", record_mode="all")
        def test_marker(streamreel_record, fake_recorder, request):
            with streamreel_record():
                pass
            path, mode = fake_recorder[-1]
            assert path.name == "send.yaml" and path.is_file()
            assert mode == (request.config.getoption("streamreel_record_mode") or "all")
        """,
    )
    project.runpytest_inprocess(*NO_SYRUPY).assert_outcomes(passed=2)
    project.runpytest_inprocess(*NO_SYRUPY, "--streamreel-record-mode", "none").assert_outcomes(
        passed=2
    )


# -- snapshots (in a subprocess) ---------------------------------------------------------------

SNAPSHOT_TEST = """
import pytest

@pytest.mark.cassette("send")
def test_send(replay, stream_snapshot):
    assert stream_snapshot == replay()
"""


def test_snapshot_lifecycle(project: pytest.Pytester) -> None:
    write_test(project, SNAPSHOT_TEST)
    snapshot = project.path / "tests" / "__snapshots__" / "test_it" / "test_send.jsonl"

    missing = project.runpytest_subprocess(*QUIET)
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(["*Snapshot 'test_send' does not exist!*"])
    assert not snapshot.exists()

    written = project.runpytest_subprocess(*QUIET, "--snapshot-update")
    written.assert_outcomes(passed=1)
    written.stdout.fnmatch_lines(["*1 snapshot generated*"])
    first_line = snapshot.read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith('{"interaction":0,"request":"POST https://api.openai.com')

    project.runpytest_subprocess(*QUIET).assert_outcomes(passed=1)

    # A parser change: the same suite, with the assistant messages turned off.
    changed = project.runpytest_subprocess(
        *QUIET, "--streamreel-settings", "use_assistant_message=false"
    )
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(
        [
            "*[- snapshot] == [+ received]*",
            "*interaction 1, message 1 (assistant_message) -> interaction 1, message 1 "
            "(tool_call_message): message_type, content, tool_call differ*",
            '*  - "message_type":"assistant_message"',
            '*  + "message_type":"tool_call_message"',
        ]
    )


def test_unused_snapshots_fail_the_session_unless_warned(project: pytest.Pytester) -> None:
    write_test(project, SNAPSHOT_TEST)
    project.runpytest_subprocess(*QUIET, "--snapshot-update").assert_outcomes(passed=1)
    write_test(project, "def test_other():\n    pass\n")  # the snapshot's test is gone
    unused = project.runpytest_subprocess(*QUIET)
    unused.assert_outcomes(passed=1)
    assert unused.ret == 1
    unused.stdout.fnmatch_lines(["*1 snapshot unused*"])
    warned = project.runpytest_subprocess(*QUIET, "--snapshot-warn-unused")
    assert warned.ret == 0


def test_deltas_fixture_writes_its_own_file(project: pytest.Pytester) -> None:
    write_test(
        project,
        """
        import pytest

        @pytest.mark.cassette("send")
        def test_both(replay, stream_snapshot, stream_snapshot_deltas):
            result = replay()
            assert stream_snapshot == result
            assert stream_snapshot_deltas(name="deltas") == result
        """,
    )
    project.runpytest_subprocess(*QUIET, "--snapshot-update").assert_outcomes(passed=1)
    folder = project.path / "tests" / "__snapshots__" / "test_it"
    merged = (folder / "test_both.jsonl").read_text(encoding="utf-8").splitlines()
    deltas = (folder / "test_both[deltas].jsonl").read_text(encoding="utf-8").splitlines()
    assert len(deltas) > len(merged)
    project.runpytest_subprocess(*QUIET).assert_outcomes(passed=1)
