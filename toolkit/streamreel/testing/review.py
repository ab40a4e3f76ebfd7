"""Reviewing a cassette change: a cassette as text a diff can read, and two versions compared.

A cassette is YAML full of base64, chunk offsets and escaped SSE: a pull request that
re-records one shows hundreds of changed lines and says nothing about what the agent now does.
Two views fix that:

* :func:`cassette_text` renders a cassette the way a reviewer thinks of it: per interaction,
  what was asked (method, URL, model, how many messages, the last user turn, the tools offered)
  and the agent messages the replay makes, merged, one block each. Volatile values (message
  ids, otids, dates, tool-call ids) become the snapshots' numbered placeholders and chunk
  timing is left out, so re-recording the same conversation renders the same text. It is what
  ``streamreel textconv`` prints for ``git diff`` (``diff.streamreel.textconv``).
* :func:`compare_versions` lines two versions of one cassette up interaction by interaction
  and reports what changed: the request, the messages (as snapshot lines, aligned), the tool
  calls' arguments, the chunk count and the time to the first chunk; :func:`render_markdown`
  writes it as a table for ``$GITHUB_STEP_SUMMARY``, :func:`render_text` for a terminal.

Both replay through streamreel's own interface with Letta's server settings, the defaults the
snapshot fixtures use. Neither does I/O beyond reading the cassettes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamreel.cassettes.discovery import is_chunk_file
from streamreel.cassettes.storage import load_cassette
from streamreel.core.cassette import Cassette, RecordedRequest
from streamreel.core.parser import InterfaceSettings
from streamreel.core.results import ReplayResult
from streamreel.playback.replay import replay, replay_chunk_file
from streamreel.testing.transcript import (
    Placeholders,
    align,
    interaction_header,
    line_kind,
    stable_wire,
)

__all__ = [
    "Change",
    "InteractionChanges",
    "VersionDiff",
    "cassette_text",
    "compare_versions",
    "render_markdown",
    "render_text",
]

_PREVIEW = 80


def _replayed(path: Path) -> tuple[ReplayResult, Cassette | None]:
    settings = InterfaceSettings(use_assistant_message=True)
    if is_chunk_file(path):
        return replay_chunk_file(path, settings=settings), None
    cassette = load_cassette(path)
    return replay(cassette, settings=settings), cassette


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 3] + "..."


def _request_facts(request: RecordedRequest | None) -> list[str]:
    """What a request asked, from its JSON body: messages, the last user turn, the tools."""
    if request is None:
        return []
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return [f"body: {len(request.body)} bytes, not JSON"]
    if not isinstance(body, dict):
        return []
    facts: list[str] = []
    turns = body.get("messages", body.get("contents", body.get("input")))
    if isinstance(turns, list):
        facts.append(f"{len(turns)} message{'s' if len(turns) != 1 else ''}")
        users = [t for t in turns if isinstance(t, dict) and t.get("role") == "user"]
        if users:
            facts.append(f"last user turn {_preview(_content_text(users[-1]))!r}")
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        facts.append("tools " + ", ".join(sorted(_tool_name(tool) for tool in tools)))
    return facts


def _content_text(turn: dict[str, Any]) -> str:
    content = turn.get("content", turn.get("parts"))
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        ).strip()
    return ""


def _tool_name(tool: Any) -> str:
    if not isinstance(tool, dict):
        return "?"
    for holder in (tool.get("function"), tool.get("toolSpec"), tool):
        if isinstance(holder, dict) and isinstance(holder.get("name"), str):
            return str(holder["name"])
    return "?"


def _message_block(line: str) -> list[str]:
    """One merged message, from its snapshot line, as a labelled block of text."""
    wire = json.loads(line)
    kind = str(wire.get("message_type", "error" if "error" in wire else "message"))
    label = kind.removesuffix("_message")
    if "tool_call" in wire and isinstance(wire["tool_call"], dict):
        call = wire["tool_call"]
        arguments = call.get("arguments") or ""
        with contextlib.suppress(ValueError, RecursionError):
            arguments = json.dumps(json.loads(arguments), ensure_ascii=False, sort_keys=True)
        text = f"{call.get('name')} {call.get('tool_call_id') or ''} {arguments}"
    else:
        text = next(
            (
                str(wire[key])
                for key in ("content", "reasoning", "tool_return", "hidden_reasoning", "error")
                if wire.get(key) is not None
            ),
            line,
        )
    lines = text.split("\n")
    return [f"  [{label}] {lines[0]}", *(f"    {rest}" for rest in lines[1:])]


def cassette_text(path: str | Path) -> str:
    """The cassette at ``path`` as deterministic review text (see the module docstring)."""
    where = Path(path)
    result, cassette = _replayed(where)
    placeholders = Placeholders()
    out = [f"cassette {where.name}: {len(result.interactions)} interactions"]
    for step in result.interactions:
        header = interaction_header(step, placeholders)
        recorded = cassette.interactions[step.index].request if cassette is not None else None
        out.append("")
        out.append(f"interaction {step.index}: {header['request']}")
        out.append(
            f"  provider {header['provider']}, api {header['api']}, model {header['model']}, "
            f"status {header['status']}, {'complete' if step.complete else 'INCOMPLETE'}"
        )
        asked = _request_facts(recorded)
        if asked:
            out.append("  asks: " + "; ".join(asked))
        for error in header.get("errors", []):
            out.append(f"  error: {error}")
        for message in step.merged:
            out.extend(_message_block(stable_wire(message, placeholders)))
    usage = result.usage
    out.append("")
    out.append(
        f"usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens, "
        f"{usage.step_count} steps"
    )
    return "\n".join(out) + "\n"


# -- two versions of one cassette --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One thing that differs in one interaction: what, and its old and new value."""

    what: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class InteractionChanges:
    """An interaction's facts on both sides and what changed (``old``/``new`` None: absent)."""

    index: int
    request: str
    changes: tuple[Change, ...] = ()
    message_lines: tuple[str, ...] = ()
    """The message-level diff, ``- `` and ``+ `` lines (snapshot JSON), empty when equal."""


