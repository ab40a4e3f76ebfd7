"""Hazards: each rewrite keeps streamreel's messages, and breaks a deliberately naive reader."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import conftest
import pytest
from streamreel.cassettes.discovery import expand
from streamreel.cassettes.storage import load_cassette
from streamreel.core.cassette import BodyChunk, Cassette, Interaction, RecordedResponse
from streamreel.core.chunks import ChatCompletionChunk, StreamFault
from streamreel.core.errors import ConfigurationError
from streamreel.core.eventstream import EventStreamDecoder
from streamreel.core.hazards import HAZARDS, select_hazards
from streamreel.core.messages import ToolCallMessage
from streamreel.core.mutations import Edit, apply_edits
from streamreel.core.providers import StreamDecoder, StreamKind, make_adapter
from streamreel.core.sse import SSEDecoder
from streamreel.playback.replay import replay
from streamreel.testing.hazards import (
    check_hazard,
    fuzz_hazards,
    hazard_sites,
    mutate,
    save_reproduction,
)
from streamreel.testing.shrinking import shrink_items

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
BUNDLED = expand([CASSETTES])


# -- deliberately naive readers of the bytes ------------------------------------------------------


class _Naive:
    """Shared by the naive readers: hand decoded payloads to streamreel's own adapter."""

    def __init__(self, kind: StreamKind) -> None:
        self.adapter = make_adapter(kind)

    def payload(self, name: str, data: str) -> list[Any]:
        if data == "[DONE]":
            return list(self.adapter.done())
        return list(self.adapter.event(name, json.loads(data)))

    def end(self) -> list[Any]:
        out = list(self.adapter.end())
        if not self.adapter.finished:
            out.append(StreamFault("incomplete", "cut"))
        return out


class SplitlinesReader(_Naive):
    """Decodes each read on its own and cuts lines with ``str.splitlines()``."""

    def __init__(self, kind: StreamKind) -> None:
        super().__init__(kind)
        self.text = ""
        self.event = ""
        self.data: list[str] = []

    def feed(self, data: bytes) -> list[Any]:
        self.text += data.decode("utf-8", errors="replace")
        parts = self.text.splitlines(keepends=True)
        self.text = ""
        if parts and parts[-1].splitlines()[0] == parts[-1]:
            self.text = parts.pop()
        out: list[Any] = []
        for part in parts:
            out += self.line(part.splitlines()[0] if part.splitlines() else "")
        return out

    def line(self, line: str) -> list[Any]:
        if not line:
            data, self.data = self.data, []
            name, self.event = self.event, ""
            return self.payload(name, "\n".join(data)) if data else []
        if line.startswith(":"):
            return []
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            self.data.append(value)
        elif field == "event":
            self.event = value
        return []

    def close(self) -> list[Any]:
        return self.line(self.text) + self.line("") + self.end()


class Latin1Reader(SplitlinesReader):
    """Decodes the body as ISO-8859-1, as ``requests`` does for a text type without charset."""

    def feed(self, data: bytes) -> list[Any]:
        return super().feed(data.decode("latin-1").encode("utf-8"))


class OneEventPerReadReader(_Naive):
    """Takes each read as one whole event: its first ``data: `` line is the payload."""

    def feed(self, data: bytes) -> list[Any]:
        text = data.decode("utf-8")
        name = ""
        for line in text.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            if line.startswith("data: "):
                return self.payload(name, line[len("data: ") :])
        return []

    def close(self) -> list[Any]:
        return self.end()


class FieldBlindReader(_Naive):
    """Knows ``event:`` and ``data:`` only: any other line (``id:``, ``retry:``, a comment) is
    taken for data."""

    def __init__(self, kind: StreamKind) -> None:
        super().__init__(kind)
        self.held = b""
        self.event = ""
        self.data: list[str] = []

    def feed(self, data: bytes) -> list[Any]:
        *lines, self.held = (self.held + data).split(b"\n")
        out: list[Any] = []
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8")
            if not line:
                if self.data:
                    out += self.payload(self.event, "\n".join(self.data))
                self.event, self.data = "", []
            elif line.startswith("event:"):
                self.event = line[6:].strip()
            else:
                self.data.append(line.split(":", 1)[-1].strip())
        return out

    def close(self) -> list[Any]:
        return self.feed(self.held + b"\n\n") + self.end()


