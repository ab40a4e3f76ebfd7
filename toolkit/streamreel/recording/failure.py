"""Whether a captured response body reports a failure: an error event or an error object.

The recorder keeps a block's recording when the block raises while a captured exchange has
failed, and it decides that from the bytes it captured, never from the objects an exception
carries (see :mod:`streamreel.recording.recorder`).  A body reports a failure when reading it
the way replay does (:class:`~streamreel.core.providers.StreamDecoder`) yields an ``error``
fault: Anthropic's ``event: error``, an OpenAI chunk carrying ``error``, a Bedrock exception
message, Gemini's error status in its stream, a whole JSON body with an error object.  An
``incomplete`` fault is not a failure here: a client may stop reading when it likes, and a body
the server cut is already known from the transport error.

A body replay cannot read (an API without an adapter, bytes that are not their framing) is
scanned more loosely, SSE event by event: an event named ``error`` or a JSON payload with a
top-level ``error`` member or ``"type": "error"`` is a failure.
"""

from __future__ import annotations

import json
from typing import Any

from streamreel.core.cassette import RecordedRequest, RecordedResponse
from streamreel.core.chunks import StreamFault

__all__ = ["reports_error"]


def reports_error(request: RecordedRequest, response: RecordedResponse) -> bool:
    """Whether ``response``'s body, answering ``request``, carries an error event or object."""
    from streamreel.core.providers import StreamDecoder, detect_stream

    if not response.body.strip():
        return False
    outputs: list[Any] = []
    try:
        decoder = StreamDecoder(detect_stream(request, response), status=response.status)
        for chunk in response.body_chunks():
            outputs.extend(decoder.feed(chunk.data))
        outputs.extend(decoder.close())
    except Exception:
        # StreamreelError for bytes replay cannot read; anything else would be a bug in an
        # adapter, and this runs inside ``__exit__`` while the caller's own exception is in
        # flight: replacing that exception with ours would be far worse than a looser reading.
        if _has_error(outputs):
            return True
        return _loosely_reports_error(response.body)
    return _has_error(outputs)


def _has_error(outputs: list[Any]) -> bool:
    return any(isinstance(out, StreamFault) and out.kind == "error" for out in outputs)


def _loosely_reports_error(body: bytes) -> bool:
    from streamreel.core.sse import SSEDecoder

    try:
        decoder = SSEDecoder()
        events = [*decoder.feed(body), *decoder.close(keep_unterminated=True)]
    except Exception:  # as above: never replace the caller's exception
        return False
    return any(event.event == "error" or _error_payload(event.data) for event in events)


def _error_payload(data: str) -> bool:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return False
    if not isinstance(value, dict):
        return False
    return value.get("error") is not None or value.get("type") == "error"
