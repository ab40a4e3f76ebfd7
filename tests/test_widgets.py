"""The widgets through their state: build them, click and slide as a user would, read back.

No browser and no kernel: ``Button.click()`` runs the click handlers, setting a slider's
``value`` runs its observers, and playback runs on an event loop started by the test.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
import tracemalloc
import weakref
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ipywidgets.widgets.widget import _instances
from sdkparsers import one_otid_calls
from streamreel.cassettes.storage import save_cassette
from streamreel.core.cassette import BodyChunk
from streamreel.core.errors import ConfigurationError
from streamreel.core.messages import merge_deltas, to_wire
from streamreel.core.parser import InterfaceSettings
from streamreel.core.results import ReplayResult
from streamreel.notebook import widgets as widgets_module
from streamreel.notebook.widgets import (
    CassetteBrowser,
    MessageView,
    SequenceDiff,
    StreamPlayer,
    TimingView,
)
from streamreel.playback.replay import replay
from test_display import (
    build,
    conversation,
    http_error,
    send_message,
    text_stream,
    weather_call,
)


def wires(messages: list) -> list[str]:  # type: ignore[type-arg]
    return [to_wire(m) for m in messages]


# -- StreamPlayer ----------------------------------------------------------------------------


def test_the_player_starts_before_the_first_chunk() -> None:
    result = conversation()
    player = StreamPlayer(result)
    assert player.position == 0 and player.messages == [] and player.current is None
    # Every body chunk is a frame; the HTTP error without a body stream is one more.
    assert player.frame_count == sum(len(i.chunks) for i in result.interactions) + 1
    assert player.slider.max == player.frame_count and player.slider.value == 0
    assert "press play or step" in player.raw_pane.value
    assert not player.playing and player.play_button.description == "▶ play"


def test_step_buttons_move_one_chunk_and_show_it() -> None:
    result = conversation()
    player = StreamPlayer(result)
    player.step_button.click()
    assert player.position == 1 and player.slider.value == 1
    first = result.interactions[0].chunks[0]
    assert player.raw_text == first.data.decode()
    assert "chunk #0" in player.raw_pane.value
    player.step_button.click()
    player.back_button.click()
    assert player.position == 1
    player.back_button.click()
    player.back_button.click()  # clamped at the start
    assert player.position == 0


def test_the_end_shows_exactly_the_merged_messages() -> None:
    result = conversation()
    player = StreamPlayer(result)
    player.end_button.click()
    assert player.at_end
    assert wires(player.messages) == wires(result.merged)
    assert wires(player.final_messages) == wires(result.merged)
    assert "It is 21 °C." in player.messages_pane.value
    player.rewind_button.click()
    assert player.position == 0 and player.messages == []


def test_every_position_shows_the_merge_of_what_arrived() -> None:
    result = conversation()
    player = StreamPlayer(result)
    arrived = []
    for position, frame in enumerate(player.frames, start=1):
        arrived.extend(
            frame.chunk.messages if frame.chunk is not None else frame.interaction.messages
        )
        player.slider.value = position  # scrubbing is the same state change as stepping
        assert wires(player.messages) == wires(merge_deltas(arrived)), position


@pytest.mark.parametrize("parser", [None, one_otid_calls], ids=["own", "dicts"])
def test_interleaved_parallel_calls_play_as_two_messages_growing_together(parser: Any) -> None:
    path = Path(__file__).resolve().parent.parent / "cassettes" / "openai-parallel-tool-calls.yaml"
    result = replay(path, parser=parser)
    player = StreamPlayer(result)
    arrived = []
    wrote_first = False
    for position, frame in enumerate(player.frames, start=1):
        assert frame.chunk is not None
        arrived.extend(frame.chunk.messages)
        player.slider.value = position
        assert wires(player.messages) == wires(merge_deltas(arrived)), position
        wrote_first = wrote_first or (len(player.messages) == 2 and player.highlighted == (0,))
    assert len(player.messages) == len(result.merged) == 2
    assert wrote_first  # the first call grows again once the second has begun
    player.close()


def test_the_current_chunk_highlights_the_message_it_wrote_to() -> None:
    result = replay(build(send_message("Plan it.", "Hello there, friend!")))
    player = StreamPlayer(result)
    produced_any = False
    for position in range(1, player.frame_count + 1):
        player.seek(position)
        frame = player.current
        assert frame is not None
        made = frame.chunk.messages if frame.chunk is not None else []
        if made:
            produced_any = True
            kinds = {player.messages[i].message_type for i in player.highlighted}
            assert kinds == {m.message_type for m in made}
            assert "sr-msg sr-" in player.messages_pane.value
            assert player.messages_pane.value.count("this chunk") == len(player.highlighted)
        else:
            assert player.highlighted == ()
            assert "this chunk" not in player.messages_pane.value
    assert produced_any


def test_frames_keep_the_recorded_pace_across_steps() -> None:
    result = replay(build(weather_call(), text_stream()))
    player = StreamPlayer(result)
    first, second = result.interactions
    assert [f.delay_ms for f in player.frames[:5]] == [100.0, 10.0, 10.0, 260.0, 10.0]
    at = [f.at_ms for f in player.frames]
    assert at == sorted(at)
    # The second step starts after the first ends, at its own time to first chunk.
    boundary = len(first.chunks)
    assert at[boundary] == pytest.approx(at[boundary - 1] + second.chunks[0].offset_ms)


def test_an_interaction_plays_alone() -> None:
    result = conversation()
    player = StreamPlayer(result.interactions[1])
    assert player.frame_count == len(result.interactions[1].chunks)
    player.to_end()
    assert wires(player.messages) == wires(result.interactions[1].merged)
    assert repr(player).startswith("<StreamPlayer interaction #1: ")


def test_play_runs_to_the_end_on_the_loop_at_the_scaled_pace() -> None:
    result = replay(build(text_stream()))  # 100 ms, then 5 chunks 10 ms apart: 150 ms
    player = StreamPlayer(result, speed=0.5)

    async def scenario() -> float:
        started = time.monotonic()
        task = player.play()
        assert player.playing and player.play_button.description == "‖ pause"
        await task
        return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    assert player.at_end and not player.playing
    assert wires(player.messages) == wires(result.merged)
    assert player.play_button.description == "▶ play"
    assert elapsed >= 0.070  # 150 ms of recorded waits × 0.5, less timer slack


def test_speed_zero_plays_without_waiting_and_yields_to_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = conversation()
    player = StreamPlayer(result, speed=0)
    ticks = 0
    waits: list[float] = []
    sleep = asyncio.sleep

    async def counted_sleep(delay: float, *args: Any) -> Any:
        waits.append(delay)
        return await sleep(delay, *args)

    # What the player asks to wait, not how long a loaded machine took: no wall clock.
    monkeypatch.setattr(widgets_module.asyncio, "sleep", counted_sleep)

    async def other_work() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def scenario() -> None:
        worker = asyncio.get_running_loop().create_task(other_work())
        await player.play()
        worker.cancel()

    asyncio.run(scenario())
    assert player.at_end
    # One wait a frame (the other task's own zero sleeps aside), and none of them for anything.
    assert len(waits) >= player.frame_count and set(waits) == {0}
    assert ticks >= player.frame_count - 1  # the kernel stays responsive between chunks


def test_the_play_button_pauses_and_resumes() -> None:
    result = replay(build(text_stream(), text_stream()))
    player = StreamPlayer(result, speed=1.0)

    async def scenario() -> None:
        player.play_button.click()
        assert player.playing
        await asyncio.sleep(0.15)  # past the first chunks of the first step
        player.play_button.click()
        assert not player.playing and player.play_button.description == "▶ play"
        paused_at = player.position
        assert 0 < paused_at < player.frame_count
        await asyncio.sleep(0.1)
        assert player.position == paused_at  # nothing moves while paused
        player.play_button.click()
        assert player._task is not None
        await player._task

    asyncio.run(scenario())
    assert player.at_end


def test_scrubbing_while_playing_continues_from_there() -> None:
    result = replay(build(text_stream(), text_stream()))
    player = StreamPlayer(result, speed=1.0)

    async def scenario() -> None:
        task = player.play()
        await asyncio.sleep(0.02)
        player.slider.value = player.frame_count - 1  # jump near the end while waiting
        await asyncio.wait_for(task, timeout=2)

    asyncio.run(scenario())
    assert player.at_end


def test_play_at_the_end_starts_again() -> None:
    player = StreamPlayer(replay(build(text_stream())), speed=0, position=10_000)
    assert player.at_end

    async def scenario() -> list[int]:
        seen: list[int] = []
        player.slider.observe(lambda change: seen.append(change["new"]), names="value")
        await player.play()
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == 0 and player.at_end


def test_play_needs_a_running_loop() -> None:
    player = StreamPlayer(conversation())
    with pytest.raises(ConfigurationError, match="expected a running event loop"):
        player.play()


def test_the_speed_dropdown_sets_the_factor_and_bad_factors_are_refused() -> None:
    player = StreamPlayer(conversation(), speed=3)
    assert player.speed_dropdown.value == 3 and "×3" in player.speed_dropdown.label
    player.speed_dropdown.value = 0.5
    assert player.speed == 0.5
    with pytest.raises(ConfigurationError, match="expected a factor >= 0"):
        StreamPlayer(conversation(), speed=-1)


def test_the_player_displays_a_widget_a_stable_text_and_a_snapshot() -> None:
    player = StreamPlayer(conversation(), speed=0)
    player.seek(3)
    bundle = player._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == (
        "<StreamPlayer scripted.yaml: 23 chunks in 3 steps, at 3/23, 1 message so far, waits ×0>"
    )
    assert "<style>" in bundle["text/html"] and "sr-hl" in bundle["text/html"]
    assert bundle["text/plain"] == repr(player)


# -- MessageView -----------------------------------------------------------------------------


def test_the_message_view_toggles_between_merged_and_deltas() -> None:
    result = conversation()
    view = MessageView(result)
    assert view.merged and wires(view.messages) == wires(result.merged)
    merged_html = view.html
    assert merged_html.count("class='sr-step'") == 3
    view.mode.value = False
    assert wires(view.messages) == wires(result.messages)
    assert view.html.count("sr-msg sr-") == len(result.messages) > merged_html.count("sr-msg sr-")
    assert repr(view).startswith("<MessageView deltas ")


def test_the_message_view_unfolds_reasoning_on_request() -> None:
    view = MessageView(conversation())
    assert "<details open>" not in view.html
    view.expand.value = True
    assert "<details open>" in view.html
    assert "sr-msg sr-error" in view.html  # errors are marked


def test_the_message_view_takes_a_plain_list() -> None:
    result = conversation()
    view = MessageView(result.messages)
    assert wires(view.messages) == wires(result.merged)
    assert repr(view).splitlines()[0] == (
        "<MessageView 5 messages in 2 steps: reasoning×2, tool_call×1, assistant×1, error×1>"
    )  # without the replay, the id-less error joins the step before it
    assert view._repr_mimebundle_()["text/html"] == view.html


# -- SequenceDiff ----------------------------------------------------------------------------


def test_two_recordings_of_the_same_conversation_are_identical() -> None:
    diff = SequenceDiff(conversation("a.yaml"), conversation("b.yaml"), labels=("a", "b"))
    assert diff.identical
    assert repr(diff) == "<SequenceDiff a vs b: identical, 5 messages>"
    assert "… 5 identical messages …" in diff.html
    diff.fold_box.value = False
    assert "identical messages …" not in diff.html
    assert diff.html.count("class='sr-same'") == 5


def test_two_settings_differ_where_the_send_message_call_is_read() -> None:
    cassette = build(weather_call(), send_message("Greet.", "Hi!"), text_stream())
    letta = replay(cassette, settings=InterfaceSettings(use_assistant_message=True))
    raw = replay(cassette, settings=InterfaceSettings(use_assistant_message=False))
    diff = SequenceDiff(letta, raw, labels=("assistant messages", "tool calls"))
    assert not diff.identical
    assert diff.counts["changed"] == 1 and diff.counts["same"] >= 3
    assert "message_type: <mark>" in diff.html  # an assistant message became a tool call
    assert "assistant messages vs tool calls" in repr(diff)


def test_a_diff_accepts_message_lists() -> None:
    left = conversation().merged
    diff = SequenceDiff(left, left[:-1])
    assert diff.counts == {"same": 4, "changed": 0, "removed": 1, "added": 0}
    assert "1 only in left" in repr(diff)


def test_notes_name_why_each_differing_pair_differs_in_a_third_column() -> None:
    left = conversation().merged
    right = [*left[:-1]]
    asked: list[tuple[object, object]] = []

    def why(a: object, b: object) -> str | None:
        asked.append((a, b))
        return "dropped <here>" if b is None else None

    diff = SequenceDiff(left, right, notes=why, fold=False)
    assert "<th>why</th>" in diff.html
    # Asked once per differing pair only, and escaped like every other text.
    assert asked == [(left[-1], None)]
    assert "<td class='sr-note'>dropped &lt;here&gt;</td>" in diff.html
    assert "<th>why</th>" not in SequenceDiff(left, right).html


# -- TimingView ------------------------------------------------------------------------------


def test_the_timing_view_plots_all_steps_or_one() -> None:
    result = conversation()
    view = TimingView(result)
    assert view.html.count("<svg") == 2
    assert view.choice.layout.display != "none"
    view.choice.value = 0
    assert [i.index for i in view.selected] == [0]
    assert "longest wait 260 ms before chunk #3" in view.html
    assert view.gaps(0)[:5] == [100.0, 10.0, 10.0, 260.0, 10.0]
    assert repr(view).startswith(
        "<TimingView scripted.yaml: step 1: first chunk 100 ms, 10 chunks over 440 ms,"
        " longest gap 260 ms; step 2: first chunk 100 ms"
    )
    assert repr(view).endswith("step 3: no chunk timing>")


def test_a_single_interaction_hides_the_chooser() -> None:
    view = TimingView(conversation().interactions[0])
    assert view.choice.layout.display == "none"
    assert view._repr_mimebundle_()["text/html"].count("<svg") == 2


# -- CassetteBrowser -------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    save_cassette(build(send_message("Plan.", "Hi!")), tmp_path / "greeting.yaml")
    save_cassette(build(weather_call(), http_error()), tmp_path / "weather-rate-limited.yaml")
    (tmp_path / "nested").mkdir()
    save_cassette(build(text_stream()), tmp_path / "nested" / "monologue.yaml")
    (tmp_path / "broken.yaml").write_text("interactions: [ {", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a cassette", encoding="utf-8")
    return tmp_path


def test_the_browser_lists_every_cassette_with_what_it_holds(folder: Path) -> None:
    browser = CassetteBrowser(folder)
    names = [e.name for e in browser.entries]
    assert names == [
        "broken.yaml",
        "greeting.yaml",
        "nested/monologue.yaml",
        "weather-rate-limited.yaml",
    ]
    entry = {e.name: e for e in browser.entries}
    assert entry["greeting.yaml"].providers == ["openai"]
    assert entry["greeting.yaml"].status == "ok"
    assert "tool-calls" in entry["weather-rate-limited.yaml"].features
    assert entry["weather-rate-limited.yaml"].status == "1 error"
    assert entry["broken.yaml"].status == "unreadable" and entry["broken.yaml"].problem
    assert browser.visible == names and len(browser.table.children) == 4
    assert "4 of 4 cassettes" in browser.count.value


def test_the_browser_filters_by_provider_text_and_errors(folder: Path) -> None:
    browser = CassetteBrowser(folder)
    assert [label for label, _ in browser.provider_filter.options] == ["all providers", "openai"]
    browser.provider_filter.value = "openai"
    assert "broken.yaml" not in browser.visible and len(browser.visible) == 3
    browser.text_filter.value = "TOOL-CALLS"
    assert browser.visible == ["greeting.yaml", "weather-rate-limited.yaml"]
    browser.errors_only.value = True
    assert browser.visible == ["weather-rate-limited.yaml"]
    assert len(browser.table.children) == 1 and "1 of 4 cassettes" in browser.count.value
    browser.provider_filter.value = ""
    browser.text_filter.value = ""
    assert browser.visible == ["broken.yaml", "weather-rate-limited.yaml"]


def test_opening_a_cassette_shows_its_player(folder: Path) -> None:
    browser = CassetteBrowser(folder, speed=0)
    browser.open_buttons["greeting.yaml"].click()
    assert browser.opened is not None and browser.opened.name == "greeting.yaml"
    player = browser.player
    assert isinstance(player, StreamPlayer) and player.speed == 0
    assert player.widget in browser.detail.children
    player.end_button.click()
    assert "Hi!" in player.messages_pane.value
    assert "greeting.yaml open" in repr(browser)
    browser.open_buttons["broken.yaml"].click()
    assert browser.player is None
    assert "cannot" in browser.detail.children[1].value


def test_the_browser_refuses_unknown_names_and_non_folders(folder: Path) -> None:
    browser = CassetteBrowser(folder)
    with pytest.raises(ConfigurationError, match="expected one of the cassettes"):
        browser.open("missing.yaml")
    with pytest.raises(ConfigurationError, match="expected a folder of cassettes"):
        CassetteBrowser(folder / "greeting.yaml")


def test_the_browser_displays_a_stable_text_and_a_table(folder: Path) -> None:
    browser = CassetteBrowser(folder)
    text = repr(browser).splitlines()
    assert text[0] == f"<CassetteBrowser {folder.name}: 4 of 4 cassettes shown>"
    assert text[2] == "  greeting.yaml: openai; tool-calls; ok"
    html = browser._repr_mimebundle_()["text/html"]
    assert html.count("<tr>") == 5 and "weather-rate-limited.yaml" in html


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_chunking_plays_to_the_same_messages(data: st.DataObject) -> None:
    """Where the provider split the bytes changes the frames, never what they add up to."""
    interaction = send_message("Plan: greet them.", "Hello — welcome back!")
    body = interaction.response.body
    cuts = sorted(data.draw(st.sets(st.integers(1, len(body) - 1), max_size=40)))
    pieces = [body[a:b] for a, b in itertools.pairwise([0, *cuts, len(body)])]
    interaction.response.chunks = [BodyChunk(10.0 * n, p) for n, p in enumerate(pieces)]
    result = replay(build(interaction))
    player = StreamPlayer(result)
    arrived = []
    for position, frame in enumerate(player.frames, start=1):
        assert frame.chunk is not None
        arrived.extend(frame.chunk.messages)
        player.seek(position)
        assert wires(player.messages) == wires(merge_deltas(arrived))
    assert wires(player.messages) == wires(result.merged)


# -- memory: frames derived when shown, close(), cells run again ------------------------------


def _long_stream(pieces: int) -> ReplayResult:
    text = "".join(f"w{i} " for i in range(pieces))
    return replay(build(send_message("Thinking it over.", text)))


def test_frames_hold_no_messages_of_their_own() -> None:
    result = _long_stream(400)
    player = StreamPlayer(result)
    for frame in player.frames:
        assert not hasattr(frame, "last")
        assert isinstance(frame.released, int)
    # The frames together hold references, not copies: their size does not grow with the text.
    assert player.final_messages and wires(player.final_messages) == wires(result.merged)


def test_the_players_memory_is_linear_in_the_stream() -> None:
    def added(pieces: int) -> int:
        result = _long_stream(pieces)
        gc.collect()
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            player = StreamPlayer(result)
            player.to_end()
            peak = tracemalloc.get_traced_memory()[1] - start
        finally:
            tracemalloc.stop()
        player.close()
        return peak

    # Four times the chunks: a merged copy per frame made this sixteen times; linear is four.
    assert added(2000) < 6 * added(500)


def test_close_lets_go_of_the_stream_and_the_widgets() -> None:
    result = conversation()
    player = StreamPlayer(result)
    player.end_button.click()
    widget_ids = {w.model_id for w in player._widgets}
    player.close()
    assert player.closed and player.frames == () and player.final_messages == []
    assert player.interactions == [] and player.messages == []
    assert not widget_ids & set(_instances)  # ipywidgets' registry of live widgets
    player.step()  # a closed player stays quiet
    player.close()


def test_a_closed_player_is_collected_although_its_widgets_were_shown() -> None:
    player = StreamPlayer(conversation())
    ref = weakref.ref(player)
    player.close()
    del player
    gc.collect()
    assert ref() is None


def test_running_a_cell_again_closes_what_its_last_run_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    where: list[tuple[str, int] | None] = [("cell-a", 1)]
    monkeypatch.setattr(widgets_module, "_CELL_VIEWS", widgets_module._CellViews(lambda: where[0]))
    first, second = StreamPlayer(conversation()), StreamPlayer(conversation())
    where[0] = ("cell-b", 2)
    other = StreamPlayer(conversation())
    assert not (first.closed or second.closed)  # another cell leaves them alone
    where[0] = ("cell-a", 3)
    again = StreamPlayer(conversation())
    assert first.closed and second.closed
    assert not other.closed and not again.closed
    where[0] = None  # outside a notebook nothing is tracked
    StreamPlayer(conversation())
    assert not again.closed


def test_the_running_cell_is_read_from_the_kernels_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Kernel:
        def get_parent(self, channel: str) -> dict[str, object]:
            assert channel == "shell"
            return {"metadata": {"cellId": "c-1"}}

    class Shell:
        kernel = Kernel()
        execution_count = 7

    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    assert widgets_module._running_cell() == ("c-1", 7)
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert widgets_module._running_cell() is None


def test_a_browser_lists_at_once_and_scans_later(folder: Path) -> None:
    browser = CassetteBrowser(folder, scan=False)
    assert [e.status for e in browser.entries] == ["not scanned"] * 4
    assert len(browser.table.children) == 4
    seen: list[tuple[int, int]] = []
    browser.scan(lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert browser.progress.value == 4 and browser.progress.layout.display == "none"
    entry = {e.name: e for e in browser.entries}
    assert entry["greeting.yaml"].status == "ok"
    assert entry["broken.yaml"].status == "unreadable"
    assert [label for label, _ in browser.provider_filter.options] == ["all providers", "openai"]
    scanned = CassetteBrowser(folder)
    assert [e.summary for e in scanned.entries] == [e.summary for e in browser.entries]


def test_a_browser_keeps_summaries_and_replays_on_open(folder: Path) -> None:
    browser = CassetteBrowser(folder, speed=0)
    for entry in browser.entries:
        assert not hasattr(entry, "result")
    first = browser.open("greeting.yaml")
    second = browser.open("nested/monologue.yaml")
    assert first is not None and first.closed  # the player it replaced let go
    assert second is not None and not second.closed
    browser.close()
    assert browser.closed and second.closed and browser.entries == []
