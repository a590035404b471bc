"""The hub under load: many stations syncing at once.

    .venv/bin/python bench/bench_load.py [--stations 100,500] [--backend postgresql|sqlite]
                                         [--workers 2] [--batches 3] [--changes 20]
                                         [--limits default[,0,N…]]

The hub runs as `county serve --workers N` in its own processes, on PostgreSQL (a database made
for the run on 127.0.0.1 and dropped after) or on its SQLite default. Each simulated station is
enrolled like a real one (its own Ed25519 key, the pinned certificate) and pushes `--batches`
signed batches of `--changes` new people, one after another, all stations at once (a thread
each, released together). Each station behaves as the daemon does: a busy answer (503) is
waited out (its Retry-After plus the daemon's jitter) and the batch sent again; any other
failure is what its clerk would see as an error, and the batch is sent again after the
daemon's backoff. `--limits` runs the same load once per limit of sync calls in flight per
hub worker (`default`: the hub's own; 0: no limit, the hub before load shedding).

Reported: changes accepted per second, the time until every change was accepted, push latency
p50 and p99 (of the answers that took the batch), busy answers and how fast they came, errors,
and whose CPU it was: the hub's workers, the load generator (this process: the stations'
signing, compressing, TLS), PostgreSQL's backends for the run's database; with the load
average before and after, since the machine may be shared. The stations share this machine's
cores with the hub, so the figures are a floor for a county server with cores of its own.
Prints JSON.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import shutil
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station import synthetic  # noqa: E402
from station.daemon import Backoff, busy_wait  # noqa: E402
from station.ids import IdMaker  # noqa: E402
from sync.client import Client  # noqa: E402
from sync.clock import Stamp  # noqa: E402
from sync.errors import HubBusy  # noqa: E402
from sync.hub import county  # noqa: E402
from sync.protocol import PushBatch, WireChange  # noqa: E402
from tests.hubserver import HubProcess  # noqa: E402

GRID = "440524001001"
# A station still trying after this long is counted as not done (the aim is 2 minutes).
GIVE_UP_S = 600.0


class SimulatedStation:
    def __init__(self, hub: HubProcess, code: str, n: int) -> None:
        self.id = f"sim{n:05d}"
        key = Ed25519PrivateKey.generate()
        self.client = Client(hub.url, hub.home / "tls.crt", self.id, key)
        self.client.enroll(code, base64.b64encode(key.public_key().public_bytes_raw()).decode())
        self.ids = IdMaker()
        self.seq = 0
        self.people = synthetic.people(10**6, [GRID], seed=n)
        self.latencies: list[float] = []  # of the answers that took a batch
        self.busy: list[float] = []  # seconds to each busy answer
        self.errors: list[str] = []
        self.accepted = 0
        self.done_s: float | None = None  # from the start until its last change was accepted
        self.rng = random.Random(n)
        self.backoff = Backoff(rng=self.rng)

    def batch(self, size: int) -> PushBatch:
        now = int(time.time() * 1000)
        changes = []
        for _ in range(size):
            self.seq += 1
            stamp = str(Stamp(now, self.seq, self.id))
            changes.append(WireChange(self.id, self.seq, self.ids.make(now), "person", "add", GRID,
                                      next(self.people), stamp, {}, 1))
        return PushBatch(self.id, tuple(changes))

    def run(self, start: threading.Event, batches: int, size: int) -> None:
        start.wait()
        started = time.perf_counter()
        for _ in range(batches):
            if not self.send(self.batch(size), started):
                return
        self.done_s = time.perf_counter() - started

    def send(self, batch: PushBatch, started: float) -> bool:
        """One batch until the hub took it, as the daemon retries; False when given up."""
        failures = 0
        while time.perf_counter() - started < GIVE_UP_S:
            began = time.perf_counter()
            try:
                results = self.client.push(batch)
            except HubBusy as exc:  # not an error: the clerk reads "busy, retrying"
                self.busy.append(time.perf_counter() - began)
                time.sleep(busy_wait(exc, self.rng))
                continue
            except Exception as exc:  # what the clerk would see as an error; retried as the daemon does
                self.errors.append(f"{type(exc).__name__}: {exc}")
                failures += 1
                time.sleep(self.backoff.delay(failures))
                continue
            self.latencies.append(time.perf_counter() - began)
            self.accepted += sum(1 for r in results if r.receipt)
            self.errors += [r.rejected for r in results if r.rejected]
            return True
        return False


def postgres_database() -> tuple[str, Any]:
    import psycopg

    name = f"ts_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("postgresql://127.0.0.1/test", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect("postgresql://127.0.0.1/test", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgresql://127.0.0.1/{name}", drop


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and all its descendants (the hub's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # gone meanwhile
    return total


def database_cpu_seconds(database: str | None) -> float:
    """User and system CPU of the PostgreSQL backends serving `database` (its name in their
    process titles, "postgres: USER DB …"); 0 for SQLite, which runs inside the hub."""
    if not database:
        return 0.0
    name = database.rsplit("/", 1)[1]
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres:") and f" {name} " in f"{title} ":
            total += cpu_seconds(int(entry.name))
    return total


def percentile(values: list[float], share: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else None


def run(stations: int, backend: str, workers: int, batches: int, size: int, base: Path,
        limit: int | None = None) -> dict[str, Any]:
    shutil.rmtree(base, ignore_errors=True)
    database, drop = postgres_database() if backend == "postgresql" else (None, lambda: None)
    try:
        county.init(base / "county", database)
        hub = HubProcess(base / "county", workers=workers, max_in_flight=limit).start()
        try:
            code_hub = county.open_hub(base / "county")
            sims = [SimulatedStation(hub, code_hub.add_enrollment("440524001", []), n)
                    for n in range(stations)]
            start = threading.Event()
            threads = [threading.Thread(target=s.run, args=(start, batches, size)) for s in sims]
            for t in threads:
                t.start()
            assert hub.process is not None
            load_before = os.getloadavg()
            db_before = database_cpu_seconds(database)
            hub_before, own_before = cpu_seconds(hub.process.pid), time.process_time()
            began = time.perf_counter()
            start.set()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - began
            hub_cpu = cpu_seconds(hub.process.pid) - hub_before
            stations_cpu = time.process_time() - own_before
            db_cpu = database_cpu_seconds(database) - db_before
            load_after = os.getloadavg()
        finally:
            hub.stop()
    finally:
        drop()
    latencies = [x for s in sims for x in s.latencies]
    busy = [x for s in sims for x in s.busy]
    errors = [e for s in sims for e in s.errors]
    done = [s.done_s for s in sims if s.done_s is not None]
    accepted = sum(s.accepted for s in sims)
    return {"stations": stations, "backend": backend, "workers": workers,
            "max_in_flight": "default" if limit is None else limit,
            "changes": stations * batches * size, "accepted": accepted,
            "seconds": seconds, "changes_per_s": accepted / seconds,
            "p50_s": statistics.median(latencies), "p99_s": percentile(latencies, 0.99),
            # Until each station had all its changes accepted (the aim: every one in 2 minutes).
            "stations_done": len(done), "all_accepted_s": max(done) if len(done) == stations else None,
            "done_p50_s": percentile(done, 0.5), "done_p99_s": percentile(done, 0.99),
            "busy_answers": len(busy), "busy_p99_s": percentile(busy, 0.99),
            "busy_max_s": max(busy) if busy else None,
            # Who used the cores: the hub's processes, the simulated stations' threads (signing,
            # compressing, TLS) in this one, and PostgreSQL's backends for the run's database.
            "hub_cpu_s": hub_cpu, "stations_cpu_s": stations_cpu, "database_cpu_s": db_cpu,
            "hub_cpu_ms_per_change": hub_cpu * 1000 / max(1, accepted),
            "load_average_before": load_before[0], "load_average_after": load_after[0],
            "errors": len(errors), "error_kinds": sorted({e.split(":")[0] for e in errors})[:5],
            "error_samples": sorted({e[:300] for e in errors})[:5]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", default="100,500")
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--limits", default="default",
                        help="sync calls in flight per hub worker, one run each: default, 0 (none), N")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    limits = [None if x == "default" else int(x) for x in args.limits.split(",")]
    runs = [run(int(n), args.backend, args.workers, args.batches, args.changes, args.out / "load", limit)
            for n in args.stations.split(",") for limit in limits]
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
