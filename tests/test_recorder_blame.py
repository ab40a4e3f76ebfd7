"""Whether a failure leaving ``record()`` keeps the recording is decided from what was captured.

An SDK may hand its transport a copy of the request it keeps (openai 3.x does), so the object an
exception carries says nothing reliable about which exchange failed.  The recording is kept when
the block raises while a captured exchange has failed (an HTTP error status, an error event or
error object in the body, a cut body, a transport error); an exception raised while every
captured exchange is healthy writes nothing.  Every case runs against the loopback emulator,
through the official SDKs (whichever of httpx and httpx2 they are built on) and through raw
httpx and httpx2 clients, sync and async.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest
from click.testing import CliRunner
from recording_support import (
    ANTHROPIC_MODEL,
    ANTHROPIC_URL,
    OPENAI_MODEL,
    OPENAI_URL,
    anthropic_body,
    anthropic_text_stream,
    cassette,
    error_json,
    openai_body,
    openai_text_stream,
)
from streamreel.cassettes.storage import load_cassette
from streamreel.cli import main
from streamreel.core.cassette import BodyChunk, Interaction, RecordedRequest
from streamreel.recording.emulator import Emulator, EmulatorServer, Faults
from streamreel.recording.modes import RecordMode
from streamreel.recording.recorder import Capture, Session, record


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


def _serve(interaction: Interaction, **faults: Any) -> EmulatorServer:
    emulator = Emulator.from_cassettes([cassette(interaction)], speed=0, faults=Faults(**faults))
    return EmulatorServer(emulator)


def _run(coroutine: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(coroutine())


# -- the official SDKs -------------------------------------------------------------------------


def _openai_sync(base: str) -> None:
    client = openai.OpenAI(base_url=base + "/v1", api_key="sk-blame", max_retries=0)
    with client:
        for _ in client.chat.completions.create(
            model=OPENAI_MODEL, messages=[{"role": "user", "content": "Say hello"}], stream=True
        ):
            pass


def _openai_async(base: str) -> None:
    async def go() -> None:
        client = openai.AsyncOpenAI(base_url=base + "/v1", api_key="sk-blame", max_retries=0)
        async with client:
            stream = await client.chat.completions.create(
                model=OPENAI_MODEL,
                messages=[{"role": "user", "content": "Say hello"}],
                stream=True,
            )
            async for _ in stream:
                pass

    _run(go)


def _anthropic_sync(base: str) -> None:
    client = anthropic.Anthropic(base_url=base, api_key="sk-ant-blame", max_retries=0)
    with client:
        for _ in client.messages.create(
            model=ANTHROPIC_MODEL,
            max_tokens=256,
            messages=[{"role": "user", "content": "Say hello"}],
            stream=True,
        ):
            pass


def _anthropic_async(base: str) -> None:
    async def go() -> None:
        client = anthropic.AsyncAnthropic(base_url=base, api_key="sk-ant-blame", max_retries=0)
        async with client:
            stream = await client.messages.create(
                model=ANTHROPIC_MODEL,
                max_tokens=256,
                messages=[{"role": "user", "content": "Say hello"}],
                stream=True,
            )
            async for _ in stream:
                pass

    _run(go)


CALLS = {
    ("openai", "sync"): _openai_sync,
    ("openai", "async"): _openai_async,
    ("anthropic", "sync"): _anthropic_sync,
    ("anthropic", "async"): _anthropic_async,
}
STREAMS = {"openai": openai_text_stream, "anthropic": anthropic_text_stream}
HTTP_ERRORS = {
    "openai": lambda: error_json(OPENAI_URL, openai_body("Say hello", stream=True), 429),
    "anthropic": lambda: error_json(ANTHROPIC_URL, anthropic_body("Say hello", stream=True), 429),
}
SDK_ERRORS: dict[str, type[BaseException]] = {
    "openai": openai.APIError,
    "anthropic": anthropic.APIError,
}
# Releases before openai 3 / anthropic 1 let a cut stream's transport error through unwrapped.
CUT = (httpx.TransportError, httpx2.TransportError)


def _failing(provider: str, fault: str) -> tuple[Interaction, dict[str, int]]:
    if fault == "http-429":
        return HTTP_ERRORS[provider](), {}
    interaction = STREAMS[provider]()
    return interaction, {"error_after" if fault == "error-event" else "disconnect_after": 2}


@pytest.mark.parametrize("flavor", ["sync", "async"])
@pytest.mark.parametrize("fault", ["error-event", "cut", "http-429"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_sdk_failure_escaping_the_block_keeps_the_failed_exchange(
    tmp_path: Path, provider: str, fault: str, flavor: str
) -> None:
    path = tmp_path / "failed.yaml"
    interaction, faults = _failing(provider, fault)
    recording = record(path)
    expected = pytest.raises(
        (SDK_ERRORS[provider], *CUT) if fault == "cut" else SDK_ERRORS[provider]
    )
    with _serve(interaction, **faults) as server, expected as raised, recording:
        CALLS[provider, flavor](server.base_url)
    assert recording.saved and recording.failure is raised.value
    (saved,) = load_cassette(path).interactions
    if fault == "http-429":
        assert saved.response.status == 429
    elif fault == "cut":
        assert saved.response.error is not None
        assert len(saved.response.body_chunks()) == 2
    else:
        assert saved.response.status == 200
        assert b"error" in saved.response.body_chunks()[-1].data


@pytest.mark.parametrize("flavor", ["sync", "async"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_sdk_stream_interrupted_by_the_callers_own_bug_writes_nothing(
    tmp_path: Path, provider: str, flavor: str
) -> None:
    path = tmp_path / "bug.yaml"
    recording = record(path)
    with _serve(STREAMS[provider]()) as server, pytest.raises(ZeroDivisionError), recording:
        CALLS[provider, flavor](server.base_url)
        _ = 1 / 0
    assert not recording.saved and recording.failure is None
    assert not path.exists()


# -- raw httpx and httpx2 clients --------------------------------------------------------------


class ProviderSaidError(Exception):
    """The caller's own exception, carrying no request or response of any client."""


