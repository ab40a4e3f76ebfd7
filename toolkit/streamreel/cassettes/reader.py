"""A cassette file read one interaction at a time.

Theory of operation
-------------------
:func:`~streamreel.cassettes.storage.load_cassette` builds the whole YAML document, then the
whole cassette: libyaml alone peaks at about 8x a big file's size, and every body is decoded
whether it is used or not. :class:`CassetteReader` reads the same files and gives the same
interactions, but holds one at a time:

* libyaml's parser produces events; PyYAML's composer (running on those events, at about the
  C loader's speed, since the events dominate) composes **one interaction's node**, which is
  constructed, read and handed over before the next one is touched. The file is read through
  a stream, so neither its text nor its document is ever whole in memory.
* interactions that are not asked for are **skipped at the event level**: nothing is composed,
  no body is decoded (``--interaction N``, the browser's listing).
* the cassette-level facts (:attr:`CassetteReader.info`, :meth:`CassetteReader.count`) come from
  an event pass that composes only the small top-level values; in streamreel's own files the
  metadata comes before the interactions, so reading it stops there.

A file below :data:`WHOLE_BELOW` is not streamed: :func:`load_cassette` reads it in one pass
of libyaml's C loader and composer, which is faster than even one streaming pass (whose composer
runs in Python) and much faster than the two a cassette without streamreel's metadata needs
(vcrpy writes ``version`` after the interactions, so its info pass reads to the end). Its
memory, a few times the file's size, is small at that size. When that load fails, the file is
streamed after all, so the interactions before a fault are still handed over before the error.

Whatever the reader cannot stream exactly as :func:`load_cassette` reads it, it leaves to
:func:`load_cassette`: JSON containers (HAR, nock, JSON cassettes), documents that are not a
mapping with ``interactions``, formats that need migrating, and any error at all, so that a
broken file is reported with the same message, interaction and line as before. An alias to an
anchor in a skipped interaction is such a case too. Each interaction is held to the budgets of
:mod:`streamreel.cassettes.limits` as it is read (aliases, nesting), as a whole document is.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any, cast

import yaml
from yaml.composer import Composer
from yaml.events import (
    CollectionEndEvent,
    CollectionStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from streamreel.cassettes import usage
from streamreel.cassettes.limits import check_document
from streamreel.cassettes.storage import (
    _CassetteLoader,
    _read_interaction,
    _read_metadata,
    load_cassette,
    normalize_encodings,
)
from streamreel.core.cassette import FORMAT_VERSION, Cassette, CassetteInfo, Interaction

__all__ = ["WHOLE_BELOW", "CassetteReader"]

WHOLE_BELOW = 8 * 1024 * 1024
"""Files smaller than this (in bytes) are read whole, in one pass; larger ones are streamed.

