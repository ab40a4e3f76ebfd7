"""The flags Letta 0.7.8's server passes its streaming interface, per provider path.

Letta's server does not read every provider's stream the same way. Its OpenAI path (which also
serves DeepSeek and xAI) calls ``process_chunk`` with ``expect_reasoning_content=True``; its
Anthropic path passes whether extended thinking is on (the request's ``thinking`` field) and
forces ``inner_thoughts_in_kwargs=True``; the other providers are not streamed through the
interface by Letta's server, so they get the interface's own default, off.

Replay uses these flags for a parser replayed as Letta's server drives it (Letta's own, or
streamreel's when asked with ``expect_reasoning_content="auto"``), one interaction at a time,
since a cassette may hold the calls of more than one provider.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamreel.core.cassette import RecordedRequest
from streamreel.core.providers.detection import StreamKind

__all__ = ["ServerFlags", "letta_server_flags"]

# The providers whose streams go through the OpenAI path of Letta's server.
_OPENAI_PATH = frozenset({"openai", "deepseek", "xai"})


@dataclass(frozen=True, slots=True)
class ServerFlags:
    """What Letta's server passes for one LLM call.

    ``inner_thoughts_in_kwargs`` is the value the path forces, or None when it keeps the
    interface's setting.
    """

    expect_reasoning_content: bool
    inner_thoughts_in_kwargs: bool | None = None


def _thinking_on(request: RecordedRequest) -> bool:
    body = request.json()
    thinking = body.get("thinking") if isinstance(body, dict) else None
    return isinstance(thinking, dict) and thinking.get("type", "enabled") != "disabled"


def letta_server_flags(kind: StreamKind, request: RecordedRequest) -> ServerFlags:
    """The flags Letta 0.7.8's server would pass for the call ``request`` made."""
    if kind.api == "messages":
        return ServerFlags(_thinking_on(request), inner_thoughts_in_kwargs=True)
    return ServerFlags(kind.provider in _OPENAI_PATH)
