"""The live commands: ``record`` through the official SDK and ``serve`` as a real endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from recording_support import OPENAI_MODEL, SEND_MESSAGE_TOOL, all_scripted, openai_body
from streamreel.cassettes.storage import save_cassette
from streamreel.cli import main
from streamreel.core.cassette import BodyChunk, Interaction, RecordedResponse
from streamreel.recording.emulator import Emulator, EmulatorServer


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator.from_cassettes([all_scripted()], speed=0)) as server:
        yield server


def test_record_shows_the_reply_live_and_writes_a_scrubbed_cassette(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    output = tmp_path / "session.yaml"
    base = emulator.base_url + "/v1"
    arguments = ["record", "--provider", "openai", "--base-url", base, "--model", OPENAI_MODEL]
    arguments += ["--prompt", "Say hello", "-o", str(output)]
    result = CliRunner().invoke(main, arguments, env={"OPENAI_API_KEY": "sk-cli-secret-4242"})
    assert result.exit_code == 0, result.output
    assert "[reasoning] Hello there!" in result.stdout  # each delta as it streamed
    assert "reasoning    Hello there!" in result.stdout  # then the whole messages
    assert "wrote" in result.stderr and "(1 interaction)" in result.stderr
    assert "sk-cli-secret-4242" not in output.read_text()


def test_record_shows_agent_messages_live_as_chunks_arrive(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([SEND_MESSAGE_TOOL]))
    arguments = ["record", "--provider", "openai", "--base-url", emulator.base_url + "/v1"]
    arguments += ["--model", OPENAI_MODEL, "--prompt", "Greet me", "--tools", str(tools)]
    arguments += ["-o", str(tmp_path / "greet.yaml")]
    result = CliRunner().invoke(main, arguments, env={"OPENAI_API_KEY": "sk-x"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    live = out.index("[reasoning] The user wants a greeting.")
    assert out.index("[assistant] Hi there!") > live
    assert out.index("assistant    Hi there!") > out.index("[assistant] Hi there!")


def test_the_chunk_observer_sees_every_chunk_in_order_as_it_is_recorded(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    from streamreel.recording.recorder import record

    seen: list[bytes] = []
    body = openai_body("Say hello", stream=True)
    url = emulator.base_url + "/v1/chat/completions"

    def observe(capture: object, chunk: BodyChunk) -> None:
        seen.append(chunk.data)

    with (
        record(tmp_path / "o.yaml", mode="all", on_chunk=observe),
        httpx.Client() as client,
        client.stream("POST", url, json=body) as response,
    ):
        pieces = response.iter_raw()
        first = next(pieces)
        assert seen  # the observer saw the chunk before the caller got it
        rest = b"".join(pieces)
    assert b"".join(seen) == first + rest


def test_record_without_a_key_says_which_variable_to_set(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "record",
            "--provider",
            "anthropic",
            "--model",
            "m",
            "--prompt",
            "p",
            "-o",
            str(tmp_path / "x.yaml"),
        ],
        env={"ANTHROPIC_API_KEY": ""},
    )
    assert result.exit_code == 2 and "ANTHROPIC_API_KEY" in result.output
    assert not (tmp_path / "x.yaml").exists()


def test_serve_answers_like_the_provider(tmp_path: Path) -> None:
    source = tmp_path / "scripted.yaml"
    save_cassette(all_scripted(), source)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from streamreel.cli import main; main()",
            "serve",
            str(source),
            "--speed",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        body = openai_body("Say hello", stream=True)
        with (
            httpx.Client(timeout=10) as client,
            client.stream("POST", url + "/v1/chat/completions", json=body) as response,
        ):
            assert response.status_code == 200
            text = b"".join(response.iter_bytes()).decode()
        contents = [
            json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
            for line in text.splitlines()
            if line.startswith("data: {")
        ]
        assert "".join(contents) == "Hello there!" and text.rstrip().endswith("data: [DONE]")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def sdk_emulator() -> Iterator[EmulatorServer]:
    """The scripted Bedrock, Cohere, Gemini and Ollama streams, answered by method and path:
    each SDK writes its request its own way, and what is tested is the command around it."""
    from scripted import (
        bedrock_converse_stream_tool_use,
        cohere_v2_tool_plan,
        gemini_sse_function_call,
        ollama_chat_ndjson,
    )
    from streamreel.cassettes.matching import Matcher

    cassettes = [
        bedrock_converse_stream_tool_use(),
        cohere_v2_tool_plan(),
        gemini_sse_function_call(),
        ollama_chat_ndjson(),
    ]
    interactions = [i for c in cassettes for i in c.interactions]
    # google-genai 3 calls /v1/ where the scripted request (an older SDK's) says /v1beta/.
    gemini = next(i for i in interactions if "streamGenerateContent" in i.request.uri)
    moved = replace(gemini.request, uri=gemini.request.uri.replace("/v1beta/", "/v1/"))
    interactions.append(replace(gemini, request=moved))
    # A whole Converse reply, for --no-stream: Bedrock's non-streamed twin of ConverseStream.
    converse = {
        "output": {"message": {"role": "assistant", "content": [{"text": "Bonjour."}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5},
        "metrics": {"latencyMs": 120},
    }
    stream = interactions[0]
    uri = stream.request.uri.replace("/converse-stream", "/converse")
    reply = json.dumps(converse).encode()
    interactions.append(
        Interaction(
            replace(stream.request, uri=uri),
            RecordedResponse(200, "OK", {"Content-Type": ["application/json"]}, reply),
        )
    )
    emulator = Emulator(interactions, speed=0, matcher=Matcher(on=("method", "path")))
    with EmulatorServer(emulator) as server:
        yield server


@pytest.mark.parametrize(
    ("provider", "model", "env", "shown"),
    [
        (
            "bedrock",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            {
                "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE12",
                "AWS_SECRET_ACCESS_KEY": "aws-secret-for-the-cli-test-0123456789",
            },
            "Let me look that up in the glossary.",
        ),
        (
            "cohere",
            "command-a-03-2025",
            {"CO_API_KEY": "co-secret-for-the-cli-test"},
            "check_stock",
        ),
        (
            "gemini",
            "gemini-2.5-flash",
            {"GEMINI_API_KEY": "gm-secret-for-the-cli-test"},
            "book_table",
        ),
        ("ollama", "llama3.2", {}, "bread for the whole street."),
    ],
)
def test_record_through_each_optional_sdk(
    sdk_emulator: EmulatorServer,
    tmp_path: Path,
    provider: str,
    model: str,
    env: dict[str, str],
    shown: str,
) -> None:
    output = tmp_path / f"{provider}.yaml"
    arguments = ["record", "--provider", provider, "--base-url", sdk_emulator.base_url]
    arguments += ["--model", model, "--prompt", "Hello", "-o", str(output)]
    result = CliRunner().invoke(main, arguments, env=env)
    assert result.exit_code == 0, result.output
    assert "(1 interaction)" in result.stderr
    assert shown in result.stdout
    text = output.read_text()
    for secret in env.values():
        assert secret not in text


@pytest.mark.parametrize(
    ("provider", "module", "package"),
    [
        ("bedrock", "boto3", "boto3"),
        ("cohere", "cohere", "cohere"),
        ("gemini", "google.genai", "google-genai"),
        ("ollama", "ollama", "ollama"),
    ],
)
def test_record_names_the_sdk_to_install_when_it_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str, module: str, package: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail as if not installed
    arguments = ["record", "--provider", provider, "--model", "m", "--prompt", "p"]
    arguments += ["-o", str(tmp_path / "x.yaml")]
    result = CliRunner().invoke(main, arguments, env={"CO_API_KEY": "k", "GEMINI_API_KEY": "k"})
    assert result.exit_code == 2  # a usage error: the command cannot run as given
    assert f"pip install {package}" in result.output and f"streamreel[{provider}]" in result.output
    assert not (tmp_path / "x.yaml").exists()


def test_record_bedrock_without_streaming_calls_converse_and_replays_it(
    sdk_emulator: EmulatorServer, tmp_path: Path
) -> None:
    output = tmp_path / "converse.yaml"
    arguments = ["record", "--provider", "bedrock", "--base-url", sdk_emulator.base_url]
    arguments += ["--model", "anthropic.claude-3-5-sonnet-20240620-v1:0", "--prompt", "Hi"]
    arguments += ["--no-stream", "-o", str(output)]
    env = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE12", "AWS_SECRET_ACCESS_KEY": "x" * 40}
    result = CliRunner().invoke(main, arguments, env=env)
    assert result.exit_code == 0, result.output
    # The whole reply, replayed as messages through the ConverseStream adapter.
    assert "reasoning    Bonjour." in result.stdout


@pytest.mark.parametrize(
    ("provider", "env", "error"),
    [
        (
            "bedrock",
            {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE12", "AWS_SECRET_ACCESS_KEY": "x" * 40},
            "EndpointConnectionError",
        ),
        ("ollama", {}, "ConnectError"),
    ],
)
def test_an_optional_sdk_failing_to_connect_is_one_line(
    tmp_path: Path, provider: str, env: dict[str, str], error: str
) -> None:
    with EmulatorServer(Emulator.from_cassettes([all_scripted()])) as server:
        gone = server.base_url  # a port just released: nothing listens there now
    output = tmp_path / "nothing.yaml"
    arguments = ["record", "--provider", provider, "--base-url", gone, "--model", "m"]
    arguments += ["--prompt", "p", "-o", str(output)]
    result = CliRunner().invoke(main, arguments, env=env)
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = [row for row in result.stderr.splitlines() if row.startswith("Error:")]
    assert error in line and "nothing was recorded" in line
    assert not output.exists()
