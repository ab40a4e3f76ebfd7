"""The package's shape keeps itself: layers read from the tree, one-way imports, a pure core.

The order of the layers is written once, in the package docstring of ``streamreel/__init__.py``
(its ``:mod:`` bullet list). These tests read that list, check that it names exactly the
subpackages the tree holds, and then check every import of every module against it: a module
may import from its own layer and the layers listed before it, never from one listed after.
Nothing here is a hand-kept list of modules: a new module is checked the moment it exists.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import streamreel

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "toolkit" / "streamreel"

# What the core may not import: I/O, clocks, concurrency, logging, and third-party shells.
IO_MODULES = {
    "asyncio", "http", "httpx", "httpx2", "io", "logging", "os", "requests", "shutil",
    "socket", "subprocess", "tempfile", "threading", "time", "urllib.request", "uvicorn",
    "starlette", "vcr", "yaml", "ipywidgets", "IPython", "click", "pytest", "syrupy",
    "importlib.metadata",
}  # fmt: skip
IO_CALLS = {
    "print", "open", "input", "now", "utcnow", "today", "perf_counter", "sleep", "read_text",
    "read_bytes", "write_text", "write_bytes", "exists", "stat", "iterdir", "glob", "rglob",
    "mkdir", "unlink",
}  # fmt: skip
# Python's display protocol: a value shows itself through the presentation layer, loaded only
# when a notebook or the REPL asks. These are the only places a lower layer may name a higher.
DISPLAY_HOOKS = {"__repr__", "_repr_html_", "_repr_mimebundle_"}


def layer_order() -> list[str]:
    doc = streamreel.__doc__ or ""
    return re.findall(r"^\* :mod:`streamreel\.(\w+)`", doc, flags=re.MULTILINE)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@dataclass(frozen=True)
class Import:
    target: str
    line: int
    at_import_time: bool  # module level, outside `if TYPE_CHECKING:`
    function: str | None  # the enclosing function, if any


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").exists() or (
        PACKAGE.parent / relative / "__init__.py"
    ).exists()


def imports_of(path: Path) -> Iterator[Import]:
    module = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def visit(node: ast.AST, top: bool, function: str | None) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(alias.name, child.lineno, top, function)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(child, module, path.name == "__init__.py")
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    # `from package import submodule` depends on the submodule
                    target = full if _is_module(full) or not base.startswith("streamreel") else base
                    yield Import(target, child.lineno, top, function)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from visit(child, False, function)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from visit(child, False, child.name)
            else:
                yield from visit(child, top, function)

    yield from visit(tree, True, None)


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in layer_order() else None


def test_the_layer_list_names_exactly_the_subpackages_in_the_tree() -> None:
    order = layer_order()
    subpackages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert order, "the package docstring lists no layers"
    assert sorted(order) == subpackages
    assert order[0] == "core"
    # Top-level modules other than the facade and the version are not allowed to pile up.
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py", "_version.py"]


def _layer_violations() -> list[str]:
    order = layer_order()
    found = []
    for path in modules():
        module = module_name(path)
        own = layer_of(module)
        for item in imports_of(path):
            if not item.target.startswith("streamreel."):
                continue
            other = layer_of(item.target)
            if own is None or other is None:  # the facade and the version module
                if own is not None and item.target not in ("streamreel._version",):
                    found.append(f"{module}:{item.line} imports the package root")
                continue
            if order.index(other) <= order.index(own):
                continue
            if item.function in DISPLAY_HOOKS:
                continue
            found.append(f"{module}:{item.line} ({own}) imports {item.target} ({other})")
    return found


def test_every_import_points_down_the_layers() -> None:
    assert _layer_violations() == []


def test_no_two_modules_import_each_other_at_import_time() -> None:
    graph: dict[str, set[str]] = {}
    for path in modules():
        graph[module_name(path)] = {
            item.target
            for item in imports_of(path)
            if item.at_import_time and item.target.startswith("streamreel")
        }
    cycles = []
    # Tarjan's strongly connected components: any component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in graph:
                continue
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    assert cycles == []


CORE_FILES = [p for p in modules() if layer_of(module_name(p)) == "core"]


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_does_no_io(path: Path) -> None:
    bad = sorted(
        f"{item.target} (line {item.line})"
        for item in imports_of(path)
        for forbidden in IO_MODULES
        if item.target == forbidden or item.target.startswith(forbidden + ".")
    )
    assert bad == []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = {
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
    }
    assert not calls & IO_CALLS


HEAVY = ["asyncio", "httpx", "httpx2", "yaml", "pytest", "syrupy", "ipywidgets", "click", "vcr"]


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT / "tests"
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_importing_the_whole_core_loads_nothing_heavy() -> None:
    names = sorted({module_name(p) for p in CORE_FILES})
    loaded = _loaded_after("; ".join(f"import {name}" for name in names))
    assert sorted(loaded & set(HEAVY)) == []


def test_import_streamreel_loads_nothing_until_a_name_is_used() -> None:
    loaded = _loaded_after("import streamreel")
    assert sorted(loaded & set(HEAVY)) == []
    assert not any(name.startswith("streamreel.") for name in loaded - {"streamreel._version"})


def test_the_pytest_plugin_module_imports_nothing_heavy() -> None:
    loaded = _loaded_after("import streamreel.testing.plugin")
    # pytest itself is what loads the plugin, so it is there already in real use.
    assert sorted(loaded & (set(HEAVY) - {"pytest"})) == []


def test_the_command_line_help_loads_only_what_help_needs() -> None:
    loaded = _loaded_after(
        "from streamreel.cli import main; main(['--help'], standalone_mode=False)"
    )
    assert sorted(loaded & {"asyncio", "httpx", "httpx2", "yaml", "syrupy", "ipywidgets"}) == []
    assert not any(name.startswith("streamreel.core") for name in loaded)


ONE_CHUNK = (
    '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n'
)
# What a replay of a chunk file never needs: the snapshot and test stack, YAML and the cassette
# readers, an event loop, every provider's adapter, the lenient JSON decoder, the widgets.
NOT_FOR_A_CHUNK_FILE = {
    "asyncio", "concurrent.futures", "demjson3", "html", "httpx", "ipywidgets", "pytest",
    "syrupy", "vcr", "yaml", "streamreel.cassettes.reader", "streamreel.cassettes.storage",
    "streamreel.cli.diff", "streamreel.core.providers.pipeline", "streamreel.testing",
    "streamreel.testing.diff", "streamreel.core.providers.detection",
    "streamreel.core.providers.server_flags", "streamreel.core.providers.tool_results",
}  # fmt: skip


def test_replaying_a_one_chunk_file_loads_only_what_the_replay_needs(tmp_path: Path) -> None:
    source = tmp_path / "one.jsonl"
    source.write_text(ONE_CHUNK, encoding="utf-8")
    loaded = _loaded_after(
        "from streamreel.cli import main; "
        f"main(['replay', {str(source)!r}, '--format', 'jsonl'], standalone_mode=False)"
    )
    assert "streamreel.playback.replay" in loaded  # it did replay
    assert sorted(loaded & NOT_FOR_A_CHUNK_FILE) == []


def test_importing_the_core_package_reads_no_installed_metadata() -> None:
    loaded = _loaded_after("import streamreel.core")
    assert "importlib.metadata" not in loaded
    # The literal is the one place the version is written, and the build reads it from there.
    assert streamreel.__version__ == importlib.metadata.version("streamreel")


def test_no_command_module_imports_another_commands_module() -> None:
    from streamreel.cli import _COMMANDS

    commands = {f"streamreel.cli.{entry.module}" for entry in _COMMANDS.values()}
    found = [
        f"{module_name(path)}:{item.line} imports {item.target}"
        for path in modules()
        if module_name(path) in commands
        for item in imports_of(path)
        if item.target in commands - {module_name(path)}
    ]
    assert found == []
