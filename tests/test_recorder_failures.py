"""A provider that fails while it is recorded: the failure is kept, and the command says so.

Each failure comes from the loopback emulator through the official SDK, exactly as a user
meets it: a stream cut mid-way, an error event mid-stream, an HTTP error.  The exception
leaves the ``record()`` block uncaught, and the cassette must still hold the failed call.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anthropic
import httpx
import httpx2
import openai
import pytest
from click.testing import CliRunner
from IPython.core.interactiveshell import InteractiveShell
from recording_support import (
    ANTHROPIC_MODEL,
    OPENAI_MODEL,
    OPENAI_URL,
    anthropic_text_stream,
    cassette,
    error_json,
    openai_body,
    openai_text_stream,
)
from streamreel.cassettes.storage import check_writable, load_cassette, save_cassette
from streamreel.cli import main
from streamreel.core.cassette import Interaction
from streamreel.core.errors import CassetteError, ProviderError
from streamreel.recording.emulator import Emulator, EmulatorServer, Faults
from streamreel.recording.magic import load_ipython_extension
from streamreel.recording.recorder import record
from streamreel.recording.session import record_session

# A cut stream: openai 3 wraps the transport error, releases before it let it through.
CUT = (openai.APIConnectionError, httpx.TransportError, httpx2.TransportError)


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """A cassette already on disk, whose interactions a failed session must keep."""
    path = tmp_path / "session.yaml"
    save_cassette(cassette(openai_text_stream("Earlier")), path)
    return path


def _serve(interaction: Interaction, **faults: Any) -> EmulatorServer:
    emulator = Emulator.from_cassettes([cassette(interaction)], speed=0, faults=Faults(**faults))
    return EmulatorServer(emulator)


def _openai_stream(base_url: str) -> list[str]:
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-test", max_retries=0)
    texts: list[str] = []
    for chunk in client.chat.completions.create(
        model=OPENAI_MODEL, messages=[{"role": "user", "content": "Say hello"}], stream=True
    ):
        texts.extend(choice.delta.content or "" for choice in chunk.choices)
    return texts


def _anthropic_stream(base_url: str) -> list[str]:
    client = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-test", max_retries=0)
    kinds: list[str] = []
    for event in client.messages.create(
        model=ANTHROPIC_MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": "Say hello"}],
        stream=True,
    ):
        kinds.append(event.type)
    return kinds


def test_a_cut_stream_escaping_the_block_is_saved_with_its_chunks_and_error(
    previous: Path,
) -> None:
    recording = record(previous, mode="new_episodes")
    with _serve(openai_text_stream(), disconnect_after=3) as server:
        with pytest.raises(CUT) as raised, recording:
            _openai_stream(server.base_url)
        # Replaying the failure reproduces it, which is why it was kept.
        with record(previous, mode="none"), pytest.raises(CUT):
            _openai_stream(server.base_url)
    assert recording.saved and recording.failure is raised.value
    old, cut = load_cassette(previous).interactions
    assert json.loads(old.request.body)["messages"][0]["content"] == "Earlier"
    assert len(cut.response.body_chunks()) == 3
    assert cut.response.error is not None and "incomplete chunked read" in cut.response.error


def test_an_anthropic_overloaded_error_mid_stream_is_saved_and_replays(tmp_path: Path) -> None:
    path = tmp_path / "overloaded.yaml"
    with (
        _serve(anthropic_text_stream(), error_after=4) as server,
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        record(path),
    ):
        _anthropic_stream(server.base_url)
    (saved,) = load_cassette(path).interactions
    assert saved.response.status == 200
    assert saved.response.body_chunks()[-1].data.startswith(b"event: error\n")
    port = urlsplit(saved.request.uri).port
    with record(path, mode="none"), pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        # Replayed from the cassette: nothing listens on that port any more.
        _anthropic_stream(f"http://127.0.0.1:{port}")


def test_an_openai_error_event_mid_stream_is_saved(tmp_path: Path) -> None:
    path = tmp_path / "error-event.yaml"
    with (
        _serve(openai_text_stream(), error_after=2) as server,
        pytest.raises(openai.APIError, match="server had an error"),
        record(path),
    ):
        _openai_stream(server.base_url)
    (saved,) = load_cassette(path).interactions
    assert b'"server_error"' in saved.response.body_chunks()[-1].data


def test_an_http_error_escaping_the_block_is_saved_with_its_status_and_body(
    tmp_path: Path,
) -> None:
    path = tmp_path / "429.yaml"
    failing = error_json(OPENAI_URL, openai_body("Too many", stream=False), 429)
    with _serve(failing) as server, pytest.raises(openai.RateLimitError), record(path):
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="sk-x", max_retries=0)
        client.chat.completions.create(
            model=OPENAI_MODEL, messages=[{"role": "user", "content": "Too many"}]
        )
    (saved,) = load_cassette(path).interactions
    assert saved.response.status == 429 and saved.response.error is None
    assert json.loads(saved.response.body)["error"]["code"] == "rate"


@pytest.mark.asyncio
async def test_an_async_sdk_failure_escaping_an_async_block_is_saved(tmp_path: Path) -> None:
    path = tmp_path / "async.yaml"
    with _serve(anthropic_text_stream(), error_after=4) as server:
        client = anthropic.AsyncAnthropic(base_url=server.base_url, api_key="k", max_retries=0)
        with pytest.raises(anthropic.APIStatusError):
            async with record(path):
                stream = await client.messages.create(
                    model=ANTHROPIC_MODEL,
                    max_tokens=256,
                    messages=[{"role": "user", "content": "Say hello"}],
                    stream=True,
                )
                async for _ in stream:
                    pass
    assert b"overloaded_error" in load_cassette(path).interactions[0].response.body


def test_a_body_still_open_when_the_failure_escapes_is_marked_with_that_failure(
    tmp_path: Path,
) -> None:
    path = tmp_path / "open.yaml"
    with _serve(openai_text_stream()) as server:
        url = server.base_url + "/v1/chat/completions"
        request = httpx.Request("POST", url, json=openai_body("Nobody", stream=True))
        with httpx.Client() as client, pytest.raises(httpx.HTTPStatusError), record(path):
            response = client.send(request, stream=True)
            response.raise_for_status()  # the emulator's 400, its body never read
    (saved,) = load_cassette(path).interactions
    assert saved.response.status >= 400
    assert saved.response.error is not None
    assert saved.response.error.startswith("the block raised HTTPStatusError")


def test_an_unrelated_exception_keeps_the_previous_cassette_byte_for_byte(
    previous: Path,
) -> None:
    before = previous.read_bytes()
    recording = record(previous, mode="all")
    with _serve(openai_text_stream()) as server, pytest.raises(ZeroDivisionError), recording:
        _openai_stream(server.base_url)
        _ = 1 / 0
    assert not recording.saved and recording.failure is None
    assert previous.read_bytes() == before
    assert sorted(p.name for p in previous.parent.iterdir()) == ["session.yaml"]


def test_a_failed_cell_of_the_record_magic_keeps_a_failed_provider_call(tmp_path: Path) -> None:
    shell = InteractiveShell.instance()
    load_ipython_extension(shell)
    path = tmp_path / "cell.yaml"
    with _serve(anthropic_text_stream(), error_after=4) as server:
        shell.user_ns["call"] = lambda: _anthropic_stream(server.base_url)
        shell.run_cell(f"%%record {path}\ncall()")
        assert path.exists()
        other = tmp_path / "other.yaml"
        shell.run_cell(f"%%record {other}\n1 / 0")
    assert b"overloaded_error" in load_cassette(path).interactions[0].response.body
    assert not other.exists()


# -- record_session and `streamreel record` ------------------------------------------------------


def _as_the_command_asks(interaction: Interaction) -> Interaction:
    """The scripted Anthropic stream, answering the command's default max_tokens (1024)."""
    body = json.loads(interaction.request.body)
    body["max_tokens"] = 1024
    request = replace(interaction.request, body=json.dumps(body).encode())
    return replace(interaction, request=request)


