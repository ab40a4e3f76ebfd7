"""Rich display: deterministic text for nbval, self-contained HTML, message lists, diffs, timing.

The builders at the top write small OpenAI chat-completion streams by hand (the widget tests
import them too): a Letta ``send_message`` call with inner thoughts, another tool call, plain
text, and an HTTP error, with chunk offsets chosen so timing is easy to check.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from streamreel.core.cassette import (
    BodyChunk,
    Cassette,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.messages import (
    AssistantMessage,
    ErrorMessage,
    ReasoningMessage,
    ToolCall,
    ToolCallDelta,
    ToolCallMessage,
    merge_deltas,
    to_wire,
)
from streamreel.core.parser import InterfaceSettings
from streamreel.core.results import ReplayResult
from streamreel.notebook.display import (
    MessageList,
    diff_html,
    diff_messages,
    diff_text,
    fold_rows,
    kind_counts,
    messages_html,
    messages_text,
    result_html,
    show,
    steps_of,
    timing_html,
)
from streamreel.playback.replay import replay

URL = "https://api.openai.com/v1/chat/completions"

# -- builders (shared with test_widgets.py) --------------------------------------------------


def _sse(data: Any) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1718000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _call_deltas(name: str, call_id: str, pieces: list[str]) -> list[dict[str, Any]]:
    head = {
        "role": "assistant",
        "tool_calls": [
            {
                "index": 0,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
        ],
    }
    rest = [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces]
    return [head, *rest]


def stream(
    deltas: list[dict[str, Any]],
    *,
    finish: str = "stop",
    first_ms: float = 100.0,
    step_ms: float = 10.0,
    slow: dict[int, float] | None = None,
) -> Interaction:
    """One streamed interaction; ``slow`` adds extra milliseconds before given chunk indexes."""
    pieces = [_sse(_chunk(d)) for d in deltas] + [_sse(_chunk({}, finish)), _sse("[DONE]")]
    offsets: list[float] = []
    at = first_ms
    for index in range(len(pieces)):
        if index:
            at += step_ms + (slow or {}).get(index, 0.0)
        offsets.append(at)
    chunks = [BodyChunk(t, p) for t, p in zip(offsets, pieces, strict=True)]
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    return Interaction(
        RecordedRequest(
            "POST", URL, {"content-type": ["application/json"]}, json.dumps(body).encode()
        ),
        RecordedResponse(
            200,
            "OK",
            {"content-type": ["text/event-stream"]},
            b"".join(c.data for c in chunks),
            chunks,
        ),
    )


def send_message(thoughts: str, message: str, *, call_id: str = "call_send") -> Interaction:
    """A Letta ``send_message`` call whose arguments carry inner thoughts, in small pieces."""
    arguments = json.dumps({"inner_thoughts": thoughts, "message": message})
    pieces = [arguments[i : i + 9] for i in range(0, len(arguments), 9)]
    return stream(_call_deltas("send_message", call_id, pieces), finish="tool_calls")


def weather_call(*, call_id: str = "call_weather") -> Interaction:
    arguments = json.dumps(
        {"inner_thoughts": "I should look it up.", "city": "Paris", "unit": "celsius"}
    )
    pieces = [arguments[i : i + 12] for i in range(0, len(arguments), 12)]
    return stream(
        _call_deltas("get_weather", call_id, pieces), finish="tool_calls", slow={3: 250.0}
    )


def text_stream(words: tuple[str, ...] = ("Thinking", " about", " it.")) -> Interaction:
    return stream([{"role": "assistant", "content": ""}, *({"content": w} for w in words)])


def http_error(status: int = 429) -> Interaction:
    payload = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate"}}
    body = {"model": "gpt-4o-mini", "stream": True}
    return Interaction(
        RecordedRequest("POST", URL, {}, json.dumps(body).encode()),
        RecordedResponse(
            status, "", {"content-type": ["application/json"]}, json.dumps(payload).encode()
        ),
    )


def build(*interactions: Interaction, name: str = "scripted.yaml") -> Cassette:
    return Cassette(interactions=list(interactions), path=Path(name))


def conversation(name: str = "scripted.yaml") -> ReplayResult:
    """Three steps: a tool call, a send_message, then a rate-limit error."""
    return replay(
        build(
            weather_call(),
            send_message("The user wants the weather.", "It is 21 °C."),
            http_error(),
            name=name,
        )
    )


VOLATILE = re.compile(r"0x[0-9a-f]{6,}|object at|message-[0-9a-f]{8}-|/tmp/|\d{4}-\d\d-\d\dT")

# -- text/plain ------------------------------------------------------------------------------


def test_a_replay_describes_itself_on_one_stable_line() -> None:
    result = conversation()
    expected = (
        "<ReplayResult scripted.yaml: 3 interactions (openai chat-completions), 22 chunks,"
        " 5 messages: reasoning×2, tool_call×1, assistant×1, error×1; 1 error>"
    )
    assert repr(result) == expected
    assert repr(conversation()) == expected  # a second replay reads the same
    assert not VOLATILE.search(repr(result))


def test_an_interaction_names_its_request_kind_status_and_content() -> None:
    result = conversation()
    assert repr(result.interactions[0]) == (
        "<InteractionResult #0 POST api.openai.com/v1/chat/completions (openai chat-completions,"
        " gpt-4o-mini): HTTP 200, 10 chunks, 2 messages: reasoning×1, tool_call×1; complete,"
        " 0 errors>"
    )
    assert repr(result.interactions[2]).endswith(
        "HTTP 429, 0 chunks, 1 message: error×1; complete, 1 error>"
    )


def test_singular_and_empty_forms_read_naturally() -> None:
    result = replay(build(text_stream(("One",)), name="one.yaml"))
    assert repr(result) == (
        "<ReplayResult one.yaml: 1 interaction (openai chat-completions), 4 chunks,"
        " 1 message: reasoning×1; 0 errors>"
    )
    empty = replay(Cassette())
    assert (
        repr(empty) == "<ReplayResult (in memory): 0 interactions, 0 chunks, 0 messages; 0 errors>"
    )


def test_a_cassette_describes_its_calls_without_volatile_values() -> None:
    cassette = build(send_message("a", "b"), send_message("c", "d"), http_error())
    text = repr(cassette)
    assert text.startswith("<Cassette scripted.yaml: 3 interactions, ")
    assert text.endswith(
        ": POST api.openai.com/v1/chat/completions → 200 ×2;"
        " POST api.openai.com/v1/chat/completions → 429>"
    )
    assert not VOLATILE.search(text)
    page = cassette._repr_html_()
    assert "<table>" in page and "text/event-stream" in page and "429" in page


# -- MessageList and show --------------------------------------------------------------------


def test_show_merges_and_keeps_each_interaction_as_a_step() -> None:
    result = conversation()
    shown = show(result)
    assert isinstance(shown, MessageList) and isinstance(shown, list)
    assert [to_wire(m) for m in shown] == [to_wire(m) for m in result.merged]
    # The error message has no id; the step sizes still put it in a step of its own.
    assert [len(step) for step in shown.steps()] == [2, 2, 1]
    assert repr(shown).splitlines() == [
        "<MessageList 5 messages in 3 steps: reasoning×2, tool_call×1, assistant×1, error×1>",
        "step 1",
        "  reasoning  I should look it up.",
        '  tool_call  get_weather({"city": "Paris", "unit": "celsius"})',
        "step 2",
        "  reasoning  The user wants the weather.",
        "  assistant  It is 21 °C.",
        "step 3",
        "  error      HTTP 429: rate: Rate limit reached",
    ]


def test_show_can_keep_the_deltas() -> None:
    result = conversation()
    deltas = show(result, merge=False)
    assert len(deltas) == len(result.messages) > len(result.merged)
    assert list(show(list(deltas))) == merge_deltas(deltas)


def test_a_message_list_is_still_a_plain_list() -> None:
    shown = show(conversation())
    assert shown == list(shown)
    assert shown[:2] == list(shown)[:2]
    shown.append(ErrorMessage(error="late"))  # the sizes no longer fit: steps fall back to ids
    assert [len(step) for step in shown.steps()] == [2, 4]


def test_steps_follow_message_ids_and_errors_stay_with_their_step() -> None:
    first = ReasoningMessage(id="message-a", date="2024-01-01T00:00:00Z", reasoning="x")
    second = AssistantMessage(id="message-b", date="2024-01-01T00:00:00Z", content="y")
    error = ErrorMessage(error="boom")
    assert steps_of([first, error, second]) == [[first, error], [second]]
    assert steps_of([error, first]) == [[error], [first]]  # nothing before it to join
    assert steps_of([]) == []
    assert messages_text([]) == "<MessageList 0 messages in 0 steps>"


def test_kinds_are_counted_in_order_of_first_appearance() -> None:
    assert kind_counts(conversation().merged) == "reasoning×2, tool_call×1, assistant×1, error×1"


# -- HTML ------------------------------------------------------------------------------------


def test_message_cards_are_coloured_by_kind_and_grouped_by_step() -> None:
    page = messages_html(conversation())
    for kind in ("reasoning", "tool_call", "assistant", "error"):
        assert f"sr-msg sr-{kind}" in page
    assert page.count("class='sr-step'") == 3
    assert "step 1 · openai chat-completions · gpt-4o-mini · HTTP 200 · 10 chunks" in page
    assert "HTTP 429" in page


def test_reasoning_folds_and_tool_arguments_are_pretty_printed() -> None:
    page = messages_html(conversation())
    assert "<details><summary" in page and "<details open>" not in page
    assert "<details open>" in messages_html(conversation(), open_reasoning=True)
    assert (
        "{\n  &quot;city&quot;: &quot;Paris&quot;,\n  &quot;unit&quot;: &quot;celsius&quot;\n}"
        in page
    )


def test_partial_arguments_are_shown_raw_and_marked() -> None:
    partial = ToolCallMessage(
        id="message-a",
        date="2024-01-01T00:00:00Z",
        tool_call=ToolCallDelta(name="get_weather", arguments='{"city": "Pa'),
    )
    page = messages_html([partial])
    assert "(partial)" in page and "{&quot;city&quot;: &quot;Pa</pre>" in page


def test_highlight_marks_the_chosen_cards() -> None:
    page = messages_html(conversation().merged, highlight={1})
    assert page.count("sr-hl") == 2  # the class on one card, and its rule in the style block
    assert "this chunk" in page


def test_html_is_self_contained_and_escaped() -> None:
    hostile = replay(build(text_stream(("<script>alert(1)</script>", " & more"))))
    for page in (result_html(hostile), messages_html(hostile), timing_html(hostile)):
        assert "<script>" not in page
        assert "&lt;script&gt;" in page or "<svg" in page
        assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in page.replace("https://api.openai.com", "")
        assert not VOLATILE.search(page)


def test_a_result_page_has_the_interaction_table_and_errors() -> None:
    page = conversation()._repr_html_()
    assert "Replay of scripted.yaml: 3 interactions" in page
    assert page.count("<tr><td class='sr-num'>") == 3
    assert "class='sr-errors'" in page and "Rate limit reached" in page
    assert "tool-calls" in page  # the interaction's features
    one = conversation().interactions[2]._repr_html_()
    assert "HTTP 429" in one and "sr-msg sr-error" in one and "Rate limit reached" in one


# -- diff ------------------------------------------------------------------------------------


def test_identical_sequences_fold_to_one_line() -> None:
    left = conversation("a.yaml").merged
    right = conversation("b.yaml").merged  # other path: other ids, same content
    rows = diff_messages(left, right)
    assert {row.kind for row in rows} == {"same"}
    assert [row.kind for row in fold_rows(rows)] == ["folded"]
    assert diff_text(rows, labels=("a", "b")) == "<SequenceDiff a vs b: identical, 5 messages>"
    assert "… 5 identical messages …" in diff_html(fold_rows(rows), labels=("a", "b"))


def test_ids_count_when_no_field_is_ignored() -> None:
    rows = diff_messages(conversation("a.yaml").merged, conversation("b.yaml").merged, ignore=())
    assert [row.kind for row in rows] == ["changed"] * 4 + ["same"]  # errors carry no id
    page = diff_html(rows, labels=("a", "b"), ignore=())
    assert "<mark>" in page and "id: " in page


def test_a_changed_text_is_marked_inside_the_message() -> None:
    left = replay(build(send_message("Plan A.", "Hello there!")))
    right = replay(build(send_message("Plan A.", "Hello world!"), text_stream()))
    rows = diff_messages(left.merged, right.merged)
    assert [row.kind for row in rows] == ["same", "changed", "added"]
    page = diff_html(rows, labels=("before", "after"))
    assert "<del>" in page and "<ins>" in page
    assert "sr-added" in page and "sr-gap" in page
    assert diff_text(rows, labels=("before", "after")) == (
        "<SequenceDiff before vs after: 2 vs 3 messages; 1 same, 1 changed,"
        " 0 only in before, 1 only in after>"
    )


def test_folding_keeps_context_around_each_difference() -> None:
    same = [m for m in conversation().merged if not isinstance(m, ErrorMessage)] * 3
    changed = [
        *same[:6],
        AssistantMessage(id="x", date="2024-01-01T00:00:00Z", content="new"),
        *same[6:],
    ]
    rows = diff_messages(same, changed)
    kinds = [row.kind for row in fold_rows(rows, context=1)]
    assert kinds == ["folded", "same", "added", "same", "folded"]
    assert sum(row.count for row in fold_rows(rows, context=1)) == len(rows)
    assert [row.kind for row in fold_rows(rows, context=10)] == [row.kind for row in rows]


# -- timing ----------------------------------------------------------------------------------


def test_timing_draws_two_inline_plots_and_a_table() -> None:
    page = timing_html(conversation())
    assert page.count("<svg") == 2
    assert "Chunks over time" in page and "Wait before each chunk" in page
    assert "longest wait 260 ms before chunk #3" in page
    assert "<td class='sr-num'>100 ms</td>" in page  # time to first chunk


def test_timing_without_chunks_says_so() -> None:
    page = timing_html(replay(build(http_error())))
    assert "<svg" not in page and "No chunk timing was recorded" in page


@pytest.mark.parametrize("top", [0.4, 1, 7, 89, 250, 1234, 98765])
def test_ticks_are_round_and_cover_the_range(top: float) -> None:
    from streamreel.notebook.display import _ticks

    ticks = _ticks(top)
    assert ticks[0] == 0 and ticks[-1] >= top and 2 <= len(ticks) <= 7
    step = ticks[1]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1.0, 2.0, 5.0)


def test_settings_change_the_messages_and_the_text_says_so() -> None:
    cassette = build(send_message("Plan.", "Hi!"))
    with_assistant = replay(cassette)
    without = replay(cassette, settings=InterfaceSettings(use_assistant_message=False))
    assert "assistant×1" in repr(with_assistant)
    assert "tool_call×1" in repr(without)


def test_a_changed_run_pairs_messages_of_the_same_kind() -> None:
    def thought(text: str) -> ReasoningMessage:
        return ReasoningMessage(id="message-a", date="2024-01-01T00:00:00Z", reasoning=text)

    def call(arguments: str) -> ToolCallMessage:
        whole = ToolCall(name="send_message", arguments=arguments, tool_call_id="call_1")
        return ToolCallMessage(id="message-a", date="2024-01-01T00:00:00Z", tool_call=whole)

    left = [thought("one"), call('{"message": "a"}'), thought("two"), call('{"message": "b"}')]
    right = [call('{"inner_thoughts": "one", "message": "a"}'), call('{"message": "b!"}')]
    rows = diff_messages(left, right)
    assert [row.kind for row in rows] == ["removed", "changed", "removed", "changed"]
    assert [row.right for row in rows if row.kind == "changed"] == right
