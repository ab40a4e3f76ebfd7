"""``streamreel inspect``: what a cassette holds, interaction by interaction."""

from __future__ import annotations

from pathlib import Path

import click

from streamreel.cassettes.storage import load_cassette
from streamreel.cli.exits import Unreadable
from streamreel.core.errors import StreamreelError
from streamreel.core.results import InteractionResult
from streamreel.playback.replay import replay


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _line(result: InteractionResult) -> str:
    kind = result.kind
    what = f"{kind.provider} {kind.api} ({kind.framing})" if kind else "unrecognised"
    timing = result.timing
    rate = "-" if timing.chunks_per_second is None else f"{timing.chunks_per_second:,.1f}/s"
    return (
        f"[{result.index}] {result.request.method} {result.request.url}\n"
        f"    {what}, model {result.request.model or '-'}, HTTP {result.status},"
        f" {len(result.chunks)} chunks, {len(result.merged)} messages\n"
        f"    first chunk {_ms(timing.time_to_first_chunk_ms)}, duration"
        f" {_ms(timing.duration_ms)}, {rate}\n"
        f"    features: {', '.join(result.features) or '-'}"
    )


@click.command("inspect")
@click.argument("cassette", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def inspect_command(cassette: Path) -> None:
    """Show CASSETTE's interactions: provider, API, status, stream features, chunks and timing.

    Exits with status 3 when CASSETTE cannot be read.
    """
    try:
        loaded = load_cassette(cassette)
        result = replay(loaded)
    except StreamreelError as exc:
        raise Unreadable(str(exc)) from None
    info = loaded.info
    click.secho(f"{cassette}: {len(result.interactions)} interactions", bold=True)
    click.echo(
        f"    written by {info.source}"
        + (f" {info.tool_version}" if info.tool_version else "")
        + (f", recorded {info.recorded_at:%Y-%m-%d %H:%M}" if info.recorded_at else "")
        + (f" against {info.recorded_against}" if info.recorded_against else "")
    )
    for interaction in result.interactions:
        click.echo(_line(interaction))
        for error in interaction.errors:
            click.secho(f"    ! {error.describe()}", fg="yellow")
