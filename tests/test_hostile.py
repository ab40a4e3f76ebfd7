"""Hostile files: every reader finishes in bounded time and memory with a CassetteError.

The files in ``tests/data/hostile`` are written by ``devtools/hostile.py`` and are a few kilobytes
each: a billion laughs inside a pydantic-ai ``parsed_body`` and at the top level, a YAML alias that
contains itself, nesting past the recursion limit in a ``.json``, a HAR and a ``parsed_body``, a
HAR whose request body nests 2,000 deep, a gzip body that inflates to 300 MiB, and nine levels
of ``<<`` merge keys (which PyYAML flattens without copying, and must keep doing so).

They are read in a child process under a memory ceiling, so that a reader that would expand a
bomb fails the test with a ``MemoryError`` (or the child's time-out) instead of taking the machine
down with it.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from streamreel.core.errors import CassetteError
from streamreel.testing.replayer import find_cassette, new_cassette_path

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "tests" / "data" / "hostile"
pytest_plugins = ["pytester"]

SENTENCE = re.compile(r"cannot [^:]+: expected .+, got .+; \S.*", re.DOTALL)

# file name -> words the error must say
EXPECTED: dict[str, str] = {
    "alias-cycle.yaml": "contains itself",
    "deep-2000.har": "nested at most 200 deep",
    "deep-2000.json": "nested at most 200 deep",
    "deep-parsed-body.yaml": "nested at most 200 deep",
    "gzip-bomb.yaml": "bytes once decompressed",
    "go-vcr-laughs-in-headers.yaml": "through YAML aliases",
    "nock-hex-chunks-bomb.json": "bytes once decompressed",
    "ruby-vcr-binary-bomb.yml": "bytes once decompressed",
    "laughs-at-top.yaml": "through YAML aliases",
    "laughs-in-parsed-body.yaml": "through YAML aliases",
}
# Files that load (their danger is further on, or never was) and must then replay without
# raising: file name -> the number of interactions replayed.
REPLAYABLE = {"deep-request-body.har": 1, "merge-key-bomb.yaml": 0}

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    # A ceiling on the address space: an expanded bomb raises MemoryError instead of swapping.
    limit = 3 * 1024 ** 3
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from streamreel.cassettes.storage import load_cassette
    from streamreel.playback.replay import replay
    from streamreel.core.errors import StreamreelError
    out = {}
    for path in sorted(Path(sys.argv[1]).iterdir()):
        try:
            cassette = load_cassette(path)
            result = replay(cassette)
            out[path.name] = {"loaded": len(result.interactions)}
        except StreamreelError as exc:
            out[path.name] = {"error": str(exc), "type": type(exc).__name__}
        except BaseException as exc:
            out[path.name] = {"crash": f"{type(exc).__name__}: {exc}"[:300]}
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[str, Any]]:
    """What reading each hostile file gave, from one child process under a memory ceiling."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(HOSTILE)],
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard only: with the budgets in place this takes about a second
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return result


def test_every_hostile_file_has_an_expectation() -> None:
    assert sorted(p.name for p in HOSTILE.iterdir()) == sorted([*EXPECTED, *REPLAYABLE])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_hostile_file_is_refused_with_a_cassette_error_naming_it(
    outcomes: dict[str, dict[str, Any]], name: str
) -> None:
    outcome = outcomes[name]
    assert "crash" not in outcome, outcome
    assert "error" in outcome, f"{name} was read: {outcome}"
    assert outcome["type"] in ("CassetteError",)
    text = outcome["error"]
    assert text.startswith(str(HOSTILE / name) + ": ")
    assert EXPECTED[name] in text
    assert SENTENCE.search(text), text


@pytest.mark.parametrize("name", sorted(REPLAYABLE))
def test_a_file_that_loads_replays_without_a_crash(
    outcomes: dict[str, dict[str, Any]], name: str
) -> None:
    assert outcomes[name] == {"loaded": REPLAYABLE[name]}


def test_the_hostile_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "devtools" / "hostile.py"), str(tmp_path)], check=True
    )
    for path in HOSTILE.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_a_shared_alias_within_budget_still_loads() -> None:
    from streamreel.cassettes.storage import loads_cassette

    text = textwrap.dedent(
        """\
        version: 1
        interactions:
        - request:
            method: POST
            uri: https://api.openai.com/v1/chat/completions
            headers: &h {content-type: [application/json]}
            body: '{}'
          response:
            status: {code: 200, message: OK}
            headers: *h
            body: {string: '{}'}
        """
    )
    cassette = loads_cassette(text)
    assert cassette.interactions[0].response.headers == {"content-type": ["application/json"]}


