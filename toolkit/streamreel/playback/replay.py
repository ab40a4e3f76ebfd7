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

Tool returns: a multi-step cassette holds the results of step *i*'s tool calls in the request
of step *i + 1*. Before replaying an interaction, replay hands each result of its request that
answers a call made in an earlier replayed step (once, though the conversation repeats it in
every later request) to parsers that show tool returns (:class:`ReturningTools`), as Letta's
server does after running a tool: ``function_message("Success: ...")`` or
``function_message("Error: ...")``. The status follows Letta's own record when the result is
one (the JSON ``{"status": "OK" | "Failed", "message": ...}`` a Letta agent sends back; the
return text is then its ``message``, as Letta's server passes it), else the provider's error
mark (Anthropic's ``is_error``, Bedrock's ``status``, Gemini's ``error`` response), else
success, with the result's text as the model saw it.

Faults never empty a result. An HTTP error response becomes an error entry (status, provider
error type and message) and an error message in the stream; an error event inside a stream
becomes an error message after the messages before it; a stream that ends without its terminator
is marked incomplete and keeps its messages; a stream streamreel does not adapt becomes an
``unsupported`` entry naming the interaction. Only a cassette that cannot be read at all raises.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, TypeVar, runtime_checkable

from streamreel.cassettes import usage
from streamreel.cassettes.chunkfile import opened as _opened
from streamreel.cassettes.textfile import chunk_lines, empty_error
from streamreel.core import providers  # not its names: they load on first use (see below)
from streamreel.core.cassette import Cassette, CassetteInfo, Interaction, RecordedResponse
from streamreel.core.chunks import (
    ChatCompletionChunk,
    StreamFault,
    parse_chunk_line,
    select_choice,
)
from streamreel.core.collector import paused
from streamreel.core.errors import (
    CassetteError,
    ChunkError,
    ConfigurationError,
    ParserError,
    StreamreelError,
    UnsupportedStreamError,
)
from streamreel.core.messages import (
    AgentMessage,
    ErrorMessage,
    UsageStatistics,
    foreign_message,
    name_uuid,
    trusted,
)
from streamreel.core.parser import InterfaceSettings, StreamParser
from streamreel.core.results import (
    ChunkRecord,
    ErrorEntry,
    FeatureTally,
    InteractionResult,
    ReplayResult,
    RequestSummary,
    Timing,
)
from streamreel.letta.interface import StreamingServerInterface

if TYPE_CHECKING:
    # Imported where they are used: a chunk file needs neither a cassette reader (and YAML) nor
    # an event loop and its thread (a parser that drains needs none), nor the decoders of
    # ``providers`` (every provider's adapter), and a command replaying one starts faster
    # without them.
    import asyncio
    import concurrent.futures
    import threading

    from streamreel.cassettes.reader import CassetteReader
    from streamreel.core.providers import StreamKind
    from streamreel.core.providers.tool_results import ToolResult

__all__ = [
    "AnyParser",
    "BodyDecoder",
    "CountingUsage",
    "DecoderFactory",
    "Draining",
    "FollowingServerFlags",
    "ForcingInnerThoughts",
    "ParserFactory",
    "ProcessingExchanges",
    "ProcessingStreams",
    "ReasoningChoice",
    "ReplaySteps",
    "ReportingErrors",
    "ReturningTools",
    "StreamingInterfaceLike",
    "ToolReturnRecord",
    "default_parser",
    "is_native",
    "replay",
    "replay_chunk_file",
]

_DEFAULT_DATE = datetime(2024, 1, 1, tzinfo=UTC)
_PROGRESS_LINES = 4096  # a chunk file reports its progress this often
_T = TypeVar("_T")


@runtime_checkable
class StreamingInterfaceLike(Protocol):
    """What a parser needs to be replayed through: Letta's streaming interface API.

    Messages come out of ``get_generator()``, an async generator, as in Letta. A parser may
    also offer any of the capabilities below; replay uses each one it finds.
    """

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


@runtime_checkable
class Draining(Protocol):
    """Hands over the messages made so far synchronously; no event loop is needed then."""

    def drain(self) -> list[AgentMessage]: ...


@runtime_checkable
class ProcessingStreams(Protocol):
    """A parser of the SDK's own stream (Letta 0.8+'s shape): ``process(stream)``.

    Per streamed interaction, replay builds the official SDK's stream from the recorded bytes
    (:mod:`streamreel.playback.sdkstream`) and hands it to ``process``, which returns an
    iterator, or an async iterator, of messages (pydantic models, dataclasses or dicts, held as
    :class:`~streamreel.core.messages.ForeignMessage`). An ``async def process`` is given the
    SDK's async stream. When ``process`` takes a ``request`` keyword it is given the recorded
    request's JSON fields (messages, tools). A parser's ``sdk`` attribute may name a variant
    stream (``"anthropic.beta"``) for the API it belongs to.
    """

    def process(self, stream: Any) -> Any: ...


@runtime_checkable
class ProcessingExchanges(Protocol):
    """A parser handed a whole recorded exchange: ``process_exchange(interaction, kind)``.

    ``interaction`` is the recorded request and response (raw bytes and chunk records), ``kind``
    what the response is; it returns an iterable of messages (plain dicts, or anything
    :class:`ProcessingStreams` may return). This is how parsers running out of process (in a
    worker venv) receive what they need. Replay prefers it over ``process``, and ``process``
    over ``process_chunk``.
    """

    def process_exchange(self, interaction: Interaction, kind: StreamKind) -> Iterable[Any]: ...


@runtime_checkable
class ReportingErrors(Protocol):
    """Turns a fault in the stream into messages of its own (else replay adds an error)."""

    def error(self, text: str) -> None: ...


@runtime_checkable
class CountingUsage(Protocol):
    """Reports the usage it counted (else replay reports only the number of steps)."""

    def usage(self) -> UsageStatistics: ...


@runtime_checkable
class ReturningTools(Protocol):
    """Shows a tool's return between steps (Letta's non-streaming ``function_message`` path)."""

    def function_message(
        self, msg: str, msg_obj: Any = None, chunk_index: int | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class ToolReturnRecord:
    """The ``msg_obj`` replay passes with a tool return: the fields Letta's server's tool message
    carries and the interfaces read (``tool_returns`` is empty: a request holds no stdout)."""

    id: str
    created_at: datetime
    tool_call_id: str
    name: str | None = None
    tool_returns: tuple[Any, ...] = ()


@runtime_checkable
class FollowingServerFlags(Protocol):
    """Replayed as Letta's server drives it, when ``letta_server_flags()`` says so.

    Unless the caller chooses ``expect_reasoning_content``, each interaction then gets what
    Letta's server passes for its provider (:mod:`streamreel.core.providers.server_flags`).
    """

    def letta_server_flags(self) -> bool: ...


@runtime_checkable
class ForcingInnerThoughts(Protocol):
    """Can turn ``inner_thoughts_in_kwargs`` on mid-turn, as Letta's Anthropic path does.

    Replay calls it before an interaction whose provider path forces the setting, when the
    flags are Letta's server's (``expect_reasoning_content="auto"``, explicit or by default).
    """

    def force_inner_thoughts_in_kwargs(self) -> None: ...


ReasoningChoice: TypeAlias = bool | Literal["auto"] | None
"""``expect_reasoning_content`` for a replay: on, off, ``"auto"`` (per interaction, as Letta's
server passes it for the provider), or None (``"auto"`` for a parser that follows the server's
flags, else off)."""


AnyParser: TypeAlias = StreamingInterfaceLike | ProcessingStreams | ProcessingExchanges
"""A parser of any of the shapes replay drives."""

ParserFactory = Callable[[InterfaceSettings], AnyParser]
"""Builds a fresh parser for one replay from the interface settings."""


class BodyDecoder(Protocol):
    """Reads one streamed body: bytes in, chunks and faults out (what ``StreamDecoder`` does)."""

    def feed(self, data: bytes) -> Iterable[ChatCompletionChunk | StreamFault]: ...
    def close(self) -> Iterable[ChatCompletionChunk | StreamFault]: ...


DecoderFactory: TypeAlias = Callable[["StreamKind"], BodyDecoder]
"""Builds the reader of one streamed body from its kind; :class:`StreamDecoder` is one. A
replay given another reads the bytes with it, to test a reader of one's own."""


class _Loop:
    """Where a generator-only parser runs: an event loop that replay may drive.

    Replay is synchronous, and is called from code that may already run an event loop (every
    Jupyter cell, ``asyncio.run``), where a second loop cannot run in the same thread. So
    without a running loop, a private loop runs here, in this thread, between chunks; with one,
    the private loop runs in a worker thread and every call into the parser is made there, so
    that the parser only ever sees one thread and one loop.
    """

    def __init__(self) -> None:
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="streamreel-replay", daemon=True
        )
        self._thread.start()

    def call(self, action: Callable[[], _T]) -> _T:
        if self._thread is None:
            return action()
        import concurrent.futures

        done: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(action())
            except BaseException as exc:  # handed back to the caller's thread
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return done.result()

    def run(self, work: Coroutine[Any, Any, _T]) -> _T:
        import asyncio

        if self._thread is None:
            return self.loop.run_until_complete(work)
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def close(self) -> None:
        if self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
        self.loop.close()


def is_native(parser: object) -> bool:
    """Whether ``parser`` is driven whole exchange by whole exchange (``process_exchange`` or
    ``process``) rather than chunk by chunk (``process_chunk``)."""
    return isinstance(parser, ProcessingExchanges | ProcessingStreams)


_SDK_VARIANTS = {"anthropic.beta": "anthropic"}  # a variant stream -> the default it replaces

_Placed: TypeAlias = list[tuple[int | None, Any]]
"""A native parser's messages, each with the body chunk the SDK had read when it came."""


class _NativeDriver:
    """Drives a parser of the native shapes: one call per exchange, not one per chunk.

    It answers what replay asks of any parser (errors, step ends, usage) as a parser without
    those capabilities would; :meth:`exchange` runs the parser over one recorded exchange.
    """

    def __init__(self, parser: ProcessingStreams | ProcessingExchanges) -> None:
        self.parser = parser
        self._loop: _Loop | None = None

    def exchange(
        self, interaction: Interaction, kind: StreamKind
    ) -> tuple[_Placed, BaseException | None]:
        """The parser's messages over one exchange, and what stopped it, if anything did."""
        placed: _Placed = []
        parser = self.parser
        try:
            if isinstance(parser, ProcessingExchanges):
                for message in parser.process_exchange(interaction, kind):
                    placed.append((None, message))
                return placed, None
            return self._process(parser, interaction, kind, placed)
        except Exception as exc:  # the parser's own failure, kept with what came before it
            return placed, exc

    def _process(
        self,
        parser: ProcessingStreams,
        interaction: Interaction,
        kind: StreamKind,
        placed: _Placed,
    ) -> tuple[_Placed, BaseException | None]:
        from streamreel.playback.sdkstream import (
            async_sdk_stream,
            request_fields,
            sdk_for,
            sdk_stream,
        )

        sdk = sdk_for(kind)
        wanted = getattr(parser, "sdk", None)
        if isinstance(wanted, str) and _SDK_VARIANTS.get(wanted) == sdk:
            sdk = wanted
        at: list[int | None] = [None]

        def position(number: int) -> None:
            at[0] = number

        keywords: dict[str, Any] = {}
        with contextlib.suppress(TypeError, ValueError):  # a builtin without a signature
            if "request" in inspect.signature(parser.process).parameters:
                keywords["request"] = request_fields(interaction)
        if not (
            inspect.iscoroutinefunction(parser.process)
            or inspect.isasyncgenfunction(parser.process)
        ):
            stream = sdk_stream(interaction, sdk=sdk, position=position)
            output: Any = None
            try:
                output = parser.process(stream, **keywords)
                if hasattr(output, "__aiter__"):
                    raise ParserError(
                        "cannot replay through process(stream): expected a synchronous process "
                        "to return an iterator, got an async iterator; declare it async def"
                    )
                for message in output:
                    placed.append((at[0], message))
            finally:
                _close(output, stream)
            return placed, None

        async def run() -> None:
            stream = await async_sdk_stream(interaction, sdk=sdk, position=position)
            output: Any = None
            try:
                output = parser.process(stream, **keywords)
                if inspect.isawaitable(output):
                    output = await output
                async for message in output:
                    placed.append((at[0], message))
            finally:
                # Closed here, on the loop they ran on: left to the garbage collector, an
                # async generator would be finalized on a loop that is gone by then.
                for thing in (output, stream):
                    closing = getattr(thing, "aclose", None) or getattr(thing, "close", None)
                    if closing is not None:
                        with contextlib.suppress(Exception):
                            done = closing()
                            if inspect.isawaitable(done):
                                await done

        if self._loop is None:
            self._loop = _Loop()
        self._loop.run(run())
        return placed, None

    # What replay asks of every parser, answered as a parser without the capability would.

    def take(self) -> list[AgentMessage]:
        return []

    def new_call(self) -> None:
        pass

    def tool_returns(
        self, results: Sequence[ToolResult], message_id: str, date: datetime
    ) -> list[AgentMessage]:
        return []

    def error(self, text: str) -> list[AgentMessage]:
        return [ErrorMessage(error=text)]

    def step_complete(self) -> list[AgentMessage]:
        return []

    def force_inner_thoughts(self) -> None:
        pass

    def follows_server_flags(self) -> bool:
        return False

    def usage(self, steps: int) -> UsageStatistics:
        parser = self.parser
        if isinstance(parser, CountingUsage):
            return parser.usage()
        return trusted(UsageStatistics, step_count=steps)

    def close(self) -> list[AgentMessage]:
        if self._loop is not None:
            # As asyncio.run does: the SDKs' async generators still open (an SSE decoder
            # inside a stream) are closed on their own loop before it goes.
            self._loop.run(_shutdown(self._loop.loop))
            self._loop.close()
            self._loop = None
        return []


async def _shutdown(loop: asyncio.AbstractEventLoop) -> None:
    import asyncio

    await loop.shutdown_asyncgens()
    for _ in range(3):  # let the closings it scheduled run
        await asyncio.sleep(0)


def _close(*things: Any) -> None:
    """Close a parser's iterator and the SDK stream it read, whatever state they stopped in."""
    for thing in things:
        closing = getattr(thing, "close", None)
        if closing is not None:
            with contextlib.suppress(Exception):
                closing()


def _driver(parser: AnyParser) -> _Driver | _NativeDriver:
    if isinstance(parser, ProcessingExchanges | ProcessingStreams):
        return _NativeDriver(parser)
    return _Driver(parser)


class _Driver:
    """Feeds one parser and collects what it emits, chunk by chunk."""

    def __init__(self, parser: StreamingInterfaceLike, *, answers: bool = True) -> None:
        """``answers``: results of the tool calls may follow (a cassette's later requests), so
        the calls are tracked; a chunk file is one LLM call and nothing answers it."""
        self.parser = parser
        self._collected: list[AgentMessage] = []
        # Tool calls made by the steps replayed so far and not yet answered: id -> name.
        self.pending: dict[str, str] = {}
        self._answers = answers
        self._call_slots: dict[int, str] = {}  # tool-call index -> id, within one LLM call
        self._loop: _Loop | None = None
        self._consumer: asyncio.Future[None] | None = None
        # Checked once: a runtime protocol check walks the protocol's members, and per chunk
        # that cost more than parsing the chunk.
        self._draining: Draining | None = parser if isinstance(parser, Draining) else None
        # streamreel's own interface, not a subclass: its parser is fed directly, and what one
        # chunk completes comes back at once instead of through the interface's queue.
        self._feed = parser.parser.feed if type(parser) is StreamingServerInterface else None
        if self._draining is not None:
            parser.stream_start()
            return
        self._loop = loop = _Loop()
        loop.call(parser.stream_start)
        self._consumer = loop.run(self._start_consumer())

    async def _start_consumer(self) -> asyncio.Future[None]:
        import asyncio

        return asyncio.ensure_future(self._consume())

    async def _consume(self) -> None:
        async for message in self.parser.get_generator():
            self._collected.append(message)

    @staticmethod
    async def _settle() -> None:
        # Let the consumer run until it waits for more.
        import asyncio

        for _ in range(3):
            await asyncio.sleep(0)

    def call(self, action: Callable[[], _T]) -> _T:
        """Run ``action`` against the parser where the parser lives."""
        return action() if self._loop is None else self._loop.call(action)

    def process(
        self, chunk: ChatCompletionChunk, message_id: str, date: datetime, expect: bool
    ) -> list[AgentMessage]:
        if self._answers:
            self._note_calls(chunk)
        if self._feed is not None:
            return self._feed(
                chunk, message_id=message_id, message_date=date, expect_reasoning_content=expect
            )
        if self._draining is not None:  # the parser lives here: no hop through a loop
            self.parser.process_chunk(chunk, message_id, date, expect)
            return self._draining.drain()
        self.call(lambda: self.parser.process_chunk(chunk, message_id, date, expect))
        return self.take()

    def new_call(self) -> None:
        """A new LLM call: tool-call indexes start over."""
        self._call_slots.clear()

    def _note_calls(self, chunk: ChatCompletionChunk) -> None:
        # Only the first choice is the agent's step (replay renumbers a chosen one to 0).
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            for fragment in choice.delta.tool_calls or ():
                slot = fragment.index or 0
                if fragment.id:
                    self._call_slots[slot] = fragment.id
                    self.pending.setdefault(fragment.id, "")
                call_id = self._call_slots.get(slot)
                name = fragment.function.name if fragment.function else None
                if call_id is not None and name and call_id in self.pending:
                    self.pending[call_id] += name

    def _answered(self, result: ToolResult) -> str | None:
        """The id of the pending call ``result`` answers, which is then no longer pending."""
        if result.call_id is not None and self.pending.pop(result.call_id, None) is not None:
            return result.call_id
        # Otherwise only a result of the latest turn can be matched: by its name (Gemini's ids
        # are the client's, not the ones the call got here), or, with neither id nor name
        # (older Ollama), by order.
        if not result.latest or (result.call_id is not None and result.name is None):
            return None
        for call_id, name in self.pending.items():
            if result.name is None or result.name == name:
                del self.pending[call_id]
                return call_id
        return None

    def tool_returns(
        self, results: Sequence[ToolResult], message_id: str, date: datetime
    ) -> list[AgentMessage]:
        """Show each result that answers a call of an earlier step, as Letta's server would."""
        parser = self.parser
        if not isinstance(parser, ReturningTools):
            return []
        shown = 0
        for result in results:
            call_id = self._answered(result)
            if call_id is None:
                continue
            record = ToolReturnRecord(
                id=_return_id(message_id, call_id), created_at=date, tool_call_id=call_id
            )
            self.call(partial(parser.function_message, _function_message(result), record, shown))
            shown += 1
        return self.take() if shown else []

    def take(self) -> list[AgentMessage]:
        if self._draining is not None:
            return self._draining.drain()
        assert self._loop is not None
        self._loop.run(self._settle())
        taken, self._collected = self._collected, []
        return taken

    def error(self, text: str) -> list[AgentMessage]:
        parser = self.parser
        if isinstance(parser, ReportingErrors):
            self.call(lambda: parser.error(text))
            return self.take()
        return [*self.take(), ErrorMessage(error=text)]

    def step_complete(self) -> list[AgentMessage]:
        self.call(self.parser.step_complete)
        return self.take()

    def force_inner_thoughts(self) -> None:
        parser = self.parser
        if isinstance(parser, ForcingInnerThoughts):
            self.call(parser.force_inner_thoughts_in_kwargs)

    def follows_server_flags(self) -> bool:
        parser = self.parser
        return isinstance(parser, FollowingServerFlags) and self.call(parser.letta_server_flags)

    def usage(self, steps: int) -> UsageStatistics:
        parser = self.parser
        if isinstance(parser, CountingUsage):
            return self.call(parser.usage)
        return trusted(UsageStatistics, step_count=steps)

    def close(self) -> list[AgentMessage]:
        self.call(self.parser.step_yield)
        if self._loop is None or self._consumer is None:
            return self.take()
        import asyncio

        consumer = self._consumer
        try:
            self._loop.run(asyncio.wait_for(_awaited(consumer), timeout=10))
        finally:
            self._loop.close()
        taken, self._collected = self._collected, []
        return taken


async def _awaited(future: asyncio.Future[None]) -> None:
    await future


def _failure(exc: BaseException) -> str:
    """What stopped a native parser, with the cause an SDK wraps (a cut stream, say)."""
    if isinstance(exc, StreamreelError):
        return exc.reason
    text = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({type(cause).__name__}: {cause})"
    return text


def _message_id(seed: str, index: int) -> str:
    # Deterministic per cassette and interaction, so replays (and their diffs) are reproducible.
    return f"message-{name_uuid(f'streamreel:{seed}#{index}')}"


def _return_id(message_id: str, call_id: str) -> str:
    # A tool return is a message of its own in Letta (the tool message), with its own id.
    return f"message-{name_uuid(f'streamreel:{message_id}/return/{call_id}')}"


def _letta_record(content: str) -> tuple[str, bool] | None:
    """The text and failure of a Letta tool-status record, or None when ``content`` is not one."""
    if not content.startswith("{"):
        return None
    try:
        record = json.loads(content)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("status") not in ("OK", "Failed"):
        return None
    if "message" not in record:
        return None
    message = record["message"]
    text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
    return text, record["status"] == "Failed"


def _function_message(result: ToolResult) -> str:
    """What Letta's server passes to ``function_message`` after running the tool."""
    text, failed = _letta_record(result.content) or (result.content, result.is_error)
    return f"{'Error' if failed else 'Success'}: {text}"


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


def default_parser(settings: InterfaceSettings) -> StreamingServerInterface:
    """streamreel's own streaming interface with ``settings``, what replays use by default."""
    return StreamingServerInterface(parser=StreamParser(settings))


def replay(
    cassette: Cassette | str | Path,
    *,
    settings: InterfaceSettings | None = None,
    parser: ParserFactory | None = None,
    expect_reasoning_content: ReasoningChoice = None,
    interactions: Iterable[int] | None = None,
    provider: str | None = None,
    api: str | None = None,
    message_id: str | None = None,
    message_date: datetime | None = None,
    choice: int = 0,
    decoder: DecoderFactory | None = None,
) -> ReplayResult:
    """Replay a cassette's interactions as the steps of one agent turn.

    ``settings`` are the interface's knobs (Letta's server defaults: assistant messages on).
    ``parser`` builds the parser to replay through (default: streamreel's interface).
    ``expect_reasoning_content`` switches content into DeepSeek's JSON-tool-call mode (and lets
    Letta's interface read ``reasoning_content``); ``"auto"`` sets it per interaction as Letta's
    server does for the provider (on for OpenAI, DeepSeek and xAI; for Anthropic, on when the
    request turns extended thinking on; else off). None is ``"auto"`` for a parser that follows
    the server's flags (Letta's own), else off.
    ``interactions`` picks interactions by index (from 0, in file order).
    ``provider`` / ``api`` override detection. ``message_id`` / ``message_date`` fix the values
    otherwise derived from the cassette (ids deterministic per interaction, the recording date).
    ``choice`` picks which choice of a stream with several (a request with ``n`` > 1) is the
    agent's step; the others are never mixed into it. ``decoder`` reads each streamed body
    instead of streamreel's own decoder.
    """
    with paused():
        steps = ReplaySteps(
            cassette,
            settings=settings,
            parser=parser,
            expect_reasoning_content=expect_reasoning_content,
            interactions=interactions,
            provider=provider,
            api=api,
            message_id=message_id,
            message_date=message_date,
            choice=choice,
            decoder=decoder,
        )
        results = list(steps)
        assert steps.usage is not None
        return ReplayResult(
            path=steps.path, settings=steps.settings, interactions=results, usage=steps.usage
        )


class ReplaySteps:
    """A cassette's replay taken one interaction at a time: what :func:`replay` collects.

    Iterating gives each interaction's result as soon as it is replayed, and a cassette given
    by its path is read one interaction at a time too
    (:class:`~streamreel.cassettes.reader.CassetteReader`; a small one whole, in one pass), so
    a caller that shows each result and lets it go (the command line) holds one interaction,
    never the whole cassette or the whole result. Unchosen ``interactions`` are skipped unread
    (in a file big enough to be streamed). :attr:`usage` is set once the
    iteration ends, and :attr:`tail` holds what the parser emitted only when closed (appended
    to the last result too); iterate once. ``progress`` is told how many bytes of the file
    have been read. ``lean`` results keep each chunk's place and timing but not its payload
    (bytes, provider chunks, messages per chunk): a tenth of the memory, enough to print the
    messages or a summary; the features are tallied as the chunks pass. The other arguments
    are :func:`replay`'s.
    """

    def __init__(
        self,
        cassette: Cassette | CassetteReader | str | Path,
        *,
        settings: InterfaceSettings | None = None,
        parser: ParserFactory | None = None,
        expect_reasoning_content: ReasoningChoice = None,
        interactions: Iterable[int] | None = None,
        provider: str | None = None,
        api: str | None = None,
        message_id: str | None = None,
        message_date: datetime | None = None,
        progress: Callable[[int], None] | None = None,
        lean: bool = False,
        choice: int = 0,
        decoder: DecoderFactory | None = None,
    ) -> None:
        self.settings = settings or InterfaceSettings(use_assistant_message=True)
        self._decoder = decoder
        self._lean = lean
        self._choice = choice
        self._parser = parser or default_parser
        self._expect = expect_reasoning_content
        self._chosen = set(interactions) if interactions is not None else None
        self._provider = provider
        self._api = api
        self._message_id = message_id
        self._message_date = message_date
        self._cassette: Cassette | None = None
        self._reader: CassetteReader | None = None
        from streamreel.cassettes.reader import CassetteReader

        if isinstance(cassette, Cassette):
            self._cassette = cassette
            self.path: Path | None = cassette.path
            self._seed = str(cassette.path or id(cassette))
        else:
            self._reader = (
                cassette
                if isinstance(cassette, CassetteReader)
                else CassetteReader(cassette, progress=progress)
            )
            self.path = self._reader.path
            self._seed = str(self.path)
        self.usage: UsageStatistics | None = None
        self.tail: list[AgentMessage] = []

    @property
    def info(self) -> CassetteInfo:
        """The cassette's metadata."""
        if self._cassette is not None:
            return self._cassette.info
        assert self._reader is not None
        return self._reader.info

    def _interactions(self) -> Iterator[tuple[int, Interaction]]:
        if self._reader is not None:
            yield from self._reader.interactions(self._chosen)
            return
        assert self._cassette is not None
        for index, interaction in enumerate(self._cassette.interactions):
            if self._chosen is None or index in self._chosen:
                # A cassette built in memory may hold bodies still compressed: decoded here by
                # their bytes, as a loaded one was, and a damaged one named by path.
                from streamreel.cassettes.storage import normalize_encodings

                try:
                    normalize_encodings(Cassette([interaction]))
                except CassetteError as exc:
                    exc.located(path=self.path, interaction=index)
                    raise
                yield index, interaction

    def __iter__(self) -> Iterator[InteractionResult]:
        driver = _driver(self._parser(self.settings))
        expect = self._expect
        if expect is None and driver.follows_server_flags():
            expect = "auto"
        last: InteractionResult | None = None
        steps = 0
        for index, interaction in self._interactions():
            last = _replay_interaction(
                driver,
                index,
                interaction,
                message_id=_step_id(self._message_id, steps) or _message_id(self._seed, index),
                message_date=self._message_date
                or interaction.recorded_at
                or self.info.recorded_at
                or _DEFAULT_DATE,
                expect_reasoning_content=expect,
                provider=self._provider,
                api=self._api,
                lean=self._lean,
                choice=self._choice,
                decoder=self._decoder,
            )
            steps += 1
            # Yielded at once, not held back until the next one shows this is not the last:
            # holding two results doubled what a cassette's replay needs at its peak.
            yield last
        self.tail = driver.close()
        if last is not None and self.tail:
            # What the parser still had at the very end belongs to the last step; a caller
            # that already showed that step shows these too (``tail``).
            last.messages.extend(self.tail)
            if last.chunks:
                last.chunks[-1].messages.extend(self.tail)
        self.usage = driver.usage(steps)


class _Step:
    """One interaction's replay as it accumulates: the records, messages and errors so far."""

    def __init__(
        self,
        driver: _Driver | _NativeDriver,
        message_id: str,
        message_date: datetime,
        expect: bool,
        choice: int = 0,
        *,
        lean: bool = False,
    ) -> None:
        self.driver = driver
        self.choice = choice
        self.message_id = message_id
        self.message_date = message_date
        self.expect = expect
        # A lean step keeps each record's place and timing, not its payload: the provider
        # chunks it produced were most of a result's memory, and are tallied here instead.
        self.tally = FeatureTally() if lean else None
        self.records: list[ChunkRecord] = []
        self.messages: list[AgentMessage] = []
        self.errors: list[ErrorEntry] = []
        self.complete = True
        self.choices: set[int] = set()  # the choice indexes seen, when one is chosen

    def emit(self, messages: list[AgentMessage], record: ChunkRecord | None = None) -> None:
        self.messages.extend(messages)
        if record is not None and self.tally is None:
            record.messages.extend(messages)

    def fail(self, entry: ErrorEntry, text: str | None = None) -> None:
        """Record ``entry``; with ``text``, the parser is told too, and may say so in-stream."""
        self.errors.append(entry)
        if entry.kind not in ("http", "parser"):  # the body itself was not read whole
            self.complete = False
        if text is not None:
            self.emit(self.driver.error(text))

    def feed(
        self, outputs: Iterable[ChatCompletionChunk | StreamFault], record: ChunkRecord | None
    ) -> None:
        at = record.index if record is not None else None
        # Looked up once, not per chunk: a one-piece body (a vcrpy cassette) is all one call.
        tally = self.tally if record is not None else None
        produced = record.produced if record is not None and tally is None else None
        driver = self.driver
        if isinstance(driver, _NativeDriver):
            self._feed_native(outputs, tally, produced, at)
            return
        process, chosen = driver.process, self.choice
        message_id, message_date, expect = self.message_id, self.message_date, self.expect
        messages = self.messages
        # What emit does, inline: per chunk, the call cost a tenth of the bookkeeping here.
        shown = record.messages if record is not None and self.tally is None else None
        for output in outputs:
            if tally is not None:
                tally.add(output)
            elif produced is not None:
                produced.append(output)
            if not isinstance(output, StreamFault):
                if chosen:
                    self.choices.update(choice.index for choice in output.choices)
                    output = select_choice(output, chosen)
                try:
                    emitted = process(output, message_id, message_date, expect)
                except ParserError as exc:
                    self.fail(ErrorEntry("parser", exc.reason, chunk=at))
                    emitted = driver.take()
                messages.extend(emitted)
                if shown is not None:
                    shown.extend(emitted)
            elif output.kind == "incomplete":
                self.fail(ErrorEntry("incomplete", output.message, chunk=at))
            else:
                entry = ErrorEntry(
                    "stream", output.message, output.status, output.error_type, chunk=at
                )
                self.errors.append(entry)
                self.emit(driver.error(output.describe()), record)

    def _feed_native(
        self,
        outputs: Iterable[ChatCompletionChunk | StreamFault],
        tally: FeatureTally | None,
        produced: list[ChatCompletionChunk | StreamFault] | None,
        at: int | None,
    ) -> None:
        # The chunks are decoded for their records (features, the chunk view); the parser
        # reads the SDK's stream instead, and reports faults through it.
        for output in outputs:
            if tally is not None:
                tally.add(output)
            elif produced is not None:
                produced.append(output)
            if isinstance(output, StreamFault):
                cut = output.kind == "incomplete"
                self.errors.append(
                    ErrorEntry(
                        "incomplete" if cut else "stream",
                        output.message,
                        output.status,
                        output.error_type,
                        chunk=at,
                    )
                )
                self.complete = self.complete and not cut

    def stream(
        self, kind: StreamKind, response: RecordedResponse, reader: DecoderFactory | None = None
    ) -> None:
        """Decode a streamed body piece by piece, as it arrived."""
        try:
            decoder = providers.StreamDecoder(kind) if reader is None else reader(kind)
        except UnsupportedStreamError as exc:  # a reader of one's own that does not read this
            self.fail(ErrorEntry("unsupported", exc.reason, status=response.status))
            return
        for number, piece in enumerate(response.body_chunks()):
            record = ChunkRecord(number, piece.offset_ms, piece.data if self.tally is None else b"")
            self.records.append(record)
            try:
                self.feed(decoder.feed(piece.data), record)
            except UnsupportedStreamError as exc:
                self.fail(ErrorEntry("unsupported", exc.reason, status=response.status))
                return
            except StreamreelError as exc:
                self.fail(
                    ErrorEntry("decode", exc.reason, chunk=number),
                    f"cannot decode chunk {number}: {exc.reason}",
                )
                return
        try:
            self.feed(decoder.close(), self.records[-1] if self.records else None)
        except StreamreelError as exc:
            self.fail(ErrorEntry("decode", exc.reason), exc.reason)

    def whole(self, kind: StreamKind, response: RecordedResponse) -> None:
        """Decode a body that came in one piece (a JSON reply, or a JSON array stream)."""
        try:
            self.feed(providers.chunks_from_json_body(kind, response.body), None)
        except UnsupportedStreamError as exc:
            self.fail(ErrorEntry("unsupported", exc.reason, status=response.status))
        except StreamreelError as exc:
            self.fail(ErrorEntry("decode", exc.reason), exc.reason)

    def native(self, interaction: Interaction, kind: StreamKind) -> None:
        """Run a native parser over the whole exchange; each message goes to the chunk the SDK
        had read when it came (the last chunk for a parser handed the exchange at once)."""
        assert isinstance(self.driver, _NativeDriver)
        if kind.framing == "json" and not isinstance(self.driver.parser, ProcessingExchanges):
            self.errors.append(
                ErrorEntry(
                    "unsupported",
                    "cannot hand a whole reply to process(stream): expected a streamed "
                    "response, got one JSON body; give the parser process_exchange to see "
                    "whole replies",
                    status=interaction.response.status,
                )
            )
            return
        placed, stopped = self.driver.exchange(interaction, kind)
        last = self.records[-1] if self.records else None
        for number, message in placed:
            record = (
                self.records[number] if number is not None and number < len(self.records) else last
            )
            try:
                converted = foreign_message(message)
            except TypeError as exc:
                self.fail(
                    ErrorEntry("parser", f"cannot hold a message: {exc}", chunk=number),
                    f"cannot hold a message: {exc}",
                )
                return
            self.emit([converted], record)
        if stopped is not None:
            at = placed[-1][0] if placed else None
            reason = _failure(stopped)
            self.errors.append(ErrorEntry("parser", reason, chunk=at))
            self.emit([ErrorMessage(error=reason)], last)

    def http_error(self, response: RecordedResponse) -> None:
        fault = providers.http_error_fault(response.status, response.body)
        entry = ErrorEntry(
            "http", fault.message, status=response.status, error_type=fault.error_type
        )
        self.fail(entry, f"HTTP {response.status}: {fault.describe()}")

    def finish(self, response: RecordedResponse) -> None:
        if response.error:
            last = len(self.records) - 1 if self.records else None
            self.fail(ErrorEntry("truncated", response.error, chunk=last))
        self.emit(self.driver.step_complete(), self.records[-1] if self.records else None)


def _replay_interaction(
    driver: _Driver | _NativeDriver,
    index: int,
    interaction: Interaction,
    *,
    message_id: str,
    message_date: datetime,
    expect_reasoning_content: ReasoningChoice,
    provider: str | None,
    api: str | None,
    choice: int = 0,
    lean: bool = False,
    decoder: DecoderFactory | None = None,
) -> InteractionResult:
    response = interaction.response
    try:
        kind = providers.detect_stream(interaction.request, response, provider=provider, api=api)
    except UnsupportedStreamError as exc:
        errors = [ErrorEntry("unsupported", exc.reason, status=response.status)]
        return InteractionResult(
            index, _summary(interaction, None), response.status, None, message_id, [],
            [], errors, Timing(None, None, None), complete=False,
        )  # fmt: skip
    # Off by default: content then reads as inner monologue. On, content is parsed as DeepSeek's
    # JSON tool call (and still reads as monologue when it is not JSON).
    from streamreel.core.providers.server_flags import letta_server_flags
    from streamreel.core.providers.tool_results import tool_results

    if expect_reasoning_content == "auto":
        flags = letta_server_flags(kind, interaction.request)
        expect = flags.expect_reasoning_content
        if flags.inner_thoughts_in_kwargs:
            driver.force_inner_thoughts()
    else:
        expect = bool(expect_reasoning_content)
    step = _Step(driver, message_id, message_date, expect, choice, lean=lean)
    # The tools of the previous step ran before this request was sent.
    try:
        returned = driver.tool_returns(
            tool_results(kind, interaction.request), message_id, message_date
        )
    except StreamreelError as exc:  # a parser that cannot show a return keeps the rest
        step.fail(ErrorEntry("parser", exc.reason))
        returned = driver.take()
    step.emit(returned)
    driver.new_call()
    if response.status >= 400:
        step.http_error(response)
    elif kind.framing == "none" or not kind.model_reply:
        pass  # not an LLM call (a model-info GET, a tracing post): nothing to replay
    elif kind.framing == "json":
        step.whole(kind, response)
    else:
        step.stream(kind, response, decoder)
    if isinstance(driver, _NativeDriver) and response.status < 400 and kind.framing != "none":
        step.native(interaction, kind)
    step.finish(response)
    _check_choice(choice, step.choices, index)
    return InteractionResult(
        index=index,
        request=_summary(interaction, kind),
        status=response.status,
        kind=kind,
        message_id=message_id,
        chunks=step.records,
        messages=step.messages,
        errors=step.errors,
        timing=_timing(step.records, response.chunks is not None),
        complete=step.complete,
        chunk_features=frozenset(step.tally.names()) if step.tally is not None else None,
    )


def _check_choice(choice: int, seen: set[int], interaction: int | None) -> None:
    """Refuse a chosen choice that a stream with choices never carried: nothing of it replays."""
    if choice and seen and choice not in seen:
        have = ", ".join(str(index) for index in sorted(seen))
        raise ConfigurationError(
            f"cannot replay choice {choice}: expected one of the stream's choices ({have}), got "
            f"{choice}; pick one of those (--choice)",
            interaction=interaction,
        )


def _numbered(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str | ChunkError]]:
    """The lines, and then the error that stopped them, if one did (a line too long, not UTF-8)."""
    try:
        yield from lines
    except ChunkError as exc:
        yield (exc.line or 0), exc


_BLOCK_LINES = 256
"""A chunk file is parsed this many lines at a time, then the block's chunks are replayed: each
loop keeps its own code in the processor's caches, where alternating validation and parsing
per line kept neither (a fifth of a replay's time)."""


def _parsed_blocks(
    lines: Iterator[tuple[int, str | ChunkError]],
    source: Path,
    progress: Callable[[int], None] | None,
) -> Iterator[tuple[list[tuple[str, ChatCompletionChunk]], str | None]]:
    """The chunk lines' chunks, with each its line, a block at a time; the last block comes
    with what stopped the file (a line that cannot be read or is not a chunk), if anything did.
    Lines that carry no chunk (blank, comments, ``[DONE]``) are left out."""
    read = 0
    while True:
        block: list[tuple[str, ChatCompletionChunk]] = []
        taken = 0
        for number, line in islice(lines, _BLOCK_LINES):
            taken += 1
            if isinstance(line, ChunkError):
                yield block, str(line)
                return
            read += len(line) + 1  # characters: bytes for ASCII, close enough for a progress bar
            if progress is not None and not number % _PROGRESS_LINES:
                progress(read)
            try:
                chunk = parse_chunk_line(line)
            except ChunkError as exc:
                yield block, str(exc.located(path=source, line=number))
                return
            if chunk is not None:
                block.append((line, chunk))
        if block:
            yield block, None
        if taken < _BLOCK_LINES:
            return


def replay_chunk_file(
    path: str | Path,
    *,
    settings: InterfaceSettings | None = None,
    parser: ParserFactory | None = None,
    expect_reasoning_content: bool | None = None,
    message_id: str | None = None,
    message_date: datetime | None = None,
    choice: int = 0,
    text: str | None = None,
    progress: Callable[[int], None] | None = None,
    lean: bool = False,
) -> ReplayResult:
    """Replay a file of chat-completion chunks, one JSON object a line.

    A ``data: `` prefix, blank lines, comments and ``[DONE]`` are tolerated. The file names no
    provider, so ``expect_reasoning_content`` is off unless it is turned on. A malformed line
    stops the replay with an error entry and an error message naming the file and line; every
    message before it is kept. With ``text`` the lines are read from it (standard input, say)
    and ``path`` only names them. ``progress`` is told, every few thousand lines, about how
    many bytes have been read. ``lean`` records keep each chunk's place but not its payload
    (its bytes, the chunk, its messages), as :class:`ReplaySteps` does: enough to print the
    messages, for a fraction of the memory and time.
    """
    with paused():
        return _replay_chunk_file(
            Path(path),
            settings=settings,
            parser=parser,
            expect_reasoning_content=expect_reasoning_content,
            message_id=message_id,
            message_date=message_date,
            choice=choice,
            text=text,
            progress=progress,
            lean=lean,
        )


def _replay_chunk_file(
    source: Path,
    *,
    settings: InterfaceSettings | None,
    parser: ParserFactory | None,
    expect_reasoning_content: bool | None,
    message_id: str | None,
    message_date: datetime | None,
    choice: int,
    text: str | None,
    progress: Callable[[int], None] | None,
    lean: bool = False,
) -> ReplayResult:
    settings = settings or InterfaceSettings(use_assistant_message=True)
    chosen = (parser or default_parser)(settings)
    if is_native(chosen):
        raise ConfigurationError(
            "cannot replay a chunk file through this parser: expected a parser of chunks "
            f"(process_chunk), got {type(chosen).__name__} with process(stream), which reads "
            "an SDK's stream; record a cassette and replay that instead",
            path=source,
        )
    tally = FeatureTally() if lean else None
    driver = _Driver(chosen, answers=False)  # type: ignore[arg-type]  # is_native ruled out the rest
    message_id = message_id or _message_id(str(source), 0)
    message_date = message_date or _DEFAULT_DATE
    messages: list[AgentMessage] = []
    records: list[ChunkRecord] = []
    errors: list[ErrorEntry] = []
    seen = False  # a line that carries a chunk, or fails to: an empty file has neither
    choices: set[int] = set()
    if text is None:
        usage.note(source)
    with _opened(source, None if text is None else text.encode("utf-8")) as stream:
        lines = _numbered(chunk_lines(stream, source))
        for block, fault in _parsed_blocks(lines, source, progress):
            for line, chunk in block:
                seen = True
                if tally is None:
                    record = ChunkRecord(len(records), 0.0, line.encode(), produced=[chunk])
                else:
                    record = ChunkRecord(len(records), 0.0, b"")
                    tally.add(chunk)
                if choice:
                    choices.update(c.index for c in chunk.choices)
                    chunk = select_choice(chunk, choice)
                try:
                    emitted = driver.process(
                        chunk, message_id, message_date, bool(expect_reasoning_content)
                    )
                except ParserError as exc:
                    errors.append(ErrorEntry("parser", exc.reason, chunk=record.index))
                    emitted = driver.take()
                if tally is None:
                    record.messages = emitted
                messages.extend(emitted)
                records.append(record)
            if fault is not None:
                seen = True
                errors.append(ErrorEntry("decode", fault, chunk=len(records)))
                messages.extend(driver.error(fault))
    if not seen:
        raise empty_error("chunk file", source)
    _check_choice(choice, choices, None)
    messages.extend(driver.step_complete())
    messages.extend(driver.close())
    statistics = driver.usage(1)
    summary = RequestSummary("", str(source), None, "chat-completions", None, True)
    result = InteractionResult(
        0, summary, 200, None, message_id, records, messages, errors,
        Timing(None, None, None), complete=all(e.kind == "parser" for e in errors),
        chunk_features=frozenset(tally.names()) if tally is not None else None,
    )  # fmt: skip
    return ReplayResult(path=source, settings=settings, interactions=[result], usage=statistics)
