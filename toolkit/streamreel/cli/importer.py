"""``streamreel import``: a HAR, nock, go-vcr or Ruby VCR recording, as a streamreel cassette."""

from __future__ import annotations

from pathlib import Path

import click

from streamreel.cassettes.storage import import_cassette
from streamreel.cli.exits import Unreadable
from streamreel.cli.inputs import STDIN, stdin_cassette
from streamreel.core.errors import StreamreelError
from streamreel.core.wording import counted


@click.command("import")
@click.argument(
    "source", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The cassette to write: YAML, or JSON for a .json path; it must not exist yet.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace OUTPUT if it exists (never SOURCE itself, under any spelling).",
)
def import_command(source: Path, output: Path, force: bool) -> None:
    """Convert SOURCE (HAR 1.2, nock JSON, a go-vcr or Ruby VCR cassette) into a cassette.

    HAR comes from Polly.JS or a browser; any vcrpy variant is read too.

    SOURCE may be - for standard input. An existing OUTPUT is refused unless --force is given,
    and OUTPUT may never be SOURCE itself, even spelled another way (a relative path, a
    symlink), since that would destroy the recording being imported. Exits with status 3 when
    SOURCE cannot be read, and 2 when OUTPUT cannot be written as asked.
    """
    read = stdin_cassette() if str(source) == STDIN else source
    try:
        cassette = import_cassette(read, output, overwrite=force)
    except StreamreelError as exc:
        if exc.path is not None and Path(exc.path) == output:
            raise click.UsageError(str(exc)) from None  # what -o/--force ask cannot be done
        raise Unreadable(str(exc)) from None
    click.echo(f"wrote {output} ({counted(len(cassette.interactions), 'interaction')})")
