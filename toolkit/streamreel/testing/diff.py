"""Differential replay: the same cassettes through two parsers, and where their messages differ.

Theory of operation
-------------------
A parser change is judged by what it does to real streams, so both sides replay the same
cassettes and their messages are compared interaction by interaction. Each side is a
:class:`Side`: a parser factory (any object with the streaming interface's methods, built from
the interface settings) and the settings it runs with; two sides may differ in the parser, the
settings, or both.

Messages are compared as :mod:`streamreel.testing.snapshot` writes them: merged by default (so two
parsers
that cut their deltas differently but say the same thing agree), as wire JSON with volatile
values replaced by placeholders numbered per side. Two parsers that allocate otids in the same
order therefore compare equal even if the raw values differ, and what is left is what a reader
of the stream would notice.

Each interaction's two sequences are aligned with :class:`difflib.SequenceMatcher`, so one
message more on one side shows as one extra row instead of a cascade of changed rows. The rows
are plain data (:class:`Row`); :func:`render_text` and :func:`render_html` turn them into a
terminal report and a self-contained HTML page, and neither does any I/O.

This module also reads the two textual forms a parser takes on a command line or in a pytest
option: ``MODULE:FACTORY`` (:func:`load_factory`) and ``key=value`` settings
(:func:`parse_knobs`, :func:`apply_knobs`).
"""

from __future__ import annotations

import dataclasses
import difflib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from streamreel.cassettes.discovery import is_chunk_file
from streamreel.core.cassette import Cassette
from streamreel.core.errors import ConfigurationError, StreamreelError
from streamreel.core.parser import InterfaceSettings
from streamreel.core.results import InteractionResult, ReplayResult
from streamreel.core.wording import counted
from streamreel.playback.factories import load_factory
from streamreel.playback.replay import ParserFactory, ReasoningChoice, replay, replay_chunk_file
from streamreel.testing.transcript import Placeholders, align, field_changes, line_kind, stable_wire

__all__ = [
    "KNOBS",
    "CassetteDiff",
    "InteractionDiff",
    "Row",
    "Side",
    "apply_knobs",
    "compare_results",
    "diff_cassette",
    "diff_cassettes",
    "load_factory",
    "parse_knobs",
    "render_html",
    "render_text",
]


# -- the textual forms of a parser and its settings --------------------------------------------

_SETTINGS_FIELDS = {f.name: f.type for f in dataclasses.fields(InterfaceSettings)}
KNOBS: tuple[str, ...] = (*_SETTINGS_FIELDS, "expect_reasoning_content")
"""The names ``key=value`` settings accept: the interface's knobs plus the replay's
``expect_reasoning_content``."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _is_bool_knob(name: str) -> bool:
    kind = _SETTINGS_FIELDS.get(name, "bool")
    return kind in ("bool", bool)


def parse_knobs(pairs: Iterable[str]) -> dict[str, bool | str]:
    """``["use_assistant_message=false", ...]`` as a mapping of typed values.

    Dashes may stand for underscores (``use-assistant-message=no``), as on the command line.
    """
    knobs: dict[str, bool | str] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in KNOBS:
            raise ConfigurationError(
                f"cannot read the setting {pair!r}: expected key=value with a key among "
                f"{', '.join(KNOBS)}, got {name or 'nothing'!r}; do fix the key"
            )
        value = raw.strip()
        if name == "expect_reasoning_content" and value.lower() == "auto":
            knobs[name] = "auto"  # per interaction, as Letta's server passes it
        elif _is_bool_knob(name):
            if value.lower() not in _TRUE | _FALSE:
                raise ConfigurationError(
                    f"cannot read the setting {pair!r}: expected true or false, got {value!r}; "
                    "do write one of true, false, yes, no, 1, 0"
                )
            knobs[name] = value.lower() in _TRUE
        else:
            knobs[name] = value
    return knobs


def apply_knobs(settings: InterfaceSettings, knobs: Mapping[str, object]) -> InterfaceSettings:
    """``settings`` with the interface knobs among ``knobs`` replaced (other keys are ignored).

    Values are checked against the field's type, so a marker argument with a typo'd value fails
    here rather than as a puzzling parser behaviour.
    """
    updates: dict[str, Any] = {}
    for name, value in knobs.items():
        if name not in _SETTINGS_FIELDS:
            continue
        expected = bool if _is_bool_knob(name) else str
        if not isinstance(value, expected):
            raise ConfigurationError(
                f"cannot apply the setting {name}: expected a {expected.__name__}, got "
                f"{value!r}; do pass a {expected.__name__}"
            )
        updates[name] = value
    return dataclasses.replace(settings, **updates) if updates else settings


# -- the two sides -----------------------------------------------------------------------------


def _server_defaults() -> InterfaceSettings:
    return InterfaceSettings(use_assistant_message=True)


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a comparison: what replays the cassettes, under which name in reports."""

    label: str
    parser: ParserFactory | None = None
    settings: InterfaceSettings = field(default_factory=_server_defaults)
    expect_reasoning_content: ReasoningChoice = None

    def replay(self, cassette: Cassette | str | Path) -> ReplayResult:
        if not isinstance(cassette, Cassette) and is_chunk_file(cassette):
            return replay_chunk_file(
                cassette,
                settings=self.settings,
                parser=self.parser,
                # A chunk file names no provider: "auto" has nothing to go by there.
                expect_reasoning_content=self.expect_reasoning_content is True,
            )
        return replay(
            cassette,
            settings=self.settings,
            parser=self.parser,
            expect_reasoning_content=self.expect_reasoning_content,
        )


