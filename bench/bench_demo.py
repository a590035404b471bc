"""Benchmark of the daily work at the county's scale: demo data, report, attention list.

    .venv/bin/python bench/bench_demo.py [--scale seed|small] [--out bench/out]

Generates the seed-scale data set (160,000 base records, 11,302 incidents with their step
events, 4,527 disputes, 230 volunteers with a month of check-ins, 53 schools' guard posts)
through the one write path, then times `station report --json` (a real process, unlock
included) and the attention list. Prints one JSON object; docs/BENCHMARKS.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station import keys  # noqa: E402
from station.cases import Cases  # noqa: E402
from station.demo import SCALES, DemoData  # noqa: E402
from station.report import report  # noqa: E402
from station.store import Store  # noqa: E402

BIN = Path(sys.executable).parent
PASSPHRASE = "benchmark passphrase"


def median_seconds(run: object, times: int = 5) -> float:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=sorted(SCALES), default="seed")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    home = args.out / "demo"
    shutil.rmtree(home, ignore_errors=True)
    store = Store.create(home, township="440524001", name="基准站", clerk="bench",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    start = time.perf_counter()
    added = DemoData(store, SCALES[args.scale], seed=1).fill()
    generate = time.perf_counter() - start
    figures = report(store)
    incidents = Cases(store, "incident")
    env = {**os.environ, "STATION_HOME": str(home), "STATION_PASSPHRASE": PASSPHRASE}
    cli = [str(BIN / "station"), "report", "--json"]
    result = {
        "scale": args.scale,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
                   f" SQLite {sqlite3.sqlite_version}",
        "records": sum(added.values()),
        "generate_seconds": generate,
        "generate_rps": sum(added.values()) / generate,
        "report_api_seconds": median_seconds(lambda: report(store)),
        "report_cli_seconds": median_seconds(
            lambda: subprocess.run(cli, env=env, check=True, stdout=subprocess.DEVNULL)),
        "attention_api_seconds": median_seconds(lambda: incidents.attention()),
        "incidents": figures["incidents"]["reported"],
        "closure_rate": figures["incidents"]["closure_rate"],
    }
    store.close()
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
