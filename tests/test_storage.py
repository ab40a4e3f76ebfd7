"""streamreel's own cassette format: round trips, layout, vcrpy compatibility, atomic writes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from toolkit.cassette import (
    BodyChunk,
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from toolkit.storage import dump_cassette, load_cassette, loads_cassette, save_cassette

SSE = b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n'
REQUEST_JSON = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}'


def streamed_cassette() -> Cassette:
    request = RecordedRequest(
        method="POST",
        uri="https://api.openai.com/v1/chat/completions",
        headers={"content-type": ["application/json"]},
        body=REQUEST_JSON,
    )
    response = RecordedResponse(
        status=200,
        reason="OK",
        headers={"content-type": ["text/event-stream; charset=utf-8"]},
        body=SSE,
        chunks=[BodyChunk(412.5, SSE[:20]), BodyChunk(430.25, SSE[20:])],
    )
    when = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    info = CassetteInfo(recorded_at=when, recorded_against="https://api.openai.com")
    return Cassette(interactions=[Interaction(request, response, recorded_at=when)], info=info)


def test_round_trip_keeps_every_byte_boundary_and_offset(tmp_path: Path) -> None:
    cassette = streamed_cassette()
    target = tmp_path / "stream.yaml"
    save_cassette(cassette, target)
    loaded = load_cassette(target)
    assert loaded.interactions == cassette.interactions
    assert loaded.info.recorded_at == cassette.info.recorded_at
    assert loaded.info.recorded_against == "https://api.openai.com"
    assert loaded.info.source == "streamreel"
    assert loaded.path == target


def test_dump_is_stable() -> None:
    text = dump_cassette(streamed_cassette())
    assert dump_cassette(loads_cassette(text)) == text


def test_sse_body_is_a_literal_block_and_request_json_is_pretty() -> None:
    text = dump_cassette(streamed_cassette())
    assert "      string: |+\n        data: {" in text
    assert '    body: |-\n      {\n        "model": "gpt-4o",\n' in text
    assert "request_json: compact" in text
    assert "- {offset_ms: 412.5, size: 20}" in text


def test_a_cut_stream_keeps_its_error() -> None:
    cassette = streamed_cassette()
    cassette.interactions[0].response.error = "peer closed the connection mid-stream"
    loaded = loads_cassette(dump_cassette(cassette))
    assert loaded.interactions[0].response.error == "peer closed the connection mid-stream"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"plain",
        b"ends with one newline\n",
        b"a\r\nb\r\n\r\n",
        b"trailing blank \nline\n",
        b" leading blank\nline",
        b"\nleading newline",
        b"\x00\x01 control\n",
        "\u2028 separators \x85 nel\n".encode(),
        b"\xff\xfe not utf-8",
        b"tab\there\n",
    ],
)
def test_awkward_bodies_survive(body: bytes) -> None:
    cassette = streamed_cassette()
    response = cassette.interactions[0].response
    response.body = body
    response.chunks = [BodyChunk(1.0, body)] if body else []
    loaded = loads_cassette(dump_cassette(cassette))
    assert loaded.interactions[0].response.body == body
    assert loaded.interactions[0].response.chunks == response.chunks
