"""``streamreel audit``: report credentials and waste in committed cassettes, and fix them."""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from streamreel.cli.exits import Exit
from streamreel.cli.pool import jobs_option, ordered_map
from streamreel.cli.progress import bar
from streamreel.core.wording import counted as _count

if TYPE_CHECKING:
    from streamreel.cassettes.audit import AuditOptions, Finding, FixOutcome

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _size(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    match = _SIZE.match(value)
    if match is None:
        raise click.BadParameter(f"expected a size such as 500K, 5M or 0 (no limit), got {value!r}")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


@click.command("audit")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--fix",
    is_flag=True,
    help="Rewrite each YAML or JSON cassette holding secrets through the scrubber, atomically.",
)
@click.option(
    "--fix-copy",
    is_flag=True,
    help="Fix, and for a HAR or nock file write a scrubbed <name>.scrubbed.yaml beside it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as one JSON list.")
@click.option(
    "--max-size",
    default="5M",
    show_default=True,
    callback=_size,
    help="Report files larger than this (K, M, G suffixes; 0 for no limit).",
)
@click.option(
    "--history/--no-history",
    default=True,
    show_default=True,
    help="Report requests whose conversation repeats an earlier request's whole conversation.",
)
@jobs_option
def audit_command(
    paths: tuple[Path, ...],
    fix: bool,
    fix_copy: bool,
    as_json: bool,
    max_size: int,
    history: bool,
    jobs: int,
) -> None:
    """Scan PATHS (cassettes, or folders of them) for credentials and waste.

    Every format streamreel reads is audited: streamreel and vcrpy YAML, vcrpy JSON, HAR, nock
    and chunk files. Secrets are found by the scrubber's own rules, in headers, cookies, URLs,
    JSON bodies at any depth, known token shapes, and bodies after gzip, deflate and base64
    decoding; large files, repeated conversation histories and unreadable files are reported
    too. One line per finding: file, interaction, where, rule (never the secret itself).

    --fix rewrites the YAML and JSON cassettes streamreel writes through the scrubber, in the
    format they were read in; HAR and nock files are never rewritten. Exits with status 0 when
    nothing was found, 1 when something was (fixed or not), 3 when a file could not be read.
    """
    from streamreel.cassettes.audit import AuditOptions
    from streamreel.cassettes.discovery import expand

    fix = fix or fix_copy
    files = expand(paths)
    empty = [p for p in paths if p.is_dir() and not any(f.is_relative_to(p) for f in files)]
    if empty:
        raise click.UsageError(f"{empty[0]}: expected cassettes in this folder, got none")
    options = AuditOptions(max_bytes=max_size, history=history)
    findings: list[Finding] = []
    work = partial(_audit_one, options, fix, fix_copy)
    with bar(len(files), "audit", unit="file") as meter:
        for found, fixed in ordered_map(work, files, jobs=jobs):
            meter.update()
            findings.extend(found)
            if not as_json:
                for finding in found:
                    # A file that cannot be read is an error, and errors go to stderr.
                    click.echo(finding.line(), err=finding.kind == "unreadable")
            if fixed is not None:
                _report_fix(fixed)
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    kinds = {f.kind for f in findings}
    summary = f"{_count(len(files), 'file')} audited, {_count(len(findings), 'finding')}"
    click.echo(summary, err=True)
    if "unreadable" in kinds:
        raise SystemExit(Exit.UNREADABLE)
    if findings:
        raise SystemExit(Exit.FAILED)


def _audit_one(
    options: AuditOptions, fix: bool, fix_copy: bool, path: Path
) -> tuple[list[Finding], FixOutcome | None]:
    """One file's findings, and what fixing it did: one job of ``-j``, run in any process."""
    from streamreel.cassettes.audit import audit_file, fix_file

    found = audit_file(path, options)
    if fix and any(f.kind == "secret" for f in found):
        return found, fix_file(path, options, copy=fix_copy)
    return found, None


def _report_fix(outcome: FixOutcome) -> None:
    if outcome.rewritten:
        click.echo(f"{outcome.path}: fixed, rewritten through the scrubber", err=True)
    if outcome.copy is not None:
        click.echo(f"{outcome.path}: wrote a scrubbed copy to {outcome.copy}", err=True)
    if outcome.refused is not None and outcome.copy is None:
        click.echo(f"{outcome.path}: not fixed: {outcome.refused}", err=True)
    for finding in outcome.remaining:
        click.echo(f"still found after the fix: {finding.line()}", err=True)
