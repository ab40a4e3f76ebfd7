"""The pytest plugin streamreel registers (entry point ``pytest11``, name ``streamreel``).

It replays cassettes by name and snapshots what the parser makes of them::

    @pytest.mark.cassette("send-message")
    def test_send_message(replay, stream_snapshot):
        assert stream_snapshot == replay()

Fixtures
--------
``replay``
    A callable: ``replay(name=None, *, settings=None, parser=None,
    expect_reasoning_content=None, interactions=None, provider=None, api=None)`` returns a
    :class:`~streamreel.core.results.ReplayResult`. Without a name it replays the cassette named by
    the
    test's ``cassette`` marker. ``replay.path(name)`` is where a name resolves to.
``stream_snapshot`` / ``stream_snapshot_deltas``
    syrupy's ``snapshot`` with :class:`~streamreel.testing.snapshot.StreamSnapshotExtension`: one
    ``.jsonl`` file per test under ``__snapshots__/<test module>/``, the merged messages (or the
    raw deltas). A test that uses both must name one of them (``stream_snapshot(name="x")``),
    as both would otherwise write the same file.
``streamreel_cassette_dirs``, ``streamreel_settings``, ``streamreel_parser``,
``streamreel_record_mode``
    The configuration, as fixtures a ``conftest.py`` overrides (see below).
``streamreel_record``
    ``with streamreel_record("name"): ...`` records or replays the HTTP calls made in the block
    (:func:`streamreel.recording.recorder.record`), with the cassette path and record mode resolved
    here.

Marker
------
``@pytest.mark.cassette(name, **options)``: the cassette ``replay()`` and ``streamreel_record()``
use when given no name. ``options`` are interface knobs (``use_assistant_message=False``,
``inner_thoughts_kwarg="thoughts"``, ... and ``expect_reasoning_content=True``), ``parser=`` (a
factory) and ``record_mode=``.

Command-line options
--------------------
``--streamreel-cassettes DIR``
    Look for cassettes in DIR only (relative to where pytest was started).
``--streamreel-record-mode none|once|new_episodes|all``
    The record mode for ``streamreel_record``; unset, the recorder picks ``once`` (``none`` when
    the ``CI`` environment variable is set).
``--streamreel-parser MODULE:FACTORY``
    Replay through this parser instead: run a whole snapshot suite against a candidate parser.
``--streamreel-settings KEY=VALUE``
    Set one interface knob for every replay (repeatable).
``--streamreel-fuzz``
    Collect the cassettes beneath the paths given as a fuzz campaign: one item per cassette
    and seed, cassette and hazard, and (with ``--streamreel-diff-against``) a diff per
    cassette, for pytest-xdist to spread (:mod:`streamreel.testing.campaign`, which also
    lists ``--streamreel-fuzz-seed``, ``-seeds``, ``-examples``, ``--streamreel-hazards``,
    ``--streamreel-reader`` and ``--streamreel-failures``).

Precedence
----------
Each value is taken from the first of these that sets it:

1. the command line (``--streamreel-*``), because it is how CI or a developer says "this run,
   everything";
2. the arguments of the ``replay(...)`` call, then the ``cassette`` marker's keyword arguments,
   because they are the test's own, most specific choice;
3. the fixture a ``conftest.py`` overrides (``streamreel_settings``, ``streamreel_parser``,
   ``streamreel_record_mode``, ``streamreel_cassette_dirs``), the project-wide choice;
4. the default: streamreel's parser with Letta's server settings (assistant messages on),
   and the recorder's own record mode.

Settings merge knob by knob: ``--streamreel-settings use_assistant_message=false`` changes that
knob and keeps the others the test chose. A ``settings=`` object passed to ``replay()`` replaces
the marker's and the fixture's settings whole.

Where cassettes are found
-------------------------
A name is looked up in these folders, first match wins:

1. ``cassettes/`` beside the test file;
2. ``cassettes/`` in the project's root directory (pytest's ``rootdir``).

The nearer folder comes first so that a test module can keep a cassette of its own that shadows
a shared one of the same name, the way a ``conftest.py`` shadows an outer one; the project's
bundled cassettes are found from any test. ``--streamreel-cassettes DIR`` replaces the list with
DIR alone, and overriding ``streamreel_cassette_dirs`` replaces it with the fixture's list.

A name resolves inside these folders only: one that climbs out of them (``../../x``) or an
absolute path elsewhere is refused before any file is opened, so a name can neither record
over a file outside the folders nor have one read and quoted in an error. A name without a
suffix also matches ``NAME.yaml``, ``.yml``, ``.json`` and ``.har``. A chunk
file (``.jsonl``, one ``chat.completion.chunk`` a line) is replayed as one interaction. A
cassette that does not exist yet is recorded into the first folder of the list that exists,
else into the last one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from streamreel.recording.modes import RECORD_MODES

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion

    from streamreel.core.parser import InterfaceSettings
    from streamreel.playback.replay import ParserFactory
    from streamreel.testing.replayer import CassetteReplayer

# This module is imported by every pytest run in an environment where streamreel is installed,
# so it imports only pytest and the standard library; what a fixture needs is imported when the
# fixture runs (``tests/test_layers.py`` checks it).

__all__ = ["Options"]


@dataclass(frozen=True, slots=True)
class Options:
    """The command line's part of the configuration, read once per session."""

    cassette_dir: Path | None = None
    record_mode: str | None = None
    parser: ParserFactory | None = None
    knobs: tuple[tuple[str, bool | str], ...] = ()


