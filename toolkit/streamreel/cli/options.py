"""Options several commands share: the interface's knobs, the parser and the output format."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from streamreel.core.parser import InterfaceSettings

if TYPE_CHECKING:
    from streamreel.playback.replay import ParserFactory

F = TypeVar("F", bound=Callable[..., Any])


def interface_options(command: F) -> F:
    """The streaming interface's knobs, defaulting to how Letta's server runs it."""
    decorators = [
        click.option(
            "--use-assistant-message/--no-use-assistant-message",
            default=True,
            show_default=True,
            help="Show the assistant tool's text as assistant messages.",
        ),
        click.option(
            "--inner-thoughts-in-kwargs/--no-inner-thoughts-in-kwargs",
            default=True,
            show_default=True,
            help="Read inner thoughts from a keyword argument of every tool call.",
        ),
        click.option(
            "--expect-reasoning-content/--no-expect-reasoning-content",
            default=None,
            help="Reasoning arrives separately, so content is a JSON tool call (DeepSeek). "
            "Default: off; with --parser letta, per provider as Letta's server passes it.",
        ),
        click.option(
            "--assistant-message-tool-name",
            default="send_message",
            show_default=True,
            help="The tool whose calls are the agent speaking.",
        ),
        click.option(
            "--assistant-message-tool-kwarg",
            default="message",
            show_default=True,
            help="That tool's argument holding the text.",
        ),
        click.option(
            "--inner-thoughts-kwarg",
            default="inner_thoughts",
            show_default=True,
            help="The argument holding the inner thoughts.",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def settings_from(options: dict[str, Any]) -> InterfaceSettings:
    return InterfaceSettings(
        use_assistant_message=options["use_assistant_message"],
        assistant_message_tool_name=options["assistant_message_tool_name"],
        assistant_message_tool_kwarg=options["assistant_message_tool_kwarg"],
        inner_thoughts_in_kwargs=options["inner_thoughts_in_kwargs"],
        inner_thoughts_kwarg=options["inner_thoughts_kwarg"],
    )


def format_option(command: F) -> F:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["table", "jsonl", "sse"]),
        default=None,
        help="table: readable (the default on a terminal); jsonl: one wire-JSON message a line;"
        " sse: the wire stream.  [default: table on a terminal, else jsonl]",
    )(command)


def resolve_format(chosen: str | None) -> str:
    if chosen is not None:
        return chosen
    return "table" if sys.stdout.isatty() else "jsonl"


def parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """``--message-date``: seconds since the epoch, or an ISO 8601 date (UTC when naive)."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"expected seconds since the epoch or an ISO 8601 date, got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def factory_option(value: str | None) -> ParserFactory | None:
    """Load ``MODULE:FACTORY``; MODULE may live in the current directory, as with ``python -m``."""
    if value is None:
        return None
    from streamreel.core.errors import ConfigurationError
    from streamreel.playback.factories import load_factory

    here = str(Path.cwd())
    if here not in sys.path:
        # An installed console script does not put the working directory on sys.path.
        sys.path.insert(0, here)
    try:
        return load_factory(value)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc)) from None
