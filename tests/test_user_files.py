"""The user's own files: a cassette is written in the format its name says, or not at all, and
``import`` never destroys a file it was not asked to replace."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from recording_support import OPENAI_MODEL, cassette, openai_text_stream
from streamreel.cassettes.storage import (
    cassette_format,
    import_cassette,
    load_cassette,
    save_cassette,
)
from streamreel.cli import main
from streamreel.core.cassette import (
    BodyChunk,
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import CassetteError
from streamreel.recording.emulator import Emulator, EmulatorServer
from streamreel.recording.recorder import record

DATA = Path(__file__).resolve().parent / "data" / "user-files"
POLLY = DATA / "polly-recording.har"


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


def _awkward() -> Cassette:
    """Everything a cassette can hold that a naive JSON writer would lose or refuse."""
    chunks = [BodyChunk(1.5, b"data: caf\xc3\xa9\n\n"), BodyChunk(20.25, b"data: \xff\xfe cut")]
    return Cassette(
        interactions=[
            Interaction(
                RecordedRequest(
                    "POST",
                    "https://api.example.com/v1/x?a=1",
                    {"content-type": ["application/json"], "x-multi": ["1", "2"]},
                    b'{"model":"m","messages":[]}',
                ),
                RecordedResponse(
                    200,
                    "OK",
                    {"content-type": ["text/event-stream"]},
                    b"".join(c.data for c in chunks),
                    chunks=chunks,
                    error="RemoteProtocolError: peer closed connection",
                ),
            ),
            Interaction(
                RecordedRequest("PUT", "https://api.example.com/bin", {}, b"\x89PNG\xff\x00"),
                RecordedResponse(500, "Internal Server Error", {}, b""),
            ),
        ],
        info=CassetteInfo(recorded_against="https://api.example.com"),
    )


def test_a_json_cassette_is_json_and_reads_back_exactly(tmp_path: Path) -> None:
    original = _awkward()
    path = tmp_path / "session.json"
    save_cassette(original, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["version"] == 1 and len(document["interactions"]) == 2
    loaded = load_cassette(path)
    assert [i.request for i in loaded.interactions] == [i.request for i in original.interactions]
    for got, want in zip(loaded.interactions, original.interactions, strict=True):
        assert got.response.body == want.response.body
        assert got.response.body_chunks() == want.response.body_chunks()
        assert got.response.error == want.response.error
        assert (got.response.status, got.response.reason) == (
            want.response.status,
            want.response.reason,
        )


@pytest.mark.parametrize("name", ["c.yaml", "c.yml", "c.cassette"])
def test_yaml_names_get_yaml(tmp_path: Path, name: str) -> None:
    save_cassette(_awkward(), tmp_path / name)
    assert (tmp_path / name).read_text().startswith("version: 1\nmetadata:\n")
    assert cassette_format(tmp_path / name) == "yaml"


def test_a_har_path_is_refused_and_an_existing_har_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "mine.har"
    shutil.copy(POLLY, target)
    before = target.read_bytes()
    with pytest.raises(CassetteError, match=r"expected a \.yaml, \.yml or \.json path"):
        save_cassette(_awkward(), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.har"]


def test_recording_into_a_har_path_is_refused_before_the_provider_is_called(
    tmp_path: Path,
) -> None:
    emulator = Emulator.from_cassettes([cassette(openai_text_stream())], speed=0)
    target = tmp_path / "new.har"
    with EmulatorServer(emulator) as server:
        result = CliRunner().invoke(
            main,
            [
                "record",
                "--provider",
                "openai",
                "--base-url",
                server.base_url + "/v1",
                "--model",
                OPENAI_MODEL,
                "--prompt",
                "Say hello",
                "-o",
                str(target),
            ],
            env={"OPENAI_API_KEY": "sk-x"},
        )
    assert result.exit_code == 2 and ".har path" in result.stderr
    assert emulator.served == [] and not target.exists()


def test_recording_into_a_json_path_writes_a_json_cassette(tmp_path: Path) -> None:
    emulator = Emulator.from_cassettes([cassette(openai_text_stream())], speed=0)
    path = tmp_path / "recorded.json"
    with EmulatorServer(emulator) as server, record(path), httpx.Client() as client:
        body = json.loads(openai_text_stream().request.body)
        client.post(server.base_url + "/v1/chat/completions", json=body).read()
    (saved,) = load_cassette(path).interactions
    assert json.loads(path.read_text())["interactions"][0]["request"]["method"] == "POST"
    assert saved.response.body == openai_text_stream().response.body
    assert saved.response.chunks  # the boundaries are kept in JSON as in YAML
    # A second session (another port, so another request) adds to the JSON file it read.
    with EmulatorServer(emulator) as server, record(path, mode="all"), httpx.Client() as client:
        client.post(server.base_url + "/v1/chat/completions", json=body).read()
    assert len(json.loads(path.read_text())["interactions"]) == 2


def test_a_damaged_binary_body_in_a_json_cassette_is_a_cassette_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    save_cassette(_awkward(), path)
    text = path.read_text().replace('"base64": "', '"base64": "not base64!')
    path.write_text(text)
    with pytest.raises(CassetteError, match="base64"):
        load_cassette(path)


# -- streamreel import ----------------------------------------------------------------------------


def _import(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["import", *arguments])
    return result.exit_code, result.output


def test_import_writes_a_new_output_and_refuses_an_existing_one(tmp_path: Path) -> None:
    output = tmp_path / "out.yaml"
    code, _ = _import(str(POLLY), "-o", str(output))
    assert code == 0
    first = output.read_bytes()
    output.write_text("my own notes\n")
    code, shown = _import(str(POLLY), "-o", str(output))
    assert code == 2 and "--force" in shown and "existing file" in shown
    assert output.read_text() == "my own notes\n"
    code, _ = _import(str(POLLY), "-o", str(output), "--force")
    assert code == 0 and output.read_bytes() == first


def test_import_to_json_writes_json_and_to_har_is_refused(tmp_path: Path) -> None:
    code, _ = _import(str(POLLY), "-o", str(tmp_path / "out.json"))
    assert code == 0
    assert (
        load_cassette(tmp_path / "out.json")
        .interactions[0]
        .response.body.endswith(b"data: [DONE]\n\n")
    )
    code, shown = _import(str(POLLY), "-o", str(tmp_path / "out.har"))
    assert code == 2 and ".har path" in shown and not (tmp_path / "out.har").exists()


def test_import_never_overwrites_its_input_under_any_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "rec.har"
    shutil.copy(POLLY, source)
    before = source.read_bytes()
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.har"
    link.symlink_to(source)
    hard = tmp_path / "hard.har.yaml"
    os.link(source, hard)
    monkeypatch.chdir(tmp_path / "sub")
    spellings = [str(source), "../rec.har", "../sub/../rec.har", str(link), str(hard)]
    for spelling in spellings:
        code, shown = _import(str(source), "-o", spelling, "--force")
        assert code == 2 and "the same file" in shown, spelling
        assert source.read_bytes() == before
    with pytest.raises(CassetteError, match="the same file"):
        import_cassette(hard, source, overwrite=True)


def test_a_har_log_named_json_is_replayed_but_never_recorded_into(tmp_path: Path) -> None:
    target = tmp_path / "browser-export.json"
    shutil.copy(POLLY, target)
    before = target.read_bytes()
    for mode in ("new_episodes", "all"):
        with pytest.raises(CassetteError, match="got a har recording"):
            record(target, mode=mode).start()
    assert target.read_bytes() == before
    with record(target, mode="none") as replaying:
        assert len(replaying.session.queue.interactions) == 1
    assert target.read_bytes() == before
