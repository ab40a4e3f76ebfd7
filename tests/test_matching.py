"""Request matching: fields, volatile body keys, replay order and the no-match explanation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamreel.cassettes.matching import (
    DEFAULT_IGNORED_BODY_KEYS,
    EMULATOR_FIELDS,
    Difference,
    Matcher,
    ReplayQueue,
)
from streamreel.core.cassette import Interaction, RecordedRequest, RecordedResponse
from streamreel.core.errors import ConfigurationError, NoMatchError

URL = "https://api.openai.com/v1/chat/completions"


def req(body: Any = None, *, method: str = "POST", uri: str = URL) -> RecordedRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    return RecordedRequest(method, uri, {"authorization": ["Bearer sk-a"]}, raw)


def chat(prompt: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}], **extra}


def answered(request: RecordedRequest, body: bytes = b"{}") -> Interaction:
    return Interaction(request, RecordedResponse(200, "OK", {}, body))


def test_identical_requests_match_whatever_the_headers() -> None:
    live = req(chat())
    recorded = RecordedRequest("POST", URL, {"x-api-key": ["other"]}, json.dumps(chat()).encode())
    assert Matcher().matches(live, recorded)


def test_json_key_order_and_spacing_do_not_matter() -> None:
    compact = req(json.dumps(chat(), separators=(",", ":")).encode())
    spaced = req(json.dumps(dict(reversed(chat().items())), indent=2).encode())
    assert Matcher().matches(compact, spaced)


def test_each_url_part_and_the_method_are_compared() -> None:
    live = req(chat())
    cases = {
        "method": req(chat(), method="PUT"),
        # An explicit port, or the scheme's default port would differ too.
        "scheme": req(chat(), uri=URL.replace("https", "http").replace(".com", ".com:443")),
        "host": req(chat(), uri=URL.replace("api.openai.com", "example.com")),
        "port": req(chat(), uri=URL.replace("api.openai.com", "api.openai.com:8443")),
        "path": req(chat(), uri=URL.replace("chat/completions", "responses")),
        "query": req(chat(), uri=URL + "?api-version=1"),
    }
    for field, other in cases.items():
        assert [d.field for d in Matcher().differences(live, other)] == [field]


def test_default_ports_and_host_case_are_normalised() -> None:
    assert Matcher().matches(req(chat()), req(chat(), uri=URL.replace(".com", ".com:443")))
    assert Matcher().matches(req(chat()), req(chat(), uri=URL.replace("api.openai", "API.OpenAI")))


def test_percent_escapes_in_the_path_do_not_matter() -> None:
    escaped = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m-v1%3A0/converse-stream"
    plain = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m-v1:0/converse-stream"
    assert Matcher().matches(req(uri=escaped), req(uri=plain))
    assert not Matcher().matches(req(uri=escaped), req(uri=plain.replace("v1:0", "v2:0")))


def test_query_parameter_order_does_not_matter() -> None:
    a = req(chat(), uri=URL + "?a=1&b=2")
    b = req(chat(), uri=URL + "?b=2&a=1")
    assert Matcher().matches(a, b)


def test_emulator_fields_ignore_the_origin() -> None:
    local = req(chat(), uri="http://127.0.0.1:5555/v1/chat/completions")
    assert not Matcher().matches(local, req(chat()))
    assert Matcher(on=EMULATOR_FIELDS).matches(local, req(chat()))


def test_volatile_keys_are_ignored_but_stream_options_is_not() -> None:
    assert set(DEFAULT_IGNORED_BODY_KEYS) == {
        "user",
        "safety_identifier",
        "metadata",
        "prompt_cache_key",
    }
    base = req(chat())
    assert Matcher().matches(base, req(chat(user="u-1", metadata={"run": "7"})))
    usage = req(chat(stream_options={"include_usage": True}))
    assert Matcher().body_differences(base, usage) == ["stream_options"]


def test_ignoring_extends_the_list_with_dotted_paths() -> None:
    a = req(chat(temperature=0.1, extra={"trace": "a", "keep": 1}))
    b = req(chat(temperature=0.9, extra={"trace": "b", "keep": 1}))
    assert not Matcher().matches(a, b)
    matcher = Matcher().ignoring("temperature", "extra.trace")
    assert matcher.matches(a, b)
    assert matcher.ignore_body_keys[: len(DEFAULT_IGNORED_BODY_KEYS)] == DEFAULT_IGNORED_BODY_KEYS
    assert not matcher.matches(a, req(chat(temperature=0.1, extra={"trace": "a", "keep": 2})))


def test_body_differences_name_the_json_paths() -> None:
    a = req(chat("hello", tools=[{"name": "x"}]))
    b = req(chat("goodbye", tools=[{"name": "y"}], temperature=1))
    assert Matcher().body_differences(a, b) == [
        "messages[0].content",
        "temperature",
        "tools[0].name",
    ]


def test_booleans_and_numbers_are_different_json() -> None:
    assert not Matcher().matches(req({"stream": True}), req({"stream": 1}))
    assert Matcher().matches(req({"n": 1}), req({"n": 1.0}))


def test_non_json_bodies_must_be_identical_bytes() -> None:
    assert Matcher().matches(req(b"raw body"), req(b"raw body"))
    assert Matcher().body_differences(req(b"raw body"), req(b"raw bodY")) == ["<bytes>"]
    assert Matcher().body_differences(req(b"raw"), req({"a": 1})) == ["<bytes>"]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="expected fields among"):
        Matcher(on=("method", "headers"))


def test_the_queue_replays_repeats_in_recorded_order_once_each() -> None:
    first, second = answered(req(chat()), b"1"), answered(req(chat()), b"2")
    other = answered(req(chat("other")), b"3")
    queue = ReplayQueue([first, other, second])
    taken = [queue.take(req(chat())) for _ in range(3)]
    assert [t[0] if t else None for t in taken] == [0, 2, None]
    assert queue.has_match(req(chat()))
    queue.rewind()
    assert queue.take(req(chat())) == (0, first)


def test_nearest_puts_fewest_and_least_serious_differences_first() -> None:
    queue = ReplayQueue(
        [
            answered(req(chat(), uri=URL.replace("chat/completions", "embeddings"))),
            answered(req(chat("hullo", temperature=1))),
            answered(req(chat("hullo"))),
        ]
    )
    ranked = queue.nearest(req(chat("hello")))
    assert [index for index, _ in ranked] == [2, 1, 0]
    assert ranked[0][1] == [Difference("body", "messages[0].content")]


def test_no_match_error_names_the_nearest_and_what_differs() -> None:
    queue = ReplayQueue([answered(req(chat("hullo"))), answered(req(chat(), method="GET"))])
    error = queue.no_match(req(chat("hello")), source="c.yaml", hint="record it")
    assert isinstance(error, NoMatchError)
    text = str(error)
    assert text.startswith(f"cannot answer POST {URL}: expected a matching request recorded in")
    assert "c.yaml" in text and text.endswith("; do record it")
    assert "#0 POST" in text and "body (messages[0].content)" in text
    assert "#1 GET" in text and "method (POST != GET)" in text


def test_no_match_says_when_a_match_was_already_played() -> None:
    queue = ReplayQueue([answered(req(chat()))])
    assert queue.take(req(chat())) is not None
    assert "already played" in str(queue.no_match(req(chat()), source="c", hint="h"))


def test_no_match_on_an_empty_cassette() -> None:
    text = str(ReplayQueue([]).no_match(req(chat()), source="c.yaml", hint="h"))
    assert "got an empty cassette" in text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


@given(a=json_values, b=json_values)
def test_matching_is_symmetric_and_reflexive(a: Any, b: Any) -> None:
    left, right = req({"x": a}), req({"x": b})
    matcher = Matcher()
    assert matcher.matches(left, left)
    assert matcher.matches(left, right) == matcher.matches(right, left)
    assert matcher.matches(left, right) == (not matcher.body_differences(left, right))