def _raw_sync(lib: ModuleType, url: str, body: dict[str, Any], *, stop_on: bytes) -> None:
    with lib.Client() as client, client.stream("POST", url, json=body) as response:
        for line in response.iter_lines():
            if stop_on in line.encode():
                raise ProviderSaidError(line)


def _raw_async(lib: ModuleType, url: str, body: dict[str, Any], *, stop_on: bytes) -> None:
    async def go() -> None:
        async with lib.AsyncClient() as client, client.stream("POST", url, json=body) as response:
            async for line in response.aiter_lines():
                if stop_on in line.encode():
                    raise ProviderSaidError(line)

    _run(go)


RAW = {"sync": _raw_sync, "async": _raw_async}
LIBS = {"httpx": httpx, "httpx2": httpx2}


@pytest.mark.parametrize("flavor", ["sync", "async"])
@pytest.mark.parametrize("lib", ["httpx", "httpx2"])
def test_the_callers_exception_after_an_error_event_keeps_the_recording(
    tmp_path: Path, lib: str, flavor: str
) -> None:
    path = tmp_path / "raw.yaml"
    with _serve(openai_text_stream(), error_after=2) as server:
        url = server.base_url + "/v1/chat/completions"
        with pytest.raises(ProviderSaidError), record(path):
            RAW[flavor](
                LIBS[lib], url, openai_body("Say hello", stream=True), stop_on=b"server_error"
            )
    (saved,) = load_cassette(path).interactions
    assert b"server_error" in saved.response.body


@pytest.mark.parametrize("flavor", ["sync", "async"])
@pytest.mark.parametrize("lib", ["httpx", "httpx2"])
def test_the_callers_exception_in_a_healthy_stream_writes_nothing(
    tmp_path: Path, lib: str, flavor: str
) -> None:
    path = tmp_path / "raw.yaml"
    with _serve(openai_text_stream()) as server:
        url = server.base_url + "/v1/chat/completions"
        with pytest.raises(ProviderSaidError), record(path):
            RAW[flavor](LIBS[lib], url, openai_body("Say hello", stream=True), stop_on=b"delta")
    assert not path.exists()


@pytest.mark.parametrize("lib", ["httpx", "httpx2"])
def test_a_status_error_carrying_a_copy_of_the_request_keeps_the_recording(
    tmp_path: Path, lib: str
) -> None:
    module = LIBS[lib]
    path = tmp_path / "copy.yaml"
    failing = error_json(OPENAI_URL, openai_body("Too many", stream=False), 429)
    with _serve(failing) as server:
        url = server.base_url + "/v1/chat/completions"
        with module.Client() as client, pytest.raises(module.HTTPStatusError), record(path):
            response = client.post(url, json=openai_body("Too many", stream=False))
            # What an SDK does: raise with objects of its own, not the ones it sent.
            copy = module.Request("POST", url)
            raise module.HTTPStatusError(
                "rate limited",
                request=copy,
                response=module.Response(response.status_code, request=copy),
            )
    (saved,) = load_cassette(path).interactions
    assert saved.response.status == 429


