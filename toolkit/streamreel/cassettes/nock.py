"""nock recorder JSON (Node.js) read into a :class:`~streamreel.core.cassette.Cassette`.

A nock recording is a JSON array of ``{scope, method, path, body, status, response, rawHeaders,
reqheaders, responseIsBinary}``:

* the URL is ``scope + path``; ``scope`` carries the port, and a default one (``:443`` for https,
  ``:80`` for http) is dropped so the URL reads as a client would send it;
* ``rawHeaders`` is a flat ``[name, value, name, value, ...]`` list (older recordings have a
  ``headers`` object instead);
* a response with a ``Content-Encoding`` is an array of hex strings, one per chunk read, of the
  coded bytes (decoded later, as every source's bodies are);
* with ``responseIsBinary`` the ``response`` is a hex string of the raw bytes; otherwise it is a
  string, or a JSON value nock parsed, which is written back as compact JSON, the way
  ``JSON.stringify`` would send it. A JSON request ``body`` is rebuilt the same way, so its bytes
  are canonical rather than the exact ones sent.

nock keeps no timing or chunk boundaries, so ``chunks`` is None. Errors name the entry as the
``interaction`` (0-based); the caller adds the path.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from streamreel.cassettes.fields import each_located
from streamreel.core.cassette import (
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import CassetteError, describe_value

__all__ = ["read_nock"]

_FIX = "fix the nock recording or record it again"
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HEX = re.compile(r"[0-9a-fA-F]*")
_MAGIC_HEX = ("1f8b", "28b52ffd")  # gzip, zstd


def _fail(action: str, expected: str, got: object) -> CassetteError:
    shown = describe_value(got)
    return CassetteError(f"cannot {action}: expected {expected}, got {shown}; {_FIX}")


def read_nock(entries: list[Any]) -> Cassette:
    """The interactions of a parsed nock recording, in file order."""
    return Cassette(
        interactions=each_located(entries, _read_entry), info=CassetteInfo(source="nock")
    )


def _origin(scope: str) -> str:
    parts = urlsplit(scope)
    try:
        port = parts.port
    except ValueError as exc:
        raise _fail("read nock scope", "an origin such as https://host:443", scope) from exc
    if not parts.scheme or not parts.hostname:
        raise _fail("read nock scope", "an origin such as https://host:443", scope)
    if port is not None and _DEFAULT_PORTS.get(parts.scheme) == port:
        host = parts.netloc.rsplit(":", 1)[0]
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{parts.netloc}"


def _read_entry(entry: Any) -> Interaction:
    if not isinstance(entry, dict):
        raise _fail("read nock entry", "an object", entry)
    scope = entry.get("scope")
    path = entry.get("path", "/")
    method = entry.get("method", "GET")
    if not isinstance(scope, str):
        raise _fail("read nock scope", "an origin such as https://host:443", scope)
    if not isinstance(path, str):
        raise _fail("read nock path", "a string", path)
    if not isinstance(method, str) or not method:
        raise _fail("read nock method", "an HTTP method", method)
    status = entry.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
        raise _fail("read nock status", "an HTTP status code", status)
    headers = _response_headers(entry)
    return Interaction(
        request=RecordedRequest(
            method=method.upper(),
            uri=_origin(scope) + path,
            headers=_request_headers(entry.get("reqheaders")),
            body=_payload(entry.get("body"), "body"),
        ),
        response=RecordedResponse(
            status=status, headers=headers, body=_response_body(entry, headers)
        ),
    )


def _payload(value: Any, where: str) -> bytes:
    if value is None or value == "":
        return b""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise _fail(f"read nock {where}", "a string or JSON value", value) from exc


def _response_body(entry: dict[str, Any], headers: dict[str, list[str]]) -> bytes:
    response = entry.get("response")
    if isinstance(response, list) and _hex_chunks(response, headers):
        return b"".join(bytes.fromhex(piece) for piece in response)
    if not entry.get("responseIsBinary"):
        return _payload(response, "response")
    if not isinstance(response, str):
        raise _fail("read nock response", "a hex string (responseIsBinary is true)", response)
    try:
        return bytes.fromhex(response)
    except ValueError as exc:
        raise CassetteError(
            f"cannot decode nock response: expected hex digits (responseIsBinary is true), "
            f"got {exc}; {_FIX}"
        ) from exc


def _hex_chunks(response: Any, headers: dict[str, list[str]]) -> bool:
    """Whether ``response`` is nock's array of hex strings, one per chunk of a coded body.

    nock stores a response with a ``Content-Encoding`` that way (without ``responseIsBinary``);
    a JSON reply that is an array of strings is told apart by that header, or, when a tool
    dropped the header, by the gzip or zstd magic bytes the first chunk starts with.
    """
    if not isinstance(response, list) or not response:
        return False
    coded = any(
        name.lower() == "content-encoding"
        and any(v.strip().lower() not in ("", "identity") for v in values)
        for name, values in headers.items()
    )
    first = response[0]
    magic = isinstance(first, str) and first[:8].lower().startswith(_MAGIC_HEX)
    return (coded or magic) and all(
        isinstance(piece, str) and len(piece) % 2 == 0 and _HEX.fullmatch(piece) is not None
        for piece in response
    )


def _request_headers(raw: Any) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail("read nock reqheaders", "an object", raw)
    headers: dict[str, list[str]] = {}
    for name, value in raw.items():
        values = value if isinstance(value, list) else [value]
        headers[str(name)] = [str(item) for item in values]
    return headers


def _response_headers(entry: dict[str, Any]) -> dict[str, list[str]]:
    raw = entry.get("rawHeaders")
    headers: dict[str, list[str]] = {}
    if raw is None:
        legacy = entry.get("headers")
        if legacy is None:
            return {}
        if not isinstance(legacy, dict):
            raise _fail("read nock headers", "an object", legacy)
        for name, value in legacy.items():
            values = value if isinstance(value, list) else [value]
            headers[str(name)] = [str(item) for item in values]
        return headers
    if isinstance(raw, dict):
        return {str(name): [str(value)] for name, value in raw.items()}
    if not isinstance(raw, list) or len(raw) % 2:
        raise _fail("read nock rawHeaders", "a flat [name, value, ...] list of even length", raw)
    for name, value in zip(raw[::2], raw[1::2], strict=True):
        if not isinstance(name, str) or not isinstance(value, str | int):
            raise _fail("read nock rawHeaders", "string names and values", name)
        headers.setdefault(name, []).append(str(value))
    return headers
