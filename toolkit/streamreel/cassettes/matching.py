"""Request matching: which recorded interaction answers a live request.

Theory of operation
-------------------
A :class:`Matcher` compares a live request with a recorded one field by field and reports every
:class:`Difference` it finds; "matches" just means "no differences".  The fields are the parts of
the URL (``scheme``, ``host``, ``port``, ``path``, ``query``), the ``method`` and the ``body``.
The recorder matches on all of them; the emulator leaves out the URL's origin, because there the
host is the emulator's own.  Headers are never compared: they carry credentials, SDK versions and
retry counters, none of which say which answer the caller wants.  For the same reason the query
leaves out credential parameters (Gemini's ``?key=`` among them; see
:data:`~streamreel.cassettes.scrubbing.DEFAULT_SECRET_QUERY_PARAMS`): a client that puts its
key in the URL matches a recording made with the key in a header, or with the parameter
stripped by another recorder.

Bodies are compared as JSON when both sides parse, with a few keys dropped first: values that
change from run to run, or from user to user, without changing what the provider sends back.
The defaults (:data:`DEFAULT_IGNORED_BODY_KEYS`) are deliberately few:

* ``user``, ``safety_identifier``, ``metadata`` - end-user and tracing identifiers;
* ``prompt_cache_key`` - a cache routing hint.

``stream_options`` is *not* ignored: ``include_usage`` adds a final usage chunk, so two requests
that differ in it expect different streams.  Keys are dotted paths (``metadata.user_id``), and
:meth:`Matcher.ignoring` adds more.  Bodies that are not JSON must be byte-identical.

A :class:`ReplayQueue` holds the recorded interactions and hands each one out at most once, in
recorded order, so a conversation that sends the same request twice gets the first answer, then
the second.  When nothing matches, :meth:`ReplayQueue.no_match` builds a :class:`NoMatchError`
that names the nearest recorded requests and what differs, because "no match" alone sends the
reader diffing YAML by hand.

Everything here is pure: no clocks, files or network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from streamreel.cassettes.scrubbing import DEFAULT_SECRET_QUERY_PARAMS, credential_name
from streamreel.core.cassette import Interaction, RecordedRequest
from streamreel.core.errors import ConfigurationError, NoMatchError

__all__ = [
    "DEFAULT_IGNORED_BODY_KEYS",
    "EMULATOR_FIELDS",
    "MATCH_FIELDS",
    "Difference",
    "Matcher",
    "ReplayQueue",
]

MATCH_FIELDS: Final = ("method", "scheme", "host", "port", "path", "query", "body")
"""Every field a matcher can compare, and the recorder's default."""

EMULATOR_FIELDS: Final = ("method", "path", "query", "body")
"""What the emulator compares: the origin is the emulator's own, so it cannot tell anything."""

DEFAULT_IGNORED_BODY_KEYS: Final = ("user", "safety_identifier", "metadata", "prompt_cache_key")

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_MAX_PATHS: Final = 6
_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class Difference:
    """One way a live request differs from a recorded one."""

    field: str
    detail: str

    def __str__(self) -> str:
        return f"{self.field} ({self.detail})" if self.detail else self.field


@dataclass(frozen=True, slots=True)
class _Parts:
    method: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: tuple[tuple[str, str], ...]


def _parts(request: RecordedRequest, ignored_params: frozenset[str]) -> _Parts:
    url = urlsplit(request.uri)
    scheme = url.scheme.lower()
    try:
        port = url.port
    except ValueError:
        port = None
    return _Parts(
        method=request.method.upper(),
        scheme=scheme,
        host=(url.hostname or "").lower(),
        port=port if port is not None else _DEFAULT_PORTS.get(scheme),
        # Clients escape paths differently (botocore sends Bedrock's "v1:0" as "v1%3A0", a
        # server sees it decoded): the same resource either way.
        path=unquote(url.path) or "/",
        query=tuple(
            sorted(
                (name, value)
                for name, value in parse_qsl(url.query, keep_blank_values=True)
                if credential_name(name) not in ignored_params
            )
        ),
    )


def _drop_key(document: Any, dotted: str) -> None:
    head, _, rest = dotted.partition(".")
    if not isinstance(document, dict) or head not in document:
        return
    if rest:
        _drop_key(document[head], rest)
    else:
        del document[head]


def _copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


def _json_paths(left: Any, right: Any, prefix: str, out: list[str]) -> None:
    """Append the paths where two JSON values differ, stopping early once enough are found."""
    if len(out) >= _MAX_PATHS:
        return
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right)):
            path = f"{prefix}.{key}" if prefix else str(key)
            _json_paths(left.get(key, _MISSING), right.get(key, _MISSING), path, out)
        return
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            _json_paths(a, b, f"{prefix}[{index}]", out)
        return
    # bool is an int in Python; JSON keeps them apart, and so must a matcher.
    if left != right or isinstance(left, bool) != isinstance(right, bool):
        out.append(prefix or "<document>")


