"""streamreel's own cassette format: round trips, layout, vcrpy compatibility, atomic writes."""

from __future__ import annotations

import asyncio
import base64
import gzip
import itertools
import json
import os
import stat
import sys
import textwrap
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import vcr
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from streamreel.cassettes import storage
from streamreel.cassettes.storage import (
    GRPC_METHOD,
    dump_cassette,
    import_cassette,
    load_cassette,
    loads_cassette,
    migrate,
    save_cassette,
)
from streamreel.core.cassette import (
    BodyChunk,
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import CassetteError, CassetteVersionError
from vcr.serialize import deserialize, serialize
from vcr.serializers import yamlserializer

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


def test_the_documented_example_is_what_the_writer_writes() -> None:
    doc = storage.__doc__ or ""
    start = doc.index("    version: 1\n")
    end = doc.index("\n\n", doc.index("size: 14}", start))
    example = textwrap.dedent(doc[start:end]) + "\n"
    cassette = loads_cassette(example)
    response = cassette.interactions[0].response
    assert [chunk.data for chunk in response.body_chunks()] == [SSE[:48], SSE[48:]]
    assert cassette.interactions[0].request.body == b'{"model":"gpt-4o","stream":true}'

    def without_version(text: str) -> list[str]:
        return [line for line in text.splitlines() if "tool_version:" not in line]

    assert without_version(dump_cassette(cassette)) == without_version(example)


def test_dump_is_stable() -> None:
    text = dump_cassette(streamed_cassette())
    assert dump_cassette(loads_cassette(text)) == text


def test_sse_body_is_a_literal_block_and_request_json_is_pretty() -> None:
    text = dump_cassette(streamed_cassette())
    assert "      string: |+\n        data: {" in text
    assert '    body: |-\n      {\n        "model": "gpt-4o",\n' in text
    assert "request_json: compact" in text
    assert "- {offset_ms: 412.5, size: 20}" in text


def test_plain_scalars_never_change_meaning() -> None:
    specials = [chr(code) for code in range(0x20, 0x7F) if not chr(code).isalnum()]
    values = [
        shape.format(char)
        for char in specials
        for shape in ("{0}", "a{0}", "a{0}b", "a {0}b", "a{0} b", "{0}a", "1{0}5", "{0}{0}")
    ]
    values += ["true", "no", "~", "null", "1e3", "0x1F", ".inf", "2025-01-01", "12:30:00", "-"]
    cassette = streamed_cassette()
    cassette.interactions[0].response.headers = {value: [value] for value in values}
    text = dump_cassette(cassette)
    assert loads_cassette(text).interactions[0].response.headers == {v: [v] for v in values}
    assert yaml.load(text, Loader=yaml.SafeLoader) == yaml.load(text, Loader=yaml.CSafeLoader)


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
        "line\u2028separator\nand \u2029 paragraph\n".encode(),
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


# --------------------------------------------------------------------------------------------
# Any content survives: the writer picks a YAML style, the reader must get the same bytes back
# --------------------------------------------------------------------------------------------

_names = st.text(min_size=1, max_size=30).filter(lambda name: name.lower() != "content-encoding")
_headers = st.dictionaries(
    _names, st.lists(st.text(max_size=40), min_size=1, max_size=3), max_size=4
)
_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.lists(st.sampled_from(["data: {}", "", " ", "\r", "\t", "é", "\u2028", "x "]), max_size=12)
    .map("\n".join)
    .map(str.encode),
)


@st.composite
def _interactions(draw: st.DrawFn) -> Interaction:
    body = draw(_bodies)
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
    offsets = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
    chunks = None
    if draw(st.booleans()):
        edges = [0, *cuts, len(body)]
        chunks = [
            BodyChunk(draw(offsets), body[start:end]) for start, end in itertools.pairwise(edges)
        ]
    request = RecordedRequest(
        method=draw(st.text(min_size=1, max_size=8)),
        uri=draw(st.text(min_size=1, max_size=60)),
        headers=draw(_headers),
        body=draw(_bodies),
    )
    response = RecordedResponse(
        status=draw(st.integers(100, 599)),
        reason=draw(st.text(max_size=20)),
        headers=draw(_headers),
        body=body,
        chunks=chunks,
        error=draw(st.none() | st.text(max_size=60)),
    )
    return Interaction(request, response)


