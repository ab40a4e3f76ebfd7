"""Which files are cassettes and chunk files, and how a folder becomes a list of them.

Every command, the pytest plugin, the emulator and the notebook browser find recordings the same
way, so a file one of them replays is never one another one skips:

* A **cassette** is a file whose suffix is one of :data:`CASSETTE_SUFFIXES`; its container
  (vcrpy YAML, HAR, nock, go-vcr, Ruby VCR) is then told from its content.
* A **chunk file** is one whose suffix is one of :data:`CHUNK_FILE_SUFFIXES`: one
  ``chat.completion.chunk`` a line. A file named explicitly with another suffix (``.txt``, or
  standard input) is told apart by its first line, see :func:`looks_like_chunk_lines`.
* A **folder** stands for the recordings beneath it, searched recursively by default, in the
  order of their paths relative to the folder. Hidden files and folders (a name starting with
  ``.``, such as ``.venv`` or ``.git``) and syrupy's ``__snapshots__`` folders are skipped: the
  latter hold ``.jsonl`` snapshots of messages, not chunk files, and would replay as garbage.
  So are installed packages, whose JSON and YAML files are never recordings: a virtualenv
  (a folder holding ``pyvenv.cfg``, whatever its name, such as ``venv``), ``site-packages``
  and ``node_modules``.
  The rule is recursive everywhere because cassettes are commonly filed by provider or test
  module in sub-folders; ``recursive=False`` keeps to the folder's own files.
* A file named explicitly is always kept, whatever its suffix: the user asked for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

__all__ = [
    "CASSETTE_SUFFIXES",
    "CHUNK_FILE_SUFFIXES",
    "SKIPPED_FOLDERS",
    "expand",
    "file_kind",
    "is_cassette",
    "is_chunk_file",
    "looks_like_chunk_lines",
]

CASSETTE_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json", ".har")
"""Suffixes of cassette files, in the order a bare cassette name is tried with them."""

CHUNK_FILE_SUFFIXES: tuple[str, ...] = (".jsonl", ".ndjson")
"""Suffixes of chunk files: one ``chat.completion.chunk`` a line, ``data: ``-prefixed or not."""

SKIPPED_FOLDERS: frozenset[str] = frozenset(
    {"__snapshots__", "__pycache__", "node_modules", "site-packages"}
)
"""Folder names a folder walk never enters (besides hidden ones)."""

FileKind = Literal["cassette", "chunks"]


def is_cassette(path: str | os.PathLike[str]) -> bool:
    """Whether the suffix names a cassette file."""
    return Path(path).suffix.lower() in CASSETTE_SUFFIXES


def is_chunk_file(path: str | os.PathLike[str]) -> bool:
    """Whether the suffix names a chunk file."""
    return Path(path).suffix.lower() in CHUNK_FILE_SUFFIXES


def looks_like_chunk_lines(text: str) -> bool:
    """Whether text of unknown kind reads as a chunk file rather than a cassette.

    The first line that is not blank decides: an SSE ``data:`` line, or a JSON object on its own
    line that is a chat-completion chunk (it has ``choices`` or a ``chat.completion`` object
    type). A HAR or nock file never has a complete chunk object as its first line, and a YAML
    cassette never starts with ``data:``.
    """
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("data:"):
            return True
        if not stripped.startswith("{"):
            return False
        try:
            value = json.loads(stripped)
        except (ValueError, RecursionError):
            return False
        if not isinstance(value, dict):
            return False
        kind = value.get("object")
        return "choices" in value or (isinstance(kind, str) and kind.startswith("chat.completion"))
    return False


def file_kind(path: str | os.PathLike[str], head: str | None = None) -> FileKind:
    """What a named file is: by its suffix, else (with ``head``, its first text) by content."""
    if is_chunk_file(path):
        return "chunks"
    if is_cassette(path) or head is None:
        return "cassette"
    return "chunks" if looks_like_chunk_lines(head) else "cassette"


def _is_virtualenv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file()


def _walk(folder: Path, recursive: bool) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()
            is_file = entry.is_file()
        except OSError:
            continue
        if is_dir:
            if recursive and entry.name not in SKIPPED_FOLDERS and not _is_virtualenv(path):
                yield from _walk(path, recursive)
        elif is_file:
            yield path


def expand(
    paths: Iterable[str | os.PathLike[str]],
    *,
    recursive: bool = True,
    chunk_files: bool = True,
) -> list[Path]:
    """Files as given; folders as the cassettes (and, with ``chunk_files``, chunk files) in them.

    Order is kept: each argument's files in place, a folder's sorted by relative path. A file
    reached twice (named, and inside a named folder) is listed once, where first reached.
    """
    wanted = CASSETTE_SUFFIXES + (CHUNK_FILE_SUFFIXES if chunk_files else ())
    found: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            matches = [p for p in _walk(path, recursive) if p.suffix.lower() in wanted]
            matches.sort(key=lambda p: p.relative_to(path).parts)
        else:
            matches = [path]
        for match in matches:
            if match not in seen:
                seen.add(match)
                found.append(match)
    return found
