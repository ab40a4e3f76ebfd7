"""Snapshots that do not move when nothing moved: the port of a loopback server, the host that
served an Anthropic stream and the wording of counts are not changes in the stream."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from streamreel.cassettes.storage import load_cassette
from streamreel.core.cassette import Cassette
from streamreel.core.providers import detect_stream
from streamreel.playback.replay import replay
from streamreel.testing.transcript import serialize_stream, without_loopback

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"


def _served_from(name: str, base: str) -> Cassette:
    """A bundled cassette as if recorded through a server at ``base``."""
    cassette = copy.deepcopy(load_cassette(CASSETTES / name))
    for interaction in cassette.interactions:
        path = interaction.request.uri.split("/", 3)[3]
        interaction.request.uri = f"{base}/{path}"
    return cassette


@pytest.mark.parametrize(
    "bases",
    [
        ("http://127.0.0.1:41234", "http://127.0.0.1:50001"),
        ("http://localhost:8000", "http://localhost:9000"),
        ("http://[::1]:3000", "http://127.0.0.2:3001"),
    ],
)
def test_a_loopback_host_and_port_do_not_enter_the_snapshot(bases: tuple[str, str]) -> None:
    name = "openai-send-message-inner-thoughts.yaml"
    first, second = (serialize_stream(replay(_served_from(name, base))) for base in bases)
    assert first == second
    assert "<loopback>" in first
    for base in bases:
        assert base.split("//")[1] not in first


def test_a_real_host_stays_in_the_snapshot() -> None:
    text = serialize_stream(replay(CASSETTES / "openai-send-message-inner-thoughts.yaml"))
    assert "POST https://api.openai.com/v1/chat/completions" in text
    assert (
        without_loopback("see https://api.openai.com:443/v1") == "see https://api.openai.com:443/v1"
    )


@pytest.mark.parametrize(
    "base",
    [
        "http://127.0.0.1:54321",
        "https://llm-gateway.corp.example",
        "https://openrouter.ai/api",
        "http://localhost:4000/anthropic",
    ],
)
def test_an_anthropic_stream_from_a_proxy_is_anthropic(base: str) -> None:
    cassette = _served_from("anthropic-thinking-tool-use.yaml", base)
    interaction = cassette.interactions[0]
    kind = detect_stream(interaction.request, interaction.response)
    assert (kind.provider, kind.api) == ("anthropic", "messages")
    direct = replay(CASSETTES / "anthropic-thinking-tool-use.yaml")
    proxied = replay(cassette)
    assert [i.request.provider for i in proxied.interactions] == ["anthropic"] * len(
        direct.interactions
    )
    assert [m.model_dump() for m in proxied.merged] == [m.model_dump() for m in direct.merged]


def test_counts_of_one_read_in_the_singular() -> None:
    cassette = load_cassette(CASSETTES / "openai-parallel-tool-calls.yaml")
    assert len(cassette.interactions) == 1
    assert "1 interaction," in repr(cassette) and "1 interactions" not in repr(cassette)
    assert "1 interaction (openai chat-completions)" in repr(replay(cassette))
