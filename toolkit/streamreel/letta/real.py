"""Letta 0.7.8's own ``StreamingServerInterface`` as a streamreel parser.

Theory of operation
-------------------
Letta 0.7.8 pins ``openai<2`` and its package ``__init__`` imports its whole server, so it cannot
live in the project's environment. :func:`install_letta` builds a separate virtualenv holding
``letta==0.7.8`` without its dependencies plus exactly what ``letta/server/rest_api/interface.py``
and its imports need, at Letta's own pins. A worker process (``_worker.py``, run by that
virtualenv's Python) hosts Letta's interfaces; streamreel talks to it over pipes, one JSON line per
call, and reads Letta's messages back through their wire JSON (:func:`streamreel.parse_wire`).
One worker serves every interface of a process, so a Hypothesis run pays Letta's import once.

:class:`LettaInterface` is the adapter the replay driver sees: it has the streaming interface's
methods plus ``drain()``, and drives Letta the way ``openai_chat_completions_process_stream``
does in 0.7.8: per LLM call (a new ``message_id``) ``stream_start``, then ``process_chunk`` with
``message_index`` counted as that loop counts it (it moves on when the returned message type
changes and is not ``None``), ``name``, and the ``expect_reasoning_content`` given (replay gives
what Letta's server passes for each interaction's provider unless told otherwise); after the call
``stream_end``, then ``step_complete``; ``step_yield`` ends the turn. A tool's return goes to
Letta's ``function_message`` (``"Success: ..."`` / ``"Error: ..."``) with a stand-in for the tool
message its server would pass, holding the fields the interface reads. Chunks go to Letta as the
OpenAI SDK hands them over: Letta's loop builds ``ChatCompletionChunkResponse(**chunk)`` from
them, which needs ``id``, ``created`` and ``model``; a chunk that lacks them (a fixture, a
converted provider stream) gets the call's id, date and an empty model, which the interface
never reads. Tool-call ids are passed as recorded (Letta's server replaces them by fresh random
ids, which would make no two replays equal).

Where Letta raises, its loop aborts the LLM call: the adapter keeps every message produced
before, adds an error message naming the chunk and Letta's exception, and ignores the rest of
that call, as Letta's server would.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from streamreel.core.chunks import ChatCompletionChunk
from streamreel.core.errors import ConfigurationError, ParserError, StreamreelError
from streamreel.core.messages import AgentMessage, ErrorMessage, UsageStatistics, parse_wire
from streamreel.core.parser import InterfaceSettings
from streamreel.letta.interface import coerce_chunk

__all__ = [
    "INSTALL_COMMAND",
    "LETTA_REQUIREMENTS",
    "LETTA_VERSION",
    "LettaInterface",
    "LettaWorkerError",
    "build_worker_venv",
    "install_letta",
    "letta_parser",
    "letta_venv",
    "require_letta",
]

LETTA_VERSION = "0.7.8"

INSTALL_COMMAND = "streamreel install-letta"
"""What makes ``--parser letta`` work on a fresh machine."""

# What letta/server/rest_api/interface.py and the modules it imports need, at the ranges Letta
# 0.7.8 itself declares (tiktoken comes in with Letta's llama-index dependency, unpinned).
LETTA_REQUIREMENTS = (
    "demjson3>=3.0.6,<4",
    "pydantic>=2.10.6,<3",
    "pydantic-settings>=2.2.1,<3",
    "openai>=1.60.0,<2",
    "pytz>=2023.3.post1,<2024",
    "colorama>=0.4.6,<0.5",
    "pathvalidate>=3.2.1,<4",
    "rich>=13.9.4,<14",
    "tiktoken",
)

_MARKER = "streamreel-letta.json"
_WORKER = Path(__file__).with_name("_worker.py")


class LettaWorkerError(StreamreelError):
    """The worker running Letta could not be started or stopped answering."""


def letta_venv() -> Path:
    """Where Letta's virtualenv lives: ``$STREAMREEL_LETTA_VENV``, else the user's cache."""
    chosen = os.environ.get("STREAMREEL_LETTA_VENV")
    if chosen:
        return Path(chosen).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "streamreel" / f"letta-{LETTA_VERSION}"


def _python_of(venv: Path) -> Path:
    if sys.platform == "win32":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _installed(venv: Path, requirements: Sequence[str] | None = None) -> bool:
    """Built and marked; with ``requirements``, built with exactly those (else it is stale)."""
    marker = venv / _MARKER
    if not marker.is_file() or not _python_of(venv).exists():
        return False
    if requirements is None:
        return True
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(record.get("requirements") == list(requirements))


def install_letta(venv: Path | None = None, *, log: Callable[[str], None] | None = None) -> Path:
    """Build Letta's virtualenv (once) and return its path.

    The virtualenv gets ``letta==0.7.8`` without dependencies, then :data:`LETTA_REQUIREMENTS`;
    a worker must then start and report ready before the virtualenv is marked as installed, so a
    half-built one is rebuilt next time rather than trusted.
    """
    target = venv or letta_venv()
    build_worker_venv(target, LETTA_VERSION, LETTA_REQUIREMENTS, _WORKER, log=log)
    return target


def build_worker_venv(
    target: Path,
    version: str,
    requirements: Sequence[str],
    script: Path,
    *,
    log: Callable[[str], None] | None = None,
) -> None:
    """A virtualenv with ``letta==version`` (no dependencies) and ``requirements``, whose
    ``script`` worker has started and said it is ready; does nothing when one built with these
    requirements is there (one built with others is rebuilt)."""
    if _installed(target, requirements):
        return

    def run(*command: str) -> None:
        if log is not None:
            log(" ".join(command))
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ConfigurationError(
                f"cannot install Letta {version} into {target}: expected "
                f"`{' '.join(command)}` to succeed, got exit status {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()[-2000:]}; do check that PyPI is "
                f"reachable and run `{INSTALL_COMMAND}` again"
            )

    target.parent.mkdir(parents=True, exist_ok=True)
    run(sys.executable, "-m", "venv", "--clear", str(target))
    python = str(_python_of(target))
    pip = (python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    run(*pip, "--no-deps", f"letta=={version}")
    run(*pip, *requirements)
    worker = _Worker(_python_of(target), script)
    worker.close()
    record = {"letta": version, "requirements": list(requirements)}
    (target / _MARKER).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _missing(venv: Path) -> ConfigurationError:
    return ConfigurationError(
        f"cannot run the letta parser: expected Letta {LETTA_VERSION} installed in {venv}, got "
        f"no such virtualenv; do run `{INSTALL_COMMAND}` (or set STREAMREEL_LETTA_VENV to one "
        "it built)"
    )


def require_letta(venv: Path | None = None) -> Path:
    """Letta's virtualenv, or a :class:`ConfigurationError` saying what to run to get it."""
    target = venv or letta_venv()
    if not _installed(target):
        raise _missing(target)
    return target


