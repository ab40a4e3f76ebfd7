"""Provider streams in, ``chat.completion.chunk`` objects out.

::

    kind = detect_stream(request, response)          # provider, API, framing
    decoder = StreamDecoder(kind, status=response.status)
    items = decoder.feed(body_piece) ...             # chunks and faults, in order
    items += decoder.close()                         # + StreamFault("incomplete") if cut

Adapted APIs (the ``api`` of :class:`StreamKind`): ``chat-completions`` (OpenAI and every
compatible server: Azure, Groq, DeepSeek, Mistral, OpenRouter, Together, Hugging Face, vLLM,
Z.ai, Writer), ``completions`` (legacy text completions), ``responses`` (OpenAI Responses, also
from DeepSeek and OpenRouter), ``messages`` (Anthropic), ``generate-content`` (Gemini and
Vertex, ``alt=sse`` or a JSON array), ``ollama-chat``, ``ollama-generate``, ``complete``
(Anthropic's legacy ``/v1/complete``), ``cohere-chat`` (Cohere v2), ``converse`` (Bedrock's whole
Converse reply), and, as streams only, ``assistants`` (OpenAI Assistants runs),
``interactions`` (Gemini Interactions), ``invoke-stream`` (Bedrock
InvokeModelWithResponseStream of Claude, Llama, Mistral, Titan, Nova and Cohere) and
``converse-stream`` (Bedrock ConverseStream);
Bedrock's two streams arrive as AWS event streams (:mod:`streamreel.core.eventstream`).

Recognised but refused with :class:`~streamreel.core.errors.UnsupportedStreamError`, the reason
in the message: Bedrock Agents InvokeAgent, gRPC (xAI), InvokeModelWithResponseStream of
AI21, DeepSeek and Writer models, and Cohere's v1 chat.

Every module here is sans-I/O: pure, synchronous and push-driven.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamreel.core.providers._adapter import Adapter, Output
    from streamreel.core.providers.detection import (
        ADAPTED_APIS,
        Framing,
        StreamKind,
        detect_stream,
    )
    from streamreel.core.providers.pipeline import (
        StreamDecoder,
        chunks_from_json_body,
        http_error_fault,
        make_adapter,
    )

# The names load on first use: the decoder pulls in every provider's adapter, which a chunk
# file's replay (or anything that only names a StreamKind) never needs.
_HOME = {
    "ADAPTED_APIS": "detection",
    "Adapter": "_adapter",
    "Framing": "detection",
    "Output": "_adapter",
    "StreamDecoder": "pipeline",
    "StreamKind": "detection",
    "chunks_from_json_body": "pipeline",
    "detect_stream": "detection",
    "http_error_fault": "pipeline",
    "make_adapter": "pipeline",
}

__all__ = [
    "ADAPTED_APIS",
    "Adapter",
    "Framing",
    "Output",
    "StreamDecoder",
    "StreamKind",
    "chunks_from_json_body",
    "detect_stream",
    "http_error_fault",
    "make_adapter",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
