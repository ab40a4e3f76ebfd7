"""What a stream itself says, and whether a parser's messages say the same.

The differential check against Letta must not take streamreel's output on trust: a wrong
argument, a wrong tool name, an invented or a dropped message would otherwise show up only as
"Letta differs", and a fallback would blame Letta for it. This module reads the source of truth,
the provider chunks of one LLM call, into :class:`StreamContent` (text, reasoning, hidden
reasoning, and each tool call's id, name and argument JSON, accumulated the way the chat
completions wire format defines), and :func:`source_mismatches` says where a parser's messages
do not carry exactly that content.

The comparison is on content, not on message boundaries: every piece of visible text a parser
shows (``assistant_message`` and non-reasoner ``reasoning_message``, whether it came from the
``content`` field, a tool call's ``inner_thoughts`` or ``send_message``'s ``message``) is joined
and compared with the text the chunks carry; reasoner thinking and hidden reasoning likewise;
tool calls by id, name and decoded arguments, in order. Letta's interface settings move content
between these places (``inner_thoughts`` out of the arguments, ``send_message`` into text, JSON
``content`` into a call when reasoning content is expected); the content is judged under the
settings given and, because a server may change them per provider, under the other values of
the two flags that servers override (``inner_thoughts_in_kwargs``, ``expect_reasoning_content``).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from streamreel.core.arguments import decode_lenient
from streamreel.core.cassette import Interaction
from streamreel.core.chunks import ChatCompletionChunk, parse_chunk
from streamreel.core.errors import StreamreelError
from streamreel.core.messages import (
    AgentMessage,
    AssistantMessage,
    HiddenReasoningMessage,
    ReasoningMessage,
    ToolCallMessage,
)
from streamreel.core.parser import InterfaceSettings
from streamreel.core.providers import chunks_from_json_body
from streamreel.core.results import InteractionResult

__all__ = [
    "CallContent",
    "ContentView",
    "StreamContent",
    "content_of",
    "content_view",
    "interaction_content",
    "messages_view",
    "source_mismatches",
]

_UNDECODED = object()
# A stream cut mid-arguments still says what it said so far: these endings close the commonest
# cuts (inside a string, after a value), so the text before the cut can be judged too.
_CLOSINGS = ("", '"}', "}", '"]}', "]}", "null}", '":null}')
# Models write Python's words for JSON's; outside strings they mean the JSON value.
_PYTHON_WORDS = re.compile(r'"(?:\\.|[^"\\])*"|\b(True|False|None)\b')
_JSON_WORDS = {"True": "true", "False": "false", "None": "null"}


def _decode(text: str) -> Any:
    """JSON, or JSON once Python's literals are spelled as JSON; ``_UNDECODED`` otherwise."""
    try:
        return decode_lenient(text)
    except ValueError:
        pass
    spelled = _PYTHON_WORDS.sub(lambda m: _JSON_WORDS.get(m.group(1) or "", m.group(0)), text)
    try:
        return json.loads(spelled)
    except ValueError:
        return _UNDECODED


@dataclass(frozen=True, slots=True)
class CallContent:
    """One tool call as the chunks carry it: fragments with one index, joined."""

    tool_call_id: str | None
    name: str
    arguments: str

    @property
    def complete(self) -> bool:
        """Whether the arguments are whole JSON (or absent), not cut short."""
        return not self.arguments or _decode(self.arguments) is not _UNDECODED

    def decoded(self) -> Any:
        """The arguments' value, completed over a cut when that makes them JSON, else a marker."""
        if not self.arguments:
            return None
        for closing in _CLOSINGS:
            value = _decode(self.arguments + closing)
            if value is not _UNDECODED:
                return value
        return _UNDECODED


@dataclass(frozen=True, slots=True)
class StreamContent:
    """The content of one LLM call, read from its chunks' own fields."""

    text: str = ""
    reasoning: str = ""
    hidden: str = ""
    calls: tuple[CallContent, ...] = ()


@dataclass(slots=True)
class _Call:
    tool_call_id: str | None = None
    name: str = ""
    arguments: str = ""


