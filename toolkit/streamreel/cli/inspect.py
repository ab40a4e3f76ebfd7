"""``streamreel inspect``: what a cassette holds, interaction by interaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from streamreel.cassettes.reader import CassetteReader
from streamreel.cli.collector import collector_paused
from streamreel.cli.exits import Unreadable
from streamreel.cli.inputs import STDIN, STDIN_PATH, stdin_cassette
from streamreel.cli.progress import bar, to, writing
from streamreel.core.errors import StreamreelError
from streamreel.core.results import InteractionResult
from streamreel.core.wording import counted
from streamreel.playback.replay import ReplaySteps


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _line(result: InteractionResult) -> str:
    kind = result.kind
    what = f"{kind.provider} {kind.api} ({kind.framing})" if kind else "unrecognised"
    if kind is not None and not kind.model_reply:
        what = f"{kind.provider} non-model reply ({kind.framing}, not a model call: no messages)"
    timing = result.timing
    rate = "-" if timing.chunks_per_second is None else f"{timing.chunks_per_second:,.1f}/s"
    return (
        f"[{result.index}] {result.request.method} {result.request.url}\n"
        f"    {what}, model {result.request.model or '-'}, HTTP {result.status},"
        f" {counted(len(result.chunks), 'chunk')}, {counted(len(result.merged), 'message')}\n"
        f"    first chunk {_ms(timing.time_to_first_chunk_ms)}, duration"
        f" {_ms(timing.duration_ms)}, {rate}\n"
        f"    features: {', '.join(result.features) or '-'}"
    )


def _fields(result: InteractionResult) -> dict[str, Any]:
    """One interaction for ``--json``: what the text lines say, as values."""
    kind, timing = result.kind, result.timing
    return {
        "index": result.index,
        "method": result.request.method,
        "url": result.request.url,
        "provider": kind.provider if kind else None,
        "api": kind.api if kind else None,
        "framing": kind.framing if kind else None,
        "model": result.request.model,
        "status": result.status,
        "complete": result.complete,
        "chunks": len(result.chunks),
        "messages": len(result.merged),
        "first_chunk_ms": timing.time_to_first_chunk_ms,
        "duration_ms": timing.duration_ms,
        "chunks_per_second": timing.chunks_per_second,
        "features": sorted(result.features),
        "errors": [error.describe() for error in result.errors],
    }


@click.command("inspect")
@collector_paused
@click.argument(
    "cassette", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document (the cassette, then each interaction) for scripts.",
)
def inspect_command(cassette: Path, as_json: bool) -> None:
    """Show CASSETTE's interactions: provider, API, status, stream features, chunks and timing.

    CASSETTE may be - for standard input. Exits with status 3 when CASSETTE cannot be read.
    """
    try:
        if str(cassette) == STDIN:
            loaded = stdin_cassette()
            _inspect(STDIN_PATH, ReplaySteps(loaded, lean=True), len(loaded.interactions), as_json)
            return
        with bar(cassette.stat().st_size, cassette.name, unit="B", unit_scale=True) as meter:
            reader = CassetteReader(cassette, progress=lambda read: to(meter, read))
            _inspect(cassette, ReplaySteps(reader, lean=True), reader.count(), as_json)
    except StreamreelError as exc:
        raise Unreadable(str(exc)) from None


def _inspect(cassette: Path, steps: ReplaySteps, count: int, as_json: bool) -> None:
    """Print the header, then each interaction's line as soon as it is replayed."""
    # One interaction at a time: its line is printed and it is let go before the next.
    info = steps.info
    if as_json:
        _inspect_json(cassette, steps, count)
        return
    click.secho(f"{cassette}: {counted(count, 'interaction')}", bold=True)
    click.echo(
        f"    written by {info.source}"
        + (f" {info.tool_version}" if info.tool_version else "")
        + (f", recorded {info.recorded_at:%Y-%m-%d %H:%M}" if info.recorded_at else "")
        + (f" against {info.recorded_against}" if info.recorded_against else "")
    )
    for interaction in steps:
        with writing():
            click.echo(_line(interaction))
            for error in interaction.errors:
                click.secho(f"    ! {error.describe()}", fg="yellow")


def _inspect_json(cassette: Path, steps: ReplaySteps, count: int) -> None:
    """The same as one JSON document, written an interaction at a time as they are replayed."""
    info = steps.info
    head = {
        "path": str(cassette),
        "count": count,
        "source": info.source,
        "tool_version": info.tool_version,
        "recorded_at": info.recorded_at.isoformat() if info.recorded_at else None,
        "recorded_against": info.recorded_against,
    }
    click.echo(json.dumps(head, ensure_ascii=False)[:-1] + ', "interactions": [', nl=False)
    for number, interaction in enumerate(steps):
        with writing():
            separator = ", " if number else ""
            click.echo(separator + json.dumps(_fields(interaction), ensure_ascii=False), nl=False)
    click.echo("]}")
