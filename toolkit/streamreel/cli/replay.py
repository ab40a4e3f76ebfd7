"""``streamreel replay``: a cassette or a chunk file, through the streaming interface."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from streamreel.cassettes.discovery import file_kind, is_cassette, is_chunk_file
from streamreel.cli.collector import collector_paused
from streamreel.cli.exits import Exit, Unreadable
from streamreel.cli.inputs import STDIN, STDIN_PATH, read_stdin
from streamreel.cli.options import (
    factory_option,
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
from streamreel.core.errors import CassetteError, ConfigurationError, StreamreelError
from streamreel.core.messages import (
    AgentMessage,
    ErrorMessage,
    ForeignMessage,
    UsageStatistics,
    merge_deltas,
    reports_error,
)
from streamreel.core.results import ErrorEntry, InteractionResult, ReplayResult
from streamreel.core.wording import counted
from streamreel.playback.replay import ReplaySteps, replay_chunk_file

if TYPE_CHECKING:
    from streamreel.cassettes.reader import CassetteReader
    from streamreel.core.cassette import Cassette

_HEAD = 64 * 1024  # enough of a file of unknown kind to tell a chunk file from a cassette

# What each kind of error entry says about the stream, for the note and the exit status.
_UNSUPPORTED = frozenset({"unsupported"})
_INCOMPLETE = frozenset({"incomplete", "truncated", "decode"})
# A provider error replayed, or the parser under test giving up on a stream: an error shown.
_FAILED = frozenset({"http", "stream", "parser"})
# The only kinds of message that can report an error (see reports_error): one check per message,
# in C, picks them out of an interaction's thousands before reports_error looks at them.
MAY_REPORT_ERROR = (ErrorMessage, ForeignMessage)


def _print(
    results: Iterable[InteractionResult],
    usage: Callable[[], UsageStatistics],
    output_format: str,
    merge: bool,
) -> list[InteractionResult]:
    """Print each interaction as it is replayed, then the usage; hold none of them after.

    What is kept of each (its request, errors and error messages, for the notes and the exit
    status) is returned. A logical message never spans interactions (each is its own LLM
    call), so merging each interaction's messages gives what merging the whole stream gives.
    """
    kept: list[InteractionResult] = []
    for interaction in results:
        with writing():
            _print_one(interaction, output_format, merge)
        errors: list[AgentMessage] = [
            m for m in interaction.messages if isinstance(m, MAY_REPORT_ERROR) and reports_error(m)
        ]
        kept.append(dataclasses.replace(interaction, chunks=[], messages=errors))
    with writing():
        if output_format == "table":
            click.echo(render_table([], usage()))
        elif output_format == "sse":
            write_blocks(render_sse([], usage()), end="")
    return kept


def _print_one(interaction: InteractionResult, output_format: str, merge: bool) -> None:
    shown = interaction.merged if merge else interaction.messages
    if output_format == "table":
        req = interaction.request
        what = " ".join(p for p in (req.provider, req.api, req.model) if p) or "chunks"
        note = _note(interaction)
        state = f"  [{_label(note)}]" if note is not None else ""
        click.secho(
            f"-- interaction {interaction.index}: {req.method} {req.url}  ({what}, HTTP"
            f" {interaction.status}, {counted(len(interaction.chunks), 'chunk')}){state}",
            bold=True,
        )
        if shown:
            click.echo(render_table(shown))
    elif output_format == "jsonl":
        write_blocks(render_jsonl(shown))
    else:
        write_blocks(render_sse_events(shown), end="")


def _with_tail(steps: ReplaySteps, output_format: str, merge: bool) -> Iterator[InteractionResult]:
    """The steps as they come; the parser's last words, if any, are printed after them."""
    yield from steps
    if steps.tail:
        shown = merge_deltas(steps.tail) if merge else steps.tail
        with writing():
            if output_format == "table":
                click.echo(render_table(shown))
            elif output_format == "jsonl":
                write_blocks(render_jsonl(shown))
            else:
                write_blocks(render_sse_events(shown), end="")


def _usage(steps: ReplaySteps) -> UsageStatistics:
    assert steps.usage is not None  # set once every interaction was replayed
    return steps.usage


def _note(interaction: InteractionResult) -> ErrorEntry | None:
    """The entry that makes this interaction unsupported or incomplete, if one does."""
    for kinds in (_UNSUPPORTED, _INCOMPLETE):
        for error in interaction.errors:
            if error.kind in kinds:
                return error
    return None


def _label(note: ErrorEntry) -> str:
    return "unsupported" if note.kind in _UNSUPPORTED else "incomplete"


def _status(result: ReplayResult) -> Exit:
    kinds = {error.kind for error in result.errors}
    if kinds & _UNSUPPORTED:
        return Exit.UNSUPPORTED
    if kinds & _INCOMPLETE:
        return Exit.INCOMPLETE
    # A foreign parser's own error record (Letta 0.16.8's, say) is an error replayed too.
    if kinds & _FAILED or any(reports_error(m) for m in result.messages):
        return Exit.FAILED
    return Exit.OK


def _report(result: ReplayResult, name: str, output_format: str) -> None:
    """One line on stderr per interaction that is unsupported or incomplete, and per fault."""
    for interaction in result.interactions:
        request = f"{interaction.request.method} {interaction.request.url}".strip()
        note = _note(interaction)
        if note is not None:
            label = _label(note)
            said = note.describe()
            if not said.startswith(label):
                said = f"{label}: {said}"
            click.secho(
                f"streamreel: {name}: interaction {interaction.index} ({request}): {said}",
                fg="yellow",
                err=True,
            )
        if output_format == "table":
            continue  # the table already shows provider errors as error messages
        for error in interaction.errors:
            if error.kind in _FAILED:
                click.secho(f"streamreel: {error.describe()}", fg="red", err=True)


