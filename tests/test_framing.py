"""NDJSON and streamed JSON arrays: values out as soon as they are complete, under any split."""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamreel.core.errors import StreamDecodeError, StreamreelError
from streamreel.core.framing import JSONArrayDecoder, NDJSONDecoder, stripped_loads

Decoder = NDJSONDecoder | JSONArrayDecoder


def decode(factory: Callable[[], Decoder], *pieces: bytes) -> list[Any]:
    decoder = factory()
    values: list[Any] = []
    for piece in pieces:
        values.extend(decoder.feed(piece))
    values.extend(decoder.close())
    return values


def outcome(factory: Callable[[], Decoder], pieces: list[bytes]) -> tuple[list[Any], str | None]:
    """The values out before any error, and the error's text: what must not depend on splits."""
    decoder = factory()
    values: list[Any] = []
    try:
        for piece in pieces:
            values.extend(decoder.feed(piece))
        values.extend(decoder.close())
    except StreamreelError as exc:
        return values, str(exc)
    return values, None


def split_at(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    return [body[a:b] for a, b in pairwise([0, *points, len(body)])]


# --- NDJSON -------------------------------------------------------------------------------


def test_ndjson_lines() -> None:
    body = b'{"a":1}\n{"b":2}\n'
    assert decode(NDJSONDecoder, body) == [{"a": 1}, {"b": 2}]


def test_ndjson_values_come_out_as_their_line_ends() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a":1}\n{"b"') == [{"a": 1}]
    assert decoder.feed(b":2}") == []
    assert decoder.feed(b"\n") == [{"b": 2}]


def test_ndjson_crlf_blank_lines_bom_and_a_last_line_without_lf() -> None:
    body = '\ufeff{"a":1}\r\n\r\n  \n{"b":2}'.encode()
    assert decode(NDJSONDecoder, body) == [{"a": 1}, {"b": 2}]


def test_ndjson_multibyte_character_split() -> None:
    body = '{"t":"é🙂"}\n'.encode()
    for cut in range(len(body) + 1):
        assert decode(NDJSONDecoder, body[:cut], body[cut:]) == [{"t": "é🙂"}]


def test_ndjson_bad_line_names_the_value_and_the_line() -> None:
    decoder = NDJSONDecoder()
    with pytest.raises(StreamDecodeError) as caught:
        decoder.feed(b"\nnot json\n")
    error = caught.value
    assert (error.chunk, error.line) == (0, 2)
    assert str(error).startswith("line 2: chunk 0: cannot decode NDJSON line: expected a JSON")
    assert "fix or remove" in str(error)


def test_ndjson_keeps_values_before_a_fault_and_raises_on_the_next_call() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a":1}\n{"b":2}\n{oops}\n{"c":3}\n') == [{"a": 1}, {"b": 2}]
    with pytest.raises(StreamDecodeError) as caught:
        decoder.close()
    assert caught.value.chunk == 2
    with pytest.raises(StreamDecodeError):  # stays failed
        decoder.feed(b"{}\n")


def test_ndjson_invalid_utf8() -> None:
    with pytest.raises(StreamDecodeError, match="expected UTF-8 text, got byte 0xff"):
        decode(NDJSONDecoder, b'{"a":"\xff"}\n')


def test_ndjson_use_after_close() -> None:
    decoder = NDJSONDecoder()
    decoder.close()
    with pytest.raises(StreamDecodeError, match="already closed"):
        decoder.feed(b"{}\n")


# --- JSON array ---------------------------------------------------------------------------


GEMINI = b'[{\n  "a": 1\n}\n,\r\n{\n  "b": [2, {"c": "]}"}]\n}\n]'


def test_gemini_array_with_its_separators() -> None:
    assert decode(JSONArrayDecoder, GEMINI) == [{"a": 1}, {"b": [2, {"c": "]}"}]}]


def test_array_elements_come_out_as_soon_as_they_close() -> None:
    decoder = JSONArrayDecoder()
    assert decoder.feed(b'[{"a": 1}, {"b"') == [{"a": 1}]
    assert not decoder.finished
    assert decoder.feed(b": 2}") == [{"b": 2}]
    assert decoder.feed(b"]\n") == []
    assert decoder.finished
    assert decoder.close() == []


@pytest.mark.parametrize(
    ("body", "values"),
    [
        (b"[]", []),
        (b" \n[ ] ", []),
        (b'[1, -2.5e3, true, false, null, "s"]', [1, -2.5e3, True, False, None, "s"]),
        (b'["a\\"]", "\\\\", "{", "}["]', ['a"]', "\\", "{", "}["]),
        (b"[[1, [2]], {}]", [[1, [2]], {}]),
        ('\ufeff[{"k": "é"}]'.encode(), [{"k": "é"}]),
    ],
)
def test_array_values(body: bytes, values: list[Any]) -> None:
    assert decode(JSONArrayDecoder, body) == values
    assert decode(JSONArrayDecoder, *(body[i : i + 1] for i in range(len(body)))) == values


def test_backslash_at_a_piece_end_escapes_the_next_piece() -> None:
    assert decode(JSONArrayDecoder, b'["a\\', b'"b"]') == ['a"b']


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": 1}', "expected '[' to open the array, got '{'"),
        (b"[1,]", "expected a value, got ']'"),
        (b"[,1]", "expected a value, got ','"),
        (b"[1 2]", "expected ',' or ']' after a value, got '2'"),
        (b"[1] x", "expected nothing after the closing ']', got 'x'"),
        (b"[{]", "expected a JSON value"),
        (b"[tru]", "expected a JSON value"),
    ],
)
def test_array_errors(body: bytes, message: str) -> None:
    with pytest.raises(StreamDecodeError, match="cannot decode JSON array") as caught:
        decode(JSONArrayDecoder, body)
    assert message in str(caught.value)


