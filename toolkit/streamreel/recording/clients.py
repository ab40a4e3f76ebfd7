"""Interception of the HTTP clients beyond httpx: urllib3 (so requests and botocore) and aiohttp.

Theory of operation
-------------------
:mod:`streamreel.recording.interception` installs these patches beside its httpx ones while a
recording is active and removes them with the rest; each library is patched only when it is
installed. The promises are the httpx ones: the caller sees each chunk the moment it is read,
chunks are stored with their arrival offsets, bodies are stored content-decoded, a failed read is
stored as ``response.error`` and re-raised, and a replay hands the client the recorded chunks
one by one, at the recorded pace, raising the library's own error where the recording was cut.

**urllib3** (``requests``, ``botocore`` and so ``boto3``, and urllib3 used directly). Every
request of every pool goes through ``HTTPConnectionPool.urlopen``, which is replaced. The real
call is made with ``preload_content=False`` and its response is read one network read at a time
(one HTTP chunk of a chunked body, else one ``read1``), decoded by urllib3 itself; the client gets
a response object of urllib3's own class whose ``stream``, ``read``, ``read1`` and ``read_chunked``
hand out those reads as they come, so ``requests``' ``iter_content`` and botocore's event-stream
reader see the chunk boundaries of the network on capture and of the cassette on replay. A
client that asked for ``preload_content`` gets the body read at once, as urllib3 would. Nested
``urlopen`` calls (urllib3's own retries and redirects) are left to the outer one.

**aiohttp**. ``ClientSession._request`` is replaced. On capture the real request is made and the
response's ``StreamReader`` is watched: every ``feed_data`` from aiohttp's parser (one network
read, already decompressed) is stored as a chunk, ``feed_eof`` ends the body, ``set_exception``
records the fault, and a response released before its end finishes what it read. Watching the
feed rather than the reads means a client that reads slowly still gets arrival offsets. On
replay a ``ClientResponse`` is built around a ``StreamReader`` fed at the recorded pace by a
task of the running loop, each recorded chunk as one HTTP chunk, so ``iter_chunks`` gives back
the recorded boundaries.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, Final

from streamreel.core.cassette import RecordedRequest, RecordedResponse
from streamreel.recording.recorder import Capture, Replay, Session

__all__ = ["install"]

_REPLAY_DROPPED: Final = frozenset({"content-encoding", "transfer-encoding", "content-length"})

Patches = list[tuple[type, str, Any]]


def install(patches: Patches, active: Callable[[], Session | None]) -> None:
    """Patch every installed library, recording each original in ``patches`` for removal."""
    _install_urllib3(patches, active)
    _install_aiohttp(patches, active)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _due(start: float, offset_ms: float, speed: float) -> float:
    return start + offset_ms * speed / 1000.0 - time.perf_counter()


def _header_lists(pairs: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(str(name), []).append(str(value))
    return out


def _replay_headers(recorded: RecordedResponse) -> list[tuple[str, str]]:
    headers = [
        (name, value)
        for name, values in recorded.headers.items()
        if name.lower() not in _REPLAY_DROPPED
        for value in values
    ]
    if recorded.header("content-length") is not None and recorded.error is None:
        headers.append(("content-length", str(len(recorded.body))))
    return headers


def _body_bytes(body: Any) -> tuple[bytes, Any]:
    """The request body as bytes, and what to send in its place (a file read here is spent)."""
    if body is None:
        return b"", None
    if isinstance(body, bytes):
        return body, body
    if isinstance(body, str):
        data = body.encode("utf-8")
        return data, data
    if isinstance(body, bytearray | memoryview):
        return bytes(body), body
    read = getattr(body, "read", None)
    if callable(read):
        data = read()
        data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        return data, data
    with contextlib.suppress(TypeError):
        data = b"".join(p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in body)
        return data, data
    return b"", body


# -- urllib3 -------------------------------------------------------------------------------------

_nested = threading.local()


def _depth() -> int:
    depth: int = getattr(_nested, "depth", 0)
    return depth


def _install_urllib3(patches: Patches, active: Callable[[], Session | None]) -> None:
    try:
        from urllib3.connectionpool import HTTPConnectionPool
        from urllib3.response import HTTPResponse
    except ImportError:
        return
    response_type = _urllib3_response_type(HTTPResponse)
    original = HTTPConnectionPool.urlopen
    patches.append((HTTPConnectionPool, "urlopen", original))

    def urlopen(
        pool: Any,
        method: str,
        url: str,
        body: Any = None,
        headers: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        session = active()
        if session is None or _depth():
            return original(pool, method, url, body, headers, *args, **kwargs)
        data, body = _body_bytes(body)
        sent = headers if headers is not None else pool.headers
        live = RecordedRequest(
            method=method,
            uri=_pool_url(pool, url),
            headers=_header_lists(dict(sent or {}).items()),
            body=data,
        )
        ticket = session.begin(live, now=datetime.now(UTC))
        start = time.perf_counter()
        preload = kwargs.get("preload_content", True)
        if isinstance(ticket, Replay):
            recorded = ticket.response
            response = response_type(
                _urllib3_replay(ticket, start),
                lambda: None,
                headers=_replay_headers(recorded),
                status=recorded.status,
                reason=recorded.reason,
                request_method=method,
                request_url=url,
            )
        else:
            kwargs["preload_content"] = False
            _nested.depth = _depth() + 1
            try:
                real = original(pool, method, url, body, headers, *args, **kwargs)
            except BaseException:
                session.cancel(ticket)
                raise
            finally:
                _nested.depth -= 1
            response = _urllib3_capture(response_type, real, ticket, start, method, url)
        if preload:
            response.preload()
        return response

    setattr(HTTPConnectionPool, "urlopen", urlopen)  # noqa: B010 - typed as urllib3's own


def _pool_url(pool: Any, url: str) -> str:
    if "://" in url:
        return url
    default = {"http": 80, "https": 443}.get(pool.scheme)
    port = "" if pool.port in (None, default) else f":{pool.port}"
    host = pool.host if ":" not in pool.host else f"[{pool.host}]"
    return f"{pool.scheme}://{host}{port}{url}"


def _urllib3_error(text: str) -> Exception:
    from urllib3 import exceptions

    name, sep, _ = text.partition(":")
    candidate = getattr(exceptions, name.strip(), None) if sep else None
    if isinstance(candidate, type) and issubclass(candidate, exceptions.HTTPError):
        with contextlib.suppress(TypeError):
            error: Exception = candidate(text)
            return error
    return exceptions.ProtocolError(text)


def _urllib3_replay(ticket: Replay, start: float) -> Iterator[bytes]:
    for chunk in ticket.response.body_chunks():
        if ticket.speed > 0:
            wait = _due(start, chunk.offset_ms, ticket.speed)
            if wait > 0:
                time.sleep(wait)
        if chunk.data:
            yield chunk.data
    if ticket.response.error is not None:
        raise _urllib3_error(ticket.response.error)


def _urllib3_capture(
    response_type: type[Any], real: Any, ticket: Capture, start: float, method: str, url: str
) -> Any:
    encodings = [
        name.strip().lower()
        for name in (real.headers.get("content-encoding") or "").split(",")
        if name.strip() and name.strip().lower() != "identity"
    ]
    # urllib3 decodes what it has a decoder for; anything else reaches the client as it came.
    decoded = bool(encodings) and all(name in real.CONTENT_DECODERS for name in encodings)
    pairs = list(real.headers.items())
    ticket.response_started(real.status, real.reason or "", _header_lists(pairs), decoded=decoded)
    if decoded:
        pairs = [
            (k, v) for k, v in pairs if k.lower() not in ("content-encoding", "content-length")
        ]

    def parts() -> Iterator[bytes]:
        try:
            if real.chunked and real.supports_chunked_reads():
                reads: Iterator[bytes] = real.read_chunked(None, decode_content=True)
            else:
                reads = iter(lambda: real.read1(decode_content=True), b"")
            for part in reads:
                ticket.chunk(_elapsed_ms(start), part)
                yield part
        except Exception as exc:
            ticket.finish(_describe(exc))
            raise
        ticket.finish()

    def close() -> None:
        try:
            real.release_conn()
        finally:
            ticket.finish()

    return response_type(
        parts(),
        close,
        headers=pairs,
        status=real.status,
        reason=real.reason,
        request_method=method,
        request_url=url,
    )


def _urllib3_response_type(base: type[Any]) -> type[Any]:
    """urllib3's response class, answering its reads from an iterator of chunks."""

    class ChunkedResponse(base):  # type: ignore[misc]
        def __init__(
            self, parts: Iterator[bytes], on_close: Callable[[], None], **kwargs: Any
        ) -> None:
            super().__init__(body=b"", preload_content=False, decode_content=False, **kwargs)
            self._parts = parts
            self._held = b""
            self._spent = False
            self._on_close = on_close
            self._preloaded: bytes | None = None

        def preload(self) -> None:
            self._preloaded = self.read()
            self.release_conn()

        @property
        def data(self) -> bytes:
            if self._preloaded is not None:
                return self._preloaded
            self._preloaded = self.read()
            return self._preloaded

        def _next(self) -> bytes:
            if self._held:
                held, self._held = self._held, b""
                return held
            if self._spent:
                return b""
            for part in self._parts:
                if part:
                    return bytes(part)
            self._spent = True
            return b""

        def read(
            self,
            amt: int | None = None,
            decode_content: bool | None = None,
            cache_content: bool = False,
        ) -> bytes:
            if amt is None or amt < 0:
                out = b"".join(iter(self._next, b""))
                if cache_content:
                    self._preloaded = out
                return out
            if amt == 0:
                return b""
            piece = self._next()
            out, self._held = piece[:amt], piece[amt:]
            return out

        def read1(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
            return self.read(amt if amt is not None else 1 << 62)

        def stream(
            self, amt: int | None = 2**16, decode_content: bool | None = None
        ) -> Iterator[bytes]:
            while True:
                piece = self.read(amt if amt else 1 << 62)
                if not piece:
                    return
                yield piece

        def read_chunked(
            self, amt: int | None = None, decode_content: bool | None = None
        ) -> Iterator[bytes]:
            return self.stream(amt)

        def readinto(self, b: Any) -> int:
            piece = self.read(len(b))
            b[: len(piece)] = piece
            return len(piece)

        def release_conn(self) -> None:
            self._on_close()

        def drain_conn(self) -> None:
            for _ in iter(self._next, b""):
                pass

        def close(self) -> None:
            self._spent = True
            self._on_close()

        @property
        def closed(self) -> bool:
            return self._spent and not self._held

    ChunkedResponse.__name__ = ChunkedResponse.__qualname__ = "HTTPResponse"
    return ChunkedResponse


# -- aiohttp -------------------------------------------------------------------------------------

_watched: dict[int, tuple[Any, Capture, float]] = {}
_replay_tasks: set[asyncio.Task[None]] = set()


def _install_aiohttp(patches: Patches, active: Callable[[], Session | None]) -> None:
    try:
        import aiohttp
        from aiohttp import streams
    except ImportError:
        return
    reader = streams.StreamReader
    originals = {name: getattr(reader, name) for name in ("feed_data", "feed_eof", "set_exception")}
    for name, method in originals.items():
        patches.append((reader, name, method))

    def feed_data(stream: Any, data: bytes, *args: Any) -> Any:
        watched = _watched.get(id(stream))
        if watched is not None and watched[0] is stream and data:
            watched[1].chunk(_elapsed_ms(watched[2]), bytes(data))
        return originals["feed_data"](stream, data, *args)

    def feed_eof(stream: Any) -> Any:
        _end_watch(stream, None)
        return originals["feed_eof"](stream)

    def set_exception(stream: Any, exc: BaseException, *args: Any) -> Any:
        _end_watch(stream, _describe(exc))
        return originals["set_exception"](stream, exc, *args)

    for name, replacement in (
        ("feed_data", feed_data),
        ("feed_eof", feed_eof),
        ("set_exception", set_exception),
    ):
        setattr(reader, name, replacement)

    session_type = aiohttp.ClientSession
    original_request = session_type._request
    patches.append((session_type, "_request", original_request))
    response_type = aiohttp.ClientResponse
    original_release = response_type.release
    patches.append((response_type, "release", original_release))

    async def request(client: Any, method: str, str_or_url: Any, *args: Any, **kwargs: Any) -> Any:
        session = active()
        if session is None:
            return await original_request(client, method, str_or_url, *args, **kwargs)
        live = _aiohttp_request(client, method, str_or_url, kwargs)
        ticket = session.begin(live, now=datetime.now(UTC))
        start = time.perf_counter()
        if isinstance(ticket, Replay):
            replayed = _aiohttp_replay(client, live, ticket, start)
            # The session's or the call's raise_for_status applies to a replay as to the network.
            check = kwargs.get("raise_for_status")
            if check is None:
                check = getattr(client, "_raise_for_status", False)
            if callable(check):
                await check(replayed)
            elif check and replayed.status >= 400:
                replayed.release()
                replayed.raise_for_status()
            return replayed
        try:
            response = await original_request(client, method, str_or_url, *args, **kwargs)
        except BaseException:
            session.cancel(ticket)
            raise
        _aiohttp_watch(client, response, ticket, start)
        return response

    def release(response: Any) -> Any:
        # A body released before its end keeps what was read; finishing twice changes nothing.
        _end_watch(response.content, None)
        return original_release(response)

    setattr(session_type, "_request", request)  # noqa: B010 - typed as aiohttp's own
    setattr(response_type, "release", release)  # noqa: B010 - typed as aiohttp's own


def _end_watch(stream: Any, error: str | None) -> None:
    watched = _watched.get(id(stream))
    if watched is not None and watched[0] is stream:
        del _watched[id(stream)]
        watched[1].finish(error)


def _aiohttp_request(client: Any, method: str, str_or_url: Any, kwargs: dict[str, Any]) -> Any:
    from multidict import CIMultiDict

    url = client._build_url(str_or_url) if hasattr(client, "_build_url") else str_or_url
    from yarl import URL

    url = URL(str(url))
    params = kwargs.get("params")
    if params:
        url = url.extend_query(params)
    headers: CIMultiDict[str] = CIMultiDict(client._default_headers)
    headers.update(kwargs.get("headers") or {})
    data = kwargs.get("data")
    if kwargs.get("json") is not None:
        body = client._json_serialize(kwargs["json"]).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(data, dict):
        from urllib.parse import urlencode

        body = urlencode(data).encode("ascii")
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    else:
        body, replacement = _body_bytes(data)
        if replacement is not data:
            kwargs["data"] = replacement
    return RecordedRequest(
        method=method.upper(), uri=str(url), headers=_header_lists(headers.items()), body=body
    )


def _aiohttp_watch(client: Any, response: Any, ticket: Capture, start: float) -> None:
    encodings = response.headers.get("Content-Encoding", "")
    decoded = bool(encodings.strip()) and bool(getattr(client, "_auto_decompress", True))
    ticket.response_started(
        response.status,
        response.reason or "",
        _header_lists(response.headers.items()),
        decoded=decoded,
    )
    stream = response.content
    # Bytes that arrived with the headers are already in the buffer: they are the first read.
    buffered = b"".join(bytes(piece) for piece in getattr(stream, "_buffer", ()))
    skip = getattr(stream, "_buffer_offset", 0) or 0
    ticket.chunk(_elapsed_ms(start), buffered[skip:])
    if stream.exception() is not None:
        ticket.finish(_describe(stream.exception()))
    elif stream.is_eof():
        ticket.finish()
    else:
        _watched[id(stream)] = (stream, ticket, start)


class _NoTransport:
    """The protocol a replayed ``StreamReader`` reports to: there is no socket to pause."""

    _reading_paused = False
    connected = True  # readers wait for data only while the "connection" is up

    def pause_reading(self) -> None:
        return None

    def resume_reading(self, resume_parser: bool = True) -> None:
        return None


def _replay_stream_type(base: type[Any]) -> type[Any]:
    """aiohttp's ``StreamReader``, raising a recorded cut only once its buffer is read."""

    class ReplayStream(base):  # type: ignore[misc]
        cut: BaseException | None = None

        def buffered(self) -> bool:
            return bool(self._buffer)

        async def _wait(self, func_name: str) -> None:
            if self.cut is not None:
                raise self.cut
            await super()._wait(func_name)

    return ReplayStream


def _aiohttp_replay(client: Any, live: RecordedRequest, ticket: Replay, start: float) -> Any:
    import aiohttp
    from aiohttp import streams
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    loop = asyncio.get_running_loop()
    recorded = ticket.response
    url = URL(live.uri)
    sent: CIMultiDict[str] = CIMultiDict(
        (name, value) for name, values in live.headers.items() for value in values
    )
    info = aiohttp.RequestInfo(url, live.method, CIMultiDictProxy(sent), url)
    kwargs: dict[str, Any] = {
        "writer": None,
        "continue100": None,
        "timer": None,
        "request_info": info,
        "traces": [],
        "loop": loop,
        "session": client,
    }
    if "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
        # Since 3.14 a response reads the size of what was sent from its writer.
        kwargs["stream_writer"] = SimpleNamespace(output_size=0)
    response = aiohttp.ClientResponse(live.method, url, **kwargs)
    response.status = recorded.status
    response.reason = recorded.reason
    pairs = _replay_headers(recorded)
    response._headers = CIMultiDictProxy(CIMultiDict(pairs))
    response._raw_headers = tuple((k.encode(), v.encode()) for k, v in pairs)
    limit = max(len(recorded.body), 2**16)
    stream = _replay_stream_type(streams.StreamReader)(_NoTransport(), limit, loop=loop)
    stream.begin_http_chunk_receiving()
    response.content = stream

    async def feed() -> None:
        for chunk in recorded.body_chunks():
            if ticket.speed > 0:
                wait = _due(start, chunk.offset_ms, ticket.speed)
                if wait > 0:
                    await asyncio.sleep(wait)
            if chunk.data:
                stream.feed_data(chunk.data)
                stream.end_http_chunk_receiving()
                stream.begin_http_chunk_receiving()
        if recorded.error is None:
            stream.feed_eof()
        elif stream.buffered():
            # A reader gets every recorded byte before the cut, as from the network.
            stream.cut = aiohttp.ClientPayloadError(recorded.error)
        else:
            stream.set_exception(aiohttp.ClientPayloadError(recorded.error))

    task = loop.create_task(feed())
    _replay_tasks.add(task)
    task.add_done_callback(_replay_tasks.discard)
    return response
