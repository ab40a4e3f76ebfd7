"""Synthetic streams, written byte for byte in each provider's wire format.

Real recordings are the best test input, but they cannot be re-recorded on demand and some
quirks are missing from every public recording. A synthetic stream fills that gap. It is written
the way the provider writes, so what replays from it is what a real stream would give: key
order, separators, ``null`` fields, SSE event names, CRLF (Gemini), whitespace padding inside
JSON (Anthropic), ``usage: null`` on every chunk and the trailing usage chunk, OpenAI's random
``obfuscation`` padding and DeepSeek's ``: keep-alive`` comments. The prompts, answers and ids
are invented; every credential header holds :data:`streamreel.cassettes.scrubbing.REDACTED`.
Arrival offsets, ids and padding come from a :class:`random.Random` seeded with the stream's
name, so every build is byte-identical.

:func:`scaled_cassette` is the public entry: one large multi-provider cassette for load tests
and ``streamreel bench``. The repository's ``devtools/scripted.py`` builds the bundled
cassettes, one per provider quirk, from the same writers.
"""

from __future__ import annotations

import base64
import functools
import json
import random
import re
import string
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from streamreel.cassettes.scrubbing import REDACTED
from streamreel.core.cassette import (
    BodyChunk,
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import ConfigurationError
from streamreel.core.eventstream import encode_message

__all__ = ["RECORDED_AT", "SCRIPTED", "scaled_cassette"]

SCRIPTED = "scripted"
"""``CassetteInfo.recorded_against`` of every scripted cassette: no server was involved."""

RECORDED_AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
"""The fixed date of every scripted cassette, so builds never depend on the clock."""

_OPENAI_SDK = "2.34.0"
_ANTHROPIC_SDK = "0.96.0"
_GENAI_SDK = "1.49.0"
_PYTHON = "3.11.9"

_Json = dict[str, Any]
_JsonStyle = Literal["compact", "spaced"]


# --------------------------------------------------------------------------------------------
# Bytes and time
# --------------------------------------------------------------------------------------------


def _dumps(value: Any, style: _JsonStyle = "compact", *, ascii_only: bool = False) -> str:
    """JSON as a given server or SDK writes it: ``,``/``:`` or ``, ``/``: `` separators."""
    separators = (",", ":") if style == "compact" else (", ", ": ")
    return json.dumps(value, separators=separators, ensure_ascii=ascii_only)


def _sse(data: str, *, event: str | None = None, eol: str = "\n") -> str:
    """One server-sent event: an optional ``event:`` line, the ``data:`` line, a blank line."""
    head = f"event: {event}{eol}" if event is not None else ""
    return f"{head}data: {data}{eol}{eol}"


_DONE = _sse("[DONE]")
_ALPHABET = string.ascii_letters + string.digits


class _Wire:
    """One response body as the client read it: reads, each with its arrival offset.

    Everything random about a scenario (offsets, ids, padding) comes from one generator seeded
    with the scenario's name, so a build depends only on the code. The first read lands
    ``first_ms`` after the request (the model's time to first token), later ones ``gap_ms``
    apart; offsets are rounded to a tenth of a millisecond so the YAML stays short.
    """

    def __init__(
        self,
        seed: str,
        *,
        first_ms: tuple[float, float] = (280.0, 640.0),
        gap_ms: tuple[float, float] = (9.0, 46.0),
    ) -> None:
        self.rng = random.Random(f"streamreel.scripted:{seed}")
        self._gap = gap_ms
        self._clock = round(self.rng.uniform(*first_ms), 1)
        self._reads: list[BodyChunk] = []

    @property
    def elapsed_ms(self) -> float:
        return self._clock

    def send(self, *events: str, pause_ms: float = 0.0) -> None:
        """One read holding ``events`` (joined); ``pause_ms`` models a slower step before it."""
        self.send_stamped(lambda _offset: "".join(events), pause_ms=pause_ms)

    def send_bytes(self, data: bytes, *, pause_ms: float = 0.0) -> None:
        """One read of bytes that are not text (an AWS event stream)."""
        self._advance(pause_ms)
        self._reads.append(BodyChunk(self._clock, data))

    def _advance(self, pause_ms: float) -> None:
        if self._reads:
            self._clock = round(self._clock + self.rng.uniform(*self._gap) + pause_ms, 1)
        else:
            self._clock = round(self._clock + pause_ms, 1)

    def send_stamped(self, build: Callable[[float], str], *, pause_ms: float = 0.0) -> None:
        """One read whose text depends on its arrival offset (Ollama stamps every line)."""
        self._advance(pause_ms)
        self._reads.append(BodyChunk(self._clock, build(self._clock).encode("utf-8")))

    def token(self, length: int, alphabet: str = _ALPHABET) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def hex(self, length: int) -> str:
        return self.token(length, "0123456789abcdef")

    def padding(self) -> str:
        """OpenAI's ``obfuscation`` value: random letters that hide each chunk's true size."""
        return self.token(self.rng.randint(2, 15))

    def response(
        self,
        headers: Mapping[str, str],
        *,
        status: int = 200,
        reason: str = "OK",
        error: str | None = None,
    ) -> RecordedResponse:
        reads = list(self._reads)
        return RecordedResponse(
            status=status,
            reason=reason,
            headers={name: [value] for name, value in headers.items()},
            body=b"".join(read.data for read in reads),
            chunks=reads,
            error=error,
        )


def _post(
    url: str,
    body: _Json,
    headers: Mapping[str, str],
    *,
    style: _JsonStyle = "compact",
    ascii_only: bool = False,
) -> RecordedRequest:
    """A POST as the SDK sends it, ``content-length`` included; headers in name order, as
    recorders list them."""
    data = _dumps(body, style, ascii_only=ascii_only).encode("utf-8")
    named = {**headers, "content-length": str(len(data))}
    ordered = {name: [named[name]] for name in sorted(named)}
    return RecordedRequest(method="POST", uri=url, headers=ordered, body=data)


def _openai_headers(host: str) -> dict[str, str]:
    """What the openai SDK sends (httpx lower-cases the names), key scrubbed."""
    return {
        "accept": "application/json",
        "accept-encoding": "gzip, deflate",
        "authorization": REDACTED,
        "connection": "keep-alive",
        "content-type": "application/json",
        "host": host,
        "user-agent": f"OpenAI/Python {_OPENAI_SDK}",
        "x-stainless-arch": "x64",
        "x-stainless-async": "false",
        "x-stainless-lang": "python",
        "x-stainless-os": "Linux",
        "x-stainless-package-version": _OPENAI_SDK,
        "x-stainless-read-timeout": "600",
        "x-stainless-retry-count": "0",
        "x-stainless-runtime": "CPython",
        "x-stainless-runtime-version": _PYTHON,
    }


def _event_stream_headers(wire: _Wire, *, charset: bool = True) -> dict[str, str]:
    return {
        "content-type": "text/event-stream; charset=utf-8" if charset else "text/event-stream",
        "x-request-id": f"req_{wire.hex(32)}",
    }


def _uuid_text(wire: _Wire) -> str:
    """A uuid-shaped id (DeepSeek's and Groq's chunk ids), from the scenario's generator."""
    return "-".join(wire.hex(length) for length in (8, 4, 4, 4, 12))


def _at(step: int) -> datetime:
    """When step ``step`` of a scripted turn was sent: a few seconds apart."""
    return RECORDED_AT + timedelta(seconds=3 * step)


def _cassette(*interactions: Interaction) -> Cassette:
    return Cassette(
        interactions=list(interactions),
        info=CassetteInfo(recorded_at=RECORDED_AT, recorded_against=SCRIPTED, source="streamreel"),
    )


# --------------------------------------------------------------------------------------------
# Splitting text the way models emit it
# --------------------------------------------------------------------------------------------

_PIECE = re.compile(
    r"\\u[0-9a-fA-F]{4}"  # a JSON unicode escape
    r"|\\."  # any other JSON escape
    r"| ?[^\W\d_]{1,6}"  # a word piece, with the space before it
    r"|\d{1,3}"
    r"|[^\w\s\\]{1,3}"  # punctuation runs such as {" or ":"
    r"|.",
    re.DOTALL,
)


def _pieces(text: str, *, split_escapes: bool = False) -> list[str]:
    """``text`` in token-sized pieces whose concatenation is ``text``.

    With ``split_escapes`` every JSON escape is cut in two (``\\u00`` + ``e9``, and every other
    one after its backslash), which is where a naive parser emits raw backslashes.
    """
    pieces: list[str] = []
    for match in _PIECE.finditer(text):
        piece = match.group()
        if split_escapes and piece.startswith("\\") and len(piece) > 1:
            cut = 4 if piece.startswith("\\u") else 1
            pieces.extend((piece[:cut], piece[cut:]))
        else:
            pieces.append(piece)
    return pieces


def _even(text: str, count: int) -> list[str]:
    """``text`` in ``count`` nearly equal pieces (fewer when the text is shorter)."""
    count = max(1, min(count, len(text)))
    size, extra = divmod(len(text), count)
    out: list[str] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        out.append(text[start:end])
        start = end
    return out


def _token_count(text: str) -> int:
    """A stand-in for a tokenizer: about four characters a token."""
    return max(1, len(text) // 4)


# --------------------------------------------------------------------------------------------
# OpenAI Chat Completions (and compatible servers)
# --------------------------------------------------------------------------------------------


class _ChatChunks:
    """``chat.completion.chunk`` events of one completion, as a given server writes them.

    The keys and their order follow the server: OpenAI writes ``service_tier``,
    ``system_fingerprint``, ``usage: null`` on every chunk when usage was requested, and an
    ``obfuscation`` pad; DeepSeek has no tier or pad; Groq adds ``x_groq`` to the first chunk.
    """

    def __init__(
        self,
        wire: _Wire,
        *,
        model: str,
        created: int,
        chunk_id: str | None = None,
        fingerprint: str | None = None,
        service_tier: str | None = "default",
        usage_nulls: bool = False,
        obfuscation: bool = True,
    ) -> None:
        self.wire = wire
        self.id = chunk_id or f"chatcmpl-{wire.token(29)}"
        self.model = model
        self.created = created
        self.fingerprint = fingerprint
        self.service_tier = service_tier
        self.usage_nulls = usage_nulls
        self.obfuscation = obfuscation

    def payload(
        self,
        choices: list[_Json],
        *,
        usage: _Json | None = None,
        extra: _Json | None = None,
    ) -> _Json:
        chunk: _Json = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }
        if self.service_tier is not None:
            chunk["service_tier"] = self.service_tier
        chunk["system_fingerprint"] = self.fingerprint
        chunk["choices"] = choices
        if usage is not None or self.usage_nulls:
            chunk["usage"] = usage
        if extra:
            chunk.update(extra)
        if self.obfuscation:
            chunk["obfuscation"] = self.wire.padding()
        return chunk

    def delta(
        self, delta: _Json, *, finish: str | None = None, usage: _Json | None = None
    ) -> _Json:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self.payload([choice], usage=usage)

    def usage(self, usage: _Json) -> _Json:
        """The ``include_usage`` chunk: no choices, the totals."""
        return self.payload([], usage=usage)


def _openai_usage(prompt: int, completion: int) -> _Json:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tool_head(index: int, call_id: str, name: str) -> _Json:
    return {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }


def _tool_piece(index: int, arguments: str) -> _Json:
    return {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}


def _function_tool(name: str, description: str, properties: _Json, required: list[str]) -> _Json:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


_SEND_MESSAGE_TOOL = _function_tool(
    "send_message",
    "Say something to the user; the only way the user sees what you write.",
    {
        "inner_thoughts": {
            "type": "string",
            "description": "Your private reasoning before the message; the user never sees it.",
        },
        "message": {"type": "string", "description": "What the user reads. Any Unicode works."},
    },
    ["inner_thoughts", "message"],
)

_SOL_SYSTEM = (
    "You are Sol, the assistant of a small neighbourhood café. Think privately in "
    "inner_thoughts, and reach the user only through send_message."
)


def _send_message_step(
    seed: str,
    *,
    messages: list[_Json],
    arguments: Sequence[str],
    created: int,
    step: int,
    model: str = "gpt-4.1",
    served_model: str = "gpt-4.1-2025-04-14",
    cut: int | None = None,
) -> Interaction:
    """One OpenAI step that calls ``send_message``; ``arguments`` are the streamed pieces.

    ``cut`` stops after that many argument pieces and drops the connection, as a proxy timeout
    or a crashed worker does: no ``finish_reason``, no usage, no ``[DONE]``.
    """
    body: _Json = {
        "messages": messages,
        "model": model,
        "parallel_tool_calls": False,
        "stream": True,
        "stream_options": {"include_usage": True},
        "tool_choice": "required",
        "tools": [_SEND_MESSAGE_TOOL],
    }
    request = _post(
        "https://api.openai.com/v1/chat/completions", body, _openai_headers("api.openai.com")
    )
    wire = _Wire(seed)
    chat = _ChatChunks(
        wire, model=served_model, created=created, fingerprint="fp_51e1070cf2", usage_nulls=True
    )
    call_id = f"call_{wire.token(24)}"
    head = {
        "role": "assistant",
        "content": None,
        "tool_calls": [_tool_head(0, call_id, "send_message")],
        "refusal": None,
    }
    wire.send(_sse(_dumps(chat.delta(head))))
    sent = arguments if cut is None else arguments[:cut]
    for piece in sent:
        wire.send(_sse(_dumps(chat.delta(_tool_piece(0, piece)))))
    error = None
    if cut is None:
        wire.send(_sse(_dumps(chat.delta({}, finish="tool_calls"))))
        usage = _openai_usage(_token_count(request.body.decode()), len(arguments) + 1)
        # The usage chunk and the terminator are written together and arrive in one read.
        wire.send(_sse(_dumps(chat.usage(usage))), _DONE)
    else:
        error = (
            "RemoteProtocolError: peer closed connection without sending complete message"
            " body (incomplete chunked read)"
        )
    response = wire.response(_event_stream_headers(wire), error=error)
    return Interaction(request, response, recorded_at=_at(step))


def _letta_tool_return(moment: datetime) -> str:
    """What a Letta agent sends back after ``send_message``: a status record, as JSON text."""
    when = moment.strftime("%Y-%m-%d %I:%M:%S %p UTC+0000")
    return _dumps({"status": "OK", "message": "None", "time": when}, "spaced")


def _assistant_call(call_id: str, arguments: str) -> _Json:
    return {
        "role": "assistant",
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": "send_message", "arguments": arguments},
            }
        ],
    }


