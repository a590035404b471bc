"""The hub under load: many stations syncing at once.

    .venv/bin/python bench/bench_load.py [--stations 100,500] [--backend postgresql|sqlite]
                                         [--workers 2] [--batches 3] [--changes 20]

The hub runs as `county serve --workers N` in its own processes, on PostgreSQL (a database made
for the run on 127.0.0.1 and dropped after) or on its SQLite default. Each simulated station is
enrolled like a real one (its own Ed25519 key, the pinned certificate) and pushes `--batches`
signed batches of `--changes` new people, one after another, all stations at once (a thread
each, released together). Reported: changes accepted per second over the whole run, push
latency p50 and p99, errors. The stations share this machine's two cores with the hub, so the
figures are a floor for a county server with cores of its own. Prints JSON.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
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
from station.ids import IdMaker  # noqa: E402
from sync.client import Client  # noqa: E402
from sync.clock import Stamp  # noqa: E402
from sync.hub import county  # noqa: E402
from sync.protocol import PushBatch, WireChange  # noqa: E402
from tests.hubserver import HubProcess  # noqa: E402

GRID = "440524001001"


class SimulatedStation:
    def __init__(self, hub: HubProcess, code: str, n: int) -> None:
        self.id = f"sim{n:05d}"
        key = Ed25519PrivateKey.generate()
        self.client = Client(hub.url, hub.home / "tls.crt", self.id, key)
        self.client.enroll(code, base64.b64encode(key.public_key().public_bytes_raw()).decode())
        self.ids = IdMaker()
        self.seq = 0
        self.people = synthetic.people(10**6, [GRID], seed=n)
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.accepted = 0

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
        for _ in range(batches):
            batch = self.batch(size)
            began = time.perf_counter()
            try:
                results = self.client.push(batch)
                self.accepted += sum(1 for r in results if r.receipt)
                self.errors += [r.rejected for r in results if r.rejected]
            except Exception as exc:  # every failure is a figure here, not a crash
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self.latencies.append(time.perf_counter() - began)


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


def run(stations: int, backend: str, workers: int, batches: int, size: int, base: Path) -> dict[str, Any]:
    shutil.rmtree(base, ignore_errors=True)
    database, drop = postgres_database() if backend == "postgresql" else (None, lambda: None)
    try:
        county.init(base / "county", database)
        hub = HubProcess(base / "county", workers=workers).start()
        try:
            code_hub = county.open_hub(base / "county")
            sims = [SimulatedStation(hub, code_hub.add_enrollment("440524001", []), n)
                    for n in range(stations)]
            start = threading.Event()
            threads = [threading.Thread(target=s.run, args=(start, batches, size)) for s in sims]
            for t in threads:
                t.start()
            assert hub.process is not None
            hub_before, own_before = cpu_seconds(hub.process.pid), time.process_time()
            began = time.perf_counter()
            start.set()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - began
            hub_cpu = cpu_seconds(hub.process.pid) - hub_before
            stations_cpu = time.process_time() - own_before
        finally:
            hub.stop()
    finally:
        drop()
    latencies = sorted(x for s in sims for x in s.latencies)
    errors = [e for s in sims for e in s.errors]
    return {"stations": stations, "backend": backend, "workers": workers,
            "changes": stations * batches * size, "accepted": sum(s.accepted for s in sims),
            "seconds": seconds, "changes_per_s": sum(s.accepted for s in sims) / seconds,
            "p50_s": statistics.median(latencies),
            "p99_s": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            # Who used the two cores: the hub's processes, and the simulated stations' threads
            # (signing, compressing, TLS) in this one.
            "hub_cpu_s": hub_cpu, "stations_cpu_s": stations_cpu,
            "hub_cpu_ms_per_change": hub_cpu * 1000 / max(1, sum(s.accepted for s in sims)),
            "errors": len(errors), "error_kinds": sorted({e.split(":")[0] for e in errors})[:5],
            "error_samples": sorted({e[:300] for e in errors})[:5]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", default="100,500")
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    runs = [run(int(n), args.backend, args.workers, args.batches, args.changes, args.out / "load")
            for n in args.stations.split(",")]
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
