"""The speed benchmark behind ``streamreel bench``.

Every figure is a ratio taken within one run, never an absolute time: machines are shared and
noisy, and a ratio to a floor measured moments before on the same machine cancels most of that.

* **floor ratio**: the time to parse and replay a stream's chunk lines, over the time
  ``json.loads`` takes for the same lines (the least any reader must do). Target: at most 4x.
* **doubling ratio**: the time for a stream twice as long, over the time for the stream. Linear
  code gives 2x; the target allows 2.2x. A quadratic parser gives about 4x.

Each measurement is the best of several repeats, which discards interruptions by other work,
and the floor, the stream and the doubled stream are measured round-robin, so that a change in
the machine's load during the run affects all three alike. What is left of the noise is measured
too: the **spread** of an action is how far its typical round (the lower median) lies above its
best, relative to the best. A ratio's allowance is the spread of its two sides added, at most
:data:`NOISE_CAP`, and a target counts as met when the ratio is within the target stretched by
that allowance. On a quiet machine the spread is near zero and the targets are as written; on a
busy one a ratio that sits just at its target no longer flips between runs, while one clearly
past it still fails. Times are the process's CPU time, not
wall time: replay is single-threaded, and CPU time does not count the moments another process
held the core.

The **cassette case** measures what a user runs: ``replay(path)`` on a large multi-interaction
cassette file (built by :func:`streamreel.testing.synthetic.scaled_cassette`, one interaction per
provider
format, written to a temporary folder). Its floor is the least any cassette replayer must do
with that file: read it, parse its YAML with libyaml, and ``json.loads`` the data of every
event. It is also reported in megabytes of cassette per second, the figure that says how long a
test suite full of cassettes waits; its doubling ratio doubles every stream in the file.
"""

from __future__ import annotations

import gc
import json
import resource
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import yaml

from streamreel.core.cassette import Cassette
from streamreel.core.chunks import parse_chunk
from streamreel.core.collector import paused
from streamreel.core.parser import InterfaceSettings, StreamParser

try:
    from yaml import CSafeLoader as _YamlLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _YamlLoader  # type: ignore[assignment]

__all__ = [
    "CASSETTE_FLOOR_TARGET",
    "FLOOR_TARGET",
    "NOISE_CAP",
    "SCALING_TARGET",
    "BenchCase",
    "BenchResult",
    "CassetteBenchResult",
    "Timing",
    "allowance",
    "best_of_interleaved",
    "cpu_seconds",
    "event_payloads",
    "run_benchmarks",
    "run_cassette_benchmark",
    "send_message_lines",
    "synthetic_cases",
    "timed_interleaved",
    "within",
]

FLOOR_TARGET = 4.0
SCALING_TARGET = 2.2
CASSETTE_FLOOR_TARGET = 2.5
"""``replay()`` in Python, what users run: tighter than :data:`FLOOR_TARGET`, whose floor is
``json.loads`` alone, because this floor includes parsing the file's YAML, which any replayer
pays too."""
NOISE_CAP = 0.15
"""The most a measured spread may stretch a target: past it, the machine is too busy for the run
to say anything, and a miss is reported as one."""
_MESSAGE_ID = "message-00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True, slots=True)
class BenchCase:
    """A workload: ``make(n)`` gives an ``n``-chunk stream's lines, ``replay`` runs them."""

    name: str
    make: Callable[[int], list[str]]
    replay: Callable[[list[str]], object]
    unit: str = "chunks"


@dataclass(frozen=True, slots=True)
class Timing:
    """One action's CPU times, one per round of a round-robin run."""

    samples: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def spread(self) -> float:
        """How far the typical round (the lower median) lies above the best, relative to it."""
        ordered = sorted(self.samples)
        typical = ordered[(len(ordered) - 1) // 2]
        return (typical - ordered[0]) / ordered[0] if ordered[0] > 0 else 0.0


def allowance(*sides: Timing) -> float:
    """The noise allowance of a ratio of these timings: their spreads added, capped."""
    return min(sum(side.spread for side in sides), NOISE_CAP)


def within(ratio: float, target: float, noise: float) -> bool:
    """Whether ``ratio`` meets ``target`` once the run's measured noise is allowed for."""
    return ratio <= target * (1 + noise)


@dataclass(frozen=True, slots=True)
class BenchResult:
    name: str
    size: int
    unit: str
    floor_seconds: float
    replay_seconds: float
    doubled_seconds: float
    floor_noise: float
    """The allowance of the floor ratio (see :func:`allowance`); the doubling ratio's is next."""
    scaling_noise: float

    @property
    def floor_ratio(self) -> float:
        return self.replay_seconds / self.floor_seconds

    @property
    def scaling_ratio(self) -> float:
        return self.doubled_seconds / self.replay_seconds

    @property
    def per_chunk_microseconds(self) -> float:
        return self.replay_seconds / self.size * 1e6

    @property
    def meets_targets(self) -> bool:
        return within(self.floor_ratio, FLOOR_TARGET, self.floor_noise) and within(
            self.scaling_ratio, SCALING_TARGET, self.scaling_noise
        )


def _chunk_line(delta: dict[str, object], finish: str | None = None) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1714521600,
            "model": "gpt-4o-2024-08-06",
            "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
    )


