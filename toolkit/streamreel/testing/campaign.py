"""A fuzz campaign as pytest items: one per cassette and seed, cassette and hazard, and diff.

``pytest --streamreel-fuzz cassettes/`` collects every cassette beneath the paths given as one
:class:`CampaignFile`, whose items are:

* ``seed-S`` (``--streamreel-fuzz-seeds N`` of them from ``--streamreel-fuzz-seed``): random
  splits of that seed (:func:`streamreel.testing.fuzz.fuzz_cassette`,
  ``--streamreel-fuzz-examples`` splits each);
* ``hazard-NAME`` for each hazard chosen by ``--streamreel-hazards`` that has something to
  rewrite in the cassette (:func:`streamreel.testing.hazards.check_hazard`); a cassette that
  cannot be read is one failing item, ``read``;
* ``diff``, with ``--streamreel-diff-against MODULE:FACTORY``: the cassette replayed through
  the parser under test and through that one (:func:`streamreel.testing.diff.diff_cassette`).

The parser under test is ``--streamreel-parser`` (default: streamreel's interface), and
``--streamreel-reader`` reads the bytes. Because each item is independent and named after its
cassette and its case, pytest-xdist spreads a campaign over cores (``-n``) and machines
(``--tx``), and ``--lf`` reruns exactly what failed. A failing hazard's shrunk, scrubbed
cassette is written into ``--streamreel-failures`` (default ``streamreel-failures/`` in the
rootdir), and its path is in the failure report and in the item's ``user_properties``
(``reproduction``), which JUnit XML reports carry.

Items of one cassette share what they can: the cassette is read at collection (to know which
hazards have something to rewrite) and again when its first item runs, and the recording's own
replay is taken once for all its hazards. Both are let go when pytest moves on to another
file, so a worker holds one cassette at a time, whatever the campaign's size.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from streamreel.cassettes.discovery import SKIPPED_FOLDERS, is_cassette, is_chunk_file
from streamreel.core.cassette import Cassette
from streamreel.core.parser import InterfaceSettings
from streamreel.core.results import ReplayResult
from streamreel.playback.replay import DecoderFactory, ParserFactory

__all__ = ["CampaignFailure", "CampaignFile", "CaseItem", "Settings", "settle", "wanted"]


class CampaignFailure(Exception):
    """A case that failed: the report's lines, and the reproducing cassette when one was written."""

    def __init__(self, lines: list[str], reproduction: Path | None = None) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.reproduction = reproduction


def wanted(path: Path, root: Path) -> bool:
    """Whether pytest should collect ``path`` as a campaign file.

    Snapshot, cache and hidden folders are skipped inside the project (``root``, pytest's
    rootdir) only: a project that itself lives under a hidden folder (``~/.cache``, a CI
    runner's work folder, nox's ``.nox/``) is still a project. A file outside the rootdir was
    named on the command line, or found beneath a path that was, so pytest already chose it.
    """
    if not (is_cassette(path) or is_chunk_file(path)):
        return False
    try:
        folders = path.parent.relative_to(root).parts
    except ValueError:
        return True
    return not any(part in SKIPPED_FOLDERS or part.startswith(".") for part in folders)


def settle() -> None:
    """Set what collection built (pytest's items and nodes, every module) aside from the
    garbage collector, once collection is over.

    All of it lives as long as the session, yet each of the collector's full passes would walk
    it again: in a campaign of 200 cassettes they cost a sixth of the run, and every worker of
    a parallel run paid them whole. Garbage left by collection goes first, so nothing is set
    aside that could be freed; what is set aside is still freed when nothing refers to it.
    """
    gc.collect()
    gc.freeze()


class Settings:
    """The campaign's options, read once per session from the command line."""

    def __init__(self, config: pytest.Config) -> None:
        from streamreel.testing.diff import apply_knobs, load_factory

        self.seed = int(config.getoption("streamreel_fuzz_seed"))
        self.seeds = int(config.getoption("streamreel_fuzz_seeds"))
        self.examples = int(config.getoption("streamreel_fuzz_examples"))
        self.hazards: str = config.getoption("streamreel_hazards")
        against = config.getoption("streamreel_diff_against")
        reader = config.getoption("streamreel_reader")
        self.against: str | None = against
        self.against_factory: ParserFactory | None = load_factory(against) if against else None
        self.reader: DecoderFactory | None = load_factory(reader) if reader else None  # type: ignore[assignment]
        folder = config.getoption("streamreel_failures")
        self.failures = Path(folder) if folder else config.rootpath / "streamreel-failures"
        from streamreel.testing.plugin import _options

        options = _options(config)
        self.parser: ParserFactory | None = options.parser
        self.settings = apply_knobs(
            InterfaceSettings(use_assistant_message=True), dict(options.knobs)
        )


_SETTINGS = pytest.StashKey[Settings]()


