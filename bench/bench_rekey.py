"""Data-key rotation (issue 25 point 1) of a seed-scale store: how long `station rekey` takes,
its rows per second, and how long a save and a search wait while it runs.

    .venv/bin/python bench/bench_rekey.py [--scale seed|small] [--seed-home DIR] [--batch N]

The store is the demo data set (bench_peer.seed_store: 120,000 people and the rest, about
180,000 records and as many changes); `--seed-home` keeps a made one between runs (copied,
never changed). A save and an ID-number search are timed from another thread every half
second while the rekey runs, as the kiosk would. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_peer import copied_store, seed_store  # noqa: E402

from station import synthetic  # noqa: E402


def measure(scale: str, seed_home: Path | None, batch: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-rekey-"))
    try:
        if seed_home is not None and (seed_home / "station.db").exists():
            store, _ = copied_store(seed_home, work / "station")
        else:
            store, _ = seed_store(work / "station", scale)
            store.close()
            if seed_home is not None:
                shutil.copytree(work / "station", seed_home)
            store, _ = copied_store(work / "station", work / "copy")
        conn = store.conn
        person, grid = conn.execute(
            "SELECT id, grid FROM records WHERE entity = 'person' AND deleted = 0 LIMIT 1").fetchone()
        id_number = store.get("person", person)["fields"]["id_number"]
        rows = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("records", "changes", "blob_chunks", "blind_index")}
        size = sum(p.stat().st_size for p in Path(store.home).iterdir() if p.is_file())

        saves: list[float] = []
        slow: list[Any] = []
        searches: list[float] = []
        done = threading.Event()
        people = synthetic.people(100_000, [grid], seed=11)

        def kiosk() -> None:
            while not done.wait(0.5):
                t0 = time.perf_counter()
                store.add("person", next(people))
                saves.append(time.perf_counter() - t0)
                if saves[-1] > 1:
                    slow.append((round(t0 - started, 1), round(saves[-1], 2), store.rekey_state()))
                t0 = time.perf_counter()
                assert [r["id"] for r in store.search(id_number, "person")] == [person]
                searches.append(time.perf_counter() - t0)

        side = threading.Thread(target=kiosk)
        cpu0 = time.process_time()
        t0 = started = time.perf_counter()
        store.start_rekey()
        start_s = time.perf_counter() - t0
        side.start()
        store.continue_rekey(batch=batch)
        total_s = time.perf_counter() - t0
        cpu_s = time.process_time() - cpu0
        done.set()
        side.join()
        store.close()
        return {
            "scale": scale, "batch": batch, "rows": rows, "store_bytes": size,
            "start_s": round(start_s, 3), "rekey_s": round(total_s, 1),
            "rows_per_s": round((rows["records"] + rows["changes"] + rows["blob_chunks"]) / total_s),
            "process_cpu_s": round(cpu_s, 1),
            "save_during_s": {"median": round(statistics.median(saves), 3), "max": round(max(saves), 3),
                              "n": len(saves)} if saves else None,
            "search_during_s": {"median": round(statistics.median(searches), 3),
                                "max": round(max(searches), 3)} if searches else None,
            "slow_saves": [[at, took, st.table if st else "done"] for at, took, st in slow],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="seed", choices=["seed", "small"])
    parser.add_argument("--seed-home", type=Path)
    parser.add_argument("--batch", type=int, default=400)
    args = parser.parse_args()
    print(json.dumps(measure(args.scale, args.seed_home, args.batch), ensure_ascii=False))


if __name__ == "__main__":
    main()
