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

from streamreel.cassettes.fields import FieldReader, each_located
from streamreel.core.cassette import (
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)

__all__ = ["is_go_vcr", "read_go_vcr"]

_FIELDS = FieldReader("go-vcr", "fix the go-vcr cassette or record it again")
_fail = _FIELDS.fail


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
    interactions = each_located(document.get("interactions") or [], _read_interaction)
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
    body = _FIELDS.body(request.get("body"), "request.body")
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
            headers=_FIELDS.headers(request.get("headers"), "request.headers"),
            body=body,
        ),
        response=RecordedResponse(
            status=code,
            reason=reason,
            headers=_FIELDS.headers(response.get("headers"), "response.headers"),
            body=_FIELDS.body(response.get("body"), "response.body"),
        ),
    )


def _code_from_status(status: Any) -> int:
    head = status.split(" ", 1)[0] if isinstance(status, str) else ""
    if head.isdigit() and 100 <= int(head) <= 999:
        return int(head)
    raise _fail("read go-vcr response.code", "an HTTP status code such as 200", status)
