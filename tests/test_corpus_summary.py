"""The run's summary says how many corpus tests ran, so a missing corpus is not a quiet green.

Without ``../shared/corpus`` its few hundred cases are not even collected (their parameters
come from its inventory) and collapse into a handful of skip lines; the summary's ``corpus
tests:`` line counts what ran and what was skipped. A corpus module is run in a child pytest
with ``STREAMREEL_CORPUS`` pointing at a missing folder, then at a small stand-in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_corpus_module(corpus: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_storage_corpus.py", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env={**os.environ, "STREAMREEL_CORPUS": str(corpus)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.stdout


def counts(output: str) -> dict[str, int]:
    final = output.strip().splitlines()[-1]
    return {
        word: int(number) for number, word in re.findall(r"(\d+) (passed|skipped|failed)", final)
    }


def test_without_the_corpus_the_summary_says_none_ran_and_how_many_skipped(tmp_path: Path) -> None:
    output = run_corpus_module(tmp_path / "absent")
    said = re.search(r"corpus tests: (\d+) ran, (\d+) skipped", output)
    assert said is not None, output[-2000:]
    assert int(said.group(1)) == 0
    assert int(said.group(2)) == counts(output)["skipped"] > 0
    assert "absent" in output


def test_with_a_corpus_the_summary_counts_the_tests_that_ran(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "inventory.json").write_text(json.dumps([]))
    output = run_corpus_module(corpus)
    said = re.search(r"corpus tests: (\d+) ran, (\d+) skipped", output)
    assert said is not None, output[-2000:]
    ran = counts(output).get("passed", 0) + counts(output).get("failed", 0)
    assert int(said.group(1)) == ran > 0
