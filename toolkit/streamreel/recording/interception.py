"""Interception: the transport shell that routes httpx/httpx2 requests to the active recording.

Theory of operation
-------------------
While at least one recording is active, ``handle_request`` of ``HTTPTransport`` and
``handle_async_request`` of ``AsyncHTTPTransport`` are replaced, on the classes, in both
``httpx`` and ``httpx2``.  Patching the network transport (rather than ``Client.send``) catches
every client built before or inside the block, including the ones the ``openai`` and ``anthropic``
SDKs build for themselves, and leaves redirects, auth, cookies and content decoding to the
client, exactly as without recording.  Transports that never touch the network
(``MockTransport``, ``ASGITransport``) are not intercepted: they need no cassette.

The innermost active recording (a process-wide stack, so worker threads are covered too) answers
each request through :meth:`streamreel.recording.recorder.Session.begin`:

* **Replay**: a response is built from the cassette; its stream yields the recorded chunks one
  by one, each no earlier than its offset times ``speed`` after the request, and raises the
  library's transport error at the end when the recorded stream was cut.
* **Capture**: the real transport sends the request; its response stream is wrapped so that each
  read is handed to the client *the moment it is read* (nothing is buffered) and, on the way
  past, stored with its arrival offset.

Decoded bytes at the transport
------------------------------
A transport sees the body as it came off the wire, still gzip- or deflate-encoded; the client
decodes it later.  The wrapper passes the raw bytes through untouched (so the client's own
decoding and errors are unchanged) and feeds a copy to an incremental decoder of its own
(:class:`~streamreel.core.encoding.BodyDecoder`, the one the cassette reader uses too: stdlib
``zlib``; ``br`` and ``zstd`` when the optional packages that make the client ask for them are
installed).  Each read is stored as the decoded bytes it produced,
a read that decodes to nothing (a gzip header alone) is not stored, and the ``content-encoding``
and ``content-length`` headers are dropped because they no longer describe the stored bytes.
On replay the client receives identity bytes and no encoding header, so it decodes nothing.
An encoding nothing here can decode is stored as it came, with its header, rather than guessed.

A client that stops reading early (the ``openai`` SDK closes the response as soon as it sees
``[DONE]``) leaves the body stored as far as it was read; that is not an error.  A read that
fails (the server hung up) is stored as ``response.error`` and re-raised to the client.

The same stack also answers urllib3 (so ``requests`` and boto3/botocore) and aiohttp, whose
patches :mod:`streamreel.recording.clients` installs and removes together with these.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Final

import anyio
import httpx

from streamreel.core.cassette import RecordedRequest, RecordedResponse
from streamreel.core.encoding import BodyDecoder
from streamreel.recording.recorder import Capture, Replay, Session

__all__ = ["BodyDecoder", "activate", "active_session", "deactivate"]

_REPLAY_DROPPED: Final = frozenset({"content-encoding", "transfer-encoding", "content-length"})


# -- the active recordings ---------------------------------------------------------------------

_lock = threading.Lock()
_active: list[Session] = []
_patches: list[tuple[type, str, Any]] = []


def activate(session: Session) -> None:
    """Make ``session`` answer every intercepted request until :func:`deactivate`."""
    with _lock:
        if not _active:
            _install()
        _active.append(session)


def deactivate(session: Session) -> None:
    with _lock:
        for index in range(len(_active) - 1, -1, -1):
            if _active[index] is session:
                del _active[index]
                break
        if not _active:
            _uninstall()


def active_session() -> Session | None:
    """The innermost active recording, or None."""
    with _lock:
        return _active[-1] if _active else None


def _install() -> None:
    # urllib3 (requests, botocore) and aiohttp, each when installed.
    from streamreel.recording import clients

    clients.install(_patches, _innermost)
    for flavor in _flavors():
        sync_cls, async_cls = flavor.lib.HTTPTransport, flavor.lib.AsyncHTTPTransport
        sync_original = sync_cls.handle_request
        async_original = async_cls.handle_async_request
        _patches.append((sync_cls, "handle_request", sync_original))
        _patches.append((async_cls, "handle_async_request", async_original))
        sync_cls.handle_request = _sync_handler(flavor, sync_original)
        async_cls.handle_async_request = _async_handler(flavor, async_original)


def _innermost() -> Session | None:
    # Called from inside patched code while _lock may be held by nobody; same as active_session.
    return _active[-1] if _active else None


def _uninstall() -> None:
    while _patches:
        cls, name, original = _patches.pop()
        setattr(cls, name, original)


# -- per-library adapters ----------------------------------------------------------------------


class _Flavor:
    """What differs between httpx and httpx2: the module, and its byte-stream base classes."""

    def __init__(
        self,
        lib: ModuleType,
        sync_stream: Callable[[Iterator[bytes], Callable[[], None]], Any],
        async_stream: Callable[[AsyncIterator[bytes], Callable[[], Any]], Any],
    ) -> None:
        self.lib: Any = lib
        self.sync_stream = sync_stream
        self.async_stream = async_stream

    def transport_error(self, text: str) -> Exception:
        """The library's exception for a recorded stream fault, by the name stored with it."""
        name, sep, _ = text.partition(":")
        candidate = getattr(self.lib, name.strip(), None) if sep else None
        if isinstance(candidate, type) and issubclass(candidate, self.lib.TransportError):
            error: Exception = candidate(text)
            return error
        fallback: Exception = self.lib.RemoteProtocolError(text)
        return fallback


