"""``streamreel fuzz``: replay cassettes cut at other points and expect the same messages."""

from __future__ import annotations

import json
import random
from functools import partial
from pathlib import Path
from typing import Any

import click

from streamreel.cli.exits import Exit
from streamreel.cli.inputs import expand_inputs
from streamreel.cli.options import factory_option, interface_options, settings_from
from streamreel.cli.progress import Bar, bar, to, writing
from streamreel.testing.fuzz import FuzzReport, fuzz_cassette


def _advance(meter: Bar, before: int, tried: int) -> None:
    to(meter, before + tried)


def _outcome(report: FuzzReport, lines: list[str]) -> dict[str, Any]:
    """One cassette's outcome for ``--json``."""
    outcome = (
        "unreadable"
        if report.error is not None
        else "failed"
        if report.failed
        else "skipped"
        if report.skipped is not None
        else "ok"
    )
    return {
        "path": report.path,
        "outcome": outcome,
        "splits": report.examples,
        "error": report.error,
        "skipped": report.skipped,
        "report": lines if report.failed else [],
    }


@click.command("fuzz")
@click.argument(
    "cassettes",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, allow_dash=True, path_type=Path),
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed of the random splits; the report prints the one used. [default: random]",
)
@click.option(
    "--examples",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Splits tried per cassette (the first two: no cuts, and cuts everywhere).",
)
@click.option(
    "--against",
    "--parser",
    "against",
    metavar="MODULE:FACTORY",
    help="Fuzz this parser (a callable taking InterfaceSettings, or letta for Letta 0.7.8's "
    "own). [default: streamreel's]",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document (seed, and each cassette's outcome) instead of the report.",
)
@interface_options
def fuzz_command(
    cassettes: tuple[Path, ...],
    seed: int | None,
    examples: int,
    against: str | None,
    as_json: bool,
    **knobs: Any,
) -> None:
    """Re-split every stream in CASSETTES at random points and compare the merged messages.

    Bodies are re-cut into new reads (inside UTF-8 characters, SSE lines, JSON escapes) and
    runs of text into new chunks (inside escapes, keys and literals). A cassette whose merged
    messages change is reported with the smallest split found that still changes them and the
    seed to reproduce it. CASSETTES are cassettes or chunk files (.jsonl); a folder means
    those beneath it (hidden folders and __snapshots__ skipped).

    \b
    Exit status (the highest that applies):
      0  every cassette gives the same merged messages however it is split
      1  a split changed a cassette's merged messages
      2  usage error
      3  a cassette could not be read (reported, and not counted as failing)
    """
    chosen_seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
    parser = factory_option(against)
    settings = settings_from(knobs)
    expect = knobs["expect_reasoning_content"]
    click.echo(f"seed {chosen_seed}, {examples} splits per cassette", err=True)
    failed: list[Path] = []
    outcomes: list[dict[str, Any]] = []
    unreadable = 0
    paths = expand_inputs(cassettes)
    with bar(len(paths) * examples, "fuzz", unit="split") as meter:
        for done, path in enumerate(paths):
            report = fuzz_cassette(
                path,
                seed=chosen_seed,
                examples=examples,
                parser=parser,
                settings=settings,
                expect_reasoning_content=expect,
                progress=partial(_advance, meter, done * examples),
            )
            to(meter, (done + 1) * examples)  # a failing or skipped cassette stops early
            lines = report.describe()
            bad = report.failed or report.error is not None
            outcomes.append(_outcome(report, lines))
            with writing():
                if report.error is not None:  # an error: stderr, whatever the format
                    click.secho(lines[0], fg="red", bold=True, err=True)
                elif not as_json:
                    click.secho(lines[0], fg="red" if bad else None, bold=bad)
                    for line in lines[1:]:
                        click.echo(line)
            if report.failed:
                failed.append(Path(report.path))
            if report.error is not None:
                unreadable += 1
    if as_json:
        document = {"seed": chosen_seed, "examples": examples, "cassettes": outcomes}
        click.echo(json.dumps(document, ensure_ascii=False))
    if failed:
        again = " ".join(str(p) for p in failed)
        extra = f" --against {against}" if against else ""
        click.secho(
            f"{len(failed)} cassette(s) failed; reproduce with: streamreel fuzz {again} "
            f"--seed {chosen_seed} --examples {examples}{extra}",
            fg="red",
            err=as_json,
        )
    if unreadable:
        click.secho(f"{unreadable} cassette(s) could not be read", fg="red", err=True)
        raise SystemExit(int(Exit.UNREADABLE))
    if failed:
        raise SystemExit(int(Exit.FAILED))
