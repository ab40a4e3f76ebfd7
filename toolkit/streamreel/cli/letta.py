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
    "[default: $STREAMREEL_LETTA_VENV, else ~/.cache/streamreel/letta-0.7.8; for 0.16.8 "
    "$STREAMREEL_LETTA_0_16_8_VENV, else ~/.cache/streamreel/letta-0.16.8]",
)
@click.option(
    "--version",
    "version",
    type=click.Choice(["0.7.8", "0.16.8", "all"]),
    default="0.7.8",
    show_default=True,
    help="Which Letta: 0.7.8 (--parser letta), 0.16.8 (--parser letta@0.16.8), or both.",
)
def install_letta_command(venv: Path | None, version: str) -> None:
    """Install Letta's interfaces in their own virtualenvs, for --parser letta[@VERSION].

    Letta's package imports its whole server and pins SDKs of its own, so each version gets a
    virtualenv with only what its streaming interfaces import; streamreel runs them there as
    worker processes. Needs PyPI; does nothing when they are already installed.
    """
    from streamreel.letta import sdk
    from streamreel.letta.real import install_letta

    if venv is not None and version == "all":
        raise click.UsageError("--venv names one virtualenv: give --version 0.7.8 or 0.16.8")

    def log(line: str) -> None:
        click.echo(f"$ {line}", err=True)

    try:
        if version in ("0.7.8", "all"):
            click.echo(str(install_letta(venv, log=log)))
        if version in ("0.16.8", "all"):
            click.echo(str(sdk.install(venv, log=log)))
    except StreamreelError as exc:
        raise click.ClickException(str(exc)) from None
