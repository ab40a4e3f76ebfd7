"""The core of the streaming interface: chat-completion chunks in, Letta agent messages out.

Theory of operation
-------------------
:class:`StreamParser` is sans-I/O: ``feed(chunk, ...)`` returns the messages that chunk
completes and ``finish()`` the messages still held when an LLM call ends. It never reads a
clock, touches a file or prints; the Letta-compatible interface in
:mod:`streamreel.letta.interface` is
a thin shell around it.

One LLM call (one ``message_id``) is a sequence of *logical messages*: a run of reasoning, the
hidden reasoning, one tool call, the inner thoughts of one tool call, the assistant text of one
``send_message``. Every delta of a logical message carries the same ``otid``; the next logical
message gets the next index (Letta's otid scheme, :func:`streamreel.core.messages.otid_for`). Runs
of
reasoning are delimited by what comes between them; tool-call messages are keyed by the tool
call's ``index``, so parallel calls interleaved by the provider stay apart.

Per chunk, in this order:

``reasoning_content`` / ``reasoning_content_signature``
    a reasoning delta (source ``reasoner_model``), the signature on the delta that carries it.
``redacted_reasoning_content``
    a hidden-reasoning delta (state ``redacted``).
``content``
    with ``expect_reasoning_content`` off: a reasoning delta (source ``non_reasoner_model``;
    Letta reads model text as inner monologue). With it on, the content is DeepSeek's
    JSON-in-content tool call ``{"name": ..., "arguments": {...}}``: the name and the raw
    ``arguments`` JSON stream as tool-call deltas, once; content that is not a JSON object
    streams as reasoning rather than being dropped.
``tool_calls`` / ``function_call``
    fragments routed by ``index`` (a fragment without one joins the call with its ``id``, or
    starts a new call when the id is new, as Mistral sends whole calls). A call's name is
    decided once its arguments begin; then the call takes one of three modes:

    * *assistant*: the call is ``send_message`` and ``use_assistant_message`` is on. The
      ``message`` value streams as decoded assistant text, the inner thoughts as reasoning.
    * *tool* (``inner_thoughts_in_kwargs``): the inner thoughts stream as reasoning; the tool
      call's name and id follow as one delta, then the remaining arguments as deltas whose
      concatenation is the arguments JSON without the inner-thoughts key.
    * *passthrough*: the argument text is passed on exactly as the provider sent it.

``finish_reason``
    closes every open tool call of the step.

Only one choice is the agent's step: the lowest ``index`` among the choices of the call's first
chunk that has any (choice 0, in practice). A request with ``n`` > 1 streams its choices
interleaved, one per chunk (0, 1, 0, 1, ...); the other choices are not part of the step and are
skipped rather than spliced into its text. They stay in the chunks themselves, and
:func:`streamreel.core.chunks.select_choice` makes any one of them the step instead.

Text is held back only while it is undecidable (a partial escape, a key not yet complete, a
tool name that may still turn into ``send_message``), so the merged messages never depend on
where the provider split the stream. Malformed or truncated arguments become an
:class:`~streamreel.core.messages.ErrorMessage` after everything streamed before them.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, assert_never

from pydantic import TypeAdapter

from streamreel.core.arguments import ArgumentEvent, ArgumentsReader, EventKind, Route
from streamreel.core.chunks import ChatCompletionChunk, Choice, FunctionDelta
from streamreel.core.messages import (
    AgentMessage,
    AssistantMessage,
    ErrorMessage,
    HiddenReasoningMessage,
    ReasoningMessage,
    ToolCallDelta,
    ToolCallMessage,
    UsageStatistics,
    otid_for,
    trusted,
)

__all__ = ["InterfaceSettings", "StreamParser"]


@dataclass(frozen=True, slots=True)
class InterfaceSettings:
    """The knobs of Letta's ``StreamingServerInterface``, with its defaults."""

    use_assistant_message: bool = False
    assistant_message_tool_name: str = "send_message"
    assistant_message_tool_kwarg: str = "message"
    inner_thoughts_in_kwargs: bool = True
    inner_thoughts_kwarg: str = "inner_thoughts"


