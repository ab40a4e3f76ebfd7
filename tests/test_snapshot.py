"""The snapshot format: placeholders, the file layout, the failure diff, the syrupy roles."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import cassettefactory as cf
import pytest
from streamreel.core.errors import ConfigurationError
from streamreel.core.parser import InterfaceSettings
from streamreel.playback.replay import replay
from streamreel.testing.snapshot import (
    Placeholders,
    StreamDeltasSnapshotExtension,
    StreamSnapshotExtension,
    diff_streams,
    serialize_stream,
)


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_placeholders_number_each_family_by_first_appearance() -> None:
    names = Placeholders()
    assert names.name("otid", "b") == "<otid-1>"
    assert names.name("otid", "a") == "<otid-2>"
    assert names.name("otid", "b") == "<otid-1>"
    assert names.name("message", "b") == "<message-1>"  # families count apart


def test_tool_call_ids_share_one_placeholder_across_call_and_return() -> None:
    names = Placeholders()
    call = names.replace(
        {"id": "message-1", "tool_call": {"name": "f", "tool_call_id": "call_9"}, "x": "call_9"}
    )
    back = names.replace({"id": "message-1", "tool_call_id": "call_9", "tool_return": "call_9"})
    assert call["tool_call"] == {"name": "f", "tool_call_id": "<tool-call-1>"}
    assert back["tool_call_id"] == "<tool-call-1>" and back["id"] == "<message-1>"
    # Text that happens to hold an id is left alone: a parser leaking ids should show.
    assert call["x"] == "call_9" and back["tool_return"] == "call_9"


def test_the_file_is_a_header_per_interaction_then_wire_messages(tmp_path: Path) -> None:
    path = cf.write(tmp_path / "a.yaml", cf.search_call(), cf.send_message())
    text = serialize_stream(replay(path))
    rows = lines(text)
    assert text.endswith("\n")
    assert [r.get("interaction") for r in rows] == [0, None, None, 1, None, None, None]
    header = rows[0]
    assert header == {
        "interaction": 0,
        "request": f"POST {cf.URL}",
        "provider": "openai",
        "api": "chat-completions",
        "model": "gpt-4o-mini",
        "status": 200,
        "complete": True,
        "message_id": "<message-1>",
        "messages": 2,
    }
    kinds = [r.get("message_type") for r in rows[1:]]
    assert kinds == [
        "reasoning_message", "tool_call_message", None,
        "reasoning_message", "assistant_message", "usage_statistics",
    ]  # fmt: skip
    # Wire JSON: key order and the tool call's dropped nulls as Letta writes them.
    assert list(rows[1]) == [
        "id", "date", "name", "message_type", "otid", "sender_id", "source", "reasoning",
        "signature",
    ]  # fmt: skip
    call = rows[2]["tool_call"]
    assert isinstance(call, dict) and list(call) == ["name", "arguments", "tool_call_id"]
    assert call["name"] == "archival_memory_search" and call["tool_call_id"] == "<tool-call-1>"
    assert json.loads(call["arguments"]) == {"query": "caf\u00e9 hours", "limit": 5, "exact": True}
    assert rows[4]["id"] == "<message-2>" and rows[4]["otid"] == "<otid-3>"
    assert rows[4]["date"] == rows[1]["date"] == "<date-1>"
    assert rows[5]["content"] == cf.SEND_ARGS["message"]


def test_re_recording_the_same_conversation_gives_the_same_snapshot(tmp_path: Path) -> None:
    first = cf.write(tmp_path / "one" / "c.yaml", cf.search_call(), cf.send_message())
    # Another day, another checkout, other ids from the provider, other read boundaries.
    later = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    again = cf.interaction(
        cf.tool_call_chunks(
            "archival_memory_search", cf.SEARCH_ARGS, call_id="call_other", per_chunk=3
        ),
        per_read=4,
        recorded_at=later,
    )
    second = cf.write(
        tmp_path / "two" / "renamed.yaml",
        again,
        cf.interaction(
            cf.tool_call_chunks("send_message", cf.SEND_ARGS, call_id="call_z"), recorded_at=later
        ),
    )
    assert serialize_stream(replay(first)) == serialize_stream(replay(second))
    # The deltas do depend on the cuts, which is why they are not the default.
    assert serialize_stream(replay(first), merge=False) != serialize_stream(
        replay(second), merge=False
    )


def test_deltas_keep_every_piece(tmp_path: Path) -> None:
    result = replay(cf.write(tmp_path / "a.yaml", cf.send_message()))
    merged, deltas = lines(serialize_stream(result)), lines(serialize_stream(result, merge=False))
    assert merged[0]["messages"] == 2
    assert deltas[0]["messages"] == len(deltas) - 2 > 2
    assert {r.get("otid") for r in deltas[1:-1]} == {"<otid-1>", "<otid-2>"}


def test_errors_are_in_the_header_and_the_stream(tmp_path: Path) -> None:
    failing = cf.send_message()
    failing.response.status = 429
    failing.response.body = b'{"error": {"message": "Rate limit", "type": "requests"}}'
    failing.response.chunks = None
    failing.response.headers = {"content-type": ["application/json"]}
    rows = lines(serialize_stream(replay(cf.write(tmp_path / "e.yaml", failing))))
    assert rows[0]["status"] == 429 and rows[0]["messages"] == 1
    assert "Rate limit" in rows[0]["errors"][0]  # type: ignore[index]
    assert "Rate limit" in rows[1]["error"]  # type: ignore[operator]


def test_single_interactions_and_bare_messages(tmp_path: Path) -> None:
    result = replay(cf.write(tmp_path / "a.yaml", cf.search_call(), cf.send_message()))
    one = lines(serialize_stream(result.interactions[1]))
    assert one[0]["interaction"] == 1 and len(one) == 3
    assert len(lines(serialize_stream(result.interactions))) == 6
    bare = lines(serialize_stream(result.messages))
    assert [r["message_type"] for r in bare] == [
        "reasoning_message", "tool_call_message", "reasoning_message", "assistant_message",
    ]  # fmt: skip


def test_anything_else_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigurationError, match="cannot snapshot a stream: expected a Replay"):
        serialize_stream({"not": "a replay"})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="do compare with replay"):
        serialize_stream(["a", "b"])  # type: ignore[arg-type]


# -- the diff ----------------------------------------------------------------------------------


def test_a_changed_message_is_named_by_interaction_index_type_and_field(tmp_path: Path) -> None:
    path = cf.write(tmp_path / "a.yaml", cf.search_call(), cf.send_message())
    before = serialize_stream(replay(path))
    after = before.replace("See you", "Bye")
    report = diff_streams(before, after)
    assert [line.kind for line in report] == ["heading", "snapshot", "received"]
    assert report[0].text == "interaction 1, message 1 (assistant_message): content differs"
    # Only the field that changed: the rest of the line is the same on both sides.
    assert (
        report[1].text.startswith('  - "content":"The caf\\u00e9') and "See you" in report[1].text
    )
    assert report[2].text.startswith('  + "content":"The caf\\u00e9') and "Bye" in report[2].text


def test_a_removed_message_does_not_shift_the_pairing() -> None:
    header = '{"interaction":0,"request":"POST u","messages":2}'
    thought = (
        '{"id":"<message-1>","message_type":"reasoning_message","otid":"<otid-1>","reasoning":"x"}'
    )
    said = '{"id":"<message-1>","message_type":"assistant_message","otid":"<otid-2>","content":"y"}'
    said_now = said.replace("<otid-2>", "<otid-1>")
    header_now = header.replace('"messages":2', '"messages":1')
    report = diff_streams(f"{header}\n{thought}\n{said}\n", f"{header_now}\n{said_now}\n")
    assert [line.text for line in report if line.kind == "heading"] == [
        "interaction 0 (header): messages differs",
        "interaction 0, message 0 (reasoning_message): only in the snapshot",
        "interaction 0, message 1 (assistant_message) -> interaction 0, message 0 "
        "(assistant_message): otid differs",
    ]


def test_a_different_parser_output_is_a_readable_diff(tmp_path: Path) -> None:
    path = cf.write(tmp_path / "a.yaml", cf.search_call(), cf.send_message())
    before = serialize_stream(replay(path))
    after = serialize_stream(replay(path, settings=InterfaceSettings()))
    text = [line.text for line in diff_streams(before, after)]
    assert (
        "interaction 1, message 1 (assistant_message) -> interaction 1, message 1 "
        "(tool_call_message): message_type, content, tool_call differ"
    ) in text
    assert any(t.startswith("usage") for t in text) is False


def test_inserted_and_removed_lines_say_so() -> None:
    header = '{"interaction":0,"request":"POST u","messages":1}'
    a = '{"id":"<message-1>","message_type":"reasoning_message","reasoning":"x"}'
    b = '{"id":"<message-1>","message_type":"assistant_message","content":"y"}'
    grown = diff_streams(f"{header}\n{a}\n", f"{header}\n{a}\n{b}\n")
    assert [line.text for line in grown] == [
        "interaction 0, message 1 (assistant_message): not in the snapshot",
        f"+ {b}",
    ]
    shrunk = diff_streams(f"{header}\n{a}\n{b}\n", f"{header}\n{b}\n")
    assert shrunk[0].text == "interaction 0, message 0 (reasoning_message): only in the snapshot"
    assert diff_streams("same\n", "same\n") == []


# -- the syrupy roles --------------------------------------------------------------------------


def test_the_extension_serializes_compares_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = replay(cf.write(tmp_path / "a.yaml", cf.send_message()))
    merged, deltas = StreamSnapshotExtension(), StreamDeltasSnapshotExtension()
    assert merged.file_extension == deltas.file_extension == "jsonl"
    text = merged.serialize(result)
    assert text == serialize_stream(result)
    assert deltas.serialize(result) == serialize_stream(result, merge=False)
    assert merged.matches(serialized_data=text, snapshot_data=text)
    changed = text.replace('"complete":true', '"complete":false')
    assert not merged.matches(serialized_data=text, snapshot_data=changed)
    # NO_COLOR is how every syrupy release from the floor up turns colour off.
    monkeypatch.setenv("NO_COLOR", "1")
    report = list(merged.diff_lines(text, changed))
    assert report[0] == "interaction 0 (header): complete differs"
    assert report[1:] == ['  - "complete":false', '  + "complete":true']
