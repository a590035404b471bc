"""What the causal contexts (issue 20) cost: the same seed station synced by two trees.

    .venv/bin/python bench/bench_context.py --tree DIR --seed-home SEED [--out bench/out]

`--tree` is the checkout whose code runs (the release before the change, or this one);
`--seed-home` a seed station (`bench/run` makes one: bench/out/seed/station, made with
`station demo-data --scale seed`: 251,175 records). Copies the seed, enrolls it with a fresh
hub (`county serve`, SQLite, its own process), pushes everything (initial), changes the
phone of every 100th person and pushes again (incremental; five such rounds, each of other
people, the median reported), then a fresh station of the same
township pulls everything. Reports seconds, bytes on the wire and CPU seconds (this process,
with its link, and the hub's process tree) for each, and the bytes stored per record at
the hub and in the pulling station. Run it for both trees with the same
seed, one after the other, and compare the ratios (the machine is shared). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def tree_cpu(pid: int) -> float:
    """CPU seconds (user and system) of a process and its children, read from /proc: the
    hub's work apart from the station's, steadier than wall time on a shared machine."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, required=True)
    parser.add_argument("--seed-home", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--every", type=int, default=100,
                        help="the incremental push changes every Nth person's phone")
    parser.add_argument("--rounds", type=int, default=5,
                        help="incremental pushes, each of other people: the median is reported")
    args = parser.parse_args()
    tree = args.tree.resolve()
    sys.path[:0] = [str(tree), str(tree / "bench")]
    os.environ["PYTHONPATH"] = str(tree)  # the hub process runs the same tree
    from bench_peer import PASSPHRASE, copied_store, new_phone
    from netem import PROFILES, Link

    from station import keys
    from station.store import Store
    from station.syncer import client_for, enroll, pull, push
    from sync.hub import county
    from tests.hubserver import HubProcess

    base = args.out.resolve() / f"context-{tree.name}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    store, counts = copied_store(args.seed_home, base / "station")
    records = sum(counts.values())
    county.init(base / "county")
    hub = HubProcess(base / "county").start()
    out: dict[str, Any] = {"tree": str(tree), "records": records,
                           "machine": f"{platform.machine()}, {os.cpu_count()} cores,"
                                      f" Python {platform.python_version()}"}
    try:
        enroll(store, hub.url, county.open_hub(hub.home).add_enrollment("440524001", []),
               hub.fingerprint)
        with Link(PROFILES["clean"], ("127.0.0.1", hub.port)) as link:
            with store.atomic() as writes:
                writes.put_settings(hub_url=f"https://127.0.0.1:{link.port}")
            client = client_for(store)
            assert hub.process is not None
            cpu, hub_cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime, tree_cpu(hub.process.pid)
            start = time.perf_counter()
            push(store, client)
            out["initial_push"] = {"seconds": time.perf_counter() - start,
                                   "bytes": link.stats.up + link.stats.down,
                                   "station_cpu": resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu,
                                   "hub_cpu": tree_cpu(hub.process.pid) - hub_cpu}
            people = [r["id"] for r in store.export("person")]
            rounds = []
            for r in range(args.rounds):  # a sub-second round: its median over several
                for i in range(r, len(people), args.every):
                    store.update("person", people[i], {"phone": new_phone(i)})
                mark = link.stats.up + link.stats.down
                hub_cpu = tree_cpu(hub.process.pid)
                start = time.perf_counter()
                push(store, client)
                rounds.append({"seconds": time.perf_counter() - start,
                               "bytes": link.stats.up + link.stats.down - mark,
                               "hub_cpu": tree_cpu(hub.process.pid) - hub_cpu})
            out["incremental_push"] = {
                "changes": len(range(0, len(people), args.every)),
                **{k: statistics.median(r[k] for r in rounds) for k in ("seconds", "bytes", "hub_cpu")},
                "rounds_seconds": [round(r["seconds"], 3) for r in rounds],
                "rounds_hub_cpu": [round(r["hub_cpu"], 2) for r in rounds]}
            fresh = Store.create(base / "fresh", township="440524001", name="新站", clerk="bench",
                                 passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
            enroll(fresh, hub.url, county.open_hub(hub.home).add_enrollment("440524001", []),
                   hub.fingerprint)
            with fresh.atomic() as writes:
                writes.put_settings(hub_url=f"https://127.0.0.1:{link.port}")
            mark = link.stats.up + link.stats.down
            cpu, hub_cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime, tree_cpu(hub.process.pid)
            start = time.perf_counter()
            pulled = pull(fresh, client_for(fresh))
            out["initial_pull"] = {"seconds": time.perf_counter() - start, "changes": pulled,
                                   "bytes": link.stats.up + link.stats.down - mark,
                                   "station_cpu": resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu,
                                   "hub_cpu": tree_cpu(hub.process.pid) - hub_cpu}
            fresh.close()
    finally:
        hub.stop()
        store.close()
    for name, path in (("hub", base / "county" / "hub.db"), ("pulled_station", base / "fresh" / "station.db"),
                       ("seed_station", base / "station" / "station.db")):
        wal = path.with_name(path.name + "-wal")
        size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        out[f"{name}_bytes_per_record"] = size / records
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
