"""The interface's output: Letta's agent messages and their exact wire format.

Field order is the wire's key order: the base fields ``id, date, name, message_type, otid,
sender_id`` and then each type's own. Dates serialize as whole-second UTC ISO
(``2024-05-01T00:00:00+00:00``). On the wire each message is compact JSON with ASCII escapes;
``tool_call_message`` drops every null key (top level and inside ``tool_call``), every other type
keeps its nulls. A REST stream is the messages as ``data: ...`` SSE events, then one
``usage_statistics`` record, then ``data: [DONE]``.

An error inside a stream is an :class:`ErrorMessage`, written as Letta's server writes errors
on the wire: ``{"error": "..."}``.

Streams are made of *deltas*: many messages sharing one ``otid`` that together form one logical
message. :func:`merge_deltas` joins the deltas of each logical message, adjacent or not (a foreign
parser's tool calls by their call's id too); two streams that differ only in where the provider
split them merge to the same list.
"""

# Annotations here are evaluated as the classes are made (no ``from __future__ import
# annotations``): pydantic reads every field's type when a model class is made, and from a string
# that meant compiling each one, about a sixth of what defining these models costs a command.
import functools
import importlib
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import is_dataclass
from datetime import UTC, datetime
from json import encoder as json_encoder
from typing import Annotated, Any, Literal, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_serializer
from pydantic_core import to_jsonable_python

__all__ = [
    "AgentMessage",
    "AssistantMessage",
    "DeltaGroups",
    "DeltaKey",
    "ErrorMessage",
    "ForeignMessage",
    "HiddenReasoningMessage",
    "LettaMessage",
    "ReasoningMessage",
    "SystemMessage",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallMessage",
    "ToolReturnMessage",
    "UsageStatistics",
    "UserMessage",
    "delta_key",
    "foreign_message",
    "merge_deltas",
    "name_uuid",
    "otid_for",
    "parse_wire",
    "reports_error",
    "to_sse",
    "to_wire",
    "tool_call_id",
    "trusted",
    "wire_dict",
]


class LettaMessage(BaseModel):
    """Fields every agent message has, in wire order."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    id: str
    date: datetime
    name: str | None = None
    message_type: str
    otid: str | None = None
    sender_id: str | None = None

    @field_serializer("date")
    def _whole_second_utc(self, value: datetime) -> str:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(microsecond=0).isoformat()


class ReasoningMessage(LettaMessage):
    """Reasoning: a reasoning model's thinking, or a model's inner monologue."""

    message_type: Literal["reasoning_message"] = "reasoning_message"
    source: Literal["reasoner_model", "non_reasoner_model"] = "non_reasoner_model"
    reasoning: str
    signature: str | None = None


class HiddenReasoningMessage(LettaMessage):
    """Reasoning the provider redacted (Anthropic ``redacted_thinking``) or omitted."""

    message_type: Literal["hidden_reasoning_message"] = "hidden_reasoning_message"
    state: Literal["redacted", "omitted"]
    hidden_reasoning: str | None = None


class ToolCall(BaseModel):
    """A whole tool call."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: str
    arguments: str
    tool_call_id: str


class ToolCallDelta(BaseModel):
    """A piece of a tool call; the pieces of one call concatenate."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: str | None = None
    arguments: str | None = None
    tool_call_id: str | None = None


class ToolCallMessage(LettaMessage):
    message_type: Literal["tool_call_message"] = "tool_call_message"
    tool_call: ToolCall | ToolCallDelta


class ToolReturnMessage(LettaMessage):
    message_type: Literal["tool_return_message"] = "tool_return_message"
    tool_return: str
    status: Literal["success", "error"]
    tool_call_id: str
    stdout: list[str] | None = None
    stderr: list[str] | None = None


class AssistantMessage(LettaMessage):
    """What the agent says to the user (the ``send_message`` text, decoded)."""

    message_type: Literal["assistant_message"] = "assistant_message"
    content: str


class SystemMessage(LettaMessage):
    message_type: Literal["system_message"] = "system_message"
    content: str


class UserMessage(LettaMessage):
    message_type: Literal["user_message"] = "user_message"
    content: str


class ErrorMessage(BaseModel):
    """An error inside a stream; on the wire ``{"error": "..."}``, after what came before it."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    message_type: Literal["error_message"] = "error_message"
    error: str


