"""``streamreel serve``: recorded interactions as a live provider endpoint on loopback."""

from __future__ import annotations

from pathlib import Path

import click

from streamreel.cli.exits import Unreadable
from streamreel.cli.inputs import expand_inputs
from streamreel.core.errors import StreamreelError
from streamreel.recording.emulator import serve


@click.command("serve")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=0, show_default=True, help="The port (0: pick a free one).")
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Pace as a factor of the recorded timing: 1 as recorded, 2 twice as slow, 0 at once.",
)
@click.option(
    "--disconnect-after",
    type=click.IntRange(min=0),
    help="Fault: cut every stream after N chunks.",
)
@click.option(
    "--error-after",
    type=click.IntRange(min=0),
    help="Fault: end every stream after N chunks with the recorded API's own error.",
)
def serve_command(
    sources: tuple[Path, ...],
    host: str,
    port: int,
    speed: float,
    disconnect_after: int | None,
    error_after: int | None,
) -> None:
    """Serve the interactions of SOURCES (cassettes or folders of them) as a live endpoint.

    OpenAI, Anthropic and OpenAI-compatible clients in any language can point their base URL at
    it: requests are matched on method, path and body, and each recorded stream is sent chunk by
    chunk at its recorded pace. Stop it with Ctrl-C (status 130). A cassette that cannot be
    read exits with status 3, before anything is served.
    """

    expand_inputs(sources, chunk_files=False)  # a folder with no cassettes is a usage error

    def ready(url: str) -> None:
        click.echo(f"serving {len(sources)} source(s) at {url}", err=True)
        click.echo(url)

    try:
        serve(
            list(sources),
            host=host,
            port=port,
            speed=speed,
            disconnect_after=disconnect_after,
            error_after=error_after,
            on_ready=ready,
        )
    except StreamreelError as exc:
        raise Unreadable(str(exc)) from None
