"""``streamreel bench``: speed as ratios measured within one run."""

from __future__ import annotations

from pathlib import Path

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
from streamreel.cli.measures import (
    BenchError,
    Measure,
    measure_cassette_cli,
    measure_cassette_load,
    measure_chunk_file_cli,
    measure_imports,
    measure_player,
)


def _noise(allowance: float) -> str:
    """The allowance as shown next to its ratio: ``~4%``."""
    return f"~{allowance * 100:.0f}%"


def _row(result: BenchResult) -> str:
    mark = "ok" if result.meets_targets else "MISSED"
    return (
        f"{result.name:<36} {result.size:>8} {result.per_chunk_microseconds:>9.2f}"
        f" {result.floor_ratio:>7.2f}x {result.scaling_ratio:>8.2f}x"
        f" {_noise(result.floor_noise):>5} {_noise(result.scaling_noise):>5}  {mark}"
    )


CASSETTE_CHUNKS_CAP = 8_000
"""The cassette case's default size: above it the file passes 2.5 MB and a run takes minutes."""


def _cassette_row(result: CassetteBenchResult) -> str:
    mark = "ok" if result.meets_targets else "MISSED"
    return (
        f"{result.name:<36} {result.size:>8} {result.per_chunk_microseconds:>9.2f}"
        f" {result.floor_ratio:>7.2f}x {result.scaling_ratio:>8.2f}x"
        f" {_noise(result.floor_noise):>5} {_noise(result.scaling_noise):>5}"
        f" {result.megabytes_per_second:>8.2f}  {mark}"
    )


def _bench_campaign(
    folder: Path, size: int, workers: int, repeats: int, args: tuple[str, ...], check: bool
) -> None:
    from streamreel.cli.throughput import SPEEDUP_TARGET, campaign_rows, measure_campaign

    def progress(name: str) -> None:
        click.echo(f"  measuring {name}...", err=True)

    try:
        one, many = measure_campaign(
            folder, size=size, workers=workers, repeats=repeats, extra=args, progress=progress
        )
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    for row in campaign_rows(one, many, size):
        click.echo(row)
    speedup = one.cpu_bound / many.cpu_bound
    if check and (one.failures != many.failures or speedup < SPEEDUP_TARGET):
        raise SystemExit(1)


def _measure_row(measure: Measure) -> str:
    mark = "ok" if measure.meets_target else "MISSED"
    return (
        f"{measure.name:<40} {measure.shown(measure.value):>9} {measure.shown(measure.target):>9}"
        f" {_noise(measure.noise):>5}  {mark:<6} {measure.detail}"
    )


QUICK_CHUNKS = 2_000
"""``--quick``: every case at this size and run once, to check the machinery in seconds."""
PLAYER_CHUNKS = 20_000


