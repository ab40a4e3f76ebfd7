"""The provider emulator: scripted cassettes served on 127.0.0.1, paced, with faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import anthropic
import httpx
import openai
import pytest
from recording_support import (
    ANTHROPIC_MODEL,
    OPENAI_MODEL,
    OPENAI_URL,
    SEND_MESSAGE_TOOL,
    all_scripted,
    anthropic_text_stream,
    cassette,
    openai_body,
    openai_text_stream,
    openai_tool_stream,
)
from streamreel.cassettes.storage import load_cassette, save_cassette
from streamreel.core.cassette import Interaction
from streamreel.core.chunks import StreamFault
from streamreel.core.errors import ConfigurationError
from streamreel.core.providers import StreamDecoder, detect_stream
from streamreel.recording.emulator import Emulator, EmulatorServer, Faults, error_event, serve


@pytest.fixture(scope="module")
def fast_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator.from_cassettes([all_scripted()], speed=0)) as server:
        yield server


def _post_stream(base_url: str, body: dict[str, object]) -> list[tuple[float, bytes]]:
    reads: list[tuple[float, bytes]] = []
    with httpx.Client(base_url=base_url) as client:
        start = time.perf_counter()
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            for data in response.iter_raw():
                reads.append(((time.perf_counter() - start) * 1000, data))
    return reads


def test_each_recorded_chunk_arrives_as_one_read_at_its_pace() -> None:
    source = openai_text_stream()
    chunks = source.response.body_chunks()
    with EmulatorServer(Emulator.from_cassettes([cassette(source)], speed=1.0)) as server:
        reads = _post_stream(server.base_url, openai_body("Say hello", stream=True))
    assert [data for _, data in reads] == [c.data for c in chunks]
    # The first read also carries connecting and the server's first request: allow for that,
    # then hold every chunk to the recorded pace after it.
    lag = reads[0][0] - chunks[0].offset_ms
    assert lag < 2000
    for (arrived, _), chunk in zip(reads, chunks, strict=True):
        # Never early. Late only by scheduling noise: the bound is there to catch chunks held
        # back until the end, so it is seconds, not milliseconds, on a loaded shared machine.
        assert arrived >= chunk.offset_ms - 1
        assert arrived <= chunk.offset_ms + lag + 2000


def test_speed_scales_the_pace() -> None:
    source = openai_text_stream()
    last = source.response.body_chunks()[-1].offset_ms
    with EmulatorServer(Emulator.from_cassettes([cassette(source)], speed=3.0)) as server:
        reads = _post_stream(server.base_url, openai_body("Say hello", stream=True))
    assert reads[-1][0] >= 3 * last - 1


def test_speed_zero_sends_everything_at_once() -> None:
    source = openai_text_stream()
    for chunk in source.response.body_chunks():
        chunk.offset_ms *= 20  # the last chunk is due after about 1.8 s
    with EmulatorServer(Emulator.from_cassettes([cassette(source)], speed=0)) as server:
        reads = _post_stream(server.base_url, openai_body("Say hello", stream=True))
    assert b"".join(d for _, d in reads) == source.response.body
    assert reads[-1][0] < source.response.body_chunks()[-1].offset_ms / 2


def test_origin_and_credentials_do_not_matter(fast_server: EmulatorServer) -> None:
    with httpx.Client() as client:
        response = client.post(
            fast_server.base_url + "/v1/chat/completions",
            json=openai_body("Say hello", stream=False),
            headers={"authorization": "Bearer sk-anything", "x-api-key": "other"},
        )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello there!"


def test_repeats_are_served_in_order_then_start_over() -> None:
    first = openai_text_stream(words=("one",))
    second = openai_text_stream(words=("two",))
    emulator = Emulator.from_cassettes([cassette(first, second)], speed=0)
    with EmulatorServer(emulator) as server:
        bodies = [
            b"".join(
                d for _, d in _post_stream(server.base_url, openai_body("Say hello", stream=True))
            )
            for _ in range(3)
        ]
    assert bodies == [first.response.body, second.response.body, first.response.body]
    assert emulator.served == [0, 1, 0]


def test_unmatched_request_gets_an_openai_error_naming_the_nearest(
    fast_server: EmulatorServer,
) -> None:
    with httpx.Client(base_url=fast_server.base_url) as client:
        wrong_body = client.post(
            "/v1/chat/completions", json=openai_body("Say goodbye", stream=True)
        )
        wrong_path = client.post("/v1/embeddings", json={"input": "x"})
    assert wrong_body.status_code == 400
    error = wrong_body.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "no_recorded_interaction"
    assert "messages[0].content" in error["message"]
    assert "/v1/chat/completions" in error["message"]
    assert wrong_path.status_code == 404
    assert "path (/v1/embeddings" in wrong_path.json()["error"]["message"]


def test_unmatched_request_surfaces_through_the_openai_sdk(fast_server: EmulatorServer) -> None:
    client = openai.OpenAI(base_url=fast_server.base_url + "/v1", api_key="sk-dummy", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="nearest"):
        client.chat.completions.create(
            model=OPENAI_MODEL, messages=[{"role": "user", "content": "Unrecorded"}]
        )


def test_disconnect_after_n_chunks_cuts_the_connection() -> None:
    source = openai_text_stream()
    emulator = Emulator.from_cassettes(
        [cassette(source)], speed=0, faults=Faults(disconnect_after=2)
    )
    received: list[bytes] = []
    request = openai_body("Say hello", stream=True)
    with (
        EmulatorServer(emulator) as server,
        httpx.Client(base_url=server.base_url) as client,
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/v1/chat/completions", json=request) as response,
    ):
        received.extend(response.iter_raw())
    assert received == [c.data for c in source.response.body_chunks()[:2]]


def test_error_after_n_chunks_in_anthropic_format_reaches_the_sdk() -> None:
    emulator = Emulator.from_cassettes(
        [cassette(anthropic_text_stream())], speed=0, faults=Faults(error_after=4)
    )
    texts: list[str] = []
    with EmulatorServer(emulator) as server:
        client = anthropic.Anthropic(base_url=server.base_url, api_key="dummy", max_retries=0)
        with pytest.raises(anthropic.APIStatusError, match="Overloaded") as raised:
            stream = client.messages.create(
                model=ANTHROPIC_MODEL,
                max_tokens=256,
                messages=[{"role": "user", "content": "Say hello"}],
                stream=True,
            )
            for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    texts.append(event.delta.text)
    assert texts == ["Hello"]
    assert "overloaded_error" in str(raised.value.body)


def test_error_after_n_chunks_in_openai_format_reaches_the_sdk() -> None:
    emulator = Emulator.from_cassettes(
        [cassette(openai_tool_stream())], speed=0, faults=Faults(error_after=3)
    )
    pieces: list[str] = []
    with EmulatorServer(emulator) as server:
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="dummy", max_retries=0)
        with pytest.raises(openai.APIError, match="server had an error"):
            stream = client.chat.completions.create(
                model=OPENAI_MODEL,
                messages=[{"role": "user", "content": "Greet me"}],
                tools=[SEND_MESSAGE_TOOL],  # type: ignore[list-item]
                stream=True,
            )
            for chunk in stream:
                for call in chunk.choices[0].delta.tool_calls or ():
                    pieces.append(call.function.arguments or "")  # type: ignore[union-attr]
    assert "".join(pieces) == '{"inner_thoughts": "The user'


def test_error_events_follow_each_provider_format() -> None:
    anthropic_event = error_event("anthropic")
    assert anthropic_event.startswith(b"event: error\ndata: ")
    data = json.loads(anthropic_event.split(b"data: ", 1)[1])
    assert data == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    openai_event = error_event("openai")
    assert openai_event.startswith(b"data: {") and openai_event.endswith(b"\n\n")
    assert set(json.loads(openai_event[6:])) == {"error"}


def test_hop_by_hop_and_length_headers_are_not_forwarded() -> None:
    source = openai_text_stream()
    source.response.headers.update(
        {"connection": ["close"], "content-length": ["999"], "openai-processing-ms": ["42"]}
    )
    with (
        EmulatorServer(Emulator.from_cassettes([cassette(source)], speed=0)) as server,
        httpx.Client() as client,
    ):
        response = client.post(
            server.base_url + "/v1/chat/completions", json=openai_body("Say hello", stream=True)
        )
    assert response.headers["openai-processing-ms"] == "42"
    assert response.headers["x-request-id"] == "req_synthetic"
    assert "content-length" not in response.headers
    assert response.headers.get("connection") != "close"
    assert response.content == source.response.body


def test_serve_loads_a_folder_and_stops_on_request(tmp_path: Path) -> None:
    save_cassette(cassette(openai_text_stream()), tmp_path / "a" / "openai.yaml")
    save_cassette(cassette(anthropic_text_stream()), tmp_path / "anthropic.yaml")
    ready: list[str] = []
    started = threading.Event()
    stop = threading.Event()

    def on_ready(url: str) -> None:
        ready.append(url)
        started.set()

    thread = threading.Thread(
        target=serve, args=(tmp_path,), kwargs={"speed": 0, "on_ready": on_ready, "stop": stop}
    )
    thread.start()
    try:
        assert started.wait(10)
        with httpx.Client(base_url=ready[0]) as client:
            a = client.post("/v1/messages", json=json.loads(anthropic_text_stream().request.body))
            o = client.post("/v1/chat/completions", json=openai_body("Say hello", stream=True))
        assert a.content == anthropic_text_stream().response.body
        assert o.content == openai_text_stream().response.body
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_serve_refuses_a_path_without_cassettes(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot serve"):
        serve(tmp_path)
    with pytest.raises(ConfigurationError, match="got nothing there"):
        serve(tmp_path / "missing.yaml")


def test_bad_options_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="speed"):
        Emulator([], speed=-1)
    with pytest.raises(ConfigurationError, match="disconnect_after"):
        Faults(disconnect_after=-1)


def test_port_zero_picks_a_free_port_and_stop_releases_it() -> None:
    server = EmulatorServer(Emulator.from_cassettes([all_scripted()], speed=0)).start()
    try:
        assert server.port != 0
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.running
    finally:
        server.stop()
    assert not server.running


def test_the_emulator_answers_the_scripted_openai_url_path() -> None:
    # The scripted cassettes name the real provider origin; only the path reaches the emulator.
    assert OPENAI_URL.endswith("/v1/chat/completions")


# -- each API gets its own error, and a key in the URL is a credential ----------------------------

BUNDLED = Path(__file__).resolve().parent.parent / "cassettes"


def _first_of(name: str) -> Interaction:
    return load_cassette(BUNDLED / name).interactions[0]


def _send(server: EmulatorServer, recorded: Interaction, *, query: str | None = None) -> bytes:
    parts = urlsplit(recorded.request.uri)
    wanted = parts.query if query is None else query
    url = server.base_url + parts.path + (f"?{wanted}" if wanted else "")
    response = httpx.post(url, content=recorded.request.body, headers={"x-goog-api-key": "k"})
    assert response.status_code == recorded.response.status, response.text
    return response.content


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("openai-send-message-inner-thoughts.yaml", b'data: {"error": {"message"'),
        ("openai-responses-function-call.yaml", b'event: error\ndata: {"type": "error"'),
        (
            "anthropic-thinking-tool-use.yaml",
            b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error"',
        ),
        ("gemini-sse-function-call.yaml", b'data: {"error": {"code": 503'),
        ("ollama-chat-ndjson.yaml", b'{"error": "an error was encountered'),
    ],
)
def test_error_after_injects_the_error_shape_of_the_recorded_api(name: str, shape: bytes) -> None:
    recorded = _first_of(name)
    sent = [c.data for c in recorded.response.body_chunks() if c.data][:1]
    emulator = Emulator([recorded], speed=0, faults=Faults(error_after=1))
    with EmulatorServer(emulator) as server:
        body = _send(server, recorded)
    assert body.startswith(b"".join(sent))
    injected = body[len(b"".join(sent)) :]
    assert injected.startswith(shape)
    if not name.startswith("anthropic"):
        assert b"overloaded_error" not in injected
    # streamreel's own decoder, which replays what a client saw, reads it as that API's error.
    kind = detect_stream(recorded.request, replace(recorded.response, body=body))
    decoder = StreamDecoder(kind)
    outputs = decoder.feed(body) + decoder.close()
    faults = [o for o in outputs if isinstance(o, StreamFault)]
    assert [f.kind for f in faults][:1] == ["error"]


def test_a_responses_stream_ends_with_response_failed_through_the_openai_sdk() -> None:
    recorded = _first_of("openai-responses-function-call.yaml")
    emulator = Emulator([recorded], speed=0, faults=Faults(error_after=3))
    request = json.loads(recorded.request.body)
    with EmulatorServer(emulator) as server:
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="sk-x", max_retries=0)
        kinds = [event.type for event in client.responses.create(**request)]
    assert kinds[-2:] == ["error", "response.failed"]


def test_no_error_is_injected_into_a_whole_json_reply() -> None:
    recorded = _first_of("openai-http-429.yaml")
    emulator = Emulator([recorded], speed=0, faults=Faults(error_after=0))
    with EmulatorServer(emulator) as server:
        body = _send(server, recorded)
    assert body == recorded.response.body


def test_a_gemini_key_in_the_query_matches_like_a_key_in_a_header() -> None:
    recorded = _first_of("gemini-sse-function-call.yaml")
    with_key = replace(
        recorded, request=replace(recorded.request, uri=recorded.request.uri + "&key=REDACTED")
    )
    with EmulatorServer(Emulator([recorded, with_key], speed=0)) as server:
        # Recorded without ?key=, asked with one (the google-genai client with a key in the URL).
        assert _send(server, recorded, query="alt=sse&key=AIzaSyD4kT9mQ2wE7rY1uI8oP3aS6dF0gH5jK2l")
        # Recorded with a scrubbed ?key=, asked with the key in a header only.
        assert _send(server, with_key, query="alt=sse")
        # Any other query difference still counts.
        response = httpx.post(
            server.base_url + urlsplit(recorded.request.uri).path + "?alt=json",
            content=recorded.request.body,
        )
        assert response.status_code == 400 and "query" in response.text