@dataclass(frozen=True, slots=True)
class Matcher:
    """Compares requests on the fields in ``on``, ignoring the body keys in ``ignore_body_keys``."""

    on: tuple[str, ...] = MATCH_FIELDS
    ignore_body_keys: tuple[str, ...] = DEFAULT_IGNORED_BODY_KEYS
    ignore_query_params: tuple[str, ...] = DEFAULT_SECRET_QUERY_PARAMS
    _ignored: frozenset[str] = field(init=False, repr=False, compare=False)
    _ignored_params: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.on) - set(MATCH_FIELDS))
        if unknown:
            raise ConfigurationError(
                f"cannot match requests: expected fields among {', '.join(MATCH_FIELDS)}, "
                f"got {', '.join(unknown)}; do remove the unknown names from `on`"
            )
        object.__setattr__(self, "_ignored", frozenset(self.ignore_body_keys))
        names = frozenset(credential_name(name) for name in self.ignore_query_params)
        object.__setattr__(self, "_ignored_params", names)

    def ignoring(self, *keys: str) -> Matcher:
        """A matcher that also ignores these body keys (dotted paths for nested ones)."""
        extra = tuple(key for key in keys if key not in self._ignored)
        return Matcher(
            on=self.on,
            ignore_body_keys=self.ignore_body_keys + extra,
            ignore_query_params=self.ignore_query_params,
        )

    def matches(self, live: RecordedRequest, recorded: RecordedRequest) -> bool:
        return not self.differences(live, recorded)

    def differences(self, live: RecordedRequest, recorded: RecordedRequest) -> list[Difference]:
        """Every compared field where ``live`` and ``recorded`` disagree, in field order."""
        a, b = _parts(live, self._ignored_params), _parts(recorded, self._ignored_params)
        found: list[Difference] = []
        for name in MATCH_FIELDS:
            if name not in self.on:
                continue
            if name == "body":
                paths = self.body_differences(live, recorded)
                if paths:
                    found.append(Difference("body", ", ".join(paths)))
                continue
            left, right = getattr(a, name), getattr(b, name)
            if left != right:
                found.append(Difference(name, f"{_show(left)} != {_show(right)}"))
        return found

    def body_differences(self, live: RecordedRequest, recorded: RecordedRequest) -> list[str]:
        """Where the bodies differ: JSON paths, or ``<bytes>`` for bodies that are not JSON."""
        left, right = self.normalised_body(live), self.normalised_body(recorded)
        if isinstance(left, bytes) or isinstance(right, bytes):
            return [] if left == right else ["<bytes>"]
        paths: list[str] = []
        _json_paths(left, right, "", paths)
        return paths

    def normalised_body(self, request: RecordedRequest) -> Any:
        """The body as JSON less the ignored keys, or the raw bytes when it is not JSON."""
        document = request.json()
        if document is None:
            return request.body
        document = _copy_json(document)
        for key in self._ignored:
            _drop_key(document, key)
        return document


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return "&".join(f"{k}={v}" for k, v in value) or "<empty>"
    return str(value) if value not in ("", None) else "<empty>"


def _describe(request: RecordedRequest) -> str:
    return f"{request.method.upper()} {request.uri}"


@dataclass(slots=True)
class ReplayQueue:
    """Recorded interactions, each handed out at most once, in recorded order."""

    interactions: Sequence[Interaction]
    matcher: Matcher = field(default_factory=Matcher)
    played: list[bool] = field(init=False)

    def __post_init__(self) -> None:
        self.played = [False] * len(self.interactions)

    def take(self, request: RecordedRequest) -> tuple[int, Interaction] | None:
        """The first unplayed interaction matching ``request``, marked played; None if none."""
        for index, interaction in enumerate(self.interactions):
            if self.played[index]:
                continue
            if self.matcher.matches(request, interaction.request):
                self.played[index] = True
                return index, interaction
        return None

    def take_again(self, request: RecordedRequest) -> tuple[int, Interaction] | None:
        """The first interaction matching ``request`` even if played already; None if none.

        For sessions that allow an interaction to answer more than once, after :meth:`take`
        found no unplayed one.
        """
        for index, interaction in enumerate(self.interactions):
            if self.matcher.matches(request, interaction.request):
                self.played[index] = True
                return index, interaction
        return None

    def has_match(self, request: RecordedRequest) -> bool:
        """Whether any interaction, played or not, matches ``request``."""
        return any(self.matcher.matches(request, i.request) for i in self.interactions)

    def rewind(self) -> None:
        self.played = [False] * len(self.interactions)

    def nearest(
        self, request: RecordedRequest, *, limit: int = 3
    ) -> list[tuple[int, list[Difference]]]:
        """The closest recorded requests, fewest and least serious differences first."""
        scored: list[tuple[float, int, list[Difference]]] = []
        for index, interaction in enumerate(self.interactions):
            diffs = self.matcher.differences(request, interaction.request)
            if not diffs and self.played[index]:
                diffs = [Difference("already played", "each recording answers once")]
            scored.append((_severity(diffs), index, diffs))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [(index, diffs) for _, index, diffs in scored[:limit]]

    def no_match(self, request: RecordedRequest, *, source: str, hint: str) -> NoMatchError:
        """The error for a request nothing answers, naming the nearest candidates."""
        if not self.interactions:
            got = "an empty cassette"
        else:
            lines = [
                f"#{index} {_describe(self.interactions[index].request)} differs in "
                + "; ".join(str(d) for d in diffs)
                for index, diffs in self.nearest(request)
            ]
            got = "no match; nearest: " + " | ".join(lines)
        return NoMatchError(
            f"cannot answer {_describe(request)}: expected a matching request recorded in "
            f"{source}, got {got}; do {hint}"
        )


_WEIGHTS: Final = {
    "method": 8.0,
    "path": 8.0,
    "host": 4.0,
    "scheme": 2.0,
    "port": 2.0,
    "query": 2.0,
    "body": 1.0,
    "already played": 0.5,
}


def _severity(diffs: Iterable[Difference]) -> float:
    total = 0.0
    for diff in diffs:
        total += _WEIGHTS.get(diff.field, 1.0)
        if diff.field == "body":
            # A body differing in one key is nearer than one differing in five.
            total += 0.01 * (diff.detail.count(",") + 1)
    return total
