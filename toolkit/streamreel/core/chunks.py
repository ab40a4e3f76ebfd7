"""The interface's input: OpenAI ``chat.completion.chunk`` objects, as every adapter produces them.

The schema is OpenAI's, plus the three delta fields Letta added for reasoning models
(``reasoning_content``, ``reasoning_content_signature``, ``redacted_reasoning_content``).
vLLM, Groq and OpenRouter name reasoning ``reasoning``; it is accepted as an alias.

It is deliberately tolerant, because real streams are: every field but ``delta`` is optional,
``choices`` may be empty (usage chunks, Azure content-filter chunks), a tool call may lack
``index`` (Mistral sends whole calls) or ``arguments``, and unknown keys are ignored.

Validation runs in pydantic-core: :func:`parse_chunk` hands the raw JSON text straight to
``model_validate_json``, which costs about 1.4x a bare ``json.loads`` of the same line.

Besides chunks, adapters emit :class:`StreamFault` records for what is not a chunk but must not
be lost: an error event inside the stream, or a stream that ended without its terminator.
"""

# Annotations here are evaluated as the classes are made (no ``from __future__ import
# annotations``): pydantic reads every field's type when a model class is made, and from a string
# that meant compiling each one, about a sixth of what defining these models costs a command.
import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from streamreel.core.errors import ChunkError

if TYPE_CHECKING:
    from pydantic_core import SchemaValidator

__all__ = [
    "ChatCompletionChunk",
    "Choice",
    "ChunkDelta",
    "FunctionDelta",
    "StreamFault",
    "ToolCallFragment",
    "Usage",
    "parse_chunk",
    "parse_chunk_line",
    "select_choice",
    "validator",
]

_TOLERANT = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)


class FunctionDelta(BaseModel):
    """A piece of a function call: the name (usually whole, sometimes split) and argument text."""

    model_config = _TOLERANT
    name: str | None = None
    arguments: str | None = None


class ToolCallFragment(BaseModel):
    """One fragment of one tool call; fragments with the same ``index`` belong together."""

    model_config = _TOLERANT
    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionDelta | None = None


class ChunkDelta(BaseModel):
    """What one chunk adds to the assistant's message."""

    model_config = _TOLERANT
    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallFragment] | None = None
    function_call: FunctionDelta | None = None
    reasoning_content: str | None = Field(
        default=None, validation_alias=AliasChoices("reasoning_content", "reasoning")
    )
    reasoning_content_signature: str | None = None
    redacted_reasoning_content: str | None = None


class Choice(BaseModel):
    model_config = _TOLERANT
    index: int = 0
    delta: ChunkDelta = Field(default_factory=ChunkDelta)
    finish_reason: str | None = None
    logprobs: Any = None


class Usage(BaseModel):
    model_config = _TOLERANT
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class ChatCompletionChunk(BaseModel):
    """An OpenAI ``chat.completion.chunk``, tolerant of what real servers send."""

    model_config = _TOLERANT
    id: str | None = None
    object: str = "chat.completion.chunk"
    created: int | datetime | None = None
    model: str | None = None
    system_fingerprint: str | None = None
    # A plain default, which pydantic copies per instance: ``default_factory=list`` had pydantic
    # read list's signature from its text, compiling a tokenizer that cost a command's start-up
    # more than building every model here.
    choices: list[Choice] = []
    usage: Usage | None = None
    # Letta's Anthropic conversion reports output tokens on the chunk itself.
    output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class StreamFault:
    """Something in a stream that is not a chunk and must reach the output.

    ``kind`` is ``"error"`` for an error event or error object inside the stream (Anthropic
    ``event: error``, Groq ``event: error``, an OpenRouter chunk with ``error``, OpenAI Responses
    ``response.failed``), ``"incomplete"`` for a stream that ended without its terminator or was
    cut, and ``"refusal"`` for a model refusal that carries text.
    """

    kind: Literal["error", "incomplete", "refusal"]
    message: str
    error_type: str | None = None
    status: int | None = None

    def describe(self) -> str:
        """The one-line text an error message in the output carries."""
        prefix = self.error_type or self.kind
        return f"{prefix}: {self.message}" if self.message else prefix


@functools.cache
def validator(model: type[BaseModel]) -> "SchemaValidator":
    """``model``'s pydantic-core validator, built on first use (the models defer building it,
    for start-up). Its ``validate_python`` and ``validate_json`` are what ``model_validate`` and
    ``model_validate_json`` call, minus their layer of Python: a fifth of validating a small
    chunk, paid per chunk of a replay."""
    model.model_rebuild()
    built: SchemaValidator = model.__pydantic_validator__  # type: ignore[assignment]
    return built


def parse_chunk(data: str | bytes | dict[str, Any]) -> ChatCompletionChunk:
    """Validate one chunk from its JSON text (fast path) or an already-decoded mapping.

    Raises :class:`~streamreel.core.errors.ChunkError` naming the first problem.
    """
    chunks = validator(ChatCompletionChunk)
    try:
        if isinstance(data, dict):
            return chunks.validate_python(data)  # type: ignore[no-any-return]
        return chunks.validate_json(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "the chunk"
        got = first.get("input")
        shown = repr(got) if not isinstance(got, str | bytes) else repr(got[:60])
        kind = "valid JSON" if first.get("type") == "json_invalid" else "a chat.completion.chunk"
        raise ChunkError(
            f"cannot read chunk: expected {kind}, got {first.get('msg', 'an error')} at {where}"
            f" ({shown}); fix or remove this chunk"
        ) from None


def parse_chunk_line(line: str) -> ChatCompletionChunk | None:
    """Parse one line of a chunk file: JSON, optionally behind ``data: ``.

    Returns ``None`` for lines that carry no chunk: blank lines, SSE comments, ``[DONE]``.
    """
    text = line.strip()
    if text.startswith("data:"):
        text = text[5:].lstrip()
    if not text or text == "[DONE]" or text.startswith(":"):
        return None
    return parse_chunk(text)


def select_choice(chunk: ChatCompletionChunk, index: int) -> ChatCompletionChunk:
    """The chunk as if choice ``index`` were the only one (renumbered 0).

    A request with ``n`` > 1 streams several choices; the parser takes the first as the agent's
    step. Passing every chunk through this first makes another choice the step instead; a chunk
    that carries only other choices keeps its usage and loses its choices.
    """
    kept = [
        choice.model_copy(update={"index": 0}) for choice in chunk.choices if choice.index == index
    ]
    return chunk.model_copy(update={"choices": kept})
