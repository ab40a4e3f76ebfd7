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
``sdk_stream``
    A callable: ``sdk_stream(name=None, *, index=None, sdk=None, asynchronous=False,
    pace=False)`` returns the official SDK's own stream of a recorded response (the cassette
    named by the marker without a name), decoded by the SDK
    (:func:`streamreel.playback.sdkstream.sdk_stream`); with ``asynchronous=True``, an
    awaitable of the SDK's async stream. For a parser test: ``list(MyParser().process(
    sdk_stream()))``.
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
    Any shape replay drives will do, ``process(stream)`` over the SDK's own stream included.
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
    from streamreel.testing.inventory import Inventory, Ledger
    from streamreel.testing.replayer import CassetteReplayer

# This module is imported by every pytest run in an environment where streamreel is installed,
# so it imports only pytest and the standard library; what a fixture needs is imported when the
# fixture runs (``tests/test_layers.py`` checks it).

__all__ = ["Options"]


@dataclass(frozen=True, slots=True)
class Options:
    """The command line's (and ini file's) part of the configuration, read once per session."""

    cassette_dir: Path | None = None
    record_mode: str | None = None
    parser: ParserFactory | None = None
    knobs: tuple[tuple[str, bool | str], ...] = ()
    strict: bool = False
    allow_repeats: bool = False
    unused: str = "report"
    network: str = "replay"
    allow_hosts: tuple[str, ...] = ()


_OPTIONS = pytest.StashKey[Options]()
_UNUSED_CHOICES = ("report", "fail", "delete", "off")
_NETWORK_CHOICES = ("replay", "block", "allow")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# The fixtures that make a test a streamreel test, for the network guard and the inventory.
_FIXTURES = frozenset({"replay", "streamreel_record", "stream_snapshot", "stream_snapshot_deltas"})


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
    group.addoption(
        "--streamreel-strict",
        action="store_true",
        default=None,
        help="Fail a test whose streamreel_record block leaves recorded interactions unplayed "
        "(default: on when CI is set; ini streamreel_strict).",
    )
    group.addoption(
        "--streamreel-no-strict",
        action="store_false",
        dest="streamreel_strict",
        help="Do not fail a test for unplayed interactions, even under CI.",
    )
    group.addoption(
        "--streamreel-allow-repeats",
        action="store_true",
        default=None,
        help="Let a recorded interaction answer again once every match has answered "
        "(ini streamreel_allow_repeats; per test: cassette marker allow_repeats=True).",
    )
    group.addoption(
        "--streamreel-unused",
        choices=_UNUSED_CHOICES,
        default=None,
        help="What to do with cassettes no test used: report (default), fail the run, delete "
        "them, or off (ini streamreel_unused).",
    )
    group.addoption(
        "--streamreel-network",
        choices=_NETWORK_CHOICES,
        default=None,
        help="Refuse connections beyond loopback: in streamreel tests whose record mode is "
        "none (replay, the default), in every test (block), or never (allow) "
        "(ini streamreel_network).",
    )
    parser.addini(
        "streamreel_strict",
        "Fail tests that leave recorded interactions unplayed: true, false, or empty for "
        "'when CI is set'.",
        default="",
    )
    parser.addini(
        "streamreel_allow_repeats",
        "Let a recorded interaction answer more than once (true/false).",
        default="",
    )
    parser.addini(
        "streamreel_unused",
        "What to do with unused cassettes: report, fail, delete or off.",
        default="report",
    )
    parser.addini(
        "streamreel_network",
        "Where to refuse connections beyond loopback: replay, block or allow.",
        default="replay",
    )
    parser.addini(
        "streamreel_allow_hosts",
        "Hosts a guarded test may still connect to, one a line.",
        type="linelist",
        default=[],
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

    if not wanted(file_path, parent.config.rootpath):
        return None
    return CampaignFile.from_parent(parent, path=file_path)


_SESSIONS: list[pytest.Config] = []
"""The sessions open in this process, outermost first (pytester runs one inside another)."""


def pytest_collection_finish(session: pytest.Session) -> None:
    # Only a process's own session settles its heap: one run inside another (pytester's
    # in-process runs) would set the outer session's objects aside too, for good.
    if session.config.getoption("streamreel_fuzz") and _SESSIONS[:1] == [session.config]:
        from streamreel.testing.campaign import settle

        settle()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if config in _SESSIONS:
        _SESSIONS.remove(config)


def pytest_configure(config: pytest.Config) -> None:
    _SESSIONS.append(config)
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
        from streamreel.playback.factories import load_factory
        from streamreel.testing.diff import parse_knobs

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
        strict=_flag(config, "streamreel_strict", when_unset=_in_ci()),
        allow_repeats=_flag(config, "streamreel_allow_repeats", when_unset=False),
        unused=_choice(config, "streamreel_unused", _UNUSED_CHOICES),
        network=_choice(config, "streamreel_network", _NETWORK_CHOICES),
        allow_hosts=tuple(str(host) for host in config.getini("streamreel_allow_hosts")),
    )
    config.pluginmanager.register(_Run(config), _RUN_NAME)


