"""Where sync's time goes: each stage of a push and a pull timed on its own, in one process,
without HTTP (the hub's rules called directly), so the stages can be compared.

    .venv/bin/python bench/profile_sync.py [--people 20000] [--profile push|pull]

Prints records/s per stage; with `--profile`, the top functions of that stage by own time
(cProfile, which slows everything about twofold: compare shares, not speeds).
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import pstats
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station import keys, synthetic  # noqa: E402
from station.store import Store  # noqa: E402
from station.syncer import pending  # noqa: E402
from sync.hub import county  # noqa: E402
from sync.protocol import PushBatch, decode_page, decode_push, encode_page, encode_push  # noqa: E402

GRIDS = [f"440524001{n:03d}" for n in range(1, 41)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--profile", choices=["push", "pull"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    n = args.people
    work = args.out / "profile"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    county.init(work / "county")
    hub = county.open_hub(work / "county")

    def new_station(name: str) -> tuple[Store, Any]:
        store = Store.create(work / name, township="440524001", name=name, clerk="bench",
                             passphrase="benchmark passphrase", kdf=keys.FAST_KDF)
        key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
        row = hub.enroll(hub.add_enrollment("440524001", []), store.station_id,
                         base64.b64encode(key).decode())
        return store, row

    def stage(name: str, run: Callable[[], Any], profile: bool = False) -> Any:
        profiler = cProfile.Profile() if profile else None
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        result = run()
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - start
        print(f"{name:<40} {seconds:7.2f} s  {n / seconds:9,.0f} records/s")
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
        return result

    a, row_a = new_station("a")
    a.add_many("person", synthetic.people(n, GRIDS, seed=3))
    changes = stage("station: read and open the outbox", lambda: pending(a, n, max_bytes=2**40))
    batches = [PushBatch(a.station_id, tuple(changes[i:i + 1000])) for i in range(0, n, 1000)]
    bodies = stage("station: encode push batches (zstd)", lambda: [encode_push(b) for b in batches])
    stage("hub: decode push batches", lambda: [decode_push(b) for b in bodies])
    stage("hub: apply (check, merge, seal, store)",
          lambda: [hub.push(row_a, b) for b in batches], args.profile == "push")
    b, row_b = new_station("b")
    pages = stage("hub: read pages of 2,500", lambda: [hub.pull(row_b, c, 2500)
                                                    for c in range(0, n, 2500)])
    encoded = stage("hub: encode pages (zstd)", lambda: [encode_page(p) for p in pages])
    decoded = stage("station: decode pages", lambda: [decode_page(e) for e in encoded])

    def apply() -> None:
        for page in decoded:
            with b.atomic() as writes:
                writes.apply_page(page.changes)

    stage("station: apply (merge, seal, index, store)", apply, args.profile == "pull")
    a.close()
    b.close()


if __name__ == "__main__":
    main()