Whole, a file costs a few times its size in memory (about 4x for vcrpy's one-piece bodies, 12x
for streamreel's recordings with their chunk boundaries, as Python objects), so at this size at
most about 100 MB, and the recorded cassettes at hand are all below a megabyte; twice a
benchmark's 2.5 MB cassette still reads whole, so replay time stays linear across the sizes
users meet. Streaming keeps memory at one interaction's for anything bigger.
"""


class _Fallback(Exception):
    """The file is not one the reader streams exactly: :func:`load_cassette` reads it."""


class _EventLoader(_CassetteLoader):
    """libyaml's parser and the cassette constructors, with PyYAML's node-at-a-time composer."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.anchors: dict[str, yaml.Node] = {}

    compose_node = Composer.compose_node
    compose_scalar_node = Composer.compose_scalar_node
    compose_sequence_node = Composer.compose_sequence_node
    compose_mapping_node = Composer.compose_mapping_node


class _CountingReader(io.RawIOBase):
    """The file as libyaml reads it, counting the bytes read (for progress)."""

    def __init__(self, raw: io.BufferedReader, seen: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._seen = seen
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)
        self.position += count
        if self._seen is not None:
            self._seen(self.position)
        return count


class _Pass:
    """One pass over the file's events, from the start of its top-level mapping."""

    def __init__(self, path: Path, progress: Callable[[int], None] | None = None) -> None:
        self._raw = path.open("rb")
        self._counted = _CountingReader(self._raw, progress)
        text = io.TextIOWrapper(io.BufferedReader(self._counted), encoding="utf-8-sig")
        self.loader = _EventLoader(text)
        loader = self.loader
        loader.get_event()  # the stream's start
        if loader.check_event(StreamEndEvent):
            raise _Fallback("an empty file")
        loader.get_event()  # the document's start
        if not loader.check_event(MappingStartEvent):
            raise _Fallback("not a mapping")
        loader.get_event()

    def close(self) -> None:
        self.loader.dispose()
        self._raw.close()

    def top_keys(self) -> Iterator[str]:
        """The top-level keys in order; the caller reads or skips each one's value."""
        loader = self.loader
        while not loader.check_event(MappingEndEvent):
            key = loader.construct_document(self.node())
            if not isinstance(key, str):
                raise _Fallback("a key that is not text")
            yield key

    def node(self) -> yaml.Node:
        # PyYAML's composer methods, typed for its own Composer class, run on this loader.
        node: yaml.Node = cast(Any, self.loader).compose_node(None, None)
        return node

    def value(self) -> Any:
        loader = self.loader
        return loader.construct_document(self.node())

    def skip(self) -> None:
        """Pass over one node without composing it."""
        loader = self.loader
        depth = 0
        while True:
            event = loader.get_event()
            if isinstance(event, CollectionStartEvent):
                depth += 1
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
            if depth == 0:
                return

    def items(self) -> Iterator[None]:
        """Positions the parser on each item of the ``interactions`` sequence in turn."""
        loader = self.loader
        if loader.check_event(ScalarEvent):
            if self.value() is not None:
                raise _Fallback("interactions that are not a list")
            return
        if not loader.check_event(SequenceStartEvent):
            raise _Fallback("interactions that are not a list")
        loader.get_event()
        while not loader.check_event(SequenceEndEvent):
            yield
        loader.get_event()

    def pydantic_marks(self) -> bool:
        """Whether the next item has pydantic-ai's keys, read from its events alone.

        The keys are ``request_stream`` / ``response_stream`` on the item, or ``parsed_body``
        inside its ``request`` or ``response``, as the whole-document reader looks for them.
        """
        loader = self.loader
        found = False
        # Per open container: is it a mapping, is a key due next, its key in the parent, the
        # last key read in it.
        stack: list[list[Any]] = []
        while True:
            event = loader.get_event()
            top = stack[-1] if stack else None
            if top is not None and top[0] and top[1] and not isinstance(event, MappingEndEvent):
                if not isinstance(event, ScalarEvent):
                    raise _Fallback("a key that is not text")
                depth, key = len(stack), event.value
                if depth == 1 and key in ("request_stream", "response_stream"):
                    found = True
                if depth == 2 and key == "parsed_body" and top[2] in ("request", "response"):
                    found = True
                top[1], top[3] = False, key
                continue
            if isinstance(event, CollectionStartEvent):
                parent_key = top[3] if top is not None and top[0] else None
                stack.append([isinstance(event, MappingStartEvent), True, parent_key, None])
                continue
            if isinstance(event, CollectionEndEvent):
                stack.pop()
            if not stack:
                return found
            if stack[-1][0]:
                stack[-1][1] = True  # a value was read: a key comes next


def _streamable(path: Path) -> bool:
    if path.suffix.lower() in {".json", ".har"}:
        return False
    with path.open("rb") as file:
        head = file.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] not in (b"{", b"[", b"")


