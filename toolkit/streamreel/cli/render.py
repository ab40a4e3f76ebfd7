"""How the commands print messages: a readable table, wire-JSON lines, or the SSE wire stream."""

from __future__ import annotations

import contextlib
import json
import textwrap
from collections.abc import Iterable, Iterator
from itertools import islice

import click

from streamreel.core.messages import (
    AgentMessage,
    AssistantMessage,
    ErrorMessage,
    ForeignMessage,
    HiddenReasoningMessage,
    ReasoningMessage,
    SystemMessage,
    ToolCallMessage,
    ToolReturnMessage,
    UsageStatistics,
    UserMessage,
    to_sse,
    to_wire,
)

_LABEL_WIDTH = 12
_TEXT_WIDTH = 84


def label(message: AgentMessage) -> str:
    """The short kind a message is shown under, in the table and in the live view."""
    if isinstance(message, ReasoningMessage):
        return "reasoning" if message.source == "non_reasoner_model" else "thinking"
    if isinstance(message, HiddenReasoningMessage):
        return "hidden"
    if isinstance(message, AssistantMessage):
        return "assistant"
    if isinstance(message, ToolCallMessage):
        return "tool call"
    if isinstance(message, ToolReturnMessage):
        return f"return {message.status}"
    if isinstance(message, UserMessage | SystemMessage):
        return message.message_type.removesuffix("_message")
    if isinstance(message, ErrorMessage):
        return "ERROR"
    if isinstance(message, ForeignMessage):
        return message.message_type.removesuffix("_message")
    raise AssertionError(f"unknown message type {type(message).__name__}")


def _text(message: AgentMessage) -> str:
    if isinstance(message, ReasoningMessage):
        signature = f"\n[signature {message.signature[:16]}...]" if message.signature else ""
        return message.reasoning + signature
    if isinstance(message, HiddenReasoningMessage):
        return f"[{message.state}] {message.hidden_reasoning or ''}".rstrip()
    if isinstance(message, ToolCallMessage):
        call = message.tool_call
        head = " ".join(
            p for p in (call.name, f"({call.tool_call_id})" if call.tool_call_id else None) if p
        )
        arguments = call.arguments or ""
        with contextlib.suppress(ValueError, RecursionError):  # not JSON: show it as it came
            arguments = json.dumps(json.loads(arguments), ensure_ascii=False, indent=2)
        return f"{head}\n{arguments}".strip()
    if isinstance(message, ToolReturnMessage):
        return message.tool_return
    if isinstance(message, ErrorMessage):
        return message.error
    if isinstance(message, ForeignMessage):
        return message.text
    return message.content


def render_table(messages: Iterable[AgentMessage], usage: UsageStatistics | None = None) -> str:
    """One block per message: its kind, then its text wrapped and indented beneath."""
    lines: list[str] = []
    indent = " " * (_LABEL_WIDTH + 1)
    for message in messages:
        kind, text = label(message), _text(message)
        body: list[str] = []
        for paragraph in text.split("\n"):
            body.extend(_wrapped(paragraph))
        lines.append(f"{kind:<{_LABEL_WIDTH}} {body[0]}".rstrip())
        lines.extend(f"{indent}{line}".rstrip() for line in body[1:])
    if usage is not None:
        lines.append(
            f"{'usage':<{_LABEL_WIDTH}} {usage.prompt_tokens} prompt + {usage.completion_tokens}"
            f" completion = {usage.total_tokens} tokens, {usage.step_count} step"
            + ("s" if usage.step_count != 1 else "")
        )
    return "\n".join(lines)


def _wrapped(paragraph: str) -> list[str]:
    """The lines of one paragraph, at most the table's width each (before the lines' trailing
    whitespace is stripped)."""
    # A delta is a few words: one that fits is its own line. textwrap would give the same line,
    # less trailing whitespace that the table strips anyway, for forty times the cost.
    if len(paragraph) <= _TEXT_WIDTH and "\t" not in paragraph:
        return [paragraph]
    return textwrap.wrap(paragraph, _TEXT_WIDTH, replace_whitespace=False) or [""]


def render_jsonl(messages: Iterable[AgentMessage]) -> Iterator[str]:
    return map(to_wire, messages)


def render_sse(messages: Iterable[AgentMessage], usage: UsageStatistics | None) -> Iterator[str]:
    yield from to_sse(messages, usage)


def render_sse_events(messages: Iterable[AgentMessage]) -> Iterator[str]:
    """The messages' SSE events alone: a stream printed a part at a time ends with render_sse."""
    for message in messages:
        yield f"data: {to_wire(message)}\n\n"


_BLOCK_LINES = 2048


def write_blocks(lines: Iterable[str], *, end: str = "\n") -> None:
    """Write ``lines`` to standard output, each followed by ``end``, a block at a time.

    One ``click.echo`` a line cost a tenth of a 32,000-message replay; joining a few thousand
    lines per call keeps click's handling of the stream (encoding, a closed pipe) at a
    negligible cost.
    """
    # Each block is taken in one call (and the lines made by map, not a generator, where they
    # can be): per line, a Python loop's append and check cost half of joining and writing it.
    lines = iter(lines)
    while block := list(islice(lines, _BLOCK_LINES)):
        click.echo(end.join(block) + end, nl=False)