def test_cut_array_is_an_error_at_close_after_its_complete_elements() -> None:
    decoder = JSONArrayDecoder()
    assert decoder.feed(b'[{"a": 1}, {"b"') == [{"a": 1}]
    with pytest.raises(StreamDecodeError, match="expected ']' to close it, got the end") as caught:
        decoder.close()
    assert caught.value.chunk == 1


def test_a_caller_may_accept_a_cut_array_but_not_bad_bytes() -> None:
    decoder = JSONArrayDecoder()
    assert decoder.feed(b'[{"a": 1}, {"b"') == [{"a": 1}]
    assert decoder.close(allow_unterminated=True) == []
    decoder = JSONArrayDecoder()
    assert decoder.feed(b'[{"a": 1} x') == [{"a": 1}]
    with pytest.raises(StreamDecodeError, match="expected ',' or ']' after a value, got 'x'"):
        decoder.close(allow_unterminated=True)


def test_array_keeps_elements_before_invalid_utf8() -> None:
    decoder = JSONArrayDecoder()
    assert decoder.feed(b'[1, 2, "\xff"]') == [1, 2]
    with pytest.raises(StreamDecodeError, match="expected UTF-8 text") as caught:
        decoder.close()
    assert caught.value.chunk == 2


def test_absurd_nesting_is_our_error_not_a_recursion_error() -> None:
    body = b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]"
    with pytest.raises(StreamDecodeError, match="RecursionError"):
        decode(JSONArrayDecoder, body)


def test_a_long_element_fed_byte_by_byte_is_read_whole() -> None:
    # Speed is the benchmark's business; this checks the element survives 100,000 pieces.
    body = b'[{"t": "' + b"x" * 100_000 + b'"}]'
    values = decode(JSONArrayDecoder, *(body[i : i + 1] for i in range(len(body))))
    assert values == [{"t": "x" * 100_000}]


# --- properties ---------------------------------------------------------------------------

text = st.text(alphabet=st.sampled_from(list('ab"\\/{}[],: \n\té🙂')), max_size=12)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**9), 10**9),
        st.floats(allow_nan=False, allow_infinity=False),
        text,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=10,
)
separators = st.sampled_from([",", ", ", "\n,\r\n", " ,\n"])
cuts = st.lists(st.integers(min_value=0), max_size=15)


@st.composite
def arrays(draw: st.DrawFn) -> tuple[bytes, list[Any]]:
    values = draw(st.lists(json_values, max_size=6))
    indent = draw(st.sampled_from([None, 2]))
    parts = [json.dumps(v, indent=indent, ensure_ascii=draw(st.booleans())) for v in values]
    body = "[" + draw(separators).join(parts) + "]"
    return body.encode(), values


@st.composite
def ndjson(draw: st.DrawFn) -> tuple[bytes, list[Any]]:
    values = draw(st.lists(json_values, max_size=6))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [json.dumps(v, ensure_ascii=draw(st.booleans())) + end for v in values]
    return "".join(lines).encode(), values


@settings(max_examples=300, deadline=None)
@given(case=arrays(), cuts=cuts)
def test_any_split_of_an_array_gives_its_elements(
    case: tuple[bytes, list[Any]], cuts: list[int]
) -> None:
    body, values = case
    assert decode(JSONArrayDecoder, *split_at(body, cuts)) == values


@settings(max_examples=300, deadline=None)
@given(case=ndjson(), cuts=cuts)
def test_any_split_of_ndjson_gives_its_values(
    case: tuple[bytes, list[Any]], cuts: list[int]
) -> None:
    body, values = case
    assert decode(NDJSONDecoder, *split_at(body, cuts)) == values


@settings(max_examples=400, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=120),
        st.text(alphabet=st.sampled_from(list('[]{}",:\\ \n1a')), max_size=60).map(str.encode),
    ),
    cuts=cuts,
    factory=st.sampled_from([NDJSONDecoder, JSONArrayDecoder]),
)
def test_arbitrary_bytes_give_values_or_our_error_whatever_the_split(
    body: bytes, cuts: list[int], factory: Callable[[], Decoder]
) -> None:
    # Totality: only values or streamreel's errors come out, and what comes out (values before
    # the fault, then the fault) does not depend on where the body was cut.
    assert outcome(factory, split_at(body, cuts)) == outcome(factory, [body])


def _outcome(load: Callable[[str], Any], text: str) -> tuple[str, object]:
    try:
        return "value", load(text)
    except Exception as exc:  # the same kind of error, with the same message
        return type(exc).__name__, str(exc)


json_texts = st.one_of(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
        max_leaves=8,
    ).map(json.dumps),
    st.text(alphabet='{}[]",:0123456789.eE+-truefalsn \t\n\ufeffa\\', max_size=24),
)


@settings(max_examples=500, deadline=None)
@given(text=json_texts, tail=st.sampled_from(["", " ", "x", "]", "\ufeff"]))
def test_stripped_loads_decodes_and_fails_exactly_as_json_loads(text: str, tail: str) -> None:
    for candidate in (text, text + tail, tail + text):
        assert _outcome(stripped_loads, candidate) == _outcome(json.loads, candidate)
