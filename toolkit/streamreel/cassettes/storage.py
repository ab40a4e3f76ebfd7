"""Reading and writing cassette files.

Theory of operation
-------------------

streamreel writes one document and reads many. The document it writes is a vcrpy ``version: 1``
cassette that vcrpy loads and replays unchanged, as YAML, or as JSON for a ``.json`` path
(:func:`cassette_format`; a ``.har`` path is refused rather than given YAML); everything
streamreel adds sits in the two places vcrpy keeps when it loads and re-saves a cassette:
extra keys inside a recorded *response*, and the cassette-level ``metadata`` mapping. vcrpy
builds its request objects with ``Request(**request)``, so a request cannot carry one extra key;
that is why per-interaction data (including the note about the request body) lives under
``response.streamreel``.

A cassette looks like this::

    version: 1
    metadata:
      streamreel:
        format: 1
        tool_version: 0.1.0
        recorded_at: "2025-06-01T12:00:00+00:00"
        recorded_against: https://api.openai.com
    interactions:
    - request:
        method: POST
        uri: https://api.openai.com/v1/chat/completions
        headers:
          content-type:
          - application/json
        body: |-
          {
            "model": "gpt-4o",
            "stream": true
          }
      response:
        status:
          code: 200
          message: OK
        headers:
          content-type:
          - text/event-stream; charset=utf-8
        body:
          string: |+
            data: {"choices":[{"delta":{"content":"Hi"}}]}

            data: [DONE]

        streamreel:
          recorded_at: "2025-06-01T12:00:00+00:00"
          request_json: compact
          chunks:
          - {offset_ms: 412.5, size: 48}
          - {offset_ms: 430.25, size: 14}

The choices, and why:

* **Text bodies are YAML literal blocks** (``|-``, ``|``, ``|+`` by how many newlines end the
  text), so an SSE stream reads as it went over the wire and a re-recording diffs line by line.
  A text a literal block cannot hold exactly (``\\r``, control characters, a line with trailing
  blanks, a leading blank or newline) is written double-quoted, broken after every ``\\n`` escape
  so it still diffs by line. Bytes that are not UTF-8 are written ``!!binary``.
* **The body is stored once.** vcrpy replays ``body.string`` and fails without it, so the body
  lives there, and ``streamreel.chunks`` only records where each read ended: its arrival offset
  in milliseconds and its size in *bytes*. The sizes must add up to the body's length.
  No ``chunks`` key means the boundaries are unknown; ``error`` says how a cut stream ended
  (vcrpy, which knows nothing of it, replays the partial body as if it were complete).
* **JSON request bodies are pretty-printed** (two-space indent, keys in the order sent) so a
  prompt change is a one-line diff. ``request_json`` names how the client serialised it
  (``compact``/``compact-ascii``: ``","`` and ``":"`` separators; ``spaced``/``spaced-ascii``:
  ``", "`` and ``": "``; ``-ascii`` when non-ASCII was ``\\u``-escaped) and the reader rebuilds
  the exact wire bytes from it. It is written only when that rebuild was checked to be exact,
  and only for an ``application/json`` request, because vcrpy's body matcher compares such
  bodies as parsed JSON and so still matches the pretty form. Anything else stays verbatim.
* **Key order is fixed** (method, uri, headers, body; status, headers, body, streamreel) and
  headers keep the order they were recorded in, so the same conversation re-recorded changes
  only the lines that really differ.
* **Versions.** ``version: 1`` is vcrpy's. ``metadata.streamreel.format`` is ours: an older one is
  upgraded by the chain of functions in :data:`MIGRATIONS`, a newer one raises
  :class:`~streamreel.core.errors.CassetteVersionError`.
* **Writes are atomic**: a temporary file in the same folder, ``fsync``, then ``os.replace``, so a
  failure part-way leaves the previous cassette untouched.

Reading accepts more than it writes: any vcrpy YAML variant (folded single-quoted, escaped
double-quoted and literal bodies, ``!!binary``, gzip/deflate/brotli bodies, a missing
``version``, either key order, any header case), pydantic-ai's ``parsed_body`` variant and its
xAI gRPC cassettes, HAR 1.2 (:mod:`streamreel.cassettes.har`), nock JSON
(:mod:`streamreel.cassettes.nock`), go-vcr (:mod:`streamreel.cassettes.govcr`) and Ruby VCR
(:mod:`streamreel.cassettes.rubyvcr`), and aiohttp's ``istr`` header names. Whatever
the source, bodies come out identity-encoded, as :mod:`streamreel.core.cassette` requires: a
compressed
body is decompressed and its ``Content-Encoding`` dropped, and a body that was already decoded
but kept its ``Content-Encoding`` header (recognised by the missing magic bytes) keeps its
bytes and loses the lying header.

A gRPC interaction (pydantic-ai's xAI cassettes) is not HTTP. It loads as an interaction whose
request method is :data:`GRPC_METHOD` and whose URI starts ``grpc:``; the request body is the
raw protobuf message and the response body holds one JSON line per streamed message, so the
providers layer can recognise it and refuse it with a clear error.

Every failure is a :class:`~streamreel.core.errors.CassetteError` carrying ``path`` and, when the
fault
is inside one, the 0-based ``interaction`` index (``cassette.interactions[i]``); for YAML syntax
errors the index is the interaction the error line falls in, and ``line`` is set.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import math
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from streamreel._version import __version__
from streamreel.cassettes import usage
from streamreel.cassettes.fields import each_located
from streamreel.cassettes.govcr import is_go_vcr, read_go_vcr
from streamreel.cassettes.har import read_har
from streamreel.cassettes.limits import check_document, depth_error
from streamreel.cassettes.nock import read_nock
from streamreel.cassettes.rubyvcr import read_ruby_vcr
from streamreel.cassettes.textfile import read_text
from streamreel.core.cassette import (
    FORMAT_VERSION,
    GRPC_METHOD,
    BodyChunk,
    Cassette,
    CassetteInfo,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from streamreel.core.encoding import codings as content_codings
from streamreel.core.encoding import decode_body
from streamreel.core.errors import (
    CassetteError,
    CassetteVersionError,
    StreamDecodeError,
    describe_value,
)

if TYPE_CHECKING:
    from streamreel.cassettes.scrubbing import Scrubber

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

__all__ = [
    "GRPC_METHOD",
    "MIGRATIONS",
    "cassette_format",
    "check_writable",
    "dump_cassette",
    "import_cassette",
    "load_cassette",
    "loads_cassette",
    "migrate",
    "normalize_encodings",
    "save_cassette",
    "stored_json_body",
    "wire_json_body",
]

"""The request method of an interaction that was a gRPC call, not an HTTP request."""

Migration = Callable[[dict[str, Any]], dict[str, Any]]

MIGRATIONS: dict[int, Migration] = {}
"""``MIGRATIONS[n]`` turns a parsed format-``n`` document into a format-``n + 1`` one.

