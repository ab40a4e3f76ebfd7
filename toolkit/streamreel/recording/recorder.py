"""Recording and replaying HTTP sessions: ``with record("cassettes/x.yaml"): ...``.

Theory of operation
-------------------
Inside ``record(...)`` every request sent through an ``httpx`` or ``httpx2`` network transport,
sync or async (and so through the ``openai`` and ``anthropic`` SDKs built on them), is handed to
the active :class:`Recording`.  The recording decides, per request, to *replay* a recorded
interaction or to *capture* a live one; :mod:`streamreel.recording.interception` carries the
decision out at
the transport.

The decision and the bookkeeping live in :class:`Session`, which does no I/O:

* :meth:`Session.begin` takes the live request, scrubs it the way a recording of it would be
  scrubbed (so a key in the URL cannot stop a match), and returns a :class:`Replay` or a
  :class:`Capture`, or raises :class:`~streamreel.core.errors.NoMatchError`.
* A :class:`Capture` collects what the transport reports: status, headers, each decoded chunk
  with its offset, and the error text if the stream was cut.
* :meth:`Session.result` builds the cassette to save, or None when nothing should be written.

Record modes keep vcrpy's meanings:

* ``none``: replay only; an unmatched request raises :class:`~streamreel.core.errors.NoMatchError`;
  nothing is ever written.
* ``once``: with no cassette file, record everything and write it; with one, behave as ``none``.
* ``new_episodes``: replay what matches, record what does not, and write old + new.
* ``all``: record every request, replay nothing; write the new interactions after the old ones
  they did not re-record.

The default is ``once``, or ``none`` when the ``CI`` environment variable is set (to anything but
``""``, ``0``, ``false`` or ``no``) so a CI run never reaches a provider by accident; an explicit
``mode=`` always wins.  Only interactions loaded from the file are replayed: a session never
answers a request with something it recorded itself a moment earlier.

Writes are all or nothing, and a failed provider call is kept.  The cassette is written once,
when the block exits, through :func:`streamreel.cassettes.storage.save_cassette` (temp file +
``os.replace``), so a crash leaves the previous file exactly as it was.  When the block exits
normally, everything recorded is saved.  When it raises, what was captured decides:

* when a captured exchange has failed (:meth:`Capture.failed`: an HTTP error status, an error
  event or error object in its body, a body cut by the server or a transport error), the
  cassette is saved with everything recorded, the failing interaction included as it came: a
  cut stream with the chunks received and ``response.error``, an HTTP error with its status and
  body, an error event in its body.  A failed body the client was still reading is marked with
  the exception.  The reason to record a failure is to replay it in a test, and the exception
  still propagates.  The exception itself is not asked which exchange it is about: SDKs hand
  their transport a copy of the request they keep, wrap responses and re-raise, so the objects
  an exception carries cannot be matched to the exchange reliably; the captured bytes can.
* when every captured exchange is healthy (the caller's own bug, an assertion), nothing is
  written and the previous cassette stays as it was: a half-run block is not a recording of
  anything.

Before the first request, a recording that may write checks that its path can be written in the
format its suffix names (:func:`streamreel.cassettes.storage.check_writable`), so a read-only
folder is reported before a paid session runs rather than after.  Concurrent requests (threads,
``asyncio.gather``) each get their own interaction; they are stored in the order their requests
started.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Self
from urllib.parse import urlsplit

from streamreel.cassettes.matching import Matcher, ReplayQueue
from streamreel.cassettes.scrubbing import Scrubber
from streamreel.core.cassette import (
    BodyChunk,
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import (
    CassetteError,
    ConfigurationError,
    NoMatchError,
    RecordingError,
    UnplayedError,
)
from streamreel.recording.failure import reports_error
from streamreel.recording.modes import RecordMode, resolve_mode

__all__ = [
    "Capture",
    "ChunkObserver",
    "RecordMode",
    "Recording",
    "Replay",
    "Session",
    "Unplayed",
    "record",
    "resolve_mode",
]

ChunkObserver = Callable[["Capture", BodyChunk], None]
"""Called with a capture and each body chunk as it is recorded."""

_DECODED_HEADERS: Final = frozenset({"content-encoding", "content-length"})
_FOREIGN: Final = frozenset({"har", "nock", "go-vcr", "ruby-vcr"})


@dataclass(frozen=True, slots=True)
class Replay:
    """Serve this recorded response; ``speed`` scales its offsets (0 = no waiting)."""

    response: RecordedResponse
    speed: float
    index: int


@dataclass(frozen=True, slots=True)
class Unplayed:
    """A recorded interaction that no request of the block asked for."""

    index: int
    method: str
    uri: str

    def __str__(self) -> str:
        return f"#{self.index} {self.method} {self.uri}"


@dataclass(slots=True)
class Capture:
    """A live exchange being recorded; the transport shell fills it in as bytes arrive."""

    sequence: int
    request: RecordedRequest
    started_at: datetime
    status: int | None = None
    reason: str = ""
    headers: dict[str, list[str]] = field(default_factory=dict)
    chunks: list[BodyChunk] = field(default_factory=list)
    error: str | None = None
    done: bool = False
    observer: ChunkObserver | None = field(default=None, repr=False)

    def response_started(
        self, status: int, reason: str, headers: dict[str, list[str]], *, decoded: bool
    ) -> None:
        """The status line and headers arrived.

        ``decoded`` says the shell stores the body content-decoded; the encoding and length
        headers then describe bytes the cassette does not hold, so they are dropped.
        """
        self.status = status
        self.reason = reason
        if decoded:
            headers = {k: v for k, v in headers.items() if k.lower() not in _DECODED_HEADERS}
        self.headers = headers

    def chunk(self, offset_ms: float, data: bytes) -> None:
        if data:
            piece = BodyChunk(round(offset_ms, 3), data)
            self.chunks.append(piece)
            if self.observer is not None:
                self.observer(self, piece)

    def finish(self, error: str | None = None) -> None:
        """The body ended, was cut (``error``), or the client stopped reading it."""
        if not self.done:
            self.error = error
            self.done = True

    def failed(self) -> bool:
        """Whether the captured data shows this exchange failed: an HTTP error status, a body
        cut by the server or a transport error, or an error event or error object in the body
        (read the way replay reads it, so every provider's error shape counts)."""
        if self.error is not None:
            return True
        if self.status is not None and self.status >= 400:
            return True
        return reports_error(self.request, self.interaction().response)

    def interaction(self) -> Interaction:
        error = self.error
        if not self.done:
            error = "the recording ended while the client was still reading this body"
        return Interaction(
            request=self.request,
            response=RecordedResponse(
                status=self.status if self.status is not None else 0,
                reason=self.reason,
                headers=self.headers,
                body=b"".join(chunk.data for chunk in self.chunks),
                chunks=list(self.chunks),
                error=error,
            ),
            recorded_at=self.started_at,
        )


@dataclass(slots=True)
class Session:
    """The pure core of a recording: what to replay, what to record, what to save."""

    mode: RecordMode
    loaded: Cassette | None
    matcher: Matcher = field(default_factory=Matcher)
    scrubber: Scrubber = field(default_factory=Scrubber)
    speed: float = 0.0
    source: str = "the cassette"
    observer: ChunkObserver | None = None
    allow_repeats: bool = False
    """Whether a recorded interaction may answer again once each match has answered."""
    queue: ReplayQueue = field(init=False)
    captures: list[Capture] = field(init=False, default_factory=list)
    played: list[int] = field(init=False, default_factory=list)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.speed < 0:
            raise ConfigurationError(
                f"cannot replay: expected a speed >= 0, got {self.speed}; "
                "do pass 0 for no waiting or 1 for the recorded pace"
            )
        recorded = self.loaded.interactions if self.loaded is not None else []
        self.queue = ReplayQueue(recorded, self.matcher)

    def begin(self, request: RecordedRequest, *, now: datetime) -> Replay | Capture:
        """Decide how to answer ``request``: replay, record, or raise NoMatchError."""
        probe = self.scrubber.scrub_request(request)
        with self._lock:
            if self.mode is not RecordMode.ALL:
                hit = self.queue.take(probe)
                if hit is None and self.allow_repeats:
                    hit = self.queue.take_again(probe)
                if hit is not None:
                    index, interaction = hit
                    self.played.append(index)
                    return Replay(interaction.response, self.speed, index)
                if not self._may_record():
                    raise self._no_match(probe)
            capture = Capture(len(self.captures), request, now, observer=self.observer)
            self.captures.append(capture)
            return capture

    def cancel(self, capture: Capture) -> None:
        """Forget a capture whose request never got a response (connection refused...)."""
        with self._lock:
            if capture in self.captures:
                self.captures.remove(capture)

    def failures(self) -> list[Capture]:
        """The captures whose exchange failed, in the order their requests started."""
        with self._lock:
            captures = list(self.captures)
        return [capture for capture in captures if capture.failed()]

    def unplayed(self) -> list[Unplayed]:
        """The loaded interactions no request has been answered with, in recorded order.

        Empty in mode ``all``, which replays nothing and so leaves nothing unplayed.
        """
        if self.loaded is None or self.mode is RecordMode.ALL:
            return []
        with self._lock:
            played = set(self.played)
        return [
            Unplayed(index, interaction.request.method, interaction.request.uri)
            for index, interaction in enumerate(self.loaded.interactions)
            if index not in played
        ]

    def may_record(self) -> bool:
        """Whether this session can record anything, and so may write its cassette."""
        return self._may_record()

    def _may_record(self) -> bool:
        if self.mode is RecordMode.NONE:
            return False
        return not (self.mode is RecordMode.ONCE and self.loaded is not None)

    def _no_match(self, probe: RecordedRequest) -> NoMatchError:
        if self.mode is RecordMode.NONE:
            hint = (
                "record it with mode='once' on a new cassette, 'new_episodes' or 'all' "
                "(mode 'none' is the default when CI is set)"
            )
        else:
            hint = "re-record with mode='new_episodes' or 'all', or delete the cassette"
        if self.loaded is None:
            return NoMatchError(
                f"cannot answer {probe.method} {probe.uri}: expected a recorded cassette at "
                f"{self.source}, got no file; do {hint}"
            )
        return self.queue.no_match(probe, source=self.source, hint=hint)

    def result(self, *, now: datetime, tool_version: str | None = None) -> Cassette | None:
        """The cassette to save, or None when this session recorded nothing."""
        with self._lock:
            # Captures are appended as requests start, which is the order to store them in.
            captures = list(self.captures)
        if not captures:
            return None
        new = [capture.interaction() for capture in captures]
        old = list(self.loaded.interactions) if self.loaded is not None else []
        scrubbed = self.scrubber.scrub([*old, *new])
        old, new = scrubbed[: len(old)], scrubbed[len(old) :]
        if self.mode is RecordMode.ALL:
            # Re-recorded requests replace what they match; the rest of the file survives.
            old = [
                interaction
                for interaction in old
                if not any(self.matcher.matches(n.request, interaction.request) for n in new)
            ]
        info = self.loaded.info if self.loaded is not None else CassetteInfo()
        info = replace(
            info,
            tool_version=tool_version,
            recorded_at=now,
            recorded_against=_origin(new[0].request.uri),
            source="streamreel",
        )
        path = self.loaded.path if self.loaded is not None else None
        return Cassette(interactions=[*old, *new], info=info, path=path)


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


class Recording:
    """The shell around a :class:`Session`: loads and saves the file, activates interception.

    Use it through :func:`record`, as a sync or async context manager, or call :meth:`start`
    and :meth:`stop` when a block does not fit (the ``%%record`` magic does).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: RecordMode | str | None = None,
        scrub: Scrubber | None = None,
        match: Matcher | None = None,
        speed: float = 0.0,
        environ: Mapping[str, str] | None = None,
        on_chunk: ChunkObserver | None = None,
        strict: bool = False,
        allow_repeats: bool = False,
    ) -> None:
        self.path = Path(path)
        self.on_chunk = on_chunk
        self.strict = strict
        self.allow_repeats = allow_repeats
        self.mode = resolve_mode(mode, environ)
        self.scrubber = scrub if scrub is not None else Scrubber()
        self.matcher = match if match is not None else Matcher()
        self.speed = speed
        self.cassette: Cassette | None = None
        """After a normal exit: the cassette as saved, or as loaded when nothing was recorded."""
        self.saved = False
        self.failure: BaseException | None = None
        """The exception that left the block while a recorded interaction had failed (the
        cassette was saved with it), or None."""
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RecordingError(
                f"cannot inspect the recording of {self.path}: expected a started recording, "
                "got one not started; do enter the `with record(...)` block first"
            )
        return self._session

    def start(self) -> Self:
        from streamreel.recording import interception

        if self._session is not None:
            raise RecordingError(
                f"cannot start recording {self.path}: expected a recording not yet started, "
                "got one already running; do create a new record(...) for each block"
            )
        loaded = _load(self.path) if self.path.exists() else None
        session = Session(
            mode=self.mode,
            loaded=loaded,
            matcher=self.matcher,
            scrubber=self.scrubber,
            speed=self.speed,
            source=str(self.path),
            observer=self.on_chunk,
            allow_repeats=self.allow_repeats,
        )
        if session.may_record():
            _check_writable(self.path)
            if loaded is not None and loaded.info.source in _FOREIGN:
                # Saving would rewrite the user's HAR, nock or VCR file as a vcrpy cassette.
                raise CassetteError(
                    f"cannot record into {self.path}: expected a vcrpy or streamreel cassette, "
                    f"got a {loaded.info.source} recording, which streamreel reads but does not "
                    "write; do record into a new file, or convert it first with "
                    "`streamreel import`",
                    path=self.path,
                )
        self._session = session
        interception.activate(session)
        return self

    @property
    def unplayed(self) -> list[Unplayed]:
        """The recorded interactions the block has not (yet) been answered with.

        Read it after the block to see what the code no longer asks for; ``strict=True``
        turns a non-empty list at the end of a block into an :class:`UnplayedError`.
        """
        return self.session.unplayed()

    def check_played(self) -> None:
        """Raise :class:`UnplayedError` naming every recorded interaction left unplayed."""
        left = self.unplayed
        if not left:
            return
        total = len(self.session.loaded.interactions) if self.session.loaded else 0
        shown = "; ".join(str(item) for item in left)
        raise UnplayedError(
            f"cannot accept the recording as complete: expected every recorded interaction "
            f"to be replayed, got {len(left)} of {total} unplayed ({shown}); do make the "
            "requests again, delete them from the cassette or re-record it, or turn strict "
            "usage off",
            path=self.path,
            interaction=left[0].index if len(left) == 1 else None,
        )

    def stop(self, *, save: bool = True) -> None:
        """Deactivate; when ``save``, write the cassette if anything was recorded."""
        from streamreel._version import __version__
        from streamreel.recording import interception

        session = self.session
        interception.deactivate(session)
        if not save:
            return
        cassette = session.result(now=datetime.now(UTC), tool_version=__version__)
        if cassette is None:
            self.cassette = session.loaded
            return
        cassette.path = self.path
        _save(cassette, self.path, self.scrubber)
        self.cassette = cassette
        self.saved = True

    def end(self, exc: BaseException | None) -> None:
        """Stop after the block ended, normally (``exc`` None) or by raising ``exc``.

        A block that raised while a recorded interaction had failed is saved with it; one that
        raised while every recorded interaction was healthy writes nothing (see the module's
        rules).
        """
        if exc is None:
            self.stop(save=True)
            if self.strict:
                self.check_played()
            return
        failed = self.session.failures() if self._session is not None else []
        for capture in failed:
            if not capture.done:
                capture.finish(
                    f"the block raised {type(exc).__name__}: {exc} while the client was "
                    "still reading this body"
                )
        if failed:
            self.failure = exc
        self.stop(save=bool(failed))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.end(exc)

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.end(exc)


def record(
    path: str | os.PathLike[str],
    *,
    mode: RecordMode | str | None = None,
    scrub: Scrubber | None = None,
    match: Matcher | None = None,
    speed: float = 0.0,
    on_chunk: ChunkObserver | None = None,
    strict: bool = False,
    allow_repeats: bool = False,
) -> Recording:
    """Record or replay every httpx/httpx2 request made inside the block.

    ``mode`` is one of ``none``, ``once`` (default; ``none`` when ``CI`` is set), ``new_episodes``,
    ``all``.  ``scrub`` says which secrets to remove, ``match`` how requests are compared, and
    ``speed`` how fast replayed streams flow: offsets are multiplied by it, so 0 (the default)
    sends every chunk at once, 1 keeps the recorded pace, 0.1 is ten times faster.
    ``on_chunk`` is called with the capture and each body chunk as it is recorded (on the thread
    reading the response), before the caller gets it: a live view of what is being recorded.
    ``recording.unplayed`` lists the recorded interactions the block did not replay;
    ``strict=True`` makes a block that ends normally with any of them raise
    :class:`~streamreel.core.errors.UnplayedError`. Each recorded interaction answers once;
    ``allow_repeats=True`` lets one answer again when no unplayed recording matches.
    """
    return Recording(
        path,
        mode=mode,
        scrub=scrub,
        match=match,
        speed=speed,
        on_chunk=on_chunk,
        strict=strict,
        allow_repeats=allow_repeats,
    )


def _load(path: Path) -> Cassette:
    from streamreel.cassettes.storage import load_cassette

    cassette = load_cassette(path)
    cassette.path = path
    return cassette


def _check_writable(path: Path) -> None:
    from streamreel.cassettes.storage import check_writable

    check_writable(path)


def _save(cassette: Cassette, path: Path, scrubber: Scrubber) -> None:
    from streamreel.cassettes.storage import save_cassette

    path.parent.mkdir(parents=True, exist_ok=True)
    save_cassette(cassette, path, scrub=scrubber)
