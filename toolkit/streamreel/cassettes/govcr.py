"""go-vcr cassettes (Go's ``github.com/dnaeon/go-vcr``) read into a cassette.

go-vcr writes YAML through Go's yaml packages, in two formats:

* format 1 (go-vcr v1 and v2): ``version: 1`` and ``interactions`` of ``{request: {body, form,
  headers, url, method}, response: {body, headers, status, code, duration}}``;
* format 2 (go-vcr v3 and v4): ``version: 2``; each interaction has an ``id``, and requests and
  responses add ``proto``, ``content_length``, ``transfer_encoding``, ``host`` and the like,
  which say nothing a replay needs and are ignored.

What tells it from vcrpy's ``version: 1`` is the request's ``url`` (vcrpy's is ``uri``) and the
response's ``code`` beside a ``status`` string (``"200 OK"``). Headers are Go ``http.Header``
maps of lists; bodies are strings, or ``!!binary`` when Go's yaml saw bytes that are not UTF-8.
A request whose body is empty but whose ``form`` is set sent the form URL-encoded. go-vcr keeps
no chunk boundaries (``duration`` is the whole exchange), so ``chunks`` is None.

Errors name the interaction (0-based) and read ``cannot X: expected Y, got Z; do W``; the
caller adds the path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from streamreel.core.cassette import (
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import CassetteError, describe_value

__all__ = ["is_go_vcr", "read_go_vcr"]

_FIX = "fix the go-vcr cassette or record it again"


def _fail(action: str, expected: str, got: object) -> CassetteError:
    return CassetteError(f"cannot {action}: expected {expected}, got {describe_value(got)}; {_FIX}")


def is_go_vcr(document: dict[str, Any]) -> bool:
    """Whether a YAML mapping with ``interactions`` is go-vcr's rather than vcrpy's."""
    items = document.get("interactions")
    if not isinstance(items, list):
        return False
    for item in items:
        request = item.get("request") if isinstance(item, dict) else None
        if isinstance(request, dict):
            return "url" in request and "uri" not in request
    return False


def read_go_vcr(document: dict[str, Any]) -> Cassette:
    """The interactions of a parsed go-vcr cassette (format 1 or 2), in file order."""
    version = document.get("version")
    if version not in (1, 2):
        raise _fail("read go-vcr cassette", "version 1 or 2", version)
    interactions: list[Interaction] = []
    for index, item in enumerate(document.get("interactions") or []):
        try:
            interactions.append(_read_interaction(item))
        except CassetteError as exc:
            exc.located(interaction=index)
            raise
    info = CassetteInfo(tool_version=f"go-vcr format {version}", source="go-vcr")
    return Cassette(interactions=interactions, info=info)


def _read_interaction(item: Any) -> Interaction:
    if not isinstance(item, dict):
        raise _fail("read go-vcr interaction", "a mapping with request and response", item)
    request, response = item.get("request"), item.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise _fail("read go-vcr interaction", "request and response mappings", item)
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not method:
        raise _fail("read go-vcr request.method", "an HTTP method", method)
    if not isinstance(url, str) or not url:
        raise _fail("read go-vcr request.url", "a URL", url)
    body = _body(request.get("body"), "request.body")
    form = request.get("form")
    if not body and isinstance(form, dict) and form:
        body = urlencode(
            [
                (str(k), str(v))
                for k, vs in form.items()
                for v in (vs if isinstance(vs, list) else [vs])
            ]
        ).encode()
    code = response.get("code")
    status_line = response.get("status")
    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 999:
        code = _code_from_status(status_line)
    reason = ""
    if isinstance(status_line, str):
        reason = status_line.split(" ", 1)[1] if " " in status_line else ""
    return Interaction(
        request=RecordedRequest(
            method=method.upper(),
            uri=url,
            headers=_headers(request.get("headers"), "request.headers"),
            body=body,
        ),
        response=RecordedResponse(
            status=code,
            reason=reason,
            headers=_headers(response.get("headers"), "response.headers"),
            body=_body(response.get("body"), "response.body"),
        ),
    )


def _code_from_status(status: Any) -> int:
    head = status.split(" ", 1)[0] if isinstance(status, str) else ""
    if head.isdigit() and 100 <= int(head) <= 999:
        return int(head)
    raise _fail("read go-vcr response.code", "an HTTP status code such as 200", status)


def _body(value: Any, where: str) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    raise _fail(f"read go-vcr {where}", "a string", value)


def _headers(raw: Any, where: str) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail(f"read go-vcr {where}", "a mapping of names to lists of values", raw)
    headers: dict[str, list[str]] = {}
    for name, values in raw.items():
        items = values if isinstance(values, list) else [values]
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in items):
            raise _fail(f"read go-vcr {where}", f"string values for {name!r}", values)
        headers[str(name)] = [str(v) for v in items]
    return headers