def content_of(chunks: Iterable[ChatCompletionChunk | dict[str, Any]]) -> StreamContent:
    """Accumulate chunks as the wire format says: text appended, tool fragments by ``index``.

    Only the first choice seen is the agent's (as every parser reads it). A fragment without an
    index continues the latest call; a new id at an index whose call has another id starts a new
    call there (some converted streams reuse index 0).
    """
    text: list[str] = []
    reasoning: list[str] = []
    hidden: list[str] = []
    calls: list[_Call] = []
    by_index: dict[int | None, _Call] = {}
    agent: int | None = None
    for item in chunks:
        chunk = item if isinstance(item, ChatCompletionChunk) else parse_chunk(item)
        if not chunk.choices:
            continue
        if agent is None:
            agent = min(choice.index for choice in chunk.choices)
        for choice in chunk.choices:
            if choice.index != agent:
                continue
            delta = choice.delta
            reasoning.append(delta.reasoning_content or "")
            hidden.append(delta.redacted_reasoning_content or "")
            text.append(delta.content or "")
            fragments = [(f.index, f.id, f.function) for f in delta.tool_calls or ()]
            if delta.function_call is not None:
                fragments.append((0, None, delta.function_call))
            for index, call_id, function in fragments:
                current = (
                    by_index.get(index) if index is not None else (calls[-1] if calls else None)
                )
                fresh = current is None or (
                    call_id is not None and current.tool_call_id not in (None, call_id)
                )
                if fresh:
                    current = _Call()
                    calls.append(current)
                    by_index[index] = current
                assert current is not None
                # Some servers (Kimi) resend the id and the whole name with every fragment:
                # that restates the name; a split name's second half never brings the id.
                restated = call_id is not None and current.tool_call_id == call_id
                current.tool_call_id = current.tool_call_id or call_id
                if function is not None:
                    if function.name and not (restated and function.name == current.name):
                        current.name += function.name
                    current.arguments += function.arguments or ""
    return StreamContent(
        text="".join(text),
        reasoning="".join(reasoning),
        hidden="".join(hidden),
        calls=tuple(CallContent(c.tool_call_id, c.name, c.arguments) for c in calls),
    )


def interaction_content(
    result: InteractionResult, recorded: Interaction | None = None
) -> StreamContent:
    """The content of one replayed interaction, from the provider chunks it recorded.

    A body that came whole (a JSON reply) keeps no chunk records; pass the ``recorded``
    interaction to read its chunks from the body itself.
    """
    chunks = [
        item
        for record in result.chunks
        for item in record.produced
        if isinstance(item, ChatCompletionChunk)
    ]
    if not result.chunks and recorded is not None and result.kind is not None:
        with contextlib.suppress(StreamreelError):
            # A body the replay could not read either has no content to hold anyone to.
            produced = chunks_from_json_body(result.kind, recorded.response.body)
            chunks = [item for item in produced if isinstance(item, ChatCompletionChunk)]
    return content_of(chunks)


@dataclass(frozen=True, slots=True)
class ContentView:
    """Content as a reader sees it: visible text, thinking, hidden reasoning, calls.

    ``calls`` holds ``(id, name, value)`` with the decoded arguments as the value (or the raw
    text when it is not JSON); ``unverifiable`` counts calls whose text could not be decoded, so
    the text they would have shown is unknown.
    """

    words: str = ""
    thinking: str = ""
    hidden: str = ""
    calls: tuple[tuple[str | None, str, Any], ...] = ()
    unverifiable: int = 0


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _json_call(text: str) -> tuple[str, Any] | None:
    """DeepSeek-style ``{"name": ..., "arguments": ...}`` written as content, if it is that."""
    try:
        value = decode_lenient(text.strip())
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("name"), str) and "arguments" in value:
        return value["name"], value["arguments"]
    return None


def content_view(
    content: StreamContent, settings: InterfaceSettings, expect_reasoning_content: bool
) -> ContentView:
    """What a correct Letta-style interface shows of ``content`` under these settings."""
    words: list[str] = []
    calls: list[tuple[str | None, str, Any]] = []
    unverifiable = 0
    as_call = _json_call(content.text) if expect_reasoning_content and content.text else None
    if as_call is not None:
        calls.append((None, as_call[0], as_call[1]))
    else:
        words.append(content.text)
    for call in content.calls:
        value = call.decoded()
        if value is _UNDECODED:
            unverifiable += 1
            calls.append((call.tool_call_id, call.name, call.arguments))
            continue
        if isinstance(value, dict) and settings.inner_thoughts_in_kwargs:
            value = dict(value)
            thoughts = value.pop(settings.inner_thoughts_kwarg, None)
            if thoughts is not None:
                words.append(_shown(thoughts))
        kwarg = settings.assistant_message_tool_kwarg
        if (
            settings.use_assistant_message
            and call.name == settings.assistant_message_tool_name
            and isinstance(value, dict)
            and kwarg in value
        ):
            words.append(_shown(value[kwarg]))
            continue
        calls.append((call.tool_call_id, call.name, value))
    return ContentView(
        words="".join(words),
        thinking=content.reasoning,
        hidden=content.hidden,
        calls=tuple(calls),
        unverifiable=unverifiable,
    )


