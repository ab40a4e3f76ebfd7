"""Rechunk fuzzing: replay every recorded stream split differently, and expect the same messages.

Theory of operation
-------------------
A provider may cut its stream anywhere, so a parser's merged messages must not depend on the
cuts (section 5 of Letta's facts: most of 0.7.8's defects are this invariant broken). A
recording shows one set of cuts; this module replays the same stream under many others and
reports any that change the merged messages.

A stream is cut at two levels, and a *split* (:class:`Split`) chooses new cut points at both:

* **Transport.** The HTTP body arrives in reads. Body cuts replace the recorded read
  boundaries, so a read may end inside a multi-byte UTF-8 character, between ``\\r`` and
  ``\\n``, inside ``data:`` or inside a JSON escape. This exercises the framing decoder and the
  provider adapter: the chat-completion chunks they produce should not change.
* **Tokens.** The provider cuts its text (content, reasoning, tool-call arguments) into chunks.
  Consecutive chunks that only carry text for the same target (:class:`TextRun`: the same
  field, or the same tool call's arguments, and otherwise identical) are one run; its text is
  joined and cut again at the split's text cut points into new chunks. With no cut the whole
  run arrives in one chunk (as Mistral sends a tool call); with a cut at every character it
  arrives one character at a time. A run may start with the chunk that opens it (the tool call's
  id and name, the role), so the opening chunk can also carry text. This exercises the parser
  itself: partial escapes, partial keys, the end of the inner thoughts and the start of the
  message in one chunk.

Token cuts are applied by :class:`RechunkingParser`, a stand-in wrapped around the parser under
test: the replay feeds it the decoded chunks, and it hands the re-cut ones on. It knows the
decoded chunks in advance (:func:`layout` decodes them as the replay will), so it releases a
run's new chunks as soon as the run's last chunk arrives and holds nothing across a fault or a
step. If the transport cuts made the decoder produce different chunks, it notices, hands
everything on unchanged from there, and the report says so.

Cut points are drawn at random (:func:`random_split`) but biased towards the places that break
parsers (:func:`interesting_cuts`): inside escapes and ``\\uXXXX``, inside multi-byte UTF-8
characters, around SSE line ends and field names, inside JSON keys, literals and numbers, and
next to quotes, colons and commas. Example 0 of every run is "no cuts" and example 1 is "cut
everywhere" (capped for very long bodies), since those two extremes catch most bugs at once.

A split that changes the messages is shrunk (:func:`shrink`): cut points are removed, first in
large groups and then one by one, for as long as the difference persists. What is left is
usually one or two cuts, and the report shows the bytes or text around each.

Messages are compared in the snapshot form (:func:`streamreel.testing.snapshot.stable_wire`):
merged, with
placeholders for volatile values, and with chunk numbers in error texts masked, because an
error that names "chunk 3" legitimately names another number once the body is cut differently.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from streamreel.cassettes.discovery import is_chunk_file
from streamreel.core.cassette import Cassette, Interaction, RecordedResponse
from streamreel.core.chunks import ChatCompletionChunk, StreamFault
from streamreel.core.errors import ConfigurationError, StreamreelError
from streamreel.core.messages import ErrorMessage
from streamreel.core.mutations import Edit, edited_response
from streamreel.core.parser import InterfaceSettings
from streamreel.core.providers import StreamDecoder, chunks_from_json_body, detect_stream
from streamreel.core.results import ReplayResult
from streamreel.core.wording import counted as _count
from streamreel.playback.replay import (
    AnyParser,
    FollowingServerFlags,
    ForcingInnerThoughts,
    ParserFactory,
    ReasoningChoice,
    StreamingInterfaceLike,
    default_parser,
    is_native,
    replay,
)
from streamreel.testing.shrinking import shrink_items
from streamreel.testing.transcript import Placeholders, stable_wire

__all__ = [
    "Difference",
    "FuzzFailure",
    "FuzzReport",
    "Layout",
    "RechunkingParser",
    "Split",
    "TextRun",
    "Variant",
    "compare_views",
    "finest_split",
    "fuzz_cassette",
    "fuzz_cassettes",
    "interesting_cuts",
    "layout",
    "merged_view",
    "random_cuts",
    "random_split",
    "shrink",
    "split_at",
]

MAX_CUTS = 4096
"""At most this many cuts per body or run in one split: enough to cut a long stream finely,
few enough that one replay stays in the tens of milliseconds."""

# -- cut points --------------------------------------------------------------------------------

_SAMPLED = 256 * 1024
"""Longer bodies and runs have their interesting cut points found in windows only."""
_WINDOWS = 64
_WINDOW = 16 * 1024

_ESCAPE = re.compile(r"\\u[0-9a-fA-F]{4}|\\.", re.DOTALL)
_LITERAL = re.compile(r"true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
# A key is short: bounding its length keeps the scan linear and, above all, bounds the regex
# engine's memory, which grows with every repetition of an alternation (a 10 MB string value
# once took a gigabyte to find it was not a key).
_KEY = re.compile(r'"(?:[^"\\\n]|\\.){0,256}"\s*:')
_FIELD = re.compile(r"^(?:data|event|id|retry):", re.MULTILINE)
_MARK = re.compile(r'["\r\n:,{}\[\]]')
_CONTINUATION = re.compile(r"[\x80-\xbf]")


def interesting_cuts(data: bytes | str) -> list[int]:
    """Cut points inside the constructs a parser must carry across a chunk boundary.

    For bytes the positions are byte offsets (the text is read as Latin-1, one character per
    byte, so the patterns see the bytes as they are); for text, character offsets. Every
    position is in ``1 .. len(data) - 1``, sorted, without repeats. Past 256 KiB, only
    evenly spaced windows are searched, so memory stays a small part of the data's size.
    """
    if len(data) > _SAMPLED:
        # A long body or run is seen through evenly spaced windows: a random split draws only a
        # few thousand points from these, and a set of every escape in megabytes of text would
        # cost far more memory than the text itself.
        step = len(data) // _WINDOWS
        found_in: set[int] = set()
        for start in range(0, len(data), step):
            window = data[start : start + _WINDOW]
            found_in.update(start + p for p in interesting_cuts(window))
        return sorted(p for p in found_in if 0 < p < len(data))
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    found: set[int] = set()
    for match in _ESCAPE.finditer(text):
        # Before the backslash (so two escapes in a row, a surrogate pair, are cut apart) and
        # at every point inside.
        found.update(range(match.start(), match.end()))
    for pattern in (_LITERAL, _KEY, _FIELD):
        for match in pattern.finditer(text):
            found.update(range(match.start() + 1, match.end()))
    for match in _MARK.finditer(text):
        found.update((match.start(), match.end()))
    if isinstance(data, bytes):
        # Before a continuation byte: inside a multi-byte UTF-8 character.
        found.update(match.start() for match in _CONTINUATION.finditer(text))
    return sorted(p for p in found if 0 < p < len(text))


def random_cuts(
    rng: random.Random, length: int, *, interesting: Sequence[int] = ()
) -> tuple[int, ...]:
    """Random cut points for something ``length`` long, half of them from ``interesting``.

    The number of cuts is itself drawn from a wide spread: none, a few, a few dozen, or dense,
    because bugs hide at both ends (one chunk holding everything, one character per chunk).
    """
    if length < 2:
        return ()
    draw = rng.random()
    if draw < 0.15:
        count = 0
    elif draw < 0.45:
        count = rng.randint(1, 3)
    elif draw < 0.8:
        count = rng.randint(4, 32)
    else:
        count = rng.randint(1, max(1, (length - 1) // 2))
    count = min(count, length - 1, MAX_CUTS)
    cuts: set[int] = set()
    for _ in range(count):
        if interesting and rng.random() < 0.5:
            cuts.add(interesting[rng.randrange(len(interesting))])
        else:
            cuts.add(rng.randrange(1, length))
    return tuple(sorted(cuts))


_Text = TypeVar("_Text", bytes, str)


def split_at(data: _Text, cuts: Iterable[int]) -> list[_Text]:
    """``data`` cut at ``cuts`` (out-of-range and repeated points are ignored)."""
    points: list[int] = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in itertools.pairwise([0, *points, len(data)])]


# -- where a cassette can be cut ---------------------------------------------------------------

SlotKind = Literal["content", "reasoning", "arguments", "function"]


@dataclass(frozen=True, slots=True)
class TextRun:
    """Consecutive chunks of one interaction that only carry text for the same target.

    ``start`` is the position of the run's first chunk among the interaction's decoded chunks;
    ``target`` says which text it is (``tool_index`` for tool-call arguments).
    """

    interaction: int
    start: int
    count: int
    target: SlotKind
    tool_index: int | None
    text: str

    def describe(self) -> str:
        what = {
            "content": "content",
            "reasoning": "reasoning",
            "arguments": f"tool call {self.tool_index} arguments",
            "function": "function_call arguments",
        }[self.target]
        last = self.start + self.count - 1
        chunks = f"chunk {self.start}" if self.count == 1 else f"chunks {self.start}-{last}"
        return f"interaction {self.interaction}, {what} ({chunks})"


@dataclass(frozen=True, slots=True)
class Layout:
    """A cassette as the fuzzer sees it: the bodies it can re-cut and the runs of text.

    ``bodies`` maps an interaction's index to its stream's bytes (streamed, successful
    interactions only); ``chunks`` to the chunks its stream decodes to, in order.
    """

    bodies: dict[int, bytes]
    chunks: dict[int, list[ChatCompletionChunk]]
    runs: list[TextRun]
    provider: str | None = None
    api: str | None = None
    _interesting: dict[tuple[str, int], list[int]] = field(default_factory=dict, repr=False)

    def interesting(self, site: tuple[str, int]) -> list[int]:
        """:func:`interesting_cuts` of a body (``("body", i)``) or a run (``("text", r)``)."""
        cached = self._interesting.get(site)
        if cached is None:
            kind, key = site
            data = self.bodies[key] if kind == "body" else self.runs[key].text
            cached = self._interesting[site] = interesting_cuts(data)
        return cached

    @property
    def empty(self) -> bool:
        return not self.bodies and not any(run.text for run in self.runs)


def _slot(chunk: ChatCompletionChunk) -> tuple[SlotKind, int | None, str] | None:
    """The one piece of text a chunk carries, or None when it carries anything else too."""
    if len(chunk.choices) != 1 or chunk.usage is not None:
        return None
    choice = chunk.choices[0]
    delta = choice.delta
    if (
        choice.finish_reason is not None
        or delta.refusal is not None
        or delta.reasoning_content_signature is not None
        or delta.redacted_reasoning_content is not None
    ):
        return None
    found: list[tuple[SlotKind, int | None, str]] = []
    if delta.content is not None:
        found.append(("content", None, delta.content))
    if delta.reasoning_content is not None:
        found.append(("reasoning", None, delta.reasoning_content))
    if delta.tool_calls:
        fragment = delta.tool_calls[0]
        if (
            len(delta.tool_calls) != 1
            or fragment.index is None
            or fragment.function is None
            or fragment.function.arguments is None
        ):
            return None
        found.append(("arguments", fragment.index, fragment.function.arguments))
    if delta.function_call is not None:
        if delta.function_call.arguments is None:
            return None
        found.append(("function", None, delta.function_call.arguments))
    return found[0] if len(found) == 1 else None


def _with_text(chunk: ChatCompletionChunk, target: SlotKind, text: str) -> ChatCompletionChunk:
    choice = chunk.choices[0]
    delta = choice.delta
    if target == "content":
        delta = delta.model_copy(update={"content": text})
    elif target == "reasoning":
        delta = delta.model_copy(update={"reasoning_content": text})
    elif target == "arguments":
        assert delta.tool_calls and delta.tool_calls[0].function is not None
        fragment = delta.tool_calls[0]
        assert fragment.function is not None
        function = fragment.function.model_copy(update={"arguments": text})
        delta = delta.model_copy(
            update={"tool_calls": [fragment.model_copy(update={"function": function})]}
        )
    else:
        assert delta.function_call is not None
        delta = delta.model_copy(
            update={"function_call": delta.function_call.model_copy(update={"arguments": text})}
        )
    return chunk.model_copy(update={"choices": [choice.model_copy(update={"delta": delta})]})


def _continuation(chunk: ChatCompletionChunk, target: SlotKind) -> ChatCompletionChunk:
    """``chunk`` without what only an opening chunk carries (role, tool-call id and name)."""
    choice = chunk.choices[0]
    delta = choice.delta.model_copy(update={"role": None})
    if target == "arguments" and delta.tool_calls:
        fragment = delta.tool_calls[0]
        function = (
            fragment.function.model_copy(update={"name": None}) if fragment.function else None
        )
        fragment = fragment.model_copy(update={"id": None, "type": None, "function": function})
        delta = delta.model_copy(update={"tool_calls": [fragment]})
    elif target == "function" and delta.function_call is not None:
        delta = delta.model_copy(
            update={"function_call": delta.function_call.model_copy(update={"name": None})}
        )
    return chunk.model_copy(update={"choices": [choice.model_copy(update={"delta": delta})]})


def _runs(interaction: int, outputs: Sequence[ChatCompletionChunk | StreamFault]) -> list[TextRun]:
    runs: list[TextRun] = []
    # The open run: its first position, target, the shape its later chunks must have, its text.
    current: tuple[int, SlotKind, int | None, ChatCompletionChunk, list[str]] | None = None
    position = 0

    def close() -> None:
        if current is not None:
            start, target, tool_index, _, texts = current
            runs.append(TextRun(interaction, start, len(texts), target, tool_index, "".join(texts)))

    for output in outputs:
        if isinstance(output, StreamFault):
            close()
            current = None
            continue
        slot = _slot(output)
        if slot is None:
            close()
            current = None
        else:
            target, tool_index, text = slot
            shape = _with_text(_continuation(output, target), target, "")
            if (
                current is not None
                and current[1] == target
                and current[2] == tool_index
                and current[3] == _with_text(output, target, "")
            ):
                current[4].append(text)
            else:
                close()
                current = (position, target, tool_index, shape, [text])
        position += 1
    close()
    return runs


def _decode(
    interaction: Interaction, *, provider: str | None, api: str | None
) -> tuple[bytes | None, list[ChatCompletionChunk | StreamFault]]:
    """What the replay will decode from one interaction: the re-cuttable body and the outputs.

    Mirrors :func:`streamreel.playback.replay.replay`: unsupported streams, HTTP errors and empty
    bodies
    produce nothing, and decoding stops at the first error as the replay does.
    """
    response = interaction.response
    try:
        kind = detect_stream(interaction.request, response, provider=provider, api=api)
    except StreamreelError:
        return None, []
    if response.status >= 400 or kind.framing == "none":
        return None, []
    outputs: list[ChatCompletionChunk | StreamFault] = []
    if kind.framing == "json":
        with contextlib.suppress(StreamreelError):
            outputs.extend(chunks_from_json_body(kind, response.body))
        return None, outputs
    pieces = response.body_chunks()
    decoder = StreamDecoder(kind)
    try:
        for piece in pieces:
            outputs.extend(decoder.feed(piece.data))
        outputs.extend(decoder.close())
    except StreamreelError:
        pass
    return b"".join(piece.data for piece in pieces), outputs


def layout(cassette: Cassette, *, provider: str | None = None, api: str | None = None) -> Layout:
    """Decode a cassette's streams once, to know where it can be cut."""
    bodies: dict[int, bytes] = {}
    chunks: dict[int, list[ChatCompletionChunk]] = {}
    runs: list[TextRun] = []
    for index, interaction in enumerate(cassette.interactions):
        body, outputs = _decode(interaction, provider=provider, api=api)
        if body is not None and len(body) > 1:
            bodies[index] = body
        chunks[index] = [o for o in outputs if isinstance(o, ChatCompletionChunk)]
        runs.extend(_runs(index, outputs))
    return Layout(bodies, chunks, runs, provider, api)


