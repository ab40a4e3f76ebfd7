"""No live network in replay: a guarded test reaches loopback and nothing else.

Every address used here beyond loopback is in 192.0.2.0/24 (TEST-NET-1, documentation only),
and sockets are non-blocking: were the guard ever to let one through, the attempt would fail
at once instead of waiting, and nothing would answer it.
"""

from __future__ import annotations

import socket
import textwrap

import cassettefactory as cf
import pytest
from plugin_runs import NO_SYRUPY
from streamreel.core.errors import NetworkBlockedError
from streamreel.testing import guard

pytest_plugins = ["pytester"]


TESTS = """
import asyncio
import socket

import pytest
from streamreel.testing import guard

MARK = pytest.mark.cassette("send")

@MARK
def test_raw_socket(replay):
    sock = socket.socket()
    sock.setblocking(False)
    try:
        sock.connect(("192.0.2.1", 443))
    finally:
        sock.close()

@MARK
def test_create_connection():
    socket.create_connection(("192.0.2.1", 80), timeout=0.1)

@MARK
def test_asyncio():
    async def main():
        await asyncio.open_connection("192.0.2.1", 8080)
    asyncio.run(main())

@MARK
def test_websockets():
    import websockets.sync.client
    websockets.sync.client.connect("ws://192.0.2.1:8765", open_timeout=0.1)

@MARK
def test_name_lookup():
    socket.getaddrinfo("api.openai.com", 443)

@MARK
def test_swallowed():
    try:
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    except Exception:
        pass

@MARK
def test_loopback_is_open():
    assert guard.guarded() is not None
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=1):
            pass
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass

def test_not_a_streamreel_test():
    assert guard.guarded() is None
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    pytester.makeini("[pytest]\n")
    cf.write(pytester.path / "cassettes" / "send.yaml", cf.send_message())
    pytester.makepyfile(test_net=textwrap.dedent(TESTS))
    return pytester


def test_under_ci_a_replay_test_that_reaches_beyond_loopback_fails_naming_host_and_test(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "1")
    result = project.runpytest_inprocess(*NO_SYRUPY)
    result.assert_outcomes(passed=2, failed=6)
    for name, host in [
        ("test_raw_socket", "192.0.2.1:443"),
        ("test_create_connection", "192.0.2.1:80"),
        ("test_asyncio", "192.0.2.1:8080"),
        ("test_websockets", "192.0.2.1:8765"),
        ("test_name_lookup", "api.openai.com:443"),
    ]:
        result.stdout.fnmatch_lines(
            [
                f"FAILED test_net.py::{name} - *NetworkBlockedError: cannot connect to {host} "
                f"from test_net.py::{name}: expected only loopback*"
            ]
        )
    # pytest before 8.3 leaves a failure raised after the test body out of its summary line.
    result.stdout.fnmatch_lines(["FAILED test_net.py::test_swallowed*"])
    result.stdout.fnmatch_lines(["*tried to connect beyond loopback (192.0.2.1:80)*"])
    assert "--streamreel-network allow" in result.stdout.str()


def test_the_guard_follows_the_record_mode_and_the_network_option(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = textwrap.dedent(
        """
        import pytest
        from streamreel.testing import guard

        def note():
            with open("states.txt", "a") as file:
                file.write(f"{guard.guarded()}\\n")

        @pytest.mark.cassette("send")
        def test_marked():
            note()

        @pytest.mark.cassette("send", record_mode="none")
        def test_mode_none():
            note()

        def test_plain():
            note()
        """
    )
    project.makepyfile(test_net=checks)
    states = project.path / "states.txt"

    def guarded(*args: str) -> list[str]:
        states.unlink(missing_ok=True)
        project.runpytest_inprocess(*NO_SYRUPY, "-p", "no:randomly", *args).assert_outcomes(
            passed=3
        )
        return states.read_text().split()

    marked, mode_none, plain = "test_net.py::test_marked", "test_net.py::test_mode_none", "None"
    # Locally the default mode is once: only the test that asks for none is guarded.
    assert guarded() == ["None", mode_none, "None"]
    assert guarded("--streamreel-network", "block") == [
        marked,
        mode_none,
        "test_net.py::test_plain",
    ]
    monkeypatch.setenv("CI", "1")
    assert guarded() == [marked, mode_none, plain]
    assert guarded("--streamreel-record-mode", "once") == ["None", "None", "None"]
    assert guarded("--streamreel-network", "allow") == ["None", "None", "None"]
    project.makeini("[pytest]\nstreamreel_network = allow\n")
    assert guarded() == ["None", "None", "None"]


def test_a_guard_refuses_before_connecting_and_lets_allowed_hosts_and_loopback_through() -> None:
    current = guard.guard("t::x", reason="replaying", allowed=["192.0.2.7", "Models.Example"])
    try:
        sock = socket.socket()
        sock.setblocking(False)
        with sock, pytest.raises(NetworkBlockedError, match=r"192\.0\.2\.1:443 from t::x"):
            sock.connect(("192.0.2.1", 443))
        with pytest.raises(OSError):
            sock.getpeername()  # never connected: the refusal came before the system call
        current.check_address(("192.0.2.7", 443))
        current.check_lookup("models.example.", 443)
        for local in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "localhost", ""]:
            current.check_address((local, 80))
        current.check_lookup("192.0.2.1", 443)  # a numeric lookup sends nothing
        with pytest.raises(NetworkBlockedError):
            current.check_address(("2001:db8::1", 443, 0, 0))
        with pytest.raises(NetworkBlockedError):
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53))
        assert guard.refusals() == ["192.0.2.1:443", "2001:db8::1:443", "192.0.2.1:53"]
    finally:
        assert guard.release() == ["192.0.2.1:443", "2001:db8::1:443", "192.0.2.1:53"]
    assert guard.guarded() is None


def test_a_guard_inside_a_guarded_test_hands_the_outer_one_back() -> None:
    outer = guard.guard("outer::test", reason="replaying")
    try:
        guard.guard("inner::test", reason="replaying")
        assert guard.guarded() == "inner::test"
        assert guard.release() == []
        assert guard.guarded() == "outer::test"
        with pytest.raises(NetworkBlockedError, match="from outer::test"):
            outer.check_address(("192.0.2.1", 80))
    finally:
        guard.release()
    assert guard.guarded() is None


def test_a_test_recording_through_a_fixture_mode_is_not_guarded(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "1")
    project.makeconftest(
        """
        import pytest

        @pytest.fixture
        def streamreel_record_mode():
            return "all"
        """
    )
    project.makepyfile(
        test_net=textwrap.dedent(
            """
            import pytest
            from streamreel.testing import guard

            @pytest.mark.cassette("send")
            def test_guarded(replay):
                assert guard.guarded() == "test_net.py::test_guarded"

            @pytest.mark.cassette("send")
            def test_recording(streamreel_record):
                assert guard.guarded() is None
            """
        )
    )
    project.runpytest_inprocess(*NO_SYRUPY).assert_outcomes(passed=2)
    assert guard.guarded() is None
