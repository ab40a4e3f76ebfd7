"""Replay: cassettes (or chunk files) through a streaming interface, into agent messages.

A cassette's interactions replay as successive steps of one agent turn, through one parser:
each streamed interaction is one LLM call with its own ``message_id``. Per interaction the result
keeps the request summary, every body chunk with its arrival offset and what it produced (the
provider chunks, then the agent messages), the messages, any errors, and timing.

The parser is pluggable: anything with the streaming interface's methods
(``process_chunk``, ``stream_start``, ``stream_end``, ``step_complete``, ``step_yield``,
``get_generator``) stands in for the built-in one, Letta's own included. Parsers with a
synchronous ``drain()`` are read after every chunk; the others through their async generator,
consumed alongside the chunks.

Faults never empty a result. An HTTP error response becomes an error entry (status, provider
error type and message) and an error message in the stream; an error event inside a stream
becomes an error message after the messages before it; a stream that ends without its terminator
is marked incomplete and keeps its messages; a stream streamreel does not adapt becomes an
``unsupported`` entry naming the interaction. Only a cassette that cannot be read at all raises.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from .cassette import Cassette, Interaction
from .chunks import ChatCompletionChunk, StreamFault, parse_chunk_line
from .errors import ChunkError, StreamreelError, UnsupportedStreamError
from .interface import StreamingServerInterface
from .messages import AgentMessage, ErrorMessage, UsageStatistics, merge_deltas
from .parser import InterfaceSettings, StreamParser
from .providers import (
    StreamDecoder,
    StreamKind,
    chunks_from_json_body,
    detect_stream,
    http_error_fault,
)
from .storage import load_cassette

__all__ = [
    "ChunkRecord",
    "ErrorEntry",
    "InteractionResult",
    "ParserFactory",
    "ReplayResult",
    "RequestSummary",
    "StreamingInterfaceLike",
    "Timing",
    "default_parser",
    "replay",
    "replay_chunk_file",
]

_DEFAULT_DATE = datetime(2024, 1, 1, tzinfo=UTC)


@runtime_checkable
class StreamingInterfaceLike(Protocol):
    """What a parser needs to be replayed through: Letta's streaming interface API."""

    def stream_start(self) -> None: ...
    def stream_end(self) -> None: ...
    def step_complete(self) -> None: ...
    def step_yield(self) -> None: ...
    def process_chunk(
        self,
        chunk: Any,
        message_id: str,
        message_date: datetime,
        expect_reasoning_content: bool = False,
        name: str | None = None,
        message_index: int = 0,
    ) -> Any: ...
    def get_generator(self) -> Any: ...


ParserFactory = Callable[[InterfaceSettings], StreamingInterfaceLike]
"""Builds a fresh parser for one replay from the interface settings."""


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

    kind: Literal["http", "stream", "incomplete", "unsupported", "decode", "truncated"]
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

    @property
    def merged(self) -> list[AgentMessage]:
        """The messages with the deltas of each logical message joined."""
        return merge_deltas(self.messages)

    @property
    def features(self) -> list[str]:
        """What the stream shows, in a fixed order: text, reasoning, tool calls, errors..."""
        found: set[str] = set()
        tool_calls: set[int | str | None] = set()
        for record in self.chunks:
            for output in record.produced:
                if isinstance(output, StreamFault):
                    found.add("refusal" if output.kind == "refusal" else f"{output.kind}-event")
                    continue
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
                        tool_calls.add(key)
        if tool_calls:
            found.add("tool-calls")
        if len(tool_calls) > 1:
            found.add("parallel-tool-calls")
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
        from .display import interaction_text

        return interaction_text(self)

    def _repr_html_(self) -> str:
        from .display import interaction_html

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
        from .display import result_text

        return result_text(self)

    def _repr_html_(self) -> str:
        from .display import result_html

        return result_html(self)


def _message_id(seed: str, index: int) -> str:
    # Deterministic per cassette and interaction, so replays (and their diffs) are reproducible.
    return f"message-{uuid.uuid5(uuid.NAMESPACE_URL, f'streamreel:{seed}#{index}')}"


def _step_id(chosen: str | None, step: int) -> str | None:
    """A chosen message id names the first step; each later step is its own LLM call."""
    if chosen is None or step == 0:
        return chosen
    return f"{chosen}-{step}"


def _timing(chunks: Sequence[ChunkRecord], known: bool) -> Timing:
    if not known or not chunks:
        return Timing(None, None, None)
    first, last = chunks[0].offset_ms, chunks[-1].offset_ms
    rate = len(chunks) / (last / 1000.0) if last > 0 else None
    return Timing(first, last, rate)


def _summary(interaction: Interaction, kind: StreamKind | None) -> RequestSummary:
    request = interaction.request
    body = request.json()
    model = body.get("model") if isinstance(body, dict) else None
    streamed = bool(body.get("stream")) if isinstance(body, dict) else False
    return RequestSummary(
        method=request.method,
        url=request.uri,
        provider=kind.provider if kind else None,
        api=kind.api if kind else None,
        model=model if isinstance(model, str) else None,
        stream=streamed or (kind is not None and kind.framing not in ("json", "none")),
    )


