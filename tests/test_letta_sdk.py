"""Letta 0.16.8's own SDK-stream interfaces, run on recorded exchanges in their virtualenv.

``streamreel install-letta --version 0.16.8`` builds the virtualenv (the README's test command
runs it first); the tests never install. The content Letta yields is held to the recorded
stream's own content as streamreel's adapters read it.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from streamreel.cassettes.storage import load_cassette
from streamreel.core.errors import ConfigurationError, UnsupportedStreamError
from streamreel.core.providers import detect_stream
from streamreel.letta import sdk
from streamreel.letta.real import letta_parser
from streamreel.playback.replay import replay
from streamreel.testing.evidence import interaction_content

pytest_plugins = ["pytester"]

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


SIGNATURE = re.compile(rb'("thoughtSignature": ?")[^"]*(")')


def signed(signature: bytes) -> tuple[Any, Any]:
    """The bundled Gemini function call, its thoughtSignature replaced by ``signature``."""
    interaction, kind = exchange("gemini-sse-function-call.yaml")
    response = interaction.response
    pieces = [
        replace(piece, data=SIGNATURE.sub(rb"\g<1>" + signature + rb"\g<2>", piece.data))
        for piece in response.body_chunks()
    ]
    body = b"".join(piece.data for piece in pieces)
    assert signature in body
    response = replace(response, body=body, chunks=pieces)
    return replace(interaction, response=response), kind


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


@pytest.mark.parametrize(("name", "interface"), CASES, ids=[i for _, i in CASES])
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


def test_bedrock_s_event_stream_reaches_letta_through_the_sdk_s_bedrock_client(
    letta16: sdk.LettaSdkInterface,
) -> None:
    interaction, kind = exchange("bedrock-invoke-claude-stream.yaml")
    assert sdk.reads(kind) and sdk.choose_interface(interaction, kind) == "anthropic"
    messages = list(letta16.process_exchange(interaction, kind))
    text = "".join(m["content"] for m in messages if m["message_type"] == "assistant_message")
    ours = replay(ROOT / "cassettes" / "bedrock-invoke-claude-stream.yaml")
    assert text and text == interaction_content(ours.interactions[0], interaction).text
    # Converse is Bedrock's own API, which Letta's server does not stream through.
    converse = exchange("bedrock-converse-stream-tool-use.yaml")
    assert not sdk.reads(converse[1])
    (said,) = letta16.process_exchange(*converse)
    assert "does not read bedrock converse-stream streams" in said["error"]


def test_a_gemini_stream_the_sdk_refuses_ends_in_an_error_record_after_what_came_before(
    letta16: sdk.LettaSdkInterface,
) -> None:
    # google-genai refuses a thoughtSignature that is not base64, and Letta's interface passes
    # that on.
    messages = list(letta16.process_exchange(*signed(b"not=base64=")))
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


def test_a_json_array_stream_reaches_the_sdk_as_the_sse_it_asks_for() -> None:
    body = b'[{"candidates": [{"index": 0}]},\n{"usageMetadata": {"totalTokenCount": 3}}]'
    framed = sdk._as_sse(body)
    events = [json.loads(e[len(b"data: ") :]) for e in framed.split(b"\r\n\r\n") if e]
    assert events == json.loads(body)
    assert sdk._as_sse(b'{"error": {}}') == b'{"error": {}}'


def test_the_model_comes_from_the_path_when_the_body_does_not_name_it() -> None:
    interaction, kind = exchange("openai-parallel-tool-calls.yaml")
    request = replace(
        interaction.request,
        uri="https://x.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions",
        body=b'{"messages": [], "stream": true}',
    )
    assert sdk._model(replace(interaction, request=request), kind) == "gpt-4o-mini"


def test_every_corpus_exchange_of_the_four_apis_reaches_letta_0_16_8(
    letta16: sdk.LettaSdkInterface, corpus_dir: Path
) -> None:
    # Whatever a recorded body holds, the SDK call is made: what comes back is Letta's (or its
    # SDK's) own reading, never a refusal of the call's arguments.
    seen: dict[str, int] = {}
    for path in sorted(corpus_dir.rglob("*.yaml")):
        for interaction in load_cassette(path).interactions:
            try:
                kind = detect_stream(interaction.request, interaction.response)
            except UnsupportedStreamError:
                continue
            if kind.api not in ("chat-completions", "responses", "messages", "generate-content"):
                continue
            if kind.provider == "bedrock" and not sdk.reads(kind):
                continue
            name = sdk.choose_interface(interaction, kind)
            seen[name] = seen.get(name, 0) + 1
            messages = list(letta16.process_exchange(interaction, kind))
            errors = [m["error"] for m in messages if m.get("message_type") == "error_message"]
            for error in errors:
                assert "unexpected keyword argument" not in error, (path.name, error)
                assert "Missing required arguments" not in error, (path.name, error)
            if interaction.response.status < 400 and kind.framing in ("json", "none"):
                assert errors and "not a stream" in errors[0]
            elif interaction.response.status < 400 and not errors:
                assert messages, path.name
    assert set(seen) == set(sdk.INTERFACES), seen


def test_parser_names_pick_the_letta_version_and_interface(letta16: sdk.LettaSdkInterface) -> None:
    from streamreel.core.parser import InterfaceSettings
    from streamreel.playback.factories import load_factory

    settings = InterfaceSettings()
    chosen = load_factory("letta@0.16.8:anthropic")(settings)
    assert isinstance(chosen, sdk.LettaSdkInterface) and chosen.interface == "anthropic"
    assert load_factory("letta@0.16.8")(settings).interface is None
    assert load_factory("letta@0.7.8") is letta_parser
    with pytest.raises(ConfigurationError, match=r"letta@0\.16\.8"):
        load_factory("letta@0.9.0")
    with pytest.raises(ConfigurationError, match="anthropic, openai, responses, gemini"):
        load_factory("letta@0.16.8:cohere")


def test_a_missing_virtualenv_stops_the_parser_name_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamreel.playback.factories import load_factory

    monkeypatch.setenv("STREAMREEL_LETTA_0_16_8_VENV", str(tmp_path / "none"))
    with pytest.raises(ConfigurationError, match=r"install-letta --version 0\.16\.8"):
        load_factory("letta@0.16.8")


def test_a_virtualenv_built_for_other_requirements_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = tmp_path / "letta"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    marker = venv / "streamreel-letta.json"
    monkeypatch.setenv("STREAMREEL_LETTA_0_16_8_VENV", str(venv))
    marker.write_text(json.dumps({"letta": "0.16.8", "requirements": ["openai"]}))
    with pytest.raises(ConfigurationError, match="built for others"):
        sdk.require()
    marker.write_text(json.dumps({"letta": "0.16.8", "requirements": list(sdk.REQUIREMENTS)}))
    assert sdk.require() == venv


@pytest.mark.parametrize(("name", "interface"), CASES, ids=[i for _, i in CASES])
def test_what_letta_makes_up_is_masked_so_two_runs_print_the_same(
    letta16: sdk.LettaSdkInterface, name: str, interface: str
) -> None:
    interaction, kind = exchange(name)
    first = list(sdk.LettaSdkInterface().process_exchange(interaction, kind))
    again = list(sdk.LettaSdkInterface().process_exchange(interaction, kind))
    assert first == again
    raw = list(sdk.LettaSdkInterface(mask=False).process_exchange(interaction, kind))
    assert raw != first and len(raw) == len(first)
    assert {m["id"] for m in first if "id" in m} == {"<id 1>"}
    assert all(m["date"] == "<date>" for m in first if "date" in m)
    ids = {m["tool_call"]["tool_call_id"] for m in first if m.get("tool_call")}
    ours = replay(ROOT / "cassettes" / name)
    streamed = {
        c.tool_call_id for c in interaction_content(ours.interactions[0], interaction).calls
    }
    # The provider's own tool-call ids stay; the ones Letta made up (Gemini's) are masked.
    assert ids
    assert (
        all(i.startswith("<tool_call_id") for i in ids)
        if interface == "gemini"
        else ids == streamed
    )


def cli_jsonl(path: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    from click.testing import CliRunner
    from streamreel.cli import main

    result = CliRunner().invoke(main, ["replay", str(path), "--format", "jsonl", *args])
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    return result.exit_code, lines


def expected_messages(path: Path) -> list[dict[str, Any]]:
    """What letta==0.16.8 yields on each recorded exchange, through one parser, masked."""
    parser = sdk.LettaSdkInterface()
    out: list[dict[str, Any]] = []
    for interaction in load_cassette(path).interactions:
        kind = detect_stream(interaction.request, interaction.response)
        out += parser.process_exchange(interaction, kind)
    return out


STREAMED = [*[name for name, _ in CASES], "bedrock-invoke-claude-stream.yaml"]


@pytest.mark.parametrize("name", STREAMED, ids=[n.removesuffix(".yaml") for n in STREAMED])
def test_replay_with_letta_0_16_8_prints_what_letta_yields_message_for_message(
    letta16: sdk.LettaSdkInterface, name: str
) -> None:
    path = ROOT / "cassettes" / name
    code, lines = cli_jsonl(path, "--parser", "letta@0.16.8")
    assert code == 0, lines
    assert lines and lines == expected_messages(path)
    # Volatile values are placeholders: a second replay prints the same.
    assert cli_jsonl(path, "--parser", "letta@0.16.8")[1] == lines


def test_replay_with_letta_0_16_8_matches_letta_on_the_corpus_streams(
    letta16: sdk.LettaSdkInterface, corpus_dir: Path
) -> None:
    checked = 0
    for path in sorted(corpus_dir.rglob("*.yaml")):
        interactions = load_cassette(path).interactions
        try:
            kinds = [detect_stream(i.request, i.response) for i in interactions]
        except UnsupportedStreamError:
            continue
        if not kinds or not all(sdk.reads(kind) for kind in kinds):
            continue
        _, lines = cli_jsonl(path, "--parser", "letta@0.16.8")
        assert lines == expected_messages(path), path.name
        checked += 1
    assert checked > 30


def test_letta_0_16_8_s_parallel_calls_merge_each_whole_in_the_order_they_came(
    letta16: sdk.LettaSdkInterface,
) -> None:
    path = ROOT / "cassettes" / "openai-parallel-tool-calls.yaml"
    _, deltas = cli_jsonl(path, "--parser", "letta@0.16.8", "--no-merge")
    # Letta gives every delta of both calls one otid, and the calls' deltas alternate.
    assert len({d["otid"] for d in deltas}) == 1
    ids = [d["tool_call"]["tool_call_id"] for d in deltas]
    assert ids[:2] == list(dict.fromkeys(ids)) and ids[1] != ids[0]
    code, merged = cli_jsonl(path, "--parser", "letta@0.16.8", "--merge")
    assert code == 0, merged
    assert [
        (
            m["tool_call"]["tool_call_id"],
            m["tool_call"]["name"],
            json.loads(m["tool_call"]["arguments"]),
        )
        for m in merged
    ] == [
        (ids[0], "get_weather", {"city": "Lisbon", "unit": "celsius"}),
        (ids[1], "get_weather", {"city": "Porto", "unit": "celsius"}),
    ]


def test_diff_against_letta_0_16_8_names_it(letta16: sdk.LettaSdkInterface) -> None:
    from click.testing import CliRunner
    from streamreel.cli import main

    path = ROOT / "cassettes" / "openai-parallel-tool-calls.yaml"
    result = CliRunner().invoke(main, ["diff", str(path), "--against", "letta@0.16.8"])
    assert result.exit_code == 1, result.output
    assert "1 of 1 cassettes differ between streamreel and letta@0.16.8" in result.output


def test_the_plugin_snapshots_through_letta_0_16_8(
    letta16: sdk.LettaSdkInterface, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytester gives the run a home of its own: point it at the virtualenv that is built.
    monkeypatch.setenv("STREAMREEL_LETTA_0_16_8_VENV", str(letta16.venv))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (pytester.path / "cassettes").mkdir()
    names = [name.removesuffix(".yaml") for name, _ in CASES]
    for name in names:
        (pytester.path / "cassettes" / f"{name}.yaml").write_bytes(
            (ROOT / "cassettes" / f"{name}.yaml").read_bytes()
        )
    pytester.makepyfile(
        test_streams=f"""
        import pytest

        @pytest.mark.parametrize("name", {names!r})
        def test_through_letta(replay, stream_snapshot, name):
            assert stream_snapshot == replay(name)
        """
    )
    chosen = ("-p", "no:randomly", "--streamreel-parser", "letta@0.16.8")
    pytester.runpytest_inprocess(*chosen, "--snapshot-update").assert_outcomes(passed=4)
    snapshots = sorted((pytester.path / "__snapshots__").rglob("*.jsonl"))
    assert len(snapshots) == 4
    text = "".join(path.read_text() for path in snapshots)
    assert "convert_temperature" in text and "book_table" in text
    # Letta's made-up values are placeholders: the snapshots hold on a second run.
    pytester.runpytest_inprocess(*chosen).assert_outcomes(passed=4)
    # And streamreel's own interface says something else.
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(failed=4)


# -- fuzzing Letta 0.16.8: each call goes through the worker, so few examples and cassettes --

# The SSE lines google-genai's reader (the SDK Letta 0.16.8 reads Gemini through) does not
# take: it knows only lines that start with 'data: ' and parses any other line as JSON.
GENAI_SSE_LINES = {"sse-bom", "sse-comments", "sse-id", "sse-retry", "sse-no-space"}


def test_the_fuzzer_re_splits_the_bytes_letta_0_16_8_reads(letta16: sdk.LettaSdkInterface) -> None:
    from click.testing import CliRunner
    from streamreel.cli import main

    path = ROOT / "cassettes" / "openai-parallel-tool-calls.yaml"
    args = ["fuzz", str(path), "--parser", "letta@0.16.8", "--examples", "3", "--seed", "7"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "ok (3 splits, same merged messages)" in result.output


def test_hazard_fuzzing_reports_where_letta_0_16_8_itself_fails(
    letta16: sdk.LettaSdkInterface, tmp_path: Path
) -> None:
    from click.testing import CliRunner
    from streamreel.cli import main
    from streamreel.playback.factories import load_factory
    from streamreel.testing.hazards import fuzz_hazards

    anthropic = ROOT / "cassettes" / "anthropic-thinking-tool-use.yaml"
    gemini = ROOT / "cassettes" / "gemini-sse-function-call.yaml"
    parser = load_factory("letta@0.16.8")
    # Letta ends a stream with an error event in a stop record and its own error, which count.
    passed = fuzz_hazards(anthropic, "all", parser=parser)
    assert "error-after-content" in {o.hazard for o in passed if o.status == "passed"}
    assert not [o.describe() for o in passed if o.failed]
    # On Gemini, spec-valid SSE lines break Letta's SDK: reported, with a cassette that shows it.
    outcomes = fuzz_hazards(gemini, "all", parser=parser, save_to=tmp_path)
    failed = {o.hazard: o for o in outcomes if o.failed}
    assert "sse-comments" in failed and set(failed) <= GENAI_SSE_LINES
    assert {"sse-lf", "sse-multiline-data", "split-lines"} <= {
        o.hazard for o in outcomes if o.status == "passed"
    }
    written = failed["sse-comments"].written
    assert written is not None
    _, lines = cli_jsonl(written, "--parser", "letta@0.16.8")
    assert "UnknownApiResponseError" in lines[-1]["error"]
    # The command line says the same, and exits 1.
    cli = CliRunner().invoke(
        main,
        ["fuzz", str(gemini), "--hazards", "all", "--parser", "letta@0.16.8",
         "--failures", str(tmp_path / "cli")],
    )  # fmt: skip
    assert cli.exit_code == 1, cli.output
    assert "gemini-sse-function-call.yaml: sse-comments: the merged messages change" in cli.output
