"""One content decoder for the recorder and the cassette reader, whichever codec is installed."""

from __future__ import annotations

import base64
import gzip
import sys
import types
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from recording_support import Script, gzip_pieces, loopback
from streamreel.cassettes.storage import load_cassette, loads_cassette
from streamreel.core.encoding import BodyDecoder, decode_body
from streamreel.core.errors import CassetteError, StreamDecodeError
from streamreel.recording.recorder import record


def _scramble(data: bytes) -> bytes:
    return bytes(byte ^ 0x5A for byte in data)


class _Decompressor:
    """brotlicffi's incremental interface, with a toy codec (each byte XOR 0x5A)."""

    def decompress(self, data: bytes) -> bytes:
        return _scramble(data)


@pytest.fixture
def only_brotlicffi(monkeypatch: pytest.MonkeyPatch) -> None:
    """``brotli`` missing, ``brotlicffi`` installed: the one case the two decoders disagreed on."""
    fake = types.ModuleType("brotlicffi")
    fake.Decompressor = _Decompressor  # type: ignore[attr-defined]
    # urllib3 and httpx read brotlicffi.error when they are first imported with it present.
    fake.error = ValueError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "brotli", None)
    monkeypatch.setitem(sys.modules, "brotlicffi", fake)
    # httpx took whichever brotli module was installed when it was imported: the toy codec
    # stands in for that one too (the [compression] extra installs the real brotli).
    monkeypatch.setattr("httpx._decoders.brotli", fake, raising=False)


def _br_cassette(body: bytes) -> str:
    return (
        "interactions:\n- request: {method: GET, uri: 'https://x.test/a', headers: {}, body: ''}\n"
        "  response:\n    status: {code: 200, message: OK}\n"
        "    headers: {content-encoding: [br]}\n"
        f"    body: {{string: !!binary '{base64.b64encode(body).decode()}'}}\n"
    )


def test_the_recorder_and_the_reader_both_decode_br_with_brotlicffi(
    only_brotlicffi: None, tmp_path: Path
) -> None:
    parts = [b"data: one\n\n", b"data: two\n\n"]
    decoder = BodyDecoder("br")
    assert decoder.decodes
    assert [decoder.feed(_scramble(p)) for p in parts] == parts
    (loaded,) = loads_cassette(_br_cassette(_scramble(b"".join(parts)))).interactions
    assert loaded.response.body == b"".join(parts)
    assert "content-encoding" not in loaded.response.headers

    path = tmp_path / "br.yaml"
    with loopback() as server:
        server.scripts["/br"] = Script(
            pieces=[_scramble(p) for p in parts],
            headers={"content-type": "text/event-stream", "content-encoding": "br"},
        )
        with (
            record(path, mode="once"),
            httpx.Client() as client,
            client.stream(
                "GET", server.base_url + "/br", headers={"accept-encoding": "identity"}
            ) as response,
        ):
            # Raw bytes: httpx would decode br itself with a real brotli, not the toy codec.
            b"".join(response.iter_raw())
    (recorded,) = load_cassette(path).interactions
    assert [c.data for c in recorded.response.body_chunks()] == parts


def test_without_any_brotli_module_the_recorder_keeps_the_bytes_and_the_reader_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "brotli", None)
    monkeypatch.setitem(sys.modules, "brotlicffi", None)
    assert not BodyDecoder("br").decodes
    with pytest.raises(CassetteError, match="pip install brotli"):
        loads_cassette(_br_cassette(b"\x8b\x02\x80binary"))


def test_a_truncated_gzip_body_is_an_error_whole_and_a_failure_read_by_read() -> None:
    whole = gzip.compress(b"data: " + b"x" * 500 + b"\n\n")
    cut = whole[: len(whole) // 2]
    with pytest.raises(StreamDecodeError, match="complete gzip stream"):
        decode_body(cut, ["gzip"])
    decoder = BodyDecoder("gzip")
    decoder.feed(whole[:10])
    decoder.feed(b"garbage that is not deflate data at all")
    assert decoder.failed is not None


def test_a_body_that_was_already_decoded_keeps_its_bytes() -> None:
    assert decode_body(b"data: plain\n\n", ["gzip"]) == b"data: plain\n\n"
    assert decode_body(b"data: plain\n\n", ["deflate"]) == b"data: plain\n\n"
    assert decode_body(b"data: plain\n\n", ["zstd"]) == b"data: plain\n\n"
    assert decode_body(zlib.compress(b"z"), ["deflate"]) == b"z"
    assert decode_body(b"".join(gzip_pieces([b"a", b"b"])), ["gzip"]) == b"ab"
    with pytest.raises(StreamDecodeError, match="zstd"):
        decode_body(b"\x28\xb5\x2f\xfd rest", ["zstd"])
    with pytest.raises(StreamDecodeError, match="'compress'"):
        decode_body(b"\x1f\x9d", ["compress"])


# -- bodies decoded by their bytes, whatever the headers say ----------------------------------

_STREAM = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
    b'[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\ndata: [DONE]\n\n'
)


def _brotli() -> Any:
    return pytest.importorskip("brotli", reason="brotli is not installed (pip install brotli)")


