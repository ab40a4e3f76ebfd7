"""Cassettes read one interaction at a time give what loading them whole gives.

The reader streams YAML cassettes (libyaml's events, one interaction's node composed at a time)
and leaves everything it cannot stream exactly to ``load_cassette``; these tests hold it to
``load_cassette``'s results and errors on every cassette at hand, and check that it skips what
it is not asked for and holds one interaction at a time. A file below ``WHOLE_BELOW`` is read
whole instead, in one pass: the tests of streaming itself (``streamed``) lower that size to
nothing, and the comparisons with ``load_cassette`` run both ways.
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


@pytest.fixture
def streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file streamed, however small: what these tests hold is the streaming itself."""
    monkeypatch.setattr(reader_module, "WHOLE_BELOW", 0)


@pytest.fixture(params=["whole", "streamed"])
def either_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small files read whole (as they are by default), then streamed."""
    if request.param == "streamed":
        monkeypatch.setattr(reader_module, "WHOLE_BELOW", 0)


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
def test_every_bundled_broken_and_hostile_cassette_reads_as_loading_it_whole(
    either_way: None, path: Path
) -> None:
    _same_as_loading(path)


def test_every_corpus_cassette_reads_as_loading_it_whole(
    either_way: None, corpus_dir: Path
) -> None:
    paths = sorted(p for p in corpus_dir.rglob("*") if p.suffix in {".yaml", ".yml", ".json"})
    assert paths
    for path in paths:
        _same_as_loading(path)


def test_a_pydantic_ai_cassette_is_named_so_without_being_loaded(
    streamed: None, corpus_dir: Path
) -> None:
    [path] = corpus_dir.glob("xai/pydantic-ai__*code_execution_tool_stream*.yaml")
    assert load_cassette(path).info.source == "pydantic-ai"
    assert CassetteReader(path).info.source == "pydantic-ai"


def _big(tmp_path: Path, chunks: int = 600, interactions: int = 6) -> Path:
    path = tmp_path / "big.yaml"
    save_cassette(scaled_cassette(chunks, interactions=interactions), path)
    return path


def test_unchosen_interactions_are_skipped_unread(
    streamed: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
    streamed: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # vcrpy writes no metadata, so the info pass reads to the end and counts on the way: a
    # replay (count, then every interaction) passes over the file twice, not three times.
    path = _big(tmp_path)
    text = path.read_text(encoding="utf-8")
    plain = tmp_path / "plain.yaml"
    plain.write_text(text[text.index("interactions:") :], encoding="utf-8")
    passes, _ = _reads(monkeypatch)
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


def test_interactions_are_held_one_at_a_time(streamed: None, tmp_path: Path) -> None:
    six, twelve = tmp_path / "six.yaml", tmp_path / "twelve.yaml"
    save_cassette(scaled_cassette(6000, interactions=6), six)
    save_cassette(scaled_cassette(12000, interactions=12), twelve)
    # Twice the interactions of the same size: the whole load doubles, the reader does not.
    assert _peak(lambda: _read_all(twelve)) < 1.3 * _peak(lambda: _read_all(six))
    assert _peak(lambda: _read_all(twelve)) < _peak(lambda: load_cassette(twelve)) / 4


def test_metadata_after_the_interactions_is_still_found(either_way: None, tmp_path: Path) -> None:
    source = load_cassette(CASSETTES / "openai-send-message-inner-thoughts.yaml")
    text = (CASSETTES / "openai-send-message-inner-thoughts.yaml").read_text(encoding="utf-8")
    head, _, interactions = text.partition("interactions:\n")
    moved = tmp_path / "moved.yaml"
    moved.write_text("interactions:\n" + interactions + head, encoding="utf-8")
    reader = CassetteReader(moved)
    assert reader.info == source.info
    assert [i for _, i in reader.interactions()] == source.interactions


def test_json_containers_are_left_to_load_cassette(either_way: None, tmp_path: Path) -> None:
    har = sorted(CASSETTES.parent.glob("tests/data/*.har")) or sorted(BROKEN.glob("*.har"))
    assert har
    for path in har:
        _same_as_loading(path)


def test_progress_is_told_the_bytes_read(streamed: None, tmp_path: Path) -> None:
    path = _big(tmp_path, chunks=3000)
    seen: list[int] = []
    list(CassetteReader(path, progress=seen.append).interactions())
    assert seen == sorted(seen)
    assert seen[-1] == path.stat().st_size
    assert len(seen) > 2  # read in pieces, not whole


def _plain(tmp_path: Path) -> Path:
    """A cassette as vcrpy writes one: its version after the interactions, no metadata."""
    text = _big(tmp_path).read_text(encoding="utf-8")
    plain = tmp_path / "plain.yaml"
    plain.write_text(text[text.index("interactions:") :] + "version: 1\n", encoding="utf-8")
    return plain


def _reads(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Path], list[Path]]:
    """The streaming passes and the whole loads the reader makes from here on."""
    passes: list[Path] = []
    loads: list[Path] = []
    original_pass = reader_module._Pass.__init__
    original_load = reader_module.load_cassette

    def counting_pass(self: object, path: Path, *args: object, **kwargs: object) -> None:
        passes.append(path)
        original_pass(self, path, *args, **kwargs)  # type: ignore[arg-type]

    def counting_load(path: Path) -> object:
        loads.append(Path(path))
        return original_load(path)

    monkeypatch.setattr(reader_module._Pass, "__init__", counting_pass)
    monkeypatch.setattr(reader_module, "load_cassette", counting_load)
    return passes, loads


def test_a_small_vcrpy_cassette_is_read_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _plain(tmp_path)
    whole = load_cassette(plain)
    passes, loads = _reads(monkeypatch)
    reader = CassetteReader(plain)
    assert reader.count() == 6
    assert reader.info == whole.info
    assert [i for _, i in reader.interactions()] == whole.interactions
    assert (passes, loads) == ([], [plain])


def test_a_file_from_the_whole_reading_size_up_is_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _plain(tmp_path)
    whole = load_cassette(plain)
    passes, loads = _reads(monkeypatch)
    monkeypatch.setattr(reader_module, "WHOLE_BELOW", plain.stat().st_size)
    reader = CassetteReader(plain)
    assert reader.count() == 6
    assert [i for _, i in reader.interactions()] == whole.interactions
    assert (len(passes), loads) == (2, [])  # the info pass, then the interactions one at a time
    monkeypatch.setattr(reader_module, "WHOLE_BELOW", plain.stat().st_size + 1)
    assert [i for _, i in CassetteReader(plain).interactions()] == whole.interactions
    assert (len(passes), loads) == (2, [plain])


def test_a_small_file_damaged_part_way_still_hands_over_what_came_before(
    either_way: None,
) -> None:
    # Interaction 1's body is not base64: interaction 0 is handed over, then the error names
    # the file, the line and the interaction, as loading the file whole would.
    path = BROKEN / "bad-base64.yaml"
    reader = CassetteReader(path)
    handed: list[int] = []
    with pytest.raises(CassetteError) as raised:
        for index, _ in reader.interactions():
            handed.append(index)
    assert handed == [0]
    assert str(raised.value).startswith(f"{path}:29: interaction 1: cannot decode a !!binary")


def test_a_small_file_tells_progress_as_each_interaction_is_handed_over(tmp_path: Path) -> None:
    path = _big(tmp_path)
    seen: list[int] = []
    reader = CassetteReader(path, progress=seen.append)
    for index, _ in reader.interactions():
        assert len(seen) == index + 1  # told before each one is replayed, as streaming is
    size = path.stat().st_size
    assert seen == sorted(seen) and len(seen) == 6
    assert seen[-1] == size and seen[0] == size // 6
