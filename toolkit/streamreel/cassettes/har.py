"""HAR 1.2 logs (as Polly.JS and browsers write them) read into a cassette.

A HAR file is ``{"log": {"creator": ..., "entries": [{request, response, startedDateTime}]}}``.
Headers are ``[{name, value}]`` lists; HTTP/2 pseudo-headers (``:status``, ``:path``) are not
headers and are dropped. The request body is ``postData.text``; the response body is
``content.text``, base64 when ``content.encoding`` is ``"base64"``. HAR keeps no chunk boundaries,
so ``chunks`` is None.

Content codings are not undone here: :func:`streamreel.cassettes.storage.load_cassette` normalises
every
source the same way (HAR bodies are usually decoded already while the header stays).

Errors name the entry as the ``interaction`` (0-based) and read ``cannot X: expected Y, got Z;
do W``; the caller adds the path.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from streamreel.cassettes.fields import each_located
from streamreel.core.cassette import (
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import CassetteError, describe_value

__all__ = ["read_har"]

_FIX = "fix the HAR file or export it again"


def _fail(action: str, expected: str, got: object, interaction: int | None = None) -> CassetteError:
    shown = describe_value(got)
    return CassetteError(
        f"cannot {action}: expected {expected}, got {shown}; {_FIX}", interaction=interaction
    )


def read_har(document: dict[str, Any]) -> Cassette:
    """The interactions of a parsed HAR document, in file order."""
    log = document.get("log")
    if not isinstance(log, dict):
        raise _fail("read HAR", "a 'log' object", log)
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise _fail("read HAR log.entries", "a list of entries", entries)
    interactions = each_located(entries, _read_entry)
    creator = log.get("creator")
    tool = None
    if isinstance(creator, dict) and isinstance(creator.get("name"), str):
        tool = f"{creator['name']} {creator.get('version', '')}".strip()
    started = interactions[0].recorded_at if interactions else None
    info = CassetteInfo(tool_version=tool, recorded_at=started, source="har")
    return Cassette(interactions=interactions, info=info)


def _read_entry(entry: Any) -> Interaction:
    if not isinstance(entry, dict):
        raise _fail("read HAR entry", "an object with request and response", entry)
    request = entry.get("request")
    response = entry.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise _fail("read HAR entry", "request and response objects", entry.get("request"))
    method = request.get("method")
    url = request.get("url")
    if not isinstance(method, str) or not method:
        raise _fail("read HAR request.method", "an HTTP method", method)
    if not isinstance(url, str) or not url:
        raise _fail("read HAR request.url", "a URL", url)
    post = request.get("postData")
    body = b""
    if isinstance(post, dict):
        body = _content_bytes(post, "request.postData")
    elif post is not None:
        raise _fail("read HAR request.postData", "an object", post)
    status = response.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
        raise _fail("read HAR response.status", "an HTTP status code", status)
    reason = response.get("statusText")
    content = response.get("content")
    if content is not None and not isinstance(content, dict):
        raise _fail("read HAR response.content", "an object", content)
    return Interaction(
        request=RecordedRequest(
            method=method,
            uri=url,
            headers=_headers(request.get("headers"), "request.headers"),
            body=body,
        ),
        response=RecordedResponse(
            status=status,
            reason=reason if isinstance(reason, str) else "",
            headers=_headers(response.get("headers"), "response.headers"),
            body=_content_bytes(content, "response.content") if content else b"",
        ),
        recorded_at=_started(entry.get("startedDateTime")),
    )


def _headers(raw: Any, where: str) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise _fail(f"read HAR {where}", "a list of {name, value}", raw)
    headers: dict[str, list[str]] = {}
    for item in raw:
        if not isinstance(item, dict):
            raise _fail(f"read HAR {where}", "{name, value} objects", item)
        name = item.get("name")
        value = item.get("value")
        if not isinstance(name, str) or not isinstance(value, str | int):
            raise _fail(f"read HAR {where}", "a string name and value", name)
        if name.startswith(":"):
            continue
        headers.setdefault(name, []).append(str(value))
    return headers


def _content_bytes(content: dict[str, Any], where: str) -> bytes:
    text = content.get("text")
    if text is None:
        return b""
    if not isinstance(text, str):
        raise _fail(f"read HAR {where}.text", "a string", text)
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CassetteError(
                f"cannot decode HAR {where}.text: expected base64 (encoding is 'base64'), "
                f"got invalid base64 ({exc}); {_FIX}"
            ) from exc
    return text.encode("utf-8", "surrogatepass")


def _started(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
