"""``streamreel replay``: a cassette or a chunk file, through the streaming interface."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from streamreel.cli.diff import factory_option
from streamreel.cli.options import (
    format_option,
    interface_options,
    parse_date,
    resolve_format,
    settings_from,
)
from streamreel.cli.render import render_jsonl, render_sse, render_table
from streamreel.core.errors import StreamreelError
from streamreel.core.messages import ErrorMessage
from streamreel.core.results import ReplayResult
from streamreel.playback.replay import replay, replay_chunk_file

CHUNK_FILE_SUFFIXES = {".jsonl", ".ndjson", ".txt"}


def _print(result: ReplayResult, output_format: str, merge: bool) -> None:
    if output_format == "table":
        for interaction in result.interactions:
            req = interaction.request
            what = " ".join(p for p in (req.provider, req.api, req.model) if p) or "chunks"
            state = "" if interaction.complete else "  [incomplete]"
            click.secho(
                f"-- interaction {interaction.index}: {req.method} {req.url}  ({what}, HTTP"
                f" {interaction.status}, {len(interaction.chunks)} chunks){state}",
                bold=True,
            )
            shown = interaction.merged if merge else interaction.messages
            if shown:
                click.echo(render_table(shown))
            for error in interaction.errors:
                if error.kind in ("unsupported", "truncated", "incomplete"):
                    click.secho(f"   {error.describe()}", fg="yellow")
        click.echo(render_table([], result.usage))
        return
    shown = result.merged if merge else result.messages
    lines = render_jsonl(shown) if output_format == "jsonl" else render_sse(shown, result.usage)
    for line in lines:
        click.echo(line, nl=output_format == "jsonl")


@click.command("replay")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--interaction",
    "-i",
    "interactions",
    type=int,
    multiple=True,
    help="Replay only interaction N (from 0, in file order); repeatable.",
)
@format_option
@click.option(
    "--merge/--no-merge",
    default=None,
    help="Join the deltas of each message. [default: merged for table, deltas otherwise]",
)
@interface_options
@click.option(
    "--parser",
    "parser_spec",
    metavar="MODULE:FACTORY",
    help="Replay through this parser: a callable taking InterfaceSettings, or letta for Letta "
    "0.7.8's own. [default: streamreel's]",
)
@click.option("--provider", help="Override the detected provider (openai, anthropic, ...).")
@click.option("--api", help="Override the detected API (chat-completions, messages, ...).")
@click.option("--message-id", help="The message id of the first LLM call (otherwise derived).")
@click.option(
    "--message-date",
    callback=parse_date,
    metavar="EPOCH_OR_ISO",
    help="The messages' date (otherwise the recording's).",
)
def replay_command(
    source: Path,
    interactions: tuple[int, ...],
    output_format: str | None,
    merge: bool | None,
    parser_spec: str | None,
    provider: str | None,
    api: str | None,
    message_id: str | None,
    message_date: datetime | None,
    **knobs: Any,
) -> None:
    """Replay SOURCE and print the agent messages its streams produce.

    SOURCE is a cassette (streamreel's, any vcrpy variant, HAR or nock) or a chunk file
    (.jsonl: one chat.completion.chunk a line; a 'data: ' prefix, blank lines and [DONE]
    are fine). Exits with status 1 when a stream held an error.
    """
    fmt = resolve_format(output_format)
    parser = factory_option(parser_spec)
    settings = settings_from(knobs)
    expect = knobs["expect_reasoning_content"]
    try:
        if source.suffix.lower() in CHUNK_FILE_SUFFIXES:
            result = replay_chunk_file(
                source,
                settings=settings,
                parser=parser,
                expect_reasoning_content=expect,
                message_id=message_id,
                message_date=message_date,
            )
        else:
            result = replay(
                source,
                settings=settings,
                parser=parser,
                expect_reasoning_content=expect,
                interactions=interactions or None,
                provider=provider,
                api=api,
                message_id=message_id,
                message_date=message_date,
            )
    except StreamreelError as exc:
        raise click.ClickException(str(exc)) from None
    if interactions and not result.interactions:
        raise click.BadParameter(f"the cassette has no interaction {list(interactions)}")
    _print(result, fmt, fmt == "table" if merge is None else merge)
    failed = [e for e in result.errors if e.kind in ("decode", "stream", "http")]
    for error in failed:
        if fmt != "table" or error.kind == "decode":
            click.secho(f"streamreel: {error.describe()}", fg="red", err=True)
    if failed or any(isinstance(m, ErrorMessage) for m in result.messages):
        raise SystemExit(1)
