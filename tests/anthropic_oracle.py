"""The anthropic SDK's own accumulator, as every release from the declared floor up offers it.

``accumulate_event`` is how the SDK's ``MessageStream`` builds a message from stream events, so
the corpus tests use it as the independent reading of Anthropic streams. Newer releases keep the
partial tool-input JSON in a ``json_bufs`` mapping the caller passes; older ones keep it on the
snapshot and take no such argument.
"""

from __future__ import annotations

import inspect
from typing import Any

from anthropic.lib.streaming._messages import accumulate_event

_TAKES_BUFFERS = "json_bufs" in inspect.signature(accumulate_event).parameters


def accumulate(event: Any, snapshot: Any, buffers: dict[int, bytes]) -> Any:
    """The snapshot after ``event``, as the installed SDK accumulates it."""
    if _TAKES_BUFFERS:
        return accumulate_event(event=event, current_snapshot=snapshot, json_bufs=buffers)
    return accumulate_event(event=event, current_snapshot=snapshot)
