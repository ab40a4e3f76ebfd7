"""The SSE decoder against the WHATWG rules, piece by piece, and under any split of its input."""

from __future__ import annotations

import time
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamreel.core.errors import StreamDecodeError
from streamreel.core.sse import SSEDecoder, SSEEvent


def decode(*pieces: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.close())
    return events


def bytewise(body: bytes) -> list[SSEEvent]:
    return decode(*(body[i : i + 1] for i in range(len(body))))


def split_at(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    bounds = [0, *points, len(body)]
    return [body[a:b] for a, b in pairwise(bounds)]


def test_data_only_events_as_openai_sends_them() -> None:
    body = b'data: {"a":1}\n\ndata: [DONE]\n\n'
    assert decode(body) == [SSEEvent(data='{"a":1}'), SSEEvent(data="[DONE]")]


def test_event_names_and_default_type() -> None:
    body = b"event: message_start\ndata: {}\n\ndata: x\n\n"
    assert decode(body) == [SSEEvent("message_start", "{}"), SSEEvent("message", "x")]


@pytest.mark.parametrize("end", [b"\n", b"\r", b"\r\n"])
def test_every_line_end(end: bytes) -> None:
    body = b"event: e" + end + b"data: a" + end + b"data: b" + end + end
    assert decode(body) == [SSEEvent("e", "a\nb")]


def test_mixed_line_ends_in_one_stream() -> None:
    assert decode(b"data: a\r\n\ndata: b\r\rdata: c\n\r\n") == [
        SSEEvent(data="a"),
        SSEEvent(data="b"),
        SSEEvent(data="c"),
    ]


def test_cr_ending_one_piece_and_lf_opening_the_next_is_one_line_end() -> None:
    # Counted as two line ends, the CR and the LF would make a blank line between "a" and "b"
    # and split one event into two.
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == [SSEEvent(data="a\nb")]
    assert decode(b"data: a\r", b"\n", b"\r", b"\n") == [SSEEvent(data="a")]


def test_a_lone_cr_at_a_piece_end_still_ends_the_line() -> None:
    assert decode(b"data: a\r", b"\r") == [SSEEvent(data="a")]
    assert decode(b"data: a\r", b"data: b\r\r") == [SSEEvent(data="a\nb")]


def test_other_unicode_line_breaks_inside_a_whole_body_do_not_end_lines() -> None:
    # A vcrpy cassette hands the decoder a whole body at once; only CR, LF and CRLF end lines.
    value = "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg"
    body = f'data: {{"t": "{value}"}}\n\ndata: x\r\rdata: y\r\n\r\n'.encode()
    assert decode(body) == [
        SSEEvent(data=f'{{"t": "{value}"}}'),
        SSEEvent(data="x"),
        SSEEvent(data="y"),
    ]
    assert bytewise(body) == decode(body)


def test_comment_lines_are_ignored() -> None:
    body = b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: x\n: inside\n\n"
    assert decode(body) == [SSEEvent(data="x")]


def test_multi_line_data_joins_with_lf() -> None:
    assert decode(b"data: one\ndata:two\ndata\ndata:  three\n\n") == [
        SSEEvent(data="one\ntwo\n\n three")
    ]


def test_only_one_space_after_the_colon_is_dropped() -> None:
    assert decode(b"data:  padded \n\n") == [SSEEvent(data=" padded ")]
    assert decode(b"data:\tx\n\n") == [SSEEvent(data="\tx")]


def test_field_without_colon_has_an_empty_value() -> None:
    assert decode(b"data\n\n") == [SSEEvent(data="")]
    assert decode(b"event\ndata: x\n\n") == [SSEEvent("message", "x")]


def test_colon_in_the_value_stays() -> None:
    assert decode(b"data: a: b\n\n") == [SSEEvent(data="a: b")]


def test_event_without_data_is_not_dispatched() -> None:
    assert decode(b"event: ping\n\ndata: x\n\n") == [SSEEvent(data="x")]


def test_unknown_fields_are_ignored() -> None:
    assert decode(b"foo: bar\ndata: x\nData: y\n\n") == [SSEEvent(data="x")]


def test_last_event_id_persists_and_nul_ids_are_ignored() -> None:
    body = b"id: 7\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\nid\ndata: d\n\n"
    assert [(e.data, e.id) for e in decode(body)] == [("a", "7"), ("b", "7"), ("c", "7"), ("d", "")]


def test_retry_is_reported_on_its_event_when_it_is_digits() -> None:
    events = decode(
        b"retry: 3000\ndata: a\n\nretry: 3s\ndata: b\n\nretry: 99999999999999999999\ndata: c\n\n"
    )
    assert [e.retry for e in events] == [3000, None, None]


def test_leading_bom_is_dropped_once_even_when_split() -> None:
    bom = "\ufeff".encode()
    assert decode(bom + b"data: x\n\n") == [SSEEvent(data="x")]
    assert decode(bom[:1], bom[1:2], bom[2:] + b"data: x\n\n") == [SSEEvent(data="x")]
    # A second BOM is content: the line's field name is "\ufeffdata", which is unknown.
    assert decode(bom + bom + b"data: x\n\n") == []


def test_utf8_character_split_across_pieces() -> None:
    body = "data: café 🙂\n\n".encode()
    for cut in range(len(body) + 1):
        assert decode(body[:cut], body[cut:]) == [SSEEvent(data="café 🙂")]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert decode(b"data: a\xffb\n\n") == [SSEEvent(data="a\ufffdb")]
    assert decode(b"data: a\xe2\x82", b"\n\n") == [SSEEvent(data="a\ufffd")]


def test_unterminated_event_is_discarded_at_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: cut") == [SSEEvent(data="a")]
    assert decoder.pending
    assert decoder.close() == []
    assert not decoder.pending


def test_close_can_keep_the_event_a_stripped_body_ends_inside() -> None:
    for body in (b"data: a\n\ndata: b\n", b"data: a\n\ndata: b"):
        decoder = SSEDecoder()
        assert decoder.feed(body) == [SSEEvent(data="a")]
        assert decoder.close(keep_unterminated=True) == [SSEEvent(data="b")]
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\nevent: only-a-name\n")
    assert decoder.close(keep_unterminated=True) == []


def test_pending_is_false_between_events() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\n: comment\n")
    assert not decoder.pending


def test_gemini_crlf_stream() -> None:
    body = b'data: {"candidates": []}\r\n\r\ndata: {"candidates": [1]}\r\n\r\n'
    assert [e.data for e in decode(body)] == ['{"candidates": []}', '{"candidates": [1]}']


def test_use_after_close_is_an_error() -> None:
    decoder = SSEDecoder()
    decoder.close()
    with pytest.raises(StreamDecodeError, match="cannot decode SSE: expected an open decoder"):
        decoder.feed(b"data: x\n\n")


def test_event_is_frozen_and_slotted() -> None:
    event = SSEEvent(data="x")
    with pytest.raises(AttributeError):
        event.data = "y"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")


def test_a_long_line_fed_byte_by_byte_is_linear() -> None:
    # Re-scanning the unfinished line on every feed would make this quadratic: ~10^10 steps.
    body = b"data: " + b"x" * 200_000 + b"\n\n"
    started = time.perf_counter()
    events = bytewise(body)
    assert time.perf_counter() - started < 10
    assert len(events[0].data) == 200_000


sse_lines = st.lists(
    st.one_of(
        st.sampled_from(["data: [DONE]", ": keep-alive", "event: error", "id: 1", "retry: 10"]),
        st.builds(lambda s: "data: " + s, st.text(max_size=20)),
        st.builds(lambda s: "event: " + s, st.text(max_size=8)),
        st.just(""),
    ),
    max_size=20,
)
line_ends = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def sse_bodies(draw: st.DrawFn) -> bytes:
    lines = draw(sse_lines)
    text = "".join(line.replace("\r", "").replace("\n", "") + draw(line_ends) for line in lines)
    return text.encode()


@settings(max_examples=300, deadline=None)
@given(body=sse_bodies(), cuts=st.lists(st.integers(min_value=0), max_size=12))
def test_any_split_of_a_stream_gives_the_same_events(body: bytes, cuts: list[int]) -> None:
    assert decode(*split_at(body, cuts)) == decode(body)


@settings(max_examples=100, deadline=None)
@given(body=sse_bodies())
def test_byte_by_byte_gives_the_same_events(body: bytes) -> None:
    assert bytewise(body) == decode(body)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200), cuts=st.lists(st.integers(min_value=0), max_size=12))
