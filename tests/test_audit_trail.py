"""The audit trail (issue 25 point 2): what a clerk does leaves one chained entry, in the
transaction of the act; the chain shows an entry edited, taken out or moved, in the station's
file and in the hub's copy.

The oracles are the acts the test performs, in its order, and the entries the test itself
alters (the break must be named at the one it touched), not the chain's own arithmetic."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from station import keys, synthetic
from station.conflicts import Conflicts
from station.store import DB_FILE, Store
from sync.audit_chain import AuditEntry, first_break, following
from sync.errors import ValidationError, WrongPassphrase
from sync.protocol import WireChange

from .conftest import GRID, PASSPHRASE, TOWNSHIP, Cli
from .hubserver import HubServer
from .test_dashboard_roles import ADMIN_PW, VIEWER_PW, signed_in
from .test_sync_e2e import county_cli, enroll

PERSON = {"name": "李四", "id_number": "11010519491231002X", "grid": GRID}


def chain(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for i in range(n):
        entries.append(following(entries[-1] if entries else None, f"2026-12-08T00:00:0{i}Z",
                                 "张三", "clerk", "update", f"person/r{i}", {"fields": ["phone"]}))
    return entries


def test_the_chain_names_the_first_entry_edited_taken_out_or_moved() -> None:
    whole = chain(6)
    assert first_break(whole) is None
    edited = [*whole[:3], replace(whole[3], target="person/other"), *whole[4:]]
    broken = first_break(edited)
    assert broken is not None and (broken.seq, broken.why) == (4, "hash")
    taken_out = [*whole[:2], *whole[3:]]
    broken = first_break(taken_out)
    assert broken is not None and broken.seq == 4 and broken.why == "seq"
    moved = [*whole[:2], whole[3], whole[2], *whole[4:]]
    broken = first_break(moved)
    assert broken is not None and broken.seq == 4
    # An entry renumbered to close the gap it left still breaks: its hash covers its number.
    renumbered = [*whole[:2], *(replace(e, seq=e.seq - 1) for e in whole[3:])]
    broken = first_break(renumbered)
    assert broken is not None and broken.seq == 3
    # The last entry cut off is not a break: the hub tells that from how many it holds.
    assert first_break(whole[:-1]) is None


def _actions(store: Store) -> list[tuple[str, str]]:
    return [(e.action, e.target.split("/")[0]) for e in store.audit_trail()]


def test_each_act_of_a_clerk_leaves_one_entry_in_its_own_transaction(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "home", township=TOWNSHIP, name="测试站", clerk="张三",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    try:
        store.lock()
        with pytest.raises(WrongPassphrase):
            store.unlock("not the passphrase")
        store.unlock(PASSPHRASE)
        rid = store.add("person", PERSON)
        store.update("person", rid, {"phone": "13800138000"})
        assert store.reveal("person", rid, "id_number") == PERSON["id_number"]
        others = list(synthetic.people(2, [GRID], seed=3))
        store.add_many("person", others)
        # A conflict, settled: the same field changed elsewhere, unseen here.
        added = store.conn.execute("SELECT created_hlc FROM records WHERE id = ?", (rid,)).fetchone()[0]
        later = f"{int(added.split('.')[0]) + 60_000:015d}.000000.elsewhere"
        with store.atomic() as writes:
            writes.apply_remote(WireChange("elsewhere", 1, rid, "person", "update", GRID,
                                           {"phone": "13900139000"}, later, {"phone": added}, 1,
                                           {}, by="王五"))
        conflict = Conflicts(store).list()[0]
        Conflicts(store).resolve(conflict["id"], keep="local")
        # A write that fails leaves no entry: nothing half-way.
        with pytest.raises(ValidationError):
            store.add_many("person", [*synthetic.people(1, [GRID], seed=9), {**PERSON, "phone": "12"}])
        store.delete("person", rid)
        assert _actions(store) == [
            ("unlock_failed", ""), ("unlock", ""), ("add", "person"), ("update", "person"),
            ("reveal", "person"), ("add", "person"), ("settle", "person"), ("delete", "person")]
        trail = store.audit_trail()
        assert trail[0].clerk == "" and json.loads(trail[0].detail)["via"] == "passphrase"
        assert {e.clerk for e in trail[1:]} == {"张三"} and {e.role for e in trail} == {"clerk"}
        assert json.loads(trail[3].detail) == {"fields": ["phone"]}
        assert json.loads(trail[4].detail) == {"field": "id_number"}
        assert json.loads(trail[5].detail) == {"count": 2}
        # No value of any record is in any entry.
        text = json.dumps([e.as_json() for e in trail], ensure_ascii=False)
        for value in ("李四", "1101051949", "13800138000", "13900139000",
                      *(str(p[k]) for p in others for k in ("name", "id_number"))):
            assert value not in text
    finally:
        store.close()


def _tamper(db: Path, *sql: str) -> None:
    with sqlite3.connect(db) as conn:
        for statement in sql:
            conn.execute(statement)


def test_station_audit_verify_names_the_entry_edited_deleted_or_reordered(cli: Cli, tmp_path: Path) -> None:
    for person in synthetic.people(4, [GRID], seed=4):
        cli("add", "person", "--json", json.dumps(person, ensure_ascii=False))
    cli("export", "person")
    cli("settings", "set", "mask_names", "0")
    listed = [json.loads(x) for x in cli("audit", "list", "--json").stdout.splitlines()]
    assert [e["action"] for e in listed].count("export") == 1
    assert [e["action"] for e in listed].count("setting") == 1
    assert json.loads(cli("audit", "verify").stdout) == {"entries": len(listed), "whole": True}
    home = Path(cli.env["STATION_HOME"])
    for copy, sql, seq in (
            ("edited", ("UPDATE audit_log SET action = 'unlock' WHERE seq = 4",), 4),
            ("deleted", ("DELETE FROM audit_log WHERE seq = 3",), 4),
            ("reordered", ("UPDATE audit_log SET seq = -1 WHERE seq = 5",
                           "UPDATE audit_log SET seq = 5 WHERE seq = 6",
                           "UPDATE audit_log SET seq = 6 WHERE seq = -1"), 5)):
        other = tmp_path / copy
        other.mkdir()
        with sqlite3.connect(home / DB_FILE) as src, sqlite3.connect(other / DB_FILE) as dst:
            src.backup(dst)
        _tamper(other / DB_FILE, *sql)
        run = cli("--home", str(other), "audit", "verify", ok=False)
        assert json.loads(run.stdout)["broken_at"] == seq, (copy, run.stdout)
        assert f"第 {seq} 条" in run.stderr


def test_the_trail_reaches_the_hub_with_the_round_and_its_copy_is_checked_there(
        cli: Cli, hub: HubServer) -> None:
    enroll(cli, hub)
    for person in synthetic.people(2, [GRID], seed=5):
        cli("add", "person", "--json", json.dumps(person, ensure_ascii=False))
    cli("sync")
    sid = json.loads(county_cli(hub.home, "station", "list").splitlines()[0])["id"]
    held = [json.loads(x) for x in county_cli(hub.home, "audit", "list", sid).splitlines()]
    # What the station had written when it synced (its own entries, the sync's unlock among
    # them), as its own command lists them.
    mine = [json.loads(x) for x in cli("audit", "list", "--json").stdout.splitlines()]
    assert held == mine[:len(held)] and [e["action"] for e in held].count("add") == 2
    # The clerk's name is sealed in the hub's database (either engine), as a change's author is.
    from sync.hub import county

    with county.open_hub(hub.home).storage.transaction() as tx:
        stored = [str(r[0]) for r in tx.rows("SELECT clerk FROM station_audit")]
    assert len(stored) == len(held) and not any("张三" in c for c in stored)
    assert {e["clerk"] for e in held} == {"张三"}  # and opened again for county IT
    assert json.loads(county_cli(hub.home, "audit", "verify", sid)) == {
        "station": sid, "whole": True, "entries": len(held)}
    cli("sync")  # the next round sends only what came since
    again = [json.loads(x) for x in county_cli(hub.home, "audit", "list", sid).splitlines()]
    assert again[:len(held)] == held and len(again) > len(held)


def test_an_entry_altered_at_the_hub_is_named_and_the_dashboard_shows_the_trail_to_admins(
        cli: Cli, sqlite_hub: HubServer, tmp_path: Path) -> None:
    import subprocess
    import time

    from sync.hub import county
    from sync.hub.access import Access

    from .test_sync_e2e import COUNTY

    hub = sqlite_hub
    access = Access(county.open_hub(hub.home), lambda: int(time.time() * 1000))
    assert access.add_account("it", ADMIN_PW) and access.add_account("guest", VIEWER_PW)
    enroll(cli, hub)
    cli("add", "person", "--json", json.dumps(PERSON, ensure_ascii=False))
    cli("sync")
    sid = json.loads(county_cli(hub.home, "station", "list").splitlines()[0])["id"]
    admin, _ = signed_in(hub, "it", ADMIN_PW)
    page = admin.get(f"{hub.url}/stations/{sid}/audit")
    assert page.status_code == 200 and "链条完整" in page.text and "新增" in page.text, page.text
    assert PERSON["name"] not in page.text and PERSON["id_number"] not in page.text
    viewer, _ = signed_in(hub, "guest", VIEWER_PW)
    assert viewer.get(f"{hub.url}/stations/{sid}/audit").status_code == 403
    where = f"station = '{sid}'"
    for copy, sql, seq in (
            ("deleted", (f"DELETE FROM station_audit WHERE {where} AND seq = 1",), 2),
            ("reordered", (f"UPDATE station_audit SET seq = -1 WHERE {where} AND seq = 2",
                           f"UPDATE station_audit SET seq = 2 WHERE {where} AND seq = 3",
                           f"UPDATE station_audit SET seq = 3 WHERE {where} AND seq = -1"), 2)):
        kept = tmp_path / f"{copy}.db"  # the hub's database as it was, put back after
        with sqlite3.connect(hub.home / "hub.db") as src, sqlite3.connect(kept) as dst:
            src.backup(dst)
        _tamper(hub.home / "hub.db", *sql)
        run = subprocess.run([COUNTY, "--home", str(hub.home), "audit", "verify", sid],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 1 and json.loads(run.stdout)["broken_at"] == seq, (copy, run.stdout)
        with sqlite3.connect(kept) as src, sqlite3.connect(hub.home / "hub.db") as dst:
            src.backup(dst)
    _tamper(hub.home / "hub.db", f"UPDATE station_audit SET clerk = '李四' WHERE {where} AND seq = 2")
    run = subprocess.run([COUNTY, "--home", str(hub.home), "audit", "verify", sid],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and json.loads(run.stdout)["broken_at"] == 2, run.stdout
    assert "第 2 条内容被改动" in run.stderr
    shown = admin.get(f"{hub.url}/stations/{sid}/audit").text
    assert "链条断裂" in shown and "第 2 条" in shown
