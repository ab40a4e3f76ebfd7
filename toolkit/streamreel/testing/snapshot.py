"""The syrupy extension for replayed streams: one ``.jsonl`` file per test.

What the file holds, its placeholders and its diff are :mod:`streamreel.testing.transcript`'s
(re-exported here); this module binds them to syrupy's roles, and so needs syrupy, which
``pip install 'streamreel[pytest]'`` brings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from streamreel.core.errors import MissingExtraError
from streamreel.testing.transcript import (
    DiffLine,
    Placeholders,
    align,
    diff_streams,
    field_changes,
    interaction_header,
    line_kind,
    serialize_stream,
    stable_wire,
)

try:
    from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
    from syrupy.terminal import context_style, received_style, snapshot_style
    from syrupy.types import PropertyFilter, PropertyMatcher, SerializableData, SerializedData
except ImportError as exc:  # syrupy (with pytest) is the [pytest] extra
    raise MissingExtraError("snapshot tests", "syrupy", "pytest") from exc

__all__ = [
    "DiffLine",
    "Placeholders",
    "StreamDeltasSnapshotExtension",
    "StreamSnapshotExtension",
    "align",
    "diff_streams",
    "field_changes",
    "interaction_header",
    "line_kind",
    "serialize_stream",
    "stable_wire",
]


# -- the syrupy extension ----------------------------------------------------------------------


class StreamSnapshotExtension(SingleFileSnapshotExtension):
    """syrupy extension: a replay's merged messages, one ``.jsonl`` file per test.

    Use it through the plugin's ``stream_snapshot`` fixture, or
    ``snapshot.use_extension(StreamSnapshotExtension)``.
    """

    file_extension = "jsonl"
    _write_mode = WriteMode.TEXT
    merge: ClassVar[bool] = True

    def serialize(
        self,
        data: SerializableData,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> SerializedData:
        return serialize_stream(data, merge=self.merge)

    def diff_lines(
        self, serialized_data: SerializedData, snapshot_data: SerializedData
    ) -> Iterator[str]:
        styles = {"heading": context_style, "snapshot": snapshot_style, "received": received_style}
        old, new = _text(snapshot_data), _text(serialized_data)
        if not old:
            # A missing snapshot would otherwise list the whole file as "not in the snapshot".
            count = len(new.splitlines())
            yield context_style(
                f"no snapshot yet ({count} lines to write): run pytest --snapshot-update, "
                "review the new file and commit it"
            )
            return
        for line in diff_streams(old, new):
            yield styles[line.kind](line.text)


class StreamDeltasSnapshotExtension(StreamSnapshotExtension):
    """The same file layout with the raw deltas: for tests about how a stream is cut up."""

    merge: ClassVar[bool] = False


def _text(data: SerializedData | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8") if isinstance(data, bytes) else data
