"""Notebook widgets for exploring replayed streams: a player, message and timing views, a diff,
and a cassette browser.

Theory of operation
-------------------
Each widget is a plain Python object that *owns* an ipywidgets tree (``.widget``) rather than
being one. Its state lives in ordinary attributes and properties, and every user action is a
method (``step``, ``seek``, ``play``, ``open``...) that the buttons merely call. That keeps the
behaviour testable in plain pytest, with no browser and no kernel: build the object, call
``Button.click()`` or set a slider's ``value``, then read the properties or the HTML.

The panes are HTML widgets filled by the pure renderers of :mod:`streamreel.notebook.display`, so
what a
widget shows and what a result shows by itself are drawn by the same code.

Displaying a widget object in a notebook yields two outputs: the live widget view (with a
``text/plain`` label; the view's model id is random and nbval skips it), then a ``text/html``
snapshot of the current state with a ``text/plain`` line describing it (what ``pytest --nbval``
compares). The snapshot is a separate output because an exporter holding the widget state
(nbconvert's HTML exporter, after a default execution) picks the widget view over every other
representation of the same output, and the view needs JavaScript from a CDN: the snapshot is
what a static HTML export, a code host or an offline reader shows. Once the live view has
rendered, a CSS rule in the snapshot hides the snapshot beside it, so a live notebook or Voila
shows each widget once. ``_repr_mimebundle_`` still gives all three representations in one
bundle, for front ends that call it directly.

Playback (:class:`StreamPlayer`) runs as an ``asyncio`` task on the loop the kernel already
runs (ipykernel, and so Voila, execute cells and widget callbacks on it), so the kernel stays
responsive while a stream plays: a pause click is handled between two chunks. Waits are
measured against the loop's clock from the moment play starts, so they do not drift, and the
message pane is redrawn at most every few tens of milliseconds when chunks come faster than that.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamreel.cassettes.discovery import CASSETTE_SUFFIXES, expand
from streamreel.core.errors import ConfigurationError, MissingExtraError, StreamreelError

try:
    import ipywidgets as widgets
except ImportError as exc:  # the widget stack is the [notebook] extra
    raise MissingExtraError("the notebook widgets", "ipywidgets", "notebook") from exc
from streamreel.core.messages import AgentMessage, DeltaGroups, merge_deltas
from streamreel.core.parser import InterfaceSettings
from streamreel.core.results import ChunkRecord, InteractionResult, ReplayResult
from streamreel.core.wording import counted as _plural
from streamreel.notebook.display import (
    DEFAULT_IGNORED_FIELDS,
    STYLE,
    DiffRow,
    MessageSource,
    RowNote,
    diff_html,
    diff_messages,
    diff_text,
    escape,
    fold_rows,
    kind_counts,
    messages_html,
    messages_text,
    show,
    timing_html,
)
from streamreel.playback.replay import ParserFactory, ReplaySteps, replay

__all__ = [
    "CASSETTE_SUFFIXES",
    "CassetteBrowser",
    "CassetteEntry",
    "Frame",
    "MessageView",
    "SequenceDiff",
    "StreamPlayer",
    "TimingView",
]


_REDRAW_S = 0.04  # during playback, redraw the panes at most this often (about 25 frames a second)
_RAW_LIMIT = 20_000  # characters of one raw chunk shown; a whole JSON body can be megabytes
_LIVE = "sr-live"  # the class of a rendered widget view
_STATIC = "sr-static"  # the class of the snapshot shown next to it


def _name(result: ReplayResult) -> str:
    return result.path.name if result.path is not None else "(in memory)"


class _View:
    """What every widget object shares: the widget tree and how it displays in a notebook."""

    widget: widgets.Widget

    def snapshot_html(self) -> str:
        """The current state as static HTML (for exports and code hosts, which draw no widget)."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = repr(self)
        bundle["text/html"] = self.snapshot_html()
        return bundle

    def _ipython_display_(self) -> None:
        """Show the live view, then the snapshot as an output of its own.

        An exporter that has the widget state (nbconvert's HTML exporter after a default
        execution) picks the widget view over any other representation of the same output, and
        that view is drawn only by JavaScript from a CDN: offline, one output would be blank.
        The snapshot, a separate output, is always exported; the live view, once rendered,
        marks itself ``sr-live`` and a rule in the snapshot hides the snapshot next to it.
        """
        from IPython import display as ipython_display

        # IPython ships no types for display(); it is called through an Any.
        display: Any = ipython_display.display
        self.widget.add_class(_LIVE)
        live = dict(self.widget._repr_mimebundle_() or {})
        live["text/plain"] = f"<{type(self).__name__} widget: live view; its snapshot follows>"
        snapshot = (
            f"<style>.jp-OutputArea-child:has(.{_LIVE}) + .jp-OutputArea-child:has(.{_STATIC})"
            f"{{display:none}}</style><div class='{_STATIC}'>{self.snapshot_html()}</div>"
        )
        display(live, raw=True)
        display({"text/html": snapshot, "text/plain": repr(self)}, raw=True)


def _running_cell() -> tuple[str, int] | None:
    """The notebook cell running now (its id) and which run of it this is; None outside one.

    Jupyter front ends send the cell's id with each execution request (``metadata.cellId``);
    the shell counts executions.
    """
    try:
        import IPython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    # Looked up rather than imported by name: IPython 8 neither exports nor types it.
    shell: Any = getattr(IPython, "get_ipython", lambda: None)()
    kernel = getattr(shell, "kernel", None)
    get_parent = getattr(kernel, "get_parent", None)
    if shell is None or get_parent is None:
        return None
    parent = get_parent("shell") or {}
    cell = (parent.get("metadata") or {}).get("cellId")
    if not isinstance(cell, str):
        return None
    return cell, int(shell.execution_count)


