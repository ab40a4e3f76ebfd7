"""Totality of the readers: any bytes, any YAML or JSON structure, only streamreel's errors out.

Hypothesis feeds every reader (vcrpy YAML, pydantic-ai ``parsed_body`` cassettes, HAR, nock
and its hex-chunk arrays, go-vcr, Ruby VCR, ``.jsonl`` chunk files) arbitrary bytes, arbitrary
documents, and valid cassettes with one part
replaced by an arbitrary value or by a YAML alias bomb. Each read, and the replay of whatever
loads, may only succeed or raise a :class:`~streamreel.core.errors.StreamreelError`; it must stay
under a memory budget (traced allocations), and a watchdog turns a hang into a failure. Example
counts are modest so the suite stays quick on two cores.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import signal
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamreel.cassettes.storage import load_cassette
from streamreel.core.errors import StreamreelError
from streamreel.playback.replay import replay, replay_chunk_file

MEMORY_BUDGET = 64 * 1024 * 1024  # bytes of traced allocations for one example
WATCHDOG_S = 30  # a hang guard, far above the milliseconds one example takes

TOTAL = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class Hang(Exception):
    """Raised by the watchdog; never one of streamreel's errors, so it fails the example."""


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """Run the body under the memory budget and the watchdog."""

    def alarm(_signum: int, _frame: object) -> None:
        raise Hang(f"a reader ran past {WATCHDOG_S} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(WATCHDOG_S)
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
        assert peak < MEMORY_BUDGET, f"a reader used {peak:,} bytes"
    finally:
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def read_everything(path: Path) -> None:
    """Load (or replay, for a chunk file) and replay what loads; streamreel's errors are fine."""
    with bounded():
        try:
            if path.suffix == ".jsonl":
                replay_chunk_file(path)
            else:
                replay(load_cassette(path))
        except StreamreelError as exc:
            assert str(path) in str(exc) or exc.path is None, str(exc)


# -- strategies --------------------------------------------------------------------------------

KEYS = [
    "version", "interactions", "request", "response", "method", "uri", "headers", "body",
    "string", "parsed_body", "status", "code", "message", "streamreel", "chunks", "offset_ms",
    "size", "error", "request_json", "metadata", "format", "log", "entries", "postData", "text",
    "content", "encoding", "url", "scope", "path", "rawHeaders", "responseIsBinary",
    "content-encoding", "content-type", "choices", "delta", "tool_calls", "arguments", "index",
    "request_stream", "response_stream", "chunks_json", "raw", "json", "status_code",
    "http_interactions", "recorded_with", "base64_string", "recorded_at", "form", "duration",
]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["gzip", "deflate", "br", "base64", "data: [DONE]\n\n", "POST", "200"]),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)

SSE_BODY = (
    'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    "data: [DONE]\n\n"
)


def vcr_document(parsed: bool) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": "POST",
        "uri": "https://api.openai.com/v1/chat/completions",
        "headers": {"content-type": ["application/json"]},
    }
    if parsed:
        request["parsed_body"] = {"model": "gpt-4o", "stream": True, "messages": []}
    else:
        request["body"] = '{"model": "gpt-4o", "stream": true}'
    response: dict[str, Any] = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["text/event-stream"]},
        "body": {"string": SSE_BODY},
        "streamreel": {"chunks": [{"offset_ms": 1.0, "size": len(SSE_BODY)}]},
    }
    return {"version": 1, "interactions": [{"request": request, "response": response}]}


def har_document() -> dict[str, Any]:
    return {
        "log": {
            "version": "1.2",
            "entries": [
                {
                    "request": {
                        "method": "POST",
                        "url": "https://api.openai.com/v1/chat/completions",
                        "headers": [{"name": "content-type", "value": "application/json"}],
                        "postData": {"mimeType": "application/json", "text": '{"stream":true}'},
                    },
                    "response": {
                        "status": 200,
                        "headers": [{"name": "content-type", "value": "text/event-stream"}],
                        "content": {"mimeType": "text/event-stream", "text": SSE_BODY},
                    },
                }
            ],
        }
    }


def nock_document() -> list[dict[str, Any]]:
    return [
        {
            "scope": "https://api.openai.com:443",
            "method": "POST",
            "path": "/v1/chat/completions",
            "body": {"model": "gpt-4o", "stream": True},
            "status": 200,
            "response": SSE_BODY,
            "rawHeaders": ["content-type", "text/event-stream"],
        }
    ]


def nock_hex_document() -> list[dict[str, Any]]:
    compressed = gzip.compress(SSE_BODY.encode(), mtime=0)
    entry = nock_document()[0]
    entry["response"] = [compressed[:20].hex(), compressed[20:].hex()]
    entry["rawHeaders"] = ["content-type", "text/event-stream", "content-encoding", "gzip"]
    return [entry]


def go_vcr_document() -> dict[str, Any]:
    return {
        "version": 2,
        "interactions": [
            {
                "id": 0,
                "request": {
                    "proto": "HTTP/1.1",
                    "body": '{"stream": true}',
                    "form": {},
                    "headers": {"Content-Type": ["application/json"]},
                    "url": "https://api.openai.com/v1/chat/completions",
                    "method": "POST",
                },
                "response": {
                    "body": SSE_BODY,
                    "headers": {"Content-Type": ["text/event-stream"]},
                    "status": "200 OK",
                    "code": 200,
                    "duration": "12ms",
                },
            }
        ],
    }


