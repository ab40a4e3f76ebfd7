"""The speed benchmark behind ``streamreel bench``.

Every figure is a ratio taken within one run, never an absolute time: machines are shared and
noisy, and a ratio to a floor measured moments before on the same machine cancels most of that.

* **floor ratio**: the time to parse and replay a stream's chunk lines, over the time
  ``json.loads`` takes for the same lines (the least any reader must do). Target: at most 4x.
* **doubling ratio**: the time for a stream twice as long, over the time for the stream. Linear
  code gives 2x; the target allows 2.2x. A quadratic parser gives about 4x.

Each measurement is the best of several repeats, which discards interruptions by other work.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from .chunks import parse_chunk
from .parser import InterfaceSettings, StreamParser

__all__ = [
    "FLOOR_TARGET",
    "SCALING_TARGET",
    "BenchCase",
    "BenchResult",
    "run_benchmarks",
    "synthetic_cases",
]

FLOOR_TARGET = 4.0
SCALING_TARGET = 2.2
_MESSAGE_ID = "message-00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True, slots=True)
class BenchCase:
    """A workload: ``make(n)`` gives an ``n``-chunk stream's lines, ``replay`` runs them."""

    name: str
    make: Callable[[int], list[str]]
    replay: Callable[[list[str]], object]
    unit: str = "chunks"


@dataclass(frozen=True, slots=True)
class BenchResult:
    name: str
    size: int
    unit: str
    floor_seconds: float
    replay_seconds: float
    doubled_seconds: float

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
        return self.floor_ratio <= FLOOR_TARGET and self.scaling_ratio <= SCALING_TARGET


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


def _send_message(n: int) -> list[str]:
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
        BenchCase("send_message with inner thoughts", _send_message, replay_lines),
        BenchCase("tool call with large arguments", _large_arguments, replay_lines),
        BenchCase("plain reasoning and content", _reasoning, replay_lines),
    ]


def _best(action: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def run_benchmarks(
    cases: Iterable[BenchCase],
    *,
    size: int = 32_000,
    repeats: int = 3,
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
        results.append(
            BenchResult(
                name=case.name,
                size=len(lines),
                unit=case.unit,
                floor_seconds=_best(partial(floor, lines), repeats),
                replay_seconds=_best(partial(case.replay, lines), repeats),
                doubled_seconds=_best(partial(case.replay, doubled), repeats),
            )
        )
    return results