class _CellViews:
    """The players and browsers each notebook cell made, so a cell run again closes its old ones.

    ipywidgets keeps every widget alive until it is closed, and a player's widgets keep the
    player and its replay result: each run of a cell that builds one would otherwise add a
    stream's worth of memory for the life of the kernel. Running a cell again replaces its
    output, so what its previous run built can no longer be seen, and is closed. Views are held
    weakly: one closed or gone already is left alone.
    """

    def __init__(self, where: Callable[[], tuple[str, int] | None] = _running_cell) -> None:
        self._where = where
        self._runs: dict[str, tuple[int, list[weakref.ref[_Closable]]]] = {}

    def adopt(self, view: _Closable) -> None:
        where = self._where()
        if where is None:
            return
        cell, run = where
        previous = self._runs.get(cell)
        if previous is not None and previous[0] != run:
            for ref in previous[1]:
                old = ref()
                if old is not None:
                    old.close()
            previous = None
        if previous is None:
            previous = self._runs[cell] = (run, [])
        previous[1].append(weakref.ref(view))


class _Closable(_View):
    """A view that holds data until closed: :class:`StreamPlayer`, :class:`CassetteBrowser`."""

    def close(self) -> None:
        raise NotImplementedError


_CELL_VIEWS = _CellViews()


