"""`station demo`: the whole thing on one machine, for a newcomer.

A county hub on 127.0.0.1 (its own process, stopped when the demo ends), a station enrolled
with it and filled with small demo data, one sync, and then the kiosk app. The homes are kept
(a temporary directory unless `--home` is given), so running it again reopens the same
station and hub.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from station import keys
from station.demo import SCALES, DemoData
from station.store import Store
from station.syncer import enroll, sync_once

if TYPE_CHECKING:
    from tui.app import StationApp

TOWNSHIP = "440524001"
STATION_NAME = "示例镇综治中心"
CLERK = "张三"
# A demo store on a laptop: shown on screen, so it protects nothing. Real stores take the
# clerk's own passphrase and the standard key derivation.
PASSPHRASE = "demo 口令 2026"


@dataclass
class Demo:
    home: Path
    hub_url: str
    process: subprocess.Popen[bytes]
    store: Store

    def stop(self) -> None:
        self.store.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    import ctypes

    # Not Linux: no such call, and the demo still stops the hub on a normal exit.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _county(county_home: Path, *args: str) -> list[str]:
    """The `county` command beside this Python: the demo drives the hub as county IT does,
    so the kiosk's side never imports the county's code."""
    return [str(Path(sys.executable).with_name("county")), "--home", str(county_home), *args]


def _county_json(county_home: Path, *args: str) -> dict[str, str]:
    done = subprocess.run(_county(county_home, *args), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"county {' '.join(args)} failed: {done.stderr.strip()}")
    result: dict[str, str] = json.loads(done.stdout)
    return result


def start_hub(county_home: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    url = f"https://127.0.0.1:{port}"
    log = (county_home / "serve.log").open("ab")
    process = subprocess.Popen(_county(county_home, "serve", "--port", str(port)),
                               stdout=log, stderr=log, preexec_fn=_die_with_parent)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/v1/health", verify=str(county_home / "tls.crt"), timeout=1)
            return url, process
        except requests.RequestException:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the demo hub did not start; see {county_home / 'serve.log'}")


def set_up(home: Path | None,
           on_progress: Callable[[str, int, int | None], None] | None = None) -> Demo:
    """Hub, station, data, one sync: ready for the app. `on_progress(stage, done, total)`
    hears the demo data being written and the sync (a progress bar)."""
    home = Path(home) if home else Path(tempfile.mkdtemp(prefix="township-demo-"))
    home.mkdir(parents=True, exist_ok=True)
    county_home, station_home = home / "county", home / "station"
    if not (county_home / "county.toml").exists():
        _county_json(county_home, "init")
    url, process = start_hub(county_home)
    try:
        if (station_home / "station.db").exists():
            store = Store.open(station_home)
            store.unlock(PASSPHRASE, CLERK)
            if store.settings().get("hub_url") != url:  # the hub came back on another port
                with store.atomic() as writes:
                    writes.put_settings(hub_url=url)
        else:
            store = Store.create(station_home, township=TOWNSHIP, name=STATION_NAME, clerk=CLERK,
                                 passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
            code = _county_json(county_home, "station", "add", "--township", TOWNSHIP)
            enroll(store, url, code["code"], code["fingerprint"])
            DemoData(store, SCALES["small"], seed=1, on_progress=on_progress).fill()
        if on_progress is None:
            sync_once(store)
        else:
            report = on_progress
            sync_once(store, report=lambda p: report(p.stage, p.done, p.total))
    except BaseException:
        process.kill()
        raise
    return Demo(home, url, process, store)


def kiosk_app(demo: Demo) -> StationApp:
    """The kiosk app on the demo station, locked, with the passphrase shown under the form."""
    from tui.app import make_app  # the app's toolkit only when there is an app to show

    demo.store.lock()
    return make_app(demo.store, hint=f"演示 demo · {CLERK} · 口令 passphrase: {PASSPHRASE}")
