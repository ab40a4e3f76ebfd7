"""Letta 0.7.8's interfaces, as thin shells around :class:`streamreel.core.parser.StreamParser`.

:class:`StreamingServerInterface` keeps Letta's API (``stream_start``, ``process_chunk``,
``stream_end``, ``step_complete``, ``step_yield``, ``get_generator``, and the non-streaming
``internal_monologue`` / ``function_message``), so code written against Letta can swap it in.
Messages wait in a queue until the async generator takes them; a generator started after the
producer finished still yields everything queued (Letta's yields nothing then).

:func:`messages_from_chunks` is the plain synchronous way: chunks in, messages out.

:class:`QueuingInterface` is Letta's older interface that queues plain dictionaries.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from streamreel.core.arguments import decode_lenient
from streamreel.core.chunks import ChatCompletionChunk, parse_chunk
from streamreel.core.errors import ConfigurationError
from streamreel.core.messages import (
    AgentMessage,
    AssistantMessage,
    ErrorMessage,
    HiddenReasoningMessage,
    ReasoningMessage,
    ToolCall,
    ToolCallMessage,
    ToolReturnMessage,
    UsageStatistics,
    otid_for,
)
from streamreel.core.parser import InterfaceSettings, StreamParser

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "QueuingInterface",
    "StreamingServerInterface",
    "coerce_chunk",
    "messages_from_chunks",
    "new_message_id",
]


def new_message_id() -> str:
    """A message id in Letta's form, ``message-<uuid4>``."""
    return f"message-{uuid.uuid4()}"


def coerce_chunk(
    chunk: ChatCompletionChunk | BaseModel | dict[str, Any] | str | bytes,
) -> ChatCompletionChunk:
    """Accept a chunk as our model, another pydantic model (Letta's own), a mapping or JSON."""
    if isinstance(chunk, ChatCompletionChunk):
        return chunk
    if isinstance(chunk, BaseModel):
        return parse_chunk(chunk.model_dump(mode="json"))
    return parse_chunk(chunk)