class _Worker:
    """One worker process and the pipes to it; calls are serialized by a lock."""

    def __init__(self, python: Path, script: Path = _WORKER) -> None:
        self._lock = threading.Lock()
        # A file, not a pipe: nobody reads the worker's stderr until it fails, and a full pipe
        # would stall it.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            [str(python), str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
        )
        hello = self._read()
        if not hello.get("ready"):
            raise self._failure(f"a ready line, got {hello!r}")

    def _failure(self, expected_got: str) -> LettaWorkerError:
        self._stderr.seek(0)
        tail = self._stderr.read().decode("utf-8", "replace").strip()[-2000:]
        self.close()
        return LettaWorkerError(
            f"cannot talk to the Letta worker: expected {expected_got}; its stderr: "
            f"{tail or '(empty)'}; do run `{INSTALL_COMMAND}` again if the virtualenv is broken"
        )

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise self._failure("a reply, got end of output (the worker exited)")
        reply: dict[str, Any] = json.loads(line)
        return reply

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            assert self._process.stdin is not None
            try:
                self._process.stdin.write(json.dumps(request) + "\n")
                self._process.stdin.flush()
            except OSError as exc:
                raise self._failure(f"to accept a request, got {exc}") from None
            return self._read()

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()


_workers: dict[Path, _Worker] = {}
_workers_lock = threading.Lock()


