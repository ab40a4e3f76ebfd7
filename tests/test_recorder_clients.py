"""Recording through urllib3 (requests, boto3/botocore) and aiohttp, against the emulator.

The promises are the httpx ones: the caller sees each chunk live, chunks are stored with their
arrival offsets and replayed with the same boundaries, secrets are scrubbed, a cut stream keeps
what arrived and replays the cut, and modes behave the same.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
import requests
import urllib3
from botocore.config import Config
from recording_support import (
    Script,
    all_scripted,
    anthropic_text_stream,
    gzip_pieces,
    loopback,
    openai_body,
    openai_text_stream,
)
from scripted import bedrock_converse_stream_tool_use, bedrock_invoke_claude_stream
from streamreel.cassettes.scrubbing import REDACTED
from streamreel.cassettes.storage import load_cassette
from streamreel.core.cassette import Interaction
from streamreel.core.errors import NoMatchError
from streamreel.playback.replay import replay
from streamreel.recording.emulator import Emulator, EmulatorServer, Faults
from streamreel.recording.recorder import record


@pytest.fixture(scope="module")
def fast() -> Iterator[tuple[EmulatorServer, Emulator]]:
    cassettes = [all_scripted(), bedrock_converse_stream_tool_use(), bedrock_invoke_claude_stream()]
    emulator = Emulator.from_cassettes(cassettes, speed=0)
    with EmulatorServer(emulator) as server:
        yield server, emulator


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


def _only(path: Path) -> Interaction:
    loaded = load_cassette(path)
    assert len(loaded.interactions) == 1
    return loaded.interactions[0]


def _served(interaction: Interaction) -> list[bytes]:
    return [c.data for c in interaction.response.body_chunks()]


# -- requests and urllib3 -----------------------------------------------------------------------


def _requests_stream(url: str, body: Any, **headers: str) -> list[bytes]:
    with requests.post(url, json=body, stream=True, headers=headers, timeout=10) as response:
        return list(response.iter_content(chunk_size=None))


def test_requests_records_and_replays_chunk_boundaries_exactly(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, emulator = fast
    url = server.base_url + "/v1/chat/completions"
    body = openai_body("Say hello", stream=True)
    path = tmp_path / "requests.yaml"
    with record(path):
        live = _requests_stream(url, body, Authorization="Bearer sk-live-secret-1234567890")
    want = _served(openai_text_stream())
    assert live == want
    recorded = _only(path)
    assert _served(recorded) == want
    assert recorded.request.header("authorization") == REDACTED
    offsets = [c.offset_ms for c in recorded.response.body_chunks()]
    assert offsets == sorted(offsets) and offsets[0] >= 0
    served = len(emulator.served)
    with record(path, mode="none"):
        assert _requests_stream(url, body) == want
    assert len(emulator.served) == served, "the replay reached the server"


def test_requests_non_streamed_reads_and_preloaded_urllib3(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = fast
    url = server.base_url + "/v1/chat/completions"
    body = openai_body("Say hello", stream=True)
    path = tmp_path / "whole.yaml"
    with record(path):
        whole = requests.post(url, json=body, timeout=10).content
    with record(path, mode="none"):
        assert requests.post(url, json=body, timeout=10).content == whole
    with record(path, mode="none"):
        pool = urllib3.PoolManager()
        answer = pool.request("POST", url, body=json.dumps(body), headers={"x": "1"})
        assert answer.status == 200 and answer.data == whole
    assert whole == b"".join(_served(openai_text_stream()))


def test_urllib3_streams_live_reads(tmp_path: Path, fast: tuple[EmulatorServer, Emulator]) -> None:
    server, _ = fast
    url = server.base_url + "/v1/messages"
    body = anthropic_text_stream().request.body
    path = tmp_path / "urllib3.yaml"
    pool = urllib3.PoolManager()
    with record(path):
        response = pool.request("POST", url, body=body, preload_content=False)
        live = list(response.stream(None))
        response.release_conn()
    assert live == _served(anthropic_text_stream())
    with record(path, mode="none"):
        response = pool.request("POST", url, body=body, preload_content=False)
        assert list(response.stream(None)) == live


def test_requests_first_chunk_reaches_the_caller_before_the_second_is_sent(
    tmp_path: Path,
) -> None:
    gate = threading.Event()
    in_time: list[bool] = []
    with loopback() as server:
        server.scripts["/gated"] = Script(
            pieces=[b"data: first\n\n", b"data: second\n\n"],
            before={1: lambda: in_time.append(gate.wait(timeout=5))},
        )
        reads = []
        with (
            record(tmp_path / "gated.yaml"),
            requests.get(server.base_url + "/gated", stream=True, timeout=10) as response,
        ):
            for part in response.iter_content(chunk_size=None):
                reads.append(part)
                gate.set()
    assert in_time == [True], "the first chunk was held back until the stream ended"
    assert reads == [b"data: first\n\n", b"data: second\n\n"]
    assert _served(_only(tmp_path / "gated.yaml")) == reads


def test_requests_gzip_body_is_stored_decoded(tmp_path: Path) -> None:
    parts = [b"data: one\n\n", b"data: two\n\n", b"data: [DONE]\n\n"]
    path = tmp_path / "gzip.yaml"
    with loopback() as server:
        server.scripts["/gz"] = Script(
            pieces=gzip_pieces(parts),
            headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
        )
        with record(path):
            assert requests.get(server.base_url + "/gz", timeout=10).content == b"".join(parts)
        recorded = _only(path).response
        assert recorded.body == b"".join(parts) and recorded.header("content-encoding") is None
        with record(path, mode="none"):
            replayed = requests.get(server.base_url + "/gz", timeout=10)
        assert replayed.content == b"".join(parts)
        assert "content-encoding" not in replayed.headers


def test_requests_cut_stream_keeps_what_arrived_and_replays_the_cut(tmp_path: Path) -> None:
    path = tmp_path / "cut.yaml"
    parts = [b"data: one\n\n", b"data: two\n\n", b"data: three\n\n"]
    with loopback() as server:
        server.scripts["/cut"] = Script(pieces=parts, cut_after=2)
        got: list[bytes] = []
        with (
            record(path),
            pytest.raises(requests.exceptions.ChunkedEncodingError),
            requests.get(server.base_url + "/cut", stream=True, timeout=10) as response,
        ):
            got.extend(response.iter_content(chunk_size=None))
        assert got == parts[:2]
        recorded = _only(path).response
        assert _served(_only(path)) == parts[:2] and recorded.error is not None
        replayed: list[bytes] = []
        with (
            record(path, mode="none"),
            pytest.raises(requests.exceptions.ChunkedEncodingError),
            requests.get(server.base_url + "/cut", stream=True, timeout=10) as response,
        ):
            replayed.extend(response.iter_content(chunk_size=None))
        assert replayed == parts[:2]


def test_requests_mode_none_refuses_an_unrecorded_request(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = fast
    path = tmp_path / "modes.yaml"
    url = server.base_url + "/v1/chat/completions"
    with record(path):
        _requests_stream(url, openai_body("Say hello", stream=True))
    with record(path, mode="none"), pytest.raises(NoMatchError):
        _requests_stream(url, openai_body("Something else", stream=True))


# -- boto3 / botocore ---------------------------------------------------------------------------


def _bedrock(server: EmulatorServer) -> Any:
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=server.base_url,
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLEEXAMPLE12",
        aws_secret_access_key="secret-example-secret-example-secret-123",
        config=Config(retries={"max_attempts": 1}),
    )


def _converse_text(client: Any) -> tuple[str, str]:
    source = json.loads(bedrock_converse_stream_tool_use().interactions[0].request.body)
    answer = client.converse_stream(
        modelId="anthropic.claude-3-5-sonnet-20240620-v1:0",
        messages=source["messages"],
        toolConfig=source["toolConfig"],
    )
    text, arguments = [], []
    for event in answer["stream"]:
        delta = event.get("contentBlockDelta", {}).get("delta", {})
        text.append(delta.get("text", ""))
        arguments.append(delta.get("toolUse", {}).get("input", ""))
    return "".join(text), "".join(arguments)


def test_boto3_converse_stream_records_the_event_stream_and_replays_it(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, emulator = fast
    path = tmp_path / "bedrock.yaml"
    with record(path):
        live = _converse_text(_bedrock(server))
    assert live == ("Let me look that up in the glossary.", '{"term": "levain"}')
    recorded = _only(path)
    assert recorded.request.header("authorization") == REDACTED
    assert _served(recorded) == _served(bedrock_converse_stream_tool_use().interactions[0])
    served = len(emulator.served)
    with record(path, mode="none"):
        assert _converse_text(_bedrock(server)) == live
    assert len(emulator.served) == served
    # And the cassette replays through streamreel's own adapter.
    [step] = replay(path).interactions
    assert step.kind is not None and step.kind.api == "converse-stream"
    assert not step.errors


def test_boto3_invoke_stream_replays_claude_events(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = fast
    source = bedrock_invoke_claude_stream().interactions[0]
    path = tmp_path / "invoke.yaml"

    def invoke() -> str:
        answer = _bedrock(server).invoke_model_with_response_stream(
            modelId="anthropic.claude-3-5-sonnet-20240620-v1:0", body=source.request.body
        )
        pieces = []
        for event in answer["body"]:
            inner = json.loads(event["chunk"]["bytes"])
            if inner["type"] == "content_block_delta":
                pieces.append(inner["delta"]["text"])
        return "".join(pieces)

    with record(path):
        live = invoke()
    assert live.startswith("Our croissants")
    with record(path, mode="none"):
        assert invoke() == live


# -- aiohttp --------------------------------------------------------------------------------------


async def _aiohttp_chunks(url: str, body: Any) -> list[bytes]:
    async with aiohttp.ClientSession() as client, client.post(url, json=body) as response:
        return [data async for data, _ in response.content.iter_chunks()]


@pytest.mark.asyncio
async def test_aiohttp_records_and_replays_chunk_boundaries(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, emulator = fast
    url = server.base_url + "/v1/chat/completions"
    body = openai_body("Say hello", stream=True)
    path = tmp_path / "aiohttp.yaml"
    async with record(path):
        live = await _aiohttp_chunks(url, body)
    want = _served(openai_text_stream())
    assert b"".join(live) == b"".join(want)
    recorded = _only(path)
    assert b"".join(_served(recorded)) == b"".join(want)
    served = len(emulator.served)
    async with record(path, mode="none"):
        replayed = await _aiohttp_chunks(url, body)
    assert replayed == _served(recorded), "replay changed the recorded boundaries"
    assert len(emulator.served) == served


@pytest.mark.asyncio
async def test_aiohttp_sees_the_first_chunk_live_and_records_a_cut(tmp_path: Path) -> None:
    gate = threading.Event()
    in_time: list[bool] = []
    parts = [b"data: first\n\n", b"data: second\n\n", b"data: third\n\n"]
    path = tmp_path / "cut.yaml"
    with loopback() as server:
        server.scripts["/cut"] = Script(
            pieces=parts, before={1: lambda: in_time.append(gate.wait(timeout=5))}, cut_after=2
        )
        got: list[bytes] = []
        async with (
            record(path),
            aiohttp.ClientSession() as client,
            client.get(server.base_url + "/cut") as response,
        ):
            with pytest.raises(aiohttp.ClientPayloadError):
                async for data, _ in response.content.iter_chunks():
                    got.append(data)
                    gate.set()
        assert in_time == [True]
        assert b"".join(got) == b"".join(parts[:2])
        recorded = _only(path).response
        assert recorded.body == b"".join(parts[:2]) and recorded.error is not None
        replayed: list[bytes] = []
        async with (
            record(path, mode="none"),
            aiohttp.ClientSession() as client,
            client.get(server.base_url + "/cut") as response,
        ):
            with pytest.raises(aiohttp.ClientPayloadError):
                async for data, _ in response.content.iter_chunks():
                    replayed.append(data)
        assert replayed == [c.data for c in recorded.body_chunks()]


@pytest.mark.asyncio
async def test_aiohttp_scrubs_secrets_and_reads_whole_bodies(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = fast
    url = server.base_url + "/v1/messages"
    body = json.loads(anthropic_text_stream().request.body)
    path = tmp_path / "whole.yaml"
    headers = {"x-api-key": "sk-ant-live-secret-1234567890"}
    async with (
        record(path),
        aiohttp.ClientSession(headers=headers) as client,
        client.post(url, json=body) as response,
    ):
        whole = await response.read()
    recorded = _only(path)
    assert recorded.request.header("x-api-key") == REDACTED
    assert recorded.request.uri == server.base_url + "/v1/messages"
    async with (
        record(path, mode="none"),
        aiohttp.ClientSession() as client,
        client.post(url, json=body) as response,
    ):
        assert response.status == 200 and await response.read() == whole


def test_emulator_fault_reaches_requests_as_a_cut(
    tmp_path: Path,
) -> None:
    emulator = Emulator.from_cassettes([all_scripted()], speed=0, faults=Faults(disconnect_after=2))
    with EmulatorServer(emulator) as server:
        url = server.base_url + "/v1/chat/completions"
        path = tmp_path / "fault.yaml"
        with record(path), pytest.raises(requests.exceptions.ChunkedEncodingError):
            _requests_stream(url, openai_body("Say hello", stream=True))
    assert len(_served(_only(path))) == 2


def test_a_bedrock_stream_fault_from_the_emulator_is_recorded_and_replays_as_an_error(
    tmp_path: Path,
) -> None:
    from botocore.exceptions import EventStreamError

    emulator = Emulator.from_cassettes(
        [bedrock_converse_stream_tool_use()], speed=0, faults=Faults(error_after=3)
    )
    path = tmp_path / "fault.yaml"
    with (
        EmulatorServer(emulator) as server,
        record(path),
        pytest.raises(EventStreamError, match="modelStreamErrorException"),
    ):
        _converse_text(_bedrock(server))
    [step] = replay(path).interactions
    # botocore raises on the exception message without reading on or closing the body, so the
    # cassette also says, truthfully, that the client stopped reading before the end.
    assert [e.error_type for e in step.errors][:1] == ["modelStreamErrorException"]
    # Everything before the fault is kept.
    assert any(m.message_type == "reasoning_message" for m in step.merged)


@pytest.mark.asyncio
async def test_aiohttp_gzip_is_stored_decoded_and_errors_raise_on_replay(tmp_path: Path) -> None:
    parts = [b"data: one\n\n", b"data: two\n\n"]
    path = tmp_path / "gzip.yaml"
    with loopback() as server:
        server.scripts["/gz"] = Script(
            pieces=gzip_pieces(parts),
            headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
        )
        server.scripts["/limited"] = Script(pieces=[b'{"error": "slow down"}'], status=429)
        async with record(path), aiohttp.ClientSession() as client:
            async with client.get(server.base_url + "/gz") as response:
                assert await response.read() == b"".join(parts)
            async with client.get(server.base_url + "/limited") as response:
                assert response.status == 429
        loaded = load_cassette(path).interactions
        assert loaded[0].response.body == b"".join(parts)
        assert loaded[0].response.header("content-encoding") is None
        async with record(path, mode="none"), aiohttp.ClientSession() as client:
            async with client.get(server.base_url + "/gz") as response:
                assert await response.read() == b"".join(parts)
            with pytest.raises(aiohttp.ClientResponseError) as caught:
                await client.get(server.base_url + "/limited", raise_for_status=True)
        assert caught.value.status == 429
