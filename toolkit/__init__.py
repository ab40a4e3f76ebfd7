"""streamreel: record, replay and snapshot-test LLM provider streams.

The importable package is ``toolkit``; the distribution and the command are ``streamreel``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .cassette import Cassette
from .chunks import ChatCompletionChunk, StreamFault, parse_chunk
from .diff import diff_cassette, diff_cassettes
from .errors import (
    CassetteError,
    CassetteVersionError,
    ChunkError,
    ConfigurationError,
    NoMatchError,
    RecordingError,
    StreamDecodeError,
    StreamreelError,
    UnsupportedStreamError,
)
from .fuzz import fuzz_cassette, fuzz_cassettes
from .interface import QueuingInterface, StreamingServerInterface, messages_from_chunks
from .matching import Matcher
from .messages import (
    AssistantMessage,
    ErrorMessage,
    HiddenReasoningMessage,
    ReasoningMessage,
    ToolCall,
    ToolCallDelta,
    ToolCallMessage,
    ToolReturnMessage,
    UsageStatistics,
    merge_deltas,
    parse_wire,
    to_sse,
    to_wire,
)
from .parser import InterfaceSettings, StreamParser
from .providers import StreamDecoder, StreamKind, detect_stream
from .recorder import Recording, RecordMode, record
from .replay import ReplayResult, default_parser, replay, replay_chunk_file
from .scrubbing import Scrubber
from .snapshot import StreamDeltasSnapshotExtension, StreamSnapshotExtension, serialize_stream
from .storage import load_cassette, save_cassette

try:
    __version__ = version("streamreel")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "AssistantMessage",
    "Cassette",
    "CassetteError",
    "CassetteVersionError",
    "ChatCompletionChunk",
    "ChunkError",
    "ConfigurationError",
    "ErrorMessage",
    "HiddenReasoningMessage",
    "InterfaceSettings",
    "Matcher",
    "NoMatchError",
    "QueuingInterface",
    "ReasoningMessage",
    "RecordMode",
    "Recording",
    "RecordingError",
    "ReplayResult",
    "Scrubber",
    "StreamDecodeError",
    "StreamDecoder",
    "StreamDeltasSnapshotExtension",
    "StreamFault",
    "StreamKind",
    "StreamParser",
    "StreamSnapshotExtension",
    "StreamingServerInterface",
    "StreamreelError",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallMessage",
    "ToolReturnMessage",
    "UnsupportedStreamError",
    "UsageStatistics",
    "__version__",
    "default_parser",
    "detect_stream",
    "diff_cassette",
    "diff_cassettes",
    "fuzz_cassette",
    "fuzz_cassettes",
    "load_cassette",
    "load_ipython_extension",
    "merge_deltas",
    "messages_from_chunks",
    "parse_chunk",
    "parse_wire",
    "record",
    "replay",
    "replay_chunk_file",
    "save_cassette",
    "serialize_stream",
    "to_sse",
    "to_wire",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext toolkit``: registers the ``%%record`` cell magic."""
    from .magic import load_ipython_extension as load

    load(ipython)
