"""Benchmark of sync: push N people from one station to an empty hub, pull them into a fresh
station, over real HTTPS on 127.0.0.1. The hub runs as `county serve` in its own process, as
it does in the county's machine room, so hub and station each have a core.

    .venv/bin/python bench/bench_sync.py [--people 160000] [--batch 1000] [--page 1000]
                                         [--out bench/out]

`--batch` (changes per push) and `--page` (changes per pull page) default to what `station
sync` uses; running smaller sets at several sizes is how those defaults were chosen.

Reports records/s each way and the bytes on the wire per record (request and response bodies,
zstd-compressed) against the floor: the same records as plain JSON lines compressed with zstd
(level 3) in one piece. Prints one JSON object; docs/BENCHMARKS.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import zstandard

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station import keys, synthetic  # noqa: E402
from station.store import Store  # noqa: E402
from station.syncer import PULL_PAGE, client_for, enroll, pull, push  # noqa: E402
from sync.hub import county  # noqa: E402
from sync.protocol import MAX_CHANGES  # noqa: E402
from tests.hubserver import HubProcess  # noqa: E402

GRIDS = [f"440524001{n:03d}" for n in range(1, 41)]


def station(home: Path, hub: HubProcess) -> Store:
    store = Store.create(home, township="440524001", name="基准站", clerk="bench",
                         passphrase="benchmark passphrase", kdf=keys.FAST_KDF)
    enroll(store, hub.url, county.open_hub(hub.home).add_enrollment("440524001", []))
    return store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=160_000)
    parser.add_argument("--batch", type=int, default=MAX_CHANGES)
    parser.add_argument("--page", type=int, default=PULL_PAGE)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    work = args.out / "sync"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    county.init(work / "county")
    hub = HubProcess(work / "county").start()
    try:
        people = list(synthetic.people(args.people, GRIDS, seed=2026))
        a = station(work / "a", hub)
        a.add_many("person", people)
        floor = len(zstandard.ZstdCompressor(level=3).compress(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in a.export()).encode()))
        client = client_for(a)
        start = time.perf_counter()
        pushed = push(a, client, limit=args.batch)
        push_s = time.perf_counter() - start
        push_bytes = client.bytes_sent + client.bytes_received
        b = station(work / "b", hub)
        client_b = client_for(b)
        start = time.perf_counter()
        pulled = pull(b, client_b, limit=args.page)
        pull_s = time.perf_counter() - start
        pull_bytes = client_b.bytes_sent + client_b.bytes_received
        assert pushed.pushed == pulled == args.people
        n = args.people
        print(json.dumps({
            "people": n, "batch": args.batch, "page": args.page,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
                       f" SQLite {sqlite3.sqlite_version}",
            "push_rps": n / push_s, "push_seconds": push_s,
            "pull_rps": n / pull_s, "pull_seconds": pull_s,
            "push_wire_bytes_per_record": push_bytes / n,
            "pull_wire_bytes_per_record": pull_bytes / n,
            "floor_zstd_jsonl_bytes_per_record": floor / n,
            "push_wire_over_floor": push_bytes / floor,
            "pull_wire_over_floor": pull_bytes / floor,
        }, indent=2))
        a.close()
        b.close()
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
