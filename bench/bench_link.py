"""Pushing over a bad link: 1,000 new incidents from a station to the hub through bench/netem.py.

    .venv/bin/python bench/bench_link.py [--incidents 1000] [--profiles GPRS,EDGE,2G,rural-4G]
        [--no-drops]

For each profile a new station (enrolled with a hub that runs as `county serve` in its own
process, each station in a township of its own, so no round pulls another's incidents) logs N
incidents — each one is two changes, the incident and its first step — and syncs them through
the proxy in the daemon's rounds (`sync_once`: the schema check, the first batch and the pull
in one request, the later batches written ahead of their answers), retrying as the sync
daemon does when the link drops. The time
is set against the floor: the bytes the same push put on a clean link, at the profile's
bandwidth. A drop may lose the batch in flight, never what was acknowledged: the outbox only
shrinks (`outbox_after_each_drop`). Then N more incidents go up on the connection the first
push left open, as the sync daemon's next round does (`kept`, against one round trip over its
own floor). Prints JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from netem import PROFILES, Link, Profile  # noqa: E402

from station import keys  # noqa: E402
from station.cases import Cases  # noqa: E402
from station.daemon import Loop  # noqa: E402
from station.store import Store  # noqa: E402
from station.syncer import SyncResult, client_for, enroll, sync_once  # noqa: E402
from sync.client import Client  # noqa: E402
from sync.errors import SyncError  # noqa: E402
from sync.hub import county  # noqa: E402
from tests.hubserver import HubProcess  # noqa: E402

TOWNSHIP = "440524001"
GRID = TOWNSHIP + "001"  # bench_attach's stations enter their records here


def new_station(base: Path, hub: HubProcess, name: str, incidents: int,
                township: str = TOWNSHIP) -> Store:
    store = Store.create(base / name, township=township, name=f"{name}站", clerk="bench",
                         passphrase="benchmark passphrase", kdf=keys.FAST_KDF)
    code = county.open_hub(hub.home).add_enrollment(township, [])
    enroll(store, hub.url, code, hub.fingerprint)
    log_incidents(store, incidents, seed=7)
    return store


def log_incidents(store: Store, incidents: int, seed: int) -> None:
    grid = store.settings()["township"] + "001"
    cases = Cases(store, "incident")
    category = store.schema.code_table("incident_category").values[0].code
    rng = random.Random(seed)
    for i in range(incidents):
        cases.open({"category": category, "title": f"路灯损坏 第{i}号", "grid": grid,
                    "description": "村道路灯不亮，夜间通行不便，" * rng.randint(1, 4),
                    "location": f"示例村{rng.randint(1, 60)}组", "reporter": "张三",
                    "reporter_phone": f"138{rng.randrange(10**8):08d}"})


def through(store: Store, link: Link) -> Client:
    """The station's client, pointed at the link."""
    with store.atomic() as writes:
        writes.put_settings(hub_url=f"https://127.0.0.1:{link.port}")
    return client_for(store)