class UsageStatistics(BaseModel):
    """The usage record that closes a REST stream, before ``[DONE]``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    message_type: Literal["usage_statistics"] = "usage_statistics"
    completion_tokens: int = 0
    prompt_tokens: int = 0
    total_tokens: int = 0
    step_count: int = 0
    run_ids: list[str] | None = None


class ForeignMessage(BaseModel):
    """A message of a parser that is not streamreel's (a ``process(stream)`` parser's own type).

    ``data`` is the message as JSON values, keys in the order the message's own type gives them
    (pydantic's JSON mode for models and dataclasses; dicts as they are): what every renderer,
    snapshot and diff shows, and its wire form. ``message_type`` is the message's own
    ``message_type`` field when it has one, else its class name (``"dict"`` for a plain dict
    without one).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    message_type: str
    data: dict[str, Any]

    @property
    def text(self) -> str:
        """What a reader wants of the message: its text fields (content, reasoning, a tool
        call's name and arguments...), else its fields as one line of JSON."""
        parts = _text_parts(self.data)
        if parts:
            return "\n".join(parts)
        return json.dumps(self.data, ensure_ascii=False, separators=(", ", ": "))


_SHOWN_FIELDS = ("reasoning", "hidden_reasoning", "content", "text", "name", "arguments", "error")


def _text_parts(data: dict[str, Any], nested: bool = False) -> list[str]:
    parts: list[str] = []
    for key in _SHOWN_FIELDS:
        if key == "name" and not nested:
            continue  # a message's own name is its sender's, not its text
        value = data.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
    for value in data.values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):  # a tool call, or content parts
                parts.extend(_text_parts(item, nested=True))
    return parts


AgentMessage: TypeAlias = (
    ReasoningMessage
    | HiddenReasoningMessage
    | ToolCallMessage
    | ToolReturnMessage
    | AssistantMessage
    | SystemMessage
    | UserMessage
    | ErrorMessage
    | ForeignMessage
)
"""Anything the interface emits into a stream (a foreign parser's messages as ForeignMessage)."""


def foreign_message(message: object) -> AgentMessage:
    """``message`` as replay holds it: streamreel's own messages as they are, anything else
    (a pydantic model, a dataclass, a dict) as a :class:`ForeignMessage` of its JSON values.

    Raises TypeError for anything else; the caller says which parser and chunk.
    """
    if isinstance(message, _OWN_TYPES):
        return message
    if isinstance(message, BaseModel):
        data = message.model_dump(mode="json")
    elif isinstance(message, dict) or (is_dataclass(message) and not isinstance(message, type)):
        data = to_jsonable_python(message)
    else:
        raise TypeError(
            f"expected a pydantic model, a dataclass or a dict, got {type(message).__name__}"
        )
    if not isinstance(data, dict):
        raise TypeError(f"expected an object of fields, got {type(data).__name__}")
    kind = data.get("message_type")
    if not isinstance(kind, str):
        kind = type(message).__name__
    return ForeignMessage(message_type=kind, data=data)


# How a foreign parser says its stream ended in an error: an error record of its own (Letta's
# ``error_message``), or a stop record whose reason is ``error`` (Letta 0.16.8 yields one before
# it raises).
_ERROR_TYPES = frozenset({"error_message", "error"})


def reports_error(message: AgentMessage) -> bool:
    """Whether ``message`` says the stream ended in an error (streamreel's or a foreign one)."""
    if isinstance(message, ErrorMessage):
        return True
    if isinstance(message, ForeignMessage):
        return message.message_type in _ERROR_TYPES or message.data.get("stop_reason") == "error"
    return False


_LETTA_TYPES = Annotated[
    ReasoningMessage
    | HiddenReasoningMessage
    | ToolCallMessage
    | ToolReturnMessage
    | AssistantMessage
    | SystemMessage
    | UserMessage
    | UsageStatistics,
    Field(discriminator="message_type"),
]
_LETTA_ADAPTER: TypeAdapter[Any] = TypeAdapter(_LETTA_TYPES, config=ConfigDict(defer_build=True))
_OWN_TYPES = (
    ReasoningMessage,
    HiddenReasoningMessage,
    ToolCallMessage,
    ToolReturnMessage,
    AssistantMessage,
    SystemMessage,
    UserMessage,
    ErrorMessage,
    ForeignMessage,
)


_Model = TypeVar("_Model", bound=BaseModel)
_TEMPLATES: dict[type[BaseModel], dict[str, Any]] = {}