def _in_ci() -> bool:
    from streamreel.recording.modes import in_ci

    return in_ci()


def _flag(config: pytest.Config, name: str, *, when_unset: bool) -> bool:
    """A yes/no setting: the command line, else the ini key, else ``when_unset``."""
    given = config.getoption(name, None)
    if given is not None:
        return bool(given)
    text = str(config.getini(name)).strip().lower()
    if not text:
        return when_unset
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise pytest.UsageError(
        f"cannot read the ini key {name}: expected true or false (or nothing), got {text!r}; "
        "do fix it in the pytest configuration"
    )


def _choice(config: pytest.Config, name: str, choices: Sequence[str]) -> str:
    given = config.getoption(name, None)
    text = str(given if given is not None else config.getini(name)).strip().lower()
    if text not in choices:
        raise pytest.UsageError(
            f"cannot read the ini key {name}: expected one of {', '.join(choices)}, got "
            f"{text!r}; do fix it in the pytest configuration"
        )
    return text


def _options(config: pytest.Config) -> Options:
    return config.stash.get(_OPTIONS, Options())


# -- the run: network guard, cassette ledger, unused cassettes ---------------------------------

_RUN_NAME = "streamreel-run"
_LEDGER_KEY = "streamreel_ledger"


class _Run:
    """Per-run state: which test is guarded, and what the tests used (for unused cassettes)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.options = _options(config)
        self.ledger: Ledger | None = None
        self.inventory: Inventory | None = None
        self.deleted: list[Path] = []
        self.guarded: str | None = None

    # The cassette ledger. -----------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.options.unused == "off":
            return
        from streamreel.cassettes import usage
        from streamreel.testing.inventory import Ledger

        self.ledger = Ledger()
        usage.watch(self.ledger.use)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.ledger is not None:
            from streamreel.cassettes import usage

            usage.unwatch(self.ledger.use)

    def note_test(self, item: pytest.Item) -> None:
        if self.ledger is None:
            return
        names = [str(mark.args[0]) for mark in item.iter_markers("cassette") if mark.args]
        uses = bool(names) or bool(_FIXTURES.intersection(getattr(item, "fixturenames", ())))
        self.ledger.add_test(item.nodeid, names, uses)

    def note_folders(self, folders: Sequence[Path]) -> None:
        if self.ledger is not None:
            self.ledger.folders.update(str(folder) for folder in folders if folder.is_dir())

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            self.note_test(item)

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        for item in items:
            self.note_test(item)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.ledger is not None and report.failed:
            self.ledger.gaps.append(
                f"{report.nodeid or 'a module'} failed to collect, so its tests' cassettes are "
                "unknown"
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.ledger is None:
            return
        if report.failed or report.skipped:
            self.ledger.unfinished.add(report.nodeid)
        elif report.when == "call":
            self.ledger.passed.add(report.nodeid)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """pytest-xdist: a worker finished; pool what it used with the others'."""
        if self.ledger is None:
            return
        text = getattr(node, "workeroutput", {}).get(_LEDGER_KEY)
        if text is None:
            self.ledger.gaps.append(
                f"worker {getattr(node.gateway, 'id', '?')} stopped before reporting what it used"
            )
            return
        self.ledger.merge(text)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.ledger is None:
            return
        if hasattr(self.config, "workerinput"):
            self.config.workeroutput[_LEDGER_KEY] = self.ledger.to_json()  # type: ignore[attr-defined]
            return
        if not self.ledger.folders:
            return  # no test used streamreel's fixtures: nothing to judge
        from streamreel.testing.inventory import covers, take_inventory

        whole, roots = _run_scope(self.config)
        folders = [Path(folder) for folder in sorted(self.ledger.folders)]
        covered = [folder for folder in folders if covers(folder, roots, whole)]
        self.inventory = take_inventory(self.ledger, covered=covered)
        if self.inventory.blockers:
            return
        if self.options.unused == "delete":
            for path in self.inventory.unused:
                path.unlink(missing_ok=True)
                self.deleted.append(path)
        elif (
            self.options.unused == "fail"
            and self.inventory.unused
            and session.exitstatus == pytest.ExitCode.OK
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        inventory = self.inventory
        if inventory is None or not (inventory.unused or inventory.blockers):
            return
        write = terminalreporter.write_line
        terminalreporter.write_sep("-", "streamreel: unused cassettes")
        if inventory.blockers:
            write(f"not checked: {inventory.blockers[0]}")
            if len(inventory.blockers) > 1:
                write(f"(and {len(inventory.blockers) - 1} more like it)")
            return
        root = self.config.rootpath
        verb = "deleted" if self.deleted else "unused"
        count = len(inventory.unused)
        write(f"{count} cassette{'s' if count != 1 else ''} {verb} (no test of this run used it):")
        for path in inventory.unused:
            write(f"  {_shown(path, root)}")
        if not self.deleted:
            write(
                "delete them with --streamreel-unused delete, or fail the run on them with "
                "--streamreel-unused fail"
            )

    # The network guard. -------------------------------------------------------------------

    def guard_reason(self, item: pytest.Item) -> str | None:
        """Why ``item`` may reach loopback only, or None when it may reach anything."""
        network = self.options.network
        if network == "allow":
            return None
        if network == "block":
            return "running with --streamreel-network block"
        marker = item.get_closest_marker("cassette")
        if marker is None and not _FIXTURES.intersection(getattr(item, "fixturenames", ())):
            return None
        mode = self.options.record_mode or (marker.kwargs.get("record_mode") if marker else None)
        if mode is None:
            if not _in_ci():
                return None
            return "replaying with record mode none (the default when CI is set)"
        return "replaying with record mode none" if mode == "none" else None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: object) -> Any:
        reason = self.guard_reason(item)
        if reason is None:
            yield
            return
        from streamreel.testing import guard

        marker = item.get_closest_marker("cassette")
        hosts = [
            *self.options.allow_hosts,
            *(marker.kwargs.get("allow_hosts", ()) if marker else ()),
        ]
        guard.guard(item.nodeid, reason=reason, allowed=hosts)
        self.guarded = item.nodeid
        try:
            yield
        finally:
            if self.guarded is not None:  # not lifted by a test that records after all
                self.guarded = None
                guard.release()

    def lift_guard(self) -> None:
        """The test records for real after all (its record mode came from a fixture)."""
        if self.guarded is not None:
            from streamreel.testing import guard

            guard.release()
            self.guarded = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        if self.guarded is None or call.when != "call":
            return
        from streamreel.testing import guard

        refused = guard.refusals()
        report = outcome.get_result()
        if refused and report.passed:
            # The client caught the refusal and carried on; the test must still fail.
            report.outcome = "failed"
            report.longrepr = (
                f"{item.nodeid} tried to connect beyond loopback ({', '.join(refused)}) while "
                "replaying; the client swallowed the refusal. Replay the traffic through "
                "streamreel_record, allow the host (cassette marker allow_hosts=[...], ini "
                "streamreel_allow_hosts) or run with --streamreel-network allow."
            )


