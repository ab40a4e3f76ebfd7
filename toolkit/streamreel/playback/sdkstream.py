"""The official SDK's own typed stream, decoded by the SDK from a recorded response.

A parser written against an SDK (Letta 0.8+'s interfaces, pydantic-ai, an in-house agent) reads
that SDK's stream objects, not streamreel's chunks. :func:`sdk_stream` and
:func:`async_sdk_stream` build them from a cassette: an SDK client is made with a transport that
answers every request with the recorded response, piece by piece as it arrived (optionally at
the recorded pace), and the SDK's streaming method is called with the recorded request's
parameters. The SDK itself then decodes the bytes: what a parser sees is exactly what it would
have seen live.

The clients, by the recorded API (``StreamKind.api``), and the ``sdk=`` names that pick them:

* ``chat-completions``, ``responses``, ``completions``, ``assistants``: ``openai``
  (``openai``, ``openai.responses``, ``openai.completions``, ``openai.assistants``), through an
  httpx2 (or httpx) ``MockTransport``;
* ``messages``, ``complete``: ``anthropic`` (``anthropic``, ``anthropic.beta``,
  ``anthropic.completions``, the last only with an SDK that still has legacy completions);
* ``generate-content``, ``interactions``: ``google-genai`` (``google-genai``,
  ``google-genai.interactions``), through an httpx transport;
* ``converse-stream``, ``invoke-stream``: ``boto3``'s ``bedrock-runtime`` client (``bedrock``),
  answered by a botocore ``before-send`` handler; synchronous only, as botocore is;
* ``cohere-chat``: ``cohere``'s ``ClientV2`` (``cohere``); ``ollama-chat`` and
  ``ollama-generate``: ``ollama`` (``ollama``), both through httpx transports.

Which HTTP library a client takes is read from the installed SDK (today's openai and anthropic
use ``httpx2``, older ones ``httpx``). ``position`` is told the index of each body chunk as the
SDK reads it, which is how replay knows which chunk a parser's message came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
import time
import urllib.parse
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from streamreel.core.cassette import Cassette, Interaction, RecordedResponse
from streamreel.core.errors import ConfigurationError, UnsupportedStreamError
from streamreel.core.providers import StreamKind, detect_stream

__all__ = ["SDKS", "async_sdk_stream", "sdk_for", "sdk_stream"]

SDKS: dict[str, str] = {
    "openai": "openai",
    "openai.responses": "openai",
    "openai.completions": "openai",
    "openai.assistants": "openai",
    "anthropic": "anthropic",
    "anthropic.beta": "anthropic",
    "anthropic.completions": "anthropic",
    "google-genai": "google-genai",
    "google-genai.interactions": "google-genai",
    "bedrock": "boto3",
    "cohere": "cohere",
    "ollama": "ollama",
}
"""The SDK names :func:`sdk_stream` takes, with the package each needs installed."""

_API_SDKS: dict[str, str] = {
    "chat-completions": "openai",
    "responses": "openai.responses",
    "completions": "openai.completions",
    "assistants": "openai.assistants",
    "messages": "anthropic",
    "complete": "anthropic.completions",
    "generate-content": "google-genai",
    "interactions": "google-genai.interactions",
    "converse-stream": "bedrock",
    "invoke-stream": "bedrock",
    "cohere-chat": "cohere",
    "ollama-chat": "ollama",
    "ollama-generate": "ollama",
}
_DROPPED_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
_FAKE_KEY = "streamreel-replay"  # the SDKs want a key; the transport never sends one anywhere


def sdk_for(kind: StreamKind) -> str:
    """The SDK whose stream a recorded response of ``kind`` is, by the API it came from."""
    sdk = _API_SDKS.get(kind.api)
    if sdk is None:
        raise UnsupportedStreamError(
            f"cannot build an SDK stream: expected a response of one of "
            f"{', '.join(sorted(_API_SDKS))}, got {kind.describe()}; "
            "replay it through streamreel's chunk parsers instead"
        )
    return sdk


@dataclass(frozen=True, slots=True)
class _Exchange:
    interaction: Interaction
    kind: StreamKind
    sdk: str
    pace: bool
    speed: float
    position: Callable[[int], None] | None


def _exchange(
    source: Interaction | Cassette | str | Path,
    index: int | None,
    sdk: str | None,
    pace: bool,
    speed: float,
    position: Callable[[int], None] | None,
) -> _Exchange:
    if isinstance(source, Interaction):
        interaction = source
    else:
        if not isinstance(source, Cassette):
            from streamreel.cassettes.storage import load_cassette

            source = load_cassette(source)
        interaction = _pick(source, index)
    kind = detect_stream(interaction.request, interaction.response)
    chosen = sdk or sdk_for(kind)
    if chosen not in SDKS:
        raise ConfigurationError(
            f"cannot build an SDK stream: expected sdk to be one of {', '.join(SDKS)}, "
            f"got {chosen!r}; pick one of those or leave it out to follow the recorded API"
        )
    return _Exchange(interaction, kind, chosen, pace, speed, position)


def _pick(cassette: Cassette, index: int | None) -> Interaction:
    interactions = cassette.interactions
    if index is not None:
        if not 0 <= index < len(interactions):
            raise ConfigurationError(
                f"cannot build an SDK stream: expected an interaction index below "
                f"{len(interactions)}, got {index}; count from 0 in file order",
                path=cassette.path,
            )
        return interactions[index]
    for interaction in interactions:
        if interaction.response.status < 400 and interaction.response.body_chunks():
            return interaction
    raise ConfigurationError(
        "cannot build an SDK stream: expected a cassette with a successful response, "
        "got none; pick an interaction with index=",
        path=cassette.path,
    )


def sdk_stream(
    source: Interaction | Cassette | str | Path,
    *,
    index: int | None = None,
    sdk: str | None = None,
    pace: bool = False,
    speed: float = 1.0,
    position: Callable[[int], None] | None = None,
) -> Any:
    """The SDK's own (synchronous) stream of a recorded response, decoded by the SDK.

    ``source`` is an interaction, a cassette or a cassette's path (then ``index`` picks the
    interaction; by default the first successful one). ``sdk`` picks the client (one of
    :data:`SDKS`; by default the one of the recorded API; ``"anthropic.beta"`` gives the
    ``beta`` stream). ``pace`` hands each chunk over at its recorded offset (divided by
    ``speed``). An SDK that is not installed raises an error naming the ``pip install``.
    """
    exchange = _exchange(source, index, sdk, pace, speed, position)
    return _SYNC[exchange.sdk](exchange)


async def async_sdk_stream(
    source: Interaction | Cassette | str | Path,
    *,
    index: int | None = None,
    sdk: str | None = None,
    pace: bool = False,
    speed: float = 1.0,
    position: Callable[[int], None] | None = None,
) -> Any:
    """The SDK's own asynchronous stream of a recorded response; see :func:`sdk_stream`.

    Bedrock has no asynchronous client in botocore, so it is refused here.
    """
    exchange = _exchange(source, index, sdk, pace, speed, position)
    build = _ASYNC.get(exchange.sdk)
    if build is None:
        raise ConfigurationError(
            f"cannot build an asynchronous {exchange.sdk} stream: expected an SDK with an "
            f"async client, got {exchange.sdk} (botocore has none); use sdk_stream instead"
        )
    return await build(exchange)


# -- the recorded body, piece by piece -----------------------------------------------------------


def _pieces(exchange: _Exchange) -> Iterator[tuple[float, bytes]]:
    """The body's chunks with how long to wait before each; the position noted as each goes."""
    start = time.perf_counter()
    for number, piece in enumerate(exchange.interaction.response.body_chunks()):
        wait = 0.0
        if exchange.pace:
            wait = start + piece.offset_ms / exchange.speed / 1000.0 - time.perf_counter()
        if exchange.position is not None:
            exchange.position(number)
        yield wait, piece.data


