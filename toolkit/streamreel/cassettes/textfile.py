"""Input files as text: refused from their first bytes when they are not, read in bounded lines.

Every file streamreel reads (cassettes in any format, chunk files, standard input) is text:
UTF-8, with no NUL byte, since neither YAML nor JSON allows one. A file that is not text (a NUL
in its first :data:`HEAD_BYTES`, or a first line that is not UTF-8) is refused before the rest
is read: a megabyte of random bytes,
a binary attached by mistake or a 1 GB sparse file stops in a moment with a
:class:`~streamreel.core.errors.CassetteError` naming the file, instead of being read whole (or
decoded with replacement characters) first.

Chunk files are read a line at a time, in bytes: a line ends at LF only (CRLF loses its CR),
never at the other characters ``str.splitlines`` breaks on (U+2028 inside a JSON string is
text, not a line end), and a line longer than :data:`~streamreel.cassettes.limits.MAX_LINE_BYTES`
is refused rather than held whole. Each line is decoded strictly; a line that is not UTF-8 is an
error at that line, so what came before it still replays.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streamreel.cassettes.limits import MAX_LINE_BYTES
from streamreel.core.errors import CassetteError, ChunkError

__all__ = ["HEAD_BYTES", "check_head", "chunk_lines", "decode_text", "empty_error", "read_text"]

HEAD_BYTES = 64 * 1024
"""How much of a file is looked at before the rest is read."""


def empty_error(what: str, path: str | Path | None) -> CassetteError:
    """The error for an input with nothing in it."""
    return CassetteError(
        f"cannot read {what}: expected at least one {'chunk' if what == 'chunk file' else 'line'},"
        f" got an empty {'input' if path is None else 'file'}; check that the path names a "
        f"{what} that was written in full",
        path=path,
    )


def check_head(head: bytes, path: str | Path | None, what: str = "file") -> None:
    """Refuse ``head``, the first bytes of an input, when they are not text: a NUL byte in
    them, or a first line that is not UTF-8.

    Only the first line must decode: a stray byte further on is an error at its own line, after
    the lines before it were read. A multi-byte character cut at the end of ``head`` is fine.
    """
    nul = head.find(b"\0")
    end = head.find(b"\n")
    first = head[: len(head) if end < 0 else end]
    try:
        codecs.getincrementaldecoder("utf-8")().decode(first if nul < 0 else first[:nul])
    except UnicodeDecodeError as exc:
        offset = exc.start
    else:
        if nul < 0:
            return
        offset = nul
    raise CassetteError(
        f"cannot read {what}: expected UTF-8 text, got byte {head[offset]:#04x} at offset "
        f"{offset}, so the input is not text; check that the path names a cassette or chunk file",
        path=path,
    )


def read_text(path: Path, what: str = "cassette") -> str:
    """The whole text of ``path``, refused from its first bytes when it is not text."""
    try:
        with path.open("rb") as stream:
            head = stream.read(HEAD_BYTES)
            check_head(head, path, what)
            raw = head + stream.read()
    except OSError as exc:
        raise CassetteError(
            f"cannot read {what}: expected a readable file, got {exc.strerror or exc}; "
            "check the path and its permissions",
            path=path,
        ) from exc
    return decode_text(raw, path, what, f"the file is not a {what} or is damaged, record it again")


def decode_text(raw: bytes, path: str | Path | None, what: str, remedy: str) -> str:
    """``raw`` as UTF-8 text (a BOM dropped), or a :class:`CassetteError` naming the byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CassetteError(
            f"cannot read {what}: expected UTF-8 text, got byte {raw[exc.start]:#04x} at "
            f"offset {exc.start}; {remedy}",
            path=path,
        ) from None


def chunk_lines(stream: io.BufferedReader[Any], path: str | Path) -> Iterator[tuple[int, str]]:
    """Each line of a chunk file with its number (from 1), decoded, without its line end.

    Raises :class:`~streamreel.core.errors.CassetteError` when the first bytes are not text,
    and :class:`~streamreel.core.errors.ChunkError` (with the line number) at a line that is
    too long or not UTF-8: the lines before it have been yielded already.
    """
    # What the buffer holds already (a whole block of a file, or what a pipe sent so far): enough
    # to refuse what is not text before a line of it is read.
    check_head(stream.peek(HEAD_BYTES)[:HEAD_BYTES], path, "chunk file")
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise ChunkError(
                f"cannot read chunk line: expected at most {MAX_LINE_BYTES:,} bytes a line, got "
                "a longer one; a chunk file holds one chunk a line",
                path=path,
                line=number,
            )
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ChunkError(
                f"cannot read chunk line: expected UTF-8 text, got byte {raw[exc.start]:#04x} "
                f"at column {exc.start + 1}; re-encode the file as UTF-8",
                path=path,
                line=number,
            ) from None
        yield number, text.rstrip("\r\n")