def _tool_call_lines(name: str, arguments: str, n: int) -> list[str]:
    step = max(1, -(-len(arguments) // n))
    head = {"index": 0, "id": "call_bench", "type": "function"}
    lines = [
        _chunk_line(
            {
                "role": "assistant",
                "tool_calls": [{**head, "function": {"name": name, "arguments": ""}}],
            }
        )
    ]
    for i in range(0, len(arguments), step):
        piece = arguments[i : i + step]
        lines.append(_chunk_line({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    lines.append(_chunk_line({}, finish="tool_calls"))
    return lines


def _words(n: int, seed: str) -> str:
    # Mixed text with what costs a JSON reader most: escapes and non-ASCII.
    vocabulary = [
        seed,
        "stream",
        "caf\u00e9",
        '"quoted"',
        "line\nbreak",
        "back\\slash",
        "\U0001f680",
        "ok",
    ]
    return " ".join(vocabulary[i % len(vocabulary)] for i in range(n))


def send_message_lines(n: int) -> list[str]:
    arguments = json.dumps({"inner_thoughts": _words(n // 2, "think"), "message": _words(n, "say")})
    return _tool_call_lines("send_message", arguments, n)


def _large_arguments(n: int) -> list[str]:
    rows = [
        {"id": i, "name": _words(3, "row"), "score": i * 0.5, "ok": i % 2 == 0}
        for i in range(n // 3)
    ]
    arguments = json.dumps(
        {"inner_thoughts": "Writing the table.", "rows": rows, "note": _words(n // 4, "n")}
    )
    return _tool_call_lines("write_table", arguments, n)


def _reasoning(n: int) -> list[str]:
    lines = [_chunk_line({"role": "assistant", "content": ""})]
    lines += [_chunk_line({"reasoning_content": f"step {i} caf\u00e9 "}) for i in range(n // 2)]
    lines += [_chunk_line({"content": f"word{i} "}) for i in range(n - n // 2)]
    lines.append(_chunk_line({}, finish="stop"))
    return lines


def replay_lines(lines: Iterable[str], settings: InterfaceSettings | None = None) -> int:
    """Parse and replay chunk lines through the streaming interface; returns the message count."""
    parser = StreamParser(settings or InterfaceSettings(use_assistant_message=True))
    date = datetime(2024, 5, 1, tzinfo=UTC)
    count = 0
    for line in lines:
        count += len(parser.feed(parse_chunk(line), message_id=_MESSAGE_ID, message_date=date))
    return count + len(parser.finish())


def _floor(lines: list[str]) -> object:
    return [json.loads(line) for line in lines]


def synthetic_cases() -> list[BenchCase]:
    return [
        BenchCase("send_message with inner thoughts", send_message_lines, replay_lines),
        BenchCase("tool call with large arguments", _large_arguments, replay_lines),
        BenchCase("plain reasoning and content", _reasoning, replay_lines),
    ]


def cpu_seconds() -> float:
    """CPU time of this process and of every child process it has waited for.

    Children count because the end-to-end cases run the command line as a subprocess; a case
    run in this process starts no children, so for it this is its own CPU time.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed_interleaved(actions: list[Callable[[], object]], repeats: int) -> list[Timing]:
    """Every round's time of each action, run round-robin so load drift hits all alike."""
    samples: list[list[float]] = [[] for _ in actions]
    for _ in range(repeats):
        for position, action in enumerate(actions):
            start = cpu_seconds()
            action()
            samples[position].append(cpu_seconds() - start)
    return [Timing(tuple(times)) for times in samples]


def best_of_interleaved(actions: list[Callable[[], object]], repeats: int) -> list[float]:
    """The best time of each action, running them round-robin so load drift hits all alike."""
    return [timing.best for timing in timed_interleaved(actions, repeats)]


def run_benchmarks(
    cases: Iterable[BenchCase],
    *,
    size: int = 32_000,
    repeats: int = 5,
    floor: Callable[[list[str]], object] = _floor,
    progress: Callable[[str], None] | None = None,
) -> list[BenchResult]:
    """Measure each case at ``size`` and ``2 * size`` against the floor, all in this one run."""
    results = []
    for case in cases:
        if progress is not None:
            progress(case.name)
        lines = case.make(size)
        doubled = case.make(2 * size)
        floor_time, replay_time, doubled_time = timed_interleaved(
            [partial(floor, lines), partial(case.replay, lines), partial(case.replay, doubled)],
            repeats,
        )
        results.append(
            BenchResult(
                name=case.name,
                size=len(lines),
                unit=case.unit,
                floor_seconds=floor_time.best,
                replay_seconds=replay_time.best,
                doubled_seconds=doubled_time.best,
                floor_noise=allowance(floor_time, replay_time),
                scaling_noise=allowance(replay_time, doubled_time),
            )
        )
    return results


@dataclass(frozen=True, slots=True)
class CassetteBenchResult(BenchResult):
    """The cassette case: ``size`` counts the body chunks, ``size_bytes`` the file's bytes."""

    size_bytes: int
    interactions: int

    @property
    def megabytes_per_second(self) -> float:
        return self.size_bytes / self.replay_seconds / 1e6

    @property
    def meets_targets(self) -> bool:
        return within(self.floor_ratio, CASSETTE_FLOOR_TARGET, self.floor_noise) and within(
            self.scaling_ratio, SCALING_TARGET, self.scaling_noise
        )


def event_payloads(cassette: Cassette) -> list[str]:
    """The JSON text of every event in the cassette's bodies: SSE ``data`` and NDJSON lines."""
    payloads: list[str] = []
    for interaction in cassette.interactions:
        for line in interaction.response.body.decode("utf-8").splitlines():
            if line.startswith("data:"):
                payload = line[5:].strip()
                if payload != "[DONE]":
                    payloads.append(payload)
            elif line.startswith("{"):
                payloads.append(line)
    return payloads


def _cassette_floor(path: Path, payloads: list[str]) -> object:
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
    return document, [json.loads(payload) for payload in payloads]


def _replay_file(path: Path) -> object:
    from streamreel.playback.replay import replay

    return replay(path)


def _collector_paused(action: Callable[[], object]) -> Callable[[], object]:
    """``action`` run after a collection and with the cyclic garbage collector paused.

    A replay keeps every chunk record and message it makes, so the collector's full passes scan
    a heap that grows with the cassette: with it running, a cassette of 16,000 chunks took 2.4x
    one of 8,000 although every step is linear, and without it 2.0x. Pausing it, as ``timeit``
    does, measures the code rather than the collector's schedule.
    """

    def run() -> object:
        gc.collect()
        with paused():
            return action()

    return run


def run_cassette_benchmark(
    *,
    size: int = 32_000,
    repeats: int = 5,
    progress: Callable[[str], None] | None = None,
) -> CassetteBenchResult:
    """Load and replay a scripted cassette of about ``size`` chunks, and one of twice that.

    Both files are written to a temporary folder, removed afterwards; the timings include
    reading them from disk, as a test run would. ``size`` counts chunks over all interactions.
    """
    # Imported here: the scripted builders pull in storage and the providers, which the line
    # benchmarks never need.
    from streamreel.cassettes.storage import save_cassette
    from streamreel.testing.synthetic import scaled_cassette

    name = "cassette: load + replay"
    if progress is not None:
        progress(name)
    with tempfile.TemporaryDirectory(prefix="streamreel-bench-") as folder:
        small, large = Path(folder) / "cassette.yaml", Path(folder) / "doubled.yaml"
        cassette = scaled_cassette(size)
        save_cassette(cassette, small)
        save_cassette(scaled_cassette(2 * size), large)
        payloads = event_payloads(cassette)
        floor_time, replay_time, doubled_time = timed_interleaved(
            [
                _collector_paused(partial(_cassette_floor, small, payloads)),
                _collector_paused(partial(_replay_file, small)),
                _collector_paused(partial(_replay_file, large)),
            ],
            repeats,
        )
        return CassetteBenchResult(
            name=name,
            size=sum(len(i.response.body_chunks()) for i in cassette.interactions),
            unit="chunks",
            floor_seconds=floor_time.best,
            replay_seconds=replay_time.best,
            doubled_seconds=doubled_time.best,
            floor_noise=allowance(floor_time, replay_time),
            scaling_noise=allowance(replay_time, doubled_time),
            size_bytes=small.stat().st_size,
            interactions=len(cassette.interactions),
        )