def trusted(cls: type[_Model], **values: Any) -> _Model:
    """An instance of ``cls`` built from values its maker guarantees, without validating them.

    Validation belongs where data comes in (chunks, wire JSON parsed back); the parser builds
    every message from values it has already checked, and validating each of its tens of
    thousands of deltas again cost more than parsing the chunk that made it. This is
    ``model_construct`` without its per-call walk over the fields: the defaults are gathered
    once per class, in field order, so the instance equals, prints and serializes exactly as a
    validated one.
    """
    template = _TEMPLATES.get(cls)
    if template is None:
        template = _TEMPLATES[cls] = {
            name: info.get_default(call_default_factory=True)
            for name, info in cls.model_fields.items()
        }
    instance = cls.__new__(cls)
    _SET_ATTRIBUTE(instance, "__dict__", {**template, **values})
    _SET_FIELDS_SET(instance, set(values))
    _SET_EXTRA(instance, None)
    _SET_PRIVATE(instance, None)
    return instance


# BaseModel's slots, set through their descriptors: a quarter of ``trusted``'s cost went to
# looking each one up by name.
_SET_ATTRIBUTE = object.__setattr__
_SET_FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__


@functools.lru_cache(maxsize=256)  # a stream's messages share a handful of dates
def _wire_date(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


# The types whose fields are all JSON-ready but ``date``: for these the wire object is the
# instance's fields with the date written out, which is what ``model_dump(mode="json")`` gives,
# at a fraction of its cost per message. Anything else (a subclass, a type added later) goes
# through pydantic's serializer.
_PLAIN_WIRE: frozenset[type[LettaMessage]] = frozenset(
    {
        ReasoningMessage,
        HiddenReasoningMessage,
        AssistantMessage,
        SystemMessage,
        UserMessage,
        ToolReturnMessage,
    }
)


def wire_dict(message: AgentMessage | UsageStatistics) -> dict[str, Any]:
    """The message as the JSON object Letta's server writes, keys in wire order."""
    kind = type(message)
    if kind is ForeignMessage:
        return dict(message.data)  # type: ignore[union-attr]
    if kind is ErrorMessage:
        return {"error": message.error}  # type: ignore[union-attr]
    if kind in _PLAIN_WIRE:
        fields = dict(message.__dict__)
        fields["date"] = _wire_date(fields["date"])
        if kind is ToolReturnMessage:
            for key in ("stdout", "stderr"):
                if fields[key] is not None:
                    fields[key] = list(fields[key])
        return fields
    if kind is ToolCallMessage:
        fields = {k: v for k, v in message.__dict__.items() if v is not None}
        fields["date"] = _wire_date(fields["date"])
        call = fields["tool_call"]
        if type(call) in (ToolCall, ToolCallDelta):
            fields["tool_call"] = {k: v for k, v in call.__dict__.items() if v is not None}
            return fields
    if isinstance(message, ErrorMessage):
        return {"error": message.error}
    if isinstance(message, ToolCallMessage):
        return message.model_dump(mode="json", exclude_none=True)
    return message.model_dump(mode="json")


# One encoder for every message: json.dumps with separators builds a new encoder per call.
_WIRE_ENCODER = json.JSONEncoder(separators=(",", ":"))
# And JSONEncoder.encode builds a new C encoder per call: this one is made once. A wire object
# is a tree of fresh dicts and lists, never circular, so it keeps no markers. The arguments:
# markers, default, string encoder, indent, key and item separators, sort_keys, skipkeys,
# allow_nan, as json.dumps(separators=(",", ":")) passes them.
_MAKE_C_ENCODER: Any = getattr(json_encoder, "c_make_encoder", None)
_WIRE_C_ENCODER: Any = (
    None
    if _MAKE_C_ENCODER is None
    else _MAKE_C_ENCODER(
        None,
        _WIRE_ENCODER.default,
        json_encoder.encode_basestring_ascii,
        None,
        ":",
        ",",
        False,
        False,
        True,
    )
)


def to_wire(message: AgentMessage | UsageStatistics) -> str:
    """Compact, ASCII-escaped JSON: one message as it appears after ``data: ``."""
    if _WIRE_C_ENCODER is None:  # pragma: no cover - a Python without the C accelerator
        return _WIRE_ENCODER.encode(wire_dict(message))
    kind = type(message)
    own = _OWN_FIELDS.get(kind)
    if own is not None or kind is ToolCallMessage:
        fields = message.__dict__
        head = _wire_head(kind, fields)
        if head is not None:
            if kind is ToolCallMessage:
                call = fields["tool_call"]
                if type(call) in (ToolCall, ToolCallDelta):
                    inner = ",".join(
                        f'"{name}":{_wire_value(value)}'
                        for name, value in call.__dict__.items()
                        if value is not None
                    )
                    return f'{head},"tool_call":{{{inner}}}}}'
            elif own is not None:
                tail = "".join([f"{key}{_wire_value(fields[name])}" for key, name in own])
                return f"{head}{tail}}}"
    return "".join(_WIRE_C_ENCODER(wire_dict(message), 0))


# The wire object of a message, written a field at a time: the same text as the JSON encoder
# gives for its wire_dict, at a fraction of the cost. A stream's messages share their first
# six fields (id, date, name, type, otid, sender), so these are written once per logical
# message and kept; the rest is each message's own fields, behind their keys written out (a
# tool call's, its call's fields that are not null).
_BASE_FIELDS = ("id", "date", "name", "message_type", "otid", "sender_id")
_OWN_FIELDS: dict[type[BaseModel], tuple[tuple[str, str], ...]] = {
    kind: tuple((f',"{name}":', name) for name in kind.model_fields if name not in _BASE_FIELDS)
    for kind in _PLAIN_WIRE
}
_HEADS: dict[tuple[Any, ...], str] = {}
_HEADS_KEPT = 4096  # a stream's logical messages; the cache starts over beyond that
_ESCAPE = json_encoder.encode_basestring_ascii


def _wire_value(value: Any) -> str:
    if type(value) is str:
        return _ESCAPE(value)
    if value is None:
        return "null"
    return "".join(_WIRE_C_ENCODER(value, 0))


def _wire_head(kind: type[BaseModel], fields: dict[str, Any]) -> str | None:
    """``{"id":...`` up to the message's own fields, without the closing brace; None when a
    base field holds what the shortcut does not write (the encoder then writes it all)."""
    key = (
        kind, fields["id"], fields["date"], fields["name"], fields["message_type"], fields["otid"],
        fields["sender_id"],
    )  # fmt: skip
    try:
        head = _HEADS.get(key)
    except TypeError:  # a value no validation checked (model_construct): the encoder's to judge
        return None
    if head is not None:
        return head
    date = fields["date"]
    if type(date) is not datetime:
        return None
    parts = []
    for name in _BASE_FIELDS:
        value = _wire_date(date) if name == "date" else fields[name]
        if value is None:
            if kind is ToolCallMessage:  # its nulls are dropped
                continue
        elif type(value) is not str:
            return None
        parts.append(f'"{name}":{_wire_value(value)}')
    if len(_HEADS) >= _HEADS_KEPT:
        _HEADS.clear()
    head = _HEADS[key] = "{" + ",".join(parts)
    return head


def parse_wire(text: str | dict[str, Any]) -> AgentMessage | UsageStatistics:
    """Parse one message back from its wire JSON (``to_wire``'s inverse)."""
    data = json.loads(text) if isinstance(text, str) else text
    if isinstance(data, dict) and set(data) == {"error"}:
        return ErrorMessage(error=str(data["error"]))
    parsed: AgentMessage | UsageStatistics = _LETTA_ADAPTER.validate_python(data)
    return parsed


def to_sse(messages: Iterable[AgentMessage], usage: UsageStatistics | None = None) -> Iterator[str]:
    """The REST stream: each message as an SSE event, the usage record, then ``[DONE]``."""
    for message in messages:
        yield f"data: {to_wire(message)}\n\n"
    yield f"data: {to_wire(usage or UsageStatistics())}\n\n"
    yield "data: [DONE]\n\n"


_OTID_INDEX_BITS = 48  # the UUID's node field; the version and variant bits are never touched


@functools.cache
def _sha1() -> Any:
    # CPython's own SHA-1 when it has one: uuid.uuid5 imports hashlib, which loads OpenSSL, and
    # that cost a command replaying one small file more than the replay itself.
    try:
        return importlib.import_module("_sha1").sha1
    except ImportError:  # pragma: no cover - a Python built without it
        return importlib.import_module("hashlib").sha1


def name_uuid(name: str) -> uuid.UUID:
    """``uuid.uuid5(uuid.NAMESPACE_URL, name)``: the same value, computed without hashlib."""
    digest: bytes = _sha1()(uuid.NAMESPACE_URL.bytes + name.encode("utf-8")).digest()
    return uuid.UUID(bytes=digest[:16], version=5)


def otid_for(message_id: str, index: int) -> str:
    """The otid of the ``index``-th logical message of the LLM call ``message_id``.

    For ``index < 128`` this is Letta's ``generate_otid_from_id``: the message uuid with its low
    seven bits replaced by the index. Letta raises beyond 127; here the index is XOR-ed into the
    uuid's node field instead, which gives the same value below 128 (the low bits are cleared
    first) and stays distinct for every index up to 2**48. A message id that carries no uuid
    (a hand-chosen ``--message-id``) is mapped to one by uuid5, so otids stay deterministic.
    """
    _, _, tail = message_id.partition("-")
    try:
        base = uuid.UUID(tail).int
    except ValueError:
        base = name_uuid(f"streamreel:{message_id}").int
    mixed = (base & ~0x7F) ^ (index % (1 << _OTID_INDEX_BITS))
    return str(uuid.UUID(int=mixed))


def _joined(parts: list[str | None]) -> str | None:
    present = [part for part in parts if part is not None]
    return "".join(present) if present else None


_Mergeable: TypeAlias = (
    ReasoningMessage | HiddenReasoningMessage | AssistantMessage | ToolCallMessage
)


def _combine(group: list[_Mergeable]) -> _Mergeable:
    """One message from the deltas of one logical message, each text joined once."""
    first = group[0]
    if len(group) == 1:
        return first
    if isinstance(first, ReasoningMessage):
        parts = [m for m in group if isinstance(m, ReasoningMessage)]
        signature = next((m.signature for m in reversed(parts) if m.signature), None)
        reasoning = "".join(m.reasoning for m in parts)
        return first.model_copy(update={"reasoning": reasoning, "signature": signature})
    if isinstance(first, HiddenReasoningMessage):
        hidden = _joined(
            [m.hidden_reasoning for m in group if isinstance(m, HiddenReasoningMessage)]
        )
        return first.model_copy(update={"hidden_reasoning": hidden})
    if isinstance(first, AssistantMessage):
        content = "".join(m.content for m in group if isinstance(m, AssistantMessage))
        return first.model_copy(update={"content": content})
    if isinstance(first, ToolCallMessage):
        calls = [m.tool_call for m in group if isinstance(m, ToolCallMessage)]
        name = _joined([call.name for call in calls])
        arguments = _joined([call.arguments for call in calls])
        call_id = next((call.tool_call_id for call in calls if call.tool_call_id), None)
        joined: ToolCall | ToolCallDelta
        if name is not None and arguments is not None and call_id is not None:
            joined = ToolCall(name=name, arguments=arguments, tool_call_id=call_id)
        else:
            joined = ToolCallDelta(name=name, arguments=arguments, tool_call_id=call_id)
        return first.model_copy(update={"tool_call": joined})
    return first  # unreachable: every mergeable type is handled above


_MERGEABLE = (ReasoningMessage, HiddenReasoningMessage, AssistantMessage, ToolCallMessage)

# The fields whose pieces a foreign parser's deltas concatenate (as Letta's own do); inside a
# nested object (a tool call) its ``name`` too. Any other field keeps its first non-null value.
_TEXT_FIELDS = frozenset({"content", "reasoning", "hidden_reasoning", "arguments", "text"})


def _joined_fields(first: dict[str, Any], later: dict[str, Any], nested: bool) -> dict[str, Any]:
    joined = dict(first)
    for key, value in later.items():
        held = joined.get(key)
        if held is None:
            joined[key] = value
        elif isinstance(held, str) and isinstance(value, str):
            if key in _TEXT_FIELDS or (nested and key == "name"):
                joined[key] = held + value
        elif isinstance(held, dict) and isinstance(value, dict):
            joined[key] = _joined_fields(held, value, nested=True)
    return joined


def _combine_foreign(group: list[ForeignMessage]) -> ForeignMessage:
    data = group[0].data
    for message in group[1:]:
        data = _joined_fields(data, message.data, nested=False)
    return ForeignMessage(message_type=group[0].message_type, data=data)


DeltaKey: TypeAlias = tuple[str, ...]
"""What the deltas of one logical message share: type, id and otid, and for a foreign parser's
tool call the call's own id too."""

# Where a foreign message names the tool call it is a delta of: Letta's ``tool_call`` and
# ``tool_calls`` objects (or a one-call list), then a field of the message itself.
_CALL_HOLDERS = ("tool_call", "tool_calls", "function_call")
_CALL_ID_FIELDS = ("tool_call_id", "id", "call_id")


def tool_call_id(data: dict[str, Any]) -> str | None:
    """The id of the tool call a foreign message's fields carry, if any.

    Letta 0.16.8 puts it in ``tool_call.tool_call_id`` (and ``tool_calls``); a parser of one's
    own may write ``tool_call.id``, ``tool_calls: [{"id": ...}]`` or ``tool_call_id`` beside
    the other fields. A list of several calls names no single call.
    """
    for holder in _CALL_HOLDERS:
        value = data.get(holder)
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, dict):
            for name in _CALL_ID_FIELDS:
                found = value.get(name)
                if isinstance(found, str) and found:
                    return found
    for name in ("tool_call_id", "call_id"):
        found = data.get(name)
        if isinstance(found, str) and found:
            return found
    return None


