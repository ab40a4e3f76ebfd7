"""The codebase's own rules: lint, format, strict typing, a pure core, a pinned public API."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import toolkit

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "toolkit"

# The sans-I/O core: bytes, events, chunks and messages in and out, nothing else.
CORE = [
    "arguments.py",
    "cassette.py",
    "chunks.py",
    "errors.py",
    "framing.py",
    "messages.py",
    "parser.py",
    "sse.py",
    "providers",
]
# What the core may not import: I/O, clocks, concurrency, logging, and the shells built on it.
FORBIDDEN_IMPORTS = {
    "asyncio", "http", "httpx", "httpx2", "io", "logging", "requests", "shutil", "socket",
    "subprocess", "tempfile", "threading", "time", "urllib.request", "uvicorn", "starlette", "vcr",
    "yaml", "ipywidgets", "IPython", "click",
    "toolkit.cli", "toolkit.interface", "toolkit.recorder", "toolkit.replay", "toolkit.storage",
    "toolkit.emulator", "toolkit.widgets", "toolkit.display", "toolkit.plugin", "toolkit.bench",
}  # fmt: skip
FORBIDDEN_CALLS = {"print", "open", "input", "now", "utcnow", "today", "perf_counter", "sleep"}


def _core_files() -> list[Path]:
    files: list[Path] = []
    for entry in CORE:
        path = PACKAGE / entry
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def _imports(tree: ast.AST, module: str) -> set[str]:
    found: set[str] = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_does_no_io(path: Path) -> None:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = {
        name
        for name in _imports(tree, module)
        for forbidden in FORBIDDEN_IMPORTS
        if name == forbidden or name.startswith(forbidden + ".")
    }
    assert not bad, f"{module} imports {sorted(bad)}"
    calls = {
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
    }
    assert not calls & FORBIDDEN_CALLS, f"{module} calls {sorted(calls & FORBIDDEN_CALLS)}"


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
    assert toolkit.__all__ == sorted(toolkit.__all__)
    for name in toolkit.__all__:
        assert hasattr(toolkit, name), name


def _tool(name: str) -> list[str]:
    if shutil.which(name) is None:
        pytest.fail(f"{name} is not installed: run pip install -e '.[test]'")
    return [name]


def test_ruff_lint_is_clean() -> None:
    result = subprocess.run(
        [*_tool("ruff"), "check", "toolkit", "tests"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = subprocess.run(
        [*_tool("ruff"), "format", "--check", "toolkit", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "toolkit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
