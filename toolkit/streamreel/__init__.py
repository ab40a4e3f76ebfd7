"""streamreel: record, replay and snapshot-test LLM provider streams.

The package is layered; each layer depends only on those above it in this list:

* :mod:`streamreel.core`: sans-I/O schemas, framing, provider adapters, the parser, results
* :mod:`streamreel.letta`: Letta's streaming-interface API over the core parser, and Letta itself
* :mod:`streamreel.cassettes`: cassette files in every format, matching, scrubbing
* :mod:`streamreel.playback`: replaying cassettes and chunk files
* :mod:`streamreel.recording`: interception, the recorder, the provider emulator
* :mod:`streamreel.testing`: the pytest plugin, snapshots, diffs, the fuzzer
* :mod:`streamreel.notebook`: rich display and widgets
* :mod:`streamreel.cli`: the ``streamreel`` command

The names below are the public API. They load on first use, so ``import streamreel`` costs
next to nothing and using the core does not pay for the recorder, YAML or the widgets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from streamreel._version import __version__

if TYPE_CHECKING:
    from streamreel.cassettes.matching import Matcher
    from streamreel.cassettes.scrubbing import Scrubber
    from streamreel.cassettes.storage import load_cassette, save_cassette
    from streamreel.core.cassette import Cassette
    from streamreel.core.chunks import ChatCompletionChunk, StreamFault, parse_chunk
    from streamreel.core.errors import (
        CassetteError,
        CassetteVersionError,
        ChunkError,
        ConfigurationError,
        NoMatchError,
        ParserError,
        ProviderError,
        RecordingError,
        StreamDecodeError,
        StreamreelError,
        UnsupportedStreamError,
    )
    from streamreel.core.messages import (
        AgentMessage,
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
    from streamreel.core.parser import InterfaceSettings, StreamParser
    from streamreel.core.providers import StreamDecoder, StreamKind, detect_stream
    from streamreel.core.results import ErrorEntry, InteractionResult, ReplayResult
    from streamreel.letta.interface import (
        QueuingInterface,
        StreamingServerInterface,
        messages_from_chunks,
    )
    from streamreel.letta.real import letta_parser
    from streamreel.playback.replay import (
        ParserFactory,
        StreamingInterfaceLike,
        default_parser,
        replay,
        replay_chunk_file,
    )
    from streamreel.recording.recorder import Recording, RecordMode, record
    from streamreel.testing.diff import diff_cassette, diff_cassettes
    from streamreel.testing.fuzz import fuzz_cassette, fuzz_cassettes
    from streamreel.testing.snapshot import (
        StreamDeltasSnapshotExtension,
        StreamSnapshotExtension,
        serialize_stream,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "streamreel.cassettes.matching": ("Matcher",),
    "streamreel.cassettes.scrubbing": ("Scrubber",),
    "streamreel.cassettes.storage": ("load_cassette", "save_cassette"),
    "streamreel.core.cassette": ("Cassette",),
    "streamreel.core.chunks": ("ChatCompletionChunk", "StreamFault", "parse_chunk"),
    "streamreel.core.errors": (
        "CassetteError",
        "CassetteVersionError",
        "ChunkError",
        "ConfigurationError",
        "NoMatchError",
        "ParserError",
        "ProviderError",
        "RecordingError",
        "StreamDecodeError",
        "StreamreelError",
        "UnsupportedStreamError",
    ),
    "streamreel.core.messages": (
        "AgentMessage",
        "AssistantMessage",
        "ErrorMessage",
        "ForeignMessage",
        "HiddenReasoningMessage",
        "ReasoningMessage",
        "ToolCall",
        "ToolCallDelta",
        "ToolCallMessage",
        "ToolReturnMessage",
        "UsageStatistics",
        "merge_deltas",
        "parse_wire",
        "to_sse",
        "to_wire",
    ),
    "streamreel.core.parser": ("InterfaceSettings", "StreamParser"),
    "streamreel.core.providers": ("StreamDecoder", "StreamKind", "detect_stream"),
    "streamreel.core.results": ("ErrorEntry", "InteractionResult", "ReplayResult"),
    "streamreel.letta.interface": (
        "QueuingInterface",
        "StreamingServerInterface",
        "messages_from_chunks",
    ),
    "streamreel.letta.real": ("letta_parser",),
    "streamreel.playback.replay": (
        "ParserFactory",
        "ProcessingExchanges",
        "ProcessingStreams",
        "StreamingInterfaceLike",
        "default_parser",
        "replay",
        "replay_chunk_file",
    ),
    "streamreel.playback.sdkstream": ("async_sdk_stream", "sdk_stream"),
    "streamreel.recording.recorder": ("RecordMode", "Recording", "record"),
    "streamreel.testing.diff": ("diff_cassette", "diff_cassettes"),
    "streamreel.testing.fuzz": ("fuzz_cassette", "fuzz_cassettes"),
    "streamreel.testing.snapshot": (
        "StreamDeltasSnapshotExtension",
        "StreamSnapshotExtension",
        "serialize_stream",
    ),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "AgentMessage",
    "AssistantMessage",
    "Cassette",
    "CassetteError",
    "CassetteVersionError",
    "ChatCompletionChunk",
    "ChunkError",
    "ConfigurationError",
    "ErrorEntry",
    "ErrorMessage",
    "ForeignMessage",
    "HiddenReasoningMessage",
    "InteractionResult",
    "InterfaceSettings",
    "Matcher",
    "NoMatchError",
    "ParserError",
    "ParserFactory",
    "ProcessingExchanges",
    "ProcessingStreams",
    "ProviderError",
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
    "StreamingInterfaceLike",
    "StreamingServerInterface",
    "StreamreelError",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallMessage",
    "ToolReturnMessage",
    "UnsupportedStreamError",
    "UsageStatistics",
    "__version__",
    "async_sdk_stream",
    "default_parser",
    "detect_stream",
    "diff_cassette",
    "diff_cassettes",
    "fuzz_cassette",
    "fuzz_cassettes",
    "letta_parser",
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
    "sdk_stream",
    "serialize_stream",
    "to_sse",
    "to_wire",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'streamreel' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext streamreel``: registers the ``%%record`` cell magic."""
    from streamreel.recording.magic import load_ipython_extension as load

    load(ipython)