@functools.cache
def _date_adapter() -> TypeAdapter[datetime]:
    # Built on first use: only a caller passing something other than a datetime needs it, and
    # building it cost every command's start-up.
    return TypeAdapter(datetime)


class _Mode(enum.Enum):
    PENDING = "pending"
    ASSISTANT = "assistant"
    TOOL = "tool"
    PASSTHROUGH = "passthrough"


# Keys of logical messages within one LLM call. Runs (reasoning) are new whenever anything else
# came in between; keyed messages (per tool call) keep their index however they interleave.
_REASONING = ("reasoning",)
_HIDDEN = ("hidden",)
_MONOLOGUE = ("monologue",)
_CONTENT_CALL = ("content-call",)


@dataclass(slots=True)
class _ToolCall:
    index: int
    id: str | None = None
    name: str = ""
    name_sent: bool = False
    mode: _Mode = _Mode.PENDING
    header_sent: bool = False
    reader: ArgumentsReader | None = None
    held_rest: list[str] = field(default_factory=list)
    saw_text: bool = False


@dataclass(slots=True)
class _Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


class StreamParser:
    """Turns the chunks of successive LLM calls into agent messages; see the module docstring."""

    def __init__(self, settings: InterfaceSettings | None = None) -> None:
        self.settings = settings or InterfaceSettings()
        s = self.settings
        self._assistant_routes = {s.assistant_message_tool_kwarg: Route.TEXT}
        self._tool_routes: dict[str, Route] = {}
        if s.inner_thoughts_in_kwargs:
            self._assistant_routes[s.inner_thoughts_kwarg] = Route.TEXT
            self._tool_routes[s.inner_thoughts_kwarg] = Route.TEXT
        # Tool calls whose return the agent should not show: their text was the message.
        self.assistant_call_ids: set[str] = set()
        self._next_index: dict[str, int] = {}
        self._usage: dict[str, _Usage] = {}
        self._message_id: str | None = None
        self._date = datetime.min
        self._name: str | None = None
        self._choice: int | None = None
        self._reset_call()

    # -- public -----------------------------------------------------------------------------

    def feed(
        self,
        chunk: ChatCompletionChunk,
        *,
        message_id: str,
        message_date: datetime,
        expect_reasoning_content: bool = False,
        name: str | None = None,
        message_index: int = 0,
    ) -> list[AgentMessage]:
        """The messages one chunk completes.

        ``message_id`` and ``message_date`` are shared by every message of one LLM call; a new
        ``message_id`` closes the previous call. ``message_index`` is the otid index of the
        call's first logical message (0 unless the caller numbers messages itself); the parser
        numbers the following ones.
        """
        out: list[AgentMessage] = []
        if type(message_date) is not datetime:
            # The messages are built unvalidated (their values are the parser's own), so the one
            # value that comes from the caller is checked here, once per chunk.
            message_date = _date_adapter().validate_python(message_date)
        if message_id != self._message_id:
            self._close_call(out)
            self._begin_call(message_id, message_index)
        self._date = message_date
        self._name = name
        if chunk.usage is not None or chunk.output_tokens is not None:
            self._count_usage(chunk, message_id)
        choices = chunk.choices
        # Nearly every chunk has one choice, the agent's: taken here without a call.
        if len(choices) == 1 and choices[0].index == self._choice:
            choice: Choice | None = choices[0]
        else:
            choice = self._agent_choice(chunk)
        if choice is None:
            return out
        delta = choice.delta
        if delta.reasoning_content is not None or delta.reasoning_content_signature is not None:
            self._reasoning(delta.reasoning_content or "", delta.reasoning_content_signature, out)
        if delta.redacted_reasoning_content is not None:
            out.append(
                trusted(
                    HiddenReasoningMessage,
                    id=message_id,
                    date=message_date,
                    name=name,
                    otid=self._otid(_HIDDEN, run=True),
                    state="redacted",
                    hidden_reasoning=delta.redacted_reasoning_content,
                )
            )
        if delta.content:
            if expect_reasoning_content:
                self._json_content(delta.content, out)
            else:
                self._monologue(delta.content, out)
        if delta.tool_calls:
            for fragment in delta.tool_calls:
                self._fragment(fragment.index, fragment.id, fragment.function, out)
        if delta.function_call is not None:
            self._fragment(0, None, delta.function_call, out)
        if choice.finish_reason is not None:
            self._close_tool_calls(out)
        return out

    def finish(self) -> list[AgentMessage]:
        """Close the current LLM call: flush what it still holds (ends of tool calls, errors)."""
        out: list[AgentMessage] = []
        self._close_call(out)
        return out

    def error(self, text: str) -> list[AgentMessage]:
        """Flush the current call, then an error message: nothing before the fault is lost."""
        out = self.finish()
        out.append(ErrorMessage(error=text))
        return out

    def usage(self, *, run_ids: list[str] | None = None) -> UsageStatistics:
        """The usage record for everything fed so far (one step per LLM call)."""
        prompt = sum(u.prompt_tokens for u in self._usage.values())
        completion = sum(u.completion_tokens for u in self._usage.values())
        counts: dict[str, Any] = {
            "completion_tokens": completion,
            "prompt_tokens": prompt,
            "total_tokens": prompt + completion,
            "step_count": len(self._usage),
        }
        if run_ids is not None:  # the caller's: validated
            return UsageStatistics(**counts, run_ids=run_ids)
        # Counted here, all ints: built as the messages are (a replay then validates no usage).
        return trusted(UsageStatistics, **counts, run_ids=None)

    # -- LLM calls --------------------------------------------------------------------------

    def _agent_choice(self, chunk: ChatCompletionChunk) -> Choice | None:
        """The choice of this chunk that is the agent's step, if the chunk carries it."""
        if not chunk.choices:
            return None
        if self._choice is None:
            self._choice = min(choice.index for choice in chunk.choices)
        for choice in chunk.choices:
            if choice.index == self._choice:
                return choice
        return None

    def _reset_call(self) -> None:
        self._choice = None
        self._calls: dict[int, _ToolCall] = {}
        self._last_key: tuple[object, ...] | None = None
        self._current = 0
        self._keyed: dict[tuple[object, ...], int] = {}
        self._otids: dict[int, str] = {}
        self._content_mode: Literal["json", "text"] | None = None  # None: not decided yet
        self._content_held = ""
        self._content_reader: ArgumentsReader | None = None

    def _begin_call(self, message_id: str, message_index: int) -> None:
        self._reset_call()
        self._message_id = message_id
        self._next_index.setdefault(message_id, message_index)
        self._usage.setdefault(message_id, _Usage())

    def _close_call(self, out: list[AgentMessage]) -> None:
        if self._message_id is None:
            return
        self._close_tool_calls(out)
        if self._content_reader is not None:
            for event in self._content_reader.close():
                self._content_event(event, out)
        elif self._content_held:
            self._monologue(self._content_held, out)
        self._reset_call()
        self._message_id = None

    def _count_usage(self, chunk: ChatCompletionChunk, message_id: str) -> None:
        usage = self._usage[message_id]
        # Providers report cumulative counts within one call: keep the latest, never add.
        if chunk.usage is not None:
            if chunk.usage.prompt_tokens is not None:
                usage.prompt_tokens = chunk.usage.prompt_tokens
            if chunk.usage.completion_tokens is not None:
                usage.completion_tokens = chunk.usage.completion_tokens
        if chunk.output_tokens is not None:
            usage.completion_tokens = chunk.output_tokens

    def _otid(self, key: tuple[object, ...], *, run: bool) -> str:
        if run:
            index = self._current if key == self._last_key else self._allocate()
        else:
            found = self._keyed.get(key)
            index = found if found is not None else self._allocate()
            self._keyed[key] = index
        self._last_key = key
        self._current = index
        otid = self._otids.get(index)
        if otid is None:
            assert self._message_id is not None
            otid = self._otids[index] = otid_for(self._message_id, index)
        return otid

    def _allocate(self) -> int:
        assert self._message_id is not None
        index = self._next_index[self._message_id]
        self._next_index[self._message_id] = index + 1
        return index

    # -- text -------------------------------------------------------------------------------

    def _reasoning(self, text: str, signature: str | None, out: list[AgentMessage]) -> None:
        if text or signature is not None:
            out.append(self._reasoning_message(text, _REASONING, "reasoner_model", signature))

    def _monologue(self, text: str, out: list[AgentMessage]) -> None:
        out.append(self._reasoning_message(text, _MONOLOGUE))

    def _reasoning_message(
        self,
        text: str,
        key: tuple[object, ...],
        source: Literal["reasoner_model", "non_reasoner_model"] = "non_reasoner_model",
        signature: str | None = None,
    ) -> ReasoningMessage:
        """A reasoning delta; runs (``key`` without an index) continue while nothing intervenes."""
        assert self._message_id is not None
        return trusted(
            ReasoningMessage,
            id=self._message_id,
            date=self._date,
            name=self._name,
            otid=self._otid(key, run=len(key) == 1),
            source=source,
            reasoning=text,
            signature=signature,
        )

    def _json_content(self, text: str, out: list[AgentMessage]) -> None:
        """``content`` while reasoning arrives separately: DeepSeek's JSON-in-content tool call."""
        if self._content_mode is None:
            held = self._content_held + text
            stripped = held.lstrip()
            if not stripped:
                self._content_held = held
                return
            self._content_held = ""
            if stripped[0] == "{":
                self._content_mode = "json"
                self._content_reader = ArgumentsReader(
                    {"name": Route.TEXT, "arguments": Route.VALUE}, default=Route.DROP
                )
                text = stripped
            else:
                self._content_mode = "text"
                text = held
        if self._content_reader is not None:
            for event in self._content_reader.feed(text):
                self._content_event(event, out)
        else:
            self._monologue(text, out)

    def _content_event(self, event: ArgumentEvent, out: list[AgentMessage]) -> None:
        match event.kind:
            case EventKind.ERROR:
                out.append(ErrorMessage(error=f"content: {event.text}"))
                return
            case EventKind.REST:
                return  # the reader drops every key but the call's name and arguments
            case EventKind.VALUE:
                pass
            case unreachable:
                assert_never(unreachable)
        delta = (
            trusted(ToolCallDelta, name=event.text)
            if event.key == "name"
            else trusted(ToolCallDelta, arguments=event.text)
        )
        out.append(self._tool_message(delta, _CONTENT_CALL))

    # -- tool calls -------------------------------------------------------------------------

    def _tool_message(self, delta: ToolCallDelta, key: tuple[object, ...]) -> ToolCallMessage:
        assert self._message_id is not None
        return trusted(
            ToolCallMessage,
            id=self._message_id,
            date=self._date,
            name=self._name,
            otid=self._otid(key, run=False),
            tool_call=delta,
        )

    def _call_for(self, index: int | None, call_id: str | None) -> _ToolCall:
        calls = self._calls
        if index is None:
            if call_id is not None:
                for call in calls.values():
                    if call.id == call_id:
                        return call
                index = max(calls, default=-1) + 1
            elif calls:
                return calls[max(calls)]
            else:
                index = 0
        found = calls.get(index)
        if found is None:
            found = calls[index] = _ToolCall(index)
        return found

    def _fragment(
        self,
        index: int | None,
        call_id: str | None,
        function: FunctionDelta | None,
        out: list[AgentMessage],
    ) -> None:
        call = self._call_for(index, call_id)
        restated = False
        if call_id:
            # Some servers (Kimi through OpenRouter) repeat the id and the whole name on every
            # fragment: that restates the name. A split name never comes with the id again.
            restated = call.id == call_id
            if call.id is None:
                call.id = call_id
        if function is None:
            return
        if function.name and not (restated and function.name == call.name):
            self._name_piece(call, function.name, out)
        if function.arguments:
            if call.mode is _Mode.PENDING:
                self._decide(call, out)
            self._arguments(call, function.arguments, out)

    def _name_piece(self, call: _ToolCall, piece: str, out: list[AgentMessage]) -> None:
        call.name += piece
        if call.mode is _Mode.PENDING:
            s = self.settings
            # Without inner thoughts to wait for, the name goes out at once, unless it may
            # still grow into the assistant tool's name (whose call is shown as text).
            may_be_assistant = s.use_assistant_message and s.assistant_message_tool_name.startswith(
                call.name
            )
            if not s.inner_thoughts_in_kwargs and not may_be_assistant:
                self._decide(call, out)
        elif call.name_sent:
            # A name piece after the call was shown: send it as a name delta of the same call.
            out.append(self._tool_message(trusted(ToolCallDelta, name=piece), ("call", call.index)))

    def _decide(self, call: _ToolCall, out: list[AgentMessage]) -> None:
        s = self.settings
        if s.use_assistant_message and call.name == s.assistant_message_tool_name:
            call.mode = _Mode.ASSISTANT
            call.reader = ArgumentsReader(self._assistant_routes)
            if call.id is not None:
                self.assistant_call_ids.add(call.id)
        elif s.inner_thoughts_in_kwargs:
            call.mode = _Mode.TOOL
            call.reader = ArgumentsReader(self._tool_routes)
        else:
            call.mode = _Mode.PASSTHROUGH
            self._header(call, out)

    def _header(self, call: _ToolCall, out: list[AgentMessage]) -> None:
        if call.header_sent:
            return
        # Calls are shown in the order of their index, not of whose first key completes first:
        # fragments of parallel calls may arrive in any order (each names its index), and the
        # merged messages must not depend on it. A lower call already known to be shown as a
        # tool call goes out first; its arguments follow as they come.
        for other in sorted(self._calls.values(), key=lambda c: c.index):
            if other.index >= call.index:
                break
            if not other.header_sent and other.mode in (_Mode.TOOL, _Mode.PASSTHROUGH):
                self._send_header(other, out)
        self._send_header(call, out)

    def _send_header(self, call: _ToolCall, out: list[AgentMessage]) -> None:
        call.header_sent = True
        call.name_sent = True
        delta = trusted(ToolCallDelta, name=call.name or None, tool_call_id=call.id)
        out.append(self._tool_message(delta, ("call", call.index)))

    def _arguments(self, call: _ToolCall, text: str, out: list[AgentMessage]) -> None:
        if call.reader is None:
            self._header(call, out)
            out.append(
                self._tool_message(trusted(ToolCallDelta, arguments=text), ("call", call.index))
            )
            return
        for event in call.reader.feed(text):
            self._argument_event(call, event, out)

    def _argument_event(
        self, call: _ToolCall, event: ArgumentEvent, out: list[AgentMessage]
    ) -> None:
        s = self.settings
        assert self._message_id is not None
        match event.kind:
            case EventKind.VALUE:
                if event.key == s.inner_thoughts_kwarg and s.inner_thoughts_in_kwargs:
                    out.append(self._reasoning_message(event.text, ("thoughts", call.index)))
                elif call.mode is _Mode.ASSISTANT:
                    call.saw_text = True
                    out.append(
                        trusted(
                            AssistantMessage,
                            id=self._message_id,
                            date=self._date,
                            name=self._name,
                            otid=self._otid(("text", call.index), run=False),
                            content=event.text,
                        )
                    )
            case EventKind.REST:
                if call.mode is _Mode.ASSISTANT:
                    call.held_rest.append(event.text)
                else:
                    self._header(call, out)
                    delta = trusted(ToolCallDelta, arguments=event.text)
                    out.append(self._tool_message(delta, ("call", call.index)))
            case EventKind.ERROR:
                if call.mode is not _Mode.ASSISTANT:
                    self._header(call, out)  # show the call before what went wrong with it
                label = call.name or f"#{call.index}"
                out.append(ErrorMessage(error=f"tool call {label!r}: {event.text}"))
            case unreachable:
                assert_never(unreachable)

    def _close_tool_calls(self, out: list[AgentMessage]) -> None:
        for call in self._calls.values():
            if call.mode is _Mode.PENDING:
                if not call.name and call.id is None:
                    continue
                self._decide(call, out)
            if call.reader is not None:
                for event in call.reader.close():
                    self._argument_event(call, event, out)
            if call.mode is _Mode.ASSISTANT and not call.saw_text:
                # A send_message without its message: show the call itself rather than nothing.
                if call.id is not None:
                    self.assistant_call_ids.discard(call.id)
                self._header(call, out)
                if call.held_rest:
                    delta = trusted(ToolCallDelta, arguments="".join(call.held_rest))
                    out.append(self._tool_message(delta, ("call", call.index)))
            elif call.mode is not _Mode.ASSISTANT:
                self._header(call, out)
        self._calls = {}
