"""The bundled cassettes in ``cassettes/``: one synthetic stream per provider quirk.

Why scripted, and why these rules
---------------------------------
Real recordings are the best test input, but they cannot be committed freely (licences,
organisation ids, prompts nobody chose), they cannot be re-recorded on demand, and some quirks
are missing from every public recording: an Anthropic ``overloaded_error``, a connection cut
mid-stream. A scripted cassette fills that gap. It is written by code, so it can be
regenerated, diffed and reasoned about, and it is written the way the provider writes, so what
replays from it is what a real stream would give:

* **The wire format is the provider's, the content is ours.** Key order, separators, ``null``
  fields, SSE event names, CRLF (Gemini), whitespace padding inside JSON (Anthropic), ``usage:
  null`` on every chunk and the trailing usage chunk (``include_usage``), OpenAI's random
  ``obfuscation`` padding and DeepSeek's ``: keep-alive`` comments are all reproduced, because
  those are what parsers trip over. The prompts, answers and ids are invented.
* **One cassette per quirk, named after it**, so a failing test names what broke.
* **Deterministic.** Arrival offsets, ids and padding come from a :class:`random.Random` seeded
  with the scenario's name: the first read arrives a few hundred milliseconds after the request,
  later reads tens of milliseconds apart, and every build is byte-identical. That is what lets
  ``tests/test_scripted.py`` compare the committed files with what this module builds.
* **Requests as the official SDKs send them**: method, URL, the JSON body with the keys in the
  SDK's order and its separators, and the SDK's headers, except that every credential header
  holds :data:`streamreel.cassettes.scrubbing.REDACTED`, exactly what the scrubber writes over a
  real key.
* **Labelled synthetic**: ``metadata.streamreel.recorded_against`` is :data:`SCRIPTED` in every
  file, and ``cassettes/README.md`` says so.

The committed cassettes are rewritten with ``python devtools/scripted.py cassettes/``.
:func:`scaled_cassette` builds one large cassette from the same writers, for the benchmark.
"""

from __future__ import annotations

import json
import string
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from streamreel.cassettes.storage import save_cassette
from streamreel.core.cassette import Cassette, Interaction
from streamreel.testing.synthetic import (
    _DONE,
    _SEND_MESSAGE_TOOL,
    _SOL_SYSTEM,
    _anthropic_complete_step,
    _anthropic_headers,
    _anthropic_request,
    _anthropic_thinking_step,
    _AnthropicEvents,
    _assistant_call,
    _assistants_step,
    _at,
    _bedrock_converse_step,
    _bedrock_invoke_step,
    _call_id_of,
    _cassette,
    _ChatChunks,
    _cohere_step,
    _deepseek_step,
    _dumps,
    _even,
    _event_stream_headers,
    _function_tool,
    _gemini_step,
    _interactions_step,
    _Json,
    _letta_tool_return,
    _message_start,
    _ollama_step,
    _openai_headers,
    _openai_usage,
    _pieces,
    _post,
    _responses_step,
    _send_message_step,
    _sse,
    _token_count,
    _tool_head,
    _tool_piece,
    _uuid_text,
    _Wire,
)

__all__ = [
    "CHUNK_FILE",
    "SCENARIOS",
    "anthropic_legacy_complete",
    "anthropic_overloaded_mid_stream",
    "anthropic_thinking_tool_use",
    "bedrock_converse_stream_tool_use",
    "bedrock_invoke_claude_stream",
    "build_all",
    "chunk_file_text",
    "cohere_v2_tool_plan",
    "deepseek_reasoning_content",
    "gemini_interactions_thought_summary",
    "gemini_sse_function_call",
    "groq_error_event",
    "main",
    "ollama_chat_ndjson",
    "openai_assistants_requires_action",
    "openai_http_429",
    "openai_line_separator_escaped",
    "openai_parallel_tool_calls",
    "openai_responses_function_call",
    "openai_send_message_inner_thoughts",
    "openai_tool_name_split",
    "openai_tool_return_next_request",
    "openai_truncated_stream",
    "write_all",
]

CHUNK_FILE = "openai-send-message.jsonl"
"""The chunk file written beside the cassettes: the main demo's first step, one chunk a line."""