# -- splits ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class Split:
    """New cut points: ``body[i]`` in interaction ``i``'s body, ``text[r]`` in run ``r``'s text.

    A body or run that is not mentioned is not cut at all: the body arrives in one read, the
    run in one chunk.
    """

    body: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    text: Mapping[int, tuple[int, ...]] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Shrunk splits are small and shown whole; a dense one is summarised, or its repr would
        # run to megabytes in a test report.
        def sites(points: Mapping[int, tuple[int, ...]]) -> str:
            return ", ".join(
                f"{site}: {list(cuts)}" if len(cuts) <= 16 else f"{site}: <{len(cuts)} cuts>"
                for site, cuts in sorted(points.items())
            )

        return f"Split(body={{{sites(self.body)}}}, text={{{sites(self.text)}}})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Pretty printers (IPython's, Hypothesis's) otherwise list every field in full.
        printer.text(repr(self))

    def cuts(self) -> list[tuple[str, int, int]]:
        """Every cut as ``(kind, site, position)``, the unit :func:`shrink` removes."""
        found = [("body", site, p) for site, points in self.body.items() for p in points]
        found += [("text", site, p) for site, points in self.text.items() for p in points]
        return found

    @classmethod
    def from_cuts(cls, cuts: Iterable[tuple[str, int, int]]) -> Split:
        body: dict[int, list[int]] = {}
        text: dict[int, list[int]] = {}
        for kind, site, position in cuts:
            (body if kind == "body" else text).setdefault(site, []).append(position)
        return cls(
            {k: tuple(sorted(set(v))) for k, v in body.items()},
            {k: tuple(sorted(set(v))) for k, v in text.items()},
        )

    def describe(self, layout: Layout, *, context: int = 12) -> list[str]:
        """Each cut with what surrounds it, ``|`` marking the cut."""
        lines: list[str] = []
        for site, points in sorted(self.body.items()):
            if points:
                body = layout.bodies.get(site, b"")
                shown = ", ".join(_around(body, p, context) for p in points[:8])
                more = f" and {len(points) - 8} more" if len(points) > 8 else ""
                lines.append(f"interaction {site}: body cut at bytes {list(points[:8])}{more}")
                lines.append(f"    {shown}")
        for site, points in sorted(self.text.items()):
            run = layout.runs[site]
            pieces = split_at(run.text, points)
            if len(pieces) <= 6:
                shown = " | ".join(repr(piece) for piece in pieces)
            else:
                shown = ", ".join(_around(run.text, p, context) for p in points[:8]) + " ..."
            lines.append(f"{run.describe()}: re-cut into {len(pieces)} chunks")
            lines.append(f"    {shown}")
        if not self.body and not self.text:
            lines.append("no cuts: every body in one read, every run of text in one chunk")
            return lines
        untouched_bodies = len(set(layout.bodies) - set(self.body))
        untouched_runs = len(layout.runs) - len(self.text)
        if untouched_bodies or untouched_runs:
            lines.append(
                f"otherwise uncut: {_count(untouched_bodies, 'body', 'bodies')} in one read "
                f"each, {_count(untouched_runs, 'run')} of text in one chunk each"
            )
        return lines


