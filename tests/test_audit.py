"""``streamreel audit``: committed cassettes of every format checked for credentials and waste.

Four formats (vcrpy YAML, vcrpy JSON, HAR, nock) each carry the same four planted secrets: a
bearer token in a header, an ``api_key`` deep in a JSON request body, an OpenAI-shaped key in a
gzip response body, and a credential inside a base64 blob.  The audit must report each one, by
file, interaction, place and rule, without printing the secret; ``--fix`` must clear the formats
streamreel writes so that a re-audit is clean, and leave HAR and nock files alone, saying why.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from streamreel.cassettes.audit import AuditOptions, Finding, audit_file, fix_file
from streamreel.cassettes.storage import load_cassette, save_cassette
from streamreel.cli import main
from streamreel.core.cassette import Cassette, Interaction, RecordedRequest, RecordedResponse

HEADER_TOKEN = "hdr-planted-token-a1b2c3d4"
NESTED_KEY = "nested-planted-key-e5f6a7b8c9"
GZIP_KEY = "sk-gzipplanted0123456789abcdef"
BLOB_SECRET = "blob-planted-secret-0011223344"
PLANTED = [HEADER_TOKEN, NESTED_KEY, GZIP_KEY, BLOB_SECRET]

URL = "https://api.openai.com/v1/chat/completions"
REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "hi"}],
    "metadata": {"deep": [{"x": 1}, {"api_key": NESTED_KEY}]},
}
GZIPPED = gzip.compress(json.dumps({"id": "r1", "echo": GZIP_KEY}).encode())
BLOB = base64.b64encode(json.dumps({"token": BLOB_SECRET}).encode()).decode()
IMAGES_REPLY = json.dumps({"data": [{"b64_json": BLOB}]})
IMAGES_URL = "https://api.openai.com/v1/images/generations"
IMAGES_REQUEST = json.dumps({"model": "gpt-image-1", "prompt": "a cat"})

EXPECTED = {
    (0, "request.headers.authorization", "secret-header"),
    (0, "request.body $.metadata.deep[1].api_key", "credential-key"),
    (0, "response.body $.echo", "token-shape"),
    (1, "response.body $.data[0].b64_json", "base64-blob"),
}


def _vcrpy_document(name: Callable[[str], str], gzipped_body: Any) -> dict[str, Any]:
    """The two interactions as vcrpy stores them; ``name`` spells the header names."""
    return {
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": URL,
                    "body": json.dumps(REQUEST),
                    "headers": {
                        name("authorization"): [f"Bearer {HEADER_TOKEN}"],
                        name("content-type"): ["application/json"],
                    },
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {
                        name("content-encoding"): ["gzip"],
                        name("content-type"): ["application/json"],
                    },
                    "body": gzipped_body,
                },
            },
            {
                "request": {
                    "method": "POST",
                    "uri": IMAGES_URL,
                    "body": IMAGES_REQUEST,
                    "headers": {},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {name("content-type"): ["application/json"]},
                    "body": {"string": IMAGES_REPLY},
                },
            },
        ],
        "version": 1,
    }


def _vcrpy_yaml(folder: Path) -> Path:
    path = folder / "vcrpy.yaml"
    document = _vcrpy_document(str, {"string": GZIPPED})  # bytes: YAML's !!binary
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _vcrpy_json(folder: Path) -> Path:
    path = folder / "vcrpy.json"
    body = {"base64": base64.b64encode(GZIPPED).decode()}  # JSON holds binary as base64
    document = _vcrpy_document(lambda n: n.title(), body)
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


def _har_entry(
    url: str, body: str, headers: dict[str, str], content: dict[str, Any], encoded: bool
) -> dict[str, Any]:
    response_headers = [{"name": "Content-Type", "value": "application/json"}]
    if encoded:
        response_headers.append({"name": "Content-Encoding", "value": "gzip"})
    return {
        "startedDateTime": "2026-01-01T00:00:00.000Z",
        "request": {
            "method": "POST",
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in headers.items()],
            "queryString": [],
            "cookies": [],
            "postData": {"mimeType": "application/json", "text": body},
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "headers": response_headers,
            "cookies": [],
            "content": {"mimeType": "application/json", **content},
        },
    }


def _har(folder: Path) -> Path:
    entries = [
        _har_entry(
            URL,
            json.dumps(REQUEST),
            {"Authorization": f"Bearer {HEADER_TOKEN}"},
            {"text": base64.b64encode(GZIPPED).decode(), "encoding": "base64"},
            encoded=True,
        ),
        _har_entry(IMAGES_URL, IMAGES_REQUEST, {}, {"text": IMAGES_REPLY}, encoded=False),
    ]
    path = folder / "session.har"
    document = {
        "log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": entries}
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _nock(folder: Path) -> Path:
    entries = [
        {
            "scope": "https://api.openai.com:443",
            "method": "POST",
            "path": "/v1/chat/completions",
            "body": REQUEST,
            "status": 200,
            "response": GZIPPED.hex(),
            "responseIsBinary": True,
            "rawHeaders": ["Content-Type", "application/json", "Content-Encoding", "gzip"],
            "reqheaders": {"authorization": f"Bearer {HEADER_TOKEN}"},
        },
        {
            "scope": "https://api.openai.com:443",
            "method": "POST",
            "path": "/v1/images/generations",
            "body": json.loads(IMAGES_REQUEST),
            "status": 200,
            "response": json.loads(IMAGES_REPLY),
            "rawHeaders": ["Content-Type", "application/json"],
        },
    ]
    path = folder / "nock.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


FORMATS: dict[str, Callable[[Path], Path]] = {
    "vcrpy-yaml": _vcrpy_yaml,
    "vcrpy-json": _vcrpy_json,
    "har": _har,
    "nock": _nock,
}
WRITTEN_BY_STREAMREEL = {"vcrpy-yaml", "vcrpy-json"}


def _audit(*arguments: str) -> Result:
    return CliRunner().invoke(main, ["audit", *arguments])


def _found(findings: list[Finding]) -> set[tuple[int | None, str, str]]:
    return {(f.interaction, f.where, f.rule.split(":")[0]) for f in findings}


@pytest.mark.parametrize("kind", FORMATS)
def test_each_planted_secret_is_found_in_each_format(tmp_path: Path, kind: str) -> None:
    path = FORMATS[kind](tmp_path)
    raw = path.read_bytes()
    assert HEADER_TOKEN.encode() in raw and b"nested-planted" in raw  # planted as plain text
    assert GZIP_KEY.encode() not in raw and BLOB_SECRET.encode() not in raw  # and encoded
    findings = audit_file(path, AuditOptions())
    assert _found(findings) >= EXPECTED, findings
    assert all(f.kind == "secret" for f in findings)


@pytest.mark.parametrize("kind", FORMATS)
def test_the_command_prints_one_line_per_finding_and_never_the_secret(
    tmp_path: Path, kind: str
) -> None:
    path = FORMATS[kind](tmp_path)
    result = _audit(str(path))
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(EXPECTED)
    assert f"{path}: interaction 0: request.headers.authorization: secret-header" in lines
    assert not any(secret in result.output for secret in PLANTED)


@pytest.mark.parametrize("kind", sorted(WRITTEN_BY_STREAMREEL))
def test_fix_clears_every_secret_and_a_re_audit_is_clean(tmp_path: Path, kind: str) -> None:
    path = FORMATS[kind](tmp_path)
    result = _audit("--fix", str(path))
    assert result.exit_code == 1, result.output  # findings were reported, then fixed
    assert "fixed" in result.stderr
    written = path.read_bytes()
    assert not any(secret.encode() in written for secret in PLANTED)
    assert load_cassette(path).info.source in ("streamreel", "vcrpy")
    assert _audit(str(path)).exit_code == 0
    # Same format as read: a .json cassette stays JSON, a .yaml one YAML.
    if path.suffix == ".json":
        json.loads(written)
    else:
        yaml.safe_load(written)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize("kind", ["har", "nock"])
def test_fix_leaves_har_and_nock_files_untouched_and_says_why(tmp_path: Path, kind: str) -> None:
    path = FORMATS[kind](tmp_path)
    before = path.read_bytes()
    result = _audit("--fix", str(path))
    assert result.exit_code == 1
    assert path.read_bytes() == before
    assert "does not write" in result.stderr and str(path) in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize("kind", ["har", "nock"])
def test_fix_copy_writes_a_scrubbed_cassette_beside_a_har_or_nock_file(
    tmp_path: Path, kind: str
) -> None:
    path = FORMATS[kind](tmp_path)
    before = path.read_bytes()
    result = _audit("--fix-copy", str(path))
    assert path.read_bytes() == before
    copy = path.with_name(f"{path.stem}.scrubbed.yaml")
    assert str(copy) in result.stderr
    assert not any(secret.encode() in copy.read_bytes() for secret in PLANTED)
    assert audit_file(copy, AuditOptions()) == []


def test_a_folder_of_all_four_formats_is_audited_and_fixed_where_streamreel_writes(
    tmp_path: Path,
) -> None:
    for make in FORMATS.values():
        make(tmp_path)
    result = _audit(str(tmp_path))
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 4 * len(EXPECTED)
    _audit("--fix", str(tmp_path))
    after = _audit(str(tmp_path))
    reported = {line.split(":")[0] for line in after.stdout.splitlines()}
    assert reported == {str(tmp_path / "session.har"), str(tmp_path / "nock.json")}


def test_a_clean_folder_exits_0_and_prints_nothing(tmp_path: Path) -> None:
    clean = Interaction(
        RecordedRequest(
            "POST",
            URL,
            {"authorization": ["REDACTED"]},
            json.dumps(REQUEST | {"metadata": {}}).encode(),
        ),
        RecordedResponse(200, "OK", {"content-type": ["application/json"]}, b'{"id": "r1"}'),
    )
    save_cassette(Cassette(interactions=[clean]), tmp_path / "a" / "clean.yaml")
    save_cassette(Cassette(interactions=[clean]), tmp_path / "clean.json")
    result = _audit(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "2 files" in result.stderr


def test_an_unreadable_file_is_a_finding_and_exits_3(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("interactions: [oops\n", encoding="utf-8")
    _vcrpy_yaml(tmp_path)
    result = _audit(str(tmp_path))
    assert result.exit_code == 3
    assert any(  # an error, so on stderr (cli/exits.py's convention)
        line.startswith(f"{tmp_path / 'broken.yaml'}: -: file: unreadable")
        for line in result.stderr.splitlines()
    )
    # The readable file beside it is still audited.
    assert any("vcrpy.yaml" in line for line in result.stdout.splitlines())


def test_a_file_above_the_size_limit_is_reported(tmp_path: Path) -> None:
    interaction = Interaction(
        RecordedRequest("POST", URL, {}, b'{"model": "m"}'),
        RecordedResponse(200, "OK", {}, b"x" * 5000),
    )
    path = tmp_path / "big.yaml"
    save_cassette(Cassette(interactions=[interaction]), path)
    assert _audit(str(path)).exit_code == 0  # the default limit is far above 5 kB
    result = _audit("--max-size", "4K", str(path))
    assert result.exit_code == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"{path}: -: file: size")


def _turn(*contents: str) -> Interaction:
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": c}
        for i, c in enumerate(contents)
    ]
    body = json.dumps({"model": "m", "messages": messages}).encode()
    return Interaction(
        RecordedRequest("POST", URL, {}, body), RecordedResponse(200, "OK", {}, b"{}")
    )


def test_a_request_repeating_an_earlier_whole_history_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "turns.yaml"
    turns = [_turn("hi"), _turn("other"), _turn("hi", "hello", "how are you?")]
    save_cassette(Cassette(interactions=turns), path)
    findings = audit_file(path, AuditOptions())
    assert [(f.interaction, f.where, f.rule) for f in findings] == [
        (2, "request.body $.messages", "repeated-history")
    ]
    assert "interaction 0" in findings[0].detail
    assert audit_file(path, AuditOptions(history=False)) == []
    assert _audit("--no-history", str(path)).exit_code == 0


def test_json_output_is_one_object_per_finding(tmp_path: Path) -> None:
    path = _vcrpy_yaml(tmp_path)
    result = _audit("--json", str(path))
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert {(d["interaction"], d["where"], d["rule"].split(":")[0]) for d in document} == EXPECTED
    assert all(d["file"] == str(path) and d["kind"] == "secret" for d in document)


def test_fix_file_reports_what_it_did_per_file(tmp_path: Path) -> None:
    path = _vcrpy_yaml(tmp_path)
    outcome = fix_file(path, AuditOptions())
    assert outcome.rewritten and outcome.remaining == []
    assert fix_file(path, AuditOptions()).rewritten is False  # nothing left to fix


def test_the_installed_console_script_audits_a_folder(tmp_path: Path) -> None:
    _vcrpy_json(tmp_path)
    script = Path(sys.executable).parent / "streamreel"
    assert script.exists()
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        [str(script), "audit", str(tmp_path)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 1, done.stderr
    assert f"{tmp_path / 'vcrpy.json'}: interaction 0: request.headers.authorization" in done.stdout
    fixed = subprocess.run(
        [str(script), "audit", "--fix", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert fixed.returncode == 1
    clean = subprocess.run(
        [str(script), "audit", str(tmp_path)], capture_output=True, text=True, timeout=120, env=env
    )
    assert clean.returncode == 0, clean.stdout


def test_the_shipped_pre_commit_hook_runs_the_audit_on_cassettes_only() -> None:
    import re

    root = Path(__file__).resolve().parent.parent
    (hook,) = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "streamreel-audit" and hook["entry"] == "streamreel audit"
    files = re.compile(hook["files"])
    assert files.search("tests/cassettes/openai/chat.yaml") and files.search("cassettes/x.har")
    assert not files.search("package.json") and not files.search(".github/workflows/ci.yml")
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "streamreel-audit" in readme and hook["files"] in readme


def test_a_folder_without_cassettes_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here", encoding="utf-8")
    result = _audit(str(tmp_path))
    assert result.exit_code == 2
    assert str(tmp_path) in result.stderr and "expected cassettes" in result.stderr


def test_a_chunk_file_is_audited_and_left_alone_by_fix(tmp_path: Path) -> None:
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": f"the key is {GZIP_KEY}"}}],
    }
    path = tmp_path / "stream.jsonl"
    path.write_text(f"data: {json.dumps(chunk)}\ndata: [DONE]\n", encoding="utf-8")
    before = path.read_bytes()
    result = _audit("--fix", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}: interaction 0: response.body line 1 $.choices[0].delta.content: "
        "token-shape: OpenAI or Anthropic API key"
    ]
    assert "does not write" in result.stderr and "1 file audited, 1 finding" in result.stderr
    assert path.read_bytes() == before