def _cut_error(http: ModuleType, response: RecordedResponse) -> Exception:
    # A stream that was cut when recorded is cut again, as the network cut it.
    return http.RemoteProtocolError(f"the recorded stream was cut: {response.error}")  # type: ignore[no-any-return]


def _headers(response: RecordedResponse) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name, values in response.headers.items()
        if name.lower() not in _DROPPED_HEADERS
        for value in values
    ]


def _sync_response(http: ModuleType, exchange: _Exchange) -> Any:
    response = exchange.interaction.response

    class Body(http.SyncByteStream):  # type: ignore[name-defined,misc]
        def __iter__(self) -> Iterator[bytes]:
            for wait, data in _pieces(exchange):
                if wait > 0:
                    time.sleep(wait)
                yield data
            if response.error:
                raise _cut_error(http, response)

    return http.Response(response.status, headers=_headers(response), stream=Body())


def _async_response(http: ModuleType, exchange: _Exchange) -> Any:
    response = exchange.interaction.response

    class Body(http.AsyncByteStream):  # type: ignore[name-defined,misc]
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for wait, data in _pieces(exchange):
                if wait > 0:
                    await asyncio.sleep(wait)
                yield data
            if response.error:
                raise _cut_error(http, response)

    return http.Response(response.status, headers=_headers(response), stream=Body())


