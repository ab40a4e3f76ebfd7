"""streamreel, Letta 0.7.8 and Letta 0.16.8 on the same streams, held to the streams themselves.

Both Letta virtualenvs are built by ``streamreel install-letta --version all`` (the README's test
command runs it first). On every streamed exchange of the bundled cassettes, the shared corpus
(when it is beside the project), synthetic exchanges that show each Letta 0.16.8 defect class,
and Hypothesis-made chat streams, the three parsers run; streamreel's messages must carry
exactly the stream's content (:func:`streamreel.testing.compat.compare_with_letta` checks that
and labels Letta 0.7.8's differences), and every place Letta 0.16.8's content differs from the
stream's must carry a defect class or a named noise
(:func:`streamreel.testing.compat_current.compare_current`): where Letta 0.16.8 is right, its
content is the stream's, which is streamreel's. The README's defect table lists, in its
"Letta 0.16.8" column, exactly the classes this run shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cassettefactory import cassette, interaction, json_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamreel.cassettes.storage import load_cassette
from streamreel.core.cassette import BodyChunk, Cassette, Interaction, RecordedResponse
from streamreel.core.errors import StreamreelError
from streamreel.letta import sdk
from streamreel.letta.real import require_letta
from streamreel.playback.replay import replay
from streamreel.testing.compat_current import CurrentComparison, three_way

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = sorted((ROOT / "cassettes").glob("*.yaml"))


@pytest.fixture(scope="session")
def both() -> sdk.LettaSdkInterface:
    require_letta()
    return sdk.LettaSdkInterface()


def compared(source: Cassette, current: sdk.LettaSdkInterface) -> Iterator[CurrentComparison]:
    """Letta 0.16.8's comparison on every exchange it reads; streamreel and Letta 0.7.8 are
    checked on the way (streamreel held to the stream, Letta 0.7.8's differences labelled)."""
    for found in three_way(source, current):
        assert not found.old.unexplained, [d.label for d in found.old.unexplained]
        if found.current is not None:
            yield found.current


def checked(source: Cassette, current: sdk.LettaSdkInterface) -> set[int]:
    defects: set[int] = set()
    for found in compared(source, current):
        assert not found.unexplained, [d.label for d in found.unexplained]
        defects |= found.defects
    return defects


# -- synthetic exchanges, one per Letta 0.16.8 class the bundled cassettes do not show ---------


def _sse(events: list[tuple[str | None, dict[str, Any]]], done: bool = False) -> bytes:
    lines = [
        (f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"
        for name, data in events
    ]
    return ("".join(lines) + ("data: [DONE]\n\n" if done else "")).encode()


def _exchange(uri: str, request: dict[str, Any], body: bytes) -> Cassette:
    response = RecordedResponse(
        status=200,
        reason="OK",
        headers={"content-type": ["text/event-stream"]},
        body=body,
        chunks=[BodyChunk(offset_ms=10.0, data=body)],
    )
    return cassette(Interaction(request=json_request(request, uri), response=response))


def _chat(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [choice],
    }


def repeated_name() -> Cassette:
    # Some OpenAI-compatible servers (Kimi) send the id and whole name with every fragment.
    fragments = ['{"city"', ': "Oslo"}']
    chunks = [
        _chat(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": ""},
                    }
                ]
            }
        )
    ]
    chunks += [
        _chat(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": f},
                    }
                ]
            }
        )
        for f in fragments
    ]
    chunks.append(_chat({}, "tool_calls"))
    return cassette(interaction(chunks))


def mistral_parts() -> Cassette:
    thinking = {"type": "thinking", "thinking": [{"type": "text", "text": "Look both ways."}]}
    chunks = [
        _chat({"role": "assistant", "content": [thinking]}),
        _chat({"content": "Cross at the light."}),
        _chat({}, "stop"),
    ]
    body = _sse([(None, c) for c in chunks], done=True)
    request = {"model": "magistral-medium-latest", "stream": True, "messages": []}
    return _exchange("https://api.mistral.ai/v1/chat/completions", request, body)


def gemini_numeric_finish() -> Cassette:
    # Protobuf JSON may carry an enum by its number; google-genai's model refuses it.
    parts = [{"text": "Hello"}]
    events = [
        (None, {"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}]}),
        (
            None,
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": " there"}]},
                        "finishReason": 1,
                        "index": 0,
                    }
                ]
            },
        ),
    ]
    body = _sse(events)
    uri = (
        "https://generativelanguage.googleapis.com/v1beta/models/"
        "gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    return _exchange(uri, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, body)


def responses_reasoning_text() -> Cassette:
    # Open models behind a Responses API stream their raw chain of thought as reasoning_text.
    reasoning = {"id": "rs_1", "type": "reasoning", "summary": [], "content": []}
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }
    text_part = {"type": "output_text", "text": "", "annotations": []}
    base = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "open-model",
        "output": [],
        "status": "in_progress",
        "parallel_tool_calls": True,
        "tools": [],
        "tool_choice": "auto",
    }
    done = {
        **base,
        "status": "completed",
        "usage": {
            "input_tokens": 3,
            "output_tokens": 4,
            "total_tokens": 7,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 2},
        },
    }
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": base, "sequence_number": 0},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": reasoning,
            "sequence_number": 1,
        },
        {
            "type": "response.reasoning_text.delta",
            "item_id": "rs_1",
            "output_index": 0,
            "content_index": 0,
            "delta": "Two plus two ",
            "sequence_number": 2,
        },
        {
            "type": "response.reasoning_text.delta",
            "item_id": "rs_1",
            "output_index": 0,
            "content_index": 0,
            "delta": "is four.",
            "sequence_number": 3,
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": reasoning,
            "sequence_number": 4,
        },
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": message,
            "sequence_number": 5,
        },
        {
            "type": "response.content_part.added",
            "item_id": "msg_1",
            "output_index": 1,
            "content_index": 0,
            "part": text_part,
            "sequence_number": 6,
        },
        {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 1,
            "content_index": 0,
            "delta": "4",
            "sequence_number": 7,
        },
        {"type": "response.completed", "response": done, "sequence_number": 8},
    ]
    body = _sse([(e["type"], e) for e in events])
    request = {"model": "open-model", "stream": True, "input": "What is 2+2?"}
    return _exchange("https://openrouter.ai/api/v1/responses", request, body)