class CRLFReader(FieldBlindReader):
    """Written against a server that ends lines with CRLF: it cuts at CRLF and nowhere else."""

    eol = b"\r\n"

    def feed(self, data: bytes) -> list[Any]:
        *lines, self.held = (self.held + data).split(self.eol)
        out: list[Any] = []
        for raw in lines:
            out += self.line(raw.decode("utf-8"))
        return out

    def line(self, line: str) -> list[Any]:
        if not line:
            data, self.data = self.data, []
            return self.payload(self.event, "\n".join(data)) if data else []
        field, _, value = line.partition(":")
        if field == "data":
            self.data.append(value.strip())
        return []

    def close(self) -> list[Any]:
        return self.feed(self.held + self.eol + self.eol) + self.end()


class GrepReader(_Naive):
    """Frames SSE correctly, then takes the content out of the JSON text by string search."""

    marker = '"content":"'

    def __init__(self, kind: StreamKind) -> None:
        super().__init__(kind)
        self.sse = SSEDecoder()

    def handle(self, events: Iterable[Any]) -> list[Any]:
        out: list[Any] = []
        for event in events:
            value = json.loads(event.data) if event.data != "[DONE]" else None
            if value is None:
                out += list(self.adapter.done())
                continue
            delta = (value.get("choices") or [{}])[0].get("delta")
            if isinstance(delta, dict) and delta.get("content"):
                found = event.data.partition(self.marker)[2].partition('"')[0]
                delta["content"] = found or None
            out += list(self.adapter.event(event.event, value))
        return out

    def feed(self, data: bytes) -> list[Any]:
        return self.handle(self.sse.feed(data))

    def close(self) -> list[Any]:
        return self.handle(self.sse.close()) + self.end()


class OneMessagePerReadReader(_Naive):
    """An AWS event stream read with a fresh decoder per read: a message must fit in one."""

    def feed(self, data: bytes) -> list[Any]:
        decoder = EventStreamDecoder()
        out: list[Any] = []
        for message in [*decoder.feed(data), *decoder.close()]:
            out += list(self.adapter.event(message.event_type or "", json.loads(message.payload)))
        return out

    def close(self) -> list[Any]:
        return self.end()


class ArrayLinesReader(_Naive):
    """Reads a streamed JSON array one line at a time, an element per line."""

    def __init__(self, kind: StreamKind) -> None:
        super().__init__(kind)
        self.text = ""

    def feed(self, data: bytes) -> list[Any]:
        self.text += data.decode("utf-8")
        return []

    def close(self) -> list[Any]:
        out: list[Any] = []
        for line in self.text.split("\n"):
            element = line.strip().strip("[],").strip()
            if element:
                out += list(self.adapter.event("", json.loads(element)))
        return out + self.end()


# -- chunk-level naive parsers (they see what streamreel decodes) ----------------------------------


class _Wrapping:
    """streamreel's own interface, with one naive step in front of it."""

    def __init__(self, settings: Any) -> None:
        from streamreel.playback.replay import default_parser

        self.inner = default_parser(settings)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def process_chunk(self, chunk: ChatCompletionChunk, *args: Any, **kwargs: Any) -> Any:
        for piece in self.rewrite(chunk):
            result = self.inner.process_chunk(piece, *args, **kwargs)
        return result

    def rewrite(self, chunk: ChatCompletionChunk) -> list[ChatCompletionChunk]:
        return [chunk]


class FragmentDecodingParser(_Wrapping):
    """Decodes each tool-call argument fragment's escapes on its own (a cut escape is lost)."""

    def rewrite(self, chunk: ChatCompletionChunk) -> list[ChatCompletionChunk]:
        if not chunk.choices or not chunk.choices[0].delta.tool_calls:
            return [chunk]
        value = chunk.model_dump(mode="json")
        for call in value["choices"][0]["delta"]["tool_calls"]:
            arguments = (call.get("function") or {}).get("arguments")
            if arguments and "\\" in arguments:
                try:
                    json.loads(f'"{arguments}"')
                except ValueError:
                    call["function"]["arguments"] = arguments.replace("\\", "")
        return [ChatCompletionChunk.model_validate(value)]


