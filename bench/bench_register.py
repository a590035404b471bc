"""Benchmark of the register's key check: what refusing a second ID number costs an import,
and how fast `Store.registered` answers.

    .venv/bin/python bench/bench_register.py [--people 160000]

Measures, in one run on the same generated people, `Store.add_many` into a fresh store with
the key check (every row looked up through the ID number's blind index, its bucket's
candidates' ID numbers opened and compared) and without it (the check switched off for the
run), then the time of `Store.registered` for a registered and for an unknown number among
them. Prints one JSON object; docs/BENCHMARKS.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station import keys, synthetic  # noqa: E402
from station.store import Store  # noqa: E402
from station.writes import Writes  # noqa: E402

GRIDS = [f"440524001{n:03d}" for n in range(1, 41)]


def _store(home: Path) -> Store:
    return Store.create(home, township="440524001", name="基准站", clerk="基准",
                        passphrase="benchmark-passphrase", kdf=keys.FAST_KDF)


def _import(home: Path, people: list[dict[str, Any]], check: bool) -> tuple[float, Store]:
    store = _store(home)
    original = Writes._check_key
    if not check:
        Writes._check_key = lambda self, *a, **k: None  # type: ignore[method-assign]
    try:
        start = time.perf_counter()
        store.add_many("person", people)
        return time.perf_counter() - start, store
    finally:
        Writes._check_key = original  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=160_000)
    args = parser.parse_args()
    people = list(synthetic.people(args.people, GRIDS, seed=2026))
    with tempfile.TemporaryDirectory() as tmp:
        plain, plain_store = _import(Path(tmp) / "plain", people, check=False)
        plain_store.close()
        checked, store = _import(Path(tmp) / "checked", people, check=True)
        rng = random.Random(7)
        sample = [p["id_number"] for p in rng.sample(people, 200)]
        found = []
        for number in sample:
            start = time.perf_counter()
            assert store.registered("person", {"id_number": number}) is not None
            found.append((time.perf_counter() - start) * 1000)
        used = {p["id_number"] for p in people}
        unknown: list[float] = []
        while len(unknown) < 200:
            number = synthetic.id_number(rng, synthetic.birth_date(rng), rng.random() < 0.5)
            if number in used:
                continue
            start = time.perf_counter()
            assert store.registered("person", {"id_number": number}) is None
            unknown.append((time.perf_counter() - start) * 1000)
        store.close()
    print(json.dumps({
        "people": args.people,
        "import_without_check_per_s": round(args.people / plain),
        "import_with_check_per_s": round(args.people / checked),
        "check_cost_share": round(1 - plain / checked, 3),
        "registered_found_ms": {"p50": round(statistics.median(found), 2),
                                "p99": round(sorted(found)[int(len(found) * 0.99) - 1], 2)},
        "registered_unknown_ms": {"p50": round(statistics.median(unknown), 2),
                                  "p99": round(sorted(unknown)[int(len(unknown) * 0.99) - 1], 2)},
        "date": date.today().isoformat(),
    }))


if __name__ == "__main__":
    main()
