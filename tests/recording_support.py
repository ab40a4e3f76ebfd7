"""Scripted cassettes and a loopback HTTP server for the recorder, scrubbing and emulator tests.

The cassettes are **synthetic**: written here by hand in the providers' wire formats (OpenAI chat
completion chunks, including a Letta-style ``send_message`` tool call whose arguments carry
``inner_thoughts``; Anthropic message events), with small offsets so paced tests stay fast.
The emulator serves them before the recorder has recorded anything.
"""

from __future__ import annotations

import gzip
import http.server
import json
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from streamreel.core.cassette import (
    BodyChunk,
    Cassette,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)

OPENAI_URL = "https://api.openai.com/v1/chat/completions"
ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"
STEP_MS = 12.0


def _sse(data: Any, event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


def _chunks(pieces: list[bytes], step: float = STEP_MS, first: float = 5.0) -> list[BodyChunk]:
    return [BodyChunk(first + i * step, piece) for i, piece in enumerate(pieces)]


def _request(url: str, body: dict[str, Any]) -> RecordedRequest:
    return RecordedRequest(
        method="POST",
        uri=url,
        headers={"content-type": ["application/json"]},
        body=json.dumps(body, separators=(",", ":")).encode(),
    )


def _response(chunks: list[BodyChunk], content_type: str, status: int = 200) -> RecordedResponse:
    return RecordedResponse(
        status=status,
        reason="OK" if status == 200 else "",
        headers={"content-type": [content_type], "x-request-id": ["req_synthetic"]},
        body=b"".join(c.data for c in chunks),
        chunks=chunks,
    )


# -- OpenAI ------------------------------------------------------------------------------------

OPENAI_MODEL = "gpt-4o-mini"


def openai_body(prompt: str, *, stream: bool, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": prompt}],
        "model": OPENAI_MODEL,
        **extra,
    }
    if stream:
        body["stream"] = True
    return body


def _openai_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-synthetic01",
        "object": "chat.completion.chunk",
        "created": 1718000000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_synthetic",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def openai_text_stream(prompt: str = "Say hello", words: tuple[str, ...] = ()) -> Interaction:
    words = words or ("Hel", "lo", " there", "!")
    pieces = [_sse(_openai_chunk({"role": "assistant", "content": "", "refusal": None}))]
    pieces += [_sse(_openai_chunk({"content": word})) for word in words]
    pieces += [_sse(_openai_chunk({}, "stop")), _sse("[DONE]")]
    return Interaction(
        _request(OPENAI_URL, openai_body(prompt, stream=True)),
        _response(_chunks(pieces), "text/event-stream; charset=utf-8"),
    )


SEND_MESSAGE_TOOL = {
    "type": "function",
    "function": {
        "name": "send_message",
        "description": "Sends a message to the human user.",
        "parameters": {
            "type": "object",
            "properties": {
                "inner_thoughts": {"type": "string", "description": "Private reasoning."},
                "message": {"type": "string", "description": "Message contents."},
            },
            "required": ["inner_thoughts", "message"],
        },
    },
}


def openai_tool_stream(prompt: str = "Greet me") -> Interaction:
    arguments = [
        '{"inner',
        '_thoughts": "The user',
        ' wants a greeting."',
        ', "message": "Hi',
        ' there!"}',
    ]
    first = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "index": 0,
                "id": "call_synthetic01",
                "type": "function",
                "function": {"name": "send_message", "arguments": ""},
            }
        ],
        "refusal": None,
    }
    pieces = [_sse(_openai_chunk(first))]
    pieces += [
        _sse(_openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}))
        for part in arguments
    ]
    pieces += [_sse(_openai_chunk({}, "tool_calls")), _sse("[DONE]")]
    body = openai_body(prompt, stream=True, tools=[SEND_MESSAGE_TOOL])
    return Interaction(
        _request(OPENAI_URL, body),
        _response(_chunks(pieces), "text/event-stream; charset=utf-8"),
    )


