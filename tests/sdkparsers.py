"""Parsers of the SDK's own stream for the tests: the process(stream) shape only, any API.

One message per item the SDK yields: the item's type and the text it carries (a chat delta's
content or tool arguments, a Responses or Anthropic delta, a Gemini part's text or call).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from streamreel.core.cassette import Interaction
from streamreel.core.providers import StreamKind

_TEXT_KEYS = ("content", "text", "delta", "arguments", "partial_json", "thinking", "args")


def _texts(value: Any) -> list[str]:
    """The text-like leaves of an SDK object's JSON, in order."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _TEXT_KEYS and isinstance(item, str) and item:
                found.append(item)
            elif key in _TEXT_KEYS and isinstance(item, dict) and item and key == "args":
                found.append(repr(sorted(item.items())))
            else:
                found.extend(_texts(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_texts(item))
    return found


def describe(item: Any) -> dict[str, Any]:
    data = item.model_dump(mode="json", warnings=False) if hasattr(item, "model_dump") else item
    return {"message_type": type(item).__name__, "text": "".join(_texts(data))}


class SyncItems:
    def process(self, stream: Iterable[Any]) -> Iterator[dict[str, Any]]:
        for item in stream:
            yield describe(item)


class AsyncItems:
    async def process(self, stream: AsyncIterator[Any]) -> AsyncIterator[dict[str, Any]]:
        async for item in stream:
            yield describe(item)


class OneOtidCalls:
    """OpenAI chat tool-call fragments as plain dicts sharing one id and otid, each naming its
    call (``tool_call.id``), as Letta 0.16.8 gives every tool-call delta of a step one otid."""

    def process(self, stream: Iterable[Any]) -> Iterator[dict[str, Any]]:
        ids: dict[int, str] = {}
        for chunk in stream:
            for choice in chunk.choices:
                for call in choice.delta.tool_calls or ():
                    ids.setdefault(call.index, call.id or "")
                    yield {
                        "message_type": "tool_call_message",
                        "id": "step",
                        "otid": "step-calls",
                        "tool_call": {
                            "id": ids[call.index],
                            "name": call.function.name,
                            "arguments": call.function.arguments,
                        },
                    }


class BodyReads:
    """Sees the transport: one message saying how many reads the body came in."""

    def process_exchange(self, interaction: Interaction, kind: StreamKind) -> list[dict[str, Any]]:
        return [{"reads": len(interaction.response.body_chunks())}]


class StopsOnError:
    """Ends every stream as Letta 0.16.8 does when its SDK raises: a stop record, then an error."""

    def process_exchange(self, interaction: Interaction, kind: StreamKind) -> list[dict[str, Any]]:
        return [
            {"message_type": "stop_reason", "stop_reason": "error"},
            {"message_type": "error_message", "message": "the SDK could not read the stream"},
        ]


def stops_on_error(settings: object) -> StopsOnError:
    return StopsOnError()


def sync_items(settings: object) -> SyncItems:
    return SyncItems()


def async_items(settings: object) -> AsyncItems:
    return AsyncItems()


def body_reads(settings: object) -> BodyReads:
    return BodyReads()


def one_otid_calls(settings: object) -> OneOtidCalls:
    return OneOtidCalls()
