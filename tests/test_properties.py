"""Property tests: the messages never depend on where a stream is cut, and nothing crashes."""

from __future__ import annotations

import json
from typing import Any

from chunkfactory import chunk, merged, run, split, tool, tool_stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamreel.core.arguments import ERROR, REST, VALUE, ArgumentsReader, Route
from streamreel.core.messages import ErrorMessage, ToolCallMessage

# Text with what breaks naive parsers: quotes, backslashes, escapes' letters, non-ASCII,
# astral characters (surrogate pairs in \u escapes), JSON punctuation.
text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list('"\\/{}[]:,ntu \n\t')),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=40,
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False), text,
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)
keys = text.filter(lambda k: k not in ("inner_thoughts", "message"))
arguments = st.dictionaries(keys, values, max_size=5)
cuts = st.lists(st.integers(min_value=1, max_value=2000), max_size=25)
separators = st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : ")])
ascii_flags = st.booleans()

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def encode(value: Any, sep: tuple[str, str], ensure_ascii: bool) -> str:
    return json.dumps(value, separators=sep, ensure_ascii=ensure_ascii)


@FAST
@given(
    args=arguments,
    thoughts=text,
    position=st.integers(0, 5),
    sep=separators,
    ascii_=ascii_flags,
    at=cuts,
)
def test_tool_call_arguments_survive_any_split(
    args: dict[str, Any],
    thoughts: str,
    position: int,
    sep: tuple[str, str],
    ascii_: bool,
    at: list[int],
) -> None:
    items = list(args.items())
    items.insert(min(position, len(items)), ("inner_thoughts", thoughts))
    source = encode(dict(items), sep, ascii_)
    whole = merged(tool_stream(source, name="tool", cuts=[]))
    cut = merged(tool_stream(source, name="tool", cuts=at))
    assert cut == whole
    # Inner thoughts after other keys interleave with the call: join the call's deltas by otid.
    calls = [m for m in cut if m.get("message_type") == "tool_call_message"]
    assert len({m["otid"] for m in calls}) == 1
    assert "".join(m["tool_call"].get("name", "") for m in calls) == "tool"
    assert json.loads("".join(m["tool_call"].get("arguments", "") for m in calls)) == args
    reasoning = [m["reasoning"] for m in cut if m.get("message_type") == "reasoning_message"]
    assert "".join(reasoning) == thoughts
    assert not any("error" in m for m in cut)


@FAST
@given(message=text, thoughts=text, extra=arguments, sep=separators, ascii_=ascii_flags, at=cuts)
def test_send_message_text_is_decoded_exactly_once_whatever_the_split(
    message: str,
    thoughts: str,
    extra: dict[str, Any],
    sep: tuple[str, str],
    ascii_: bool,
    at: list[int],
) -> None:
    source = encode({"inner_thoughts": thoughts, "message": message, **extra}, sep, ascii_)
    result = merged(tool_stream(source, cuts=at), use_assistant_message=True)
    assert result == merged(tool_stream(source, cuts=[]), use_assistant_message=True)
    said = "".join(m["content"] for m in result if m.get("message_type") == "assistant_message")
    thought = "".join(
        m["reasoning"] for m in result if m.get("message_type") == "reasoning_message"
    )
    assert said == message and thought == thoughts


@FAST
@given(obj=st.dictionaries(text, values, max_size=5), sep=separators, ascii_=ascii_flags, at=cuts)
def test_reader_text_route_decodes_every_string_value(
    obj: dict[str, Any], sep: tuple[str, str], ascii_: bool, at: list[int]
) -> None:
    source = encode(obj, sep, ascii_)
    reader = ArgumentsReader({k: Route.TEXT for k in obj}, default=Route.DROP)
    got: dict[str, str] = {}
    for piece in split(source, at):
        for event in reader.feed(piece):
            assert event.kind == VALUE
            got[event.key or ""] = got.get(event.key or "", "") + event.text
    assert reader.close() == [] and reader.finished
    for key, value in obj.items():
        expected = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        if isinstance(value, str):
            assert got.get(key, "") == expected
        else:
            assert json.loads(got[key]) == value


@FAST
@given(data=st.text(max_size=80), at=cuts)
def test_arbitrary_argument_text_gives_messages_or_error_messages_never_exceptions(
    data: str, at: list[int]
) -> None:
    for knobs in ({}, {"use_assistant_message": True}, {"inner_thoughts_in_kwargs": False}):
        stream = [tool("", name="send_message", call_id="c")] + [tool(p) for p in split(data, at)]
        messages = run(stream, **knobs)
        assert all(
            isinstance(m, ToolCallMessage | ErrorMessage) or m.message_type for m in messages
        )


@FAST
@given(data=st.text(max_size=80), at=cuts)
def test_arbitrary_content_in_reasoning_mode_never_raises(data: str, at: list[int]) -> None:
    stream = [chunk({"content": p}) for p in split(data, at)]
    whole = merged([chunk({"content": data})] if data else [], expect_reasoning_content=True)
    assert merged(stream, expect_reasoning_content=True) == whole


@FAST
@given(data=st.text(max_size=60), at=cuts)
def test_reader_events_are_split_invariant_on_any_text(data: str, at: list[int]) -> None:
    def collect(pieces: list[str]) -> tuple[dict[Any, str], list[str]]:
        reader = ArgumentsReader({"inner_thoughts": Route.TEXT})
        joined: dict[Any, str] = {}
        errors: list[str] = []
        for event in [e for p in pieces for e in reader.feed(p)] + reader.close():
            if event.kind == ERROR:
                errors.append(event.text)
            else:
                key = (event.kind, event.key) if event.kind == VALUE else REST
                joined[key] = joined.get(key, "") + event.text
        return joined, errors

    whole = collect([data])
    assert collect(split(data, at)) == whole
