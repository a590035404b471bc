"""Where the hub's time goes under load: many stations pushing at once, the hub profiled.

    .venv/bin/python bench/profile_hub.py [--stations 500] [--backend postgresql|sqlite] [--top 25]

The hub runs in this process (uvicorn in a thread, as tests/hubserver.py's HubServer) with
yappi measuring CPU time in every thread; the simulated stations of bench_load.py push from
their own threads in the same process, and their time is left out of the figures (yappi
keeps each thread's stats apart). py-spy, the usual tool, cannot attach on this machine
(ptrace is refused in the container), hence yappi. Prints the hub's CPU time per stage
(TLS and HTTP, authentication, decoding, validation, sealing, SQL, encoding) and the top
functions by own time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yappi

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_load import SimulatedStation, postgres_database  # noqa: E402

from sync.hub import county  # noqa: E402
from tests.hubserver import HubServer  # noqa: E402

# Stages by the function that owns them (cumulative CPU time of the outermost call).
STAGES = {
    "authenticate (Ed25519, nonce)": ("sync/hub/rules.py", "Hub.authenticate"),
    "decode push (zstd, JSON)": ("sync/protocol.py", "decode_push"),
    "validate each change": ("sync/hub/rules.py", "Hub._check"),
    "merge, seal, queue": ("sync/hub/rules.py", "Hub._accept"),
    "store (SQL)": ("sync/storage", "insert_changes"),
    "encode results": ("sync/protocol.py", "encode_results"),
    "the whole push handler": ("sync/hub/rules.py", "Hub.push"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    base = args.out / "profile_hub"
    shutil.rmtree(base, ignore_errors=True)
    database, drop = postgres_database() if args.backend == "postgresql" else (None, lambda: None)
    try:
        county.init(base / "county", database)
        hub = HubServer(base / "county").start()
        try:
            code_hub = county.open_hub(base / "county")
            sims = [SimulatedStation(hub, code_hub.add_enrollment("440524001", []), n)
                    for n in range(args.stations)]
            start = threading.Event()
            threads = [threading.Thread(target=s.run, args=(start, args.batches, args.changes),
                                        name=f"station-{n}") for n, s in enumerate(sims)]
            for t in threads:
                t.start()
            yappi.set_clock_type("cpu")
            yappi.start()
            began = time.perf_counter()
            start.set()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - began
            yappi.stop()
        finally:
            hub.stop()
    finally:
        drop()
    report(seconds, sum(s.accepted for s in sims), {t.ident for t in threads}, args.top)


def report(seconds: float, accepted: int, stations: set[int | None], top: int) -> None:
    hub_threads = [t for t in yappi.get_thread_stats() if t.tid not in stations]
    station_cpu = sum(t.ttot for t in yappi.get_thread_stats() if t.tid in stations)
    hub_ids = {t.id for t in hub_threads}
    stats: Any = yappi.get_func_stats(filter_callback=lambda s: s.ctx_id in hub_ids)
    hub_cpu = sum(t.ttot for t in hub_threads)
    print(f"{accepted:,} changes accepted in {seconds:.1f} s; hub CPU {hub_cpu:.1f} s "
          f"({hub_cpu / max(accepted, 1) * 1e6:.0f} µs a change), stations' CPU {station_cpu:.1f} s")
    print("\nhub stage                            CPU s   share of hub CPU")
    for stage, (path, name) in STAGES.items():
        spent = sum(s.ttot for s in stats if path in s.module and s.name.endswith(name))
        print(f"  {stage:34} {spent:6.1f}   {spent / hub_cpu:6.1%}")
    print(f"\ntop {top} functions by own CPU time in the hub's threads")
    for s in sorted(stats, key=lambda s: -s.tsub)[:top]:
        where = s.module.replace(str(ROOT) + "/", "").split("site-packages/")[-1]
        print(f"  {s.tsub:6.2f} s  {s.ncall:>9,}  {where}:{s.lineno} {s.name}")


if __name__ == "__main__":
    main()
