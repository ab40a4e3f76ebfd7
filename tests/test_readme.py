"""The README is the manual: its commands are the ones CI runs and every command is in it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamreel.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _set_up_commands() -> list[str]:
    section = README.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    main_job, tests = _set_up_commands()
    assert "devtools/noxfile.py" in tests and "streamreel replay" in main_job
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines()


def test_the_test_command_runs_the_suite_on_the_newest_releases_and_on_the_floors() -> None:
    noxfile = (ROOT / "devtools" / "noxfile.py").read_text(encoding="utf-8")
    assert 'nox.options.sessions = ["newest", "floors", "campaign"]' in noxfile
    assert '"python", "-m", "pytest"' in noxfile and '"streamreel", "install-letta"' in noxfile
    # And the speed figures, measured where users' versions are installed.
    assert '"streamreel", "bench"' in noxfile
    # And a campaign's speed-up, where only streamreel[pytest] and pytest-xdist are installed.
    assert '"--campaign", str(ROOT / "cassettes")' in noxfile
    assert 'session.install(f"{ROOT}[pytest]", "pytest-xdist")' in noxfile


def test_every_runtime_dependency_is_pinned_at_its_floor_in_the_floors_session() -> None:
    import tomllib

    from floors import floor_pins  # devtools/ is on pytest's pythonpath

    pins = dict(pin.split("==") for pin in floor_pins())
    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for line in runtime:
        name, floor = re.split(r">=", line.split(";")[0].split(",")[0])
        assert pins[name.strip().lower()] == floor.strip(), line


def test_the_main_job_cassette_is_bundled() -> None:
    main_job, _ = _set_up_commands()
    cassette = next(word for word in main_job.split() if word.startswith("cassettes/"))
    assert (ROOT / cassette).is_file()


def test_every_command_is_documented() -> None:
    for name in main.commands:
        assert f"streamreel {name}" in README, f"streamreel {name} is missing from README.md"


def test_the_error_tree_is_the_one_the_errors_module_draws() -> None:
    import streamreel.core.errors as errors

    drawn = (errors.__doc__ or "").split("::\n\n", 1)[1].split("\n\n", 1)[0]
    tree = [line.strip() for line in drawn.splitlines()]
    section = README.split("## Errors", 1)[1].split("```", 2)[1]
    assert [line.strip() for line in section.strip().splitlines()] == tree
    # Every class in the tree exists and derives from the root.
    for line in tree:
        name = line.lstrip("│├└─ ").split()[0]
        assert issubclass(getattr(errors, name), errors.StreamreelError), name


def test_the_own_sdk_parser_example_snapshots_replays_diffs_and_fuzzes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    from click.testing import CliRunner
    from readmeblocks import commands_mentioning, sdk_parser_project

    project = sdk_parser_project(tmp_path / "project")
    pytest_cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
    ]
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("PYTEST")}
    first = subprocess.run(
        [*pytest_cmd, "--snapshot-update"], cwd=project, capture_output=True, text=True, env=env
    )
    assert "3 passed" in first.stdout, first.stdout + first.stderr
    written = sorted((project / "tests" / "__snapshots__").rglob("*.jsonl"))
    assert len(written) == 2
    chat = next(path for path in written if "parallel" in path.name).read_text()
    assert '"tool_calls":[{"name":"get_weather"' in chat and '"id":"<message-' in chat
    again = subprocess.run(pytest_cmd, cwd=project, capture_output=True, text=True, env=env)
    assert "3 passed" in again.stdout, again.stdout + again.stderr

    monkeypatch.chdir(project)
    replay, diff, fuzz = commands_mentioning("myagent.sdk_parsing")
    outcomes = {}
    for command in (replay, diff, fuzz):
        words = command.split()[1:]  # after "streamreel"
        outcomes[words[0]] = CliRunner().invoke(main, words)
    assert outcomes["replay"].exit_code == 0, outcomes["replay"].output
    assert '"get_weather"' in outcomes["replay"].output
    assert outcomes["diff"].exit_code == 1 and "differ" in outcomes["diff"].output
    assert outcomes["fuzz"].exit_code == 0 and "ok" in outcomes["fuzz"].output