# -- cassette names stay inside the cassette folders -------------------------------------------


@pytest.fixture
def folders(tmp_path: Path) -> list[Path]:
    inner = tmp_path / "project" / "tests" / "cassettes"
    outer = tmp_path / "project" / "cassettes"
    for folder in (inner, outer):
        folder.mkdir(parents=True)
    (outer / "send.yaml").write_text("version: 1\ninteractions: []\n", encoding="utf-8")
    (outer / "sub").mkdir()
    (outer / "sub" / "deep.yaml").write_text("version: 1\ninteractions: []\n", encoding="utf-8")
    (tmp_path / "secret.yaml").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    return [inner, outer]


@pytest.mark.parametrize(
    "name", ["../../secret", "../../secret.yaml", "sub/../../../secret", "..", ".", ""]
)
def test_a_name_that_climbs_out_of_the_folders_is_refused(folders: list[Path], name: str) -> None:
    for look in (find_cassette, new_cassette_path):
        with pytest.raises(CassetteError, match="inside the cassette folders") as caught:
            look(name, folders)
        assert "root:x" not in str(caught.value)


def test_an_absolute_path_elsewhere_is_refused_without_reading_it(
    folders: list[Path], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.yaml"
    for name in (secret, str(secret), "/etc/passwd"):
        for look in (find_cassette, new_cassette_path):
            with pytest.raises(CassetteError, match="leads outside them") as caught:
                look(name, folders)
            assert "root:" not in str(caught.value)


def test_names_inside_the_folders_still_resolve(folders: list[Path]) -> None:
    outer = folders[1]
    assert find_cassette("send", folders) == outer / "send.yaml"
    assert find_cassette("sub/deep", folders) == outer / "sub" / "deep.yaml"
    assert find_cassette("sub/../send.yaml", folders) == outer / "send.yaml"
    assert find_cassette(outer / "send.yaml", folders) == outer / "send.yaml"
    assert new_cassette_path("fresh", folders) == folders[0] / "fresh.yaml"
    assert new_cassette_path(outer / "new", folders) == outer / "new.yaml"
    assert new_cassette_path("sub/new", folders) == folders[0] / "sub" / "new.yaml"


def test_the_plugin_refuses_to_record_or_replay_outside_the_folders(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\n")
    (pytester.path / "cassettes").mkdir()
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_it.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from streamreel.core.errors import CassetteError

            @pytest.mark.cassette("../../escaped")
            def test_record(streamreel_record):
                with pytest.raises(CassetteError, match="inside the cassette folders"):
                    streamreel_record()

            def test_replay(replay):
                with pytest.raises(CassetteError, match="leads outside them") as caught:
                    replay("/etc/passwd")
                assert "root:" not in str(caught.value)
            """
        ),
        encoding="utf-8",
    )
    pytester.runpytest_inprocess("-p", "no:syrupy", "-p", "no:cacheprovider").assert_outcomes(
        passed=2
    )
    assert not (pytester.path.parent / "escaped.yaml").exists()
    assert not (pytester.path.parent.parent / "escaped.yaml").exists()


def test_the_recorder_stops_a_compression_bomb_too() -> None:
    import base64
    import gzip

    import yaml
    from streamreel.core.encoding import BodyDecoder

    document = yaml.safe_load((HOSTILE / "gzip-bomb.yaml").read_text(encoding="utf-8"))
    outer = document["interactions"][0]["response"]["body"]["string"]
    inner = gzip.decompress(outer if isinstance(outer, bytes) else base64.b64decode(outer))
    decoder = BodyDecoder("gzip")
    decoder.feed(inner)
    assert decoder.failed is not None and "once decompressed" in decoder.failed


# -- every command, under a memory cap ----------------------------------------------------------

COMMAND_CAP = 768 * 1024**2
"""The child's address space: a command that read a 1 GB file whole could not stay under it."""

COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "replay": lambda path: ["replay", str(path), "--format", "jsonl"],
    "replay -": lambda path: ["replay", "-", "--format", "jsonl"],
    "inspect": lambda path: ["inspect", str(path)],
    "import": lambda path: ["import", str(path), "-o", str(path.parent / "out.yaml"), "--force"],
    "diff": lambda path: ["diff", str(path), "--right-settings", "use_assistant_message=false"],
    "fuzz": lambda path: ["fuzz", str(path), "--examples", "3", "--seed", "1"],
    "audit": lambda path: ["audit", str(path)],
}
"""Each command's arguments for one input file (``replay -`` reads it on standard input). A
command that reads files joins the suite with one entry here."""

CASSETTE_ONLY = {"inspect", "import"}  # commands that read cassettes, never chunk files

RUN_CAPPED = textwrap.dedent(
    """
    import atexit, resource, sys
    cap = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    # The child's own peak resident memory, in kB, last on stderr. VmHWM belongs to this
    # program's memory alone; ru_maxrss would carry the forking test runner's peak across exec.
    def peak():
        status = open("/proc/self/status").read()
        print("peak", status.split("VmHWM:")[1].split()[0], file=sys.stderr)
    atexit.register(peak)
    from streamreel.cli import main
    sys.argv = ["streamreel", *sys.argv[2:]]
    main()
    """
)


def _capped(command: str, path: Path, cap: int = COMMAND_CAP) -> subprocess.CompletedProcess[str]:
    arguments = COMMANDS[command](path)
    with path.open("rb") if command.endswith(" -") else open(os.devnull, "rb") as stdin:
        return subprocess.run(
            [sys.executable, "-c", RUN_CAPPED, str(cap), *arguments],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=300,  # a hang guard only
            check=False,
        )


def _hostile_files(folder: Path) -> dict[str, Path]:
    """Files built here, not kept in the repository: most are large, and sparse or random."""
    files: dict[str, Path] = {}
    for suffix in (".jsonl", ".yaml"):
        sparse = folder / f"sparse-1g{suffix}"
        with sparse.open("wb") as stream:
            stream.truncate(1024**3)  # a gigabyte of NUL bytes that takes no disk
        files[sparse.name] = sparse
    noise = folder / "random.jsonl"
    noise.write_bytes(random.Random(7).randbytes(1024 * 1024))
    files[noise.name] = noise
    return files


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _hostile_files(tmp_path_factory.mktemp("hostile-commands"))


@pytest.mark.parametrize("name", ["sparse-1g.jsonl", "sparse-1g.yaml", "random.jsonl"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_a_file_that_is_not_text_from_its_first_bytes(
    hostile_files: dict[str, Path], command: str, name: str
) -> None:
    if command in CASSETTE_ONLY and name.endswith(".jsonl"):
        pytest.skip(f"{command} reads cassettes only")
    path = hostile_files[name]
    done = _capped(command, path)
    assert done.returncode == 3, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr
    shown = "<stdin>" if command.endswith(" -") else str(path)
    assert shown in done.stderr and "not text" in done.stderr, done.stderr[-2000:]


def _one_line(path: Path, size: int) -> Path:
    text = "word " * (size // 5)
    line = json.dumps({"id": "c", "choices": [{"index": 0, "delta": {"content": text}}]})
    path.write_text(line + "\n", encoding="utf-8")
    return path


def test_a_chunk_line_past_the_limit_is_a_clear_error_in_every_command(tmp_path: Path) -> None:
    from streamreel.cassettes.limits import MAX_LINE_BYTES

    path = _one_line(tmp_path / "long.jsonl", MAX_LINE_BYTES + 1024)
    for command in sorted(set(COMMANDS) - CASSETTE_ONLY):
        done = _capped(command, path)
        # replay keeps what came before the line (nothing, here) and says so in the stream
        expected = 4 if command.startswith("replay") else 3
        assert done.returncode == expected, (command, done.stderr[-2000:])
        assert f"at most {MAX_LINE_BYTES:,} bytes a line" in done.stdout + done.stderr
        assert "Traceback" not in done.stderr


def test_fuzz_on_a_10_mb_line_stays_under_200_mb(tmp_path: Path) -> None:
    path = _one_line(tmp_path / "ten.jsonl", 10_000_000)
    done = _capped("fuzz", path, cap=3 * 1024**3)
    assert done.returncode == 0, done.stderr[-2000:]
    peak_mb = int(done.stderr.rsplit("peak ", 1)[1]) / 1024
    assert peak_mb < 200, f"fuzz peaked at {peak_mb:.0f} MB on a 10 MB line"


def test_an_argument_string_full_of_escapes_in_one_piece_costs_a_few_times_its_size() -> None:
    import tracemalloc

    from streamreel.core.arguments import ArgumentsReader, Route

    value = 'caf\u00e9 \\n "quoted" \\t ' * 20_000
    arguments = json.dumps({"message": value})
    tracemalloc.start()
    try:
        reader = ArgumentsReader({"message": Route.TEXT})
        events = reader.feed(arguments) + reader.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "".join(e.text for e in events if e.key == "message") == value
    # One event per run of text, not one per stretch between escapes (over 300,000 of them).
    assert len(events) <= 3
    assert peak < 12 * len(arguments), f"{peak:,} bytes traced for {len(arguments):,} of input"
