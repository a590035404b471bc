"""The kiosk on a low-cost board: the same work under a quarter of one core and without it.

    .venv/bin/python bench/bench_board.py [--seed /work/seeds/bnew] [--out bench/out]

Root only: the board is emulated with a CPU cgroup of its own, quota 25,000 us per 100,000 us
period (cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, or v2 `cpu.max` "25000 100000").
The measured work runs in a child process that is moved into the cgroup before it starts
Python (between fork and exec), so its start-up, imports and everything after are under the
quota; the same child is then run outside it. In each child, on a copy of a seed-scale
station (bench/bench_peer.py's data set: 251,175 records, 120,000 people; `--seed` copies a
ready one, otherwise one is made, ~35 s) whose clerk slot is the standard Argon2id:

* start: from the parent's spawn to the unlock screen mounted (Python, imports, the store's
  open, the first frame; Textual's Pilot at 80x24, headless);
* first unlock of a shift: passphrase (full Argon2id) and a shift PIN set, Enter to home;
* the idle lock (the app's own check, its clock moved past `idle_lock`), then the PIN: Enter
  to home;
* open the person list (key to the first page and its total on screen; the first time, and
  again from home, the kept screen reloaded), search a whole
  phone number (Enter to "找到 1 条"), save a form (an edited phone: Ctrl+S to the record's
  screen reloaded), each with the store's own part alone beside it, and Pilot's cost of a key
  bound to nothing (what Pilot adds to every key figure);
* export: people opened per second (the first 5,000) in process, and `station export person`
  as a real process (unlock with the standard Argon2id included) on a small store (1,200
  people), the measurement issue 21 started from;
* a sync round of 100 changed people against a real hub (tests/hubserver.py's HubProcess,
  `county serve` outside the quota, after an initial push not timed); the hub's CPU time for
  the round is read from /proc beside it.
Prints one JSON object and writes it to OUT/board.json; docs/BENCHMARKS.md records the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

QUOTA_US, PERIOD_US = 25_000, 100_000
PIN = "246813"
STATION = str(Path(sys.executable).with_name("station"))


# ---------------------------------------------------------------- the cgroup (parent, root)

class BoardCgroup:
    """A CPU cgroup with a quarter of one core: v2 (`cpu.max`) where the unified hierarchy
    has the cpu controller, else v1's cpu hierarchy."""

    def __init__(self) -> None:
        name = f"township-board-{os.getpid()}"
        unified = Path("/sys/fs/cgroup")
        v2_roots = [unified, unified / "unified"]
        v2 = next((r for r in v2_roots if (r / "cgroup.controllers").exists()
                   and "cpu" in (r / "cgroup.controllers").read_text().split()), None)
        if v2 is not None:
            self.path = v2 / name
            self.path.mkdir()
            (self.path / "cpu.max").write_text(f"{QUOTA_US} {PERIOD_US}")
            self.command = f"mkdir {self.path}; echo '{QUOTA_US} {PERIOD_US}' > {self.path}/cpu.max"
        else:
            self.path = unified / "cpu" / name
            self.path.mkdir()
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(QUOTA_US))
            self.command = (f"mkdir {self.path}; echo {PERIOD_US} > {self.path}/cpu.cfs_period_us;"
                            f" echo {QUOTA_US} > {self.path}/cpu.cfs_quota_us")
        self.procs = self.path / "cgroup.procs"

    def enter(self) -> None:
        """In the child, before exec: this process (and all it starts) into the cgroup."""
        self.procs.write_text(str(os.getpid()))

    def throttled(self) -> dict[str, int]:
        stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
        return {k: int(v) for k, v in stat.items() if k.startswith(("nr_", "throttled"))}

    def remove(self) -> None:
        self.path.rmdir()


def spawn(args: list[str], cgroup: BoardCgroup | None, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, env=env,
                          preexec_fn=cgroup.enter if cgroup else None, timeout=3600)
    if done.returncode:
        raise RuntimeError(f"{args[1:3]} failed:\n{done.stderr[-20000:]}")
    return done


# ---------------------------------------------------------------- the stores (parent)

def board_store(seed: Path | None, home: Path, scale: str) -> dict[str, Any]:
    """A seed-scale station whose clerk opens with the standard Argon2id, as a real one."""
    from bench_peer import PASSPHRASE, seed_store

    from station import keys
    from station.store import Store

    if seed is not None:
        shutil.copytree(seed, home)
        store = Store.open(home)
        store.unlock(PASSPHRASE)
    else:
        store, _ = seed_store(home, scale)
    store.change_passphrase(store.clerk or "bench", PASSPHRASE, keys.STANDARD_KDF)
    # The last people in id order: the form saves and the sync round change the first ones.
    people = store.page("person", before="\U0010ffff", limit=50)
    phone = next(p["fields"]["phone"] for p in people if p["fields"].get("phone"))
    facts = {"records": sum(store.status()["records"].values()), "people": store.count("person"),
             "phone": phone}
    store.close()
    return facts