def _run(config: pytest.Config) -> _Run | None:
    plugin = config.pluginmanager.get_plugin(_RUN_NAME)
    return plugin if isinstance(plugin, _Run) else None


def _run_scope(config: pytest.Config) -> tuple[bool, list[Path]]:
    """Whether the run collected the whole suite, and the folders it was pointed at.

    A run started with no arguments (``testpaths``, or the rootdir) is whole; so is one whose
    folder arguments hold every ``testpaths`` entry. A file or a test id covers no folder.
    """
    root = config.rootpath
    source = config.args_source
    if source == pytest.Config.ArgsSource.TESTPATHS:
        return True, []
    roots = []
    for arg in config.args:
        if "::" in arg:
            continue
        path = (config.invocation_params.dir / arg).resolve()
        if path.is_dir():
            roots.append(path)
    if any(path == root for path in roots):
        return True, roots
    testpaths = [(root / entry).resolve() for entry in config.getini("testpaths")]
    whole = bool(testpaths) and all(
        any(path == r or r in path.parents for r in roots) for path in testpaths
    )
    return whole, roots


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


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

    folders = _folders(request, streamreel_cassette_dirs)
    run = _run(request.config)
    if run is not None:
        run.note_folders(folders)
    return CassetteReplayer(
        folders=folders,
        options=_options(request.config),
        marker=request.node.get_closest_marker("cassette"),
        settings=streamreel_settings,
        parser=streamreel_parser,
    )


