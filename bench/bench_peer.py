"""Side by side with a real peer: the same records replicated by PouchDB to express-pouchdb,
and pushed by a station to the county hub; then again after 1 % of the people change.

    .venv/bin/python bench/bench_peer.py [--scale seed|small] [--out bench/out]

The records are the demo data set (`station demo-data --scale seed`: 160,000 base records,
incidents, disputes, volunteers…). The station pushes its outbox to a hub that runs as
`county serve` in its own process; PouchDB (npm `pouchdb`, installed into bench/peer by this
script) loads the station's export into a local database (not timed) and replicates it to
express-pouchdb on 127.0.0.1 with its default settings. Both go through bench/netem.py's
clean profile, which counts the bytes each way. Ours is HTTPS, theirs plain HTTP. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "bench" / "peer"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from netem import PROFILES, Link  # noqa: E402

from station import keys  # noqa: E402
from station.demo import SCALES, DemoData  # noqa: E402
from station.store import Store  # noqa: E402
from station.syncer import client_for, enroll, push  # noqa: E402
from sync.hub import county  # noqa: E402
from tests.hubserver import HubProcess, _die_with_parent, free_port  # noqa: E402

PASSPHRASE = "benchmark passphrase"
CHANGED = 0.01  # the incremental round: every 100th person gets a new phone


def new_phone(i: int) -> str:
    """The same new number bench/peer/replicate.js gives the i-th person."""
    return "139" + str(10_000_000 + i)[-8:]


def npm_install() -> None:
    if (PEER / "node_modules" / "pouchdb").exists():
        return
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER,
                   check=True, capture_output=True, timeout=600)


def node(*args: str) -> dict[str, Any]:
    result = subprocess.run(["node", str(PEER / "replicate.js"), *args], capture_output=True,
                            text=True, check=True, timeout=3600)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def seed_store(home: Path, scale: str) -> tuple[Store, dict[str, int]]:
    """A station holding the demo data set (what `station demo-data --scale SCALE` writes)."""
    store = Store.create(home, township="440524001", name="基准站", clerk="bench",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    return store, DemoData(store, SCALES[scale], seed=0).fill()


def copied_store(seed: Path, home: Path) -> tuple[Store, dict[str, int]]:
    shutil.copytree(seed, home)
    store = Store.open(home)
    store.unlock(PASSPHRASE)
    counts: dict[str, int] = {}
    for record in store.export():
        counts[record["entity"]] = counts.get(record["entity"], 0) + 1
    return store, counts


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and of its children still running, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    seconds = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            seconds += cpu_seconds(int(child))
    return seconds


def ours(store: Store, hub: HubProcess) -> dict[str, Any]:
    code = county.open_hub(hub.home).add_enrollment("440524001", [])
    enroll(store, hub.url, code, hub.fingerprint)
    out: dict[str, Any] = {}
    with Link(PROFILES["clean"], ("127.0.0.1", hub.port)) as link:
        with store.atomic() as writes:
            writes.put_settings(hub_url=f"https://127.0.0.1:{link.port}")
        client = client_for(store)
        changes = int(store.status()["pending"])
        assert hub.process is not None
        hub_cpu, here_cpu = cpu_seconds(hub.process.pid), time.process_time()
        start = time.perf_counter()
        push(store, client)
        # CPU seconds of the hub (and any child of it) and of this process (the station, and
        # the link's relay thread): what the two cores spent, to say what bounds the time.
        out["initial"] = {"seconds": time.perf_counter() - start, "changes": changes,
                          "bytes": link.stats.up + link.stats.down,
                          "hub_cpu_seconds": cpu_seconds(hub.process.pid) - hub_cpu,
                          "station_cpu_seconds": time.process_time() - here_cpu}
        people = [r["id"] for r in store.export("person")]
        for i in range(0, len(people), round(1 / CHANGED)):
            store.update("person", people[i], {"phone": new_phone(i)})
        mark = link.stats.up + link.stats.down
        changes = int(store.status()["pending"])
        start = time.perf_counter()
        push(store, client)
        out["incremental"] = {"seconds": time.perf_counter() - start, "changes": changes,
                              "bytes": link.stats.up + link.stats.down - mark}
    return out


def theirs(store: Store, base: Path) -> dict[str, Any]:
    npm_install()
    records = base / "records.jsonl"
    with records.open("w", encoding="utf-8") as f:
        for record in store.export():
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    (base / "couch").mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = subprocess.Popen(["node", str(PEER / "server.js"), str(port), str(base / "couch")],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              preexec_fn=_die_with_parent)
    try:
        assert server.stdout is not None and server.stdout.readline().startswith("listening")
        local = str(base / "pouch-local")
        loaded = node("load", local, str(records))["loaded"]
        out: dict[str, Any] = {"docs": loaded}
        with Link(PROFILES["clean"], ("127.0.0.1", port)) as link:
            url = f"http://127.0.0.1:{link.port}/township"
            first = node("push", local, url)
            out["initial"] = {"seconds": first["seconds"], "docs": first["docs_written"],
                              "bytes": link.stats.up + link.stats.down}
            changed = node("change", local, str(CHANGED))["changed"]
            mark = link.stats.up + link.stats.down
            second = node("push", local, url)
            out["incremental"] = {"seconds": second["seconds"], "docs": second["docs_written"],
                                  "changed": changed, "bytes": link.stats.up + link.stats.down - mark}
        return out
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=sorted(SCALES), default="seed")
    parser.add_argument("--seed-home", type=Path, help="copy this seed station instead of making one")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    base = args.out / "peer"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    start = time.perf_counter()
    if args.seed_home:
        store, added = copied_store(args.seed_home, base / "station")
    else:
        store, added = seed_store(base / "station", args.scale)
    setup_s = time.perf_counter() - start
    county.init(base / "county")
    hub = HubProcess(base / "county").start()
    try:
        mine = ours(store, hub)
    finally:
        hub.stop()
    peer = theirs(store, base)
    store.close()
    ratio = {
        "initial_speed": peer["initial"]["seconds"] / mine["initial"]["seconds"],
        "initial_bytes": mine["initial"]["bytes"] / peer["initial"]["bytes"],
        "incremental_bytes": mine["incremental"]["bytes"] / peer["incremental"]["bytes"],
        "incremental_speed": peer["incremental"]["seconds"] / mine["incremental"]["seconds"],
    }
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "scale": args.scale, "records": sum(added.values()), "setup_seconds": setup_s,
        # The machine is shared: its load says how much of the two cores the run had.
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "ours": mine, "pouchdb": peer, "ratios": ratio,
    }, indent=2))


if __name__ == "__main__":
    main()