def _call_id_of(interaction: Interaction) -> str:
    """The tool-call id a scripted OpenAI step streamed (its first chunk carries it)."""
    first = interaction.response.body_chunks()[0].data.decode("utf-8")
    payload = json.loads(first.removeprefix("data: "))
    return str(payload["choices"][0]["delta"]["tool_calls"][0]["id"])


def _deepseek_step(
    seed: str,
    *,
    question: str,
    reasoning: Sequence[str],
    content: Sequence[str],
    step: int = 0,
) -> Interaction:
    body: _Json = {
        "messages": [{"role": "user", "content": question}],
        "model": "deepseek-reasoner",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = _openai_headers("api.deepseek.com")
    request = _post("https://api.deepseek.com/chat/completions", body, headers)
    wire = _Wire(seed)
    chat = _ChatChunks(
        wire,
        model="deepseek-reasoner",
        created=1748779440,
        chunk_id=_uuid_text(wire),
        fingerprint="fp_8802369eaa_prod0425fp8",
        service_tier=None,
        usage_nulls=True,
        obfuscation=False,
    )
    # Under load DeepSeek holds the connection open with SSE comments before the first token.
    wire.send(": keep-alive\n\n")
    wire.send(
        _sse(_dumps(chat.delta({"role": "assistant", "content": None, "reasoning_content": ""}))),
        pause_ms=240.0,
    )
    for piece in reasoning:
        wire.send(_sse(_dumps(chat.delta({"content": None, "reasoning_content": piece}))))
    for piece in content:
        wire.send(_sse(_dumps(chat.delta({"content": piece, "reasoning_content": None}))))
    thought = _token_count("".join(reasoning))
    completion = thought + _token_count("".join(content))
    usage = {
        "prompt_tokens": _token_count(question),
        "completion_tokens": completion,
        "total_tokens": _token_count(question) + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": thought},
        "prompt_cache_hit_tokens": 0,
        "prompt_cache_miss_tokens": _token_count(question),
    }
    # DeepSeek puts the usage on the finishing chunk rather than on a chunk of its own.
    last = chat.delta({"content": "", "reasoning_content": None}, finish="stop", usage=usage)
    wire.send(_sse(_dumps(last)), _DONE)
    response = wire.response(_event_stream_headers(wire))
    return Interaction(request, response, recorded_at=_at(step))


# --------------------------------------------------------------------------------------------
# OpenAI Responses
# --------------------------------------------------------------------------------------------


class _ResponseEvents:
    """Named Responses events, each ``data`` repeating its ``type`` and numbered in order."""

    def __init__(self) -> None:
        self.sequence = 0

    def event(self, kind: str, payload: _Json) -> str:
        data = {"type": kind, **payload, "sequence_number": self.sequence}
        self.sequence += 1
        return _sse(_dumps(data), event=kind)


def _responses_object(
    response_id: str,
    *,
    created: int,
    model: str,
    tools: list[_Json],
    status: str,
    output: list[_Json],
    usage: _Json | None,
) -> _Json:
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "auto" if usage is None else "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": tools,
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


_CONVERT_PARAMETERS: _Json = {
    "type": "object",
    "properties": {
        "value": {"type": "number"},
        "from_unit": {"type": "string", "enum": ["C", "F"]},
        "to_unit": {"type": "string", "enum": ["C", "F"]},
    },
    "required": ["value", "from_unit", "to_unit"],
    "additionalProperties": False,
}


def _responses_step(seed: str, *, prompt: str, arguments: Sequence[str], step: int) -> Interaction:
    tool = {
        "type": "function",
        "name": "convert_temperature",
        "description": "Convert a temperature between Celsius and Fahrenheit.",
        "parameters": _CONVERT_PARAMETERS,
        "strict": True,
    }
    body: _Json = {
        "input": [{"role": "user", "content": prompt}],
        "model": "gpt-4.1",
        "stream": True,
        "tools": [tool],
    }
    request = _post("https://api.openai.com/v1/responses", body, _openai_headers("api.openai.com"))
    wire = _Wire(seed)
    events = _ResponseEvents()
    response_id = f"resp_{wire.hex(50)}"
    item_id = f"fc_{wire.hex(50)}"
    call_id = f"call_{wire.token(24)}"
    served = "gpt-4.1-2025-04-14"
    created = 1748779560

    def snapshot(status: str, output: list[_Json], usage: _Json | None) -> _Json:
        return _responses_object(
            response_id,
            created=created,
            model=served,
            tools=[tool],
            status=status,
            output=output,
            usage=usage,
        )

    wire.send(events.event("response.created", {"response": snapshot("in_progress", [], None)}))
    wire.send(events.event("response.in_progress", {"response": snapshot("in_progress", [], None)}))
    item: _Json = {
        "id": item_id,
        "type": "function_call",
        "status": "in_progress",
        "arguments": "",
        "call_id": call_id,
        "name": "convert_temperature",
    }
    wire.send(events.event("response.output_item.added", {"item": item, "output_index": 0}))
    for piece in arguments:
        delta = {
            "delta": piece,
            "item_id": item_id,
            "obfuscation": wire.padding(),
            "output_index": 0,
        }
        wire.send(events.event("response.function_call_arguments.delta", delta))
    whole = "".join(arguments)
    done_item = {**item, "status": "completed", "arguments": whole}
    usage = {
        "input_tokens": _token_count(request.body.decode()),
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": len(arguments) + 4,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": _token_count(request.body.decode()) + len(arguments) + 4,
    }
    # The closing events are written at once and arrive in a single read.
    wire.send(
        events.event(
            "response.function_call_arguments.done",
            {"arguments": whole, "item_id": item_id, "output_index": 0},
        ),
        events.event("response.output_item.done", {"item": done_item, "output_index": 0}),
        events.event("response.completed", {"response": snapshot("completed", [done_item], usage)}),
    )
    response = wire.response(_event_stream_headers(wire))
    return Interaction(request, response, recorded_at=_at(step))


# --------------------------------------------------------------------------------------------
# Anthropic Messages
# --------------------------------------------------------------------------------------------


class _AnthropicEvents:
    """Anthropic's named events; many ``data`` objects carry blank padding before their end."""

    def __init__(self, wire: _Wire) -> None:
        self.wire = wire

    def event(self, kind: str, payload: _Json, *, pad: bool = True) -> str:
        data = _dumps({"type": kind, **payload})
        if pad and self.wire.rng.random() < 0.6:
            data = data[:-1] + " " * self.wire.rng.randint(1, 16) + "}"
        return _sse(data, event=kind)

    @staticmethod
    def ping() -> str:
        return _sse('{"type": "ping"}', event="ping")


def _anthropic_request(body: _Json) -> RecordedRequest:
    headers = {
        "accept": "application/json",
        "accept-encoding": "gzip, deflate",
        "anthropic-version": "2023-06-01",
        "connection": "keep-alive",
        "content-type": "application/json",
        "host": "api.anthropic.com",
        "user-agent": f"Anthropic/Python {_ANTHROPIC_SDK}",
        "x-api-key": REDACTED,
        "x-stainless-arch": "x64",
        "x-stainless-async": "false",
        "x-stainless-helper-method": "stream",
        "x-stainless-lang": "python",
        "x-stainless-os": "Linux",
        "x-stainless-package-version": _ANTHROPIC_SDK,
        "x-stainless-read-timeout": "600",
        "x-stainless-retry-count": "0",
        "x-stainless-runtime": "CPython",
        "x-stainless-runtime-version": _PYTHON,
        "x-stainless-stream-helper": "messages",
    }
    return _post("https://api.anthropic.com/v1/messages", body, headers)


def _anthropic_headers(wire: _Wire) -> dict[str, str]:
    return {
        "cache-control": "no-cache",
        "content-type": "text/event-stream; charset=utf-8",
        "request-id": f"req_011C{wire.token(20)}",
    }


def _message_start(wire: _Wire, model: str, input_tokens: int) -> _Json:
    return {
        "message": {
            "model": model,
            "id": f"msg_01{wire.token(22)}",
            "type": "message",
            "role": "assistant",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": 1,
                "service_tier": "standard",
            },
        }
    }


