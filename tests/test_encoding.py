"""One content decoder for the recorder and the cassette reader, whichever codec is installed."""

from __future__ import annotations

import base64
import gzip
import sys
import types
import zlib
from pathlib import Path

import httpx
import pytest
from recording_support import Script, gzip_pieces, loopback
from streamreel.cassettes.storage import load_cassette, loads_cassette
from streamreel.core.encoding import BodyDecoder, decode_layer
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
        with record(path, mode="once"), httpx.Client() as client:
            client.get(server.base_url + "/br", headers={"accept-encoding": "identity"}).read()
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
        decode_layer("gzip", cut)
    decoder = BodyDecoder("gzip")
    decoder.feed(whole[:10])
    decoder.feed(b"garbage that is not deflate data at all")
    assert decoder.failed is not None


def test_a_body_that_was_already_decoded_keeps_its_bytes() -> None:
    assert decode_layer("gzip", b"data: plain\n\n") == b"data: plain\n\n"
    assert decode_layer("deflate", b"data: plain\n\n") == b"data: plain\n\n"
    assert decode_layer("zstd", b"data: plain\n\n") == b"data: plain\n\n"
    assert decode_layer("deflate", zlib.compress(b"z")) == b"z"
    assert decode_layer("gzip", b"".join(gzip_pieces([b"a", b"b"]))) == b"ab"
    with pytest.raises(StreamDecodeError, match="zstd"):
        decode_layer("zstd", b"\x28\xb5\x2f\xfd rest")
    with pytest.raises(StreamDecodeError, match="'compress'"):
        decode_layer("compress", b"\x1f\x9d")
