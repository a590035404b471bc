"""A busy hub sheds load politely: past its limit of sync calls in flight it answers at once
with 503 and a Retry-After; stations wait that long (plus jitter) and try again, and the
clerk reads "县级平台繁忙，稍后自动重试", never an error. Real hubs over HTTPS on loopback."""

from __future__ import annotations

import base64
import email.utils
import json
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from textual.pilot import Pilot
from textual.widgets import Log

from station import synthetic
from station.daemon import BUSY_JITTER, START_SPREAD, Backoff, Loop, patiently
from station.ids import IdMaker
from station.store import Store
from station.syncer import KeptConnection, SyncResult, enroll
from sync.client import MAX_RETRY_AFTER_S, Client, retry_after
from sync.clock import Stamp
from sync.errors import HubBusy, ValidationError
from sync.hub import county
from sync.hub.http import LoadShed, limit_from_environment
from sync.protocol import PushBatch, WireChange
from tui.app import make_app

from .conftest import GRID, STATION, TOWNSHIP, Cli
from .hubserver import HubServer
from .test_tui import open_sync_screen, run, until

BUSY_ZH = "县级平台繁忙，稍后自动重试"


def small_hub(tmp_path: Path, limit: int, retry: tuple[int, int]) -> HubServer:
    county.init(tmp_path / "county")
    return HubServer(tmp_path / "county", max_in_flight=limit, retry_after=retry).start()


@pytest.fixture
def busy_hub(tmp_path: Path) -> Iterator[HubServer]:
    """A hub that turns sync calls away after two in flight, asking for 3 s."""
    server = small_hub(tmp_path, 2, (3, 3))
    yield server
    server.stop()


class Occupied:
    """Every slot of the hub's limit held, as by calls in flight, for the `with` block."""

    def __init__(self, shed: LoadShed) -> None:
        self.shed = shed

    def __enter__(self) -> Occupied:
        self.shed.in_flight += self.shed.limit
        return self

    def __exit__(self, *exc: object) -> None:
        self.shed.in_flight -= self.shed.limit


# ------------------------------------------------------------------ the hub


def test_a_busy_hub_answers_a_sync_call_at_once_with_503_retry_after_and_the_refusal_body(
        busy_hub: HubServer) -> None:
    cert = str(busy_hub.home / "tls.crt")
    with Occupied(busy_hub.shed()):
        began = time.perf_counter()
        answer = requests.post(busy_hub.url + "/v1/push", data=b"\x00" * 200_000, verify=cert,
                               headers={"Content-Type": "application/zstd"}, timeout=10)
        took = time.perf_counter() - began
        health = requests.get(busy_hub.url + "/v1/health", verify=cert, timeout=10)
        dashboard = requests.get(busy_hub.url + "/login", verify=cert, timeout=10)
        pull = requests.get(busy_hub.url + "/v1/pull?cursor=0", verify=cert, timeout=10)
    assert answer.status_code == 503 and took < 1.0
    assert answer.headers["Retry-After"] == "3"
    body = answer.json()
    assert body["error"] == "busy" and body["message"].startswith(BUSY_ZH)
    assert pull.status_code == 503
    # Neither the load balancer's probe nor a person at the dashboard is turned away.
    assert health.status_code == 200 and dashboard.status_code == 200
    # Freed: the same unsigned push is refused for what it is, not for being busy.
    late = requests.post(busy_hub.url + "/v1/push", data=b"x", verify=cert, timeout=10)
    assert late.status_code == 401
    assert busy_hub.shed().turned_away == 2


class Pusher:
    """A station of its own (key, enrollment) pushing batches of new people, each batch
    retried after a busy answer as the daemon does; every answer timed."""

    def __init__(self, hub: HubServer, code: str, n: int) -> None:
        self.id = f"shed{n:04d}"
        key = Ed25519PrivateKey.generate()
        self.client = Client(hub.url, hub.home / "tls.crt", self.id, key)
        self.client.enroll(code, base64.b64encode(key.public_key().public_bytes_raw()).decode())
        self.people = synthetic.people(10**6, [GRID], seed=n)
        self.ids = IdMaker()
        self.seq = 0
        self.busy: list[tuple[float, float | None]] = []  # (seconds to the answer, Retry-After)
        self.waits: list[float] = []
        self.accepted = 0

    def batch(self, size: int) -> PushBatch:
        now = int(time.time() * 1000)
        changes = []
        for _ in range(size):
            self.seq += 1
            changes.append(WireChange(self.id, self.seq, self.ids.make(now), "person", "add", GRID,
                                      next(self.people), str(Stamp(now, self.seq, self.id)), {}, 1))
        return PushBatch(self.id, tuple(changes))

    def push(self, batch: PushBatch) -> int:
        began = time.perf_counter()
        try:
            return sum(1 for r in self.client.push(batch) if r.receipt)
        except HubBusy as exc:
            self.busy.append((time.perf_counter() - began, exc.retry_after))
            raise

    def run(self, start: threading.Barrier, batches: int, size: int) -> None:
        start.wait()
        for _ in range(batches):
            batch = self.batch(size)
            # The waits are recorded, and slept a tenth of: the test is about the hub.
            self.accepted += patiently(lambda b=batch: self.push(b),  # type: ignore[misc]
                                       lambda s: time.sleep(s / 10), lambda e, w: self.waits.append(w),
                                       random.Random(self.seq))


