"""A replay as a snapshot writes it: one ``.jsonl`` file per test, one agent message a line.

Theory of operation
-------------------
A snapshot must change when, and only when, the parser's output changes. Two things would make
it change for nothing:

* **Volatile values.** Message ids are derived from the cassette's path (so they differ between
  checkouts), otids from the message ids, dates from the recording, tool-call ids are chosen by
  the provider afresh on every call. Each becomes a numbered placeholder (``<message-1>``,
  ``<otid-2>``, ``<date-1>``, ``<tool-call-1>``), numbered by first appearance in the file, so
  the same value is the same placeholder everywhere in it and re-recording the same
  conversation writes the same file. Only these fields are replaced, never text that happens to
  contain an id: a parser that leaks an id into a message's text should show up.
* **Where the provider split the stream.** By default the file holds the *merged* messages
  (:func:`streamreel.core.messages.merge_deltas`), which do not depend on chunk boundaries; a
  re-recorded
  stream, cut differently, gives the same file. :class:`StreamDeltasSnapshotExtension` keeps the
  raw deltas for the tests that are about the streaming itself.

The file reads top to bottom like the conversation::

    {"interaction":0,"request":"POST https://api.openai.com/v1/chat/completions","provider":...}
    {"id":"<message-1>","date":"<date-1>","name":null,"message_type":"reasoning_message",...}
    {"id":"<message-1>","date":"<date-1>","message_type":"tool_call_message",...}
    {"interaction":1,...}
    ...
    {"message_type":"usage_statistics","completion_tokens":12,...}

A header line opens each interaction (request, status, whether the stream completed, its
message id and how many messages follow, and any errors); the messages are Letta's wire JSON
(:func:`streamreel.core.messages.to_wire`: compact, ASCII-escaped, keys in wire order) with the
placeholders in; the usage record closes the file as it closes Letta's REST stream. One line per
message makes a change one changed line in a review, and the header keeps the interaction in
view.

When a comparison fails, :func:`diff_streams` names each changed line by interaction, message
index and type, and says which fields differ, instead of leaving the reader to count lines.

The serializer, placeholders and the diff are plain functions, here, with no dependency on
syrupy: the differ, the fuzzer and the notebook compare streams the way snapshots write them in
a base install. :mod:`streamreel.testing.snapshot` binds them to syrupy's four roles
(serializer, storage, reporter, comparator).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from streamreel.core.errors import ConfigurationError
from streamreel.core.messages import (
    AgentMessage,
    ErrorMessage,
    LettaMessage,
    UsageStatistics,
    merge_deltas,
    wire_dict,
)
from streamreel.core.results import InteractionResult, ReplayResult

__all__ = [
    "DiffLine",
    "Placeholders",
    "align",
    "diff_streams",
    "field_changes",
    "interaction_header",
    "line_kind",
    "serialize_stream",
    "stable_wire",
    "without_loopback",
]

# Which wire keys hold volatile values, and the placeholder family each belongs to. The same
# family is shared across keys on purpose: a tool call's id and its return's ``tool_call_id``
# must read as the same placeholder.
_VOLATILE_KEYS = {
    "id": "message",
    "message_id": "message",
    "otid": "otid",
    "date": "date",
    "tool_call_id": "tool-call",
    # Fields of the messages of other parsers (Letta's own since 0.8 among them).
    "created_at": "date",
    "run_id": "run",
    "step_id": "step",
}


def _family(key: str) -> str | None:
    """The placeholder family of a volatile key: the table's, or, for any other ``*_id`` (an
    agent's, a sender's), one named after it."""
    family = _VOLATILE_KEYS.get(key)
    if family is None and key.endswith("_id"):
        family = key.removesuffix("_id").replace("_", "-")
    return family


class Placeholders:
    """Numbered stand-ins for volatile values, consistent across one file.

    ``name("otid", value)`` returns ``<otid-N>``: the N-th distinct otid seen. Numbering by first
    appearance (rather than, say, sorting) keeps the numbers stable when a later interaction is
    added to the cassette.
    """

    def __init__(self) -> None:
        self._names: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}

    def name(self, family: str, value: str) -> str:
        key = (family, value)
        found = self._names.get(key)
        if found is None:
            count = self._counts.get(family, 0) + 1
            self._counts[family] = count
            found = self._names[key] = f"<{family}-{count}>"
        return found

    def replace(self, mapping: dict[str, Any]) -> dict[str, Any]:
        """``mapping`` with its volatile values (and those of nested objects) replaced."""
        out: dict[str, Any] = {}
        for key, value in mapping.items():
            family = _family(key)
            if family is not None and isinstance(value, str):
                out[key] = self.name(family, value)
            elif isinstance(value, dict):
                out[key] = self.replace(value)
            elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
                out[key] = [self.replace(i) if isinstance(i, dict) else i for i in value]
            else:
                out[key] = value
        return out


def _dumps(value: dict[str, Any]) -> str:
    # The wire's own encoding, so a line reads exactly like the message on Letta's stream.
    return json.dumps(value, separators=(",", ":"))


def stable_wire(message: AgentMessage | UsageStatistics, placeholders: Placeholders) -> str:
    """One message as wire JSON with its volatile values replaced by placeholders."""
    return _dumps(placeholders.replace(wire_dict(message)))


_LOOPBACK = re.compile(
    r"(?P<scheme>\bhttps?://)(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?", re.IGNORECASE
)


def without_loopback(text: str) -> str:
    """``text`` with every loopback address and port in a URL shown as ``<loopback>``.

    A server on loopback (the emulator, a local model server) listens on a port picked for
    the run, so a snapshot that kept it would change every time it is recorded again.
    """
    return _LOOPBACK.sub(r"\g<scheme><loopback>", text)


def interaction_header(result: InteractionResult, placeholders: Placeholders) -> dict[str, Any]:
    """The header line of one interaction: what was asked and how the stream went."""
    request = result.request
    # A chunk file has no request, and its "url" is the file's path, which differs between
    # checkouts: only its name is stable.
    asked = (
        without_loopback(f"{request.method} {request.url}")
        if request.method
        else Path(request.url).name
    )
    header: dict[str, Any] = {
        "interaction": result.index,
        "request": asked,
        "provider": request.provider,
        "api": request.api,
        "model": request.model,
        "status": result.status,
        "complete": result.complete,
        "message_id": placeholders.name("message", result.message_id),
    }
    if result.errors:
        header["errors"] = [without_loopback(error.describe()) for error in result.errors]
    return header


def _interaction_lines(
    result: InteractionResult, placeholders: Placeholders, *, merge: bool
) -> Iterator[str]:
    # The header is built before the messages so that an interaction's own message id gets its
    # placeholder number first, and the numbers follow the reading order of the file.
    header = interaction_header(result, placeholders)
    messages = result.merged if merge else result.messages
    header["messages"] = len(messages)
    yield _dumps(header)
    for message in messages:
        yield stable_wire(message, placeholders)


def serialize_stream(
    data: ReplayResult | InteractionResult | Sequence[InteractionResult] | Sequence[AgentMessage],
    *,
    merge: bool = True,
) -> str:
    """The snapshot text of a replay: header and message lines, newline-terminated.

    Accepts a whole :class:`~streamreel.core.results.ReplayResult` (the usual case, and the only one
    that ends with the usage record), one or several interactions, or a bare list of messages
    (then there are no header lines: the messages belong to no recorded interaction).
    """
    placeholders = Placeholders()
    lines: list[str] = []
    if isinstance(data, ReplayResult):
        for result in data.interactions:
            lines.extend(_interaction_lines(result, placeholders, merge=merge))
        lines.append(stable_wire(data.usage, placeholders))
    elif isinstance(data, InteractionResult):
        lines.extend(_interaction_lines(data, placeholders, merge=merge))
    elif isinstance(data, Sequence) and not isinstance(data, str | bytes):
        results = [item for item in data if isinstance(item, InteractionResult)]
        messages = [item for item in data if isinstance(item, LettaMessage | ErrorMessage)]
        if len(results) == len(data):
            for result in results:
                lines.extend(_interaction_lines(result, placeholders, merge=merge))
        elif len(messages) == len(data):
            shown = merge_deltas(messages) if merge else messages
            lines.extend(stable_wire(message, placeholders) for message in shown)
        else:
            raise _unsupported(data)
    else:
        raise _unsupported(data)
    return "".join(line + "\n" for line in lines)


def _unsupported(data: object) -> ConfigurationError:
    return ConfigurationError(
        "cannot snapshot a stream: expected a ReplayResult, an InteractionResult or a list of "
        f"agent messages, got {type(data).__name__}; do compare with replay(...)'s result"
    )


# -- diffs -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a failure report: a heading naming the place, or a snapshot/received line."""

    kind: Literal["heading", "snapshot", "received"]
    text: str