class SummingUsageParser(_Wrapping):
    """Adds up every usage it sees, as if each chunk's usage were a new increment."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.seen = 0

    def rewrite(self, chunk: ChatCompletionChunk) -> list[ChatCompletionChunk]:
        if chunk.usage is None:
            return [chunk]
        self.seen += 1
        usage = chunk.usage.model_copy(
            update={"completion_tokens": chunk.usage.completion_tokens * self.seen}
        )
        return [chunk.model_copy(update={"usage": usage})]


class EmptyDeltaEndsParser(_Wrapping):
    """Takes an empty content delta for the end of the text: what follows is a new message."""

    def rewrite(self, chunk: ChatCompletionChunk) -> list[ChatCompletionChunk]:
        if chunk.choices and chunk.choices[0].delta.content == "":
            self.inner.step_complete()
        return [chunk]


class LastCallParser(_Wrapping):
    """Gives every argument fragment to the most recently opened tool call."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.last: int | None = None

    def rewrite(self, chunk: ChatCompletionChunk) -> list[ChatCompletionChunk]:
        if not chunk.choices or not chunk.choices[0].delta.tool_calls:
            return [chunk]
        value = chunk.model_dump(mode="json")
        for call in value["choices"][0]["delta"]["tool_calls"]:
            if call.get("id"):
                self.last = call["index"]
            elif self.last is not None:
                call["index"] = self.last
        return [ChatCompletionChunk.model_validate(value)]


class ErrorBlindParser(_Wrapping):
    """Never says anything about an error in the stream."""

    def error(self, text: str) -> None:
        return None


def _json_array_gemini() -> Cassette:
    """The bundled Gemini SSE stream, as ``streamGenerateContent`` sends it without alt=sse."""
    cassette = load_cassette(CASSETTES / "gemini-sse-function-call.yaml")
    interaction = cassette.interactions[0]
    payloads = []
    for block in interaction.response.body.decode("utf-8").split("\r\n\r\n"):
        if block.startswith("data: "):
            payloads.append(block[len("data: ") :])
    body = ("[" + "\r\n,\r\n".join(payloads) + "]").encode("utf-8")
    headers = {**interaction.response.headers, "Content-Type": ["application/json; charset=UTF-8"]}
    response = RecordedResponse(
        200, "OK", headers, body, [BodyChunk(0.0, body[:200]), BodyChunk(10.0, body[200:])]
    )
    request = interaction.request
    uri = request.uri.replace("alt=sse&", "").replace("?alt=sse", "")
    new_request = type(request)(request.method, uri, request.headers, request.body)
    return Cassette([Interaction(new_request, response)], cassette.info, CASSETTES / "array.yaml")


def _load(name: str) -> Cassette:
    if name == "gemini-json-array":
        return _json_array_gemini()
    return load_cassette(CASSETTES / name)


# hazard -> (cassette, naive byte reader or None, naive chunk parser or None)
NAIVE: dict[str, tuple[str, Any, Any]] = {
    "sse-crlf": ("openai-tool-name-split.yaml", OneEventPerReadReader, None),
    "sse-cr": ("openai-tool-name-split.yaml", FieldBlindReader, None),
    "sse-lf": ("gemini-sse-function-call.yaml", CRLFReader, None),
    "sse-bom": ("anthropic-thinking-tool-use.yaml", FieldBlindReader, None),
    "sse-comments": ("openai-tool-name-split.yaml", FieldBlindReader, None),
    "sse-id": ("openai-tool-name-split.yaml", FieldBlindReader, None),
    "sse-retry": ("openai-tool-name-split.yaml", FieldBlindReader, None),
    "sse-no-space": ("openai-tool-name-split.yaml", OneEventPerReadReader, None),
    "sse-multiline-data": ("openai-tool-name-split.yaml", OneEventPerReadReader, None),
    "raw-line-separator": ("openai-line-separator-escaped.yaml", SplitlinesReader, None),
    "raw-unicode": ("openai-line-separator-escaped.yaml", Latin1Reader, None),
    "json-whitespace": ("openai-line-separator-escaped.yaml", GrepReader, None),
    "array-whitespace": ("gemini-json-array", ArrayLinesReader, None),
    "split-character": ("openai-send-message-inner-thoughts.yaml", SplitlinesReader, None),
    "coalesced-reads": ("openai-tool-name-split.yaml", OneEventPerReadReader, None),
    "split-lines": ("openai-tool-name-split.yaml", OneEventPerReadReader, None),
    "eventstream-split-prelude": (
        "bedrock-converse-stream-tool-use.yaml",
        OneMessagePerReadReader,
        None,
    ),
    "empty-delta": ("openai-line-separator-escaped.yaml", None, EmptyDeltaEndsParser),
    "usage-repeated": ("openai-line-separator-escaped.yaml", None, SummingUsageParser),
    "arguments-cut-mid-escape": (
        "openai-send-message-inner-thoughts.yaml",
        None,
        FragmentDecodingParser,
    ),
    "tool-calls-interleaved": ("openai-parallel-tool-calls.yaml", None, LastCallParser),
    "error-after-content": ("openai-tool-name-split.yaml", None, ErrorBlindParser),
}


