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
* **When a cassette is read**, the body is whole and its header cannot be trusted: recorders
  decode the body and keep ``Content-Encoding``, drop the header and keep the compressed bytes,
  or name another coding than the one used.  :func:`decode_body` therefore judges the bytes:
  gzip and zstd by their magic numbers, zlib-wrapped deflate by its two-byte header and a trial
  decode, and a body that is not text by a trial decode as raw deflate, then brotli.  A trial
  counts only when it consumes the whole body and ends its stream, so binary bodies that are
  not compressed (AWS event streams, protobuf) keep their bytes.  Layers come off one after
  another (at most :data:`MAX_LAYERS`).  The header only decides what to say when nothing
  decodes: a body it calls ``deflate`` or ``br`` that is not text is damaged (or needs a
  brotli module), and an unknown coding is named.  Errors are
  :class:`~streamreel.core.errors.StreamDecodeError`.

Both run the same stages, one per coding (:func:`stage_for`): gzip (several members allowed),
deflate (zlib-wrapped as the standard says, or raw as some servers send it), and the optional
``br`` (the ``brotli`` package, or ``brotlicffi``) and ``zstd`` (``zstandard``) when installed.
Codings apply in header order, so they are undone last-first.

Every stage inflates to at most :data:`MAX_DECODED_BYTES`: a few kilobytes of gzip, brotli or
zstd can stand for gigabytes of zeros (nested codings multiply it), and a body larger than any
LLM reply is refused with a :class:`~streamreel.core.errors.StreamDecodeError` rather than
exhausting memory.  zlib takes a ceiling on its output; brotli's ``output_buffer_limit`` does the
same where the module has it, and otherwise (and for zstandard, whose incremental call has
none) the input is fed in slices small enough that one slice cannot overshoot by much.

Nothing here does I/O; importing an optional codec module is the only side effect.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Final

from streamreel.core.errors import StreamDecodeError

__all__ = [
    "MAX_DECODED_BYTES",
    "MAX_LAYERS",
    "BodyDecoder",
    "Stage",
    "codings",
    "decode_body",
    "decode_layer",
    "stage_for",
]

MAX_DECODED_BYTES: Final = 256 * 1024 * 1024
"""The most one stage (gzip, deflate, br, zstd) inflates a body to."""

MAX_LAYERS: Final = 4
"""The most codings one whole body may carry (gzip inside gzip is seen; deeper is a bomb)."""

# Input fed at once to a codec that cannot bound its output: a zstd RLE block turns 4 bytes into
# 128 KiB, so 64 bytes stay within a few megabytes past the budget.
_SLICE: Final = 64

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


def _over_budget() -> StreamDecodeError:
    return StreamDecodeError(
        f"cannot decompress body: expected at most {MAX_DECODED_BYTES:,} bytes once "
        "decompressed, got more (a compression bomb, or a body far larger than any LLM "
        "reply); check where this body came from"
    )


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
            raise _over_budget()
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


class _Budgeted(Stage):
    """A stage that counts what it inflated against :data:`MAX_DECODED_BYTES`."""

    def __init__(self) -> None:
        self._room = MAX_DECODED_BYTES

    def _spend(self, count: int) -> None:
        self._room -= count
        if self._room < 0:
            raise _over_budget()


class _Brotli(_Budgeted):
    """brotli (the ``brotli`` or ``brotlicffi`` module), never inflating past the budget."""

    def __init__(self, module: Any) -> None:
        super().__init__()
        self._decompressor = module.Decompressor()
        # brotli names the incremental call `process`; brotlicffi calls it `decompress`.
        process = getattr(self._decompressor, "process", None)
        self._bounded = process is not None
        self._process: Callable[..., bytes] = process or self._decompressor.decompress

    def feed(self, data: bytes) -> bytes:
        if not data:
            return b""
        if self._bounded:
            try:
                return self._limited(data)
            except TypeError:  # a brotli older than 1.2 takes no output_buffer_limit
                self._bounded = False
        return _sliced(self._process, data, self)

    def _limited(self, data: bytes) -> bytes:
        out = [self._process(data, output_buffer_limit=self._room + 1)]
        self._spend(len(out[-1]))
        while not self._decompressor.can_accept_more_data():
            out.append(self._process(b"", output_buffer_limit=self._room + 1))
            self._spend(len(out[-1]))
            if not out[-1]:
                break
        return b"".join(out)

    @property
    def complete(self) -> bool:
        finished = getattr(self._decompressor, "is_finished", None)
        return bool(finished()) if finished is not None else True


class _Zstd(_Budgeted):
    """zstd (the ``zstandard`` module), never inflating far past the budget."""

    def __init__(self, module: Any) -> None:
        super().__init__()
        self._inflate = module.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        return _sliced(self._inflate.decompress, data, self) if data else b""

    @property
    def complete(self) -> bool:
        return bool(getattr(self._inflate, "eof", True))


def _sliced(step: Callable[[bytes], bytes], data: bytes, stage: _Budgeted) -> bytes:
    """Feed ``data`` a slice at a time, so a bomb is caught a slice past the budget."""
    out: list[bytes] = []
    view = memoryview(data)
    for start in range(0, len(data), _SLICE):
        out.append(step(bytes(view[start : start + _SLICE])))
        stage._spend(len(out[-1]))
    return b"".join(out)


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
        return None if brotli is None else _Brotli(brotli)
    if name == "zstd":
        zstandard = _module("zstandard")
        return None if zstandard is None else _Zstd(zstandard)
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
    if data.isascii():
        return True
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


def _zlib_header(body: bytes) -> bool:
    """Whether ``body`` opens with a zlib header (deflate method, a valid check, no dictionary)."""
    if len(body) < 2:
        return False
    method, flags = body[0], body[1]
    return (
        method & 0x0F == 8
        and method >> 4 <= 7
        and not flags & 0x20
        and (method << 8 | flags) % 31 == 0
    )


