"""Before a first sync over the link, the station tells its bytes and time (issue 24 point 5).

The oracles are what happened, not the estimate's own arithmetic: the changes another station
wrote, the bytes the real pull then took on the wire, and the bandwidth and round trip the
test gave the link (bench/netem.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from station import first_sync, keys, synthetic
from station.store import Store
from station.syncer import client_for, enroll, pull, push
from sync.hub import county
from tui.app import make_app

from .conftest import GRID, PASSPHRASE, TOWNSHIP, Cli
from .hubserver import HubServer
from .test_tui import open_sync_screen, run, sync_now

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from netem import Link, Profile

# A slow link with a long round trip, so that a rule ignoring either is caught: 60 KB/s down,
# 500 ms round trip, no drops.
LINK = Profile("test", 60_000, 60_000, 0.5, 0)


def station(base: Path, hub: HubServer, name: str) -> Store:
    store = Store.create(base / name, township=TOWNSHIP, name=f"{name}站", clerk="张三",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    enroll(store, hub.url, county.open_hub(hub.home).add_enrollment(TOWNSHIP, []), hub.fingerprint)
    return store


def written_by(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM changes").fetchone()[0])


def through(store: Store, link: Link) -> None:
    with store.atomic() as writes:
        writes.put_settings(hub_url=f"https://127.0.0.1:{link.port}")


def test_the_estimate_of_a_first_sync_matches_the_pull_that_follows(tmp_path: Path, hub: HubServer) -> None:
    first = station(tmp_path, hub, "first")
    first.add_many("person", synthetic.people(3000, [GRID], seed=4))
    push(first, client_for(first))
    sent = written_by(first)
    new = station(tmp_path, hub, "new")
    assert first_sync.is_first(new)

    with Link(LINK, ("127.0.0.1", hub.port)) as link:
        through(new, link)
        client = client_for(new)
        estimate = first_sync.measure(new, client)
        body_before, wire_before = client.bytes_received, link.stats.down
        pulled = pull(new, client)
        body_bytes = client.bytes_received - body_before
        wire_bytes = link.stats.down - wire_before

    assert estimate.changes == sent == pulled == 3000
    assert 0.8 <= estimate.bytes / body_bytes <= 1.25, (estimate.bytes, body_bytes)
    assert 0.7 <= estimate.bytes / wire_bytes <= 1.25, (estimate.bytes, wire_bytes)
    # Measured on the link: its round trip, and its bandwidth (a loaded machine may make the
    # proxy a little slower than its setting, never faster).
    assert LINK.rtt_s * 0.9 <= estimate.round_trip_s <= LINK.rtt_s + 1.0, estimate
    assert 0.4 <= estimate.bytes_per_s / LINK.down_bytes_per_s <= 1.3, estimate
    assert "约 3,000 条" in estimate.line("zh") and "预计约" in estimate.line("zh")
    assert "about 3,000 changes" in estimate.line("en")
    assert not first_sync.is_first(new)  # pulled: the next sync is not a first one
    first.close()
    new.close()


def test_a_long_first_sync_points_to_the_seed_on_a_usb_stick() -> None:
    # A township at the seed's scale over GPRS: 13.3 MB at 35 kbit/s (4,375 B/s) is 3,040 s.
    gprs = first_sync.Estimate(251_175, 13_300_000, 4375, 1.3)
    assert "约 251,175 条、12.7 MB" in gprs.line("zh")
    assert "预计约 50 分钟" in gprs.line("zh")
    assert "load-seed" in gprs.line("zh") and "load-seed" in gprs.line("en")
    edge = first_sync.Estimate(251_175, 13_300_000, 30_000, 0.84)  # 443 s
    assert "预计约 7 分钟" in edge.line("zh") and "load-seed" not in edge.line("zh")


def test_no_estimate_before_enrollment_and_none_to_bring_from_an_empty_county(
        tmp_path: Path, sqlite_hub: HubServer) -> None:
    alone = Store.create(tmp_path / "alone", township=TOWNSHIP, name="未注册站", clerk="张三",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    assert not first_sync.is_first(alone)
    new = station(tmp_path, sqlite_hub, "new")
    empty = first_sync.measure(new, client_for(new))
    assert (empty.changes, empty.bytes) == (0, 0)
    pull(new, client_for(new))
    assert first_sync.is_first(new)  # nothing came and the county is empty: still a first sync
    alone.close()
    new.close()


def test_the_sync_screen_shows_the_estimate_before_the_first_sync(tmp_path: Path, store: Store,
                                                                  sqlite_hub: HubServer) -> None:
    from textual.widgets import Label

    first = station(tmp_path, sqlite_hub, "first")
    first.add_many("person", synthetic.people(1200, [GRID], seed=5))
    push(first, client_for(first))
    enroll(store, sqlite_hub.url, county.open_hub(sqlite_hub.home).add_enrollment(TOWNSHIP, []))
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await open_sync_screen(pilot)
        label = pilot.app.screen.query_one("#sync-estimate", Label)
        assert not label.display  # nothing said before the clerk asks for a sync
        lines = await sync_now(pilot)
        assert label.display
        shown = str(label.render())
        assert "首次同步：约 1,200 条" in shown and "预计约" in shown, shown
        assert any(line.startswith("首次同步") for line in lines), lines
        assert any("下载 1200" in line for line in lines), lines

    run(app, scenario)
    first.close()


def test_station_sync_says_the_estimate_on_its_first_sync_only(tmp_path: Path, cli: Cli,
                                                              sqlite_hub: HubServer) -> None:
    first = station(tmp_path, sqlite_hub, "first")
    first.add_many("person", synthetic.people(800, [GRID], seed=6))
    push(first, client_for(first))
    code = county.open_hub(sqlite_hub.home).add_enrollment(TOWNSHIP, [])
    cli("enroll", "--hub", sqlite_hub.url, "--code", code, "--fingerprint", sqlite_hub.fingerprint)
    result = cli("sync", "--progress")
    done: dict[str, Any] = json.loads(result.stdout)
    assert done["pulled"] == 800 and done["estimate"]["changes"] == 800
    assert "首次同步：约 800 条" in result.stderr and "First sync: about 800 changes" in result.stderr
    again = cli("sync", "--progress")
    assert "estimate" not in json.loads(again.stdout) and "首次同步" not in again.stderr
    first.close()


def test_a_hub_that_cannot_estimate_is_said_so_and_the_first_sync_goes_on(tmp_path: Path, cli: Cli) -> None:
    from textual.widgets import Label

    county.init(tmp_path / "county")
    old = HubServer(tmp_path / "county").without("/v1/estimate").start()  # a release before it
    try:
        first = station(tmp_path, old, "first")
        first.add_many("person", synthetic.people(300, [GRID], seed=8))
        push(first, client_for(first))
        first.close()
        code = county.open_hub(old.home).add_enrollment(TOWNSHIP, [])
        cli("enroll", "--hub", old.url, "--code", code, "--fingerprint", old.fingerprint)
        result = cli("sync", "--progress")
        done: dict[str, Any] = json.loads(result.stdout)
        assert done["pulled"] == 300  # the sync went on
        assert done["estimate"] == {"unknown": "the hub's release does not offer this call"}
        assert "首次同步：无法事先估算（县级平台版本较旧，不支持此请求）" in result.stderr, result.stderr
        assert "First sync: no estimate" in result.stderr

        kiosk = station(tmp_path, old, "kiosk")
        kiosk.lock()

        async def scenario(pilot: Pilot[None]) -> None:
            await open_sync_screen(pilot)
            label = pilot.app.screen.query_one("#sync-estimate", Label)
            lines = await sync_now(pilot)
            assert label.display and "无法事先估算" in str(label.render()), str(label.render())
            assert any("下载 300" in line for line in lines), lines

        run(make_app(kiosk), scenario)
        kiosk.close()
    finally:
        old.stop()
