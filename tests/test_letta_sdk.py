"""Letta 0.16.8's own SDK-stream interfaces, run on recorded exchanges in their virtualenv.

``streamreel install-letta --version 0.16.8`` builds the virtualenv (the README's test command
runs it first); the tests never install. The content Letta yields is held to the recorded
stream's own content as streamreel's adapters read it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from streamreel.cassettes.storage import load_cassette
from streamreel.core.errors import ConfigurationError
from streamreel.core.providers import detect_stream
from streamreel.letta import sdk
from streamreel.letta.real import letta_parser
from streamreel.playback.replay import replay
from streamreel.testing.evidence import interaction_content

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    ("openai-parallel-tool-calls.yaml", "openai"),
    ("openai-responses-function-call.yaml", "responses"),
    ("anthropic-thinking-tool-use.yaml", "anthropic"),
    ("gemini-sse-function-call.yaml", "gemini"),
]


@pytest.fixture(scope="session")
def letta16() -> sdk.LettaSdkInterface:
    sdk.require()
    return sdk.LettaSdkInterface()


def exchange(name: str, index: int = 0) -> tuple[Any, Any]:
    interaction = load_cassette(ROOT / "cassettes" / name).interactions[index]
    return interaction, detect_stream(interaction.request, interaction.response)


def calls(messages: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """Letta's tool calls, joined by id, with decoded arguments."""
    joined: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    last = None
    for m in messages:
        if m.get("message_type") != "tool_call_message":
            continue
        call = m["tool_call"]
        last = call.get("tool_call_id") or last
        assert last is not None
        names[last] = names.get(last) or call.get("name") or ""
        joined.setdefault(last, []).append(call.get("arguments") or "")
    return [(names[k], json.loads("".join(v))) for k, v in joined.items()]


@pytest.mark.parametrize(("name", "interface"), CASES, ids=[i for _, i in CASES])
def test_the_adapter_s_choice_of_interface_follows_provider_and_request(
    name: str, interface: str
) -> None:
    assert sdk.choose_interface(*exchange(name)) == interface


@pytest.mark.parametrize(("name", "interface"), CASES[:3], ids=[i for _, i in CASES[:3]])
def test_letta_0_16_8_reads_the_recorded_tool_calls_through_the_sdk(
    letta16: sdk.LettaSdkInterface, name: str, interface: str
) -> None:
    interaction, kind = exchange(name)
    messages = list(letta16.process_exchange(interaction, kind))
    assert messages and all(isinstance(m, dict) for m in messages)
    assert not [m for m in messages if m.get("message_type") == "error_message"], messages
    # What the stream carries, read by streamreel's own adapter for this provider.
    ours = replay(ROOT / "cassettes" / name)
    source = interaction_content(ours.interactions[0], interaction)
    assert calls(messages) == [(c.name, json.loads(c.arguments)) for c in source.calls]


def test_a_gemini_stream_the_sdk_refuses_ends_in_an_error_record_after_what_came_before(
    letta16: sdk.LettaSdkInterface,
) -> None:
    # The bundled Gemini cassette's thoughtSignature is not valid base64; google-genai refuses
    # it, and Letta's interface passes that on.
    messages = list(letta16.process_exchange(*exchange("gemini-sse-function-call.yaml")))
    assert messages[-1]["message_type"] == "error_message"
    assert "Letta 0.16.8 raised ValidationError" in messages[-1]["error"]
    assert "thoughtSignature" in messages[-1]["error"]


def test_an_interface_chosen_by_hand_is_used_whatever_the_provider() -> None:
    sdk.require()
    interaction, kind = exchange("openai-parallel-tool-calls.yaml")
    messages = list(sdk.LettaSdkInterface("anthropic").process_exchange(interaction, kind))
    # Chat chunks handed to Anthropic's SDK are not Anthropic events: no tool call comes out.
    assert not calls(messages)


def test_an_unknown_interface_name_says_the_names() -> None:
    with pytest.raises(ConfigurationError, match="anthropic, openai, responses, gemini"):
        sdk.LettaSdkInterface("cohere")


def test_letta_parser_with_version_0_16_8_is_the_sdk_interface() -> None:
    sdk.require()
    assert isinstance(letta_parser(version="0.16.8"), sdk.LettaSdkInterface)
    with pytest.raises(ConfigurationError, match=r"expected 0\.7\.8 or 0\.16\.8"):
        letta_parser(version="0.9")


def test_a_missing_virtualenv_says_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMREEL_LETTA_0_16_8_VENV", str(tmp_path / "none"))
    with pytest.raises(ConfigurationError, match=r"streamreel install-letta --version 0\.16\.8"):
        sdk.LettaSdkInterface()


def test_nothing_of_letta_or_its_sdks_is_imported_here(letta16: sdk.LettaSdkInterface) -> None:
    import sys

    list(letta16.process_exchange(*exchange("openai-responses-function-call.yaml")))
    assert "letta" not in sys.modules
