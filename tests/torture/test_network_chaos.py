"""Network chaos: three stations sync through bench/chaos.py, which drops, delays,
duplicates, truncates and reorders 20 % of requests and replies, while they write (quick:
1,500 changes; `--full`: about 10,000). They converge: every export equal to the hub's,
nothing lost, no change applied twice."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from station import keys, synthetic
from station.daemon import Backoff, Loop
from station.store import Store
from station.syncer import SyncResult, client_for, enroll, pull, push, sync_once
from sync.hub import county

from ..conftest import GRID, PASSPHRASE, TOWNSHIP
from ..hubserver import HubProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from chaos import Chaos


def work(store: Store, people: int, edits: int, seed: int, errors: list[BaseException]) -> None:
    """Write in bursts and sync after each, as the daemon does, until all is up."""
    try:
        client = client_for(store)

        def round_(s: Store) -> SyncResult:
            # Small batches and pages: many requests, so the chaos has many to pick from.
            pushed = push(s, client, limit=40)
            return SyncResult(pushed.pushed, pushed.rejected, pushed.batches, pull(s, client, limit=150))

        loop = Loop(store, round_, time.sleep, Backoff(first=0.05, cap=0.3))
        rng = random.Random(seed)
        source = synthetic.people(people, [GRID], seed=seed)
        mine: list[str] = []
        while len(mine) < people:
            burst = store.add_many("person", [p for _, p in zip(range(rng.randint(20, 120)), source,
                                                                strict=False)])
            mine += burst
            for _ in range(round(edits * len(burst) / people)):
                store.update("person", rng.choice(mine), {"phone": f"139{rng.randrange(10**8):08d}"})
            loop.round()
        deadline = time.monotonic() + 600
        while store.status()["pending"] and time.monotonic() < deadline:
            wait = loop.round()
            if loop.failures:
                time.sleep(wait)
    except BaseException as exc:  # reported by the test, not lost in a thread
        errors.append(exc)


@pytest.mark.timeout(1800)  # --full: about 10,000 changes
def test_three_stations_converge_through_a_mangling_network(
        tmp_path: Path, full: bool, figures: Callable[..., None]) -> None:
    county.init(tmp_path / "county")
    hub = HubProcess(tmp_path / "county").start()
    people, edits = (3000, 400) if full else (400, 100)
    try:
        with Chaos(hub.home, ("127.0.0.1", hub.port), rate=0.2, seed=11) as chaos:
            stores = []
            for n in range(3):
                store = Store.create(tmp_path / f"s{n}", township=TOWNSHIP, name=f"站{n}", clerk="张三",
                                     passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
                enroll(store, hub.url, county.open_hub(hub.home).add_enrollment(TOWNSHIP, []),
                       hub.fingerprint)
                with store.atomic() as writes:
                    writes.put_settings(hub_url=f"https://127.0.0.1:{chaos.port}")
                stores.append(store)
            errors: list[BaseException] = []
            threads = [threading.Thread(target=work, args=(s, people, edits, n, errors))
                       for n, s in enumerate(stores)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            for _ in range(2):  # each gets the others' last changes, through the same chaos
                for store in stores:
                    finish(store)
            faults, requests = dict(chaos.faults), chaos.requests
        exports = [list(s.export("person")) for s in stores]
        hub_export = list(county.open_hub(hub.home).export("person"))
        written = sum(int(s.conn.execute("SELECT count(*) FROM changes").fetchone()[0]) for s in stores)
        with county.open_hub(hub.home).storage.transaction() as tx:
            (total, distinct), = tx.rows(
                "SELECT count(*), count(DISTINCT station || '/' || station_seq) FROM changes")
        for store in stores:
            store.close()
    finally:
        hub.stop()
    assert all(f > 0 for f in faults.values()) and len(faults) == 7, faults  # each kind happened
    assert exports[0] == exports[1] == exports[2] == hub_export
    assert len(hub_export) == 3 * people
    assert total == distinct == written  # every change once: none lost, none doubled
    figures(runs=1, requests=requests, faults=sum(faults.values()), fault_kinds=faults,
            changes_written=written, records=len(hub_export), lost=written - distinct,
            duplicates=total - distinct)


def finish(store: Store) -> None:
    """One whole sync round, retried through the chaos until it gets through."""
    client = client_for(store)
    loop = Loop(store, lambda s: sync_once(s, client), time.sleep, Backoff(first=0.05, cap=0.3))
    for _ in range(100):
        loop.round()
        if not loop.failures:
            return
    raise AssertionError("a sync round never got through")
