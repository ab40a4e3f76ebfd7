"""Letta 0.16.8's own streaming interfaces, fed the official SDKs' streams of recorded bytes.

Theory of operation
-------------------
From 0.8 on, Letta's server streams through ``letta/interfaces/*_streaming_interface.py``,
whose ``process(stream)`` takes the provider SDK's own async stream (``AsyncStream`` of
``ChatCompletionChunk``, Responses events or ``BetaRawMessageStreamEvent``, or google-genai's
responses). 0.16.8 is its last server release. Its package imports half the server, and it
wants newer SDKs than Letta 0.7.8, so it gets a virtualenv of its own,
``~/.cache/streamreel/letta-0.16.8`` (``$STREAMREEL_LETTA_0_16_8_VENV`` overrides), built by
``streamreel install-letta --version 0.16.8``: ``letta==0.16.8`` without dependencies plus
:data:`REQUIREMENTS`, the set its interface modules need to import (with Letta's own pins where
it has them). Nothing of Letta or those SDKs is imported here.

A worker (``_worker_sdk.py``) runs in that virtualenv. For each recorded exchange it builds the
provider's async SDK client over a transport that answers the recorded response, makes the
call Letta's LLM client makes, and hands the SDK's stream to the interface
``SimpleLLMStreamAdapter`` would choose: ``SimpleAnthropicStreamingInterface`` for Anthropic,
``SimpleOpenAIResponsesStreamingInterface`` when the request has ``input`` and no ``messages``,
else ``SimpleOpenAIStreamingInterface``, ``SimpleGeminiStreamingInterface`` for Gemini; each is
given the request's messages and tools. ``letta@0.16.8:anthropic`` (``openai``, ``responses``,
``gemini``) picks one by hand. The messages come back as Letta's wire JSON
(``model_dump(mode="json")``), as plain dicts; where Letta or the SDK raised, an error record
follows the messages yielded before.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from streamreel.core.cassette import Interaction
from streamreel.core.chunks import ChatCompletionChunk
from streamreel.core.errors import ConfigurationError, StreamreelError
from streamreel.core.providers import StreamDecoder, StreamKind
from streamreel.letta.real import (
    _installed,
    _worker_for,
    build_worker_venv,
)

__all__ = [
    "INSTALL_COMMAND",
    "INTERFACES",
    "REQUIREMENTS",
    "VERSION",
    "LettaSdkInterface",
    "choose_interface",
    "install",
    "reads",
    "require",
    "venv_path",
]

VERSION = "0.16.8"
INSTALL_COMMAND = f"streamreel install-letta --version {VERSION}"
INTERFACES = ("anthropic", "openai", "responses", "gemini")
"""The interfaces by the names ``letta@0.16.8:NAME`` takes."""

# What letta/interfaces/*_streaming_interface.py import, directly and through the schema, log,
# settings and telemetry modules they load: found by importing them in a bare virtualenv.
# Letta's own pins where it declares them; the rest unpinned, as Letta leaves them.
REQUIREMENTS = (
    "openai>=2.24.0",
    "anthropic>=0.75.0",
    "google-genai>=1.52.0",
    "pydantic>=2.10.6",
    "pydantic-settings>=2.2.1",
    "httpx>=0.28.0",
    "pyyaml>=6.0.1",
    "pytz>=2023.3.post1",
    "demjson3>=3.0.6",
    "pathvalidate>=3.2.1",
    "pyhumps>=3.8.0",
    "numpy>=2.1.0",
    "sqlalchemy[asyncio]>=2.0.41",
    "mcp[cli]>=1.9.4",
    "opentelemetry-api==1.30.0",
    "opentelemetry-sdk==1.30.0",
    "opentelemetry-exporter-otlp==1.30.0",
    "opentelemetry-instrumentation-requests==0.51b0",
    "fastapi",
    "asyncpg",
    "aiohttp",
    "tiktoken",
    # Letta's bedrock extra: the Anthropic SDK's Bedrock client signs and decodes with botocore.
    "boto3>=1.36.24",
)

_WORKER = Path(__file__).with_name("_worker_sdk.py")
_ENV = "STREAMREEL_LETTA_0_16_8_VENV"


def venv_path() -> Path:
    """Where Letta 0.16.8's virtualenv lives: ``$STREAMREEL_LETTA_0_16_8_VENV``, else the cache."""
    chosen = os.environ.get(_ENV)
    if chosen:
        return Path(chosen).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "streamreel" / f"letta-{VERSION}"


