"""Letta 0.16.8 against the stream itself: where its SDK-stream interfaces differ, and why.

Letta 0.16.8's ``Simple*StreamingInterface`` classes read the provider SDK's typed stream and
yield the stream's content as it is: ``content`` as ``assistant_message``, thinking as
``reasoning_message``, tool calls as ``tool_call_message`` with their arguments untouched (no
``inner_thoughts`` or ``send_message`` handling; that moved out of the interface). So their
output is judged against the stream's own content (:mod:`streamreel.testing.evidence`) read
that way, and streamreel's, already held to the same content by
:func:`streamreel.testing.compat.compare_with_letta`, is equal to it wherever Letta is right.

:func:`compare_current` gives each place Letta 0.16.8's content differs from the stream's a
defect class of :data:`DEFECTS` (the README's table: the classes Letta 0.7.8 shares keep their
numbers, those new in 0.16.8 follow) on positive evidence only: the sign the class names must be
in the stream or in Letta's own output (its error record, a server-tool block, a content list).
A difference no rule backs is :data:`~streamreel.testing.compat.UNEXPLAINED`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streamreel.core.cassette import Cassette
from streamreel.core.messages import (
    AgentMessage,
    DeltaKey,
    ForeignMessage,
    delta_key,
    foreign_message,
    merge_deltas,
    wire_dict,
)
from streamreel.core.providers import StreamKind
from streamreel.playback.replay import replay
from streamreel.testing.compat import DEFECTS, UNEXPLAINED, Comparison, compare_interactions
from streamreel.testing.evidence import ContentView, StreamContent, interaction_content

if TYPE_CHECKING:
    from streamreel.letta.sdk import LettaSdkInterface

__all__ = [
    "CURRENT_DEFECTS",
    "NOISES",
    "CurrentComparison",
    "CurrentDifference",
    "ThreeWay",
    "compare_current",
    "current_view",
    "stream_view",
    "three_way",
]

CURRENT_DEFECTS: dict[int, str] = {
    **DEFECTS,
    14: "an error event or error body ends the stream as a raised exception, not a message",
    15: "the SDK refuses a chunk it cannot validate, and the rest of the stream is lost",
    16: "a server-side tool's input (web search, code execution) aborts the stream",
    17: "content sent as a list of parts (Mistral thinking) is refused",
    18: "raw reasoning text of a Responses stream (response.reasoning_text) dropped",
    19: "a tool name the server repeats in every chunk is concatenated",
}
"""Defect classes of either Letta; 14 and up are Letta 0.16.8's own."""

NOISES = {
    "ids": "tool-call ids Letta makes itself for Gemini (its server replaces the provider's)",
    "empty": "a call with empty input shown without arguments",
    "parts": "reasoning summary parts joined without the blank line between them",
}
"""Differences that are not wrong output, each with the evidence rule that names it."""


@dataclass(frozen=True, slots=True)
class CurrentDifference:
    """One way Letta 0.16.8's content differs from the stream's, explained.

    ``defect`` is a key of :data:`CURRENT_DEFECTS`, or None with ``noise`` a key of
    :data:`NOISES`, or neither: unexplained.
    """

    what: str
    defect: int | None
    detail: str
    noise: str | None = None

    @property
    def label(self) -> str:
        if self.defect is not None:
            return f"defect {self.defect}: {CURRENT_DEFECTS[self.defect]}"
        if self.noise is not None:
            return f"noise: {NOISES[self.noise]}"
        return f"{UNEXPLAINED}: {self.detail}"


@dataclass(slots=True)
class CurrentComparison:
    """Letta 0.16.8's content against the stream's, every difference named."""

    letta: ContentView
    stream: ContentView
    error: str | None
    differences: list[CurrentDifference] = field(default_factory=list)

    @property
    def defects(self) -> set[int]:
        return {d.defect for d in self.differences if d.defect is not None}

    @property
    def unexplained(self) -> list[CurrentDifference]:
        return [d for d in self.differences if d.defect is None and d.noise is None]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text") or "") for part in content if isinstance(part, dict))
    return ""


