"""The official SDKs' own streams, built from cassettes and decoded by the SDKs themselves."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import streamreel
from streamreel.core.errors import ConfigurationError
from streamreel.playback.sdkstream import async_sdk_stream, sdk_stream

pytest_plugins = ["pytester"]

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"

# (cassette, sdk, the type name of the first and last item the SDK yields)
STREAMS = [
    ("openai-parallel-tool-calls", None, "ChatCompletionChunk", "ChatCompletionChunk"),
    ("openai-responses-function-call", None, "ResponseCreatedEvent", "ResponseCompletedEvent"),
    ("anthropic-thinking-tool-use", None, "RawMessageStartEvent", "RawMessageStopEvent"),
    (
        "anthropic-thinking-tool-use",
        "anthropic.beta",
        "BetaRawMessageStartEvent",
        "BetaRawMessageStopEvent",
    ),
    ("gemini-sse-function-call", None, "GenerateContentResponse", "GenerateContentResponse"),
    (
        "cohere-v2-tool-plan",
        None,
        "MessageStartV2ChatStreamResponse",
        "MessageEndV2ChatStreamResponse",
    ),
    ("ollama-chat-ndjson", None, "ChatResponse", "ChatResponse"),
]
BEDROCK = ["bedrock-converse-stream-tool-use", "bedrock-invoke-claude-stream"]


def _names(items: list[Any]) -> tuple[str, str]:
    return type(items[0]).__name__, type(items[-1]).__name__


@pytest.mark.parametrize(("name", "sdk", "first", "last"), STREAMS)
def test_the_sdk_decodes_the_recorded_stream_synchronously(
    name: str, sdk: str | None, first: str, last: str
) -> None:
    items = list(sdk_stream(CASSETTES / f"{name}.yaml", sdk=sdk))
    assert _names(items) == (first, last)


@pytest.mark.parametrize(("name", "sdk", "first", "last"), STREAMS)
def test_the_sdk_decodes_the_recorded_stream_asynchronously(
    name: str, sdk: str | None, first: str, last: str
) -> None:
    async def collect() -> list[Any]:
        stream = await async_sdk_stream(CASSETTES / f"{name}.yaml", sdk=sdk)
        return [item async for item in stream]

    assert _names(asyncio.run(collect())) == (first, last)


def test_the_openai_chunks_carry_the_recorded_tool_calls() -> None:
    chunks = list(streamreel.sdk_stream(CASSETTES / "openai-parallel-tool-calls.yaml"))
    names = {
        call.function.name
        for chunk in chunks
        for choice in chunk.choices
        for call in choice.delta.tool_calls or ()
        if call.function and call.function.name
    }
    assert names == {"get_weather"}


@pytest.mark.parametrize("name", BEDROCK)
def test_botocore_decodes_the_recorded_bedrock_event_stream(name: str) -> None:
    events = list(sdk_stream(CASSETTES / f"{name}.yaml"))
    assert events and all(isinstance(event, dict) for event in events)
    if "converse" in name:
        assert "messageStart" in events[0] and "metadata" in events[-1]
    else:
        assert all("chunk" in event for event in events)


def test_bedrock_has_no_async_stream_and_says_so() -> None:
    with pytest.raises(ConfigurationError, match="use sdk_stream instead"):
        asyncio.run(async_sdk_stream(CASSETTES / "bedrock-converse-stream-tool-use.yaml"))


def test_a_stream_cut_when_recorded_is_cut_again_for_the_sdk() -> None:
    import openai

    with pytest.raises(openai.APIConnectionError):
        list(sdk_stream(CASSETTES / "openai-truncated-stream.yaml"))


def test_an_error_event_raises_the_sdks_own_error() -> None:
    import anthropic

    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        list(sdk_stream(CASSETTES / "anthropic-overloaded-mid-stream.yaml"))


def test_a_paced_stream_takes_the_recorded_time() -> None:
    cassette = streamreel.load_cassette(CASSETTES / "gemini-sse-function-call.yaml")
    last = cassette.interactions[0].response.body_chunks()[-1].offset_ms
    start = time.perf_counter()
    list(sdk_stream(cassette, pace=True, speed=4.0))
    paced = time.perf_counter() - start
    assert paced >= last / 4.0 / 1000.0 * 0.9


def test_a_missing_sdk_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cohere", None)  # what an absent package imports as
    with pytest.raises(ConfigurationError, match="pip install cohere"):
        sdk_stream(CASSETTES / "cohere-v2-tool-plan.yaml")


def test_an_unknown_sdk_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"anthropic\.beta"):
        sdk_stream(CASSETTES / "openai-parallel-tool-calls.yaml", sdk="openai.chat")


def test_the_plugin_fixture_builds_the_stream_of_the_marked_cassette(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (pytester.path / "cassettes").mkdir()
    shutil.copy(CASSETTES / "anthropic-thinking-tool-use.yaml", pytester.path / "cassettes")
    pytester.makepyfile(
        test_it="""
        import asyncio
        import pytest

        @pytest.mark.cassette("anthropic-thinking-tool-use")
        def test_sync(sdk_stream):
            events = list(sdk_stream())
            assert events[0].type == "message_start" and events[-1].type == "message_stop"

        @pytest.mark.cassette("anthropic-thinking-tool-use")
        def test_async_beta(sdk_stream):
            async def collect():
                return [e async for e in await sdk_stream(asynchronous=True, sdk="anthropic.beta")]
            assert type(asyncio.run(collect())[0]).__name__ == "BetaRawMessageStartEvent"
        """
    )
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=2)