def _around(data: bytes | str, position: int, context: int) -> str:
    before, after = data[max(0, position - context) : position], data[position : position + context]
    return f"{before!r}|{after!r}"


def random_split(rng: random.Random, layout: Layout) -> Split:
    """A random split of every body and run, biased by :func:`interesting_cuts`."""
    body = {
        site: random_cuts(rng, len(data), interesting=layout.interesting(("body", site)))
        for site, data in layout.bodies.items()
    }
    text = {
        site: random_cuts(rng, len(run.text), interesting=layout.interesting(("text", site)))
        for site, run in enumerate(layout.runs)
    }
    return Split(
        {k: v for k, v in body.items() if v},
        {k: v for k, v in text.items() if v},
    )


def _everywhere(length: int) -> tuple[int, ...]:
    step = max(1, math.ceil((length - 1) / MAX_CUTS))
    return tuple(range(1, length, step))


def finest_split(layout: Layout) -> Split:
    """Every body one byte a read and every run one character a chunk (spread out for long
    bodies, to stay within :data:`MAX_CUTS`)."""
    return Split(
        {site: _everywhere(len(data)) for site, data in layout.bodies.items()},
        {site: _everywhere(len(run.text)) for site, run in enumerate(layout.runs) if run.text},
    )


# -- applying a split --------------------------------------------------------------------------


