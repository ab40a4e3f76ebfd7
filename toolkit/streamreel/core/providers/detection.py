"""Which provider, API and framing a recorded response is, from the request and the body.

Theory of operation
-------------------

Headers cannot be trusted: some recorders strip every response header (no ``Content-Type``),
one cassette keeps ``Content-Encoding: gzip`` on a body that was already decoded, and Gemini
answers an ``alt=sse`` request's error with a plain JSON body labelled ``text/event-stream``.
So detection reads three things, in this order of trust:

1. the request URL: the host names the provider and the path the API (``/chat/completions``,
   ``/v1/messages``, ``:streamGenerateContent``...), which also recognises the APIs streamreel
   does not adapt;
2. the first few kilobytes of the response body: they decide the framing (``data:`` or
   ``event:`` lines are SSE, ``{`` is one JSON document or NDJSON, ``[`` a JSON array, NUL bytes
   a binary stream) and, when the URL says nothing (a proxy, a local server), the API, from the
   shape of the first payload;
3. the headers and the request body, only to break ties (``application/x-ndjson``,
   ``"stream": false`` sent to Ollama) and to tell an empty body that answers a stream
   request (a stream cut before its first byte, framed as that stream so that decoding it
   reports it incomplete) from an empty body that answers anything else.

Only a bounded prefix of the body is read, so detection costs the same for any body size.
The caller's ``provider`` and ``api`` overrides win over everything detected.

A streamed body of an API that has no adapter raises
:class:`~streamreel.core.errors.UnsupportedStreamError` naming the provider and the API; a whole
JSON
body or an empty one never does, because such a body can still be replayed as it is and an
error body is still readable with :func:`streamreel.core.providers.http_error_fault`. A whole
JSON success whose URL and body name no model API at all gets the api :data:`NON_MODEL`: it is
a reply from an endpoint that is not a model call, replayed as no messages and labelled so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, cast
from urllib.parse import unquote, urlsplit

from streamreel.core.cassette import GRPC_METHOD, RecordedRequest, RecordedResponse
from streamreel.core.errors import StreamDecodeError, UnsupportedStreamError

__all__ = ["ADAPTED_APIS", "NON_MODEL", "Framing", "StreamKind", "detect_stream"]

Framing: TypeAlias = Literal["sse", "ndjson", "json-array", "eventstream", "json", "none"]
_FRAMINGS: frozenset[str] = frozenset(
    {"sse", "ndjson", "json-array", "eventstream", "json", "none"}
)

ADAPTED_APIS: dict[str, str] = {
    "chat-completions": "Chat Completions",
    "completions": "legacy text Completions",
    "responses": "Responses",
    "messages": "Messages",
    "generate-content": "generateContent",
    "ollama-chat": "Ollama /api/chat",
    "ollama-generate": "Ollama /api/generate",
    "complete": "Anthropic legacy text completions (/v1/complete)",
    "assistants": "OpenAI Assistants runs (thread.* events)",
    "cohere-chat": "Cohere v2 chat",
    "interactions": "Gemini Interactions",
    "invoke-stream": "Bedrock InvokeModelWithResponseStream (AWS eventstream)",
    "converse-stream": "Bedrock ConverseStream (AWS eventstream)",
    "converse": "Bedrock Converse",
}
"""The APIs :class:`~streamreel.core.providers.StreamDecoder` adapts, with a name for messages."""

NON_MODEL = "non-model"
"""The api of a whole JSON reply from an endpoint that is not a model call (Ollama's
``/api/show``, a ``/v1/models`` listing, a token count): replayed as nothing, and said so."""

_REFUSED_APIS: dict[str, str] = {
    "cohere-chat-v1": "Cohere v1 chat",
    "invoke": "Bedrock InvokeModel",
    "invoke-stream-model": "Bedrock InvokeModelWithResponseStream of an unadapted model family",
    "invoke-agent": "Bedrock Agents InvokeAgent (AWS eventstream)",
    "grpc": "gRPC chat",
    "unknown": "an unrecognised API",
}

_REFUSAL_REASONS: dict[str, str] = {
    "invoke-agent": (
        "an agent's stream interleaves traces of the agent's own orchestration (prompts,"
        " rationales, action-group calls it runs itself) with a final answer in base64 chunks:"
        " it is not a model's reply, and no chunk of it is a call the client must make"
    ),
    "grpc": (
        "xAI's gRPC messages are protobuf, kept by recorders only as decoded JSON whose schema"
        " is private to xAI's SDK, so there is no wire format to adapt"
    ),
    "invoke-stream-model": (
        "each model family streams its own native payloads inside the chunks; Anthropic, Meta,"
        " Mistral, Amazon and Cohere models are adapted, AI21, DeepSeek and Writer ones are not"
    ),
    "cohere-chat-v1": "Cohere's v1 chat is deprecated; record with the v2 API (/v2/chat)",
}

_STREAM_ONLY = frozenset({"assistants", "interactions", "invoke-stream", "converse-stream"})
"""Adapted APIs whose whole (non-streamed) JSON replies are not: an Assistants run or an
interaction is fetched object by object, and Bedrock's stream operations have whole-reply
twins of their own (``invoke``, ``converse``)."""

EVENTSTREAM_APIS = frozenset(
    {"invoke-stream", "invoke-stream-model", "converse-stream", "invoke-agent"}
)
"""The APIs whose streams are AWS event-stream messages rather than text."""

_HEAD = 4096


@dataclass(frozen=True, slots=True)
class StreamKind:
    """What a recorded response is: who sent it, which API, and how its body is framed.

    ``framing`` is ``"json"`` for a body that is one JSON document (a non-streamed reply or an
    error) and ``"none"`` for an empty body.
    """

    provider: str
    api: str
    framing: Framing
    model: str | None = field(default=None, compare=False)
    """The model the request named, for APIs whose stream never names it (Bedrock Converse,
    Cohere); None elsewhere. Not part of a kind's identity."""

    @property
    def adapted(self) -> bool:
        """Whether streamreel has an adapter for this API."""
        return self.api in ADAPTED_APIS

    @property
    def model_reply(self) -> bool:
        """False for a reply streamreel knows is not a model's (:data:`NON_MODEL`)."""
        return self.api != NON_MODEL

    def describe(self) -> str:
        if not self.model_reply:
            return f"{self.provider} reply that is not a model's (no messages to replay)"
        name = ADAPTED_APIS.get(self.api) or _REFUSED_APIS.get(self.api) or self.api
        return f"{self.provider} {name}"


