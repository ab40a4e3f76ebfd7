"""The codebase's own rules: lint, format, strict typing, a pure core, a pinned public API."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import streamreel

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "toolkit" / "streamreel"


def test_no_print_outside_the_command_line() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "print"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders


def test_public_api_is_sorted_and_importable() -> None:
    assert streamreel.__all__ == sorted(streamreel.__all__)
    for name in streamreel.__all__:
        assert hasattr(streamreel, name), name


def test_exported_members_are_exactly_the_public_api() -> None:
    # Pinned: adding or removing a public name is a decision, made by editing this list.
    assert streamreel.__all__ == [
        "AgentMessage", "AssistantMessage", "Cassette", "CassetteError", "CassetteVersionError",
        "ChatCompletionChunk", "ChunkError", "ConfigurationError", "ErrorEntry", "ErrorMessage",
        "ForeignMessage",
        "HiddenReasoningMessage", "InteractionResult", "InterfaceSettings", "Matcher",
        "NoMatchError", "ParserError", "ParserFactory",
        "ProcessingExchanges", "ProcessingStreams",
        "ProviderError", "QueuingInterface",
        "ReasoningMessage", "RecordMode", "Recording", "RecordingError", "ReplayResult",
        "Scrubber", "StreamDecodeError", "StreamDecoder", "StreamDeltasSnapshotExtension",
        "StreamFault", "StreamKind", "StreamParser", "StreamSnapshotExtension",
        "StreamingInterfaceLike",
        "StreamingServerInterface", "StreamreelError", "ToolCall", "ToolCallDelta",
        "ToolCallMessage", "ToolReturnMessage", "UnsupportedStreamError", "UsageStatistics",
        "__version__", "async_sdk_stream",
        "default_parser", "detect_stream", "diff_cassette", "diff_cassettes",
        "fuzz_cassette", "fuzz_cassettes", "letta_parser", "load_cassette",
        "load_ipython_extension",
        "merge_deltas", "messages_from_chunks", "parse_chunk", "parse_wire", "record", "replay",
        "replay_chunk_file", "save_cassette", "sdk_stream", "serialize_stream", "to_sse",
        "to_wire",
    ]  # fmt: skip
    for name in streamreel.__all__:
        value = getattr(streamreel, name)
        home = getattr(value, "__module__", "streamreel")
        if name in ("AgentMessage", "ParserFactory"):  # type aliases: a union, a Callable
            continue
        assert home == "streamreel" or home.startswith("streamreel."), (name, home)


def _tool(name: str) -> list[str]:
    if shutil.which(name) is None:
        pytest.fail(f"{name} is not installed: run pip install -e '.[test]'")
    return [name]


def test_ruff_lint_is_clean() -> None:
    result = subprocess.run(
        [*_tool("ruff"), "check", "toolkit", "devtools", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = subprocess.run(
        [*_tool("ruff"), "format", "--check", "toolkit", "devtools", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "toolkit/streamreel"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