def _recut_response(response: RecordedResponse, cuts: Sequence[int]) -> RecordedResponse:
    return edited_response(response, [Edit(c, action="cut") for c in cuts], keep_reads=False)


def recut_cassette(cassette: Cassette, split: Split) -> Cassette:
    """The cassette with each body's reads cut at the split's body cut points.

    A body the split does not mention arrives in one read. The path is kept, so the replay
    derives the same message ids.
    """
    interactions = []
    for index, interaction in enumerate(cassette.interactions):
        if interaction.response.body_chunks():
            response = _recut_response(interaction.response, split.body.get(index, ()))
            interaction = Interaction(interaction.request, response, interaction.recorded_at)
        interactions.append(interaction)
    return Cassette(interactions=interactions, info=cassette.info, path=cassette.path)


class RechunkingParser:
    """Wraps a parser and re-cuts the text runs of the chunks it is fed.

    ``release`` lists, per decoded chunk (in the order of the whole replay), what to hand on
    when that chunk arrives: the chunk itself outside runs, nothing for a run's chunks but its
    last, and the run's new chunks for the last. ``expected`` is the decoded chunks, to notice
    when the stream turned out different (then everything is handed on as it comes).
    Everything the replay reads besides ``process_chunk`` (``drain``, ``error``, ``usage``, the
    generator) is the wrapped parser's own.
    """

    def __init__(
        self,
        inner: StreamingInterfaceLike,
        *,
        expected: Sequence[ChatCompletionChunk],
        release: Sequence[Sequence[ChatCompletionChunk]],
    ) -> None:
        self.inner = inner
        self._expected = expected
        self._release = release
        self._cursor = 0
        self._held: list[tuple[ChatCompletionChunk, tuple[Any, ...]]] = []
        self.desynchronized = False

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes this class does not define: the optional parts of the
        # interface (drain, error, usage) are the wrapped parser's, present or not.
        return getattr(self.inner, name)

    def stream_start(self) -> None:
        self.inner.stream_start()

    def stream_end(self) -> None:
        self._flush_held()
        self.inner.stream_end()

    def step_complete(self) -> None:
        self._flush_held()
        self.inner.step_complete()

    def step_yield(self) -> None:
        self._flush_held()
        self.inner.step_yield()

    def get_generator(self) -> Any:
        return self.inner.get_generator()

    def letta_server_flags(self) -> bool:
        inner = self.inner
        return isinstance(inner, FollowingServerFlags) and inner.letta_server_flags()

    def force_inner_thoughts_in_kwargs(self) -> None:
        inner = self.inner
        if isinstance(inner, ForcingInnerThoughts):
            inner.force_inner_thoughts_in_kwargs()

    def _flush_held(self) -> None:
        # Never needed while the stream matches the layout (a run is released with its last
        # chunk); after a surprise, nothing that arrived may be lost.
        held, self._held = self._held, []
        for chunk, args in held:
            self.inner.process_chunk(chunk, *args)

    def process_chunk(
        self,
        chunk: Any,
        message_id: str,
        message_date: datetime,
        expect_reasoning_content: bool = False,
        name: str | None = None,
        message_index: int = 0,
    ) -> Any:
        args = (message_id, message_date, expect_reasoning_content, name, message_index)
        if not self.desynchronized and (
            self._cursor >= len(self._expected) or chunk != self._expected[self._cursor]
        ):
            self.desynchronized = True
            self._flush_held()
        if self.desynchronized:
            return self.inner.process_chunk(chunk, *args)
        out = self._release[self._cursor]
        self._cursor += 1
        if not out:
            self._held.append((chunk, args))
            return None
        self._held = []
        result = None
        for piece in out:
            result = self.inner.process_chunk(piece, *args)
        return result