def _transport(http: ModuleType, exchange: _Exchange, asynchronous: bool) -> Any:
    """An httpx (or httpx2) transport answering every request with the recorded response."""
    if asynchronous:

        async def answer_async(request: Any) -> Any:
            return _async_response(http, exchange)

        return http.MockTransport(answer_async)

    def answer(request: Any) -> Any:
        return _sync_response(http, exchange)

    return http.MockTransport(answer)


def _client(http: ModuleType, exchange: _Exchange, asynchronous: bool) -> Any:
    make = http.AsyncClient if asynchronous else http.Client
    return make(transport=_transport(http, exchange, asynchronous))


def _sdk(module: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"cannot build a {package} stream: expected the {package} SDK, got it not "
            f"installed ({exc}); do pip install {package}"
        ) from exc


def _http_of(base_client: str) -> ModuleType:
    """The HTTP library an httpx-style SDK's clients are made with: httpx2 today, else httpx."""
    module = importlib.import_module(base_client)
    http = getattr(module, "httpx2", None) or getattr(module, "httpx", None)
    if not isinstance(http, ModuleType):
        raise ConfigurationError(
            f"cannot build an SDK stream: expected {base_client} to use httpx2 or httpx, got "
            "neither; install a supported SDK version"
        )
    return http


def _body(exchange: _Exchange) -> dict[str, Any]:
    body = exchange.interaction.request.json()
    return dict(body) if isinstance(body, dict) else {}


# What the SDKs' methods insist on, for a recorded request without it (a body that was not
# JSON, a client that sent less): the transport answers whatever is asked.
_REQUIRED: dict[str, Any] = {"model": "", "messages": [], "max_tokens": 1, "prompt": ""}


def _arguments(method: Callable[..., Any], body: dict[str, Any]) -> dict[str, Any]:
    """The request's fields as the method's keywords; the ones it does not name go as extra_body.

    A request recorded from a newer SDK (or another client) may carry fields this SDK's
    signature lacks; they are sent as they were rather than refused.
    """
    accepted = inspect.signature(method).parameters
    named = {key: value for key, value in body.items() if key in accepted}
    for key, value in _REQUIRED.items():
        if key in accepted and accepted[key].default is inspect.Parameter.empty:
            named.setdefault(key, value)
    extra = {key: value for key, value in body.items() if key not in accepted}
    if extra and "extra_body" in accepted:
        named["extra_body"] = extra
    named["stream"] = True
    return named


def _base_url(exchange: _Exchange, marker: str) -> str:
    uri = exchange.interaction.request.uri
    head, found, _ = uri.partition(marker)
    return head if found else uri.rsplit("/", 1)[0]


# -- OpenAI and Anthropic ------------------------------------------------------------------------


def _openai_method(client: Any, exchange: _Exchange) -> Any:
    match exchange.sdk:
        case "openai.responses":
            return client.responses.create
        case "openai.completions":
            return client.completions.create
        case "openai.assistants":
            # The run's thread is in the path: /threads/{thread_id}/runs.
            parts = urllib.parse.urlsplit(exchange.interaction.request.uri).path.split("/")
            thread = parts[parts.index("threads") + 1] if "threads" in parts[:-1] else "thread"
            return functools.partial(client.beta.threads.runs.create, thread)
        case _:
            return client.chat.completions.create


def _openai_marker(sdk: str) -> str:
    return {
        "openai.responses": "/responses",
        "openai.completions": "/completions",
        "openai.assistants": "/threads/",
    }.get(sdk, "/chat/completions")


def _openai_arguments(method: Any, exchange: _Exchange) -> dict[str, Any]:
    target = method.func if isinstance(method, functools.partial) else method
    return _arguments(target, _body(exchange))


@contextlib.contextmanager
def _replaying(exchange: _Exchange) -> Iterator[None]:
    """Quiet the SDK's deprecation notice for an API that was recorded: it is not being used."""
    with warnings.catch_warnings():
        if exchange.sdk == "openai.assistants":
            warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _anthropic_method(client: Any, sdk: str) -> Any:
    if sdk == "anthropic.completions":
        completions = getattr(client, "completions", None)
        if completions is None:  # the legacy text completions left the SDK after 0.x
            raise ConfigurationError(
                "cannot build a stream of Anthropic's legacy text completions: expected an "
                "anthropic SDK that still has them (0.x releases do), got one without; do "
                "pip install 'anthropic<1' in another environment, or replay through "
                "streamreel's own parsers"
            )
        return completions.create
    return client.beta.messages.create if sdk == "anthropic.beta" else client.messages.create


