"""The bundled scripted cassettes: they are what the code builds, and they replay as intended.

Each cassette shows one provider quirk; the assertions name the messages that quirk must give
(kinds and key texts of the merged messages) and the error entries it must leave, so a parser
regression points at the quirk it broke.
"""

from __future__ import annotations

import json
import re
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
import vcr
from click.testing import CliRunner
from scripted import CHUNK_FILE, SCENARIOS, build_all, chunk_file_text
from scripted import main as scripted_main
from streamreel.cassettes.scrubbing import DEFAULT_SECRET_HEADERS, REDACTED, Scrubber
from streamreel.cassettes.storage import dump_cassette, load_cassette
from streamreel.cli import main
from streamreel.core.cassette import Cassette
from streamreel.core.messages import (
    AgentMessage,
    AssistantMessage,
    ErrorMessage,
    ReasoningMessage,
    ToolCall,
    ToolCallMessage,
    merge_deltas,
)
from streamreel.core.results import InteractionResult, ReplayResult
from streamreel.playback.replay import replay, replay_chunk_file
from streamreel.testing.synthetic import RECORDED_AT, SCRIPTED, scaled_cassette
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
NAMES = list(SCENARIOS)
REGENERATE = "regenerate the bundled cassettes: python devtools/scripted.py cassettes/"


@pytest.fixture(scope="module")
def built() -> dict[str, Cassette]:
    return build_all()


def _replayed(name: str) -> ReplayResult:
    return replay(CASSETTES / f"{name}.yaml")


def _kinds(messages: list[AgentMessage]) -> list[str]:
    return [message.message_type for message in messages]


def _text(message: AgentMessage) -> str:
    if isinstance(message, ReasoningMessage):
        return message.reasoning
    if isinstance(message, AssistantMessage):
        return message.content
    if isinstance(message, ErrorMessage):
        return message.error
    raise AssertionError(f"no text in {message!r}")


def _call(message: AgentMessage) -> ToolCall:
    assert isinstance(message, ToolCallMessage)
    assert isinstance(message.tool_call, ToolCall), "the call's deltas did not merge whole"
    return message.tool_call


def _only(result: ReplayResult) -> InteractionResult:
    assert len(result.interactions) == 1
    return result.interactions[0]


# --------------------------------------------------------------------------------------------
# The files are exactly what the code builds
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_the_file_is_what_the_code_builds(name: str, built: dict[str, Cassette]) -> None:
    text = (CASSETTES / f"{name}.yaml").read_text(encoding="utf-8")
    assert text == dump_cassette(built[name]), REGENERATE


def test_the_chunk_file_is_what_the_code_builds() -> None:
    assert (CASSETTES / CHUNK_FILE).read_text(encoding="utf-8") == chunk_file_text(), REGENERATE


def test_the_folder_holds_the_scripted_set_and_the_readme_lists_it() -> None:
    assert {path.stem for path in CASSETTES.glob("*.yaml")} == set(NAMES)
    readme = (CASSETTES / "README.md").read_text(encoding="utf-8")
    for name in [*NAMES, Path(CHUNK_FILE).stem]:
        assert f"`{name}." in readme, f"cassettes/README.md does not list {name}"


def test_builds_do_not_depend_on_the_run() -> None:
    first, second = build_all(), build_all()
    assert [dump_cassette(c) for c in first.values()] == [dump_cassette(c) for c in second.values()]


def test_the_entry_point_rewrites_the_set(tmp_path: Path, built: dict[str, Cassette]) -> None:
    assert scripted_main([str(tmp_path)]) == 0
    for name in NAMES:
        assert (tmp_path / f"{name}.yaml").read_text(encoding="utf-8") == dump_cassette(built[name])
    assert (tmp_path / CHUNK_FILE).read_text(encoding="utf-8") == chunk_file_text()
    assert scripted_main([]) == 2


