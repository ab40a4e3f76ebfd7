"""Scrubbing: secrets never reach a cassette.

Theory of operation
-------------------
A :class:`Scrubber` is configuration; :meth:`Scrubber.scrub` is a pure function from recorded
interactions to scrubbed copies.  These rules run, in this order, over every part of every
interaction (URI, header values, request body, response body, each response chunk, the error
text):

1. **Secret headers and query parameters are replaced.**  The value of every header named in
   :data:`DEFAULT_SECRET_HEADERS` (plus the user's), on requests *and* responses, becomes
   ``REDACTED``; so does the value of every query parameter in
   :data:`DEFAULT_SECRET_QUERY_PARAMS` (Gemini's ``?key=``).  The header stays, so a reader can
   still see that a key was sent.
2. **Every value removed by rule 1 or found by rule 3 is then hunted down everywhere else.**
   Providers echo keys back ("Incorrect API key provided: sk-...") and servers reflect cookies,
   so each such value (and its bare token, without ``Bearer``; for a ``Basic`` credential also
   the decoded ``user:password`` and the password alone, since a 401 body may echo them decoded;
   and a password in the URL's userinfo) becomes a literal to replace in bodies and in other
   headers, together with its base64 encodings at all three byte
   alignments, standard and URL-safe, because a secret inside a base64 blob is still a secret.
   Values are learned from the whole cassette before anything is replaced, so a key first seen
   in a later request is still removed from an earlier response.  Values shorter than
   :data:`MIN_LEARNED_LENGTH` are not learned: replacing ``1`` everywhere would wreck the bodies
   and protect nothing.
3. **Credentials in bodies, by name and by shape** (unless ``defaults=False``).  The string value
   of every JSON key named like a credential (:data:`DEFAULT_SECRET_BODY_KEYS`, compared without
   case or separators, so ``apiKey``, ``API-KEY`` and ``api_key`` are one name) is replaced at
   any depth, in request and response bodies alike, in SSE ``data:`` lines and in JSON nested as
   an escaped string (tool-call arguments); a logprobs entry's ``token`` (a word of the reply,
   next to its ``logprob``) is not a credential and is kept.  Well-known credential formats
   (:data:`DEFAULT_SECRET_PATTERNS`: OpenAI and Anthropic keys, Google ``AIza`` keys, AWS access
   key ids, GitHub tokens, JWTs) are replaced wherever they appear, in URIs and headers too.
   Values found this way are learned as in rule 2 (a credential-named value only when it is at
   least :data:`MIN_BODY_SECRET_LENGTH` long, so ``"key": "color"`` is replaced in place but
   ``color`` is not hunted through the cassette).
4. **The user's regular expressions** replace what they match.  A pattern with a group named
   ``secret`` replaces only that group, so ``"api_key": "(?P<secret>[^"]+)"`` keeps the JSON
   valid.

Where it runs: :func:`streamreel.cassettes.storage.save_cassette` scrubs every cassette it
writes (with the caller's scrubber, or the default one), so the recorder, ``streamreel import``
and ``streamreel audit --fix`` cannot write a secret by forgetting to call this module.

Patterns see what the cassette stores.  A JSON request body is stored pretty-printed (see
:mod:`streamreel.cassettes.storage`) and kept compact in memory, so every pattern runs over the
pretty text, and the scrubbed text is turned back into the compact bytes the client sent: a
pattern written against the file (``": "`` after a key) matches, and so does one written
against the wire.

Bodies are scrubbed after content decoding: the recorder stores identity bytes, so a key inside
a gzip body is plain text by the time it gets here.  A secret may straddle two chunks, so
replacements run over the joined body and the chunk boundaries are mapped through each
replacement afterwards: the chunk count and every offset stay as recorded, and a replacement that
straddles a boundary lands whole in the chunk where the secret began.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final
from urllib.parse import unquote, urlsplit

from streamreel.core.cassette import (
    BodyChunk,
    Cassette,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.errors import ConfigurationError

__all__ = [
    "DEFAULT_SECRET_BODY_KEYS",
    "DEFAULT_SECRET_HEADERS",
    "DEFAULT_SECRET_PATTERNS",
    "DEFAULT_SECRET_QUERY_PARAMS",
    "MAX_BLOB_BYTES",
    "MIN_BODY_SECRET_LENGTH",
    "MIN_LEARNED_LENGTH",
    "REDACTED",
    "Scrubber",
    "base64_forms",
    "credential_name",
    "decode_blob",
    "inflated",
    "replace_in_chunks",
]

DEFAULT_SECRET_HEADERS: Final = (
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
)
REDACTED: Final = "REDACTED"
MIN_LEARNED_LENGTH: Final = 6
MIN_BODY_SECRET_LENGTH: Final = 12
"""A credential-named body value this long is also hunted through the rest of the cassette."""

DEFAULT_SECRET_BODY_KEYS: Final = (
    "api_key",
    "key",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth_token",
    "api_token",
    "bearer_token",
    "session_token",
    "client_secret",
    "secret",
    "secret_key",
    "secret_access_key",
    "aws_secret_access_key",
    "private_key",
    "password",
    "passwd",
    "authorization",
    "x_api_key",
    "auth",
)
"""JSON keys whose string values are credentials, compared without case or separators."""

DEFAULT_SECRET_QUERY_PARAMS: Final = (*DEFAULT_SECRET_BODY_KEYS, "sig")
"""Query parameters whose values are credentials (Gemini's ``?key=``, OAuth's
``client_secret``, an Azure SAS token's signature ``sig``...), compared like body keys:
``apiKey``, ``api-key`` and ``api_key`` are one."""

DEFAULT_SECRET_PATTERNS: Final[dict[str, bytes]] = {
    # sk-..., sk-proj-..., sk-svcacct-..., and Anthropic's sk-ant-api03-...
    "OpenAI or Anthropic API key": rb"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}",
    "Google API key": rb"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])",
    "AWS access key id": rb"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])",
    "GitHub token": (
        rb"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"
    ),
    "JSON Web Token": (
        rb"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
    ),
}
"""Well-known credential formats, replaced wherever they appear (names are for the docs)."""

_BASE64_RUN: Final = re.compile(rb"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{24,}={0,2}")
"""A run of base64 text long enough to hide a credential (standard or URL-safe alphabet)."""
MAX_BLOB_BYTES: Final = 1 << 20
"""A base64 blob's decoded (and inflated) bytes looked at for credentials, at most."""

_AUTH_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_-]*)\s+(\S+)\s*$")


