"""A chunk file seen as a cassette, for the tools that work on cassettes (the fuzzer).

A chunk file (``.jsonl``) is one ``chat.completion.chunk`` a line, optionally behind ``data: ``,
with blank lines, SSE comments and ``[DONE]`` allowed. The replay reads it directly
(:func:`streamreel.playback.replay.replay_chunk_file`); a tool that re-cuts bodies needs it as a
recorded stream instead. Each line becomes one SSE event, and one read, of a single Chat
Completions interaction; a line that is not a chunk stays as it is, so replaying the cassette
stops at it as the chunk file's replay does.
The request's URI is the file's own ``file:`` URI, so the interaction names where it came from;
the stream is replayed as ``openai``/``chat-completions`` (:data:`PROVIDER`, :data:`API`), since
a file URI tells detection nothing.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streamreel.cassettes import usage
from streamreel.cassettes.textfile import HEAD_BYTES, chunk_lines, empty_error
from streamreel.core.cassette import (
    BodyChunk,
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import CassetteError, ChunkError

__all__ = ["API", "PROVIDER", "opened", "read_chunk_file"]

PROVIDER = "openai"
API = "chat-completions"


def read_chunk_file(path: str | os.PathLike[str], *, data: bytes | None = None) -> Cassette:
    """The chunk file at ``path`` as a one-interaction cassette of its lines as SSE events.

    With ``data`` the lines are read from it (standard input, say) and ``path`` only names them.
    A file that is not text, has a line that is too long or not UTF-8, or holds no chunk at all
    is a :class:`~streamreel.core.errors.CassetteError` naming it.
    """
    source = Path(path)
    if data is None:
        usage.note(source)
    pieces: list[BodyChunk] = []
    chunks = 0
    try:
        with opened(source, data) as stream:
            for _, line in chunk_lines(stream, source):
                stripped = line.strip()
                if not stripped:
                    continue
                event = stripped if stripped.startswith(("data:", ":")) else "data: " + stripped
                if not event.startswith(":") and event[5:].strip() != "[DONE]":
                    chunks += 1
                pieces.append(BodyChunk(0.0, (event + "\n\n").encode("utf-8")))
    except ChunkError as exc:
        raise CassetteError(exc.reason, path=exc.path, line=exc.line) from None
    if not chunks:
        raise empty_error("chunk file", source)
    request = RecordedRequest(
        "POST",
        source.absolute().as_uri(),
        {"content-type": ["application/json"]},
        b'{"stream": true}',
    )
    response = RecordedResponse(
        200,
        "OK",
        {"content-type": ["text/event-stream"]},
        b"".join(piece.data for piece in pieces),
        pieces,
    )
    cassette = Cassette([Interaction(request, response)], info=CassetteInfo(source="chunk file"))
    cassette.path = source
    return cassette


@contextlib.contextmanager
def opened(source: Path, data: bytes | None) -> Iterator[io.BufferedReader[Any]]:
    """The chunk file's bytes as a buffered stream: ``data`` if given, else the file."""
    if data is not None:
        yield io.BufferedReader(io.BytesIO(data), HEAD_BYTES)
        return
    try:
        stream = io.BufferedReader(io.FileIO(source), HEAD_BYTES)
    except OSError as exc:
        raise CassetteError(
            f"cannot read chunk file: expected a readable file, got {exc.strerror or exc}; "
            "check the path and its permissions",
            path=source,
        ) from exc
    with stream:
        yield stream
