"""A fuzz campaign's throughput at 1 and N workers: ``streamreel bench --campaign FOLDER``.

The campaign is what a suite runs in CI: ``pytest --streamreel-fuzz`` over a folder of
cassettes (:mod:`streamreel.testing.campaign`), one item per cassette and seed, cassette and
hazard. The folder's cassettes are copied, cyclically and under new names, until there are
``size`` of them, into a fresh project, and the campaign is run as a subprocess with
pytest-xdist's ``-n 0`` and ``-n N --dist loadfile`` (a file's items on one worker, so the
cassette is read and its recording replayed once), round-robin, best of ``repeats``.

Two times are taken for each run, because on a shared machine the wall clock measures the
other users as much as the campaign:

* **wall**: seconds from start to exit, as a user waits for them;
* **CPU-bound**: the time the run would take with its cores to itself, from the CPU seconds
  each process spent (a ``conftest.py`` in the project notes every xdist worker's and the
  controller's own at the end of the session): the busiest worker, or all the work spread over
  the cores, whichever is longer. On an idle machine the two agree; under load, the CPU-bound
  figure is the one that says what parallelism buys.

The speed-up is the 1-worker time over the N-worker time, for both. The failures each run
reports (the ``FAILED`` lines) are compared: spreading a campaign must not change its verdict.
Throughput is given in cassettes and in items (cassette × case) per second, and the cost of a
1,000-cassette campaign is extrapolated from the N-worker run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from streamreel.cassettes.discovery import expand
from streamreel.cli.measures import child_environment

__all__ = ["SPEEDUP_TARGET", "CampaignRun", "campaign_rows", "measure_campaign"]

SPEEDUP_TARGET = 1.7
"""At 2 workers a campaign should run at least this much faster (CPU-bound) than in one."""

_CONFTEST = """
import os
import time
from pathlib import Path


def _note(suffix):
    name = os.environ.get("PYTEST_XDIST_WORKER", "controller")
    Path(os.environ["STREAMREEL_CPU_LOG"], name + suffix).write_text(repr(time.process_time()))


def pytest_configure(config):
    _note(".start")


def pytest_sessionfinish(session):
    _note("")