class StreamingServerInterface:
    """Letta's ``StreamingServerInterface``: chunks in, agent messages out through a generator."""

    def __init__(
        self,
        multi_step: bool = True,
        use_assistant_message: bool = False,
        assistant_message_tool_name: str = "send_message",
        assistant_message_tool_kwarg: str = "message",
        inner_thoughts_in_kwargs: bool = True,
        inner_thoughts_kwarg: str = "inner_thoughts",
        *,
        parser: StreamParser | None = None,
    ) -> None:
        settings = InterfaceSettings(
            use_assistant_message=use_assistant_message,
            assistant_message_tool_name=assistant_message_tool_name,
            assistant_message_tool_kwarg=assistant_message_tool_kwarg,
            inner_thoughts_in_kwargs=inner_thoughts_in_kwargs,
            inner_thoughts_kwarg=inner_thoughts_kwarg,
        )
        self.parser = parser or StreamParser(settings)
        self.multi_step = multi_step
        # Letta's flag: when streaming, the non-streaming calls below emit nothing.
        self.streaming_mode = False
        self._queue: deque[AgentMessage] = deque()
        # Made when a generator first waits: a replay that drains the queue needs no event
        # loop, and its command starts faster without importing asyncio.
        self._wakeup: asyncio.Event | None = None
        self._active = True

    # Letta exposes the knobs as attributes.
    @property
    def use_assistant_message(self) -> bool:
        return self.parser.settings.use_assistant_message

    @property
    def inner_thoughts_in_kwargs(self) -> bool:
        return self.parser.settings.inner_thoughts_in_kwargs

    # -- the queue and its generator ----------------------------------------------------------

    def _push(self, messages: Iterable[AgentMessage]) -> None:
        queued = False
        for message in messages:
            self._queue.append(message)
            queued = True
        if queued and self._wakeup is not None:
            self._wakeup.set()

    def get_generator(self) -> AsyncGenerator[AgentMessage, None]:
        """An async generator of the messages, ending when the stream is closed.

        Safe to start late: what was queued before is yielded first.
        """
        return self._generate()

    async def _generate(self) -> AsyncGenerator[AgentMessage, None]:
        while True:
            while self._queue:
                yield self._queue.popleft()
            if not self._active:
                return
            if self._wakeup is None:
                import asyncio

                self._wakeup = asyncio.Event()
            self._wakeup.clear()
            if not self._queue and self._active:
                await self._wakeup.wait()

    def drain(self) -> list[AgentMessage]:
        """Take every queued message now (the synchronous way to read the stream)."""
        taken = list(self._queue)
        self._queue.clear()
        return taken

    def usage(self) -> UsageStatistics:
        return self.parser.usage()

    # -- lifecycle ----------------------------------------------------------------------------

    def stream_start(self) -> None:
        self._active = True

    def stream_end(self) -> None:
        self._push(self.parser.finish())

    def step_complete(self) -> None:
        """One step (LLM call plus tool execution) finished."""
        self._push(self.parser.finish())
        if not self.multi_step:
            self._close()

    def step_yield(self) -> None:
        """The agent yields: with ``multi_step`` this is the real end of the stream."""
        self._push(self.parser.finish())
        self._close()

    def _close(self) -> None:
        self._active = False
        if self._wakeup is not None:
            self._wakeup.set()

    def error(self, text: str) -> None:
        """Put an error message in the stream, after everything emitted before it."""
        self._push(self.parser.error(text))

    @staticmethod
    def clear() -> None:
        return None

    # -- streaming ----------------------------------------------------------------------------

    def process_chunk(
        self,
        chunk: ChatCompletionChunk | BaseModel | dict[str, Any] | str | bytes,
        message_id: str,
        message_date: datetime,
        expect_reasoning_content: bool = False,
        name: str | None = None,
        message_index: int = 0,
    ) -> str | None:
        """Feed one chunk; returns the type of the last message it produced, or None."""
        messages = self.parser.feed(
            coerce_chunk(chunk),
            message_id=message_id,
            message_date=message_date,
            expect_reasoning_content=expect_reasoning_content,
            name=name,
            message_index=message_index,
        )
        self._push(messages)
        return messages[-1].message_type if messages else None

    # -- the non-streaming path ---------------------------------------------------------------

    def user_message(self, msg: str, msg_obj: Any = None) -> None:
        return None

    def assistant_message(self, msg: str, msg_obj: Any = None) -> None:
        # The text of send_message is shown from function_message, as Letta does.
        return None

    def internal_monologue(
        self, msg: str, msg_obj: Any = None, chunk_index: int | None = None
    ) -> None:
        """A whole reasoning message (or several, one per content part) outside streaming."""
        if self.streaming_mode:
            return
        record = _require(msg_obj, "internal_monologue")
        base = _base_fields(record, chunk_index)
        parts = list(getattr(record, "content", None) or [])
        if len(parts) <= 1 and all(_part_kind(p) == "text" for p in parts):
            self._push([ReasoningMessage(**base, reasoning=msg)])
            return
        messages: list[AgentMessage] = []
        for part in parts:
            kind = _part_kind(part)
            if kind == "text":
                messages.append(ReasoningMessage(**base, reasoning=part.text))
            elif kind == "reasoning":
                messages.append(
                    ReasoningMessage(
                        **base,
                        source="reasoner_model",
                        reasoning=part.reasoning,
                        signature=getattr(part, "signature", None),
                    )
                )
            elif kind == "redacted_reasoning":
                messages.append(
                    HiddenReasoningMessage(**base, state="redacted", hidden_reasoning=part.data)
                )
        self._push(messages)

    def function_message(
        self, msg: str, msg_obj: Any = None, chunk_index: int | None = None
    ) -> None:
        """``Running ...`` (a whole tool call), ``Success: ...`` / ``Error: ...`` (its return)."""
        record = _require(msg_obj, "function_message")
        if msg.startswith("Running "):
            if not self.streaming_mode:
                self._push(self._running(record, chunk_index))
        elif msg.startswith("Ran "):
            return
        elif msg.startswith("Success: ") or msg.startswith("Error: "):
            self._push(self._returned(msg, record, chunk_index))
        else:
            self._push(
                [
                    ErrorMessage(
                        error="cannot interpret function message: expected 'Running ', 'Ran ',"
                        f" 'Success: ' or 'Error: ', got {msg[:40]!r}"
                    )
                ]
            )

    def _running(self, record: Any, chunk_index: int | None) -> list[AgentMessage]:
        calls = getattr(record, "tool_calls", None) or []
        if not calls:
            return [
                ErrorMessage(
                    error="cannot show a tool call: expected a message with tool_calls, got none"
                )
            ]
        call = calls[0]
        function = call.function
        settings = self.parser.settings
        base = _base_fields(record, chunk_index)
        if settings.use_assistant_message and function.name == settings.assistant_message_tool_name:
            try:
                arguments = decode_lenient(function.arguments or "{}")
            except ValueError:
                arguments = None
            kwarg = settings.assistant_message_tool_kwarg
            if isinstance(arguments, dict) and kwarg in arguments:
                value = arguments[kwarg]
                text = value if isinstance(value, str) else json.dumps(value)
                if call.id:
                    self.parser.assistant_call_ids.add(call.id)
                return [AssistantMessage(**base, content=text)]
        tool_call = ToolCall(
            name=function.name, arguments=function.arguments or "", tool_call_id=call.id or ""
        )
        return [ToolCallMessage(**base, tool_call=tool_call)]

    def _returned(self, msg: str, record: Any, chunk_index: int | None) -> list[AgentMessage]:
        success = msg.startswith("Success: ")
        text = msg.removeprefix("Success: ") if success else msg.removeprefix("Error: ")
        call_id = getattr(record, "tool_call_id", None) or ""
        if success and self.use_assistant_message and call_id in self.parser.assistant_call_ids:
            # The return of send_message: its text was already shown as the assistant message.
            self.parser.assistant_call_ids.discard(call_id)
            return []
        returns = getattr(record, "tool_returns", None) or []
        first = returns[0] if returns else None
        return [
            ToolReturnMessage(
                **_base_fields(record, chunk_index),
                tool_return=text,
                status=getattr(first, "status", None) or ("success" if success else "error"),
                tool_call_id=call_id,
                stdout=getattr(first, "stdout", None),
                stderr=getattr(first, "stderr", None),
            )
        ]


