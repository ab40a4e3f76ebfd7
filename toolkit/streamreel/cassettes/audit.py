"""Auditing committed cassettes: credentials, oversized files, repeated histories, unreadable files.

Theory of operation
-------------------
The scrubber is the detector.  :func:`audit_file` loads a file of any format streamreel reads
(:func:`streamreel.cassettes.storage.load_cassette`: streamreel and vcrpy YAML, vcrpy JSON,
HAR, nock; chunk files through :mod:`streamreel.cassettes.chunkfile`), scrubs a copy with the
:class:`~streamreel.cassettes.scrubbing.Scrubber` it is given, and reports every part the
scrubber changed.  So the rules that keep secrets out of new recordings are exactly the rules
that find them in old ones, a custom scrubber audits with its own rules, and ``--fix`` (a
rewrite through the same scrubber) leaves nothing a re-audit would report.

Bodies are compared where a reader would look for the secret: the loader has already undone
gzip and deflate, and the scrubber decodes base64 runs (inflating them when they hold gzip or
zlib data), so a key inside a compressed body or an encoded blob is found like any other.  A
JSON body is compared value by value, giving a path (``$.data[2].api_key``); a body of lines
(SSE, NDJSON) is compared line by line, each ``data:`` payload as JSON when it parses.

Besides secrets, a file is reported when it is larger than :attr:`AuditOptions.max_bytes`, when
a request's conversation (``messages``, ``contents`` or ``input``) starts with the whole
conversation of an earlier request (the earlier interaction is contained in the later one, and
the cassette could be trimmed), and when it cannot be read at all.

A finding never holds the secret itself: reports end up in CI logs.

:func:`audit_file` is the whole work for one file (path in, findings out), so files can be
audited in any order or in parallel.  :func:`fix_file` rewrites one file through the scrubber
with :func:`streamreel.cassettes.storage.save_cassette` (atomic, in the format its suffix names,
which is the format it was read in for the YAML and JSON cassettes streamreel writes).  HAR logs,
nock recordings and chunk files are read but never written by streamreel: they are left alone,
or, on request, a scrubbed streamreel cassette is written beside them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import unquote, urlsplit

from streamreel.cassettes.discovery import is_chunk_file
from streamreel.cassettes.scrubbing import Scrubber, credential_name
from streamreel.core.cassette import Cassette, Interaction
from streamreel.core.errors import CassetteError, StreamreelError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "WRITTEN_SOURCES",
    "AuditOptions",
    "Finding",
    "FixOutcome",
    "audit_cassette",
    "audit_file",
    "fix_file",
]

DEFAULT_MAX_BYTES: Final = 5 * 1024 * 1024
"""Files larger than this are reported: a few megabytes is many long conversations already."""

WRITTEN_SOURCES: Final = frozenset({"streamreel", "vcrpy"})
"""Where a cassette came from, for the kinds streamreel also writes (and so can fix in place)."""

_CONVERSATION_KEYS: Final = ("messages", "contents", "input")
_FORMAT_NAMES: Final = {"har": "HAR", "chunk file": "chunk"}

FindingKind = Literal["secret", "size", "history", "unreadable"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong with one file: where it is, and which rule says so."""

    path: Path
    interaction: int | None
    where: str
    rule: str
    kind: FindingKind = "secret"
    detail: str = ""

    def line(self) -> str:
        """``file: interaction N: where: rule (detail)``, the one-line report."""
        interaction = "-" if self.interaction is None else f"interaction {self.interaction}"
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.path}: {interaction}: {self.where}: {self.rule}{detail}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "interaction": self.interaction,
            "where": self.where,
            "rule": self.rule,
            "kind": self.kind,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """What to check: ``max_bytes`` (0 turns the size check off), ``history``, and the
    scrubber whose rules find the secrets."""

    max_bytes: int = DEFAULT_MAX_BYTES
    history: bool = True
    scrubber: Scrubber = field(default_factory=Scrubber)


@dataclass(frozen=True, slots=True)
class FixOutcome:
    """What :func:`fix_file` did to one file."""

    path: Path
    rewritten: bool = False
    copy: Path | None = None
    refused: str | None = None
    """Why the file was not rewritten though it holds secrets (a format streamreel does not
    write, or an unreadable file)."""
    remaining: list[Finding] = field(default_factory=list)
    """Secrets still found after the fix (in the file, or in the copy when one was written)."""


# -- one file ------------------------------------------------------------------------------------


