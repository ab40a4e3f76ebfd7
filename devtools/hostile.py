"""Write the hostile cassettes of ``tests/data/hostile/``: small files built to blow up a reader.

Each is a few kilobytes and stands for an attack or an accident a reader must survive in bounded
time and memory, with a ``CassetteError`` naming the file (``tests/test_hostile.py``)::

    python devtools/hostile.py tests/data/hostile/
"""

from __future__ import annotations

import base64
import gzip
import json
import sys
from collections.abc import Callable
from pathlib import Path

_RESPONSE = """\
  response:
    status: {code: 200, message: OK}
    headers: {}
    body: {string: ''}
"""


def _request(body_lines: list[str]) -> str:
    head = [
        "version: 1",
        "interactions:",
        "- request:",
        "    method: POST",
        "    uri: https://api.openai.com/v1/chat/completions",
        "    headers: {}",
    ]
    return "\n".join(head + body_lines) + "\n" + _RESPONSE


def laughs_in_parsed_body() -> str:
    """Nine levels of nine aliases inside a pydantic-ai ``parsed_body``: 9**9 strings expanded."""
    lines = ["    parsed_body:", "      l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 9):
        lines.append(f"      l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return _request(lines)


def laughs_at_top() -> str:
    """The same bomb as the whole document's ``interactions``."""
    lines = ["version: 1", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 9):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    lines.append("interactions: *l8")
    return "\n".join(lines) + "\n"


def merge_key_bomb() -> str:
    """Nine levels of ``<<`` merge keys, each merging the level below nine times."""
    lines = ["version: 1", "m0: &m0 {k: v}"]
    for level in range(1, 10):
        lines.append(f"m{level}: &m{level} {{<<: [" + ", ".join([f"*m{level - 1}"] * 9) + "]}")
    lines.append("interactions: []")
    return "\n".join(lines) + "\n"


def alias_cycle() -> str:
    """A ``parsed_body`` list that contains itself."""
    return _request(["    parsed_body: &loop [1, *loop]"])


def deep_parsed_body() -> str:
    """A ``parsed_body`` nested 990 deep: loads, then overflows the JSON encoder."""
    return _request(["    parsed_body: " + "[" * 990 + "]" * 990])


def deep_json() -> str:
    """A ``.json`` document nested 2,000 deep: overflows the JSON decoder."""
    return '{"log": {"entries": ' + "[" * 2000 + "]" * 2000 + "}}\n"


def deep_request_body_har() -> str:
    """A valid HAR whose JSON request body is nested 2,000 deep (a string in the file)."""
    entry = {
        "request": {
            "method": "POST",
            "url": "https://api.openai.com/v1/chat/completions",
            "headers": [{"name": "content-type", "value": "application/json"}],
            "postData": {"mimeType": "application/json", "text": "[" * 2000 + "]" * 2000},
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "headers": [{"name": "content-type", "value": "text/event-stream"}],
            "content": {"mimeType": "text/event-stream", "text": "data: [DONE]\n\n"},
        },
    }
    return json.dumps({"log": {"version": "1.2", "entries": [entry]}}, indent=1) + "\n"


def gzip_bomb() -> str:
    """A body gzipped twice that inflates to 300 MiB of zeros from about a kilobyte."""
    rows = _bomb_rows()
    return (
        "version: 1\n"
        "interactions:\n"
        "- request:\n"
        "    method: GET\n"
        "    uri: https://api.openai.com/v1/models\n"
        "    headers: {}\n"
        "    body: ''\n"
        "  response:\n"
        "    status: {code: 200, message: OK}\n"
        "    headers:\n"
        "      content-encoding: [gzip, gzip]\n"
        "    body:\n"
        "      string: !!binary |\n" + rows
    )


def _double_gzip_bomb() -> bytes:
    inner = gzip.compress(b"\0" * (300 * 1024 * 1024), compresslevel=9, mtime=0)
    return gzip.compress(inner, compresslevel=9, mtime=0)


def _bomb_rows() -> str:
    """The bomb in base64, as the rows of a YAML block scalar indented for a body's string."""
    encoded = base64.b64encode(_double_gzip_bomb()).decode("ascii")
    return "".join(f"        {encoded[i : i + 76]}\n" for i in range(0, len(encoded), 76))


def ruby_vcr_binary_bomb() -> str:
    """The gzip bomb as a Ruby VCR cassette's ``!binary`` body (Psych's local tag)."""
    rows = _bomb_rows()
    return (
        "---\n"
        "http_interactions:\n"
        "- request:\n"
        "    method: get\n"
        "    uri: https://api.openai.com/v1/models\n"
        "    body: {encoding: US-ASCII, string: ''}\n"
        "    headers: {}\n"
        "  response:\n"
        "    status: {code: 200, message: OK}\n"
        "    headers:\n"
        "      Content-Encoding: [gzip, gzip]\n"
        "    body:\n"
        "      encoding: ASCII-8BIT\n"
        "      string: !binary |-\n" + rows + "  recorded_at: Mon, 01 Jan 2024 12:00:00 GMT\n"
        "recorded_with: VCR 6.2.0\n"
    )


def nock_hex_chunks_bomb() -> str:
    """The gzip bomb as nock's array of hex chunks."""
    hexed = _double_gzip_bomb().hex()
    entry = {
        "scope": "https://api.openai.com:443",
        "method": "GET",
        "path": "/v1/models",
        "status": 200,
        "response": [hexed[i : i + 512] for i in range(0, len(hexed), 512)],
        "rawHeaders": ["Content-Encoding", "gzip", "Content-Encoding", "gzip"],
    }
    return json.dumps([entry], indent=1) + "\n"


def go_vcr_laughs_in_headers() -> str:
    """Nine levels of nine aliases as a go-vcr cassette's response headers."""
    lines = [
        "version: 2",
        "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    ]
    for level in range(1, 9):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    lines += [
        "interactions:",
        "- id: 0",
        "  request: {body: '', form: {}, headers: {}, url: 'https://api.openai.com/v1/models',"
        " method: GET}",
        "  response: {body: '', headers: {X-Laughs: *l8}, status: 200 OK, code: 200}",
    ]
    return "\n".join(lines) + "\n"


FILES: dict[str, Callable[[], str]] = {
    "laughs-in-parsed-body.yaml": laughs_in_parsed_body,
    "laughs-at-top.yaml": laughs_at_top,
    "alias-cycle.yaml": alias_cycle,
    "merge-key-bomb.yaml": merge_key_bomb,
    "deep-parsed-body.yaml": deep_parsed_body,
    "deep-2000.json": deep_json,
    "deep-2000.har": deep_json,
    "deep-request-body.har": deep_request_body_har,
    "gzip-bomb.yaml": gzip_bomb,
    "ruby-vcr-binary-bomb.yml": ruby_vcr_binary_bomb,
    "nock-hex-chunks-bomb.json": nock_hex_chunks_bomb,
    "go-vcr-laughs-in-headers.yaml": go_vcr_laughs_in_headers,
}


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in FILES.items():
        (folder / name).write_text(make(), encoding="utf-8", newline="\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/hostile"))
