"""How replays and messages show themselves in a notebook: one-line text, HTML and inline SVG.

Theory of operation
-------------------
Everything here is a pure function from a value to a string. A notebook asks an object for its
representations (``__repr__`` for ``text/plain``, ``_repr_html_`` for ``text/html``) and keeps
both in the saved file; the HTML is what people read, the text is what ``pytest --nbval``
compares when the notebook runs again. So both must be *deterministic*: no memory addresses, no
message ids (they derive from the cassette's path), no wall-clock values, no random element ids.
Timing appears only where it comes from the recording itself.

The HTML is self-contained: one ``<style>`` block scoped by ``sr-`` class names, ``<details>``
for what folds, inline SVG for plots. No script and nothing fetched, so a notebook exported to
static HTML, or read on a code host, looks the same as in a live kernel.

:class:`MessageList` is a ``list`` of agent messages that displays itself; :func:`show` wraps
a replay result or any sequence of messages in one. :class:`ReplayResult` and
:class:`InteractionResult` delegate their own representations here. The widgets in
:mod:`streamreel.notebook.widgets` reuse these renderers for their panes and for the static
snapshot they
leave in a notebook.
"""

from __future__ import annotations

import difflib
import html
import itertools
import json
import math
import statistics
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias
from urllib.parse import urlsplit

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
    UserMessage,
    merge_deltas,
    wire_dict,
)
from streamreel.core.results import InteractionResult, ReplayResult
from streamreel.core.wording import counted as _plural
from streamreel.testing.transcript import align

__all__ = [
    "DEFAULT_IGNORED_FIELDS",
    "STYLE",
    "DiffRow",
    "MessageList",
    "MessageSource",
    "RowNote",
    "diff_html",
    "diff_messages",
    "diff_text",
    "escape",
    "fold_rows",
    "interaction_html",
    "interaction_text",
    "kind_counts",
    "message_kind",
    "message_preview",
    "messages_html",
    "messages_text",
    "result_html",
    "result_text",
    "show",
    "steps_of",
    "timing_html",
]

MessageSource: TypeAlias = ReplayResult | InteractionResult | Sequence[AgentMessage]
"""What the message views accept: a replay, one of its interactions, or messages."""

STYLE = """<style>
.sr-root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:13px;
line-height:1.45;color:#1f2933;max-width:100%}
.sr-root pre{margin:2px 0 0 0;padding:0;white-space:pre-wrap;word-break:break-word;
font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12px;
background:transparent;color:inherit}
.sr-title{font-weight:600;margin:2px 0 6px 0}
.sr-muted{color:#616e7c}
.sr-step{margin:4px 0 10px 0}
.sr-step-head{font-weight:600;color:#3e4c59;border-bottom:1px solid #cbd2d9;margin:0 0 4px 0;
padding-bottom:2px}
.sr-msg{border-left:4px solid #9aa5b1;border-radius:4px;padding:3px 8px;margin:3px 0;
background:#f5f7fa;color:#1f2933}
.sr-msg summary{cursor:pointer}
.sr-msg details[open]>summary .sr-preview{display:none}
.sr-kind{font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;
margin-right:6px}
.sr-text{white-space:pre-wrap;word-break:break-word}
.sr-reasoning{background:#f5f0ff;border-color:#8b5cf6}.sr-reasoning .sr-kind{color:#6d28d9}
.sr-hidden_reasoning{background:#f1f5f9;border-color:#94a3b8}
.sr-hidden_reasoning .sr-kind{color:#475569}
.sr-tool_call{background:#fff8eb;border-color:#f59e0b}.sr-tool_call .sr-kind{color:#b45309}
.sr-tool_return{background:#ecfeff;border-color:#06b6d4}.sr-tool_return .sr-kind{color:#0e7490}
.sr-assistant{background:#ecfdf5;border-color:#10b981}.sr-assistant .sr-kind{color:#047857}
.sr-user,.sr-system{background:#eff6ff;border-color:#3b82f6}
.sr-user .sr-kind,.sr-system .sr-kind{color:#1d4ed8}
.sr-error{background:#fef2f2;border-color:#dc2626}.sr-error .sr-kind{color:#b91c1c}
.sr-hl{outline:2px solid #2563eb;outline-offset:1px}
.sr-badge{display:inline-block;font-size:10px;font-weight:700;color:#fff;background:#2563eb;
border-radius:8px;padding:0 6px;margin-left:6px}
.sr-root table.sr-table{border-collapse:collapse;font-size:12px;margin:2px 0 8px 0}
.sr-root table.sr-table th,.sr-root table.sr-table td{border:1px solid #d9e2ec;padding:2px 6px;
text-align:left;vertical-align:top}
.sr-root table.sr-table th{background:#f0f4f8}
.sr-num{text-align:right!important;font-variant-numeric:tabular-nums}
.sr-errors{color:#b91c1c;margin:2px 0 6px 0;padding-left:18px}
.sr-diff{border-collapse:collapse;width:100%;table-layout:fixed}
.sr-root table.sr-diff td{vertical-align:top;padding:1px 4px;width:50%;text-align:left}
.sr-root table.sr-diff th{text-align:left;padding:2px 4px;border-bottom:1px solid #cbd2d9}
.sr-diff tr.sr-same .sr-msg{opacity:.6}
.sr-root table.sr-diff tr.sr-fold td{text-align:center;color:#616e7c;font-style:italic;
background:#f8fafc}
.sr-gap{border:1px dashed #cbd2d9;border-radius:4px;min-height:22px}
.sr-root del{background:#fecaca;text-decoration:line-through}
.sr-root ins{background:#bbf7d0;text-decoration:none}
.sr-field{font-size:11px;color:#3e4c59}
.sr-field mark{background:#fde68a}
</style>"""

