"""The crash loop: SIGKILL at random points of two stations' writes, pushes and pulls, and of
the hub's apply, again and again (quick: 30 kills; `--full`: 240).

After every kill of a station the store opens, passes SQLite's integrity check, holds every
write its worker acknowledged, and its outbox is consistent (change numbers unique and
gap-free, receipts unique). At the end both stations sync with the hub until nothing is
pending: the three exports are equal, and the hub holds every change once."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from station import keys
from station.store import Store
from station.syncer import enroll, sync_once
from sync.hub import county

from ..conftest import PASSPHRASE, TOWNSHIP
from ..hubserver import HubProcess

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """One station's worker process (tests/torture/worker.py), started and killed at will."""

    def __init__(self, home: Path, seed: int) -> None:
        self.home, self.acks, self.seed = home, home.parent / f"{home.name}.acks", seed
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.seed += 1000  # a new stream of people after each restart: ids never repeat
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.torture.worker", str(self.home), str(self.acks),
             str(self.seed)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def kill(self) -> str:
        """SIGKILL; what it was doing then (write, schema, push or pull, as it last said)."""
        assert self.process is not None
        if self.process.poll() is not None:  # it died by itself: that is a failure to see
            raise AssertionError(self.process.stderr.read().decode() if self.process.stderr else "")
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        phase = self.acks.with_suffix(".phase")
        # Empty: killed while it was writing the word itself, between two steps.
        return (phase.read_text() or "between steps") if phase.exists() else "start"

    def acknowledged(self) -> set[str]:
        if not self.acks.exists():
            return set()
        lines = self.acks.read_text(encoding="utf-8").split("\n")
        return {line for line in lines[:-1] if line}  # the last line may be cut by the kill


def check_after_kill(worker: Worker) -> None:
    """The store opens whole, with every acknowledged write and a consistent outbox."""
    conn = sqlite3.connect(worker.home / "station.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        seqs = [r[0] for r in conn.execute("SELECT seq FROM changes ORDER BY seq")]
        receipts = [r[0] for r in conn.execute("SELECT receipt FROM changes WHERE receipt IS NOT NULL")]
    finally:
        conn.close()
    assert seqs == list(range(1, len(seqs) + 1)), "change numbers have a gap or a repeat"
    assert len(receipts) == len(set(receipts)), "one hub receipt on two changes"
    store = Store.open(worker.home)
    try:
        store.unlock(PASSPHRASE)  # it opens, with the clerk's passphrase
        have = {r[0] for r in store.conn.execute(
            "SELECT id FROM records WHERE entity = 'person' AND deleted = 0")}
        missing = worker.acknowledged() - have
        assert not missing, f"{len(missing)} acknowledged writes lost"
    finally:
        store.close()


@pytest.fixture
def stations(tmp_path: Path) -> Iterator[tuple[HubProcess, list[Worker]]]:
    county.init(tmp_path / "county")
    hub = HubProcess(tmp_path / "county").start()
    workers = []
    for n in range(2):
        home = tmp_path / f"station{n}"
        store = Store.create(home, township=TOWNSHIP, name=f"站{n}", clerk="张三",
                             passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
        enroll(store, hub.url, county.open_hub(hub.home).add_enrollment(TOWNSHIP, []),
               hub.fingerprint)
        store.close()
        workers.append(Worker(home, seed=n))
    yield hub, workers
    for w in workers:
        if w.process is not None and w.process.poll() is None:
            w.kill()
    hub.stop()


@pytest.mark.timeout(1800)  # --full: 240 kills
def test_crash_loop_loses_nothing_and_doubles_nothing(
        stations: tuple[HubProcess, list[Worker]], full: bool, figures: Callable[..., None]) -> None:
    hub, workers = stations
    kills = 240 if full else 30
    rng = random.Random(int(os.environ.get("TORTURE_SEED", "9")))
    for w in workers:
        w.start()
    hub_kills = 0
    during: Counter[str] = Counter()
    for _ in range(kills):
        time.sleep(rng.uniform(0.3, 1.5))  # a random point of whatever each one is doing
        if rng.random() < 0.2:
            hub.kill()
            hub_kills += 1
            hub = HubProcess(hub.home, hub.port).start()
            continue
        victim = rng.choice(workers)
        during[victim.kill()] += 1
        check_after_kill(victim)
        victim.start()
    for w in workers:
        w.kill()
        check_after_kill(w)

    exports, written = converge(hub, workers)
    hub_export = list(county.open_hub(hub.home).export("person"))
    assert exports[0] == exports[1] == hub_export
    with county.open_hub(hub.home).storage.transaction() as tx:
        (total, distinct), = tx.rows(
            "SELECT count(*), count(DISTINCT station || '/' || station_seq) FROM changes")
    assert total == distinct  # no change applied twice
    acknowledged = set().union(*(w.acknowledged() for w in workers))
    lost = acknowledged - {r["id"] for r in hub_export}
    assert not lost
    figures(runs=1, faults=kills, station_kills=kills - hub_kills, hub_kills=hub_kills,
            station_kills_during=dict(during),
            records_written=written, acknowledged=len(acknowledged), lost=len(lost),
            duplicates=total - distinct, seed=int(os.environ.get("TORTURE_SEED", "9")))


def converge(hub: HubProcess, workers: list[Worker]) -> tuple[list[list[dict[str, object]]], int]:
    """Sync both stations until nothing is pending anywhere; their exports and the number of
    people written."""
    stores = []
    for w in workers:
        store = Store.open(w.home)
        store.unlock(PASSPHRASE)
        stores.append(store)
    try:
        for _ in range(3):  # the second pass brings each the other's last changes
            for store in stores:
                sync_once(store)
        assert all(s.status()["pending"] == 0 and s.status()["rejected"] == 0 for s in stores)
        written = sum(int(s.status()["records"].get("person", 0)) for s in stores[:1])
        return [list(s.export("person")) for s in stores], written
    finally:
        for store in stores:
            store.close()
