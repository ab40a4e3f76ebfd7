"""``streamreel drift``: send recorded requests again and report what the provider changed."""

from __future__ import annotations

from pathlib import Path

import click

from streamreel.cli.exits import Exit
from streamreel.core.errors import StreamreelError


@click.command("drift")
@click.argument("cassettes", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--base-url",
    required=True,
    metavar="URL",
    help="Where to send the requests: the provider (https://api.openai.com) or any "
    "compatible server.",
)
@click.option(
    "--update",
    is_flag=True,
    help="Replace each cassette that drifted with the new recording.",
)
@click.option(
    "--timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
def drift_command(cassettes: tuple[Path, ...], base_url: str, update: bool, timeout: float) -> None:
    """Send CASSETTES' requests again and report how the answers drifted from the recording.

    Each recorded request goes to --base-url with its method, path, query and body;
    credentials come from the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY,
    CO_API_KEY, by host) and are never written. The answers are recorded, scrubbed, beside
    each cassette as NAME.drift.yaml, and compared at three levels: the wire schema per event
    type (event types new or vanished; fields added, removed, retyped), the framing (event
    names, terminator, usage record, events and tool-call argument pieces), and the agent
    messages (as the snapshots compare them). A folder means the cassettes beneath it.

    \b
    Exit status (the highest that applies):
      0  nothing drifted
      1  a cassette drifted
      2  usage error
      3  a cassette could not be read or its requests could not be sent
    """
    import httpx

    from streamreel.cassettes.discovery import expand
    from streamreel.testing.drift import compare, resend
    from streamreel.testing.drift import update as replace_cassette

    status = Exit.OK
    for path in expand(cassettes):
        if ".drift." in path.name:
            continue
        try:
            recording = resend(path, base_url, timeout=timeout)
            report = compare(path, recording)
        except (StreamreelError, OSError) as exc:
            click.secho(f"{path}: cannot check drift: {exc}", fg="red", err=True)
            status = max(status, Exit.UNREADABLE)
            continue
        except httpx.HTTPError as exc:  # the server could not be reached, or hung up
            reason = f"{type(exc).__name__}: {exc}"
            click.secho(f"{path}: cannot send its requests: {reason}", fg="red", err=True)
            status = max(status, Exit.UNREADABLE)
            continue
        if not report.drifted:
            click.echo(f"{path}: no drift ({recording.name} recorded)")
            continue
        status = max(status, Exit.FAILED)
        click.secho(
            f"{path}: {len(report.findings)} findings ({recording.name} recorded)", bold=True
        )
        for finding in report.findings:
            click.echo(f"  {finding}")
        if update:
            replace_cassette(path)
            click.echo(f"{path}: replaced with the new recording")
    if status:
        raise SystemExit(int(status))