def _schedule(
    layout: Layout, split: Split
) -> tuple[list[ChatCompletionChunk], list[list[ChatCompletionChunk]]]:
    expected: list[ChatCompletionChunk] = []
    release: list[list[ChatCompletionChunk]] = []
    offsets: dict[int, int] = {}
    for index in sorted(layout.chunks):
        offsets[index] = len(expected)
        expected.extend(layout.chunks[index])
        release.extend([chunk] for chunk in layout.chunks[index])
    for number, run in enumerate(layout.runs):
        first = offsets[run.interaction] + run.start
        last = first + run.count - 1
        opening = expected[first]
        following = _continuation(opening, run.target)
        pieces = split_at(run.text, split.text.get(number, ())) or [""]
        new = [_with_text(opening, run.target, pieces[0])]
        new += [_with_text(following, run.target, piece) for piece in pieces[1:]]
        for position in range(first, last):
            release[position] = []
        release[last] = new
    return expected, release


@dataclass(frozen=True, slots=True)
class Variant:
    """One cassette under one split: replay it with any parser."""

    cassette: Cassette = field(repr=False)
    layout: Layout = field(repr=False)
    split: Split

    def replay(
        self,
        *,
        parser: ParserFactory | None = None,
        settings: InterfaceSettings | None = None,
        expect_reasoning_content: ReasoningChoice = None,
    ) -> ReplayResult:
        """The replay of the cassette cut this way."""
        return self.replay_checked(
            parser=parser, settings=settings, expect_reasoning_content=expect_reasoning_content
        )[0]

    def replay_checked(
        self,
        *,
        parser: ParserFactory | None = None,
        settings: InterfaceSettings | None = None,
        expect_reasoning_content: ReasoningChoice = None,
    ) -> tuple[ReplayResult, bool]:
        """The replay, and whether the re-cut bodies decoded to other chunks than recorded."""
        expected, release = _schedule(self.layout, self.split)
        build = parser or default_parser
        made: list[RechunkingParser] = []

        def wrapped(chosen: InterfaceSettings) -> AnyParser:
            built = build(chosen)
            if is_native(built):
                # It reads the SDK's stream, which the SDK decodes from the re-cut bytes
                # itself: only the transport cuts reach it.
                return built
            made.append(RechunkingParser(built, expected=expected, release=release))  # type: ignore[arg-type]
            return made[-1]

        result = replay(
            recut_cassette(self.cassette, self.split),
            settings=settings,
            parser=wrapped,
            expect_reasoning_content=expect_reasoning_content,
            provider=self.layout.provider,
            api=self.layout.api,
        )
        return result, any(p.desynchronized for p in made)

    def describe(self) -> list[str]:
        return self.split.describe(self.layout)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # The cassette and its layout are large and the same for every variant: show the split.
        printer.text(repr(self))