# --------------------------------------------------------------------------------------------
# What every scripted cassette promises
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_labelled_synthetic_and_dated(name: str) -> None:
    info = load_cassette(CASSETTES / f"{name}.yaml").info
    assert info.recorded_against == SCRIPTED
    assert info.recorded_at == RECORDED_AT
    assert info.source == "streamreel"


@pytest.mark.parametrize("name", NAMES)
def test_no_secret_reaches_the_file(name: str, built: dict[str, Cassette]) -> None:
    cassette = built[name]
    for interaction in cassette.interactions:
        for header, values in interaction.request.headers.items():
            if header.lower() in DEFAULT_SECRET_HEADERS:
                assert values == [REDACTED]
    # The scrubber finds nothing left to remove.
    assert dump_cassette(Scrubber().scrub_cassette(cassette)) == dump_cassette(cassette)


@pytest.mark.parametrize("name", NAMES)
def test_requests_are_what_an_sdk_sends(name: str, built: dict[str, Cassette]) -> None:
    for interaction in built[name].interactions:
        request = interaction.request
        body = request.json()
        assert request.method == "POST"
        assert isinstance(body, dict)
        # Gemini and Bedrock say "stream" in the URL, the others in the body.
        assert body.get("stream") is True or re.search(
            r"streamGenerateContent|-stream$", request.uri
        )
        assert {"messages", "input", "contents", "prompt", "assistant_id"} & set(body)
        assert request.header("content-length") == str(len(request.body))
        assert request.header("content-type") == "application/json"


@pytest.mark.parametrize("name", NAMES)
def test_arrival_offsets_look_like_a_network(name: str, built: dict[str, Cassette]) -> None:
    for interaction in built[name].interactions:
        chunks = interaction.response.chunks
        assert chunks is not None
        assert b"".join(chunk.data for chunk in chunks) == interaction.response.body
        offsets = [chunk.offset_ms for chunk in chunks]
        assert 50.0 <= offsets[0] <= 1500.0, "time to first chunk"
        gaps = [later - earlier for earlier, later in pairwise(offsets)]
        assert all(0.0 < gap <= 2500.0 for gap in gaps)


def test_every_escape_of_the_demo_is_split_across_chunks() -> None:
    """The demo exists for this: ``\\"``, ``\\n`` and ``\\uXXXX`` cut in two, more than once."""
    pieces = []
    for line in chunk_file_text().splitlines():
        choices = json.loads(line)["choices"]
        for call in choices[0]["delta"].get("tool_calls", []) if choices else []:
            pieces.append(call["function"]["arguments"])
    split = [piece for piece in pieces if piece.endswith("\\") or piece.startswith("\\u")]
    assert len(split) >= 5
    assert any(piece.endswith("\\") for piece in pieces)
    assert any(piece.startswith("\\u") and len(piece) == 4 for piece in pieces)
    assert json.loads("".join(pieces))["message"].startswith("Here is your sign:\n")


# --------------------------------------------------------------------------------------------
# What each cassette replays to
# --------------------------------------------------------------------------------------------

SIGN_THOUGHTS = (
    'They want a door sign that says "back tomorrow at 8". Keep it short, in French and '
    "English, and quote it exactly so they can copy it."
)
SIGN = (
    'Here is your sign:\n"Fermé tôt aujourd\'hui — closed early today.\nBack tomorrow at 8 ☕"\n'
    "Want me to pin it to the café's page as well?"
)


def test_send_message_with_inner_thoughts() -> None:
    result = _replayed("openai-send-message-inner-thoughts")
    first, second = result.interactions
    assert _kinds(first.merged) == ["reasoning_message", "assistant_message"]
    assert [_text(m) for m in first.merged] == [SIGN_THOUGHTS, SIGN]
    assert _kinds(second.merged) == ["reasoning_message", "assistant_message"]
    assert _text(second.merged[1]) == 'Or, in French only: "Fermé tôt — de retour demain à 8 h."'
    # Decoded as it streams: no delta ever shows a backslash or half an escape.
    assert not any("\\" in _text(m) for m in result.messages)
    assert all(r.complete and not r.errors for r in result.interactions)
    assert first.message_id != second.message_id
    assert result.usage.step_count == 2
    assert result.usage.completion_tokens > 0 and result.usage.prompt_tokens > 0
    assert first.timing.time_to_first_chunk_ms is not None