def install(venv: Path | None = None, *, log: Callable[[str], None] | None = None) -> Path:
    """Build Letta 0.16.8's virtualenv (once) and return its path."""
    target = venv or venv_path()
    build_worker_venv(target, VERSION, REQUIREMENTS, _WORKER, log=log)
    return target


def require(venv: Path | None = None) -> Path:
    """The virtualenv, or a :class:`ConfigurationError` saying the command that builds it."""
    target = venv or venv_path()
    if not _installed(target, REQUIREMENTS):
        raise ConfigurationError(
            f"cannot run the letta@{VERSION} parser: expected Letta {VERSION} installed in "
            f"{target} with this streamreel's requirements, got none (or one built for "
            f"others); do run `{INSTALL_COMMAND}` (or set {_ENV} to one it built)"
        )
    return target


def reads(kind: StreamKind) -> bool:
    """Whether Letta 0.16.8 streams this kind of exchange at all: the four APIs its interfaces
    read, and Bedrock's InvokeModelWithResponseStream (its Bedrock client's call), as streams."""
    if kind.framing in ("json", "none"):
        return False
    if kind.provider == "bedrock":
        return kind.api == "invoke-stream"
    return kind.api in ("chat-completions", "responses", "messages", "generate-content")


def choose_interface(interaction: Interaction, kind: StreamKind) -> str:
    """The interface ``SimpleLLMStreamAdapter`` uses for this exchange's provider and request."""
    if kind.api == "messages" or kind.provider in ("anthropic", "bedrock"):
        return "anthropic"
    if kind.api == "generate-content" or kind.provider in ("gemini", "vertex"):
        return "gemini"
    request = interaction.request.json()
    if not isinstance(request, dict):
        # A body-less request (a Responses stream resumed by GET) can only be Responses.
        return "responses" if kind.api == "responses" else "openai"
    if "input" in request and "messages" not in request:
        return "responses"
    return "openai"


class LettaSdkInterface:
    """Letta 0.16.8's interfaces as a parser: ``process_exchange(interaction, kind)``.

    ``interface`` forces one of :data:`INTERFACES`; None chooses as Letta's adapter does.
    ``mask`` (the default) replaces what Letta makes up on every run (message ids, otids, run
    and step ids, dates, tool-call ids it generated) by numbered placeholders, the same value
    the same placeholder, so two replays of one cassette print the same messages.
    """

    def __init__(
        self, interface: str | None = None, *, venv: Path | None = None, mask: bool = True
    ) -> None:
        if interface is not None and interface not in INTERFACES:
            raise ConfigurationError(
                f"cannot choose Letta {VERSION}'s interface: expected one of "
                f"{', '.join(INTERFACES)}, got {interface!r}; do write letta@{VERSION}:NAME "
                "with one of those names"
            )
        self.interface = interface
        self._venv = require(venv)
        self._mask = _Masker() if mask else None

    @property
    def venv(self) -> Path:
        """The virtualenv whose worker runs Letta for this parser."""
        return self._venv

    def process_exchange(self, interaction: Interaction, kind: StreamKind) -> Iterator[Any]:
        """Letta's messages for one recorded exchange, as plain dicts of its wire JSON."""
        request = interaction.request.json()
        response = interaction.response
        if kind.framing in ("json", "none") and response.status < 400:
            # Letta's streaming path never receives a whole reply: there is nothing to stream.
            yield {
                "message_type": "error_message",
                "error": f"Letta {VERSION}'s streaming interfaces read streams: this exchange "
                f"is a whole {kind.framing} reply, not a stream",
            }
            return
        if response.status < 400 and not reads(kind):
            yield {
                "message_type": "error_message",
                "error": f"Letta {VERSION}'s streaming path does not read {kind.provider} "
                f"{kind.api} streams: its server calls other APIs for that provider, or none",
            }
            return
        body = b"".join(piece.data for piece in response.body_chunks()) or response.body
        if kind.framing == "json-array" and response.status < 400:
            body = _as_sse(body)
        job = {
            "interface": self.interface or choose_interface(interaction, kind),
            "provider": kind.provider,
            "request": request if isinstance(request, dict) else {},
            "model": _model(interaction, kind),
            "response": {
                "status": response.status,
                "headers": response.headers,
                "body": base64.b64encode(body).decode("ascii"),
            },
        }
        reply = _worker_for(self._venv, _WORKER).call(job)
        if self._mask is None:
            yield from reply["messages"]
        else:
            known = _provider_ids(kind, body)
            yield from (self._mask.masked(message, known) for message in reply["messages"])
        if "error" in reply:
            error = reply["error"]
            yield {
                "message_type": "error_message",
                "error": f"Letta {VERSION} raised {error['type']}: {error['text']}",
            }