# -- comparing ---------------------------------------------------------------------------------

_CHUNK_NUMBER = re.compile(r"\bchunk \d+")


def merged_view(result: ReplayResult) -> dict[int, list[str]]:
    """Per interaction, its merged messages in snapshot form (see the module docstring)."""
    placeholders = Placeholders()
    view: dict[int, list[str]] = {}
    for interaction in result.interactions:
        placeholders.name("message", interaction.message_id)
        lines = []
        for message in interaction.merged:
            if isinstance(message, ErrorMessage):
                message = ErrorMessage(error=_CHUNK_NUMBER.sub("chunk N", message.error))
            lines.append(stable_wire(message, placeholders))
        view[interaction.index] = lines
    return view


@dataclass(frozen=True, slots=True)
class Difference:
    """The first merged message that differs: ``expected`` as recorded, ``got`` re-cut."""

    interaction: int
    index: int
    expected: str | None
    got: str | None

    def describe(self) -> list[str]:
        lines = [f"interaction {self.interaction}, merged message {self.index}:"]
        lines.append(
            f"  as recorded  {self.expected if self.expected is not None else '(nothing)'}"
        )
        lines.append(f"  re-cut       {self.got if self.got is not None else '(nothing)'}")
        if self.expected is not None and self.got is not None:
            at = next(
                (
                    i
                    for i, (a, b) in enumerate(zip(self.expected, self.got, strict=False))
                    if a != b
                ),
                min(len(self.expected), len(self.got)),
            )
            start = max(0, at - 20)
            lines.append(
                f"  first difference at character {at}: as recorded "
                f"{self.expected[start : at + 20]!r}, re-cut {self.got[start : at + 20]!r}"
            )
        return lines