def align(
    old: Sequence[str], new: Sequence[str], *, kind: Callable[[str], str]
) -> list[tuple[int | None, int | None]]:
    """Pairs of line indexes: unchanged and changed lines paired, the rest one-sided.

    Equal lines are matched first; inside each stretch that differs, lines are paired by
    ``kind`` (a message's type), so that a removed reasoning message before a changed assistant
    message reads as "reasoning removed, assistant changed" and not as "reasoning became
    assistant, assistant removed".
    """
    pairs: list[tuple[int | None, int | None]] = []
    outer = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in outer.get_opcodes():
        if tag == "equal":
            pairs.extend((i1 + k, j1 + k) for k in range(i2 - i1))
            continue
        kinds_old = [kind(line) for line in old[i1:i2]]
        kinds_new = [kind(line) for line in new[j1:j2]]
        inner = difflib.SequenceMatcher(None, kinds_old, kinds_new, autojunk=False)
        for sub, a1, a2, b1, b2 in inner.get_opcodes():
            paired = min(a2 - a1, b2 - b1) if sub in ("equal", "replace") else 0
            pairs.extend((i1 + a1 + k, j1 + b1 + k) for k in range(paired))
            pairs.extend((i1 + k, None) for k in range(a1 + paired, a2))
            pairs.extend((None, j1 + k) for k in range(b1 + paired, b2))
    return pairs


