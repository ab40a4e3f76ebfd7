"""What users run, measured against floors: the command line, loading, the player, imports.

:mod:`streamreel.cli.benchmark` measures the core; this module measures what a user waits
for, each figure again a ratio to a floor taken in the same run, on the same files:

* **the command line**: ``streamreel replay`` run as a subprocess, in every output format, on
  a chunk file and on a cassette. Its floor is what any tool must do with the file: read it,
  ``json.loads`` and ``json.dumps`` every event (for a cassette, parse its YAML with libyaml
  first). Start-up (the interpreter, imports) is measured on a stream of a few chunks in the
  same format and subtracted, so the ratio is about the work that grows with the file; start-up
  has its own figure below. The doubling ratio doubles the file.
* **cassette loading**: :func:`~streamreel.cassettes.storage.load_cassette` against libyaml's
  C loader parsing the same text.
* **the player's memory**: the tracemalloc peak of building a
  :class:`~streamreel.notebook.widgets.StreamPlayer` on a long stream and seeking to its end,
  over the memory the replay result already holds; and the time that takes over the replay's.
* **import costs**: ``streamreel --help`` and ``streamreel replay`` of a one-chunk file against
  ``python -c "import click"``, ``import streamreel.core`` against ``import pydantic``, and a
  pytest run in an empty project with the plugin against the same run with
  ``-p no:streamreel``. Every child runs with its bytecode cached (in a folder of the run's own),
  as an installed package runs: pip compiles it at install, and an environment that turns
  caching off would otherwise time the compiler.

Times are CPU seconds (this process's, plus its waited-for children's), best of several runs
taken round-robin, each ratio with the noise allowance its measured spread gives, as in
:mod:`streamreel.cli.benchmark`; memory is tracemalloc's count of
Python allocations, which does not depend on what else the machine runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import yaml

from streamreel.cli.benchmark import (
    NOISE_CAP,
    Timing,
    allowance,
    send_message_lines,
    timed_interleaved,
    within,
)
from streamreel.core.collector import paused
from streamreel.core.errors import StreamreelError

try:
    from yaml import CSafeDumper as _YamlDumper
    from yaml import CSafeLoader as _YamlLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeDumper as _YamlDumper  # type: ignore[assignment]
    from yaml import SafeLoader as _YamlLoader  # type: ignore[assignment]

__all__ = [
    "CLI_FLOOR_TARGET",
    "CORE_IMPORT_TARGET",
    "HELP_TARGET",
    "LOAD_TARGET",
    "OUTPUT_FORMATS",
    "PLAYER_MEMORY_TARGET_MB",
    "PLAYER_TIME_TARGET",
    "PLUGIN_TARGET",
    "REPLAY_STARTUP_TARGET",
    "SCALING_TARGET",
    "BenchError",
    "Measure",
    "child_environment",
    "measure_cassette_cli",
    "measure_cassette_load",
    "measure_chunk_file_cli",
    "measure_imports",
    "measure_player",
]

CLI_FLOOR_TARGET = 2.5
SCALING_TARGET = 2.2
LOAD_TARGET = 1.3
PLAYER_MEMORY_TARGET_MB = 50.0
PLAYER_TIME_TARGET = 1.5
""""About as long as the replay": building every frame is one more pass over the stream."""
HELP_TARGET = 2.5
REPLAY_STARTUP_TARGET = 3.0
"""``streamreel replay`` of a one-chunk file over ``import click``: what a script pays per call."""
CORE_IMPORT_TARGET = 2.0
"""``import streamreel.core`` over ``import pydantic``."""
PLUGIN_TARGET = 1.15
OUTPUT_FORMATS = ("jsonl", "sse", "table")

_STARTUP_CHUNKS = 8
_RESOLUTION = 0.001
"""Work left after subtracting start-up counts as at least this: a child's CPU time is kept in
clock ticks, and on tiny streams (the tests') the difference is within a tick or below zero."""
_CLI = (sys.executable, "-c", "import sys; from streamreel.cli import main; sys.exit(main())")


class BenchError(StreamreelError):
    """A measured command failed, so its time means nothing."""


@dataclass(frozen=True, slots=True)
class Measure:
    """One figure of the benchmark: ``value`` (a ratio, or megabytes) against ``target``."""

    name: str
    value: float
    target: float
    unit: str
    detail: str
    noise: float = 0.0
    """This ratio's noise allowance in the run (:func:`streamreel.cli.benchmark.allowance`)."""

    @property
    def meets_target(self) -> bool:
        return within(self.value, self.target, self.noise)

    def shown(self, value: float) -> str:
        return f"{value:.2f}x" if self.unit == "x" else f"{value:.1f} MB"


def _ratio(
    name: str, top: Timing, bottom: Timing, target: float, detail: str, unit: str = "x"
) -> Measure:
    return Measure(name, top.best / bottom.best, target, unit, detail, allowance(top, bottom))


Progress = Callable[[str], None] | None


def _say(progress: Progress, what: str) -> None:
    if progress is not None:
        progress(what)


_BYTECODE = str(Path(tempfile.gettempdir()) / "streamreel-bench-bytecode")
"""Where the measured children keep their compiled bytecode (kept between runs, as pip's is)."""


def child_environment() -> dict[str, str]:
    """The environment a measured child runs in."""
    # Measured as a pipe would run it: no colour, no progress display; and as an installed
    # package runs, from compiled bytecode (see the module docstring).
    environment = {**os.environ, "NO_COLOR": "1", "CI": "1", "PYTHONPYCACHEPREFIX": _BYTECODE}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def _run(command: Sequence[str], *, cwd: Path | None = None, ok: tuple[int, ...] = (0,)) -> None:
    done = subprocess.run(
        list(command),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=child_environment(),
        cwd=cwd,
        check=False,
    )
    if done.returncode not in ok:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise BenchError(
            f"cannot measure {' '.join(command[3:] or command)}: expected exit status"
            f" {' or '.join(map(str, ok))}, got {done.returncode} ({' / '.join(tail)});"
            " run it by hand to see why"
        )


def _replay_cli(path: Path, output_format: str) -> None:
    # Status 1 says a stream held an error message: still a complete replay.
    _run([*_CLI, "replay", str(path), "--format", output_format], ok=(0, 1))


def _lines_floor(path: Path) -> object:
    text = path.read_text(encoding="utf-8")
    return [json.dumps(json.loads(line)) for line in text.splitlines() if line.strip()]


def _cassette_floor(path: Path, payloads: list[str]) -> object:
    with paused():  # as the loader does: the least a YAML reader must spend
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
    return document, [json.dumps(json.loads(payload)) for payload in payloads]


def _cli_measures(
    label: str,
    floor: Callable[[Path], object],
    files: tuple[Path, Path, Path],
    repeats: int,
) -> list[Measure]:
    """The command on ``files`` (the stream, its double, a tiny one) in every format."""
    small, doubled, tiny = files
    actions: list[Callable[[], object]] = [partial(floor, small)]
    for output_format in OUTPUT_FORMATS:
        actions += [
            partial(_replay_cli, small, output_format),
            partial(_replay_cli, tiny, output_format),
        ]
    actions.append(partial(_replay_cli, doubled, "jsonl"))
    timings = timed_interleaved(actions, repeats)
    floor_timing, doubled_timing = timings[0], timings[-1]
    floor_time = floor_timing.best
    measures: list[Measure] = []
    work: dict[str, float] = {}
    spread: dict[str, float] = {}
    for position, output_format in enumerate(OUTPUT_FORMATS):
        whole, startup = timings[1 + 2 * position], timings[2 + 2 * position]
        work[output_format] = max(whole.best - startup.best, _RESOLUTION)
        spread[output_format] = _work_spread(whole, startup, work[output_format])
        measures.append(
            Measure(
                f"replay {label} --format {output_format}",
                work[output_format] / floor_time,
                CLI_FLOOR_TARGET,
                "x",
                f"{whole.best:.2f}s - {startup.best:.2f}s start-up vs {floor_time:.2f}s floor",
                min(spread[output_format] + floor_timing.spread, NOISE_CAP),
            )
        )
    startup = timings[2]  # the jsonl start-up
    doubled_work = max(doubled_timing.best - startup.best, _RESOLUTION)
    measures.append(
        Measure(
            f"replay {label}, doubled",
            doubled_work / work["jsonl"],
            SCALING_TARGET,
            "x",
            f"{doubled_work:.2f}s vs {work['jsonl']:.2f}s (jsonl)",
            min(_work_spread(doubled_timing, startup, doubled_work) + spread["jsonl"], NOISE_CAP),
        )
    )
    return measures


def _work_spread(whole: Timing, startup: Timing, work: float) -> float:
    """The spread of ``whole - startup``: both sides' noise, relative to what is left."""
    return (whole.spread * whole.best + startup.spread * startup.best) / work


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure_chunk_file_cli(
    size: int, *, repeats: int = 3, progress: Progress = None
) -> list[Measure]:
    """``streamreel replay`` on a ``size``-chunk ``send_message`` file, every format."""
    _say(progress, f"the command line on a chunk file of {size} chunks")
    with tempfile.TemporaryDirectory(prefix="streamreel-bench-") as folder:
        base = Path(folder)
        files = (
            _write_lines(base / "stream.jsonl", send_message_lines(size)),
            _write_lines(base / "doubled.jsonl", send_message_lines(2 * size)),
            _write_lines(base / "tiny.jsonl", send_message_lines(_STARTUP_CHUNKS)),
        )
        return _cli_measures("chunk file", _lines_floor, files, repeats)


def _event_payloads(path: Path) -> list[str]:
    from streamreel.cassettes.storage import load_cassette
    from streamreel.cli.benchmark import event_payloads

    return event_payloads(load_cassette(path))


def _write_cassette(path: Path, chunks: int) -> Path:
    from streamreel.cassettes.storage import save_cassette
    from streamreel.testing.synthetic import scaled_cassette

    save_cassette(scaled_cassette(chunks), path)
    return path


def _write_plain_vcr(path: Path, chunks: int) -> Path:
    """The scripted cassette as vcrpy itself writes one: no metadata, no chunk boundaries."""
    document = yaml.load(_write_cassette(path, chunks).read_text(encoding="utf-8"), _YamlLoader)
    document.pop("metadata", None)
    for interaction in document["interactions"]:
        interaction["response"].pop("streamreel", None)
    path.write_text(yaml.dump(document, Dumper=_YamlDumper), encoding="utf-8")
    return path


def measure_cassette_cli(
    size: int, *, repeats: int = 3, progress: Progress = None, plain: bool = False
) -> list[Measure]:
    """``streamreel replay`` on a scripted cassette of about ``size`` chunks, every format.

    ``plain``: the cassette as vcrpy writes it (one body a response, nothing of streamreel's),
    instead of a streamreel recording.
    """
    label = "vcrpy cassette" if plain else "cassette"
    write = _write_plain_vcr if plain else _write_cassette
    _say(progress, f"the command line on a {label} of {size} chunks")
    with tempfile.TemporaryDirectory(prefix="streamreel-bench-") as folder:
        base = Path(folder)
        files = (
            write(base / "cassette.yaml", size),
            write(base / "doubled.yaml", 2 * size),
            write(base / "tiny.yaml", _STARTUP_CHUNKS),
        )
        payloads = _event_payloads(files[0])
        floor = partial(_cassette_floor, payloads=payloads)
        return _cli_measures(label, floor, files, repeats)


def measure_cassette_load(size: int, *, repeats: int = 3, progress: Progress = None) -> Measure:
    """``load_cassette`` against libyaml's C loader on the same file."""
    from streamreel.cassettes.storage import load_cassette

    _say(progress, f"loading a cassette of {size} chunks")
    with tempfile.TemporaryDirectory(prefix="streamreel-bench-") as folder:
        path = _write_cassette(Path(folder) / "cassette.yaml", size)

        def floor() -> object:
            with paused():
                return yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)

        floor_time, load_time = timed_interleaved([floor, partial(load_cassette, path)], repeats)
        return _ratio(
            "load_cassette vs libyaml",
            load_time,
            floor_time,
            LOAD_TARGET,
            f"{load_time.best:.2f}s vs {floor_time.best:.2f}s, {path.stat().st_size / 1e6:.1f} MB",
        )


