"""The install fits its user: the base replays, each extra's feature says how to get it.

Every missing-extra case runs in a child process with a finder first on ``sys.meta_path`` that
refuses the extra's packages, so importing them fails as if they were not installed, while the
rest of the environment stays as it is. The last test builds the wheel and installs it, not
editable, into a fresh virtualenv that holds only the base dependencies (linked from this
environment, so no network is needed): what ``pip install streamreel`` gives a user with no
extras.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import venv
from collections.abc import Iterator
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

import pytest
from install_support import build_wheel, clean_env
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "cassettes" / "openai-send-message-inner-thoughts.yaml"
EXTRA_PACKAGES = {
    "notebook": ["ipywidgets", "IPython"],
    "pytest": ["syrupy"],
    "serve": ["starlette", "uvicorn"],
    "hypothesis": ["hypothesis"],
    "compression": ["brotli", "brotlicffi", "zstandard"],
}


def _without(
    modules: list[str], code: str, *args: str, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child where ``modules`` cannot be imported."""
    blocker = textwrap.dedent(
        f"""
        import sys

        class Blocked:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] in {set(modules)!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        sys.meta_path.insert(0, Blocked())
        """
    )
    return subprocess.run(
        [sys.executable, "-c", blocker + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )


def _names_extra(extra: str, text: str) -> None:
    assert f"do pip install 'streamreel[{extra}]'" in text, text


@pytest.mark.parametrize(
    ("module", "extra", "feature"),
    [
        ("streamreel.notebook.widgets", "notebook", "the notebook widgets"),
        ("streamreel.recording.emulator", "serve", "the provider emulator"),
        ("streamreel.testing.strategies", "hypothesis", "streamreel.testing.strategies"),
        ("streamreel.testing.snapshot", "pytest", "snapshot tests"),
    ],
)
def test_importing_a_feature_without_its_extra_names_the_install(
    module: str, extra: str, feature: str
) -> None:
    done = _without(
        EXTRA_PACKAGES[extra],
        f"""
        from streamreel.core.errors import MissingExtraError
        try:
            import {module}
        except MissingExtraError as exc:
            assert isinstance(exc, ImportError) and exc.extra == {extra!r}
            print(exc)
        else:
            raise SystemExit("imported without its extra")
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"cannot use {feature}"), done.stdout
    _names_extra(extra, done.stdout)


def test_a_command_without_its_extra_says_what_to_install_not_a_traceback() -> None:
    done = _without(
        EXTRA_PACKAGES["serve"], "from streamreel.cli import main; main()", "serve", str(BUNDLED)
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: cannot use the provider emulator"), done.stderr
    assert "Traceback" not in done.stderr
    _names_extra("serve", done.stderr)


@pytest.mark.parametrize(
    "command",
    [["diff", "--right-settings", "use_assistant_message=false"], ["fuzz"]],
    ids=["diff", "fuzz"],
)
def test_diff_and_fuzz_compare_streams_without_syrupy(command: list[str]) -> None:
    done = _without(
        [*EXTRA_PACKAGES["pytest"], "pytest"],
        "from streamreel.cli import main; main()",
        *command,
        str(BUNDLED),
    )
    assert done.returncode in (0, 1), done.stderr  # 1: the two sides differ, as they should
    assert done.stdout
    assert "MissingExtraError" not in done.stderr


@pytest.mark.parametrize(
    ("coding", "body", "blocked"),
    [
        ("br", b"\x8b\x02\x80binary\xff", ["brotli", "brotlicffi"]),
        ("zstd", b"\x28\xb5\x2f\xfd" + b"\x00" * 8, ["zstandard"]),
    ],
)
def test_a_compressed_body_without_its_codec_names_the_compression_extra(
    coding: str, body: bytes, blocked: list[str]
) -> None:
    done = _without(
        blocked,
        f"""
        from streamreel.core.encoding import decode_layer
        from streamreel.core.errors import StreamDecodeError
        try:
            decode_layer({coding!r}, {body!r})
        except StreamDecodeError as exc:
            print(exc)
        """,
    )
    assert done.returncode == 0, done.stderr
    _names_extra("compression", done.stdout)


PLUGIN_TESTS = """
    def test_replays(replay):
        assert replay().messages

    def test_snapshots(replay, stream_snapshot):
        assert stream_snapshot == replay()
"""


def test_the_plugin_loads_quietly_without_syrupy_and_the_snapshot_fixture_names_the_extra(
    tmp_path: Path,
) -> None:
    (tmp_path / "cassettes").mkdir()
    (tmp_path / "cassettes" / BUNDLED.name).write_bytes(BUNDLED.read_bytes())
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n\n"
        + textwrap.dedent(PLUGIN_TESTS).replace(
            "def test_", f'@pytest.mark.cassette("{BUNDLED.stem}")\ndef test_'
        )
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    # pytest puts its assertion-rewriting finder first, and it finds the modules of entry-point
    # plugins itself; the blocker goes back in front once pytest is configured.
    run = """
        class Front:
            def pytest_configure(self, config):
                sys.meta_path.insert(0, Blocked())
        import pytest
        sys.exit(pytest.main(plugins=[Front()]))
    """
    done = _without(
        ["syrupy"], run, "-q", "-p", "no:cacheprovider", "-p", "no:syrupy", "-p", "no:randomly",
        cwd=tmp_path,
    )  # fmt: skip
    assert "1 passed, 1 error" in done.stdout, done.stdout + done.stderr
    # Collected and run: the plugin itself never failed to load.
    assert "ImportError while loading" not in done.stdout + done.stderr
    _names_extra("pytest", done.stdout)


def test_each_extras_feature_works_when_it_is_installed() -> None:
    # This environment has every extra ([test] names them all): each feature imports and runs.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import brotli, zstandard
                from streamreel.core.encoding import decode_layer
                from streamreel.notebook.widgets import StreamPlayer
                from streamreel.recording.emulator import serve
                from streamreel.testing.snapshot import StreamSnapshotExtension
                from streamreel.testing.strategies import rechunked
                text = b"data: x\\n\\n"
                assert decode_layer("br", brotli.compress(text)) == text
                assert decode_layer("zstd", zstandard.ZstdCompressor().compress(text)) == text
                print("ok")
                """
            ),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip() == "ok", done.stderr


# -- a fresh virtualenv with the wheel and the base dependencies only -------------------------


def _base_closure() -> list[Distribution]:
    """streamreel's base dependencies and theirs, as installed here (extras not followed)."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = pyproject.split("dependencies = [", 1)[1].split("\n]", 1)[0]
    wanted = [Requirement(m) for m in re.findall(r'^\s*"([^"]+)",', block, flags=re.MULTILINE)]
    seen: dict[str, Distribution] = {}
    while wanted:
        requirement = wanted.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        key = requirement.name.lower().replace("_", "-")
        if key in seen:
            continue
        try:
            found = distribution(requirement.name)
        except PackageNotFoundError:
            continue  # an optional back-port this Python does not need
        seen[key] = found
        wanted.extend(Requirement(r) for r in found.requires or ())
    return list(seen.values())


def _top_levels(found: Distribution) -> Iterator[Path]:
    """The files and folders a distribution put at the top of site-packages."""
    tops = {Path(str(f)).parts[0] for f in found.files or () if not str(f).startswith("..")}
    for top in sorted(tops):
        path = Path(str(found.locate_file(top)))
        if path.exists() and not top.endswith(".pth") and top != "__pycache__":
            yield path


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the built wheel and nothing of the extras; returns its ``bin``."""
    work = tmp_path_factory.mktemp("bare")
    wheel = build_wheel(work)
    env_dir = work / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    for found in _base_closure():
        for path in _top_levels(found):
            (site / path.name).symlink_to(path)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    return env_dir / "bin"


def test_a_bare_install_has_no_extra_and_replays_a_bundled_cassette(
    bare: Path, tmp_path: Path
) -> None:
    probe = (
        "import importlib.util, json, streamreel;"
        "print(json.dumps([streamreel.__file__, [m for m in"
        " ('ipywidgets', 'IPython', 'syrupy', 'pytest', 'starlette', 'uvicorn', 'hypothesis',"
        " 'vcr', 'brotli', 'zstandard') if importlib.util.find_spec(m)]]))"
    )
    where, present = json.loads(
        subprocess.run(
            [bare / "python", "-c", probe], capture_output=True, text=True, check=True,
            cwd=tmp_path, env=clean_env(),
        ).stdout
    )  # fmt: skip
    assert where.startswith(str(bare.parent)), "the wheel's copy, not the source tree"
    assert present == []
    (tmp_path / "cassettes").mkdir()
    (tmp_path / "cassettes" / BUNDLED.name).write_bytes(BUNDLED.read_bytes())
    done = subprocess.run(
        [bare / "streamreel", "replay", f"cassettes/{BUNDLED.name}", "--format", "jsonl"],
        capture_output=True, text=True, cwd=tmp_path, env=clean_env(), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"message_type":"assistant_message"' in done.stdout
    serve = subprocess.run(
        [bare / "streamreel", "serve", f"cassettes/{BUNDLED.name}"],
        capture_output=True, text=True, cwd=tmp_path, env=clean_env(), check=False,
    )  # fmt: skip
    assert serve.returncode == 1
    _names_extra("serve", serve.stderr)