def _value(arguments: str | None) -> Any:
    if not arguments:
        return None
    value = _decode(arguments)
    return arguments if value is _UNDECODED else value


def messages_view(messages: Sequence[AgentMessage]) -> ContentView:
    """The same view of a parser's messages (deltas or joined, errors and returns left out)."""
    words: list[str] = []
    thinking: list[str] = []
    hidden: list[str] = []
    calls: list[list[Any]] = []
    by_otid: dict[str, list[Any]] = {}
    for message in messages:
        if isinstance(message, AssistantMessage):
            words.append(message.content)
        elif isinstance(message, ReasoningMessage):
            (thinking if message.source == "reasoner_model" else words).append(message.reasoning)
        elif isinstance(message, HiddenReasoningMessage):
            hidden.append(message.hidden_reasoning or "")
        elif isinstance(message, ToolCallMessage):
            call = message.tool_call
            # Deltas of one call share its otid, however parallel calls interleave; without
            # otids, a delta continues the latest call unless it names a new one.
            known = by_otid.get(message.otid) if message.otid else None
            last = known or (calls[-1] if calls and not message.otid else None)
            continues = known is not None or (
                last is not None
                and call.tool_call_id in (None, last[0])
                and not (call.name and last[1])
            )
            if continues and last is not None:
                if call.arguments is not None:
                    last[2] = (last[2] or "") + call.arguments
                last[1] += call.name or ""
                last[0] = last[0] or call.tool_call_id
            else:
                calls.append([call.tool_call_id, call.name or "", call.arguments])
                if message.otid:
                    by_otid[message.otid] = calls[-1]
    return ContentView(
        words="".join(words),
        thinking="".join(thinking),
        hidden="".join(hidden),
        calls=tuple((c[0], c[1], _value(c[2])) for c in calls),
    )


def _differences(want: ContentView, got: ContentView) -> list[str]:
    found: list[str] = []
    if want.unverifiable == 0 and got.words != want.words:
        found.append(f"text {got.words!r} where the stream says {want.words!r}")
    if got.thinking != want.thinking:
        found.append(f"reasoning {got.thinking!r} where the stream says {want.thinking!r}")
    if got.hidden != want.hidden:
        found.append(f"hidden reasoning {got.hidden!r} where the stream says {want.hidden!r}")
    if len(got.calls) != len(want.calls):
        found.append(
            f"{len(got.calls)} tool calls {[c[1] for c in got.calls]} where the stream has "
            f"{len(want.calls)} {[c[1] for c in want.calls]}"
        )
    for (got_id, got_name, got_value), (want_id, want_name, want_value) in zip(
        got.calls, want.calls, strict=False
    ):
        if (got_id, got_name) != (want_id, want_name):
            found.append(
                f"tool call {got_name!r} ({got_id}) where the stream has {want_name!r} ({want_id})"
            )
        elif got_value != want_value and not (
            isinstance(want_value, str) and isinstance(got_value, str)
        ):
            found.append(
                f"arguments {got_value!r} of {got_name!r} where the stream says {want_value!r}"
            )
    return found


def source_mismatches(
    messages: Sequence[AgentMessage],
    content: StreamContent,
    settings: InterfaceSettings | None = None,
    *,
    expect_reasoning_content: bool = False,
) -> list[str]:
    """Where ``messages`` do not carry ``content``; empty when they carry exactly that.

    Judged under ``settings`` and the two flags a server may override; the differences reported
    are those under the settings given, when no variant matches.
    """
    chosen = settings or InterfaceSettings()
    got = messages_view(messages)
    variants = [
        (replace(chosen, inner_thoughts_in_kwargs=kwargs), expect)
        for kwargs in (chosen.inner_thoughts_in_kwargs, not chosen.inner_thoughts_in_kwargs)
        for expect in (expect_reasoning_content, not expect_reasoning_content)
    ]
    first: list[str] | None = None
    for variant, expect in variants:
        found = _differences(content_view(content, variant, expect), got)
        if not found:
            return []
        first = found if first is None else first
    assert first is not None
    return first