def compare_views(
    expected: Mapping[int, Sequence[str]], got: Mapping[int, Sequence[str]]
) -> Difference | None:
    """The first difference between two :func:`merged_view` results, or None."""
    for interaction in sorted(set(expected) | set(got)):
        a, b = expected.get(interaction, []), got.get(interaction, [])
        for index in range(max(len(a), len(b))):
            left = a[index] if index < len(a) else None
            right = b[index] if index < len(b) else None
            if left != right:
                return Difference(interaction, index, left, right)
    return None


def shrink(split: Split, fails: Callable[[Split], bool], *, budget: int = 400) -> tuple[Split, int]:
    """The smallest split found that still ``fails``, and how many candidates were tried.

    Delta debugging on the cut points (:func:`streamreel.testing.shrinking.shrink_items`);
    ``budget`` bounds the number of replays.
    """
    cuts, tried = shrink_items(
        split.cuts(), lambda candidate: fails(Split.from_cuts(candidate)), budget=budget
    )
    return Split.from_cuts(cuts), tried


# -- the fuzzer --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FuzzFailure:
    """A split that changes the merged messages, shrunk, and how to get it again."""

    seed: int
    example: int
    split: Split
    difference: Difference
    desynchronized: bool
    cuts_before_shrinking: int
    shrink_steps: int