def _openai_style_call(exchange: _Exchange, asynchronous: bool) -> tuple[Any, dict[str, Any]]:
    """The streaming method of an openai or anthropic client answered by the recording, and
    its keywords: the two SDKs are built alike (clients, transports, streams)."""
    package = SDKS[exchange.sdk]
    sdk = _sdk(package, package)
    http = _http_of(f"{package}._base_client")
    name = "OpenAI" if package == "openai" else "Anthropic"
    make = getattr(sdk, f"Async{name}" if asynchronous else name)
    marker = _openai_marker(exchange.sdk) if package == "openai" else "/v1/"
    client = make(
        api_key=_FAKE_KEY,
        base_url=_base_url(exchange, marker),
        http_client=_client(http, exchange, asynchronous),
        max_retries=0,
    )
    if package == "openai":
        method = _openai_method(client, exchange)
        return method, _openai_arguments(method, exchange)
    method = _anthropic_method(client, exchange.sdk)
    return method, _arguments(method, _body(exchange))


def _openai_style(exchange: _Exchange) -> Any:
    method, keywords = _openai_style_call(exchange, asynchronous=False)
    with _replaying(exchange):
        return method(**keywords)


async def _async_openai_style(exchange: _Exchange) -> Any:
    method, keywords = _openai_style_call(exchange, asynchronous=True)
    with _replaying(exchange):
        return await method(**keywords)


# -- google-genai --------------------------------------------------------------------------------


def _gemini_call(exchange: _Exchange) -> tuple[str, dict[str, Any]]:
    """The model and ``generate_content_stream``'s keywords, from the recorded REST request."""
    path = urllib.parse.urlsplit(exchange.interaction.request.uri).path
    model = path.rsplit("/", 1)[-1].split(":", 1)[0] or "gemini"
    body = _body(exchange)
    config: dict[str, Any] = dict(
        body.get("generationConfig") or body.get("generation_config") or {}
    )
    for rest, sdk_name in (
        ("tools", "tools"),
        ("systemInstruction", "system_instruction"),
        ("system_instruction", "system_instruction"),
        ("toolConfig", "tool_config"),
        ("safetySettings", "safety_settings"),
    ):
        if rest in body:
            config[sdk_name] = body[rest]
    keywords: dict[str, Any] = {"model": model, "contents": body.get("contents") or ""}
    if config:
        keywords["config"] = config
    return model, keywords


def _genai_client(exchange: _Exchange, asynchronous: bool) -> Any:
    genai = _sdk("google.genai", "google-genai")
    import httpx  # google-genai's clients take httpx's

    options: dict[str, Any] = {
        "base_url": _base_url(exchange, "/v1"),
        "retry_options": None,
    }
    key = "httpx_async_client" if asynchronous else "httpx_client"
    options[key] = _client(httpx, exchange, asynchronous)
    return genai.Client(api_key=_FAKE_KEY, http_options=genai.types.HttpOptions(**options))


def _gemini(exchange: _Exchange) -> Any:
    client = _genai_client(exchange, asynchronous=False)
    if exchange.sdk == "google-genai.interactions":
        return client.interactions.create(**{**_body(exchange), "stream": True})
    _, keywords = _gemini_call(exchange)
    return client.models.generate_content_stream(**keywords)


async def _async_gemini(exchange: _Exchange) -> Any:
    client = _genai_client(exchange, asynchronous=True)
    if exchange.sdk == "google-genai.interactions":
        return await client.aio.interactions.create(**{**_body(exchange), "stream": True})
    _, keywords = _gemini_call(exchange)
    return await client.aio.models.generate_content_stream(**keywords)


# -- Cohere and Ollama ---------------------------------------------------------------------------


def _cohere_stream(exchange: _Exchange, asynchronous: bool) -> Any:
    cohere = _sdk("cohere", "cohere")
    import httpx  # Cohere's clients take httpx's

    make = cohere.AsyncClientV2 if asynchronous else cohere.ClientV2
    client = make(
        api_key=_FAKE_KEY,
        base_url=_base_url(exchange, "/v2/"),
        httpx_client=_client(httpx, exchange, asynchronous),
    )
    body = _body(exchange)
    body.pop("stream", None)  # chat_stream streams by its name
    return client.chat_stream(**body)


def _cohere(exchange: _Exchange) -> Any:
    return _cohere_stream(exchange, asynchronous=False)