class CassetteReader:
    """A cassette file read lazily: its metadata, its count, and its interactions one by one.

    ``progress``, when given, is told how many bytes of the file have been read so far (for a
    file read whole, its share of them as each interaction is handed over).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, progress: Callable[[int], None] | None = None
    ) -> None:
        self.path = Path(path)
        usage.note(self.path)
        self.progress = progress
        self._info: CassetteInfo | None = None
        self._count: int | None = None
        self._whole: Cassette | None = None
        self._whole_tried = False

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def _loaded(self) -> Cassette:
        if self._whole is None:
            self._whole = load_cassette(self.path)
        return self._whole

    def _read_whole(self) -> bool:
        """Whether the file is small enough to read whole (see :data:`WHOLE_BELOW`), and was."""
        if not self._whole_tried:
            self._whole_tried = True
            try:
                small = self.size < WHOLE_BELOW
            except OSError:
                small = False  # left for the streaming path to report, as it was
            if small:
                # A failure is reported by the streaming path, after the interactions before it.
                with contextlib.suppress(Exception):
                    self._whole = load_cassette(self.path)
        return self._whole is not None

    @property
    def info(self) -> CassetteInfo:
        """The cassette-level metadata, as :func:`load_cassette` reports it."""
        if self._info is None and self._read_whole():
            self._info = self._loaded().info
        if self._info is None:
            try:
                self._info = self._read_info()
            except Exception:  # every failure is load_cassette's to report
                self._info = self._loaded().info
        return self._info

    def count(self) -> int:
        """How many interactions the file holds, without reading them (unless it is small)."""
        if self._count is None and self._read_whole():
            self._count = len(self._loaded().interactions)
        if self._count is None and self._info is None:
            # A cassette without streamreel's metadata (vcrpy's own) is counted by the pass
            # that reads its info, which a replay needs next: one pass over the file, not two.
            with contextlib.suppress(Exception):  # left for info to report, as load_cassette does
                self._info = self._read_info()
        if self._count is None:
            try:
                self._count = self._read_count()
            except Exception:  # every failure is load_cassette's to report
                self._count = len(self._loaded().interactions)
        return self._count

    def _read_count(self) -> int:
        if not _streamable(self.path):
            raise _Fallback("not YAML")
        scan = _Pass(self.path)
        try:
            for key in scan.top_keys():
                if key != "interactions":
                    scan.skip()
                    continue
                count = 0
                for _ in scan.items():
                    scan.skip()
                    count += 1
                return count
        finally:
            scan.close()
        raise _Fallback("no interactions")

    def _read_info(self) -> CassetteInfo:
        if not _streamable(self.path):
            raise _Fallback("not YAML")
        top: dict[str, Any] = {}
        seen_interactions = False
        pydantic = False
        scan = _Pass(self.path)
        try:
            for key in scan.top_keys():
                if key != "interactions":
                    top[key] = scan.value()
                    continue
                seen_interactions = True
                if self._streamreel(top):
                    break  # streamreel's own metadata came first: nothing below changes it
                count = 0
                for _ in scan.items():
                    pydantic = scan.pydantic_marks() or pydantic
                    count += 1
                self._count = count
        finally:
            scan.close()
        if not seen_interactions:
            raise _Fallback("no interactions")
        check_document(top, text_length=self.size)
        info = self._checked_info(top)
        if info.source != "streamreel" and pydantic:
            info.source = "pydantic-ai"
        return info

    @staticmethod
    def _streamreel(top: dict[str, Any]) -> bool:
        metadata = top.get("metadata")
        return isinstance(metadata, dict) and isinstance(metadata.get("streamreel"), dict)

    @staticmethod
    def _checked_info(top: dict[str, Any]) -> CassetteInfo:
        version = top.get("version", 1)
        if version != 1:
            raise _Fallback("another vcrpy version")
        metadata = top.get("metadata")
        block = metadata.get("streamreel") if isinstance(metadata, dict) else None
        if isinstance(block, dict) and block.get("format") != FORMAT_VERSION:
            raise _Fallback("a format to migrate or refuse")
        info, _ = _read_metadata({**top, "interactions": []})
        return info

    def interactions(
        self, chosen: Collection[int] | None = None
    ) -> Iterator[tuple[int, Interaction]]:
        """Each interaction (or each one in ``chosen``) with its index, read one at a time."""
        _ = self.info  # checks the version and metadata first, as load_cassette does
        if self._whole is not None:
            yield from self._told(self._from_whole(chosen, 0))
            return
        done = 0
        try:
            for index, interaction in self._stream(chosen):
                done = index + 1
                yield index, interaction
        except _StreamFailed:
            yield from self._from_whole(chosen, done)

    def _told(
        self, interactions: Iterator[tuple[int, Interaction]]
    ) -> Iterator[tuple[int, Interaction]]:
        """A file read whole tells ``progress`` each interaction's share of its bytes."""
        if self.progress is None:
            yield from interactions
            return
        size, total = self.size, len(self._loaded().interactions)
        for index, interaction in interactions:
            self.progress(size * (index + 1) // total)
            yield index, interaction

    def _from_whole(
        self, chosen: Collection[int] | None, start: int
    ) -> Iterator[tuple[int, Interaction]]:
        whole = self._loaded()
        for index in range(start, len(whole.interactions)):
            if chosen is None or index in chosen:
                yield index, whole.interactions[index]

    def _stream(self, chosen: Collection[int] | None) -> Iterator[tuple[int, Interaction]]:
        try:
            size = self.size
            scan = _Pass(self.path, self.progress)
        except Exception as exc:
            raise _StreamFailed from exc
        try:
            for key in _guarded(scan.top_keys()):
                if key != "interactions":
                    _guarded_call(scan.skip)
                    continue
                for index, _ in enumerate(_guarded(scan.items())):
                    if chosen is not None and index not in chosen:
                        _guarded_call(scan.skip)
                    else:
                        interaction = _guarded_call(lambda: _read_one(scan.value(), size))
                        yield index, interaction
                return
        finally:
            scan.close()

    def load(self) -> Cassette:
        """The whole cassette, as :func:`load_cassette` reads it."""
        return self._loaded()


class _StreamFailed(Exception):
    """Reading on from here is :func:`load_cassette`'s job (and reporting what went wrong)."""


def _read_one(item: Any, file_size: int) -> Interaction:
    # The same budgets as a whole document's (aliases, nesting), one interaction at a time.
    check_document(item, text_length=file_size)
    interaction = _read_interaction(item)
    normalize_encodings(Cassette(interactions=[interaction]))
    return interaction


def _guarded(items: Iterator[Any]) -> Iterator[Any]:
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except Exception as exc:
            raise _StreamFailed from exc
        yield item


def _guarded_call(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except Exception as exc:
        raise _StreamFailed from exc
