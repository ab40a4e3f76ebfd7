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

import os
from pathlib import Path

from streamreel.cassettes import usage
from streamreel.core.cassette import (
    BodyChunk,
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import CassetteError

__all__ = ["API", "PROVIDER", "read_chunk_file"]

PROVIDER = "openai"
API = "chat-completions"


def read_chunk_file(path: str | os.PathLike[str]) -> Cassette:
    """The chunk file at ``path`` as a one-interaction cassette of its lines as SSE events."""
    source = Path(path)
    usage.note(source)
    try:
        text = source.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CassetteError(
            f"cannot read chunk file: expected a readable file, got {exc.strerror or exc}; "
            "check the path and its permissions",
            path=source,
        ) from exc
    pieces: list[BodyChunk] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        event = stripped if stripped.startswith(("data:", ":")) else "data: " + stripped
        pieces.append(BodyChunk(0.0, (event + "\n\n").encode("utf-8")))
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
