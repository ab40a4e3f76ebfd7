"""``streamreel bench`` end to end, at sizes small enough to take a moment.

Timings on a shared machine prove nothing, so these tests check what is reported (every case,
every ratio column, the cassette's MB/s) and never the figures themselves.
"""

from __future__ import annotations

import re

from click.testing import CliRunner
from streamreel.cli import main
from streamreel.cli.benchmark import (
    CassetteBenchResult,
    run_cassette_benchmark,
    synthetic_cases,
)

_RATIO = r"\d+\.\d\dx"


def _run(*args: str) -> str:
    outcome = CliRunner().invoke(main, ["bench", "--repeats", "1", *args])
    assert outcome.exit_code == 0, outcome.output
    return outcome.stdout


def test_every_case_and_every_column_is_reported() -> None:
    output = _run("--chunks", "24")
    lines = output.splitlines()
    assert lines[0].split() == ["case", "chunks", "us/chunk", "floor", "doubled"]
    for case in synthetic_cases():
        [row] = [line for line in lines if line.startswith(case.name)]
        assert re.search(rf"{_RATIO}\s+{_RATIO}\s+(ok|MISSED)$", row), row
    assert "cassette chunks us/chunk floor doubled MB/s" in " ".join(output.split())
    [row] = [line for line in lines if line.startswith("cassette: load + replay")]
    assert re.search(rf"{_RATIO}\s+{_RATIO}\s+\d+\.\d\d\s+(ok|MISSED)$", row), row


def test_the_cassette_case_can_be_left_out_or_sized() -> None:
    without = _run("--chunks", "12", "--no-cassette")
    assert "cassette" not in without
    assert "MB/s" not in without
    sized = _run("--chunks", "12", "--cassette-chunks", "30")
    [row] = [line for line in sized.splitlines() if line.startswith("cassette: load + replay")]
    assert int(row.split()[4]) >= 30  # the chunk count, after the case's four-word name


def test_the_cassette_result_carries_its_size() -> None:
    result = run_cassette_benchmark(size=36, repeats=1)
    assert isinstance(result, CassetteBenchResult)
    assert result.interactions == 12
    assert result.size >= 36
    assert result.size_bytes > 0
    for value in (result.floor_ratio, result.scaling_ratio, result.megabytes_per_second):
        assert value > 0