class _Driver:
    """Feeds one parser and collects what it emits, chunk by chunk."""

    def __init__(self, parser: StreamingInterfaceLike) -> None:
        self.parser = parser
        self._drain: Callable[[], list[AgentMessage]] | None = getattr(parser, "drain", None)
        self._collected: list[AgentMessage] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumer: asyncio.Task[None] | None = None
        parser.stream_start()
        if self._drain is None:
            self._loop = asyncio.new_event_loop()
            self._consumer = self._loop.create_task(self._consume())

    async def _consume(self) -> None:
        async for message in self.parser.get_generator():
            self._collected.append(message)

    def take(self) -> list[AgentMessage]:
        if self._drain is not None:
            return self._drain()
        assert self._loop is not None
        # Let the consumer run until it waits for more.
        for _ in range(3):
            self._loop.run_until_complete(asyncio.sleep(0))
        taken, self._collected = self._collected, []
        return taken

    def error(self, text: str) -> list[AgentMessage]:
        report = getattr(self.parser, "error", None)
        if callable(report):
            report(text)
            return self.take()
        return [*self.take(), ErrorMessage(error=text)]

    def close(self) -> list[AgentMessage]:
        self.parser.step_yield()
        if self._loop is None or self._consumer is None:
            return self.take()
        self._loop.run_until_complete(asyncio.wait_for(self._consumer, timeout=10))
        self._loop.close()
        taken, self._collected = self._collected, []
        return taken


def default_parser(settings: InterfaceSettings) -> StreamingServerInterface:
    """streamreel's own streaming interface with ``settings``, what replays use by default."""
    return StreamingServerInterface(parser=StreamParser(settings))


def replay(
    cassette: Cassette | str | Path,
    *,
    settings: InterfaceSettings | None = None,
    parser: ParserFactory | None = None,
    expect_reasoning_content: bool | None = None,
    interactions: Iterable[int] | None = None,
    provider: str | None = None,
    api: str | None = None,
    message_id: str | None = None,
    message_date: datetime | None = None,
) -> ReplayResult:
    """Replay a cassette's interactions as the steps of one agent turn.

    ``settings`` are the interface's knobs (Letta's server defaults: assistant messages on).
    ``parser`` builds the parser to replay through (default: streamreel's interface).
    ``expect_reasoning_content`` switches content into DeepSeek's JSON-tool-call mode.
    ``interactions`` picks interactions by index (from 0, in file order).
    ``provider`` / ``api`` override detection. ``message_id`` / ``message_date`` fix the values
    otherwise derived from the cassette (ids deterministic per interaction, the recording date).
    """
    loaded = cassette if isinstance(cassette, Cassette) else load_cassette(cassette)
    settings = settings or InterfaceSettings(use_assistant_message=True)
    driver = _Driver((parser or default_parser)(settings))
    chosen = set(interactions) if interactions is not None else None
    seed = str(loaded.path or id(loaded))
    results: list[InteractionResult] = []
    for index, interaction in enumerate(loaded.interactions):
        if chosen is not None and index not in chosen:
            continue
        results.append(
            _replay_interaction(
                driver,
                index,
                interaction,
                message_id=_step_id(message_id, len(results)) or _message_id(seed, index),
                message_date=message_date
                or interaction.recorded_at
                or loaded.info.recorded_at
                or _DEFAULT_DATE,
                expect_reasoning_content=expect_reasoning_content,
                provider=provider,
                api=api,
            )
        )
    tail = driver.close()
    if results and tail:
        results[-1].messages.extend(tail)
        if results[-1].chunks:
            results[-1].chunks[-1].messages.extend(tail)
    usage_of = getattr(driver.parser, "usage", None)
    usage = usage_of() if callable(usage_of) else UsageStatistics(step_count=len(results))
    return ReplayResult(path=loaded.path, settings=settings, interactions=results, usage=usage)