def unsupported(kind: StreamKind, *, whole: bool = False) -> UnsupportedStreamError:
    """The error for a stream (or, with ``whole``, a whole reply) of an API without an adapter."""
    reason = _REFUSAL_REASONS.get(kind.api)
    why = f" ({reason})" if reason else ""
    what = "whole reply" if whole else f"{kind.framing} stream"
    return UnsupportedStreamError(
        f"cannot adapt the {what} of {kind.describe()}: expected one of"
        f" {', '.join(sorted(ADAPTED_APIS))}, got api {kind.api!r}{why}; this stream is"
        " unsupported, replay its bytes as recorded or pass provider=/api= if detection"
        " guessed wrong"
    )


def whole_reply_adapted(api: str) -> bool:
    """Whether a whole (non-streamed) JSON reply of ``api`` can be turned into chunks."""
    return api in ADAPTED_APIS and api not in _STREAM_ONLY


# Host suffixes, most specific first.
_HOSTS: tuple[tuple[str, str], ...] = (
    ("openai.azure.com", "azure-openai"),
    ("azure.com", "azure-openai"),
    ("openai.com", "openai"),
    ("anthropic.com", "anthropic"),
    ("googleapis.com", "gemini"),
    ("groq.com", "groq"),
    ("deepseek.com", "deepseek"),
    ("mistral.ai", "mistral"),
    ("openrouter.ai", "openrouter"),
    ("together.ai", "together"),
    ("together.xyz", "together"),
    ("huggingface.co", "huggingface"),
    ("writer.com", "writer"),
    ("z.ai", "zai"),
    ("bigmodel.cn", "zai"),
    ("cohere.com", "cohere"),
    ("cohere.ai", "cohere"),
    ("amazonaws.com", "bedrock"),
    ("x.ai", "xai"),
    ("fireworks.ai", "fireworks"),
    ("cerebras.ai", "cerebras"),
    ("perplexity.ai", "perplexity"),
)

