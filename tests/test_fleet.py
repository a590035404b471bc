"""The county's fleet view: which stations stand out and in what order (the pure rules of
sync/hub/fleet.py, on hand-made rows), and the page itself over the hub's real HTTPS, on both
engines, read cell by cell against what the test made the stations do: named stations that
enrolled and synced, an outbox left waiting, a station made silent, a clock set wrong, a real
litestream backup and a missing one."""

from __future__ import annotations

import html
import json
import re
import subprocess
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from station import backup, keys, syncer, synthetic
from station.store import Store
from sync.errors import Rejected, ValidationError
from sync.hub import county, fleet
from sync.validate import CHINA_TZ

from .conftest import GRID, NOON, PASSPHRASE, TOWNSHIP, Cli
from .hubserver import HubServer
from .test_dashboard import logged_in
from .test_hub_migrations import Raw

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS


def row(**given: Any) -> dict[str, Any]:
    """A station as `Tx.stations` reads it, heard from a minute ago, everything fine."""
    base = {"id": "s", "name": "站", "township": TOWNSHIP, "revoked_at": None,
            "enrolled_at": _iso(NOON - 30 * DAY_MS), "last_seen": _iso(NOON - 60_000),
            "backup_ms": NOON - 120_000, "backup_behind": 0, "clock_offset_ms": 40,
            "rejected": 0, "pending": 0, "lag": 0}
    return base | given


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def keys_of(found: tuple[fleet.Alarm, ...]) -> list[str]:
    return [a.key for a in found]


# ------------------------------------------------------------------ the rules, pure


def test_a_station_heard_from_over_a_day_ago_is_silent_and_one_never_heard_counts_from_enrollment() -> None:
    assert keys_of(fleet.alarms(row(), NOON)) == []
    assert keys_of(fleet.alarms(row(last_seen=_iso(NOON - DAY_MS + 1000)), NOON)) == []
    assert keys_of(fleet.alarms(row(last_seen=_iso(NOON - DAY_MS - 1000)), NOON)) == ["silent"]
    never = row(last_seen=None, backup_ms=None, clock_offset_ms=None)
    assert keys_of(fleet.alarms(never | {"enrolled_at": _iso(NOON - HOUR_MS)}, NOON)) == []
    assert keys_of(fleet.alarms(never | {"enrolled_at": _iso(NOON - 2 * DAY_MS)}, NOON)) == ["silent"]


def test_a_backup_is_stale_when_never_made_or_lacking_writes_for_over_a_day() -> None:
    assert fleet.backup_state(row(backup_ms=None), NOON) == "unknown"  # an older release: not told
    assert fleet.backup_state(row(backup_ms=0), NOON) == "never"  # none set up, or empty
    old = NOON - DAY_MS - 1000
    assert fleet.backup_state(row(backup_ms=old, backup_behind=3), NOON) == "stale"
    # Nothing written since: the replica holds it all, however old its newest transaction.
    assert fleet.backup_state(row(backup_ms=old, backup_behind=0), NOON) == "ok"
    assert fleet.backup_state(row(backup_ms=NOON - HOUR_MS, backup_behind=3), NOON) == "ok"
    assert keys_of(fleet.alarms(row(backup_ms=0), NOON)) == ["stale-backup"]
    assert keys_of(fleet.alarms(row(backup_ms=None), NOON)) == []


def test_a_clock_over_a_minute_off_and_refused_changes_stand_out_but_never_on_a_revoked_station() -> None:
    assert keys_of(fleet.alarms(row(clock_offset_ms=60_000), NOON)) == []
    assert keys_of(fleet.alarms(row(clock_offset_ms=-60_001), NOON)) == ["clock-off"]
    assert keys_of(fleet.alarms(row(rejected=2), NOON)) == ["refused"]
    everything = row(last_seen=None, enrolled_at=_iso(NOON - 9 * DAY_MS), backup_ms=0,
                     clock_offset_ms=400_000, rejected=1)
    assert keys_of(fleet.alarms(everything, NOON)) == ["silent", "stale-backup", "clock-off", "refused"]
    assert fleet.alarms(everything | {"revoked_at": _iso(NOON)}, NOON) == ()