def _decoded(arguments: str | None) -> Any:
    if not arguments:
        return None
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def current_view(
    messages: Iterable[Mapping[str, Any]], *, whole_names: bool = False
) -> tuple[ContentView, str | None]:
    """Letta 0.16.8's messages (wire dicts) as content, and its error record's text if any.

    The messages are read merged (:func:`~streamreel.core.messages.merge_deltas`), as every
    view of them is: each tool call whole, by its ``tool_call_id``, in the order the calls
    first came. Stop reasons and usage records carry no content. ``whole_names``: the interface
    repeats the whole name on every delta of a call (Anthropic's, Gemini's), where OpenAI's
    passes the name's fragments on as they came, so only a call's first name is kept.
    """
    deltas = [foreign_message(dict(message)) for message in messages]
    if whole_names:
        deltas = _named_once(deltas)
    words: list[str] = []
    thinking: list[str] = []
    hidden: list[str] = []
    calls: list[tuple[str | None, str, Any]] = []
    error: str | None = None
    for merged in merge_deltas(deltas):
        message = wire_dict(merged)
        kind = message.get("message_type")
        if kind == "assistant_message":
            words.append(_text(message.get("content")))
        elif kind == "reasoning_message":
            thinking.append(str(message.get("reasoning") or ""))
        elif kind == "hidden_reasoning_message":
            hidden.append(str(message.get("hidden_reasoning") or ""))
        elif kind in ("tool_call_message", "approval_request_message"):
            call = message.get("tool_call") or {}
            name = str(call.get("name") or "")
            calls.append((call.get("tool_call_id"), name, _decoded(call.get("arguments"))))
        elif kind == "error_message":
            error = str(message.get("error") or "")
    view = ContentView(
        words="".join(words),
        thinking="".join(thinking),
        hidden="".join(hidden),
        calls=tuple(calls),
    )
    return view, error


def _named_once(deltas: list[AgentMessage]) -> list[AgentMessage]:
    """The deltas with a call's name dropped from every delta of it but the first that has it."""
    named: set[DeltaKey] = set()
    kept: list[AgentMessage] = []
    for delta in deltas:
        key = delta_key(delta)
        call = delta.data.get("tool_call") if isinstance(delta, ForeignMessage) else None
        if key is None or not isinstance(call, dict) or not call.get("name"):
            kept.append(delta)
        elif key in named and isinstance(delta, ForeignMessage):
            unnamed = {k: v for k, v in call.items() if k != "name"}
            kept.append(delta.model_copy(update={"data": {**delta.data, "tool_call": unnamed}}))
        else:
            named.add(key)
            kept.append(delta)
    return kept


def stream_view(source: StreamContent) -> ContentView:
    """The stream's content as Letta 0.16.8 shows it when right: as it came, nothing moved."""
    return ContentView(
        words=source.text,
        thinking=source.reasoning,
        hidden=source.hidden,
        calls=tuple((c.tool_call_id, c.name, _decoded(c.arguments)) for c in source.calls),
    )


def _error_class(error: str | None, errored: bool) -> int | None:
    """The class of an error that ended Letta's stream early, from its own text."""
    if error is None:
        return None
    if "Streaming integrity failed" in error and "InputJSONDelta" in error:
        return 16
    if "ValidationError" in error and "AssistantMessage" in error and "content" in error:
        return 17
    if "ValidationError" in error or "no attribute 'upper'" in error:
        return 15
    return 14 if errored else None


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _call_difference(
    got: ContentView, want: ContentView, *, gemini: bool, body: bytes
) -> tuple[int | None, str | None] | None:
    """How Letta's calls differ from the stream's, when a rule names it; None when none does."""
    if len(got.calls) != len(want.calls):
        return None
    found: set[tuple[int | None, str | None]] = set()
    for (got_id, got_name, got_value), (want_id, want_name, want_value) in zip(
        got.calls, want.calls, strict=True
    ):
        if got_name != want_name:
            repeats = bool(want_name) and got_name == want_name * (
                len(got_name) // max(len(want_name), 1)
            )
            if not (repeats and body.count(f'"{want_name}"'.encode()) > 1):
                return None
            found.add((19, None))
        if got_id != want_id:
            if not gemini:
                return None
            found.add((None, "ids"))
        if got_value != want_value:
            if got_value in (None, {}) and want_value in (None, {}):
                found.add((None, "empty"))
            else:
                return None
    return min(found, key=lambda pair: (pair[0] is None, pair[0] or 0)) if found else (None, None)