@dataclass(frozen=True, slots=True)
class FuzzReport:
    """The outcome for one cassette. ``skipped`` says why nothing could be cut."""

    path: str
    examples: int
    failure: FuzzFailure | None = None
    layout: Layout | None = None
    error: str | None = None
    skipped: str | None = None

    @property
    def failed(self) -> bool:
        """A split changed the merged messages (a cassette that cannot be read is ``error``)."""
        return self.failure is not None

    def describe(self) -> list[str]:
        if self.error is not None:
            return [f"{self.path}: cannot fuzz: {self.error}"]
        if self.skipped is not None:
            return [f"{self.path}: skipped: {self.skipped}"]
        if self.failure is None:
            return [f"{self.path}: ok ({self.examples} splits, same merged messages)"]
        failure = self.failure
        assert self.layout is not None
        lines = [
            f"{self.path}: the merged messages change with the split "
            f"(seed {failure.seed}, example {failure.example})",
            f"  smallest split found ({_count(len(failure.split.cuts()), 'cut')}, shrunk from "
            f"{failure.cuts_before_shrinking} in {_count(failure.shrink_steps, 'replay')}):"
            if failure.cuts_before_shrinking
            else "  the split:",
        ]
        lines += [f"    {line}" for line in failure.split.describe(self.layout)]
        if failure.desynchronized:
            lines.append(
                "  note: with these body cuts the stream decoded to different chunks: the "
                "framing decoder or the provider adapter depends on the reads"
            )
        lines += [f"  {line}" for line in failure.difference.describe()]
        return lines


def _splits(layout: Layout, *, seed: int, examples: int) -> Iterator[tuple[int, Split]]:
    for example in range(examples):
        if example == 0:
            yield example, Split()
        elif example == 1:
            yield example, finest_split(layout)
        else:
            # One generator per example, so example k is the same whatever came before it.
            yield example, random_split(random.Random(f"{seed}:{example}"), layout)


def fuzz_cassette(
    cassette: Cassette | str | Path,
    *,
    seed: int = 0,
    examples: int = 50,
    parser: ParserFactory | None = None,
    settings: InterfaceSettings | None = None,
    expect_reasoning_content: ReasoningChoice = None,
    provider: str | None = None,
    api: str | None = None,
    shrink_budget: int = 400,
    progress: Callable[[int], None] | None = None,
) -> FuzzReport:
    """Replay ``examples`` splits of one cassette and report the first that changes anything.

    ``progress`` is told how many splits have been tried, after each one.
    """
    if examples < 1:
        raise ConfigurationError(
            f"cannot fuzz: expected at least 1 example, got {examples}; do pass a positive number"
        )
    name = str(cassette.path if isinstance(cassette, Cassette) else cassette)
    try:
        if not isinstance(cassette, Cassette) and is_chunk_file(cassette):
            from streamreel.cassettes import chunkfile

            cassette = chunkfile.read_chunk_file(cassette)
            provider, api = provider or chunkfile.PROVIDER, api or chunkfile.API
        elif not isinstance(cassette, Cassette):
            from streamreel.cassettes.storage import load_cassette

            cassette = load_cassette(cassette)
        shape = layout(cassette, provider=provider, api=api)
    except StreamreelError as exc:
        return FuzzReport(name, 0, error=str(exc))
    if shape.empty:
        return FuzzReport(name, 0, layout=shape, skipped="no streamed body or text to re-cut")
    options: dict[str, Any] = {
        "parser": parser,
        "settings": settings,
        "expect_reasoning_content": expect_reasoning_content,
    }
    expected = merged_view(replay(cassette, provider=provider, api=api, **options))

    def run(split: Split) -> tuple[Difference | None, bool]:
        result, desynchronized = Variant(cassette, shape, split).replay_checked(**options)
        return compare_views(expected, merged_view(result)), desynchronized

    for example, split in _splits(shape, seed=seed, examples=examples):
        difference, _ = run(split)
        if progress is not None:
            progress(example + 1)
        if difference is None:
            continue
        smallest, steps = shrink(split, lambda s: run(s)[0] is not None, budget=shrink_budget)
        final, desynchronized = run(smallest)
        assert final is not None
        failure = FuzzFailure(
            seed, example, smallest, final, desynchronized, len(split.cuts()), steps
        )
        return FuzzReport(name, example + 1, failure=failure, layout=shape)
    return FuzzReport(name, examples, layout=shape)


def fuzz_cassettes(
    cassettes: Iterable[Cassette | str | Path],
    *,
    seed: int = 0,
    examples: int = 50,
    parser: ParserFactory | None = None,
    settings: InterfaceSettings | None = None,
    expect_reasoning_content: ReasoningChoice = None,
) -> list[FuzzReport]:
    return [
        fuzz_cassette(
            cassette,
            seed=seed,
            examples=examples,
            parser=parser,
            settings=settings,
            expect_reasoning_content=expect_reasoning_content,
        )
        for cassette in cassettes
    ]