"""


@dataclass(frozen=True, slots=True)
class CampaignRun:
    """One run of the campaign."""

    workers: int
    wall: float
    cpu: dict[str, float]
    items: int
    failures: tuple[str, ...]
    cores: int
    startup: float = 0.0
    """CPU seconds a process spent before pytest was configured (the slowest process's): the
    interpreter, pytest and every plugin the environment installs, paid once per process."""

    @property
    def cpu_bound(self) -> float:
        """Seconds with the cores to itself: the busiest worker, or all work over the cores."""
        workers = [seconds for name, seconds in self.cpu.items() if name != "controller"]
        total = sum(self.cpu.values())
        usable = max(1, min(self.workers or 1, self.cores))
        return max(max(workers, default=0.0), total / usable)


def _fill(source: Sequence[Path], size: int, into: Path) -> None:
    into.mkdir(parents=True)
    for number in range(size):
        original = source[number % len(source)]
        shutil.copyfile(original, into / f"{number:04d}-{original.name}")


def _run(project: Path, workers: int, extra: Sequence[str]) -> CampaignRun:
    log = project / f"cpu-{workers}"
    shutil.rmtree(log, ignore_errors=True)
    log.mkdir()
    command = [
        sys.executable, "-m", "pytest", "cassettes", "--streamreel-fuzz", "-q", "-rf",
        "-p", "xdist", "-p", "no:cacheprovider", "-p", "no:randomly", "-n", str(workers),
        *(["--dist", "loadfile"] if workers else []), *extra,
    ]  # fmt: skip
    # The working directory stays importable, for a parser or reader named MODULE:FACTORY.
    path = os.pathsep.join(p for p in (str(Path.cwd()), os.environ.get("PYTHONPATH")) if p)
    # Run as an installed package runs, from compiled bytecode (see streamreel.cli.measures).
    env = {**child_environment(), "STREAMREEL_CPU_LOG": str(log), "PYTHONPATH": path}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = done.stdout.splitlines()
    if done.returncode not in (0, 1):
        tail = "\n".join(lines[-15:] + done.stderr.splitlines()[-5:])
        raise RuntimeError(f"cannot run the campaign: pytest exited {done.returncode}:\n{tail}")
    failures = tuple(sorted(line.split(" - ")[0] for line in lines if line.startswith("FAILED")))
    noted = {path.name: float(path.read_text()) for path in log.iterdir()}
    cpu = {name: seconds for name, seconds in noted.items() if not name.endswith(".start")}
    startup = max((s for name, s in noted.items() if name.endswith(".start")), default=0.0)
    items = _count(lines, "passed") + _count(lines, "failed")
    return CampaignRun(workers, wall, cpu, items, failures, os.cpu_count() or 1, startup)


def _count(lines: Sequence[str], word: str) -> int:
    for line in reversed(lines):
        found = re.search(rf"(\d+) {word}", line)
        if found and (" in " in line):
            return int(found.group(1))
    return 0


def measure_campaign(
    source: Path,
    *,
    size: int,
    workers: int,
    repeats: int,
    extra: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> tuple[CampaignRun, CampaignRun]:
    """The best run (by CPU-bound time) at 1 and at ``workers`` workers, taken round-robin."""
    cassettes = expand([source])
    if not cassettes:
        raise RuntimeError(f"cannot measure a campaign: expected cassettes in {source}, got none")
    with tempfile.TemporaryDirectory(prefix="streamreel-campaign-") as folder:
        project = Path(folder)
        (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (project / "conftest.py").write_text(_CONFTEST, encoding="utf-8")
        _fill(cassettes, size, project / "cassettes")
        best: dict[int, CampaignRun] = {}
        for repeat in range(repeats):
            for count in (0, workers):
                if progress is not None:
                    progress(f"campaign of {size} cassettes, -n {count} (run {repeat + 1})")
                run = _run(project, count, extra)
                if count not in best or run.cpu_bound < best[count].cpu_bound:
                    best[count] = run
        return best[0], best[workers]


def campaign_rows(one: CampaignRun, many: CampaignRun, size: int) -> list[str]:
    """The report: both runs, the speed-ups, the verdicts compared, and 1,000 cassettes' cost."""
    rows = [
        f"{'campaign':<24} {'wall s':>8} {'CPU-bound s':>12} {'items/s':>9} {'cassettes/s':>12}"
    ]
    for label, run in (("-n 0 (one process)", one), (f"-n {many.workers}", many)):
        rows.append(
            f"{label:<24} {run.wall:>8.2f} {run.cpu_bound:>12.2f}"
            f" {run.items / run.cpu_bound:>9.1f} {size / run.cpu_bound:>12.2f}"
        )
    if many.startup:
        rows.append(
            f"pytest start-up here: {many.startup:.2f} s CPU a process, before any collection"
            f" (pytest and the plugins this environment installs); -n {many.workers} starts"
            f" {many.workers + 1} processes, one after the other"
        )
    same = one.failures == many.failures
    rows.append(
        f"speed-up at {many.workers} workers: {one.cpu_bound / many.cpu_bound:.2f}x CPU-bound,"
        f" {one.wall / many.wall:.2f}x wall ({many.cores} cores; load average"
        f" {os.getloadavg()[0]:.1f})"
    )
    rows.append(
        f"failures: {len(one.failures)} at -n 0, {len(many.failures)} at -n {many.workers}: "
        + ("the same" if same else "DIFFERENT")
    )
    per_cassette = many.cpu_bound / size
    rows.append(
        f"1,000 cassettes at -n {many.workers}: about {1000 * per_cassette:.0f} s CPU-bound"
        f" ({1000 * one.cpu_bound / size:.0f} s in one process)"
    )
    return rows
