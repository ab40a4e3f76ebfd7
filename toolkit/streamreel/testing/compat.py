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
from dataclasses import dataclass, field, replace
from typing import Any

from streamreel.core.cassette import Interaction
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
from streamreel.core.parser import InterfaceSettings
from streamreel.core.results import InteractionResult
from streamreel.testing.evidence import (
    ContentView,
    StreamContent,
    content_view,
    interaction_content,
    messages_view,
    source_mismatches,
)
from streamreel.testing.transcript import align

__all__ = [
    "DEFECTS",
    "NOISE",
    "UNEXPLAINED",
    "Comparison",
    "Disagreement",
    "Row",
    "compare_interactions",
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
        # streamreel's own sources are exact: a signature-only thinking delta followed by plain
        # text (Gemini's signed text part) is two messages, not thinking.
        differs = current.source != delta.source and (current.reasoning or not single)
        if differs and not mislabelled_head:
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
        return current.model_copy(update={"tool_call": _appended(current, delta)})
    return None


def logical_messages(
    messages: Sequence[AgentMessage], *, lenient: bool = False
) -> list[AgentMessage]:
    """Join consecutive deltas of one message, whatever their otids say.

    ``lenient`` (for Letta's side) also joins thinking deltas to a run Letta labelled
    ``non_reasoner_model``, so the mislabel is compared rather than splitting the message.
    """
    out: list[AgentMessage] = []
    calls: dict[str, int] = {}
    for message in messages:
        if not lenient and isinstance(message, ToolCallMessage) and message.otid in calls:
            # streamreel's otids name the call a delta belongs to, however parallel calls
            # interleave (Letta's do not: defect 12).
            at = calls[message.otid]
            have = out[at]
            assert isinstance(have, ToolCallMessage)
            out[at] = have.model_copy(update={"tool_call": _appended(have, message)})
            continue
        joined = _join(out[-1], message, lenient) if out else None
        if not lenient and joined is not None and _otid(message) not in (None, _otid(out[-1])):
            joined = None  # streamreel's otids say where its messages start
        if joined is None:
            out.append(message)
            if not lenient and isinstance(message, ToolCallMessage) and message.otid:
                calls[message.otid] = len(out) - 1
        else:
            out[-1] = joined
    return out


def _otid(message: AgentMessage) -> str | None:
    return getattr(message, "otid", None)


def _appended(current: ToolCallMessage, delta: ToolCallMessage) -> ToolCallDelta:
    have, new = current.tool_call, delta.tool_call
    arguments = None
    if have.arguments is not None or new.arguments is not None:
        arguments = (have.arguments or "") + (new.arguments or "")
    return ToolCallDelta(
        name=(have.name or "") + (new.name or "") or None,
        arguments=arguments,
        tool_call_id=have.tool_call_id or new.tool_call_id,
    )


@dataclass(frozen=True, slots=True)
class Row:
    """An aligned pair: ``same``, ``changed``, ``removed`` (Letta only) or ``added`` (ours only).

    ``source`` rows carry no pair: streamreel's whole output against the stream's content.
    """

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
    detail: str = ""
    """For an unexplained difference: what is missing for any label, or what streamreel's
    output says that the stream does not."""

    @property
    def label(self) -> str:
        if self.defect is not None:
            return f"defect {self.defect}: {DEFECTS[self.defect]}"
        if self.reason == UNEXPLAINED and self.detail:
            return f"{UNEXPLAINED}: {self.detail}"
        return self.reason if self.reason in (UNEXPLAINED, MODE) else f"{NOISE}: {self.reason}"


@dataclass(slots=True)
class Comparison:
    """Letta's logical messages (left) against streamreel's (right), every difference named."""

    letta: list[AgentMessage]
    ours: list[AgentMessage]
    rows: list[Row]
    disagreements: list[Disagreement] = field(default_factory=list)
    otids_differ: bool = False
    checked: bool = False
    """Whether streamreel's messages were held to the stream's own content."""

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


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What the stream itself says, to hold a label to: a defect is Letta's only when
    streamreel's side of the row is what the stream says (and the defect's own sign is there)."""

    content: StreamContent
    views: tuple[ContentView, ...]

    @classmethod
    def of(cls, content: StreamContent, settings: InterfaceSettings, expect: bool) -> _Evidence:
        views = tuple(
            content_view(content, replace(settings, inner_thoughts_in_kwargs=kwargs), flag)
            for kwargs in (True, False)
            for flag in (expect, not expect)
        )
        return cls(content, views)

    def shows(self, message: AgentMessage) -> bool:
        """Whether the stream carries this message's content."""
        if isinstance(message, ToolCallMessage):
            call = message.tool_call
            value = messages_view([message]).calls[0][2] if call.name else None
            return any(
                (want_id, want_name) == (call.tool_call_id, call.name)
                and (want_value == value or isinstance(want_value, str))
                for view in self.views
                for want_id, want_name, want_value in view.calls
            )
        if isinstance(message, ReasoningMessage) and message.source == "reasoner_model":
            return message.reasoning in self.content.reasoning
        if isinstance(message, HiddenReasoningMessage):
            return (message.hidden_reasoning or "") in self.content.hidden
        if isinstance(message, AssistantMessage | ReasoningMessage):
            text = _text(message) or ""
            return any(text in view.words for view in self.views)
        return True

    def name_fragment(self, name: str | None) -> bool:
        """``name`` is a proper part of a tool name the stream has (a split name's piece)."""
        return bool(name) and any(
            name != call.name and (name or "") in call.name for call in self.content.calls
        )

    @property
    def parallel(self) -> bool:
        return len(self.content.calls) > 1

    @property
    def cut(self) -> bool:
        """A call's arguments end before their JSON does."""
        return any(not call.complete for call in self.content.calls)


