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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from streamreel.cassettes.storage import load_cassette
from streamreel.core.cassette import Cassette, Interaction
from streamreel.core.chunks import ChatCompletionChunk, StreamFault, parse_chunk_line
from streamreel.core.errors import ChunkError, StreamreelError, UnsupportedStreamError
from streamreel.core.messages import AgentMessage, ErrorMessage, UsageStatistics
from streamreel.core.parser import InterfaceSettings, StreamParser
from streamreel.core.providers import (
    StreamDecoder,
    StreamKind,
    chunks_from_json_body,
    detect_stream,
    http_error_fault,
)
from streamreel.core.results import (
    ChunkRecord,
    ErrorEntry,
    InteractionResult,
    ReplayResult,
    RequestSummary,
    Timing,
)
from streamreel.letta.interface import StreamingServerInterface

__all__ = [
    "ParserFactory",
    "StreamingInterfaceLike",
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
