"""Hazard fuzzing: replay each cassette rewritten by each hazard, and expect the same messages.

Theory of operation
-------------------
A hazard (:mod:`streamreel.core.hazards`) rewrites a recorded body into one that means the
same by its wire specification: CRLF line ends, a comment before every event, raw U+2028 in
the JSON, a read boundary inside every UTF-8 character. :func:`check_hazard` finds the
hazard's sites in every streamed interaction of a cassette, replays the cassette with all of
them applied through the parser under test (and, with ``decoder``, a reader of the bytes of
one's own), and compares the merged messages and the usage with those of the recording
replayed the same way. A hazard that ``adds_error`` ends a stream with the provider's error
event: there the messages before the error must be those recorded, and an error message must
follow.

A failure is shrunk (:func:`streamreel.testing.shrinking.shrink_items`) to the fewest sites
that still fail, and :func:`save_reproduction` writes that mutated cassette, scrubbed by the
default :class:`~streamreel.cassettes.scrubbing.Scrubber` and through the project's own
writer, where the user can add it to their suite: replaying it shows the bug without any
fuzzing.

The comparison is the rechunk fuzzer's (:func:`streamreel.testing.fuzz.merged_view`), so
volatile values are placeholders and chunk numbers in error texts are masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from streamreel.core.cassette import Cassette, Interaction, RecordedResponse
from streamreel.core.errors import StreamDecodeError, StreamreelError, UnsupportedStreamError
from streamreel.core.hazards import HAZARDS, select_hazards
from streamreel.core.messages import reports_error
from streamreel.core.mutations import Edit, Hazard, applies, edited_response
from streamreel.core.parser import InterfaceSettings
from streamreel.core.providers import StreamKind, detect_stream
from streamreel.core.results import ReplayResult
from streamreel.playback.replay import (
    BodyDecoder,
    DecoderFactory,
    ParserFactory,
    ReasoningChoice,
    replay,
)
from streamreel.testing.fuzz import merged_view
from streamreel.testing.shrinking import shrink_items

__all__ = [
    "HazardOutcome",
    "Site",
    "check_hazard",
    "fuzz_hazards",
    "hazard_sites",
    "hazards_with_sites",
    "is_reader_factory",
    "load_for_fuzzing",
    "mutate",
    "save_reproduction",
]


@dataclass(frozen=True, slots=True, order=True)
class Site:
    """One edit of a hazard in one interaction's body."""

    interaction: int
    edit: Edit


def _streamed(
    cassette: Cassette, *, provider: str | None, api: str | None
) -> list[tuple[int, Interaction, StreamKind]]:
    found = []
    for index, interaction in enumerate(cassette.interactions):
        response = interaction.response
        try:
            kind = detect_stream(interaction.request, response, provider=provider, api=api)
        except StreamreelError:
            continue
        if response.status < 400 and kind.framing not in ("json", "none") and response.body:
            found.append((index, interaction, kind))
    return found


def _boundaries(response: RecordedResponse) -> list[int]:
    ends: list[int] = []
    total = 0
    for piece in response.body_chunks()[:-1]:
        total += len(piece.data)
        ends.append(total)
    return ends


def _reads(decoder: DecoderFactory | None, kind: StreamKind) -> bool:
    """Whether ``decoder`` takes streams of this kind (a reader refuses one it does not read by
    raising :class:`~streamreel.core.errors.UnsupportedStreamError`)."""
    if decoder is None:
        return True
    try:
        decoder(kind)
    except UnsupportedStreamError:
        return False
    return True


def hazard_sites(
    cassette: Cassette,
    hazard: Hazard,
    *,
    provider: str | None = None,
    api: str | None = None,
    decoder: DecoderFactory | None = None,
) -> list[Site]:
    """Every site of ``hazard`` in the cassette's streamed bodies (those ``decoder`` reads)."""
    return [
        Site(index, edit)
        for index, kind, body, boundaries in _bodies(cassette, provider, api, decoder)
        if applies(hazard, kind.framing, kind.api)
        for edit in hazard.edits(body, boundaries)
    ]


