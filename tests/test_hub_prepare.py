"""A large push batch checked half in a worker process (sync/hub/prepare.py) comes out as it
does checked in the hub's process alone: the same changes accepted, the same refused with the
same reasons, the same field versions — on both storage engines."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sync.hub import prepare
from sync.hub.rules import Hub, HubClock
from sync.hub.storage import open_storage
from sync.protocol import PushBatch, WireChange
from sync.schema import v1_schema

from .conftest import NOON
from .test_hub import GRID, enrolled, person

SCHEMA = v1_schema()
BATCH = 2 * prepare.SPLIT_AT


def _hub(database: str, processes: int) -> Hub:
    storage = open_storage(database)
    storage.migrate()
    return Hub(storage, os.urandom(32), SCHEMA, HubClock(lambda: NOON), processes)


@pytest.fixture
def two_hubs(hub_database: str, tmp_path: Path) -> Iterator[tuple[Hub, Hub]]:
    # The second on its own SQLite file: the two must not share a store.
    alone, split = _hub(hub_database, 0), _hub(f"sqlite:///{tmp_path / 'split.db'}", 1)
    yield alone, split
    split.preparer.close()
    for hub in (alone, split):
        hub.storage.close()


def _changes() -> list[WireChange]:
    """People, every 50th with a wrong ID check digit, and one stamped a day ahead of the hub."""
    out = []
    for i in range(1, BATCH + 1):
        change = person(i, f"01a224be-898f-709d-9d8d-{i:012x}")
        if i % 50 == 0:
            change = replace(change, fields={**change.fields, "id_number": "110105194912310021"})
        out.append(change)
    out[-1] = replace(out[-1], hlc=f"{NOON + 86_400_000:015d}.000000.sta")
    return out


def _warm(hub: Hub, batch: PushBatch) -> None:
    """The worker started and up (the batches before it are checked in the hub alone)."""
    hub.preparer.batch(hub._rules(), hub.sealer, enrolled(hub, "warm"), batch.changes)
    assert hub.preparer._up is not None
    hub.preparer._up.result(timeout=60)


def test_a_batch_checked_in_a_worker_is_answered_as_one_checked_here(two_hubs: tuple[Hub, Hub]) -> None:
    alone, split = two_hubs
    batch = PushBatch("sta", tuple(_changes()))
    _warm(split, batch)
    answers = [hub.push(enrolled(hub), batch) for hub in (alone, split)]
    assert [(r.seq, r.receipt is None, r.rejected) for r in answers[0]] == [
        (r.seq, r.receipt is None, r.rejected) for r in answers[1]]
    refused = [r for r in answers[1] if r.rejected]
    assert [r.seq for r in refused] == [*range(50, BATCH, 50), BATCH]
    assert all("id_number" in (r.rejected or "") for r in refused[:-1])
    assert split.preparer.passed_there > BATCH // 2  # most of it was checked in the worker
    for change in batch.changes[:3]:
        assert alone.state(change.record) == split.state(change.record)
    assert GRID in str(split.state(batch.changes[0].record))


def test_a_worker_that_died_leaves_the_batch_to_the_hub(two_hubs: tuple[Hub, Hub]) -> None:
    alone, split = two_hubs
    batch = PushBatch("sta", tuple(_changes()))
    _warm(split, batch)
    assert split.preparer._pool is not None
    for process in list(split.preparer._pool._processes.values()):
        process.kill()
        process.join()
    answers = [hub.push(enrolled(hub), batch) for hub in (alone, split)]
    assert [r.rejected for r in answers[0]] == [r.rejected for r in answers[1]]