_KINDS: dict[type[AgentMessage], str] = {
    ReasoningMessage: "reasoning",
    HiddenReasoningMessage: "hidden_reasoning",
    ToolCallMessage: "tool_call",
    ToolReturnMessage: "tool_return",
    AssistantMessage: "assistant",
    SystemMessage: "system",
    UserMessage: "user",
    ErrorMessage: "error",
}
_PREVIEW = 96
DEFAULT_IGNORED_FIELDS: tuple[str, ...] = ("id", "otid", "date")
"""Wire fields a diff leaves out by default: they name the recording, not what the model said."""


def escape(text: object) -> str:
    """Any value as HTML text, quotes included: every renderer here and in the widgets uses it."""
    return html.escape(str(text), quote=True)


def message_kind(message: AgentMessage) -> str:
    """The short name of a message's type: ``reasoning``, ``tool_call``, ``error``..."""
    return _KINDS.get(type(message), message.message_type.removesuffix("_message"))


def _main_text(message: AgentMessage) -> str:
    if isinstance(message, ReasoningMessage):
        return message.reasoning
    if isinstance(message, HiddenReasoningMessage):
        return message.hidden_reasoning or f"[{message.state}]"
    if isinstance(message, ToolCallMessage):
        call = message.tool_call
        return f"{call.name or '?'}({_readable_json(call.arguments or '')})"
    if isinstance(message, ToolReturnMessage):
        return _readable_json(message.tool_return)
    if isinstance(message, AssistantMessage | SystemMessage | UserMessage):
        return message.content
    if isinstance(message, ForeignMessage):
        return message.text
    return message.error


def _readable_json(text: str) -> str:
    """JSON text with its ``\\u`` escapes written out; other text (partial JSON) unchanged."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except (ValueError, RecursionError):
        return text


def message_preview(message: AgentMessage, width: int = _PREVIEW) -> str:
    """The message's main text on one line, cut to ``width`` characters."""
    text = " ".join(_main_text(message).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def kind_counts(messages: Iterable[AgentMessage]) -> str:
    """``reasoning×2, assistant×1``: each kind with its count, in order of first appearance."""
    counts = Counter(message_kind(m) for m in messages)
    return ", ".join(f"{kind}×{count}" for kind, count in counts.items())


def _step_id(message: AgentMessage) -> str | None:
    if isinstance(message, ErrorMessage):
        return None
    if isinstance(message, ForeignMessage):
        found = message.data.get("step_id") or message.data.get("id")
        return found if isinstance(found, str) else None
    return message.id


def steps_of(messages: Sequence[AgentMessage]) -> list[list[AgentMessage]]:
    """Messages cut into steps: a step is a run sharing one message id (one LLM call).

    Error messages carry no id; they belong to the step they interrupt.
    """
    steps: list[list[AgentMessage]] = []
    current: str | None = None
    for message in messages:
        step_id = _step_id(message)
        if not steps or (step_id is not None and step_id != current):
            steps.append([])
            if step_id is not None:
                current = step_id
        steps[-1].append(message)
    return steps


# -- text/plain ------------------------------------------------------------------------------


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}" if parts.netloc else parts.path or url


def _kind_label(result: InteractionResult) -> str:
    if result.kind is None:
        return "unrecognised"
    return f"{result.kind.provider} {result.kind.api}"


def result_text(result: ReplayResult) -> str:
    """One line a notebook test can compare: what was replayed and what came out."""
    name = result.path.name if result.path is not None else "(in memory)"
    kinds = list(dict.fromkeys(_kind_label(i) for i in result.interactions))
    merged = result.merged
    counts = kind_counts(merged)
    chunks = sum(len(i.chunks) for i in result.interactions)
    return (
        f"<ReplayResult {name}: {_plural(len(result.interactions), 'interaction')}"
        + (f" ({', '.join(kinds)})" if kinds else "")
        + f", {_plural(chunks, 'chunk')}, {_plural(len(merged), 'message')}"
        + (f": {counts}" if counts else "")
        + f"; {_plural(len(result.errors), 'error')}>"
    )


