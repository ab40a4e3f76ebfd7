"""-j/--jobs: folder runs over worker processes, reported in input order."""

from __future__ import annotations

import os
import time
from pathlib import Path

from click.testing import CliRunner
from streamreel.cassettes.discovery import expand
from streamreel.cli import main
from streamreel.cli.pool import ordered_map, worker_count

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"


def slow_then_fast(n: int) -> tuple[int, int]:
    # Early items take longest, so a pool finishes them last.
    time.sleep(0.05 * (4 - n))
    return n, os.getpid()


def test_results_come_in_input_order_whichever_worker_finishes_first() -> None:
    results = list(ordered_map(slow_then_fast, [0, 1, 2, 3], jobs=2))
    assert [n for n, _ in results] == [0, 1, 2, 3]
    assert len({pid for _, pid in results}) == 2
    assert all(pid != os.getpid() for _, pid in results)


def test_one_job_runs_in_this_process() -> None:
    results = list(ordered_map(slow_then_fast, [3, 2], jobs=1))
    assert results == [(3, os.getpid()), (2, os.getpid())]


def test_zero_jobs_means_one_per_core() -> None:
    assert worker_count(0) == (os.cpu_count() or 1)
    assert worker_count(3) == 3


def test_diff_with_jobs_prints_the_same_report() -> None:
    args = ["diff", str(CASSETTES), "--right-settings", "use_assistant_message=false"]
    one = CliRunner().invoke(main, args)
    two = CliRunner().invoke(main, [*args, "--jobs", "2"])
    assert one.exit_code == two.exit_code == 1
    assert one.output == two.output
    assert "openai-tool-name-split.yaml" in two.output


def test_fuzz_with_jobs_prints_the_same_report() -> None:
    args = ["fuzz", str(CASSETTES), "--seed", "7", "--examples", "3"]
    one = CliRunner().invoke(main, args)
    two = CliRunner().invoke(main, [*args, "-j", "2"])
    assert one.exit_code == two.exit_code == 0
    assert one.output == two.output
    assert len(one.output.splitlines()) == 1 + len(expand([CASSETTES]))


def test_audit_with_jobs_prints_the_same_findings_and_fixes_the_same_files(
    tmp_path: Path,
) -> None:
    import shutil

    from test_audit import FORMATS

    folders = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        for make in FORMATS.values():
            make(folder)
        folders.append(folder)
    runner = CliRunner()
    one = runner.invoke(main, ["audit", "--history", str(folders[0])])
    shutil.copytree(folders[0], tmp_path / "again")  # the same files, audited in workers
    two = runner.invoke(main, ["audit", "--history", "-j", "2", str(tmp_path / "again")])
    assert one.exit_code == two.exit_code == 1
    assert one.stdout.replace(str(folders[0]), "F") == two.stdout.replace(
        str(tmp_path / "again"), "F"
    )
    fixed = runner.invoke(main, ["audit", "--fix", "-j", "2", str(folders[1])])
    assert fixed.exit_code == 1 and fixed.stderr.count("fixed, rewritten") == 2
    after = runner.invoke(main, ["audit", str(folders[1])])
    reported = {line.split(":")[0] for line in after.stdout.splitlines()}
    assert reported == {str(folders[1] / "session.har"), str(folders[1] / "nock.json")}