@pytest.fixture
def sdk_stream(replay: CassetteReplayer) -> Callable[..., Any]:
    """``sdk_stream("name")`` -> the SDK's own stream of that cassette's recorded response."""
    from streamreel.playback.sdkstream import async_sdk_stream
    from streamreel.playback.sdkstream import sdk_stream as build

    def stream(
        name: str | Path | None = None,
        *,
        index: int | None = None,
        sdk: str | None = None,
        asynchronous: bool = False,
        pace: bool = False,
    ) -> Any:
        path = replay.path(name)
        if asynchronous:
            return async_sdk_stream(path, index=index, sdk=sdk, pace=pace)
        return build(path, index=index, sdk=sdk, pace=pace)

    return stream


@pytest.fixture
def streamreel_record(
    request: pytest.FixtureRequest,
    replay: CassetteReplayer,
    streamreel_record_mode: str | None,
) -> Callable[..., AbstractContextManager[Any]]:
    """``with streamreel_record("name"):`` records or replays the HTTP calls in the block."""
    from streamreel.recording.modes import RecordMode, resolve_mode
    from streamreel.recording.recorder import record
    from streamreel.testing.replayer import new_cassette_path

    options = _options(request.config)
    marker_mode = replay.marker_kwargs.get("record_mode")
    mode = options.record_mode or marker_mode or streamreel_record_mode
    strict = bool(replay.marker_kwargs.get("strict", options.strict))
    repeats = bool(replay.marker_kwargs.get("allow_repeats", options.allow_repeats))
    run = _run(request.config)
    if run is not None and resolve_mode(mode) is not RecordMode.NONE:
        run.lift_guard()

    def start(name: str | Path | None = None) -> AbstractContextManager[Any]:
        return record(
            new_cassette_path(replay.name(name), replay.folders),
            mode=mode,
            strict=strict,
            allow_repeats=repeats,
        )

    return start


def _snapshot(request: pytest.FixtureRequest) -> SnapshotAssertion:
    # syrupy's fixture, asked for by name: without syrupy (the [pytest] extra) pytest would say
    # only "fixture 'snapshot' not found"; importing the extension first names what to install.
    import streamreel.testing.snapshot  # noqa: F401

    snapshot: SnapshotAssertion = request.getfixturevalue("snapshot")
    return snapshot


@pytest.fixture
def stream_snapshot(request: pytest.FixtureRequest) -> SnapshotAssertion:
    """syrupy's ``snapshot``, writing a replay's merged messages to one ``.jsonl`` per test."""
    from streamreel.testing.snapshot import StreamSnapshotExtension

    return _snapshot(request).use_extension(StreamSnapshotExtension)


@pytest.fixture
def stream_snapshot_deltas(request: pytest.FixtureRequest) -> SnapshotAssertion:
    """Like ``stream_snapshot``, with the raw deltas instead of the merged messages."""
    from streamreel.testing.snapshot import StreamDeltasSnapshotExtension

    return _snapshot(request).use_extension(StreamDeltasSnapshotExtension)