def hazards_with_sites(
    cassette: Cassette,
    hazards: Iterable[Hazard],
    *,
    provider: str | None = None,
    api: str | None = None,
    decoder: DecoderFactory | None = None,
) -> list[Hazard]:
    """The ``hazards`` that have something to rewrite in the cassette, in their order:
    :func:`hazard_sites`, without keeping the sites. A campaign asks this of every cassette
    when it collects, so the streamed bodies are found and joined once for all the hazards, and
    a hazard that proposes its sites lazily is asked for its first only."""
    bodies = _bodies(cassette, provider, api, decoder)
    return [
        hazard
        for hazard in hazards
        if any(
            next(iter(hazard.edits(body, boundaries)), None) is not None
            for _, kind, body, boundaries in bodies
            if applies(hazard, kind.framing, kind.api)
        )
    ]


def _bodies(
    cassette: Cassette,
    provider: str | None,
    api: str | None,
    decoder: DecoderFactory | None,
) -> list[tuple[int, StreamKind, bytes, list[int]]]:
    """Each streamed interaction that ``decoder`` reads: its index, kind, whole body and the
    offsets where its recorded pieces ended."""
    return [
        (
            index,
            kind,
            b"".join(piece.data for piece in interaction.response.body_chunks()),
            _boundaries(interaction.response),
        )
        for index, interaction, kind in _streamed(cassette, provider=provider, api=api)
        if _reads(decoder, kind)
    ]


def mutate(cassette: Cassette, sites: Iterable[Site]) -> Cassette:
    """The cassette with ``sites`` applied; the path is kept, so replays derive the same ids."""
    by_interaction: dict[int, list[Edit]] = {}
    for site in sites:
        by_interaction.setdefault(site.interaction, []).append(site.edit)
    interactions = []
    for index, interaction in enumerate(cassette.interactions):
        edits = by_interaction.get(index)
        if edits:
            response = edited_response(interaction.response, edits)
            interaction = Interaction(interaction.request, response, interaction.recorded_at)
        interactions.append(interaction)
    return Cassette(interactions=interactions, info=cassette.info, path=cassette.path)


# -- comparing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _View:
    messages: dict[int, list[str]]
    usage: str
    errors: dict[int, int]  # interaction -> where its first error report is among its messages


def _view(result: ReplayResult) -> _View:
    errors: dict[int, int] = {}
    for interaction in result.interactions:
        for at, message in enumerate(interaction.merged):
            if reports_error(message):
                errors[interaction.index] = at
                break
    return _View(merged_view(result), result.usage.model_dump_json(), errors)


def _difference(
    expected: _View, got: _View, *, adds_error: bool, mutated: set[int]
) -> list[str] | None:
    """What differs, described; None when the mutated replay passes."""
    for interaction in sorted(set(expected.messages) | set(got.messages)):
        a = expected.messages.get(interaction, [])
        b = got.messages.get(interaction, [])
        if adds_error and interaction in mutated:
            # A foreign parser's error report counts too: its error record, or a stop record
            # whose reason is an error (Letta 0.16.8's), whichever comes first.
            if interaction not in got.errors:
                return [
                    f"interaction {interaction}: expected an error message after the "
                    f"recorded messages, got none ({len(b)} messages)"
                ]
            b = b[: got.errors[interaction]]
            a = a[: expected.errors.get(interaction, len(a))]
        for index in range(max(len(a), len(b))):
            left = a[index] if index < len(a) else None
            right = b[index] if index < len(b) else None
            if left != right:
                return [
                    f"interaction {interaction}, merged message {index}:",
                    f"  as recorded  {left if left is not None else '(nothing)'}",
                    f"  mutated      {right if right is not None else '(nothing)'}",
                ]
    if not adds_error and expected.usage != got.usage:
        return ["usage:", f"  as recorded  {expected.usage}", f"  mutated      {got.usage}"]
    return None


# -- checking -----------------------------------------------------------------------------------

Status = Literal["passed", "failed", "not applicable"]


