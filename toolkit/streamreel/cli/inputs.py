"""What the commands read: files, folders of them, and ``-`` for standard input.

One place decides, so every command reads its inputs the same way (the convention of
:mod:`streamreel.cli.exits`): standard input is refused from its first bytes when it is not
text and named ``<stdin>`` in every message; an empty input is unreadable (status 3); a folder
argument with nothing to read in it is a usage error (status 2), since the command was pointed
at the wrong place.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import click

from streamreel.cassettes.discovery import expand, looks_like_chunk_lines
from streamreel.cassettes.textfile import HEAD_BYTES, check_head, decode_text, empty_error
from streamreel.cli.exits import Unreadable
from streamreel.core.cassette import Cassette
from streamreel.core.errors import CassetteError, StreamreelError

__all__ = ["STDIN", "STDIN_PATH", "expand_inputs", "read_stdin", "stdin_cassette"]

STDIN = "-"
STDIN_PATH = Path("<stdin>")
"""How standard input is named in messages and results."""


def read_stdin() -> str:
    """Standard input's text; refused from its first bytes when it is not text, or empty."""
    stream = sys.stdin.buffer
    head = stream.read(HEAD_BYTES)
    try:
        check_head(head, STDIN_PATH, "standard input")
        data = head + stream.read()
        if not data.strip():
            raise empty_error("standard input", STDIN_PATH)
        return decode_text(data, STDIN_PATH, "standard input", "pipe a cassette or chunk file")
    except CassetteError as exc:
        raise Unreadable(str(exc)) from None


def stdin_cassette() -> Cassette:
    """Standard input read whole as a cassette: chunk lines or any cassette format."""
    from streamreel.cassettes.chunkfile import read_chunk_file
    from streamreel.cassettes.storage import loads_cassette

    text = read_stdin()
    try:
        if looks_like_chunk_lines(text[:HEAD_BYTES]):
            return read_chunk_file(STDIN_PATH, data=text.encode("utf-8"))
        return loads_cassette(text, path=STDIN_PATH)
    except StreamreelError as exc:
        raise Unreadable(str(exc)) from None


def expand_inputs(
    arguments: Iterable[str | Path], *, chunk_files: bool = True
) -> list[Path | Cassette]:
    """Files as given, ``-`` as standard input's cassette, folders as what is beneath them.

    A folder with nothing to read beneath it is a usage error naming it.
    """
    found: list[Path | Cassette] = []
    seen: set[Path] = set()
    for argument in arguments:
        if str(argument) == STDIN:
            found.append(stdin_cassette())
            continue
        path = Path(argument)
        matches = expand([path], chunk_files=chunk_files)
        if path.is_dir() and not matches:
            kinds = "cassettes or chunk files" if chunk_files else "cassettes"
            raise click.UsageError(
                f"{path}: cannot read the folder: expected {kinds} beneath it, got no "
                f"cassettes; name a folder of .yaml, .json or .har files"
                + (" or .jsonl chunk files" if chunk_files else "")
            )
        for match in matches:
            if match not in seen:
                seen.add(match)
                found.append(match)
    return found
