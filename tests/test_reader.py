"""Cassettes read one interaction at a time give what loading them whole gives.

The reader streams YAML cassettes (libyaml's events, one interaction's node composed at a time)
and leaves everything it cannot stream exactly to ``load_cassette``; these tests hold it to
``load_cassette``'s results and errors on every cassette at hand, and check that it skips what
it is not asked for and holds one interaction at a time.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CASSETTES, ROOT
from streamreel.cassettes import reader as reader_module
from streamreel.cassettes.reader import CassetteReader
from streamreel.cassettes.storage import load_cassette, save_cassette
from streamreel.core.errors import CassetteError
from streamreel.testing.synthetic import scaled_cassette

BROKEN = ROOT / "tests" / "data" / "broken"
HOSTILE = ROOT / "tests" / "data" / "hostile"


def _same_as_loading(path: Path) -> None:
    try:
        whole = load_cassette(path)
    except CassetteError as exc:
        with pytest.raises(CassetteError) as raised:
            list(CassetteReader(path).interactions())
        assert str(raised.value) == str(exc)
        return
    reader = CassetteReader(path)
    assert reader.info == whole.info
    assert reader.count() == len(whole.interactions)
    assert [i for _, i in reader.interactions()] == whole.interactions
    last = len(whole.interactions) - 1
    assert [i for i, _ in CassetteReader(path).interactions({last, last + 5})] == (
        [last] if last >= 0 else []
    )


@pytest.mark.parametrize(
    "path",
    sorted(CASSETTES.glob("*.yaml")) + sorted(BROKEN.glob("*")) + sorted(HOSTILE.glob("*")),
    ids=lambda p: p.name,
)
def test_every_bundled_broken_and_hostile_cassette_reads_as_loading_it_whole(path: Path) -> None:
    _same_as_loading(path)


def test_every_corpus_cassette_reads_as_loading_it_whole(corpus_dir: Path) -> None:
    paths = sorted(p for p in corpus_dir.rglob("*") if p.suffix in {".yaml", ".yml", ".json"})
    assert paths
    for path in paths:
        _same_as_loading(path)


def test_a_pydantic_ai_cassette_is_named_so_without_being_loaded(corpus_dir: Path) -> None:
    [path] = corpus_dir.glob("xai/pydantic-ai__*code_execution_tool_stream*.yaml")
    assert load_cassette(path).info.source == "pydantic-ai"
    assert CassetteReader(path).info.source == "pydantic-ai"


def _big(tmp_path: Path, chunks: int = 600, interactions: int = 6) -> Path:
    path = tmp_path / "big.yaml"
    save_cassette(scaled_cassette(chunks, interactions=interactions), path)
    return path


def test_unchosen_interactions_are_skipped_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _big(tmp_path)
    read: list[object] = []
    original = reader_module._read_interaction

    def counting(item: object) -> object:
        read.append(item)
        return original(item)

    monkeypatch.setattr(reader_module, "_read_interaction", counting)
    [(index, interaction)] = list(CassetteReader(path).interactions({4}))
    assert index == 4
    assert interaction == load_cassette(path).interactions[4]
    assert len(read) == 1
    read.clear()
    reader = CassetteReader(path)
    assert reader.count() == 6
    assert reader.info.source == "streamreel"
    assert read == []  # neither the count nor the metadata reads an interaction


def test_a_vcrpy_cassette_is_counted_by_the_pass_that_reads_its_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # vcrpy writes no metadata, so the info pass reads to the end and counts on the way: a
    # replay (count, then every interaction) passes over the file twice, not three times.
    path = _big(tmp_path)
    text = path.read_text(encoding="utf-8")
    plain = tmp_path / "plain.yaml"
    plain.write_text(text[text.index("interactions:") :], encoding="utf-8")
    passes: list[Path] = []
    original = reader_module._Pass.__init__

    def counting(self: object, path: Path, *args: object, **kwargs: object) -> None:
        passes.append(path)
        original(self, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reader_module._Pass, "__init__", counting)
    reader = CassetteReader(plain)
    assert reader.count() == 6
    read = [interaction for _, interaction in reader.interactions()]
    assert len(passes) == 2
    assert read == load_cassette(plain).interactions


def _peak(action: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        action()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def _read_all(path: Path) -> None:
    for _, interaction in CassetteReader(path).interactions():
        del interaction


def test_interactions_are_held_one_at_a_time(tmp_path: Path) -> None:
    six, twelve = tmp_path / "six.yaml", tmp_path / "twelve.yaml"
    save_cassette(scaled_cassette(6000, interactions=6), six)
    save_cassette(scaled_cassette(12000, interactions=12), twelve)
    # Twice the interactions of the same size: the whole load doubles, the reader does not.
    assert _peak(lambda: _read_all(twelve)) < 1.3 * _peak(lambda: _read_all(six))
    assert _peak(lambda: _read_all(twelve)) < _peak(lambda: load_cassette(twelve)) / 4


def test_metadata_after_the_interactions_is_still_found(tmp_path: Path) -> None:
    source = load_cassette(CASSETTES / "openai-send-message-inner-thoughts.yaml")
    text = (CASSETTES / "openai-send-message-inner-thoughts.yaml").read_text(encoding="utf-8")
    head, _, interactions = text.partition("interactions:\n")
    moved = tmp_path / "moved.yaml"
    moved.write_text("interactions:\n" + interactions + head, encoding="utf-8")
    reader = CassetteReader(moved)
    assert reader.info == source.info
    assert [i for _, i in reader.interactions()] == source.interactions


def test_json_containers_are_left_to_load_cassette(tmp_path: Path) -> None:
    har = sorted(CASSETTES.parent.glob("tests/data/*.har")) or sorted(BROKEN.glob("*.har"))
    assert har
    for path in har:
        _same_as_loading(path)


def test_progress_is_told_the_bytes_read(tmp_path: Path) -> None:
    path = _big(tmp_path, chunks=3000)
    seen: list[int] = []
    list(CassetteReader(path, progress=seen.append).interactions())
    assert seen == sorted(seen)
    assert seen[-1] == path.stat().st_size
    assert len(seen) > 2  # read in pieces, not whole