def test_the_chunk_file_replays_like_the_first_step() -> None:
    from_file = replay_chunk_file(CASSETTES / CHUNK_FILE)
    from_cassette = _replayed("openai-send-message-inner-thoughts").interactions[0]
    assert [_text(m) for m in from_file.merged] == [_text(m) for m in from_cassette.merged]
    assert not from_file.errors


def test_parallel_tool_calls_stay_apart() -> None:
    result = _only(_replayed("openai-parallel-tool-calls"))
    assert not result.errors and result.complete
    assert {type(m) for m in result.messages} == {ToolCallMessage}
    # The two calls' deltas alternate; each call's deltas, gathered by otid, merge whole.
    otids = list(dict.fromkeys(m.otid for m in result.messages if isinstance(m, ToolCallMessage)))
    assert len(otids) == 2
    calls = []
    for otid in otids:
        joined = merge_deltas(
            [m for m in result.messages if isinstance(m, ToolCallMessage) and m.otid == otid]
        )
        assert len(joined) == 1
        calls.append(_call(joined[0]))
    assert [call.name for call in calls] == ["get_weather", "get_weather"]
    assert [json.loads(call.arguments) for call in calls] == [
        {"city": "Lisbon", "unit": "celsius"},
        {"city": "Porto", "unit": "celsius"},
    ]
    assert calls[0].tool_call_id != calls[1].tool_call_id


def test_a_split_tool_name_is_still_send_message() -> None:
    result = _only(_replayed("openai-tool-name-split"))
    assert result.request.provider == "openai-compatible"
    assert _kinds(result.merged) == ["reasoning_message", "assistant_message"]
    assert _text(result.merged[1]) == (
        "Yes! Oat milk is available for any drink, at no extra charge."
    )


def test_a_truncated_stream_keeps_what_arrived() -> None:
    result = _only(_replayed("openai-truncated-stream"))
    assert not result.complete
    assert {e.kind for e in result.errors} == {"incomplete", "truncated"}
    assert _kinds(result.merged) == ["reasoning_message", "assistant_message", "error_message"]
    assert _text(result.merged[1]) == "We open at 7:30 on weekdays and at 9 on weekends"
    truncated = next(e for e in result.errors if e.kind == "truncated")
    assert "incomplete chunked read" in truncated.message


def test_http_429_is_an_http_error_entry() -> None:
    result = _only(_replayed("openai-http-429"))
    assert result.status == 429
    [error] = result.errors
    assert (error.kind, error.status, error.error_type) == ("http", 429, "rate_limit_exceeded")
    assert "Rate limit reached" in error.message
    assert _kinds(result.merged) == ["error_message"]


def test_responses_function_call() -> None:
    result = _only(_replayed("openai-responses-function-call"))
    assert result.request.api == "responses"
    assert not result.errors and result.complete
    [message] = result.merged
    call = _call(message)
    assert call.name == "convert_temperature"
    assert json.loads(call.arguments) == {"value": 450, "from_unit": "F", "to_unit": "C"}
    assert call.tool_call_id.startswith("call_")


def test_deepseek_reasoning_then_content() -> None:
    result = _only(_replayed("deepseek-reasoning-content"))
    assert not result.errors and result.complete
    thinking, content = result.merged
    assert isinstance(thinking, ReasoningMessage) and thinking.source == "reasoner_model"
    assert thinking.reasoning.endswith("So 1001 = 7 × 11 × 13: composite.")
    # Without expect_reasoning_content, content reads as the model's inner monologue (Letta).
    assert isinstance(content, ReasoningMessage) and content.source == "non_reasoner_model"
    assert content.reasoning == "No. 1001 = 7 × 11 × 13, so it is not prime."