def measure_player(size: int, *, repeats: int = 3, progress: Progress = None) -> list[Measure]:
    """Build a player on a ``size``-chunk stream and seek to its end: memory and time."""
    from streamreel.notebook.widgets import StreamPlayer
    from streamreel.playback.replay import replay_chunk_file

    _say(progress, f"the player on a stream of {size} chunks")
    with tempfile.TemporaryDirectory(prefix="streamreel-bench-") as folder:
        path = _write_lines(Path(folder) / "stream.jsonl", send_message_lines(size))

        def play(result: object) -> object:
            player = StreamPlayer(result)  # type: ignore[arg-type]
            player.to_end()
            player.close()
            return player

        tracemalloc.start()
        try:
            result = replay_chunk_file(path)
            held = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            play(result)
            peak = tracemalloc.get_traced_memory()[1] - held
        finally:
            tracemalloc.stop()
        replay_time, play_time = timed_interleaved(
            [partial(replay_chunk_file, path), partial(play, result)], repeats
        )
    return [
        Measure(
            "player: memory over the replay result",
            peak / 1e6,
            PLAYER_MEMORY_TARGET_MB,
            "MB",
            f"result holds {held / 1e6:.1f} MB",
        ),
        _ratio(
            "player: build + seek to end vs replay",
            play_time,
            replay_time,
            PLAYER_TIME_TARGET,
            f"{play_time.best:.2f}s vs {replay_time.best:.2f}s",
        ),
    ]


