"""streamreel as a user gets it: a built wheel, a regular install, a project of the user's own.

An editable install hides whole classes of bugs: an import name that collides with the user's
own packages, a file left out of the wheel, a plugin that loads what it should not. So this
builds the wheel, installs it (not editable) into a fresh virtualenv, and runs pytest in a
sample project that has a ``toolkit/`` package of its own and uses the plugin's fixtures.

The wheel is built from a clean copy of the tracked sources (a stale ``build/`` folder or an
untracked module in the work tree must not reach it), and its files are compared with those
sources. The virtualenv sees the site-packages of the environment running the tests (a
virtualenv of its own, or the system's), not the base interpreter's, for streamreel's
dependencies (no network is needed); streamreel itself comes from the wheel: the test checks
which copy the sample project imports.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest
from install_support import build_wheel, clean_env, tracked_files

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "cassettes" / "openai-send-message-inner-thoughts.yaml"


def _run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _test_environment_paths() -> list[str]:
    """The import paths of the environment running the tests, without its own streamreel.

    ``venv``'s ``system_site_packages`` would give the base interpreter's packages, which a
    virtualenv running these tests does not share. The paths are listed plainly in a ``.pth``
    file, so the ``.pth`` files inside them (the editable install of this work tree among them)
    are not processed: the only streamreel the new environment can import is the wheel's.
    """
    paths = [*site.getsitepackages(), site.getusersitepackages()]
    return [path for path in dict.fromkeys(paths) if Path(path).is_dir()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the tracked sources only."""
    return build_wheel(tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module")
def installed(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the wheel installed; returns its ``bin`` folder."""
    work = tmp_path_factory.mktemp("install")
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = _run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=work
    ).strip()
    Path(purelib, "_streamreel_test_environment.pth").write_text(
        "".join(f"{path}\n" for path in _test_environment_paths())
    )
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
         "--no-index", built],
        cwd=work,
    )  # fmt: skip
    return env_dir / "bin"


def test_the_wheel_holds_exactly_the_tracked_package_sources(built: Path) -> None:
    with zipfile.ZipFile(built) as wheel:
        names = {name for name in wheel.namelist() if ".dist-info/" not in name}
    tracked = {
        relative.relative_to("toolkit").as_posix()
        for relative in tracked_files()
        if relative.parts[:2] == ("toolkit", "streamreel")
    }
    assert names == tracked


def test_the_install_imports_the_wheels_copy_and_its_dependencies(installed: Path) -> None:
    code = (
        "import importlib.metadata as m, streamreel, pydantic, yaml;"
        "files = [str(f) for f in m.files('streamreel')];"
        "print(streamreel.__file__);"
        "print(sorted({f.split('/')[0] for f in files}))"
    )
    where, tops = _run([installed / "python", "-c", code], cwd=installed).splitlines()
    assert where.startswith(str(installed.parent)), "the sample must import the wheel's copy"
    # '..' is the console script, installed into the environment's bin folder.
    assert tops.replace("'..', ", "") == "['streamreel', 'streamreel-0.1.0.dist-info']"


def test_the_command_runs_from_the_install(installed: Path, tmp_path: Path) -> None:
    shutil.copy(BUNDLED, tmp_path / BUNDLED.name)
    assert "Usage: streamreel" in _run([installed / "streamreel", "--help"], cwd=tmp_path)
    out = _run(
        [installed / "streamreel", "replay", BUNDLED.name, "--format", "jsonl"],
        cwd=tmp_path,
        env=clean_env(),
    )
    assert '"message_type":"assistant_message"' in out


SAMPLE_TEST = """
    import pytest

    import toolkit  # the user's own package, not streamreel's source folder


    def test_own_package_is_importable():
        assert toolkit.OWN == "mine"


    @pytest.mark.cassette("openai-send-message-inner-thoughts")
    def test_replay_snapshot(replay, stream_snapshot):
        result = replay()
        assert result.messages
        assert stream_snapshot == result
"""


def _snapshot_suite(
    installed: Path, project: Path, *, passed: int, snapshots: int
) -> list[str | Path]:
    """Run the project's tests twice, writing then comparing snapshots; the pytest command."""
    pytest_cmd: list[str | Path] = [
        installed / "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    first = _run([*pytest_cmd, "--snapshot-update"], cwd=project, env=clean_env())
    assert f"{passed} passed" in first, first
    assert len(list((project / "tests" / "__snapshots__").rglob("*.jsonl"))) == snapshots
    second = _run(pytest_cmd, cwd=project, env=clean_env())
    assert f"{passed} passed" in second, second
    return pytest_cmd


def test_a_project_with_its_own_toolkit_package_runs_the_plugin(
    installed: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "toolkit").mkdir(parents=True)
    (project / "toolkit" / "__init__.py").write_text('OWN = "mine"\n')
    (project / "cassettes").mkdir()
    shutil.copy(BUNDLED, project / "cassettes" / BUNDLED.name)
    (project / "tests").mkdir()
    (project / "tests" / "test_sample.py").write_text(textwrap.dedent(SAMPLE_TEST))
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    pytest_cmd = _snapshot_suite(installed, project, passed=2, snapshots=1)
    # The fixtures come from the plugin registered under streamreel's own name.
    blocked = subprocess.run(
        [str(arg) for arg in [*pytest_cmd, "-p", "no:streamreel"]],
        cwd=project, env=clean_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert blocked.returncode == 1 and "fixture 'replay' not found" in blocked.stdout


def test_the_readme_sdk_parser_runs_in_a_project_of_its_own(
    installed: Path, tmp_path: Path
) -> None:
    from readmeblocks import commands_mentioning, sdk_parser_project

    project = sdk_parser_project(tmp_path / "sdk-project")
    _snapshot_suite(installed, project, passed=3, snapshots=2)
    replay, diff, fuzz = commands_mentioning("myagent.sdk_parsing")
    out = _run([installed / "streamreel", *replay.split()[1:]], cwd=project, env=clean_env())
    assert '"get_weather"' in out
    compared = subprocess.run(
        [str(installed / "streamreel"), *diff.split()[1:]],
        cwd=project, env=clean_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert compared.returncode == 1 and "differ" in compared.stdout, compared.stderr
    assert "ok" in _run([installed / "streamreel", *fuzz.split()[1:]], cwd=project, env=clean_env())
