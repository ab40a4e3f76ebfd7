"""A live view of a recording: each recorded chunk through the decoder and the interface."""

from __future__ import annotations

from collections.abc import Callable

from streamreel.cli.render import label
from streamreel.core.cassette import BodyChunk, RecordedResponse
from streamreel.core.chunks import StreamFault
from streamreel.core.errors import StreamreelError
from streamreel.core.messages import (
    AgentMessage,
    AssistantMessage,
    ErrorMessage,
    HiddenReasoningMessage,
    ReasoningMessage,
    ToolCallMessage,
)
from streamreel.core.parser import InterfaceSettings, StreamParser
from streamreel.core.providers import StreamDecoder, detect_stream
from streamreel.letta.interface import new_message_id
from streamreel.recording.recorder import Capture


def _delta_text(message: AgentMessage) -> str:
    """The text a delta adds, as it streams (arguments raw, not pretty-printed)."""
    if isinstance(message, ReasoningMessage):
        return message.reasoning
    if isinstance(message, HiddenReasoningMessage):
        return message.hidden_reasoning or ""
    if isinstance(message, AssistantMessage):
        return message.content
    if isinstance(message, ToolCallMessage):
        call = message.tool_call
        return (f"{call.name} " if call.name else "") + (call.arguments or "")
    if isinstance(message, ErrorMessage):
        return message.error
    return ""


class LiveView:
    """Feeds each recorded chunk of each streamed response through the interface and writes the
    deltas as they come: a label when a new message starts, then its text."""

    def __init__(self, write: Callable[[str], None], settings: InterfaceSettings) -> None:
        self._write = write
        self._parser = StreamParser(settings)
        self._streams: dict[int, tuple[StreamDecoder, str] | None] = {}
        self._current: str | None = None

    def __call__(self, capture: Capture, chunk: BodyChunk) -> None:
        if capture.sequence not in self._streams:
            self._streams[capture.sequence] = self._start(capture, chunk)
        stream = self._streams[capture.sequence]
        if stream is None:
            return
        decoder, message_id = stream
        try:
            outputs = decoder.feed(chunk.data)
        except StreamreelError as exc:
            self._show(self._parser.error(exc.reason))
            self._streams[capture.sequence] = None
            return
        date = capture.started_at
        for output in outputs:
            if isinstance(output, StreamFault):
                self._show(self._parser.error(output.describe()))
            else:
                self._show(self._parser.feed(output, message_id=message_id, message_date=date))

    def _start(self, capture: Capture, chunk: BodyChunk) -> tuple[StreamDecoder, str] | None:
        response = RecordedResponse(
            capture.status or 0, capture.reason, capture.headers, chunk.data
        )
        try:
            kind = detect_stream(capture.request, response)
        except StreamreelError:
            return None  # not a stream this view can read; the table after the recording shows it
        if not kind.adapted or kind.framing in ("json", "none") or response.status >= 400:
            return None
        return StreamDecoder(kind), new_message_id()

    def _show(self, messages: list[AgentMessage]) -> None:
        for message in messages:
            kind = label(message)
            otid = getattr(message, "otid", None) or kind
            if otid != self._current:
                self._current = otid
                self._write(f"\n[{kind}] ")
            self._write(_delta_text(message))

    def close(self) -> None:
        self._show(self._parser.finish())
        if self._current is not None:
            self._write("\n")
