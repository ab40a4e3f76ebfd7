"""The AWS event-stream decoder and the Bedrock adapters behind it.

Messages are written with :func:`streamreel.core.eventstream.encode_message` and checked against
botocore's own parser, so the writer and the reader are not only each other's oracle.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from uuid import UUID

import pytest
from botocore.eventstream import EventStreamBuffer
from hypothesis import given
from hypothesis import strategies as st
from streamreel.core.chunks import ChatCompletionChunk, StreamFault
from streamreel.core.errors import ChunkError, StreamDecodeError
from streamreel.core.eventstream import EventStreamDecoder, EventStreamMessage, encode_message
from streamreel.core.providers import StreamDecoder, StreamKind

CONVERSE = StreamKind("bedrock", "converse-stream", "eventstream", "anthropic.claude-v2")
INVOKE = StreamKind("bedrock", "invoke-stream", "eventstream")


def event(kind: str, payload: dict[str, object]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, json.dumps(payload).encode())


def exception(kind: str, message: str) -> bytes:
    headers = {":exception-type": kind, ":content-type": "application/json"}
    headers[":message-type"] = "exception"
    return encode_message(headers, json.dumps({"message": message}).encode())


CONVERSE_BODY = b"".join(
    [
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Héllo"}}),
        event(
            "contentBlockStart",
            {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "f"}}},
        ),
        event(
            "contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a'}}}
        ),
        event(
            "contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '":1}'}}}
        ),
        event("contentBlockStop", {"contentBlockIndex": 1}),
        event("messageStop", {"stopReason": "tool_use"}),
        event("metadata", {"usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}}),
    ]
)


def decode(kind: StreamKind, body: bytes, size: int | None = None) -> list[object]:
    decoder = StreamDecoder(kind)
    out: list[object] = []
    step = size or max(len(body), 1)
    for start in range(0, len(body), step):
        out.extend(decoder.feed(body[start : start + step]))
    return out + decoder.close()


def test_the_writer_writes_what_botocore_reads() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(CONVERSE_BODY)
    parsed = list(buffer)
    assert [m.headers[":event-type"] for m in parsed][:2] == ["messageStart", "contentBlockDelta"]
    assert json.loads(parsed[1].payload)["delta"]["text"] == "Héllo"


def test_messages_decode_the_same_one_byte_at_a_time() -> None:
    whole = EventStreamDecoder().feed(CONVERSE_BODY)
    decoder = EventStreamDecoder()
    pieces = [m for i in range(len(CONVERSE_BODY)) for m in decoder.feed(CONVERSE_BODY[i : i + 1])]
    assert pieces == whole and len(whole) == 8
    assert whole[0].event_type == "messageStart" and whole[0].message_type == "event"
    assert decoder.close() == [] and not decoder.pending


def test_every_header_type_is_read() -> None:
    uuid = UUID("12345678-1234-5678-1234-567812345678")
    block = b""
    for name, kind, value in [
        ("t", 0, b""),
        ("f", 1, b""),
        ("b", 2, struct.pack(">b", -2)),
        ("s", 3, struct.pack(">h", -300)),
        ("i", 4, struct.pack(">i", 70000)),
        ("l", 5, struct.pack(">q", 2**40)),
        ("y", 6, struct.pack(">H", 2) + b"\x00\x01"),
        ("x", 7, struct.pack(">H", 2) + b"ok"),
        ("ts", 8, struct.pack(">q", 1700000000000)),
        ("u", 9, uuid.bytes),
    ]:
        block += bytes([len(name)]) + name.encode() + bytes([kind]) + value
    total = 16 + len(block)
    prelude = struct.pack(">II", total, len(block))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + block
    message = head + struct.pack(">I", zlib.crc32(head))
    (decoded,) = EventStreamDecoder().feed(message)
    assert decoded == EventStreamMessage(
        {
            "t": True,
            "f": False,
            "b": -2,
            "s": -300,
            "i": 70000,
            "l": 2**40,
            "y": b"\x00\x01",
            "x": "ok",
            "ts": 1700000000000,
            "u": uuid,
        },
        b"",
    )


def test_a_bad_prelude_crc_is_an_error_naming_the_message() -> None:
    first = event("messageStart", {"role": "assistant"})
    damaged = bytearray(event("messageStop", {"stopReason": "end_turn"}))
    damaged[9] ^= 0xFF
    decoder = EventStreamDecoder()
    assert len(decoder.feed(first + bytes(damaged))) == 1  # what came before is kept
    with pytest.raises(StreamDecodeError, match="prelude CRC") as caught:
        decoder.feed(b"")
    assert caught.value.chunk == 1


def test_a_bad_message_crc_is_an_error() -> None:
    damaged = bytearray(event("messageStart", {"role": "assistant"}))
    damaged[20] ^= 0x01
    with pytest.raises(StreamDecodeError, match="message CRC"):
        EventStreamDecoder().feed(bytes(damaged))


def test_a_cut_body_is_an_error_unless_allowed() -> None:
    body = CONVERSE_BODY[:-5]
    with pytest.raises(StreamDecodeError, match="unfinished message"):
        decoder = EventStreamDecoder()
        decoder.feed(body)
        decoder.close()
    decoder = EventStreamDecoder()
    decoder.feed(body)
    assert decoder.close(allow_unterminated=True) == []


@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_messages_or_our_error(data: bytes) -> None:
    decoder = EventStreamDecoder()
    try:
        decoder.feed(data)
        decoder.close()
    except StreamDecodeError:
        pass


def test_converse_stream_becomes_text_a_tool_call_and_usage() -> None:
    out = decode(CONVERSE, CONVERSE_BODY)
    assert out == decode(CONVERSE, CONVERSE_BODY, 3)
    chunks = [c for c in out if isinstance(c, ChatCompletionChunk)]
    assert all(c.model == "anthropic.claude-v2" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Héllo"
    fragments = [f for c in chunks if c.choices for f in c.choices[0].delta.tool_calls or []]
    assert fragments[0].id == "t1" and fragments[0].function is not None
    assert "".join(f.function.arguments or "" for f in fragments if f.function) == '{"a":1}'
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 7
    assert not [f for f in out if isinstance(f, StreamFault)]


def test_a_tool_call_without_input_gets_empty_json() -> None:
    body = b"".join(
        [
            event("messageStart", {"role": "assistant"}),
            event(
                "contentBlockStart",
                {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t", "name": "now"}}},
            ),
            event("contentBlockStop", {"contentBlockIndex": 0}),
            event("messageStop", {"stopReason": "tool_use"}),
        ]
    )
    chunks = [c for c in decode(CONVERSE, body) if isinstance(c, ChatCompletionChunk)]
    fragments = [f for c in chunks for f in c.choices[0].delta.tool_calls or []]
    assert "".join(f.function.arguments or "" for f in fragments if f.function) == "{}"


def test_converse_reasoning_and_its_signature() -> None:
    body = b"".join(
        [
            event("messageStart", {"role": "assistant"}),
            event(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "hmm"}}},
            ),
            event(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "sig"}}},
            ),
            event("messageStop", {"stopReason": "end_turn"}),
        ]
    )
    chunks = [c for c in decode(CONVERSE, body) if isinstance(c, ChatCompletionChunk)]
    deltas = [c.choices[0].delta for c in chunks]
    assert "".join(d.reasoning_content or "" for d in deltas) == "hmm"
    assert [d.reasoning_content_signature for d in deltas if d.reasoning_content_signature] == [
        "sig"
    ]


def test_an_exception_message_ends_the_stream_after_what_came_before() -> None:
    body = CONVERSE_BODY[: len(event("messageStart", {"role": "assistant"}))] + exception(
        "throttlingException", "Too many requests"
    )
    out = decode(CONVERSE, body)
    assert isinstance(out[0], ChatCompletionChunk)
    assert out[-1] == StreamFault("error", "Too many requests", error_type="throttlingException")
    assert not [f for f in out if isinstance(f, StreamFault) and f.kind == "incomplete"]


def test_a_cut_converse_stream_is_incomplete() -> None:
    out = decode(CONVERSE, CONVERSE_BODY[: len(CONVERSE_BODY) // 2])
    assert isinstance(out[-1], StreamFault) and out[-1].kind == "incomplete"
    assert "messageStop" in out[-1].message


def anthropic_chunk(payload: dict[str, object]) -> bytes:
    return event("chunk", {"bytes": base64.b64encode(json.dumps(payload).encode()).decode()})


def test_invoke_stream_hands_anthropic_events_to_the_messages_adapter() -> None:
    body = b"".join(
        anthropic_chunk(e)
        for e in [
            {"type": "message_start", "message": {"id": "m", "model": "claude", "usage": {}}},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "hi"},
            },
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}},
            {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 1}},
        ]
    )
    out = decode(INVOKE, body, 5)
    chunks = [c for c in out if isinstance(c, ChatCompletionChunk)]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "hi"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert not [f for f in out if isinstance(f, StreamFault)]
    # Without message_stop the stream is incomplete, as on Anthropic's own API.
    cut = decode(INVOKE, body[: -len(anthropic_chunk({"type": "message_stop"})) - 60])
    assert isinstance(cut[-1], StreamFault) and cut[-1].kind == "incomplete"


def test_invoke_stream_bytes_that_are_not_base64_json_name_the_event() -> None:
    body = event("chunk", {"bytes": "!!not base64!!"})
    with pytest.raises(ChunkError, match="base64") as caught:
        decode(INVOKE, body)
    assert caught.value.chunk == 0
