"""Differential replay: knobs, factories, aligned rows, the text and HTML reports, the CLI."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import cassettefactory as cf
import pytest
from click.testing import CliRunner
from streamreel.cli import main
from streamreel.core.errors import ConfigurationError
from streamreel.core.parser import InterfaceSettings
from streamreel.letta.interface import StreamingServerInterface
from streamreel.playback.replay import replay
from streamreel.testing.diff import (
    Side,
    apply_knobs,
    compare_results,
    diff_cassette,
    diff_cassettes,
    load_factory,
    parse_knobs,
    render_html,
    render_text,
)


def builtin(settings: InterfaceSettings) -> StreamingServerInterface:
    """streamreel's interface, built by hand: a second parser that should agree everywhere."""
    return StreamingServerInterface(
        use_assistant_message=settings.use_assistant_message,
        inner_thoughts_in_kwargs=settings.inner_thoughts_in_kwargs,
    )


NOT_A_FACTORY = 42


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    return cf.write(tmp_path / "c.yaml", cf.search_call(), cf.send_message())


SPOKEN = Side("spoken")
TOOLS = Side("tools", settings=InterfaceSettings(use_assistant_message=False))


# -- knobs and factories -----------------------------------------------------------------------


def test_knobs_parse_with_types_and_dashes() -> None:
    knobs = parse_knobs(
        ["use-assistant-message=no", "inner_thoughts_kwarg=thoughts", "expect_reasoning_content=1"]
    )
    assert knobs == {
        "use_assistant_message": False,
        "inner_thoughts_kwarg": "thoughts",
        "expect_reasoning_content": True,
    }
    settings = apply_knobs(InterfaceSettings(use_assistant_message=True), knobs)
    assert settings == InterfaceSettings(
        use_assistant_message=False, inner_thoughts_kwarg="thoughts"
    )


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("colour=blue", "expected key=value with a key among use_assistant_message"),
        ("use_assistant_message", "got 'use_assistant_message'"),
        ("use_assistant_message=maybe", "expected true or false, got 'maybe'"),
    ],
)
def test_bad_knobs_say_what_was_expected(pair: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_knobs([pair])


def test_apply_knobs_checks_types() -> None:
    with pytest.raises(ConfigurationError, match="expected a bool, got 'yes'"):
        apply_knobs(InterfaceSettings(), {"use_assistant_message": "yes"})


def test_load_factory_finds_dotted_attributes_and_explains_failures() -> None:
    assert load_factory("test_diff:builtin") is builtin
    dotted: object = load_factory("streamreel.testing.diff:Side.replay")
    assert dotted is Side.replay
    for spec, message in [
        ("test_diff", "expected MODULE:FACTORY, got 'test_diff'"),
        ("no_such_module:x", "expected an importable module, got 'no_such_module'"),
        ("test_diff:missing", "expected test_diff to define missing, got no attribute"),
        ("test_diff:NOT_A_FACTORY", "expected a callable at test_diff:NOT_A_FACTORY, got int"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            load_factory(spec)


# -- comparing ---------------------------------------------------------------------------------


def test_equal_parsers_agree(cassette: Path) -> None:
    diff = diff_cassette(cassette, left=SPOKEN, right=Side("hand-built", parser=builtin))
    assert not diff.differs
    assert [len(i.rows) for i in diff.interactions] == [2, 2]
    assert all(row.status == "same" for i in diff.interactions for row in i.rows)


def test_a_knob_change_is_a_changed_row_with_its_fields(cassette: Path) -> None:
    diffs = compare_results(replay(cassette), replay(cassette, settings=TOOLS.settings))
    assert not diffs[0].differs
    (row,) = diffs[1].changes
    assert row.status == "changed" and (row.left_index, row.right_index) == (1, 1)
    assert (row.left_type, row.right_type) == ("assistant_message", "tool_call_message")
    assert row.fields == ("message_type", "content", "tool_call")
    assert row.left is not None and '"id":"<message-2>"' in row.left


def test_extra_messages_are_one_sided_rows(cassette: Path) -> None:
    left = replay(cassette)
    right = replay(cassette)
    right.interactions[1].messages.append(left.interactions[0].messages[0])
    del right.interactions[0].messages[0:1]
    diffs = compare_results(left, right, merge=False)
    assert [row.status for row in diffs[0].changes] == ["left-only"]
    assert [row.status for row in diffs[1].changes] == ["right-only"]
    assert diffs[1].changes[0].right_type == "reasoning_message"


def test_a_broken_cassette_is_an_error_not_a_crash(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("interactions: {oops", encoding="utf-8")
    diff = diff_cassette(broken, left=SPOKEN, right=TOOLS)
    assert not diff.differs and diff.error is not None and "cannot parse cassette" in diff.error


# -- reports -----------------------------------------------------------------------------------


def test_text_report_names_cassette_interaction_message_and_fields(cassette: Path) -> None:
    diffs = diff_cassettes([cassette, cassette], left=SPOKEN, right=TOOLS)
    text = render_text(diffs, left="spoken", right="tools")
    assert text[0] == (f"{cassette}: interaction 1 (POST {cf.URL}): 1 of 2 rows differ")
    assert text[1] == (
        "  message 1 (assistant_message) -> message 1 (tool_call_message): "
        "message_type, content, tool_call differ"
    )
    # Field by field, only what differs.
    assert text[2:4] == [
        '    - spoken  "message_type":"assistant_message"',
        '    + tools   "message_type":"tool_call_message"',
    ]
    assert text[4].startswith('    - spoken  "content":"The caf\\u00e9 is open')
    assert text[5] == "    + tools   (content absent)"
    assert text[-1] == "2 of 2 cassettes differ between spoken and tools"
    same = render_text(diff_cassettes([cassette], left=SPOKEN, right=SPOKEN), left="a", right="b")
    assert same == [
        f"{cassette}: same (2 interactions, 4 messages)",
        "0 of 1 cassettes differ between a and b",
    ]


class _Rows(HTMLParser):
    """Collects table rows (class and data attributes) and what is marked inside them."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.marks: list[tuple[str, str]] = []
        self.external: list[str] = []
        self._mark: str | None = None
        self.has_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and "class" in found:
            self.rows.append(found)
        if tag in ("del", "ins"):
            self._mark = tag
        if tag == "style":
            self.has_style = True
        for name in ("src", "href"):
            if found.get(name):
                self.external.append(str(found[name]))
        if tag in ("link", "script", "img", "iframe"):
            self.external.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("del", "ins"):
            self._mark = None

    def handle_data(self, data: str) -> None:
        if self._mark is not None:
            self.marks.append((self._mark, data))


def test_html_report_is_self_contained_with_the_differences_marked(
    cassette: Path, tmp_path: Path
) -> None:
    diffs = diff_cassettes([cassette], left=SPOKEN, right=TOOLS)
    page = render_html(diffs, left="spoken <left>", right="tools")
    assert page.startswith("<!DOCTYPE html>")
    rows = _Rows()
    rows.feed(page)
    assert rows.has_style and rows.external == []
    assert "spoken &lt;left&gt;" in page  # labels are escaped
    changed = [r for r in rows.rows if r["class"] == "changed"]
    assert len(changed) == 1
    assert changed[0]["data-interaction"] == "1"
    assert (changed[0]["data-left"], changed[0]["data-right"]) == ("1", "1")
    assert "message_type, content, tool_call differ" in str(changed[0]["title"])
    assert [r["class"] for r in rows.rows].count("same") == 3
    deleted = "".join(text for tag, text in rows.marks if tag == "del")
    inserted = "".join(text for tag, text in rows.marks if tag == "ins")
    assert '"assistant_message"' in deleted and '"tool_call_message"' in inserted
    assert '"id"' not in deleted + inserted  # what is equal stays unmarked


# -- the command -------------------------------------------------------------------------------


def test_diff_command_prints_differences_and_writes_html(cassette: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = CliRunner().invoke(
        main,
        [
            "diff", str(cassette), "--right-settings", "use_assistant_message=false",
            "--html", str(report),
        ],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "interaction 1" in result.output and "1 of 2 rows differ" in result.output
    assert "- streamreel" in result.output
    assert "+ streamreel [use_assistant_message=False]" in result.output
    assert 'class="changed"' in report.read_text(encoding="utf-8")


def test_diff_command_agrees_with_an_equal_parser(cassette: Path) -> None:
    result = CliRunner().invoke(
        main, ["diff", str(cassette.parent), "--against", "test_diff:builtin"]
    )
    assert result.exit_code == 0, result.output
    assert f"{cassette}: same (2 interactions, 4 messages)" in result.output


def test_diff_command_needs_two_different_sides(cassette: Path) -> None:
    result = CliRunner().invoke(main, ["diff", str(cassette)])
    assert result.exit_code == 2
    assert "cannot compare: expected two different sides" in result.output
    bad = CliRunner().invoke(main, ["diff", str(cassette), "--left-settings", "x=1"])
    assert bad.exit_code == 2 and "cannot read the setting 'x=1'" in bad.output


def test_diff_command_compares_deltas_on_request(cassette: Path) -> None:
    result = CliRunner().invoke(
        main, ["diff", str(cassette), "--deltas", "--right-settings", "use_assistant_message=0"]
    )
    assert result.exit_code == 1
    # One row per delta, not one per message: the deltas of the message text have no
    # counterpart among the tool call's.
    places = [line for line in result.output.splitlines() if line.startswith("  message ")]
    assert len(places) > 4
    assert '"content":"The"' in result.output  # the first delta of the message text
