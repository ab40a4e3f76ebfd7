"""A notebook with widgets, executed and exported to static HTML with nbconvert's defaults.

nbconvert's HTML exporter prefers a widget view over every other representation of the same
output whenever the executed notebook saved the widget state (nbclient does by default), and a
widget view is drawn only by JavaScript fetched from a CDN: offline, or on a page that runs no
script, the output is blank. Each widget therefore shows a static snapshot as an output of its
own, next to the live view, which the live view hides once it has rendered. The export is read
as a browser without scripts would show it: the text outside ``<script>`` elements.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import jupyter_env
from nbclient import NotebookClient
from streamreel.core.messages import AssistantMessage
from streamreel.playback.replay import replay

ROOT = Path(__file__).resolve().parent.parent
CASSETTE = ROOT / "cassettes" / "openai-send-message-inner-thoughts.yaml"


def visible_text(page: str) -> str:
    """What a page shows without running scripts: tags, scripts and styles removed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, nbformat.NotebookNode]:
    folder = tmp_path_factory.mktemp("export")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from streamreel.playback.replay import replay\n"
            "from streamreel.notebook.widgets import MessageView, StreamPlayer\n"
            f"result = replay({str(CASSETTE)!r})"
        ),
        nbformat.v4.new_code_cell("MessageView(result)"),
        nbformat.v4.new_code_cell(
            "player = StreamPlayer(result, speed=0)\nplayer.to_end()\nplayer"
        ),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()  # defaults: state kept
    path = folder / "widgets.ipynb"
    nbformat.write(notebook, path)
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=jupyter_env(),
    )
    assert done.returncode == 0, done.stderr
    return (folder / "widgets.html").read_text(encoding="utf-8"), notebook


def test_the_executed_notebook_keeps_the_widget_state_as_nbconvert_defaults_do(
    exported: tuple[str, nbformat.NotebookNode],
) -> None:
    _, notebook = exported
    assert "application/vnd.jupyter.widget-state+json" in notebook.metadata["widgets"]


def test_the_messages_text_is_in_the_static_html_without_any_script(
    exported: tuple[str, nbformat.NotebookNode],
) -> None:
    page, _ = exported
    shown = " ".join(visible_text(page).split())
    said = [m.content for m in replay(CASSETTE).merged if isinstance(m, AssistantMessage)]
    assert said
    for text in said:
        for line in text.splitlines():
            assert " ".join(line.split()) in shown
    assert "<StreamPlayer openai-send-message-inner-thoughts.yaml" in shown


def test_each_widget_output_is_a_live_view_followed_by_its_snapshot(
    exported: tuple[str, nbformat.NotebookNode],
) -> None:
    _, notebook = exported
    for cell in notebook.cells[1:]:
        kinds = [sorted(output.get("data", {})) for output in cell.outputs]
        assert kinds == [
            ["application/vnd.jupyter.widget-view+json", "text/plain"],
            ["text/html", "text/plain"],
        ]
        snapshot = cell.outputs[1]["data"]["text/html"]
        assert "sr-static" in snapshot and ":has(.sr-live)" in snapshot
