"""Content codings (gzip, deflate, br, zstd): the one decoder the recorder and the reader share.

Theory of operation
-------------------
Bodies reach streamreel in two ways, and both must come out identity-encoded:

* **While recording**, a transport sees the body read by read, still encoded.
  :class:`BodyDecoder` undoes it incrementally, push-driven: ``feed(bytes) -> bytes`` for each
  read, ``flush() -> bytes`` at the end, so each stored chunk is the decoded bytes that read
  produced.  It never raises: a body that stops decoding part-way sets ``failed`` (the recorder
  stores that as the response's error), and a coding this Python cannot decode leaves the whole
  body as it came, with ``decodes`` false, so the cassette keeps the header that describes it.
* **When a cassette is read**, the body is whole and its header may lie: recorders often decode
  the body and keep ``Content-Encoding``.  :func:`decode_layer` undoes one coding of a whole body
  and tells such a body apart from a really encoded one (gzip and zstd by their magic bytes;
  deflate and brotli by failing to decompress text), and raises
  :class:`~streamreel.core.errors.StreamDecodeError` for a body that is damaged or that nothing
  installed can decode.

Both run the same stages, one per coding (:func:`stage_for`): gzip (several members allowed),
deflate (zlib-wrapped as the standard says, or raw as some servers send it), and the optional
``br`` (the ``brotli`` package, or ``brotlicffi``) and ``zstd`` (``zstandard``) when installed.
Codings apply in header order, so they are undone last-first.

gzip and deflate inflate to at most :data:`MAX_DECODED_BYTES`: a few kilobytes of gzip can stand
for gigabytes of zeros (nested codings multiply it), and a body larger than any LLM reply is
refused with a :class:`~streamreel.core.errors.StreamDecodeError` rather than exhausting memory.

Nothing here does I/O; importing an optional codec module is the only side effect.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from typing import Any, Final

from streamreel.core.errors import StreamDecodeError

__all__ = ["MAX_DECODED_BYTES", "BodyDecoder", "Stage", "codings", "decode_layer", "stage_for"]

MAX_DECODED_BYTES: Final = 256 * 1024 * 1024
"""The most one zlib stage (gzip, deflate) inflates a body to."""

_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_DAMAGED: Final = "the recording is damaged; record it again"


class Stage:
    """One coding undone incrementally; the identity coding is this base class itself."""

    def feed(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""

    @property
    def complete(self) -> bool:
        """Whether the encoded stream ended properly (only zlib streams can tell)."""
        return True


class _Zlib(Stage):
    def __init__(self, wbits: int, *, fallback: int | None = None) -> None:
        self._wbits = wbits
        self._fallback = fallback
        self._first = True
        self._inflate = zlib.decompressobj(wbits)
        self._room = MAX_DECODED_BYTES

    def _take(self, data: bytes) -> bytes:
        """Inflate ``data``, never past the budget: a bomb stops here, not in memory."""
        out = self._inflate.decompress(data, self._room + 1)
        if len(out) > self._room or self._inflate.unconsumed_tail:
            raise StreamDecodeError(
                f"cannot decompress body: expected at most {MAX_DECODED_BYTES:,} bytes once "
                "decompressed, got more (a compression bomb, or a body far larger than any LLM "
                "reply); check where this body came from"
            )
        self._room -= len(out)
        return out

    def feed(self, data: bytes) -> bytes:
        first, self._first = self._first, False
        try:
            out = self._take(data)
            # A gzip body may hold several members; each needs a fresh decompressor.
            while self._inflate.eof and self._inflate.unused_data:
                rest = self._inflate.unused_data
                self._inflate = zlib.decompressobj(self._wbits)
                out += self._take(rest)
            return out
        except zlib.error:
            # "deflate" is zlib-wrapped by the standard and raw by some servers; try both.
            if first and self._fallback is not None:
                self._wbits, self._fallback = self._fallback, None
                self._inflate = zlib.decompressobj(self._wbits)
                return self.feed(data)
            raise

    def flush(self) -> bytes:
        return self._inflate.flush()

    @property
    def complete(self) -> bool:
        return self._inflate.eof


class _Optional(Stage):
    """A decoder from an optional package (brotli, zstandard), used only when installed."""

    def __init__(self, decompress: Callable[[bytes], bytes]) -> None:
        self._decompress = decompress

    def feed(self, data: bytes) -> bytes:
        return self._decompress(data) if data else b""


def _module(*names: str) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def stage_for(coding: str) -> Stage | None:
    """A fresh incremental decoder for one coding name, or None when none can be had here."""
    name = coding.strip().lower()
    if name in ("", "identity"):
        return Stage()
    if name in ("gzip", "x-gzip"):
        return _Zlib(zlib.MAX_WBITS | 16)
    if name == "deflate":
        return _Zlib(zlib.MAX_WBITS, fallback=-zlib.MAX_WBITS)
    if name == "br":
        brotli = _module("brotli", "brotlicffi")
        if brotli is None:
            return None
        decompressor = brotli.Decompressor()
        # brotli names the incremental call `process`; brotlicffi also calls it `decompress`.
        step = getattr(decompressor, "process", None) or decompressor.decompress
        return _Optional(step)
    if name == "zstd":
        zstandard = _module("zstandard")
        if zstandard is None:
            return None
        return _Optional(zstandard.ZstdDecompressor().decompressobj().decompress)
    return None


def codings(header: str | None) -> list[str]:
    """The coding names of a ``Content-Encoding`` value, in the order they were applied."""
    return [name.strip().lower() for name in (header or "").split(",") if name.strip()]


class BodyDecoder:
    """Incremental content decoding of a response body as it is read, stage by stage.

    An encoding this process cannot decode (``br`` without a brotli module) leaves the body as
    it came, and ``decodes`` says so, so that the cassette keeps the ``content-encoding`` header
    that describes its bytes; the client, which never asked for that encoding, fails on its side
    as it would unrecorded.  A body that stops decoding part-way records ``failed``.
    """

    def __init__(self, content_encoding: str | None) -> None:
        self.failed: str | None = None
        stages = [stage_for(name) for name in reversed(codings(content_encoding))]
        self._complete = all(stage is not None for stage in stages)
        self._stages: list[Stage] = [s for s in stages if s is not None] if self._complete else []

    @property
    def decodes(self) -> bool:
        """Whether the stored bytes are decoded, so the encoding headers must go."""
        return self._complete and any(type(stage) is not Stage for stage in self._stages)

    def feed(self, data: bytes) -> bytes:
        return self._run(data, final=False)

    def flush(self) -> bytes:
        return self._run(b"", final=True)

    def _run(self, data: bytes, *, final: bool) -> bytes:
        if self.failed is not None:
            return b""
        try:
            for stage in self._stages:
                data = stage.feed(data)
                if final:
                    data += stage.flush()
        except Exception as exc:  # zlib.error, and whatever the optional codec modules raise
            self.failed = (
                f"cannot decode the body: expected valid compressed data, got {exc}; "
                "do check the server's content-encoding"
            )
            return b""
        return data


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _whole(stage: Stage, body: bytes) -> bytes:
    out = stage.feed(body) + stage.flush()
    if not stage.complete:
        raise ValueError("the stream ends before its end marker")
    return out


def decode_layer(coding: str, body: bytes) -> bytes:
    """Undo one content coding of a whole body, or return the body as it is when it was never
    encoded (a recorder decoded it and kept the header).

    Raises :class:`~streamreel.core.errors.StreamDecodeError` for a damaged body, an unknown
    coding, or one that no installed module decodes.
    """
    name = coding.strip().lower()
    stage = stage_for(name)
    if name in ("", "identity"):
        return body
    if name in ("gzip", "x-gzip"):
        if body[:2] != _GZIP_MAGIC:
            return body
        return _strict(stage, body, "gzip body", "a complete gzip stream")
    if name == "deflate":
        try:
            return _whole(_Zlib(zlib.MAX_WBITS, fallback=-zlib.MAX_WBITS), body)
        except (zlib.error, ValueError) as exc:
            if _is_text(body):
                return body
            raise _damaged("deflate body", "zlib or raw deflate data", exc) from exc
    if name == "br":
        if stage is None:
            if _is_text(body):
                return body
            raise StreamDecodeError(
                "cannot decompress brotli body: expected an installed brotli module, got none; "
                "do pip install 'streamreel[compression]' (or pip install brotli), then load the"
                " cassette again"
            )
        try:
            return _whole(stage, body)
        except Exception as exc:  # the brotli modules raise their own error types
            if _is_text(body):
                return body
            raise _damaged("brotli body", "brotli data", exc) from exc
    if name == "zstd":
        if body[:4] != _ZSTD_MAGIC:
            return body
        if stage is None:
            raise StreamDecodeError(
                "cannot decompress zstd body: expected gzip, deflate or brotli, got zstd, which "
                "this Python cannot decode; do pip install 'streamreel[compression]' (or pip"
                " install zstandard), or record again with 'Accept-Encoding: gzip'"
            )
        return _strict(stage, body, "zstd body", "a complete zstd stream")
    raise StreamDecodeError(
        "cannot decode body: expected a Content-Encoding of gzip, deflate, br, zstd or identity, "
        f"got {name!r}; record again with 'Accept-Encoding: gzip'"
    )


def _strict(stage: Stage | None, body: bytes, what: str, expected: str) -> bytes:
    if stage is None:  # pragma: no cover - gzip is always available
        raise StreamDecodeError(f"cannot decompress {what}: expected a decoder, got none")
    try:
        return _whole(stage, body)
    except StreamDecodeError:
        raise  # over the size budget: not damaged, and said so already
    except Exception as exc:  # zlib.error, ValueError, and the optional modules' own errors
        raise _damaged(what, expected, exc) from exc


def _damaged(what: str, expected: str, exc: BaseException) -> StreamDecodeError:
    return StreamDecodeError(
        f"cannot decompress {what}: expected {expected}, got corrupt data ({exc}); {_DAMAGED}"
    )