@dataclass(frozen=True, slots=True)
class VersionDiff:
    old: Path
    new: Path
    interactions: tuple[InteractionChanges, ...] = field(default_factory=tuple)

    @property
    def differs(self) -> bool:
        return any(step.changes for step in self.interactions)


@dataclass(frozen=True, slots=True)
class _Facts:
    request: str
    messages: list[str]
    tool_calls: list[str]
    chunks: int
    first_chunk_ms: float | None


def _facts(result: ReplayResult) -> list[_Facts]:
    placeholders = Placeholders()
    facts = []
    for step in result.interactions:
        header = interaction_header(step, placeholders)
        lines = [stable_wire(message, placeholders) for message in step.merged]
        facts.append(
            _Facts(
                request=f"{header['request']} ({header['model']})",
                messages=lines,
                tool_calls=list(_tool_calls(lines)),
                chunks=len(step.chunks),
                first_chunk_ms=step.timing.time_to_first_chunk_ms,
            )
        )
    return facts


def _tool_calls(lines: Sequence[str]) -> Iterator[str]:
    for line in lines:
        wire = json.loads(line)
        call = wire.get("tool_call")
        if isinstance(call, dict):
            yield f"{call.get('name')}({call.get('arguments') or ''})"


def _ms(value: float | None) -> str:
    return "none" if value is None else f"{value:.0f} ms"


def _changes(old: _Facts | None, new: _Facts | None) -> tuple[list[Change], list[str]]:
    if old is None or new is None:
        present = new if old is None else old
        assert present is not None
        side = "added" if old is None else "removed"
        return [Change("interaction", "" if old is None else side, side if old is None else "")], [
            ("+ " if old is None else "- ") + line for line in present.messages
        ]
    changes: list[Change] = []
    if old.request != new.request:
        changes.append(Change("request", old.request, new.request))
    if old.messages != new.messages:
        changes.append(Change("messages", str(len(old.messages)), str(len(new.messages))))
    if old.tool_calls != new.tool_calls:
        changes.append(
            Change("tool arguments", "; ".join(old.tool_calls), "; ".join(new.tool_calls))
        )
    if old.chunks != new.chunks:
        changes.append(Change("chunks", str(old.chunks), str(new.chunks)))
    if old.first_chunk_ms != new.first_chunk_ms:
        changes.append(
            Change("time to first chunk", _ms(old.first_chunk_ms), _ms(new.first_chunk_ms))
        )
    lines: list[str] = []
    if old.messages != new.messages:
        for left, right in align(old.messages, new.messages, kind=line_kind):
            before = old.messages[left] if left is not None else None
            after = new.messages[right] if right is not None else None
            if before == after:
                continue
            if before is not None:
                lines.append("- " + before)
            if after is not None:
                lines.append("+ " + after)
    return changes, lines


def compare_versions(old: str | Path, new: str | Path) -> VersionDiff:
    """What changed between two versions of one cassette, interaction by interaction."""
    before, after = _facts(_replayed(Path(old))[0]), _facts(_replayed(Path(new))[0])
    steps = []
    for index in range(max(len(before), len(after))):
        left = before[index] if index < len(before) else None
        right = after[index] if index < len(after) else None
        changes, lines = _changes(left, right)
        present = right if right is not None else left
        shown = present.request if present is not None else ""
        steps.append(InteractionChanges(index, shown, tuple(changes), tuple(lines)))
    return VersionDiff(Path(old), Path(new), tuple(steps))


def render_text(diff: VersionDiff) -> list[str]:
    """The comparison as terminal lines: one block per changed interaction."""
    if not diff.differs:
        return [f"{diff.new}: no change from {diff.old} ({len(diff.interactions)} interactions)"]
    out = [f"{diff.old} -> {diff.new}"]
    for step in diff.interactions:
        if not step.changes:
            continue
        out.append(f"interaction {step.index}: {step.request}")
        for change in step.changes:
            out.append(f"  {change.what}: {change.old or '-'} -> {change.new or '-'}")
        out.extend(f"    {line}" for line in step.message_lines)
    return out


def _cell(text: str) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if text else "-"


def render_markdown(diff: VersionDiff) -> str:
    """The comparison as GitHub Markdown: a table of changes, then the message lines."""
    out = [f"### streamreel diff: `{diff.new.name}`", ""]
    if not diff.differs:
        out.append(f"No change in {len(diff.interactions)} interactions.")
        return "\n".join(out) + "\n"
    out.extend(["| interaction | what | old | new |", "|---|---|---|---|"])
    for step in diff.interactions:
        for change in step.changes:
            out.append(
                f"| {step.index} | {change.what} | {_cell(change.old)} | {_cell(change.new)} |"
            )
    for step in diff.interactions:
        if step.message_lines:
            out.extend(["", f"<details><summary>interaction {step.index}: messages</summary>", ""])
            out.extend(["```diff", *step.message_lines, "```", "", "</details>"])
    return "\n".join(out) + "\n"