# -- comparing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One row of an aligned pair of sequences.

    ``status`` is ``same``, ``changed`` (both sides have a message here and they differ),
    ``left-only`` or ``right-only``. Indexes count messages within the interaction, per side.
    """

    status: Literal["same", "changed", "left-only", "right-only"]
    left_index: int | None
    right_index: int | None
    left: str | None
    right: str | None
    left_type: str | None
    right_type: str | None
    fields: tuple[str, ...] = ()

    @property
    def differs(self) -> bool:
        return self.status != "same"


@dataclass(frozen=True, slots=True)
class InteractionDiff:
    index: int
    request: str
    rows: list[Row]

    @property
    def differs(self) -> bool:
        return any(row.differs for row in self.rows)

    @property
    def changes(self) -> list[Row]:
        return [row for row in self.rows if row.differs]


@dataclass(frozen=True, slots=True)
class CassetteDiff:
    """The comparison of one cassette; ``error`` when it could not be replayed at all.

    A cassette that cannot be read is not one that differs: ``differs`` is about what both
    sides replayed, and ``error`` is its own outcome (the command exits differently for it).
    """

    path: str
    interactions: list[InteractionDiff]
    error: str | None = None

    @property
    def differs(self) -> bool:
        return any(i.differs for i in self.interactions)


def _align(left: Sequence[str], right: Sequence[str]) -> list[Row]:
    rows: list[Row] = []
    for i, j in align(left, right, kind=line_kind):
        if i is not None and j is not None:
            a, b = left[i], right[j]
            status: Literal["same", "changed"] = "same" if a == b else "changed"
            fields = tuple(key for key, _, _ in field_changes(a, b))
            rows.append(Row(status, i, j, a, b, line_kind(a), line_kind(b), fields))
        elif i is not None:
            rows.append(Row("left-only", i, None, left[i], None, line_kind(left[i]), None))
        elif j is not None:
            rows.append(Row("right-only", None, j, None, right[j], None, line_kind(right[j])))
    return rows


def _lines(result: InteractionResult, placeholders: Placeholders, merge: bool) -> list[str]:
    # The interaction's own id first, so the numbering matches the snapshot files'.
    placeholders.name("message", result.message_id)
    messages = result.merged if merge else result.messages
    return [stable_wire(message, placeholders) for message in messages]


def compare_results(
    left: ReplayResult, right: ReplayResult, *, merge: bool = True
) -> list[InteractionDiff]:
    """Align two replays of one cassette, interaction by interaction."""
    left_names, right_names = Placeholders(), Placeholders()
    by_index = {result.index: result for result in right.interactions}
    diffs: list[InteractionDiff] = []
    for result in left.interactions:
        other = by_index.pop(result.index, None)
        left_lines = _lines(result, left_names, merge)
        right_lines = _lines(other, right_names, merge) if other is not None else []
        request = f"{result.request.method} {result.request.url}".strip()
        diffs.append(InteractionDiff(result.index, request, _align(left_lines, right_lines)))
    for other in by_index.values():
        request = f"{other.request.method} {other.request.url}".strip()
        rows = _align([], _lines(other, right_names, merge))
        diffs.append(InteractionDiff(other.index, request, rows))
    return diffs


def diff_cassette(
    cassette: Cassette | str | Path, *, left: Side, right: Side, merge: bool = True
) -> CassetteDiff:
    """Replay one cassette through both sides and compare; an unreadable one is an ``error``."""
    name = str(cassette.path if isinstance(cassette, Cassette) else cassette)
    try:
        if isinstance(cassette, str | Path) and is_chunk_file(cassette):
            from streamreel.cassettes.chunkfile import read_chunk_file

            # A file whose lines cannot all be read (too long, not UTF-8) is unreadable, not a
            # stream both sides fail the same way on: read it once through first.
            read_chunk_file(cassette)
        elif isinstance(cassette, str | Path):
            from streamreel.cassettes.storage import load_cassette

            cassette = load_cassette(cassette)
        results = left.replay(cassette), right.replay(cassette)
    except StreamreelError as exc:
        return CassetteDiff(name, [], error=str(exc))
    return CassetteDiff(name, compare_results(*results, merge=merge))


def diff_cassettes(
    cassettes: Iterable[Cassette | str | Path], *, left: Side, right: Side, merge: bool = True
) -> list[CassetteDiff]:
    return [diff_cassette(c, left=left, right=right, merge=merge) for c in cassettes]


# -- reports -----------------------------------------------------------------------------------


def _row_place(row: Row) -> str:
    if row.status == "right-only":
        return f"message {row.right_index} ({row.right_type})"
    if row.status == "left-only":
        return f"message {row.left_index} ({row.left_type})"
    if row.left_index == row.right_index and row.left_type == row.right_type:
        return f"message {row.left_index} ({row.left_type})"
    return (
        f"message {row.left_index} ({row.left_type}) -> message {row.right_index} "
        f"({row.right_type})"
    )


def _row_verdict(row: Row, left: str, right: str) -> str:
    if row.status == "left-only":
        return f"only in {left}"
    if row.status == "right-only":
        return f"only in {right}"
    keys = ", ".join(row.fields) or "text"
    return f"{keys} {'differs' if len(row.fields) <= 1 else 'differ'}"


def render_text(diffs: Sequence[CassetteDiff], *, left: str, right: str) -> list[str]:
    """The report as lines of plain text: every difference, named by cassette and interaction."""
    width = max(len(left), len(right))
    lines: list[str] = []
    for diff in diffs:
        if diff.error is not None:
            lines.append(f"{diff.path}: cannot replay: {diff.error}")
            continue
        if not diff.differs:
            count = sum(len(i.rows) for i in diff.interactions)
            lines.append(
                f"{diff.path}: same ({counted(len(diff.interactions), 'interaction')}, "
                f"{counted(count, 'message')})"
            )
            continue
        for interaction in diff.interactions:
            if not interaction.differs:
                continue
            changed = len(interaction.changes)
            lines.append(
                f"{diff.path}: interaction {interaction.index} ({interaction.request}): "
                f"{changed} of {len(interaction.rows)} rows differ"
            )
            for row in interaction.changes:
                lines.append(f"  {_row_place(row)}: {_row_verdict(row, left, right)}")
                changes = (
                    field_changes(row.left, row.right)
                    if row.left is not None and row.right is not None
                    else []
                )
                if changes:
                    # Only what differs, field by field: the rest of both lines is the same.
                    for _, before, after in changes:
                        lines.append(f"    - {left:<{width}}  {before}")
                        lines.append(f"    + {right:<{width}}  {after}")
                    continue
                if row.left is not None:
                    lines.append(f"    - {left:<{width}}  {row.left}")
                if row.right is not None:
                    lines.append(f"    + {right:<{width}}  {row.right}")
    differing = sum(1 for d in diffs if d.differs)
    unreadable = sum(1 for d in diffs if d.error is not None)
    tail = f", {unreadable} could not be read" if unreadable else ""
    lines.append(f"{differing} of {len(diffs)} cassettes differ between {left} and {right}{tail}")
    return lines


_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d1d1f; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; } h3 { font-size: 1em; }
.summary { color: #555; }
.verdict { font-weight: normal; font-size: .85em; padding: .1em .5em; border-radius: .8em; }
.verdict.same { background: #e3f4e3; } .verdict.differs, .verdict.error { background: #fde2e1; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; margin-bottom: 1em; }
th, td { border: 1px solid #d8d8d8; padding: .25em .45em; vertical-align: top; text-align: left; }
th.n, td.n { width: 3em; text-align: right; color: #777; }
td.msg { font: 12px/1.35 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
.type { display: block; font-weight: bold; color: #444; }
tr.changed td.msg { background: #fff6d6; }
tr.left-only td.left, tr.right-only td.right { background: #fde2e1; }
tr.left-only td.right, tr.right-only td.left { background: #f4f4f4; }
del { background: #f7b9b5; text-decoration: none; }
ins { background: #b9ecb9; text-decoration: none; }
.error { color: #a00; }
"""


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^"{}\[\]:,]+')


