"""Building and running streamreel as a user installs it: shared by the install tests.

The wheel is built from a clean copy of the tracked sources, so a stale ``build/`` folder or an
untracked module in the work tree never reaches it, as it never reaches a release.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tracked_files() -> list[Path]:
    """The files of the project that git tracks (relative), or every file outside caches."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        skipped = {".git", ".venv", "build", "dist", "__pycache__", ".nox"}
        return [
            path.relative_to(ROOT)
            for path in ROOT.rglob("*")
            if path.is_file() and not skipped.intersection(path.relative_to(ROOT).parts)
        ]
    return [Path(name) for name in listed.split("\0") if name and (ROOT / name).is_file()]


def build_wheel(work: Path) -> Path:
    """The wheel of a copy of the tracked sources, built under ``work``."""
    source = work / "source"
    for relative in tracked_files():
        target = source / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(work / "wheels"), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (work / "wheels").glob("streamreel-*.whl")
    return wheel


def clean_env() -> dict[str, str]:
    """The environment a user's own run gets: nothing of this test run (no PYTHONPATH, no
    pytest options), under CI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHON"))}
    env["CI"] = "true"
    return env