def interaction_text(result: InteractionResult) -> str:
    """One line for one interaction: request, kind, status, chunks, messages and errors."""
    request = result.request
    merged = result.merged
    counts = kind_counts(merged)
    model = f", {request.model}" if request.model else ""
    return (
        f"<InteractionResult #{result.index} {request.method} {_where(request.url)}"
        f" ({_kind_label(result)}{model}): HTTP {result.status},"
        f" {_plural(len(result.chunks), 'chunk')}, {_plural(len(merged), 'message')}"
        + (f": {counts}" if counts else "")
        + f"; {'complete' if result.complete else 'incomplete'},"
        f" {_plural(len(result.errors), 'error')}>"
    )


def _cut(messages: Sequence[AgentMessage], sizes: Sequence[int] | None) -> list[list[AgentMessage]]:
    """Messages cut into steps of the given sizes, or by message id when the sizes do not fit."""
    if sizes is None or sum(sizes) != len(messages):
        return steps_of(messages)
    starts = list(itertools.accumulate(sizes, initial=0))
    return [list(messages[a:b]) for a, b in itertools.pairwise(starts)]


def messages_text(
    messages: Sequence[AgentMessage],
    *,
    steps: Sequence[int] | None = None,
    name: str = "MessageList",
) -> str:
    """A header, then one line per message under its step: readable, and stable for nbval.

    ``steps`` gives the number of messages in each step; without it, steps are cut by id.
    """
    cut = _cut(messages, steps)
    counts = kind_counts(messages)
    lines = [
        f"<{name} {_plural(len(messages), 'message')} in {_plural(len(cut), 'step')}"
        + (f": {counts}" if counts else "")
        + ">"
    ]
    width = max((len(message_kind(m)) for m in messages), default=0)
    for number, step in enumerate(cut, start=1):
        lines.append(f"step {number}")
        lines.extend(f"  {message_kind(m):<{width}}  {message_preview(m)}".rstrip() for m in step)
    return "\n".join(lines)


# -- HTML: messages --------------------------------------------------------------------------


def _pretty_arguments(arguments: str) -> tuple[str, bool]:
    """Arguments as indented JSON, and whether they parsed (they do not while still streaming)."""
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False), True
    except (ValueError, RecursionError):
        return arguments, False


def _message_body(message: AgentMessage, *, open_reasoning: bool) -> tuple[str, str]:
    """The header extras and the body of one message card."""
    if isinstance(message, ReasoningMessage):
        meta = "thinking" if message.source == "reasoner_model" else "inner monologue"
        if message.signature:
            meta += " · signed"
        opened = " open" if open_reasoning else ""
        body = (
            f"<details{opened}><summary class='sr-muted'><span class='sr-preview'>"
            f"{escape(message_preview(message, 72))}</span></summary>"
            f"<pre>{escape(message.reasoning)}</pre></details>"
        )
        return meta, body
    if isinstance(message, HiddenReasoningMessage):
        hidden = message.hidden_reasoning or ""
        shown = hidden if len(hidden) <= 80 else hidden[:79] + "…"
        return message.state, f"<pre class='sr-muted'>{escape(shown)}</pre>" if shown else ""
    if isinstance(message, ToolCallMessage):
        call = message.tool_call
        meta = " · ".join(
            part for part in (f"<b>{escape(call.name)}</b>" if call.name else None,
                              escape(call.tool_call_id) if call.tool_call_id else None) if part
        )  # fmt: skip
        if call.arguments is None:
            return meta, ""
        text, parsed = _pretty_arguments(call.arguments)
        note = "" if parsed or not call.arguments else " <span class='sr-muted'>(partial)</span>"
        return meta + note, f"<pre>{escape(text)}</pre>"
    if isinstance(message, ToolReturnMessage):
        text, _ = _pretty_arguments(message.tool_return)
        return (
            f"{escape(message.status)} · {escape(message.tool_call_id)}",
            f"<pre>{escape(text)}</pre>",
        )
    if isinstance(message, AssistantMessage | SystemMessage | UserMessage):
        return "", f"<div class='sr-text'>{escape(message.content)}</div>"
    if isinstance(message, ForeignMessage):
        # The kind label already names the type: the body is the message's own fields.
        fields = json.dumps(message.data, ensure_ascii=False, indent=2)
        return "", f"<pre>{escape(fields)}</pre>"
    return "⚠", f"<div class='sr-text'>{escape(message.error)}</div>"


def _message_card(
    message: AgentMessage, *, highlighted: bool = False, open_reasoning: bool = False
) -> str:
    kind = message_kind(message)
    meta, body = _message_body(message, open_reasoning=open_reasoning)
    classes = f"sr-msg sr-{kind}" + (" sr-hl" if highlighted else "")
    badge = "<span class='sr-badge'>this chunk</span>" if highlighted else ""
    return (
        f"<div class='{classes}'><span class='sr-kind'>{escape(kind.replace('_', ' '))}</span>"
        f"<span class='sr-muted'>{meta}</span>{badge}{body}</div>"
    )


