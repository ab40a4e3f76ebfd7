"""Fixtures every test module shares."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
CASSETTES = ROOT / "cassettes"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The real recorded streams beside the project, read in place; skips when absent."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not beside the project")
    return CORPUS
