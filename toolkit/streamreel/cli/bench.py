"""``streamreel bench``: speed as ratios measured within one run."""

from __future__ import annotations

import click

from streamreel.cli.benchmark import (
    CASSETTE_FLOOR_TARGET,
    FLOOR_TARGET,
    SCALING_TARGET,
    BenchResult,
    CassetteBenchResult,
    run_benchmarks,
    run_cassette_benchmark,
    synthetic_cases,
)


def _row(result: BenchResult) -> str:
    mark = "ok" if result.meets_targets else "MISSED"
    return (
        f"{result.name:<36} {result.size:>8} {result.per_chunk_microseconds:>9.2f}"
        f" {result.floor_ratio:>7.2f}x {result.scaling_ratio:>8.2f}x  {mark}"
    )


CASSETTE_CHUNKS_CAP = 8_000
"""The cassette case's default size: above it the file passes 2.5 MB and a run takes minutes."""


def _cassette_row(result: CassetteBenchResult) -> str:
    mark = "ok" if result.meets_targets else "MISSED"
    return (
        f"{result.name:<36} {result.size:>8} {result.per_chunk_microseconds:>9.2f}"
        f" {result.floor_ratio:>7.2f}x {result.scaling_ratio:>8.2f}x"
        f" {result.megabytes_per_second:>8.2f}  {mark}"
    )


@click.command("bench")
@click.option("--chunks", "size", default=32_000, show_default=True, help="Chunks per stream.")
@click.option("--repeats", default=5, show_default=True, help="Best of this many runs.")
@click.option("--check", is_flag=True, help="Exit with status 1 when a target is missed.")
@click.option(
    "--cassette/--no-cassette",
    default=True,
    show_default=True,
    help="Also load and replay a large scripted cassette file from disk.",
)
@click.option(
    "--cassette-chunks",
    type=click.IntRange(min=1),
    default=None,
    help=f"Chunks in that cassette, over all its interactions."
    f"  [default: --chunks, at most {CASSETTE_CHUNKS_CAP}]",
)
def bench_command(
    size: int, repeats: int, check: bool, cassette: bool, cassette_chunks: int | None
) -> None:
    """Measure replay speed against the json.loads floor and when streams double.

    \b
    floor:   replay time / json.loads time of the same chunk lines (target <= 4x)
    doubled: time for twice the chunks / time for the chunks       (target <= 2.2x)
    cassette: replay(path) of a scripted multi-provider cassette file against reading
              its YAML plus json.loads of every event (target <= 3x); MB/s is the
              file's size over the replay time
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
    measured: list[BenchResult] = list(results)
    if cassette:
        chunks = cassette_chunks if cassette_chunks is not None else min(size, CASSETTE_CHUNKS_CAP)
        click.echo(
            f"cassette of {chunks} chunks; targets: floor <= {CASSETTE_FLOOR_TARGET}x,"
            f" doubled <= {SCALING_TARGET}x",
            err=True,
        )
        result = run_cassette_benchmark(
            size=chunks,
            repeats=repeats,
            progress=lambda name: click.echo(f"  measuring {name}...", err=True),
        )
        click.echo(
            f"{'cassette':<36} {'chunks':>8} {'us/chunk':>9} {'floor':>8} {'doubled':>9}"
            f" {'MB/s':>8}"
        )
        click.echo(_cassette_row(result))
        measured.append(result)
    if check and not all(r.meets_targets for r in measured):
        raise SystemExit(1)