def _settings(config: pytest.Config) -> Settings:
    found = config.stash.get(_SETTINGS, None)
    if found is None:
        found = config.stash[_SETTINGS] = Settings(config)
    return found


class CampaignFile(pytest.File):
    """One cassette of the campaign; its items are the cases."""

    def collect(self) -> Iterator[CaseItem]:
        from streamreel.core.errors import StreamreelError
        from streamreel.core.hazards import select_hazards
        from streamreel.testing.hazards import hazards_with_sites

        chosen = _settings(self.config)
        try:
            cassette, provider, api = self.loaded
        except StreamreelError as exc:
            yield CaseItem.from_parent(self, name="read", case=("unreadable", str(exc)))
            return
        for seed in range(chosen.seed, chosen.seed + chosen.seeds):
            yield CaseItem.from_parent(self, name=f"seed-{seed}", case=("seed", seed))
        # A hazard with nothing to rewrite here is no item at all: on a big campaign a skipped
        # item costs the workers and the controller about what a run one does. The sites
        # themselves are found again when the item runs: kept from here, every worker would
        # hold every cassette's (hundreds of thousands of objects, which each of the garbage
        # collector's full passes walks), not only those of the files it runs.
        for hazard in hazards_with_sites(
            cassette,
            select_hazards(chosen.hazards),
            provider=provider,
            api=api,
            decoder=chosen.reader,
        ):
            name = f"hazard-{hazard.name}"
            yield CaseItem.from_parent(self, name=name, case=("hazard", hazard.name))
        if chosen.against is not None:
            yield CaseItem.from_parent(self, name="diff", case=("diff", chosen.against))
        self.teardown()  # read again by the first item that runs here, if any does here

    def teardown(self) -> None:
        """Forget the cassette and its replay once this file's items are done (pytest calls this
        before an item of another file runs), so a campaign's memory does not grow with it."""
        for held in ("loaded", "baseline"):
            self.__dict__.pop(held, None)

    @cached_property
    def loaded(self) -> tuple[Cassette, str | None, str | None]:
        from streamreel.testing.hazards import load_for_fuzzing

        return load_for_fuzzing(self.path)

    @cached_property
    def baseline(self) -> ReplayResult:
        from streamreel.playback.replay import replay

        chosen = _settings(self.config)
        cassette, provider, api = self.loaded
        return replay(
            cassette,
            parser=chosen.parser,
            settings=chosen.settings,
            decoder=chosen.reader,
            provider=provider,
            api=api,
        )


class CaseItem(pytest.Item):
    """One case of one cassette: a seed of random splits, a hazard, or a diff."""

    def __init__(self, *, case: tuple[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    @property
    def campaign(self) -> CampaignFile:
        assert isinstance(self.parent, CampaignFile)
        return self.parent

    def runtest(self) -> None:
        kind, value = self.case
        if kind == "unreadable":
            raise CampaignFailure([f"{self.path}: cannot read the cassette: {value}"])
        if kind == "seed":
            self._seed(int(value))
        elif kind == "hazard":
            self._hazard(str(value))
        else:
            self._diff()

    def _seed(self, seed: int) -> None:
        from streamreel.testing.fuzz import fuzz_cassette

        chosen = _settings(self.config)
        cassette, provider, api = self.campaign.loaded
        report = fuzz_cassette(
            cassette,
            seed=seed,
            examples=chosen.examples,
            parser=chosen.parser,
            settings=chosen.settings,
            provider=provider,
            api=api,
        )
        if report.error is not None or report.failed:
            raise CampaignFailure(report.describe())

    def _hazard(self, name: str) -> None:
        from streamreel.core.hazards import HAZARDS
        from streamreel.testing.hazards import check_hazard, save_reproduction

        chosen = _settings(self.config)
        cassette, provider, api = self.campaign.loaded
        hazard = HAZARDS[name]
        options: dict[str, Any] = {"provider": provider, "api": api, "decoder": chosen.reader}
        outcome = check_hazard(
            cassette,
            hazard,
            parser=chosen.parser,
            settings=chosen.settings,
            baseline=self.campaign.baseline,
            **options,
        )
        if outcome.failed:
            written = save_reproduction(outcome, chosen.failures)
            self.user_properties.append(("reproduction", str(written)))
            lines = [*outcome.describe(), f"  reproducing cassette written to {written}"]
            raise CampaignFailure(lines, written)

    def _diff(self) -> None:
        from streamreel.testing.diff import Side, diff_cassette, render_text

        chosen = _settings(self.config)
        left = Side("parser under test", chosen.parser, chosen.settings)
        right = Side(str(chosen.against), chosen.against_factory, chosen.settings)
        found = diff_cassette(self.path, left=left, right=right)
        if found.error is not None or found.differs:
            raise CampaignFailure(render_text([found], left=left.label, right=right.label))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CampaignFailure):
            return "\n".join(excinfo.value.lines)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.path.name}::{self.name}"