def test_groq_error_event_ends_the_stream_after_the_reasoning() -> None:
    result = _only(_replayed("groq-error-event"))
    assert _kinds(result.merged) == ["reasoning_message", "error_message"]
    assert _text(result.merged[0]) == "The corner table is table 12; call reserve_table for Friday."
    [error] = result.errors
    assert (error.kind, error.error_type) == ("stream", "tool_use_failed")


def test_anthropic_thinking_then_tool_use() -> None:
    result = _only(_replayed("anthropic-thinking-tool-use"))
    assert not result.errors and result.complete
    thinking, text, tool = result.merged
    assert isinstance(thinking, ReasoningMessage) and thinking.source == "reasoner_model"
    assert thinking.reasoning.startswith("The user asks about tomorrow morning.")
    assert thinking.signature and thinking.signature.endswith("==")
    assert _text(text) == "I'll check your calendar for Monday morning."
    call = _call(tool)
    assert call.name == "search_calendar"
    assert json.loads(call.arguments) == {"date": "2025-06-02", "before": "12:00"}


def test_anthropic_overloaded_error_after_the_text() -> None:
    result = _only(_replayed("anthropic-overloaded-mid-stream"))
    assert _kinds(result.merged) == ["reasoning_message", "error_message"]
    assert _text(result.merged[0]).endswith("The new espresso machine arrives on")
    assert "overloaded" in _text(result.merged[1]).lower()
    [error] = result.errors
    assert (error.kind, error.error_type) == ("stream", "overloaded_error")


def test_gemini_whole_function_call() -> None:
    result = _only(_replayed("gemini-sse-function-call"))
    assert not result.errors and result.complete
    thought, tool = result.merged
    assert isinstance(thought, ReasoningMessage) and thought.source == "reasoner_model"
    assert thought.reasoning.startswith("**Booking the table**")
    call = _call(tool)
    assert call.name == "book_table"
    assert json.loads(call.arguments) == {
        "restaurant": "Trattoria Sole",
        "party_size": 2,
        "time": "2025-06-02T19:30",
    }


def test_ollama_ndjson() -> None:
    result = _only(_replayed("ollama-chat-ndjson"))
    assert result.request.api == "ollama-chat"
    assert not result.errors and result.complete
    [haiku] = result.merged
    assert _text(haiku).splitlines() == [
        "Slow dough rises,",
        "the crust sings as it cools down —",
        "bread for the whole street.",
    ]


def test_bedrock_invoke_stream_is_claude_inside_the_event_stream() -> None:
    result = _only(_replayed("bedrock-invoke-claude-stream"))
    assert result.request.api == "invoke-stream"
    assert not result.errors and result.complete
    [message] = result.merged
    assert _text(message) == (
        "Our croissants are laminated with 27 layers of butter, folded three times by hand."
    )


def test_bedrock_converse_stream_text_then_tool_use() -> None:
    result = _only(_replayed("bedrock-converse-stream-tool-use"))
    assert not result.errors and result.complete
    text, tool = result.merged
    assert _text(text) == "Let me look that up in the glossary."
    call = _call(tool)
    assert (call.name, json.loads(call.arguments)) == ("glossary_lookup", {"term": "levain"})


def test_cohere_tool_plan_is_reasoning_then_the_call() -> None:
    result = _only(_replayed("cohere-v2-tool-plan"))
    assert not result.errors and result.complete
    plan, tool = result.merged
    assert isinstance(plan, ReasoningMessage) and plan.source == "reasoner_model"
    assert plan.reasoning == "I will check the stock of rye loaves."
    call = _call(tool)
    assert (call.name, json.loads(call.arguments)) == ("check_stock", {"item": "rye loaf"})