def _steps_html(
    steps: Sequence[tuple[str, Sequence[AgentMessage]]],
    *,
    highlight: Collection[int],
    open_reasoning: bool,
) -> str:
    parts: list[str] = []
    position = 0
    for head, step in steps:
        cards = []
        for message in step:
            cards.append(
                _message_card(
                    message, highlighted=position in highlight, open_reasoning=open_reasoning
                )
            )
            position += 1
        inner = "".join(cards) or "<div class='sr-muted'>(no messages)</div>"
        parts.append(f"<div class='sr-step'><div class='sr-step-head'>{head}</div>{inner}</div>")
    return "".join(parts)


def _result_steps(result: ReplayResult) -> list[tuple[str, Sequence[AgentMessage]]]:
    steps: list[tuple[str, Sequence[AgentMessage]]] = []
    for number, interaction in enumerate(result.interactions, start=1):
        request = interaction.request
        head = " · ".join(
            part
            for part in (
                f"step {number}",
                _kind_label(interaction),
                request.model,
                f"HTTP {interaction.status}",
                _plural(len(interaction.chunks), "chunk"),
            )
            if part
        )
        steps.append((escape(head), interaction.merged))
    return steps


def messages_html(
    messages: Sequence[AgentMessage] | ReplayResult,
    *,
    steps: Sequence[int] | None = None,
    highlight: Collection[int] = (),
    open_reasoning: bool = False,
    style: bool = True,
) -> str:
    """Messages as coloured cards grouped by step; ``highlight`` marks cards by position.

    A replay result groups by its interactions (with their provider and status in each step's
    head); a plain sequence by ``steps`` (the size of each) or else by message id. Reasoning
    folds into ``<details>`` unless ``open_reasoning``; tool arguments are pretty-printed once
    they parse.
    """
    if isinstance(messages, ReplayResult):
        groups = _result_steps(messages)
    else:
        groups = [(f"step {n}", step) for n, step in enumerate(_cut(messages, steps), start=1)]
    body = _steps_html(groups, highlight=highlight, open_reasoning=open_reasoning)
    if not groups:
        body = "<div class='sr-muted'>(no messages)</div>"
    return (STYLE if style else "") + f"<div class='sr-root'>{body}</div>"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} ms"


def _interaction_rows(interactions: Sequence[InteractionResult]) -> str:
    rows = [
        "<tr><th>#</th><th>request</th><th>stream</th><th>model</th><th>status</th>"
        "<th>chunks</th><th>first chunk</th><th>duration</th><th>messages</th>"
        "<th>features</th></tr>"
    ]
    for item in interactions:
        request = item.request
        status = f"HTTP {item.status}" + ("" if item.complete else " · incomplete")
        rows.append(
            f"<tr><td class='sr-num'>{item.index}</td>"
            f"<td>{escape(request.method)} {escape(_where(request.url))}</td>"
            f"<td>{escape(_kind_label(item))}</td><td>{escape(request.model or '–')}</td>"
            f"<td>{escape(status)}</td><td class='sr-num'>{len(item.chunks)}</td>"
            f"<td class='sr-num'>{_ms(item.timing.time_to_first_chunk_ms)}</td>"
            f"<td class='sr-num'>{_ms(item.timing.duration_ms)}</td>"
            f"<td>{escape(kind_counts(item.merged) or '–')}</td>"
            f"<td>{escape(', '.join(item.features) or '–')}</td></tr>"
        )
    return f"<table class='sr-table'>{''.join(rows)}</table>"


def _errors_html(interactions: Sequence[InteractionResult]) -> str:
    items = [
        f"<li>#{item.index} {escape(error.describe())}"
        for item in interactions
        for error in item.errors
    ]
    return f"<ul class='sr-errors'>{''.join(items)}</ul>" if items else ""


def result_html(result: ReplayResult) -> str:
    """A replay: a table of its interactions, their errors, then the merged messages by step."""
    name = result.path.name if result.path is not None else "(in memory)"
    title = f"Replay of {name}: {_plural(len(result.interactions), 'interaction')}"
    body = (
        f"<div class='sr-title'>{escape(title)}</div>"
        + _interaction_rows(result.interactions)
        + _errors_html(result.interactions)
        + _steps_html(_result_steps(result), highlight=(), open_reasoning=False)
    )
    return STYLE + f"<div class='sr-root'>{body}</div>"


def interaction_html(result: InteractionResult) -> str:
    """One interaction: its row of the table, its errors, its merged messages."""
    body = (
        _interaction_rows([result])
        + _errors_html([result])
        + _steps_html([("messages", result.merged)], highlight=(), open_reasoning=False)
    )
    return STYLE + f"<div class='sr-root'>{body}</div>"


# -- MessageList and show --------------------------------------------------------------------


