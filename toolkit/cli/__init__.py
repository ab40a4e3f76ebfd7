"""The ``streamreel`` command: a thin layer over the library, one module per command."""

from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="streamreel")
def main() -> None:
    """Record, replay and snapshot-test LLM provider streams.

    Streams are replayed through a Letta-compatible streaming interface that turns provider
    chunks into agent messages: reasoning, tool calls, assistant text and tool returns.
    """


# Each module adds its command to ``main`` when imported.
from . import bench, diff, fuzz, importer, inspect, record, replay, serve  # noqa: E402, F401

__all__ = ["main"]
