"""OpenAI Chat Completions streams, and every server that copies them.

Theory of operation
-------------------

The wire chunks already are ``chat.completion.chunk`` objects, so the adapter's work is to
smooth over what compatible servers do differently before validating each payload with
:func:`streamreel.core.chunks.parse_chunk`:

* ``data: [DONE]`` ends the stream. Writer never sends it, so a server can be told not to
  expect it (``needs_done=False``); a ``finish_reason`` then marks the end instead.
* A payload with a top-level ``error`` (OpenRouter, inside an HTTP 200) or an SSE event named
  ``error`` (Groq) becomes ``StreamFault("error")``, after whatever the same payload also
  carried as a chunk. Either ends the stream as far as completeness is concerned.
* Chunks with no choices and no usage carry nothing the interface reads (Azure's
  ``prompt_filter_results`` chunk, OpenAI's trailing ``moderation`` chunk) and are not emitted.
  A chunk with no choices and a usage is the ``include_usage`` chunk and is kept.
* Mistral sends a whole tool call in one fragment without ``index``; it gets the next free index
  of its choice, so that parallel calls stay apart (an index-less fragment without an id
  continues the call before it).
* Mistral's magistral models send ``delta.content`` as a list of typed parts: ``thinking``
  parts become ``reasoning_content``, ``text`` parts ``content``, other parts (references) are
  not text and are left out.
* Groq reports usage as ``x_groq.usage``; it is copied to ``usage`` when that is absent.
* ``reasoning`` (vLLM, Groq, OpenRouter) is read by the chunk model's alias.
* ``delta.refusal`` is not assistant content: the pieces of a choice's refusal are joined and
  emitted as one ``StreamFault("refusal", text)`` when that choice finishes (or the stream
  ends), and are removed from the chunks so that no consumer shows them twice.

Legacy ``/v1/completions`` streams (``text_completion`` objects whose choices carry ``text``)
are adapted by :class:`CompletionsAdapter`: the text becomes ``content``.

A payload that is not a chunk raises :class:`~streamreel.core.errors.ChunkError`; see
:mod:`streamreel.core.providers.pipeline` for how that reaches the caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from streamreel.core.chunks import (
    ChatCompletionChunk,
    Choice,
    ChunkDelta,
    StreamFault,
    parse_chunk,
    validator,
)
from streamreel.core.providers._adapter import (
    AdapterBase,
    Output,
    Stamp,
    as_object,
    error_fault,
    opt_int,
    opt_list,
    opt_obj,
    opt_str,
    usage,
)

__all__ = ["ChatCompletionsAdapter", "CompletionsAdapter"]

_WHERE = "chat.completion.chunk"


class _ChoiceState:
    """Per-choice bookkeeping: the next free tool-call index and the refusal held back."""

    __slots__ = ("next_tool_index", "refusal")

    def __init__(self) -> None:
        self.next_tool_index = 0
        self.refusal: list[str] = []


class ChatCompletionsAdapter(AdapterBase):
    """``chat.completion.chunk`` payloads in, validated chunks and faults out."""

    def __init__(self, *, needs_done: bool = True) -> None:
        super().__init__()
        self._needs_done = needs_done
        self._choices: dict[int, _ChoiceState] = {}
        self._done = False
        self._finish_seen = False

    @property
    def finished(self) -> bool:
        if self._done or self._finished:
            return True
        return not self._needs_done and self._finish_seen

    @property
    def terminator(self) -> str:
        return "data: [DONE]" if self._needs_done else "a finish_reason"

    def event(self, name: str, payload: Any) -> list[Output]:
        data = as_object(payload, _WHERE)
        error = data.get("error")
        if name == "error" or error is not None:
            return self._on_error(data, error)
        return self._on_chunk(data)

    def event_text(self, name: str, text: str) -> list[Output] | None:
        """What :meth:`event` gives for this JSON text, validated straight from the text; or
        None when the chunk needs :meth:`event`'s work (or its errors), which the caller then
        does as usual.

        Most chunks need no normalising: no error object, no Groq usage, no refusal, no content
        parts, no tool call without an index. For those, pydantic-core reads the text in one
        pass instead of json.loads building a dict for a second pass to validate. Strict
        validation takes only what the lax validation of the decoded dict takes, with the same
        values; a ``\\u00`` escape could spell a key the checks look for, so it goes the usual
        way too.
        """
        if name == "error" or '"error"' in text or '"x_groq"' in text or "\\u00" in text:
            return None
        try:
            chunk: ChatCompletionChunk = validator(ChatCompletionChunk).validate_json(
                text, strict=True
            )
        except ValidationError:
            return None
        if isinstance(chunk.created, datetime):
            # Only a string makes one here, and older pydantic releases read a numeric string
            # as a timestamp in strict JSON where the lax path reads it as the number.
            return None
        if not chunk.choices:
            return [] if chunk.usage is None else [chunk]
        for choice in chunk.choices:
            if choice.delta.refusal is not None:
                return None
            for fragment in choice.delta.tool_calls or ():
                if fragment.index is None:
                    return None
        out: list[Output] = [chunk]
        for choice in chunk.choices:
            state = self._state(choice.index)
            for fragment in choice.delta.tool_calls or ():
                if fragment.index is not None and fragment.index >= state.next_tool_index:
                    state.next_tool_index = fragment.index + 1
            if choice.finish_reason is not None:
                self._finish_seen = True
                out.extend(self._flush_refusal(choice.index))
        return out

    def _state(self, index: int) -> _ChoiceState:
        # Made only for a choice not seen yet: setdefault would build one per chunk.
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _ChoiceState()
        return state

    def done(self) -> list[Output]:
        self._done = True
        return self._flush_refusals()

    def end(self) -> list[Output]:
        return self._flush_refusals()

    def _on_chunk(self, data: dict[str, Any]) -> list[Output]:
        choices = opt_list(data, "choices", _WHERE)
        for raw in choices:
            self._normalise_choice(as_object(raw, f"{_WHERE} choice"))
        if data.get("usage") is None:
            groq_usage = opt_obj(data, "x_groq", _WHERE).get("usage")
            if groq_usage is not None:
                data["usage"] = groq_usage
        if not choices and data.get("usage") is None:
            return []
        chunk = parse_chunk(data)
        out: list[Output] = [chunk]
        for choice in chunk.choices:
            if choice.finish_reason is not None:
                self._finish_seen = True
                out.extend(self._flush_refusal(choice.index))
        return out

    def _normalise_choice(self, choice: dict[str, Any]) -> None:
        index = opt_int(choice, "index", f"{_WHERE} choice") or 0
        state = self._state(index)
        delta = opt_obj(choice, "delta", f"{_WHERE} choice")
        content = delta.get("content")
        if isinstance(content, list):
            text, thinking = _split_parts(content)
            delta["content"] = text or None
            if thinking:
                earlier = opt_str(delta, "reasoning_content", f"{_WHERE} delta") or ""
                delta["reasoning_content"] = earlier + thinking
        refusal = opt_str(delta, "refusal", f"{_WHERE} delta")
        if refusal is not None:
            state.refusal.append(refusal)
            delta["refusal"] = None
        for raw in opt_list(delta, "tool_calls", f"{_WHERE} delta"):
            fragment = as_object(raw, f"{_WHERE} tool call")
            given = fragment.get("index")
            if given is None:
                # A fragment with an id starts a call; one without continues the last call.
                if fragment.get("id") is not None or state.next_tool_index == 0:
                    state.next_tool_index += 1
                fragment["index"] = state.next_tool_index - 1
            elif isinstance(given, int) and given >= state.next_tool_index:
                state.next_tool_index = given + 1

    def _on_error(self, data: dict[str, Any], error: Any) -> list[Output]:
        out: list[Output] = []
        if "choices" in data or "usage" in data:
            # OpenRouter's error chunk also carries the last choice and the usage.
            rest = {key: value for key, value in data.items() if key != "error"}
            out.extend(self._on_chunk(rest))
        out.extend(self._flush_refusals())
        out.extend(self.fail(error_fault(error if error is not None else data)))
        return out

    def _flush_refusal(self, index: int) -> list[Output]:
        state = self._choices.get(index)
        if state is None or not state.refusal:
            return []
        text = "".join(state.refusal)
        state.refusal.clear()
        return [StreamFault("refusal", text)]

    def _flush_refusals(self) -> list[Output]:
        out: list[Output] = []
        for index in sorted(self._choices):
            out.extend(self._flush_refusal(index))
        return out


def _split_parts(parts: list[Any]) -> tuple[str, str]:
    """Mistral's typed content parts: (text, thinking)."""
    text: list[str] = []
    thinking: list[str] = []
    for raw in parts:
        part = as_object(raw, f"{_WHERE} content part")
        kind = part.get("type")
        if kind == "text":
            text.append(opt_str(part, "text", f"{_WHERE} text part") or "")
        elif kind == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, str):
                thinking.append(inner)
                continue
            for raw_inner in opt_list(part, "thinking", f"{_WHERE} thinking part"):
                piece = as_object(raw_inner, f"{_WHERE} thinking part")
                if piece.get("type") == "text":
                    thinking.append(opt_str(piece, "text", f"{_WHERE} thinking part") or "")
    return "".join(text), "".join(thinking)