@settings(max_examples=300, deadline=None)
@given(st.lists(_interactions(), max_size=3))
def test_any_interaction_round_trips_and_vcrpy_reads_it(items: list[Interaction]) -> None:
    text = dump_cassette(Cassette(interactions=items))
    assert loads_cassette(text).interactions == items
    # Without libyaml PyYAML falls back to its pure-Python loader; both must agree.
    assert yaml.load(text, Loader=yaml.SafeLoader) == yaml.load(text, Loader=yaml.CSafeLoader)
    if items:
        requests, responses, *_ = deserialize(text, yamlserializer)
        assert [response["body"]["string"] for response in responses] == [
            item.response.body for item in items
        ]
        assert [request.uri for request in requests] == [item.request.uri for item in items]


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=20)
        | st.floats(allow_nan=False, allow_infinity=False),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    ),
    st.sampled_from(
        [((",", ":"), False), ((",", ":"), True), ((", ", ": "), True), ((", ", ": "), False)]
    ),
)
def test_json_request_bodies_come_back_byte_exact(
    value: object, style: tuple[tuple[str, str], bool]
) -> None:
    separators, ascii_only = style
    body = json.dumps(value, separators=separators, ensure_ascii=ascii_only).encode()
    cassette = streamed_cassette()
    cassette.interactions[0].request.body = body
    assert loads_cassette(dump_cassette(cassette)).interactions[0].request.body == body


# --------------------------------------------------------------------------------------------
# vcrpy replays streamreel cassettes unchanged, and keeps streamreel's keys when it re-saves
# --------------------------------------------------------------------------------------------

URL = "https://api.openai.com/v1/chat/completions"


