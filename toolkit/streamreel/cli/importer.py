"""``streamreel import``: a HAR or nock recording, as a streamreel cassette."""

from __future__ import annotations

from pathlib import Path

import click

from streamreel.cassettes.storage import import_cassette
from streamreel.core.errors import StreamreelError


@click.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The cassette to write (YAML).",
)
def import_command(source: Path, output: Path) -> None:
    """Convert SOURCE (HAR 1.2 from Polly.JS or a browser, or nock JSON) into a cassette."""
    try:
        cassette = import_cassette(source, output)
    except StreamreelError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {output} ({len(cassette.interactions)} interactions)")
