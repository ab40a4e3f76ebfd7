"""``streamreel fuzz``: replay cassettes cut at other points and expect the same messages."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import click

from streamreel.cli.exits import Exit
from streamreel.cli.inputs import expand_inputs
from streamreel.cli.options import factory_option, interface_options, settings_from
from streamreel.cli.pool import jobs_option, load_once, ordered_map
from streamreel.cli.progress import Bar, bar, to, writing
from streamreel.core.cassette import Cassette
from streamreel.core.errors import StreamreelError
from streamreel.core.parser import InterfaceSettings
from streamreel.playback.replay import ReasoningChoice
from streamreel.testing.fuzz import FuzzReport


def _advance(meter: Bar, before: int, tried: int) -> None:
    to(meter, before + tried)


@dataclass(frozen=True, slots=True)
class _Job:
    """What one cassette's fuzzing needs, picklable: parsers travel as their MODULE:FACTORY."""

    seed: int
    examples: int
    against: str | None
    reader: str | None
    settings: InterfaceSettings
    expect: ReasoningChoice
    hazards: str | None
    failures: Path


@dataclass(frozen=True, slots=True)
class _Outcome:
    lines: list[str]
    failed: bool
    unreadable: bool
    document: dict[str, Any]
    """The cassette's outcome for ``--json``."""


def _parser_and_reader(job: _Job) -> tuple[Any, Any]:
    from streamreel.testing.hazards import is_reader_factory

    against = load_once(job.against)
    reader = load_once(job.reader)
    if against is not None and is_reader_factory(against):
        return None, against
    return against, reader


def _fuzz_one(job: _Job, path: Path | Cassette, progress: Any = None) -> _Outcome:
    """One cassette: random splits, or with ``hazards``, the hazard catalogue."""
    name = path.path if isinstance(path, Cassette) else path  # standard input is <stdin>
    parser, reader = _parser_and_reader(job)
    if job.hazards is None:
        from streamreel.testing.fuzz import fuzz_cassette

        report = fuzz_cassette(
            path,
            seed=job.seed,
            examples=job.examples,
            parser=parser,
            settings=job.settings,
            expect_reasoning_content=job.expect,
            progress=progress,
        )
        lines = report.describe()
        return _Outcome(lines, report.failed, report.error is not None, _report(report, lines))
    from streamreel.testing.hazards import fuzz_hazards

    try:
        outcomes = fuzz_hazards(
            path,
            job.hazards,
            parser=parser,
            decoder=reader,
            settings=job.settings,
            expect_reasoning_content=job.expect,
            save_to=job.failures,
        )
    except StreamreelError as exc:
        line = f"{name}: cannot fuzz: {exc}"
        return _Outcome([line], False, True, _hazard_report(name, "unreadable", [line]))
    failed = [o for o in outcomes if o.failed]
    checked = [o for o in outcomes if o.status == "passed"]
    if not failed:
        line = f"{name}: ok ({len(checked)} hazards apply, same merged messages)"
        return _Outcome([line], False, False, _hazard_report(name, "ok", []))
    lines = [line for outcome in failed for line in outcome.describe()]
    return _Outcome(lines, True, False, _hazard_report(name, "failed", lines))


