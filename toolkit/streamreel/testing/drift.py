"""Drift: does the provider still send what the cassette recorded?

Theory of operation
-------------------
:func:`resend` sends every recorded request of a cassette again, to ``base_url`` (the provider,
or any compatible server) with the recorded method, path, query and body, inside
:func:`streamreel.recording.recorder.record` in mode ``all``: the answer is recorded through the
project's own recorder, scrubbed by its scrubber and written atomically by its writer, beside
the cassette as ``NAME.drift.yaml``. Credentials are never read from the cassette (they were
scrubbed there); the ones the recorded headers held are filled in from the environment
(``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY``, ``CO_API_KEY``, by host) and
scrubbed again on the way to the file.

:func:`compare` then holds the old and the new answer of each interaction side by side at three
levels, each a list of :class:`Finding`:

* **schema**: the body's events, grouped by type (a JSON ``type`` field, else the SSE event
  name, else the JSON ``object`` field), each reduced to its field paths and the JSON types seen
  at each (``choices[].delta.content: string|null``). New and vanished event types, and per type
  the fields added, removed and retyped (non-null types that differ), are findings.
* **framing**: how the events are carried: the SSE event names used, the terminator (the last
  event: ``[DONE]``, ``message_stop``...), whether a usage record is sent, and the chunking:
  events per stream and how many pieces each tool call's arguments come in.
* **messages**: what the agent sees, the snapshot comparison of
  :mod:`streamreel.testing.review` (merged messages and tool-call arguments, volatile values as
  placeholders).

Timing and the chunk count of the transport are not compared: they differ on every call.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from streamreel.cassettes.storage import load_cassette, save_cassette
from streamreel.core.cassette import Interaction, RecordedRequest, RecordedResponse
from streamreel.core.errors import ConfigurationError, StreamDecodeError
from streamreel.core.framing import NDJSONDecoder
from streamreel.core.sse import SSEDecoder

__all__ = [
    "DriftReport",
    "Finding",
    "WireEvent",
    "compare",
    "drift_path",
    "event_schema",
    "resend",
    "update",
    "wire_events",
]

_KEY_VARIABLES: Final = (
    ("anthropic", "ANTHROPIC_API_KEY"),
    ("generativelanguage", "GEMINI_API_KEY"),
    ("googleapis", "GEMINI_API_KEY"),
    ("cohere", "CO_API_KEY"),
)
_CREDENTIAL_HEADERS: Final = ("authorization", "x-api-key", "api-key", "x-goog-api-key")
_NOT_RESENT: Final = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "accept-encoding", "cookie"}
)
_TERMINATOR_DONE: Final = "[DONE]"


@dataclass(frozen=True, slots=True)
class Finding:
    """One difference: which interaction, at which level, and what it is."""

    interaction: int
    level: str  # "schema", "framing" or "messages"
    what: str

    def __str__(self) -> str:
        return f"interaction {self.interaction}: {self.level}: {self.what}"


@dataclass(frozen=True, slots=True)
class DriftReport:
    cassette: Path
    recording: Path
    findings: tuple[Finding, ...]

    @property
    def drifted(self) -> bool:
        return bool(self.findings)


def drift_path(cassette: Path) -> Path:
    """Where the new answers of ``cassette`` are recorded: ``NAME.drift.yaml`` beside it."""
    return cassette.with_name(f"{cassette.stem}.drift.yaml")


# -- sending again -----------------------------------------------------------------------------


def _target(uri: str, base_url: str) -> str:
    """The recorded URL moved to ``base_url``: its origin, and its path prefix if it has one."""
    base = urlsplit(base_url)
    if not base.scheme or not base.netloc:
        raise ConfigurationError(
            f"cannot re-send: expected a base URL like https://api.openai.com, got {base_url!r}; "
            "do pass the provider's or the server's origin"
        )
    recorded = urlsplit(uri)
    prefix = base.path.rstrip("/")
    path = recorded.path
    if prefix and not path.startswith(prefix + "/"):
        path = prefix + path
    return urlunsplit((base.scheme, base.netloc, path, recorded.query, ""))


def _key(uri: str, environ: Mapping[str, str]) -> str | None:
    host = urlsplit(uri).hostname or ""
    variable = next((var for mark, var in _KEY_VARIABLES if mark in host), "OPENAI_API_KEY")
    return environ.get(variable) or None


def _headers(request: RecordedRequest, environ: Mapping[str, str]) -> dict[str, str]:
    """The recorded headers to send again, credentials filled in from the environment."""
    key = _key(request.uri, environ)
    sent: dict[str, str] = {}
    for name, values in request.headers.items():
        lower = name.lower()
        if lower in _NOT_RESENT or not values:
            continue
        if lower in _CREDENTIAL_HEADERS:
            if key is not None:
                sent[name] = f"Bearer {key}" if lower == "authorization" else key
            continue
        sent[name] = values[-1]
    return sent


def resend(
    cassette: str | os.PathLike[str],
    base_url: str,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Path:
    """Send every recorded request of ``cassette`` to ``base_url``; record the answers beside it.

    Returns the path of the new recording (:func:`drift_path`). A previous one is replaced.
    """
    import httpx

    from streamreel.recording.recorder import record

    source = Path(cassette)
    old = load_cassette(source)
    target = drift_path(source)
    target.unlink(missing_ok=True)
    variables = os.environ if environ is None else environ
    with record(target, mode="all"), httpx.Client(timeout=timeout) as client:
        for interaction in old.interactions:
            request = interaction.request
            with client.stream(
                request.method,
                _target(request.uri, base_url),
                headers=_headers(request, variables),
                content=request.body or None,
            ) as response:
                for _ in response.iter_raw():
                    pass
    return target


def update(cassette: str | os.PathLike[str]) -> None:
    """Replace ``cassette`` with its drift recording (atomically), and remove the recording."""
    source = Path(cassette)
    recording = drift_path(source)
    new = load_cassette(recording)
    save_cassette(new, source)
    recording.unlink()


# -- comparing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WireEvent:
    name: str  # the SSE event name ("message" when none)
    kind: str  # the type it is grouped under
    value: Any  # the decoded JSON, or the raw text


def wire_events(response: RecordedResponse) -> list[WireEvent] | None:
    """The body's events, by its content type; None for a body that is not a JSON stream."""
    kind = (response.header("content-type") or "").split(";")[0].strip().lower()
    body = response.body
    if kind == "text/event-stream":
        decoder = SSEDecoder()
        try:
            raw = [*decoder.feed(body), *decoder.close(keep_unterminated=True)]
        except StreamDecodeError:
            return None
        return [_event(event.event, event.data) for event in raw]
    if kind in ("application/x-ndjson", "application/jsonl"):
        ndjson = NDJSONDecoder()
        try:
            values = [*ndjson.feed(body), *ndjson.close()]
        except StreamDecodeError:
            return None
        return [_typed("message", value) for value in values]
    if kind == "application/json":
        try:
            value = json.loads(body or b"null")
        except ValueError:
            return None
        values = value if isinstance(value, list) else [value]
        return [_typed("message", item) for item in values]
    return None


