"""The whole test suite, in fresh virtualenvs, on the newest releases and on the declared floors.

``nox -f devtools/noxfile.py`` (the README's test command, which ``.ci/run`` runs) runs two
sessions, each in a virtualenv of its own made from nothing, so a passing run never leans on
whatever happens to be installed on the machine:

* ``newest``: ``.[test]`` as ``pip install`` resolves it today (the newest openai, anthropic,
  httpx2, syrupy, pytest...), then the whole suite, then ``streamreel bench``, whose figures
  (ratios taken in one run, each with its noise allowance) land in every run's log. It reports
  rather than gates (no ``--check``) while a one-chunk replay's start-up in a fresh virtualenv
  is still past its target: a run would fail on that alone;
* ``floors``: the same, but every runtime dependency, every extra and every SDK the tests drive
  pinned at the lowest version ``pyproject.toml`` allows. A floor that does not pass here is not a
  floor: raise it in ``pyproject.toml``. Only the tools that check the project rather than serve
  it (linters, type checker, notebook and browser test runners) keep their newest versions, since
  their floors say nothing about what users get, and old ruff or mypy releases judge the same
  code differently.

* ``campaign``: a fuzz campaign's speed-up across cores (``streamreel bench --campaign`` over
  the bundled cassettes, copied to 200, ``-n 0`` against ``-n 2``), measured where a campaign
  runs: a regular install of ``streamreel[pytest]`` and pytest-xdist, nothing else. The test
  environment's own pytest plugins would be paid by each of ``-n 2``'s three processes (nbval's
  import alone builds a grammar for over a second), which says more about that environment
  than about the campaign. It reports, like ``newest``'s ``bench``.

Arguments after ``--`` go to pytest: ``nox -f devtools/noxfile.py -s newest -- tests/test_cli.py``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "devtools"))

from floors import floor_pins  # noqa: E402  (devtools/ is not a package)

nox.options.sessions = ["newest", "floors", "campaign"]
nox.options.error_on_missing_interpreters = True
# uv resolves and installs the ~170 packages of ``.[test]`` in seconds rather than minutes.
nox.options.default_venv_backend = "uv"


def _browser(session: nox.Session) -> None:
    """Debian's chromium for the browser test, installed when missing and we may install it.

    Playwright cannot download a browser build of its own here; elsewhere (no root, no apt) the
    browser test fails saying what to install, and nothing else depends on it.
    """
    if shutil.which("chromium") or not shutil.which("apt-get") or os.geteuid() != 0:
        return
    session.run("apt-get", "update", "-qq", external=True)
    session.run("apt-get", "install", "-y", "-qq", "chromium", external=True)


def _suite(session: nox.Session) -> None:
    session.chdir(ROOT)
    _browser(session)
    session.run("streamreel", "install-letta", "--version", "all")
    session.run("python", "-m", "pytest", *session.posargs)


# ``--seed`` puts pip in the virtualenv, as a user's has it: tests/test_install.py builds and
# installs a wheel with it.
@nox.session(venv_params=["--seed"])
def newest(session: nox.Session) -> None:
    """The suite on what ``pip install`` gives today."""
    session.install("-e", f"{ROOT}[test]")
    _suite(session)
    if not session.posargs:  # a run of chosen tests is not a release check
        session.run("streamreel", "bench")


@nox.session(venv_params=["--seed"])
def floors(session: nox.Session) -> None:
    """The suite on the lowest versions pyproject.toml declares."""
    session.install("-e", f"{ROOT}[test]", *floor_pins())
    session.run("python", "-m", "pip", "list", "--format=freeze")
    _suite(session)


@nox.session
def campaign(session: nox.Session) -> None:
    """A campaign's speed-up at two workers, in a campaign's own environment."""
    session.install(f"{ROOT}[pytest]", "pytest-xdist")
    session.chdir(session.create_tmp())
    session.run("streamreel", "bench", "--campaign", str(ROOT / "cassettes"), "--repeats", "3")