def _model(interaction: Interaction, kind: StreamKind) -> str:
    """The model Letta's config would name: the request's, the kind's, an Azure deployment's
    or a Gemini URL's (those two name it only in the path)."""
    request = interaction.request.json()
    if isinstance(request, dict) and isinstance(request.get("model"), str):
        return str(request["model"])
    if kind.model:
        return kind.model
    path = interaction.request.uri.split("?", 1)[0]
    for marker in ("/deployments/", "/models/"):
        if marker in path:
            return path.split(marker, 1)[1].split("/", 1)[0].split(":", 1)[0]
    return "unknown"


def _as_sse(body: bytes) -> bytes:
    """A JSON-array stream (Gemini without ``alt=sse``) framed as the SSE the SDK asks for.

    google-genai always requests SSE and reads nothing else; the elements are passed on as
    recorded, one ``data:`` event each. A body that is not a JSON array stays as it is, for
    the SDK to refuse.
    """
    try:
        elements = json.loads(body)
    except ValueError:
        return body
    if not isinstance(elements, list):
        return body
    return b"".join(
        b"data: " + json.dumps(element).encode("utf-8") + b"\r\n\r\n" for element in elements
    )


# Values Letta makes up on every run: its message ids and the otids built on them, the dates it
# stamps (the time of the run), its run and step ids.
_VOLATILE = ("id", "otid", "run_id", "step_id")


def _provider_ids(kind: StreamKind, body: bytes) -> set[str]:
    """The tool-call ids the recorded stream itself carries (decoded: Bedrock's are inside
    base64 event payloads), or every id-like run of the body when it cannot be decoded."""
    decoder = StreamDecoder(kind)
    try:
        outputs = [*decoder.feed(body), *decoder.close()]
    except StreamreelError:
        return set(re.findall(r"[\w-]+", body.decode("utf-8", "replace")))
    return {
        fragment.id
        for chunk in outputs
        if isinstance(chunk, ChatCompletionChunk)
        for choice in chunk.choices
        for fragment in choice.delta.tool_calls or ()
        if fragment.id
    }


class _Masker:
    """Numbered placeholders for what Letta makes up, the same value the same placeholder.

    A tool-call id is kept when the recorded stream carries it (it is the provider's) and masked
    when Letta made it up (Gemini's calls, whose ids Letta generates).
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], str] = {}

    def _placeholder(self, key: str, value: str) -> str:
        found = self._seen.get((key, value))
        if found is None:
            number = sum(1 for kind, _ in self._seen if kind == key) + 1
            found = self._seen[(key, value)] = f"<{key} {number}>"
        return found

    def masked(self, message: Any, known: set[str]) -> Any:
        if not isinstance(message, dict):
            return message
        out: dict[str, Any] = {}
        for key, value in message.items():
            if key in _VOLATILE and isinstance(value, str):
                out[key] = self._placeholder(key, value)
            elif key == "date" and isinstance(value, str):
                out[key] = "<date>"
            elif isinstance(value, dict):
                out[key] = self._call(value, known)
            elif isinstance(value, list):
                out[key] = [self._call(v, known) if isinstance(v, dict) else v for v in value]
            else:
                out[key] = value
        return out

    def _call(self, value: dict[str, Any], known: set[str]) -> dict[str, Any]:
        call_id = value.get("tool_call_id")
        if isinstance(call_id, str) and call_id not in known:
            return {**value, "tool_call_id": self._placeholder("tool_call_id", call_id)}
        return value


def letta_sdk_parser(interface: str | None = None) -> LettaSdkInterface:
    """``letta@0.16.8`` (``interface`` None) or ``letta@0.16.8:NAME``."""
    return LettaSdkInterface(interface)
