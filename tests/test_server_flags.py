"""expect_reasoning_content as Letta's server passes it, per provider path, one call at a time."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cassettefactory import json_request, send_message
from streamreel.cassettes.storage import load_cassette
from streamreel.core.cassette import Cassette, CassetteInfo
from streamreel.core.parser import InterfaceSettings
from streamreel.core.providers import StreamKind
from streamreel.core.providers.server_flags import ServerFlags, letta_server_flags
from streamreel.letta.interface import StreamingServerInterface
from streamreel.playback.replay import FollowingServerFlags, default_parser, replay
from streamreel.testing.fuzz import RechunkingParser

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"


@pytest.mark.parametrize(
    ("provider", "api", "body", "flags"),
    [
        ("openai", "chat-completions", {}, ServerFlags(True)),
        ("deepseek", "chat-completions", {}, ServerFlags(True)),
        ("xai", "chat-completions", {}, ServerFlags(True)),
        ("openai", "responses", {}, ServerFlags(True)),
        ("groq", "chat-completions", {}, ServerFlags(False)),
        ("gemini", "generate-content", {}, ServerFlags(False)),
        ("ollama", "ollama-chat", {}, ServerFlags(False)),
        ("anthropic", "messages", {}, ServerFlags(False, inner_thoughts_in_kwargs=True)),
        (
            "anthropic",
            "messages",
            {"thinking": {"type": "enabled", "budget_tokens": 1024}},
            ServerFlags(True, inner_thoughts_in_kwargs=True),
        ),
        (
            "anthropic",
            "messages",
            {"thinking": {"type": "disabled"}},
            ServerFlags(False, inner_thoughts_in_kwargs=True),
        ),
    ],
)
def test_each_provider_path_gets_the_flags_letta_s_server_passes(
    provider: str, api: str, body: dict[str, Any], flags: ServerFlags
) -> None:
    assert letta_server_flags(StreamKind(provider, api, "sse"), json_request(body)) == flags


class Recording(StreamingServerInterface):
    """streamreel's interface, noting the flag each LLM call was fed with."""

    def __init__(self, settings: InterfaceSettings, follows: bool = False) -> None:
        super().__init__(use_assistant_message=settings.use_assistant_message)
        self.seen: dict[str, set[bool]] = {}
        self.follows = follows

    def process_chunk(
        self,
        chunk: Any,
        message_id: str,
        message_date: datetime,
        expect_reasoning_content: bool = False,
        name: str | None = None,
        message_index: int = 0,
    ) -> str | None:
        self.seen.setdefault(message_id, set()).add(expect_reasoning_content)
        return super().process_chunk(chunk, message_id, message_date, expect_reasoning_content)


class Following(Recording):
    def letta_server_flags(self) -> bool:
        return self.follows


def mixed() -> Cassette:
    """One turn over three providers: OpenAI, Groq, then Anthropic with thinking on."""
    openai = send_message()
    groq = dataclasses.replace(
        send_message(),
        request=dataclasses.replace(
            openai.request, uri="https://api.groq.com/openai/v1/chat/completions"
        ),
    )
    anthropic = load_cassette(CASSETTES / "anthropic-thinking-tool-use.yaml").interactions[0]
    return Cassette(interactions=[openai, groq, anthropic], info=CassetteInfo())


def fed(parser: Recording, result: Any) -> list[set[bool]]:
    return [parser.seen.get(step.message_id, set()) for step in result.interactions]


def test_auto_sets_the_flag_per_interaction_by_its_provider() -> None:
    made: list[Recording] = []

    def factory(settings: InterfaceSettings) -> Recording:
        made.append(Recording(settings))
        return made[-1]

    result = replay(mixed(), parser=factory, expect_reasoning_content="auto")
    assert fed(made[0], result) == [{True}, {False}, {True}]
    for choice in (False, True):
        made.clear()
        result = replay(mixed(), parser=factory, expect_reasoning_content=choice)
        assert fed(made[0], result) == [{choice}] * 3


@pytest.mark.parametrize("follows", [False, True])
def test_left_unset_the_flag_follows_the_server_only_for_a_parser_that_asks(
    follows: bool,
) -> None:
    made: list[Recording] = []

    def factory(settings: InterfaceSettings) -> Recording:
        made.append(Following(settings, follows))
        return made[-1]

    assert isinstance(
        made.append(Following(InterfaceSettings(), follows)) or made[-1], FollowingServerFlags
    )
    made.clear()
    result = replay(mixed(), parser=factory)
    assert fed(made[0], result) == ([{True}, {False}, {True}] if follows else [{False}] * 3)
    # A parser re-cut by the fuzzer still follows (or not) as the parser inside it does.
    wrapped = RechunkingParser(Following(InterfaceSettings(), follows), expected=[], release=[])
    assert wrapped.letta_server_flags() is follows


def test_streamreel_s_own_interface_stays_off_unless_asked() -> None:
    assert not isinstance(default_parser(InterfaceSettings()), FollowingServerFlags)
    made: list[Recording] = []

    def factory(settings: InterfaceSettings) -> Recording:
        made.append(Recording(settings))
        return made[-1]

    result = replay(mixed(), parser=factory)
    assert fed(made[0], result) == [{False}] * 3


def test_auto_is_a_value_of_the_settings_knob_wherever_knobs_are_read() -> None:
    from streamreel.core.errors import ConfigurationError
    from streamreel.testing.diff import parse_knobs

    assert parse_knobs(["expect-reasoning-content=auto"]) == {"expect_reasoning_content": "auto"}
    assert parse_knobs(["expect_reasoning_content=no"]) == {"expect_reasoning_content": False}
    with pytest.raises(ConfigurationError, match="expected true or false"):
        parse_knobs(["use_assistant_message=auto"])
