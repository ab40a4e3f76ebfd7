"""Recording one live provider session: what ``streamreel record`` runs.

:func:`record_session` makes a single call with the provider's official SDK inside
:func:`streamreel.recording.recorder.record`, so the cassette holds exactly what the SDK sent and
received,
and reports the streamed text as it arrives through a callback (the command prints it).  This is
one of the few places provider names belong: it is the adapter from "a prompt for provider X" to
that provider's SDK call.

The key comes from the provider's usual environment variable (``OPENAI_API_KEY``,
``ANTHROPIC_API_KEY``, ``CO_API_KEY``, ``GEMINI_API_KEY``; ``openai-compatible`` servers use
``OPENAI_API_KEY`` like the SDK does) unless ``api_key`` is given. Bedrock takes its credentials
from boto3's own chain (environment, profile, role) and Ollama needs none.

The SDKs of Bedrock (``boto3``), Cohere (``cohere``), Gemini (``google-genai``) and Ollama
(``ollama``) are optional: a session with one that is not installed stops before any call with
a message naming the package to install.

The SDK's retries are turned off: a retried call would record two interactions for one command,
and a recording should show the failure that happened.

A call that fails (an HTTP error, a stream cut, an error event) is saved like any other, with the
failure in it, and raised as a :class:`~streamreel.core.errors.ProviderError` whose text holds
the provider's error on one line: the command prints it instead of the SDK's traceback.  The
output path is checked as writable before the provider is called.

Tool definitions are read from a JSON file holding a list (or ``{"tools": [...]}``) in either
provider's shape, and converted when needed, so one file serves both providers.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args

from streamreel.core.errors import (
    ConfigurationError,
    ProviderError,
    RecordingError,
    StreamreelError,
)
from streamreel.core.wording import counted
from streamreel.recording.recorder import ChunkObserver, Recording, RecordMode, record

__all__ = [
    "API_KEY_VARIABLES",
    "SDK_PACKAGES",
    "Provider",
    "SessionResult",
    "load_tools",
    "record_session",
]

Provider = Literal[
    "openai", "anthropic", "openai-compatible", "bedrock", "cohere", "gemini", "ollama"
]

_ERROR_WIDTH: Final = 400

API_KEY_VARIABLES: Final[Mapping[str, str]] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "openai-compatible": "OPENAI_API_KEY",
    "cohere": "CO_API_KEY",
    "gemini": "GEMINI_API_KEY",
}

SDK_PACKAGES: Final[Mapping[str, tuple[str, str]]] = {
    "bedrock": ("boto3", "boto3"),
    "cohere": ("cohere", "cohere"),
    "gemini": ("google.genai", "google-genai"),
    "ollama": ("ollama", "ollama"),
}
"""For the optional SDKs: the module to import and the package that provides it."""


@dataclass(frozen=True, slots=True)
class SessionResult:
    """What a recorded session produced."""

    text: str
    output: Path
    interactions: int
    saved: bool


def record_session(
    provider: Provider,
    *,
    model: str,
    prompt: str,
    output: str | os.PathLike[str],
    base_url: str | None = None,
    tools: str | os.PathLike[str] | None = None,
    stream: bool = True,
    on_message: Callable[[str], None] | None = None,
    on_chunk: ChunkObserver | None = None,
    mode: RecordMode | str = RecordMode.ALL,
    max_tokens: int = 1024,
    api_key: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> SessionResult:
    """Send ``prompt`` to ``model`` once with the official SDK and record it to ``output``.

    ``on_message`` receives each piece of assistant text as it streams (the whole text once when
    ``stream`` is False); ``on_chunk`` receives each recorded body chunk (see ``record``).
    ``mode`` defaults to ``all``: asking for a recording means calling the provider, even when
    ``output`` already exists; other interactions in it are kept.
    """
    if provider not in get_args(Provider):
        raise ConfigurationError(
            f"cannot record a session: expected a provider among "
            f"{', '.join(get_args(Provider))}, got {provider!r}; do pick one of those"
        )
    if provider == "openai-compatible" and not base_url:
        raise ConfigurationError(
            "cannot record an openai-compatible session: expected a base URL, got none; "
            "do pass base_url (for example http://localhost:8000/v1)"
        )
    variables = os.environ if environ is None else environ
    sdk = _sdk(provider)
    key = api_key or (_key_from(provider, variables) if provider in API_KEY_VARIABLES else "")
    definitions = load_tools(tools, provider) if tools is not None else None
    emit = on_message if on_message is not None else _ignore
    call = _Call(model, prompt, definitions, stream, max_tokens, emit)
    recording = record(output, mode=mode, on_chunk=on_chunk)
    try:
        with recording:
            if provider == "anthropic":
                text = _anthropic(
                    key, base_url, model, prompt, definitions, stream, max_tokens, emit
                )
            elif provider == "bedrock":
                text = _bedrock(sdk, base_url, variables, call)
            elif provider == "cohere":
                text = _cohere(sdk, key, base_url, call)
            elif provider == "gemini":
                text = _gemini(sdk, key, base_url, call)
            elif provider == "ollama":
                text = _ollama(sdk, base_url, call)
            else:
                text = _openai(key, base_url, model, prompt, definitions, stream, emit)
    except StreamreelError:
        raise
    except Exception as exc:
        if not _is_provider_error(exc):
            raise
        raise _provider_error(provider, model, exc, recording) from exc
    saved = recording.cassette
    return SessionResult(
        text=text,
        output=Path(output),
        interactions=len(saved.interactions) if saved is not None else 0,
        saved=recording.saved,
    )


def _is_provider_error(exc: BaseException) -> bool:
    """An error of the SDKs or their HTTP client: the provider's failure, not a bug here."""
    import httpx

    kinds: list[type[BaseException]] = [httpx.HTTPError]
    for name in ("openai", "anthropic"):
        module = sys.modules.get(name)
        if module is not None:
            kinds.append(module.APIError)
    # The optional SDKs' own errors, and those of the HTTP clients under them.
    for name, attribute in _OTHER_ERRORS:
        found = getattr(sys.modules.get(name), attribute, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            kinds.append(found)
    return isinstance(exc, tuple(kinds))


_OTHER_ERRORS: Final = (
    ("botocore.exceptions", "BotoCoreError"),
    ("botocore.exceptions", "ClientError"),
    ("cohere.core.api_error", "ApiError"),
    ("google.genai.errors", "APIError"),
    ("ollama", "ResponseError"),
    ("urllib3.exceptions", "HTTPError"),
    ("requests", "RequestException"),
    ("aiohttp", "ClientError"),
)


def _provider_error(
    provider: str, model: str, exc: BaseException, recording: Recording
) -> ProviderError:
    shown = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(shown) > _ERROR_WIDTH:
        shown = shown[: _ERROR_WIDTH - 3] + "..."
    if recording.saved:
        count = len(recording.cassette.interactions) if recording.cassette is not None else 0
        kept = f"the failed call is saved ({counted(count, 'interaction')}); do replay it, or retry"
    else:
        kept = "nothing was recorded; do check the base URL, the key and the model, then retry"
    return ProviderError(
        f"cannot record the {provider} session with {model}: expected a reply, got {shown}; {kept}",
        path=recording.path,
        saved=recording.saved,
    )


def _ignore(_: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class _Call:
    """One call's settings, whatever the SDK."""

    model: str
    prompt: str
    tools: list[dict[str, Any]] | None
    stream: bool
    max_tokens: int
    emit: Callable[[str], None]

    def collect(self, pieces: Iterable[str | None]) -> str:
        """Emit each piece of text as it comes and return them joined."""
        seen: list[str] = []
        for piece in pieces:
            if piece:
                seen.append(piece)
                if self.stream:
                    self.emit(piece)
        text = "".join(seen)
        if text and not self.stream:
            self.emit(text)
        return text


def _sdk(provider: str) -> Any:
    """The optional SDK module of ``provider`` (None for the ones streamreel depends on)."""
    if provider not in SDK_PACKAGES:
        return None
    module, package = SDK_PACKAGES[provider]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigurationError(
            f"cannot record a {provider} session: expected the {package} package (the"
            f" provider's official SDK), got it not installed; do pip install {package}"
            f" (or pip install 'streamreel[{provider}]')"
        ) from None


def _key_from(provider: str, environ: Mapping[str, str]) -> str:
    variable = API_KEY_VARIABLES[provider]
    key = environ.get(variable, "").strip()
    if not key:
        raise RecordingError(
            f"cannot record a {provider} session: expected an API key in ${variable}, "
            f"got it unset or empty; do export {variable}=... (or pass api_key)"
        )
    return key


def load_tools(path: str | os.PathLike[str], provider: Provider) -> list[dict[str, Any]]:
    """Tool definitions from a JSON file, in ``provider``'s shape."""
    where = Path(path)
    try:
        document = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot read tool definitions: expected a JSON file, got {exc}; do check the file",
            path=where,
        ) from exc
    if isinstance(document, dict) and isinstance(document.get("tools"), list):
        document = document["tools"]
    if not isinstance(document, list) or not all(isinstance(t, dict) for t in document):
        raise ConfigurationError(
            "cannot read tool definitions: expected a JSON list of tool objects, "
            f"got {type(document).__name__}; do write a list like [{{'name': ...}}]",
            path=where,
        )
    try:
        if provider == "anthropic":
            return [_as_anthropic(tool) for tool in document]
        if provider == "bedrock":
            return [_as_bedrock(tool) for tool in document]
        if provider == "gemini":
            return [_as_gemini(tool) for tool in document]
        return [_as_openai(tool) for tool in document]
    except KeyError as exc:
        raise ConfigurationError(
            f"cannot read tool definitions: expected every tool to have a name, got one "
            f"without {exc}; do add it",
            path=where,
        ) from exc


def _as_openai(tool: dict[str, Any]) -> dict[str, Any]:
    if "function" in tool:
        return tool
    function: dict[str, Any] = {"name": tool["name"]}
    if "description" in tool:
        function["description"] = tool["description"]
    schema = tool.get("input_schema", tool.get("parameters"))
    if schema is not None:
        function["parameters"] = schema
    return {"type": "function", "function": function}


def _as_anthropic(tool: dict[str, Any]) -> dict[str, Any]:
    if "input_schema" in tool:
        return tool
    function = tool.get("function", tool)
    converted: dict[str, Any] = {"name": function["name"]}
    if "description" in function:
        converted["description"] = function["description"]
    converted["input_schema"] = function.get("parameters", {"type": "object", "properties": {}})
    return converted


def _as_bedrock(tool: dict[str, Any]) -> dict[str, Any]:
    if "toolSpec" in tool:
        return tool
    converted = _as_anthropic(tool)
    spec: dict[str, Any] = {"name": converted["name"]}
    if "description" in converted:
        spec["description"] = converted["description"]
    spec["inputSchema"] = {"json": converted["input_schema"]}
    return {"toolSpec": spec}


def _as_gemini(tool: dict[str, Any]) -> dict[str, Any]:
    converted = _as_openai(tool)["function"]
    return {
        key: converted[key] for key in ("name", "description", "parameters") if key in converted
    }


def _bedrock(boto3: Any, base_url: str | None, environ: Mapping[str, str], call: _Call) -> str:
    config: Any = importlib.import_module("botocore.config")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    client = boto3.client(
        "bedrock-runtime",
        region_name=region,
        endpoint_url=base_url,
        config=config.Config(retries={"max_attempts": 1}),
    )
    request: dict[str, Any] = {
        "modelId": call.model,
        "messages": [{"role": "user", "content": [{"text": call.prompt}]}],
        "inferenceConfig": {"maxTokens": call.max_tokens},
    }
    if call.tools:
        request["toolConfig"] = {"tools": call.tools}
    if not call.stream:
        reply = client.converse(**request)
        blocks = reply.get("output", {}).get("message", {}).get("content", [])
        return call.collect(block.get("text") for block in blocks)
    events = client.converse_stream(**request)["stream"]
    try:
        return call.collect(
            event.get("contentBlockDelta", {}).get("delta", {}).get("text") for event in events
        )
    finally:
        events.close()


def _cohere(cohere: Any, key: str, base_url: str | None, call: _Call) -> str:
    client = cohere.ClientV2(api_key=key, base_url=base_url)
    request: dict[str, Any] = {
        "model": call.model,
        "messages": [{"role": "user", "content": call.prompt}],
        "max_tokens": call.max_tokens,
        # Per request: cohere releases before 5.16 take no max_retries on the client.
        "request_options": {"max_retries": 0},
    }
    if call.tools:
        request["tools"] = call.tools
    if not call.stream:
        reply = client.chat(**request)
        return call.collect(getattr(part, "text", None) for part in reply.message.content or [])

    def pieces() -> Iterator[str | None]:
        for event in client.chat_stream(**request):
            if event.type == "content-delta":
                yield event.delta.message.content.text

    return call.collect(pieces())


def _gemini(google_genai: Any, key: str, base_url: str | None, call: _Call) -> str:
    from google.genai import types

    options = types.HttpOptions(base_url=base_url) if base_url else None
    client = google_genai.Client(api_key=key, http_options=options)
    config: dict[str, Any] = {"max_output_tokens": call.max_tokens}
    if call.tools:
        config["tools"] = [{"function_declarations": call.tools}]
    if not call.stream:
        reply = client.models.generate_content(
            model=call.model, contents=call.prompt, config=config
        )
        return call.collect([reply.text])
    chunks = client.models.generate_content_stream(
        model=call.model, contents=call.prompt, config=config
    )
    return call.collect(chunk.text for chunk in chunks)


def _ollama(ollama: Any, base_url: str | None, call: _Call) -> str:
    client = ollama.Client(host=base_url)
    request: dict[str, Any] = {
        "model": call.model,
        "messages": [{"role": "user", "content": call.prompt}],
    }
    if call.tools:
        request["tools"] = call.tools
    if not call.stream:
        return call.collect([client.chat(**request).message.content])
    parts = client.chat(stream=True, **request)
    return call.collect(part.message.content for part in parts)


def _openai(
    key: str,
    base_url: str | None,
    model: str,
    prompt: str,
    tools: list[dict[str, Any]] | None,
    stream: bool,
    emit: Callable[[str], None],
) -> str:
    import openai

    client = openai.OpenAI(api_key=key, base_url=base_url, max_retries=0)
    messages: Any = [{"role": "user", "content": prompt}]
    # Tools only when given: the SDKs' "omitted" sentinel changed name across releases.
    extra: dict[str, Any] = {"tools": tools} if tools is not None else {}
    with client:
        if not stream:
            completion = client.chat.completions.create(model=model, messages=messages, **extra)
            first = completion.choices[0].message if completion.choices else None
            text = (first.content or "") if first is not None else ""
            if text:
                emit(text)
            return text
        pieces: list[str] = []
        chunks = client.chat.completions.create(
            model=model, messages=messages, stream=True, **extra
        )
        with chunks:
            for chunk in chunks:
                for choice in chunk.choices:
                    if choice.delta.content:
                        pieces.append(choice.delta.content)
                        emit(choice.delta.content)
        return "".join(pieces)


def _anthropic(
    key: str,
    base_url: str | None,
    model: str,
    prompt: str,
    tools: list[dict[str, Any]] | None,
    stream: bool,
    max_tokens: int,
    emit: Callable[[str], None],
) -> str:
    import anthropic

    client = anthropic.Anthropic(api_key=key, base_url=base_url, max_retries=0)
    messages: Any = [{"role": "user", "content": prompt}]
    # Tools only when given: the SDKs' "omitted" sentinel changed name across releases.
    extra: dict[str, Any] = {"tools": tools} if tools is not None else {}
    with client:
        if not stream:
            message = client.messages.create(
                model=model, max_tokens=max_tokens, messages=messages, **extra
            )
            text = "".join(
                cast(Any, block).text for block in message.content if block.type == "text"
            )
            if text:
                emit(text)
            return text
        pieces: list[str] = []
        events = client.messages.create(
            model=model, max_tokens=max_tokens, messages=messages, stream=True, **extra
        )
        with events:
            for event in events:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    pieces.append(event.delta.text)
                    emit(event.delta.text)
        return "".join(pieces)