def _stream_types(lib: Any) -> tuple[type[Any], type[Any]]:
    """Byte-stream classes of ``lib`` around our iterators; httpx and httpx2 share the shape but
    each checks for its own base classes, so each gets its own pair."""

    # The base classes come from a module passed in at run time, so their type is Any.
    class SyncStream(lib.SyncByteStream):  # type: ignore[misc]
        def __init__(self, parts: Iterator[bytes], on_close: Callable[[], None]) -> None:
            self._parts = parts
            self._on_close = on_close

        def __iter__(self) -> Iterator[bytes]:
            return self._parts

        def close(self) -> None:
            self._on_close()

    class AsyncStream(lib.AsyncByteStream):  # type: ignore[misc]
        def __init__(self, parts: AsyncIterator[bytes], on_close: Callable[[], Any]) -> None:
            self._parts = parts
            self._on_close = on_close

        def __aiter__(self) -> AsyncIterator[bytes]:
            return self._parts

        async def aclose(self) -> None:
            await self._on_close()

    return SyncStream, AsyncStream


def _flavors() -> list[_Flavor]:
    flavors = [_Flavor(httpx, *_stream_types(httpx))]
    try:
        import httpx2
    except ImportError:
        return flavors
    flavors.append(_Flavor(httpx2, *_stream_types(httpx2)))
    return flavors


# -- request and response conversion -----------------------------------------------------------