def _marked(a: str, b: str) -> tuple[str, str]:
    """Both lines HTML-escaped, with the JSON tokens that differ wrapped in ``del`` / ``ins``.

    Whole tokens (a string, a number, a brace) rather than characters: a character diff of two
    JSON lines matches stray letters across unrelated strings and marks confetti.
    """
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    left: list[str] = []
    right: list[str] = []
    matcher = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        pa, pb = html.escape("".join(ta[i1:i2])), html.escape("".join(tb[j1:j2]))
        if tag == "equal":
            left.append(pa)
            right.append(pb)
            continue
        if pa:
            left.append(f"<del>{pa}</del>")
        if pb:
            right.append(f"<ins>{pb}</ins>")
    return "".join(left), "".join(right)


def _cell(side: str, kind: str | None, body: str | None) -> str:
    if body is None:
        return f'<td class="msg {side}"></td>'
    return f'<td class="msg {side}"><span class="type">{html.escape(kind or "")}</span>{body}</td>'


def _html_row(interaction: int, row: Row, left: str, right: str) -> str:
    left_body: str | None
    right_body: str | None
    if row.status == "changed" and row.left is not None and row.right is not None:
        left_body, right_body = _marked(row.left, row.right)
    else:
        left_body = html.escape(row.left) if row.left is not None else None
        right_body = html.escape(row.right) if row.right is not None else None
    attrs = (
        f' data-interaction="{interaction}" data-left="{_n(row.left_index)}"'
        f' data-right="{_n(row.right_index)}"'
    )
    if row.differs:
        attrs += f' title="{html.escape(_row_verdict(row, left, right))}"'
    return (
        f'<tr class="{row.status}"{attrs}><td class="n">{_n(row.left_index)}</td>'
        f'{_cell("left", row.left_type, left_body)}<td class="n">{_n(row.right_index)}</td>'
        f"{_cell('right', row.right_type, right_body)}</tr>"
    )