@dataclass(frozen=True, slots=True)
class HazardOutcome:
    """One hazard on one cassette: passed, failed (with the shrunk sites) or not applicable."""

    path: str
    hazard: str
    status: Status
    sites: int = 0
    shrunk: tuple[Site, ...] = ()
    shrink_steps: int = 0
    difference: tuple[str, ...] = ()
    cassette: Cassette | None = field(default=None, repr=False, compare=False)
    written: Path | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def describe(self) -> list[str]:
        """The report: one line when it passed, the sites and the difference when it failed."""
        if self.status == "not applicable":
            return [f"{self.path}: {self.hazard}: not applicable (nothing to rewrite)"]
        if self.status == "passed":
            return [f"{self.path}: {self.hazard}: ok ({_count(self.sites, 'site')})"]
        hazard = HAZARDS.get(self.hazard)
        lines = [f"{self.path}: {self.hazard}: the merged messages change"]
        if hazard is not None:
            lines.append(f"  hazard: {hazard.summary}")
            lines.append(f"  source: {hazard.source}")
        lines.append(
            f"  smallest mutation found: {_count(len(self.shrunk), 'site')} of {self.sites}"
            f" (shrunk in {_count(self.shrink_steps, 'replay')})"
        )
        lines += [f"    {line}" for line in _show_sites(self.cassette, self.shrunk)]
        lines += [f"  {line}" for line in self.difference]
        if self.written is not None:
            lines.append(f"  reproducing cassette written to {self.written}")
        return lines


def _count(n: int, one: str) -> str:
    return f"{n} {one if n == 1 else one + 's'}"


def _show_sites(cassette: Cassette | None, sites: Sequence[Site]) -> list[str]:
    lines = []
    for site in sites[:8]:
        edit = site.edit
        where = f"interaction {site.interaction}, byte {edit.start}"
        if edit.action == "cut":
            lines.append(f"{where}: a read ends here")
        elif edit.action == "join":
            lines.append(f"{where}: the recorded read boundary is removed")
        else:
            old = b""
            if cassette is not None:
                old = cassette.interactions[site.interaction].response.body[edit.start : edit.end]
            lines.append(f"{where}: {old!r} -> {edit.data[:80]!r}")
    if len(sites) > 8:
        lines.append(f"... and {len(sites) - 8} more")
    return lines


class _Guarded:
    """A user's reader whose own exceptions become decode errors, reported in the replay."""

    def __init__(self, inner: BodyDecoder) -> None:
        self.inner = inner

    def feed(self, data: bytes) -> Any:
        return self._call(lambda: list(self.inner.feed(data)))

    def close(self) -> Any:
        return self._call(lambda: list(self.inner.close()))

    @staticmethod
    def _call(action: Any) -> Any:
        try:
            return action()
        except StreamreelError:
            raise
        except Exception as exc:  # a user's reader may raise anything; the report says what
            raise StreamDecodeError(
                f"cannot read the body: expected the reader to return chunks, got "
                f"{type(exc).__name__}: {exc}; fix the reader"
            ) from None


def _guard(decoder: DecoderFactory | None) -> DecoderFactory | None:
    if decoder is None:
        return None
    build = decoder

    def guarded(kind: StreamKind) -> BodyDecoder:
        return _Guarded(build(kind))  # a refusal (UnsupportedStreamError) is replay's to report

    return guarded


def check_hazard(
    cassette: Cassette,
    hazard: Hazard | str,
    *,
    parser: ParserFactory | None = None,
    settings: InterfaceSettings | None = None,
    expect_reasoning_content: ReasoningChoice = None,
    decoder: DecoderFactory | None = None,
    provider: str | None = None,
    api: str | None = None,
    shrink_budget: int = 200,
    baseline: ReplayResult | None = None,
    sites: Sequence[Site] | None = None,
) -> HazardOutcome:
    """Replay ``cassette`` rewritten by ``hazard`` and compare it with the recording.

    ``decoder`` reads the bytes instead of streamreel's decoder (both replays use it);
    ``baseline`` is the recording's replay and ``sites`` the hazard's
    (:func:`hazard_sites`), when the caller already has them.
    """
    chosen = HAZARDS[hazard] if isinstance(hazard, str) else hazard
    name = str(cassette.path) if cassette.path is not None else "(in memory)"
    if sites is None:
        sites = hazard_sites(cassette, chosen, provider=provider, api=api, decoder=decoder)
    if not sites:
        return HazardOutcome(name, chosen.name, "not applicable")
    options: dict[str, Any] = {
        "parser": parser,
        "settings": settings,
        "expect_reasoning_content": expect_reasoning_content,
        "decoder": _guard(decoder),
        "provider": provider,
        "api": api,
    }
    expected = _view(baseline if baseline is not None else replay(cassette, **options))

    def difference(chosen_sites: Sequence[Site]) -> list[str] | None:
        mutated = {site.interaction for site in chosen_sites}
        got = _view(replay(mutate(cassette, chosen_sites), **options))
        return _difference(expected, got, adds_error=chosen.adds_error, mutated=mutated)

    if difference(sites) is None:
        return HazardOutcome(name, chosen.name, "passed", sites=len(sites))
    smallest, steps = shrink_items(
        list(sites),
        lambda candidate: bool(candidate) and difference(candidate) is not None,
        budget=shrink_budget,
    )
    final = difference(smallest)
    assert final is not None
    return HazardOutcome(
        name,
        chosen.name,
        "failed",
        sites=len(sites),
        shrunk=tuple(smallest),
        shrink_steps=steps,
        difference=tuple(final),
        cassette=cassette,
    )