_OLLAMA_PORT = 11434
_OPENAI_SHAPED = frozenset({"chat-completions", "completions", "responses"})
_RESPONSES_PATH = re.compile(r"/responses(/[^/]+)?$")
_BEDROCK_PATH = re.compile(
    r"^/model/[^/]+/(converse-stream|converse|invoke-with-response-stream|invoke)$"
)
_SSE_START = re.compile(r"(data|event|id|retry)(:|\r|\n|$)")


def _provider_from_url(host: str, port: int | None, path: str) -> str | None:
    for suffix, provider in _HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return provider
    if port == _OLLAMA_PORT or path in ("/api/chat", "/api/generate"):
        return "ollama"
    if _BEDROCK_PATH.search(path):
        return "bedrock"  # a proxy or an emulator in front of Bedrock: its paths say so
    return None


def _api_from_url(provider: str | None, path: str) -> str | None:
    path = path.rstrip("/")
    if provider == "bedrock":
        return _bedrock_api(path)
    if provider == "cohere" and path.endswith("/chat"):
        return "cohere-chat" if "/v2/" in path or path == "/v2/chat" else "cohere-chat-v1"
    if provider == "writer" and path.endswith("/v1/chat"):
        return "chat-completions"
    if "/threads" in path or path.endswith("/assistants") or "/assistants/" in path:
        return "assistants"
    if path.endswith("/chat/completions"):
        return "chat-completions"
    if path.endswith("/completions"):
        return "completions"
    if _RESPONSES_PATH.search(path):
        return "responses"
    if path.endswith("/messages") or ":streamrawpredict" in path or ":rawpredict" in path:
        return "messages"
    if path.endswith("/complete"):
        return "complete"
    if ":streamgeneratecontent" in path or ":generatecontent" in path:
        return "generate-content"
    if path.endswith("/interactions") or "/interactions/" in path:
        return "interactions"
    if path == "/api/chat":
        return "ollama-chat"
    if path == "/api/generate":
        return "ollama-generate"
    return None


# Bedrock model families whose native payloads streamreel does not adapt.
_REFUSED_FAMILIES = ("ai21", "deepseek", "writer")

# What may stand before the family in an inference profile's id ("us.meta.llama3-...").
_REGION_PREFIXES = frozenset({"us", "eu", "apac", "us-gov", "global", "jp", "au", "ca"})


def bedrock_family(model: str) -> str:
    """The provider family of a Bedrock model id (``meta``, ``anthropic``...), region prefix and
    ARN removed; ``""`` when the id names none."""
    name = model.rsplit("/", 1)[-1].lower()
    parts = name.split(".")
    if len(parts) > 2 and parts[0] in _REGION_PREFIXES:
        parts = parts[1:]
    return parts[0] if len(parts) > 1 else ""


def _bedrock_model(path: str) -> str | None:
    match = re.search(r"/model/([^/]+)/", path)
    return match.group(1) if match else None


def _bedrock_api(path: str) -> str:
    if path.endswith("/converse-stream"):
        return "converse-stream"
    if path.endswith("/invoke-with-response-stream"):
        if bedrock_family(_bedrock_model(path) or "") in _REFUSED_FAMILIES:
            return "invoke-stream-model"
        return "invoke-stream"
    if path.endswith("/converse"):
        return "converse"
    if "/agents/" in path and "/sessions/" in path:
        return "invoke-agent"
    return "invoke"