def base64_forms(secret: bytes) -> set[bytes]:
    """The base64 text that appears wherever ``secret`` is encoded, whatever precedes it.

    Encoding shifts by the number of bytes before the secret modulo 3; for each shift only the
    characters computed from the secret's bits alone are stable, and those are returned, in the
    standard and URL-safe alphabets.
    """
    forms: set[bytes] = set()
    bits = 8 * len(secret)
    for lead in range(3):
        encoded = base64.b64encode(b"\0" * lead + secret)
        start = -(-8 * lead // 6)
        end = (8 * lead + bits) // 6
        core = encoded[start:end]
        if len(core) >= MIN_LEARNED_LENGTH:
            forms.add(core)
            forms.add(core.translate(bytes.maketrans(b"+/", b"-_")))
    return forms


def decode_blob(text: bytes) -> bytes | None:
    """The bytes a base64 run stands for, inflated when they are gzip or zlib data; None when
    ``text`` is not base64.  Output is bounded by :data:`MAX_BLOB_BYTES`."""
    body = text.rstrip(b"=")
    if len(body) % 4 == 1:
        return None
    padded = body + b"=" * (-len(body) % 4)
    alphabet = b"-_" if re.search(rb"[-_]", body) else b"+/"
    try:
        decoded = base64.b64decode(padded, altchars=alphabet, validate=True)
    except ValueError:
        return None
    return inflated(decoded)


def inflated(data: bytes) -> bytes:
    """``data`` decompressed when it starts like gzip or zlib data (bounded by
    :data:`MAX_BLOB_BYTES`), else ``data`` itself."""
    if data[:2] == b"\x1f\x8b":
        wbits = zlib.MAX_WBITS | 16
    elif len(data) > 1 and data[0] & 0x0F == 8 and int.from_bytes(data[:2], "big") % 31 == 0:
        wbits = zlib.MAX_WBITS
    else:
        return data
    try:
        return zlib.decompressobj(wbits).decompress(data, MAX_BLOB_BYTES)
    except zlib.error:
        return data


def replace_in_chunks(
    chunks: Sequence[bytes],
    pattern: re.Pattern[bytes],
    replacement: bytes,
    *,
    keep: Callable[[bytes], bool] | None = None,
) -> list[bytes]:
    """Replace matches across the joined chunks and split the result at the mapped boundaries.

    With ``keep``, only the matches for which it returns True are replaced.  A boundary inside
    a match moves to the end of its replacement.  The result has as many chunks as the input,
    and its join equals the replacement applied to the input's join.
    """
    joined = b"".join(chunks)
    spans = _spans(pattern, joined)
    if keep is not None:
        spans = [(start, end) for start, end in spans if keep(joined[start:end])]
    if not spans:
        return list(chunks)
    pieces: list[bytes] = []
    cursor = 0
    for start, end in spans:
        pieces.append(joined[cursor:start])
        pieces.append(replacement)
        cursor = end
    pieces.append(joined[cursor:])
    result = b"".join(pieces)

    out: list[bytes] = []
    old_end = 0
    new_start = 0
    for chunk in chunks:
        old_end += len(chunk)
        new_end = _map_position(old_end, spans, len(replacement))
        out.append(result[new_start:new_end])
        new_start = new_end
    return out


def _spans(pattern: re.Pattern[bytes], data: bytes) -> list[tuple[int, int]]:
    group = "secret" if "secret" in pattern.groupindex else 0
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(data):
        start, end = match.span(group)
        # Empty matches and unmatched optional groups replace nothing.
        if start < end:
            spans.append((start, end))
    return spans


def _map_position(position: int, spans: Sequence[tuple[int, int]], width: int) -> int:
    shift = 0
    for start, end in spans:
        if position <= start:
            break
        if position < end:
            return start + shift + width
        shift += width - (end - start)
    return position + shift


def credential_name(name: str) -> str:
    """A credential name without case or separators, the form names are compared in."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _key_names(names: Iterable[str]) -> bytes:
    """An alternation matching each name in any case, its words joined by any separator."""
    alternatives = []
    for name in sorted(set(names), key=lambda n: (-len(n), n)):
        words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
        alternatives.append(rb"[-_. ]?".join(re.escape(w.encode()) for w in words))
    return b"|".join(alternatives)


def _body_key_patterns(names: Iterable[str]) -> tuple[re.Pattern[bytes], ...]:
    """The string value of a credential-named key, as plain JSON and as JSON escaped inside a
    JSON string; a logprobs entry (``"token"`` followed by its ``"logprob"``) is left alone."""
    keys = _key_names(names)
    plain = (
        rb'"(?:' + keys + rb')"\s*:\s*"(?P<secret>(?:[^"\\\r\n]|\\.)+)"'
        rb'(?!\s*,\s*"logprob")'
    )
    escaped = (
        rb'\\"(?:' + keys + rb')\\"\s*:\s*\\"(?P<secret>(?:[^"\\\r\n]|\\[^"])+)\\"'
        rb'(?!\s*,\s*\\"logprob)'
    )
    return re.compile(plain, re.IGNORECASE), re.compile(escaped, re.IGNORECASE)


_DEFAULT_BODY_KEY_PATTERNS: Final = _body_key_patterns(DEFAULT_SECRET_BODY_KEYS)
_DEFAULT_FORMAT_PATTERN: Final = re.compile(b"|".join(DEFAULT_SECRET_PATTERNS.values()))
_NAMED_FORMATS: Final = tuple(
    (name, re.compile(pattern)) for name, pattern in DEFAULT_SECRET_PATTERNS.items()
)


def _literal_pattern(literals: Iterable[bytes]) -> re.Pattern[bytes] | None:
    ordered = sorted(set(literals), key=lambda item: (-len(item), item))
    if not ordered:
        return None
    # Longest first, so a whole "Bearer sk-..." goes before its bare token.
    return re.compile(b"|".join(re.escape(item) for item in ordered))


@dataclass(frozen=True, slots=True)
class Scrubber:
    """What to remove from recordings; the defaults apply unless ``defaults=False``.

    ``headers``, ``query_params`` and ``body_keys`` are names added to the defaults
    (case-insensitive; body keys also separator-insensitive); ``patterns`` are regular
    expressions (text or compiled, str or bytes) applied to URIs, header values and bodies as
    the cassette stores them.
    """

    headers: Sequence[str] = ()
    query_params: Sequence[str] = ()
    patterns: Sequence[str | bytes | re.Pattern[str] | re.Pattern[bytes]] = ()
    replacement: str = REDACTED
    defaults: bool = True
    body_keys: Sequence[str] = ()
    _header_names: frozenset[str] = field(init=False, repr=False, compare=False)
    _param_names: frozenset[str] = field(init=False, repr=False, compare=False)
    _compiled: tuple[re.Pattern[bytes], ...] = field(init=False, repr=False, compare=False)
    _key_rules: tuple[re.Pattern[bytes], ...] = field(init=False, repr=False, compare=False)
    _shape_rules: tuple[re.Pattern[bytes], ...] = field(init=False, repr=False, compare=False)
    _key_names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        base_headers = DEFAULT_SECRET_HEADERS if self.defaults else ()
        base_params = DEFAULT_SECRET_QUERY_PARAMS if self.defaults else ()
        object.__setattr__(
            self, "_header_names", frozenset(n.lower() for n in (*base_headers, *self.headers))
        )
        object.__setattr__(
            self,
            "_param_names",
            frozenset(credential_name(n) for n in (*base_params, *self.query_params)),
        )
        object.__setattr__(self, "_compiled", tuple(_compile(p) for p in self.patterns))
        names = [*(DEFAULT_SECRET_BODY_KEYS if self.defaults else ()), *self.body_keys]
        if self.defaults and not self.body_keys:
            key_rules = _DEFAULT_BODY_KEY_PATTERNS
        else:
            key_rules = _body_key_patterns(names) if names else ()
        object.__setattr__(self, "_key_rules", key_rules)
        shape_rules = (_DEFAULT_FORMAT_PATTERN,) if self.defaults else ()
        object.__setattr__(self, "_shape_rules", shape_rules)
        object.__setattr__(self, "_key_names", frozenset(credential_name(n) for n in names))

    @property
    def secret_headers(self) -> frozenset[str]:
        return self._header_names

    @property
    def secret_query_params(self) -> frozenset[str]:
        return self._param_names

    def with_rules(
        self,
        *,
        headers: Sequence[str] = (),
        query_params: Sequence[str] = (),
        patterns: Sequence[str | bytes | re.Pattern[str] | re.Pattern[bytes]] = (),
        body_keys: Sequence[str] = (),
    ) -> Scrubber:
        """A scrubber with these names and patterns added to this one's."""
        return Scrubber(
            headers=(*self.headers, *headers),
            query_params=(*self.query_params, *query_params),
            patterns=(*self.patterns, *patterns),
            replacement=self.replacement,
            defaults=self.defaults,
            body_keys=(*self.body_keys, *body_keys),
        )

    def rule_for(self, value: bytes, *, header: str | None = None, key: str | None = None) -> str:
        """Which of this scrubber's rules a value it replaced fell under, for reports (the
        audit): ``secret-header``, ``credential-key``, ``token-shape: <format>``,
        ``base64-blob``, ``custom-pattern``, or ``echoed-secret`` (a value learned elsewhere in
        the cassette).  ``header`` and ``key`` name where the value was found."""
        if header is not None and header.lower() in self._header_names:
            return "secret-header"
        if key is not None and credential_name(key) in self._key_names:
            return "credential-key"
        if self.defaults:
            for name, shape in _NAMED_FORMATS:
                if shape.search(value):
                    return f"token-shape: {name}"
        if any(pattern.search(value) for pattern in self._key_rules):
            return "credential-key"
        if any(_spans(pattern, value) for pattern in self._compiled):
            return "custom-pattern"
        if self.defaults:
            rules = [*self._key_rules, *self._shape_rules, *self._compiled]
            for run in _BASE64_RUN.findall(value):
                decoded = decode_blob(run)
                if decoded is not None and any(_spans(p, decoded) for p in rules):
                    return "base64-blob"
        return "echoed-secret"

    # -- learning ----------------------------------------------------------------------------

    def learn(self, interactions: Iterable[Interaction]) -> set[bytes]:
        """The secret values these interactions carry in secret headers and query parameters."""
        found: set[bytes] = set()
        for interaction in interactions:
            found |= self.learn_request(interaction.request)
            response = interaction.response
            found |= self._learn_headers(response.headers)
            found |= self._learn_shapes(
                [response.body, (response.error or "").encode("utf-8", "surrogateescape")]
                + [value.encode("utf-8", "surrogateescape") for value in _values(response)]
            )
        return found

    def learn_request(self, request: RecordedRequest) -> set[bytes]:
        found = self._learn_headers(request.headers)
        password = _url_password(request.uri)
        if password:
            found.update(_keep(v) for v in (password, unquote(password)))
        for name, value in _query_pairs(request.uri):
            if credential_name(unquote(name)) in self._param_names:
                found.update(_keep(v) for v in (value, unquote(value)))
        texts = [request.uri, *(v for vs in request.headers.values() for v in vs)]
        found |= self._learn_shapes(
            [request.body, *(t.encode("utf-8", "surrogateescape") for t in texts)]
        )
        return {item for item in found if item and item != self.replacement.encode()}

    def _learn_shapes(self, parts: Iterable[bytes]) -> set[bytes]:
        """Credentials found by rule 3, to be hunted (with their base64 forms) everywhere."""
        found: set[bytes] = set()
        for data in parts:
            for pattern in self._shape_rules:
                found.update(match.group() for match in pattern.finditer(data))
            for pattern in self._key_rules:
                for match in pattern.finditer(data):
                    value = match.group("secret")
                    if len(value) >= MIN_BODY_SECRET_LENGTH:
                        found.add(value)
        return found

    def _learn_headers(self, headers: dict[str, list[str]]) -> set[bytes]:
        found: set[bytes] = set()
        for name, values in headers.items():
            if name.lower() not in self._header_names:
                continue
            for value in values:
                found.add(_keep(value))
                token = _AUTH_SCHEME.match(value)
                if token:
                    found.add(_keep(token.group(2)))
                    if token.group(1).lower() == "basic":
                        found |= _basic_credentials(token.group(2))
                if name.lower() == "cookie":
                    for pair in value.split(";"):
                        found.add(_keep(pair.partition("=")[2].strip()))
                elif name.lower() == "set-cookie":
                    # Only the cookie's own value: its attributes (Domain=api.example.com,
                    # Path=/, SameSite=None) are not secrets, and hunting them would rewrite
                    # every URL of the cassette.
                    found.add(_keep(value.partition(";")[0].partition("=")[2].strip()))
        return {item for item in found if item and item != self.replacement.encode()}

    # -- scrubbing ---------------------------------------------------------------------------

    def scrub(
        self, interactions: Sequence[Interaction], *, secrets: Iterable[bytes] = ()
    ) -> list[Interaction]:
        """Scrubbed copies of ``interactions``; the inputs are left untouched."""
        literals = self._expand({*self.learn(interactions), *secrets})
        return [
            replace(
                interaction,
                request=self._request(interaction.request, literals),
                response=self._response(interaction.response, literals),
            )
            for interaction in interactions
        ]

    def scrub_cassette(self, cassette: Cassette) -> Cassette:
        return replace(cassette, interactions=self.scrub(cassette.interactions))

    def scrub_request(
        self, request: RecordedRequest, *, secrets: Iterable[bytes] = ()
    ) -> RecordedRequest:
        """A live request scrubbed the way its recording would be, so the two can be compared."""
        literals = self._expand({*self.learn_request(request), *secrets})
        return self._request(request, literals)

    def _expand(self, secrets: Iterable[bytes]) -> list[re.Pattern[bytes]]:
        literals: set[bytes] = set()
        for secret in secrets:
            if len(secret) >= MIN_LEARNED_LENGTH:
                literals.add(secret)
                literals |= base64_forms(secret)
        learned = _literal_pattern(literals)
        rules = [*self._key_rules, *self._shape_rules, *self._compiled]
        return [learned, *rules] if learned is not None else rules

    def _request(
        self, request: RecordedRequest, patterns: Sequence[re.Pattern[bytes]]
    ) -> RecordedRequest:
        return replace(
            request,
            uri=self._text(self._uri(request.uri), patterns),
            headers=self._headers(request.headers, patterns),
            body=self._request_body(request, patterns),
        )

    def _request_body(
        self, request: RecordedRequest, patterns: Sequence[re.Pattern[bytes]]
    ) -> bytes:
        """The body scrubbed as the cassette stores it: a JSON body pretty-printed, then turned
        back into the bytes the client sent; patterns written against the wire still apply."""
        from streamreel.cassettes.storage import stored_json_body, wire_json_body

        stored = stored_json_body(request)
        if stored is None:
            return self._bytes(request.body, patterns)
        text, style = stored
        pretty = text.encode("utf-8")
        scrubbed = self._bytes(pretty, patterns)
        if scrubbed == pretty:
            return self._bytes(request.body, patterns)
        # A pattern that broke the JSON leaves the scrubbed pretty text as the body: a secret
        # kept byte-exact would be worse than a body that no longer matches the wire.
        rebuilt = wire_json_body(scrubbed, style)
        return self._bytes(rebuilt if rebuilt is not None else scrubbed, patterns)

    def _response(
        self, response: RecordedResponse, patterns: Sequence[re.Pattern[bytes]]
    ) -> RecordedResponse:
        chunks = response.chunks
        body = response.body
        if chunks is not None:
            parts = [chunk.data for chunk in chunks]
            for pattern in patterns:
                parts = replace_in_chunks(parts, pattern, self.replacement.encode())
            parts = self._blobs(parts, patterns)
            chunks = [
                BodyChunk(chunk.offset_ms, data) for chunk, data in zip(chunks, parts, strict=True)
            ]
            if b"".join(c.data for c in response.chunks or ()) == body:
                body = b"".join(parts)
            else:
                body = self._bytes(body, patterns)
        else:
            body = self._bytes(body, patterns)
        error = response.error
        return replace(
            response,
            headers=self._headers(response.headers, patterns),
            body=body,
            chunks=chunks,
            error=self._text(error, patterns) if error is not None else None,
        )

    def _headers(
        self, headers: dict[str, list[str]], patterns: Sequence[re.Pattern[bytes]]
    ) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, values in headers.items():
            if name.lower() in self._header_names:
                out[name] = [self.replacement for _ in values]
            else:
                out[name] = [self._text(value, patterns) for value in values]
        return out

    def _uri(self, uri: str) -> str:
        parts = urlsplit(uri)
        if not parts.query or not self._param_names:
            return uri
        pairs = []
        for piece in parts.query.split("&"):
            name, sep, _ = piece.partition("=")
            if sep and credential_name(unquote(name)) in self._param_names:
                pairs.append(f"{name}={self.replacement}")
            else:
                pairs.append(piece)
        query = "&".join(pairs)
        if query == parts.query:
            return uri
        # Only the query changes: the rest of the URI stays byte for byte as recorded.
        return uri.replace(f"?{parts.query}", f"?{query}", 1)

    def _bytes(self, data: bytes, patterns: Sequence[re.Pattern[bytes]]) -> bytes:
        for pattern in patterns:
            data = replace_in_chunks([data], pattern, self.replacement.encode())[0]
        return self._blobs([data], patterns)[0]

    def _blobs(self, parts: list[bytes], patterns: Sequence[re.Pattern[bytes]]) -> list[bytes]:
        """Rule 5: a base64 run whose decoded bytes hold a credential is replaced whole."""
        if not self.defaults or not any(_BASE64_RUN.search(part) for part in parts):
            return parts

        def holds_secret(run: bytes) -> bool:
            decoded = decode_blob(run)
            return decoded is not None and any(_spans(p, decoded) for p in patterns)

        return replace_in_chunks(parts, _BASE64_RUN, self.replacement.encode(), keep=holds_secret)

    def _text(self, text: str, patterns: Sequence[re.Pattern[bytes]]) -> str:
        data = text.encode("utf-8", "surrogateescape")
        scrubbed = self._bytes(data, patterns)
        return text if scrubbed == data else scrubbed.decode("utf-8", "surrogateescape")


def _basic_credentials(token: str) -> set[bytes]:
    """The secrets inside a ``Basic`` credential: the decoded ``user:password`` and the password,
    which servers echo decoded ("invalid password ..."), where the base64 form is not seen."""
    try:
        decoded = base64.b64decode(token, validate=True)
    except ValueError:
        return set()
    _, sep, password = decoded.partition(b":")
    if not sep:
        return set()
    return {item for item in (decoded, password) if item}


def _url_password(uri: str) -> str | None:
    try:
        return urlsplit(uri).password
    except ValueError:
        return None


def _values(response: RecordedResponse) -> list[str]:
    return [value for values in response.headers.values() for value in values]


def _keep(value: str) -> bytes:
    return value.strip().encode("utf-8", "surrogateescape")


def _query_pairs(uri: str) -> list[tuple[str, str]]:
    query = urlsplit(uri).query
    pairs: list[tuple[str, str]] = []
    for piece in query.split("&") if query else ():
        name, sep, value = piece.partition("=")
        if sep:
            pairs.append((name, value))
    return pairs


def _compile(pattern: str | bytes | re.Pattern[str] | re.Pattern[bytes]) -> re.Pattern[bytes]:
    try:
        if isinstance(pattern, re.Pattern):
            source = pattern.pattern
            flags = pattern.flags & ~re.UNICODE
            if isinstance(source, str):
                return re.compile(source.encode("utf-8"), flags)
            return re.compile(source, flags)
        if isinstance(pattern, str):
            return re.compile(pattern.encode("utf-8"))
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigurationError(
            f"cannot use scrub pattern {pattern!r}: expected a regular expression, got {exc}; "
            "do fix or escape the pattern"
        ) from exc
