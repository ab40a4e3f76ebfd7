"""streamreel: record, replay and snapshot-test LLM provider streams.

The importable package is ``toolkit``; the distribution and the command are ``streamreel``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .chunks import ChatCompletionChunk, StreamFault, parse_chunk
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

try:
    __version__ = version("streamreel")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "AssistantMessage",
    "CassetteError",
    "CassetteVersionError",
    "ChatCompletionChunk",
    "ChunkError",
    "ConfigurationError",
    "ErrorMessage",
    "HiddenReasoningMessage",
    "NoMatchError",
    "ReasoningMessage",
    "RecordingError",
    "StreamDecodeError",
    "StreamFault",
    "StreamreelError",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallMessage",
    "ToolReturnMessage",
    "UnsupportedStreamError",
    "UsageStatistics",
    "__version__",
    "merge_deltas",
    "parse_chunk",
    "parse_wire",
    "to_sse",
    "to_wire",
]