_CALENDAR_TOOL: _Json = {
    "name": "search_calendar",
    "description": "List the events on one day, optionally only those before a time.",
    "input_schema": {
        "type": "object",
        "properties": {
            "date": {"type": "string", "description": "YYYY-MM-DD"},
            "before": {"type": "string", "description": "HH:MM, 24-hour clock"},
        },
        "required": ["date"],
    },
}


def _anthropic_thinking_step(
    seed: str,
    *,
    thinking: Sequence[str],
    text: Sequence[str],
    tool_input: Sequence[str],
    step: int = 0,
) -> Interaction:
    model = "claude-sonnet-4-20250514"
    body: _Json = {
        "max_tokens": 4096,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "What's on my calendar tomorrow morning?"}],
            }
        ],
        "model": model,
        "system": "Today is Sunday 2025-06-01. Times are local.",
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "tools": [_CALENDAR_TOOL],
        "stream": True,
    }
    request = _anthropic_request(body)
    wire = _Wire(seed)
    events = _AnthropicEvents(wire)
    start = _message_start(wire, model, _token_count(request.body.decode()))
    wire.send(events.event("message_start", start))
    block: _Json = {"type": "thinking", "thinking": "", "signature": ""}
    wire.send(events.event("content_block_start", {"index": 0, "content_block": block}))
    wire.send(events.ping())
    for piece in thinking:
        delta = {"type": "thinking_delta", "thinking": piece}
        wire.send(events.event("content_block_delta", {"index": 0, "delta": delta}))
    signature = wire.token(300, _ALPHABET + "+/") + "=="
    wire.send(
        events.event(
            "content_block_delta",
            {"index": 0, "delta": {"type": "signature_delta", "signature": signature}},
        )
    )
    wire.send(events.event("content_block_stop", {"index": 0}))
    wire.send(
        events.event(
            "content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}
        )
    )
    for piece in text:
        delta = {"type": "text_delta", "text": piece}
        wire.send(events.event("content_block_delta", {"index": 1, "delta": delta}))
    wire.send(events.event("content_block_stop", {"index": 1}))
    tool_block = {
        "type": "tool_use",
        "id": f"toolu_01{wire.token(22)}",
        "name": "search_calendar",
        "input": {},
    }
    wire.send(events.event("content_block_start", {"index": 2, "content_block": tool_block}))
    # The input starts with an empty piece, as Anthropic sends it.
    for piece in ["", *tool_input]:
        delta = {"type": "input_json_delta", "partial_json": piece}
        wire.send(events.event("content_block_delta", {"index": 2, "delta": delta}))
    wire.send(events.event("content_block_stop", {"index": 2}))
    output = len(thinking) + len(text) + len(tool_input) + 12
    wire.send(
        events.event(
            "message_delta",
            {
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": output},
            },
        )
    )
    wire.send(events.event("message_stop", {}))
    response = wire.response(_anthropic_headers(wire))
    return Interaction(request, response, recorded_at=_at(step))


