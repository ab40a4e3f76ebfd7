"""Every bundled cassette, replayed through streamreel's interface, against its snapshot.

A parser change that alters what any cassette replays to fails here with a line diff naming the
interaction and message. If the change is intended, review the diff and rewrite the snapshots::

    pytest tests/test_snapshots.py --snapshot-update

A new cassette in ``cassettes/`` fails until its snapshot is written and committed the same way;
a removed one leaves an unused snapshot, which fails the session until it is deleted (the same
command deletes it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamreel.cassettes.discovery import expand
from streamreel.testing.replayer import CassetteReplayer
from syrupy.assertion import SnapshotAssertion

ROOT = Path(__file__).resolve().parent.parent
NAMES = sorted(p.name for p in expand([ROOT / "cassettes"]))


@pytest.mark.parametrize(
    "name",
    NAMES or [pytest.param("", marks=pytest.mark.skip(reason="cassettes/ holds no cassette yet"))],
)
def test_cassette(name: str, replay: CassetteReplayer, stream_snapshot: SnapshotAssertion) -> None:
    assert stream_snapshot == replay(name)
