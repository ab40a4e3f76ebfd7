"""``streamreel install-letta``: the one command that makes ``--parser letta`` work."""

from __future__ import annotations

from pathlib import Path

import click

from streamreel.core.errors import StreamreelError


@click.command("install-letta")
@click.option(
    "--venv",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to build it. "
    "[default: $STREAMREEL_LETTA_VENV, else ~/.cache/streamreel/letta-0.7.8]",
)
def install_letta_command(venv: Path | None) -> None:
    """Install Letta 0.7.8's interface in its own virtualenv, for --parser letta.

    Letta pins openai<2 and its package imports its whole server, so it gets a virtualenv of
    its own with only what its streaming interface imports; streamreel runs it there as a
    worker process. Needs PyPI; does nothing when it is already installed.
    """
    from streamreel.letta.real import install_letta

    try:
        path = install_letta(venv, log=lambda line: click.echo(f"$ {line}", err=True))
    except StreamreelError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(str(path))