def hub_cpu_s(hub: HubProcess) -> float:
    """The hub process's CPU seconds so far (user + system, from /proc)."""
    assert hub.process is not None
    fields = Path(f"/proc/{hub.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def push_both(store: Store, link: Link, incidents: int, hub: HubProcess) -> dict[str, Any]:
    """A push on a fresh connection, then the next `incidents` on the connection it left open,
    as the sync daemon's next round goes (station.syncer.KeptConnection)."""
    client = through(store, link)
    cpu = (time.process_time(), hub_cpu_s(hub))
    first = push_through(store, client, link)
    # The load generator's CPU (this process: the station and the link emulator) beside the
    # hub's: on a link-bound push both are a small part of the time.
    first["station_and_link_cpu_s"] = time.process_time() - cpu[0]
    first["hub_cpu_s"] = hub_cpu_s(hub) - cpu[1]
    if not incidents:
        return first
    log_incidents(store, incidents, seed=8)
    before = {"up": link.stats.up, "down": link.stats.down, "drops": link.stats.drops,
              "connections": link.stats.connections}
    cpu = (time.process_time(), hub_cpu_s(hub))
    kept = push_through(store, client, link)
    kept["station_and_link_cpu_s"] = time.process_time() - cpu[0]
    kept["hub_cpu_s"] = hub_cpu_s(hub) - cpu[1]
    for name in ("up", "down", "drops", "connections"):
        kept[f"{name}_bytes" if name in ("up", "down") else name] -= before[name]
    first["kept"] = kept
    return first


def push_through(store: Store, client: Client, link: Link) -> dict[str, Any]:
    """Push the outbox through `link` until it is empty, as the daemon would."""
    total = int(store.status()["pending"])
    outbox: list[int] = []

    def push_round(s: Store) -> SyncResult:
        try:
            return sync_once(s, client)
        except SyncError:
            outbox.append(int(s.status()["pending"]))
            if len(outbox) > 1 and outbox[-1] > outbox[-2]:
                raise RuntimeError("the outbox grew after a drop") from None
            raise

    loop = Loop(store, push_round, time.sleep)  # the daemon's own retry and backoff
    start = time.perf_counter()
    while int(store.status()["pending"]):
        wait = loop.round()
        if int(store.status()["pending"]):
            time.sleep(wait)
    failures = len(outbox)
    return {"seconds": time.perf_counter() - start, "changes": total, "retries": failures,
            "up_bytes": link.stats.up, "down_bytes": link.stats.down, "drops": link.stats.drops,
            "connections": link.stats.connections, "outbox_after_each_drop": outbox}


def against_floor(run: dict[str, Any], clean: dict[str, Any], profile: Profile, trips: int) -> None:
    """The floor: the clean run's bytes, each direction at the profile's bandwidth."""
    floor = profile.seconds_for(clean["up_bytes"], clean["down_bytes"])
    run["floor_seconds"] = floor
    run["ratio_to_floor"] = run["seconds"] / floor
    run["floor_with_round_trips_seconds"] = floor + trips * profile.rtt_s
    run["ratio_to_floor_with_round_trips"] = run["seconds"] / run["floor_with_round_trips_seconds"]
    # Issue 24's aim, on a fresh connection and on a kept one alike: the bytes at the link's
    # bandwidth plus one round trip.
    run["aim_seconds"] = floor + profile.rtt_s
    run["ratio_to_aim"] = run["seconds"] / run["aim_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--profiles", default="GPRS,EDGE,2G,rural-4G")
    parser.add_argument("--no-kept", dest="kept", action="store_false",
                        help="only the push on a fresh connection")
    parser.add_argument("--no-drops", dest="drops", action="store_false",
                        help="the profiles' bandwidth and round trip without their drops: the "
                             "protocol's own overhead, apart from what a drop costs")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    base = args.out / "link"
    shutil.rmtree(base, ignore_errors=True)
    county.init(base / "county")
    hub = HubProcess(base / "county").start()
    try:
        clean = new_station(base, hub, "clean", args.incidents)
        with Link(PROFILES["clean"], ("127.0.0.1", hub.port)) as link:
            floor_run = push_both(clean, link, args.incidents if args.kept else 0, hub)
        clean.close()
        out: dict[str, Any] = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "incidents": args.incidents, "drops": args.drops, "clean": floor_run, "profiles": {}}
        for n, name in enumerate(args.profiles.split(","), start=2):
            profile: Profile = PROFILES[name]
            if not args.drops:
                profile = dataclasses.replace(profile, drop_every_bytes=0)
            store = new_station(base, hub, name, args.incidents, f"440524{n:03d}")
            with Link(profile, ("127.0.0.1", hub.port), seed=3) as link:
                run = push_both(store, link, args.incidents if args.kept else 0, hub)
            store.close()
            # What no protocol avoids on a fresh connection: TCP's handshake, TLS 1.3's, and
            # one request and its answer — three round trips — on top of the bytes; on a kept
            # connection, the one request.
            against_floor(run, floor_run, profile, 3)
            if args.kept:
                against_floor(run["kept"], floor_run["kept"], profile, 1)
            out["profiles"][name] = run
    finally:
        hub.stop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
