"""``streamreel inspect``: what a cassette holds, interaction by interaction."""

from __future__ import annotations

from pathlib import Path

import click

from streamreel.cassettes.reader import CassetteReader
from streamreel.cli.collector import collector_paused
from streamreel.cli.exits import Unreadable
from streamreel.cli.progress import bar, to, writing
from streamreel.core.errors import StreamreelError
from streamreel.core.results import InteractionResult
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
        f" {len(result.chunks)} chunks, {len(result.merged)} messages\n"
        f"    first chunk {_ms(timing.time_to_first_chunk_ms)}, duration"
        f" {_ms(timing.duration_ms)}, {rate}\n"
        f"    features: {', '.join(result.features) or '-'}"
    )


@click.command("inspect")
@collector_paused
@click.argument("cassette", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def inspect_command(cassette: Path) -> None:
    """Show CASSETTE's interactions: provider, API, status, stream features, chunks and timing.

    Exits with status 3 when CASSETTE cannot be read.
    """
    try:
        with bar(cassette.stat().st_size, cassette.name, unit="B", unit_scale=True) as meter:
            _inspect(cassette, CassetteReader(cassette, progress=lambda read: to(meter, read)))
    except StreamreelError as exc:
        raise Unreadable(str(exc)) from None


def _inspect(cassette: Path, reader: CassetteReader) -> None:
    """Print the header, then each interaction's line as soon as it is replayed."""
    # One interaction at a time: its line is printed and it is let go before the next.
    steps = ReplaySteps(reader, lean=True)
    info, count = reader.info, reader.count()
    click.secho(f"{cassette}: {count} interactions", bold=True)
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
