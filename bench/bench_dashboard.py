"""The county dashboard's work page at a county's scale: the seconds to compute what the page
shows (`Pages.work_figures`: the report, cases by department, base data, volunteer points, the
closure history, open conflicts and duplicates) the first time and again, and for a month. Since
issue 23 they are sums over the facts the hub keeps (no cache: each load computes them anew);
bench/bench_workpage.py compares a tree before and after over HTTPS, the push cost too.

    .venv/bin/python bench/bench_dashboard.py --county-home bench/out/peer/county

Any county home will do; `bench/run` leaves one holding the seed data set (251,175 records)
in bench/out/peer/county. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync.hub import county  # noqa: E402
from sync.hub.dashboard import Dashboard  # noqa: E402
from sync.hub.pages import Pages  # noqa: E402
from sync.report import period_of  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--county-home", type=Path, default=ROOT / "bench" / "out" / "peer" / "county")
    args = parser.parse_args()
    hub = county.open_hub(args.county_home)
    board = Dashboard(hub, args.county_home)
    with hub.storage.transaction() as tx:
        records = int(tx.rows("SELECT count(*) FROM records")[0][0])

    pages = Pages(board)

    def page(month: str | None = None) -> float:
        start = time.perf_counter()
        pages.work_figures(period_of(month=month))
        return time.perf_counter() - start

    first, again = page(), page()
    month = page(time.strftime("%Y-%m"))
    start = time.perf_counter()
    board.table("stations")
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "records": records, "work_page_first_s": first, "work_page_again_s": again,
        "work_page_this_month_s": month,
        "stations_page_s": time.perf_counter() - start}, indent=2))


if __name__ == "__main__":
    main()
