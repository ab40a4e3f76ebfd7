"""Hazards that need an API's event shapes: empty deltas, repeated usage, cut escapes, errors.

The framing hazards (:mod:`streamreel.core.hazards`) rewrite bytes any reader of the framing
must take in its stride. These rewrite *events*, and so know the API: they decode an event's
JSON, write one or two events in its place, and keep the stream's meaning as the API's
documentation defines it. Each is one :class:`~streamreel.core.mutations.Hazard`, with the
source that makes the rewritten stream one a provider may send. Events are written compact,
``data: `` and the line end the body already uses.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from typing import Any

from streamreel.core.mutations import Edit, Hazard, SSEEvent, remembered, sse_events

__all__ = ["API_HAZARDS"]

_CHAT = frozenset({"chat-completions"})


def _eol(body: bytes, event: SSEEvent) -> bytes:
    last = event.lines[-1]
    return body[last.end : last.stop] or b"\n"


def _data(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@remembered
def _json_events(body: bytes) -> tuple[tuple[SSEEvent, dict[str, Any]], ...]:
    """The events whose data is a JSON object, decoded: each hazard here reads them all, so
    they are decoded once per body. The objects are shared: read them, never change them."""
    found = []
    for event in sse_events(body):
        if event.data is None:
            continue
        try:
            value = json.loads(event.data)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append((event, value))
    return tuple(found)


def _delta(value: dict[str, Any]) -> dict[str, Any] | None:
    """The delta of a chunk with exactly one choice, or None."""
    choices = value.get("choices")
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
        return None
    delta = choices[0].get("delta")
    return delta if isinstance(delta, dict) else None


def _with_delta(value: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    choice = {"index": value["choices"][0].get("index", 0), "delta": delta, "finish_reason": None}
    chunk = {key: item for key, item in value.items() if key != "usage"}
    chunk["choices"] = [choice]
    return chunk


def _empty_deltas(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
    for event, value in _json_events(body):
        delta = _delta(value)
        if delta is not None and isinstance(delta.get("content"), str) and delta["content"]:
            eol = _eol(body, event)
            empty = _data(_with_delta(value, {"content": ""})) + eol + eol
            yield Edit(event.start, event.start, empty)


def _repeated_usage(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
    for event, value in _json_events(body):
        if isinstance(value.get("usage"), dict):
            eol = _eol(body, event)
            # Only the usage again: an error the chunk also carried (OpenRouter) is not repeated.
            kept = {key: item for key, item in value.items() if key not in ("choices", "error")}
            again = _data({**kept, "choices": []}) + eol + eol
            yield Edit(event.stop, event.stop, again)


def _escapes_cut(body: bytes, boundaries: Sequence[int]) -> Iterator[Edit]:
    for event, value in _json_events(body):
        delta = _delta(value)
        calls = delta.get("tool_calls") if delta is not None else None
        if delta is None or not isinstance(calls, list) or len(calls) != 1:
            continue
        call = calls[0]
        function = call.get("function") if isinstance(call, dict) else None
        arguments = function.get("arguments") if isinstance(function, dict) else None
        if (
            not isinstance(function, dict)
            or not isinstance(arguments, str)
            or "\\" not in arguments
        ):
            continue
        cut = arguments.index("\\") + 1  # after the backslash, before what it escapes
        opening = {**call, "function": {**function, "arguments": arguments[:cut]}}
        head = _with_delta(value, {**delta, "tool_calls": [opening]})
        rest = {"index": call.get("index", 0), "function": {"arguments": arguments[cut:]}}
        tail = {**value, "choices": [{**value["choices"][0], "delta": {"tool_calls": [rest]}}]}
        eol = _eol(body, event)
        written = _data(head) + eol + eol + _data(tail) + eol + eol
        yield Edit(event.start, event.stop, written)


def _carries_text(value: dict[str, Any]) -> bool:
    delta = _delta(value)
    if delta is None:
        # A block's content is whole at its stop: a tool_use block with no input gets its "{}"
        # there, so the error goes after the last stop, not after the last delta.
        return value.get("type") in ("content_block_delta", "content_block_stop")
    return any(delta.get(key) for key in ("content", "reasoning_content", "tool_calls"))


_CHAT_ERROR = {
    "error": {
        "message": "The server had an error while processing your request.",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}
_MESSAGES_ERROR = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def _error_after_content(body: bytes, boundaries: Sequence[int]) -> list[Edit]:
    last: tuple[SSEEvent, dict[str, Any]] | None = None
    for event, value in _json_events(body):
        if _carries_text(value):
            last = event, value
    if last is None:
        return []
    event, value = last
    eol = _eol(body, event)
    if value.get("type") in ("content_block_delta", "content_block_stop"):
        error = b"event: error" + eol + _data(_MESSAGES_ERROR) + eol + eol
    else:
        error = _data(_CHAT_ERROR) + eol + eol
    return [Edit(event.stop, len(body), error)]


def _interleaved_calls(body: bytes, boundaries: Sequence[int]) -> list[Edit]:
    """Swap an argument fragment of one tool call with the next event, for another call."""
    indexed: list[tuple[SSEEvent, int | None, bool]] = []
    for event, value in _json_events(body):
        delta = _delta(value)
        calls = delta.get("tool_calls") if delta is not None else None
        if isinstance(calls, list) and len(calls) == 1 and isinstance(calls[0], dict):
            opening = calls[0].get("id") is not None
            indexed.append((event, calls[0].get("index"), opening))
        else:
            indexed.append((event, None, False))
    found = []
    for (first, a, a_opens), (second, b, _) in itertools.pairwise(indexed):
        if a is None or b is None or a == b or a_opens or first.stop != second.start:
            continue
        moved = body[second.start : second.stop] + body[first.start : first.stop]
        found.append(Edit(first.start, second.stop, moved))
    return found


API_HAZARDS = [
    Hazard(
        "empty-delta",
        "an empty content delta before every chunk of content",
        "OpenAI Chat Completions streaming: the first chunk's delta is "
        '{"role": "assistant", "content": ""}; compatible servers send empty deltas mid-stream',
        frozenset({"sse"}),
        _empty_deltas,
        apis=_CHAT,
    ),
    Hazard(
        "usage-repeated",
        "every chunk that carries usage is followed by a usage chunk with the same totals",
        "vLLM stream_options.continuous_usage_stats: usage (running totals) on every chunk; "
        "OpenAI stream_options.include_usage: usage is the total for the request",
        frozenset({"sse"}),
        _repeated_usage,
        apis=_CHAT,
    ),
    Hazard(
        "arguments-cut-mid-escape",
        "a tool call's argument fragment with an escape becomes two chunks cut after the '\\'",
        "OpenAI Chat Completions: function.arguments arrive as string fragments cut at token "
        "boundaries, which may fall inside a JSON escape (Letta 0.7.8 broke on this)",
        frozenset({"sse"}),
        _escapes_cut,
        apis=_CHAT,
    ),
    Hazard(
        "tool-calls-interleaved",
        "an argument fragment of one tool call swapped with the next event, of another call",
        "OpenAI Chat Completions: each tool_calls delta names its call by 'index'; parallel "
        "calls' fragments may arrive interleaved",
        frozenset({"sse"}),
        _interleaved_calls,
        apis=_CHAT,
    ),
    Hazard(
        "error-after-content",
        "the stream ends with the provider's error event right after the last content",
        "Anthropic Messages streaming: 'error' events (overloaded_error) may arrive mid-stream "
        "in an HTTP 200; OpenRouter and Groq send an error payload inside the stream",
        frozenset({"sse"}),
        _error_after_content,
        apis=frozenset({"chat-completions", "messages"}),
        adds_error=True,
    ),
]
"""The API-level hazards, in catalogue order."""