Format 1 is the first, so the table is empty. When format 2 arrives, ``MIGRATIONS[1]`` rewrites
the raw YAML document (before any interpretation) and the reader runs it on every older file.
"""

_REFUSED_SUFFIXES: dict[str, str] = {
    ".har": "streamreel reads HAR logs but does not write them",
    ".jsonl": "a chunk file, not a cassette",
}

_REMEDY_FIX = "fix the file by hand or record the cassette again"
_REMEDY_BUG = "please report this as a streamreel bug and attach the cassette"
_UPGRADE = "upgrade streamreel (pip install -U streamreel) to read it"


def _error(
    action: str,
    expected: str,
    got: str,
    remedy: str = _REMEDY_FIX,
    *,
    interaction: int | None = None,
    line: int | None = None,
) -> CassetteError:
    return CassetteError(
        f"cannot {action}: expected {expected}, got {got}; {remedy}",
        interaction=interaction,
        line=line,
    )


# --------------------------------------------------------------------------------------------
# YAML loading
# --------------------------------------------------------------------------------------------


class _CassetteLoader(_SafeLoader):
    """The safe loader plus the harmless Python tags old vcrpy cassettes contain.

    Nothing here can build an arbitrary object: each tag maps to a fixed plain value.
    """


def _python_str(loader: yaml.BaseLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


def _python_tuple(loader: yaml.BaseLoader, node: yaml.Node) -> list[Any]:
    return list(loader.construct_sequence(node))  # type: ignore[arg-type]


def _python_bytesio(loader: yaml.BaseLoader, node: yaml.Node) -> bytes:
    # vcrpy once pickled file-like request bodies as BytesIO; only the buffer matters.
    state = loader.construct_mapping(node, deep=True).get("state")  # type: ignore[arg-type]
    data = state[0] if isinstance(state, list | tuple) and state else b""
    return data.encode("utf-8") if isinstance(data, str) else bytes(data or b"")


def _case_insensitive_str(loader: yaml.BaseLoader, node: yaml.Node) -> str:
    # aiohttp's header names are multidict.istr, a str subclass that vcrpy pickles as
    # ``!!python/object/apply:...istr [name]``; only the name itself is kept.
    if isinstance(node, yaml.SequenceNode) and len(node.value) == 1:
        value = node.value[0]
    elif isinstance(node, yaml.MappingNode):
        args = loader.construct_mapping(node, deep=True).get("args")
        value = args[0] if isinstance(args, list) and len(args) == 1 else None
        if isinstance(value, str):
            return value
    else:
        value = node
    if isinstance(value, yaml.ScalarNode):
        return str(loader.construct_scalar(value))
    raise yaml.constructor.ConstructorError(
        None, None, "an istr header name that is not one string", node.start_mark
    )


def _ruby_binary(loader: yaml.BaseLoader, node: yaml.Node) -> bytes:
    # Ruby's Psych writes bytes that are not UTF-8 as ``!binary`` (a local tag, not ``!!binary``).
    return loader.construct_yaml_binary(node)  # type: ignore[attr-defined,no-any-return]


for _tag, _constructor in (
    ("tag:yaml.org,2002:python/object/apply:multidict._multidict.istr", _case_insensitive_str),
    ("tag:yaml.org,2002:python/object/apply:multidict._multidict_py.istr", _case_insensitive_str),
    ("tag:yaml.org,2002:python/object/apply:multidict.istr", _case_insensitive_str),
    ("!binary", _ruby_binary),
    ("tag:yaml.org,2002:python/str", _python_str),
    ("tag:yaml.org,2002:python/unicode", _python_str),
    ("tag:yaml.org,2002:python/tuple", _python_tuple),
    ("tag:yaml.org,2002:python/object/new:_io.BytesIO", _python_bytesio),
):
    _CassetteLoader.add_constructor(_tag, _constructor)


def _interaction_at_line(text: str, line: int) -> int | None:
    """Best guess at which interaction a YAML error line (0-based) falls in.

    Every known writer puts ``interactions:`` at column 0 and starts each item with ``- `` at
    column 0, so counting those lines up to the error is enough.
    """
    seen_list = False
    index = -1
    for number, row in enumerate(text.split("\n")):
        if number > line:
            break
        if row.startswith("interactions:"):
            seen_list = True
        elif seen_list and row.startswith("- "):
            index += 1
        elif row[:1].isalpha():
            seen_list = False
    return index if index >= 0 else None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a document is built.

    A large cassette becomes hundreds of thousands of live containers, and every collection
    triggered on the way rescans all of them: measured, that tripled the load time of a 5 MB
    cassette and made it grow faster than the file. Nothing the loader builds is garbage yet.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse_yaml(text: str) -> Any:
    try:
        with _collector_paused():
            return yaml.load(text, Loader=_CassetteLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line if mark is not None else None
        interaction = _interaction_at_line(text, line) if line is not None else None
        action, expected, remedy = _yaml_fault(exc)
        problem = exc.problem or "malformed YAML"
        if isinstance(exc, yaml.constructor.ConstructorError):
            problem = problem.replace("could not determine a constructor for ", "")
        elif exc.context:
            problem = f"{exc.context}, {problem}"
        raise _error(
            action,
            expected,
            problem,
            remedy,
            interaction=interaction,
            line=None if line is None else line + 1,
        ) from exc
    except yaml.YAMLError as exc:
        raise _error("parse cassette YAML", "well-formed YAML", str(exc)) from exc
    except RecursionError:
        raise depth_error() from None


def _yaml_fault(exc: yaml.MarkedYAMLError) -> tuple[str, str, str]:
    """What failed, what was expected and what to do, by the kind of YAML error."""
    problem = exc.problem or ""
    if "base64" in problem:
        return (
            "decode a !!binary value",
            "base64 text",
            "the binary body is damaged; restore the file or record the cassette again",
        )
    if isinstance(exc, yaml.constructor.ConstructorError):
        return (
            "load a tagged YAML value",
            "plain YAML values (strings, numbers, mappings, lists, !!binary)",
            "streamreel never builds Python objects from a cassette; remove the tag",
        )
    return (
        "parse cassette YAML",
        "well-formed YAML",
        "fix the syntax near that line, or restore the file if it was cut short",
    )


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise depth_error() from None
    except json.JSONDecodeError as exc:
        raise _error(
            "parse cassette JSON",
            "a complete JSON document",
            f"{exc.msg} (column {exc.colno})",
            "the file may be truncated; restore it or record it again",
            line=exc.lineno,
        ) from exc


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def load_cassette(path: str | os.PathLike[str]) -> Cassette:
    """Read a cassette file of any supported kind (the container is detected from the content)."""
    file = Path(path)
    usage.note(file)
    text = read_text(file)
    return loads_cassette(text, path=file)


def loads_cassette(text: str, *, path: str | os.PathLike[str] | None = None) -> Cassette:
    """Read a cassette from its text; ``path`` only names it in errors and in the result."""
    where = Path(path) if path is not None else None
    try:
        cassette = _read_document(text, where)
    except CassetteError as exc:
        exc.located(path=where if where is not None else "<string>")
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        # Every shape check raises CassetteError itself; reaching here is a gap in those checks,
        # and it must still surface as a cassette error rather than a bare traceback.
        raise CassetteError(
            f"cannot read cassette: expected a known cassette layout, got "
            f"{type(exc).__name__}: {exc}; {_REMEDY_BUG}",
            path=where if where is not None else "<string>",
        ) from exc
    cassette.path = where
    return cassette


def dump_cassette(cassette: Cassette) -> str:
    """The cassette as streamreel YAML text, exactly as given: a serializer, not a writer, so it
    does not scrub; write files with :func:`save_cassette`, which does."""
    return "".join(_emit_cassette(cassette))


def save_cassette(
    cassette: Cassette, path: str | os.PathLike[str], *, scrub: Scrubber | None = None
) -> None:
    """Write the cassette atomically, in the format its suffix names (see
    :func:`cassette_format`); on any failure the previous file is left as it was.

    Every cassette streamreel writes goes through here, and is scrubbed here first: with
    ``scrub``, or the default :class:`~streamreel.cassettes.scrubbing.Scrubber` when it is None,
    so no caller (a recording, an import, a fix) can write a secret by forgetting to scrub.
    ``cassette`` itself is left unscrubbed.

    Missing parent folders are created, and an existing file's permissions are kept.
    """
    target = Path(path)
    usage.note(target)
    fmt = cassette_format(target)
    try:
        written = _scrubbed(cassette, scrub)
    except CassetteError as exc:
        exc.located(path=target)
        raise
    if fmt == "json":
        _atomic_write(target, _emit_json(written))
    else:
        _atomic_write(target, _emit_cassette(written))
    cassette.path = target


def _scrubbed(cassette: Cassette, scrub: Scrubber | None) -> Cassette:
    from streamreel.cassettes.scrubbing import Scrubber

    try:
        return (scrub if scrub is not None else Scrubber()).scrub_cassette(cassette)
    except (TypeError, AttributeError, ValueError):
        # A malformed cassette (a body that is not bytes...): the emitter's own checks name
        # the interaction and the field at fault, before anything is written.
        for _ in _emit_cassette(cassette):
            pass
        raise


def cassette_format(path: str | os.PathLike[str]) -> str:
    """The format a cassette written to ``path`` takes: ``"json"`` for ``.json``, else ``"yaml"``.

    A ``.json`` file holds the same vcrpy document as the YAML form, as JSON (what vcrpy's JSON
    serializer writes and :func:`load_cassette` reads back). A ``.har`` path is refused: HAR
    keeps neither chunk boundaries nor cut streams, so streamreel does not write it, and writing
    YAML under that name would make a file that no HAR reader (and not streamreel) can read,
    over what may be the user's own HAR log.
    """
    suffix = Path(path).suffix.lower()
    if suffix in _REFUSED_SUFFIXES:
        raise CassetteError(
            f"cannot write cassette: expected a .yaml, .yml or .json path, got a {suffix} path "
            f"({_REFUSED_SUFFIXES[suffix]}); do write to a .yaml or .json file instead",
            path=Path(path),
        )
    return "json" if suffix == ".json" else "yaml"


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise unless a cassette can be written at ``path``, without writing it.

    Run before a recording calls a provider, so that an unwritable path is reported before the
    (paid) session rather than after it. The check is real: a probe file is created and removed
    in the nearest existing folder, which is what the atomic write will need.
    """
    target = Path(path)
    cassette_format(target)
    if target.is_dir():
        raise CassetteError(
            "cannot write cassette: expected a file path, got a folder; "
            "do name a file inside it, such as session.yaml",
            path=target,
        )
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    probe = folder / f".{target.name}.{secrets.token_hex(6)}.probe"
    try:
        if not folder.is_dir():
            raise NotADirectoryError(20, "a file is in the way of the folder", str(folder))
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        raise _write_error(target, exc) from exc