# Markers of the first payload, for bodies whose URL names no API. Order matters: the most
# specific marker of each API comes before markers another API could share.
_BODY_MARKERS: tuple[tuple[str, str, str], ...] = (
    ('"chat.completion.chunk"', "chat-completions", "openai-compatible"),
    ('"chat.completion"', "chat-completions", "openai-compatible"),
    ('"text_completion"', "completions", "openai-compatible"),
    ('"type":"response.', "responses", "openai-compatible"),
    ('"type": "response.', "responses", "openai-compatible"),
    ("event: response.", "responses", "openai-compatible"),
    ("event: message_start", "messages", "anthropic"),
    ('"type":"message_start"', "messages", "anthropic"),
    ('"type": "message_start"', "messages", "anthropic"),
    ("event: thread.", "assistants", "openai"),
    ("event: completion", "complete", "anthropic"),
    ('"event_type"', "interactions", "gemini"),
    ("event: message-start", "cohere-chat", "cohere"),
    ('"type":"message-start"', "cohere-chat", "cohere"),
    ('"candidates"', "generate-content", "gemini"),
    ('"done":', "ollama-chat", "ollama"),
)


def _api_from_body(head: str) -> tuple[str, str] | None:
    for marker, api, provider in _BODY_MARKERS:
        if marker in head:
            if api == "ollama-chat" and '"message"' not in head and '"response"' in head:
                return "ollama-generate", provider
            return api, provider
    return None


def _head(body: bytes) -> tuple[bytes, str]:
    raw = body[:_HEAD]
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    raw = raw.lstrip(b" \t\r\n")
    return raw, raw.decode("utf-8", errors="replace")


def _framing(
    raw: bytes,
    text: str,
    api: str | None,
    request: RecordedRequest,
    response: RecordedResponse,
) -> Framing | Literal["binary"]:
    if not raw:
        return _empty_framing(api, request, response)
    content_type = (response.header("content-type") or "").lower()
    first = text[0]
    if first == "{":
        if "ndjson" in content_type or "stream+json" in content_type:
            return "ndjson"
        if api in ("ollama-chat", "ollama-generate") and response.status < 400:
            sent = request.json()
            streamed = not isinstance(sent, dict) or sent.get("stream") is not False
            return "ndjson" if streamed else "json"
        return "json"
    if first == "[":
        return "json-array" if api == "generate-content" and response.status < 400 else "json"
    if api in EVENTSTREAM_APIS and response.status < 400:
        return "eventstream"
    if first == ":" or _SSE_START.match(text):
        return "sse"
    if b"\0" in raw or "eventstream" in content_type or "grpc" in content_type:
        return "binary"
    if "event-stream" in content_type:
        return "sse"
    return "json"


def _empty_framing(
    api: str | None, request: RecordedRequest, response: RecordedResponse
) -> Framing:
    """An empty body is nothing, unless a stream was asked for: then it is a stream cut at once.

    Framing it as the stream it should have been lets the decoder report it incomplete, instead
    of replaying an empty success.
    """
    if response.status >= 400 or api not in ADAPTED_APIS:
        return "none"
    if api in EVENTSTREAM_APIS:
        return "eventstream"  # the URL itself asked for a stream
    sent = request.json()
    query = urlsplit(request.uri).query.lower()
    if api == "generate-content" and ":streamgeneratecontent" in request.uri.lower():
        return "sse" if "alt=sse" in query else "json-array"
    if isinstance(sent, dict) and sent.get("stream") is True:
        return "ndjson" if api in ("ollama-chat", "ollama-generate") else "sse"
    if "stream=true" in query:
        return "sse"
    return "none"