# --------------------------------------------------------------------------------------------
# Gemini and Ollama
# --------------------------------------------------------------------------------------------


def _gemini_event(
    parts: list[_Json],
    *,
    response_id: str,
    usage: _Json,
    finish: str | None = None,
) -> str:
    """One ``alt=sse`` event: a whole ``GenerateContentResponse`` ending in CRLF CRLF.

    Google writes ``": "`` after keys but a bare ``","`` between items, and raw UTF-8.
    """
    candidate: _Json = {"content": {"parts": parts, "role": "model"}}
    if finish is not None:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    payload = {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": "gemini-2.5-flash",
        "responseId": response_id,
    }
    return _sse(json.dumps(payload, separators=(",", ": "), ensure_ascii=False), eol="\r\n")


def _gemini_usage(prompt: int, candidates: int, thoughts: int) -> _Json:
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        "thoughtsTokenCount": thoughts,
    }


def _gemini_step(
    seed: str,
    *,
    thoughts: Sequence[str],
    texts: Sequence[str],
    call: _Json | None,
    step: int = 0,
) -> Interaction:
    body: _Json = {
        "contents": [
            {
                "parts": [{"text": "Book a table for two at Trattoria Sole, tomorrow 19:30."}],
                "role": "user",
            }
        ],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "description": "Book a restaurant table.",
                        "name": "book_table",
                        "parameters": {
                            "properties": {
                                "restaurant": {"type": "STRING"},
                                "party_size": {"type": "INTEGER"},
                                "time": {"type": "STRING", "description": "ISO 8601 local"},
                            },
                            "required": ["restaurant", "party_size", "time"],
                            "type": "OBJECT",
                        },
                    }
                ]
            }
        ],
        "generationConfig": {"thinkingConfig": {"includeThoughts": True}},
    }
    headers = {
        "accept": "*/*",
        "accept-encoding": "gzip, deflate",
        "connection": "keep-alive",
        "content-type": "application/json",
        "host": "generativelanguage.googleapis.com",
        "user-agent": f"google-genai-sdk/{_GENAI_SDK} gl-python/{_PYTHON}",
        "x-goog-api-client": f"google-genai-sdk/{_GENAI_SDK} gl-python/{_PYTHON}",
        "x-goog-api-key": REDACTED,
    }
    url = (
        "https://generativelanguage.googleapis.com/v1beta/models/"
        "gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    # google-genai serialises the body itself, with json.dumps's default separators.
    request = _post(url, body, headers, style="spaced", ascii_only=True)
    wire = _Wire(seed, first_ms=(700.0, 1100.0), gap_ms=(40.0, 160.0))
    response_id = wire.token(23)
    prompt = _token_count(request.body.decode())
    spent = 0
    for piece in thoughts:
        spent += _token_count(piece)
        event = _gemini_event(
            [{"text": piece, "thought": True}],
            response_id=response_id,
            usage=_gemini_usage(prompt, 0, spent),
        )
        wire.send(event)
    written = 0
    for number, piece in enumerate(texts):
        written += _token_count(piece)
        last = call is None and number == len(texts) - 1
        event = _gemini_event(
            [{"text": piece}],
            response_id=response_id,
            usage=_gemini_usage(prompt, written, spent),
            finish="STOP" if last else None,
        )
        wire.send(event)
    if call is not None:
        # The call arrives whole, with the signature of the thinking that led to it.
        # An opaque signature, but base64 as Gemini's always is: google-genai decodes it.
        signature = base64.b64encode(wire.rng.randbytes(90)).decode()
        part = {"functionCall": call, "thoughtSignature": signature}
        event = _gemini_event(
            [part],
            response_id=response_id,
            usage=_gemini_usage(prompt, written + 18, spent),
            finish="STOP",
        )
        wire.send(event)
    headers_out = {
        "content-type": "text/event-stream",
        "content-disposition": "attachment",
        "vary": "Origin, X-Origin, Referer",
        "server": "scaffolding on HTTPServer2",
    }
    response = wire.response(headers_out)
    return Interaction(request, response, recorded_at=_at(step))


# --------------------------------------------------------------------------------------------
# Amazon Bedrock (AWS event stream)
# --------------------------------------------------------------------------------------------

_BOTO = "1.40.41"
_BOTOCORE = "1.40.41"
_BEDROCK_HOST = "bedrock-runtime.us-east-1.amazonaws.com"
_CLAUDE_ON_BEDROCK = "anthropic.claude-3-5-sonnet-20240620-v1:0"
# Bedrock pads every event with "p": a prefix of this alphabet, so sizes do not leak content.
_BEDROCK_PADDING = string.ascii_lowercase + string.ascii_uppercase + string.digits


def _bedrock_request(operation: str, body: _Json) -> RecordedRequest:
    """A POST as botocore sends it: Title-Case names, SigV4 headers (signature scrubbed)."""
    model = _CLAUDE_ON_BEDROCK.replace(":", "%3A")
    headers = {
        "Accept": "application/json",
        "Authorization": REDACTED,
        "Content-Type": "application/json",
        "User-Agent": (
            f"Boto3/{_BOTO} md/Botocore#{_BOTOCORE} ua/2.1 os/linux lang/python#{_PYTHON}"
            f" cfg/retry-mode#legacy Botocore/{_BOTOCORE}"
        ),
        "X-Amz-Date": "20250601T120000Z",
        "amz-sdk-invocation-id": "00000000-0000-4000-8000-000000000000",
        "amz-sdk-request": "attempt=1",
    }
    url = f"https://{_BEDROCK_HOST}/model/{model}/{operation}"
    return _post(url, body, headers, style="spaced")


def _bedrock_event(wire: _Wire, kind: str, payload: _Json) -> bytes:
    padded = {**payload, "p": _BEDROCK_PADDING[: wire.rng.randint(1, len(_BEDROCK_PADDING))]}
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, _dumps(padded).encode("utf-8"))