def _headers(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def _live_request(request: Any, body: bytes) -> RecordedRequest:
    return RecordedRequest(
        method=request.method,
        uri=str(request.url),
        headers=_headers(request.headers.multi_items()),
        body=body,
    )


def _response_started(ticket: Capture, response: Any) -> BodyDecoder:
    """Note the response's head on ``ticket``; the decoder its body pieces go through."""
    decoder = BodyDecoder(response.headers.get("content-encoding"))
    ticket.response_started(
        response.status_code,
        _reason(response),
        _headers(response.headers.multi_items()),
        decoded=decoder.decodes,
    )
    return decoder


def _reason(response: Any) -> str:
    raw = response.extensions.get("reason_phrase", b"")
    return raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _replay_response(flavor: _Flavor, recorded: RecordedResponse, stream: Any) -> Any:
    headers = [
        (name, value)
        for name, values in recorded.headers.items()
        if name.lower() not in _REPLAY_DROPPED
        for value in values
    ]
    if recorded.header("content-length") is not None and recorded.error is None:
        headers.append(("content-length", str(len(recorded.body))))
    return flavor.lib.Response(
        status_code=recorded.status,
        headers=headers,
        stream=stream,
        extensions={
            "http_version": b"HTTP/1.1",
            "reason_phrase": recorded.reason.encode("ascii", "replace"),
        },
    )


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _due(start: float, offset_ms: float, speed: float) -> float:
    """Seconds to wait before a chunk recorded at ``offset_ms`` is due."""
    return start + offset_ms * speed / 1000.0 - time.perf_counter()


# -- sync --------------------------------------------------------------------------------------


def _sync_handler(
    flavor: _Flavor, original: Callable[[Any, Any], Any]
) -> Callable[[Any, Any], Any]:
    def handle_request(transport: Any, request: Any) -> Any:
        session = active_session()
        if session is None:
            return original(transport, request)
        live = _live_request(request, request.read())
        ticket = session.begin(live, now=datetime.now(UTC))
        start = time.perf_counter()
        if isinstance(ticket, Replay):
            parts = _replay_sync(flavor, ticket, start)
            return _replay_response(flavor, ticket.response, flavor.sync_stream(parts, _noop))
        try:
            response = original(transport, request)
        except BaseException:
            session.cancel(ticket)
            raise
        decoder = _response_started(ticket, response)
        raw = response.stream

        def close() -> None:
            try:
                raw.close()
            finally:
                ticket.finish()

        parts = _capture_sync(raw, ticket, decoder, start)
        response.stream = flavor.sync_stream(parts, close)
        return response

    return handle_request


def _noop() -> None:
    return None


def _replay_sync(flavor: _Flavor, ticket: Replay, start: float) -> Iterator[bytes]:
    for chunk in ticket.response.body_chunks():
        if ticket.speed > 0:
            wait = _due(start, chunk.offset_ms, ticket.speed)
            if wait > 0:
                time.sleep(wait)
        if chunk.data:
            yield chunk.data
    if ticket.response.error is not None:
        raise flavor.transport_error(ticket.response.error)


def _capture_sync(
    raw: Iterable[bytes], capture: Capture, decoder: BodyDecoder, start: float
) -> Iterator[bytes]:
    try:
        for part in raw:
            capture.chunk(_elapsed_ms(start), decoder.feed(part))
            yield part
    except Exception as exc:
        capture.finish(_describe(exc))
        raise
    capture.chunk(_elapsed_ms(start), decoder.flush())
    capture.finish(decoder.failed)


# -- async -------------------------------------------------------------------------------------


def _async_handler(
    flavor: _Flavor, original: Callable[[Any, Any], Any]
) -> Callable[[Any, Any], Any]:
    async def handle_async_request(transport: Any, request: Any) -> Any:
        session = active_session()
        if session is None:
            return await original(transport, request)
        live = _live_request(request, await request.aread())
        ticket = session.begin(live, now=datetime.now(UTC))
        start = time.perf_counter()
        if isinstance(ticket, Replay):
            parts = _replay_async(flavor, ticket, start)
            return _replay_response(flavor, ticket.response, flavor.async_stream(parts, _anoop))
        try:
            response = await original(transport, request)
        except BaseException:
            session.cancel(ticket)
            raise
        decoder = _response_started(ticket, response)
        raw = response.stream

        async def aclose() -> None:
            try:
                await raw.aclose()
            finally:
                ticket.finish()

        parts = _capture_async(raw, ticket, decoder, start)
        response.stream = flavor.async_stream(parts, aclose)
        return response

    return handle_async_request


async def _anoop() -> None:
    return None


async def _replay_async(flavor: _Flavor, ticket: Replay, start: float) -> AsyncIterator[bytes]:
    for chunk in ticket.response.body_chunks():
        if ticket.speed > 0:
            wait = _due(start, chunk.offset_ms, ticket.speed)
            if wait > 0:
                await anyio.sleep(wait)
        if chunk.data:
            yield chunk.data
    if ticket.response.error is not None:
        raise flavor.transport_error(ticket.response.error)


async def _capture_async(
    raw: AsyncIterable[bytes], capture: Capture, decoder: BodyDecoder, start: float
) -> AsyncIterator[bytes]:
    try:
        async for part in raw:
            capture.chunk(_elapsed_ms(start), decoder.feed(part))
            yield part
    except Exception as exc:
        capture.finish(_describe(exc))
        raise
    capture.chunk(_elapsed_ms(start), decoder.flush())
    capture.finish(decoder.failed)