def detect_stream(
    request: RecordedRequest,
    response: RecordedResponse,
    *,
    provider: str | None = None,
    api: str | None = None,
) -> StreamKind:
    """The kind of ``response``, from ``request``'s URL and body and a sniff of the body.

    ``provider`` and ``api`` override what detection finds. Raises
    :class:`~streamreel.core.errors.UnsupportedStreamError` for a streamed body of an API without an
    adapter, and :class:`~streamreel.core.errors.StreamDecodeError` for a body still
    gzip-compressed.
    """
    if response.body.startswith(b"\x1f\x8b"):
        raise StreamDecodeError(
            "cannot detect the stream: expected identity-encoded bytes, got a gzip body;"
            " load the cassette with streamreel.cassettes.storage, which decompresses bodies"
        )
    parts = urlsplit(request.uri)
    path = unquote(parts.path).lower()
    host = (parts.hostname or "").lower()
    found_provider: str | None
    found_api: str | None
    if parts.scheme == "grpc" or request.method.upper() == GRPC_METHOD:
        # The only LLM SDK whose gRPC calls these recorders keep is xAI's.
        model = parts.path.lower()
        found_provider, found_api = ("xai" if model.startswith("grok") else "unknown"), "grpc"
    else:
        try:
            port = parts.port
        except ValueError:
            port = None
        found_provider = _provider_from_url(host, port, path)
        found_api = _api_from_url(found_provider, path)
        if found_provider == "gemini" and found_api == "messages":
            found_provider = "anthropic"  # Claude served by Vertex AI speaks Messages
    raw, text = _head(response.body)
    if found_api in ("messages", "complete") and found_provider != "bedrock":
        # Anthropic's formats name themselves in their first event: a proxy, a gateway or the
        # emulator on loopback serving one does not make it another provider's stream.
        sniffed = _api_from_body(text)
        if sniffed == (found_api, "anthropic"):
            found_provider = "anthropic"
    if found_api is None and api is None:
        sniffed = _api_from_body(text)
        if sniffed is not None:
            found_api, body_provider = sniffed
            found_provider = found_provider or body_provider
    chosen_api = api or found_api or "unknown"
    if found_provider is None and chosen_api in _OPENAI_SHAPED:
        found_provider = "openai-compatible"  # a local or self-hosted server (vLLM, LM Studio...)
    chosen_provider = provider or found_provider or "unknown"
    framing = _framing(raw, text, chosen_api, request, response)
    if framing == "binary":
        kind = StreamKind(chosen_provider, chosen_api, "none")
        raise UnsupportedStreamError(
            f"cannot adapt the binary stream of {kind.describe()}: expected text (SSE, NDJSON or"
            f" JSON), got {response.header('content-type') or 'bytes with NUL characters'};"
            " this stream is unsupported, replay its bytes as recorded"
        )
    if chosen_api == "grpc":
        framing = "ndjson"  # a gRPC call is a message stream whatever its first bytes look like
    if chosen_api == "unknown" and framing == "json" and response.status < 400:
        # Neither the URL nor the body names a model API: a model listing, /api/show, a token
        # count. It is what was recorded, not a fault; an error body still reads as one.
        chosen_api = NON_MODEL
    kind = StreamKind(chosen_provider, chosen_api, framing, _requested_model(request))
    if framing not in ("json", "none") and not kind.adapted:
        raise unsupported(kind)
    return kind


def _requested_model(request: RecordedRequest) -> str | None:
    """The model the request named: Bedrock's is in the URL, others' in the JSON body."""
    model = _bedrock_model(unquote(urlsplit(request.uri).path))
    if model is not None:
        return model
    sent = request.json() if request.body[:1] == b"{" else None
    value = sent.get("model") if isinstance(sent, dict) else None
    return value if isinstance(value, str) else None


def check_framing(framing: str) -> Framing:
    """``framing`` if it is one streamreel knows, else a :class:`StreamDecodeError`."""
    if framing not in _FRAMINGS:
        raise StreamDecodeError(
            f"cannot decode the stream: expected a framing among {', '.join(sorted(_FRAMINGS))},"
            f" got {framing!r}; pass one of those"
        )
    return cast(Framing, framing)