def test_anthropic_legacy_complete_text() -> None:
    result = _only(_replayed("anthropic-legacy-complete"))
    assert result.request.api == "complete"
    assert not result.errors and result.complete
    [message] = result.merged
    assert _text(message) == " Grandmother's honey rye bread."


def test_gemini_interactions_summaries_signature_and_answer() -> None:
    result = _only(_replayed("gemini-interactions-thought-summary"))
    assert not result.errors and result.complete
    thought, answer = result.merged
    assert isinstance(thought, ReasoningMessage) and thought.source == "reasoner_model"
    assert thought.reasoning.startswith("**Pinning down the cause**") and thought.signature
    assert _text(answer).startswith("Sourdough tastes sour because")


def test_assistants_run_stops_for_the_client_tool() -> None:
    result = _only(_replayed("openai-assistants-requires-action"))
    assert result.request.api == "assistants"
    assert not result.errors and result.complete
    [tool] = result.merged
    call = _call(tool)
    assert call.name == "reserve_cake"
    assert json.loads(call.arguments) == {"cake": "lemon tart", "day": "2025-06-07"}


def test_the_demo_reads_well_in_the_table() -> None:
    outcome = CliRunner().invoke(
        main,
        ["replay", str(CASSETTES / "openai-send-message-inner-thoughts.yaml"), "--format", "table"],
    )
    assert outcome.exit_code == 0, outcome.output
    assert "assistant    Here is your sign:" in outcome.output
    assert "Back tomorrow at 8 ☕" in outcome.output
    assert "2 steps" in outcome.output


# --------------------------------------------------------------------------------------------
# vcrpy reads them too
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_vcrpy_loads_every_cassette(name: str, built: dict[str, Cassette]) -> None:
    requests, responses, *_ = deserialize(
        (CASSETTES / f"{name}.yaml").read_text(encoding="utf-8"), yamlserializer
    )
    assert [response["body"]["string"] for response in responses] == [
        interaction.response.body for interaction in built[name].interactions
    ]
    assert [request.uri for request in requests] == [
        interaction.request.uri for interaction in built[name].interactions
    ]


def test_vcrpy_replays_the_demo_to_an_http_client(built: dict[str, Cassette]) -> None:
    recorder = vcr.VCR(record_mode="none", match_on=["method", "uri", "body"])
    path = CASSETTES / "openai-send-message-inner-thoughts.yaml"
    with recorder.use_cassette(str(path), allow_playback_repeats=True), httpx.Client() as client:
        for interaction in built["openai-send-message-inner-thoughts"].interactions:
            sent = client.post(
                interaction.request.uri,
                content=interaction.request.body,
                headers={"content-type": "application/json"},
            )
            assert sent.status_code == 200
            assert sent.content == interaction.response.body


# --------------------------------------------------------------------------------------------
# The benchmark cassette
# --------------------------------------------------------------------------------------------


def test_the_benchmark_cassette_scales_every_stream() -> None:
    small, large = scaled_cassette(240), scaled_cassette(480)
    assert len(small.interactions) == len(large.interactions) == 12
    small_chunks = [len(i.response.body_chunks()) for i in small.interactions]
    large_chunks = [len(i.response.body_chunks()) for i in large.interactions]
    assert sum(small_chunks) >= 240
    assert all(big > little for big, little in zip(large_chunks, small_chunks, strict=True))
    result = replay(small)
    assert not result.errors
    assert all(interaction.complete for interaction in result.interactions)
    assert len(scaled_cassette(3).interactions) == 3


def test_every_gemini_thought_signature_is_base64_as_the_sdk_requires() -> None:
    import base64

    found = []
    for cassette in build_all().values():
        for interaction in cassette.interactions:
            found += re.findall(rb'"thoughtSignature": ?"([^"]*)"', interaction.response.body)
    assert found
    for signature in found:
        assert base64.b64encode(base64.b64decode(signature, validate=True)) == signature