class MessageList(list[AgentMessage]):
    """A list of agent messages that shows itself in a notebook.

    It is an ordinary list (equality, slicing and JSON dumping are unchanged); only its
    representations differ: the text lists each message under its step, the HTML draws cards.
    ``step_sizes`` keeps the steps of the replay it came from, because an error message (which
    has no id) cannot otherwise be told apart from the step before it; once the list is changed
    so the sizes no longer add up, steps are cut by message id.
    """

    def __init__(
        self, messages: Iterable[AgentMessage] = (), *, steps: Sequence[int] | None = None
    ) -> None:
        super().__init__(messages)
        self.step_sizes: tuple[int, ...] | None = tuple(steps) if steps is not None else None

    def steps(self) -> list[list[AgentMessage]]:
        """The messages cut into steps."""
        return _cut(self, self.step_sizes)

    def __repr__(self) -> str:
        return messages_text(self, steps=self.step_sizes)

    def _repr_html_(self) -> str:
        return messages_html(self, steps=self.step_sizes)


def show(source: MessageSource, *, merge: bool = True) -> MessageList:
    """The messages of ``source`` as a :class:`MessageList`, deltas merged unless told not to.

    A replay keeps its interactions as the steps.
    """
    if isinstance(source, ReplayResult):
        parts = [i.merged if merge else i.messages for i in source.interactions]
        return MessageList(itertools.chain.from_iterable(parts), steps=[len(p) for p in parts])
    if isinstance(source, InteractionResult):
        messages = source.merged if merge else source.messages
        return MessageList(messages, steps=[len(messages)])
    return MessageList(merge_deltas(source) if merge else source)


# -- Sequence diff ---------------------------------------------------------------------------

RowKind: TypeAlias = Literal["same", "changed", "removed", "added", "folded"]


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One row of a side-by-side diff; ``folded`` stands for ``count`` identical pairs."""

    kind: RowKind
    left: AgentMessage | None = None
    right: AgentMessage | None = None
    count: int = 1


def _comparable(message: AgentMessage, ignore: Collection[str]) -> dict[str, Any]:
    wire = wire_dict(message)
    return {key: value for key, value in wire.items() if key not in ignore}


def _key(message: AgentMessage, ignore: Collection[str]) -> str:
    return json.dumps(_comparable(message, ignore), sort_keys=True)


def diff_messages(
    left: Sequence[AgentMessage],
    right: Sequence[AgentMessage],
    *,
    ignore: Collection[str] = DEFAULT_IGNORED_FIELDS,
) -> list[DiffRow]:
    """Align two message sequences on their wire JSON (less ``ignore``), unfolded.

    The alignment is the snapshot diff's (:func:`streamreel.testing.snapshot.align`): identical
    messages
    match first; within a changed run, messages of the same kind pair up in order, the rest
    pair up by position, and what is left over on one side is removed or added.
    """
    left_keys = [_key(m, ignore) for m in left]
    right_keys = [_key(m, ignore) for m in right]
    kinds = {
        key: message_kind(m)
        for key, m in zip([*left_keys, *right_keys], [*left, *right], strict=True)
    }
    rows: list[DiffRow] = []
    for i, j in align(left_keys, right_keys, kind=kinds.__getitem__):
        if i is not None and j is not None:
            same = left_keys[i] == right_keys[j]
            rows.append(DiffRow("same" if same else "changed", left[i], right[j]))
        elif i is not None:
            rows.append(DiffRow("removed", left=left[i]))
        elif j is not None:
            rows.append(DiffRow("added", right=right[j]))
    return rows


def fold_rows(rows: Sequence[DiffRow], *, context: int = 1) -> list[DiffRow]:
    """Fold each run of identical rows, keeping ``context`` rows next to every difference."""
    folded: list[DiffRow] = []
    index = 0
    while index < len(rows):
        if rows[index].kind != "same":
            folded.append(rows[index])
            index += 1
            continue
        end = index
        while end < len(rows) and rows[end].kind == "same":
            end += 1
        keep_before = context if index > 0 else 0
        keep_after = context if end < len(rows) else 0
        hidden = (end - index) - keep_before - keep_after
        if hidden >= 2:
            folded.extend(rows[index : index + keep_before])
            folded.append(DiffRow("folded", count=hidden))
            folded.extend(rows[end - keep_after : end])
        else:
            folded.extend(rows[index:end])
        index = end
    return folded


def _inline(left: str, right: str) -> tuple[str, str]:
    """Two texts with what only one side has marked (``del`` on the left, ``ins`` on the right)."""
    if len(left) * len(right) > 4_000_000:  # quadratic matcher: mark the whole text instead
        return f"<del>{escape(left)}</del>", f"<ins>{escape(right)}</ins>"
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    a: list[str] = []
    b: list[str] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            a.append(escape(left[a0:a1]))
            b.append(escape(right[b0:b1]))
            continue
        if a1 > a0:
            a.append(f"<del>{escape(left[a0:a1])}</del>")
        if b1 > b0:
            b.append(f"<ins>{escape(right[b0:b1])}</ins>")
    return "".join(a), "".join(b)


_MAIN_FIELDS = frozenset({"reasoning", "content", "error", "tool_return", "hidden_reasoning"})


def _field_changes(left: dict[str, Any], right: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """The fields worth naming beside the marked text: not the text itself, and not the fields
    one side lacks only because its type differs (the type change says that already)."""
    changes: list[tuple[str, Any, Any]] = []
    for key in dict.fromkeys([*left, *right]):
        a, b = left.get(key), right.get(key)
        if a == b or key in _MAIN_FIELDS:
            continue
        if key == "tool_call" and isinstance(a, dict) and isinstance(b, dict):
            changes.extend(
                (f"tool_call.{sub}", a.get(sub), b.get(sub))
                for sub in dict.fromkeys([*a, *b])
                if sub not in ("name", "arguments") and a.get(sub) != b.get(sub)
            )
        elif key == "message_type" or (key in left and key in right):
            changes.append((key, a, b))
    return changes


def _changed_cells(left: AgentMessage, right: AgentMessage, ignore: Collection[str]) -> str:
    text_l, text_r = _inline(_main_text(left), _main_text(right))
    changes = _field_changes(_comparable(left, ignore), _comparable(right, ignore))
    fields_l = [f"{escape(key)}: <mark>{escape(json.dumps(a))}</mark>" for key, a, _ in changes]
    fields_r = [f"{escape(key)}: <mark>{escape(json.dumps(b))}</mark>" for key, _, b in changes]

    def cell(message: AgentMessage, text: str, fields: list[str]) -> str:
        kind = message_kind(message)
        extra = f"<div class='sr-field'>{'<br>'.join(fields)}</div>" if fields else ""
        return (
            f"<td><div class='sr-msg sr-{kind}'><span class='sr-kind'>"
            f"{escape(kind.replace('_', ' '))}</span><div class='sr-text'>{text}</div>{extra}"
            "</div></td>"
        )

    return cell(left, text_l, fields_l) + cell(right, text_r, fields_r)


def _short_card(message: AgentMessage) -> str:
    kind = message_kind(message)
    return (
        f"<div class='sr-msg sr-{kind}'><span class='sr-kind'>{escape(kind.replace('_', ' '))}"
        f"</span>{escape(message_preview(message))}</div>"
    )


def diff_text(rows: Sequence[DiffRow], *, labels: tuple[str, str]) -> str:
    """The diff's verdict on one line: counts of same, changed, removed and added messages."""
    counts = Counter[str]()
    for row in rows:
        counts[row.kind] += row.count
    left = counts["same"] + counts["folded"] + counts["changed"] + counts["removed"]
    right = counts["same"] + counts["folded"] + counts["changed"] + counts["added"]
    head = f"<SequenceDiff {labels[0]} vs {labels[1]}: "
    if left == right == counts["same"] + counts["folded"]:
        return head + f"identical, {_plural(left, 'message')}>"
    return head + (
        f"{left} vs {right} messages; {counts['same'] + counts['folded']} same,"
        f" {counts['changed']} changed, {counts['removed']} only in {labels[0]},"
        f" {counts['added']} only in {labels[1]}>"
    )


