"""Benchmark of the kiosk app at the county's scale.

    .venv/bin/python bench/bench_tui.py [--people 160000] [--out bench/out]

* start: `station tui` in tmux at 80x24 until the unlock screen is on the terminal (median
  of 5 starts; a real process, Python start-up and imports included);
* in the app (Textual's Pilot, 80x24, a store of N people): opening the person list, the next
  page (the median of 20, from deep in the list), the previous page, and an exact search by
  phone, each until the screen shows it.
Prints one JSON object; docs/BENCHMARKS.md records the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station import keys, synthetic  # noqa: E402
from station.store import Store  # noqa: E402
from tui.app import StationApp  # noqa: E402
from tui.home import HomeScreen  # noqa: E402
from tui.records import PAGE, RecordsScreen  # noqa: E402

PASSPHRASE = "benchmark passphrase"
STATION = str(Path(sys.executable).with_name("station"))


def start_seconds(home: Path) -> float:
    session = f"bench-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    f"env STATION_HOME={home} LANG=C.UTF-8 {STATION} tui"], check=True)
    try:
        while "解锁工作站" not in subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                             capture_output=True, text=True).stdout:
            if time.perf_counter() - start > 30:
                raise RuntimeError("the unlock screen never appeared")
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


async def in_app(store: Store, phone: str) -> dict[str, float]:
    app = StationApp(store)
    out: dict[str, float] = {}
    async with app.run_test(size=(80, 24)) as pilot:
        async def until(condition: object) -> None:
            while not condition():  # type: ignore[operator]
                await pilot.pause(0.001)

        await until(lambda: app.screen.query("#passphrase"))
        app.screen.query_one("#passphrase").value = PASSPHRASE  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, HomeScreen))
        start = time.perf_counter()
        await pilot.press("b")
        await until(lambda: isinstance(app.screen, RecordsScreen) and app.screen.rows)
        out["open_list_s"] = time.perf_counter() - start
        screen = app.screen
        assert isinstance(screen, RecordsScreen)
        # Halfway into the list: keyset paging must not slow down with depth.
        for _ in range(store.count("person") // PAGE // 2):
            screen.action_next_page()
        samples = []
        for _ in range(20):
            before = screen.position
            start = time.perf_counter()
            await pilot.press("pagedown")
            await until(lambda b=before: screen.position != b)  # type: ignore[misc]
            samples.append(time.perf_counter() - start)
        out["next_page_s"] = statistics.median(samples)
        out["page_position"] = screen.position
        start = time.perf_counter()
        await pilot.press("pageup")
        out["previous_page_s"] = time.perf_counter() - start
        await pilot.press("ctrl+f")
        screen.query_one("#search").value = phone  # type: ignore[attr-defined]
        start = time.perf_counter()
        await pilot.press("enter")
        await until(lambda: screen.searching)
        out["search_phone_s"] = time.perf_counter() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=160_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    home = args.out / "tui"
    shutil.rmtree(home, ignore_errors=True)
    store = Store.create(home, township="440524001", name="基准站", clerk="bench",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    people = list(synthetic.people(args.people, [f"440524001{n:03d}" for n in range(1, 41)], seed=9))
    store.add_many("person", people)
    store.close()
    starts = [start_seconds(home) for _ in range(5)]
    store = Store.open(home)
    figures = asyncio.run(in_app(store, people[args.people // 2]["phone"]))
    store.close()
    print(json.dumps({
        "people": args.people,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "start_to_unlock_screen_s": statistics.median(starts),
        **figures,
    }, indent=2))


if __name__ == "__main__":
    main()