def _list_hazards(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from streamreel.core.hazards import describe_catalogue

    for line in describe_catalogue():
        click.echo(line)
    ctx.exit(0)


def _report(report: FuzzReport, lines: list[str]) -> dict[str, Any]:
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


def _hazard_report(path: Path | None, outcome: str, lines: list[str]) -> dict[str, Any]:
    """One cassette's hazard outcome for ``--json``."""
    return {"path": str(path), "outcome": outcome, "report": lines}


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
    "--hazards",
    metavar="all|NAME,...",
    default=None,
    help="Instead of random splits, rewrite each stream by these hazards (spec-valid changes "
    "a parser must not notice: CRLF or CR line ends, comments, id: lines, raw U+2028...).",
)
@click.option(
    "--reader",
    metavar="MODULE:FACTORY",
    default=None,
    help="Read the bytes with this reader: a callable taking the stream's StreamKind and "
    "returning an object with feed(bytes) and close(), which give chat.completion.chunk "
    "objects (as streamreel's StreamDecoder does). A class of that shape also works as "
    "--against. [default: streamreel's decoder]",
)
@click.option(
    "--failures",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("streamreel-failures"),
    show_default=True,
    help="Where a failing hazard's shrunk, scrubbed reproducing cassette is written.",
)
@click.option(
    "--list-hazards",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_list_hazards,
    help="List the hazards with their sources, and exit.",
)
@jobs_option
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
    hazards: str | None,
    reader: str | None,
    failures: Path,
    jobs: int,
    as_json: bool,
    **knobs: Any,
) -> None:
    """Re-split every stream in CASSETTES at random points and compare the merged messages.

    Bodies are re-cut into new reads (inside UTF-8 characters, SSE lines, JSON escapes) and
    runs of text into new chunks (inside escapes, keys and literals). A cassette whose merged
    messages change is reported with the smallest split found that still changes them and the
    seed to reproduce it. CASSETTES are cassettes or chunk files (.jsonl); a folder means
    those beneath it (hidden folders and __snapshots__ skipped).

    With --hazards, each stream is rewritten instead in ways its wire specification allows
    (--list-hazards shows them and their sources); a hazard that changes the merged messages
    is reported with the fewest rewrites that still change them, and that stream is written
    as a cassette into --failures, ready to add to a test suite.

    \b
    Exit status (the highest that applies):
      0  every cassette gives the same merged messages however it is split
      1  a split or a hazard changed a cassette's merged messages
      2  usage error
      3  a cassette could not be read (reported, and not counted as failing)
    """
    chosen_seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
    factory_option(against)  # a bad MODULE:FACTORY is a usage error, before any work
    factory_option(reader)
    if hazards is not None:
        from streamreel.core.errors import ConfigurationError
        from streamreel.core.hazards import select_hazards

        try:
            select_hazards(hazards)
        except ConfigurationError as exc:
            raise click.BadParameter(str(exc), param_hint="--hazards") from None
    job = _Job(
        seed=chosen_seed,
        examples=examples,
        against=against,
        reader=reader,
        settings=settings_from(knobs),
        expect=knobs["expect_reasoning_content"],
        hazards=hazards,
        failures=failures.resolve(),
    )
    if hazards is None:
        click.echo(f"seed {chosen_seed}, {examples} splits per cassette", err=True)
    else:
        click.echo(f"hazards: {hazards}", err=True)
    failed: list[Path] = []
    documents: list[dict[str, Any]] = []
    unreadable = 0
    paths = expand_inputs(cassettes)
    per_cassette = examples if hazards is None else 1
    with bar(
        len(paths) * per_cassette, "fuzz", unit="split" if hazards is None else "cassette"
    ) as meter:
        if jobs == 1:
            outcomes: Any = (
                _fuzz_one(job, path, partial(_advance, meter, done * examples))
                for done, path in enumerate(paths)
            )
        else:
            outcomes = ordered_map(partial(_fuzz_one, job), paths, jobs=jobs)
        for done, outcome in enumerate(outcomes):
            to(meter, (done + 1) * per_cassette)  # a failing or skipped cassette stops early
            bad = outcome.failed or outcome.unreadable
            documents.append(outcome.document)
            with writing():
                if outcome.unreadable:  # an error: stderr, whatever the format
                    click.secho(outcome.lines[0], fg="red", bold=True, err=True)
                elif not as_json:
                    click.secho(outcome.lines[0], fg="red" if bad else None, bold=bad)
                    for line in outcome.lines[1:]:
                        click.echo(line)
            if outcome.failed:
                failed.append(Path(outcome.document["path"]))
            if outcome.unreadable:
                unreadable += 1
    if as_json:
        document = {"seed": chosen_seed, "examples": examples, "cassettes": documents}
        click.echo(json.dumps(document, ensure_ascii=False))
    if failed:
        again = " ".join(str(p) for p in failed)
        extra = f" --against {against}" if against else ""
        extra += f" --reader {reader}" if reader else ""
        how = f"--hazards {hazards}" if hazards else f"--seed {chosen_seed} --examples {examples}"
        click.secho(
            f"{len(failed)} cassette(s) failed; reproduce with: streamreel fuzz {again} "
            f"{how}{extra}",
            fg="red",
            err=as_json,
        )
    if unreadable:
        click.secho(f"{unreadable} cassette(s) could not be read", fg="red", err=True)
        raise SystemExit(int(Exit.UNREADABLE))
    if failed:
        raise SystemExit(int(Exit.FAILED))
