"""The county dashboard's work page at seed scale, before and after the figures kept as facts
(issue 23): what the page costs to load, and what keeping the facts costs each push.

    .venv/bin/python bench/bench_workpage.py --tree DIR --seed-home SEED [--out OUT] [--loads 5]

`--tree` is the checkout whose code runs (main before the change, or this one: its hub runs
as `county serve` with that tree first on PYTHONPATH); `--seed-home` a seed station (`bench/run`
makes one: bench/out/seed/station, `station demo-data --scale seed`, 251,175 records). Copies
the seed, enrolls it with a fresh hub (SQLite, its own process), pushes everything (seconds and
the hub's CPU seconds: what each push pays for the facts), then logs in to the dashboard over
HTTPS and loads /work: the first load, `--loads` more (the median), and the page for a month
(the first, then again). With the tree's `Hub.fill_figures`, also the seconds to fill the facts
for the data already there (what a county waits for once, at the upgrade). Run it for both
trees alternately with the same seed and compare the ratios (`--push-only` for more pairs of
the push alone): the machine may be shared, so the load average is printed beside each figure.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests

PASSWORD = "county it password"


def load() -> float:
    return os.getloadavg()[0]


def logged_in(url: str, verify: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE would override the hub's certificate
    session.verify = verify
    page = session.get(url + "/login", timeout=60)
    nonce = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert nonce, "the login form carries its nonce"
    answer = session.post(url + "/login", data={"login_csrf": nonce.group(1), "name": "it",
                                                "password": PASSWORD}, timeout=60)
    assert answer.ok and "ts_session" in session.cookies, answer.status_code
    return session


def timed_get(session: requests.Session, url: str) -> float:
    start = time.perf_counter()
    answer = session.get(url, timeout=600)
    seconds = time.perf_counter() - start
    assert answer.status_code == 200 and 'id="work-county"' in answer.text, answer.status_code
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, required=True)
    parser.add_argument("--seed-home", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--loads", type=int, default=5, help="later loads of /work: the median")
    parser.add_argument("--push-only", action="store_true",
                        help="the seed push alone (more pairs of the push's cost, quickly)")
    args = parser.parse_args()
    tree = args.tree.resolve()
    sys.path[:0] = [str(tree), str(tree / "bench")]
    os.environ["PYTHONPATH"] = str(tree)  # the hub process runs the same tree
    from bench_context import tree_cpu
    from bench_peer import copied_store

    from station.syncer import client_for, enroll, push
    from sync.hub import county
    from sync.hub.dashboard import Dashboard
    from tests.hubserver import HubProcess

    base = args.out.resolve() / f"workpage-{tree.name}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    store, counts = copied_store(args.seed_home, base / "station")
    county.init(base / "county")
    out: dict[str, Any] = {"tree": str(tree), "records": sum(counts.values()),
                           "machine": f"{platform.machine()}, {os.cpu_count()} cores,"
                                      f" Python {platform.python_version()}"}
    hub = HubProcess(base / "county").start()
    try:
        enroll(store, hub.url, county.open_hub(hub.home).add_enrollment("440524001", []),
               hub.fingerprint)
        client = client_for(store)
        assert hub.process is not None
        hub_cpu, before = tree_cpu(hub.process.pid), load()
        start = time.perf_counter()
        push(store, client)
        out["seed_push"] = {"seconds": time.perf_counter() - start,
                            "hub_cpu": tree_cpu(hub.process.pid) - hub_cpu,
                            "load_before": before, "load_after": load()}
    finally:
        hub.stop()
        store.close()
    print(json.dumps(out), file=sys.stderr)  # kept should the page part fail
    if args.push_only:
        print(json.dumps(out, indent=2))
        return
    opened = county.open_hub(base / "county")
    Dashboard(opened).add_account("it", PASSWORD)
    if hasattr(opened, "fill_figures"):  # the tree that keeps them: what an upgrade waits for once
        start = time.perf_counter()
        opened.fill_figures()
        out["fill_figures_s"] = time.perf_counter() - start
    opened.storage.close()
    hub = HubProcess(base / "county").start()
    try:
        session = logged_in(hub.url, str(hub.home / "tls.crt"))
        month = (datetime.now() - timedelta(days=1)).strftime("%Y-%m")
        page: dict[str, Any] = {"load_before": load(), "first_s": timed_get(session, hub.url + "/work")}
        later = [timed_get(session, hub.url + "/work") for _ in range(args.loads)]
        page |= {"later_median_s": statistics.median(later), "later_s": [round(s, 3) for s in later],
                 "month": month, "month_first_s": timed_get(session, f"{hub.url}/work?month={month}"),
                 "month_again_s": timed_get(session, f"{hub.url}/work?month={month}"),
                 "load_after": load()}
        out["work_page"] = page
    finally:
        hub.stop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