@click.command("bench")
@click.option("--chunks", "size", default=32_000, show_default=True, help="Chunks per stream.")
@click.option(
    "--repeats",
    default=5,
    show_default=True,
    help="Best of this many rounds; their spread sets each ratio's noise allowance.",
)
@click.option("--check", is_flag=True, help="Exit with status 1 when a target is missed.")
@click.option(
    "--quick",
    is_flag=True,
    help=f"Every stream of {QUICK_CHUNKS} chunks, run once: checks the machinery, not the speed.",
)
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
@click.option(
    "--users/--no-users",
    default=True,
    show_default=True,
    help="Also measure what users run: the command line, loading, the player, import costs.",
)
@click.option(
    "--player-chunks",
    type=click.IntRange(min=1),
    default=None,
    help=f"Chunks in the player's stream.  [default: {PLAYER_CHUNKS}]",
)
@click.option(
    "--campaign",
    "campaign",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Instead, measure a fuzz campaign (pytest --streamreel-fuzz) over the cassettes in "
    "this folder at 1 and --workers workers.",
)
@click.option(
    "--campaign-size",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Cassettes in the campaign: the folder's, copied round until there are this many.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=2),
    default=2,
    show_default=True,
    help="pytest-xdist workers of the parallel run.",
)
@click.option(
    "--campaign-arg",
    "campaign_args",
    multiple=True,
    metavar="ARG",
    help="Pass ARG to the campaign's pytest, e.g. --campaign-arg=--streamreel-reader=m:R "
    "(repeatable).",
)
def bench_command(
    size: int,
    repeats: int,
    check: bool,
    quick: bool,
    cassette: bool,
    cassette_chunks: int | None,
    users: bool,
    player_chunks: int | None,
    campaign: Path | None,
    campaign_size: int,
    workers: int,
    campaign_args: tuple[str, ...],
) -> None:
    """Measure replay speed against the json.loads floor and when streams double.

    \b
    floor:   replay time / json.loads time of the same chunk lines (target <= 4x)
    doubled: time for twice the chunks / time for the chunks       (target <= 2.2x)
    cassette: replay(path) of a scripted multi-provider cassette file against reading
              its YAML plus json.loads of every event (target <= 2.5x); MB/s is the
              file's size over the replay time

    \b
    What users run (each a ratio to a floor measured in the same run):
    replay ... --format F: 'streamreel replay' as a subprocess, start-up subtracted,
              against reading the file and json.loads + json.dumps of every event
              (a cassette's floor parses its YAML with libyaml too)   (target <= 2.5x);
              on a chunk file, a streamreel recording and a plain vcrpy cassette
    doubled:  the command on twice the chunks                      (target <= 2.2x)
    load_cassette vs libyaml: the same file through libyaml's C loader (target <= 1.3x)
    player:   tracemalloc peak of building a StreamPlayer and seeking to the end,
              over the replay result (target <= 50 MB), and its time over the replay's
    imports:  'streamreel --help' vs 'python -c "import click"'    (target <= 2.5x);
              'streamreel replay' of a one-chunk file vs the same       (target <= 3x);
              'import streamreel.core' vs 'import pydantic'             (target <= 2x);
              pytest in an empty project with the plugin vs -p no:streamreel (<= 1.15x)

    \b
    noise: each ratio's allowance, from the spread of its timings over the rounds (how far
              the typical round lies above the best); a target is met when the ratio is
              within it stretched by the allowance, which is at most 15%, so two runs on a
              busy machine agree on what passes

    \b
    --campaign FOLDER: pytest --streamreel-fuzz over --campaign-size cassettes, -n 0 against
              -n --workers, best of --repeats: wall and CPU-bound seconds (the busiest
              process, or all CPU over the cores), throughput, speed-up (target >= 1.7x
              at 2 workers), whether both report the same failures, 1,000 cassettes' cost
    """
    if campaign is not None:
        _bench_campaign(campaign, campaign_size, workers, repeats, campaign_args, check)
        return
    if quick:
        size, repeats = min(size, QUICK_CHUNKS), 1
        player_chunks = min(player_chunks or QUICK_CHUNKS, QUICK_CHUNKS)
    chunks = cassette_chunks if cassette_chunks is not None else min(size, CASSETTE_CHUNKS_CAP)
    measured: list[BenchResult | Measure] = []

    def progress(name: str) -> None:
        click.echo(f"  measuring {name}...", err=True)

    click.echo(
        f"streams of {size} chunks, best of {repeats}; targets: floor <= {FLOOR_TARGET}x,"
        f" doubled <= {SCALING_TARGET}x",
        err=True,
    )
    results = run_benchmarks(synthetic_cases(), size=size, repeats=repeats, progress=progress)
    click.echo(
        f"{'case':<36} {'chunks':>8} {'us/chunk':>9} {'floor':>8} {'doubled':>9}"
        f" {'noise':>5} {'noise':>5}"
    )
    for result in results:
        click.echo(_row(result))
    measured.extend(results)
    if cassette:
        click.echo(
            f"cassette of {chunks} chunks; targets: floor <= {CASSETTE_FLOOR_TARGET}x,"
            f" doubled <= {SCALING_TARGET}x",
            err=True,
        )
        result = run_cassette_benchmark(size=chunks, repeats=repeats, progress=progress)
        click.echo(
            f"{'cassette':<36} {'chunks':>8} {'us/chunk':>9} {'floor':>8} {'doubled':>9}"
            f" {'noise':>5} {'noise':>5} {'MB/s':>8}"
        )
        click.echo(_cassette_row(result))
        measured.append(result)
    if users:
        try:
            rows = [
                *measure_chunk_file_cli(size, repeats=repeats, progress=progress),
                *measure_cassette_cli(chunks, repeats=repeats, progress=progress),
                *measure_cassette_cli(chunks, repeats=repeats, progress=progress, plain=True),
                measure_cassette_load(chunks, repeats=repeats, progress=progress),
                *measure_player(player_chunks or PLAYER_CHUNKS, repeats=repeats, progress=progress),
                *measure_imports(repeats=repeats, progress=progress),
            ]
        except BenchError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"{'what users run':<40} {'measured':>9} {'target':>9} {'noise':>5}"
            f"  {'result':<6} detail"
        )
        for row in rows:
            click.echo(_measure_row(row))
        measured.extend(rows)
    if check and not all(
        m.meets_target if isinstance(m, Measure) else m.meets_targets for m in measured
    ):
        raise SystemExit(1)
