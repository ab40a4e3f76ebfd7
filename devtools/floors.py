"""The lowest versions ``pyproject.toml`` allows, as pins for the ``floors`` test session.

Kept apart from ``noxfile.py`` so the test suite can check it without nox installed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent

# Tools that check the project rather than serve it: their newest release is the one that counts.
CHECKING_TOOLS = frozenset(
    {
        "ruff",
        "mypy",
        "types-pyyaml",
        "setuptools",
        "nbval",
        "nbconvert",
        "ipykernel",
        "pytest-timeout",
        "pytest-asyncio",
        "pytest-xdist",
        "voila",
        "playwright",
    }
)


def floor_pins() -> list[str]:
    """``name==floor`` for every dependency, extra and SDK that declares a ``>=`` floor."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"]]
    for requirements in project.get("optional-dependencies", {}).values():
        declared.extend(requirements)
    pins: dict[str, str] = {}
    for line in declared:
        requirement = Requirement(line)
        name = requirement.name.lower()
        if name in CHECKING_TOOLS or name == "streamreel":
            continue
        floors = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if floors:
            pins[name] = f"{name}=={max(floors, key=_version_key)}"
    return sorted(pins.values())


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())
