"""What the plugin's ``replay`` fixture returns, and how cassette names become files.

Imported by the fixtures when they run, never by :mod:`streamreel.testing.plugin` at load
time: the plugin's module docstring describes the precedence this code implements.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from streamreel.cassettes.discovery import CASSETTE_SUFFIXES, is_chunk_file
from streamreel.core.errors import CassetteError, ConfigurationError
from streamreel.core.parser import InterfaceSettings
from streamreel.core.results import ReplayResult
from streamreel.playback.replay import ParserFactory, ReasoningChoice, replay_chunk_file
from streamreel.playback.replay import replay as replay_file
from streamreel.testing.diff import KNOBS, apply_knobs
from streamreel.testing.plugin import Options

__all__ = ["CassetteReplayer", "find_cassette", "new_cassette_path"]

_MARKER_OPTIONS = {"parser", "record_mode", "strict", "allow_repeats", "allow_hosts"}


# -- finding cassettes -------------------------------------------------------------------------
#
# A cassette name comes from test code (the marker, ``replay("name")``,
# ``streamreel_record("name")``) and is resolved inside the cassette folders only: a name that
# climbs out of them (``../../x``) or an absolute path elsewhere (``/etc/passwd``) is refused
# before any file is opened, so a typo can neither record over a file outside the folders nor
# have a foreign file read and quoted in an error. The check is on the path as written (after
# collapsing ``..``), so a folder that is itself a symlink, or holds one, still works.


def _candidates(name: str) -> list[str]:
    if Path(name).suffix.lower() in CASSETTE_SUFFIXES:
        return [name]
    return [name, *(name + suffix for suffix in CASSETTE_SUFFIXES)]


def _escaped(name: str | Path, folders: Sequence[Path]) -> CassetteError:
    shown = ", ".join(str(folder) for folder in folders) or "no folder"
    return CassetteError(
        f"cannot use cassette name {str(name)!r}: expected a name inside the cassette folders "
        f"({shown}), got a path that leads outside them; do use a name relative to a cassette "
        "folder, or add the folder with --streamreel-cassettes or streamreel_cassette_dirs"
    )


def _inside(path: Path, folder: Path) -> Path | None:
    """``path`` relative to ``folder`` when it lies inside it (lexically), else None."""
    base = Path(os.path.normpath(folder.absolute()))
    try:
        return Path(os.path.normpath(path)).relative_to(base)
    except ValueError:
        return None


def _place(name: str | Path, folders: Sequence[Path]) -> tuple[Path, list[Path]]:
    """The name as a path below a cassette folder, and the folders to look in.

    An absolute path is looked up only in the folder it lies in; a relative one in every folder,
    in order. Anything that would leave the folders is refused.
    """
    text = str(name)
    if not text or "\x00" in text:
        raise _escaped(name, folders)
    path = Path(text)
    if path.is_absolute() or path.anchor:
        for folder in folders:
            inner = _inside(path, folder)
            if inner is not None and inner.parts:
                return inner, [folder]
        raise _escaped(name, folders)
    normal = Path(os.path.normpath(path))
    if not normal.parts or normal.parts[0] in (os.pardir, os.curdir):
        raise _escaped(name, folders)
    return normal, list(folders)


def find_cassette(name: str | Path, folders: Sequence[Path]) -> Path:
    """The file ``name`` refers to: the first folder that holds it, by the rules above."""
    relative, searched = _place(name, folders)
    for folder in searched:
        for candidate in _candidates(str(relative)):
            found = folder / candidate
            if found.is_file():
                return found
    shown = ", ".join(str(folder) for folder in searched) or "no folder"
    raise CassetteError(
        f"cannot find cassette {str(name)!r}: expected it (or with a .yaml, .yml, .json or .har "
        f"suffix) in {shown}, got no such file; do record it with streamreel_record, or fix "
        "the name or the folder (--streamreel-cassettes)"
    )


def new_cassette_path(name: str | Path, folders: Sequence[Path]) -> Path:
    """Where a cassette goes: the existing file, else a new ``.yaml`` in the right folder."""
    relative, candidates = _place(name, folders)
    with contextlib.suppress(CassetteError):
        return find_cassette(name, folders)
    if not relative.suffix:
        relative = relative.with_name(relative.name + ".yaml")
    if not candidates:
        raise ConfigurationError(
            f"cannot place cassette {str(name)!r}: expected at least one cassette folder, got "
            "none; do override streamreel_cassette_dirs with a non-empty list"
        )
    existing = [folder for folder in candidates if folder.is_dir()]
    return (existing[0] if existing else candidates[-1]) / relative


# -- the replay fixture ------------------------------------------------------------------------


class CassetteReplayer:
    """What the ``replay`` fixture returns; see the module docstring for the precedence."""

    def __init__(
        self,
        *,
        folders: Sequence[Path],
        options: Options,
        marker: pytest.Mark | None,
        settings: InterfaceSettings,
        parser: ParserFactory | None,
    ) -> None:
        self.folders = list(folders)
        self._options = options
        self._marker_name: str | None = None
        marker_kwargs: dict[str, Any] = {}
        if marker is not None:
            if marker.args:
                self._marker_name = str(marker.args[0])
            marker_kwargs = dict(marker.kwargs)
        unknown = sorted(set(marker_kwargs) - set(KNOBS) - _MARKER_OPTIONS)
        if unknown:
            raise ConfigurationError(
                f"cannot read the cassette marker: expected options among "
                f"{', '.join([*KNOBS, *sorted(_MARKER_OPTIONS)])}, got {', '.join(unknown)}; "
                "do remove or rename them"
            )
        self.marker_kwargs = marker_kwargs
        self._settings = apply_knobs(settings, marker_kwargs)
        self._parser: ParserFactory | None = marker_kwargs.get("parser", parser)
        expect = marker_kwargs.get("expect_reasoning_content")
        self._expect: ReasoningChoice = (
            expect if isinstance(expect, bool) or expect == "auto" else None
        )

    def name(self, name: str | Path | None = None) -> str | Path:
        if name is not None:
            return name
        if self._marker_name is None:
            raise ConfigurationError(
                "cannot pick a cassette: expected a name, or a @pytest.mark.cassette(name) on "
                "the test, got neither; do pass replay('name') or add the marker"
            )
        return self._marker_name

    def path(self, name: str | Path | None = None) -> Path:
        """The file a cassette name resolves to (raises when there is none)."""
        return find_cassette(self.name(name), self.folders)

    def __call__(
        self,
        name: str | Path | None = None,
        *,
        settings: InterfaceSettings | None = None,
        parser: ParserFactory | None = None,
        expect_reasoning_content: ReasoningChoice = None,
        interactions: Sequence[int] | None = None,
        provider: str | None = None,
        api: str | None = None,
    ) -> ReplayResult:
        cli = dict(self._options.knobs)
        chosen = apply_knobs(settings or self._settings, cli)
        expect = cli.get("expect_reasoning_content", expect_reasoning_content)
        if expect is None:
            expect = self._expect
        path = self.path(name)
        factory = self._options.parser or parser or self._parser
        if is_chunk_file(path):
            return replay_chunk_file(
                path,
                settings=chosen,
                parser=factory,
                expect_reasoning_content=expect if isinstance(expect, bool) else None,
            )
        return replay_file(
            path,
            settings=chosen,
            parser=factory,
            expect_reasoning_content=_reasoning_choice(expect),
            interactions=interactions,
            provider=provider,
            api=api,
        )


def _reasoning_choice(value: object) -> ReasoningChoice:
    """A knob's value as a replay's choice: a boolean, ``"auto"``, or None for the default."""
    if value is None or isinstance(value, bool):
        return value
    return "auto" if value == "auto" else bool(value)
