"""Letta 0.7.8 against streamreel: where the two interfaces disagree, and which defect explains it.

The differential test, the notebook and ``streamreel diff --against letta`` readers need the same
thing: two message sequences made from the same stream, aligned, and every disagreement named.
Letta's own deltas cannot be joined by their ``otid`` (its message index is defect 12), so both
sides are first joined into *logical messages* by :func:`logical_messages`: consecutive deltas of
one kind within one LLM call are one message; a tool call starts a new one when it brings a new
id or a name after the previous call had its own. Then :func:`compare_with_letta` aligns the two
sides with the sequence diff's alignment and gives each differing row a :class:`Disagreement`
with the number of the defect (``LETTA-FACTS.md`` section 5, as in the README's table) or
``None`` for noise: output that is noisier than streamreel's but not wrong. A difference no rule
explains is labelled ``UNEXPLAINED``, which the differential test refuses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from streamreel.core.messages import (
    AgentMessage,
    AssistantMessage,
    ErrorMessage,
    HiddenReasoningMessage,
    ReasoningMessage,
    ToolCallDelta,
    ToolCallMessage,
    ToolReturnMessage,
    wire_dict,
)
from streamreel.testing.transcript import align

__all__ = [
    "DEFECTS",
    "NOISE",
    "UNEXPLAINED",
    "Comparison",
    "Disagreement",
    "Row",
    "compare_with_letta",
    "logical_messages",
]

DEFECTS: dict[int, str] = {
    1: "partial JSON strings returned undecoded, then the whole message again",
    2: "crash (validation or exception) on input streamreel reads",
    3: "argument JSON altered (quote inserted, whitespace moved)",
    4: "a call or text never emitted",
    5: "parallel tool calls garbled",
    6: "a tool name split across chunks becomes two calls",
    7: "content in reasoning mode: JSON re-emitted, buffer kept, plain text dropped",
    8: "reasoning signature dropped or sent alone; first thinking labelled non_reasoner_model",
    9: "tool-return prefix removed everywhere / send_message return shown",
    10: "async generator started late yields nothing",
    11: "a trailing space held back",
    12: "message index off by one and restarting (otids)",
    13: "a stream cut mid-arguments ends without an error",
}
"""Letta 0.7.8's defect classes, numbered as in ``LETTA-FACTS.md`` and the README's table."""

NOISE = "noise"
MODE = "reasoning_content read only when expected"
UNEXPLAINED = "unexplained"

_CRASH = "Letta 0.7.8 raised"


def _text(message: AgentMessage) -> str | None:
    if isinstance(message, ReasoningMessage):
        return message.reasoning
    if isinstance(message, AssistantMessage):
        return message.content
    if isinstance(message, HiddenReasoningMessage):
        return message.hidden_reasoning
    if isinstance(message, ToolCallMessage):
        return message.tool_call.arguments
    if isinstance(message, ToolReturnMessage):
        return message.tool_return
    return None


def _starts_new_call(current: ToolCallMessage, delta: ToolCallMessage) -> bool:
    have, new = current.tool_call, delta.tool_call
    if new.tool_call_id is not None and have.tool_call_id not in (None, new.tool_call_id):
        return True
    return new.name is not None and bool(have.name) and have.arguments is not None


def _join(current: AgentMessage, delta: AgentMessage, single: bool) -> AgentMessage | None:
    """``current`` with ``delta`` appended, or None when ``delta`` starts a new message.

    ``single`` says ``current`` may be Letta's mislabelled head of a thinking run (defect 8):
    thinking deltas after it join it, so the wrong label shows on the whole message.
    """
    if type(current) is not type(delta) or getattr(current, "id", None) != getattr(
        delta, "id", None
    ):
        return None
    if isinstance(current, ReasoningMessage) and isinstance(delta, ReasoningMessage):
        mislabelled_head = single and delta.source == "reasoner_model"
        if current.source != delta.source and current.reasoning and not mislabelled_head:
            return None
        # An empty first delta keeps its label: Letta's mislabelled first thinking chunk
        # (defect 8) must stay visible.
        return current.model_copy(
            update={
                "reasoning": current.reasoning + delta.reasoning,
                "signature": delta.signature or current.signature,
                "source": current.source,
            }
        )
    if isinstance(current, AssistantMessage) and isinstance(delta, AssistantMessage):
        return current.model_copy(update={"content": current.content + delta.content})
    if isinstance(current, HiddenReasoningMessage) and isinstance(delta, HiddenReasoningMessage):
        joined = (current.hidden_reasoning or "") + (delta.hidden_reasoning or "")
        return current.model_copy(update={"hidden_reasoning": joined})
    if isinstance(current, ToolCallMessage) and isinstance(delta, ToolCallMessage):
        if _starts_new_call(current, delta):
            return None
        have, new = current.tool_call, delta.tool_call
        arguments = None
        if have.arguments is not None or new.arguments is not None:
            arguments = (have.arguments or "") + (new.arguments or "")
        call = ToolCallDelta(
            name=(have.name or "") + (new.name or "") or None,
            arguments=arguments,
            tool_call_id=have.tool_call_id or new.tool_call_id,
        )
        return current.model_copy(update={"tool_call": call})
    return None


def logical_messages(
    messages: Sequence[AgentMessage], *, lenient: bool = False
) -> list[AgentMessage]:
    """Join consecutive deltas of one message, whatever their otids say.

    ``lenient`` (for Letta's side) also joins thinking deltas to a run Letta labelled
    ``non_reasoner_model``, so the mislabel is compared rather than splitting the message.
    """
    out: list[AgentMessage] = []
    for message in messages:
        joined = _join(out[-1], message, lenient) if out else None
        if joined is None:
            out.append(message)
        else:
            out[-1] = joined
    return out


@dataclass(frozen=True, slots=True)
class Row:
    """An aligned pair: ``same``, ``changed``, ``removed`` (Letta only) or ``added`` (ours only)."""

    kind: str
    left: AgentMessage | None = None
    right: AgentMessage | None = None


def _key(message: AgentMessage) -> str:
    wire = {k: v for k, v in wire_dict(message).items() if k != "otid"}
    return json.dumps(wire, sort_keys=True)


def _rows(left: Sequence[AgentMessage], right: Sequence[AgentMessage]) -> list[Row]:
    left_keys = [_key(m) for m in left]
    right_keys = [_key(m) for m in right]
    kinds = {
        k: type(m).__name__ for k, m in zip([*left_keys, *right_keys], [*left, *right], strict=True)
    }
    rows: list[Row] = []
    for i, j in align(left_keys, right_keys, kind=kinds.__getitem__):
        if i is not None and j is not None:
            same = left_keys[i] == right_keys[j]
            rows.append(Row("same" if same else "changed", left[i], right[j]))
        elif i is not None:
            rows.append(Row("removed", left=left[i]))
        elif j is not None:
            rows.append(Row("added", right=right[j]))
    return rows


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One differing row, explained: ``defect`` is a key of :data:`DEFECTS` or None for noise."""

    row: Row
    defect: int | None
    reason: str

    @property
    def label(self) -> str:
        if self.defect is not None:
            return f"defect {self.defect}: {DEFECTS[self.defect]}"
        return self.reason if self.reason in (UNEXPLAINED, MODE) else f"{NOISE}: {self.reason}"


@dataclass(slots=True)
class Comparison:
    """Letta's logical messages (left) against streamreel's (right), every difference named."""

    letta: list[AgentMessage]
    ours: list[AgentMessage]
    rows: list[Row]
    disagreements: list[Disagreement] = field(default_factory=list)
    otids_differ: bool = False

    @property
    def defects(self) -> set[int]:
        found = {d.defect for d in self.disagreements if d.defect is not None}
        return found | ({12} if self.otids_differ else set())

    @property
    def unexplained(self) -> list[Disagreement]:
        return [d for d in self.disagreements if d.reason == UNEXPLAINED]

    @property
    def agree(self) -> bool:
        """Field by field, ids, otids and dates included."""
        return not self.disagreements and not self.otids_differ

    def note(self, left: AgentMessage | None, right: AgentMessage | None) -> str | None:
        """The label of the disagreement on this aligned pair, if the pair is one.

        Fits the ``notes`` of :class:`streamreel.notebook.widgets.SequenceDiff` shown on
        ``letta`` and ``ours`` (compared without otids, unmerged), whose rows are these rows.
        """
        for found in self.disagreements:
            if found.row.left == left and found.row.right == right:
                return found.label
        return None


def _escaped(text: str) -> bool:
    return any(seq in text for seq in ('\\"', "\\n", "\\u", "\\\\", "\\t", "\\/"))


def _json_or_none(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return _crash_marker


_crash_marker = object()


def _explain_changed(left: AgentMessage, right: AgentMessage) -> tuple[int | None, str]:
    if type(left) is not type(right):
        if isinstance(right, ToolCallMessage) and not isinstance(left, ToolCallMessage):
            return 7 if "{" in (_text(left) or "") else 4, "a tool call read as something else"
        return 4, "a message of another kind"
    same_text = _text(left) == _text(right)
    if isinstance(left, ToolReturnMessage) and isinstance(right, ToolReturnMessage):
        if not same_text and "Success: " in right.tool_return:
            return 9, "'Success: ' removed inside the return text too"
        return None, UNEXPLAINED
    if isinstance(left, ReasoningMessage) and isinstance(right, ReasoningMessage) and same_text:
        return 8, "signature or source differs"
    if isinstance(left, ToolCallMessage) and isinstance(right, ToolCallMessage):
        theirs, mine = left.tool_call, right.tool_call
        if theirs.name != mine.name:
            return 6, f"tool name {theirs.name!r} instead of {mine.name!r}"
        if theirs.arguments != mine.arguments:
            parsed = _json_or_none(theirs.arguments)
            if parsed is not _crash_marker and parsed == _json_or_none(mine.arguments):
                return 3, "arguments JSON rewritten (same value, other text)"
            if theirs.arguments and mine.arguments and theirs.arguments.count(mine.arguments) > 1:
                return 7, "arguments repeated"
            return 3, "arguments JSON altered"
        return 2, "tool call id lost"
    got, want = _text(left) or "", _text(right) or ""
    if (want and got.count(want) > 1) or (want and want in got and got != want and _escaped(got)):
        return 1, "text repeated after its escaped form"
    if (_escaped(got) and not _escaped(want)) or got.count("\\") > want.count("\\"):
        return 1, "escape sequences left undecoded"
    if got.strip() == want.strip():
        return 3, "whitespace moved"
    if want.startswith(got):
        tail = want[len(got) :]
        return (11, "trailing space held back") if tail.isspace() else (4, "text cut short")
    return None, UNEXPLAINED


def _explain(
    row: Row,
    crashed: bool,
    ours: Sequence[AgentMessage],
    letta: Sequence[AgentMessage],
    expect_reasoning_content: bool,
) -> Disagreement:
    left, right = row.left, row.right
    if isinstance(left, ErrorMessage) and left.error.startswith(_CRASH):
        return Disagreement(row, 2, left.error)
    if (
        crashed
        and right is not None
        and (left is None or (_text(right) or "").startswith(_text(left) or ""))
    ):
        return Disagreement(row, 2, "lost when Letta raised")
    if left is None and isinstance(right, ReasoningMessage):
        if right.source == "reasoner_model" and not expect_reasoning_content:
            return Disagreement(row, None, MODE)
        if right.source == "non_reasoner_model" and expect_reasoning_content:
            return Disagreement(row, 7, "plain content dropped in reasoning mode")
    if left is not None and right is not None:
        defect, reason = _explain_changed(left, right)
        return Disagreement(row, defect, reason)
    if left is not None:
        if isinstance(left, ToolReturnMessage):
            # streamreel shows every return but that of a send_message it showed as text.
            return Disagreement(row, 9, "the return of send_message shown")
        if isinstance(left, ReasoningMessage) and not left.reasoning and not left.signature:
            return Disagreement(row, None, "an empty reasoning delta")
        text = _text(left) or ""
        if isinstance(left, ToolCallMessage):
            names = [m.tool_call.name or "" for m in ours if isinstance(m, ToolCallMessage)]
            if left.tool_call.name and any(
                n != left.tool_call.name and left.tool_call.name in n for n in names
            ):
                return Disagreement(row, 6, "a fragment of a split tool name as its own call")
            return Disagreement(row, 5, "an extra tool call")
        if text and any(
            m is not left and type(m) is type(left) and text in (_text(m) or "") for m in letta
        ):
            return Disagreement(row, 1, "text emitted a second time")
        if _escaped(text):
            return Disagreement(row, 1, "escape sequences left undecoded")
        return Disagreement(row, None, UNEXPLAINED)
    assert right is not None
    if isinstance(right, ErrorMessage):
        return Disagreement(row, 13, right.error)
    calls = {m.tool_call.tool_call_id for m in ours if isinstance(m, ToolCallMessage)}
    if isinstance(right, ToolCallMessage) and len(calls) > 1:
        return Disagreement(row, 5, "one of parallel tool calls missing")
    return Disagreement(row, 4, "never emitted")


def _otids(messages: Sequence[AgentMessage]) -> list[str | None]:
    return [getattr(m, "otid", None) for m in messages if not isinstance(m, ErrorMessage)]


def compare_with_letta(
    letta: Sequence[AgentMessage],
    ours: Sequence[AgentMessage],
    *,
    expect_reasoning_content: bool = False,
) -> Comparison:
    """Align Letta's deltas (left) with streamreel's (right) and name every disagreement.

    Both are given as emitted (deltas). Ids, dates, names, sources, signatures, text and tool
    calls are compared field by field; otids separately, since Letta's count differently
    (defect 12) and would otherwise hide every other difference.
    """
    left: list[AgentMessage] = []
    empty: list[Row] = []
    for message in logical_messages(letta, lenient=True):
        if isinstance(message, ReasoningMessage) and not message.reasoning:
            empty.append(Row("removed", left=message))
        else:
            left.append(message)
    right = logical_messages(ours)
    rows = _rows(left, right)
    crashed = any(isinstance(m, ErrorMessage) and m.error.startswith(_CRASH) for m in letta)
    comparison = Comparison(left, right, rows)
    for row in empty:
        assert isinstance(row.left, ReasoningMessage)
        if row.left.signature:
            reason = "the signature sent alone, as a non-reasoner message"
            comparison.disagreements.append(Disagreement(row, 8, reason))
        else:
            comparison.disagreements.append(Disagreement(row, None, "an empty reasoning delta"))
    for row in rows:
        if row.kind == "same":
            continue
        comparison.disagreements.append(
            _explain(row, crashed, right, left, expect_reasoning_content)
        )
    # Letta gives every delta of a logical message the otid of the moment; compare per message.
    paired = [(r.left, r.right) for r in rows if r.left is not None and r.right is not None]
    comparison.otids_differ = any(
        getattr(a, "otid", None) != getattr(b, "otid", None) for a, b in paired
    ) or len(set(_otids(letta))) != len(set(_otids(ours)))
    return comparison