def _trial(stage: Stage | None, body: bytes) -> bytes | None:
    """``body`` decoded by ``stage`` if it is exactly one complete stream of something, else
    None; an empty result counts as none, since a few stray bytes can be an empty stream."""
    if stage is None:
        return None
    try:
        return _whole(stage, body) or None
    except StreamDecodeError:
        raise  # over the budget: a bomb, whatever else the body might be
    except Exception:  # zlib.error, ValueError, and whatever the optional modules raise
        return None


def _gzip_head(body: bytes) -> bool:
    """A gzip member's header: magic, deflate method, no reserved flag, room for a trailer."""
    return len(body) >= 18 and body[:3] == _GZIP_MAGIC + b"\x08" and not body[3] & 0xE0


def _layer(body: bytes, pending: Sequence[str]) -> tuple[str, bytes] | None:
    """The coding ``body`` is encoded with and the body with it undone, or None for none.

    A body whose magic number says gzip or zstd, with a plausible header (or a header that
    names the coding), is held to it: if it does not decode, it is damaged.
    """
    if body[:2] == _GZIP_MAGIC and (_gzip_head(body) or {"gzip", "x-gzip"} & set(pending)):
        return "gzip", _strict(stage_for("gzip"), body, "gzip body", "a complete gzip stream")
    if body[:4] == _ZSTD_MAGIC and (len(body) >= 9 or "zstd" in pending):
        stage = stage_for("zstd")
        if stage is None:
            raise StreamDecodeError(
                "cannot decompress zstd body: expected gzip, deflate or brotli, got zstd, which "
                "this Python cannot decode; do pip install 'streamreel[compression]' (or pip"
                " install zstandard), or record again with 'Accept-Encoding: gzip'"
            )
        return "zstd", _strict(stage, body, "zstd body", "a complete zstd stream")
    if _zlib_header(body):
        decoded = _trial(_Zlib(zlib.MAX_WBITS), body)
        if decoded is not None:
            return "deflate", decoded
    if not body:
        return None
    # Codings without a magic number are tried on any body the header gives them, and on no
    # text body it does not: text is what a decoded body looks like.
    binary = not _is_text(body)
    if binary or "deflate" in pending:
        decoded = _trial(_Zlib(-zlib.MAX_WBITS), body)
        if decoded is not None:
            return "deflate", decoded
    if binary or "br" in pending:
        decoded = _trial(stage_for("br"), body)
        if decoded is not None:
            return "br", decoded
    return None


def decode_body(body: bytes, declared: Sequence[str] = ()) -> bytes:
    """``body`` with every content coding it carries undone, judged by its bytes.

    ``declared`` are the codings its headers name (``Content-Encoding``, in any form
    :func:`codings` reads); they are not trusted, and only say what a body that decodes as
    nothing should have been. Raises :class:`~streamreel.core.errors.StreamDecodeError` for a
    damaged body, one past the budget, one that needs a codec module that is not installed, and
    a body that is not text under a coding nothing here knows.
    """
    pending = [
        name for name in (n.strip().lower() for n in declared) if name not in ("", "identity")
    ]
    for _ in range(MAX_LAYERS):
        found = _layer(body, pending)
        if found is None:
            _explain(pending, body)
            return body
        coding, body = found
        if pending:
            pending.remove(coding if coding in pending else pending[-1])
    raise StreamDecodeError(
        f"cannot decompress body: expected at most {MAX_LAYERS} layers of content coding, got "
        "more (a compression bomb); check where this body came from"
    )


def decode_layer(coding: str, body: bytes) -> bytes:
    """``body`` decoded when a header names ``coding`` for it: :func:`decode_body` with that one
    coding declared (the bytes still decide; the name only says what a body that decodes as
    nothing should have been)."""
    return decode_body(body, [coding])


_KNOWN: Final = ("gzip", "x-gzip", "deflate", "br", "zstd")


def _explain(pending: list[str], body: bytes) -> None:
    """Raise if the headers name a coding that a body which decodes as nothing should carry."""
    for name in pending:
        if name not in _KNOWN:
            raise StreamDecodeError(
                "cannot decode body: expected a Content-Encoding of gzip, deflate, br, zstd or "
                f"identity, got {name!r}; record again with 'Accept-Encoding: gzip'"
            )
    if not body or _is_text(body):
        return  # already decoded by whoever recorded it; the header is stale
    for name in pending:
        if name == "br" and stage_for("br") is None:
            raise StreamDecodeError(
                "cannot decompress brotli body: expected an installed brotli module, got none; "
                "do pip install 'streamreel[compression]' (or pip install brotli), then load the"
                " cassette again"
            )
        if name == "deflate":
            raise _damaged("deflate body", "zlib or raw deflate data", "no deflate stream")
        if name == "br":
            raise _damaged("brotli body", "brotli data", "no brotli stream")


def _strict(stage: Stage | None, body: bytes, what: str, expected: str) -> bytes:
    if stage is None:  # pragma: no cover - gzip is always available
        raise StreamDecodeError(f"cannot decompress {what}: expected a decoder, got none")
    try:
        return _whole(stage, body)
    except StreamDecodeError:
        raise  # over the size budget: not damaged, and said so already
    except Exception as exc:  # zlib.error, ValueError, and the optional modules' own errors
        raise _damaged(what, expected, exc) from exc


def _damaged(what: str, expected: str, exc: BaseException | str) -> StreamDecodeError:
    return StreamDecodeError(
        f"cannot decompress {what}: expected {expected}, got corrupt data ({exc}); {_DAMAGED}"
    )