RowNote = Callable[[AgentMessage | None, AgentMessage | None], str | None]
"""Says why an aligned pair differs (or None): a third column of the diff."""


def diff_html(
    rows: Sequence[DiffRow],
    *,
    labels: tuple[str, str],
    ignore: Collection[str] = DEFAULT_IGNORED_FIELDS,
    notes: RowNote | None = None,
) -> str:
    """Two columns: identical pairs dimmed (or folded), changes marked within the text.

    With ``notes``, a third column gives each differing pair its note (a defect class, say).
    """
    why = "<th>why</th>" if notes is not None else ""
    out = [f"<tr><th>{escape(labels[0])}</th><th>{escape(labels[1])}</th>{why}</tr>"]
    span = 3 if notes is not None else 2
    for row in rows:
        note = ""
        if notes is not None and row.kind not in ("same", "folded"):
            note = f"<td class='sr-note'>{escape(notes(row.left, row.right) or '')}</td>"
        elif notes is not None and row.kind == "same":
            note = "<td></td>"
        if row.kind == "folded":
            noun = "identical message" if row.count == 1 else "identical messages"
            out.append(f"<tr class='sr-fold'><td colspan='{span}'>… {row.count} {noun} …</td></tr>")
            continue
        kind, cells = _diff_cells(row, ignore)
        out.append(f"<tr class='sr-{kind}'>{cells}{note}</tr>")
    verdict = diff_text(rows, labels=labels).strip("<>")
    return (
        STYLE
        + f"<div class='sr-root'><div class='sr-title'>{escape(verdict)}</div>"
        + f"<table class='sr-diff'>{''.join(out)}</table></div>"
    )