def delta_key(message: AgentMessage) -> DeltaKey | None:
    """What the deltas of one logical message share (type, id, otid); None if never merged.

    A foreign parser's messages are deltas when they carry a string ``id`` and ``otid``, as
    Letta's do. One carrying a tool call's id (:func:`tool_call_id`) is keyed by that id too:
    Letta 0.16.8 gives every tool-call delta of a step one otid, parallel calls included, so
    only the call's id tells their deltas apart.
    """
    if isinstance(message, _MERGEABLE) and message.otid is not None:
        return (message.message_type, message.id, message.otid)
    if isinstance(message, ForeignMessage):
        ident, otid = message.data.get("id"), message.data.get("otid")
        if isinstance(ident, str) and isinstance(otid, str):
            call = tool_call_id(message.data)
            if call is not None:
                return (message.message_type, ident, otid, call)
            return (message.message_type, ident, otid)
    return None


class DeltaGroups:
    """Which logical message each delta of a stream belongs to, numbered by first appearance.

    The grouping :func:`merge_deltas` makes, one delta at a time, for views that show the
    merge as the stream arrives (the player). :meth:`place` gives the number of the logical
    message a delta belongs to, a new one for a delta that starts one or is never merged.
    """

    __slots__ = ("_groups", "_latest", "count")

    def __init__(self) -> None:
        self._groups: dict[DeltaKey, int] = {}
        self._latest: dict[DeltaKey, DeltaKey] = {}  # (type, id, otid) -> its latest call's key
        self.count = 0

    def place(self, message: AgentMessage) -> int:
        key = delta_key(message)
        if key is not None:
            if len(key) > 3:
                shared = key[:3]
                if shared not in self._latest and shared in self._groups:
                    # The deltas that came before the call named itself are the call's.
                    self._groups.setdefault(key, self._groups[shared])
                self._latest[shared] = key
            else:
                key = self._latest.get(key, key)
            found = self._groups.get(key)
            if found is not None:
                return found
            self._groups[key] = self.count
        self.count += 1
        return self.count - 1


def merge_deltas(messages: Iterable[AgentMessage]) -> list[AgentMessage]:
    """Join the deltas of each logical message (same type, id and otid) into one message.

    A logical message takes the place of its first delta. Its deltas need not be adjacent:
    parallel tool calls interleave, and the inner thoughts of a call can sit between two of its
    argument deltas. A foreign parser's tool-call deltas join by their call's id as well (see
    :func:`delta_key`); one naming no call continues the latest call of its type, id and otid,
    and the deltas before a call first names itself belong to that call. Messages without an
    otid (the non-streaming path) are never joined. The result does not depend on where the
    provider split the stream: it is what tests, snapshots and diffs compare. Each message's
    text is joined once, so merging is linear in the stream.
    """
    slots: list[list[Any]] = []
    place = DeltaGroups().place
    for message in messages:
        slot = place(message)
        if slot == len(slots):
            slots.append([message])
        else:
            slots[slot].append(message)
    return [_merged(slot) for slot in slots]


def _merged(group: list[Any]) -> AgentMessage:
    first: AgentMessage = group[0]
    if len(group) == 1:
        return first
    if isinstance(first, ForeignMessage):
        return _combine_foreign(group)
    return _combine(group)
