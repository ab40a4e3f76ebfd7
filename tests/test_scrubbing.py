"""Scrubbing: no secret reaches a cassette file, in any header, body, chunk or encoding."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from recording_support import Script, gzip_pieces, loopback
from streamreel.cassettes.scrubbing import (
    DEFAULT_SECRET_BODY_KEYS,
    DEFAULT_SECRET_HEADERS,
    DEFAULT_SECRET_PATTERNS,
    DEFAULT_SECRET_QUERY_PARAMS,
    MIN_LEARNED_LENGTH,
    REDACTED,
    Scrubber,
    base64_forms,
    replace_in_chunks,
)
from streamreel.cassettes.storage import load_cassette
from streamreel.core.cassette import BodyChunk, Interaction, RecordedRequest, RecordedResponse
from streamreel.core.errors import ConfigurationError
from streamreel.recording.recorder import record

SECRET = "sk-proj-Zx81Qm4TvW9kLp2Rr7Yb"
URL = "https://api.openai.com/v1/chat/completions"


def interaction(
    *,
    request_headers: dict[str, list[str]] | None = None,
    response_headers: dict[str, list[str]] | None = None,
    chunks: list[bytes] | None = None,
    uri: str = URL,
    request_body: bytes = b'{"model":"m"}',
    error: str | None = None,
) -> Interaction:
    parts = chunks if chunks is not None else [b"data: {}\n\n"]
    return Interaction(
        RecordedRequest("POST", uri, request_headers or {}, request_body),
        RecordedResponse(
            200,
            "OK",
            response_headers or {},
            b"".join(parts),
            [BodyChunk(float(10 * i), p) for i, p in enumerate(parts)],
            error,
        ),
    )


def every_form(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, *base64_forms(raw)]


def test_the_default_header_list() -> None:
    assert set(DEFAULT_SECRET_HEADERS) == {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "openai-organization",
        "openai-project",
        "anthropic-organization-id",
        "cookie",
        "set-cookie",
    }


def test_secret_headers_are_replaced_on_requests_and_responses() -> None:
    [out] = Scrubber().scrub(
        [
            interaction(
                request_headers={
                    "Authorization": [f"Bearer {SECRET}"],
                    "X-Goog-Api-Key": ["AIzaSyExample0123456789"],
                    "Cookie": ["session=abcdef123456"],
                    "content-type": ["application/json"],
                },
                response_headers={
                    "openai-organization": ["org-examplecorp"],
                    "anthropic-organization-id": ["4f1c2d3e-aaaa"],
                    "set-cookie": ["__cf_bm=cfvalue123456; path=/", "_cfuvid=other123456; path=/"],
                    "x-request-id": ["req_1"],
                },
            )
        ]
    )
    request, response = out.request.headers, out.response.headers
    assert request["Authorization"] == request["X-Goog-Api-Key"] == [REDACTED]
    assert request["Cookie"] == [REDACTED]
    assert request["content-type"] == ["application/json"]
    assert response["openai-organization"] == response["anthropic-organization-id"] == [REDACTED]
    assert response["set-cookie"] == [REDACTED, REDACTED]
    assert response["x-request-id"] == ["req_1"]


def test_key_query_parameters_are_replaced_and_others_kept() -> None:
    uri = "https://generativelanguage.googleapis.com/v1beta/models/g:stream?alt=sse&key=AIzaSy0123456789abc"
    [out] = Scrubber().scrub([interaction(uri=uri)])
    assert out.request.uri.endswith("?alt=sse&key=REDACTED")
    extra = Scrubber(query_params=["token"]).scrub([interaction(uri=URL + "?token=t0p53cret&x=1")])
    assert extra[0].request.uri.endswith("?token=REDACTED&x=1")


def test_a_learned_secret_is_removed_everywhere_even_across_chunks() -> None:
    body = f'{{"error": {{"message": "Incorrect API key provided: {SECRET}"}}}}\n'.encode()
    cut = body.index(SECRET.encode()) + 5
    chunks = [body[:cut], body[cut:]]
    [out] = Scrubber().scrub(
        [
            interaction(
                request_headers={"authorization": [f"Bearer {SECRET}"]},
                response_headers={"x-echo": [f"key {SECRET}"]},
                chunks=chunks,
                request_body=json.dumps({"note": SECRET}).encode(),
                error=f"ReadError: closed while sending {SECRET}",
            )
        ]
    )
    response = out.response
    assert response.chunks is not None and len(response.chunks) == 2
    assert [c.offset_ms for c in response.chunks] == [0.0, 10.0]
    assert response.body == b"".join(c.data for c in response.chunks)
    assert REDACTED.encode() in response.chunks[0].data
    for part in (response.body, out.request.body, response.headers["x-echo"][0].encode()):
        assert SECRET.encode() not in part
    assert response.error is not None and SECRET not in response.error


def test_a_secret_learned_in_one_interaction_is_removed_from_the_others() -> None:
    first = interaction(chunks=[f"echo {SECRET}".encode()])
    second = interaction(request_headers={"x-api-key": [SECRET]})
    out = Scrubber().scrub([first, second])
    assert SECRET.encode() not in out[0].response.body


def test_base64_forms_of_a_secret_are_removed() -> None:
    bodies = [base64.b64encode(b"x" * lead + SECRET.encode() + b"tail") for lead in range(3)]
    bodies.append(base64.urlsafe_b64encode(b"??" + SECRET.encode()))
    [out] = Scrubber().scrub(
        [
            interaction(
                request_headers={"authorization": [f"Bearer {SECRET}"]},
                chunks=[b + b"\n" for b in bodies],
            )
        ]
    )
    for form in every_form(SECRET):
        assert form not in out.response.body


@given(
    secret=st.binary(min_size=MIN_LEARNED_LENGTH, max_size=40),
    before=st.binary(max_size=7),
    after=st.binary(max_size=7),
)
def test_some_base64_form_appears_whatever_surrounds_the_secret(
    secret: bytes, before: bytes, after: bytes
) -> None:
    encoded = base64.b64encode(before + secret + after)
    urlsafe = base64.urlsafe_b64encode(before + secret + after)
    forms = base64_forms(secret)
    assert any(form in encoded for form in forms)
    assert any(form in urlsafe for form in forms)


def test_short_values_are_not_learned() -> None:
    [out] = Scrubber().scrub(
        [interaction(request_headers={"cookie": ["a=1"]}, chunks=[b"a=1 and 1 more"])]
    )
    assert out.response.body == b"a=1 and 1 more"


def test_user_patterns_apply_to_uris_headers_and_bodies() -> None:
    scrubber = Scrubber(
        headers=["X-Custom-Auth"],
        patterns=[r"tok_[A-Za-z0-9]{8,}", re.compile(r"PASSWORD=\w+", re.IGNORECASE)],
    )
    [out] = scrubber.scrub(
        [
            interaction(
                uri=URL + "?session=tok_abcdefgh123",
                request_headers={"x-custom-auth": ["anything"], "x-trace": ["tok_zzzzzzzz9"]},
                chunks=[b"password=hunter2 ", b"tok_12345678abc"],
            )
        ]
    )
    assert out.request.uri.endswith("?session=REDACTED")
    assert out.request.headers == {"x-custom-auth": [REDACTED], "x-trace": [REDACTED]}
    assert out.response.body == b"REDACTED REDACTED"


def test_a_secret_group_keeps_the_json_valid() -> None:
    scrubber = Scrubber(patterns=[rb'"api_key":\s*"(?P<secret>[^"]+)"'])
    [out] = scrubber.scrub([interaction(request_body=b'{"api_key": "abc123def", "model": "m"}')])
    assert json.loads(out.request.body) == {"api_key": REDACTED, "model": "m"}


def test_scrubbing_returns_copies() -> None:
    original = interaction(request_headers={"authorization": [f"Bearer {SECRET}"]})
    Scrubber().scrub([original])
    assert original.request.headers["authorization"] == [f"Bearer {SECRET}"]


def test_defaults_can_be_turned_off_and_rules_added() -> None:
    bare = Scrubber(defaults=False, headers=["x-mine"])
    assert bare.secret_headers == {"x-mine"} and bare.secret_query_params == frozenset()
    more = Scrubber().with_rules(headers=["x-mine"], patterns=["abc"])
    assert "x-mine" in more.secret_headers and "authorization" in more.secret_headers
    assert len(more.patterns) == 1


def test_a_bad_pattern_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="expected a regular expression"):
        Scrubber(patterns=["(unclosed"])


def test_scrub_request_makes_a_live_request_comparable_with_its_recording() -> None:
    live = RecordedRequest("GET", URL + "?key=AIzaSyLive0000", {"x-api-key": ["k" * 20]}, b"")
    scrubbed = Scrubber().scrub_request(live)
    assert scrubbed.uri == URL + "?key=REDACTED"
    assert scrubbed.headers == {"x-api-key": [REDACTED]}


@given(
    chunks=st.lists(st.binary(max_size=12), min_size=1, max_size=8),
    repl=st.binary(max_size=6),
)
def test_replace_in_chunks_keeps_the_count_and_equals_replacing_the_join(
    chunks: list[bytes], repl: bytes
) -> None:
    pattern = re.compile(rb"ab+c|\x00\x01")
    out = replace_in_chunks(chunks, pattern, repl)
    assert len(out) == len(chunks)
    assert b"".join(out) == pattern.sub(repl.replace(b"\\", b"\\\\"), b"".join(chunks))


@given(
    text=st.text(alphabet="abcxyz ", max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6),
)
def test_a_secret_split_anywhere_is_removed(text: str, cuts: list[int]) -> None:
    body = (text + SECRET + text).encode()
    points = sorted({min(c, len(body)) for c in cuts})
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
    out = replace_in_chunks(chunks, re.compile(re.escape(SECRET.encode())), b"X")
    assert SECRET.encode() not in b"".join(out)
    assert len(out) == len(chunks)


def test_recording_never_writes_a_secret_in_any_form(tmp_path: Path) -> None:
    """End to end: the key is echoed plainly, in base64 and inside gzip; none of it is saved."""
    gemini_key = "AIzaSyD3m0KeyForTests0123456789"
    custom = "tok_Q9w8e7r6t5y4"
    echoes = [
        f'data: {{"echo": "{SECRET}"}}\n\n'.encode(),
        *(
            b"data: " + base64.b64encode(b"p" * lead + SECRET.encode()) + b"\n\n"
            for lead in range(3)
        ),
        b"data: " + base64.urlsafe_b64encode(SECRET.encode() + b"!") + b"\n\n",
        f"data: {gemini_key} {custom}\n\n".encode(),
        b"data: \xff\xfe binary " + SECRET.encode() + b"\n\n",
    ]
    path = tmp_path / "secret.yaml"
    with loopback() as server:
        server.scripts["/v1/chat"] = Script(
            pieces=gzip_pieces(echoes),
            headers={
                "content-type": "text/event-stream",
                "content-encoding": "gzip",
                "set-cookie": f"session={SECRET}; path=/",
                "openai-organization": "org-secretcorp",
                "x-echo-key": SECRET,
            },
        )
        with (
            record(path, mode="once", scrub=Scrubber(patterns=[r"tok_\w+"])),
            httpx2.Client() as client,
        ):
            response = client.post(
                server.base_url + f"/v1/chat?alt=sse&key={gemini_key}",
                headers={"authorization": f"Bearer {SECRET}", "x-goog-api-key": gemini_key},
                json={"model": "m", "prompt": custom},
            )
            assert SECRET.encode() in response.content, "the caller still sees the real body"
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    compact = re.sub(r"\s+", "", text)
    for secret in (SECRET, gemini_key, custom, "org-secretcorp"):
        for form in every_form(secret):
            assert form.decode() not in text, f"{form!r} leaked"
            assert form.decode() not in compact, f"{form!r} leaked across a line break"
    [saved] = load_cassette(path).interactions
    assert saved.response.header("content-encoding") is None
    assert saved.response.body.count(REDACTED.encode()) >= len(echoes)
    assert saved.request.uri.endswith("?alt=sse&key=REDACTED")
    chunks = saved.response.body_chunks()
    assert len(chunks) == len(echoes)


# -- credentials in bodies, by name and by shape ---------------------------------------------------

LEAKY = Path(__file__).resolve().parent / "data" / "secrets" / "leaky-provider.yaml"
# Invented credentials in the real shapes: each must be gone from every file streamreel writes.
SHAPED = {
    "openai": "sk-proj-Tq7Lm2Xc9Vb4Nz8Kw3Hs6Jd1",
    "anthropic": "sk-ant-api03-Rt5Yu8Io2Pa4Sd6Fg9Hj1Kl3Zx7Cv0Bn",
    "google": "AIzaSyD4kT9mQ2wE7rY1uI8oP3aS6dF0gH5jK2l",
    "aws": "AKIAQ3EXAMPLE7KEY2ZZ",
    "github": "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "github-fine-grained": "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
    "jwt": (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiZXhwIjoxOTAwMDAwMDAwfQ"
        ".c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
    ),
}


def _scrubbed_text(*interactions: Interaction, scrubber: Scrubber | None = None) -> str:
    from streamreel.cassettes.storage import dump_cassette
    from streamreel.core.cassette import Cassette

    return dump_cassette(Cassette((scrubber or Scrubber()).scrub(list(interactions))))


@pytest.mark.parametrize(
    "key",
    ["api_key", "apiKey", "API-KEY", "key", "token", "access_token", "accessToken",
     "refresh_token", "client_secret", "clientSecret", "password", "Password", "secret",
     "x-api-key", "private_key", "id_token"],
)  # fmt: skip
def test_a_credential_named_key_is_scrubbed_at_any_depth_in_requests_and_responses(
    key: str,
) -> None:
    value = "hunter2-value"
    nested = {"model": "m", "config": {"auth": [{key: value, "keep": "visible-9"}]}}
    body = json.dumps(nested, separators=(",", ":")).encode()
    sse = b"data: " + json.dumps({"delta": {key: value}}).encode() + b"\n\n"
    text = _scrubbed_text(interaction(request_body=body, chunks=[sse]))
    assert value not in text
    assert "visible-9" in text and text.count(REDACTED) >= 2


def test_body_scrubbing_keeps_json_valid_and_the_rest_of_the_body() -> None:
    body = json.dumps(
        {"api_key": "abc-123-secret", "count": 3, "token": None, "password": 1234, "n": "ok"}
    ).encode()
    (scrubbed,) = Scrubber().scrub([interaction(request_body=body)])
    assert json.loads(scrubbed.request.body) == {
        "api_key": REDACTED,
        "count": 3,
        "token": None,
        "password": 1234,
        "n": "ok",
    }


def test_a_logprobs_token_is_a_word_of_the_reply_not_a_credential() -> None:
    entry = {"token": "Hello", "logprob": -0.25, "bytes": [72], "top_logprobs": []}
    sse = b"data: " + json.dumps({"logprobs": {"content": [entry]}}).encode() + b"\n\n"
    (scrubbed,) = Scrubber().scrub([interaction(chunks=[sse])])
    assert b'"token": "Hello"' in scrubbed.response.body


def test_credentials_inside_escaped_tool_arguments_are_scrubbed() -> None:
    arguments = json.dumps({"password": "correct-horse", "user": "ada"})
    sse = b"data: " + json.dumps({"arguments": arguments}).encode() + b"\n\n"
    (scrubbed,) = Scrubber().scrub([interaction(chunks=[sse])])
    decoded = json.loads(json.loads(scrubbed.response.body[6:])["arguments"])
    assert decoded == {"password": REDACTED, "user": "ada"}


@pytest.mark.parametrize("kind", sorted(SHAPED))
def test_well_known_credential_formats_are_scrubbed_in_headers_urls_and_bodies(
    kind: str,
) -> None:
    secret = SHAPED[kind]
    echoed = base64.b64encode(f"user:{secret}".encode())
    original = interaction(
        uri=f"{URL}?trace=1&sig={secret}",
        request_headers={"x-custom-auth": [secret]},
        request_body=json.dumps({"note": f"use {secret} please"}).encode(),
        response_headers={"x-echo": [f"Bearer {secret}"]},
        chunks=[b"data: " + secret[:9].encode(), secret[9:].encode() + b"\n\n", echoed + b"\n"],
        error=f"failed with {secret}",
    )
    text = _scrubbed_text(original)
    for form in every_form(secret):
        assert form.decode() not in text, form
    assert "trace=1" in text and "x-custom-auth" in text


def test_the_default_lists_are_named() -> None:
    assert {"api_key", "key", "token", "access_token", "client_secret", "password"} <= set(
        DEFAULT_SECRET_BODY_KEYS
    )
    assert set(DEFAULT_SECRET_PATTERNS) == {
        "OpenAI or Anthropic API key",
        "Google API key",
        "AWS access key id",
        "GitHub token",
        "JSON Web Token",
    }
    assert "key" in DEFAULT_SECRET_QUERY_PARAMS and "client_secret" in DEFAULT_SECRET_QUERY_PARAMS


def test_ordinary_text_that_only_resembles_credentials_is_kept() -> None:
    prose = (
        b"data: the task-runner, a skeleton key, tokens: 12, AKIA is short, eyJ alone, sk-short\n\n"
    )
    (scrubbed,) = Scrubber().scrub([interaction(chunks=[prose])])
    assert scrubbed.response.body == prose


def test_the_docstring_pattern_matches_the_pretty_stored_body(tmp_path: Path) -> None:
    from streamreel.cassettes.storage import save_cassette
    from streamreel.core.cassette import Cassette

    body = json.dumps({"model": "m", "api_key": "wire-secret-1"}, separators=(",", ":")).encode()
    original = interaction(
        request_headers={"content-type": ["application/json"]}, request_body=body
    )
    for pattern in ['"api_key": "(?P<secret>[^"]+)"', '"api_key":"(?P<secret>[^"]+)"']:
        only_mine = Scrubber(defaults=False, patterns=[pattern])
        path = tmp_path / "mine.yaml"
        save_cassette(Cassette(only_mine.scrub([original])), path)
        assert "wire-secret-1" not in path.read_text(), pattern
        (loaded,) = load_cassette(path).interactions
        # Still the compact bytes a client sends, so the recording matches on replay.
        assert loaded.request.body == body.replace(b"wire-secret-1", REDACTED.encode())


def test_a_pattern_that_breaks_the_json_still_removes_the_secret() -> None:
    body = json.dumps({"api_key": "wire-secret-2"}).encode()
    original = interaction(
        request_headers={"content-type": ["application/json"]}, request_body=body
    )
    (scrubbed,) = Scrubber(defaults=False, patterns=[r'"api_key": "wire-']).scrub([original])
    assert b"wire-" not in scrubbed.request.body


def test_a_session_recorded_through_the_emulator_leaks_nothing(tmp_path: Path) -> None:
    import openai
    from streamreel.recording.emulator import Emulator, EmulatorServer

    emulator = Emulator.from_paths([LEAKY], speed=0)
    path = tmp_path / "recorded.yaml"
    real_key = "sk-proj-LiveKey4Test9Zq8Wx7Ev6Rt5"
    body_secret = "body-secret-0a1b2c3d4e"
    client_secret = "oauth-client-secret-77aa"
    with EmulatorServer(emulator) as server, record(path, mode="once"):
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key=real_key, max_retries=0)
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Say hello"}],
            stream=True,
            extra_body={"api_key": body_secret, "metadata": {"auth": {"clientSecret": "x" * 20}}},
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        token = httpx2.post(
            f"{server.base_url}/token?client_id=c&client_secret={client_secret}",
            content=b"grant_type=refresh_token",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ).json()
    assert SHAPED["aws"] in text and token["expires_in"] == 3599  # served as recorded...
    saved = path.read_text()
    secrets = [real_key, body_secret, client_secret, "x" * 20, *SHAPED.values()]
    secrets += ["ya29.a0AfB_leaky-access-token", "1//0leaky-refresh-token"]
    secrets += ["correct-horse-battery", "abcdef123456"]
    for secret in secrets:
        for form in every_form(secret):
            assert form.decode() not in saved, secret  # ...and stored without a secret
    assert '"token":"Your"' in saved  # the logprobs word survived
    assert len(load_cassette(path).interactions) == 2
