"""``streamreel bench`` end to end, at sizes small enough to take a moment.

Timings on a shared machine prove nothing, so these tests check what is reported (every case,
every ratio column, the cassette's MB/s) and never the figures themselves.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamreel.cli import main
from streamreel.cli.benchmark import (
    NOISE_CAP,
    CassetteBenchResult,
    Timing,
    allowance,
    best_of_interleaved,
    run_benchmarks,
    run_cassette_benchmark,
    synthetic_cases,
    timed_interleaved,
    within,
)
from streamreel.cli.measures import (
    OUTPUT_FORMATS,
    BenchError,
    Measure,
    measure_cassette_cli,
    measure_cassette_load,
    measure_chunk_file_cli,
    measure_imports,
    measure_player,
)

_RATIO = r"\d+\.\d\dx"
_NOISE = r"~\d+%"


def _run(*args: str) -> str:
    outcome = CliRunner().invoke(main, ["bench", "--repeats", "1", "--no-users", *args])
    assert outcome.exit_code == 0, outcome.output
    return outcome.stdout


def test_every_case_and_every_column_is_reported() -> None:
    output = _run("--chunks", "24")
    lines = output.splitlines()
    assert lines[0].split() == ["case", "chunks", "us/chunk", "floor", "doubled", "noise", "noise"]
    for case in synthetic_cases():
        [row] = [line for line in lines if line.startswith(case.name)]
        assert re.search(rf"{_RATIO}\s+{_RATIO}\s+{_NOISE}\s+{_NOISE}\s+(ok|MISSED)$", row), row
    header = "cassette chunks us/chunk floor doubled noise noise MB/s"
    assert header in " ".join(output.split())
    [row] = [line for line in lines if line.startswith("cassette: load + replay")]
    pattern = rf"{_RATIO}\s+{_RATIO}\s+{_NOISE}\s+{_NOISE}\s+\d+\.\d\d\s+(ok|MISSED)$"
    assert re.search(pattern, row), row


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


def _well_formed(measures: list[Measure]) -> None:
    for measure in measures:
        assert measure.value > 0, measure
        assert measure.target > 0
        assert 0.0 <= measure.noise <= NOISE_CAP
        assert measure.meets_target == (measure.value <= measure.target * (1 + measure.noise))
        assert measure.detail


def test_the_command_line_is_measured_in_every_format_and_doubled() -> None:
    for measured, label in (
        (measure_chunk_file_cli(40, repeats=1), "chunk file"),
        (measure_cassette_cli(36, repeats=1), "cassette"),
        (measure_cassette_cli(36, repeats=1, plain=True), "vcrpy cassette"),
    ):
        names = [m.name for m in measured]
        assert names == [
            *(f"replay {label} --format {fmt}" for fmt in OUTPUT_FORMATS),
            f"replay {label}, doubled",
        ]
        _well_formed(measured)
        assert "start-up" in measured[0].detail


def test_loading_the_player_and_the_imports_are_measured() -> None:
    load = measure_cassette_load(36, repeats=1)
    assert load.name == "load_cassette vs libyaml"
    memory, speed = measure_player(60, repeats=1)
    assert memory.unit == "MB" and speed.unit == "x"
    imports = measure_imports(repeats=1)
    assert [m.name for m in imports] == [
        "streamreel --help vs import click",
        "replay of one chunk vs import click",
        "import streamreel.core vs pydantic",
        "pytest with the plugin vs without",
    ]
    # What click and pydantic cost before any of streamreel runs, beside the replay's ratio.
    floor = re.search(r"click and one pydantic model alone: (\d+\.\d\d)x$", imports[1].detail)
    assert floor is not None and float(floor.group(1)) > 1.0, imports[1].detail
    _well_formed([load, memory, speed, *imports])


def test_a_failing_command_is_an_error_not_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamreel.cli import measures

    monkeypatch.setattr(measures, "_CLI", (sys.executable, "-c", "raise SystemExit(7)"))
    with pytest.raises(BenchError, match="expected exit status 0 or 1, got 7"):
        measure_chunk_file_cli(10, repeats=1)


def test_round_robin_keeps_the_best_time_of_each_action() -> None:
    calls: list[str] = []

    def action(name: str) -> Callable[[], object]:
        return lambda: calls.append(name)

    times = best_of_interleaved([action("a"), action("b")], 3)
    assert calls == ["a", "b"] * 3
    assert len(times) == 2 and all(t >= 0 for t in times)


def test_the_report_lists_what_users_run_and_check_fails_on_a_miss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamreel.cli import bench

    def fixed(value: float) -> Callable[..., list[Measure]]:
        return lambda *_a, **_k: [Measure("made up", value, 1.0, "x", "by the test")]

    for name in ("measure_chunk_file_cli", "measure_cassette_cli", "measure_player"):
        monkeypatch.setattr(bench, name, fixed(0.5))
    monkeypatch.setattr(bench, "measure_imports", fixed(0.5))
    monkeypatch.setattr(bench, "run_benchmarks", lambda *_a, **_k: [])  # tiny: noisy
    monkeypatch.setattr(
        bench, "measure_cassette_load", lambda *_a, **_k: Measure("load", 0.5, 1.0, "x", "d")
    )
    args = ["bench", "--quick", "--chunks", "12", "--no-cassette"]
    passed = CliRunner().invoke(main, [*args, "--check"])
    assert passed.exit_code == 0, passed.output
    assert re.search(r"made up\s+0\.50x\s+1\.00x\s+~0%\s+ok\s+by the test", passed.stdout)
    monkeypatch.setattr(bench, "measure_imports", fixed(3.0))
    missed = CliRunner().invoke(main, [*args, "--check"])
    assert missed.exit_code == 1
    assert re.search(r"made up\s+3\.00x\s+1\.00x\s+~0%\s+MISSED", missed.stdout)
    unchecked = CliRunner().invoke(main, args)
    assert unchecked.exit_code == 0


def test_a_timings_spread_is_how_far_its_typical_round_lies_above_its_best() -> None:
    steady = Timing((1.0, 1.0, 1.0))
    noisy = Timing((1.0, 1.3, 1.1, 5.0, 1.05))
    assert steady.best == 1.0 and steady.spread == 0.0
    assert noisy.best == 1.0
    assert noisy.spread == pytest.approx(0.1)  # the lower median, 1.1, over the best
    assert allowance(steady, noisy) == pytest.approx(0.1)
    assert allowance(noisy, noisy) == NOISE_CAP  # 0.2, capped


def test_a_target_is_met_within_the_measured_noise_and_missed_past_it() -> None:
    assert within(2.0, 2.0, 0.0)
    assert not within(2.1, 2.0, 0.0)
    assert within(2.1, 2.0, 0.1)
    assert not within(2.0 * (1 + NOISE_CAP) + 0.01, 2.0, NOISE_CAP)
    quiet = Measure("quiet", 2.1, 2.0, "x", "d")
    busy = Measure("busy", 2.1, 2.0, "x", "d", noise=0.1)
    assert not quiet.meets_target and busy.meets_target


def test_round_robin_keeps_every_rounds_time_and_the_ratios_their_noise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A clock that advances 1, then 2, ... per reading pair: round r of action a takes a known time.
    readings = iter([0.0, 1.0, 0.0, 2.0, 0.0, 1.5, 0.0, 2.0])
    monkeypatch.setattr("streamreel.cli.benchmark.cpu_seconds", lambda: next(readings))
    first, second = timed_interleaved([lambda: None, lambda: None], 2)
    assert first.samples == (1.0, 1.5) and second.samples == (2.0, 2.0)
    monkeypatch.undo()
    [result] = run_benchmarks(synthetic_cases()[:1], size=20, repeats=3)
    assert 0.0 <= result.floor_noise <= NOISE_CAP
    assert 0.0 <= result.scaling_noise <= NOISE_CAP


def test_the_report_shows_each_ratios_noise_and_passes_within_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamreel.cli import bench

    def fixed(value: float, noise: float) -> Callable[..., list[Measure]]:
        return lambda *_a, **_k: [Measure("made up", value, 1.0, "x", "by the test", noise)]

    for name in ("measure_chunk_file_cli", "measure_cassette_cli", "measure_player"):
        monkeypatch.setattr(bench, name, fixed(0.5, 0.0))
    monkeypatch.setattr(bench, "run_benchmarks", lambda *_a, **_k: [])
    monkeypatch.setattr(
        bench, "measure_cassette_load", lambda *_a, **_k: Measure("load", 0.5, 1.0, "x", "d")
    )
    args = ["bench", "--quick", "--chunks", "12", "--no-cassette", "--check"]
    monkeypatch.setattr(bench, "measure_imports", fixed(1.05, 0.08))
    within_noise = CliRunner().invoke(main, args)
    assert within_noise.exit_code == 0, within_noise.output
    assert re.search(r"made up\s+1\.05x\s+1\.00x\s+~8%\s+ok", within_noise.stdout)
    monkeypatch.setattr(bench, "measure_imports", fixed(1.2, 0.08))
    past_it = CliRunner().invoke(main, args)
    assert past_it.exit_code == 1
    assert re.search(r"made up\s+1\.20x\s+1\.00x\s+~8%\s+MISSED", past_it.stdout)


def test_the_plain_vcrpy_cassette_has_nothing_of_streamreels_own(tmp_path: Path) -> None:
    import yaml
    from streamreel.cassettes.storage import load_cassette
    from streamreel.cli.measures import _write_plain_vcr

    path = _write_plain_vcr(tmp_path / "plain.yaml", 30)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert "metadata" not in document
    assert all("streamreel" not in i["response"] for i in document["interactions"])
    assert len(load_cassette(path).interactions) == len(document["interactions"])