def import_cassette(
    src: str | os.PathLike[str] | Cassette,
    dest: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> Cassette:
    """Read a foreign cassette (HAR, nock, vcrpy...) and write it in streamreel's format.

    ``dest`` must not exist unless ``overwrite``, and is never ``src`` itself (under any
    spelling: a relative path, a symlink, a hard link), which the import would destroy. ``src``
    may be a cassette read already (from standard input, say).
    """
    loaded = src if isinstance(src, Cassette) else None
    source = Path(src.path or "<memory>") if isinstance(src, Cassette) else Path(src)
    target = Path(dest)
    if target.exists() or target.is_symlink():
        if _same_file(source, target):
            raise CassetteError(
                f"cannot import {source}: expected an output other than the input, got the same "
                "file; do choose another output path",
                path=target,
            )
        if not overwrite:
            raise CassetteError(
                "cannot import: expected an output path that does not exist yet, got an existing "
                "file; do choose another path, or pass overwrite=True (--force) to replace it",
                path=target,
            )
    cassette_format(target)
    cassette = loaded if loaded is not None else load_cassette(source)
    save_cassette(cassette, target)
    return cassette


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or os.path.samefile(a, b)
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# Detecting the container
# --------------------------------------------------------------------------------------------


def _looks_like_json(text: str, path: Path | None) -> bool:
    if path is not None and path.suffix.lower() in {".json", ".har"}:
        return True
    return text.lstrip()[:1] in ("{", "[")


def _read_document(text: str, path: Path | None) -> Cassette:
    if not text.strip():
        raise _error(
            "read cassette",
            "a YAML or JSON cassette",
            "an empty file" if not text else "an empty file (only blank space)",
            "check that the path names a cassette; streamreel never writes an empty one",
        )
    if _looks_like_json(text, path):
        try:
            document = json.loads(text)
        except RecursionError:
            raise depth_error() from None
        except json.JSONDecodeError:
            named_json = path is not None and path.suffix.lower() in {".json", ".har"}
            # JSON is valid YAML flow syntax only mostly; a .yaml starting with "{" gets a second
            # chance, a .json/.har file is reported with JSON's own message.
            document = _parse_json(text) if named_json else _parse_yaml(text)
    else:
        document = _parse_yaml(text)
    check_document(document, text_length=len(text))
    return _read_parsed(document)


def _read_parsed(document: Any) -> Cassette:
    if isinstance(document, dict) and isinstance(document.get("log"), dict):
        return normalize_encodings(read_har(document))
    if isinstance(document, list) and document and all(isinstance(e, dict) for e in document):
        if all("scope" in entry for entry in document):
            return normalize_encodings(read_nock(document))
        if "request" in document[0]:
            raise _error(
                "read cassette",
                "a vcrpy version 1 cassette (a mapping with 'interactions')",
                "a pre-1.0 vcrpy cassette (a bare list of interactions)",
                "convert it with 'python -m vcr.migration' or record it again",
            )
    if isinstance(document, dict) and "http_interactions" in document:
        return normalize_encodings(read_ruby_vcr(document))
    if isinstance(document, dict) and "interactions" in document:
        if is_go_vcr(document):
            return normalize_encodings(read_go_vcr(document))
        return _read_vcr(document)
    raise _error(
        "read cassette",
        "a vcrpy/streamreel YAML cassette, a HAR log, a nock recording, a go-vcr or a Ruby VCR"
        " cassette",
        describe_value(document),
        "check that this file is a cassette",
    )


# --------------------------------------------------------------------------------------------
# vcrpy YAML (streamreel's own format included)
# --------------------------------------------------------------------------------------------


def _read_vcr(document: dict[str, Any]) -> Cassette:
    version = document.get("version", 1)
    if version != 1:
        raise _error(
            "read vcrpy cassette",
            "version 1 (or no version)",
            describe_value(version),
            "re-save it with a current vcrpy or record it again (go-vcr cassettes, whose"
            " requests have a 'url', and Ruby VCR ones, with 'http_interactions', are read too)",
        )
    info, document = _read_metadata(document)
    items = document["interactions"]
    if items is None:
        items = []
    if not isinstance(items, list):
        raise _error("read interactions", "a list", describe_value(items))
    if info.source != "streamreel" and _any_pydantic_marks(items):
        info.source = "pydantic-ai"
    interactions = each_located(items, _read_interaction)
    return normalize_encodings(Cassette(interactions=interactions, info=info))


def _any_pydantic_marks(items: list[Any]) -> bool:
    for item in items:
        if not isinstance(item, dict):
            continue
        if "request_stream" in item or "response_stream" in item:
            return True
        for side in ("request", "response"):
            part = item.get(side)
            if isinstance(part, dict) and "parsed_body" in part:
                return True
    return False


def _read_metadata(document: dict[str, Any]) -> tuple[CassetteInfo, dict[str, Any]]:
    metadata = document.get("metadata")
    block = metadata.get("streamreel") if isinstance(metadata, dict) else None
    if block is None:
        return CassetteInfo(format_version=FORMAT_VERSION, source="vcrpy"), document
    if not isinstance(block, dict):
        raise _error("read metadata.streamreel", "a mapping", describe_value(block))
    version = block.get("format")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _error(
            "read metadata.streamreel.format", "a positive integer", describe_value(version)
        )
    if version > FORMAT_VERSION:
        raise CassetteVersionError(
            f"cannot read cassette: expected streamreel format {FORMAT_VERSION} or older, got "
            f"format {version} (written by streamreel {block.get('tool_version', '?')}); "
            f"{_UPGRADE}"
        )
    document = migrate(document, version)
    block = document["metadata"]["streamreel"]
    info = CassetteInfo(
        format_version=FORMAT_VERSION,
        tool_version=_optional_str(block, "tool_version", "metadata.streamreel"),
        recorded_at=_read_time(block.get("recorded_at"), "metadata.streamreel.recorded_at"),
        recorded_against=_optional_str(block, "recorded_against", "metadata.streamreel"),
        source="streamreel",
    )
    return info, document


def migrate(
    document: dict[str, Any],
    version: int,
    *,
    migrations: Mapping[int, Migration] | None = None,
    target: int = FORMAT_VERSION,
) -> dict[str, Any]:
    """Upgrade a parsed streamreel document from format ``version`` to ``target`` step by step."""
    table = MIGRATIONS if migrations is None else migrations
    for step in range(version, target):
        upgrade = table.get(step)
        if upgrade is None:
            raise _error(
                f"upgrade cassette from format {step}",
                f"a migration from format {step} to {step + 1}",
                "none registered",
                _REMEDY_BUG,
            )
        document = upgrade(document)
        document.setdefault("metadata", {}).setdefault("streamreel", {})["format"] = step + 1
    return document


def _optional_str(mapping: dict[str, Any], key: str, where: str) -> str | None:
    value = mapping.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _error(f"read {where}.{key}", "a string", describe_value(value))


def _read_time(value: Any, where: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise _error(f"read {where}", "an ISO 8601 timestamp", describe_value(value))


def _read_interaction(item: Any) -> Interaction:
    if not isinstance(item, dict):
        raise _error(
            "read interaction", "a mapping with 'request' and 'response'", describe_value(item)
        )
    if "request_stream" in item or "response_stream" in item:
        return _read_grpc(item)
    for key in ("request", "response"):
        if key not in item:
            raise _error(
                "read interaction",
                "a mapping with 'request' and 'response'",
                f"{describe_value(item)} without '{key}'",
            )
    response, extras = _read_response(item["response"])
    request = _read_request(item["request"], extras.get("request_json"))
    return Interaction(request=request, response=response, recorded_at=extras.get("recorded_at"))


def _read_request(part: Any, json_style: str | None) -> RecordedRequest:
    if not isinstance(part, dict):
        raise _error("read request", "a mapping with method and uri", describe_value(part))
    method = part.get("method")
    uri = part.get("uri")
    if not isinstance(method, str) or not method:
        raise _error("read request.method", "an HTTP method such as POST", describe_value(method))
    if not isinstance(uri, str) or not uri:
        raise _error("read request.uri", "a URL", describe_value(uri))
    headers = _read_headers(part.get("headers"), "request.headers")
    if "parsed_body" in part:
        body = _json_bytes(part["parsed_body"], "request.parsed_body")
    else:
        body = _body_bytes(part.get("body"), "request.body")
    if json_style is not None and body:
        body = _rebuild_json(body, json_style)
    return RecordedRequest(method=method, uri=uri, headers=headers, body=body)


def _read_response(part: Any) -> tuple[RecordedResponse, dict[str, Any]]:
    if not isinstance(part, dict):
        raise _error(
            "read response", "a mapping with status, headers and body", describe_value(part)
        )
    if "status_code" in part:
        # vcrpy's httpx stub wrote this flat layout before it adopted the common one.
        status, reason = part["status_code"], ""
    else:
        raw_status = part.get("status")
        if not isinstance(raw_status, dict):
            raise _error(
                "read response.status",
                "a mapping with code and message",
                describe_value(raw_status),
            )
        status, reason = raw_status.get("code"), raw_status.get("message") or ""
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
        raise _error(
            "read response.status.code", "an HTTP status code such as 200", describe_value(status)
        )
    if not isinstance(reason, str):
        reason = str(reason)
    headers = _read_headers(part.get("headers"), "response.headers")
    if "parsed_body" in part:
        body = _json_bytes(part["parsed_body"], "response.parsed_body")
    elif "content" in part and "body" not in part:
        body = _body_bytes(part["content"], "response.content")
    else:
        body = _body_bytes(part.get("body"), "response.body")
    extras = _read_extras(part.get("streamreel"))
    chunks = _read_chunks(extras.get("chunks"), len(body), body)
    response = RecordedResponse(
        status=status,
        reason=reason,
        headers=headers,
        body=body,
        chunks=chunks,
        error=extras.get("error"),
    )
    return response, extras


def _read_extras(block: Any) -> dict[str, Any]:
    if block is None:
        return {}
    if not isinstance(block, dict):
        raise _error("read response.streamreel", "a mapping", describe_value(block))
    extras: dict[str, Any] = {"chunks": block.get("chunks")}
    extras["recorded_at"] = _read_time(block.get("recorded_at"), "response.streamreel.recorded_at")
    error = block.get("error")
    if error is not None and not isinstance(error, str):
        raise _error("read response.streamreel.error", "a string or null", describe_value(error))
    extras["error"] = error
    style = block.get("request_json")
    if style is not None and style not in _JSON_STYLES:
        raise _error(
            "read response.streamreel.request_json",
            " or ".join(sorted(_JSON_STYLES)),
            describe_value(style),
        )
    extras["request_json"] = style
    return extras


def _read_chunks(raw: Any, total: int, body: bytes) -> list[BodyChunk] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise _error(
            "read response.streamreel.chunks", "a list of {offset_ms, size}", describe_value(raw)
        )
    chunks: list[BodyChunk] = []
    start = 0
    for number, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise _error(
                f"read chunk {number}", "a mapping {offset_ms, size}", describe_value(entry)
            )
        offset = entry.get("offset_ms")
        size = entry.get("size")
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int | float)
            or not (math.isfinite(offset) and offset >= 0)
        ):
            raise _error(f"read chunk {number} offset_ms", "a number >= 0", describe_value(offset))
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise _error(f"read chunk {number} size", "a byte count >= 0", describe_value(size))
        chunks.append(BodyChunk(float(offset), body[start : start + size]))
        start += size
    if start != total:
        raise _error(
            "split the body into its chunks",
            f"chunk sizes adding up to the body's {total} bytes",
            f"{start} bytes",
            "the body was edited without its chunk list; delete the 'chunks' list or fix a size",
        )
    return chunks