def _replay_interaction(
    driver: _Driver,
    index: int,
    interaction: Interaction,
    *,
    message_id: str,
    message_date: datetime,
    expect_reasoning_content: bool | None,
    provider: str | None,
    api: str | None,
) -> InteractionResult:
    response = interaction.response
    errors: list[ErrorEntry] = []
    messages: list[AgentMessage] = []
    records: list[ChunkRecord] = []
    kind: StreamKind | None = None
    complete = True
    try:
        kind = detect_stream(interaction.request, response, provider=provider, api=api)
    except UnsupportedStreamError as exc:
        errors.append(ErrorEntry("unsupported", exc.reason, status=response.status))
        return InteractionResult(
            index, _summary(interaction, None), response.status, None, message_id, [],
            [], errors, Timing(None, None, None), complete=False,
        )  # fmt: skip
    summary = _summary(interaction, kind)
    # Off by default: content then reads as inner monologue. On, content is parsed as DeepSeek's
    # JSON tool call (and still reads as monologue when it is not JSON).
    expect = bool(expect_reasoning_content)

    def feed(
        outputs: Iterable[ChatCompletionChunk | StreamFault], record: ChunkRecord | None
    ) -> None:
        nonlocal complete
        for output in outputs:
            if record is not None:
                record.produced.append(output)
            if isinstance(output, StreamFault):
                if output.kind == "incomplete":
                    complete = False
                    errors.append(
                        ErrorEntry(
                            "incomplete", output.message, chunk=record.index if record else None
                        )
                    )
                    continue
                at = record.index if record else None
                errors.append(
                    ErrorEntry("stream", output.message, output.status, output.error_type, chunk=at)
                )
                emitted = driver.error(output.describe())
            else:
                driver.parser.process_chunk(output, message_id, message_date, expect)
                emitted = driver.take()
            messages.extend(emitted)
            if record is not None:
                record.messages.extend(emitted)

    if response.status >= 400:
        fault = http_error_fault(response.status, response.body)
        errors.append(
            ErrorEntry("http", fault.message, status=response.status, error_type=fault.error_type)
        )
        emitted = driver.error(f"HTTP {response.status}: {fault.describe()}")
        messages.extend(emitted)
    elif kind.framing == "none":
        pass  # not an LLM call (a model-info GET, a tracing post): nothing to replay
    elif kind.framing == "json":
        try:
            feed(chunks_from_json_body(kind, response.body), None)
        except UnsupportedStreamError as exc:
            errors.append(ErrorEntry("unsupported", exc.reason, status=response.status))
            complete = False
        except StreamreelError as exc:
            errors.append(ErrorEntry("decode", exc.reason))
            messages.extend(driver.error(exc.reason))
            complete = False
    else:
        decoder = StreamDecoder(kind)
        for number, piece in enumerate(response.body_chunks()):
            record = ChunkRecord(number, piece.offset_ms, piece.data)
            records.append(record)
            try:
                feed(decoder.feed(piece.data), record)
            except UnsupportedStreamError as exc:
                errors.append(ErrorEntry("unsupported", exc.reason, status=response.status))
                complete = False
                break
            except StreamreelError as exc:
                errors.append(ErrorEntry("decode", exc.reason, chunk=number))
                messages.extend(driver.error(f"cannot decode chunk {number}: {exc.reason}"))
                complete = False
                break
        else:
            try:
                feed(decoder.close(), records[-1] if records else None)
            except StreamreelError as exc:
                errors.append(ErrorEntry("decode", exc.reason))
                messages.extend(driver.error(exc.reason))
                complete = False
    if response.error:
        complete = False
        errors.append(
            ErrorEntry("truncated", response.error, chunk=len(records) - 1 if records else None)
        )
    driver.parser.step_complete()
    tail = driver.take()
    messages.extend(tail)
    if records and tail:
        records[-1].messages.extend(tail)
    return InteractionResult(
        index=index,
        request=summary,
        status=response.status,
        kind=kind,
        message_id=message_id,
        chunks=records,
        messages=messages,
        errors=errors,
        timing=_timing(records, response.chunks is not None),
        complete=complete,
    )


def replay_chunk_file(
    path: str | Path,
    *,
    settings: InterfaceSettings | None = None,
    parser: ParserFactory | None = None,
    expect_reasoning_content: bool = False,
    message_id: str | None = None,
    message_date: datetime | None = None,
) -> ReplayResult:
    """Replay a file of chat-completion chunks, one JSON object a line.

    A ``data: `` prefix, blank lines, comments and ``[DONE]`` are tolerated. A malformed line
    stops the replay with an error entry and an error message naming the file and line; every
    message before it is kept.
    """
    source = Path(path)
    settings = settings or InterfaceSettings(use_assistant_message=True)
    driver = _Driver((parser or default_parser)(settings))
    message_id = message_id or _message_id(str(source), 0)
    message_date = message_date or _DEFAULT_DATE
    messages: list[AgentMessage] = []
    records: list[ChunkRecord] = []
    errors: list[ErrorEntry] = []
    with source.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                chunk = parse_chunk_line(line)
            except ChunkError as exc:
                located = exc.located(path=source, line=number)
                errors.append(ErrorEntry("decode", str(located), chunk=len(records)))
                messages.extend(driver.error(str(located)))
                break
            if chunk is None:
                continue
            record = ChunkRecord(len(records), 0.0, line.encode(), produced=[chunk])
            driver.parser.process_chunk(chunk, message_id, message_date, expect_reasoning_content)
            record.messages = driver.take()
            messages.extend(record.messages)
            records.append(record)
    driver.parser.step_complete()
    messages.extend(driver.take())
    messages.extend(driver.close())
    usage_of = getattr(driver.parser, "usage", None)
    usage = usage_of() if callable(usage_of) else UsageStatistics(step_count=1)
    summary = RequestSummary("", str(source), None, "chat-completions", None, True)
    result = InteractionResult(
        0, summary, 200, None, message_id, records, messages, errors,
        Timing(None, None, None), complete=not errors,
    )  # fmt: skip
    return ReplayResult(path=source, settings=settings, interactions=[result], usage=usage)
