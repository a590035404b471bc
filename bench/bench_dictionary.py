"""The bytes of the daemon's everyday round, with and without the schema's zstd dictionary
(issue 24 point 3).

    .venv/bin/python bench/bench_dictionary.py [--people 50] [--out bench/out]

A hub (`county serve` in its own process) and two stations of one township, through a clean
bench/netem.py link that counts every byte both ways (TLS records and HTTP headers
included). Station A holds `--people` people, B has pulled them. Then, for each mode:

* one change: A changes one person's phone and syncs (schema check, push, empty pull), then
  B syncs and pulls that change (schema check, empty push, pull);
* ten changes: the same with ten people changed.

`with`: as this release goes (both hold the built-in dictionary of schema version 1).
`without`: both stations hold none, so they name none and every body goes plain: their
requests are the release before's, byte for byte in form. Each station keeps its connection
from round to round (the daemon's KeptConnection), so the figures are a kept connection's: no
TLS handshake. Prints JSON: the zstd body bytes (what the dictionary acts on) and the wire
bytes of each round.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from netem import PROFILES, Link  # noqa: E402

from station import keys, synthetic  # noqa: E402
from station.store import Store  # noqa: E402
from station.syncer import client_for, enroll, sync_once  # noqa: E402
from sync.client import Client  # noqa: E402
from sync.hub import county  # noqa: E402
from tests.hubserver import HubProcess  # noqa: E402

GRID = "440524001001"


def new_station(base: Path, hub: HubProcess, name: str) -> Store:
    store = Store.create(base / name, township="440524001", name=f"{name}站", clerk="王芳",
                         passphrase="benchmark passphrase", kdf=keys.FAST_KDF)
    code = county.open_hub(hub.home).add_enrollment("440524001", [])
    enroll(store, hub.url, code, hub.fingerprint)
    return store


def through(store: Store, link: Link, dictionaries: bool) -> Client:
    client = client_for(store)
    client.base = f"https://127.0.0.1:{link.port}"
    if not dictionaries:
        client.hold([])
    return client


def measured(store: Store, client: Client, link: Link) -> dict[str, int]:
    """One round's bytes: the zstd bodies both ways, and all that crossed the link."""
    before = (client.bytes_sent, client.bytes_received, link.stats.up, link.stats.down)
    sync_once(store, client)
    return {"body_up": client.bytes_sent - before[0], "body_down": client.bytes_received - before[1],
            "wire_up": link.stats.up - before[2], "wire_down": link.stats.down - before[3]}


def rounds(a: Store, b: Store, link: Link, dictionaries: bool, changes: int, phone: int) -> dict[str, Any]:
    one, two = through(a, link, dictionaries), through(b, link, dictionaries)
    sync_once(a, one)  # warm: the connection open, the hub's dictionaries heard
    sync_once(b, two)
    people = [c.record_id for c in a.changes() if c.entity == "person" and c.op == "add"]
    for i, rid in enumerate(people[:changes]):
        a.update("person", rid, {"phone": f"139{phone + i:08d}"})
    push = measured(a, one, link)
    pull = measured(b, two, link)
    one.session.close()
    two.session.close()
    return {"push_round": push, "pull_round": pull,
            "total_wire": sum(push[k] + pull[k] for k in ("wire_up", "wire_down")),
            "total_body": sum(push[k] + pull[k] for k in ("body_up", "body_down"))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    base = args.out / "dictionary"
    shutil.rmtree(base, ignore_errors=True)
    county.init(base / "county")
    hub = HubProcess(base / "county").start()
    try:
        a, b = new_station(base, hub, "a"), new_station(base, hub, "b")
        a.add_many("person", list(synthetic.people(args.people, [GRID], seed=24)))
        sync_once(a)
        sync_once(b)
        out: dict[str, Any] = {}
        with Link(PROFILES["clean"], ("127.0.0.1", hub.port)) as link:
            for changes in (1, 10):
                for mode, on in (("without", False), ("with", True)):
                    phone = len(out) * 100
                    out[f"{changes}_{mode}"] = rounds(a, b, link, on, changes, phone)
        for changes in (1, 10):
            with_, without = out[f"{changes}_with"], out[f"{changes}_without"]
            out[f"{changes}_ratio_wire"] = with_["total_wire"] / without["total_wire"]
            out[f"{changes}_ratio_body"] = with_["total_body"] / without["total_body"]
        a.close()
        b.close()
    finally:
        hub.stop()
    out["machine"] = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                      "python": platform.python_version(), "load": os.getloadavg()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
