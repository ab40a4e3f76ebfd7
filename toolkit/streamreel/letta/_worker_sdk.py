"""The worker that runs Letta 0.16.8's own streaming interfaces in their virtualenv.

Run as a script by the Python of the virtualenv ``streamreel install-letta --version 0.16.8``
builds; never imported by streamreel. It needs the standard library, ``letta`` and the SDKs and
modules Letta's interface modules import.

Letta's package ``__init__`` imports its whole client and server, so an empty ``letta`` package
object stands in for it and only ``letta.interfaces.*`` (and what they import) are loaded.

Each request names the interface (``anthropic``, ``openai``, ``responses``, ``gemini``), the
recorded request body and the recorded response (status, headers, body bytes). The worker
builds the provider's official async SDK client with a transport that answers the recorded
response, makes the call the way Letta's LLM clients make it, and hands the SDK's own stream to
the interface's ``process(stream)``, as ``SimpleLLMStreamAdapter`` does. The reply carries every
message the interface yielded, each as ``model_dump(mode="json")``, and an ``error`` when the
interface or the SDK raised (the messages before it are kept).

Protocol: one JSON object a line each way; the first line out is ``{"ready": true}``.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import os
import sys
import types
from typing import Any

VERSION = "0.16.8"
_BASE = "http://recorded.invalid"


def _import_letta() -> dict[str, Any]:
    spec = importlib.util.find_spec("letta")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the letta package is not installed in this virtualenv")
    package = types.ModuleType("letta")
    package.__path__ = list(spec.submodule_search_locations)
    package.__version__ = VERSION  # type: ignore[attr-defined]
    sys.modules["letta"] = package
    from letta.interfaces.anthropic_parallel_tool_call_streaming_interface import (
        SimpleAnthropicStreamingInterface,
    )
    from letta.interfaces.gemini_streaming_interface import SimpleGeminiStreamingInterface
    from letta.interfaces.openai_streaming_interface import (
        SimpleOpenAIResponsesStreamingInterface,
        SimpleOpenAIStreamingInterface,
    )

    return {
        "anthropic": SimpleAnthropicStreamingInterface,
        "openai": SimpleOpenAIStreamingInterface,
        "responses": SimpleOpenAIResponsesStreamingInterface,
        "gemini": SimpleGeminiStreamingInterface,
    }


def _transport(http: Any, recorded: dict[str, Any]) -> Any:
    """A mock transport of httpx2 (the current SDKs' HTTP client) answering the recording."""
    body = base64.b64decode(recorded["body"])
    headers = [(k, v) for k, values in recorded["headers"].items() for v in values]

    def answer(request: Any) -> Any:
        return http.Response(recorded["status"], headers=headers, content=body, request=request)

    return http.MockTransport(answer)


def _call_arguments(request: dict[str, Any], named: tuple[str, ...]) -> dict[str, Any]:
    """The recorded body as SDK call arguments: ``named`` ones by name, the rest in
    ``extra_body`` (as Letta's clients pass provider extras), so any recorded body is
    accepted whatever the installed SDK's signature. The transport answers the recording
    whatever is sent."""
    arguments = {key: request[key] for key in named if key in request}
    extra = {k: v for k, v in request.items() if k not in named and k != "stream"}
    if extra:
        arguments["extra_body"] = extra
    return arguments


async def _openai_stream(recorded: dict[str, Any], request: dict[str, Any], api: str) -> Any:
    import openai

    http = importlib.import_module("httpx2")
    client = openai.AsyncOpenAI(
        api_key="recorded",
        base_url=f"{_BASE}/v1",
        max_retries=0,
        http_client=http.AsyncClient(transport=_transport(http, recorded)),
    )
    if api == "responses":
        body = _call_arguments({"model": "recorded", **request}, ("model", "input"))
        return await client.responses.create(**body, stream=True)
    body = _call_arguments({"model": "recorded", "messages": [], **request}, ("model", "messages"))
    return await client.chat.completions.create(**body, stream=True)


async def _anthropic_stream(recorded: dict[str, Any], request: dict[str, Any], job: Any) -> Any:
    import anthropic

    http = importlib.import_module("httpx2")
    client_options = {
        "base_url": _BASE,
        "max_retries": 0,
        "http_client": http.AsyncClient(transport=_transport(http, recorded)),
    }
    if job.get("provider") == "bedrock":
        # Letta's Bedrock client: the Anthropic SDK's, which signs the call and decodes AWS's
        # event stream itself.
        client: Any = anthropic.AsyncAnthropicBedrock(
            aws_access_key="recorded",
            aws_secret_key="recorded",
            aws_region="us-east-1",
            **client_options,
        )
    else:
        client = anthropic.AsyncAnthropic(api_key="recorded", **client_options)
    body = _call_arguments(
        {"model": job.get("model") or "recorded", "max_tokens": 1, "messages": [], **request},
        ("model", "max_tokens", "messages"),
    )
    return await client.beta.messages.create(**body, stream=True)


async def _gemini_stream(recorded: dict[str, Any], request: dict[str, Any], model: str) -> Any:
    from google import genai
    from google.genai import types as genai_types

    http = importlib.import_module("httpx2")
    options = genai_types.HttpOptions(
        base_url=_BASE,
        httpx_async_client=http.AsyncClient(transport=_transport(http, recorded)),
    )
    client = genai.Client(api_key="recorded", http_options=options)
    # The transport ignores what is sent; the recorded contents and config are passed as the
    # SDK takes them where it can, so the call is the one that was recorded.
    contents = request.get("contents") or "recorded"
    return await client.aio.models.generate_content_stream(model=model, contents=contents)


def _interface(classes: dict[str, Any], job: dict[str, Any]) -> Any:
    name = job["interface"]
    request = job["request"]
    messages = request.get("messages") or []
    tools = request.get("tools") or []
    if name == "anthropic":
        return classes[name]()
    if name == "gemini":
        return classes[name](model=job.get("model"))
    if name == "responses":
        return classes[name](is_openai_proxy=False, messages=messages, tools=tools)
    return classes[name](
        is_openai_proxy=False, messages=messages, tools=tools, model=job.get("model")
    )


async def _process(classes: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    reply: dict[str, Any] = {"messages": out}
    try:
        name, recorded, request = job["interface"], job["response"], job["request"]
        interface = _interface(classes, job)
        if name == "anthropic":
            stream = await _anthropic_stream(recorded, request, job)
        elif name == "gemini":
            stream = await _gemini_stream(recorded, request, job.get("model") or "gemini")
        else:
            stream = await _openai_stream(recorded, request, name)
        async for message in interface.process(stream):
            dump = getattr(message, "model_dump", None)
            out.append(dump(mode="json") if dump is not None else message)
    except BaseException as exc:
        reply["error"] = {"type": type(exc).__name__, "text": str(exc)[:2000]}
    return reply


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    classes = _import_letta()
    loop = asyncio.new_event_loop()
    protocol.write(json.dumps({"ready": True, "version": VERSION}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        job = json.loads(line)
        reply = loop.run_until_complete(_process(classes, job))
        protocol.write(json.dumps(reply, default=str) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