def _bedrock_headers(wire: _Wire) -> dict[str, str]:
    return {
        "Connection": "keep-alive",
        "Content-Type": "application/vnd.amazon.eventstream",
        "Date": "Sun, 01 Jun 2025 12:00:00 GMT",
        "Transfer-Encoding": "chunked",
        "x-amzn-RequestId": _uuid_text(wire),
        "X-Amzn-Bedrock-Content-Type": "application/json",
    }


def _bedrock_invoke_step(
    seed: str, *, prompt: str, text: Sequence[str], step: int = 0
) -> Interaction:
    """InvokeModelWithResponseStream for Claude: each Anthropic event base64 in a ``chunk``."""
    body: _Json = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 512,
        "messages": [{"role": "user", "content": prompt}],
    }
    request = _bedrock_request("invoke-with-response-stream", body)
    wire = _Wire(seed)
    prompt_tokens = _token_count(prompt)

    def chunk(event: _Json) -> bytes:
        encoded = base64.b64encode(_dumps(event).encode("utf-8")).decode("ascii")
        return _bedrock_event(wire, "chunk", {"bytes": encoded})

    message_id = f"msg_bdrk_01{wire.token(22)}"
    start = {
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-sonnet-20240620",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": 1},
        },
    }
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    wire.send_bytes(chunk(start) + chunk(block))
    for piece in text:
        delta = {"type": "text_delta", "text": piece}
        wire.send_bytes(chunk({"type": "content_block_delta", "index": 0, "delta": delta}))
    output_tokens = _token_count("".join(text))
    end: list[_Json] = [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
        {
            "type": "message_stop",
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": prompt_tokens,
                "outputTokenCount": output_tokens,
                "invocationLatency": round(wire.elapsed_ms) + 40,
                "firstByteLatency": 412,
            },
        },
    ]
    wire.send_bytes(b"".join(chunk(event) for event in end))
    return Interaction(request, wire.response(_bedrock_headers(wire)), recorded_at=_at(step))