def ruby_vcr_document() -> dict[str, Any]:
    return {
        "http_interactions": [
            {
                "request": {
                    "method": "post",
                    "uri": "https://api.openai.com/v1/chat/completions",
                    "body": {"encoding": "UTF-8", "string": '{"stream": true}'},
                    "headers": {"Content-Type": ["application/json"]},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"Content-Type": ["text/event-stream"]},
                    "body": {
                        "encoding": "ASCII-8BIT",
                        "base64_string": base64.b64encode(SSE_BODY.encode()).decode(),
                    },
                },
                "recorded_at": "Mon, 01 Jan 2024 12:00:00 GMT",
            }
        ],
        "recorded_with": "VCR 6.2.0",
    }


BASES: dict[str, tuple[Callable[[], Any], str]] = {
    "vcrpy": (lambda: vcr_document(parsed=False), ".yaml"),
    "pydantic-ai": (lambda: vcr_document(parsed=True), ".yaml"),
    "har": (har_document, ".har"),
    "nock": (nock_document, ".json"),
    "nock-hex-chunks": (nock_hex_document, ".json"),
    "go-vcr": (go_vcr_document, ".yaml"),
    "ruby-vcr": (ruby_vcr_document, ".yaml"),
}


def places(document: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value in a document (the root excluded)."""
    children: list[tuple[Any, Any]] = []
    if isinstance(document, dict):
        children = list(document.items())
    elif isinstance(document, list):
        children = list(enumerate(document))
    for key, child in children:
        yield (*at, key)
        yield from places(child, (*at, key))


def replaced(document: Any, place: tuple[Any, ...], value: Any) -> Any:
    holder = document
    for key in place[:-1]:
        holder = holder[key]
    holder[place[-1]] = value
    return document


def alias_bomb(levels: int, width: int) -> str:
    """YAML flow text of ``levels`` anchored lists, each aliasing the one before ``width`` times."""
    parts = ["[&b0 [lol, lol]"]
    for level in range(1, levels):
        parts.append(f", &b{level} [" + ", ".join([f"*b{level - 1}"] * width) + "]")
    return "".join(parts) + "]"


def dump(document: Any, suffix: str) -> str:
    if suffix == ".yaml":
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    return json.dumps(document)


# -- properties --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".har", ".jsonl"])
@TOTAL
@given(data=st.binary(max_size=600))
def test_any_bytes_give_a_result_or_a_streamreel_error(
    tmp_path: Path, suffix: str, data: bytes
) -> None:
    path = tmp_path / f"any{suffix}"
    path.write_bytes(data)
    read_everything(path)


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".har", ".jsonl"])
@TOTAL
@given(document=values)
def test_any_document_gives_a_result_or_a_streamreel_error(
    tmp_path: Path, suffix: str, document: Any
) -> None:
    path = tmp_path / f"any{suffix}"
    if suffix == ".jsonl":
        text = "\n".join(
            json.dumps(item) for item in (document if isinstance(document, list) else [document])
        )
    else:
        text = dump(document, ".yaml" if suffix == ".yaml" else ".json")
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    read_everything(path)


@pytest.mark.parametrize("base", sorted(BASES))
@TOTAL
@given(data=st.data())
def test_a_cassette_with_any_part_replaced_gives_a_result_or_a_streamreel_error(
    tmp_path: Path, base: str, data: st.DataObject
) -> None:
    make, suffix = BASES[base]
    document = make()
    place = data.draw(st.sampled_from(list(places(document))), label="place")
    value = data.draw(values, label="value")
    path = tmp_path / f"mutant{suffix}"
    path.write_text(
        dump(replaced(document, place, value), suffix), encoding="utf-8", errors="surrogatepass"
    )
    read_everything(path)


@pytest.mark.parametrize("parsed", [True, False], ids=["parsed_body", "body"])
@settings(TOTAL, max_examples=25)
@given(levels=st.integers(2, 12), width=st.integers(1, 12))
def test_alias_bombs_of_any_shape_are_bounded(
    tmp_path: Path, parsed: bool, levels: int, width: int
) -> None:
    key = "parsed_body" if parsed else "body"
    text = (
        "version: 1\ninteractions:\n- request:\n    method: POST\n"
        "    uri: https://api.openai.com/v1/chat/completions\n"
        f"    headers: {{}}\n    {key}: {alias_bomb(levels, width)}\n"
        "  response:\n    status: {code: 200, message: OK}\n    headers: {}\n"
        "    body: {string: ''}\n"
    )
    path = tmp_path / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    read_everything(path)


@settings(TOTAL, max_examples=25)
@given(depth=st.integers(150, 3000), kind=st.sampled_from(["[", '{"a":']))
def test_deep_nesting_anywhere_is_bounded(tmp_path: Path, depth: int, kind: str) -> None:
    close = "]" if kind == "[" else "}"
    nested = kind * depth + ("1" if kind != "[" else "") + close * depth
    documents = {
        "deep.json": '{"log": {"entries": ' + nested + "}}",
        "deep.har": json.dumps(
            {
                "log": {
                    "entries": [
                        {
                            "request": {
                                "method": "POST",
                                "url": "https://api.openai.com/v1/chat/completions",
                                "headers": [{"name": "content-type", "value": "application/json"}],
                                "postData": {"text": nested},
                            },
                            "response": {"status": 200, "content": {"text": nested}},
                        }
                    ]
                }
            }
        ),
        "deep.yaml": "version: 1\ninteractions:\n- request: {method: POST, uri: 'https://x/', "
        f"parsed_body: {nested}}}\n  response: {{status: {{code: 200}}, body: ''}}\n",
        "deep.jsonl": nested + "\n",
    }
    for name, text in documents.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        read_everything(path)
