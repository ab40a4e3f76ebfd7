"""``streamreel replay``: a cassette or a chunk file, through the streaming interface."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from streamreel.cli.collector import collector_paused
from streamreel.cli.options import (
    format_option,
    interface_options,
    parse_date,
    resolve_format,
    settings_from,
)
from streamreel.cli.progress import bar, to, writing
from streamreel.cli.render import (
    render_jsonl,
    render_sse,
    render_sse_events,
    render_table,
    write_blocks,
)
from streamreel.core.errors import StreamreelError
from streamreel.core.messages import ErrorMessage, UsageStatistics, merge_deltas
from streamreel.core.results import ErrorEntry, InteractionResult
from streamreel.playback.replay import ReplaySteps, replay_chunk_file

CHUNK_FILE_SUFFIXES = {".jsonl", ".ndjson", ".txt"}


class _Printed:
    """What the printed interactions held that decides the exit status and the notes after."""

    def __init__(self) -> None:
        self.count = 0
        self.failed: list[ErrorEntry] = []
        self.error_message = False

    def add(self, interaction: InteractionResult) -> None:
        self.count += 1
        self.failed += [e for e in interaction.errors if e.kind in ("decode", "stream", "http")]
        self.error_message = self.error_message or any(
            isinstance(m, ErrorMessage) for m in interaction.messages
        )


def _print(
    results: Iterable[InteractionResult],
    usage: Callable[[], UsageStatistics],
    output_format: str,
    merge: bool,
    *,
    wanted: tuple[int, ...],
) -> _Printed:
    """Print each interaction as it is replayed, then the usage; hold none of them after.

    A logical message never spans interactions (each is its own LLM call), so merging each
    interaction's messages gives what merging the whole stream gives.
    """
    printed = _Printed()
    for interaction in results:
        printed.add(interaction)
        with writing():
            _print_one(interaction, output_format, merge)
    if wanted and not printed.count:
        raise click.BadParameter(f"the cassette has no interaction {list(wanted)}")
    with writing():
        if output_format == "table":
            click.echo(render_table([], usage()))
        elif output_format == "sse":
            write_blocks(render_sse([], usage()), end="")
    return printed


def _print_one(interaction: InteractionResult, output_format: str, merge: bool) -> None:
    if output_format == "table":
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
        return
    shown = interaction.merged if merge else interaction.messages
    if output_format == "jsonl":
        write_blocks(render_jsonl(shown))
    else:
        write_blocks(render_sse_events(shown), end="")


@click.command("replay")
@collector_paused
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
    shown_merged = fmt == "table" if merge is None else merge
    settings = settings_from(knobs)
    expect = knobs["expect_reasoning_content"]
    size = source.stat().st_size
    try:
        with bar(size, source.name, unit="B", unit_scale=True) as meter:
            if source.suffix.lower() in CHUNK_FILE_SUFFIXES:
                result = replay_chunk_file(
                    source,
                    settings=settings,
                    expect_reasoning_content=expect,
                    message_id=message_id,
                    message_date=message_date,
                    progress=lambda read: to(meter, read),
                )
                printed = _print(
                    result.interactions, lambda: result.usage, fmt, shown_merged, wanted=()
                )
            else:
                steps = ReplaySteps(
                    source,
                    settings=settings,
                    expect_reasoning_content=expect,
                    interactions=interactions or None,
                    provider=provider,
                    api=api,
                    message_id=message_id,
                    message_date=message_date,
                    lean=True,
                    progress=lambda read: to(meter, read),
                )
                printed = _print(
                    _with_tail(steps, fmt, shown_merged),
                    lambda: _usage(steps),
                    fmt,
                    shown_merged,
                    wanted=interactions,
                )
    except StreamreelError as exc:
        raise click.ClickException(str(exc)) from None
    for error in printed.failed:
        if fmt != "table" or error.kind == "decode":
            click.secho(f"streamreel: {error.describe()}", fg="red", err=True)
    if printed.failed or printed.error_message:
        raise SystemExit(1)


def _with_tail(steps: ReplaySteps, output_format: str, merge: bool) -> Iterator[InteractionResult]:
    """The steps as they come; the parser's last words, if any, are printed after them."""
    yield from steps
    if steps.tail and output_format != "table":
        shown = merge_deltas(steps.tail) if merge else steps.tail
        if output_format == "jsonl":
            write_blocks(render_jsonl(shown))
        else:
            write_blocks(render_sse_events(shown), end="")
    elif steps.tail:
        click.echo(render_table(merge_deltas(steps.tail) if merge else steps.tail))


def _usage(steps: ReplaySteps) -> UsageStatistics:
    assert steps.usage is not None  # set once every interaction was replayed
    return steps.usage