_ONE_CHUNK = (
    '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n'
)
_CLICK_AND_A_MODEL = (
    "import click\n"
    "from pydantic import BaseModel, ConfigDict, Field, TypeAdapter\n"
    "class Model(BaseModel):\n"
    "    model_config = ConfigDict(defer_build=True)\n"
    "    name: str | None = Field(default=None)\n"
)
"""What any command that replays pays before a line of streamreel runs: click, and pydantic
with the field machinery its first model loads (its schema built lazily, as streamreel's are)."""
_STARTUP_ROUNDS = 3
"""Start-up is short, so each round of the other measures is three rounds here."""


def measure_imports(*, repeats: int = 3, progress: Progress = None) -> list[Measure]:
    """What an installed streamreel costs a command line and a pytest run that do not use it."""
    _say(progress, "import costs: streamreel --help and replay, streamreel.core, the plugin")
    with tempfile.TemporaryDirectory(prefix="streamreel-bench-") as folder:
        project = Path(folder)
        (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (project / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
        one_chunk = project / "one.jsonl"
        one_chunk.write_text(_ONE_CHUNK, encoding="utf-8")
        pytest_run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        timings = timed_interleaved(
            [
                partial(_run, [*_CLI, "--help"]),
                partial(_run, [sys.executable, "-c", "import click"]),
                partial(_run, [*_CLI, "replay", str(one_chunk), "--format", "jsonl"]),
                partial(_run, [sys.executable, "-c", "import streamreel.core"]),
                partial(_run, [sys.executable, "-c", "import pydantic"]),
                partial(_run, [sys.executable, "-c", _CLICK_AND_A_MODEL]),
                partial(_run, pytest_run, cwd=project),
                partial(_run, [*pytest_run, "-p", "no:streamreel"], cwd=project),
            ],
            _STARTUP_ROUNDS * repeats,
        )
    (
        help_time, click_time, replay_time, core_time, pydantic_time, floor_time, plugin_time,
        bare_time,
    ) = timings  # fmt: skip
    return [
        _ratio(
            "streamreel --help vs import click",
            help_time,
            click_time,
            HELP_TARGET,
            f"{help_time.best:.3f}s vs {click_time.best:.3f}s",
        ),
        _ratio(
            "replay of one chunk vs import click",
            replay_time,
            click_time,
            REPLAY_STARTUP_TARGET,
            f"{replay_time.best:.3f}s vs {click_time.best:.3f}s; click and one pydantic model"
            f" alone: {floor_time.best / click_time.best:.2f}x",
        ),
        _ratio(
            "import streamreel.core vs pydantic",
            core_time,
            pydantic_time,
            CORE_IMPORT_TARGET,
            f"{core_time.best:.3f}s vs {pydantic_time.best:.3f}s",
        ),
        _ratio(
            "pytest with the plugin vs without",
            plugin_time,
            bare_time,
            PLUGIN_TARGET,
            f"{plugin_time.best:.2f}s vs {bare_time.best:.2f}s, an empty project",
        ),
    ]
