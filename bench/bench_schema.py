"""Benchmark of schema bundles on a station at the county's scale.

    .venv/bin/python bench/bench_schema.py [--people 160000] [--out bench/out]

Fills a store with N people through the one write path, then times applying the signed
add-field bundle of `examples/bundles/` (signature check, operation check, definition rows,
version record: one transaction), and then the rename bundle after it (which moves a field of
every house: none here, so it measures the fixed cost). Prints one JSON object;
docs/BENCHMARKS.md records the figures.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station import keys, synthetic  # noqa: E402
from station.schema_updates import apply_bundle  # noqa: E402
from station.store import Store  # noqa: E402
from sync.bundle import sign_bundle  # noqa: E402

BUNDLES = sorted((ROOT / "examples" / "bundles").glob("*.json"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=160_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    home = args.out / "schema"
    shutil.rmtree(home, ignore_errors=True)
    store = Store.create(home, township="440524001", name="基准站", clerk="bench",
                         passphrase="benchmark passphrase", kdf=keys.FAST_KDF)
    county = Ed25519PrivateKey.generate()
    with store.atomic() as writes:
        writes.put_settings(county_signing_key=base64.b64encode(
            county.public_key().public_bytes_raw()).decode())
    grids = [f"440524001{n:03d}" for n in range(1, 41)]
    store.add_many("person", synthetic.people(args.people, grids, seed=7))
    timings = {}
    for path in BUNDLES[:2]:
        body = path.read_bytes()
        start = time.perf_counter()
        apply_bundle(store, body, sign_bundle(county, body))
        timings[path.stem] = time.perf_counter() - start
    people = store.conn.execute("SELECT count(*) FROM records WHERE entity = 'person'").fetchone()[0]
    store.close()
    print(json.dumps({
        "people": people,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
                   f" SQLite {sqlite3.sqlite_version}",
        "apply_seconds": timings,
    }, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
