"""Hypothesis strategies for re-splitting streams, to property-test a parser with your cassettes.

The fuzzer (:mod:`streamreel.testing.fuzz`) draws splits with its own seeded generator so that the
command
line needs no Hypothesis; these strategies draw the same kind of splits through Hypothesis, which
then shrinks a failing one for you and keeps it in its example database::

    from hypothesis import given
    from streamreel.cassettes.storage import load_cassette
    from streamreel.testing.strategies import assert_split_invariant, rechunked

    CASSETTE = load_cassette("cassettes/send-message.yaml")

    @given(rechunked(CASSETTE))
    def test_my_parser_ignores_where_the_stream_is_cut(variant):
        assert_split_invariant(variant, parser=my_parser_factory)

Cut points favour the places that break parsers (:func:`streamreel.testing.fuzz.interesting_cuts`),
and
Hypothesis shrinks towards fewer cuts, so a failure usually comes down to one or two.

This module imports Hypothesis, which ``pip install 'streamreel[hypothesis]'`` brings; nothing
else in streamreel imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from streamreel.core.cassette import Cassette
from streamreel.core.errors import MissingExtraError
from streamreel.core.parser import InterfaceSettings
from streamreel.playback.replay import ParserFactory, replay
from streamreel.testing.fuzz import (
    MAX_CUTS,
    Layout,
    Split,
    Variant,
    compare_views,
    interesting_cuts,
    layout,
    merged_view,
    split_at,
)

try:
    from hypothesis import strategies as st
except ImportError as exc:  # Hypothesis is the [hypothesis] extra
    raise MissingExtraError("streamreel.testing.strategies", "hypothesis", "hypothesis") from exc

__all__ = [
    "assert_split_invariant",
    "cut_points",
    "rechunked",
    "splits",
]

_Text = TypeVar("_Text", bytes, str)


def cut_points(
    data: bytes | str,
    *,
    max_cuts: int = 64,
    interesting: Sequence[int] | None = None,
) -> st.SearchStrategy[tuple[int, ...]]:
    """Sorted, distinct cut points inside ``data`` (``1 .. len(data) - 1``).

    About half are drawn from ``interesting`` (by default
    :func:`~streamreel.testing.fuzz.interesting_cuts`
    of ``data``), the rest anywhere. Shrinks towards no cuts at all.
    """
    if len(data) < 2:
        return st.just(())
    chosen = interesting_cuts(data) if interesting is None else interesting
    anywhere = st.integers(min_value=1, max_value=len(data) - 1)
    point = st.one_of(st.sampled_from(chosen), anywhere) if chosen else anywhere
    limit = max(0, min(max_cuts, MAX_CUTS, len(data) - 1))
    return st.lists(point, max_size=limit).map(lambda cuts: tuple(sorted(set(cuts))))


def splits(data: _Text, *, max_cuts: int = 64) -> st.SearchStrategy[list[_Text]]:
    """``data`` cut into pieces (joined, they give ``data`` back), biased like the fuzzer."""
    return cut_points(data, max_cuts=max_cuts).map(lambda cuts: split_at(data, cuts))


def _split_of(shape: Layout, max_cuts: int) -> st.SearchStrategy[Split]:
    body = st.fixed_dictionaries(
        {
            site: cut_points(data, max_cuts=max_cuts, interesting=shape.interesting(("body", site)))
            for site, data in shape.bodies.items()
        }
    )
    text = st.fixed_dictionaries(
        {
            site: cut_points(
                run.text, max_cuts=max_cuts, interesting=shape.interesting(("text", site))
            )
            for site, run in enumerate(shape.runs)
        }
    )
    return st.builds(
        lambda b, t: Split({k: v for k, v in b.items() if v}, {k: v for k, v in t.items() if v}),
        body,
        text,
    )


def rechunked(
    cassette: Cassette,
    *,
    max_cuts: int = 64,
    provider: str | None = None,
    api: str | None = None,
) -> st.SearchStrategy[Variant]:
    """The cassette under random splits of its bodies (reads) and text runs (chunks).

    The cassette is decoded once, when the strategy is built; each example is a
    :class:`~streamreel.testing.fuzz.Variant` to replay with any parser.
    """
    shape = layout(cassette, provider=provider, api=api)
    return _split_of(shape, max_cuts).map(lambda split: Variant(cassette, shape, split))


def assert_split_invariant(
    variant: Variant,
    *,
    parser: ParserFactory | None = None,
    settings: InterfaceSettings | None = None,
    expect_reasoning_content: bool | None = None,
) -> None:
    """Fail unless ``variant`` replays to the same merged messages as the cassette as recorded.

    The message names the first differing message and shows the split, so the failure Hypothesis
    reports after shrinking reads on its own.
    """
    expected = merged_view(
        replay(
            variant.cassette,
            parser=parser,
            settings=settings,
            expect_reasoning_content=expect_reasoning_content,
            provider=variant.layout.provider,
            api=variant.layout.api,
        )
    )
    got = merged_view(
        variant.replay(
            parser=parser, settings=settings, expect_reasoning_content=expect_reasoning_content
        )
    )
    difference = compare_views(expected, got)
    if difference is not None:
        lines = [
            "the merged messages change when the stream is cut differently",
            *variant.describe(),
            *difference.describe(),
        ]
        raise AssertionError("\n".join(lines))
