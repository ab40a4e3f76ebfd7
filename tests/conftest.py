"""Fixtures every test module shares, and the run's account of the corpus tests."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The real recorded streams beside the project; STREAMREEL_CORPUS points elsewhere (or at
# nothing, to see what a checkout without them runs).
CORPUS = Path(os.environ.get("STREAMREEL_CORPUS") or ROOT.parent / "shared" / "corpus")
CASSETTES = ROOT / "cassettes"

# Modules whose every test reads the corpus (their cases come from its inventory).
_CORPUS_MODULES = frozenset({"test_providers_corpus", "test_replay_corpus", "test_storage_corpus"})
_CORPUS_OUTCOMES: Counter[str] = Counter()


def jupyter_env() -> dict[str, str]:
    """The environment for a Jupyter tool run as a child (nbconvert, Voila).

    A virtualenv that borrows the system's packages finds their data files (templates) only
    under the base interpreter's prefix, which Jupyter does not search from inside the venv.
    """
    paths = [os.environ.get("JUPYTER_PATH"), str(Path(sys.base_prefix, "share", "jupyter"))]
    return {**os.environ, "JUPYTER_PATH": os.pathsep.join(filter(None, paths))}


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The real recorded streams beside the project, read in place; skips when absent."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not beside the project")
    return CORPUS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "corpus: the test reads the real recorded streams")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        name = module.__name__.rsplit(".", 1)[-1] if module is not None else ""
        if "corpus_dir" in getattr(item, "fixturenames", ()) or name in _CORPUS_MODULES:
            item.add_marker(pytest.mark.corpus)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "corpus" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _CORPUS_OUTCOMES["ran" if report.when == "call" else report.outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many corpus tests ran: without the corpus, hundreds of cases collapse into a
    few skip lines, and a green run would otherwise hide that they never ran."""
    ran, skipped = _CORPUS_OUTCOMES["ran"], _CORPUS_OUTCOMES["skipped"]
    failed = _CORPUS_OUTCOMES["failed"]
    if not (ran or skipped or failed):
        return
    where = CORPUS if CORPUS.is_dir() else f"{CORPUS} (absent: its cases were not even collected)"
    terminalreporter.write_sep("-", "corpus")
    terminalreporter.write_line(
        f"corpus tests: {ran} ran, {skipped} skipped"
        + (f", {failed} failed in setup" if failed else "")
        + f"; corpus: {where}"
    )