_OPTIONS = pytest.StashKey[Options]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("streamreel", "streamreel: replay and snapshot LLM streams")
    group.addoption(
        "--streamreel-cassettes",
        metavar="DIR",
        default=None,
        help="Look for cassettes in DIR only (default: cassettes/ beside the test file, then "
        "cassettes/ in the rootdir).",
    )
    group.addoption(
        "--streamreel-record-mode",
        choices=RECORD_MODES,
        default=None,
        help="Record mode for streamreel_record (default: the recorder's: once, or none "
        "when CI is set).",
    )
    group.addoption(
        "--streamreel-parser",
        metavar="MODULE:FACTORY",
        default=None,
        help="Replay through this parser factory (called with the InterfaceSettings).",
    )
    group.addoption(
        "--streamreel-settings",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="Set an interface knob for every replay, e.g. use_assistant_message=false "
        "(repeatable).",
    )

    campaign = parser.getgroup("streamreel-fuzz", "streamreel: fuzz campaigns as test items")
    campaign.addoption(
        "--streamreel-fuzz",
        action="store_true",
        default=False,
        help="Collect the cassettes beneath the given paths as fuzz items: one per cassette "
        "and seed, cassette and hazard (and a diff with --streamreel-diff-against).",
    )
    campaign.addoption(
        "--streamreel-fuzz-seed", metavar="S", type=int, default=0, help="First seed (0)."
    )
    campaign.addoption(
        "--streamreel-fuzz-seeds",
        metavar="N",
        type=int,
        default=1,
        help="Seeds of random splits per cassette, one item each (1; 0 for none).",
    )
    campaign.addoption(
        "--streamreel-fuzz-examples",
        metavar="N",
        type=int,
        default=20,
        help="Random splits per seed item (20).",
    )
    campaign.addoption(
        "--streamreel-hazards",
        metavar="all|NAME,...",
        default="all",
        help="Hazards, one item each per cassette that has something to rewrite (all).",
    )
    campaign.addoption(
        "--streamreel-reader",
        metavar="MODULE:FACTORY",
        default=None,
        help="Read the bytes with this reader (called with the StreamKind; feed/close).",
    )
    campaign.addoption(
        "--streamreel-diff-against",
        metavar="MODULE:FACTORY",
        default=None,
        help="Also one item per cassette: the parser under test against this one.",
    )
    campaign.addoption(
        "--streamreel-failures",
        metavar="DIR",
        default=None,
        help="Where failing hazards' reproducing cassettes go (streamreel-failures/ in the "
        "rootdir).",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not parent.config.getoption("streamreel_fuzz"):
        return None
    from streamreel.testing.campaign import CampaignFile, wanted

    if not wanted(file_path):
        return None
    return CampaignFile.from_parent(parent, path=file_path)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cassette(name, **options): the cassette the streamreel fixtures replay or record; "
        "options are interface knobs, expect_reasoning_content, parser and record_mode.",
    )
    # Bad option values are usage errors, reported once before any test runs, not as one
    # failure per test.
    spec = config.getoption("streamreel_parser")
    pairs = config.getoption("streamreel_settings") or []
    knobs: dict[str, bool | str] = {}
    parser = None
    if spec or pairs:
        from streamreel.core.errors import ConfigurationError
        from streamreel.testing.diff import load_factory, parse_knobs

        try:
            knobs = parse_knobs(pairs)
            parser = load_factory(spec) if spec else None
        except ConfigurationError as exc:
            raise pytest.UsageError(str(exc)) from None
    folder = config.getoption("streamreel_cassettes")
    config.stash[_OPTIONS] = Options(
        cassette_dir=(config.invocation_params.dir / folder).resolve() if folder else None,
        record_mode=config.getoption("streamreel_record_mode"),
        parser=parser,
        knobs=tuple(knobs.items()),
    )


