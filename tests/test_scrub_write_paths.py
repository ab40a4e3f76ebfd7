"""Every way streamreel writes a cassette scrubs it: planted secrets are grepped for in the file.

The secrets are planted where users' recordings carry them: a bearer token, a cookie, a ``?key=``
query parameter, an Azure SAS ``sig=``, JSON body keys ``api_key`` and ``auth``, and a Basic-auth
header whose decoded password a 401 body echoes.  Each write path (the recorder, ``streamreel
import`` of a HAR log and of a nock recording, ``save_cassette`` in YAML and JSON, ``streamreel
audit --fix``) writes them, and no planted value, nor the base64 form of the Basic credentials,
may be left in the written bytes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml
from click.testing import CliRunner
from recording_support import Script, loopback
from streamreel.cassettes.scrubbing import Scrubber
from streamreel.cassettes.storage import load_cassette, save_cassette
from streamreel.cli import main
from streamreel.core.cassette import Cassette, Interaction, RecordedRequest, RecordedResponse
from streamreel.recording.recorder import record

BEARER = "tok-planted-bearer-0a1b2c3d"
COOKIE = "cookie-planted-4e5f6a7b"
QUERY_KEY = "qkey-planted-8c9d0e1f"
BODY_KEY = "bodykey-planted-2a3b4c5d"
AUTH_KEY = "authval-planted-5a6b7c8d"
SAS_SIG = "sas-planted-sig-1c2d3e4f+Zx/w="
PASSWORD = "pw-planted-6e7f8a9b"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()

PLANTED = [
    BEARER,
    COOKIE,
    QUERY_KEY,
    BODY_KEY,
    AUTH_KEY,
    SAS_SIG,
    quote(SAS_SIG, safe=""),
    PASSWORD,
]
PLANTED += [BASIC]

HOST = "https://api.example.com"
CHAT_PATH = f"/v1/chat?key={QUERY_KEY}&sv=2024-05-04&sig={quote(SAS_SIG, safe='')}"
MODELS_PATH = "/v1/models"
REQUEST_BODY = {"model": "m", "api_key": BODY_KEY, "auth": AUTH_KEY, "messages": ["hi"]}
CHAT_REPLY = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n'
DENIED = json.dumps({"error": f"invalid password {PASSWORD} for alice"})
CHAT_HEADERS = {"authorization": f"Bearer {BEARER}", "cookie": f"session={COOKIE}"}
MODELS_HEADERS = {"authorization": f"Basic {BASIC}"}


def _assert_clean(path: Path) -> None:
    written = path.read_bytes()
    assert written, f"{path} is empty"
    left = [secret for secret in PLANTED if secret.encode() in written]
    assert left == [], f"{path} still holds {left}"
    # Something was written: the file is a real cassette, not an empty shell.
    assert len(load_cassette(path).interactions) == 2


def _interactions() -> list[Interaction]:
    chat = Interaction(
        request=RecordedRequest(
            "POST",
            HOST + CHAT_PATH,
            {k: [v] for k, v in {**CHAT_HEADERS, "content-type": "application/json"}.items()},
            json.dumps(REQUEST_BODY).encode(),
        ),
        response=RecordedResponse(
            200, "OK", {"content-type": ["text/event-stream"]}, CHAT_REPLY, chunks=None
        ),
    )
    models = Interaction(
        request=RecordedRequest("GET", HOST + MODELS_PATH, {"authorization": [f"Basic {BASIC}"]}),
        response=RecordedResponse(
            401, "Unauthorized", {"content-type": ["application/json"]}, DENIED.encode()
        ),
    )
    return [chat, models]


def _har() -> dict[str, Any]:
    def entry(interaction: Interaction) -> dict[str, Any]:
        request, response = interaction.request, interaction.response
        out: dict[str, Any] = {
            "startedDateTime": "2026-01-01T00:00:00.000Z",
            "request": {
                "method": request.method,
                "url": request.uri,
                "httpVersion": "HTTP/1.1",
                "headers": [
                    {"name": k, "value": v} for k, vs in request.headers.items() for v in vs
                ],
                "cookies": [{"name": "session", "value": COOKIE}],
                "queryString": [],
            },
            "response": {
                "status": response.status,
                "statusText": response.reason,
                "httpVersion": "HTTP/1.1",
                "headers": [
                    {"name": k, "value": v} for k, vs in response.headers.items() for v in vs
                ],
                "content": {
                    "size": len(response.body),
                    "mimeType": response.header("content-type") or "",
                    "text": response.body.decode(),
                },
            },
        }
        if request.body:
            out["request"]["postData"] = {
                "mimeType": "application/json",
                "text": request.body.decode(),
            }
        return out

    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "test", "version": "1"},
            "entries": [entry(i) for i in _interactions()],
        }
    }


def _nock() -> list[dict[str, Any]]:
    return [
        {
            "scope": "https://api.example.com:443",
            "method": "POST",
            "path": CHAT_PATH,
            "body": REQUEST_BODY,
            "status": 200,
            "response": CHAT_REPLY.decode(),
            "rawHeaders": ["content-type", "text/event-stream"],
            "reqheaders": CHAT_HEADERS,
        },
        {
            "scope": "https://api.example.com:443",
            "method": "GET",
            "path": MODELS_PATH,
            "status": 401,
            "response": json.loads(DENIED),
            "rawHeaders": ["content-type", "application/json"],
            "reqheaders": MODELS_HEADERS,
        },
    ]


def _import(tmp_path: Path, name: str, document: Any) -> Path:
    source = tmp_path / name
    source.write_text(json.dumps(document), encoding="utf-8")
    output = tmp_path / "imported.yaml"
    result = CliRunner().invoke(main, ["import", str(source), "-o", str(output)])
    assert result.exit_code == 0, result.output
    return output


def _through_import_of_har(tmp_path: Path) -> Path:
    return _import(tmp_path, "session.har", _har())


def _through_import_of_nock(tmp_path: Path) -> Path:
    return _import(tmp_path, "session.json", _nock())


def _through_save_cassette_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "saved.yaml"
    save_cassette(Cassette(interactions=_interactions()), path)
    return path


def _through_save_cassette_json(tmp_path: Path) -> Path:
    path = tmp_path / "saved.json"
    save_cassette(Cassette(interactions=_interactions()), path)
    return path


def _through_the_recorder(tmp_path: Path) -> Path:
    path = tmp_path / "recorded.yaml"
    with loopback() as server:
        server.scripts["/v1/chat"] = Script(pieces=[CHAT_REPLY])
        server.scripts["/v1/models"] = Script(
            pieces=[DENIED.encode()], status=401, headers={"content-type": "application/json"}
        )
        with record(path, mode="all"), httpx.Client() as client:
            client.post(server.base_url + CHAT_PATH, json=REQUEST_BODY, headers=CHAT_HEADERS)
            client.get(server.base_url + MODELS_PATH, headers=MODELS_HEADERS)
    return path


def _through_audit_fix(tmp_path: Path) -> Path:
    # Written as vcrpy writes it, unscrubbed, as a cassette committed before streamreel scrubbed.
    path = tmp_path / "committed.yaml"
    document = {
        "interactions": [
            {
                "request": {
                    "method": i.request.method,
                    "uri": i.request.uri,
                    "body": i.request.body.decode() or None,
                    "headers": i.request.headers,
                },
                "response": {
                    "status": {"code": i.response.status, "message": i.response.reason},
                    "headers": i.response.headers,
                    "body": {"string": i.response.body.decode()},
                },
            }
            for i in _interactions()
        ],
        "version": 1,
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert all(secret.encode() in path.read_bytes() for secret in (BEARER, BODY_KEY, PASSWORD))
    result = CliRunner().invoke(main, ["audit", "--fix", str(path)])
    assert result.exit_code == 1 and "fixed" in result.stderr, result.output
    return path


WRITE_PATHS: list[Callable[[Path], Path]] = [
    _through_audit_fix,
    _through_import_of_har,
    _through_import_of_nock,
    _through_save_cassette_yaml,
    _through_save_cassette_json,
    _through_the_recorder,
]


@pytest.mark.parametrize("write", WRITE_PATHS, ids=lambda f: f.__name__.removeprefix("_through_"))
def test_no_planted_secret_reaches_the_written_cassette(
    tmp_path: Path, write: Callable[[Path], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    _assert_clean(write(tmp_path))


def test_the_planted_secrets_are_really_in_the_inputs(tmp_path: Path) -> None:
    # The test above proves something only if the sources carry every planted value.
    har = json.dumps(_har())
    nock = json.dumps(_nock())
    for secret in PLANTED:
        if secret != SAS_SIG:  # a URL carries it percent-encoded
            assert secret in har, secret
    assert BEARER in nock and BASIC in nock and PASSWORD in nock and AUTH_KEY in nock


def test_a_basic_auth_password_is_scrubbed_wherever_it_is_echoed() -> None:
    (_, models) = Scrubber().scrub(_interactions())
    assert models.request.headers["authorization"] == ["REDACTED"]
    assert PASSWORD.encode() not in models.response.body
    assert b"alice" in models.response.body  # the user name is not a secret


def test_an_azure_sas_signature_is_scrubbed_and_the_other_parameters_kept() -> None:
    (chat, _) = Scrubber().scrub(_interactions())
    assert "sig=REDACTED" in chat.request.uri and "sv=2024-05-04" in chat.request.uri


def test_save_cassette_applies_the_scrubber_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "custom.yaml"
    interactions = _interactions()
    interactions[1].response.headers["x-house-token"] = ["house-planted-7f8e9d"]
    save_cassette(
        Cassette(interactions=interactions), path, scrub=Scrubber(headers=["x-house-token"])
    )
    assert b"house-planted-7f8e9d" not in path.read_bytes()
    _assert_clean(path)


def test_a_body_key_named_auth_is_scrubbed() -> None:
    (chat, _) = Scrubber().scrub(_interactions())
    assert json.loads(chat.request.body)["auth"] == "REDACTED"


def test_a_credential_inside_a_base64_blob_is_scrubbed_with_its_blob() -> None:
    import gzip

    inner = json.dumps({"api_key": "inner-planted-key-0123456789"}).encode()
    plain = base64.b64encode(inner).decode()
    zipped = base64.urlsafe_b64encode(
        gzip.compress(b"token sk-planted0123456789abcdefghij")
    ).decode()
    image = base64.b64encode(bytes(range(256)) * 4).decode()  # a blob holding no secret
    body = json.dumps({"data": [{"b64_json": plain}, {"blob": zipped}, {"image": image}]})
    chat, _ = _interactions()
    scrubbed = Scrubber().scrub(
        [Interaction(chat.request, RecordedResponse(200, "", {}, body.encode()))]
    )
    data = json.loads(scrubbed[0].response.body)["data"]
    assert data == [{"b64_json": "REDACTED"}, {"blob": "REDACTED"}, {"image": image}]


def test_set_cookie_attributes_are_not_hunted_as_secrets() -> None:
    cookie = "sid=cookie-value-planted-123; Domain=api.example.com; Path=/; SameSite=None; Secure"
    chat, _ = _interactions()
    response = RecordedResponse(200, "OK", {"set-cookie": [cookie]}, b'{"host": "api.example.com"}')
    (scrubbed,) = Scrubber().scrub([Interaction(chat.request, response)])
    assert scrubbed.request.uri.startswith("https://api.example.com/")
    assert scrubbed.response.body == b'{"host": "api.example.com"}'