def _bedrock_converse_step(
    seed: str, *, prompt: str, text: Sequence[str], call: _Json, arguments: Sequence[str]
) -> Interaction:
    """ConverseStream: Bedrock's own events, a text block then a ``toolUse`` block."""
    tool = {
        "toolSpec": {
            "name": call["name"],
            "description": "Look a word up in the shop's glossary.",
            "inputSchema": {
                "json": {
                    "type": "object",
                    "properties": {"term": {"type": "string"}},
                    "required": ["term"],
                }
            },
        }
    }
    body: _Json = {
        "messages": [{"role": "user", "content": [{"text": prompt}]}],
        "toolConfig": {"tools": [tool]},
    }
    request = _bedrock_request("converse-stream", body)
    wire = _Wire(seed)
    event = functools.partial(_bedrock_event, wire)
    wire.send_bytes(event("messageStart", {"role": "assistant"}))
    for piece in text:
        wire.send_bytes(
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}})
        )
    wire.send_bytes(event("contentBlockStop", {"contentBlockIndex": 0}))
    start = {"toolUse": {"toolUseId": call["id"], "name": call["name"]}}
    wire.send_bytes(event("contentBlockStart", {"contentBlockIndex": 1, "start": start}))
    for piece in arguments:
        delta = {"toolUse": {"input": piece}}
        wire.send_bytes(event("contentBlockDelta", {"contentBlockIndex": 1, "delta": delta}))
    wire.send_bytes(event("contentBlockStop", {"contentBlockIndex": 1}))
    prompt_tokens = _token_count(prompt)
    output_tokens = _token_count("".join(text)) + _token_count("".join(arguments))
    usage = {
        "inputTokens": prompt_tokens,
        "outputTokens": output_tokens,
        "totalTokens": prompt_tokens + output_tokens,
    }
    metrics = {"latencyMs": round(wire.elapsed_ms) + 35}
    wire.send_bytes(
        event("messageStop", {"stopReason": "tool_use"})
        + event("metadata", {"usage": usage, "metrics": metrics})
    )
    return Interaction(request, wire.response(_bedrock_headers(wire)), recorded_at=_at(0))


# --------------------------------------------------------------------------------------------
# Cohere v2 chat
# --------------------------------------------------------------------------------------------

_COHERE_SDK = "5.20.1"


def _cohere_step(
    seed: str, *, prompt: str, plan: Sequence[str], call: _Json, arguments: Sequence[str]
) -> Interaction:
    """``/v2/chat``: a tool plan, then one call whose arguments stream pretty-printed."""
    body: _Json = {
        "model": "command-a-03-2025",
        "messages": [{"role": "user", "content": prompt}],
        "tools": [
            _function_tool(
                call["name"],
                "Check how many of an item are in stock.",
                {"item": {"type": "string"}},
                ["item"],
            )
        ],
        "stream": True,
    }
    headers = {
        "accept": "*/*",
        "accept-encoding": "gzip, deflate",
        "authorization": REDACTED,
        "connection": "keep-alive",
        "content-type": "application/json",
        "host": "api.cohere.com",
        "user-agent": f"cohere/{_COHERE_SDK}",
        "x-fern-language": "Python",
        "x-fern-sdk-name": "cohere",
        "x-fern-sdk-version": _COHERE_SDK,
    }
    request = _post("https://api.cohere.com/v2/chat", body, headers, style="spaced")
    wire = _Wire(seed)

    def event(kind: str, **fields: Any) -> str:
        return _sse(_dumps({"type": kind, **fields}), event=kind)

    start_message = {
        "role": "assistant",
        "content": [],
        "tool_plan": "",
        "tool_calls": [],
        "citations": [],
    }
    wire.send(event("message-start", id=_uuid_text(wire), delta={"message": start_message}))
    for piece in plan:
        wire.send(event("tool-plan-delta", delta={"message": {"tool_plan": piece}}))
    head = {
        "id": call["id"],
        "type": "function",
        "function": {"name": call["name"], "arguments": ""},
    }
    wire.send(event("tool-call-start", index=0, delta={"message": {"tool_calls": head}}))
    for piece in arguments:
        fragment = {"function": {"arguments": piece}}
        wire.send(event("tool-call-delta", index=0, delta={"message": {"tool_calls": fragment}}))
    wire.send(event("tool-call-end", index=0))
    counted = _token_count(prompt)
    written = _token_count("".join(plan)) + _token_count("".join(arguments))
    usage = {
        "billed_units": {"input_tokens": counted, "output_tokens": written},
        "tokens": {"input_tokens": counted + 412, "output_tokens": written + 9},
    }
    wire.send(event("message-end", delta={"finish_reason": "TOOL_CALL", "usage": usage}))
    wire.send(_DONE)
    headers_out = {
        "cache-control": "no-cache, no-store, no-transform, must-revalidate, private, max-age=0",
        "content-type": "text/event-stream",
        "x-debug-trace-id": wire.hex(32),
    }
    return Interaction(request, wire.response(headers_out), recorded_at=_at(0))


# --------------------------------------------------------------------------------------------
# Anthropic legacy text completions
# --------------------------------------------------------------------------------------------


def _anthropic_complete_step(seed: str, *, prompt: str, pieces: Sequence[str]) -> Interaction:
    """``/v1/complete``: ``event: completion`` objects, CRLF-framed, padded inside the JSON."""
    body: _Json = {
        "max_tokens_to_sample": 300,
        "model": "claude-2.1",
        "prompt": f"\n\nHuman: {prompt}\n\nAssistant:",
        "stream": True,
    }
    request = _anthropic_request(body)
    request = RecordedRequest(
        method=request.method,
        uri="https://api.anthropic.com/v1/complete",
        headers={
            name: values
            for name, values in request.headers.items()
            if name not in ("x-stainless-helper-method", "x-stainless-stream-helper")
        },
        body=request.body,
    )
    wire = _Wire(seed)
    completion_id = f"compl_01{wire.token(22)}"

    def event(text: str, stop: str | None) -> str:
        payload = {
            "type": "completion",
            "id": completion_id,
            "completion": text,
            "stop_reason": stop,
            "model": "claude-2.1",
            "stop": "\n\nHuman:" if stop == "stop_sequence" else None,
            "log_id": completion_id,
        }
        data = _dumps(payload)[:-1] + " " * wire.rng.randint(0, 12) + "}"
        return _sse(data, event="completion", eol="\r\n")

    for number, piece in enumerate(pieces):
        wire.send(event(piece, None))
        if number == 1:
            wire.send(_sse('{"type": "ping"}', event="ping", eol="\r\n"))
    wire.send(event("", "stop_sequence"))
    headers_out = {"cache-control": "no-cache", "content-type": "text/event-stream"}
    return Interaction(request, wire.response(headers_out), recorded_at=_at(0))