def _read_headers(raw: Any, where: str) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _error(f"read {where}", "a mapping of name: [values]", describe_value(raw))
    headers: dict[str, list[str]] = {}
    for name, values in raw.items():
        if not isinstance(name, str):
            raise _error(f"read {where}", "header names that are strings", describe_value(name))
        items = values if isinstance(values, list) else [values]
        texts = [_header_text(value, f"{where}.{name}") for value in items if value is not None]
        if texts:
            headers[name] = texts
    return headers


def _header_text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    raise _error(f"read {where}", "a string header value", describe_value(value))


def _body_bytes(value: Any, where: str) -> bytes:
    """A body in any shape vcrpy writers use: null, a string, bytes or {string: ...}."""
    if value is None:
        return b""
    if isinstance(value, dict):
        if "base64" in value and "string" not in value:
            return _base64_body(value["base64"], f"{where}.base64")
        if "string" not in value:
            raise _error(f"read {where}", "a mapping with 'string'", describe_value(value))
        return _body_bytes(value["string"], f"{where}.string")
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _error(
                f"read {where}",
                "text that can be encoded as UTF-8",
                f"a lone surrogate at character {exc.start}",
            ) from exc
    if isinstance(value, list) and all(isinstance(piece, bytes | str) for piece in value):
        return b"".join(_body_bytes(piece, where) for piece in value)
    raise _error(f"read {where}", "a string, !!binary or {string: ...}", describe_value(value))


