"""What a replay gives back: per interaction, its chunks, messages, errors and timing.

These are plain data. They live in the core, below everything that makes them (the replay
driver) and everything that shows or compares them (the notebook renderers, snapshots, diffs),
so that each of those depends on the data and not on one another. In a notebook they show
themselves through :mod:`streamreel.notebook.display`, imported only when a representation is
asked for: the core itself never loads the presentation layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from streamreel.core.chunks import ChatCompletionChunk, StreamFault
from streamreel.core.messages import AgentMessage, UsageStatistics, merge_deltas
from streamreel.core.parser import InterfaceSettings

if TYPE_CHECKING:
    from streamreel.core.providers.detection import StreamKind

__all__ = [
    "ChunkRecord",
    "ErrorEntry",
    "FeatureTally",
    "InteractionResult",
    "ReplayResult",
    "RequestSummary",
    "Timing",
]


@dataclass(frozen=True, slots=True)
class RequestSummary:
    method: str
    url: str
    provider: str | None
    api: str | None
    model: str | None
    stream: bool


@dataclass(slots=True)
class ChunkRecord:
    """One body chunk as it arrived, and what it produced."""

    index: int
    offset_ms: float
    data: bytes
    produced: list[ChatCompletionChunk | StreamFault] = field(default_factory=list)
    messages: list[AgentMessage] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    """What went wrong in one interaction."""

    kind: Literal["http", "stream", "incomplete", "unsupported", "decode", "truncated", "parser"]
    message: str
    status: int | None = None
    error_type: str | None = None
    chunk: int | None = None

    def describe(self) -> str:
        where = f" (chunk {self.chunk})" if self.chunk is not None else ""
        code = f"HTTP {self.status} " if self.status is not None and self.kind == "http" else ""
        kind = f"{self.error_type}: " if self.error_type else ""
        return f"{self.kind}{where}: {code}{kind}{self.message}"


@dataclass(frozen=True, slots=True)
class Timing:
    """From the recorded arrival offsets; None where a cassette has no chunk timing."""

    time_to_first_chunk_ms: float | None
    duration_ms: float | None
    chunks_per_second: float | None


class FeatureTally:
    """The features one interaction's provider chunks show, counted as the chunks pass."""

    __slots__ = ("found", "tool_calls")

    def __init__(self) -> None:
        self.found: set[str] = set()
        self.tool_calls: set[int | str | None] = set()

    def add(self, output: ChatCompletionChunk | StreamFault) -> None:
        found = self.found
        if isinstance(output, StreamFault):
            found.add("refusal" if output.kind == "refusal" else f"{output.kind}-event")
            return
        if output.usage is not None:
            found.add("usage")
        for choice in output.choices:
            delta = choice.delta
            if delta.content:
                found.add("text")
            if delta.reasoning_content:
                found.add("reasoning")
            if delta.reasoning_content_signature:
                found.add("signature")
            if delta.redacted_reasoning_content:
                found.add("redacted-reasoning")
            for fragment in delta.tool_calls or ():
                key = fragment.index if fragment.index is not None else fragment.id
                self.tool_calls.add(key)

    def names(self) -> set[str]:
        found = set(self.found)
        if self.tool_calls:
            found.add("tool-calls")
        if len(self.tool_calls) > 1:
            found.add("parallel-tool-calls")
        return found


@dataclass(slots=True)
class InteractionResult:
    index: int
    request: RequestSummary
    status: int
    kind: StreamKind | None
    message_id: str
    chunks: list[ChunkRecord]
    messages: list[AgentMessage]
    errors: list[ErrorEntry]
    timing: Timing
    complete: bool
    chunk_features: frozenset[str] | None = None
    """What the provider chunks showed, when the replay kept no chunks to look at (a lean
    replay, which holds each record's timing but not its payload)."""

    @property
    def merged(self) -> list[AgentMessage]:
        """The messages with the deltas of each logical message joined."""
        return merge_deltas(self.messages)

    @property
    def features(self) -> list[str]:
        """What the stream shows, in a fixed order: text, reasoning, tool calls, errors..."""
        if self.chunk_features is not None:
            found = set(self.chunk_features)
        else:
            tally = FeatureTally()
            for record in self.chunks:
                for output in record.produced:
                    tally.add(output)
            found = tally.names()
        found.update(
            f"{error.kind}-error" for error in self.errors if error.kind in ("http", "decode")
        )
        if not self.complete:
            found.add("incomplete")
        order = [
            "text", "reasoning", "signature", "redacted-reasoning", "tool-calls",
            "parallel-tool-calls", "usage", "refusal", "error-event", "incomplete-event",
            "http-error", "decode-error", "incomplete",
        ]  # fmt: skip
        return [name for name in order if name in found]

    # The display module imports this one, so it is imported where it is used.
    def __repr__(self) -> str:
        from streamreel.notebook.display import interaction_text

        return interaction_text(self)

    def _repr_html_(self) -> str:
        from streamreel.notebook.display import interaction_html

        return interaction_html(self)


@dataclass(slots=True)
class ReplayResult:
    path: Path | None
    settings: InterfaceSettings
    interactions: list[InteractionResult]
    usage: UsageStatistics

    @property
    def messages(self) -> list[AgentMessage]:
        return [m for result in self.interactions for m in result.messages]

    @property
    def merged(self) -> list[AgentMessage]:
        return merge_deltas(self.messages)

    @property
    def errors(self) -> list[ErrorEntry]:
        return [e for result in self.interactions for e in result.errors]

    def __repr__(self) -> str:
        from streamreel.notebook.display import result_text

        return result_text(self)

    def _repr_html_(self) -> str:
        from streamreel.notebook.display import result_html

        return result_html(self)