# --------------------------------------------------------------------------------------------
# Gemini Interactions
# --------------------------------------------------------------------------------------------


def _interactions_step(
    seed: str, *, prompt: str, thoughts: Sequence[str], texts: Sequence[str]
) -> Interaction:
    """``/v1beta/interactions``: a thought step (summaries and a signature), then the answer."""
    body: _Json = {
        "input": prompt,
        "model": "gemini-2.5-flash",
        "generation_config": {"thinking_level": "low", "thinking_summaries": "auto"},
        "stream": True,
    }
    headers = {
        "accept": "application/json",
        "accept-encoding": "gzip, deflate",
        "connection": "keep-alive",
        "content-type": "application/json",
        "host": "generativelanguage.googleapis.com",
        "user-agent": f"google-genai-sdk/{_GENAI_SDK} gl-python/{_PYTHON}",
        "x-goog-api-key": REDACTED,
    }
    url = "https://generativelanguage.googleapis.com/v1beta/interactions"
    request = _post(url, body, headers)
    wire = _Wire(seed, first_ms=(700.0, 1100.0), gap_ms=(40.0, 160.0))
    interaction_id = f"v1_{wire.token(60)}"
    prompt_tokens = _token_count(prompt)
    spent = written = 0

    def usage() -> _Json:
        return {
            "total_tokens": prompt_tokens + spent + written,
            "total_input_tokens": prompt_tokens,
            "input_tokens_by_modality": [{"modality": "text", "tokens": prompt_tokens}],
            "total_cached_tokens": 0,
            "total_output_tokens": written,
            "total_tool_use_tokens": 0,
            "total_thought_tokens": spent,
        }

    def event(kind: str, payload: _Json, *, metered: bool = False) -> str:
        data = {**payload, "event_type": kind}
        if metered:
            data["metadata"] = {"usage": usage()}
        return _sse(_dumps(data), event=kind)

    head = {"id": interaction_id, "status": "in_progress", "object": "interaction"}
    head["model"] = "gemini-2.5-flash"
    status = {"interaction_id": interaction_id, "status": "in_progress"}
    wire.send(
        event("interaction.created", {"interaction": head}, metered=True),
        event("interaction.status_update", status),
        event("step.start", {"index": 0, "step": {"type": "thought"}}),
    )
    for piece in thoughts:
        spent += _token_count(piece)
        delta = {"content": {"text": piece, "type": "text"}, "type": "thought_summary"}
        wire.send(event("step.delta", {"index": 0, "delta": delta}, metered=True))
        wire.send(
            event(
                "step.delta", {"index": 0, "delta": {"signature": "", "type": "thought_signature"}}
            )
        )
    signature = {"signature": wire.token(96, _ALPHABET + "+/") + "==", "type": "thought_signature"}
    wire.send(
        event("step.delta", {"index": 0, "delta": signature}, metered=True),
        event("step.stop", {"index": 0}),
        event("step.start", {"index": 1, "step": {"type": "model_output"}}),
    )
    for piece in texts:
        written += _token_count(piece)
        delta = {"text": piece, "type": "text"}
        wire.send(event("step.delta", {"index": 1, "delta": delta}, metered=True))
    done = {
        "id": interaction_id,
        "status": "completed",
        "usage": usage(),
        "created": "2025-06-01T12:00:00Z",
        "updated": "2025-06-01T12:00:02Z",
        "service_tier": "standard",
        "object": "interaction",
        "model": "gemini-2.5-flash",
    }
    wire.send(
        event("step.stop", {"index": 1}),
        event("interaction.completed", {"interaction": done}),
        _sse("[DONE]", event="done"),
    )
    headers_out = {"content-type": "text/event-stream", "server": "scaffolding on HTTPServer2"}
    return Interaction(request, wire.response(headers_out), recorded_at=_at(0))


# --------------------------------------------------------------------------------------------
# OpenAI Assistants runs
# --------------------------------------------------------------------------------------------


def _assistants_step(
    seed: str, *, call: _Json, arguments: Sequence[str], step: int = 0
) -> Interaction:
    """``/v1/threads/{id}/runs``: the run's status events, a step whose function call streams,
    and ``thread.run.requires_action``: the run waits for the client's tool output."""
    wire = _Wire(seed)
    thread_id = f"thread_{wire.token(24)}"
    assistant_id = f"asst_{wire.token(24)}"
    run_id = f"run_{wire.token(24)}"
    step_id = f"step_{wire.token(24)}"
    body: _Json = {"assistant_id": assistant_id, "stream": True}
    headers = {**_openai_headers("api.openai.com"), "openai-beta": "assistants=v2"}
    request = _post(f"https://api.openai.com/v1/threads/{thread_id}/runs", body, headers)
    created = 1748779800

    def run(status: str, **extra: Any) -> _Json:
        return {
            "id": run_id,
            "object": "thread.run",
            "created_at": created,
            "assistant_id": assistant_id,
            "thread_id": thread_id,
            "status": status,
            "model": "gpt-4o-mini",
            "tools": [{"type": "function", "function": call["function"]}],
            "usage": None,
            **extra,
        }

    def event(kind: str, payload: _Json) -> str:
        return _sse(_dumps(payload), event=kind)

    wire.send(
        event("thread.run.created", run("queued")),
        event("thread.run.queued", run("queued")),
        event("thread.run.in_progress", run("in_progress", started_at=created)),
    )
    step_object = {
        "id": step_id,
        "object": "thread.run.step",
        "created_at": created + 1,
        "run_id": run_id,
        "type": "tool_calls",
        "status": "in_progress",
        "step_details": {"type": "tool_calls", "tool_calls": []},
    }
    wire.send(
        event("thread.run.step.created", step_object),
        event("thread.run.step.in_progress", step_object),
    )
    first = {
        "index": 0,
        "id": call["id"],
        "type": "function",
        "function": {"name": call["function"]["name"], "arguments": "", "output": None},
    }
    pieces = [first] + [
        {"index": 0, "type": "function", "function": {"arguments": piece}} for piece in arguments
    ]
    for piece in pieces:
        delta = {"step_details": {"type": "tool_calls", "tool_calls": [piece]}}
        wire.send(
            event(
                "thread.run.step.delta",
                {"id": step_id, "object": "thread.run.step.delta", "delta": delta},
            )
        )
    whole = {
        "id": call["id"],
        "type": "function",
        "function": {"name": call["function"]["name"], "arguments": "".join(arguments)},
    }
    action = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [whole]}}
    wire.send(
        event("thread.run.requires_action", run("requires_action", required_action=action)),
        _sse("[DONE]", event="done"),
    )
    response = wire.response(_event_stream_headers(wire))
    return Interaction(request, response, recorded_at=_at(step))