def _diff_cells(row: DiffRow, ignore: Collection[str]) -> tuple[str, str]:
    """One aligned pair's class name and its two cells (folded rows are drawn by the caller)."""
    gap = "<td><div class='sr-gap'></div></td>"
    if row.kind == "same":
        assert row.left is not None and row.right is not None
        return "same", f"<td>{_short_card(row.left)}</td><td>{_short_card(row.right)}</td>"
    if row.kind == "changed":
        assert row.left is not None and row.right is not None
        return "changed", _changed_cells(row.left, row.right, ignore)
    if row.kind == "removed":
        assert row.left is not None
        return "removed", f"<td>{_short_card(row.left)}</td>{gap}"
    assert row.right is not None
    return "added", f"{gap}<td>{_short_card(row.right)}</td>"


# -- Timing ----------------------------------------------------------------------------------

_PALETTE = ("#2563eb", "#d97706", "#059669", "#9333ea", "#dc2626", "#0891b2")
_W, _PAD_L, _PAD_R, _PAD_T, _PAD_B = 640, 56, 16, 24, 34


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) from 0 up to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 5.0, 10.0) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


@dataclass(frozen=True, slots=True)
class _Frame:
    """A plot area and the scales from data to pixels."""

    height: int
    x_max: float
    y_max: float

    def x(self, value: float) -> float:
        return _PAD_L + (_W - _PAD_L - _PAD_R) * (value / self.x_max if self.x_max else 0.0)

    def y(self, value: float) -> float:
        inner = self.height - _PAD_T - _PAD_B
        return self.height - _PAD_B - inner * (value / self.y_max if self.y_max else 0.0)


def _axes(frame: _Frame, x_ticks: list[float], y_ticks: list[float], x_label: str,
          y_label: str, title: str) -> list[str]:  # fmt: skip
    parts = [f"<text x='{_PAD_L}' y='14' font-weight='600'>{escape(title)}</text>"]
    bottom = frame.height - _PAD_B
    for tick in y_ticks:
        y = _num(frame.y(tick))
        parts.append(
            f"<line x1='{_PAD_L}' x2='{_W - _PAD_R}' y1='{y}' y2='{y}' stroke='#e4e7eb'/>"
            f"<text x='{_PAD_L - 4}' y='{y}' text-anchor='end' dy='3'>{_num(tick)}</text>"
        )
    for tick in x_ticks:
        x = _num(frame.x(tick))
        parts.append(
            f"<line x1='{x}' x2='{x}' y1='{bottom}' y2='{bottom + 4}' stroke='#7b8794'/>"
            f"<text x='{x}' y='{bottom + 15}' text-anchor='middle'>{_num(tick)}</text>"
        )
    parts.append(
        f"<line x1='{_PAD_L}' x2='{_W - _PAD_R}' y1='{bottom}' y2='{bottom}' stroke='#7b8794'/>"
        f"<line x1='{_PAD_L}' x2='{_PAD_L}' y1='{_PAD_T}' y2='{bottom}' stroke='#7b8794'/>"
        f"<text x='{(_PAD_L + _W - _PAD_R) // 2}' y='{frame.height - 4}' text-anchor='middle'"
        f" fill='#52606d'>{escape(x_label)}</text>"
        f"<text transform='translate(12 {(_PAD_T + bottom) // 2}) rotate(-90)'"
        f" text-anchor='middle' fill='#52606d'>{escape(y_label)}</text>"
    )
    return parts


def _svg(height: int, parts: list[str], label: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_W}' height='{height}'"
        f" viewBox='0 0 {_W} {height}' role='img' aria-label='{escape(label)}'"
        " font-family='system-ui,sans-serif' font-size='11' fill='#1f2933'>"
        + "".join(parts)
        + "</svg>"
    )


def _is_timed(item: InteractionResult) -> bool:
    return bool(item.chunks) and item.timing.duration_ms is not None


def _arrivals_svg(interactions: Sequence[InteractionResult], labels: Sequence[str]) -> str:
    """Chunks received against time since the request, one step line per interaction."""
    x_ticks = _ticks(max(i.chunks[-1].offset_ms for i in interactions))
    y_ticks = _ticks(max(len(i.chunks) for i in interactions))
    frame = _Frame(220, x_ticks[-1], y_ticks[-1])
    parts = _axes(frame, x_ticks, y_ticks, "ms since the request", "chunks", "Chunks over time")
    for number, (item, label) in enumerate(zip(interactions, labels, strict=True)):
        colour = _PALETTE[number % len(_PALETTE)]
        path = [f"M{_num(frame.x(0))} {_num(frame.y(0))}"]
        for count, chunk in enumerate(item.chunks, start=1):
            path.append(f"H{_num(frame.x(chunk.offset_ms))}V{_num(frame.y(count))}")
        parts.append(
            f"<path d='{''.join(path)}' fill='none' stroke='{colour}' stroke-width='1.5'/>"
        )
        if len(item.chunks) <= 200:
            parts.extend(
                f"<circle cx='{_num(frame.x(c.offset_ms))}' cy='{_num(frame.y(n))}' r='2'"
                f" fill='{colour}'/>"
                for n, c in enumerate(item.chunks, start=1)
            )
        first = _num(frame.x(item.chunks[0].offset_ms))
        parts.append(
            f"<line x1='{first}' x2='{first}' y1='{_PAD_T}' y2='{frame.height - _PAD_B}'"
            f" stroke='{colour}' stroke-dasharray='3 3' opacity='.7'/>"
        )
        legend_y = _PAD_T + 4 + 14 * number
        parts.append(
            f"<rect x='{_PAD_L + 8}' y='{legend_y}' width='10' height='10' fill='{colour}'/>"
            f"<text x='{_PAD_L + 22}' y='{legend_y + 9}'>{escape(label)}: first chunk"
            f" {_num(item.chunks[0].offset_ms)} ms</text>"
        )
    return _svg(frame.height, parts, "chunks over time")