@pytest.mark.parametrize("library", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_vcrpy_replays_the_stream(tmp_path: Path, library: Any) -> None:
    target = tmp_path / "stream.yaml"
    save_cassette(streamed_cassette(), target)
    recorder = vcr.VCR(record_mode="none", match_on=["method", "uri", "body"])
    with recorder.use_cassette(str(target)), library.Client() as client:
        sent = client.post(URL, content=REQUEST_JSON, headers={"content-type": "application/json"})
    assert sent.status_code == 200
    assert sent.content == SSE


async def _fetch_async(target: Path) -> bytes:
    with vcr.VCR(record_mode="none").use_cassette(str(target)):
        async with (
            httpx.AsyncClient() as client,
            client.stream("POST", URL, content=b"{}") as response,
        ):
            return b"".join([piece async for piece in response.aiter_raw()])


def test_vcrpy_replays_the_stream_async(tmp_path: Path) -> None:
    target = tmp_path / "stream.yaml"
    save_cassette(streamed_cassette(), target)
    assert asyncio.run(_fetch_async(target)) == SSE


def test_streamreel_keys_survive_a_vcrpy_resave() -> None:
    cassette = streamed_cassette()
    cassette.interactions[0].response.error = "cut"
    # vcrpy hands a cassette's top-level metadata back (and writes it again) from 9.4.0 on;
    # older releases drop it, while every release keeps each response's own keys.
    requests, responses, *metadata = deserialize(dump_cassette(cassette), yamlserializer)
    keeps_metadata = bool(metadata)
    assert keeps_metadata == (_vcrpy_version() >= (9, 4))
    resaved = serialize(
        {"requests": requests, "responses": responses, "metadata": next(iter(metadata), None)},
        yamlserializer,
    )
    again = loads_cassette(resaved)
    assert again.interactions == cassette.interactions
    # Without its metadata the file reads as any vcrpy cassette, its interactions unchanged.
    assert again.info.source == ("streamreel" if keeps_metadata else "vcrpy")
    if keeps_metadata:
        assert again.info.recorded_against == cassette.info.recorded_against


def _vcrpy_version() -> tuple[int, ...]:
    from importlib.metadata import version

    return tuple(int(part) for part in version("vcrpy").split(".")[:2])


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------


def test_a_failure_mid_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "stream.yaml"
    save_cassette(streamed_cassette(), target)
    before = target.read_bytes()
    broken = streamed_cassette()
    good = broken.interactions[0]
    bad = Interaction(good.request, RecordedResponse(status=200, body="not bytes"))  # type: ignore[arg-type]
    broken.interactions = [good, good, bad]
    with pytest.raises(CassetteError) as caught:
        save_cassette(broken, target)
    assert caught.value.interaction == 2
    assert caught.value.path == str(target)
    assert target.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["stream.yaml"]


def test_a_failing_disk_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "stream.yaml"
    save_cassette(streamed_cassette(), target)
    before = target.read_bytes()

    def no_space(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(CassetteError, match="No space left on device"):
        save_cassette(Cassette(), target)
    assert target.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["stream.yaml"]


def test_save_creates_folders_and_keeps_permissions(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "stream.yaml"
    save_cassette(streamed_cassette(), target)
    target.chmod(0o640)
    save_cassette(streamed_cassette(), target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_chunks_that_do_not_make_the_body_are_refused() -> None:
    cassette = streamed_cassette()
    cassette.interactions[0].response.chunks = [BodyChunk(1.0, b"something else")]
    with pytest.raises(CassetteError, match="chunks whose bytes joined are the response body"):
        dump_cassette(cassette)


# --------------------------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------------------------


def test_migrations_run_in_order() -> None:
    def one_to_two(document: dict[str, Any]) -> dict[str, Any]:
        document["steps"] = [*document.get("steps", []), 1]
        return document

    def two_to_three(document: dict[str, Any]) -> dict[str, Any]:
        document["steps"].append(2)
        return document

    table = {1: one_to_two, 2: two_to_three}
    migrated = migrate({"interactions": []}, 1, migrations=table, target=3)
    assert migrated["steps"] == [1, 2]
    assert migrated["metadata"]["streamreel"]["format"] == 3
    with pytest.raises(CassetteError, match="a migration from format 2 to 3"):
        migrate({"interactions": []}, 1, migrations={1: one_to_two}, target=3)


def test_a_newer_format_asks_for_an_upgrade() -> None:
    text = dump_cassette(streamed_cassette()).replace("format: 1", "format: 2")
    with pytest.raises(CassetteVersionError, match=r"pip install -U streamreel"):
        loads_cassette(text)


# --------------------------------------------------------------------------------------------
# vcrpy variants written by other recorders
# --------------------------------------------------------------------------------------------


def _one(text: str) -> Interaction:
    cassette = loads_cassette(text)
    assert len(cassette.interactions) == 1
    return cassette.interactions[0]


def test_missing_version_and_either_key_order() -> None:
    text = (
        "interactions:\n- response:\n    status: {code: 200, message: OK}\n"
        "    headers: {Content-Type: [text/plain]}\n    body: {string: hi}\n"
        "  request:\n    uri: http://x/\n    method: GET\n    body: null\n    headers: {}\n"
    )
    interaction = _one(text)
    assert interaction.response.body == b"hi"
    assert interaction.response.header("content-type") == "text/plain"
    assert interaction.request.body == b""
    assert _one(text + "version: 1\n").response.body == b"hi"


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        ("null", b""),
        ("''", b""),
        ("plain text", b"plain text"),
        ("{string: wrapped}", b"wrapped"),
        ("!!binary aGk=", b"hi"),
        ("!!python/unicode 'old'", b"old"),
    ],
)
def test_request_body_shapes(request_body: str, expected: bytes) -> None:
    text = (
        f"version: 1\ninteractions:\n- request:\n    body: {request_body}\n    headers: {{}}\n"
        "    method: POST\n    uri: http://x/\n  response:\n    status: {code: 204, message: ''}\n"
        "    headers: {}\n    body: {string: ''}\n"
    )
    assert _one(text).request.body == expected


def test_single_quoted_folded_sse_body() -> None:
    text = (
        "interactions:\n- request: {body: null, headers: {}, method: POST, uri: 'http://x/'}\n"
        "  response:\n    status: {code: 200, message: OK}\n    headers: {}\n"
        "    body:\n"
        "      string: 'data: {\"a\": \"it''s\"}\n\n\n        data: [DONE]\n\n\n        '\n"
        "version: 1\n"
    )
    assert _one(text).response.body == b'data: {"a": "it\'s"}\n\ndata: [DONE]\n\n'


def test_pydantic_ai_parsed_bodies() -> None:
    text = (
        "interactions:\n- request:\n    headers: {content-type: [application/json]}\n"
        "    method: POST\n    parsed_body:\n      model: m\n      stream: false\n"
        "    uri: http://x/\n  response:\n    headers: {content-type: [application/json]}\n"
        "    parsed_body:\n      error: {code: 400}\n    status: {code: 400, message: Bad}\n"
        "version: 1\n"
    )
    cassette = loads_cassette(text)
    assert cassette.info.source == "pydantic-ai"
    interaction = cassette.interactions[0]
    assert interaction.request.body == b'{"model": "m", "stream": false}'
    assert interaction.response.body == b'{"error": {"code": 400}}'


def test_old_httpx_layout() -> None:
    text = (
        "version: 1\ninteractions:\n- request: {body: '', headers: {}, method: GET, uri: 'http://x/'}\n"
        "  response: {status_code: 200, headers: {}, content: 'hello', http_version: HTTP/1.1}\n"
    )
    interaction = _one(text)
    assert (interaction.response.status, interaction.response.body) == (200, b"hello")


def _encoded(coding: str, body: bytes) -> str:
    data = base64.b64encode(body).decode()
    return (
        "version: 1\ninteractions:\n- request: {body: '', headers: {}, method: GET, uri: 'http://x/'}\n"
        f"  response:\n    status: {{code: 200, message: OK}}\n"
        f"    headers: {{Content-Encoding: [{coding}], Content-Length: ['{len(body)}']}}\n"
        f"    body: {{string: !!binary '{data}'}}\n"
    )


@pytest.mark.parametrize(
    ("coding", "raw"),
    [
        ("gzip", gzip.compress(b"data: x\n\n")),
        ("deflate", zlib.compress(b"data: x\n\n")),
        ("identity", b"data: x\n\n"),
        ("gzip", b"data: x\n\n"),
        ("br", b"data: x\n\n"),
    ],
    ids=["gzip", "deflate", "identity", "lying-gzip", "lying-br"],
)
def test_content_encodings_come_off(coding: str, raw: bytes) -> None:
    response = _one(_encoded(coding, raw)).response
    assert response.body == b"data: x\n\n"
    assert response.header("content-encoding") is None
    assert response.header("content-length") == str(len(b"data: x\n\n"))


def test_brotli_without_a_brotli_module_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Whether or not brotli is installed here, the reader must find neither module.
    monkeypatch.setitem(sys.modules, "brotli", None)
    monkeypatch.setitem(sys.modules, "brotlicffi", None)
    with pytest.raises(CassetteError, match=r"pip install 'streamreel\[compression\]'"):
        loads_cassette(_encoded("br", b"\x8b\x02\x80\xff\xfe"))


def test_grpc_cassette_is_recognisable() -> None:
    text = (
        "version: 1\ninteractions:\n- request_stream:\n    json: {model: grok}\n"
        "    raw: !!binary AAE=\n  response_stream:\n    chunks_json:\n"
        "    - chunk: {id: a}\n    - chunk: {id: b}\n"
    )
    cassette = loads_cassette(text)
    interaction = cassette.interactions[0]
    assert cassette.info.source == "pydantic-ai"
    assert interaction.request.method == GRPC_METHOD
    assert interaction.request.uri == "grpc:grok"
    assert interaction.request.body == b"\x00\x01"
    assert [json.loads(chunk.data) for chunk in interaction.response.body_chunks()] == [
        {"chunk": {"id": "a"}},
        {"chunk": {"id": "b"}},
    ]


def test_header_lookup_ignores_case() -> None:
    interaction = _one(dump_cassette(streamed_cassette()))
    assert interaction.response.header("Content-Type") == "text/event-stream; charset=utf-8"


# --------------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------------


def test_import_har_writes_streamreel_yaml(tmp_path: Path) -> None:
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "Polly.JS", "version": "6.0.6"},
            "entries": [
                {
                    "startedDateTime": "2025-08-26T05:44:16.929Z",
                    "request": {
                        "method": "POST",
                        "url": URL,
                        "headers": [{"name": "content-type", "value": "application/json"}],
                        "postData": {"mimeType": "application/json", "text": '{"stream":true}'},
                    },
                    "response": {
                        "status": 200,
                        "statusText": "OK",
                        "headers": [
                            {"name": "content-type", "value": "text/event-stream"},
                            {"name": "content-encoding", "value": "gzip"},
                        ],
                        "content": {
                            "mimeType": "text/event-stream",
                            "encoding": "base64",
                            "text": base64.b64encode(SSE).decode(),
                        },
                    },
                }
            ],
        }
    }
    source = tmp_path / "recording.har"
    source.write_text(json.dumps(har))
    dest = tmp_path / "cassettes" / "imported.yaml"
    imported = import_cassette(source, dest)
    assert imported.info.source == "har"
    loaded = load_cassette(dest)
    assert loaded.info.source == "streamreel"
    assert loaded.interactions == imported.interactions
    response = loaded.interactions[0].response
    assert response.body == SSE
    assert response.header("content-encoding") is None
    assert loaded.interactions[0].recorded_at == datetime(2025, 8, 26, 5, 44, 16, 929000, UTC)