def anthropic_server_tool() -> Cassette:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 1},
    }
    tool = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Searching."},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": tool},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"query": "weather"}'},
        },
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "text_delta", "text": "Sunny."},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 9},
        },
        {"type": "message_stop"},
    ]
    body = _sse([(e["type"], e) for e in events])
    request = {"model": "claude", "max_tokens": 100, "stream": True, "messages": []}
    return _exchange("https://api.anthropic.com/v1/messages", request, body)


SYNTHETIC = [
    ("repeated-name", 19, repeated_name),
    ("mistral-content-parts", 17, mistral_parts),
    ("gemini-numeric-enum", 15, gemini_numeric_finish),
    ("responses-reasoning-text", 18, responses_reasoning_text),
    ("anthropic-server-tool", 16, anthropic_server_tool),
]


@pytest.mark.parametrize(("defect", "make"), [pytest.param(d, m, id=n) for n, d, m in SYNTHETIC])
def test_each_synthetic_exchange_shows_its_class_in_letta_0_16_8_itself(
    both: sdk.LettaSdkInterface, defect: int, make: Any
) -> None:
    assert defect in checked(make(), both)


@pytest.mark.parametrize("path", CASSETTES, ids=[p.stem for p in CASSETTES])
def test_bundled_cassettes_differ_only_where_a_letta_is_wrong(
    both: sdk.LettaSdkInterface, path: Path
) -> None:
    checked(load_cassette(path), both)


def test_corpus_cassettes_differ_only_where_a_letta_is_wrong(
    both: sdk.LettaSdkInterface, corpus_dir: Path
) -> None:
    seen = 0
    for path in sorted(corpus_dir.rglob("*.yaml")):
        try:
            source = load_cassette(path)
            replay(source)
        except StreamreelError:
            continue  # refused by streamreel itself: tested where readers are
        for found in compared(source, both):
            seen += 1
            assert not found.unexplained, (path.name, [d.label for d in found.unexplained])
    assert seen > 50


piece = st.text(
    alphabet=st.one_of(st.sampled_from(list('"\\/{}:, \n\u00e9')), st.characters(codec="ascii")),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.lists(piece, max_size=4),
    thinking=st.lists(piece, max_size=3),
    value=piece,
    cuts=st.lists(st.integers(1, 40), max_size=4),
    call=st.booleans(),
)
def test_generated_chat_streams_agree_with_the_stream_in_all_three(
    both: sdk.LettaSdkInterface,
    text: list[str],
    thinking: list[str],
    value: str,
    cuts: list[int],
    call: bool,
) -> None:
    chunks = [_chat({"reasoning_content": t}) for t in thinking]
    chunks += [_chat({"content": t}) for t in text]
    if call:
        arguments = json.dumps({"inner_thoughts": "ok", "query": value})
        points = sorted({c for c in cuts if 0 < c < len(arguments)})
        ends = [*points, len(arguments)]
        pieces = [arguments[a:b] for a, b in zip([0, *points], ends, strict=True)]
        header = {"index": 0, "id": "call_g", "type": "function"}
        header["function"] = {"name": "search", "arguments": ""}
        chunks.append(_chat({"tool_calls": [header]}))
        chunks += [
            _chat({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces
        ]
    chunks.append(_chat({}, "tool_calls" if call else "stop"))
    for found in compared(cassette(interaction(chunks)), both):
        assert not found.unexplained, [d.label for d in found.unexplained]
        # Nothing in these streams is a Letta 0.16.8 defect: its content is the stream's.
        assert found.letta == found.stream, [d.label for d in found.differences]


def readme_rows() -> dict[int, tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(
        r"^\| (\d+) \|.*\| (shown|not shown) \| (shown|not shown) \|$", text, re.MULTILINE
    )
    return {int(number): (old, new) for number, old, new in rows}


def test_the_readme_defect_table_s_letta_0_16_8_column_is_what_this_run_shows(
    both: sdk.LettaSdkInterface,
) -> None:
    observed: set[int] = set()
    for _, _, make in SYNTHETIC:
        observed |= checked(make(), both)
    for path in CASSETTES:
        observed |= checked(load_cassette(path), both)
    table = readme_rows()
    assert table, "the README's defect table is missing its two Letta columns"
    assert {number for number, (_, new) in table.items() if new == "shown"} == observed