def small_store(home: Path) -> None:
    from bench_peer import PASSPHRASE

    from station.demo import SCALES, DemoData
    from station.store import Store

    store = Store.create(home, township="440524001", name="小站", clerk="bench",
                         passphrase=PASSPHRASE)
    DemoData(store, SCALES["small"], seed=0).fill()
    store.close()


def synced_with(home: Path, hub: Any) -> float:
    """Enroll the station and push everything it holds (not timed in the figures)."""
    from bench_peer import PASSPHRASE

    from station.store import Store
    from station.syncer import enroll, sync_once
    from sync.hub import county

    store = Store.open(home)
    store.unlock(PASSPHRASE)
    code = county.open_hub(hub.home).add_enrollment("440524001", [])
    enroll(store, hub.url, code, hub.fingerprint)
    start = time.perf_counter()
    while store.status()["pending"]:
        sync_once(store)
    seconds = time.perf_counter() - start
    store.close()
    return seconds


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the child

class FakeMonotonic:
    """The app's idle clock, moved forward to make the idle lock come at once."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


STATE: list[Callable[[], str]] = []  # what the app shows, for a figure that never ends


async def until(condition: Callable[[], bool], seconds: float = 120) -> None:
    deadline = time.perf_counter() + seconds
    while not condition():
        if time.perf_counter() > deadline:
            import faulthandler
            faulthandler.dump_traceback(all_threads=True)  # where each thread is stuck
            shown = STATE[0]() if STATE else ""
            raise RuntimeError(f"the app never got there (line {condition.__code__.co_firstlineno},"
                               f" {shown})")
        await asyncio.sleep(0.002)


async def timed(action: Callable[[], Any], condition: Callable[[], bool]) -> float:
    start = time.perf_counter()
    await action()
    await until(condition)
    return time.perf_counter() - start


def api_median(work: Callable[[], Any], n: int = 5) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def relock(store: Any) -> None:
    store.lock()
    store.unlock_with_pin(PIN)


def child(home: Path, phone: str, spawned: float, hub_pid: int) -> dict[str, Any]:
    """Everything measured inside one process (under the quota or not)."""
    from bench_peer import PASSPHRASE
    from textual.widgets import Header, Input, Label
    from textual.widgets._header import HeaderTitle

    from station.store import Store
    from station.syncer import sync_once
    from tui.app import make_app
    from tui.screens.home import HomeScreen
    from tui.screens.record import RecordScreen
    from tui.screens.record_form import RecordForm
    from tui.screens.records import RecordsScreen
    from tui.screens.unlock import UnlockScreen

    store = Store.open(home)
    idle = FakeMonotonic()
    app = make_app(store, monotonic=idle, idle_lock=300)
    out: dict[str, Any] = {}

    def status() -> str:
        labels = app.screen.query("#records-status")
        return str(labels.first(Label).render()) if labels else ""

    def focused(field: str) -> bool:
        return isinstance(app.screen, UnlockScreen) and any(
            w.has_focus for w in app.screen.query(field))

    def on(screen: type) -> Callable[[], bool]:
        # There and drawn: under the quota a screen is current well before its header has
        # its title, and locking before then removed it under Textual's Header (NoMatches).
        return lambda: (isinstance(app.screen, screen) and app.screen.is_mounted
                        and (not app.screen.query(Header) or bool(app.screen.query(HeaderTitle))))

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(lambda: focused("#passphrase"))
            await pilot.pause()
            out["start_to_unlock_screen_s"] = time.time() - spawned
            app.screen.query_one("#passphrase", Input).value = PASSPHRASE
            app.screen.query_one("#new-pin", Input).value = PIN
            out["first_unlock_s"] = await timed(lambda: pilot.press("enter"), on(HomeScreen))
            samples = []
            for _ in range(3):
                await pilot.pause()
                idle.offset += 301
                app.lock_if_idle()  # the app's own idle check, as its timer calls it
                await until(lambda: focused("#pin"))  # a key sent before goes nowhere
                await pilot.pause()  # and one sent while the new screen settles, too
                app.screen.query_one("#pin", Input).value = PIN
                samples.append(await timed(lambda: pilot.press("enter"), on(HomeScreen)))
            out["pin_unlock_s"] = statistics.median(samples)
            out["pin_unlock_samples_s"] = samples
            # Pilot's own cost of one key, bound to nothing: in every key figure below.
            out["pilot_key_s"] = statistics.median(
                [await timed(lambda: pilot.press("f12"), lambda: True) for _ in range(5)])
            out["open_list_s"] = await timed(lambda: pilot.press("b"),
                                             lambda: status().startswith("第 1–"))
            samples = []  # opened again from home: the kept screen, reloaded
            for _ in range(3):
                await pilot.press("escape")
                await until(on(HomeScreen))
                await pilot.pause()
                app.get_screen("records").query_one("#records-status", Label).update("")
                samples.append(await timed(lambda: pilot.press("b"),
                                           lambda: status().startswith("第 1–")))
            out["open_list_again_s"] = statistics.median(samples)
            out["open_list_again_samples_s"] = samples
            samples = []
            for _ in range(3):
                await pilot.press("ctrl+f")
                await until(lambda: app.screen.query_one("#search", Input).has_focus)
                app.screen.query_one("#search", Input).value = phone
                samples.append(await timed(lambda: pilot.press("enter"),
                                           lambda: status().startswith("找到 1 条")))
                await pilot.press("escape")
                await until(lambda: status().startswith("第 1–"))
            out["search_phone_s"] = statistics.median(samples)
            samples = []
            for i in range(3):
                await pilot.press("enter")  # the first row's own screen, then its form
                await until(on(RecordScreen))
                await pilot.press("e")
                await until(on(RecordForm))
                app.screen.query_one("#field-phone", Input).value = f"1391000{i:04d}"
                # Saved, and the record's screen below it reloaded with the new value.
                samples.append(await timed(lambda: pilot.press("ctrl+s"),
                                           lambda: isinstance(app.screen, RecordScreen)
                                           and app.screen.edited))
                await pilot.press("escape")
                await until(lambda: isinstance(app.screen, RecordsScreen))
            out["save_form_s"] = statistics.median(samples)
            out["save_form_samples_s"] = samples

    def error() -> str:
        labels = app.screen.query("#unlock-error")
        return str(labels.first(Label).render()) if labels else ""

    STATE.append(lambda: f"screen {app.screen!r}, focus {app.focused!r}, status {status()!r},"
                 f" error {error()!r}, pin {store.pin_clerk()!r}, unlocked {store.unlocked},"
                 f" workers {list(app.workers)!r}")
    asyncio.run(main())
    # The store's own part of the same operations (no screen).
    first = store.page("person", limit=1)[0]["id"]
    out["api"] = {
        "list_page_and_total_s": api_median(lambda: (store.page("person", limit=50),
                                                     store.count("person"))),
        "search_phone_people_s": api_median(lambda: store.search(phone, "person")),
        "search_phone_everywhere_s": api_median(lambda: store.search(phone)),
        "save_person_s": api_median(lambda: store.update(
            "person", first, {"phone": f"1392{time.perf_counter_ns() % 10**7:07d}"})),
        "pin_unlock_s": api_median(lambda: relock(store)),
    }
    start = time.perf_counter()
    opened = sum(1 for _ in itertools.islice(store.export("person"), 5000))
    out["api"]["export_people_per_s"] = opened / (time.perf_counter() - start)
    # A sync round of 100 changed people against the real hub.
    people = store.page("person", after=first, limit=100)
    for i, person in enumerate(people):
        store.update("person", person["id"], {"phone": f"1393{i:03d}{os.getpid() % 10000:04d}"})
    hub_before = cpu_seconds(hub_pid)
    start = time.perf_counter()
    result = sync_once(store)
    out["sync_round_100_s"] = time.perf_counter() - start
    out["sync_round_pushed"] = result.pushed
    out["hub_cpu_for_round_s"] = cpu_seconds(hub_pid) - hub_before
    store.close()
    out["cgroup"] = next(line for line in Path("/proc/self/cgroup").read_text().splitlines()
                         if ":cpu:" in line or line.startswith("0::"))
    return out


# ---------------------------------------------------------------- the parent

def measure(cgroup: BoardCgroup | None, home: Path, facts: dict[str, Any], hub: Any,
            small: Path) -> dict[str, Any]:
    from bench_peer import PASSPHRASE

    spawned = time.time()
    result = spawn([sys.executable, __file__, "--child", str(home), "--phone", facts["phone"],
                    "--spawned", repr(spawned), "--hub-pid", str(hub.process.pid)], cgroup)
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    env = {**os.environ, "STATION_HOME": str(small), "STATION_PASSPHRASE": PASSPHRASE}
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        spawn([STATION, "export", "person"], cgroup, env)
        samples.append(time.perf_counter() - start)
    out["cli_unlock_and_export_small_s"] = statistics.median(samples)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=Path, help="copy this seed-scale station instead of making one")
    parser.add_argument("--scale", default="seed", help="when no --seed: the data set to make"
                        " (small: a quick check of the benchmark itself)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--phone", help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--hub-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.phone, args.spawned, args.hub_pid)))
        return

    from sync.hub import county
    from tests.hubserver import HubProcess

    args.out.mkdir(parents=True, exist_ok=True)
    cgroup = BoardCgroup()
    try:
        with tempfile.TemporaryDirectory(dir=args.out) as tmp:
            base = Path(tmp)
            facts = board_store(args.seed, base / "station", args.scale)
            small_store(base / "small")
            county.init(base / "county")
            hub = HubProcess(base / "county").start()
            try:
                initial_push_s = synced_with(base / "station", hub)
                board = measure(cgroup, base / "station", facts, hub, base / "small")
                board["cpu_stat"] = cgroup.throttled()
                full = measure(None, base / "station", facts, hub, base / "small")
            finally:
                hub.stop()
    finally:
        cgroup.remove()
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}, {platform.platform()}",
        "quota": f"{QUOTA_US} us per {PERIOD_US} us", "cgroup_command": cgroup.command,
        "records": facts["records"], "people": facts["people"],
        "initial_push_s": initial_push_s, "board": board, "full": full,
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    (args.out / "board.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