def _ollama_time(moment: datetime) -> str:
    """Ollama's ``created_at``: RFC 3339 in UTC, fractional seconds without trailing zeros."""
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _ollama_step(seed: str, *, prompt: str, pieces: Sequence[str], step: int = 0) -> Interaction:
    model = "llama3.2"
    body: _Json = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "format": "",
        "options": {},
        "keep_alive": None,
    }
    headers = {
        "accept": "application/json",
        "accept-encoding": "gzip, deflate",
        "connection": "keep-alive",
        "content-type": "application/json",
        "host": "127.0.0.1:11434",
        "user-agent": f"ollama-python/0.2.1 (x86_64 linux) Python/{_PYTHON}",
    }
    request = _post("http://127.0.0.1:11434/api/chat", body, headers, style="spaced")
    wire = _Wire(seed, first_ms=(150.0, 300.0), gap_ms=(28.0, 36.0))
    sent_at = _at(step)

    def line(payload: _Json) -> Callable[[float], str]:
        def build(offset: float) -> str:
            stamp = sent_at + timedelta(milliseconds=offset)
            return _dumps({"model": model, "created_at": _ollama_time(stamp), **payload}) + "\n"

        return build

    for piece in pieces:
        message = {"role": "assistant", "content": piece}
        wire.send_stamped(line({"message": message, "done": False}))
    generating_ns = int((wire.elapsed_ms + 30.0) * 1_000_000)
    final = {
        "message": {"role": "assistant", "content": ""},
        "done_reason": "stop",
        "done": True,
        "total_duration": generating_ns + 104_518_250,
        "load_duration": 11_042_917,
        "prompt_eval_count": _token_count(prompt) + 26,
        "prompt_eval_duration": 86_311_000,
        "eval_count": len(pieces),
        "eval_duration": generating_ns - 97_000_000,
    }
    wire.send_stamped(line(final))
    response = wire.response({"content-type": "application/x-ndjson"})
    return Interaction(request, response, recorded_at=_at(step))


_FILLER = (
    "the",
    "oven",
    "café",
    '"quoted"',
    "line\nbreak",
    "naïve",
    "7 × 13",
    "☕",
    "back\\slash",
    "sourdough",
    "crème",
    "ok",
)


def _filler(characters: int, offset: int = 0) -> str:
    """Deterministic text of about ``characters`` characters, rich in what costs parsers most:
    escapes, non-ASCII and characters outside the Basic Multilingual Plane's ASCII range."""
    words: list[str] = []
    total = 0
    index = offset
    while total < characters:
        word = _FILLER[index % len(_FILLER)]
        words.append(word)
        total += len(word) + 1
        index += 1
    return " ".join(words)


_BenchStep = Callable[[int, int], Interaction]


def _bench_openai(share: int, step: int) -> Interaction:
    arguments = _dumps(
        {"inner_thoughts": _filler(share * 2), "message": _filler(share * 4, 5)},
        ascii_only=step % 2 == 0,
    )
    return _send_message_step(
        f"bench#{step}",
        messages=[{"role": "user", "content": "Tell me everything."}],
        arguments=_even(arguments, share),
        created=1748779200 + step,
        step=step,
    )


def _bench_anthropic(share: int, step: int) -> Interaction:
    return _anthropic_thinking_step(
        f"bench#{step}",
        thinking=_even(_filler(share * 6), max(1, share // 2)),
        text=_even(_filler(share * 3, 3), max(1, share // 4)),
        tool_input=_even(_dumps({"date": "2025-06-02", "before": _filler(share * 3)}), share // 4),
        step=step,
    )


def _bench_responses(share: int, step: int) -> Interaction:
    arguments = _dumps({"value": 450, "from_unit": "F", "to_unit": "C", "note": _filler(share * 6)})
    return _responses_step(
        f"bench#{step}", prompt="Convert it.", arguments=_even(arguments, share), step=step
    )


def _bench_gemini(share: int, step: int) -> Interaction:
    half = max(1, share // 2)
    return _gemini_step(
        f"bench#{step}",
        thoughts=_even(_filler(half * 6), half),
        texts=_even(_filler(half * 6, 7), half),
        call=None,
        step=step,
    )


def _bench_ollama(share: int, step: int) -> Interaction:
    return _ollama_step(
        f"bench#{step}", prompt="Go on.", pieces=_even(_filler(share * 6), share), step=step
    )


def _bench_deepseek(share: int, step: int) -> Interaction:
    half = max(1, share // 2)
    return _deepseek_step(
        f"bench#{step}",
        question="Think it through.",
        reasoning=_even(_filler(half * 6), half),
        content=_even(_filler(half * 6, 2), half),
        step=step,
    )


_BENCH_STEPS: tuple[_BenchStep, ...] = (
    _bench_openai,
    _bench_anthropic,
    _bench_responses,
    _bench_gemini,
    _bench_ollama,
    _bench_deepseek,
)


def scaled_cassette(chunks: int, *, interactions: int = 12) -> Cassette:
    """One large cassette of about ``chunks`` body chunks, for ``streamreel bench``.

    The interactions cycle through the provider formats (OpenAI chat, Anthropic, Responses,
    Gemini, Ollama, DeepSeek) and their number is fixed (fewer only when ``chunks`` is tiny), so
    doubling ``chunks`` doubles every stream: a reader that is quadratic in a stream's length
    shows up as a doubling ratio near 4 instead of hiding behind more, equally short,
    interactions.
    """
    if chunks < 1:
        raise ConfigurationError(
            f"cannot build the benchmark cassette: expected at least 1 chunk, got {chunks};"
            " ask for more chunks"
        )
    count = max(1, min(interactions, chunks))
    share = chunks // count
    steps = [_BENCH_STEPS[step % len(_BENCH_STEPS)](share, step) for step in range(count)]
    return _cassette(*steps)