def _record_arguments(provider: str, base_url: str, output: Path) -> list[str]:
    model = ANTHROPIC_MODEL if provider == "anthropic" else OPENAI_MODEL
    arguments = ["record", "--provider", provider, "--base-url", base_url, "--model", model]
    return [*arguments, "--prompt", "Say hello", "-o", str(output)]


FAILURES = [
    pytest.param(
        "openai",
        openai_text_stream(),
        {"disconnect_after": 3},
        ("APIConnectionError", "RemoteProtocolError"),
        id="cut",
    ),
    pytest.param(
        "anthropic",
        _as_the_command_asks(anthropic_text_stream()),
        {"error_after": 4},
        "Overloaded",
        id="overloaded",
    ),
    pytest.param(
        "openai",
        error_json(OPENAI_URL, openai_body("Say hello", stream=True), 429),
        {},
        "RateLimitError",
        id="http-429",
    ),
]


@pytest.mark.parametrize(("provider", "interaction", "faults", "shown"), FAILURES)
def test_record_command_saves_a_failed_session_and_prints_one_line(
    tmp_path: Path,
    provider: str,
    interaction: Interaction,
    faults: dict[str, int],
    shown: str | tuple[str, ...],
) -> None:
    output = tmp_path / "failed.yaml"
    with _serve(interaction, **faults) as server:
        base = server.base_url + ("/v1" if provider == "openai" else "")
        result = CliRunner().invoke(
            main,
            _record_arguments(provider, base, output),
            env={"OPENAI_API_KEY": "sk-cli", "ANTHROPIC_API_KEY": "sk-ant-cli"},
        )
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    names = (shown,) if isinstance(shown, str) else shown
    assert len(errors) == 1 and any(name in errors[0] for name in names) and "saved" in errors[0]
    assert str(output) in errors[0]
    # Whatever streamed ended its line: the error starts on a line of its own.
    assert result.stdout == "" or result.stdout.endswith("\n")
    (saved,) = load_cassette(output).interactions
    assert saved.request.uri.endswith("/messages" if provider == "anthropic" else "/completions")


