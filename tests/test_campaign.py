"""Fuzz campaigns as pytest items: collection, failures with their cassette, xdist, diffs."""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path

import pytest
from streamreel.core.hazards import HAZARDS
from test_hazards import USER_READER
from test_plugin import NO_SYRUPY

pytest_plugins = ["pytester"]

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
CHOSEN = ("openai-line-separator-escaped.yaml", "openai-tool-name-split.yaml")

DIFFERENT_PARSER = """
from streamreel.playback.replay import default_parser


class Loud:
    def __init__(self, settings):
        self.inner = default_parser(settings)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def process_chunk(self, chunk, *args, **kwargs):
        for choice in chunk.choices:
            if choice.delta.content:
                choice.delta.content = choice.delta.content.upper()
        return self.inner.process_chunk(chunk, *args, **kwargs)
"""


@pytest.fixture
def campaign(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\n")
    folder = pytester.path / "cassettes"
    folder.mkdir()
    for name in CHOSEN:
        shutil.copy(CASSETTES / name, folder / name)
    (folder / "README.md").write_text("not a cassette\n", encoding="utf-8")
    (pytester.path / "userreader.py").write_text(USER_READER, encoding="utf-8")
    (pytester.path / "loud.py").write_text(DIFFERENT_PARSER, encoding="utf-8")
    pytester.syspathinsert()
    return pytester


def test_one_item_per_cassette_and_seed_and_hazard(campaign: pytest.Pytester) -> None:
    result = campaign.runpytest(
        "--streamreel-fuzz", "cassettes", "--streamreel-fuzz-seeds", "2", "--collect-only",
        "-q", *NO_SYRUPY,
    )  # fmt: skip
    items = [line for line in result.outlines if "::" in line]
    assert len(CHOSEN) * 2 < len(items) < len(CHOSEN) * (2 + len(HAZARDS))
    assert "cassettes/openai-tool-name-split.yaml::seed-1" in items
    assert "cassettes/openai-tool-name-split.yaml::hazard-sse-crlf" in items


def test_an_unreadable_cassette_is_one_failing_item(campaign: pytest.Pytester) -> None:
    (campaign.path / "cassettes" / "broken.yaml").write_text("interactions: [1, 2\n")
    result = campaign.runpytest("--streamreel-fuzz", "cassettes/broken.yaml", *NO_SYRUPY)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*broken.yaml: cannot read the cassette:*"])


def test_a_project_under_a_hidden_folder_is_still_collected(pytester: pytest.Pytester) -> None:
    # nox's .nox/, ~/.cache, a CI runner's work folder: only folders inside the project count.
    project = pytester.path / ".nox" / "campaign" / "project"
    (project / "cassettes" / "__snapshots__").mkdir(parents=True)
    (project / "cassettes" / ".hidden").mkdir()
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for folder in ("", "__snapshots__", ".hidden"):
        shutil.copy(CASSETTES / CHOSEN[0], project / "cassettes" / folder / CHOSEN[0])
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        result = pytester.runpytest_subprocess(
            "--streamreel-fuzz", "cassettes", "--collect-only", "-q", *NO_SYRUPY
        )
    files = {line.split("::")[0] for line in result.outlines if "::" in line}
    assert files == {f"cassettes/{CHOSEN[0]}"}


def test_without_the_flag_no_cassette_is_collected(campaign: pytest.Pytester) -> None:
    result = campaign.runpytest("cassettes", "--collect-only", "-q", *NO_SYRUPY)
    assert not [line for line in result.outlines if "::" in line]


def test_streamreels_own_interface_passes_the_campaign(campaign: pytest.Pytester) -> None:
    result = campaign.runpytest(
        "--streamreel-fuzz", "cassettes", "--streamreel-fuzz-examples", "4", *NO_SYRUPY
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes["passed"] >= len(CHOSEN) * 10
    assert "skipped" not in outcomes  # a hazard with nothing to rewrite is no item


def test_a_failing_hazard_is_a_failing_test_with_its_cassette(campaign: pytest.Pytester) -> None:
    result = campaign.runpytest(
        "--streamreel-fuzz", "cassettes", "--streamreel-reader", "userreader:MyReader",
        "--streamreel-fuzz-seeds", "0", "--junitxml", "report.xml", *NO_SYRUPY,
    )  # fmt: skip
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1 and outcomes["passed"] > 10
    written = (
        campaign.path / "streamreel-failures"
        / "openai-line-separator-escaped.raw-line-separator.yaml"
    )  # fmt: skip
    assert written.exists()
    result.stdout.fnmatch_lines(
        [
            "*openai-line-separator-escaped.yaml::hazard-raw-line-separator*",
            f"*reproducing cassette written to {written}*",
        ]
    )
    report = (campaign.path / "report.xml").read_text(encoding="utf-8")
    assert 'name="reproduction"' in report and str(written) in report


def test_xdist_spreads_the_campaign_and_reports_the_same_failures(
    campaign: pytest.Pytester,
) -> None:
    args = (
        "--streamreel-fuzz", "cassettes", "--streamreel-reader", "userreader:MyReader",
        "--streamreel-fuzz-examples", "4", "-p", "no:randomly", *NO_SYRUPY,
    )  # fmt: skip
    alone = campaign.runpytest_subprocess(*args, "-p", "xdist", "-n", "0", "-rf")
    spread = campaign.runpytest_subprocess(*args, "-p", "xdist", "-n", "2", "-rf")

    def failures(lines: list[str]) -> list[str]:
        return sorted(line.split(" - ")[0] for line in lines if line.startswith("FAILED"))

    assert failures(alone.outlines) == failures(spread.outlines)
    assert failures(alone.outlines) == [
        "FAILED cassettes/openai-line-separator-escaped.yaml::hazard-raw-line-separator"
    ]
    assert "2 workers" in spread.stdout.str()


def test_a_diff_item_per_cassette(campaign: pytest.Pytester) -> None:
    result = campaign.runpytest(
        "--streamreel-fuzz", "cassettes", "--streamreel-diff-against", "loud:Loud",
        "--streamreel-hazards", "sse-crlf", "--streamreel-fuzz-seeds", "0", "-rf", *NO_SYRUPY,
    )  # fmt: skip
    result.stdout.fnmatch_lines(["FAILED cassettes/openai-line-separator-escaped.yaml::diff*"])
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1  # the tool-name cassette has no content to shout


WATCHER = """
import gc, json
from pathlib import Path

from streamreel.testing.campaign import CampaignFile

seen = []


def pytest_runtest_call(item):
    holding = sorted({
        other.parent.path.name
        for other in item.session.items
        if isinstance(other.parent, CampaignFile)
        and {"loaded", "baseline"} & set(vars(other.parent))
    })
    seen.append({"item": item.nodeid, "holding": holding, "frozen": gc.get_freeze_count()})


def pytest_sessionfinish(session):
    Path("watched.json").write_text(json.dumps(seen))
"""


def test_a_campaign_holds_one_cassette_at_a_time_and_sets_collection_aside(
    campaign: pytest.Pytester,
) -> None:
    # What a campaign keeps while it runs is what every full pass of the garbage collector
    # walks, in every worker: one file's cassette and replay, not the whole folder's, and
    # what collection built set aside (gc.freeze) once collection is over.
    (campaign.path / "conftest.py").write_text(WATCHER, encoding="utf-8")
    result = campaign.runpytest_subprocess(
        "--streamreel-fuzz", "cassettes", "--streamreel-fuzz-examples", "2", *NO_SYRUPY
    )
    assert result.ret == 0
    watched = json.loads((campaign.path / "watched.json").read_text(encoding="utf-8"))
    assert len(watched) > 2 * len(CHOSEN)
    for record in watched:
        this_file = record["item"].split("::")[0].rsplit("/", 1)[-1]
        assert record["holding"] in ([], [this_file]), record
        assert record["frozen"] > 1000, record
    # Each file really was read, and let go when the next one began.
    assert {tuple(record["holding"]) for record in watched} >= {(name,) for name in CHOSEN}


def test_a_campaign_run_inside_another_session_leaves_its_heap_alone(
    campaign: pytest.Pytester,
) -> None:
    before = gc.get_freeze_count()
    result = campaign.runpytest(
        "--streamreel-fuzz", "cassettes", "--streamreel-fuzz-seeds", "0",
        "--streamreel-hazards", "sse-crlf", *NO_SYRUPY,
    )  # fmt: skip
    result.assert_outcomes(passed=len(CHOSEN))
    assert gc.get_freeze_count() == before


def test_whether_a_hazard_has_sites_agrees_with_finding_them() -> None:
    from streamreel.testing.hazards import hazard_sites, hazards_with_sites, load_for_fuzzing

    for path in sorted(CASSETTES.glob("*.yaml")):
        cassette, provider, api = load_for_fuzzing(path)
        found = {
            hazard.name: hazard_sites(cassette, hazard, provider=provider, api=api)
            for hazard in HAZARDS.values()
        }
        chosen = hazards_with_sites(cassette, HAZARDS.values(), provider=provider, api=api)
        assert [hazard.name for hazard in chosen] == [name for name in found if found[name]]
        for hazard in HAZARDS.values():
            # Asked again (the readings of the body are remembered), the same sites.
            assert hazard_sites(cassette, hazard, provider=provider, api=api) == found[hazard.name]