def _event(name: str, data: str) -> WireEvent:
    try:
        value = json.loads(data)
    except ValueError:
        return WireEvent(name, data.strip() if data.strip() == _TERMINATOR_DONE else name, data)
    return _typed(name, value)


def _typed(name: str, value: Any) -> WireEvent:
    """The event grouped by its ``type`` field, else its SSE name, else its ``object`` field."""
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return WireEvent(name, str(value["type"]), value)
    if name != "message":
        return WireEvent(name, name, value)
    if isinstance(value, dict) and isinstance(value.get("object"), str):
        return WireEvent(name, str(value["object"]), value)
    return WireEvent(name, "data", value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _fields(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    yield prefix or "(event)", _json_type(value)
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _fields(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _fields(item, f"{prefix}[]")


def event_schema(events: Iterable[Any]) -> dict[str, dict[str, set[str]]]:
    """Per event type, each field path and the JSON types seen at it."""
    schema: dict[str, dict[str, set[str]]] = {}
    for event in events:
        fields = schema.setdefault(event.kind, {})
        if isinstance(event.value, dict | list):
            for path, kind in _fields(event.value):
                fields.setdefault(path, set()).add(kind)
    return schema


def _schema_findings(index: int, old: list[WireEvent], new: list[WireEvent]) -> Iterator[Finding]:
    before, after = event_schema(old), event_schema(new)
    for kind in sorted(after.keys() - before.keys()):
        yield Finding(index, "schema", f"new event type {kind!r}")
    for kind in sorted(before.keys() - after.keys()):
        yield Finding(index, "schema", f"event type {kind!r} vanished")
    for kind in sorted(before.keys() & after.keys()):
        was, now = before[kind], after[kind]
        for path in sorted(now.keys() - was.keys()):
            yield Finding(index, "schema", f"{kind}: field {path} added ({_types(now[path])})")
        for path in sorted(was.keys() - now.keys()):
            yield Finding(index, "schema", f"{kind}: field {path} removed")
        for path in sorted(was.keys() & now.keys()):
            old_types, new_types = was[path] - {"null"}, now[path] - {"null"}
            if old_types and new_types and old_types != new_types:
                yield Finding(
                    index,
                    "schema",
                    f"{kind}: field {path} retyped {_types(was[path])} -> {_types(now[path])}",
                )


def _types(kinds: set[str]) -> str:
    return "|".join(sorted(kinds))


def _argument_pieces(events: list[WireEvent]) -> dict[str, int]:
    """How many pieces each tool call's arguments came in, by call (index or id)."""
    pieces: dict[str, int] = {}
    for event in events:
        value = event.value
        if not isinstance(value, dict):
            continue
        for choice in value.get("choices") or []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            for call in (delta or {}).get("tool_calls") or []:
                function = call.get("function") or {}
                if function.get("arguments"):
                    key = f"tool call {call.get('index', 0)}"
                    pieces[key] = pieces.get(key, 0) + 1
        delta = value.get("delta")
        if isinstance(delta, dict) and delta.get("type") == "input_json_delta":
            key = f"tool call {value.get('index', 0)}"
            pieces[key] = pieces.get(key, 0) + 1
    return pieces


def _has_usage(events: list[WireEvent]) -> bool:
    return any(
        isinstance(e.value, dict)
        and any(e.value.get(key) for key in ("usage", "usageMetadata", "usage_metadata"))
        for e in events
    )


def _framing_findings(index: int, old: list[WireEvent], new: list[WireEvent]) -> Iterator[Finding]:
    names_old, names_new = sorted({e.name for e in old}), sorted({e.name for e in new})
    if names_old != names_new:
        yield Finding(index, "framing", f"event names {names_old} -> {names_new}")
    end_old = old[-1].kind if old else "nothing"
    end_new = new[-1].kind if new else "nothing"
    if end_old != end_new:
        yield Finding(index, "framing", f"terminator {end_old!r} -> {end_new!r}")
    usage_old, usage_new = _has_usage(old), _has_usage(new)
    if usage_old != usage_new:
        yield Finding(
            index,
            "framing",
            "usage record " + ("no longer sent" if usage_old else "now sent"),
        )
    if len(old) != len(new):
        yield Finding(index, "framing", f"events {len(old)} -> {len(new)}")
    pieces_old, pieces_new = _argument_pieces(old), _argument_pieces(new)
    for call in sorted(pieces_old.keys() | pieces_new.keys()):
        was, now = pieces_old.get(call, 0), pieces_new.get(call, 0)
        if was != now:
            yield Finding(index, "framing", f"{call}: arguments in {was} pieces -> {now}")


def _interaction_findings(index: int, old: Interaction, new: Interaction) -> Iterator[Finding]:
    if old.response.status != new.response.status:
        yield Finding(index, "framing", f"status {old.response.status} -> {new.response.status}")
    events_old, events_new = wire_events(old.response), wire_events(new.response)
    if events_old is None or events_new is None:
        kinds = (old.response.header("content-type"), new.response.header("content-type"))
        if kinds[0] != kinds[1]:
            yield Finding(index, "framing", f"content type {kinds[0]} -> {kinds[1]}")
        return
    yield from _schema_findings(index, events_old, events_new)
    yield from _framing_findings(index, events_old, events_new)


def compare(cassette: str | os.PathLike[str], recording: str | os.PathLike[str]) -> DriftReport:
    """The drift between a cassette and a new recording of its requests."""
    from streamreel.testing.review import compare_versions

    source, new_path = Path(cassette), Path(recording)
    old, new = load_cassette(source), load_cassette(new_path)
    findings: list[Finding] = []
    count = max(len(old.interactions), len(new.interactions))
    for index in range(count):
        if index >= len(new.interactions):
            findings.append(Finding(index, "framing", "no answer was recorded"))
            continue
        if index >= len(old.interactions):
            findings.append(Finding(index, "framing", "an extra interaction was recorded"))
            continue
        findings.extend(
            _interaction_findings(index, old.interactions[index], new.interactions[index])
        )
    for step in compare_versions(source, new_path).interactions:
        for change in step.changes:
            # A changed message shows as its - and + lines below; its count adds nothing.
            if change.what == "tool arguments":
                findings.append(
                    Finding(step.index, "messages", f"{change.what}: {change.old} -> {change.new}")
                )
        findings.extend(Finding(step.index, "messages", line) for line in step.message_lines)
    order = {"schema": 0, "framing": 1, "messages": 2}
    findings.sort(key=lambda f: (f.interaction, order[f.level]))
    return DriftReport(source, new_path, tuple(findings))