class CompletionsAdapter(AdapterBase):
    """Legacy ``text_completion`` payloads in, chunks whose ``content`` is the text out."""

    TERMINATOR = "data: [DONE]"

    def __init__(self) -> None:
        super().__init__()
        self._stamp = Stamp()

    def event(self, name: str, payload: Any) -> list[Output]:
        data = as_object(payload, "text_completion")
        error = data.get("error")
        if name == "error" or error is not None:
            return self.fail(error_fault(error if error is not None else data))
        return completion_chunks(data, self._stamp)

    def done(self) -> list[Output]:
        self._finished = True
        return []


def completion_chunks(data: dict[str, Any], stamp: Stamp) -> list[Output]:
    """The chunk equivalent of one ``text_completion`` object, streamed or whole."""
    where = "text_completion"
    stamp.id = opt_str(data, "id", where)
    stamp.model = opt_str(data, "model", where)
    stamp.created = opt_int(data, "created", where)
    choices: list[Choice] = []
    for raw in opt_list(data, "choices", where):
        choice = as_object(raw, f"{where} choice")
        choices.append(
            Choice(
                index=opt_int(choice, "index", f"{where} choice") or 0,
                delta=ChunkDelta(content=opt_str(choice, "text", f"{where} choice")),
                finish_reason=opt_str(choice, "finish_reason", f"{where} choice"),
            )
        )
    raw_usage = opt_obj(data, "usage", where)
    reported = usage(
        opt_int(raw_usage, "prompt_tokens", f"{where} usage"),
        opt_int(raw_usage, "completion_tokens", f"{where} usage"),
        opt_int(raw_usage, "total_tokens", f"{where} usage"),
    )
    if not choices and reported is None:
        return []
    return [
        ChatCompletionChunk(
            id=stamp.id,
            created=stamp.created,
            model=stamp.model,
            choices=choices,
            usage=reported,
        )
    ]