def compare_current(
    letta: Iterable[Mapping[str, Any]],
    source: StreamContent,
    *,
    interface: str,
    body: bytes = b"",
    errored: bool = False,
) -> CurrentComparison:
    """Letta 0.16.8's messages on one streamed exchange against ``source``, its own content.

    ``interface`` is the one that ran (:func:`streamreel.letta.sdk.choose_interface`);
    ``body`` the recorded response body, where the evidence of some classes is; ``errored``
    says the recording itself holds an error (an HTTP error, an error event, a cut): Letta's
    exception for it is class 14 only then. Where Letta raised, a part it showed only in part
    (a prefix of the stream's) carries the class of the error; anything else needs its rule.
    """
    got, error = current_view(letta, whole_names=interface in ("anthropic", "gemini"))
    want = stream_view(source)
    found = CurrentComparison(got, want, error)
    cause = _error_class(error, errored)

    def add(what: str, have: Any, should: Any, defect: int | None, noise: str | None) -> None:
        detail = f"{what} {have!r} where the stream says {should!r}"
        found.differences.append(CurrentDifference(what, defect, detail, noise))

    for what, have, should in (
        ("text", got.words, want.words),
        ("reasoning", got.thinking, want.thinking),
        ("hidden reasoning", got.hidden, want.hidden),
    ):
        if have == should:
            continue
        if cause is not None and should.startswith(have):
            add(what, have, should, cause, None)
        elif (
            what == "reasoning"
            and not have
            and b"response.reasoning_text.delta" in body
            and interface == "responses"
        ):
            add(what, have, should, 18, None)
        elif (
            what == "reasoning"
            and _squeezed(have) == _squeezed(should)
            and (body.count(b"reasoning_summary_part.added") > 1)
        ):
            add(what, have, should, None, "parts")
        else:
            add(what, have, should, None, None)
    if got.calls != want.calls:
        named = _call_difference(got, want, gemini=interface == "gemini", body=body)
        if named is not None:
            add("tool calls", got.calls, want.calls, *named)
        elif cause is not None and want.calls[: len(got.calls)] == got.calls:
            add("tool calls", got.calls, want.calls, cause, None)
        else:
            add("tool calls", got.calls, want.calls, None, None)
    if error is not None and not found.differences:
        # Everything before the fault is there: the fault itself is what differs.
        found.differences.append(CurrentDifference("error", cause, error))
    return found


@dataclass(frozen=True, slots=True)
class ThreeWay:
    """One interaction through streamreel, Letta 0.7.8 and Letta 0.16.8.

    ``old`` compares Letta 0.7.8 with streamreel, streamreel held to the stream; ``current``
    compares Letta 0.16.8 with the stream, or is None where Letta 0.16.8 reads nothing (a whole
    reply, an API its interfaces do not take: :func:`streamreel.letta.sdk.reads`).
    """

    index: int
    kind: StreamKind | None
    old: Comparison
    current: CurrentComparison | None

    @property
    def agree(self) -> bool:
        """No difference but noise on either side (otids aside: Letta 0.7.8's defect 12)."""
        quiet = not self.current or all(d.noise for d in self.current.differences)
        return not self.old.disagreements and quiet


def three_way(source: Cassette, current: LettaSdkInterface | None = None) -> list[ThreeWay]:
    """Every interaction of ``source`` through the three parsers, compared.

    ``current`` is the Letta 0.16.8 parser to use (one is made when None; both Letta
    virtualenvs must be installed: ``streamreel install-letta --version all``).
    """
    from streamreel.letta.real import letta_parser
    from streamreel.letta.sdk import LettaSdkInterface, choose_interface, reads

    reader = current or LettaSdkInterface()
    ours = replay(source)
    old = replay(source, parser=letta_parser)
    found: list[ThreeWay] = []
    for right, left in zip(ours.interactions, old.interactions, strict=True):
        recorded = source.interactions[right.index]
        compared = compare_interactions(left, right, settings=ours.settings, recorded=recorded)
        kind = right.kind
        latest = None
        if kind is not None and reads(kind):
            latest = compare_current(
                reader.process_exchange(recorded, kind),
                interaction_content(right, recorded),
                interface=choose_interface(recorded, kind),
                body=b"".join(piece.data for piece in recorded.response.body_chunks()),
                errored=bool(right.errors) or not right.complete,
            )
        found.append(ThreeWay(right.index, kind, compared, latest))
    return found