def test_stations_pushing_at_once_past_the_limit_are_turned_away_fast_and_all_land_once(
        tmp_path: Path) -> None:
    hub = small_hub(tmp_path, 2, (1, 2))
    try:
        codes = county.open_hub(hub.home)
        pushers = [Pusher(hub, codes.add_enrollment(TOWNSHIP, []), n) for n in range(10)]
        start = threading.Barrier(len(pushers))
        threads = [threading.Thread(target=p.run, args=(start, 2, 150)) for p in pushers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        turned_away = hub.shed().turned_away
    finally:
        hub.stop()
    busy = [b for p in pushers for b in p.busy]
    assert busy and len(busy) == turned_away  # ten at once past a limit of two: some turned away
    assert max(seconds for seconds, _ in busy) < 1.0  # at once, not after a wait for a thread
    assert {after for _, after in busy} <= {1.0, 2.0}
    waits = [w for p in pushers for w in p.waits]
    assert all(1.0 <= w <= 2.0 + max(1.0, 2.0 * BUSY_JITTER) for w in waits)
    assert sum(p.accepted for p in pushers) == 10 * 2 * 150
    with county.open_hub(hub.home).storage.transaction() as tx:
        (stored,) = tx.rows("SELECT count(*), count(DISTINCT station || ':' || station_seq) FROM changes")
    assert stored == (3000, 3000)  # every change once, however often it was turned away


def test_the_limit_comes_from_the_environment_and_a_bad_one_is_refused_by_name() -> None:
    assert limit_from_environment({}) is None
    assert limit_from_environment({"COUNTY_MAX_IN_FLIGHT": "0"}) == 0
    assert limit_from_environment({"COUNTY_MAX_IN_FLIGHT": " 64 "}) == 64
    with pytest.raises(ValidationError, match=r"COUNTY_MAX_IN_FLIGHT.*整数"):
        limit_from_environment({"COUNTY_MAX_IN_FLIGHT": "many"})


# ------------------------------------------------------------------ the station


def test_retry_after_reads_seconds_or_a_date_and_is_bounded() -> None:
    assert retry_after("7") == 7.0
    assert retry_after(None) is None and retry_after("soon") is None
    now = 1_800_000_000.0
    assert retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert retry_after("86400") == MAX_RETRY_AFTER_S


def enrolled(store: Store, hub: HubServer) -> Store:
    enroll(store, hub.url, county.open_hub(hub.home).add_enrollment(TOWNSHIP, []), hub.fingerprint)
    return store


def test_the_daemon_waits_the_hubs_retry_after_plus_jitter_and_shows_busy_not_an_error(
        store: Store, busy_hub: HubServer) -> None:
    enrolled(store, busy_hub)
    store.add_many("person", synthetic.people(3, [GRID], seed=4))
    with store.atomic() as writes:  # an error left from the outage before
        writes.put_settings(last_error="连不上县级平台 (cannot reach the hub)")
    slept: list[float] = []
    loop = Loop(store, KeptConnection(), slept.append, Backoff(rng=random.Random(5)))
    with Occupied(busy_hub.shed()):
        waits = [loop.round(), loop.round()]
        assert loop.outcome == "busy" and loop.failures == 0
        sync = store.status()["sync"]
        assert sync["busy_at"] and sync["last_error"] is None
        loop.wait(waits[0])  # the local writes waiting do not cut a busy wait short
    assert all(3.0 <= w <= 3.0 + 3.0 * BUSY_JITTER for w in waits) and waits[0] != waits[1]
    assert sum(slept) == pytest.approx(waits[0])
    assert store.status()["pending"] == 3
    loop.round()
    assert loop.outcome == "done" and store.status()["pending"] == 0
    assert store.status()["sync"]["busy_at"] is None


def test_the_daemons_first_round_waits_a_random_part_of_the_spread(store: Store) -> None:
    def firsts(seed: int) -> float:
        slept: list[float] = []
        Loop(store, lambda s: SyncResult(0, 0, 0), slept.append,
             Backoff(rng=random.Random(seed))).run(rounds=1)
        return slept[0]

    starts = [firsts(seed) for seed in range(5)]
    assert all(0 <= s <= START_SPREAD for s in starts) and len(set(starts)) == 5


def test_a_hub_busy_past_the_patience_leaves_the_rest_to_the_daemon() -> None:
    calls: list[float] = []

    def always_busy() -> None:
        raise HubBusy(60)

    with pytest.raises(HubBusy):
        patiently(always_busy, calls.append, lambda e, w: None, random.Random(1), patience=200)
    assert len(calls) == 2 and all(60 <= c <= 90 for c in calls)  # a third would pass 200 s


def test_station_sync_waits_for_a_busy_hub_and_says_so_without_an_error(
        tmp_path: Path, cli: Cli) -> None:
    hub = small_hub(tmp_path, 2, (1, 1))
    try:
        cli("enroll", "--hub", hub.url, "--code", county.open_hub(hub.home).add_enrollment(TOWNSHIP, []))
        cli("add", "person", "--json", json.dumps(next(synthetic.people(1, [GRID], seed=2))))
        with Occupied(hub.shed()):
            sync = subprocess.Popen([STATION, "sync"], env=cli.env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            assert sync.stderr is not None
            first = sync.stderr.readline()  # comes once the first call was turned away
        out, rest = sync.communicate(timeout=60)
    finally:
        hub.stop()
    assert first.startswith("县级平台繁忙，") and "秒后自动重试" in first
    assert sync.returncode == 0 and "Traceback" not in rest and "错误" not in first + rest
    result = json.loads(out)
    assert result["outcome"] == "done" and result["pushed"] == 1 and result["pending"] == 0


def test_the_sync_screen_says_the_hub_is_busy_in_chinese_and_retries_by_itself(
        store: Store, tmp_path: Path) -> None:
    hub = small_hub(tmp_path, 2, (1, 1))
    shed = hub.shed()
    try:
        enrolled(store, hub)
        store.add_many("person", synthetic.people(2, [GRID], seed=9))
        shed.in_flight += shed.limit  # busy until the scenario frees it
        Loop(store, KeptConnection(), lambda s: None).round()  # the daemon met the busy hub
        store.lock()

        async def scenario(pilot: Pilot[None]) -> None:
            state = await open_sync_screen(pilot)
            shown = str(state.render())
            assert BUSY_ZH in shown and "上次错误" not in shown
            await pilot.press("s")
            log = pilot.app.screen.query_one("#sync-log", Log)
            await until(pilot, lambda: any(line.startswith(BUSY_ZH + "（约") for line in log.lines))
            assert not any("同步未完成" in line for line in log.lines)
            shed.in_flight -= shed.limit
            await until(pilot, lambda: any("完成" in line for line in log.lines))
            assert any("完成：上传 2 条" in line for line in log.lines), log.lines

        run(make_app(store), scenario)
    finally:
        hub.stop()
    assert store.status()["pending"] == 0


def test_county_serve_sheds_by_default_at_two_calls_per_pool_connection(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What `county serve` gives each worker: the limit told, else two per connection of its
    # pool (the default pool of 10: 20), so a stampede is answered 503 rather than queued.
    from sync.hub.config import CountyConfig
    from sync.hub.http import IN_FLIGHT_ENV, app_for

    county.init(tmp_path / "county")
    database = f"sqlite:///{tmp_path / 'county' / 'hub.db'}"

    def limit_of(settings: CountyConfig) -> int:
        app = app_for(tmp_path / "county", settings)
        [shed] = [m for m in app.user_middleware if m.cls is LoadShed]
        return int(shed.kwargs["limit"])

    monkeypatch.delenv(IN_FLIGHT_ENV, raising=False)
    assert limit_of(CountyConfig(database)) == 20
    assert limit_of(CountyConfig(database, pool_size=4)) == 8
    assert limit_of(CountyConfig(database, max_in_flight=0)) == 0  # county IT turned it off
    monkeypatch.setenv(IN_FLIGHT_ENV, "7")
    assert limit_of(CountyConfig(database, max_in_flight=0)) == 7
