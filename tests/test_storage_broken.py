"""Damaged and foreign-but-wrong files fail with a CassetteError that says where and what to do.

The files live in ``tests/data/broken``, one fault each, small enough to read in a glance. Every
error must carry the path, the interaction when the fault is inside one, and read
``cannot X: expected Y, got Z; do W``; none may be a bare KeyError/YAML traceback or an empty
cassette.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamreel.cassettes.storage import load_cassette, loads_cassette
from streamreel.core.errors import CassetteError, CassetteVersionError

BROKEN = Path(__file__).resolve().parent / "data" / "broken"
SENTENCE = re.compile(r"cannot [^:]+: expected .+, got .+; \S.*", re.DOTALL)

# file name -> (interaction the error names, or None for a whole-file fault; words it must say)
EXPECTED: dict[str, tuple[int | None, str]] = {
    "bad-base64.yaml": (1, "base64"),
    "bad-gzip.yaml": (1, "gzip"),
    "bad-yaml.yaml": (2, "YAML"),
    "blank.yaml": (None, "empty file"),
    "body-a-number.yaml": (0, "the number 42"),
    "chunk-negative-offset.yaml": (0, "offset_ms"),
    "chunks-wrong-size.yaml": (0, "adding up to the body's 14 bytes"),
    "empty.yaml": (None, "empty file"),
    "format-not-a-number.yaml": (None, "metadata.streamreel.format"),
    "har-bad-base64.har": (0, "base64"),
    "har-missing-request.har": (0, "request and response"),
    "headers-a-list.yaml": (0, "response.headers"),
    "interaction-a-string.yaml": (1, "'just a string'"),
    "interactions-a-mapping.yaml": (None, "interactions"),
    "json-array-of-numbers.json": (None, "a nock recording, a go-vcr or a Ruby VCR"),
    "missing-response.yaml": (1, "without 'response'"),
    "missing-status.yaml": (0, "response.status"),
    "missing-uri.yaml": (0, "request.uri"),
    "neither-har-nor-nock.json": (None, "a nock recording, a go-vcr or a Ruby VCR"),
    "newer-format.yaml": (None, "upgrade streamreel"),
    "nock-bad-hex.json": (0, "hex"),
    "nock-odd-raw-headers.json": (0, "rawHeaders"),
    "not-a-cassette.yaml": (None, "keys [hello]"),
    "not-utf8.yaml": (None, "UTF-8"),
    "python-object.yaml": (0, "os.system"),
    "request-json-not-json.yaml": (0, "request_json"),
    "scalar.yaml": (None, "'just some text'"),
    "status-not-a-number.yaml": (1, "'fine'"),
    "truncated.har": (None, "truncated"),
    "truncated.yaml": (1, "end of stream"),
    "unknown-encoding.yaml": (0, "'compress'"),
    "vcrpy-version-2.yaml": (None, "version 1"),
}


def test_every_broken_file_has_an_expectation() -> None:
    assert sorted(path.name for path in BROKEN.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_file_raises_a_located_readable_error(name: str) -> None:
    interaction, words = EXPECTED[name]
    path = BROKEN / name
    with pytest.raises(CassetteError) as caught:
        load_cassette(path)
    error = caught.value
    assert error.path == str(path)
    assert error.interaction == interaction
    assert SENTENCE.fullmatch(error.reason), error.reason
    assert words in str(error)
    assert str(error).startswith(str(path))
    # The original exception stays reachable for debugging, but is never what escapes.
    assert not isinstance(error, KeyError | TypeError)


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(CassetteError) as caught:
        load_cassette(BROKEN / "bad-yaml.yaml")
    assert caught.value.line is not None
    lines = (BROKEN / "bad-yaml.yaml").read_text().splitlines()
    assert "uri: [unclosed" in lines[caught.value.line - 1] or caught.value.line == len(lines) + 1


def test_newer_format_is_a_version_error() -> None:
    with pytest.raises(CassetteVersionError, match="format 99"):
        load_cassette(BROKEN / "newer-format.yaml")


def test_python_tags_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = (
        "version: 1\ninteractions:\n"
        f"- request: !!python/object/apply:os.system ['touch {marker}']\n  response: {{}}\n"
    )
    with pytest.raises(CassetteError):
        loads_cassette(text)
    assert not marker.exists()


def test_missing_file_is_a_cassette_error(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="cannot read cassette: expected a readable file"):
        load_cassette(tmp_path / "nope.yaml")


def test_errors_without_a_path_say_string() -> None:
    with pytest.raises(CassetteError) as caught:
        loads_cassette("")
    assert caught.value.path == "<string>"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "version: 1\ninteractions:\n- request: {method: GET, uri: 'http://x'}\n"
            "  response: {status: {code: 200}, body: {strin: x}}\n",
            "'string'",
        ),
        (
            "version: 1\ninteractions:\n- request: {method: 7, uri: 'http://x'}\n"
            "  response: {status: {code: 200}}\n",
            "request.method",
        ),
        (
            "version: 1\ninteractions:\n"
            "- request: {method: GET, uri: 'http://x', headers: {a: [{}]}}\n"
            "  response: {status: {code: 200}}\n",
            "request.headers.a",
        ),
        (
            "version: 1\ninteractions:\n- request: {method: GET, uri: 'http://x'}\n"
            "  response: {status: {code: 200}, streamreel: {request_json: fancy}}\n",
            "fancy",
        ),
        (
            "version: 1\ninteractions:\n- request: {method: GET, uri: 'http://x'}\n"
            "  response: {status: {code: 200}, streamreel: {error: [1]}}\n",
            "error",
        ),
        (
            "version: 1\ninteractions:\n- request: {method: GET, uri: 'http://x'}\n"
            "  response: {status: {code: 200}, streamreel: {recorded_at: soon}}\n",
            "ISO 8601",
        ),
        (
            "version: 1\ninteractions:\n- request_stream: {json: {}}\n  response_stream: 3\n",
            "response_stream",
        ),
    ],
)
def test_wrong_shapes_inside_an_interaction(text: str, words: str) -> None:
    with pytest.raises(CassetteError) as caught:
        loads_cassette(text, path="inline.yaml")
    assert caught.value.interaction == 0
    assert words in str(caught.value)
    assert SENTENCE.fullmatch(caught.value.reason), caught.value.reason
