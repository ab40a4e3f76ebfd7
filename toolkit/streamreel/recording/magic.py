"""``%%record``: record every provider call a notebook cell makes.

Load it with ``%load_ext streamreel.recording.magic``, then::

    %%record cassettes/greeting.yaml --mode once
    client = openai.OpenAI()
    for chunk in client.chat.completions.create(..., stream=True):
        ...

The magic is a thin shell over :class:`streamreel.recording.recorder.Recording`: it starts a
recording, runs
the cell through the shell (so output, display and tracebacks behave as in any cell) and stops
the recording, saving only when the cell succeeded, as ``with record(...)`` does when its block
raises.  Options: ``--mode`` (``none``, ``once``, ``new_episodes``, ``all``) and ``--speed``
(the replay pace; 0, the default, replays at once).

The cell runs synchronously: top-level ``await`` inside a ``%%record`` cell is not supported,
because the kernel's event loop is already running the cell that called the magic; use
``asyncio.run(...)`` inside the cell, or ``async with record(...)`` in code.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from streamreel.core.errors import ConfigurationError, StreamreelError
from streamreel.recording.modes import RECORD_MODES, RecordMode
from streamreel.recording.recorder import Recording

__all__ = ["RecordArguments", "load_ipython_extension", "parse_arguments"]


class _CellResult(Protocol):
    @property
    def success(self) -> bool: ...

    @property
    def error_before_exec(self) -> BaseException | None: ...

    @property
    def error_in_exec(self) -> BaseException | None: ...


class _Shell(Protocol):
    """The part of IPython's ``InteractiveShell`` the magic uses (IPython is not fully typed)."""

    def run_cell(self, raw_cell: str) -> _CellResult: ...

    def register_magic_function(
        self, func: Callable[[str, str], None], magic_kind: str, magic_name: str
    ) -> None: ...


_USAGE = f"%%record PATH [--mode {'|'.join(RECORD_MODES)}] [--speed X]"


@dataclass(frozen=True, slots=True)
class RecordArguments:
    path: str
    mode: RecordMode | None = None
    speed: float = 0.0


def parse_arguments(line: str) -> RecordArguments:
    """Parse the magic's line; raises ConfigurationError with the usage on anything unexpected."""
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise _usage(f"a line shlex can split, got {exc}") from exc
    path: str | None = None
    mode: RecordMode | None = None
    speed = 0.0
    index = 0
    while index < len(tokens):
        token = tokens[index]
        name, equals, value = token.partition("=")
        if name in ("--mode", "--speed"):
            if not equals:
                index += 1
                if index >= len(tokens):
                    raise _usage(f"a value after {name}, got the end of the line")
                value = tokens[index]
            if name == "--mode":
                try:
                    mode = RecordMode(value)
                except ValueError:
                    raise _usage(f"a mode among {', '.join(RECORD_MODES)}, got {value!r}") from None
            else:
                try:
                    speed = float(value)
                except ValueError:
                    raise _usage(f"a number after --speed, got {value!r}") from None
        elif token.startswith("-"):
            raise _usage(f"--mode or --speed, got {token!r}")
        elif path is None:
            path = token
        else:
            raise _usage(f"one cassette path, got a second one {token!r}")
        index += 1
    if path is None:
        raise _usage("a cassette path, got none")
    return RecordArguments(path=path, mode=mode, speed=speed)


def _usage(detail: str) -> ConfigurationError:
    return ConfigurationError(f"cannot parse %%record: expected {detail}; do write {_USAGE}")


def _record_cell(shell: _Shell) -> Callable[[str, str], None]:
    def record(line: str, cell: str) -> None:
        from IPython.core.error import UsageError

        try:
            arguments = parse_arguments(line)
            recording = Recording(arguments.path, mode=arguments.mode, speed=arguments.speed)
            recording.start()
        except StreamreelError as exc:
            # A UsageError shows just the message, which is what a mistyped magic line needs.
            raise UsageError(str(exc)) from exc
        try:
            result = shell.run_cell(cell)
        except BaseException as exc:
            recording.end(exc)
            raise
        if result.success:
            recording.end(None)
            return
        failure = result.error_in_exec or result.error_before_exec
        if failure is None:
            recording.stop(save=False)
        else:
            # The same rule as a `with record(...)` block: a failed provider call is kept.
            recording.end(failure)

    return record


def load_ipython_extension(ipython: _Shell) -> None:
    """Register ``%%record``; IPython calls this on ``%load_ext streamreel.recording.magic``."""
    ipython.register_magic_function(_record_cell(ipython), magic_kind="cell", magic_name="record")