def _read_source(source: str) -> tuple[Path, str | None]:
    """The path that names SOURCE, and its text when it must be read here (stdin, no suffix)."""
    if source == STDIN:
        return STDIN_PATH, read_stdin()
    return Path(source), None


def _head(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8", errors="replace") as stream:
            return stream.read(_HEAD)
    except OSError:
        return None  # load_cassette reports it


def _pick(count: int, name: str, chosen: tuple[int, ...]) -> None:
    missing = [index for index in chosen if not 0 <= index < count]
    if not missing:
        return
    have = "none" if not count else "index 0" if count == 1 else f"indexes 0 to {count - 1}"
    shown = ", ".join(str(index) for index in missing)
    raise click.BadParameter(
        f"cannot replay interaction {shown}: expected one of {name}'s {count} interaction"
        f"{'s' if count != 1 else ''} ({have}), got {shown}; pick one in range",
        param_hint="'--interaction'",
    )


@click.command("replay")
@collector_paused
@click.argument("source", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
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
@click.option(
    "--choice",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Which choice of a stream with several (a request with n > 1) is the agent's step.",
)
def replay_command(
    source: str,
    interactions: tuple[int, ...],
    output_format: str | None,
    merge: bool | None,
    parser_spec: str | None,
    provider: str | None,
    api: str | None,
    message_id: str | None,
    message_date: datetime | None,
    choice: int,
    **knobs: Any,
) -> None:
    """Replay SOURCE and print the agent messages its streams produce.

    SOURCE is a cassette (streamreel's, any vcrpy variant, HAR, nock, go-vcr or Ruby VCR), a
    chunk file (.jsonl: one chat.completion.chunk a line; a 'data: ' prefix, blank lines and
    [DONE] are fine), or - for standard input (either kind, told apart by its first line). An
    interaction that is unsupported or incomplete gets a one-line note on stderr naming it.

    \b
    Exit status (the highest that applies):
      0  every interaction replayed in full
      1  an error was replayed: the provider's (an HTTP error, an error in the
         stream) or the parser's own (it raised on a chunk)
      2  usage error (a bad option, a missing file, no such --interaction
         or --choice)
      3  SOURCE could not be read (not a cassette or chunk file, not text,
         damaged, or empty)
      4  a stream is incomplete: cut before its end, or damaged part-way
      5  a stream streamreel does not adapt, so nothing of it was replayed
      130 interrupted (Ctrl-C); 141 standard output closed early (| head)
    """
    fmt = resolve_format(output_format)
    parser = factory_option(parser_spec)
    settings = settings_from(knobs)
    expect = knobs["expect_reasoning_content"]
    path, text = _read_source(source)
    name = str(path)
    known = is_cassette(path) or is_chunk_file(path)
    head = text if text is not None or known else _head(path)
    merged = fmt == "table" if merge is None else merge
    size = len(text) if text is not None else path.stat().st_size
    try:
        with bar(size, path.name, unit="B", unit_scale=True) as meter:
            if file_kind(path, head) == "chunks":
                whole = replay_chunk_file(
                    path,
                    settings=settings,
                    parser=parser,
                    expect_reasoning_content=expect,
                    message_id=message_id,
                    message_date=message_date,
                    choice=choice,
                    text=text,
                    progress=lambda read: to(meter, read),
                    lean=True,
                )
                kept = _print(whole.interactions, lambda: whole.usage, fmt, merged)
                usage, settings_used = whole.usage, whole.settings
            else:
                # A file is read and replayed one interaction at a time, each printed and let
                # go before the next: a cassette of any size needs the memory of one of them.
                # Their readers (and YAML) are loaded here: a chunk file needs neither.
                from streamreel.cassettes.reader import CassetteReader
                from streamreel.cassettes.storage import loads_cassette

                source_read: Cassette | CassetteReader
                if text is not None:
                    source_read = loads_cassette(text, path=path)
                    count = len(source_read.interactions)
                else:
                    source_read = CassetteReader(path, progress=lambda read: to(meter, read))
                    count = source_read.count()
                if not count:
                    # As an empty chunk file is: a replay that prints nothing and succeeds
                    # would pass a script or CI step that meant to replay something.
                    raise CassetteError(
                        "cannot replay cassette: expected at least one interaction, got none;"
                        " record it again, or check that the path names the cassette meant",
                        path=path,
                    )
                _pick(count, name, interactions)
                steps = ReplaySteps(
                    source_read,
                    settings=settings,
                    parser=parser,
                    expect_reasoning_content=expect,
                    interactions=interactions or None,
                    provider=provider,
                    api=api,
                    message_id=message_id,
                    message_date=message_date,
                    choice=choice,
                    lean=True,
                )
                kept = _print(_with_tail(steps, fmt, merged), lambda: _usage(steps), fmt, merged)
                usage, settings_used = _usage(steps), steps.settings
    except ConfigurationError as exc:  # a choice the stream does not have
        raise click.UsageError(f"{name}: {exc}") from None
    except StreamreelError as exc:
        raise Unreadable(str(exc)) from None
    result = ReplayResult(path=path, settings=settings_used, interactions=kept, usage=usage)
    sys.stdout.flush()
    _report(result, name, fmt)
    status = _status(result)
    if status != Exit.OK:
        raise SystemExit(int(status))