def save_reproduction(outcome: HazardOutcome, folder: str | Path) -> Path:
    """Write a failure's shrunk mutated cassette into ``folder``, scrubbed; return its path.

    The file is named after the cassette and the hazard (``NAME.HAZARD.yaml``).
    """
    from streamreel.cassettes.scrubbing import Scrubber
    from streamreel.cassettes.storage import save_cassette

    assert outcome.cassette is not None and outcome.failed
    mutated = Scrubber().scrub_cassette(mutate(outcome.cassette, outcome.shrunk))
    stem = Path(outcome.path).stem
    target = Path(folder) / f"{stem}.{outcome.hazard}.yaml"
    save_cassette(mutated, target)
    return target


def is_reader_factory(factory: object) -> bool:
    """Whether ``factory`` is a reader class (``feed`` and ``close``, no ``process_chunk``),
    which reads bytes, rather than a parser factory, which is fed chunks."""
    return (
        isinstance(factory, type)
        and callable(getattr(factory, "feed", None))
        and callable(getattr(factory, "close", None))
        and not hasattr(factory, "process_chunk")
    )


def load_for_fuzzing(
    source: Cassette | str | Path,
) -> tuple[Cassette, str | None, str | None]:
    """A cassette or chunk file, and the provider and API a chunk file is replayed as."""
    if isinstance(source, Cassette):
        return source, None, None
    from streamreel.cassettes.discovery import is_chunk_file

    if is_chunk_file(source):
        from streamreel.cassettes import chunkfile

        return chunkfile.read_chunk_file(source), chunkfile.PROVIDER, chunkfile.API
    from streamreel.cassettes.storage import load_cassette

    return load_cassette(source), None, None


def fuzz_hazards(
    source: Cassette | str | Path,
    hazards: str | Sequence[str] | Sequence[Hazard] = "all",
    *,
    parser: ParserFactory | None = None,
    settings: InterfaceSettings | None = None,
    expect_reasoning_content: ReasoningChoice = None,
    decoder: DecoderFactory | None = None,
    save_to: str | Path | None = None,
    shrink_budget: int = 200,
) -> list[HazardOutcome]:
    """Every chosen hazard on one cassette; failures are written into ``save_to`` when given.

    Raises :class:`~streamreel.core.errors.StreamreelError` for a cassette that cannot be read.
    """
    if isinstance(hazards, str) or (hazards and isinstance(next(iter(hazards)), str)):
        chosen = select_hazards(hazards)  # type: ignore[arg-type]
    else:
        chosen = list(hazards)  # type: ignore[arg-type]
    cassette, provider, api = load_for_fuzzing(source)
    options: dict[str, Any] = {
        "parser": parser,
        "settings": settings,
        "expect_reasoning_content": expect_reasoning_content,
        "decoder": decoder,
        "provider": provider,
        "api": api,
    }
    baseline: ReplayResult | None = None
    outcomes = []
    for hazard in chosen:
        found = hazard_sites(cassette, hazard, provider=provider, api=api, decoder=decoder)
        if baseline is None and found:
            baseline = replay(cassette, **{**options, "decoder": _guard(decoder)})
        outcome = check_hazard(
            cassette,
            hazard,
            shrink_budget=shrink_budget,
            baseline=baseline,
            sites=found,
            **options,
        )
        if outcome.failed and save_to is not None:
            written = save_reproduction(outcome, save_to)
            outcome = HazardOutcome(
                outcome.path, outcome.hazard, outcome.status, outcome.sites, outcome.shrunk,
                outcome.shrink_steps, outcome.difference, outcome.cassette, written,
            )  # fmt: skip
        outcomes.append(outcome)
    return outcomes