async def _async_cohere(exchange: _Exchange) -> Any:
    return _cohere_stream(exchange, asynchronous=True)  # an async iterator, not awaited


def _ollama_call(exchange: _Exchange, asynchronous: bool) -> tuple[Any, dict[str, Any]]:
    ollama = _sdk("ollama", "ollama")
    import httpx  # Ollama's clients pass their keywords on to httpx's

    make = ollama.AsyncClient if asynchronous else ollama.Client
    client = make(
        host=_base_url(exchange, "/api/"),
        transport=_transport(httpx, exchange, asynchronous),
    )
    body = _body(exchange)
    body["stream"] = True
    method = client.generate if exchange.kind.api == "ollama-generate" else client.chat
    accepted = inspect.signature(method).parameters
    return method, {key: value for key, value in body.items() if key in accepted}


def _ollama(exchange: _Exchange) -> Any:
    method, keywords = _ollama_call(exchange, asynchronous=False)
    return method(**keywords)


async def _async_ollama(exchange: _Exchange) -> Any:
    method, keywords = _ollama_call(exchange, asynchronous=True)
    return await method(**keywords)


# -- Bedrock -------------------------------------------------------------------------------------


class _BotocoreBody:
    """What botocore reads an event stream's body from: ``stream()`` and ``read()``."""

    def __init__(self, exchange: _Exchange) -> None:
        self._exchange = exchange

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        for wait, data in _pieces(self._exchange):
            if wait > 0:
                time.sleep(wait)
            yield data
        error = self._exchange.interaction.response.error
        if error:
            from botocore.exceptions import ResponseStreamingError  # type: ignore[import-untyped]

            raise ResponseStreamingError(error=f"the recorded stream was cut: {error}")

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        return b"".join(data for _, data in _pieces(self._exchange))

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


def _bedrock(exchange: _Exchange) -> Any:
    boto3 = _sdk("boto3", "boto3")
    from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    request = exchange.interaction.request
    parts = urllib.parse.urlsplit(request.uri)
    region = (
        parts.hostname.split(".")[1] if parts.hostname and "." in parts.hostname else "us-east-1"
    )
    segments = parts.path.split("/")
    model = urllib.parse.unquote(segments[2]) if len(segments) > 2 else "model"
    client = boto3.client(
        "bedrock-runtime",
        region_name=region,
        endpoint_url=f"{parts.scheme}://{parts.netloc}",
        aws_access_key_id=_FAKE_KEY,
        aws_secret_access_key=_FAKE_KEY,
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    response = exchange.interaction.response

    def answer(**kwargs: Any) -> Any:
        headers = {name: ", ".join(values) for name, values in response.headers.items()}
        for dropped in _DROPPED_HEADERS:
            headers.pop(dropped, None)
        return AWSResponse(request.uri, response.status, headers, _BotocoreBody(exchange))

    client.meta.events.register("before-send.bedrock-runtime.*", answer)
    if exchange.kind.api == "invoke-stream":
        result = client.invoke_model_with_response_stream(
            modelId=model, body=request.body, contentType="application/json"
        )
    else:
        result = client.converse_stream(modelId=model, **_body(exchange))
    return result["stream"] if "stream" in result else result["body"]


_SYNC: dict[str, Callable[[_Exchange], Any]] = {
    "openai": _openai_style,
    "openai.responses": _openai_style,
    "openai.completions": _openai_style,
    "openai.assistants": _openai_style,
    "anthropic": _openai_style,
    "anthropic.beta": _openai_style,
    "anthropic.completions": _openai_style,
    "google-genai": _gemini,
    "google-genai.interactions": _gemini,
    "bedrock": _bedrock,
    "cohere": _cohere,
    "ollama": _ollama,
}
_ASYNC: dict[str, Callable[[_Exchange], Any]] = {
    "openai": _async_openai_style,
    "openai.responses": _async_openai_style,
    "openai.completions": _async_openai_style,
    "openai.assistants": _async_openai_style,
    "anthropic": _async_openai_style,
    "anthropic.beta": _async_openai_style,
    "anthropic.completions": _async_openai_style,
    "google-genai": _async_gemini,
    "google-genai.interactions": _async_gemini,
    "cohere": _async_cohere,
    "ollama": _async_ollama,
}


def request_fields(interaction: Interaction) -> dict[str, Any]:
    """The recorded request's JSON fields (messages, tools, ...), or an empty dict."""
    body = interaction.request.json()
    return dict(body) if isinstance(body, dict) else {}
