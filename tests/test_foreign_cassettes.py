"""Recordings from other tools and other languages, read from synthetic files of their shapes.

The files in ``tests/data/foreign`` are written by hand in each tool's format (see the module
docstrings of :mod:`streamreel.cassettes.govcr`, :mod:`streamreel.cassettes.rubyvcr` and
:mod:`streamreel.cassettes.nock`); each holds the same small OpenAI stream, so every reader must
give the same request and the same replayed text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamreel.cassettes.reader import CassetteReader
from streamreel.cassettes.storage import load_cassette, loads_cassette
from streamreel.cli import main
from streamreel.core.cassette import Interaction, RecordedRequest, RecordedResponse
from streamreel.core.errors import CassetteError
from streamreel.core.providers.detection import detect_stream
from streamreel.playback.replay import replay

FOREIGN = Path(__file__).parent / "data" / "foreign"
CHAT_URL = "https://api.openai.com/v1/chat/completions"

STREAMS = {
    "aiohttp-istr.yaml": "vcrpy",
    "go-vcr-v1.yaml": "go-vcr",
    "go-vcr-v4.yaml": "go-vcr",
    "nock-gzip-chunks.json": "nock",
    "ruby-vcr-6.yml": "ruby-vcr",
}


def replayed_text(path: Path) -> str:
    result = replay(load_cassette(path))
    first = result.interactions[0]
    assert first.errors == [], first.errors
    return "".join(
        chunk.choices[0].delta.content or ""
        for record in first.chunks
        for chunk in record.produced
        if not hasattr(chunk, "kind") and chunk.choices
    )


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_each_foreign_shape_loads_and_replays_the_stream(name: str) -> None:
    cassette = load_cassette(FOREIGN / name)
    assert cassette.info.source == STREAMS[name]
    request = cassette.interactions[0].request
    assert (request.method, request.uri) == ("POST", CHAT_URL)
    assert json.loads(request.body)["model"] == "gpt-4o-mini"
    response = cassette.interactions[0].response
    assert response.status == 200
    assert response.body.startswith(b"data: {")  # decoded, whatever the source kept
    assert replayed_text(FOREIGN / name) == "Hello"


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_the_streaming_reader_gives_what_load_cassette_gives(name: str) -> None:
    path = FOREIGN / name
    streamed = [interaction for _, interaction in CassetteReader(path).interactions()]
    assert [i.response.body for i in streamed] == [
        i.response.body for i in load_cassette(path).interactions
    ]


def test_aiohttp_istr_header_names_read_as_plain_strings() -> None:
    cassette = load_cassette(FOREIGN / "aiohttp-istr.yaml")
    headers = cassette.interactions[0].response.headers
    assert headers == {
        "Content-Type": ["text/event-stream; charset=utf-8"],
        "Openai-Processing-Ms": ["112"],
    }
    assert all(type(name) is str for name in headers)


def test_an_istr_tag_holding_anything_but_one_name_is_refused() -> None:
    text = (FOREIGN / "aiohttp-istr.yaml").read_text()
    broken = text.replace(
        "      - Content-Type\n      : - application/json", "      - [a, b]\n      : - x"
    )
    with pytest.raises(CassetteError, match="istr header name that is not one string"):
        loads_cassette(broken)


def test_other_python_tags_stay_refused_next_to_istr() -> None:
    text = (FOREIGN / "aiohttp-istr.yaml").read_text()
    hostile = text.replace(
        "!!python/object/apply:multidict._multidict.istr", "!!python/object/apply:os.system", 1
    )
    with pytest.raises(CassetteError, match="never builds Python objects"):
        loads_cassette(hostile)


def test_nock_hex_chunk_arrays_are_joined_and_decompressed() -> None:
    entries = json.loads((FOREIGN / "nock-gzip-chunks.json").read_text())
    assert isinstance(entries[0]["response"], list) and len(entries[0]["response"]) == 2
    response = load_cassette(FOREIGN / "nock-gzip-chunks.json").interactions[0].response
    assert response.body.endswith(b"data: [DONE]\n\n")
    assert "Content-Encoding" not in response.headers


def test_a_nock_json_reply_that_is_an_array_of_strings_stays_json(tmp_path: Path) -> None:
    entry = {
        "scope": "https://api.example.test:443",
        "method": "GET",
        "path": "/tags",
        "status": 200,
        "response": ["abcd", "ef01"],
        "rawHeaders": ["Content-Type", "application/json"],
    }
    path = tmp_path / "tags.json"
    path.write_text(json.dumps([entry]))
    assert load_cassette(path).interactions[0].response.body == b'["abcd","ef01"]'


def test_go_vcr_format_2_keeps_status_reason_and_form_bodies() -> None:
    cassette = load_cassette(FOREIGN / "go-vcr-v4.yaml")
    upload = cassette.interactions[1]
    assert upload.request.body == b"purpose=fine-tune"
    assert (upload.response.status, upload.response.reason) == (400, "Bad Request")
    result = replay(cassette).interactions[1]
    assert [e.kind for e in result.errors] == ["http"]
    assert "Invalid file" in result.errors[0].message


def test_go_vcr_binary_gzip_bodies_are_decoded() -> None:
    cassette = load_cassette(FOREIGN / "go-vcr-v2.yaml")
    body = json.loads(cassette.interactions[0].response.body)
    assert body["choices"][0]["message"]["content"] == "Hello"
    result = replay(cassette).interactions[0]
    assert result.errors == [] and result.kind is not None and result.kind.framing == "json"


def test_ruby_vcr_reads_binary_and_base64_bodies_and_recorded_at() -> None:
    cassette = load_cassette(FOREIGN / "ruby-vcr-6.yml")
    assert cassette.info.tool_version == "VCR 6.2.0"
    first, second = cassette.interactions
    assert first.recorded_at is not None and first.recorded_at.isoformat() == (
        "2024-01-01T12:00:00+00:00"
    )
    assert second.request.method == "GET"
    assert json.loads(second.response.body)["id"] == "gpt-4o-mini"


def test_ruby_vcr_json_cassettes_are_read_too(tmp_path: Path) -> None:
    document = {
        "http_interactions": [
            {
                "request": {
                    "method": "post",
                    "uri": CHAT_URL,
                    "body": {"encoding": "UTF-8", "string": '{"model":"gpt-4o-mini"}'},
                    "headers": {},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"Content-Type": ["text/event-stream"]},
                    "body": {
                        "encoding": "UTF-8",
                        "string": load_cassette(FOREIGN / "go-vcr-v1.yaml")
                        .interactions[0]
                        .response.body.decode(),
                    },
                },
                "recorded_at": "Mon, 01 Jan 2024 12:00:00 GMT",
            }
        ],
        "recorded_with": "VCR 6.2.0",
    }
    path = tmp_path / "ruby.json"
    path.write_text(json.dumps(document))
    assert replayed_text(path) == "Hello"


@pytest.mark.parametrize(
    ("name", "needle", "where"),
    [
        ("go-vcr-v4.yaml", "status: 200 OK\n        code: 200", "status: OK\n        code: 99"),
        ("go-vcr-v1.yaml", "url: https://api.openai.com/v1/chat/completions", "url: 7"),
        ("ruby-vcr-6.yml", "code: 200", "code: nope"),
    ],
)
def test_a_broken_foreign_cassette_names_the_file_and_the_interaction(
    tmp_path: Path, name: str, needle: str, where: str
) -> None:
    path = tmp_path / name
    path.write_text((FOREIGN / name).read_text().replace(needle, where, 1))
    with pytest.raises(CassetteError) as caught:
        load_cassette(path)
    assert str(caught.value.path) == str(path) and caught.value.interaction == 0
    assert str(caught.value).count("cannot ") == 1


def test_import_converts_go_vcr_and_ruby_vcr(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("go-vcr-v4.yaml", "ruby-vcr-6.yml"):
        out = tmp_path / f"{name}.yaml"
        result = runner.invoke(main, ["import", str(FOREIGN / name), "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert load_cassette(out).interactions[0].request.uri == CHAT_URL


# -- whole JSON replies from endpoints that are not model calls --------------------------------

OLLAMA_SHOW = {
    "modelfile": "FROM llama3.2\n",
    "parameters": 'stop "<|eot_id|>"',
    "template": "{{ .Prompt }}",
    "details": {"family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
    "model_info": {"general.architecture": "llama"},
}


def non_model(uri: str, body: dict[str, object], method: str = "POST") -> Interaction:
    return Interaction(
        RecordedRequest(method, uri, {"content-type": ["application/json"]}, b'{"model": "m"}'),
        RecordedResponse(
            200, "OK", {"content-type": ["application/json"]}, json.dumps(body).encode()
        ),
    )


@pytest.mark.parametrize(
    ("uri", "body"),
    [
        ("http://localhost:11434/api/show", OLLAMA_SHOW),
        ("https://api.openai.com/v1/models", {"object": "list", "data": [{"id": "gpt-4o"}]}),
        ("https://api.anthropic.com/v1/messages/count_tokens", {"input_tokens": 12}),
    ],
)
def test_a_whole_json_reply_from_a_non_chat_endpoint_replays_as_a_labelled_non_model_reply(
    uri: str, body: dict[str, object]
) -> None:
    interaction = non_model(uri, body)
    kind = detect_stream(interaction.request, interaction.response)
    assert not kind.model_reply
    assert "not a model's" in kind.describe()
    from streamreel.core.cassette import Cassette

    result = replay(Cassette([interaction])).interactions[0]
    assert result.errors == [] and result.messages == [] and result.complete


def test_the_cli_labels_a_non_model_reply_and_exits_zero(tmp_path: Path) -> None:
    from streamreel.cassettes.storage import save_cassette
    from streamreel.core.cassette import Cassette

    path = tmp_path / "show.yaml"
    save_cassette(Cassette([non_model("http://localhost:11434/api/show", OLLAMA_SHOW)]), path)
    runner = CliRunner()
    replayed = runner.invoke(main, ["replay", str(path)])
    assert replayed.exit_code == 0, replayed.output
    assert "unsupported" not in replayed.output
    inspected = runner.invoke(main, ["inspect", str(path)])
    assert inspected.exit_code == 0
    assert "non-model reply" in inspected.output


def test_an_error_body_from_a_non_chat_endpoint_is_still_an_error() -> None:
    interaction = non_model("http://localhost:11434/api/show", {"error": "model 'x' not found"})
    failed = Interaction(
        interaction.request,
        RecordedResponse(404, "Not Found", {}, interaction.response.body),
    )
    from streamreel.core.cassette import Cassette

    result = replay(Cassette([failed])).interactions[0]
    assert [e.kind for e in result.errors] == ["http"]


def test_a_compression_bomb_in_a_ruby_binary_body_is_refused(tmp_path: Path) -> None:
    import base64
    import gzip

    bomb = base64.encodebytes(gzip.compress(b"\0" * (300 * 1024 * 1024), mtime=0)).decode()
    text = (FOREIGN / "ruby-vcr-6.yml").read_text()
    start = text.index("string: !binary |-\n") + len("string: !binary |-\n")
    end = text.index("  recorded_at:")
    path = tmp_path / "bomb.yml"
    lines = "".join(f"        {line}\n" for line in bomb.split())
    path.write_text(text[:start] + lines + text[end:])
    with pytest.raises(CassetteError) as caught:
        load_cassette(path)
    assert caught.value.interaction == 0
