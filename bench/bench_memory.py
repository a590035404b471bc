"""Memory on cheap boards: peak RSS of the kiosk app and of a sync round with the seed store.

    .venv/bin/python bench/bench_memory.py --seed-home bench/out/seed/station

* the kiosk app: `station tui` in tmux at 80x24 on a copy of the store — unlock, home, the
  person list, 20 pages down, a search — then its peak RSS (VmHWM) from /proc;
* sync: `station sync --once` on another copy, enrolled with a fresh hub (`county serve` in its
  own process): the whole outbox pushed (the seed data set's first sync, the heaviest round
  the daemon ever runs), its peak RSS from wait4.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station.store import Store  # noqa: E402
from station.syncer import enroll  # noqa: E402
from sync.hub import county  # noqa: E402
from tests.hubserver import HubProcess  # noqa: E402

STATION = str(Path(sys.executable).with_name("station"))
PASSPHRASE = "benchmark passphrase"


def copy_store(seed: Path, to: Path) -> Path:
    shutil.rmtree(to, ignore_errors=True)
    shutil.copytree(seed, to)
    return to


def peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def tui_peak(home: Path, phone: str) -> int:
    session = f"mem-{uuid.uuid4().hex[:8]}"

    def tmux(*args: str) -> str:
        # A tmux server of its own (-L): see bench_tui.Terminal.
        return subprocess.run(["tmux", "-L", session, *args], capture_output=True, text=True,
                              check=True).stdout

    def until(words: str) -> None:
        deadline = time.monotonic() + 120
        while words not in tmux("capture-pane", "-p", "-t", session):
            if time.monotonic() > deadline:
                screen = tmux("capture-pane", "-p", "-t", session)
                raise RuntimeError(f"{words!r} never appeared:\n{screen}")
            time.sleep(0.05)

    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24",
         f"exec env STATION_HOME={home} LANG=C.UTF-8 {STATION} tui")
    try:
        pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
        until("解锁工作站")
        tmux("send-keys", "-t", session, "-l", PASSPHRASE)
        tmux("send-keys", "-t", session, "Enter")
        until("待上传")
        tmux("send-keys", "-t", session, "b")
        until("第 1–50 条")
        tmux("send-keys", "-t", session, "-N", "20", "PageDown")
        until("第 1001–")
        time.sleep(0.5)  # the page-down burst settles before the search box takes the focus
        tmux("send-keys", "-t", session, "C-f")
        time.sleep(0.3)
        tmux("send-keys", "-t", session, "-l", phone)
        until(phone)
        tmux("send-keys", "-t", session, "Enter")
        until("找到")
        return peak_kb(pid)
    finally:
        subprocess.run(["tmux", "-L", session, "kill-server"], capture_output=True)


def sync_peak(home: Path, base: Path) -> tuple[int, float]:
    county.init(base / "county")
    hub = HubProcess(base / "county").start()
    try:
        store = Store.open(home)
        store.unlock(PASSPHRASE)
        enroll(store, hub.url, county.open_hub(hub.home).add_enrollment("440524001", []),
               hub.fingerprint)
        store.close()
        env = {**os.environ, "STATION_HOME": str(home), "STATION_PASSPHRASE": PASSPHRASE}
        start = time.perf_counter()
        child = subprocess.Popen([STATION, "sync", "--once"], env=env, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        if status != 0:
            raise RuntimeError("station sync failed")
        return usage.ru_maxrss, time.perf_counter() - start
    finally:
        hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed-home", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    base = args.out / "memory"
    shutil.rmtree(base, ignore_errors=True)
    tui_home = copy_store(args.seed_home, base / "tui")
    store = Store.open(tui_home)
    store.unlock(PASSPHRASE)
    phone = next(r for r in store.export("person") if r["fields"].get("phone"))["fields"]["phone"]
    records = sum(1 for _ in store.export())
    store.close()
    tui_kb = tui_peak(tui_home, phone)
    sync_kb, sync_s = sync_peak(copy_store(args.seed_home, base / "sync"), base)
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "records": records, "tui_peak_rss_mb": tui_kb / 1024, "sync_peak_rss_mb": sync_kb / 1024,
        "sync_seconds": sync_s}, indent=2))


if __name__ == "__main__":
    main()
