"""The ``streamreel`` command: a thin layer over the library, one module per command.

The group knows its commands by name and loads a command's module only when that command
runs, so ``streamreel --help`` costs little more than importing click: the one-line summaries
it lists are kept here (``tests/test_cli.py`` checks them against each command's docstring).
"""

from __future__ import annotations

import importlib
import os
from typing import NamedTuple

import click

from streamreel._version import __version__
from streamreel.cli.exits import Exit, quiet_closed_output
from streamreel.cli.plugins import plugins_off


class _Entry(NamedTuple):
    module: str
    function: str
    summary: str


_COMMANDS: dict[str, _Entry] = {
    "audit": _Entry(
        "audit",
        "audit_command",
        "Scan PATHS (cassettes, or folders of them) for credentials and waste.",
    ),
    "bench": _Entry(
        "bench",
        "bench_command",
        "Measure replay speed against the json.loads floor and when streams double.",
    ),
    "diff": _Entry(
        "diff",
        "diff_command",
        "Replay CASSETTES through two parsers and show the messages that differ.",
    ),
    "drift": _Entry(
        "drift",
        "drift_command",
        "Send CASSETTES' requests again and report how the answers drifted from the recording.",
    ),
    "fuzz": _Entry(
        "fuzz",
        "fuzz_command",
        "Re-split every stream in CASSETTES at random points and compare the merged messages.",
    ),
    "import": _Entry(
        "importer",
        "import_command",
        "Convert SOURCE (HAR 1.2, nock JSON, a go-vcr or Ruby VCR cassette) into a cassette.",
    ),
    "install-letta": _Entry(
        "letta",
        "install_letta_command",
        "Install Letta's interfaces in their own virtualenvs, for --parser letta[@VERSION].",
    ),
    "inspect": _Entry(
        "inspect",
        "inspect_command",
        "Show CASSETTE's interactions: provider, API, status, stream features, chunks and timing.",
    ),
    "record": _Entry(
        "record",
        "record_command",
        "Record one session with a provider into a cassette, showing its messages as they stream.",
    ),
    "replay": _Entry(
        "replay",
        "replay_command",
        "Replay SOURCE and print the agent messages its streams produce.",
    ),
    "serve": _Entry(
        "serve",
        "serve_command",
        "Serve the interactions of SOURCES (cassettes or folders of them) as a live endpoint.",
    ),
    "textconv": _Entry(
        "textconv",
        "textconv_command",
        "Print FILE as its requests and replayed agent messages, for git diff.",
    ),
}


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        from streamreel.core.collector import paused  # here: --help loads nothing of core

        try:
            # A command's imports only build (modules, classes, pydantic's models): none of it
            # is garbage, and the collector's passes over it were a twentieth of a short run.
            with paused():
                module = importlib.import_module(f"streamreel.cli.{entry.module}")
        except ImportError as exc:
            from streamreel.core.errors import MissingExtraError

            if isinstance(exc, MissingExtraError):  # a command whose extra is not installed
                raise click.ClickException(str(exc)) from None
            raise
        command = getattr(module, entry.function)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> object:
        # The convention of streamreel.cli.exits: Ctrl-C and a reader that went away end the
        # run at once, with the status a shell would show for the signal and no traceback.
        try:
            with plugins_off():
                return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\nstreamreel: interrupted", err=True)
            raise click.exceptions.Exit(Exit.INTERRUPTED) from None
        except BrokenPipeError:
            quiet_closed_output()
            raise click.exceptions.Exit(Exit.PIPE_CLOSED) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        width = formatter.width - 6 - max(len(name) for name in _COMMANDS)
        rows = [
            (name, click.Command(name, help=entry.summary).get_short_help_str(width))
            for name, entry in sorted(_COMMANDS.items())
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="streamreel")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Record, replay and snapshot-test LLM provider streams.

    Streams are replayed through a Letta-compatible streaming interface that turns provider
    chunks into agent messages: reasoning, tool calls, assistant text and tool returns.
    Set NO_COLOR to any value to turn colour off.
    """
    if os.environ.get("NO_COLOR"):
        # Every command's context inherits this, and click strips styles from all it echoes.
        ctx.color = False


__all__ = ["main"]