def _require(record: Any, what: str) -> Any:
    if record is None:
        raise ConfigurationError(
            f"cannot run {what}: expected the agent message it belongs to (msg_obj), got None;"
            " pass the message whose id and date the output should carry"
        )
    return record


def _base_fields(record: Any, chunk_index: int | None) -> dict[str, Any]:
    message_id = str(record.id)
    return {
        "id": message_id,
        "date": record.created_at,
        "name": getattr(record, "name", None),
        "otid": otid_for(message_id, chunk_index) if chunk_index is not None else None,
    }


def _part_kind(part: Any) -> str:
    kind = getattr(part, "type", None)
    if isinstance(kind, str):
        return kind
    if hasattr(part, "reasoning"):
        return "reasoning"
    if hasattr(part, "data"):
        return "redacted_reasoning"
    return "text"


def messages_from_chunks(
    chunks: Iterable[ChatCompletionChunk | dict[str, Any] | str | bytes],
    *,
    message_id: str | None = None,
    message_date: datetime | None = None,
    expect_reasoning_content: bool = False,
    name: str | None = None,
    settings: InterfaceSettings | None = None,
) -> list[AgentMessage]:
    """The messages a list of chunks of one LLM call produces, synchronously.

    ``message_id`` defaults to a new ``message-<uuid4>``; ``message_date`` to now (UTC).
    """
    parser = StreamParser(settings)
    message_id = message_id or new_message_id()
    message_date = message_date or datetime.now(UTC)
    out: list[AgentMessage] = []
    for chunk in chunks:
        out.extend(
            parser.feed(
                coerce_chunk(chunk),
                message_id=message_id,
                message_date=message_date,
                expect_reasoning_content=expect_reasoning_content,
                name=name,
            )
        )
    out.extend(parser.finish())
    return out