def test_record_session_raises_a_provider_error_naming_the_saved_file(tmp_path: Path) -> None:
    output = tmp_path / "s.yaml"
    with (
        _serve(anthropic_text_stream(), error_after=4) as server,
        pytest.raises(ProviderError) as raised,
    ):
        record_session(
            "anthropic",
            model=ANTHROPIC_MODEL,
            prompt="Say hello",
            output=output,
            base_url=server.base_url,
            api_key="sk-ant-x",
            max_tokens=256,
        )
    error = raised.value
    assert error.saved and error.path == str(output)
    assert "\n" not in str(error) and "Overloaded" in str(error)
    assert isinstance(error.__cause__, anthropic.APIStatusError)


def test_record_checks_the_output_is_writable_before_calling_the_provider(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    emulator = Emulator.from_cassettes([cassette(openai_text_stream())], speed=0)
    with EmulatorServer(emulator) as server:
        result = CliRunner().invoke(
            main,
            _record_arguments("openai", server.base_url + "/v1", blocker / "out.yaml"),
            env={"OPENAI_API_KEY": "sk-x"},
        )
    assert result.exit_code == 2  # -o names a place that cannot be written: a usage error
    assert "cannot write cassette" in result.stderr
    assert emulator.served == []  # the provider was never called
    assert "Traceback" not in result.output


def test_a_recording_that_cannot_write_refuses_to_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CassetteError, match="cannot write cassette"):
        record(blocker / "sub" / "c.yaml").start()
    with pytest.raises(CassetteError, match="expected a file path, got a folder"):
        check_writable(tmp_path)
    # Replay-only recordings never write, so they need no writable path.
    save_cassette(cassette(anthropic_text_stream()), blocker.with_name("r.yaml"))
    with record(blocker.with_name("r.yaml"), mode="none"):
        pass


def test_record_against_a_provider_that_is_not_there_says_so_in_one_line(tmp_path: Path) -> None:
    with EmulatorServer(Emulator.from_cassettes([cassette(openai_text_stream())])) as server:
        gone = server.base_url  # a port that was just released: nothing listens there now
    output = tmp_path / "nothing.yaml"
    result = CliRunner().invoke(
        main, _record_arguments("openai", gone + "/v1", output), env={"OPENAI_API_KEY": "sk-x"}
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = [row for row in result.stderr.splitlines() if row.startswith("Error:")]
    assert "APIConnectionError" in line and "nothing was recorded" in line
    assert not output.exists()