# -- the pure session ---------------------------------------------------------------------------

_NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _whole(body: bytes) -> Capture:
    """A non-streamed reply with status 200: a gateway may still put an error in it."""
    sent = json.dumps(openai_body("Say hello", stream=False)).encode()
    capture = Capture(0, RecordedRequest("POST", OPENAI_URL, {}, sent), started_at=_NOW)
    capture.response_started(200, "", {"content-type": ["application/json"]}, decoded=False)
    capture.chunk(1.0, body)
    capture.finish()
    return capture


def _capture(
    status: int, *pieces: bytes, error: str | None = None, url: str = OPENAI_URL
) -> Capture:
    body = json.dumps(openai_body("Say hello", stream=True)).encode()
    capture = Capture(0, RecordedRequest("POST", url, {}, body), started_at=_NOW)
    capture.response_started(status, "", {"content-type": ["text/event-stream"]}, decoded=False)
    for offset, piece in enumerate(pieces):
        capture.chunk(float(offset), piece)
    capture.finish(error)
    return capture


_HEALTHY = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'


@pytest.mark.parametrize(
    ("capture", "failed"),
    [
        pytest.param(_capture(200, _HEALTHY, b"data: [DONE]\n\n"), False, id="healthy"),
        pytest.param(_capture(200, _HEALTHY), False, id="left-unread-by-the-client"),
        pytest.param(_capture(503, b'{"error":{"message":"down"}}'), True, id="http-503"),
        pytest.param(
            _capture(200, _HEALTHY, b'data: {"error":{"message":"boom","type":"server"}}\n\n'),
            True,
            id="error-chunk",
        ),
        pytest.param(
            _capture(
                200,
                b"event: error\n"
                b'data: {"type":"error","error":{"type":"overloaded_error","message":"x"}}\n\n',
                url=ANTHROPIC_URL,
            ),
            True,
            id="error-event",
        ),
        pytest.param(_capture(200, _HEALTHY, error="RemoteProtocolError: cut"), True, id="cut"),
        pytest.param(
            _capture(
                200,
                b'event: error\ndata: {"message": "quota"}\n\n',
                url="http://127.0.0.1:9/some/unknown/stream",
            ),
            True,
            id="error-event-of-an-api-replay-does-not-adapt",
        ),
        pytest.param(
            _whole(b'{"error": {"message": "model overloaded", "type": "server_error"}}'),
            True,
            id="whole-json-reply-with-an-error-object",
        ),
        pytest.param(
            _whole(b'{"id": "c1", "object": "chat.completion", "choices": []}'),
            False,
            id="whole-json-reply",
        ),
        pytest.param(
            _capture(200, b"data: hello\n\n", url="http://127.0.0.1:9/some/unknown/stream"),
            False,
            id="healthy-stream-of-an-api-replay-does-not-adapt",
        ),
    ],
)
def test_a_capture_says_whether_its_exchange_failed_from_its_data_alone(
    capture: Capture, failed: bool
) -> None:
    assert capture.failed() is failed
    session = Session(mode=RecordMode.ALL, loaded=None)
    session.captures.append(capture)
    assert session.failures() == ([capture] if failed else [])


def test_a_body_chunk_list_is_what_the_failure_check_reads() -> None:
    # The check reads the chunks as captured, split anywhere, not one joined body.
    event = b'data: {"error":{"message":"boom","type":"server"}}\n\n'
    capture = _capture(200, _HEALTHY, event[:9], event[9:])
    assert capture.chunks[-1] == BodyChunk(2.0, event[9:])
    assert capture.failed()


# -- `streamreel record` -----------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["error-event", "cut", "http-429"])
def test_record_command_keeps_an_openai_failure_and_says_it_was_saved(
    tmp_path: Path, fault: str
) -> None:
    output = tmp_path / "failed.yaml"
    interaction, faults = _failing("openai", fault)
    with _serve(interaction, **faults) as server:
        arguments = ["record", "--provider", "openai", "--base-url", server.base_url + "/v1"]
        arguments += ["--model", OPENAI_MODEL, "--prompt", "Say hello", "-o", str(output)]
        result = CliRunner().invoke(main, arguments, env={"OPENAI_API_KEY": "sk-cli"})
    assert result.exit_code == 1, result.output
    assert "nothing was recorded" not in result.stderr
    assert "saved" in result.stderr
    (saved,) = load_cassette(output).interactions
    assert saved.request.uri.endswith("/chat/completions")