def audit_file(path: str | os.PathLike[str], options: AuditOptions) -> list[Finding]:
    """Everything :class:`AuditOptions` asks about one file, in the order found."""
    where = Path(path)
    findings: list[Finding] = []
    try:
        size = where.stat().st_size
    except OSError as exc:
        return [_unreadable(where, exc.strerror or type(exc).__name__)]
    if options.max_bytes and size > options.max_bytes:
        findings.append(
            Finding(
                where,
                None,
                "file",
                "size",
                "size",
                f"{size:,} bytes, above the limit of {options.max_bytes:,}",
            )
        )
    try:
        cassette = _load(where)
    except StreamreelError as exc:
        return [*findings, _unreadable(where, _reason(exc))]
    findings.extend(audit_cassette(cassette, where, options))
    return findings


def audit_cassette(cassette: Cassette, path: Path, options: AuditOptions) -> list[Finding]:
    """The secrets (and, with ``options.history``, repeated histories) in a loaded cassette."""
    findings = list(_secrets(cassette, path, options.scrubber))
    if options.history:
        findings.extend(_repeated_histories(cassette, path))
    return findings


def fix_file(
    path: str | os.PathLike[str], options: AuditOptions, *, copy: bool = False
) -> FixOutcome:
    """Rewrite one file through the scrubber when it holds secrets, atomically.

    A HAR log, nock recording or chunk file is never rewritten (streamreel reads those formats
    but does not write them); with ``copy``, a scrubbed streamreel cassette is written beside it
    as ``<stem>.scrubbed.yaml`` instead.
    """
    from streamreel.cassettes.storage import save_cassette

    where = Path(path)
    try:
        cassette = _load(where)
    except StreamreelError as exc:
        return FixOutcome(where, refused=f"cannot read it: {_reason(exc)}")
    if not any(True for _ in _secrets(cassette, where, options.scrubber)):
        return FixOutcome(where)
    source = cassette.info.source or "unknown"
    shown = _FORMAT_NAMES.get(source, source)
    if source in WRITTEN_SOURCES and not is_chunk_file(where):
        save_cassette(cassette, where, scrub=options.scrubber)
        return FixOutcome(where, rewritten=True, remaining=_secret_findings(where, options))
    target = where.with_name(f"{where.stem}.scrubbed.yaml")
    refused = (
        f"streamreel reads {shown} files but does not write them, so it was left as it is; "
        "re-export it without the secrets"
    )
    if not copy:
        return FixOutcome(
            where, refused=f"{refused}, or pass --fix-copy to write a scrubbed {target.name}"
        )
    save_cassette(cassette, target, scrub=options.scrubber)
    return FixOutcome(
        where, copy=target, refused=refused, remaining=_secret_findings(target, options)
    )


def _secret_findings(path: Path, options: AuditOptions) -> list[Finding]:
    return [f for f in audit_file(path, options) if f.kind in ("secret", "unreadable")]


def _load(path: Path) -> Cassette:
    if is_chunk_file(path):
        from streamreel.cassettes.chunkfile import read_chunk_file

        return read_chunk_file(path)
    from streamreel.cassettes.storage import load_cassette

    return load_cassette(path)


def _unreadable(path: Path, reason: str) -> Finding:
    return Finding(path, None, "file", "unreadable", "unreadable", reason)


def _reason(exc: StreamreelError) -> str:
    text = str(exc)
    prefix = f"{exc.path}: " if isinstance(exc, CassetteError) and exc.path else ""
    return text.removeprefix(prefix)


# -- secrets -------------------------------------------------------------------------------------


def _secrets(cassette: Cassette, path: Path, scrubber: Scrubber) -> Iterator[Finding]:
    scrubbed = scrubber.scrub(cassette.interactions)
    for index, (old, new) in enumerate(zip(cassette.interactions, scrubbed, strict=True)):
        for where, rule in _differences(old, new, scrubber):
            yield Finding(path, index, where, rule)


def _differences(
    old: Interaction, new: Interaction, scrubber: Scrubber
) -> Iterator[tuple[str, str]]:
    if old.request.uri != new.request.uri:
        yield from _uri_differences(old.request.uri, new.request.uri, scrubber)
    for side, before, after in (
        ("request", old.request.headers, new.request.headers),
        ("response", old.response.headers, new.response.headers),
    ):
        for name, values in before.items():
            if values != after.get(name):
                changed = next(
                    (v for v, w in zip(values, after.get(name, []), strict=False) if v != w), ""
                )
                rule = scrubber.rule_for(_bytes(changed), header=name)
                yield f"{side}.headers.{name.lower()}", rule
    yield from _body_differences("request.body", old.request.body, new.request.body, scrubber)
    yield from _body_differences("response.body", old.response.body, new.response.body, scrubber)
    if old.response.error != new.response.error:
        yield "response.error", scrubber.rule_for(_bytes(old.response.error or ""))