def test_every_hazard_has_a_naive_parser_that_it_breaks() -> None:
    assert set(NAIVE) == set(HAZARDS)


@pytest.mark.parametrize("name", list(NAIVE))
def test_a_naive_parser_fails_the_hazard_and_streamreel_passes_it(name: str) -> None:
    cassette_name, reader, parser = NAIVE[name]
    cassette = _load(cassette_name)
    assert check_hazard(cassette, name).status == "passed"
    naive = check_hazard(cassette, name, decoder=reader, parser=parser)
    assert naive.status == "failed", naive.describe()
    assert naive.shrunk and len(naive.shrunk) <= naive.sites


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_streamreel_passes_every_hazard_on_every_bundled_cassette(path: Path) -> None:
    failed = [outcome for outcome in fuzz_hazards(path, "all") if outcome.failed]
    assert not failed, "\n".join(line for o in failed for line in o.describe())


def test_streamreel_shows_parallel_calls_in_index_order_whichever_fragment_comes_first() -> None:
    cassette = load_cassette(CASSETTES / "openai-parallel-tool-calls.yaml")
    sites = hazard_sites(cassette, HAZARDS["tool-calls-interleaved"])
    for site in sites:  # each swap alone, as well as all of them together
        merged = replay(mutate(cassette, [site])).interactions[0].merged
        calls = [m.tool_call for m in merged if isinstance(m, ToolCallMessage)]
        cities = [json.loads(str(getattr(call, "arguments", "")))["city"] for call in calls]
        assert cities == ["Lisbon", "Porto"]
    assert check_hazard(cassette, "tool-calls-interleaved").status == "passed"


def test_a_planted_line_separator_bug_is_found_shrunk_and_written(tmp_path: Path) -> None:
    outcomes = fuzz_hazards(
        CASSETTES / "openai-line-separator-escaped.yaml",
        "all",
        decoder=SplitlinesReader,
        save_to=tmp_path,
    )
    failed = {o.hazard: o for o in outcomes if o.failed}
    assert "raw-line-separator" in failed
    outcome = failed["raw-line-separator"]
    assert len(outcome.shrunk) == 1  # one raw U+2028 is enough
    assert outcome.written is not None and outcome.written.exists()
    written = load_cassette(outcome.written)
    assert "\u2028".encode() in written.interactions[0].response.body
    # The written cassette shows the bug without fuzzing: the naive reader cuts the JSON.
    assert replay(written).interactions[0].errors == []
    with pytest.raises(ValueError, match="Unterminated string"):
        replay(written, decoder=SplitlinesReader)
    text = "\n".join(outcome.describe())
    assert "raw-line-separator" in text and "openai-python #1230" in text
    assert str(outcome.written) in text


def test_hazards_that_add_an_error_require_an_error_message() -> None:
    cassette = load_cassette(CASSETTES / "openai-tool-name-split.yaml")
    assert check_hazard(cassette, "error-after-content").status == "passed"
    outcome = check_hazard(cassette, "error-after-content", parser=ErrorBlindParser)
    assert outcome.failed
    assert "expected an error message" in outcome.difference[0]


class _Reporting:
    """A process(stream) parser that says the stream failed by ``report``, a record of its own."""

    def __init__(self, report: dict[str, Any] | None) -> None:
        self.report = report

    def process(self, stream: Iterable[Any]) -> Iterable[dict[str, Any]]:
        try:
            for chunk in stream:
                for choice in chunk.choices:
                    for call in choice.delta.tool_calls or ():
                        yield {"message_type": "part", "arguments": call.function.arguments}
        except Exception:
            if self.report is not None:
                yield self.report


