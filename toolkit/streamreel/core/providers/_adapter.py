"""What every provider adapter shares: the adapter protocol, typed readers for decoded JSON, and
the constructors of the chunks adapters emit.

An adapter is a push state machine fed one decoded event at a time by
:class:`streamreel.core.providers.StreamDecoder`; it never sees bytes. Its methods return the
:class:`~streamreel.core.chunks.ChatCompletionChunk` and
:class:`~streamreel.core.chunks.StreamFault` values the
event produced, in order.

The readers exist because a payload is whatever JSON the recording holds: a field the adapter
relies on may be missing or of the wrong type. Each reader either returns a value of the type
the adapter asked for or raises :class:`~streamreel.core.errors.ChunkError` naming the field, so an
adapter never fails with a bare ``KeyError`` or ``AttributeError``. Fields that are optional in
the provider's schema are read with a default instead.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, TypeAlias

from streamreel.core.chunks import (
    ChatCompletionChunk,
    StreamFault,
    ToolCallFragment,
    Usage,
    validator,
)
from streamreel.core.errors import ChunkError

Output: TypeAlias = ChatCompletionChunk | StreamFault
"""What a decoder emits: a chunk, or a fault that must reach the output between chunks."""


class Adapter(Protocol):
    """One provider API's events in, chunks and faults out."""

    @property
    def finished(self) -> bool:
        """Whether the provider's terminator (or a fault that ends the stream) has been seen."""
        ...

    @property
    def terminator(self) -> str:
        """What ends a complete stream, for the message of an ``incomplete`` fault."""
        ...

    def event(self, name: str, payload: Any) -> list[Output]:
        """One decoded event: ``name`` is the SSE event type (``""`` for NDJSON and arrays)."""
        ...

    def done(self) -> list[Output]:
        """The ``data: [DONE]`` sentinel."""
        ...

    def end(self) -> list[Output]:
        """The body ended; emit anything held back until the end."""
        ...

    def fail(self, fault: StreamFault) -> list[Output]:
        """A fault the framing itself reported (an event-stream exception): it ends the stream."""
        ...


class AdapterBase:
    """The end-of-stream bookkeeping every adapter shares, written once.

    Most APIs have no ``[DONE]`` sentinel and hold nothing back until the end, and every
    adapter ends its stream on a fault; a subclass names its ``TERMINATOR``, sets
    ``self._finished`` when it sees it, and overrides only what differs.
    """

    TERMINATOR: ClassVar[str] = "the provider's last event"

    def __init__(self) -> None:
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def terminator(self) -> str:
        return self.TERMINATOR

    def done(self) -> list[Output]:
        return []

    def end(self) -> list[Output]:
        return []

    def fail(self, fault: StreamFault) -> list[Output]:
        self._finished = True
        return [fault]


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    dict: "an object",
    list: "an array",
    bool: "a boolean",
}


