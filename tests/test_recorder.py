"""The recorder end to end: SDKs and raw clients against the emulator and a loopback server."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anthropic
import httpx
import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.interactiveshell import InteractiveShell
from recording_support import (
    ANTHROPIC_MODEL,
    OPENAI_MODEL,
    OPENAI_URL,
    SEND_MESSAGE_TOOL,
    Script,
    all_scripted,
    anthropic_json,
    anthropic_text_stream,
    cassette,
    error_json,
    gzip_pieces,
    loopback,
    openai_body,
    openai_json,
    openai_text_stream,
    openai_tool_stream,
)
from streamreel.cassettes.storage import load_cassette, save_cassette
from streamreel.core.cassette import (
    BodyChunk,
    Cassette,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import ConfigurationError, NoMatchError, RecordingError
from streamreel.recording import interception
from streamreel.recording.emulator import Emulator, EmulatorServer, Faults
from streamreel.recording.interception import BodyDecoder
from streamreel.recording.magic import load_ipython_extension, parse_arguments
from streamreel.recording.recorder import (
    Capture,
    Recording,
    RecordMode,
    Replay,
    Session,
    record,
    resolve_mode,
)
from streamreel.recording.session import load_tools, record_session

LIBS = [httpx, httpx2]
FIRST_BYTE_SLACK_MS = 2000.0
# How late after the emulator sent it a chunk may be stamped. Generous, because a shared 2-core
# machine can stall a thread for a few hundred milliseconds; a recorder that buffered the body
# would stamp every chunk at its end, which the gated tests catch exactly.
TOLERANCE_MS = 500.0


@pytest.fixture(scope="module")
def paced() -> Iterator[tuple[EmulatorServer, Emulator]]:
    """The scripted cassettes at their recorded pace."""
    extra = error_json(OPENAI_URL, openai_body("Too many", stream=False), 429)
    emulator = Emulator.from_cassettes([all_scripted(), cassette(extra)], speed=1.0)
    with EmulatorServer(emulator) as server:
        yield server, emulator


@pytest.fixture(scope="module")
def fast() -> Iterator[tuple[EmulatorServer, Emulator]]:
    emulator = Emulator.from_cassettes([all_scripted()], speed=0)
    with EmulatorServer(emulator) as server:
        yield server, emulator


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    # The suite itself may run under CI; mode defaults are tested explicitly below.
    monkeypatch.delenv("CI", raising=False)


def _stream_raw(lib: Any, url: str, body: Any) -> list[bytes]:
    with lib.Client() as client, client.stream("POST", url, json=body) as response:
        return list(response.iter_raw())


async def _astream_raw(lib: Any, url: str, body: Any) -> list[bytes]:
    async with lib.AsyncClient() as client, client.stream("POST", url, json=body) as response:
        return [part async for part in response.aiter_raw()]


def _only(path: Path) -> Interaction:
    loaded = load_cassette(path)
    assert len(loaded.interactions) == 1
    return loaded.interactions[0]


def _assert_same_stream(recorded: Interaction, source: Interaction) -> None:
    got, want = recorded.response.body_chunks(), source.response.body_chunks()
    assert [c.data for c in got] == [c.data for c in want]
    # The first chunk's offset includes one-time costs before the first byte (a client's first
    # request in the process); allow those there, and check the pacing after it tightly.
    assert want[0].offset_ms - 1 <= got[0].offset_ms <= want[0].offset_ms + FIRST_BYTE_SLACK_MS
    lag = got[0].offset_ms - want[0].offset_ms
    for a, b in zip(got, want, strict=True):
        # Recorded from the client's side: never before the emulator sent it, a little after
        # (the slack is for a loaded 2-core machine; buffering is caught by the gated tests).
        assert b.offset_ms - 1 <= a.offset_ms <= b.offset_ms + lag + TOLERANCE_MS
    assert recorded.response.status == source.response.status
    assert recorded.response.error is None


# -- official SDKs against the emulator ---------------------------------------------------------

SDK_CASES = [
    ("openai", True, openai_text_stream),
    ("openai", False, openai_json),
    ("anthropic", True, anthropic_text_stream),
    ("anthropic", False, anthropic_json),
]


def _sdk_sync(provider: str, stream: bool, base_url: str) -> str:
    if provider == "openai":
        client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-dummy-key-1", max_retries=0)
        messages: Any = [{"role": "user", "content": "Say hello"}]
        if stream:
            chunks = client.chat.completions.create(
                model=OPENAI_MODEL, messages=messages, stream=True
            )
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        done = client.chat.completions.create(model=OPENAI_MODEL, messages=messages)
        return done.choices[0].message.content or ""
    bot = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-dummy-key-1", max_retries=0)
    content: Any = [{"role": "user", "content": "Say hello"}]
    if stream:
        events = bot.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=256, messages=content, stream=True
        )
        return "".join(
            e.delta.text
            for e in events
            if e.type == "content_block_delta" and e.delta.type == "text_delta"
        )
    message = bot.messages.create(model=ANTHROPIC_MODEL, max_tokens=256, messages=content)
    return "".join(b.text for b in message.content if b.type == "text")


async def _sdk_async(provider: str, stream: bool, base_url: str) -> str:
    if provider == "openai":
        client = openai.AsyncOpenAI(
            base_url=base_url + "/v1", api_key="sk-dummy-key-1", max_retries=0
        )
        messages: Any = [{"role": "user", "content": "Say hello"}]
        if stream:
            chunks = await client.chat.completions.create(
                model=OPENAI_MODEL, messages=messages, stream=True
            )
            return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
        done = await client.chat.completions.create(model=OPENAI_MODEL, messages=messages)
        return done.choices[0].message.content or ""
    bot = anthropic.AsyncAnthropic(base_url=base_url, api_key="sk-ant-dummy-key-1", max_retries=0)
    content: Any = [{"role": "user", "content": "Say hello"}]
    if stream:
        events = await bot.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=256, messages=content, stream=True
        )
        return "".join(
            [
                e.delta.text
                async for e in events
                if e.type == "content_block_delta" and e.delta.type == "text_delta"
            ]
        )
    message = await bot.messages.create(model=ANTHROPIC_MODEL, max_tokens=256, messages=content)
    return "".join(b.text for b in message.content if b.type == "text")


def _expected_text(provider: str, stream: bool) -> str:
    return {
        ("openai", True): "Hello there!",
        ("openai", False): "Hello there!",
        ("anthropic", True): "Hello from Claude.",
        ("anthropic", False): "Hello from Claude.",
    }[provider, stream]


@pytest.mark.parametrize(("provider", "stream", "scripted"), SDK_CASES)
def test_sync_sdk_session_records_the_served_chunks_and_replays_them(
    tmp_path: Path,
    paced: tuple[EmulatorServer, Emulator],
    provider: str,
    stream: bool,
    scripted: Any,
) -> None:
    server, emulator = paced
    path = tmp_path / "session.yaml"
    with record(path) as recording:
        assert _sdk_sync(provider, stream, server.base_url) == _expected_text(provider, stream)
    assert recording.saved
    recorded = _only(path)
    _assert_same_stream(recorded, scripted())
    text = path.read_text()
    assert "dummy-key" not in text
    sent = [recorded.request.header(name) for name in ("authorization", "x-api-key")]
    assert "REDACTED" in sent and set(sent) <= {"REDACTED", None}

    served = len(emulator.served)
    with record(path, mode="none"):
        assert _sdk_sync(provider, stream, server.base_url) == _expected_text(provider, stream)
    assert len(emulator.served) == served, "replay must not reach the server"


@pytest.mark.asyncio
@pytest.mark.parametrize(("provider", "stream", "scripted"), SDK_CASES)
async def test_async_sdk_session_records_the_served_chunks_and_replays_them(
    tmp_path: Path,
    paced: tuple[EmulatorServer, Emulator],
    provider: str,
    stream: bool,
    scripted: Any,
) -> None:
    server, emulator = paced
    path = tmp_path / "session.yaml"
    async with record(path):
        assert await _sdk_async(provider, stream, server.base_url) == _expected_text(
            provider, stream
        )
    _assert_same_stream(_only(path), scripted())

    served = len(emulator.served)
    async with record(path, mode="none"):
        assert await _sdk_async(provider, stream, server.base_url) == _expected_text(
            provider, stream
        )
    assert len(emulator.served) == served


def test_sdk_tool_call_stream_round_trips(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = fast
    path = tmp_path / "tool.yaml"

    def arguments() -> str:
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="sk-x", max_retries=0)
        chunks = client.chat.completions.create(
            model=OPENAI_MODEL,
            messages=[{"role": "user", "content": "Greet me"}],
            tools=[SEND_MESSAGE_TOOL],  # type: ignore[list-item]
            stream=True,
        )
        parts = []
        for chunk in chunks:
            for call in chunk.choices[0].delta.tool_calls or ():
                parts.append(call.function.arguments or "")  # type: ignore[union-attr]
        return "".join(parts)

    with record(path):
        live = arguments()
    with record(path, mode="none"):
        replayed = arguments()
    assert json.loads(live) == {
        "inner_thoughts": "The user wants a greeting.",
        "message": "Hi there!",
    }
    assert replayed == live
    assert [c.data for c in _only(path).response.body_chunks()] == [
        c.data for c in openai_tool_stream().response.body_chunks()
    ]


def test_http_error_response_is_recorded_as_it_came(
    tmp_path: Path, paced: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = paced
    path = tmp_path / "429.yaml"
    client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="sk-x", max_retries=0)
    with record(path), pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model=OPENAI_MODEL, messages=[{"role": "user", "content": "Too many"}]
        )
    recorded = _only(path)
    assert recorded.response.status == 429
    assert json.loads(recorded.response.body)["error"]["code"] == "rate"
    with record(path, mode="none"), pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model=OPENAI_MODEL, messages=[{"role": "user", "content": "Too many"}]
        )


def test_error_event_inside_a_stream_is_recorded_as_it_came(tmp_path: Path) -> None:
    emulator = Emulator.from_cassettes(
        [cassette(anthropic_text_stream())], speed=0, faults=Faults(error_after=4)
    )
    path = tmp_path / "overloaded.yaml"

    def call(base_url: str) -> list[str]:
        bot = anthropic.Anthropic(base_url=base_url, api_key="dummy", max_retries=0)
        seen: list[str] = []
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
            for event in bot.messages.create(
                model=ANTHROPIC_MODEL,
                max_tokens=256,
                messages=[{"role": "user", "content": "Say hello"}],
                stream=True,
            ):
                seen.append(event.type)
        return seen

    with EmulatorServer(emulator) as server:
        with record(path):
            live = call(server.base_url)
        with record(path, mode="none"):
            assert call(server.base_url) == live
    recorded = _only(path).response
    # Current SDKs close the body when they raise on the error event; older ones (anthropic
    # 0.50) leave it open, which the recording notes. Either way the event is kept as it came.
    assert recorded.status == 200
    assert recorded.error is None or recorded.error.startswith(
        "the recording ended while the client was still reading"
    )
    assert recorded.body_chunks()[-1].data.startswith(b"event: error\n")
    assert b"overloaded_error" in recorded.body


# -- raw clients --------------------------------------------------------------------------------


@pytest.mark.parametrize("lib", LIBS, ids=lambda m: m.__name__)
def test_raw_client_records_and_replays_chunk_boundaries_exactly(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator], lib: Any
) -> None:
    server, emulator = fast
    url = server.base_url + "/v1/chat/completions"
    body = openai_body("Say hello", stream=True)
    path = tmp_path / "raw.yaml"
    with record(path):
        live = _stream_raw(lib, url, body)
    want = [c.data for c in openai_text_stream().response.body_chunks()]
    assert live == want
    served = len(emulator.served)
    with record(path, mode="none"):
        assert _stream_raw(lib, url, body) == want
    assert len(emulator.served) == served


@pytest.mark.asyncio
@pytest.mark.parametrize("lib", LIBS, ids=lambda m: m.__name__)
async def test_raw_async_client_records_and_replays_chunk_boundaries_exactly(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator], lib: Any
) -> None:
    server, _ = fast
    url = server.base_url + "/v1/messages"
    body = json.loads(anthropic_text_stream().request.body)
    path = tmp_path / "raw.yaml"
    async with record(path):
        live = await _astream_raw(lib, url, body)
    want = [c.data for c in anthropic_text_stream().response.body_chunks()]
    assert live == want
    async with record(path, mode="none"):
        assert await _astream_raw(lib, url, body) == want


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=12))
def test_replay_reproduces_any_chunking(tmp_path: Path, pieces: list[bytes]) -> None:
    path = tmp_path / "any.yaml"
    response = RecordedResponse(
        200,
        "OK",
        {"content-type": ["application/octet-stream"]},
        b"".join(pieces),
        [BodyChunk(float(i), p) for i, p in enumerate(pieces)],
    )
    request = RecordedRequest("GET", "http://127.0.0.1:9/any", {}, b"")
    save_cassette(Cassette([Interaction(request, response)]), path)
    with (
        record(path, mode="none"),
        httpx2.Client() as client,
        client.stream("GET", "http://127.0.0.1:9/any") as live,
    ):
        assert list(live.iter_raw()) == pieces


@pytest.mark.parametrize("lib", LIBS, ids=lambda m: m.__name__)
def test_first_chunk_reaches_the_caller_before_the_server_sends_the_second(
    tmp_path: Path, lib: Any
) -> None:
    gate = threading.Event()
    opened_in_time: list[bool] = []

    def wait_for_client() -> None:
        opened_in_time.append(gate.wait(timeout=5))

    with loopback() as server:
        server.scripts["/gated"] = Script(
            pieces=[b"data: first\n\n", b"data: second\n\n"], before={1: wait_for_client}
        )
        reads: list[bytes] = []
        with (
            record(tmp_path / "gated.yaml"),
            lib.Client() as client,
            client.stream("GET", server.base_url + "/gated") as response,
        ):
            for part in response.iter_raw():
                reads.append(part)
                gate.set()
    assert opened_in_time == [True], "the first chunk was held back until the stream ended"
    assert reads == [b"data: first\n\n", b"data: second\n\n"]
    chunks = _only(tmp_path / "gated.yaml").response.body_chunks()
    assert [c.data for c in chunks] == reads
    assert chunks[0].offset_ms <= chunks[1].offset_ms


@pytest.mark.asyncio
async def test_first_chunk_reaches_an_async_caller_before_the_second_is_sent(
    tmp_path: Path,
) -> None:
    gate = threading.Event()
    opened_in_time: list[bool] = []
    with loopback() as server:
        server.scripts["/gated"] = Script(
            pieces=[b"data: first\n\n", b"data: second\n\n"],
            before={1: lambda: opened_in_time.append(gate.wait(timeout=5))},
        )
        async with (
            record(tmp_path / "gated.yaml"),
            httpx2.AsyncClient() as client,
            client.stream("GET", server.base_url + "/gated") as response,
        ):
            async for _ in response.aiter_raw():
                gate.set()
    assert opened_in_time == [True]


def test_gzip_body_is_stored_decoded_per_read(tmp_path: Path) -> None:
    parts = [b"data: one\n\n", b"data: two\n\n", b"data: [DONE]\n\n"]
    path = tmp_path / "gzip.yaml"
    with loopback() as server:
        server.scripts["/gz"] = Script(
            pieces=gzip_pieces(parts),
            headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
        )
        with (
            record(path),
            httpx2.Client() as client,
            client.stream("GET", server.base_url + "/gz") as response,
        ):
            decoded = list(response.iter_bytes())
    assert b"".join(decoded) == b"".join(parts)
    recorded = _only(path).response
    assert [c.data for c in recorded.body_chunks()] == parts
    assert recorded.header("content-encoding") is None
    with record(path, mode="none"), httpx.Client() as client:
        replayed = client.get(server.base_url + "/gz")
    assert replayed.content == b"".join(parts)
    assert "content-encoding" not in replayed.headers


def test_cut_stream_is_recorded_with_what_arrived_and_replays_the_cut(tmp_path: Path) -> None:
    path = tmp_path / "cut.yaml"
    parts = [b"data: one\n\n", b"data: two\n\n", b"data: three\n\n"]
    with loopback() as server:
        server.scripts["/cut"] = Script(pieces=parts, cut_after=2)
        got: list[bytes] = []
        with (
            record(path),
            httpx2.Client() as client,
            pytest.raises(httpx2.RemoteProtocolError),
            client.stream("GET", server.base_url + "/cut") as response,
        ):
            got.extend(response.iter_raw())
        assert got == parts[:2]
    recorded = _only(path).response
    assert [c.data for c in recorded.body_chunks()] == parts[:2]
    assert recorded.error is not None and recorded.error.startswith("RemoteProtocolError")

    replayed: list[bytes] = []
    with (
        record(path, mode="none"),
        httpx.Client() as client,
        pytest.raises(httpx.RemoteProtocolError, match="peer closed"),
        client.stream("GET", server.base_url + "/cut") as response,
    ):
        replayed.extend(response.iter_raw())
    assert replayed == parts[:2]


def test_a_cut_stream_escaping_the_block_is_saved_after_what_was_there(tmp_path: Path) -> None:
    path = tmp_path / "cut.yaml"
    with loopback() as server:
        server.scripts["/cut"] = Script(pieces=[b"data: 1\n\n", b"data: 2\n\n"], cut_after=1)
        server.scripts["/ok"] = Script(pieces=[b"data: ok\n\n"])
        with record(path):
            httpx.get(server.base_url + "/ok")
        recording = record(path, mode="new_episodes")
        with pytest.raises(httpx.RemoteProtocolError) as raised, recording:
            httpx.get(server.base_url + "/cut")
    assert recording.saved and recording.failure is raised.value
    saved = load_cassette(path).interactions
    assert [urlsplit(i.request.uri).path for i in saved] == ["/ok", "/cut"]
    cut = saved[1].response
    assert [c.data for c in cut.body_chunks()] == [b"data: 1\n\n"]
    assert cut.error is not None and cut.error.startswith("RemoteProtocolError")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.yaml"]


def test_any_exception_after_a_cut_stream_keeps_the_cut_stream(tmp_path: Path) -> None:
    # Which exchange an exception is about is not asked of the exception (SDKs raise with
    # copies of their requests): a block that raises after a failed exchange keeps it.
    path = tmp_path / "cut.yaml"
    with loopback() as server:
        server.scripts["/cut"] = Script(pieces=[b"data: 1\n\n", b"data: 2\n\n"], cut_after=1)
        with pytest.raises(KeyError), record(path):
            with pytest.raises(httpx.RemoteProtocolError):
                httpx.get(server.base_url + "/cut")
            raise KeyError("a bug in the caller's own code")
    (saved,) = load_cassette(path).interactions
    assert saved.response.error is not None


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", lambda parts: gzip_pieces(parts)),
        ("deflate", lambda parts: _deflate(parts, zlib.MAX_WBITS)),
        ("deflate", lambda parts: _deflate(parts, -zlib.MAX_WBITS)),
        ("identity", lambda parts: parts),
        ("gzip, identity", lambda parts: gzip_pieces(parts)),
    ],
)
def test_body_decoder_undoes_each_encoding_read_by_read(encoding: str, encode: Any) -> None:
    parts = [b"data: alpha\n\n", b"data: beta\n\n", b"data: gamma\n\n"]
    decoder = BodyDecoder(encoding)
    out = [decoder.feed(piece) for piece in encode(parts)]
    out[-1] += decoder.flush()
    assert out == parts
    assert decoder.decodes == (encoding != "identity")
    assert decoder.failed is None


def _deflate(parts: list[bytes], wbits: int) -> list[bytes]:
    compressor = zlib.compressobj(wbits=wbits)
    out = [compressor.compress(p) + compressor.flush(zlib.Z_SYNC_FLUSH) for p in parts]
    out[-1] += compressor.flush()
    return out


def test_body_decoder_handles_concatenated_gzip_members_and_unknown_encodings() -> None:
    members = gzip.compress(b"one ") + gzip.compress(b"two")
    decoder = BodyDecoder("gzip")
    assert decoder.feed(members) + decoder.flush() == b"one two"
    unknown = BodyDecoder("compress")
    assert unknown.feed(b"\x1f\x9d raw") == b"\x1f\x9d raw"
    assert not unknown.decodes
    corrupt = BodyDecoder("gzip")
    assert corrupt.feed(b"not gzip at all") == b""
    assert corrupt.failed is not None and corrupt.failed.startswith("cannot decode the body")


def test_cut_stream_through_the_emulator_reaches_the_openai_sdk(tmp_path: Path) -> None:
    emulator = Emulator.from_cassettes(
        [cassette(openai_text_stream())], speed=0, faults=Faults(disconnect_after=3)
    )
    path = tmp_path / "cut.yaml"
    with EmulatorServer(emulator) as server, record(path):
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="sk-x", max_retries=0)
        # openai 3 wraps the transport error; releases before it let it through.
        cut = (openai.APIConnectionError, httpx.TransportError, httpx2.TransportError)
        with pytest.raises(cut) as raised:
            for _ in client.chat.completions.create(
                model=OPENAI_MODEL, messages=[{"role": "user", "content": "Say hello"}], stream=True
            ):
                pass
    transport = raised.value.__cause__ or raised.value
    assert "incomplete chunked read" in str(transport)
    recorded = _only(path).response
    assert len(recorded.body_chunks()) == 3
    assert recorded.error is not None and "incomplete chunked read" in recorded.error


# -- the pure session: decisions without transports --------------------------------------------

NOW = datetime(2025, 6, 1, tzinfo=UTC)
KNOWN = RecordedRequest("POST", OPENAI_URL, {}, b'{"model": "m"}')
UNKNOWN = RecordedRequest("POST", OPENAI_URL, {}, b'{"model": "other"}')


def _loaded() -> Cassette:
    return Cassette([Interaction(KNOWN, RecordedResponse(200, "OK", {}, b"old"))])


@pytest.mark.parametrize(
    ("mode", "has_file", "request_", "decision"),
    [
        (RecordMode.NONE, True, KNOWN, "replay"),
        (RecordMode.NONE, True, UNKNOWN, "no match"),
        (RecordMode.NONE, False, KNOWN, "no match"),
        (RecordMode.ONCE, True, KNOWN, "replay"),
        (RecordMode.ONCE, True, UNKNOWN, "no match"),
        (RecordMode.ONCE, False, KNOWN, "capture"),
        (RecordMode.NEW_EPISODES, True, KNOWN, "replay"),
        (RecordMode.NEW_EPISODES, True, UNKNOWN, "capture"),
        (RecordMode.ALL, True, KNOWN, "capture"),
    ],
)
def test_session_decides_by_mode(
    mode: RecordMode, has_file: bool, request_: RecordedRequest, decision: str
) -> None:
    session = Session(mode=mode, loaded=_loaded() if has_file else None)
    if decision == "no match":
        with pytest.raises(NoMatchError):
            session.begin(request_, now=NOW)
        return
    ticket = session.begin(request_, now=NOW)
    assert isinstance(ticket, Replay if decision == "replay" else Capture)


def test_session_result_scrubs_and_orders_what_it_recorded() -> None:
    session = Session(mode=RecordMode.ALL, loaded=_loaded())
    assert session.result(now=NOW) is None
    first = session.begin(
        RecordedRequest("POST", OPENAI_URL, {"authorization": ["Bearer sk-abcdef123"]}, KNOWN.body),
        now=NOW,
    )
    second = session.begin(UNKNOWN, now=NOW)
    assert isinstance(first, Capture) and isinstance(second, Capture)
    second.response_started(200, "OK", {"content-encoding": ["gzip"]}, decoded=True)
    second.chunk(1.0, b"b1")
    second.finish()
    first.response_started(500, "", {}, decoded=False)
    first.chunk(2.0, b"echo sk-abcdef123")
    first.finish("ReadError: gone")
    saved = session.result(now=NOW, tool_version="9")
    assert saved is not None
    # The loaded interaction matched the re-recorded one, so only the new ones remain.
    assert [i.request.body for i in saved.interactions] == [KNOWN.body, UNKNOWN.body]
    assert saved.interactions[0].request.headers["authorization"] == ["REDACTED"]
    assert saved.interactions[0].response.body == b"echo REDACTED"
    assert saved.interactions[0].response.error == "ReadError: gone"
    assert saved.interactions[1].response.headers == {}
    assert saved.info.recorded_against == "https://api.openai.com"
    assert saved.info.tool_version == "9" and saved.info.recorded_at == NOW


def test_a_body_still_being_read_when_the_recording_ends_is_marked() -> None:
    session = Session(mode=RecordMode.ONCE, loaded=None)
    capture = session.begin(KNOWN, now=NOW)
    assert isinstance(capture, Capture)
    capture.response_started(200, "OK", {}, decoded=False)
    capture.chunk(1.0, b"partial")
    saved = session.result(now=NOW)
    assert saved is not None
    assert saved.interactions[0].response.error is not None
    session.cancel(capture)
    assert session.result(now=NOW) is None


def test_negative_speed_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="speed"):
        Session(mode=RecordMode.NONE, loaded=None, speed=-1)


# -- modes ---------------------------------------------------------------------------------------


def test_mode_defaults_to_once_and_to_none_under_ci() -> None:
    assert resolve_mode(None, {}) is RecordMode.ONCE
    assert resolve_mode(None, {"CI": "true"}) is RecordMode.NONE
    assert resolve_mode(None, {"CI": "1"}) is RecordMode.NONE
    assert resolve_mode(None, {"CI": "false"}) is RecordMode.ONCE
    assert resolve_mode("all", {"CI": "true"}) is RecordMode.ALL
    assert resolve_mode(RecordMode.NEW_EPISODES, {"CI": "true"}) is RecordMode.NEW_EPISODES
    with pytest.raises(ConfigurationError, match="expected a mode among"):
        resolve_mode("sometimes", {})


def test_ci_default_refuses_to_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = fast
    monkeypatch.setenv("CI", "true")
    path = tmp_path / "ci.yaml"
    with record(path) as recording, pytest.raises(NoMatchError, match="got no file"):
        httpx.post(
            server.base_url + "/v1/chat/completions", json=openai_body("Say hello", stream=False)
        )
    assert recording.mode is RecordMode.NONE
    assert not path.exists()
    with record(path, mode="once"):
        httpx.post(
            server.base_url + "/v1/chat/completions", json=openai_body("Say hello", stream=False)
        )
    assert path.exists()


def _post(server: EmulatorServer, prompt: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(
        server.base_url + "/v1/chat/completions",
        json=openai_body(prompt, stream=False, **kwargs),
    )


def test_once_records_a_new_cassette_then_only_replays(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, emulator = fast
    path = tmp_path / "once.yaml"
    with record(path, mode="once"):
        assert _post(server, "Say hello").status_code == 200
    before = path.read_bytes()
    served = len(emulator.served)
    with record(path, mode="once") as again:
        assert _post(server, "Say hello").json()["choices"][0]["message"]["content"]
        with pytest.raises(NoMatchError) as missing:
            _post(server, "Say hello", temperature=0.5)
    assert len(emulator.served) == served
    assert again.session.played == [0]
    assert path.read_bytes() == before
    text = str(missing.value)
    assert "cannot answer POST" in text and "body (temperature)" in text
    assert "new_episodes" in text


def test_new_episodes_replays_known_requests_and_appends_new_ones(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, emulator = fast
    path = tmp_path / "episodes.yaml"
    with record(path):
        _post(server, "Say hello")
    served = len(emulator.served)
    with record(path, mode="new_episodes"):
        _post(server, "Say hello")
        streamed = httpx.post(
            server.base_url + "/v1/messages", json=json.loads(anthropic_json().request.body)
        )
        assert streamed.status_code == 200
    assert len(emulator.served) == served + 1
    uris = [i.request.uri.rsplit("/", 1)[1] for i in load_cassette(path).interactions]
    assert uris == ["completions", "messages"]


def test_all_rerecords_matching_requests_and_keeps_the_rest(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, emulator = fast
    path = tmp_path / "all.yaml"
    url = server.base_url + "/v1/chat/completions"
    stale = Interaction(
        RecordedRequest(
            "POST", url, {}, json.dumps(openai_body("Say hello", stream=False)).encode()
        ),
        RecordedResponse(200, "OK", {}, b'{"stale": true}'),
    )
    other = Interaction(
        RecordedRequest("GET", server.base_url + "/v1/models", {}, b""),
        RecordedResponse(200, "OK", {}, b'{"data": []}'),
    )
    save_cassette(Cassette([stale, other]), path)
    served = len(emulator.served)
    with record(path, mode="all"):
        fresh = _post(server, "Say hello")
    assert len(emulator.served) == served + 1
    saved = load_cassette(path).interactions
    assert [i.request.method for i in saved] == ["GET", "POST"]
    assert saved[1].response.body == fresh.content


def test_none_replays_and_never_writes(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = fast
    path = tmp_path / "none.yaml"
    with record(path, mode="none"), pytest.raises(NoMatchError, match="got no file"):
        _post(server, "Say hello")
    assert not path.exists()
    with record(path, mode="once"):
        _post(server, "Say hello")
    before = path.read_bytes()
    with record(path, mode="none") as replaying:
        assert _post(server, "Say hello").status_code == 200
    assert not replaying.saved
    assert path.read_bytes() == before


def test_repeated_identical_requests_replay_in_order(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/v1/chat/completions"
    body = json.dumps(openai_body("again", stream=False)).encode()
    answers = [b'{"n": 1}', b'{"n": 2}']
    save_cassette(
        Cassette(
            [
                Interaction(
                    RecordedRequest("POST", url, {}, body), RecordedResponse(200, "OK", {}, a)
                )
                for a in answers
            ]
        ),
        tmp_path / "twice.yaml",
    )
    with record(tmp_path / "twice.yaml", mode="none"), httpx.Client() as client:
        got = [client.post(url, content=body).content for _ in range(2)]
        with pytest.raises(NoMatchError, match="already played"):
            client.post(url, content=body)
    assert got == answers


def test_volatile_body_keys_do_not_prevent_a_replay(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = fast
    path = tmp_path / "volatile.yaml"
    with record(path):
        _post(server, "Say hello", user="alice")
    with record(path, mode="none"):
        assert _post(server, "Say hello", user="bob").status_code == 200


# -- atomicity and concurrency --------------------------------------------------------------------


def test_an_exception_inside_the_block_leaves_the_previous_cassette_intact(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = fast
    path = tmp_path / "kept.yaml"
    with record(path):
        _post(server, "Say hello")
    before = path.read_bytes()
    with pytest.raises(RuntimeError), record(path, mode="all"):
        _post(server, "Say hello")
        raise RuntimeError("test failed half-way")
    assert path.read_bytes() == before
    fresh = tmp_path / "fresh.yaml"
    with pytest.raises(RuntimeError), record(fresh):
        _post(server, "Say hello")
        raise RuntimeError("boom")
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.yaml"]


@pytest.mark.asyncio
async def test_parallel_streams_become_separate_complete_interactions_in_start_order(
    tmp_path: Path,
) -> None:
    sources = [openai_text_stream(f"prompt {n}", words=(f"w{n}a", f"w{n}b")) for n in range(3)]
    emulator = Emulator.from_cassettes([cassette(*sources)], speed=1.0)
    path = tmp_path / "gather.yaml"
    with EmulatorServer(emulator) as server:
        url = server.base_url + "/v1/chat/completions"

        async def one(n: int) -> list[bytes]:
            await asyncio.sleep(0.01 * n)
            return await _astream_raw(httpx2, url, openai_body(f"prompt {n}", stream=True))

        async with record(path):
            results = await asyncio.gather(one(2), one(0), one(1))
    saved = load_cassette(path).interactions
    assert [json.loads(i.request.body)["messages"][0]["content"] for i in saved] == [
        "prompt 0",
        "prompt 1",
        "prompt 2",
    ]
    for n, interaction in enumerate(saved):
        assert interaction.response.body == sources[n].response.body
        assert [c.data for c in interaction.response.body_chunks()] == [
            c.data for c in sources[n].response.body_chunks()
        ]
    assert [b"".join(r) for r in results] == [sources[n].response.body for n in (2, 0, 1)]


def test_replay_speed_scales_the_recorded_pace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = openai_text_stream()
    for chunk in source.response.body_chunks():
        chunk.offset_ms *= 20  # the last chunk is due after about 1.8 s at speed 1
    path = tmp_path / "paced.yaml"
    save_cassette(cassette(source), path)
    # The provider's own URL: a replay never opens a connection.
    url = OPENAI_URL
    body = openai_body("Say hello", stream=True)
    with record(path, mode="none", speed=0.05), httpx.Client() as client:
        start = time.perf_counter()
        arrivals = []
        with client.stream("POST", url, json=body) as response:
            for _ in response.iter_raw():
                arrivals.append((time.perf_counter() - start) * 1000)
    offsets = [c.offset_ms for c in source.response.body_chunks()]
    assert all(a >= 0.05 * o - 1 for a, o in zip(arrivals, offsets, strict=True))
    # Without a speed the replay does not wait at all: no sleep is asked for (what the code
    # does, rather than how long a loaded machine took).
    waits: list[float] = []
    monkeypatch.setattr(interception.time, "sleep", waits.append)
    with record(path, mode="none"), httpx.Client() as client:
        client.post(url, json=body)
    assert waits == []
    with record(path, mode="none", speed=0.05), httpx.Client() as client:
        client.post(url, json=body)
    # Each wait runs to its chunk's scaled offset, never past the last one's.
    assert waits and max(waits) <= 0.05 * offsets[-1] / 1000


def test_nested_recordings_answer_from_the_innermost(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = fast
    with record(tmp_path / "outer.yaml"):
        with record(tmp_path / "inner.yaml"):
            _post(server, "Say hello")
        _post(server, "Say hello", temperature=1)
    assert len(load_cassette(tmp_path / "inner.yaml").interactions) == 1
    assert len(load_cassette(tmp_path / "outer.yaml").interactions) == 1


def test_clients_outside_a_recording_are_untouched(fast: tuple[EmulatorServer, Emulator]) -> None:
    server, _ = fast
    assert httpx.HTTPTransport.handle_request.__name__ == "handle_request"
    assert _post(server, "Say hello").status_code == 200
    assert httpx2.AsyncHTTPTransport.handle_async_request.__qualname__.startswith(
        "AsyncHTTPTransport"
    )


def test_a_recording_cannot_start_twice(tmp_path: Path) -> None:
    recording = Recording(tmp_path / "x.yaml")
    with recording, pytest.raises(RecordingError, match="already running"):
        recording.start()


# -- record_session and %%record ------------------------------------------------------------------


def test_record_session_streams_text_live_and_writes_one_interaction(
    tmp_path: Path, paced: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = paced
    seen: list[str] = []
    result = record_session(
        "openai",
        model=OPENAI_MODEL,
        prompt="Say hello",
        base_url=server.base_url + "/v1",
        output=tmp_path / "session.yaml",
        on_message=seen.append,
        environ={"OPENAI_API_KEY": "sk-from-env-123"},
    )
    assert seen == ["", "Hel", "lo", " there", "!"][1:]
    assert result.text == "Hello there!" and result.interactions == 1 and result.saved
    assert "sk-from-env-123" not in (tmp_path / "session.yaml").read_text()


@pytest.mark.parametrize("stream", [True, False])
def test_record_session_anthropic(
    tmp_path: Path, paced: tuple[EmulatorServer, Emulator], stream: bool
) -> None:
    server, _ = paced
    seen: list[str] = []
    result = record_session(
        "anthropic",
        model=ANTHROPIC_MODEL,
        prompt="Say hello",
        base_url=server.base_url,
        output=tmp_path / "session.yaml",
        stream=stream,
        max_tokens=256,
        on_message=seen.append,
        environ={"ANTHROPIC_API_KEY": "sk-ant-from-env"},
    )
    assert "".join(seen) == result.text == "Hello from Claude."
    assert len(seen) == (4 if stream else 1)


def test_record_session_with_tools_from_a_file(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, _ = fast
    tools = tmp_path / "tools.json"
    anthropic_shape = {
        "name": "send_message",
        "description": SEND_MESSAGE_TOOL["function"]["description"],  # type: ignore[index]
        "input_schema": SEND_MESSAGE_TOOL["function"]["parameters"],  # type: ignore[index]
    }
    tools.write_text(json.dumps({"tools": [anthropic_shape]}))
    assert load_tools(tools, "openai") == [SEND_MESSAGE_TOOL]
    assert load_tools(tools, "anthropic") == [anthropic_shape]
    result = record_session(
        "openai-compatible",
        model=OPENAI_MODEL,
        prompt="Greet me",
        base_url=server.base_url + "/v1",
        tools=tools,
        output=tmp_path / "tools.yaml",
        environ={"OPENAI_API_KEY": "sk-x"},
    )
    assert result.text == ""
    assert b"send_message" in _only(tmp_path / "tools.yaml").response.body


def test_record_session_needs_a_key_and_a_known_provider(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=r"expected an API key in \$ANTHROPIC_API_KEY"):
        record_session("anthropic", model="m", prompt="p", output=tmp_path / "x.yaml", environ={})
    with pytest.raises(ConfigurationError, match="expected a base URL"):
        record_session(
            "openai-compatible", model="m", prompt="p", output=tmp_path / "x.yaml", environ={}
        )
    with pytest.raises(ConfigurationError, match="expected a provider"):
        record_session("mistral", model="m", prompt="p", output=tmp_path / "x.yaml")  # type: ignore[arg-type]
    assert not (tmp_path / "x.yaml").exists()


def test_record_magic_records_the_cell_and_replays_it(
    tmp_path: Path, fast: tuple[EmulatorServer, Emulator]
) -> None:
    server, emulator = fast
    shell = InteractiveShell.instance()
    load_ipython_extension(shell)
    path = tmp_path / "cell.yaml"
    shell.user_ns["url"] = server.base_url + "/v1/chat/completions"
    shell.user_ns["body"] = openai_body("Say hello", stream=True)
    cell = "import httpx\nreply = httpx.post(url, json=body).text\n"
    shell.run_cell_magic("record", f"{path} --mode once", cell)
    recorded = shell.user_ns["reply"]
    assert recorded == openai_text_stream().response.body.decode()
    assert _only(path).response.body == recorded.encode()

    served = len(emulator.served)
    shell.user_ns["reply"] = None
    shell.run_cell_magic("record", f"{path} --mode=none", cell)
    assert shell.user_ns["reply"] == recorded
    assert len(emulator.served) == served

    failing = tmp_path / "failed.yaml"
    shell.run_cell_magic("record", str(failing), cell + "raise ValueError('cell failed')\n")
    assert not failing.exists()


def test_record_magic_arguments() -> None:
    assert parse_arguments("c.yaml").path == "c.yaml"
    parsed = parse_arguments("'my cassettes/c.yaml' --mode all --speed=0.5")
    assert (parsed.path, parsed.mode, parsed.speed) == ("my cassettes/c.yaml", RecordMode.ALL, 0.5)
    for bad in ("", "--mode", "c.yaml --mode maybe", "a.yaml b.yaml", "c.yaml --fast"):
        with pytest.raises(ConfigurationError, match="cannot parse %%record"):
            parse_arguments(bad)