@pytest.mark.parametrize(
    "report",
    [
        {"message_type": "error_message", "error": "the provider failed"},
        {"message_type": "stop_reason", "stop_reason": "error"},
    ],
    ids=["error record", "error stop record"],
)
def test_a_foreign_parser_s_own_error_report_satisfies_a_hazard_that_adds_an_error(
    report: dict[str, Any],
) -> None:
    cassette = load_cassette(CASSETTES / "openai-tool-name-split.yaml")
    reporting = check_hazard(cassette, "error-after-content", parser=lambda s: _Reporting(report))
    assert reporting.status == "passed", reporting.describe()
    silent = check_hazard(cassette, "error-after-content", parser=lambda s: _Reporting(None))
    assert silent.failed and "expected an error message" in silent.difference[0]


def test_a_hazard_with_nothing_to_rewrite_is_not_applicable() -> None:
    cassette = load_cassette(CASSETTES / "openai-tool-name-split.yaml")
    assert check_hazard(cassette, "raw-line-separator").status == "not applicable"
    assert hazard_sites(cassette, HAZARDS["eventstream-split-prelude"]) == []


def test_selecting_hazards_by_name_and_all() -> None:
    assert [h.name for h in select_hazards("sse-cr, sse-bom")] == ["sse-cr", "sse-bom"]
    assert len(select_hazards("all")) == len(HAZARDS)
    with pytest.raises(ConfigurationError, match=r"cannot select hazards.*nope"):
        select_hazards("sse-cr,nope")
    with pytest.raises(ConfigurationError):
        select_hazards("")


def test_every_hazard_names_its_source() -> None:
    for hazard in HAZARDS.values():
        assert hazard.source and hazard.summary and hazard.framings


def test_edits_carry_read_boundaries_to_where_their_bytes_went() -> None:
    body = b"ab\ncd\n"
    mutated = apply_edits(body, [3], [Edit(2, 3, b"\r\n"), Edit(5, action="cut")])
    assert mutated.body == b"ab\r\ncd\n"
    assert mutated.reads() == [b"ab\r\n", b"cd", b"\n"]
    joined = apply_edits(body, [3], [Edit(3, action="join")])
    assert joined.reads() == [body]


def test_line_end_runs_are_rewritten_whole_so_no_blank_line_is_lost() -> None:
    cassette = load_cassette(CASSETTES / "openai-tool-name-split.yaml")
    sites = hazard_sites(cassette, HAZARDS["sse-cr"])
    mutated = mutate(cassette, sites[:3])
    body = mutated.interactions[0].response.body
    assert b"\r\n" not in body[: sites[2].edit.start + 2]
    assert replay(mutated).interactions[0].merged == replay(cassette).interactions[0].merged


def test_a_reproduction_is_scrubbed(tmp_path: Path) -> None:
    cassette = load_cassette(CASSETTES / "openai-line-separator-escaped.yaml")
    cassette.interactions[0].request.headers["Authorization"] = ["Bearer sk-live-secret"]
    outcome = check_hazard(cassette, "raw-line-separator", decoder=SplitlinesReader)
    path = save_reproduction(outcome, tmp_path)
    assert b"sk-live-secret" not in path.read_bytes()


def test_shrinking_finds_the_one_item_that_fails() -> None:
    kept, tried = shrink_items(list(range(100)), lambda items: 37 in items)
    assert kept == [37] and tried < 60


def test_the_decoder_of_a_replay_can_be_replaced() -> None:
    cassette = load_cassette(CASSETTES / "openai-tool-name-split.yaml")
    mine = replay(cassette, decoder=StreamDecoder)
    assert mine.interactions[0].merged == replay(cassette).interactions[0].merged


# -- the command line ----------------------------------------------------------------------------

USER_READER = '''
import codecs
import json

from streamreel.core.chunks import StreamFault
from streamreel.core.errors import UnsupportedStreamError
from streamreel.core.providers import make_adapter


class MyReader:
    """A user's SSE reader, careful about reads, BOMs and fields, but it cuts lines with
    str.splitlines(), which also cuts at U+2028."""

    def __init__(self, kind):
        if kind.framing != "sse":
            raise UnsupportedStreamError(f"MyReader reads SSE only, not {kind.framing}")
        self.adapter = make_adapter(kind)
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.started = False
        self.event = ""
        self.data = []

    def feed(self, data, final=False):
        self.text += self.decoder.decode(data, final)
        if not self.started and self.text:
            self.started = True
            self.text = self.text.removeprefix("\\ufeff")
        lines = self.text.splitlines(keepends=True)
        self.text = ""
        if not final and lines:
            last = lines[-1]
            if last.endswith("\\r") or last.splitlines()[0] == last:
                self.text = lines.pop()  # unfinished, or a CR whose LF may follow
        out = []
        for line in lines:
            out += self.line(line.splitlines()[0])
        return out

    def line(self, line):
        if not line:
            name, data = self.event or "message", self.data
            self.event, self.data = "", []
            if not data:
                return []
            payload = "\\n".join(data)
            if payload.strip() == "[DONE]":
                return self.adapter.done()
            return self.adapter.event(name, json.loads(payload))
        if line.startswith(":"):
            return []
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            self.data.append(value)
        elif field == "event":
            self.event = value
        return []

    def close(self):
        out = self.feed(b"", final=True) + self.line("") + self.adapter.end()
        if not self.adapter.finished:
            out.append(StreamFault("incomplete", "cut"))
        return out
'''


