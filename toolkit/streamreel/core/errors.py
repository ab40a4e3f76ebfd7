"""The exceptions streamreel raises, all from one root.

::

    StreamreelError
    ├── ChunkError                  a chunk that is not a chat-completion chunk
    ├── StreamDecodeError           bytes that are not the framing they claim (SSE, NDJSON...)
    ├── CassetteError               a cassette that cannot be read or written
    │   ├── CassetteVersionError    written by a newer streamreel than this one
    │   └── UnsupportedStreamError  a recognised stream that streamreel does not adapt (yet)
    ├── ParserError                 a parser gave up on a stream (replay keeps what came before)
    ├── RecordingError              the recorder cannot proceed
    │   ├── NoMatchError            a request with no recorded interaction to answer it
    │   ├── UnplayedError           a strict recording left recorded interactions unplayed
    │   ├── NetworkBlockedError     a replay-only test tried to reach beyond loopback
    │   └── ProviderError           a recorded provider call failed (the cassette keeps it)
    └── ConfigurationError          contradictory or unknown settings
        └── MissingExtraError       a feature whose optional packages are not installed

Every error carries *where* it happened as data (``path``, ``interaction``, ``chunk``, ``line``)
as well as in its text, and its text reads ``cannot X: expected Y, got Z; do W``. Faults found
inside a stream are not raised by the core: they become error messages in the output stream,
after every message that came before them.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CassetteError",
    "CassetteVersionError",
    "ChunkError",
    "ConfigurationError",
    "MissingExtraError",
    "NetworkBlockedError",
    "NoMatchError",
    "ParserError",
    "ProviderError",
    "RecordingError",
    "StreamDecodeError",
    "StreamreelError",
    "UnplayedError",
    "UnsupportedStreamError",
    "describe_value",
    "preview",
]


class StreamreelError(Exception):
    """Root of every error streamreel raises.

    ``reason`` is the sentence without its location; ``str(error)`` prefixes the location
    (``path: interaction 2: chunk 7: reason``) so a message names where to look.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | Path | None = None,
        interaction: int | None = None,
        chunk: int | None = None,
        line: int | None = None,
    ) -> None:
        self.reason = reason
        self.path = str(path) if path is not None else None
        self.interaction = interaction
        self.chunk = chunk
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        where: list[str] = []
        if self.path is not None:
            where.append(self.path if self.line is None else f"{self.path}:{self.line}")
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.interaction is not None:
            where.append(f"interaction {self.interaction}")
        if self.chunk is not None:
            where.append(f"chunk {self.chunk}")
        return ": ".join([*where, self.reason])

    def located(
        self,
        *,
        path: str | Path | None = None,
        interaction: int | None = None,
        chunk: int | None = None,
        line: int | None = None,
    ) -> StreamreelError:
        """Fill in location fields that are still unknown and re-render the message.

        Inner layers raise without knowing the file or interaction; outer layers add them.
        """
        if self.path is None and path is not None:
            self.path = str(path)
        if self.interaction is None:
            self.interaction = interaction
        if self.chunk is None:
            self.chunk = chunk
        if self.line is None:
            self.line = line
        self.args = (self._render(),)
        return self

    def __str__(self) -> str:
        return self._render()


class ChunkError(StreamreelError):
    """A chunk that is not a chat-completion chunk: invalid JSON or the wrong shape."""


class StreamDecodeError(StreamreelError):
    """Bytes that cannot be decoded as the stream framing they claim (SSE, NDJSON, JSON array)."""


class CassetteError(StreamreelError):
    """A cassette that cannot be read or written: bad YAML, base64, gzip, or missing keys."""


class CassetteVersionError(CassetteError):
    """A cassette written in a newer streamreel format than this reader knows."""


class UnsupportedStreamError(CassetteError):
    """A stream streamreel recognises but does not adapt (Bedrock Agents, xAI gRPC...)."""


class RecordingError(StreamreelError):
    """The recorder cannot proceed (for example: record mode ``none`` and nothing recorded)."""


class NoMatchError(RecordingError):
    """A request that no recorded interaction answers; the text lists the nearest candidates."""


class UnplayedError(RecordingError):
    """A strict recording ended with recorded interactions its block never asked for."""


class NetworkBlockedError(RecordingError):
    """A test replaying cassettes opened a connection to a host beyond loopback.

    Not an ``OSError`` on purpose: HTTP clients retry and wrap connection errors, and this one
    must stop the test at once, with the host and the test named."""


class ProviderError(RecordingError):
    """A provider call that failed while it was recorded: an HTTP error, a stream cut, an error
    event. ``saved`` says whether the cassette at ``path`` was written with the failure in it."""

    def __init__(self, reason: str, *, path: str | Path | None = None, saved: bool = False) -> None:
        super().__init__(reason, path=path)
        self.saved = saved


class ParserError(StreamreelError):
    """Raised by a parser that cannot go on with the current stream.

    Replay records it as a ``parser`` error entry at the chunk that caused it, keeps every
    message the parser made before, and carries on with the next interaction. A parser raises
    it once, after handing over (``drain``) what it made; it may ignore the rest of the stream.
    """


class ConfigurationError(StreamreelError):
    """Settings that contradict each other or name something unknown."""


class MissingExtraError(ConfigurationError, ImportError):
    """A feature was used whose optional packages (one of streamreel's extras) are missing.

    The message names the extra to install. It is an :class:`ImportError` too, raised where the
    feature's module imports the package, so code that probes for optional modules with
    ``except ImportError`` keeps working.
    """

    def __init__(self, feature: str, module: str, extra: str) -> None:
        self.extra = extra
        super().__init__(
            f"cannot use {feature}: expected the {module} package, got it not installed;"
            f" do pip install 'streamreel[{extra}]'"
        )
        self.name = module


def preview(text: str, limit: int = 60) -> str:
    """A piece of text quoted in an error message: its ``repr``, cut after ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def describe_value(value: object) -> str:
    """The ``got Z`` of an error message: names a parsed value without dumping all of it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}" if value else "an empty string"
    if isinstance(value, bytes):
        return f"{len(value)} bytes of binary"
    if isinstance(value, dict):
        keys = ", ".join(str(key) for key in list(value)[:6])
        return f"a mapping with keys [{keys}]" if value else "an empty mapping"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return f"a {type(value).__name__}"