def _base64_body(value: Any, where: str) -> bytes:
    """A binary body of a JSON cassette, which JSON can only hold as base64 text."""
    if not isinstance(value, str):
        raise _error(f"read {where}", "base64 text", describe_value(value))
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise _error(
            f"decode {where}",
            "base64 text",
            f"invalid base64 ({exc})",
            "the binary body is damaged; restore the file or record the cassette again",
        ) from exc


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json_bytes(value: Any, where: str) -> bytes:
    # pydantic-ai rebuilds these with json.dumps' defaults, so streamreel does the same and
    # yields the bytes pydantic-ai's own replay would send.
    try:
        return json.dumps(value, default=_json_default).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise _error(f"turn {where} into JSON", "plain JSON values", str(exc)) from exc


def _read_grpc(item: dict[str, Any]) -> Interaction:
    request_part = item.get("request_stream")
    response_part = item.get("response_stream")
    if not isinstance(request_part, dict) or not isinstance(response_part, dict):
        raise _error(
            "read gRPC interaction",
            "request_stream and response_stream mappings",
            f"{describe_value(request_part)} and {describe_value(response_part)}",
        )
    raw = request_part.get("raw")
    if isinstance(raw, bytes):
        request_body = raw
        request_type = "application/grpc+proto"
    else:
        request_body = _json_bytes(request_part.get("json"), "request_stream.json")
        request_type = "application/grpc+json"
    messages = response_part.get("chunks_json")
    if not isinstance(messages, list):
        raise _error(
            "read response_stream.chunks_json", "a list of messages", describe_value(messages)
        )
    lines = [_json_bytes(message, "response_stream.chunks_json") + b"\n" for message in messages]
    request_json = request_part.get("json")
    model = request_json.get("model") if isinstance(request_json, dict) else None
    request = RecordedRequest(
        method=GRPC_METHOD,
        uri=f"grpc:{model}" if isinstance(model, str) else "grpc:",
        headers={"content-type": [request_type]},
        body=request_body,
    )
    response = RecordedResponse(
        status=200,
        reason="OK",
        headers={"content-type": ["application/x-ndjson"]},
        body=b"".join(lines),
        chunks=[BodyChunk(0.0, line) for line in lines],
    )
    return Interaction(request=request, response=response)


