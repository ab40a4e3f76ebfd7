"""The README's code blocks, by the file they say they are: what the tests run of the manual."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def python_file(name: str) -> str:
    """The ```python block whose first line is ``# NAME``."""
    for block in re.findall(r"```python\n(.+?)\n```", README, flags=re.S):
        if block.startswith(f"# {name}\n"):
            return block + "\n"
    raise AssertionError(f"README.md has no python block for {name}")


def commands_mentioning(text: str) -> list[str]:
    """The lines of ```sh blocks that mention ``text``."""
    lines = []
    for block in re.findall(r"```sh\n(.+?)\n```", README, flags=re.S):
        lines.extend(line for line in block.splitlines() if text in line)
    return lines


def sdk_parser_project(where: Path) -> Path:
    """A project laid out as the README's own-parser example: its parser, its tests, cassettes."""
    (where / "myagent").mkdir(parents=True)
    (where / "myagent" / "__init__.py").write_text("")
    (where / "myagent" / "sdk_parsing.py").write_text(python_file("myagent/sdk_parsing.py"))
    (where / "tests").mkdir()
    (where / "tests" / "test_sdk_parsing.py").write_text(python_file("tests/test_sdk_parsing.py"))
    (where / "cassettes").mkdir()
    for name in ("openai-parallel-tool-calls.yaml", "anthropic-thinking-tool-use.yaml"):
        (where / "cassettes" / name).write_bytes((ROOT / "cassettes" / name).read_bytes())
    (where / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    return where