def line_kind(line: str) -> str:
    """What a snapshot line is: ``header``, ``usage``, a message type, or ``error``."""
    try:
        fields = json.loads(line)
    except ValueError:
        return "text"
    if not isinstance(fields, dict):
        return "text"
    if "interaction" in fields and "request" in fields:
        return "header"
    if "error" in fields and "message_type" not in fields:
        return "error"
    return str(fields.get("message_type", "unknown"))


@dataclass(frozen=True, slots=True)
class _Located:
    text: str
    where: str
    fields: dict[str, Any] | None


def _locate(text: str) -> list[_Located]:
    """Each line of a snapshot with a name for where it is: interaction, message index, type."""
    located: list[_Located] = []
    interaction: int | None = None
    index = 0
    for number, line in enumerate(text.splitlines(), start=1):
        kind = line_kind(line)
        fields = json.loads(line) if kind != "text" else None
        if kind == "text":
            located.append(_Located(line, f"line {number}", None))
        elif kind == "header":
            assert isinstance(fields, dict)
            interaction, index = fields.get("interaction"), 0
            located.append(_Located(line, f"interaction {interaction} (header)", fields))
        elif kind == "usage_statistics":
            located.append(_Located(line, "usage", fields))
        else:
            prefix = f"interaction {interaction}, " if interaction is not None else ""
            located.append(_Located(line, f"{prefix}message {index} ({kind})", fields))
            index += 1
    return located


def _field(key: str, fields: dict[str, Any]) -> str:
    if key not in fields:
        return f"({key} absent)"
    return f"{json.dumps(key)}:{json.dumps(fields[key], separators=(',', ':'))}"


def field_changes(old: str, new: str) -> list[tuple[str, str, str]]:
    """The fields two JSON lines disagree on: ``(key, old "key":value, new "key":value)``.

    Empty when the lines are not both JSON objects, or differ only in spacing or key order.
    """
    try:
        a, b = json.loads(old), json.loads(new)
    except ValueError:
        return []
    if not isinstance(a, dict) or not isinstance(b, dict):
        return []
    keys = [k for k in a if a.get(k) != b.get(k)] + [k for k in b if k not in a]
    return [(key, _field(key, a), _field(key, b)) for key in keys]


def diff_streams(snapshot: str, received: str) -> list[DiffLine]:
    """The differences between two snapshot texts, each named by where it is.

    Lines are aligned as sequences (:func:`align`), so one inserted message is one ``+`` line,
    not a cascade of changes. A changed message gets a heading naming the interaction, the
    message's index and type, and the fields that differ, then a ``-``/``+`` pair per field (the
    rest of the line is equal, and would only push the difference out of sight); a message only
    on one side is shown whole.
    """
    old, new = _locate(snapshot), _locate(received)
    pairs = align([line.text for line in old], [line.text for line in new], kind=line_kind)
    out: list[DiffLine] = []
    for i, j in pairs:
        if i is not None and j is not None:
            a, b = old[i], new[j]
            if a.text == b.text:
                continue
            where = a.where if a.where == b.where else f"{a.where} -> {b.where}"
            changes = field_changes(a.text, b.text)
            if not changes:
                out.append(DiffLine("heading", f"{where}: differs"))
                out.append(DiffLine("snapshot", f"- {a.text}"))
                out.append(DiffLine("received", f"+ {b.text}"))
                continue
            verb = "differs" if len(changes) == 1 else "differ"
            keys = ", ".join(key for key, _, _ in changes)
            out.append(DiffLine("heading", f"{where}: {keys} {verb}"))
            for _, before, after in changes:
                out.append(DiffLine("snapshot", f"  - {before}"))
                out.append(DiffLine("received", f"  + {after}"))
        elif i is not None:
            out.append(DiffLine("heading", f"{old[i].where}: only in the snapshot"))
            out.append(DiffLine("snapshot", f"- {old[i].text}"))
        elif j is not None:
            out.append(DiffLine("heading", f"{new[j].where}: not in the snapshot"))
            out.append(DiffLine("received", f"+ {new[j].text}"))
    return out
