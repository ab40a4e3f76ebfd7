"""``streamreel bench``: speed as ratios measured within one run."""

from __future__ import annotations

import click

from ..bench import FLOOR_TARGET, SCALING_TARGET, BenchResult, run_benchmarks, synthetic_cases
from . import main


def _row(result: BenchResult) -> str:
    mark = "ok" if result.meets_targets else "MISSED"
    return (
        f"{result.name:<36} {result.size:>8} {result.per_chunk_microseconds:>9.2f}"
        f" {result.floor_ratio:>7.2f}x {result.scaling_ratio:>8.2f}x  {mark}"
    )


@main.command()
@click.option("--chunks", "size", default=32_000, show_default=True, help="Chunks per stream.")
@click.option("--repeats", default=3, show_default=True, help="Best of this many runs.")
@click.option("--check", is_flag=True, help="Exit with status 1 when a target is missed.")
def bench(size: int, repeats: int, check: bool) -> None:
    """Measure replay speed against the json.loads floor and when streams double.

    \b
    floor:   replay time / json.loads time of the same chunk lines (target <= 4x)
    doubled: time for twice the chunks / time for the chunks       (target <= 2.2x)
    """
    click.echo(
        f"streams of {size} chunks, best of {repeats}; targets: floor <= {FLOOR_TARGET}x,"
        f" doubled <= {SCALING_TARGET}x",
        err=True,
    )
    results = run_benchmarks(
        synthetic_cases(),
        size=size,
        repeats=repeats,
        progress=lambda name: click.echo(f"  measuring {name}...", err=True),
    )
    click.echo(f"{'case':<36} {'chunks':>8} {'us/chunk':>9} {'floor':>8} {'doubled':>9}")
    for result in results:
        click.echo(_row(result))
    if check and not all(r.meets_targets for r in results):
        raise SystemExit(1)