def test_the_list_puts_the_most_pressing_first_then_the_longest_silent_then_the_furthest_behind() -> None:
    stations = [
        row(id="fine", name="甲"),
        row(id="revoked", revoked_at=_iso(NOON), last_seen=None, backup_ms=0),
        row(id="refused", rejected=1),
        row(id="clock", clock_offset_ms=-90_000, rejected=1),
        row(id="backup", backup_ms=0),
        row(id="silent-2d", last_seen=_iso(NOON - 2 * DAY_MS)),
        row(id="silent-5d", last_seen=_iso(NOON - 5 * DAY_MS)),
        row(id="silent-1d-backup", last_seen=_iso(NOON - DAY_MS - 5000), backup_ms=0),
        row(id="behind", name="乙", lag=40),
        row(id="waiting", name="丙", pending=7),
    ]
    order = [r["id"] for r in fleet.ranked(stations, NOON)]
    assert order == ["silent-1d-backup",  # silent and a stale backup: both of the first two
                     "silent-5d", "silent-2d",  # silent: the longest first
                     "backup", "clock", "refused",
                     # Nothing stands out: the one behind most, then what waits, then by name.
                     "behind", "waiting", "fine",
                     "revoked"]
    assert [r["id"] for r in fleet.ranked(list(reversed(stations)), NOON)] == order  # order-free


def test_a_clock_offset_is_said_in_words_as_fast_slow_or_in_step() -> None:
    assert fleet.clock_words(None) == ("—", "")
    assert fleet.clock_words(-999) == fleet.clock_words(400) == ("准", "in step")
    assert fleet.clock_words(3_500) == ("快 3 秒", "3 s fast")
    assert fleet.clock_words(-125_000) == ("慢 2 分钟", "2 min slow")


def test_a_station_name_is_checked_where_it_arrives_at_the_hub() -> None:
    from sync.protocol import PushBatch, decode_push, encode_push

    named = decode_push(encode_push(PushBatch("s1", (), "城关镇综治中心")))
    assert named.name == "城关镇综治中心"
    assert decode_push(encode_push(PushBatch("s1", ()))).name is None  # an older station
    for bad in ("", "x" * 101, "站\n名"):
        with pytest.raises(ValidationError) as caught:
            decode_push(encode_push(PushBatch("s1", (), bad)))
        assert caught.value.field == "name"


# ------------------------------------------------------------------ the page, over HTTPS