# --------------------------------------------------------------------------------------------
# Content-Encoding: every body comes out identity-encoded
# --------------------------------------------------------------------------------------------


def _identity(
    headers: dict[str, list[str]], body: bytes
) -> tuple[dict[str, list[str]], bytes, bool]:
    """Headers and body with every content coding removed; the flag says the body changed.

    The body's own bytes decide (:func:`streamreel.core.encoding.decode_body`, the decoder the
    recorder uses too): a header that is missing, ``identity`` or wrong does not keep a
    compressed body compressed.
    """
    name = next((key for key in headers if key.lower() == "content-encoding"), None)
    declared = [c for value in headers[name] for c in content_codings(value)] if name else []
    try:
        decoded = decode_body(body, declared)
    except StreamDecodeError as exc:
        raise CassetteError(exc.reason) from exc
    changed = decoded is not body
    if name is None and not changed:
        return headers, body, False
    kept = {key: values for key, values in headers.items() if key != name}
    if changed:
        for key in kept:
            if key.lower() == "content-length":
                kept[key] = [str(len(decoded))]
    return kept, decoded, changed


def normalize_encodings(cassette: Cassette) -> Cassette:
    """Make every body identity-encoded (in place), as :mod:`streamreel.core.cassette` promises."""
    for index, interaction in enumerate(cassette.interactions):
        try:
            request = interaction.request
            request.headers, request.body, _ = _identity(request.headers, request.body)
            response = interaction.response
            response.headers, response.body, changed = _identity(response.headers, response.body)
            if changed:
                # Boundaries of the compressed stream say nothing about the decoded one.
                response.chunks = None
        except CassetteError as exc:
            exc.located(interaction=index)
            raise
    return cassette


# --------------------------------------------------------------------------------------------
# JSON request bodies: pretty on disk, exact in memory
# --------------------------------------------------------------------------------------------

_JSON_STYLES: dict[str, tuple[tuple[str, str], bool]] = {
    "compact": ((",", ":"), False),
    "compact-ascii": ((",", ":"), True),
    "spaced": ((", ", ": "), False),
    "spaced-ascii": ((", ", ": "), True),
}


def _serialize_json(value: Any, style: str) -> bytes:
    separators, ascii_only = _JSON_STYLES[style]
    return json.dumps(value, separators=separators, ensure_ascii=ascii_only).encode("utf-8")


def _rebuild_json(body: bytes, style: str) -> bytes:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _error(
            "rebuild the JSON request body",
            "valid JSON (request_json is set)",
            f"invalid JSON ({exc})",
            "fix the edited body or delete 'request_json' to keep the text verbatim",
        ) from exc
    return _serialize_json(value, style)


def stored_json_body(request: RecordedRequest) -> tuple[str, str] | None:
    """The pretty text a JSON request body is stored as, and the name of its wire style; None
    when the body is stored verbatim. The scrubber runs patterns over what is stored."""
    return _pretty_request(request)


def wire_json_body(text: bytes, style: str) -> bytes | None:
    """The wire bytes of a stored (pretty) JSON body in ``style``; None if it is not JSON."""
    try:
        return _rebuild_json(text, style)
    except CassetteError:
        return None


def _pretty_request(request: RecordedRequest) -> tuple[str, str] | None:
    """The pretty text and style name for a JSON body whose exact bytes can be rebuilt."""
    try:
        return _prettify(request)
    except RecursionError:
        return None  # nested deeper than the encoder goes: stored verbatim instead


def _prettify(request: RecordedRequest) -> tuple[str, str] | None:
    content_type = (request.header("content-type") or "").lower()
    if "application/json" not in content_type or request.body[:1] not in (b"{", b"["):
        return None
    try:
        value = json.loads(request.body)
    except ValueError:
        return None
    for style in _JSON_STYLES:
        if _serialize_json(value, style) == request.body:
            break
    else:
        return None
    pretty = json.dumps(value, indent=2, ensure_ascii=False, separators=(",", ": "))
    if not _literal_safe(pretty):
        pretty = json.dumps(value, indent=2, ensure_ascii=True, separators=(",", ": "))
    # NaN or duplicate keys would not survive the trip; verify rather than trust.
    if _serialize_json(json.loads(pretty), style) != request.body:
        return None
    return pretty, style


