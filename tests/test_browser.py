"""The exploring notebook in a real browser: Voila serves it, Debian's chromium plays a stream.

The widget tests check the player's state in Python; this test checks that the same widgets
render and respond in a browser: Voila runs the notebook in a kernel and serves its outputs as
a page on loopback, Playwright drives chromium to rewind the player, press play, and wait for
the stream to finish, and the page must then show the stream's final messages. A screenshot
is kept under ``test-artifacts/`` to look at.

No test reaches the network, so this one installs nothing: Voila and Playwright are test
dependencies, and Debian's chromium (Playwright cannot download its own browser build here, so
it drives Debian's) is installed before the suite runs. When one is missing the test fails,
saying what to install, rather than skipping.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import jupyter_env
from streamreel.core.messages import AssistantMessage
from streamreel.playback.replay import replay

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "explore-a-recorded-stream.ipynb"
CASSETTE = ROOT / "cassettes" / "openai-send-message-inner-thoughts.yaml"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PACKAGES = {"voila": "voila>=0.5", "playwright": "playwright>=1.40"}


@pytest.fixture(scope="session")
def browser_tools() -> None:
    """Voila and Playwright importable: test dependencies, installed before the suite runs."""
    missing = [spec for name, spec in PACKAGES.items() if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(
            f"cannot run the browser test: expected {', '.join(missing)} installed, got none;"
            " install the test dependencies first: pip install -e '.[test]'"
        )


def require_chromium(path: Path = CHROMIUM) -> Path:
    """``path`` when chromium is there; else the test fails saying how to install it."""
    if not path.exists():
        pytest.fail(
            f"cannot run the browser test: expected {path}, got nothing; install it first"
            " (Debian or Ubuntu, as root: apt-get update && apt-get install -y chromium)"
        )
    return path


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed before the suite runs (no test installs anything)."""
    return require_chromium()


def test_a_missing_chromium_fails_saying_what_to_install_without_installing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a test ran a process: {args}")

    monkeypatch.setattr(subprocess, "run", no_process)
    monkeypatch.setattr(subprocess, "Popen", no_process)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        require_chromium(tmp_path / "chromium")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def voila_url(browser_tools: None, tmp_path: Path) -> Iterator[str]:
    """Voila serving the exploring notebook on a loopback port, stopped after the test."""
    port = _free_port()
    log = (tmp_path / "voila.log").open("w", encoding="utf-8")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            str(NOTEBOOK),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--Voila.port_retries=0",
            f"--Voila.root_dir={NOTEBOOK.parent}",
        ],
        cwd=NOTEBOOK.parent,
        env=jupyter_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def log_text() -> str:
        return (tmp_path / "voila.log").read_text(encoding="utf-8")

    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"voila exited with {server.returncode}:\n{log_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"voila did not listen within 60 s:\n{log_text()}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()


def test_the_player_plays_a_stream_to_its_final_messages_in_chromium(
    chromium: Path, voila_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    result = replay(CASSETTE)
    total = sum(len(i.chunks) for i in result.interactions)
    said = [m.content for m in result.merged if isinstance(m, AssistantMessage)]
    assert said, "the cassette should end in something said to the user"
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh profile for every run
            executable_path=str(chromium),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(voila_url, wait_until="domcontentloaded", timeout=60_000)
            player = page.locator(".streamreel-player").first
            expect(player).to_be_visible(timeout=120_000)  # the kernel runs the notebook first
            status = player.locator(".streamreel-status")
            messages = player.locator(".streamreel-messages-pane")
            expect(status).to_contain_text(f"{total} of {total} chunks")

            player.get_by_role("button", name="|◀", exact=True).click()
            expect(status).to_contain_text(f"0 of {total} chunks")
            expect(messages).not_to_contain_text(said[-1].splitlines()[0])

            player.get_by_role("button", name="▶ play", exact=True).click()
            expect(player.get_by_role("button", name="‖ pause", exact=True)).to_be_visible()
            expect(status).to_contain_text(f"{total} of {total} chunks", timeout=60_000)
            expect(status).not_to_contain_text("playing")
            expect(player.get_by_role("button", name="▶ play", exact=True)).to_be_visible()

            for text in said:
                for line in text.splitlines():
                    expect(messages).to_contain_text(line)
            expect(player.locator(".sr-msg.sr-assistant")).to_have_count(len(said))
            assert page.locator("svg[aria-label='chunks over time']").count() >= 1
            assert "Traceback" not in page.inner_text("body")
            # Each live widget hides the static snapshot shown beside it for exports.
            snapshots = page.locator(".sr-static")
            assert snapshots.count() >= 4
            for number in range(snapshots.count()):
                expect(snapshots.nth(number)).to_be_hidden()

            # Voila scrolls inside the page, so a tall viewport is what shows the whole of it.
            page.set_viewport_size({"width": 1280, "height": 5000})
            page.screenshot(path=str(ARTIFACTS / "explore-a-recorded-stream.png"), full_page=True)
            player.screenshot(path=str(ARTIFACTS / "explore-a-recorded-stream-player.png"))
        finally:
            context.close()
