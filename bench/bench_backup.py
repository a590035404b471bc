"""The backup's recovery point: seconds of acknowledged writes missing after the box dies.

    .venv/bin/python bench/bench_backup.py [--trials 10] [--seconds 3] [--out bench/out]

Each trial: a new station replicating to a file replica with `station backup run` (the real
litestream), people written one after another as fast as the store takes them, then at once
litestream SIGKILLed and the home deleted; `station restore` into a new home, and the
restored writes counted. The recovery point is the time from the last restored write to the
moment of the crash; a restored set with a hole in it is an error. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station import keys, synthetic  # noqa: E402
from station.store import Store  # noqa: E402

STATION = str(Path(sys.executable).with_name("station"))
PASSPHRASE = "benchmark passphrase"
GRID = "440524001001"


def trial(base: Path, seconds: float, seed: int) -> dict[str, float]:
    shutil.rmtree(base, ignore_errors=True)
    home, replica, restored = base / "home", base / "usb" / "replica", base / "restored"
    store = Store.create(home, township="440524001", name="基准站", clerk="bench",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    env = {**os.environ, "STATION_HOME": str(home), "STATION_PASSPHRASE": PASSPHRASE}
    subprocess.run([STATION, "backup", "setup", "--replica", str(replica)], env=env, check=True,
                   capture_output=True)
    litestream = subprocess.Popen([STATION, "backup", "run"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
    time.sleep(1)  # the first snapshot
    people = synthetic.people(10**6, [GRID], seed=seed)
    written: list[tuple[str, float]] = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        written.append((store.add("person", next(people)), time.time()))
    crashed_at = time.time()
    litestream.send_signal(signal.SIGKILL)
    litestream.wait()
    store.close()
    shutil.rmtree(home)
    start = time.perf_counter()
    subprocess.run([STATION, "restore", "--from", str(replica), "--to", str(restored)], env=env,
                   check=True, capture_output=True)
    restore_s = time.perf_counter() - start
    back = Store.open(restored)
    back.unlock(PASSPHRASE)
    present = {r["id"] for r in back.page("person", limit=len(written) + 1)}
    back.close()
    kept = [rid in present for rid, _ in written]
    n = sum(kept)
    if kept != [True] * n + [False] * (len(written) - n):
        raise RuntimeError("a hole in the restored writes")
    last = written[n - 1][1] if n else crashed_at - seconds
    return {"written": len(written), "restored": n, "lost": len(written) - n,
            "recovery_point_s": crashed_at - last, "restore_s": restore_s,
            "writes_per_s": len(written) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    runs = [trial(args.out / "backup", args.seconds, seed) for seed in range(args.trials)]
    points = [r["recovery_point_s"] for r in runs]
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "trials": args.trials, "seconds_each": args.seconds,
        "recovery_point_median_s": statistics.median(points), "recovery_point_max_s": max(points),
        "writes": sum(r["written"] for r in runs), "lost": sum(r["lost"] for r in runs),
        "writes_per_s": statistics.median(r["writes_per_s"] for r in runs),
        "restore_median_s": statistics.median(r["restore_s"] for r in runs),
        "runs": runs,
    }, indent=2))


if __name__ == "__main__":
    main()
