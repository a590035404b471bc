"""Convergence across stations: random adds, edits, deletes, incident steps, syncs and
partitions on three stations end converged, every losing concurrent value in a conflict.

The hub here is the real `Hub` on SQLite, called in process: the HTTP layer is proved in the
end-to-end tests, and leaving it out lets hypothesis run many histories."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from station import keys
from station.cases import Cases
from station.conflicts import Conflicts
from station.duplicates import Duplicates
from station.store import Store
from station.syncer import sync_once
from sync.hub.rules import Hub, HubClock
from sync.hub.storage import StationRow, open_storage
from sync.merge import canonical
from sync.protocol import PullPage, PushBatch, Result
from sync.schema import v1_schema

from .conftest import NOON, FakeTime

GRID = "440524001001"
NAMES = ["张三", "李四", "王五", "赵六"]
# A few people, so that stations partitioned from each other register the same one.
ID_NUMBERS = ["11010519491231002X", "440524197803141379", "440524199011029783"]


class InProcessClient:
    """The station's client, wired straight to the hub's rules for one enrolled station."""

    def __init__(self, hub: Hub, station: StationRow) -> None:
        self.hub, self.station = hub, station
        self.bytes_sent = self.bytes_received = 0  # nothing goes on a wire here
        self.hub_dictionaries: tuple[int, ...] | None = None  # nor any dictionary

    def push(self, batch: PushBatch) -> list[Result]:
        return self.hub.push(self.station, batch)

    def pull(self, cursor: int, limit: int = 1000, schema_version: int | None = None,
             own_after: int | None = None) -> PullPage:
        return self.hub.pull(self.station, cursor, limit, schema_version, own_after)

    def bundles(self, after: int) -> list[dict[str, Any]]:
        return self.hub.bundles(after)


class ThreeStations(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.time = FakeTime(NOON)
        storage = open_storage(f"sqlite:///{self.dir / 'hub.db'}")
        storage.migrate()
        self.hub = Hub(storage, os.urandom(32), v1_schema(), HubClock(self.time.wall_ms))
        self.stores: list[Store] = []
        self.clients: list[InProcessClient] = []
        for n in range(3):
            store = Store.create(self.dir / f"s{n}", township="440524001", name=f"站{n}",
                                 clerk="张三", passphrase="passphrase 123", kdf=keys.FAST_KDF,
                                 clock=self.time.clock())
            code = self.hub.add_enrollment("440524001", [])
            key = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
            row = self.hub.enroll(code, store.station_id, key.decode())
            self.stores.append(store)
            self.clients.append(InProcessClient(self.hub, row))

    def teardown(self) -> None:
        for store in getattr(self, "stores", []):
            store.close()
        shutil.rmtree(getattr(self, "dir", "/nonexistent"), ignore_errors=True)

    def live(self, n: int, entity: str = "person") -> list[str]:
        return [r["id"] for r in self.stores[n].export(entity)]

    @rule(n=st.integers(0, 2), name=st.sampled_from(NAMES), number=st.sampled_from(ID_NUMBERS))
    def add(self, n: int, name: str, number: str) -> None:
        """A clerk registers a person, unless this station holds them already (she opens
        that record instead); two stations may register one person while partitioned."""
        if self.stores[n].registered("person", {"id_number": number}) is None:
            self.time.ms += 1
            self.stores[n].add("person", {"name": name, "id_number": number, "grid": GRID})

    @rule(n=st.integers(0, 2), pick=st.integers(0, 50))
    def merge(self, n: int, pick: int) -> None:
        """A clerk merges one person registered twice (maybe as another station does)."""
        same = [c["id"] for c in Conflicts(self.stores[n]).list() if c["field"] == "_same"]
        if same:
            self.time.ms += 1
            Duplicates(self.stores[n]).merge(same[pick % len(same)])

    @rule(n=st.integers(0, 2), pick=st.integers(0, 50), name=st.sampled_from(NAMES))
    def edit(self, n: int, pick: int, name: str) -> None:
        ids = self.live(n)
        if ids:
            self.time.ms += 1
            self.stores[n].update("person", ids[pick % len(ids)], {"name": name})

    @rule(a=st.integers(0, 2), b=st.integers(0, 2), pick=st.integers(0, 50),
          names=st.lists(st.sampled_from(NAMES), min_size=2, max_size=2, unique=True))
    def concurrent_edit(self, a: int, b: int, pick: int, names: list[str]) -> None:
        """Two partitioned stations edit the same record: the case conflicts exist for."""
        shared = sorted(set(self.live(a)) & set(self.live(b)))
        if a != b and shared:
            record = shared[pick % len(shared)]
            for n, name in ((a, names[0]), (b, names[1])):
                self.time.ms += 1
                self.stores[n].update("person", record, {"name": name})

    @rule(n=st.integers(0, 2), pick=st.integers(0, 50))
    def delete(self, n: int, pick: int) -> None:
        ids = self.live(n)
        if ids:
            self.time.ms += 1
            self.stores[n].delete("person", ids[pick % len(ids)])

    @rule(n=st.integers(0, 2))
    def open_incident(self, n: int) -> None:
        self.time.ms += 1
        Cases(self.stores[n], "incident").open({"category": "03", "title": "路灯", "grid": GRID})

    @rule(n=st.integers(0, 2), pick=st.integers(0, 50))
    def step_incident(self, n: int, pick: int) -> None:
        cases = Cases(self.stores[n], "incident")
        ids = self.live(n, "incident")
        if ids:
            case_id = ids[pick % len(ids)]
            here = cases.state(case_id).step
            nxt = [m.to_step for m in cases.workflow.moves if m.from_step == here and not m.needs_reason]
            if nxt:
                self.time.ms += 1
                cases.advance(case_id, nxt[0])

    @rule(n=st.integers(0, 2))
    def sync(self, n: int) -> None:  # stations not chosen are partitioned from the hub
        self.time.ms += 1
        sync_once(self.stores[n], self.clients[n])  # type: ignore[arg-type]

    @precondition(lambda self: hasattr(self, "stores"))
    @invariant()
    def nothing_pending_is_lost(self) -> None:
        for store in self.stores:
            assert store.status()["rejected"] == 0

    def converge(self) -> None:
        for _ in range(2):
            for n in range(3):
                sync_once(self.stores[n], self.clients[n])  # type: ignore[arg-type]

    @precondition(lambda self: hasattr(self, "stores"))
    @rule()
    def check_converged(self) -> None:
        self.converge()
        exports = [list(s.export()) for s in self.stores]
        assert exports[0] == exports[1] == exports[2] == list(self.hub.export())
        # One person registered twice is an open same-person conflict on every station, and
        # a county duplicate, until merged: the pairs are read off the converged records.
        twice: dict[str, list[str]] = {}
        for record in exports[0]:
            if record["entity"] == "person":
                twice.setdefault(record["fields"]["id_number"], []).append(record["id"])
        pairs = {(a, b) for ids in twice.values() for a in ids for b in ids if a < b}
        for store in self.stores:
            assert {(c["records"][0]["id"], c["records"][1]["id"]) for c in Conflicts(store).list()
                    if c["field"] == "_same"} == pairs
        assert sorted(tuple(r["id"] for r in d["records"]) for d in self.hub.duplicates()) == \
            sorted(tuple(sorted(ids)) for ids in twice.values() if len(ids) > 1)
        if pairs:
            event("a person registered twice is a same-person conflict everywhere")
        steps = [[(c["id"], c["step"]) for c in Cases(s, "incident").summaries()]
                 for s in self.stores]
        assert steps[0] == steps[1] == steps[2]
        with self.hub.storage.transaction() as tx:
            rows = list(tx.records())
        for record_id, _entity, _grid, _state, _deleted in rows:
            state = self.hub.state(record_id)
            for field, field_state in state.items():
                lost = {v.value for v in field_state.losers}
                if not lost or field.startswith("_"):
                    continue
                for store in self.stores:  # every station holds the conflict with those values
                    found = [c for c in Conflicts(store).list()
                             if c["record"] == record_id and c["field"] == field]
                    assert found, f"no conflict for {record_id}.{field}"
                    shown = {canonical(v["value"]) for v in found[0]["losers"]}
                    assert lost <= shown
                event("a concurrent edit left a conflict on every station")


ThreeStations.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_three_stations_converge = ThreeStations.TestCase


def test_one_person_registered_at_two_stations_and_merged_at_both_converges() -> None:
    """The history the machine above meets only now and then, run on purpose: two
    partitioned stations register one person, both see the conflict, both merge it before
    hearing of the other's merge; all three end with one person and no conflict."""
    machine = ThreeStations()
    machine.start()
    try:
        machine.add(0, "张三", ID_NUMBERS[1])
        machine.add(1, "李四", ID_NUMBERS[1])
        machine.converge()
        expected = sorted(r["id"] for r in machine.stores[2].export("person"))
        assert len(expected) == 2
        for store in machine.stores:
            (same,) = [c for c in Conflicts(store).list() if c["field"] == "_same"]
            assert [r["id"] for r in same["records"]] == expected
        machine.merge(0, 0)
        machine.merge(1, 0)
        machine.converge()
        exports = [list(s.export()) for s in machine.stores]
        assert exports[0] == exports[1] == exports[2] == list(machine.hub.export())
        assert [r["id"] for r in exports[0] if r["entity"] == "person"] == expected[:1]
        assert all(Conflicts(s).list() == [] for s in machine.stores)
        assert machine.hub.duplicates() == [] and machine.hub.conflicts() == []
    finally:
        machine.teardown()
