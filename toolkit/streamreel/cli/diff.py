"""``streamreel diff``: the same cassettes through two parsers, and the messages that differ."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import click

from streamreel.cli.exits import Exit, Unreadable
from streamreel.cli.inputs import expand_inputs
from streamreel.cli.options import factory_option, interface_options, settings_from
from streamreel.cli.pool import jobs_option, ordered_map
from streamreel.cli.progress import bar
from streamreel.core.errors import ConfigurationError, StreamreelError
from streamreel.core.parser import InterfaceSettings
from streamreel.playback.replay import ReasoningChoice
from streamreel.testing.diff import (
    CassetteDiff,
    Side,
    apply_knobs,
    diff_cassette,
    parse_knobs,
    render_html,
    render_text,
)


def knobs_option(pairs: tuple[str, ...]) -> dict[str, bool | str]:
    try:
        return parse_knobs(pairs)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc)) from None


def _side(
    spec: str | None,
    base: InterfaceSettings,
    expect: ReasoningChoice,
    knobs: dict[str, bool | str],
) -> Side:
    label = spec or "streamreel"
    if knobs:
        label += " [" + ", ".join(f"{k}={v}" for k, v in knobs.items()) + "]"
    chosen = knobs.get("expect_reasoning_content", expect)
    # None leaves it to the parser: Letta's own gets its server's flags per provider.
    choice: ReasoningChoice = (
        "auto" if chosen == "auto" else chosen if chosen is None else bool(chosen)
    )
    return Side(
        label=label,
        parser=factory_option(spec),
        settings=apply_knobs(base, knobs),
        expect_reasoning_content=choice,
    )


@dataclass(frozen=True, slots=True)
class _Sides:
    """Both sides as text, so a worker process can build them: a factory need not pickle."""

    parser: str | None
    against: str | None
    base: InterfaceSettings
    expect: ReasoningChoice
    left_knobs: dict[str, bool | str]
    right_knobs: dict[str, bool | str]

    def build(self) -> tuple[Side, Side]:
        left = _side(self.parser, self.base, self.expect, self.left_knobs)
        right = _side(self.against, self.base, self.expect, self.right_knobs)
        if left.label == right.label:
            left = Side(
                "left: " + left.label, left.parser, left.settings, left.expect_reasoning_content
            )
            right = Side(
                "right: " + right.label,
                right.parser,
                right.settings,
                right.expect_reasoning_content,
            )
        return left, right


def _diff_one(sides: _Sides, merge: bool, path: Path) -> CassetteDiff:
    left, right = sides.build()
    return diff_cassette(path, left=left, right=right, merge=merge)


def _as_json(diffs: list[CassetteDiff], *, left: str, right: str) -> dict[str, Any]:
    """The comparison as one JSON document, for ``--json``."""
    cassettes = [
        {
            "path": diff.path,
            "outcome": "unreadable" if diff.error else "differs" if diff.differs else "same",
            "error": diff.error,
            "interactions": [
                {
                    "index": interaction.index,
                    "request": interaction.request,
                    "rows": len(interaction.rows),
                    "changed": len(interaction.changes),
                }
                for interaction in diff.interactions
            ],
        }
        for diff in diffs
    ]
    return {
        "left": left,
        "right": right,
        "cassettes": cassettes,
        "differing": sum(1 for diff in diffs if diff.differs),
        "unreadable": sum(1 for diff in diffs if diff.error is not None),
    }


def _echo_report(lines: list[str], errors: Collection[str] = ()) -> None:
    for line in lines:
        stripped = line.lstrip()
        if line in errors:
            click.secho(line, fg="red", err=True)  # an error, so stderr, naming the file
        elif stripped.startswith("- "):
            click.secho(line, fg="red")
        elif stripped.startswith("+ "):
            click.secho(line, fg="green")
        elif line.startswith("  "):
            click.secho(line, fg="yellow")
        else:
            click.secho(line, bold=True)


@click.command("diff")
@click.argument(
    "cassettes",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, allow_dash=True, path_type=Path),
)
@click.option(
    "--against",
    metavar="MODULE:FACTORY",
    help="The right-hand parser: a callable taking InterfaceSettings, or letta for Letta "
    "0.7.8's own. [default: streamreel's]",
)
@click.option(
    "--parser",
    metavar="MODULE:FACTORY",
    help="The left-hand parser (MODULE:FACTORY or letta). [default: streamreel's]",
)
@click.option(
    "--left-settings",
    "left_pairs",
    metavar="KEY=VALUE",
    multiple=True,
    help="An interface knob for the left side only (repeatable).",
)
@click.option(
    "--right-settings",
    "right_pairs",
    metavar="KEY=VALUE",
    multiple=True,
    help="An interface knob for the right side only (repeatable).",
)
@click.option(
    "--deltas",
    is_flag=True,
    help="Compare the raw deltas instead of the merged messages.",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write a self-contained HTML report (both sequences side by side) to FILE.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="With two versions OLD NEW: markdown writes a table (for $GITHUB_STEP_SUMMARY).",
)
@jobs_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document (each cassette's outcome and changes) instead of the report.",
)
@interface_options
def diff_command(
    cassettes: tuple[Path, ...],
    against: str | None,
    parser: str | None,
    left_pairs: tuple[str, ...],
    right_pairs: tuple[str, ...],
    deltas: bool,
    html_file: Path | None,
    output_format: str,
    jobs: int,
    as_json: bool,
    **knobs: Any,
) -> None:
    """Replay CASSETTES through two parsers and show the messages that differ.

    Each side is a parser and its settings: the interface options set both sides, and
    --left-settings / --right-settings change one side's knobs (e.g.
    --right-settings use_assistant_message=false). CASSETTES are cassettes or chunk files
    (.jsonl); a folder means those beneath it (hidden folders and __snapshots__ skipped).
    Messages are compared merged, with ids, otids, dates and tool-call ids as placeholders.

    With no second parser or settings and two files, `streamreel diff OLD NEW` compares two
    versions of one cassette instead, interaction by interaction: the request, the messages,
    the tool calls' arguments, the chunk count and the time to the first chunk (--format
    markdown for a table).

    \b
    Exit status (the highest that applies):
      0  every cassette replays the same on both sides
      1  a cassette differs
      2  usage error
      3  a cassette could not be read (reported, and not counted as differing)
    """
    left_knobs, right_knobs = knobs_option(left_pairs), knobs_option(right_pairs)
    if against is None and parser is None and left_knobs == right_knobs:
        if len(cassettes) == 2 and all(path.is_file() for path in cassettes):
            if as_json:
                raise click.UsageError(
                    "cannot print JSON: expected a comparison of two parsers, got two versions "
                    "OLD NEW of one cassette; do drop --json or use --format markdown"
                )
            _compare_versions(cassettes[0], cassettes[1], output_format)
            return
        raise click.UsageError(
            "cannot compare: expected two different sides, got the same parser and settings "
            "twice; pass --against MODULE:FACTORY or --left-settings/--right-settings, or two "
            "files OLD NEW to compare two versions of one cassette"
        )
    if output_format != "text":
        raise click.UsageError(
            "cannot write markdown: expected two versions OLD NEW of one cassette, got a "
            "comparison of two parsers; do drop --format or use --html"
        )
    base = settings_from(knobs)
    expect: ReasoningChoice = knobs["expect_reasoning_content"]
    if expect is None and "letta" in (parser, against):
        # Letta is driven as its server drives it: the other side gets the same flags, so the
        # comparison is between parsers, not between modes.
        expect = "auto"
    sides = _Sides(parser, against, base, expect, left_knobs, right_knobs)
    left, right = sides.build()  # here too: a bad MODULE:FACTORY is a usage error at once
    paths = expand_inputs(cassettes)
    diffs = []
    with bar(len(paths), "diff", unit="cassette") as meter:
        for found in ordered_map(partial(_diff_one, sides, not deltas), paths, jobs=jobs):
            diffs.append(found)
            meter.update()
    errors = {f"{d.path}: cannot replay: {d.error}" for d in diffs if d.error is not None}
    if as_json:
        _echo_report(sorted(errors), errors)
        click.echo(json.dumps(_as_json(diffs, left=left.label, right=right.label)))
    else:
        _echo_report(render_text(diffs, left=left.label, right=right.label), errors)
    if html_file is not None:
        html_file.write_text(
            render_html(diffs, left=left.label, right=right.label), encoding="utf-8"
        )
        click.echo(f"HTML report written to {html_file}", err=True)
    if any(d.error is not None for d in diffs):
        raise SystemExit(int(Exit.UNREADABLE))
    if any(d.differs for d in diffs):
        raise SystemExit(int(Exit.FAILED))


def _compare_versions(old: Path, new: Path, output_format: str) -> None:
    """``streamreel diff OLD NEW``: two versions of one cassette, interaction by interaction."""
    from streamreel.testing.review import compare_versions, render_markdown
    from streamreel.testing.review import render_text as render_changes

    try:
        diff = compare_versions(old, new)
    except StreamreelError as exc:
        raise Unreadable(str(exc)) from None
    if output_format == "markdown":
        click.echo(render_markdown(diff), nl=False)
    else:
        _echo_report(render_changes(diff))
    if diff.differs:
        raise SystemExit(int(Exit.FAILED))