# -- StreamPlayer ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """One step of playback: a body chunk arriving, and what the messages look like after it.

    ``produced`` holds the positions, in the merged messages, that this chunk wrote to;
    ``released`` counts the stream's messages (deltas) emitted up to and with it. A frame keeps
    no messages of its own: the merged messages after any frame are the final ones cut to
    ``merged_count``, those whose deltas go on past the frame (the last, and parallel calls
    still streaming) rebuilt from their deltas released so far when the frame is shown. A frame
    costs O(1) memory however long the stream; keeping a merged copy per frame grew with the
    square of it.
    """

    step: int
    interaction: InteractionResult
    chunk: ChunkRecord | None
    at_ms: float
    delay_ms: float
    produced: tuple[int, ...]
    merged_count: int
    released: int


def _releases(interaction: InteractionResult) -> list[int]:
    """How many of the interaction's messages have been emitted after each of its chunks.

    Chunk records hold the same message objects as the interaction, so they are matched by
    identity; messages no chunk claims (an error message after a decode failure) are released
    with the next chunk that emits something, and the rest with the last chunk.
    """
    position = {id(message): index for index, message in enumerate(interaction.messages)}
    released = 0
    cuts: list[int] = []
    for record in interaction.chunks:
        for message in record.messages:
            released = max(released, position.get(id(message), released - 1) + 1)
        cuts.append(released)
    if cuts:
        cuts[-1] = len(interaction.messages)
    return cuts


class _Timeline:
    """Every frame of the given interactions played one after another, and how to merge them.

    ``deltas`` is the stream's messages in the order they were emitted and ``members``, per
    merged message, the positions in it of that message's deltas, grouped as
    :func:`~streamreel.core.messages.merge_deltas` groups them (parallel calls interleave, so a
    message's deltas need not be adjacent). Both hold references and numbers only, so the
    timeline is linear in the stream.
    """

    def __init__(self, interactions: Sequence[InteractionResult]) -> None:
        self.frames: list[Frame] = []
        self.deltas: list[AgentMessage] = []
        self.members: list[list[int]] = []
        place = DeltaGroups().place
        clock = 0.0
        for step, interaction in enumerate(interactions):
            records: list[ChunkRecord | None] = list(interaction.chunks)
            cuts = _releases(interaction)
            if not records and interaction.messages:  # an HTTP error or a whole JSON body
                records, cuts = [None], [len(interaction.messages)]
            released = 0
            previous_offset = 0.0
            step_start = clock
            for record, cut in zip(records, cuts, strict=True):
                touched: list[int] = []
                for message in interaction.messages[released:cut]:
                    slot = place(message)
                    if slot == len(self.members):
                        self.members.append([])
                    self.members[slot].append(len(self.deltas))
                    self.deltas.append(message)
                    if slot not in touched:
                        touched.append(slot)
                released = cut
                offset = record.offset_ms if record is not None else previous_offset
                delay = max(offset - previous_offset, 0.0)
                previous_offset = offset
                clock = step_start + offset
                self.frames.append(
                    Frame(
                        step=step,
                        interaction=interaction,
                        chunk=record,
                        at_ms=clock,
                        delay_ms=delay,
                        produced=tuple(touched),
                        merged_count=len(self.members),
                        released=len(self.deltas),
                    )
                )

    def merged_at(self, index: int, released: int) -> AgentMessage:
        """Merged message ``index`` as it stood once ``released`` deltas had been emitted."""
        members = self.members[index]
        run = [self.deltas[i] for i in members[: bisect.bisect_left(members, released)]]
        return run[0] if len(run) == 1 else merge_deltas(run)[0]

    def final(self) -> list[AgentMessage]:
        return [self.merged_at(index, len(self.deltas)) for index in range(len(self.members))]

    def shown(self, frame: Frame, final: Sequence[AgentMessage]) -> list[AgentMessage]:
        """The merged messages after ``frame``: the final ones, but those with deltas still to
        come rebuilt from the deltas released so far."""
        released = frame.released
        return [
            final[index] if members[-1] < released else self.merged_at(index, released)
            for index, members in enumerate(self.members[: frame.merged_count])
        ]


_SPEEDS: list[tuple[str, float]] = [
    ("×0 no waits", 0.0),
    ("×0.1", 0.1),
    ("×0.5", 0.5),
    ("×1 recorded", 1.0),
    ("×2", 2.0),
    ("×5", 5.0),
]


class StreamPlayer(_Closable):
    """Play a replayed stream chunk by chunk, at the recorded pace.

    ``speed`` multiplies the recorded waits between chunks, as the emulator's ``speed`` does:
    1 is the recorded pace, 0.5 twice as fast, 2 twice as slow, 0 no waits at all. ``position``
    counts the chunks delivered, from 0 (nothing yet) to :attr:`frame_count` (the whole stream).

    A replay result plays its interactions one after another, as the steps of the agent turn
    they were replayed as. An interaction without body chunks (an HTTP error, a JSON body) is
    one frame.
    """

    def __init__(
        self,
        source: ReplayResult | InteractionResult,
        *,
        speed: float = 1.0,
        position: int = 0,
    ) -> None:
        if speed < 0:
            raise ConfigurationError(
                f"cannot play at speed {speed}: expected a factor >= 0 for the recorded waits;"
                " use 0 for no waits, 1 for the recorded pace"
            )
        if isinstance(source, ReplayResult):
            self.label = _name(source)
            interactions = list(source.interactions)
        else:
            self.label = f"interaction #{source.index}"
            interactions = [source]
        self.interactions = interactions
        self._timeline = _Timeline(interactions)
        self.frames: tuple[Frame, ...] = tuple(self._timeline.frames)
        self.final_messages: list[AgentMessage] = self._timeline.final()
        self._shown: tuple[int, list[AgentMessage]] = (0, [])
        self.speed = speed
        self._position = 0
        self._task: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None
        self._quiet = False

        self.rewind_button = widgets.Button(description="|◀", tooltip="back to the start")
        self.back_button = widgets.Button(description="◀ step", tooltip="one chunk back")
        self.play_button = widgets.Button(
            description="▶ play", button_style="primary", tooltip="play at the chosen pace"
        )
        self.step_button = widgets.Button(description="step ▶", tooltip="one chunk forward")
        self.end_button = widgets.Button(description="▶|", tooltip="to the end of the stream")
        for button in (self.rewind_button, self.back_button, self.step_button, self.end_button):
            button.layout = widgets.Layout(width="auto")
        self.play_button.layout = widgets.Layout(width="90px")
        options = list(_SPEEDS)
        if speed not in {value for _, value in options}:
            options.append((f"×{speed:g}", speed))
            options.sort(key=lambda option: option[1])
        self.speed_dropdown = widgets.Dropdown(
            options=options,
            value=speed,
            description="waits",
            layout=widgets.Layout(width="190px"),
            style={"description_width": "40px"},
        )
        self.slider = widgets.IntSlider(
            value=0,
            min=0,
            max=len(self.frames),
            description="chunk",
            continuous_update=True,
            layout=widgets.Layout(width="98%"),
        )
        self.status = widgets.HTML()
        self.raw_pane = widgets.HTML(layout=widgets.Layout(width="40%", overflow="auto"))
        self.messages_pane = widgets.HTML(layout=widgets.Layout(width="60%", overflow="auto"))
        self.widget = widgets.VBox(
            [
                widgets.HBox(
                    [
                        self.rewind_button,
                        self.back_button,
                        self.play_button,
                        self.step_button,
                        self.end_button,
                        self.speed_dropdown,
                    ]
                ),
                self.slider,
                self.status,
                widgets.HBox(
                    [self.raw_pane, self.messages_pane],
                    layout=widgets.Layout(max_height="520px", align_items="flex-start"),
                ),
            ]
        )
        self._widgets: list[widgets.Widget] = [
            self.rewind_button,
            self.back_button,
            self.play_button,
            self.step_button,
            self.end_button,
            self.speed_dropdown,
            self.slider,
            self.status,
            self.raw_pane,
            self.messages_pane,
            *self.widget.children,
            self.widget,
        ]
        self.closed = False
        self.widget.add_class("streamreel-player")
        self.raw_pane.add_class("streamreel-raw-pane")
        self.messages_pane.add_class("streamreel-messages-pane")
        self.rewind_button.on_click(lambda _: self.rewind())
        self.back_button.on_click(lambda _: self.step(-1))
        self.step_button.on_click(lambda _: self.step())
        self.end_button.on_click(lambda _: self.to_end())
        self.play_button.on_click(lambda _: self.toggle())
        self.slider.observe(self._slid, names="value")
        self.speed_dropdown.observe(self._speed_chosen, names="value")
        self.seek(position)
        _CELL_VIEWS.adopt(self)

    # -- state -------------------------------------------------------------------------------

    @property
    def frame_count(self) -> int:
        return len(self.frames)

    @property
    def position(self) -> int:
        """Chunks delivered so far."""
        return self._position

    @position.setter
    def position(self, value: int) -> None:
        self.seek(value)

    @property
    def current(self) -> Frame | None:
        """The frame last delivered, or None before the first."""
        return self.frames[self._position - 1] if self._position else None

    @property
    def messages(self) -> list[AgentMessage]:
        """The merged messages built from the chunks delivered so far."""
        frame = self.current
        if frame is None or not frame.merged_count:
            return []
        if self._shown[0] != self._position:
            # Derived when shown, and kept while the position stays: a render reads it often.
            self._shown = (self._position, self._timeline.shown(frame, self.final_messages))
        return list(self._shown[1])

    @property
    def highlighted(self) -> tuple[int, ...]:
        """Positions in :attr:`messages` of what the current chunk produced."""
        frame = self.current
        return frame.produced if frame is not None else ()

    @property
    def raw_text(self) -> str:
        """The current chunk's bytes as text (undecodable bytes replaced)."""
        frame = self.current
        if frame is None or frame.chunk is None:
            return ""
        return frame.chunk.data.decode("utf-8", errors="replace")

    @property
    def playing(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def at_end(self) -> bool:
        return self._position >= len(self.frames)

    # -- actions -----------------------------------------------------------------------------

    def seek(self, position: int) -> None:
        """Show the stream after ``position`` chunks (clamped to the stream)."""
        self._position = max(0, min(int(position), len(self.frames)))
        self._render()

    def step(self, count: int = 1) -> None:
        """Move ``count`` chunks forward (backward when negative)."""
        self.seek(self._position + count)

    def rewind(self) -> None:
        self.seek(0)

    def to_end(self) -> None:
        self.seek(len(self.frames))

    def play(self) -> asyncio.Task[None]:
        """Start playing on the running event loop and return the task.

        From the start again when at the end. In a notebook the kernel's loop is running; in a
        script, ``await player.run()`` instead.
        """
        if self.playing:
            assert self._task is not None
            return self._task
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise ConfigurationError(
                "cannot play: expected a running event loop (a notebook kernel has one), got"
                " none; step through with step()/seek(), or await player.run()"
            ) from None
        self._task = loop.create_task(self.run())
        self._task.add_done_callback(self._finished)
        self._render()
        return self._task

    def pause(self) -> None:
        """Stop playing where the stream is."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self._render()

    def toggle(self) -> None:
        """What the play button does: pause when playing, else play."""
        if self.playing:
            self.pause()
        else:
            self.play()

    async def run(self) -> None:
        """Play from the current position to the end, waiting the recorded delays × speed."""
        loop = asyncio.get_running_loop()
        if self.at_end:
            self.seek(0)
        base_time, base_at = loop.time(), self._clock()
        last_draw = float("-inf")
        while not self.at_end:
            frame = self.frames[self._position]
            due = base_time + (frame.at_ms - base_at) * self.speed / 1000.0
            await asyncio.sleep(max(due - loop.time(), 0.0))
            if self._position >= len(self.frames) or self.frames[self._position] is not frame:
                # Scrubbed or stepped while waiting: carry on from there, with a new time base.
                base_time, base_at = loop.time(), self._clock()
                continue
            self._position += 1
            now = loop.time()
            upcoming = (
                (self.frames[self._position].delay_ms * self.speed / 1000.0)
                if not self.at_end
                else 0.0
            )
            if self.at_end or upcoming >= _REDRAW_S or now - last_draw >= _REDRAW_S:
                self._render()
                last_draw = now

    def _clock(self) -> float:
        frame = self.current
        return frame.at_ms if frame is not None else 0.0

    def _finished(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.failure = task.exception()
        if self._task is task:
            self._task = None
        self._render()

    # -- widget glue -------------------------------------------------------------------------

    def _slid(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.seek(int(change["new"]))

    def _speed_chosen(self, change: dict[str, Any]) -> None:
        self.speed = float(change["new"])

    @contextlib.contextmanager
    def _quietly(self) -> Iterator[None]:
        self._quiet, was = True, self._quiet
        try:
            yield
        finally:
            self._quiet = was

    def status_text(self) -> str:
        """Where playback is, in words."""
        frame = self.current
        total = len(self.frames)
        if frame is None:
            where = f"0 of {total} chunks"
        else:
            chunk = f"chunk #{frame.chunk.index}" if frame.chunk is not None else "no chunks"
            where = (
                f"{self._position} of {total} chunks · step {frame.step + 1}: {chunk}"
                f" · {frame.at_ms:,.0f} ms"
            )
        playing = " · playing" if self.playing else ""
        failed = f" · playback failed: {self.failure}" if self.failure is not None else ""
        return f"{where}{playing}{failed}"

    def raw_html(self) -> str:
        """The current chunk: where it came, its text, and what it produced."""
        frame = self.current
        if frame is None:
            return "<div class='sr-muted'>No chunk yet: press play or step.</div>"
        if frame.chunk is None:
            head = f"step {frame.step + 1}: HTTP {frame.interaction.status}, no body chunks"
            body = ""
        else:
            chunk = frame.chunk
            head = (
                f"step {frame.step + 1} · chunk #{chunk.index} · +{frame.delay_ms:,.0f} ms"
                f" · {_plural(len(chunk.data), 'byte')}"
            )
            text = self.raw_text
            if len(text) > _RAW_LIMIT:
                text = text[:_RAW_LIMIT] + f"\n… {len(text) - _RAW_LIMIT:,} more characters"
            body = f"<pre class='streamreel-raw'>{escape(text)}</pre>"
        produced = len(frame.chunk.produced) if frame.chunk is not None else 0
        made = [self.messages[i] for i in frame.produced if i < len(self.messages)]
        outcome = (
            f"→ {_plural(produced, 'provider chunk')}; "
            + (f"writes to {kind_counts(made)}" if made else "no message from it")
        )  # fmt: skip
        return (
            f"{STYLE}<div class='sr-root'><div class='sr-step-head'>{escape(head)}</div>{body}"
            f"<div class='sr-muted'>{escape(outcome)}</div></div>"
        )

    def messages_html(self) -> str:
        return messages_html(self.messages, highlight=self.highlighted, open_reasoning=True)

    def close(self) -> None:
        """Stop playing, close the widgets and let go of the stream.

        ipywidgets keeps every widget alive until it is closed, and the widgets' callbacks keep
        the player, so without this a player (and the replay result it holds) lives as long as
        the kernel. A closed player shows nothing and plays no more.
        """
        if self.closed:
            return
        self.closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        for widget in self._widgets:
            widget.close()
        self._widgets = []
        self.interactions = []
        self._timeline = _Timeline([])
        self.frames = ()
        self.final_messages = []
        self._shown = (0, [])
        self._position = 0

    def _render(self) -> None:
        if self.closed:
            return
        with self._quietly():
            self.slider.value = self._position
        self.status.value = f"<span class='streamreel-status'>{escape(self.status_text())}</span>"
        self.raw_pane.value = self.raw_html()
        self.messages_pane.value = self.messages_html()
        self.play_button.description = "‖ pause" if self.playing else "▶ play"

    def snapshot_html(self) -> str:
        return (
            f"{STYLE}<div class='sr-root'><div class='sr-title'>{escape(repr(self))}</div>"
            f"<div class='sr-muted'>{escape(self.status_text())}</div></div>"
            f"<div style='display:flex;gap:12px;align-items:flex-start'>"
            f"<div style='flex:2;min-width:0'>{self.raw_html()}</div>"
            f"<div style='flex:3;min-width:0'>{self.messages_html()}</div></div>"
        )

    def __repr__(self) -> str:
        steps = len(self.interactions)
        return (
            f"<StreamPlayer {self.label}: {_plural(len(self.frames), 'chunk')} in"
            f" {_plural(steps, 'step')}, at {self._position}/{len(self.frames)},"
            f" {_plural(len(self.messages), 'message')} so far, waits ×{self.speed:g}>"
        )


# -- MessageView -----------------------------------------------------------------------------


class MessageView(_View):
    """Messages grouped by step and coloured by type, merged or as the raw deltas.

    Reasoning folds into ``<details>`` (``open_reasoning`` unfolds it), tool arguments are
    pretty-printed, error messages stand out in red.
    """

    def __init__(
        self, source: MessageSource, *, merged: bool = True, open_reasoning: bool = False
    ) -> None:
        self.source = source
        self.mode = widgets.ToggleButtons(
            options=[("merged", True), ("deltas", False)],
            value=merged,
            style={"button_width": "80px"},
        )
        self.expand = widgets.Checkbox(value=open_reasoning, description="unfold reasoning")
        self.pane = widgets.HTML()
        self.widget = widgets.VBox([widgets.HBox([self.mode, self.expand]), self.pane])
        self.widget.add_class("streamreel-messages")
        self.mode.observe(lambda _: self._render(), names="value")
        self.expand.observe(lambda _: self._render(), names="value")
        self._render()

    @property
    def merged(self) -> bool:
        return bool(self.mode.value)

    @property
    def messages(self) -> list[AgentMessage]:
        return list(show(self.source, merge=self.merged))

    @property
    def html(self) -> str:
        return str(self.pane.value)

    def _html(self) -> str:
        if isinstance(self.source, ReplayResult) and self.merged:
            return messages_html(self.source, open_reasoning=bool(self.expand.value))
        shown = show(self.source, merge=self.merged)
        return messages_html(shown, steps=shown.step_sizes, open_reasoning=bool(self.expand.value))

    def _render(self) -> None:
        self.pane.value = self._html()

    def snapshot_html(self) -> str:
        return self._html()

    def __repr__(self) -> str:
        shown = show(self.source, merge=self.merged)
        name = "MessageView" if self.merged else "MessageView deltas"
        return messages_text(shown, steps=shown.step_sizes, name=name)


# -- SequenceDiff ----------------------------------------------------------------------------


class SequenceDiff(_View):
    """Two message sequences side by side, on their merged wire JSON.

    The fields in ``ignore`` (by default ``id``, ``otid`` and ``date``, which name the
    recording rather than its content) are left out of the comparison, so two recordings of the
    same conversation compare equal; pass ``ignore=()`` to compare every byte. Runs of identical
    messages fold to one line, keeping ``context`` messages around each difference. ``merge``
    joins each side's deltas first; ``notes`` says why each differing pair differs, in a third
    column (``Comparison.note`` of :mod:`streamreel.testing.compat` labels Letta's defects).
    """

    def __init__(
        self,
        left: MessageSource,
        right: MessageSource,
        *,
        labels: tuple[str, str] = ("left", "right"),
        ignore: Collection[str] = DEFAULT_IGNORED_FIELDS,
        context: int = 1,
        fold: bool = True,
        merge: bool = True,
        notes: RowNote | None = None,
    ) -> None:
        self.labels = labels
        self.ignore = tuple(ignore)
        self.context = context
        self.notes = notes
        self.left = list(show(left, merge=merge))
        self.right = list(show(right, merge=merge))
        self.rows: list[DiffRow] = diff_messages(self.left, self.right, ignore=self.ignore)
        self.fold_box = widgets.Checkbox(value=fold, description="fold identical runs")
        self.pane = widgets.HTML()
        self.widget = widgets.VBox([self.fold_box, self.pane])
        self.widget.add_class("streamreel-diff")
        self.fold_box.observe(lambda _: self._render(), names="value")
        self._render()

    @property
    def identical(self) -> bool:
        return all(row.kind == "same" for row in self.rows)

    @property
    def counts(self) -> dict[str, int]:
        """How many rows of each kind: same, changed, removed (left only), added (right only)."""
        found = {"same": 0, "changed": 0, "removed": 0, "added": 0}
        for row in self.rows:
            found[row.kind] += 1
        return found

    @property
    def visible_rows(self) -> list[DiffRow]:
        """The rows as shown: folded when the fold box is ticked."""
        return fold_rows(self.rows, context=self.context) if self.fold_box.value else self.rows

    @property
    def html(self) -> str:
        return str(self.pane.value)

    def _html(self) -> str:
        return diff_html(
            self.visible_rows, labels=self.labels, ignore=self.ignore, notes=self.notes
        )

    def _render(self) -> None:
        self.pane.value = self._html()

    def snapshot_html(self) -> str:
        return self._html()

    def __repr__(self) -> str:
        return diff_text(self.rows, labels=self.labels)


# -- TimingView ------------------------------------------------------------------------------


class TimingView(_View):
    """Time to first chunk, the wait before each chunk, and chunks over time, as inline SVG.

    With several interactions a dropdown picks one, or all of them overlaid.
    """

    def __init__(self, source: ReplayResult | InteractionResult) -> None:
        if isinstance(source, ReplayResult):
            self.label = _name(source)
            self.interactions = list(source.interactions)
        else:
            self.label = f"interaction #{source.index}"
            self.interactions = [source]
        options: list[tuple[str, int | None]] = [("all steps", None)]
        options += [
            (f"step {n} · {i.request.model or i.request.url}", n - 1)
            for n, i in enumerate(self.interactions, start=1)
        ]
        self.choice = widgets.Dropdown(options=options, value=None, description="show")
        if len(self.interactions) < 2:
            self.choice.layout.display = "none"
        self.pane = widgets.HTML()
        self.widget = widgets.VBox([self.choice, self.pane])
        self.widget.add_class("streamreel-timing")
        self.choice.observe(lambda _: self._render(), names="value")
        self._render()

    @property
    def selected(self) -> list[InteractionResult]:
        """The interactions plotted now."""
        chosen = self.choice.value
        return self.interactions if chosen is None else [self.interactions[int(chosen)]]

    def gaps(self, step: int = 0) -> list[float]:
        """The wait before each chunk of one step, in ms (the first is the time to first chunk)."""
        chunks = self.interactions[step].chunks
        offsets = [0.0, *(c.offset_ms for c in chunks)]
        return [b - a for a, b in itertools.pairwise(offsets)]

    @property
    def html(self) -> str:
        return str(self.pane.value)

    def _html(self) -> str:
        chosen = self.selected
        labels = [f"step {self.interactions.index(i) + 1}" for i in chosen]
        return timing_html(chosen, labels=labels)

    def _render(self) -> None:
        self.pane.value = self._html()

    def snapshot_html(self) -> str:
        return self._html()

    def __repr__(self) -> str:
        parts = []
        for number, item in enumerate(self.interactions, start=1):
            timing = item.timing
            if timing.time_to_first_chunk_ms is None or timing.duration_ms is None:
                parts.append(f"step {number}: no chunk timing")
                continue
            longest = max(self.gaps(number - 1)[1:], default=0.0)
            parts.append(
                f"step {number}: first chunk {timing.time_to_first_chunk_ms:,.0f} ms,"
                f" {_plural(len(item.chunks), 'chunk')} over {timing.duration_ms:,.0f} ms,"
                f" longest gap {longest:,.0f} ms"
            )
        return f"<TimingView {self.label}: {'; '.join(parts) or 'no interactions'}>"


# -- CassetteBrowser -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CassetteSummary:
    """What a cassette's replay showed, kept instead of the replay itself.

    A browser of a folder of big cassettes held every replay result, every chunk and message
    of every file: 1.6 GB for two large ones. The table needs only this; a cassette is replayed
    again when it is opened.
    """

    kinds: tuple[str, ...]
    providers: tuple[str, ...]
    apis: tuple[str, ...]
    models: tuple[str, ...]
    features: tuple[str, ...]
    interactions: int
    chunks: int
    errors: int
    complete: bool

    @classmethod
    def of(cls, results: Iterable[InteractionResult]) -> CassetteSummary:
        kinds: dict[str, None] = {}
        providers: dict[str, None] = {}
        apis: dict[str, None] = {}
        models: dict[str, None] = {}
        features: dict[str, None] = {}
        interactions = chunks = errors = 0
        complete = True
        for result in results:
            interactions += 1
            chunks += len(result.chunks)
            errors += len(result.errors)
            complete = complete and result.complete
            if result.kind is not None:
                kinds[f"{result.kind.provider} {result.kind.api}"] = None
                providers[result.kind.provider] = None
                apis[result.kind.api] = None
            if result.request.model:
                models[result.request.model] = None
            features.update(dict.fromkeys(result.features))
        return cls(
            tuple(kinds), tuple(providers), tuple(apis), tuple(models), tuple(features),
            interactions, chunks, errors, complete,
        )  # fmt: skip


@dataclass(slots=True)
class CassetteEntry:
    """One file of the browsed folder: its name, and what a scan of it found (None before)."""

    name: str
    path: Path
    summary: CassetteSummary | None = None
    problem: str | None = None

    @property
    def scanned(self) -> bool:
        return self.summary is not None or self.problem is not None

    @property
    def kinds(self) -> str:
        """``openai chat-completions, anthropic messages``: each provider and API, once."""
        return ", ".join(self.summary.kinds) if self.summary is not None else ""

    @property
    def interactions(self) -> int:
        return self.summary.interactions if self.summary is not None else 0

    @property
    def chunks(self) -> int:
        return self.summary.chunks if self.summary is not None else 0

    @property
    def providers(self) -> list[str]:
        return list(self.summary.providers) if self.summary is not None else []

    @property
    def apis(self) -> list[str]:
        return list(self.summary.apis) if self.summary is not None else []

    @property
    def models(self) -> list[str]:
        return list(self.summary.models) if self.summary is not None else []

    @property
    def features(self) -> list[str]:
        return list(self.summary.features) if self.summary is not None else []

    @property
    def has_errors(self) -> bool:
        return self.problem is not None or bool(self.summary and self.summary.errors)

    @property
    def status(self) -> str:
        """``ok``, ``unreadable``, ``not scanned``, or the errors and whether a stream was cut."""
        if self.summary is None:
            return "unreadable" if self.problem is not None else "not scanned"
        errors = self.summary.errors
        cut = not self.summary.complete
        if not errors and not cut:
            return "ok"
        parts = [_plural(errors, "error")] if errors else []
        return ", ".join([*parts, "incomplete"] if cut else parts)

    def matches(self, text: str) -> bool:
        """Whether ``text`` appears in the name, providers, APIs, models or features."""
        needle = text.strip().lower()
        haystack = " ".join([self.name, *self.providers, *self.apis, *self.models, *self.features])
        return needle in haystack.lower()


_COLUMNS = ("34%", "16%", "12%", "26%", "12%")


def _descendants(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    """``widget`` and every widget inside it, innermost first."""
    for child in getattr(widget, "children", ()):
        yield from _descendants(child)
    yield widget


class CassetteBrowser(_Closable):
    """The cassettes of a folder as a table, with filters; opening one shows its player.

    The scan replays every file once, one interaction at a time, and keeps only what the table
    tells of it (provider, API, features such as tool calls or reasoning, errors), with a
    progress bar while it runs; a cassette is replayed again when opened. ``parser`` replays
    through a parser of your own, of any shape replay drives (``process(stream)`` included);
    ``settings`` are the knobs it is built with. With ``scan=False``
    the folder lists at once, by name, and :meth:`scan` fills the table in later. A file that
    cannot be read stays in the table as ``unreadable``, with the reason.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        settings: InterfaceSettings | None = None,
        parser: ParserFactory | None = None,
        speed: float = 1.0,
        scan: bool = True,
    ) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ConfigurationError(
                f"cannot browse {self.folder}: expected a folder of cassettes, got"
                f" {'a file' if self.folder.exists() else 'nothing'}; pass the folder's path",
                path=self.folder,
            )
        self.settings = settings
        self.parser = parser
        self.speed = speed
        self.entries: list[CassetteEntry] = [
            CassetteEntry(path.relative_to(self.folder).as_posix(), path) for path in self._files()
        ]
        self.opened: CassetteEntry | None = None
        self.player: StreamPlayer | None = None
        self.closed = False

        self.provider_filter = widgets.Dropdown(
            options=[("all providers", "")], value="", description="provider"
        )
        self.progress = widgets.IntProgress(
            value=0,
            min=0,
            max=max(len(self.entries), 1),
            description="scanning",
            layout=widgets.Layout(display="none"),
        )
        self.text_filter = widgets.Text(
            value="", placeholder="name, model or feature", description="filter"
        )
        self.errors_only = widgets.Checkbox(value=False, description="errors only")
        self.open_buttons: dict[str, widgets.Button] = {}
        self._rows: dict[str, widgets.HBox] = {}
        for entry in self.entries:
            button = widgets.Button(
                description=entry.name,
                tooltip=f"open {entry.name}",
                layout=widgets.Layout(width=_COLUMNS[0]),
            )
            button.add_class("streamreel-open")
            button.on_click(self._opener(entry.name))
            self.open_buttons[entry.name] = button
            self._rows[entry.name] = widgets.HBox(
                [
                    button,
                    *(widgets.HTML(layout=widgets.Layout(width=w)) for w in _COLUMNS[1:]),
                ]
            )
            self._fill(entry)
        header = widgets.HBox(
            [
                widgets.HTML(f"<b>{title}</b>", layout=widgets.Layout(width=width))
                for title, width in zip(
                    ("cassette", "provider · API", "size", "features", "status"),
                    _COLUMNS,
                    strict=True,
                )
            ]
        )
        self.count = widgets.HTML()
        self.table = widgets.VBox(layout=widgets.Layout(max_height="360px", overflow="auto"))
        self.detail = widgets.VBox()
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.provider_filter, self.text_filter, self.errors_only]),
                self.progress,
                self.count,
                header,
                self.table,
                self.detail,
            ]
        )
        self.widget.add_class("streamreel-browser")
        for control in (self.provider_filter, self.text_filter, self.errors_only):
            control.observe(lambda _: self._filter(), names="value")
        self._filter()
        _CELL_VIEWS.adopt(self)
        if scan:
            self.scan()

    def _files(self) -> list[Path]:
        return expand([self.folder], chunk_files=False)

    def scan(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Replay every file not yet scanned and fill its row in; ``progress(done, total)``.

        Each file is replayed one interaction at a time and only its summary kept, so the scan
        holds one interaction of one file however big the folder.
        """
        waiting = [entry for entry in self.entries if not entry.scanned]
        self.progress.max, self.progress.value = max(len(waiting), 1), 0
        self.progress.layout.display = "" if waiting else "none"
        for done, entry in enumerate(waiting, start=1):
            try:
                steps = ReplaySteps(
                    entry.path, settings=self.settings, parser=self.parser, lean=True
                )
                entry.summary = CassetteSummary.of(steps)
            except StreamreelError as exc:
                entry.problem = exc.reason
            self._fill(entry)
            self.progress.value = done
            if progress is not None:
                progress(done, len(waiting))
        self.progress.layout.display = "none"
        providers = sorted({p for e in self.entries for p in e.providers})
        chosen = self.provider_filter.value
        self.provider_filter.options = [("all providers", ""), *((p, p) for p in providers)]
        self.provider_filter.value = chosen if chosen in providers else ""
        self._filter()

    def _fill(self, entry: CassetteEntry) -> None:
        """Write what is known of ``entry`` into its row."""
        cells = [
            entry.kinds or "–",
            f"{_plural(entry.interactions, 'call')}, {_plural(entry.chunks, 'chunk')}"
            if entry.summary is not None
            else "–",
            ", ".join(entry.features) or "–",
            entry.status if entry.problem is None else f"unreadable: {entry.problem}",
        ]
        for cell, text in zip(self._rows[entry.name].children[1:], cells, strict=True):
            cell.value = escape(text)

    def _opener(self, name: str) -> Callable[[widgets.Button], None]:
        def clicked(_: widgets.Button) -> None:
            self.open(name)

        return clicked

    @property
    def visible(self) -> list[str]:
        """The names the filters let through, in table order."""
        provider = str(self.provider_filter.value)
        text = str(self.text_filter.value)
        return [
            entry.name
            for entry in self.entries
            if (not provider or provider in entry.providers)
            and (not text.strip() or entry.matches(text))
            and (not self.errors_only.value or entry.has_errors)
        ]

    def _filter(self) -> None:
        shown = self.visible
        self.table.children = [self._rows[name] for name in shown]
        self.count.value = (
            # Row buttons hold names: left-aligned like the rest of the table.
            "<style>.streamreel-browser .streamreel-open{text-align:left}</style>"
            f"<span class='streamreel-count'>{len(shown)} of"
            f" {_plural(len(self.entries), 'cassette')}</span>"
        )

    def open(self, name: str) -> StreamPlayer | None:
        """Show the player of cassette ``name`` below the table (None for an unreadable one)."""
        entry = next((e for e in self.entries if e.name == name), None)
        if entry is None:
            known = ", ".join(e.name for e in self.entries) or "none"
            raise ConfigurationError(
                f"cannot open {name!r}: expected one of the cassettes in {self.folder}, got an"
                f" unknown name; known: {known}",
                path=self.folder,
            )
        if self.player is not None:
            self.player.close()  # the player it replaces lets go of its stream
        self.player = None
        self.opened = entry
        title = widgets.HTML(f"<h4 style='margin:8px 0 4px 0'>{escape(entry.name)}</h4>")
        problem = entry.problem
        result = None
        if problem is None:
            try:
                result = replay(entry.path, settings=self.settings, parser=self.parser)
            except StreamreelError as exc:
                problem = entry.problem = exc.reason
                self._fill(entry)
        if result is None:
            shown = widgets.HTML(f"<pre style='color:#b91c1c'>{escape(problem or '')}</pre>")
            self.detail.children = [title, shown]
            return None
        self.player = StreamPlayer(result, speed=self.speed)
        self.detail.children = [title, self.player.widget]
        return self.player

    def close(self) -> None:
        """Close the open player and every widget of the table, and let go of the entries."""
        if self.closed:
            return
        self.closed = True
        if self.player is not None:
            self.player.close()
        self.player = None
        for row in self._rows.values():
            for cell in row.children:
                cell.close()
            row.close()
        for widget in _descendants(self.widget):
            widget.close()
        self._rows = {}
        self.open_buttons = {}
        self.entries = []
        self.opened = None

    def table_html(self) -> str:
        """The filtered table as static HTML."""
        rows = [
            "<tr><th>cassette</th><th>provider · API</th><th>interactions</th><th>chunks</th>"
            "<th>features</th><th>status</th></tr>"
        ]
        for entry in self.entries:
            if entry.name not in self.visible:
                continue
            rows.append(
                f"<tr><td>{escape(entry.name)}</td><td>{escape(entry.kinds or '–')}</td>"
                f"<td class='sr-num'>{entry.interactions}</td>"
                f"<td class='sr-num'>{entry.chunks}</td>"
                f"<td>{escape(', '.join(entry.features) or '–')}</td>"
                f"<td>{escape(entry.status)}</td></tr>"
            )
        table = f"<table class='sr-table'>{''.join(rows)}</table>"
        return f"{STYLE}<div class='sr-root'>{table}</div>"

    def snapshot_html(self) -> str:
        opened = self.player.snapshot_html() if self.player is not None else ""
        return self.table_html() + opened

    def __repr__(self) -> str:
        shown = self.visible
        lines = [
            f"<CassetteBrowser {self.folder.name}: {len(shown)} of"
            f" {_plural(len(self.entries), 'cassette')} shown"
            + (f", {self.opened.name} open" if self.opened is not None else "")
            + ">"
        ]
        for entry in self.entries:
            if entry.name in shown:
                lines.append(
                    f"  {entry.name}: {', '.join(entry.providers) or '–'};"
                    f" {', '.join(entry.features) or '–'}; {entry.status}"
                )
        return "\n".join(lines)