class QueuingInterface:
    """Letta's ``QueuingInterface``: plain dictionaries in a queue, flushed by hand."""

    STOP = "STOP"

    def __init__(self, debug: bool = False) -> None:
        self.debug = debug
        self._items: deque[tuple[dict[str, Any] | str, Any]] = deque()

    def _put(self, api: dict[str, Any] | str, obj: Any) -> None:
        self._items.append((api, obj))

    @staticmethod
    def _stamp(api: dict[str, Any], record: Any) -> dict[str, Any]:
        api["id"] = str(record.id)
        date: datetime = record.created_at
        api["date"] = (date if date.tzinfo else date.replace(tzinfo=UTC)).isoformat()
        return api

    def to_list(self, style: Literal["obj", "api"] = "obj") -> list[Any]:
        """Empty the queue into a list (objects deduplicated by id, keeping the last)."""
        items = list(self._items)
        self._items.clear()
        if style == "api":
            api = [a for a, _ in items]
            if len(api) > 1 and api[-1] == self.STOP:
                api.pop()
            return api
        objects = [o for _, o in items if o is not None]
        seen: set[str] = set()
        unique: list[Any] = []
        for obj in reversed(objects):
            if str(obj.id) not in seen:
                seen.add(str(obj.id))
                unique.append(obj)
        unique.reverse()
        return unique

    def clear(self) -> None:
        self._items.clear()

    async def message_generator(
        self, style: Literal["obj", "api"] = "obj"
    ) -> AsyncGenerator[Any, None]:
        """Yield queued items until ``STOP``; polls, as Letta's does, for producers on threads."""
        while True:
            if not self._items:
                import asyncio

                await asyncio.sleep(0.05)
                continue
            api, obj = self._items.popleft()
            if api == self.STOP:
                return
            yield obj if style == "obj" else api

    def step_yield(self) -> None:
        self._put(self.STOP, None)

    @staticmethod
    def step_complete() -> None:
        return None

    def error(self, error: str) -> None:
        self._put({"internal_error": error}, None)
        self._put(self.STOP, None)

    def user_message(self, msg: str, msg_obj: Any = None) -> None:
        _require(msg_obj, "user_message")

    def internal_monologue(
        self, msg: str, msg_obj: Any = None, chunk_index: int | None = None
    ) -> None:
        record = _require(msg_obj, "internal_monologue")
        self._put(self._stamp({"internal_monologue": msg}, record), record)

    def assistant_message(self, msg: str, msg_obj: Any = None) -> None:
        if msg_obj is not None:
            self._put(self._stamp({"assistant_message": msg}, msg_obj), msg_obj)
            return
        # Without its own message it belongs to the one queued last (Letta's convention).
        last = next((item for item in reversed(self._items) if isinstance(item[0], dict)), None)
        if last is None:
            _require(None, "assistant_message")
            return
        api = {"assistant_message": msg, "id": last[0].get("id"), "date": last[0].get("date")}
        self._put(api, last[1])

    def function_message(
        self,
        msg: str,
        msg_obj: Any = None,
        include_ran_messages: bool = False,
        chunk_index: int | None = None,
    ) -> None:
        record = _require(msg_obj, "function_message")
        api: dict[str, Any]
        if msg.startswith("Running "):
            api = {"function_call": msg.removeprefix("Running ")}
        elif msg.startswith("Ran "):
            if not include_ran_messages:
                return
            api = {"function_call": "Function call returned: " + msg.removeprefix("Ran ")}
        elif msg.startswith("Success: "):
            api = {"function_return": msg.removeprefix("Success: "), "status": "success"}
        elif msg.startswith("Error: "):
            api = {"function_return": msg.removeprefix("Error: "), "status": "error"}
        else:
            api = {"function_message": msg}
        self._put(self._stamp(api, record), record)