def _worker_for(venv: Path, script: Path = _WORKER) -> _Worker:
    """The one worker of ``venv`` (started on first use); the caller checked it is installed."""
    with _workers_lock:
        worker = _workers.get(venv)
        if worker is None or not worker.alive:
            if script == _WORKER:
                require_letta(venv)
            worker = _workers[venv] = _Worker(_python_of(venv), script)
        return worker


@atexit.register
def _close_workers() -> None:
    with _workers_lock:
        for worker in _workers.values():
            worker.close()
        _workers.clear()


def _envelope(chunk: ChatCompletionChunk, message_id: str, date: datetime) -> dict[str, Any]:
    data: dict[str, Any] = chunk.model_dump(mode="json", exclude_none=True)
    data.setdefault("id", message_id)
    data.setdefault("created", int(date.timestamp()))
    data.setdefault("model", "")
    return data


class LettaInterface:
    """Letta 0.7.8's ``StreamingServerInterface``, driven as Letta's server drives it.

    It satisfies the replay driver's protocol and adds ``drain()``: the messages Letta yielded
    since the last call, converted to streamreel's models through their wire JSON.
    """

    def __init__(self, settings: InterfaceSettings, *, venv: Path | None = None) -> None:
        self.settings = settings
        self._worker = _worker_for(venv or letta_venv())
        reply = self._worker.call({"op": "new", "settings": asdict(settings)})
        self._handle: int | None = reply["handle"]
        self._out: list[AgentMessage] = []
        self._call_id: str | None = None
        self._chunk_number = 0
        self._message_index = 0
        self._previous_type: str | None = None
        self._aborted = False

    def _send(self, op: str, **fields: Any) -> dict[str, Any]:
        if self._handle is None:
            return {"messages": []}
        reply = self._worker.call({"op": op, "handle": self._handle, **fields})
        self._out.extend(_from_wire(text) for text in reply["messages"])
        return reply

    def _fail(self, what: str, reply: dict[str, Any]) -> None:
        error = reply["error"]
        self._out.append(
            ErrorMessage(
                error=f"Letta {LETTA_VERSION} raised {error['type']} {what}: {error['text']}"
            )
        )

    def _end_call(self) -> None:
        if self._call_id is not None:
            self._send("stream_end")
            self._call_id = None

    def stream_start(self) -> None:
        """Nothing yet: Letta's server starts the stream at each LLM call's first chunk."""

    def process_chunk(
        self,
        chunk: Any,
        message_id: str,
        message_date: datetime,
        expect_reasoning_content: bool = False,
        name: str | None = None,
        message_index: int | None = None,
    ) -> str | None:
        """Feed one chunk; ``message_index`` is Letta's loop's counter unless one is given."""
        if message_id != self._call_id:
            self._end_call()
            self._call_id = message_id
            self._chunk_number = 0
            self._message_index = 0
            self._previous_type = None
            self._aborted = False
            self._send("stream_start")
        number = self._chunk_number
        self._chunk_number += 1
        if self._aborted:
            return None
        date = message_date if message_date.tzinfo else message_date.replace(tzinfo=UTC)
        reply = self._send(
            "chunk",
            chunk=_envelope(coerce_chunk(chunk), message_id, date),
            message_id=message_id,
            message_date=date.isoformat(),
            expect_reasoning_content=expect_reasoning_content,
            name=name,
            message_index=self._message_index if message_index is None else message_index,
        )
        if "error" in reply:
            # Letta's loop re-raises: the rest of this LLM call never reaches the interface.
            self._fail(f"at chunk {number} of LLM call {message_id}", reply)
            self._aborted = True
            error = reply["error"]
            raise ParserError(
                f"cannot go on with LLM call {message_id}: Letta {LETTA_VERSION} raised "
                f"{error['type']} at its chunk {number}; the messages before are kept"
            )
        returned: str | None = reply.get("returned")
        if returned is not None and returned != self._previous_type:
            self._message_index += 1
        self._previous_type = returned
        return returned

    def stream_end(self) -> None:
        self._end_call()

    def letta_server_flags(self) -> bool:
        """Replays pass the ``expect_reasoning_content`` Letta's server would, per provider."""
        return True

    def force_inner_thoughts_in_kwargs(self) -> None:
        """What Letta's Anthropic path does to the interface before streaming a call."""
        self._send("force_inner_thoughts")

    def function_message(
        self, msg: str, msg_obj: Any = None, chunk_index: int | None = None
    ) -> None:
        """A tool's return (or a whole call) through Letta's own ``function_message``."""
        self._end_call()
        if msg_obj is None:
            raise ConfigurationError(
                "cannot run function_message: expected the agent message it belongs to "
                "(msg_obj), got None; pass the message whose id and date the output should carry"
            )
        date: datetime = msg_obj.created_at
        record = {
            "id": str(msg_obj.id),
            "created_at": (date if date.tzinfo else date.replace(tzinfo=UTC)).isoformat(),
            "tool_call_id": getattr(msg_obj, "tool_call_id", None),
            "name": getattr(msg_obj, "name", None),
        }
        reply = self._send("function_message", msg=msg, record=record, chunk_index=chunk_index)
        if "error" in reply:
            self._fail(f"showing the tool return {record['tool_call_id']}", reply)

    def step_complete(self) -> None:
        self._end_call()
        self._send("step_complete")

    def step_yield(self) -> None:
        self._end_call()
        reply = self._send("step_yield")
        if "error" in reply:
            self._fail("when the turn ended", reply)
        if self._handle is not None:
            self._worker.call({"op": "close", "handle": self._handle})
            self._handle = None

    def drain(self) -> list[AgentMessage]:
        taken, self._out = self._out, []
        return taken

    def get_generator(self) -> AsyncGenerator[AgentMessage, None]:
        return self._generate()

    async def _generate(self) -> AsyncGenerator[AgentMessage, None]:
        for message in self.drain():
            yield message