def _gaps(item: InteractionResult) -> list[float]:
    offsets = [c.offset_ms for c in item.chunks]
    return [offsets[0], *(b - a for a, b in itertools.pairwise(offsets))]


def _gaps_svg(interactions: Sequence[InteractionResult], labels: Sequence[str]) -> str:
    """The wait before each chunk (the first bar is the time to first chunk), steps in turn."""
    bars = [
        (number, index, gap)
        for number, item in enumerate(interactions)
        for index, gap in enumerate(_gaps(item))
    ]
    y_ticks = _ticks(max(gap for _, _, gap in bars))
    frame = _Frame(200, float(len(bars)), y_ticks[-1])
    x_ticks = _ticks(float(len(bars)))
    parts = _axes(frame, [t for t in x_ticks if t <= len(bars)], y_ticks, "chunk", "ms",
                  "Wait before each chunk")  # fmt: skip
    width = max((_W - _PAD_L - _PAD_R) / len(bars) - 1.0, 0.5)
    worst = max(range(len(bars)), key=lambda i: (bars[i][2], -i))
    for position, (number, index, gap) in enumerate(bars):
        colour = _PALETTE[number % len(_PALETTE)]
        opacity = "0.45" if index == 0 else "1"
        top = frame.y(gap)
        parts.append(
            f"<rect x='{_num(frame.x(position))}' y='{_num(top)}' width='{_num(width)}'"
            f" height='{_num(frame.height - _PAD_B - top)}' fill='{colour}'"
            f" opacity='{opacity}'><title>{escape(labels[number])} chunk #{index}:"
            f" {_num(gap)} ms</title></rect>"
        )
    number, index, gap = bars[worst]
    parts.append(
        f"<text x='{_W - _PAD_R}' y='14' text-anchor='end' fill='#b91c1c'>longest wait"
        f" {_num(gap)} ms before chunk #{index}"
        + (f" of {escape(labels[number])}" if len(interactions) > 1 else "")
        + "</text>"
    )
    return _svg(frame.height, parts, "wait before each chunk")


def _timing_rows(interactions: Sequence[InteractionResult], labels: Sequence[str]) -> str:
    rows = [
        "<tr><th></th><th>first chunk</th><th>duration</th><th>chunks</th><th>chunks/s</th>"
        "<th>median gap</th><th>longest gap</th></tr>"
    ]
    for item, label in zip(interactions, labels, strict=True):
        timing = item.timing
        gaps = _gaps(item)[1:] if _is_timed(item) else []
        longest = max(range(len(gaps)), key=lambda i: (gaps[i], -i)) if gaps else None
        rate = "–" if timing.chunks_per_second is None else f"{timing.chunks_per_second:,.1f}"
        rows.append(
            f"<tr><td>{escape(label)}</td>"
            f"<td class='sr-num'>{_ms(timing.time_to_first_chunk_ms)}</td>"
            f"<td class='sr-num'>{_ms(timing.duration_ms)}</td>"
            f"<td class='sr-num'>{len(item.chunks)}</td><td class='sr-num'>{rate}</td>"
            f"<td class='sr-num'>{_ms(statistics.median(gaps) if gaps else None)}</td>"
            f"<td class='sr-num'>"
            + (f"{_ms(gaps[longest])} before #{longest + 1}" if longest is not None else "–")
            + "</td></tr>"
        )
    return f"<table class='sr-table'>{''.join(rows)}</table>"


def timing_html(
    source: ReplayResult | Sequence[InteractionResult], *, labels: Sequence[str] | None = None
) -> str:
    """A timing table and two inline SVG plots: chunks over time, and the wait before each."""
    interactions = source.interactions if isinstance(source, ReplayResult) else list(source)
    names = list(labels) if labels is not None else [f"step {i.index + 1}" for i in interactions]
    table = _timing_rows(interactions, names)
    timed = [(i, n) for i, n in zip(interactions, names, strict=True) if _is_timed(i)]
    if not timed:
        plots = "<div class='sr-muted'>No chunk timing was recorded for this stream.</div>"
    else:
        items, timed_names = [i for i, _ in timed], [n for _, n in timed]
        plots = f"<div>{_arrivals_svg(items, timed_names)}</div>" + (
            f"<div>{_gaps_svg(items, timed_names)}</div>"
        )
    return STYLE + f"<div class='sr-root'>{table}{plots}</div>"