def test_arbitrary_bytes_never_fail_and_never_depend_on_the_split(
    body: bytes, cuts: list[int]
) -> None:
    assert decode(*split_at(body, cuts)) == decode(body)


@pytest.mark.parametrize("end", [b"\n\n", b"\r\n\r\n"])
def test_a_data_line_of_megabytes_is_copied_once_as_its_value(end: bytes) -> None:
    import tracemalloc

    body = b"data: " + b"x" * 4_000_000 + end
    tracemalloc.start()
    try:
        events = SSEDecoder().feed(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [len(event.data) for event in events] == [4_000_000]
    # The decoded piece and the value: not a third copy as a line of its own.
    assert peak < 2.5 * len(body), f"{peak:,} bytes traced for a {len(body):,}-byte line"


tricky_lines = st.lists(
    st.one_of(
        st.sampled_from(
            ["event", "event:", "event:x", "event:  two", "events: x", "data", "data:x", "id: 2"]
        ),
        st.builds(lambda s: "event:" + s, st.text(max_size=8)),
        st.builds(lambda s: "data:" + s, st.text(max_size=8)),
        st.builds(lambda s: "retry: " + s, st.sampled_from(["5", "12a", "", "٣"])),
        sse_lines.map(lambda lines: "".join(lines[:1])),
        st.just(""),
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(lines=tricky_lines, end=line_ends)
def test_the_lines_read_in_one_split_give_what_the_field_reader_gives(
    lines: list[str], end: str
) -> None:
    # A body of short lines is split once and its common lines (event, data, blank) are read
    # inline; a body of long lines goes through the general field reader, line by line. Forced
    # down that path, every body must give the same events.
    from unittest import mock

    from streamreel.core import sse

    body = "".join(line.replace("\r", "").replace("\n", "") + end for line in lines).encode()
    inline = decode(body)
    with mock.patch.object(sse, "_LONG_LINE", 0):
        assert decode(body) == inline