def make_station(tmp_path: Path, hub: HubServer, name: str) -> Store:
    store = Store.create(tmp_path / name, township=TOWNSHIP, name=name, clerk="张三",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    code = county.open_hub(hub.home).add_enrollment(TOWNSHIP, [])
    syncer.enroll(store, hub.url, code, hub.fingerprint)
    return store


def add_people(store: Store, n: int, seed: int) -> None:
    for person in synthetic.people(n, [GRID], seed=seed):
        store.add("person", person)


def cells(page: str, station: str) -> dict[str, str]:
    """The Chinese line of each cell of one station's row, by its column's class."""
    found = re.search(rf'<tr id="fleet-{station}" class="([^"]*)">(.*?)</tr>', page)
    assert found, f"{station} is not on the page"
    out = {key: html.unescape(text.split("<br>")[0]) for key, text in
           re.findall(r'<td class="([a-z-]+)">(.*?)</td>', found.group(2))}
    return out | {"row": found.group(1), "en": html.unescape(found.group(2))}


def replicate_once(store: Store, replica: Path) -> None:
    """A real litestream backup: set up, run until the replica holds the database, stopped."""
    backup.setup(store.home, str(replica))
    command, env = backup.run_command(store.home)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            if list(replica.rglob("*.ltx")):
                break
            time.sleep(0.05)
        assert list(replica.rglob("*.ltx")), "litestream wrote nothing"
        time.sleep(0.5)  # one more sync interval, so the newest transaction is in
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def stores() -> Any:
    made: list[Store] = []
    yield made
    for store in made:
        store.close()


def test_the_fleet_page_shows_each_station_as_it_is_and_what_needs_attention_first(
        hub: HubServer, hub_database: str, tmp_path: Path, stores: list[Store]) -> None:
    start_ms = time.time_ns() // 1_000_000
    west = make_station(tmp_path, hub, "西岭村服务站")
    add_people(west, 1, seed=1)
    syncer.sync_once(west)  # its pull stands at the hub's first change
    east = make_station(tmp_path, hub, "城关镇综治中心")
    replicate_once(east, tmp_path / "east-replica")
    add_people(east, 3, seed=2)
    syncer.sync_once(east)
    hill = make_station(tmp_path, hub, "东山村服务站")
    add_people(hill, 1, seed=3)
    # Its box's clock 200 s fast: within the 5 minutes the hub takes, and seen by it.
    syncer.sync_once(hill, syncer.client_for(hill, lambda: time.time_ns() // 1_000_000 + 200_000))
    lake = make_station(tmp_path, hub, "南湖社区")
    stores.extend([west, east, hill, lake])
    # Ten minutes slow: every request refused, and the hub still sees by how much.
    with pytest.raises(Rejected):
        syncer.sync_once(lake, syncer.client_for(lake, lambda: time.time_ns() // 1_000_000 - 600_000))
    # Two more written at east and not sent: its next pull tells the hub they wait there.
    add_people(east, 2, seed=4)
    syncer.pull(east, syncer.client_for(east))
    # Made silent two days ago; and hill's replica last received anything three days ago and
    # lacks two transactions since (set in the hub's database, as an older report would).
    raw = Raw(hub_database)
    now = datetime.now(UTC)
    silent_at = (now - timedelta(days=2)).isoformat()
    stale_ms = int((now - timedelta(days=3)).timestamp() * 1000)
    raw.run(f"UPDATE stations SET last_seen = '{silent_at}' WHERE id = '{west.station_id}'",
            f"UPDATE station_reports SET backup_ms = {stale_ms}, backup_behind = 2"
            f" WHERE station = '{hill.station_id}'")

    session, _ = logged_in(hub)
    reply = session.get(hub.url + "/fleet")
    assert reply.status_code == 200
    page = reply.text
    order = re.findall(r'<tr id="fleet-([0-9a-f]+)"', page)
    # west: silent and never backed up; hill: stale backup and clock off; lake: clock off;
    # east: nothing stands out.
    assert order == [west.station_id, hill.station_id, lake.station_id, east.station_id]
    software = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())[
        "project"]["version"]
    got = {s.station_id: cells(page, s.station_id) for s in (west, east, hill, lake)}
    stale_day = datetime.fromtimestamp(stale_ms / 1000, CHINA_TZ).date().isoformat()
    silent_day = datetime.fromisoformat(silent_at).astimezone(CHINA_TZ).date().isoformat()
    expected = {
        west.station_id: {"station": "西岭村服务站", "attention": "失联、备份过期", "last-seen": silent_day,
                          "pending": "0", "behind": "4",  # east's 3 and hill's 1 came after its pull
                          "backup": "从未备份", "software": software, "schema": "1"},
        hill.station_id: {"station": "东山村服务站", "attention": "备份过期、时钟不准",
                          "last-seen": "刚刚", "pending": "0", "behind": "0",
                          "backup": f"{stale_day}（缺 2 个事务）", "clock": "快 3 分钟",
                          "software": software, "schema": "1"},
        lake.station_id: {"station": "南湖社区", "attention": "时钟不准", "last-seen": "从未联系",
                          "pending": "—", "behind": "—", "backup": "未报告", "clock": "慢 10 分钟",
                          "software": "—", "schema": "—"},
        east.station_id: {"station": "城关镇综治中心", "attention": "正常", "last-seen": "刚刚",
                          "pending": "2", "behind": "0", "software": software, "schema": "1"},
    }
    for station, want in expected.items():
        assert {k: got[station][k] for k in want} == want, station
        assert got[station]["township"] == TOWNSHIP  # no grid records name it yet
        assert station in got[station]["en"]  # the id, beneath the name
    # A real replica: its newest transaction arrived during this test.
    assert got[east.station_id]["backup"].startswith("刚刚")
    with county.open_hub(hub.home).storage.transaction() as tx:
        reported = {r["id"]: r for r in tx.stations()}
    assert start_ms - 1000 <= reported[east.station_id]["backup_ms"] <= time.time_ns() // 1_000_000
    # On loopback a right clock is read within the request's travel (shown 准 under a second,
    # else by how much: the machine is shared); the words themselves are tested above.
    for s in (west, east):
        offset = reported[s.station_id]["clock_offset_ms"]
        assert -5000 < offset < 1000 and got[s.station_id]["clock"] == fleet.clock_words(offset)[0]
    # Standing out is a class and a word, not a colour alone.
    assert got[west.station_id]["row"] == "attention silent stale-backup"
    assert got[east.station_id]["row"] == "ok"
    assert "silent, backup stale" in got[west.station_id]["en"]

    # Every page shows stations by name: the stations page and its lag chart too.
    listed = session.get(hub.url + "/stations").text
    for s in (west, east, hill, lake):
        assert re.search(rf'<tr id="station-{s.station_id}"><td>{s.settings()["name"]}<br>', listed)
    exported = session.get(hub.url + "/export/fleet.csv").content.decode("utf-8-sig").splitlines()
    assert exported[0].startswith("station,name,attention,township,last_seen,pending")
    assert [line.split(",")[0] for line in exported[1:]] == order
    assert exported[1].split(",")[1:3] == ["西岭村服务站", "silent stale-backup"]


def test_a_rename_on_the_station_reaches_the_county_at_its_next_sync(
        hub: HubServer, tmp_path: Path, stores: list[Store]) -> None:
    store = make_station(tmp_path, hub, "测试镇综治中心")
    stores.append(store)

    def told() -> str | None:
        with county.open_hub(hub.home).storage.transaction() as tx:
            found = tx.station(store.station_id)
        assert found is not None
        return found.name

    assert told() == "测试镇综治中心"  # said at enrollment
    cli = Cli(store.home)  # county IT renames it on the box, with the command
    refused = cli("settings", "set", "name", " ", ok=False)
    assert "station name" in refused.stderr
    renamed = json.loads(cli("settings", "set", "name", "城关镇便民服务站").stdout)
    assert renamed == {"key": "name", "value": "城关镇便民服务站"}
    syncer.pull(store, syncer.client_for(store))  # a pull alone says it: nothing to push
    assert told() == "城关镇便民服务站"
    # And a push says it too (here after a rename written straight into the store).
    with store.atomic() as writes:
        writes.put_settings(name="城关镇综治中心（新址）")
    add_people(store, 1, seed=5)
    syncer.push(store, syncer.client_for(store))
    assert told() == "城关镇综治中心（新址）"


def test_a_request_refused_for_its_clock_records_the_offset_only_when_the_station_signed_it(
        hub_database: str) -> None:
    """Anyone can send a request under a station's id with a wrong time; only the station's
    own key makes the hub believe its clock is off."""
    import base64
    import os

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from sync.hub.rules import Hub, HubClock
    from sync.hub.storage import open_storage
    from sync.schema import v1_schema
    from sync.signing import AuthError, sign

    storage = open_storage(hub_database)
    storage.migrate()
    hub = Hub(storage, os.urandom(32), v1_schema(), HubClock(lambda: NOON))
    key, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    hub.enroll(hub.add_enrollment(TOWNSHIP, []), "sta", public, "城关镇综治中心")

    def offset() -> int | None:
        with storage.transaction() as tx:
            (found,) = [r for r in tx.stations() if r["id"] == "sta"]
        return found["clock_offset_ms"]  # type: ignore[no-any-return]

    try:
        slow = NOON - 11 * 60_000
        for signer in (forger, key):
            headers = sign(signer, "GET", "/v1/schema?after=1", b"", "sta", slow)
            with pytest.raises(AuthError) as refused:
                hub.authenticate(headers, "GET", "/v1/schema?after=1", b"")
            assert refused.value.reason == "expired"
            assert offset() == (None if signer is forger else -11 * 60_000)
        # A request in the window: the hub keeps its offset when the station pulls.
        headers = sign(key, "GET", "/v1/pull?cursor=0", b"", "sta", NOON + 2_500)
        hub.pull(hub.authenticate(headers, "GET", "/v1/pull?cursor=0", b""), 0)
        assert offset() == 2_500
    finally:
        storage.close()


def test_a_station_says_its_name_at_enrollment_and_one_that_does_not_is_shown_by_its_id(
        sqlite_hub: HubServer, tmp_path: Path, stores: list[Store]) -> None:
    """The name given at `station init` travels in the enrollment body, so the county sees it
    before the first sync; a station of a release before names (no `name` in the body) is
    shown by its id; a name that is not text, or not a station name, is refused by field."""
    import base64
    import secrets

    import requests
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    named = make_station(tmp_path, sqlite_hub, "北岗村服务站")  # enrolled, never synced
    stores.append(named)

    def enroll(**extra: Any) -> requests.Response:
        key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
        body = {"code": county.open_hub(sqlite_hub.home).add_enrollment(TOWNSHIP, []),
                "station_id": secrets.token_hex(8), "public_key": base64.b64encode(key).decode()}
        return requests.post(sqlite_hub.url + "/v1/enroll", json=body | extra,
                             verify=str(sqlite_hub.home / "tls.crt"), timeout=20)

    old = enroll()
    assert old.status_code == 200, old.text
    for bad in (5, "", "站\n名", "x" * 101):
        refused = enroll(name=bad)
        assert refused.status_code == 400 and "name" in refused.text, (bad, refused.text)
    session, _ = logged_in(sqlite_hub)
    page = session.get(sqlite_hub.url + "/stations").text
    assert re.search(rf'<tr id="station-{named.station_id}"><td>北岗村服务站<br>'
                     rf'<span class="en">{named.station_id}</span></td>', page)
    ids = re.findall(r'<tr id="station-([0-9a-f]+)"><td>([^<]*)</td>', page)
    assert len(ids) == 1 and ids[0][0] == ids[0][1]  # the old one: its id alone
    assert len(re.findall(r'<tr id="station-', page)) == 2  # the refused enrolled nothing


def test_after_a_round_of_many_batches_the_fleet_shows_nothing_waiting_and_no_lag(
        tmp_path: Path, sqlite_hub: HubServer) -> None:
    # The round reports its outbox with its first request; its later batches went up after.
    # What the fleet shows is checked against what the station itself holds after the round.
    from sync.hub.dashboard import Dashboard

    store = Store.create(tmp_path / "st", township=TOWNSHIP, name="城关站", clerk="张三",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    try:
        store.add_many("person", synthetic.people(2600, [GRID], seed=31))
        syncer.enroll(store, sqlite_hub.url, county.open_hub(sqlite_hub.home).add_enrollment(TOWNSHIP, []),
                      sqlite_hub.fingerprint)
        result = syncer.sync_once(store, syncer.client_for(store))
        assert result.batches >= 3 and store.status()["pending"] == 0
        [row] = Dashboard(county.open_hub(sqlite_hub.home)).stations()
        assert (row["pending"], row["lag"]) == (0, 0), row
    finally:
        store.close()