def _confirmed(found: Disagreement, evidence: _Evidence | None) -> Disagreement:
    """``found`` if the stream backs its label, else the row as unexplained, saying why."""
    if evidence is None or (found.defect is None and found.reason != MODE):
        return found
    row, defect = found.row, found.defect
    right = row.right
    # For defect 3 this is the rule that streamreel's arguments equal the stream's.
    if right is not None and not evidence.shows(right):
        detail = f"streamreel's {type(right).__name__} is not what the stream says"
        return Disagreement(row, None, UNEXPLAINED, detail)
    missing = None
    if defect == 5 and not evidence.parallel:
        missing = "defect 5 needs parallel tool calls in the stream"
    elif defect == 6 and not evidence.name_fragment(
        row.left.tool_call.name if isinstance(row.left, ToolCallMessage) else None
    ):
        missing = "defect 6 needs Letta's name to be a piece of a name in the stream"
    elif defect == 13 and not evidence.cut:
        missing = "defect 13 needs arguments cut short in the stream"
    if missing is not None:
        return Disagreement(row, None, UNEXPLAINED, missing)
    return found


def _paired_elsewhere(
    left: AgentMessage, right: AgentMessage, ours: Sequence[AgentMessage]
) -> bool:
    """The alignment paired Letta's message with the wrong one of ours: its text (spaces
    aside) is that of another message of ours of its kind, so Letta never emitted ``right``."""
    text = (_text(left) or "").strip()
    return (
        bool(text)
        and any(
            m is not right and type(m) is type(left) and (_text(m) or "").strip() == text
            for m in ours
        )
        and (_text(right) or "").strip() != text
    )


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
        if _paired_elsewhere(left, right, ours):
            return Disagreement(row, 4, "Letta's message is another of streamreel's; not this one")
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
    source: StreamContent | None,
    settings: InterfaceSettings | None = None,
    expect_reasoning_content: bool = False,
) -> Comparison:
    """Align Letta's deltas (left) with streamreel's (right) and name every disagreement.

    Both are given as emitted (deltas). Ids, dates, names, sources, signatures, text and tool
    calls are compared field by field; otids separately, since Letta's count differently
    (defect 12) and would otherwise hide every other difference.

    ``source`` is what the chunks themselves carry (:func:`streamreel.testing.evidence.content_of`),
    with the interface ``settings`` both sides ran with. streamreel's messages are first held to
    it: every place they do not carry exactly that content is an unexplained disagreement. Then
    a difference gets a defect's label only on positive evidence: streamreel's side of the row
    is in the stream, and the defect's own sign is there (parallel calls for 5, a piece of a
    stream's tool name for 6, arguments cut short for 13). ``source=None`` (a stream with no
    chunks to read) skips both, and says so by leaving :attr:`Comparison.checked` false.
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
    comparison = Comparison(left, right, rows, checked=source is not None)
    evidence = None
    if source is not None:
        chosen = settings or InterfaceSettings()
        evidence = _Evidence.of(source, chosen, expect_reasoning_content)
        for detail in source_mismatches(
            ours, source, chosen, expect_reasoning_content=expect_reasoning_content
        ):
            row = Row("source")
            comparison.disagreements.append(Disagreement(row, None, UNEXPLAINED, detail))
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
        found = _explain(row, crashed, right, left, expect_reasoning_content)
        comparison.disagreements.append(_confirmed(found, evidence))
    # Letta gives every delta of a logical message the otid of the moment; compare per message.
    paired = [(r.left, r.right) for r in rows if r.left is not None and r.right is not None]
    comparison.otids_differ = any(
        getattr(a, "otid", None) != getattr(b, "otid", None) for a, b in paired
    ) or len(set(_otids(letta))) != len(set(_otids(ours)))
    return comparison


def compare_interactions(
    letta: InteractionResult,
    ours: InteractionResult,
    *,
    settings: InterfaceSettings,
    expect_reasoning_content: bool = False,
    recorded: Interaction | None = None,
) -> Comparison:
    """:func:`compare_with_letta` on one replayed interaction, held to its own chunks.

    ``ours`` is streamreel's replay of it (its chunk records are the source); ``recorded`` is
    the cassette's interaction, needed only when the body came whole (a JSON reply).
    """
    return compare_with_letta(
        letta.messages,
        ours.messages,
        source=interaction_content(ours, recorded),
        settings=settings,
        expect_reasoning_content=expect_reasoning_content,
    )
