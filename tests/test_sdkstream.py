"""The official SDKs' own streams, built from cassettes and decoded by the SDKs themselves."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import conftest
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
        # cohere renamed its stream event classes after 5.15; the events are the same.
        ("MessageStartV2ChatStreamResponse", "MessageStartStreamedChatResponseV2"),
        ("MessageEndV2ChatStreamResponse", "MessageEndStreamedChatResponseV2"),
    ),
    ("ollama-chat-ndjson", None, "ChatResponse", "ChatResponse"),
    ("openai-assistants-requires-action", None, "ThreadRunCreated", "ThreadRunRequiresAction"),
    (
        "gemini-interactions-thought-summary",
        None,
        # google-genai typed each Interactions event by its own class from after 1.55.
        ("InteractionCreatedEvent", "InteractionEvent"),
        ("InteractionCompletedEvent", "InteractionEvent"),
    ),
]
BEDROCK = ["bedrock-converse-stream-tool-use", "bedrock-invoke-claude-stream"]


def _named(items: list[Any], first: str | tuple[str, ...], last: str | tuple[str, ...]) -> bool:
    """Whether the first and last items are of the classes named (any of them, in a tuple)."""
    names = type(items[0]).__name__, type(items[-1]).__name__
    return all(
        name in (want if isinstance(want, tuple) else (want,))
        for name, want in zip(names, (first, last), strict=True)
    )


@pytest.mark.parametrize(("name", "sdk", "first", "last"), STREAMS)
def test_the_sdk_decodes_the_recorded_stream_synchronously(
    name: str, sdk: str | None, first: str | tuple[str, ...], last: str | tuple[str, ...]
) -> None:
    items = list(sdk_stream(CASSETTES / f"{name}.yaml", sdk=sdk))
    assert _named(items, first, last), [type(item).__name__ for item in items]


@pytest.mark.parametrize(("name", "sdk", "first", "last"), STREAMS)
def test_the_sdk_decodes_the_recorded_stream_asynchronously(
    name: str, sdk: str | None, first: str | tuple[str, ...], last: str | tuple[str, ...]
) -> None:
    async def collect() -> list[Any]:
        stream = await async_sdk_stream(CASSETTES / f"{name}.yaml", sdk=sdk)
        return [item async for item in stream]

    items = asyncio.run(collect())
    assert _named(items, first, last), [type(item).__name__ for item in items]


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
    import httpx
    import httpx2
    import openai

    # openai 3 wraps the cut in its APIConnectionError; releases before it let the HTTP
    # library's own error through.
    cut = (openai.APIConnectionError, httpx.RemoteProtocolError, httpx2.RemoteProtocolError)
    with pytest.raises(cut):
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


def test_a_paced_async_stream_takes_the_recorded_time() -> None:
    path = CASSETTES / "anthropic-thinking-tool-use.yaml"
    cassette = streamreel.load_cassette(path)
    last = cassette.interactions[0].response.body_chunks()[-1].offset_ms / 1000.0

    async def timed(pace: bool) -> float:
        start = time.perf_counter()
        stream = await async_sdk_stream(cassette, pace=pace, speed=2.0)
        assert [event async for event in stream]
        return time.perf_counter() - start

    assert asyncio.run(timed(pace=True)) >= last / 2.0 * 0.9


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


CORPUS = conftest.CORPUS  # ../shared/corpus beside the project, or $STREAMREEL_CORPUS
LEGACY_COMPLETIONS = (
    CORPUS / "openai" / "openllmetry__test_completions__test_completion_streaming_with_events"
    "_with_content.yaml"
)


@pytest.mark.skipif(not LEGACY_COMPLETIONS.is_file(), reason="the shared corpus is absent")
def test_openais_legacy_completions_stream_from_the_corpus() -> None:
    items = list(sdk_stream(LEGACY_COMPLETIONS))
    assert {type(item).__name__ for item in items} == {"Completion"}
    assert "".join(item.choices[0].text for item in items if item.choices)


def test_anthropics_legacy_completions_need_an_sdk_that_has_them() -> None:
    import anthropic

    if hasattr(anthropic.Anthropic(api_key="k"), "completions"):
        items = list(sdk_stream(CASSETTES / "anthropic-legacy-complete.yaml"))
        assert type(items[0]).__name__ == "Completion"
    else:
        with pytest.raises(ConfigurationError, match="pip install 'anthropic<1'"):
            sdk_stream(CASSETTES / "anthropic-legacy-complete.yaml")


def test_the_http_library_is_the_one_the_installed_sdk_imports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    import httpx
    import httpx2
    from streamreel.playback import sdkstream

    today = types.ModuleType("today_base_client")
    today.httpx2 = httpx2  # type: ignore[attr-defined]
    older = types.ModuleType("older_base_client")
    older.httpx = httpx  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "today_base_client", today)
    monkeypatch.setitem(sys.modules, "older_base_client", older)
    assert sdkstream._http_of("today_base_client") is httpx2
    assert sdkstream._http_of("older_base_client") is httpx
    # And an SDK of the older kind is answered through httpx's own transport.
    older_exchange = sdkstream._exchange(
        CASSETTES / "openai-parallel-tool-calls.yaml", None, None, False, 1.0, None
    )
    client = sdkstream._client(httpx, older_exchange, asynchronous=False)
    with client.stream("POST", "https://api.openai.com/v1/chat/completions") as response:
        body = b"".join(response.iter_raw())
    assert body == older_exchange.interaction.response.body


def test_a_request_without_the_required_fields_still_gets_its_stream() -> None:
    from dataclasses import replace

    cassette = streamreel.load_cassette(CASSETTES / "openai-parallel-tool-calls.yaml")
    interaction = cassette.interactions[0]
    bare = replace(interaction, request=replace(interaction.request, body=b"not json"))
    assert len(list(sdk_stream(bare))) == len(list(sdk_stream(interaction)))


def test_a_parser_asks_for_the_beta_anthropic_stream_by_its_sdk_attribute() -> None:
    class Beta:
        sdk = "anthropic.beta"

        def process(self, stream: Any) -> Any:
            for event in stream:
                yield {"type": type(event).__name__}

    anthropic = streamreel.replay(
        CASSETTES / "anthropic-thinking-tool-use.yaml", parser=lambda settings: Beta()
    )
    assert anthropic.messages[0].data == {"type": "BetaRawMessageStartEvent"}
    # On another API the attribute is not the stream's: the recorded API's SDK answers.
    openai = streamreel.replay(
        CASSETTES / "openai-parallel-tool-calls.yaml", parser=lambda settings: Beta()
    )
    assert openai.messages[0].data == {"type": "ChatCompletionChunk"}


def test_a_run_of_sdk_stream_tests_lists_the_cassettes_none_of_them_read(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (pytester.path / "cassettes").mkdir()
    source = CASSETTES / "openai-parallel-tool-calls.yaml"
    for name in ("used", "spare"):
        (pytester.path / "cassettes" / f"{name}.yaml").write_bytes(source.read_bytes())
    pytester.makepyfile(
        test_it="""
        def test_reads_one(sdk_stream):
            assert list(sdk_stream("used"))
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly", "--streamreel-unused", "fail")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*spare.yaml*"])
    assert "used.yaml" not in result.stdout.str().split("unused cassettes", 1)[-1]
