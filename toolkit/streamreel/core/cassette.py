"""Cassettes in memory: recorded HTTP interactions with their stream chunks and timing.

This module is the data model every shell shares: the readers build it, the recorder fills it,
the replayer, emulator and widgets read it. It does no I/O; reading and writing files live in
:mod:`streamreel.cassettes.storage`.

Rules the model keeps:

* bytes are always identity-encoded: a gzip body is stored decoded and its
  ``Content-Encoding`` header removed, so nothing downstream ever has to guess;
* ``Response.chunks`` holds the body exactly as it arrived, one entry per read, with the arrival
  offset in milliseconds from the moment the request was sent; ``None`` means the boundaries are
  unknown (a foreign cassette), and then the whole body counts as one chunk;
* ``Response.error`` is set when the stream was cut: the chunks received are kept, and the text
  says what the client saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from streamreel.core.wording import counted

__all__ = [
    "FORMAT_VERSION",
    "GRPC_METHOD",
    "BodyChunk",
    "Cassette",
    "CassetteInfo",
    "Interaction",
    "RecordedRequest",
    "RecordedResponse",
    "header_value",
]

FORMAT_VERSION = 1
"""The streamreel cassette format this code writes; readers migrate older ones."""

GRPC_METHOD = "GRPC"
"""The request method of a gRPC interaction (no HTTP method exists); its URI starts ``grpc:``."""


def header_value(headers: dict[str, list[str]], name: str) -> str | None:
    """The first value of a header, matching its name case-insensitively."""
    wanted = name.lower()
    for key, values in headers.items():
        if key.lower() == wanted and values:
            return values[0]
    return None


@dataclass(slots=True)
class BodyChunk:
    """One read of a response body: its bytes and when they arrived."""

    offset_ms: float
    data: bytes


@dataclass(slots=True)
class RecordedRequest:
    method: str
    uri: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def json(self) -> Any | None:
        """The body as JSON, or None when it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            # RecursionError: nesting deeper than the decoder goes is not a request to read.
            return None


@dataclass(slots=True)
class RecordedResponse:
    status: int
    reason: str = ""
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""
    chunks: list[BodyChunk] | None = None
    error: str | None = None

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def body_chunks(self) -> list[BodyChunk]:
        """The chunks as recorded, or the whole body as one chunk when boundaries are unknown."""
        if self.chunks is not None:
            return self.chunks
        return [BodyChunk(0.0, self.body)] if self.body else []


@dataclass(slots=True)
class Interaction:
    request: RecordedRequest
    response: RecordedResponse
    recorded_at: datetime | None = None


@dataclass(slots=True)
class CassetteInfo:
    """Cassette-level metadata; ``source`` names the recorder that wrote the file."""

    format_version: int = FORMAT_VERSION
    tool_version: str | None = None
    recorded_at: datetime | None = None
    recorded_against: str | None = None
    source: str = "streamreel"


@dataclass(slots=True)
class Cassette:
    interactions: list[Interaction] = field(default_factory=list)
    info: CassetteInfo = field(default_factory=CassetteInfo)
    path: Path | None = None

    # How a cassette shows itself in a notebook. The text must not change from run to run
    # (nbval compares it). It is drawn here, not in streamreel.notebook.display, because this
    # module is
    # part of the pure core, which may not import the display shell.
    def __repr__(self) -> str:
        calls: list[list[Any]] = []  # runs of the same call: [text, count]
        for interaction in self.interactions:
            parts = urlsplit(interaction.request.uri)
            call = f"{interaction.request.method} {parts.netloc}{parts.path}"
            call += f" → {interaction.response.status}"
            if calls and calls[-1][0] == call:
                calls[-1][1] += 1
            else:
                calls.append([call, 1])
        count = len(self.interactions)
        chunks = sum(len(i.response.body_chunks()) for i in self.interactions)
        listed = "; ".join(call + (f" ×{n}" if n > 1 else "") for call, n in calls)
        return (
            f"<Cassette {self._display_name()}: {counted(count, 'interaction')},"
            f" {counted(chunks, 'chunk')}" + (f": {listed}>" if listed else ">")
        )

    def _display_name(self) -> str:
        return self.path.name if self.path is not None else "(in memory)"

    def _repr_html_(self) -> str:
        from html import escape  # only a notebook asks; loading it cost every replay

        rows = "".join(
            f"<tr><td>{n}</td><td>{escape(i.request.method)} {escape(i.request.uri)}</td>"
            f"<td>{i.response.status}</td><td>{escape(i.response.header('content-type') or '')}"
            f"</td><td>{len(i.response.body_chunks())}</td><td>{len(i.response.body):,}</td></tr>"
            for n, i in enumerate(self.interactions)
        )
        recorded = f", recorded {self.info.recorded_at:%Y-%m-%d}" if self.info.recorded_at else ""
        return (
            f"<div><b>Cassette {escape(self._display_name())}</b>"
            f" <small>(written by {escape(self.info.source)}{recorded})</small><table>"
            "<tr><th>#</th><th>request</th><th>status</th><th>type</th><th>chunks</th>"
            f"<th>bytes</th></tr>{rows}</table></div>"
        )
