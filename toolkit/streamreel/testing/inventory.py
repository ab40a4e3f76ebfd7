"""Unused cassettes: the files in the cassette folders that no test of a run used.

The plugin keeps one :class:`Ledger` per process: the cassette files read or written while tests
ran (every read and write passes :mod:`streamreel.cassettes.usage`), the cassette folders the
tests looked in, every test collected or deselected with the cassette names its markers give,
and the tests that ran to the end and passed. Under pytest-xdist each worker sends its ledger to
the controller as JSON, which merges them (:meth:`Ledger.merge`), so what any worker used counts.

A file is **unused** when it lies in a cassette folder a test of the run looked in, the run
covered every test that could look there (see :func:`covers`), no test used it, and no test
that did not pass (deselected, skipped, failed, not reached after ``-x``) names it in its
``cassette`` marker. Deleting on that basis is safe unless a test that did not pass uses the
streamreel fixtures without a marker: which files it would have used is unknowable, so then the
run lists nothing and says why (:attr:`Inventory.blockers`). A module that failed to collect,
or a worker that died before reporting, blocks the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streamreel.cassettes.discovery import CASSETTE_SUFFIXES

__all__ = ["Inventory", "Ledger", "TestEntry", "covers", "take_inventory"]

_LISTED_SUFFIXES = (*CASSETTE_SUFFIXES, ".jsonl")
_ARTIFACT_MARK = ".drift."
"""``NAME.drift.yaml`` is what ``streamreel drift`` writes beside a cassette for review: not a
cassette any test is meant to use."""


@dataclass(slots=True)
class TestEntry:
    """A test as far as cassettes go: the names its markers give, whether it uses streamreel."""

    names: list[str] = field(default_factory=list)
    uses_streamreel: bool = False


@dataclass(slots=True)
class Ledger:
    """What one process saw; merged across pytest-xdist workers."""

    used: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)
    tests: dict[str, TestEntry] = field(default_factory=dict)
    passed: set[str] = field(default_factory=set)
    unfinished: set[str] = field(default_factory=set)
    """Tests with a report that did not pass (a failed setup, call or teardown, a skip)."""
    gaps: list[str] = field(default_factory=list)
    """What the ledger cannot know, in sentences: a module that failed to collect, a worker
    that died before reporting."""

    def use(self, path: str) -> None:
        self.used.add(os.path.realpath(path))

    def add_test(self, nodeid: str, names: Iterable[str], uses_streamreel: bool) -> None:
        self.tests[nodeid] = TestEntry([str(name) for name in names], uses_streamreel)

    def to_json(self) -> str:
        return json.dumps(
            {
                "used": sorted(self.used),
                "folders": sorted(self.folders),
                "tests": {k: [v.names, v.uses_streamreel] for k, v in self.tests.items()},
                "passed": sorted(self.passed),
                "unfinished": sorted(self.unfinished),
                "gaps": self.gaps,
            }
        )

    def merge(self, text: str) -> None:
        """Add a worker's ledger (as :meth:`to_json` wrote it) to this one."""
        data = json.loads(text)
        self.used.update(data["used"])
        self.folders.update(data["folders"])
        for nodeid, (names, uses) in data["tests"].items():
            entry = self.tests.setdefault(nodeid, TestEntry())
            entry.names = sorted({*entry.names, *names})
            entry.uses_streamreel = entry.uses_streamreel or uses
        self.passed.update(data["passed"])
        self.unfinished.update(data["unfinished"])
        self.gaps.extend(data["gaps"])

    def finished(self) -> set[str]:
        """The tests that ran to the end and passed, in every worker that ran them."""
        return self.passed - self.unfinished


@dataclass(frozen=True, slots=True)
class Inventory:
    """The verdict on one run."""

    unused: tuple[Path, ...] = ()
    blockers: tuple[str, ...] = ()
    """Why nothing can be called unused (empty when the list is trustworthy)."""


def covers(folder: Path, roots: Sequence[Path], whole_run: bool) -> bool:
    """Whether a run over ``roots`` ran every test that could look in ``folder``.

    A folder is looked in by the tests of the directory holding it (``tests/cassettes`` by
    ``tests/``), or by any test at all (the project's ``cassettes/``, a folder a fixture or
    ``--streamreel-cassettes`` names); a run that named files or single tests covers neither.
    """
    if whole_run:
        return True
    parent = folder.parent
    return any(parent == root or root in parent.parents for root in roots)


def take_inventory(ledger: Ledger, *, covered: Sequence[Path]) -> Inventory:
    """The unused cassette files of the ``covered`` folders, or why none can be named."""
    if ledger.gaps:
        return Inventory(blockers=tuple(ledger.gaps))
    finished = ledger.finished()
    protected: set[str] = set()
    blockers: list[str] = []
    for nodeid, entry in sorted(ledger.tests.items()):
        if nodeid in finished:
            continue
        if entry.names:
            protected.update(_relative_names(entry.names))
        elif entry.uses_streamreel:
            blockers.append(
                f"{nodeid} did not pass (deselected, skipped or failed) and names no cassette "
                "in a cassette marker, so which cassettes it uses is unknown"
            )
    if blockers:
        return Inventory(blockers=tuple(blockers))
    unused: list[Path] = []
    for folder in sorted(set(covered)):
        for path in _cassette_files(folder):
            if os.path.realpath(path) in ledger.used:
                continue
            if path.relative_to(folder).as_posix() in protected:
                continue
            unused.append(path)
    return Inventory(unused=tuple(unused))


def _relative_names(names: Iterable[str]) -> set[str]:
    """Every file name a marker's cassette name can resolve to, relative to its folder."""
    found: set[str] = set()
    for name in names:
        base = Path(os.path.normpath(name)).as_posix()
        found.add(base)
        if Path(base).suffix.lower() not in CASSETTE_SUFFIXES:
            found.update(base + suffix for suffix in CASSETTE_SUFFIXES)
    return found


def _cassette_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    files = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in _LISTED_SUFFIXES:
            continue
        if _ARTIFACT_MARK in path.name or "__snapshots__" in path.parts:
            continue
        files.append(path)
    return files