def _zstandard() -> Any:
    return pytest.importorskip(
        "zstandard", reason="zstandard is not installed (pip install zstandard)"
    )


def _compress(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(data, mtime=0)
    if coding == "zlib":
        return zlib.compress(data)
    if coding == "raw-deflate":
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return packer.compress(data) + packer.flush()
    if coding == "br":
        return bytes(_brotli().compress(data))
    assert coding == "zstd"
    return bytes(_zstandard().ZstdCompressor().compress(data))


def _openai_cassette(body: bytes, header: str | None) -> str:
    encoding = f"content-encoding: [{header}], " if header is not None else ""
    return (
        "interactions:\n- request: {method: POST, uri: 'https://api.openai.com/v1/chat/completions',"
        ' headers: {content-type: [application/json]}, body: \'{"model":"m","stream":true}\'}\n'
        f"  response:\n    status: {{code: 200, message: OK}}\n"
        f"    headers: {{{encoding}content-type: [text/event-stream]}}\n"
        f"    body: {{string: !!binary '{base64.b64encode(body).decode()}'}}\n"
    )


_CODINGS = ["gzip", "zlib", "raw-deflate", "br", "zstd"]
# What the header says: nothing, the identity coding, or another coding than the body's.
_HEADERS = {"missing": None, "identity": "identity", "wrong": "wrong"}
_WRONG = {"gzip": "deflate", "zlib": "gzip", "raw-deflate": "gzip", "br": "gzip", "zstd": "br"}


@pytest.mark.parametrize("header", sorted(_HEADERS))
@pytest.mark.parametrize("coding", _CODINGS)
def test_a_compressed_body_is_decoded_by_its_bytes_whatever_the_header_says(
    coding: str, header: str, tmp_path: Path
) -> None:
    said = _WRONG[coding] if header == "wrong" else _HEADERS[header]
    path = tmp_path / "c.yaml"
    path.write_text(_openai_cassette(_compress(coding, _STREAM), said), encoding="utf-8")
    (loaded,) = load_cassette(path).interactions
    assert loaded.response.body == _STREAM
    assert loaded.response.header("content-encoding") is None
    from streamreel.playback.replay import replay

    result = replay(path)
    assert [error.kind for error in result.errors] == []
    assert "hi" in repr(result.messages)


def test_layers_come_off_one_after_another_within_the_budget() -> None:

    twice = gzip.compress(zlib.compress(_STREAM), mtime=0)
    assert decode_body(twice) == _STREAM
    assert decode_body(twice, ["identity"]) == _STREAM
    assert decode_body(_STREAM, ["gzip", "br"]) == _STREAM


@pytest.mark.parametrize("coding", ["br", "zstd"])
def test_an_optional_codec_bomb_stops_at_the_budget(
    coding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamreel.core import encoding

    monkeypatch.setattr(encoding, "MAX_DECODED_BYTES", 1024 * 1024)
    bomb = _compress(coding, b"\0" * (8 * 1024 * 1024))
    with pytest.raises(StreamDecodeError, match="bytes once decompressed"):
        encoding.decode_body(bomb)
    decoder = BodyDecoder(coding)
    decoder.feed(bomb)
    assert decoder.failed is not None and "once decompressed" in decoder.failed


def test_a_damaged_body_names_the_file_and_the_interaction(tmp_path: Path) -> None:
    damaged = gzip.compress(_STREAM)[:40]
    path = tmp_path / "cut.yaml"
    path.write_text(_openai_cassette(damaged, None), encoding="utf-8")
    with pytest.raises(CassetteError, match="complete gzip stream") as caught:
        load_cassette(path)
    assert caught.value.path == str(path)
    assert caught.value.interaction == 0
    assert str(caught.value).startswith(f"{path}: interaction 0: ")


def test_replay_of_a_cassette_in_memory_with_a_damaged_body_is_a_cassette_error_with_its_path(
    tmp_path: Path,
) -> None:
    from streamreel.core.cassette import Cassette, Interaction, RecordedRequest, RecordedResponse
    from streamreel.playback.replay import replay

    request = RecordedRequest(
        "POST", "https://api.openai.com/v1/chat/completions", {}, b'{"stream": true}'
    )
    good = RecordedResponse(200, "OK", {}, gzip.compress(_STREAM))
    cassette = Cassette([Interaction(request, good)])
    cassette.path = tmp_path / "memory.yaml"
    assert "hi" in repr(replay(cassette).messages)
    cut = RecordedResponse(200, "OK", {}, gzip.compress(_STREAM)[:40])
    cassette = Cassette([Interaction(request, cut)])
    cassette.path = tmp_path / "memory.yaml"
    with pytest.raises(CassetteError) as caught:
        replay(cassette)
    assert caught.value.path == str(tmp_path / "memory.yaml")
    assert caught.value.interaction == 0


def test_binary_bodies_that_are_not_compressed_keep_their_bytes() -> None:

    for body in (b"\x00\x00\x00\x10binary", bytes(range(256)) * 4, b"x^ looks like zlib", b""):
        assert decode_body(body) == body