def _n(index: int | None) -> str:
    return "" if index is None else str(index)


def render_html(
    diffs: Sequence[CassetteDiff], *, left: str, right: str, title: str = "streamreel diff"
) -> str:
    """A self-contained HTML page: per interaction, both sequences side by side.

    Rows are marked by class (``same``, ``changed``, ``left-only``, ``right-only``) and carry
    ``data-interaction`` / ``data-left`` / ``data-right``; inside a changed row the differing
    characters are wrapped in ``del`` and ``ins``. The CSS is inline and nothing is fetched, so
    the file can be kept as a CI artifact and opened anywhere.
    """
    differing = sum(1 for d in diffs if d.differs)
    esc_left, esc_right = html.escape(left), html.escape(right)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="summary">left: <b>{esc_left}</b>, right: <b>{esc_right}</b>; '
        f"{differing} of {len(diffs)} cassettes differ.</p>",
    ]
    for number, diff in enumerate(diffs):
        state = "error" if diff.error is not None else "differs" if diff.differs else "same"
        parts.append(
            f'<section class="cassette {state}" id="cassette-{number}">'
            f"<h2>{html.escape(diff.path)} "
            f'<span class="verdict {state}">{state}</span></h2>'
        )
        if diff.error is not None:
            parts.append(f'<p class="error">cannot replay: {html.escape(diff.error)}</p>')
        for interaction in diff.interactions:
            istate = "differs" if interaction.differs else "same"
            parts.append(
                f"<h3>interaction {interaction.index}: {html.escape(interaction.request)} "
                f'<span class="verdict {istate}">{len(interaction.changes)} of '
                f"{len(interaction.rows)} rows differ</span></h3>"
            )
            parts.append(
                f'<table class="pair"><thead><tr><th class="n">#</th><th>{esc_left}</th>'
                f'<th class="n">#</th><th>{esc_right}</th></tr></thead><tbody>'
            )
            parts.extend(_html_row(interaction.index, row, left, right) for row in interaction.rows)
            parts.append("</tbody></table>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