def test_import_nock_writes_streamreel_yaml(tmp_path: Path) -> None:
    nock = [
        {
            "scope": "http://localhost:8080",
            "method": "post",
            "path": "/v1/chat?x=1",
            "body": {"stream": True},
            "status": 200,
            "response": SSE.decode(),
            "rawHeaders": ["Content-Type", "text/event-stream", "X-Id", "1"],
            "reqheaders": {"content-type": "application/json"},
        }
    ]
    source = tmp_path / "recording.json"
    source.write_text(json.dumps(nock))
    imported = import_cassette(source, tmp_path / "imported.yaml")
    assert imported.info.source == "nock"
    request = imported.interactions[0].request
    assert (request.method, request.uri, request.body) == (
        "POST",
        "http://localhost:8080/v1/chat?x=1",
        b'{"stream":true}',
    )
    assert load_cassette(tmp_path / "imported.yaml").interactions == imported.interactions


# --------------------------------------------------------------------------------------------
# Speed: loading is linear in the file size
# --------------------------------------------------------------------------------------------


def test_loading_time_grows_linearly() -> None:
    def timed(count: int) -> float:
        cassette = streamed_cassette()
        cassette.interactions = cassette.interactions * count
        text = dump_cassette(cassette)
        start = time.perf_counter()
        loads_cassette(text)
        return time.perf_counter() - start

    timed(50)  # warm up
    small = min(timed(200) for _ in range(3))
    large = min(timed(1600) for _ in range(3))
    # 8x the interactions; a quadratic reader would take ~64x.
    assert large < small * 20
