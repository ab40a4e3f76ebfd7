"""The provider emulator: recorded interactions served as a live HTTP endpoint on loopback.

Theory of operation
-------------------
:class:`Emulator` is an ASGI application (Starlette).  It answers each request with the first
recorded interaction that matches it on method, path, query and body (the origin is the
emulator's own, and credentials are ignored; see
:data:`streamreel.cassettes.matching.EMULATOR_FIELDS`), with
the recorded status and headers, and streams the body **chunk by chunk at the recorded pace**:
chunk *i* leaves no earlier than ``offset_ms * speed`` after the request arrived, as its own
ASGI body message, which uvicorn writes (and so flushes) as one HTTP chunk.  A client reading
through h11 gets one read per chunk on loopback, so a session recorded against the emulator has
the chunk boundaries of the cassette it was served from.

Repeated identical requests are answered in recorded order; when every matching recording has
been served, the emulator starts over from the first, because a server, unlike a test, is asked
the same thing again and again.  An unmatched request gets an error in OpenAI's error shape
(which the OpenAI-compatible SDKs all parse): 404 when nothing was recorded for that method and
path, else 400, naming the nearest recording and what differs.

Faults (:class:`Faults`) are injected into the stream after N chunks:

* ``disconnect_after``: the connection drops mid-body, so the client sees an incomplete chunked
  read, as when a provider's load balancer cuts a stream;
* ``error_after``: an error in the API's own format ends the stream: Chat Completions gets a
  ``data: {"error": ...}`` event, Responses an ``error`` event then ``response.failed``,
  Anthropic Messages ``event: error`` with ``overloaded_error``, Gemini its error JSON (a
  ``data:`` line, or the last element of its JSON array), Ollama an ``{"error": ...}`` line.
  ``auto`` picks the format by the API of the recorded interaction, found from its request URL
  and body as replay finds it (:func:`streamreel.core.providers.detect_stream`), never from
  the mere look of the stream: Responses streams have named ``event:`` lines too.  Bedrock's AWS
  event streams get an event-stream ``exception`` message (``modelStreamErrorException``), and
  Anthropic's legacy ``/v1/complete`` Anthropic's ``event: error``.  Errors are injected into
  streamed bodies only (SSE, NDJSON, a JSON array, an event stream), never into a whole JSON
  reply.

:class:`EmulatorServer` is the thin runner: uvicorn on a socket it binds itself (port 0 picks a
free port, known before the server starts), in a daemon thread with its own event loop, with
``start()``/``stop()`` and a context manager.  uvicorn is told to add no ``server``/``date``
headers (the recorded ones are sent) and to leave the logging configuration alone.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self, assert_never

from streamreel.cassettes.discovery import CASSETTE_SUFFIXES, expand
from streamreel.cassettes.matching import EMULATOR_FIELDS, Matcher, ReplayQueue
from streamreel.cassettes.scrubbing import Scrubber
from streamreel.core.cassette import Cassette, Interaction, RecordedRequest
from streamreel.core.errors import (
    ConfigurationError,
    MissingExtraError,
    RecordingError,
    StreamreelError,
)

try:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
    from starlette.types import Receive, Scope, Send
except ImportError as exc:  # the ASGI stack is the [serve] extra
    raise MissingExtraError(
        "the provider emulator (streamreel serve)", exc.name or "starlette", "serve"
    ) from exc
from streamreel.core.eventstream import encode_message
from streamreel.core.providers import detect_stream

__all__ = [
    "CASSETTE_SUFFIXES",
    "Emulator",
    "EmulatorServer",
    "ErrorFormat",
    "ErrorStyle",
    "Faults",
    "aws_exception_message",
    "error_event",
    "load_interactions",
    "serve",
]

ErrorStyle = Literal["auto", "anthropic", "openai", "responses", "gemini", "ollama", "bedrock"]
ErrorFormat = Literal["anthropic", "openai", "responses", "gemini", "ollama", "bedrock"]

_METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_NOT_FORWARDED: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        # The body is re-chunked and identity-encoded, so these no longer describe it.
        "content-length",
        "content-encoding",
    }
)


@dataclass(frozen=True, slots=True)
class Faults:
    """Faults to inject into every streamed body; counts are chunks sent before the fault."""

    disconnect_after: int | None = None
    error_after: int | None = None
    error_style: ErrorStyle = "auto"

    def __post_init__(self) -> None:
        for name in ("disconnect_after", "error_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigurationError(
                    f"cannot inject a fault: expected {name} >= 0 chunks, got {value}; "
                    "do pass a chunk count or None"
                )


_SERVER_ERROR: Final = "The server had an error while processing your request."
_API_FORMATS: Final[dict[str, ErrorFormat]] = {
    "chat-completions": "openai",
    "completions": "openai",
    "responses": "responses",
    "messages": "anthropic",
    "generate-content": "gemini",
    "ollama-chat": "ollama",
    "ollama-generate": "ollama",
    "complete": "anthropic",
    "invoke-stream": "bedrock",
    "converse-stream": "bedrock",
}
_STREAMED: Final = frozenset({"sse", "ndjson", "json-array", "eventstream"})


def error_event(style: ErrorFormat, *, framing: str = "sse", sequence: int = 0) -> bytes:
    """The bytes of a mid-stream error as the API sends it.

    ``framing`` matters to Gemini only, whose stream is SSE with ``alt=sse`` and otherwise one
    JSON array (the error closes it); ``sequence`` numbers the Responses events.
    """
    match style:
        case "anthropic":
            payload: dict[str, Any] = {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded"},
            }
            return b"event: error\ndata: " + json.dumps(payload).encode() + b"\n\n"
        case "openai":
            payload = {
                "error": {
                    "message": _SERVER_ERROR,
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
            return b"data: " + json.dumps(payload).encode() + b"\n\n"
        case "responses":
            error = {"type": "error", "code": "server_error", "message": _SERVER_ERROR}
            failed = {
                "type": "response.failed",
                "sequence_number": sequence + 1,
                "response": {
                    "object": "response",
                    "status": "failed",
                    "error": {"code": "server_error", "message": _SERVER_ERROR},
                    "output": [],
                },
            }
            return (
                b"event: error\ndata: "
                + json.dumps({**error, "param": None, "sequence_number": sequence}).encode()
                + b"\n\nevent: response.failed\ndata: "
                + json.dumps(failed).encode()
                + b"\n\n"
            )
        case "gemini":
            status = {
                "error": {
                    "code": 503,
                    "message": "The model is overloaded. Please try again later.",
                    "status": "UNAVAILABLE",
                }
            }
            if framing == "json-array":
                return b",\r\n" + json.dumps(status).encode() + b"\r\n]"
            return b"data: " + json.dumps(status).encode() + b"\r\n\r\n"
        case "ollama":
            message = {"error": "an error was encountered while running the model"}
            return json.dumps(message).encode() + b"\n"
        case "bedrock":
            return aws_exception_message()
        case _:
            assert_never(style)


def aws_exception_message() -> bytes:
    """A mid-stream fault as Bedrock sends it: an event-stream ``exception`` message."""
    headers = {
        ":exception-type": "modelStreamErrorException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    payload = {"message": "The model stream was interrupted; retry the request."}
    return encode_message(headers, json.dumps(payload).encode())


def _stream_format(interaction: Interaction, style: ErrorStyle) -> tuple[ErrorFormat, str] | None:
    """The error format for this interaction and its framing; None when the body is not a
    stream an error can be injected into."""
    try:
        kind = detect_stream(interaction.request, interaction.response)
    except StreamreelError:
        return None
    if kind.framing not in _STREAMED:
        return None
    if style != "auto":
        return style, kind.framing
    return _API_FORMATS.get(kind.api, "openai"), kind.framing


def load_interactions(paths: Iterable[str | Path]) -> list[Interaction]:
    """Every interaction in these cassette files and folders, in order.

    Folders are searched as :func:`streamreel.cassettes.discovery.expand` does.
    """
    from streamreel.cassettes.storage import load_cassette

    interactions: list[Interaction] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = expand([path], chunk_files=False)
        elif path.is_file():
            files = [path]
        else:
            raise ConfigurationError(
                f"cannot serve {path}: expected a cassette file or a folder of them, "
                "got nothing there; do check the path"
            )
        for file in files:
            interactions.extend(load_cassette(file).interactions)
    if not interactions:
        shown = ", ".join(str(p) for p in paths)
        raise ConfigurationError(
            f"cannot serve {shown}: expected at least one recorded interaction, got none; "
            "do point at cassettes that hold some"
        )
    return interactions


class _Played(Response):
    """A recorded response sent chunk by chunk at its pace, with faults injected."""

    def __init__(
        self, recorded: Interaction, *, arrived: float, speed: float, faults: Faults
    ) -> None:
        self.interaction = recorded
        self.recorded = recorded.response
        self.arrived = arrived
        self.speed = speed
        self.faults = faults
        self.status_code = recorded.response.status
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        recorded = self.recorded
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1", "replace"))
            for name, values in recorded.headers.items()
            if name.lower() not in _NOT_FORWARDED
            for value in values
        ]
        await send({"type": "http.response.start", "status": recorded.status, "headers": headers})
        bodiless = scope.get("method") == "HEAD" or recorded.status in (204, 304)
        chunks = [] if bodiless else [c for c in recorded.body_chunks() if c.data]
        faults = self.faults
        injected = None
        if faults.error_after is not None:
            injected = _stream_format(self.interaction, faults.error_style)
        for index, chunk in enumerate(chunks):
            await self._wait(chunk.offset_ms)
            if faults.disconnect_after is not None and index >= faults.disconnect_after:
                # Returning without the final body message makes uvicorn drop the connection.
                return
            if injected is not None and index >= (faults.error_after or 0):
                style, framing = injected
                event = error_event(style, framing=framing, sequence=index)
                await send({"type": "http.response.body", "body": event, "more_body": True})
                break
            await send({"type": "http.response.body", "body": chunk.data, "more_body": True})
        else:
            if recorded.error is not None and not bodiless:
                # The recording itself was cut: cut the replay at the same place.
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _wait(self, offset_ms: float) -> None:
        if self.speed <= 0:
            return
        delay = self.arrived + offset_ms * self.speed / 1000.0 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass(slots=True)
class Emulator:
    """The ASGI app serving ``interactions``; call :meth:`asgi` or use the instance directly."""

    interactions: Sequence[Interaction]
    speed: float = 1.0
    faults: Faults = field(default_factory=Faults)
    matcher: Matcher = field(default_factory=lambda: Matcher(on=EMULATOR_FIELDS))
    scrubber: Scrubber = field(default_factory=Scrubber)
    queue: ReplayQueue = field(init=False)
    served: list[int] = field(init=False, default_factory=list)
    _app: Starlette = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.speed < 0:
            raise ConfigurationError(
                f"cannot emulate: expected a speed >= 0, got {self.speed}; "
                "do pass 0 for no waiting or 1 for the recorded pace"
            )
        self.queue = ReplayQueue(self.interactions, self.matcher)
        self._app = Starlette(
            routes=[Route("/{path:path}", self._endpoint, methods=_METHODS)],
        )

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[str | Path],
        *,
        speed: float = 1.0,
        faults: Faults | None = None,
    ) -> Emulator:
        return cls(load_interactions(paths), speed=speed, faults=faults or Faults())

    @classmethod
    def from_cassettes(
        cls, cassettes: Iterable[Cassette], *, speed: float = 1.0, faults: Faults | None = None
    ) -> Emulator:
        interactions = [i for cassette in cassettes for i in cassette.interactions]
        return cls(interactions, speed=speed, faults=faults or Faults())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    def answer(self, request: RecordedRequest) -> tuple[int, Interaction] | None:
        """The interaction that answers ``request`` (cycling through repeats), or None."""
        probe = self.scrubber.scrub_request(request)
        hit = self.queue.take(probe)
        if hit is None and self.queue.has_match(probe):
            for index, interaction in enumerate(self.interactions):
                if self.matcher.matches(probe, interaction.request):
                    self.queue.played[index] = False
            hit = self.queue.take(probe)
        if hit is not None:
            self.served.append(hit[0])
        return hit

    async def _endpoint(self, request: Request) -> Response:
        arrived = time.perf_counter()
        live = RecordedRequest(
            method=request.method,
            uri=str(request.url),
            headers={k: request.headers.getlist(k) for k in request.headers},
            body=await request.body(),
        )
        hit = self.answer(live)
        if hit is None:
            return self._unmatched(live)
        return _Played(hit[1], arrived=arrived, speed=self.speed, faults=self.faults)

    def _unmatched(self, live: RecordedRequest) -> JSONResponse:
        probe = self.scrubber.scrub_request(live)
        error = self.queue.no_match(
            probe,
            source="the emulator's cassettes",
            hint="record this request first, or fix the request",
        )
        route = Matcher(on=("method", "path"))
        known = any(route.matches(probe, i.request) for i in self.interactions)
        body = {
            "error": {
                "message": str(error),
                "type": "invalid_request_error",
                "param": None,
                "code": "no_recorded_interaction",
            }
        }
        return JSONResponse(body, status_code=400 if known else 404)


class EmulatorServer:
    """uvicorn serving an ASGI app on a loopback port, in a background thread."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        startup_timeout: float = 10.0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._log_level = log_level
        self._startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._failure: BaseException | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Self:
        if self._thread is not None:
            raise RecordingError(
                f"cannot start the emulator: expected a stopped server, got one running at "
                f"{self.base_url}; do stop() it first"
            )
        self._socket = _bind(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            http="h11",
            ws="none",
            log_config=None,
            log_level=self._log_level,
            access_log=False,
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="streamreel-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RecordingError(
                    f"cannot start the emulator on {self.base_url}: expected uvicorn to start, "
                    f"got {self._failure or 'no start within the timeout'}; "
                    "do check the host and port"
                )
            time.sleep(0.005)
        return self

    def _run(self) -> None:
        server, sock = self._server, self._socket
        if server is None or sock is None:  # pragma: no cover - start() sets both first
            return
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # the thread must not die silently; start() reports it
            self._failure = exc

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, stop: threading.Event | None = None) -> None:
        """Block until the server thread ends or ``stop`` is set."""
        while self._thread is not None and self._thread.is_alive():
            if stop is not None and stop.wait(0.2):
                return
            if stop is None:
                self._thread.join(0.2)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: expected a free local address, got {exc}; "
            "do pick another port or host"
        ) from exc
    sock.setblocking(False)
    return sock


def serve(
    paths: str | Path | Sequence[str | Path],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    speed: float = 1.0,
    disconnect_after: int | None = None,
    error_after: int | None = None,
    on_ready: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve cassettes until interrupted (Ctrl-C) or ``stop`` is set; blocks.

    ``on_ready`` receives the base URL once the server listens (the command prints it).
    """
    targets = [paths] if isinstance(paths, str | Path) else list(paths)
    faults = Faults(disconnect_after=disconnect_after, error_after=error_after)
    emulator = Emulator.from_paths(targets, speed=speed, faults=faults)
    server = EmulatorServer(emulator, host=host, port=port)
    server.start()
    try:
        if on_ready is not None:
            on_ready(server.base_url)
        server.wait(stop)
    finally:
        # Ctrl-C stops the server and still reaches the caller, which decides what it means.
        server.stop()
