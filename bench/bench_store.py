"""Benchmark of the station store: sealed import against the plain sqlite-utils ceiling.

    .venv/bin/python bench/bench_store.py [--people 160000] [--out bench/out]

Measures, in one run on the same generated data:
  * `station add person --file` (a real CLI process: parse, validate, seal, blind-index, log)
    against `sqlite-utils insert --nl` of the same rows, plain, into a WAL database with the
    same durability (the ceiling), and the ratio;
  * the same two through the Python API (no process start, no unlock);
  * the time of an exact lookup by ID number (blind index, open candidates, compare);
  * the store's size per person;
  * the cryptography alone (six seals and three MACs per person), the floor of any import;
  * the median time to unlock with the standard Argon2id keyslot.
Prints one JSON object; docs/BENCHMARKS.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlite_utils

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station import keys, synthetic  # noqa: E402
from station.store import Store  # noqa: E402

BIN = Path(sys.executable).parent
GRIDS = [f"440524001{n:03d}" for n in range(1, 41)]
PASSPHRASE = "benchmark passphrase"


def write_people(path: Path, count: int) -> list[dict[str, Any]]:
    people = list(synthetic.people(count, GRIDS, seed=2026))
    with path.open("w", encoding="utf-8") as out:
        for person in people:
            out.write(json.dumps(person, ensure_ascii=False) + "\n")
    return people


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def plain_cli(work: Path, source: Path) -> float:
    db = work / "plain-cli.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return timed([str(BIN / "sqlite-utils"), "insert", str(db), "people", str(source), "--nl"])


def station_cli(work: Path, source: Path, kdf: str) -> float:
    env = {**os.environ, "STATION_HOME": str(work / f"station-cli-{kdf}"),
           "STATION_PASSPHRASE": PASSPHRASE, "STATION_KDF": kdf}
    subprocess.run([str(BIN / "station"), "init", "--township", "440524001", "--name", "基准站",
                    "--clerk", "bench"], check=True, env=env, stdout=subprocess.DEVNULL)
    return timed([str(BIN / "station"), "add", "person", "--file", str(source)], env)


def plain_api(work: Path, people: list[dict[str, Any]]) -> tuple[float, int]:
    db = sqlite_utils.Database(work / "plain-api.db")
    db.conn.execute("PRAGMA journal_mode=WAL")
    db.conn.execute("PRAGMA synchronous=FULL")
    start = time.perf_counter()
    db["people"].insert_all(people, batch_size=1000)
    elapsed = time.perf_counter() - start
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return elapsed, (work / "plain-api.db").stat().st_size


def store_api(work: Path, people: list[dict[str, Any]]) -> tuple[float, Store, list[str]]:
    store = Store.create(work / "station-api", township="440524001", name="基准站", clerk="bench",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    start = time.perf_counter()
    ids = store.add_many("person", people)
    return time.perf_counter() - start, store, ids


def lookups(store: Store, people: list[dict[str, Any]], count: int = 1000) -> dict[str, float]:
    rng = random.Random(1)
    targets = [rng.choice(people)["id_number"] for _ in range(count)]
    times = []
    for term in targets:
        start = time.perf_counter()
        found = store.search(term, "person")
        times.append((time.perf_counter() - start) * 1000)
        assert any(r["fields"]["id_number"] == term for r in found)
    return {"mean_ms": statistics.fmean(times), "p50_ms": statistics.median(times),
            "p99_ms": sorted(times)[int(len(times) * 0.99) - 1], "lookups": count}


def crypto_floor(store: Store, people: list[dict[str, Any]]) -> float:
    """Seconds for only the cryptography of an import: six sealed fields and three blind-index
    MACs per person, nothing else. No import can be faster than this."""
    sealer, index = store._require_sealer()
    person = store.schema.entity("person")
    indexed = [f for f in person.indexed_fields]
    start = time.perf_counter()
    for n, p in enumerate(people):
        rid = f"{n:032x}"
        sealer.seal_fields(rid, "person", [(k, p[k]) for k in ("name", "id_number", "phone",
                                                               "address", "grid", "population_type")])
        for f in indexed:
            index.bucket(f"person.{f.name}", str(p[f.name]))
    return time.perf_counter() - start


def unlock_seconds(work: Path, runs: int = 5) -> float:
    """Median time to unlock with the standard Argon2id slot (what a clerk waits for)."""
    home = work / "unlock"
    Store.create(home, township="440524001", name="基准站", clerk="bench",
                 passphrase=PASSPHRASE).close()
    times = []
    for _ in range(runs):
        store = Store.open(home)
        start = time.perf_counter()
        store.unlock(PASSPHRASE)
        times.append(time.perf_counter() - start)
        store.close()
    return statistics.median(times)


def store_size(store: Store) -> int:
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in store.home.iterdir() if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=160_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    work = args.out / "store"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source = work / "people.jsonl"
    people = write_people(source, args.people)
    n = args.people

    plain_cli_s = plain_cli(work, source)
    station_cli_s = station_cli(work, source, "argon2id")
    plain_api_s, plain_bytes = plain_api(work, people)
    store_api_s, store, _ = store_api(work, people)
    result = {
        "people": n,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
                   f" SQLite {sqlite3.sqlite_version}",
        "cli": {"plain_sqlite_utils_rps": n / plain_cli_s, "station_add_file_rps": n / station_cli_s,
                "ratio": plain_cli_s / station_cli_s, "station_seconds": station_cli_s,
                "plain_seconds": plain_cli_s},
        "api": {"plain_insert_all_rps": n / plain_api_s, "store_add_many_rps": n / store_api_s,
                "ratio": plain_api_s / store_api_s},
        "crypto_only_rps": n / crypto_floor(store, people),
        "unlock_seconds": unlock_seconds(work),
        "lookup_by_id_number": lookups(store, people),
        "bytes_per_person": {"store": store_size(store) / n, "plain": plain_bytes / n},
    }
    store.close()
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