_SIGN_THOUGHTS = (
    'They want a door sign that says "back tomorrow at 8". Keep it short, in French and '
    "English, and quote it exactly so they can copy it."
)
_SIGN_MESSAGE = (
    "Here is your sign:\n"
    "\"Fermé tôt aujourd'hui — closed early today.\n"
    'Back tomorrow at 8 ☕"\n'
    "Want me to pin it to the café's page as well?"
)
_FOLLOW_THOUGHTS = "Sign delivered. Offer a French-only version in case the door faces the square."
_FOLLOW_MESSAGE = 'Or, in French only: "Fermé tôt — de retour demain à 8 h."'


def openai_send_message_inner_thoughts() -> Cassette:
    """The main demo: a two-step Letta turn on OpenAI, ``send_message`` with inner thoughts.

    Step 0 streams the arguments ``{"inner_thoughts": ..., "message": ...}`` with every
    non-ASCII character ``\\u``-escaped, plus ``\\"`` and ``\\n``, and every escape is cut in
    two across chunks: the stream that broke Letta 0.7.8's decoding. Step 1 is the call after
    ``send_message`` returned, with the tool's status record in the request; its arguments carry
    raw UTF-8 instead. Both request ``include_usage``, so each ends with a ``choices: []``
    usage chunk, then ``[DONE]``.
    """
    user = "Write the sign for our door: we close early today, back tomorrow at 8."
    first_arguments = _dumps(
        {"inner_thoughts": _SIGN_THOUGHTS, "message": _SIGN_MESSAGE}, "compact", ascii_only=True
    )
    messages: list[_Json] = [
        {"role": "system", "content": _SOL_SYSTEM},
        {"role": "user", "content": user},
    ]
    first = _send_message_step(
        "openai-send-message-inner-thoughts#0",
        messages=messages,
        arguments=_pieces(first_arguments, split_escapes=True),
        created=1748779200,
        step=0,
    )
    call_id = _call_id_of(first)
    follow_arguments = _dumps({"inner_thoughts": _FOLLOW_THOUGHTS, "message": _FOLLOW_MESSAGE})
    second = _send_message_step(
        "openai-send-message-inner-thoughts#1",
        messages=[
            *messages,
            _assistant_call(call_id, first_arguments),
            {"role": "tool", "tool_call_id": call_id, "content": _letta_tool_return(_at(1))},
        ],
        arguments=_pieces(follow_arguments),
        created=1748779203,
        step=1,
    )
    return _cassette(first, second)


_FORECAST_TOOL = _function_tool(
    "get_forecast",
    "Tomorrow's weather for one city.",
    {
        "inner_thoughts": {
            "type": "string",
            "description": "Your private reasoning before the call; the user never sees it.",
        },
        "city": {"type": "string", "description": "City name, e.g. Lisbon"},
    },
    ["inner_thoughts", "city"],
)
_FORECAST_THOUGHTS = "Terrace seating depends on the weather: check tomorrow's forecast first."
_FORECAST = "Lisbon, tomorrow: 24 °C, sunny, light wind from the north."
_TERRACE_THOUGHTS = "Sunny and warm. Tell them the terrace will be open."
_TERRACE_MESSAGE = "Tomorrow looks sunny (24 °C), so the terrace will be open. See you there!"


def _tool_step(
    seed: str, *, messages: list[_Json], name: str, arguments: Sequence[str], step: int
) -> Interaction:
    """One OpenAI step of a Letta agent that calls ``name`` (given every tool of the turn)."""
    body: _Json = {
        "messages": messages,
        "model": "gpt-4.1",
        "parallel_tool_calls": False,
        "stream": True,
        "stream_options": {"include_usage": True},
        "tool_choice": "required",
        "tools": [_SEND_MESSAGE_TOOL, _FORECAST_TOOL],
    }
    request = _post(
        "https://api.openai.com/v1/chat/completions", body, _openai_headers("api.openai.com")
    )
    wire = _Wire(seed)
    chat = _ChatChunks(
        wire,
        model="gpt-4.1-2025-04-14",
        created=1748779380 + 3 * step,
        fingerprint="fp_51e1070cf2",
        usage_nulls=True,
    )
    head = {
        "role": "assistant",
        "content": None,
        "tool_calls": [_tool_head(0, f"call_{wire.token(24)}", name)],
        "refusal": None,
    }
    wire.send(_sse(_dumps(chat.delta(head))))
    for piece in arguments:
        wire.send(_sse(_dumps(chat.delta(_tool_piece(0, piece)))))
    wire.send(_sse(_dumps(chat.delta({}, finish="tool_calls"))))
    usage = _openai_usage(_token_count(request.body.decode()), len(arguments) + 1)
    wire.send(_sse(_dumps(chat.usage(usage))), _DONE)
    response = wire.response(_event_stream_headers(wire))
    return Interaction(request, response, recorded_at=_at(step))