def _user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "userreader.py").write_text(USER_READER, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))


def test_the_command_finds_a_planted_line_separator_bug_on_the_bundled_cassettes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner
    from streamreel.cli import main

    _user_module(tmp_path, monkeypatch)
    result = CliRunner().invoke(
        main, ["fuzz", str(CASSETTES), "--hazards", "all", "--against", "userreader:MyReader"]
    )
    assert result.exit_code == 1, result.output
    assert "raw-line-separator: the merged messages change" in result.output
    assert "openai-python #1230" in result.output
    assert "smallest mutation found: 1 site of 2" in result.output
    written = (
        tmp_path / "streamreel-failures" / "openai-line-separator-escaped.raw-line-separator.yaml"
    )
    assert f"reproducing cassette written to {written}" in result.output
    assert "\u2028".encode() in load_cassette(written).interactions[0].response.body
    # The planted bug is the reader's only one: every other hazard passes everywhere.
    assert result.output.count("the merged messages change") == 1
    assert "openai-tool-name-split.yaml: ok" in result.output


def test_the_command_lists_the_hazards_and_refuses_unknown_ones() -> None:
    from click.testing import CliRunner
    from streamreel.cli import main

    listed = CliRunner().invoke(main, ["fuzz", "--list-hazards"])
    assert listed.exit_code == 0
    for name in HAZARDS:
        assert f"{name}: " in listed.output
    refused = CliRunner().invoke(main, ["fuzz", str(CASSETTES), "--hazards", "sse-crlf,nope"])
    assert refused.exit_code == 2
    assert "nope" in refused.output


def test_jobs_give_the_same_report_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner
    from streamreel.cli import main

    _user_module(tmp_path, monkeypatch)
    args = ["fuzz", str(CASSETTES), "--hazards", "all", "--reader", "userreader:MyReader"]
    one = CliRunner().invoke(main, [*args, "-j", "1"])
    two = CliRunner().invoke(main, [*args, "-j", "2"])
    assert one.exit_code == two.exit_code == 1
    assert one.output == two.output
    assert "--hazards all --reader userreader:MyReader" in one.output  # how to reproduce


CORPUS = conftest.CORPUS  # ../shared/corpus beside the project, or $STREAMREEL_CORPUS
CORPUS_FILES = expand([CORPUS]) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS_FILES, reason="the shared corpus of real recordings is absent")
def test_streamreel_passes_every_hazard_on_every_real_recording() -> None:
    from streamreel.core.errors import StreamreelError

    failed = []
    for path in CORPUS_FILES:
        try:
            outcomes = fuzz_hazards(path, "all")
        except StreamreelError:
            continue  # a recording streamreel cannot read has its own tests
        failed += [line for o in outcomes if o.failed for line in o.describe()]
    assert not failed, "\n".join(failed)


def test_a_repeated_usage_chunk_does_not_repeat_an_error_it_carried() -> None:
    chunk = {"id": "g", "choices": [], "error": {"message": "Token limit"}, "usage": {"n": 1}}
    body = b"data: " + json.dumps(chunk).encode() + b"\n\n"
    (edit,) = HAZARDS["usage-repeated"].edits(body, [])
    repeated = json.loads(edit.data.split(b"data: ", 1)[1])
    assert repeated == {"id": "g", "usage": {"n": 1}, "choices": []}


def test_an_error_after_content_comes_after_the_last_block_is_whole() -> None:
    body = (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0}\n\n'
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    (edit,) = HAZARDS["error-after-content"].edits(body, [])
    assert body[: edit.start].endswith(b'"content_block_stop","index":0}\n\n')
    assert edit.data.startswith(b"event: error\ndata: ")
    assert edit.end == len(body)