def _options(config: pytest.Config) -> Options:
    return config.stash.get(_OPTIONS, Options())


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def streamreel_cassette_dirs(request: pytest.FixtureRequest) -> list[Path]:
    """The folders cassettes are looked up in, nearest first; override to change them."""
    folders = [request.path.parent / "cassettes", request.config.rootpath / "cassettes"]
    return list(dict.fromkeys(folder.resolve() for folder in folders))


@pytest.fixture
def streamreel_settings() -> InterfaceSettings:
    """The interface settings every replay starts from; override for a project-wide choice."""
    from streamreel.core.parser import InterfaceSettings

    return InterfaceSettings(use_assistant_message=True)


@pytest.fixture
def streamreel_parser() -> ParserFactory | None:
    """The parser factory replays go through; None is streamreel's own interface."""
    return None


@pytest.fixture
def streamreel_record_mode() -> str | None:
    """The record mode; None lets the recorder choose (``once``, ``none`` under CI)."""
    return None


def _folders(request: pytest.FixtureRequest, fixture_dirs: Sequence[Path]) -> list[Path]:
    chosen = _options(request.config).cassette_dir
    return [chosen] if chosen is not None else list(fixture_dirs)


@pytest.fixture
def replay(
    request: pytest.FixtureRequest,
    streamreel_cassette_dirs: list[Path],
    streamreel_settings: InterfaceSettings,
    streamreel_parser: ParserFactory | None,
) -> CassetteReplayer:
    """``replay("name")`` -> the :class:`~streamreel.core.results.ReplayResult` of that cassette."""
    from streamreel.testing.replayer import CassetteReplayer

    return CassetteReplayer(
        folders=_folders(request, streamreel_cassette_dirs),
        options=_options(request.config),
        marker=request.node.get_closest_marker("cassette"),
        settings=streamreel_settings,
        parser=streamreel_parser,
    )


@pytest.fixture
def streamreel_record(
    request: pytest.FixtureRequest,
    replay: CassetteReplayer,
    streamreel_record_mode: str | None,
) -> Callable[..., AbstractContextManager[Any]]:
    """``with streamreel_record("name"):`` records or replays the HTTP calls in the block."""
    from streamreel.recording.recorder import record
    from streamreel.testing.replayer import new_cassette_path

    marker_mode = replay.marker_kwargs.get("record_mode")
    mode = _options(request.config).record_mode or marker_mode or streamreel_record_mode

    def start(name: str | Path | None = None) -> AbstractContextManager[Any]:
        return record(new_cassette_path(replay.name(name), replay.folders), mode=mode)

    return start


@pytest.fixture
def stream_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """syrupy's ``snapshot``, writing a replay's merged messages to one ``.jsonl`` per test."""
    from streamreel.testing.snapshot import StreamSnapshotExtension

    return snapshot.use_extension(StreamSnapshotExtension)


@pytest.fixture
def stream_snapshot_deltas(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Like ``stream_snapshot``, with the raw deltas instead of the merged messages."""
    from streamreel.testing.snapshot import StreamDeltasSnapshotExtension

    return snapshot.use_extension(StreamDeltasSnapshotExtension)