_ADDRESS_MESSAGE = (
    "We are at:\u2028Rua Augusta 24\u20281100-048 Lisboa\n"
    "The door is on the side street, by the café."
)


def openai_line_separator_escaped() -> Cassette:
    """Plain streamed text holding U+2028 LINE SEPARATOR, escaped as ``\\u2028``.

    Models copy the character from pasted documents. Here the server escapes it (every
    non-ASCII character is ``\\u``-escaped); written raw, as ``JSON.stringify`` and pydantic
    write it, it is what ``str.splitlines()`` cuts a ``data:`` line at (openai-python #1230,
    httpx-sse #34): the ``raw-line-separator`` hazard makes that stream from this one.
    """
    body: _Json = {
        "messages": [
            {"role": "system", "content": _SOL_SYSTEM},
            {"role": "user", "content": "Where exactly are you? I only have the PDF menu."},
        ],
        "model": "gpt-4.1",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    request = _post(
        "https://api.openai.com/v1/chat/completions", body, _openai_headers("api.openai.com")
    )
    wire = _Wire("openai-line-separator-escaped#0")
    chat = _ChatChunks(
        wire, model="gpt-4.1-2025-04-14", created=1748779500, fingerprint="fp_51e1070cf2",
        usage_nulls=True,
    )  # fmt: skip
    head = {"role": "assistant", "content": "", "refusal": None}
    wire.send(_sse(_dumps(chat.delta(head), ascii_only=True)))
    pieces = _pieces(_ADDRESS_MESSAGE)
    for piece in pieces:
        wire.send(_sse(_dumps(chat.delta({"content": piece}), ascii_only=True)))
    wire.send(_sse(_dumps(chat.delta({}, finish="stop"))))
    usage = _openai_usage(_token_count(request.body.decode()), len(pieces))
    wire.send(_sse(_dumps(chat.usage(usage))), _DONE)
    response = wire.response(_event_stream_headers(wire))
    return _cassette(Interaction(request, response, recorded_at=_at(0)))


def openai_tool_return_next_request() -> Cassette:
    """A two-step Letta turn whose tool result exists only in the second *request*.

    Step 0 streams a ``get_forecast`` call with inner thoughts. The agent runs the tool and
    sends its return back, as Letta's status record (``{"status": "OK", "message": ...}``), in
    a ``role: "tool"`` message of step 1's request; step 1 then answers with ``send_message``.
    No response body holds the forecast: replay shows it between the steps, from the request.
    """
    user = "Will your terrace be open tomorrow?"
    messages: list[_Json] = [
        {"role": "system", "content": _SOL_SYSTEM},
        {"role": "user", "content": user},
    ]
    call_arguments = _dumps({"inner_thoughts": _FORECAST_THOUGHTS, "city": "Lisbon"})
    first = _tool_step(
        "openai-tool-return-next-request#0",
        messages=messages,
        name="get_forecast",
        arguments=_pieces(call_arguments),
        step=0,
    )
    call_id = _call_id_of(first)
    when = _at(1).strftime("%Y-%m-%d %I:%M:%S %p UTC+0000")
    forecast = _dumps({"status": "OK", "message": _FORECAST, "time": when}, "spaced")
    function = {"name": "get_forecast", "arguments": call_arguments}
    call = {
        "role": "assistant",
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }
    second = _tool_step(
        "openai-tool-return-next-request#1",
        messages=[
            *messages,
            call,
            {"role": "tool", "tool_call_id": call_id, "content": forecast},
        ],
        name="send_message",
        arguments=_pieces(
            _dumps({"inner_thoughts": _TERRACE_THOUGHTS, "message": _TERRACE_MESSAGE})
        ),
        step=1,
    )
    return _cassette(first, second)


def openai_truncated_stream() -> Cassette:
    """A ``send_message`` stream whose connection drops mid-arguments.

    The reads before the cut are kept, ``response.error`` says what the client saw, and there
    is no ``finish_reason``, usage chunk or ``[DONE]``: replay must keep the reasoning and the
    part of the message that arrived and report the stream as incomplete.
    """
    arguments = _dumps(
        {
            "inner_thoughts": "They asked for the opening hours; read them out plainly.",
            "message": "We open at 7:30 on weekdays and at 9 on weekends, and we close at 18",
        }
    )
    pieces = _pieces(arguments)
    cut = next(i for i in range(len(pieces)) if "".join(pieces[:i]).endswith(" weekends"))
    step = _send_message_step(
        "openai-truncated-stream",
        messages=[
            {"role": "system", "content": _SOL_SYSTEM},
            {"role": "user", "content": "When are you open?"},
        ],
        arguments=pieces,
        created=1748779260,
        step=0,
        cut=cut,
    )
    return _cassette(step)


_WEATHER_TOOL = _function_tool(
    "get_weather",
    "Current weather for one city.",
    {
        "city": {"type": "string", "description": "City name, e.g. Lisbon"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    ["city"],
)


def openai_parallel_tool_calls() -> Cassette:
    """Two ``get_weather`` calls in one step, their fragments interleaved by ``index``.

    Both headers (id and name) come first, then the argument pieces of index 0 and index 1
    alternate, as OpenAI-compatible servers that decode calls in parallel send them. A parser
    that ignores ``index`` garbles both calls.
    """
    body: _Json = {
        "messages": [{"role": "user", "content": "Is it warmer in Lisbon or in Porto right now?"}],
        "model": "gpt-4o-mini",
        "stream": True,
        "tools": [_WEATHER_TOOL],
    }
    request = _post(
        "https://api.openai.com/v1/chat/completions", body, _openai_headers("api.openai.com")
    )
    wire = _Wire("openai-parallel-tool-calls")
    chat = _ChatChunks(
        wire, model="gpt-4o-mini-2024-07-18", created=1748779320, fingerprint="fp_34a54ae93c"
    )
    ids = [f"call_{wire.token(24)}" for _ in range(2)]
    wire.send(_sse(_dumps(chat.delta({"role": "assistant", "content": None, "refusal": None}))))
    for index, call_id in enumerate(ids):
        wire.send(
            _sse(_dumps(chat.delta({"tool_calls": [_tool_head(index, call_id, "get_weather")]})))
        )
    lisbon = _pieces(_dumps({"city": "Lisbon", "unit": "celsius"}))
    porto = _pieces(_dumps({"city": "Porto", "unit": "celsius"}))
    for position in range(max(len(lisbon), len(porto))):
        for index, pieces in enumerate((lisbon, porto)):
            if position < len(pieces):
                wire.send(_sse(_dumps(chat.delta(_tool_piece(index, pieces[position])))))
    wire.send(_sse(_dumps(chat.delta({}, finish="tool_calls"))))
    wire.send(_DONE)
    response = wire.response(_event_stream_headers(wire))
    return _cassette(Interaction(request, response, recorded_at=_at(0)))


def openai_tool_name_split() -> Cassette:
    """A local OpenAI-compatible server that streams the tool *name* in two pieces.

    The first fragment carries the id and ``"name": "send_"``, the second ``"message"``; only
    then do the arguments start. The call must come out as one ``send_message``: assistant
    text, not a tool call named ``send_`` followed by another named ``message``.
    """
    body: _Json = {
        "messages": [
            {"role": "system", "content": _SOL_SYSTEM},
            {"role": "user", "content": "Do you have oat milk?"},
        ],
        "model": "qwen2.5-7b-instruct",
        "stream": True,
        "tools": [_SEND_MESSAGE_TOOL],
    }
    headers = _openai_headers("127.0.0.1:8000")
    request = _post("http://127.0.0.1:8000/v1/chat/completions", body, headers)
    wire = _Wire("openai-tool-name-split", first_ms=(120.0, 220.0))
    chat = _ChatChunks(
        wire,
        model="qwen2.5-7b-instruct",
        created=1748779380,
        chunk_id=f"chatcmpl-{wire.hex(32)}",
        service_tier=None,
        obfuscation=False,
    )
    call_id = f"chatcmpl-tool-{wire.hex(32)}"
    wire.send(_sse(_dumps(chat.delta({"role": "assistant", "content": ""}))))
    first = {
        "tool_calls": [
            {"index": 0, "id": call_id, "type": "function", "function": {"name": "send_"}}
        ]
    }
    wire.send(_sse(_dumps(chat.delta(first))))
    wire.send(
        _sse(_dumps(chat.delta({"tool_calls": [{"index": 0, "function": {"name": "message"}}]})))
    )
    arguments = _dumps(
        {
            "inner_thoughts": "Simple stock question; we do carry oat milk.",
            "message": "Yes! Oat milk is available for any drink, at no extra charge.",
        },
        "spaced",
    )
    for piece in _pieces(arguments):
        wire.send(_sse(_dumps(chat.delta(_tool_piece(0, piece)))))
    wire.send(_sse(_dumps(chat.delta({}, finish="tool_calls"))))
    wire.send(_DONE)
    response = wire.response(_event_stream_headers(wire))
    return _cassette(Interaction(request, response, recorded_at=_at(0)))


def openai_http_429() -> Cassette:
    """A rate-limited request: HTTP 429 with OpenAI's JSON error body, nothing streamed.

    OpenAI pretty-prints error bodies (four-space indent, a final newline), and the rate-limit
    state travels in ``x-ratelimit-*`` headers.
    """
    body: _Json = {
        "messages": [{"role": "user", "content": "Draft this week's specials board."}],
        "model": "gpt-4.1",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    request = _post(
        "https://api.openai.com/v1/chat/completions", body, _openai_headers("api.openai.com")
    )
    wire = _Wire("openai-http-429", first_ms=(60.0, 140.0))
    error = {
        "error": {
            "message": (
                "Rate limit reached for gpt-4.1 in organization org-scripted on tokens per min "
                "(TPM): Limit 30000, Used 29871, Requested 412. Please try again in 566ms. "
                "Visit https://platform.openai.com/account/rate-limits to learn more."
            ),
            "type": "tokens",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    wire.send(json.dumps(error, indent=4) + "\n")
    headers = {
        "content-type": "application/json; charset=utf-8",
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-remaining-tokens": "129",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-reset-tokens": "566ms",
        "x-request-id": f"req_{wire.hex(32)}",
    }
    response = wire.response(headers, status=429, reason="Too Many Requests")
    return _cassette(Interaction(request, response, recorded_at=_at(0)))


def deepseek_reasoning_content() -> Cassette:
    """DeepSeek's reasoner: ``delta.reasoning_content`` first, then ``delta.content``.

    Every delta names both fields, one of them ``null``; the usage rides on the finishing
    chunk; a ``: keep-alive`` comment precedes the first chunk.
    """
    reasoning = (
        "1001 ends in 1, so not even; digit sum 2, so not a multiple of 3. Try 7: "
        "7 × 143 = 1001. And 143 = 11 × 13. So 1001 = 7 × 11 × 13: composite."
    )
    content = "No. 1001 = 7 × 11 × 13, so it is not prime."
    step = _deepseek_step(
        "deepseek-reasoning-content",
        question="Is 1001 a prime number?",
        reasoning=_pieces(reasoning),
        content=_pieces(content),
    )
    return _cassette(step)


def groq_error_event() -> Cassette:
    """Groq's OpenAI-compatible stream failing inside HTTP 200 with ``event: error``.

    A few ``delta.reasoning`` chunks arrive (Groq's name for reasoning, with its ``channel``),
    then the server rejects the tool call it generated: an ``event: error`` whose data is an
    ``{"error": {...}}`` object with ``code: tool_use_failed``, and the stream ends, no
    ``[DONE]``.
    """
    body: _Json = {
        "messages": [{"role": "user", "content": "Reserve the corner table for Friday."}],
        "model": "openai/gpt-oss-20b",
        "stream": True,
        "tool_choice": "auto",
        "tools": [
            _function_tool(
                "reserve_table",
                "Reserve a table by its number.",
                {"table": {"type": "integer"}, "day": {"type": "string"}},
                ["table", "day"],
            )
        ],
    }
    headers = _openai_headers("api.groq.com")
    request = _post("https://api.groq.com/openai/v1/chat/completions", body, headers)
    wire = _Wire("groq-error-event", first_ms=(140.0, 260.0), gap_ms=(3.0, 9.0))
    request_id = f"req_{wire.token(26, string.ascii_lowercase + string.digits)}"
    chat = _ChatChunks(
        wire,
        model="openai/gpt-oss-20b",
        created=1748779500,
        chunk_id=f"chatcmpl-{_uuid_text(wire)}",
        fingerprint="fp_3d587a02fb",
        service_tier=None,
        obfuscation=False,
    )
    first = chat.payload(
        [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": ""},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
        extra={"x_groq": {"id": request_id, "seed": 913577402}},
    )
    wire.send(_sse(_dumps(first)))
    for piece in _pieces("The corner table is table 12; call reserve_table for Friday."):
        wire.send(_sse(_dumps(chat.delta({"reasoning": piece, "channel": "analysis"}))))
    error = {
        "error": {
            "message": (
                "Tool call validation failed: parameters for tool reserve_table did not match "
                "schema: errors: [`/table`: expected integer, but got string]"
            ),
            "type": "invalid_request_error",
            "code": "tool_use_failed",
            "failed_generation": _dumps(
                {"name": "reserve_table", "arguments": {"table": "corner", "day": "Friday"}},
                "spaced",
            ),
            "status_code": 400,
        }
    }
    wire.send(_sse(_dumps(error), event="error"))
    response = wire.response(_event_stream_headers(wire, charset=False))
    return _cassette(Interaction(request, response, recorded_at=_at(0)))


def openai_responses_function_call() -> Cassette:
    """The Responses API calling a function: named events, no ``[DONE]``.

    The call's name and ``call_id`` arrive in ``response.output_item.added``, the arguments in
    ``response.function_call_arguments.delta`` events, and ``response.completed`` (with the
    usage) ends the stream.
    """
    step = _responses_step(
        "openai-responses-function-call",
        prompt="Our oven shows 450 °F. What is that in Celsius?",
        arguments=_pieces(_dumps({"value": 450, "from_unit": "F", "to_unit": "C"})),
        step=0,
    )
    return _cassette(step)


def anthropic_thinking_tool_use() -> Cassette:
    """Claude with extended thinking: a thinking block sealed by ``signature_delta``, a short
    text block, then a ``tool_use`` block whose input streams as ``input_json_delta`` pieces.

    Between them: a ``ping``, blank padding inside many events' JSON, and ``message_delta``
    (``stop_reason: tool_use``) plus ``message_stop`` to close.
    """
    thinking = (
        "The user asks about tomorrow morning. Today is Sunday 2025-06-01, so tomorrow is "
        "Monday 2025-06-02; morning means before noon. I'll search the calendar for that date."
    )
    step = _anthropic_thinking_step(
        "anthropic-thinking-tool-use",
        thinking=_even(thinking, 6),
        text=_pieces("I'll check your calendar for Monday morning."),
        tool_input=_even(_dumps({"date": "2025-06-02", "before": "12:00"}, "spaced"), 5),
    )
    return _cassette(step)


def anthropic_overloaded_mid_stream() -> Cassette:
    """Anthropic failing inside an HTTP 200: some text, then ``event: error`` (overloaded).

    The text block never stops and no ``message_delta`` or ``message_stop`` follows: the server
    writes the error event and closes the stream. Real recordings of this are rare, so this one
    is written from the documented event shape.
    """
    model = "claude-sonnet-4-20250514"
    body: _Json = {
        "max_tokens": 1024,
        "messages": [
            {
                "role": "user",
                "content": "Summarise today's staff meeting notes in three bullet points.",
            }
        ],
        "model": model,
        "stream": True,
    }
    request = _anthropic_request(body)
    wire = _Wire("anthropic-overloaded-mid-stream")
    events = _AnthropicEvents(wire)
    wire.send(events.event("message_start", _message_start(wire, model, 24)))
    wire.send(
        events.event(
            "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
        )
    )
    wire.send(events.ping())
    text = "Here are the three points:\n\n- The new espresso machine arrives on"
    for piece in _pieces(text):
        delta = {"type": "text_delta", "text": piece}
        wire.send(events.event("content_block_delta", {"index": 0, "delta": delta}))
    error = {"error": {"type": "overloaded_error", "message": "Overloaded"}}
    wire.send(events.event("error", error, pad=False), pause_ms=1800.0)
    response = wire.response(_anthropic_headers(wire))
    return _cassette(Interaction(request, response, recorded_at=_at(0)))


def gemini_sse_function_call() -> Cassette:
    """Gemini ``streamGenerateContent?alt=sse``: whole responses per event, CRLF separators.

    A thought summary (``thought: true``), then one event holding the whole ``functionCall``
    (never fragmented, no id) with its ``thoughtSignature`` and ``finishReason: STOP``; the
    ``usageMetadata`` is cumulative and there is no ``[DONE]``.
    """
    step = _gemini_step(
        "gemini-sse-function-call",
        thoughts=[
            "**Booking the table**\n\nTwo people, Trattoria Sole, tomorrow at 19:30: "
            "everything book_table needs. Tomorrow is 2025-06-02.",
        ],
        texts=[],
        call={
            "name": "book_table",
            "args": {"restaurant": "Trattoria Sole", "party_size": 2, "time": "2025-06-02T19:30"},
        },
    )
    return _cassette(step)


def ollama_chat_ndjson() -> Cassette:
    """Ollama's ``/api/chat``: NDJSON, one object a line, each stamped with ``created_at``.

    Every line repeats the model and the role; the last has ``done: true``, the
    ``done_reason`` and the token counts and durations (nanoseconds), and ends the stream.
    """
    text = "Slow dough rises,\nthe crust sings as it cools down —\nbread for the whole street."
    step = _ollama_step(
        "ollama-chat-ndjson", prompt="Write a haiku about our sourdough.", pieces=_pieces(text)
    )
    return _cassette(step)


def bedrock_invoke_claude_stream() -> Cassette:
    """Bedrock ``InvokeModelWithResponseStream`` for Claude: binary AWS event-stream messages.

    Each ``chunk`` event's JSON holds one Anthropic Messages event, base64 in ``bytes``, and a
    ``p`` padding field; ``message_stop`` carries Bedrock's ``invocationMetrics``.
    """
    text = "Our croissants are laminated with 27 layers of butter, folded three times by hand."
    step = _bedrock_invoke_step(
        "bedrock-invoke-claude-stream",
        prompt="How many layers does a croissant have?",
        text=_pieces(text),
    )
    return _cassette(step)


def bedrock_converse_stream_tool_use() -> Cassette:
    """Bedrock ``ConverseStream``: ``messageStart``, text deltas, a ``toolUse`` block whose
    ``input`` streams as text, ``messageStop`` (``tool_use``), then ``metadata`` with the usage.
    No event names the model; it is in the URL.
    """
    step = _bedrock_converse_step(
        "bedrock-converse-stream-tool-use",
        prompt="What does 'levain' mean on our menu?",
        text=_pieces("Let me look that up in the glossary."),
        call={"id": "tooluse_Lv3nT0Qp8rKzY2xWm1aB4c", "name": "glossary_lookup"},
        arguments=_even('{"term": "levain"}', 3),
    )
    return _cassette(step)


def cohere_v2_tool_plan() -> Cassette:
    """Cohere ``/v2/chat``: ``tool-plan-delta`` (the plan, shown as reasoning), then one call
    opened by ``tool-call-start`` whose pretty-printed arguments stream in ``tool-call-delta``;
    ``message-end`` with ``TOOL_CALL`` and both usages, then ``data: [DONE]``.
    """
    step = _cohere_step(
        "cohere-v2-tool-plan",
        prompt="Do we still have rye loaves for Saturday?",
        plan=_pieces("I will check the stock of rye loaves."),
        call={"id": "check_stock_4k2x9q8d1m0z", "name": "check_stock"},
        arguments=_pieces('{\n    "item": "rye loaf"\n}'),
    )
    return _cassette(step)


def anthropic_legacy_complete() -> Cassette:
    """Anthropic's legacy ``/v1/complete``: ``event: completion`` with CRLF line ends, blank
    padding inside the JSON, a ``ping``, and a last event with ``stop_reason: stop_sequence``.
    """
    step = _anthropic_complete_step(
        "anthropic-legacy-complete",
        prompt="Name our bakery's oldest recipe in five words or less.",
        pieces=_pieces(" Grandmother's honey rye bread."),
    )
    return _cassette(step)


def gemini_interactions_thought_summary() -> Cassette:
    """Gemini Interactions: ``interaction.created``, a ``thought`` step of thought summaries
    (empty ``thought_signature`` deltas between them, one real signature at the end), a
    ``model_output`` step of text, ``interaction.completed`` with the usage, then ``[DONE]``.
    """
    step = _interactions_step(
        "gemini-interactions-thought-summary",
        prompt="Why does sourdough taste sour? One sentence.",
        thoughts=[
            "**Pinning down the cause**\n\nLactic and acetic acids from the bacteria.\n\n",
            "**Keeping it short**\n\nOne sentence, name both acids.\n\n",
        ],
        texts=_even(
            "Sourdough tastes sour because its bacteria make lactic and acetic acids"
            " while the dough ferments.",
            3,
        ),
    )
    return _cassette(step)


def openai_assistants_requires_action() -> Cassette:
    """OpenAI Assistants: a run's status events, a ``tool_calls`` step whose function call
    streams in ``thread.run.step.delta``, and ``thread.run.requires_action``: the run waits for
    the client's tool output. ``event: done`` / ``data: [DONE]`` ends the body.
    """
    call = {
        "id": "call_Qm8Lr2vXc5Tn1Zs7Ka0Pb3Wd",
        "function": {
            "name": "reserve_cake",
            "description": "Reserve a cake for pickup.",
            "parameters": {
                "type": "object",
                "properties": {"cake": {"type": "string"}, "day": {"type": "string"}},
                "required": ["cake", "day"],
            },
        },
    }
    step = _assistants_step(
        "openai-assistants-requires-action",
        call=call,
        arguments=_pieces('{"cake":"lemon tart","day":"2025-06-07"}'),
    )
    return _cassette(step)


# --------------------------------------------------------------------------------------------
# The set, the chunk file, the benchmark cassette, the entry point
# --------------------------------------------------------------------------------------------

SCENARIOS: dict[str, Callable[[], Cassette]] = {
    "openai-send-message-inner-thoughts": openai_send_message_inner_thoughts,
    "openai-parallel-tool-calls": openai_parallel_tool_calls,
    "openai-tool-name-split": openai_tool_name_split,
    "openai-line-separator-escaped": openai_line_separator_escaped,
    "openai-tool-return-next-request": openai_tool_return_next_request,
    "openai-truncated-stream": openai_truncated_stream,
    "openai-http-429": openai_http_429,
    "openai-responses-function-call": openai_responses_function_call,
    "deepseek-reasoning-content": deepseek_reasoning_content,
    "groq-error-event": groq_error_event,
    "anthropic-thinking-tool-use": anthropic_thinking_tool_use,
    "anthropic-overloaded-mid-stream": anthropic_overloaded_mid_stream,
    "gemini-sse-function-call": gemini_sse_function_call,
    "ollama-chat-ndjson": ollama_chat_ndjson,
    "bedrock-invoke-claude-stream": bedrock_invoke_claude_stream,
    "bedrock-converse-stream-tool-use": bedrock_converse_stream_tool_use,
    "cohere-v2-tool-plan": cohere_v2_tool_plan,
    "anthropic-legacy-complete": anthropic_legacy_complete,
    "gemini-interactions-thought-summary": gemini_interactions_thought_summary,
    "openai-assistants-requires-action": openai_assistants_requires_action,
}
"""Every scripted cassette by name; the name is the file's stem and the quirk it shows."""


def build_all() -> dict[str, Cassette]:
    """Every scripted cassette, freshly built, by name."""
    return {name: build() for name, build in SCENARIOS.items()}


def chunk_file_text() -> str:
    """The main demo's first step as a chunk file: each ``data:`` payload on its own line.

    ``streamreel replay FILE.jsonl`` reads such files; the usage chunk (``choices: []``) is
    kept, ``[DONE]`` is not a chunk and is left out.
    """
    body = openai_send_message_inner_thoughts().interactions[0].response.body.decode("utf-8")
    lines = [
        event.removeprefix("data: ")
        for event in body.split("\n\n")
        if event.startswith("data: ") and event != "data: [DONE]"
    ]
    return "".join(line + "\n" for line in lines)


def write_all(folder: str | Path) -> list[Path]:
    """(Re)write every scripted cassette as ``<name>.yaml`` and the chunk file into ``folder``."""
    target = Path(folder)
    written: list[Path] = []
    for name, cassette in build_all().items():
        path = target / f"{name}.yaml"
        save_cassette(cassette, path)
        written.append(path)
    chunk_file = target / CHUNK_FILE
    chunk_file.write_text(chunk_file_text(), encoding="utf-8")
    written.append(chunk_file)
    return written


def _usage() -> str:
    return "usage: python devtools/scripted.py FOLDER   (rewrites the scripted cassettes there)\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python devtools/scripted.py FOLDER``: rewrite the scripted cassettes in ``FOLDER``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] in ("-h", "--help"):
        (sys.stdout if args[:1] in (["-h"], ["--help"]) else sys.stderr).write(_usage())
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    for path in write_all(args[0]):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