def _got(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def _wrong(where: str, key: str, expected: type, value: Any) -> ChunkError:
    return ChunkError(
        f"cannot read {where}: expected {key!r} to be {_TYPE_NAMES[expected]}, got"
        f" {_got(value)}; fix or remove this event in the recording"
    )


def as_object(value: Any, where: str) -> dict[str, Any]:
    """The payload itself, which must be a JSON object."""
    if not isinstance(value, dict):
        raise ChunkError(
            f"cannot read {where}: expected a JSON object, got {_got(value)};"
            " fix or remove this event in the recording"
        )
    return value


def req_str(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise _wrong(where, key, str, value)
    return value


def req_int(data: dict[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong(where, key, int, value)
    return value


def req_obj(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise _wrong(where, key, dict, value)
    return value


def opt_str(data: dict[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise _wrong(where, key, str, value)
    return value


def opt_int(data: dict[str, Any], key: str, where: str) -> int | None:
    value = data.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise _wrong(where, key, int, value)
    return value


def opt_obj(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """An optional object; missing or null reads as empty."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _wrong(where, key, dict, value)
    return value


def opt_list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    """An optional array; missing or null reads as empty."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong(where, key, list, value)
    return value


def opt_bool(data: dict[str, Any], key: str, where: str) -> bool:
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _wrong(where, key, bool, value)
    return value


class Stamp:
    """The identity every chunk of one stream carries: response id, model and creation time."""

    __slots__ = ("created", "id", "model")

    def __init__(self) -> None:
        self.id: str | None = None
        self.model: str | None = None
        self.created: int | None = None

    def chunk(
        self,
        *,
        index: int = 0,
        role: str | None = None,
        content: str | None = None,
        reasoning: str | None = None,
        signature: str | None = None,
        redacted: str | None = None,
        tool_calls: list[ToolCallFragment] | None = None,
        finish_reason: str | None = None,
        usage: Usage | None = None,
        output_tokens: int | None = None,
    ) -> ChatCompletionChunk:
        """A chunk with one choice, stamped with this stream's identity."""
        # One validation of the nested mapping, not one per model: the same instances, fields
        # and fields set as building the delta, the choice and the chunk one by one.
        return validator(ChatCompletionChunk).validate_python(  # type: ignore[no-any-return]
            {
                "id": self.id,
                "created": self.created,
                "model": self.model,
                "choices": [
                    {
                        "index": index,
                        "delta": {
                            "role": role,
                            "content": content,
                            "reasoning_content": reasoning,
                            "reasoning_content_signature": signature,
                            "redacted_reasoning_content": redacted,
                            "tool_calls": tool_calls,
                        },
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": usage,
                "output_tokens": output_tokens,
            }
        )

    def usage_chunk(self, usage: Usage) -> ChatCompletionChunk:
        """A chunk with no choices that only reports usage (Bedrock's ``metadata`` event)."""
        return ChatCompletionChunk(id=self.id, created=self.created, model=self.model, usage=usage)


def tool_call(
    index: int,
    *,
    id: str | None = None,
    name: str | None = None,
    arguments: str | None = None,
) -> ToolCallFragment:
    """One tool-call fragment; the first fragment of a call carries its id and name."""
    # One validation of the nested mapping, as in Stamp.chunk: the fragment and its function
    # have every field set, as building them one by one does.
    return validator(ToolCallFragment).validate_python(  # type: ignore[no-any-return]
        {
            "index": index,
            "id": id,
            "type": "function" if id is not None or name is not None else None,
            "function": {"name": name, "arguments": arguments},
        }
    )


class ToolArguments:
    """Which tool calls of one stream have begun, and which have sent argument text.

    Anthropic, Bedrock and Cohere stream a call's input apart from the call itself, and send no
    input at all for a call without parameters. When such a call ends, :meth:`end` gives the
    fragment ``"{}"``, so that every call's arguments add up to a complete JSON object.
    """

    __slots__ = ("_argued", "_open")

    def __init__(self) -> None:
        self._open: set[int] = set()
        self._argued: set[int] = set()

    def begin(self, index: int, arguments: str = "") -> None:
        """Call ``index`` has started, with ``arguments`` already in its first fragment."""
        self._open.add(index)
        if arguments:
            self._argued.add(index)

    def piece(self, index: int, text: str) -> ToolCallFragment | None:
        """A fragment of argument text for call ``index``, or None when there is no text."""
        if not text:
            return None
        self._argued.add(index)
        return tool_call(index, arguments=text)

    def end(self, index: int) -> ToolCallFragment | None:
        """The ``"{}"`` fragment for a call that ended without arguments, else None."""
        if index not in self._open or index in self._argued:
            return None
        self._argued.add(index)
        return tool_call(index, arguments="{}")


def usage(prompt: int | None, completion: int | None, total: int | None = None) -> Usage | None:
    """OpenAI-style usage; the total is the sum when the provider does not give one."""
    if prompt is None and completion is None and total is None:
        return None
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


def error_fault(error: Any, *, status: int | None = None) -> StreamFault:
    """A fault from a provider's error object, whatever its shape.

    The type is the most specific label the object has: a string ``code`` (OpenAI's
    ``model_not_found``, Groq's ``tool_use_failed``, Azure's ``DeploymentNotFound``), else
    ``type`` (Anthropic's ``overloaded_error``), else ``status`` (Google's ``RESOURCE_EXHAUSTED``).
    An integer ``code`` or ``status_code`` is an HTTP status (OpenRouter, Groq, Google).
    """
    if isinstance(error, str):
        return StreamFault("error", error, status=status)
    if not isinstance(error, dict):
        return StreamFault("error", _got(error), status=status)
    message = error.get("message")
    text = message if isinstance(message, str) else ""
    metadata = error.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("raw"), str):
        # OpenRouter puts the upstream provider's own explanation here.
        text = f"{text} ({metadata['raw']})" if text else metadata["raw"]
    label: str | None = None
    for key in ("code", "type", "status"):
        value = error.get(key)
        if isinstance(value, str) and value:
            label = value
            break
    for key in ("status_code", "code"):
        value = error.get(key)
        if status is None and isinstance(value, int) and not isinstance(value, bool):
            status = value
    if not text and label is None:
        text = _got(error)
    return StreamFault("error", text, error_type=label, status=status)