def _uri_differences(before: str, after: str, scrubber: Scrubber) -> Iterator[tuple[str, str]]:
    old, new = urlsplit(before), urlsplit(after)
    found = False
    if old.password is not None and old.netloc != new.netloc:
        found = True
        yield "request.uri userinfo", "url-password"
    old_pairs = [piece.partition("=") for piece in old.query.split("&")] if old.query else []
    new_pairs = [piece.partition("=") for piece in new.query.split("&")] if new.query else []
    if len(old_pairs) == len(new_pairs):
        for (name, _, value), (_, _, replaced) in zip(old_pairs, new_pairs, strict=True):
            if value != replaced:
                found = True
                if credential_name(unquote(name)) in scrubber.secret_query_params:
                    yield f"request.uri ?{unquote(name)}", "secret-query-parameter"
                else:
                    yield f"request.uri ?{unquote(name)}", scrubber.rule_for(_bytes(value))
    if not found:
        yield "request.uri", scrubber.rule_for(_bytes(before))


def _body_differences(
    part: str, before: bytes, after: bytes, scrubber: Scrubber
) -> Iterator[tuple[str, str]]:
    if before == after:
        return
    old, new = _json(before), _json(after)
    if old is not None and new is not None:
        yield from ((f"{part} {p}", rule) for p, rule in _json_differences(old, new, "$", scrubber))
        return
    old_lines, new_lines = before.split(b"\n"), after.split(b"\n")
    if len(old_lines) != len(new_lines):
        yield part, scrubber.rule_for(before)
        return
    for number, (line, replaced) in enumerate(zip(old_lines, new_lines, strict=True), start=1):
        if line == replaced:
            continue
        old_value, new_value = _json(_payload(line)), _json(_payload(replaced))
        if old_value is not None and new_value is not None:
            for p, rule in _json_differences(old_value, new_value, "$", scrubber):
                yield f"{part} line {number} {p}", rule
        else:
            yield f"{part} line {number}", scrubber.rule_for(line)


def _json_differences(
    old: Any, new: Any, path: str, scrubber: Scrubber, key: str | None = None
) -> Iterator[tuple[str, str]]:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict) and old.keys() == new.keys():
        for name, value in old.items():
            yield from _json_differences(value, new[name], _member(path, name), scrubber, name)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (value, replaced) in enumerate(zip(old, new, strict=True)):
            yield from _json_differences(value, replaced, f"{path}[{index}]", scrubber, key)
        return
    if isinstance(old, str) and isinstance(new, str):
        # JSON inside a string (tool-call arguments): point into it when it parses.
        inner_old, inner_new = _json(_bytes(old)), _json(_bytes(new))
        if isinstance(inner_old, dict | list) and isinstance(inner_new, dict | list):
            yield from _json_differences(inner_old, inner_new, f"{path} (json) $", scrubber)
            return
        yield path, scrubber.rule_for(_bytes(old), key=key)
        return
    yield path, scrubber.rule_for(_bytes(json.dumps(old)), key=key)


def _member(path: str, name: str) -> str:
    if name.isidentifier():
        return f"{path}.{name}"
    return f"{path}[{json.dumps(name)}]"


def _payload(line: bytes) -> bytes:
    stripped = line.strip()
    return stripped[5:] if stripped.startswith(b"data:") else stripped


def _json(data: bytes) -> Any | None:
    if data.strip()[:1] not in (b"{", b"["):
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# -- repeated histories --------------------------------------------------------------------------


def _repeated_histories(cassette: Cassette, path: Path) -> Iterator[Finding]:
    earlier: list[tuple[int, str, list[Any]]] = []
    for index, interaction in enumerate(cassette.interactions):
        found = _conversation(interaction)
        if found is None:
            continue
        key, turns = found
        contained = [
            (number, len(previous))
            for number, previous_key, previous in earlier
            if previous_key == key
            and 0 < len(previous) < len(turns)
            and turns[: len(previous)] == previous
        ]
        if contained:
            number, count = max(contained, key=lambda item: item[1])
            yield Finding(
                path,
                index,
                f"request.body $.{key}",
                "repeated-history",
                "history",
                f"starts with all {count} {key} of interaction {number}",
            )
        earlier.append((index, key, turns))


def _conversation(interaction: Interaction) -> tuple[str, list[Any]] | None:
    body = _json(interaction.request.body)
    if not isinstance(body, dict):
        return None
    for key in _CONVERSATION_KEYS:
        value = body.get(key)
        if isinstance(value, list) and value:
            return key, value
    return None