# --------------------------------------------------------------------------------------------
# Writing YAML
# --------------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z0-9_./(~$][\x20-\x7e]*")
# The first character already excludes every YAML indicator; after it, only a comment start,
# a mapping separator and blanks that YAML would trim can change what a plain scalar means.
_PLAIN_FORBIDDEN = re.compile(r" #|: |:$| $")
# The stubs leave Resolver.resolve untyped; this is its real signature.
_RESOLVE: Callable[[type[yaml.Node], str, tuple[bool, bool]], str] = (
    yaml.resolver.Resolver().resolve
)
_LITERAL_CHARS = re.compile(
    r"[\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*"
)
_TRAILING_BLANK = re.compile(r" \n| $")
_ESCAPED = re.compile(r"[\x00-\x1f\x7f-\x9f\"\\\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r", '"': '\\"', "\\": "\\\\", "\x00": "\\0"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    known = _ESCAPES.get(char)
    if known is not None:
        return known
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _double_quoted(text: str) -> str:
    return '"' + _ESCAPED.sub(_escape_char, text) + '"'


def _scalar(text: str) -> str:
    """A one-line scalar: plain when YAML reads it back as this very string, else quoted."""
    if (
        _PLAIN.fullmatch(text)
        and not _PLAIN_FORBIDDEN.search(text)
        and _RESOLVE(yaml.ScalarNode, text, (True, False)) == "tag:yaml.org,2002:str"
    ):
        return text
    return _double_quoted(text)


def _literal_safe(text: str) -> bool:
    """Whether a literal block scalar reproduces ``text`` exactly.

    Excluded: characters YAML would fold or normalise (``\\r``, NEL, the Unicode line and
    paragraph separators, BOM, controls, tabs), blanks before a line end (editors strip them),
    and a leading blank or newline (the block's indentation would swallow it).
    """
    return (
        "\n" in text
        and text[0] not in " \n"
        and _LITERAL_CHARS.fullmatch(text) is not None
        and _TRAILING_BLANK.search(text) is None
    )


def _text_block(text: str, indent: int) -> str:
    """``text`` as a value at ``indent``: literal block, multi-line double-quoted, or scalar."""
    pad = " " * indent
    if _literal_safe(text):
        if text.endswith("\n\n"):
            header, content = "|+", text[:-1]
        elif text.endswith("\n"):
            header, content = "|", text[:-1]
        else:
            header, content = "|-", text
        lines = [pad + row if row else "" for row in content.split("\n")]
        return header + "\n" + "\n".join(lines) + "\n"
    if "\n" not in text[:-1]:
        return _scalar(text) + "\n"
    # Break after each escaped newline with a backslash continuation, which adds nothing to
    # the value; a leading blank on the next line must be escaped or YAML would trim it.
    pieces = text.split("\n")
    escaped = [_ESCAPED.sub(_escape_char, piece) for piece in pieces]
    rows: list[str] = []
    for number, piece in enumerate(escaped):
        last = number == len(escaped) - 1
        if piece.startswith(" ") and number:
            piece = "\\" + piece
        rows.append(piece if last else piece + "\\n")
    # Do not break after a final newline: the continuation would be an empty, closing line.
    if rows[-1] == "" and len(rows) > 1:
        rows.pop()
    return '"' + ("\\\n" + pad).join(rows) + '"\n'


def _binary_block(data: bytes, indent: int) -> str:
    pad = " " * indent
    encoded = base64.b64encode(data).decode("ascii")
    rows = [encoded[start : start + 76] for start in range(0, len(encoded), 76)]
    return "!!binary |\n" + "".join(pad + row + "\n" for row in rows)


def _body_value(data: bytes, indent: int, where: str) -> str:
    if not isinstance(data, bytes):
        raise _error(f"write {where}", "bytes", describe_value(data), _REMEDY_BUG)
    if not data:
        return "''\n"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _binary_block(data, indent)
    return _text_block(text, indent)


def _number(value: float, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _error(f"write {where}", "a finite number", describe_value(value), _REMEDY_BUG)
    text = repr(float(value))
    # YAML 1.1 reads "1e-05" as a string: its floats need a dot before the exponent.
    if "e" in text and "." not in text:
        text = text.replace("e", ".0e")
    return text


def _time_text(value: datetime | None, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise _error(f"write {where}", "a datetime", describe_value(value), _REMEDY_BUG)
    return value.isoformat()


def _text_field(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _error(f"write {where}", "a string", describe_value(value), _REMEDY_BUG)
    return value


def _headers_lines(headers: dict[str, list[str]], indent: int, where: str) -> Iterator[str]:
    pad = " " * indent
    if not isinstance(headers, dict):
        raise _error(
            f"write {where}", "a mapping of name: [values]", describe_value(headers), _REMEDY_BUG
        )
    if not any(headers.values()):
        yield " {}\n"
        return
    yield "\n"
    for name, values in headers.items():
        if not isinstance(name, str) or not isinstance(values, list):
            raise _error(
                f"write {where}", "str: list[str] items", describe_value(name), _REMEDY_BUG
            )
        if not values:
            # vcrpy cannot load a header without values, and it means nothing on the wire.
            continue
        yield f"{pad}{_scalar(name)}:\n"
        for value in values:
            if not isinstance(value, str):
                raise _error(
                    f"write {where}.{name}", "a string", describe_value(value), _REMEDY_BUG
                )
            yield f"{pad}- {_scalar(value)}\n"


def _tool_version() -> str:
    return __version__


def _emit_cassette(cassette: Cassette) -> Iterator[str]:
    info = cassette.info
    yield "version: 1\n"
    yield "metadata:\n  streamreel:\n"
    yield f"    format: {FORMAT_VERSION}\n"
    yield f"    tool_version: {_scalar(_tool_version())}\n"
    recorded_at = _time_text(info.recorded_at, "info.recorded_at")
    if recorded_at is not None:
        yield f"    recorded_at: {_scalar(recorded_at)}\n"
    if info.recorded_against is not None:
        yield f"    recorded_against: {_scalar(info.recorded_against)}\n"
    if not cassette.interactions:
        yield "interactions: []\n"
        return
    yield "interactions:\n"
    for index, interaction in enumerate(cassette.interactions):
        try:
            yield from _emit_interaction(interaction)
        except CassetteError as exc:
            exc.located(interaction=index)
            raise


def _emit_interaction(interaction: Interaction) -> Iterator[str]:
    request = interaction.request
    response = interaction.response
    yield "- request:\n"
    yield f"    method: {_scalar(_text_field(request.method, 'request.method'))}\n"
    yield f"    uri: {_scalar(_text_field(request.uri, 'request.uri'))}\n"
    yield "    headers:"
    yield from _headers_lines(request.headers, 6, "request.headers")
    pretty = _pretty_request(request) if isinstance(request.body, bytes) else None
    if pretty is not None:
        yield "    body: " + _text_block(pretty[0], 6)
    else:
        yield "    body: " + _body_value(request.body, 6, "request.body")
    yield "  response:\n"
    yield "    status:\n"
    if isinstance(response.status, bool) or not isinstance(response.status, int):
        raise _error(
            "write response.status", "an int", describe_value(response.status), _REMEDY_BUG
        )
    yield f"      code: {response.status}\n"
    yield f"      message: {_scalar(_text_field(response.reason or '', 'response.reason'))}\n"
    yield "    headers:"
    yield from _headers_lines(response.headers, 6, "response.headers")
    yield "    body:\n"
    yield "      string: " + _body_value(response.body, 8, "response.body")
    extras = list(_emit_extras(interaction, None if pretty is None else pretty[1]))
    if extras:
        yield "    streamreel:\n"
        yield from extras


def _emit_extras(interaction: Interaction, json_style: str | None) -> Iterator[str]:
    response = interaction.response
    recorded_at = _time_text(interaction.recorded_at, "interaction.recorded_at")
    if recorded_at is not None:
        yield f"      recorded_at: {_scalar(recorded_at)}\n"
    if json_style is not None:
        yield f"      request_json: {json_style}\n"
    if response.chunks is not None:
        yield from _emit_chunks(response)
    if response.error is not None:
        if not isinstance(response.error, str):
            raise _error(
                "write response.error", "a string", describe_value(response.error), _REMEDY_BUG
            )
        yield "      error: " + _text_block(response.error, 8)


def _emit_chunks(response: RecordedResponse) -> Iterator[str]:
    chunks = response.chunks or []
    if not chunks:
        yield "      chunks: []\n"
    else:
        yield "      chunks:\n"
    total = 0
    for number, chunk in enumerate(chunks):
        if not isinstance(chunk.data, bytes):
            raise _error(f"write chunk {number}", "bytes", describe_value(chunk.data), _REMEDY_BUG)
        offset = _number(chunk.offset_ms, f"chunk {number} offset_ms")
        total += len(chunk.data)
        yield f"      - {{offset_ms: {offset}, size: {len(chunk.data)}}}\n"
    joined = b"".join(chunk.data for chunk in chunks)
    if total != len(response.body) or joined != response.body:
        raise _error(
            "write response chunks",
            "chunks whose bytes joined are the response body",
            f"{total} bytes of chunks for a {len(response.body)}-byte body",
            "set response.body to the chunks joined, or chunks to None",
        )


# --------------------------------------------------------------------------------------------
# Writing JSON
# --------------------------------------------------------------------------------------------


def _json_body(data: bytes, where: str) -> str | dict[str, str]:
    """A body as JSON: its text, or ``{"base64": ...}`` for bytes that are not UTF-8 (vcrpy's
    JSON serializer refuses those outright; streamreel keeps them and reads them back)."""
    if not isinstance(data, bytes):
        raise _error(f"write {where}", "bytes", describe_value(data), _REMEDY_BUG)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def _json_headers(headers: dict[str, list[str]], where: str) -> dict[str, list[str]]:
    if not isinstance(headers, dict):
        raise _error(
            f"write {where}", "a mapping of name: [values]", describe_value(headers), _REMEDY_BUG
        )
    out: dict[str, list[str]] = {}
    for name, values in headers.items():
        if not isinstance(name, str) or not isinstance(values, list):
            raise _error(
                f"write {where}", "str: list[str] items", describe_value(name), _REMEDY_BUG
            )
        if values:
            out[name] = [_text_field(value, f"{where}.{name}") for value in values]
    return out


def _json_interaction(interaction: Interaction) -> dict[str, Any]:
    request = interaction.request
    response = interaction.response
    if isinstance(response.status, bool) or not isinstance(response.status, int):
        raise _error(
            "write response.status", "an int", describe_value(response.status), _REMEDY_BUG
        )
    extras: dict[str, Any] = {}
    recorded_at = _time_text(interaction.recorded_at, "interaction.recorded_at")
    if recorded_at is not None:
        extras["recorded_at"] = recorded_at
    if response.chunks is not None:
        # The YAML writer's checks (sizes adding up to the body, finite offsets) apply as well.
        "".join(_emit_chunks(response))
        extras["chunks"] = [
            {"offset_ms": chunk.offset_ms, "size": len(chunk.data)} for chunk in response.chunks
        ]
    if response.error is not None:
        extras["error"] = _text_field(response.error, "response.error")
    document: dict[str, Any] = {
        "request": {
            "method": _text_field(request.method, "request.method"),
            "uri": _text_field(request.uri, "request.uri"),
            "headers": _json_headers(request.headers, "request.headers"),
            "body": _json_body(request.body, "request.body"),
        },
        "response": {
            "status": {
                "code": response.status,
                "message": _text_field(response.reason or "", "response.reason"),
            },
            "headers": _json_headers(response.headers, "response.headers"),
            "body": {"string": _json_body(response.body, "response.body")},
        },
    }
    if extras:
        document["response"]["streamreel"] = extras
    return document


def _emit_json(cassette: Cassette) -> Iterator[str]:
    """The cassette as the vcrpy document in JSON: the same keys as the YAML form."""
    info = cassette.info
    block: dict[str, Any] = {"format": FORMAT_VERSION, "tool_version": _tool_version()}
    recorded_at = _time_text(info.recorded_at, "info.recorded_at")
    if recorded_at is not None:
        block["recorded_at"] = recorded_at
    if info.recorded_against is not None:
        block["recorded_against"] = info.recorded_against
    interactions: list[dict[str, Any]] = []
    for index, interaction in enumerate(cassette.interactions):
        try:
            interactions.append(_json_interaction(interaction))
        except CassetteError as exc:
            exc.located(interaction=index)
            raise
    document = {"version": 1, "metadata": {"streamreel": block}, "interactions": interactions}
    yield json.dumps(document, indent=2, ensure_ascii=True, allow_nan=False) + "\n"


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------


def _atomic_write(target: Path, pieces: Iterable[str]) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode: int | None = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = None
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        # O_EXCL: never write through someone else's file; 0o666 lets the umask decide.
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise _write_error(target, exc) from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            for piece in pieces:
                stream.write(piece)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(exc, CassetteError):
            exc.located(path=target)
            raise
        if isinstance(exc, OSError):
            raise _write_error(target, exc) from exc
        raise
    _sync_folder(target.parent)


def _write_error(target: Path, exc: OSError) -> CassetteError:
    return CassetteError(
        f"cannot write cassette: expected a writable folder, got {exc.strerror or exc}; "
        "check the path, its permissions and the free space",
        path=target,
    )


def _sync_folder(folder: Path) -> None:
    """Persist the rename itself; platforms without directory fsync simply skip it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
