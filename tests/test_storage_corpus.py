"""Every real cassette in the corpus loads, matches its inventory row, and survives a rewrite.

The inventory (``corpus/inventory.json``) was written independently of this reader, one entry per
interaction, so it is the oracle: count, method, status and what kind of body each one carries.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CORPUS
from streamreel.cassettes.storage import GRPC_METHOD, dump_cassette, load_cassette, loads_cassette
from streamreel.core.cassette import Cassette, RecordedResponse
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

_ROWS: list[dict[str, Any]] = (
    json.loads((CORPUS / "inventory.json").read_text()) if CORPUS.is_dir() else []
)
GZIP_MAGIC = b"\x1f\x8b"


def _expected_source(row: dict[str, Any]) -> str:
    name = row["file"]
    if name.endswith(".har"):
        return "har"
    if name.endswith(".json"):
        return "nock"
    if row["source_repo"] == "pydantic/pydantic-ai":
        return "pydantic-ai"
    return "vcrpy"


def _check_body(kind: str | None, response: RecordedResponse, where: str) -> None:
    body = response.body
    assert not body.startswith(GZIP_MAGIC), f"{where}: body is still gzip"
    assert response.header("content-encoding") is None, f"{where}: Content-Encoding kept"
    if kind == "sse" and response.status >= 400 and body.lstrip().startswith(b"{"):
        # Gemini answers a bad stream request with a JSON error labelled text/event-stream.
        json.loads(body)
    elif kind == "sse":
        assert b"data:" in body or b"event:" in body, where
    elif kind == "json":
        json.loads(body)
    elif kind == "json-array-stream":
        assert isinstance(json.loads(body), list), where
    elif kind == "ndjson":
        for line in body.splitlines():
            if line.strip():
                json.loads(line)
    elif kind == "aws-eventstream":
        # An eventstream frame opens with its total length, big-endian.
        assert int.from_bytes(body[:4], "big") <= len(body), where
    elif kind == "empty":
        assert body == b"", where


@pytest.fixture(scope="module")
def loaded(corpus_dir: Path) -> dict[str, Cassette]:
    return {row["file"]: load_cassette(corpus_dir / row["file"]) for row in _ROWS}


def test_the_whole_corpus_is_inventoried(corpus_dir: Path) -> None:
    files = sorted(
        str(path.relative_to(corpus_dir))
        for path in corpus_dir.glob("*/*")
        if path.suffix in {".yaml", ".json", ".har"}
    )
    assert files == sorted(row["file"] for row in _ROWS)
    assert len(files) == 86


@pytest.mark.parametrize("row", _ROWS, ids=[row["file"] for row in _ROWS])
def test_corpus_file_matches_inventory(row: dict[str, Any], loaded: dict[str, Cassette]) -> None:
    cassette = loaded[row["file"]]
    expected = row["interactions"]
    assert len(cassette.interactions) == len(expected)
    assert cassette.info.source == _expected_source(row)
    for index, (interaction, facts) in enumerate(zip(cassette.interactions, expected, strict=True)):
        where = f"{row['file']} interaction {index}"
        request, response = interaction.request, interaction.response
        if facts["method"] == "gRPC":
            assert request.method == GRPC_METHOD
            assert request.uri.startswith("grpc:")
            for line in response.body.splitlines():
                assert "chunk" in json.loads(line)
            continue
        assert request.method == facts["method"], where
        assert response.status == facts["code"], where
        assert request.uri == facts["uri"].replace(":443/", "/"), where
        _check_body(facts.get("kind"), response, where)
        if facts.get("req_body") == "parsed_body" and request.body:
            json.loads(request.body)


@pytest.mark.parametrize("row", _ROWS, ids=[row["file"] for row in _ROWS])
def test_corpus_file_survives_streamreel_format(
    row: dict[str, Any], loaded: dict[str, Cassette]
) -> None:
    cassette = loaded[row["file"]]
    text = dump_cassette(cassette)
    again = loads_cassette(text)
    assert again.interactions == cassette.interactions
    assert dump_cassette(again) == text
    if any(item.request.method == GRPC_METHOD for item in cassette.interactions):
        return
    # vcrpy reads the rewritten file and would replay the very same response bytes.
    requests, responses, *_ = deserialize(text, yamlserializer)
    assert len(requests) == len(cassette.interactions)
    for response, interaction in zip(responses, cassette.interactions, strict=True):
        assert response["body"]["string"] == interaction.response.body
        assert response["status"]["code"] == interaction.response.status


def test_gzip_bodies_are_decoded_and_the_header_dropped(loaded: dict[str, Cassette]) -> None:
    name = "anthropic/llm-anthropic__test_anthropic__test_tools.yaml"
    raw = yaml.load((CORPUS / name).read_text(), Loader=yaml.CSafeLoader)
    stored = raw["interactions"][0]["response"]["body"]["string"]
    assert stored.startswith(GZIP_MAGIC)
    response = loaded[name].interactions[0].response
    assert response.body == gzip.decompress(stored)
    assert response.header("Content-Encoding") is None


def test_a_lying_gzip_header_keeps_the_plain_body(loaded: dict[str, Cassette]) -> None:
    name = "gemini/openinference__test_instrumentor__test_gemini_token_counts_streaming.yaml"
    raw = yaml.load((CORPUS / name).read_text(), Loader=yaml.CSafeLoader)
    headers = raw["interactions"][0]["response"]["headers"]
    assert headers["Content-Encoding"] == ["gzip"]
    response = loaded[name].interactions[0].response
    assert response.body == raw["interactions"][0]["response"]["body"]["string"].encode()
    assert response.header("content-encoding") is None


def test_parsed_body_becomes_json_bytes(loaded: dict[str, Cassette]) -> None:
    name = "openai/pydantic-ai__test_openai__test_openai_moderation_stream.yaml"
    request = loaded[name].interactions[0].request
    assert json.loads(request.body)["moderation"] == {"model": "omni-moderation-latest"}
    # pydantic-ai rebuilds it with json.dumps defaults; so does streamreel.
    assert request.body.startswith(b'{"messages": [{"content": ')


def test_crlf_gemini_sse_is_exact(loaded: dict[str, Cassette]) -> None:
    crlf = [
        interaction.response.body
        for name, cassette in loaded.items()
        if name.startswith("gemini/")
        for interaction in cassette.interactions
        if b"\r\n\r\n" in interaction.response.body
    ]
    assert crlf
    for body in crlf:
        assert body.startswith(b"data: ")


def test_nock_and_har_bodies_are_binary_eventstreams(loaded: dict[str, Cassette]) -> None:
    for name in (
        "bedrock/openinference__should-handle-basic-converse-stream-responses.json",
        "bedrock/openinference__bedrock-agent-with-traces-bedrockagentinstrumentation-trace-"
        "collector-integration-agent-at_369038077.har",
    ):
        response = loaded[name].interactions[0].response
        assert response.header("content-type") == "application/vnd.amazon.eventstream"
        assert b":event-type" in response.body
        assert response.chunks is None


def test_nock_url_drops_the_default_port(loaded: dict[str, Cassette]) -> None:
    name = "bedrock/openinference__should-handle-basic-converse-stream-responses.json"
    request = loaded[name].interactions[0].request
    assert request.uri.startswith("https://bedrock-runtime.us-east-1.amazonaws.com/model/")
    assert json.loads(request.body) == {
        "messages": [{"content": [{"text": "Hello, how are you?"}], "role": "user"}]
    }