def _from_wire(text: str) -> AgentMessage:
    parsed = parse_wire(text)
    if isinstance(parsed, UsageStatistics):
        raise LettaWorkerError(
            "cannot read Letta's output: expected an agent message, got a usage record; "
            "do report this stream"
        )
    return parsed


def letta_parser(settings: InterfaceSettings | None = None, *, version: str = LETTA_VERSION) -> Any:
    """A parser factory: Letta's own interface (``--parser letta``, ``letta@VERSION``).

    ``version`` 0.7.8 (the default) is its ``StreamingServerInterface`` with ``settings``;
    0.16.8 is its SDK-stream interfaces (:class:`streamreel.letta.sdk.LettaSdkInterface`,
    which take no settings: Letta's adapter gives them none). Raises
    :class:`~streamreel.core.errors.ConfigurationError` naming the command to run when that
    version's virtualenv is not installed.
    """
    if version == LETTA_VERSION:
        return LettaInterface(settings or InterfaceSettings())
    from streamreel.letta.sdk import VERSION, LettaSdkInterface

    if version != VERSION:
        raise ConfigurationError(
            f"cannot run Letta {version}: expected {LETTA_VERSION} or {VERSION}, got "
            f"{version!r}; do choose one of those"
        )
    return LettaSdkInterface()
