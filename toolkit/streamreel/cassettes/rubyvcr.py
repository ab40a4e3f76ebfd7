"""Ruby VCR cassettes (the ``vcr`` gem, 2.x to 6.x) read into a cassette.

A Ruby VCR cassette, YAML (Psych) or JSON, is ``{http_interactions: [...], recorded_with: "VCR
6.0.0"}``; each interaction is::

    request:  {method: post, uri, body: {encoding, string}, headers: {Name: [value]}}
    response: {status: {code, message}, headers, body: {encoding, string}, http_version}
    recorded_at: "Mon, 01 Jan 2024 00:00:00 GMT"

The method is lower case (a Ruby symbol's name). A body whose bytes are not valid in its
``encoding`` is written ``string: !binary |`` (Psych's local tag, base64), and with VCR's
``preserve_exact_body_bytes`` it is ``base64_string`` instead of ``string``. VCR keeps no chunk
boundaries, so ``chunks`` is None.

Errors name the interaction (0-based) and read ``cannot X: expected Y, got Z; do W``; the
caller adds the path.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from streamreel.cassettes.fields import FieldReader, each_located
from streamreel.core.cassette import (
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import CassetteError

__all__ = ["read_ruby_vcr"]

_FIX = "fix the VCR cassette or record it again"
_FIELDS = FieldReader("VCR", _FIX)
_fail = _FIELDS.fail


def read_ruby_vcr(document: dict[str, Any]) -> Cassette:
    """The interactions of a parsed Ruby VCR cassette, in file order."""
    items = document.get("http_interactions")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise _fail("read VCR http_interactions", "a list", items)
    interactions = each_located(items, _read_interaction)
    tool = document.get("recorded_with")
    started = interactions[0].recorded_at if interactions else None
    info = CassetteInfo(
        tool_version=tool if isinstance(tool, str) else None, recorded_at=started, source="ruby-vcr"
    )
    return Cassette(interactions=interactions, info=info)


def _read_interaction(item: Any) -> Interaction:
    if not isinstance(item, dict):
        raise _fail("read VCR interaction", "a mapping with request and response", item)
    request, response = item.get("request"), item.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise _fail("read VCR interaction", "request and response mappings", item)
    method, uri = request.get("method"), request.get("uri")
    if not isinstance(method, str) or not method.lstrip(":"):
        raise _fail("read VCR request.method", "an HTTP method", method)
    if not isinstance(uri, str) or not uri:
        raise _fail("read VCR request.uri", "a URL", uri)
    status = response.get("status")
    code, message = (
        (status.get("code"), status.get("message")) if isinstance(status, dict) else (status, "")
    )
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 999:
        raise _fail("read VCR response.status.code", "an HTTP status code such as 200", code)
    return Interaction(
        request=RecordedRequest(
            method=method.lstrip(":").upper(),
            uri=uri,
            headers=_FIELDS.headers(request.get("headers"), "request.headers"),
            body=_body(request.get("body"), "request.body"),
        ),
        response=RecordedResponse(
            status=code,
            reason=message if isinstance(message, str) else "",
            headers=_FIELDS.headers(response.get("headers"), "response.headers"),
            body=_body(response.get("body"), "response.body"),
        ),
        recorded_at=_recorded_at(item.get("recorded_at")),
    )


def _body(raw: Any, where: str) -> bytes:
    if raw is None:
        return b""
    if isinstance(raw, str | bytes):
        raw = {"string": raw}  # VCR 1.x kept the body itself
    if not isinstance(raw, dict):
        raise _fail(f"read VCR {where}", "a mapping with encoding and string", raw)
    if "base64_string" in raw:
        encoded = raw["base64_string"]
        if not isinstance(encoded, str):
            raise _fail(f"read VCR {where}.base64_string", "base64 text", encoded)
        try:
            return base64.b64decode("".join(encoded.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CassetteError(
                f"cannot decode VCR {where}.base64_string: expected base64, got invalid base64"
                f" ({exc}); {_FIX}"
            ) from exc
    return _FIELDS.body(raw.get("string"), f"{where}.string")


def _recorded_at(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
