"""``streamreel textconv``: a cassette as review text, for ``git diff``."""

from __future__ import annotations

from pathlib import Path

import click

from streamreel.cli.exits import Unreadable
from streamreel.core.errors import StreamreelError


@click.command("textconv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def textconv_command(file: Path) -> None:
    """Print FILE as its requests and replayed agent messages, for git diff.

    Per interaction: the request (method, URL, model, message count, last user turn, tools) and
    the merged messages the replay makes, with ids, otids, dates and tool-call ids as numbered
    placeholders and no timing, so re-recording the same conversation prints the same text.
    Wire it into git with

    \b
      git config diff.streamreel.textconv "streamreel textconv"
      echo 'cassettes/*.yaml diff=streamreel' >> .gitattributes

    and `git diff` shows what a cassette change does in agent terms.
    """
    from streamreel.testing.review import cassette_text

    try:
        text = cassette_text(file)
    except StreamreelError as exc:
        raise Unreadable(str(exc)) from None
    click.echo(text, nl=False)
