"""bench --campaign: a fuzz campaign at 1 and N workers, its speed-up and its verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from streamreel.cli import main
from streamreel.cli.throughput import CampaignRun, campaign_rows
from test_hazards import USER_READER

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"


def test_the_cpu_bound_time_is_the_busiest_worker_or_all_work_over_the_cores() -> None:
    alone = CampaignRun(0, 30.0, {"controller": 10.0}, 100, (), cores=2)
    assert alone.cpu_bound == 10.0
    spread = CampaignRun(2, 40.0, {"controller": 1.0, "gw0": 5.0, "gw1": 6.0}, 100, (), cores=2)
    assert spread.cpu_bound == 6.0
    busy_controller = CampaignRun(2, 9.0, {"controller": 8.0, "gw0": 3.0, "gw1": 3.0}, 1, (), 2)
    assert busy_controller.cpu_bound == 7.0  # 14 s of work over 2 cores
    one_core = CampaignRun(2, 9.0, {"controller": 1.0, "gw0": 3.0, "gw1": 3.0}, 1, (), cores=1)
    assert one_core.cpu_bound == 7.0


def test_the_report_compares_speed_and_failures() -> None:
    one = CampaignRun(0, 20.0, {"controller": 10.0}, 400, ("FAILED a",), cores=2)
    many = CampaignRun(
        2, 12.0, {"controller": 1.0, "gw0": 5.0, "gw1": 5.0}, 400, ("FAILED a",), 2, 1.25
    )
    rows = "\n".join(campaign_rows(one, many, size=100))
    assert "pytest start-up here: 1.25 s CPU a process" in rows
    assert "-n 2 starts 3 processes" in rows
    assert "speed-up at 2 workers: 1.82x CPU-bound, 1.67x wall" in rows
    assert "failures: 1 at -n 0, 1 at -n 2: the same" in rows
    assert "1,000 cassettes at -n 2: about 55 s CPU-bound (100 s in one process)" in rows
    other = CampaignRun(2, 12.0, {"gw0": 5.0}, 400, (), 2)
    assert "DIFFERENT" in "\n".join(campaign_rows(one, other, size=100))


def test_bench_runs_a_small_campaign_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "userreader.py").write_text(USER_READER, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "bench", "--campaign", str(CASSETTES / "openai-line-separator-escaped.yaml"),
            "--campaign-size", "3", "--repeats", "1",
            "--campaign-arg=--streamreel-reader=userreader:MyReader",
            "--campaign-arg=--streamreel-fuzz-examples=2",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "-n 0 (one process)" in result.output and "-n 2" in result.output
    # Each copy of the cassette fails the line-separator hazard, whichever way it runs.
    assert "failures: 3 at -n 0, 3 at -n 2: the same" in result.output
    assert "pytest start-up here:" in result.output
