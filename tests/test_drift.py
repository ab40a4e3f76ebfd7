"""`streamreel drift` against the loopback emulator: an unchanged stream and a changed one.

The emulator serves, for the cassette's own requests, either the recorded answers (nothing may
be reported) or a deliberately changed stream: a new SSE event type, a renamed field, the tool
call's arguments cut into other pieces and one argument changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cassettefactory as cf
import pytest
from click.testing import CliRunner
from streamreel.cassettes.storage import load_cassette
from streamreel.cli import main
from streamreel.core.cassette import BodyChunk, Interaction
from streamreel.recording.emulator import Emulator, EmulatorServer
from streamreel.testing.drift import compare, drift_path, event_schema, resend, wire_events

KEY = "sk-drift-0123456789abcdefghijklmnopqrstuvwxyzABCD"


def _original() -> Interaction:
    step = cf.search_call()
    headers = {**step.request.headers, "authorization": ["REDACTED"]}
    return replace(step, request=replace(step.request, headers=headers))


def _changed(original: Interaction) -> Interaction:
    """The same request, answered with a stream that drifted in every way drift looks at."""
    arguments = {**cf.SEARCH_ARGS, "limit": 3}
    chunks = cf.tool_call_chunks(
        "archival_memory_search", arguments, call_id=cf.SEARCH_ID, per_chunk=6
    )
    for chunk in chunks:  # a renamed field
        chunk["fingerprint"] = chunk.pop("system_fingerprint")
    events = cf.sse_events(chunks)
    events.insert(1, b'event: keepalive\ndata: {"ts": 1}\n\n')  # a new event type
    pieces = [BodyChunk(offset_ms=5.0 * n, data=event) for n, event in enumerate(events)]
    response = replace(original.response, body=b"".join(events), chunks=pieces)
    return replace(original, response=response)


class _Watching:
    """The emulator, noting the headers of every request it gets."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await self.emulator(scope, receive, send)


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    return cf.write(tmp_path / "search.yaml", _original())


def _serving(*interactions: Interaction) -> Iterator[tuple[str, _Watching]]:
    app = _Watching(Emulator.from_cassettes([cf.cassette(*interactions)], speed=0))
    with EmulatorServer(app) as server:
        yield server.base_url, app


@pytest.fixture
def unchanged() -> Iterator[tuple[str, _Watching]]:
    yield from _serving(_original())


@pytest.fixture
def changed() -> Iterator[tuple[str, _Watching]]:
    yield from _serving(_changed(_original()))


def test_an_unchanged_stream_reports_nothing(
    cassette: Path, unchanged: tuple[str, _Watching], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, app = unchanged
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    recording = resend(cassette, base_url)
    assert recording == drift_path(cassette) == cassette.with_name("search.drift.yaml")
    report = compare(cassette, recording)
    assert report.findings == ()
    # The key went to the server, from the environment, and never into the recording.
    assert app.headers[-1]["authorization"] == f"Bearer {KEY}"
    assert KEY not in recording.read_text()
    assert load_cassette(recording).interactions[0].request.body == cf.search_call().request.body


def test_a_changed_stream_is_reported_at_all_three_levels(
    cassette: Path, changed: tuple[str, _Watching]
) -> None:
    base_url, _ = changed
    report = compare(cassette, resend(cassette, base_url))
    found = {(finding.level, finding.what) for finding in report.findings}
    assert ("schema", "new event type 'keepalive'") in found
    assert ("schema", "chat.completion.chunk: field fingerprint added (string)") in found
    assert ("schema", "chat.completion.chunk: field system_fingerprint removed") in found
    assert ("framing", "event names ['message'] -> ['keepalive', 'message']") in found
    framing = [what for level, what in found if level == "framing"]
    assert any(what.startswith("tool call 0: arguments in ") for what in framing)
    messages = [what for level, what in found if level == "messages"]
    assert any(
        what.startswith("tool arguments: ") and '"limit":5' in what and '"limit":3' in what
        for what in messages
    )
    assert all(finding.interaction == 0 for finding in report.findings)
    assert str(report.findings[0]).startswith("interaction 0: schema: ")


def test_the_command_exits_1_on_drift_0_without_and_updates_only_when_asked(
    cassette: Path, changed: tuple[str, _Watching], unchanged: tuple[str, _Watching]
) -> None:
    before = cassette.read_bytes()
    result = CliRunner().invoke(main, ["drift", str(cassette), "--base-url", changed[0]])
    assert result.exit_code == 1, result.output
    assert (
        f"{cassette}: " in result.output
        and "findings (search.drift.yaml recorded)" in result.output
    )
    assert "  interaction 0: schema: new event type 'keepalive'" in result.output
    assert cassette.read_bytes() == before

    result = CliRunner().invoke(main, ["drift", str(cassette), "--base-url", unchanged[0]])
    assert result.exit_code == 0, result.output
    assert "no drift" in result.output

    result = CliRunner().invoke(
        main, ["drift", str(cassette), "--base-url", changed[0], "--update"]
    )
    assert result.exit_code == 1
    assert "replaced with the new recording" in result.output
    assert not drift_path(cassette).exists()
    body = load_cassette(cassette).interactions[0].response.body
    assert b"event: keepalive" in body
    # Now the cassette is what the server sends: nothing drifts.
    result = CliRunner().invoke(main, ["drift", str(cassette), "--base-url", changed[0]])
    assert result.exit_code == 0, result.output


def test_a_server_that_cannot_be_reached_is_reported_not_raised(cassette: Path) -> None:
    result = CliRunner().invoke(main, ["drift", str(cassette), "--base-url", "http://127.0.0.1:9"])
    assert result.exit_code == 3
    assert "cannot send its requests: ConnectError" in result.output


def test_the_wire_schema_lists_types_per_field() -> None:
    events = wire_events(cf.search_call().response)
    assert events is not None
    schema = event_schema(events)
    assert set(schema) == {"chat.completion.chunk", "[DONE]"}
    fields = schema["chat.completion.chunk"]
    assert fields["choices[].delta.tool_calls[].function.arguments"] == {"string"}
    assert fields["usage"] == {"null", "object"}