def openai_json(prompt: str = "Say hello") -> Interaction:
    document = {
        "id": "chatcmpl-synthetic02",
        "object": "chat.completion",
        "created": 1718000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    }
    body = json.dumps(document).encode()
    return Interaction(
        _request(OPENAI_URL, openai_body(prompt, stream=False)),
        _response([BodyChunk(8.0, body)], "application/json"),
    )


# -- Anthropic ---------------------------------------------------------------------------------

ANTHROPIC_MODEL = "claude-haiku-4-5"


def anthropic_body(prompt: str, *, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "max_tokens": 256,
        "messages": [{"role": "user", "content": prompt}],
        "model": ANTHROPIC_MODEL,
    }
    if stream:
        body["stream"] = True
    return body


def _message(content: list[Any], stop: str | None, output_tokens: int) -> dict[str, Any]:
    return {
        "id": "msg_synthetic01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": output_tokens},
    }


def anthropic_text_stream(prompt: str = "Say hello") -> Interaction:
    words = ("Hello", " from", " Claude", ".")
    events = [
        _sse({"type": "message_start", "message": _message([], None, 1)}, "message_start"),
        _sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        ),
        _sse({"type": "ping"}, "ping"),
    ]
    events += [
        _sse(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}},
            "content_block_delta",
        )
        for w in words
    ]
    events += [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
            "message_delta",
        ),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return Interaction(
        _request(ANTHROPIC_URL, anthropic_body(prompt, stream=True)),
        _response(_chunks(events), "text/event-stream; charset=utf-8"),
    )


def anthropic_json(prompt: str = "Say hello") -> Interaction:
    document = _message([{"type": "text", "text": "Hello from Claude."}], "end_turn", 5)
    return Interaction(
        _request(ANTHROPIC_URL, anthropic_body(prompt, stream=False)),
        _response([BodyChunk(8.0, json.dumps(document).encode())], "application/json"),
    )


def error_json(url: str, body: dict[str, Any], status: int) -> Interaction:
    payload = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate"}}
    return Interaction(
        _request(url, body),
        _response([BodyChunk(3.0, json.dumps(payload).encode())], "application/json", status),
    )


def cassette(*interactions: Interaction) -> Cassette:
    return Cassette(interactions=list(interactions))


def all_scripted() -> Cassette:
    return cassette(
        openai_text_stream(),
        openai_tool_stream(),
        openai_json(),
        anthropic_text_stream(),
        anthropic_json(),
    )


# -- a loopback server with hand-written responses ---------------------------------------------


@dataclass
class Script:
    """What the loopback server does for one path: pieces to send, with hooks between them."""

    pieces: list[bytes]
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/event-stream"})
    before: dict[int, Callable[[], None]] = field(default_factory=dict)
    cut_after: int | None = None


class LoopbackServer:
    """HTTP/1.1 on 127.0.0.1, answering each path with its :class:`Script`, chunked."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.seen: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _answer(self) -> None:
                length = int(self.headers.get("content-length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                outer.seen.append((self.path, dict(self.headers), body))
                script = outer.scripts.get(self.path.split("?")[0])
                if script is None:
                    self.send_error(404)
                    return
                self.send_response(script.status)
                for name, value in script.headers.items():
                    self.send_header(name, value)
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for index, piece in enumerate(script.pieces):
                    hook = script.before.get(index)
                    if hook is not None:
                        hook()
                    if script.cut_after is not None and index >= script.cut_after:
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            do_GET = _answer
            do_POST = _answer

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def gzip_pieces(parts: list[bytes]) -> list[bytes]:
    """``parts`` gzip-encoded as one stream, flushed after each part so each is decodable."""
    compressor = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)
    out = [compressor.compress(part) + compressor.flush(zlib.Z_SYNC_FLUSH) for part in parts]
    out[-1] += compressor.flush()
    return out


def gunzip(data: bytes) -> bytes:
    return gzip.decompress(data)
