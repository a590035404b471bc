"""Revocation that reaches the box (issue 25 point 4), through the real commands, a real hub
over HTTPS, the real litestream binary and the kiosk under Pilot.

The oracles are what happened: the names the clerks entered (and which of them were synced
before the box was lost), the hub's own export, the bytes of the keyslots read from the file
before the wipe, and what the screen says."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, Label

from station import synthetic
from station.daemon import Loop
from station.store import DB_FILE, Store
from station.syncer import sync_once
from tui.app import make_app

from .conftest import GRID, PASSPHRASE, STATION, Cli
from .hubserver import HubServer
from .test_backup import Replication, replica  # noqa: F401  (a fixture)
from .test_sync_e2e import county_cli, enroll
from .test_tui import open_sync_screen, run


def add_people(cli: Cli, tmp_path: Path, n: int, seed: int) -> list[str]:
    """Add `n` people through `station add --file`; their names."""
    people = list(synthetic.people(n, [GRID], seed=seed))
    batch = tmp_path / f"people-{seed}.jsonl"
    batch.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in people))
    cli("add", "person", "--file", str(batch))
    return [str(p["name"]) for p in people]


def hub_names(hub: HubServer) -> list[str]:
    return sorted(json.loads(line)["fields"]["name"]
                  for line in county_cli(hub.home, "export", "person").splitlines())


def station_id(cli: Cli) -> str:
    with Store.open(Path(cli.env["STATION_HOME"])) as store:
        return store.station_id


def slots(home: Path) -> dict[str, list[bytes]]:
    with sqlite3.connect(home / DB_FILE) as conn:
        found: dict[str, list[bytes]] = {}
        for kind, wrapped in conn.execute("SELECT kind, wrapped FROM keyslots"):
            found.setdefault(kind, []).append(bytes(wrapped))
        return found


def test_a_revoked_station_is_told_at_its_next_contact_and_its_daemon_stops(
        cli: Cli, sqlite_hub: HubServer, tmp_path: Path) -> None:
    enroll(cli, sqlite_hub)
    synced = add_people(cli, tmp_path, 3, seed=1)
    cli("sync")
    county_cli(sqlite_hub.home, "station", "revoke", station_id(cli))
    waiting = add_people(cli, tmp_path, 2, seed=2)
    refused = cli("sync", ok=False).stderr
    assert "此站点已被县级平台吊销，已锁定" in refused, refused
    assert hub_names(sqlite_hub) == sorted(synced)  # nothing more taken from it
    # Not wiped: its clerks still open it, and what waited is still there, unsent.
    assert sorted(json.loads(x)["fields"]["name"] for x in cli("export", "person").stdout.splitlines()) \
        == sorted(synced + waiting)
    # The daemon stops after the refusal, and says why, rather than knocking for ever.
    store = Store.open(Path(cli.env["STATION_HOME"]))
    try:
        store.unlock(PASSPHRASE)
        loop = Loop(store, sync_once, lambda _: None, start_spread=0)
        loop.run(rounds=5)
        assert loop.outcome == "revoked" and not store.unlocked
        assert "吊销" in store.settings()["last_error"]
    finally:
        store.close()
    daemon = subprocess.run([STATION, "sync", "--daemon"], capture_output=True, text=True,
                            timeout=60, env=cli.env)  # its first round waits up to 15 s
    assert daemon.returncode == 3, daemon.stderr  # the unit's RestartPreventExitStatus=3
    assert "吊销" in daemon.stderr


def test_the_kiosk_locks_when_the_sync_hears_of_the_revocation(
        cli: Cli, sqlite_hub: HubServer) -> None:
    enroll(cli, sqlite_hub)
    county_cli(sqlite_hub.home, "station", "revoke", station_id(cli))
    store = Store.open(Path(cli.env["STATION_HOME"]))

    async def scenario(pilot: Pilot[None]) -> None:
        await open_sync_screen(pilot)
        await pilot.press("s")
        for _ in range(200):
            await pilot.pause(0.05)
            if type(pilot.app.screen).__name__ == "UnlockScreen" and pilot.app.screen.query("#unlock-error"):
                break
        assert type(pilot.app.screen).__name__ == "UnlockScreen"
        assert not store.unlocked
        said = str(pilot.app.screen.query_one("#unlock-error", Label).render())
        assert "已被县级平台吊销" in said, said

    run(make_app(store), scenario)
    store.close()


def test_a_wipe_pushes_what_it_can_then_no_passphrase_opens_the_box(
        cli: Cli, sqlite_hub: HubServer, tmp_path: Path) -> None:
    home = Path(cli.env["STATION_HOME"])
    enroll(cli, sqlite_hub)
    synced = add_people(cli, tmp_path, 3, seed=3)
    cli("sync")
    unsent = add_people(cli, tmp_path, 4, seed=4)  # entered offline, never synced
    before = slots(home)
    assert len(before["passphrase"]) == 1 and len(before["recovery"]) == 1
    out = county_cli(sqlite_hub.home, "station", "revoke", station_id(cli), "--wipe")
    assert out == ""  # the word goes to stderr; nothing on stdout
    said = cli("sync", ok=False).stderr
    assert "已上传 4 条变更" in said and "销毁" in said, said
    assert hub_names(sqlite_hub) == sorted(synced + unsent)  # nothing entered was lost
    # No clerk's slot is left, in the file or in its WAL; the county's recovery slot stays.
    after = slots(home)
    assert "passphrase" not in after and after["recovery"] == before["recovery"]
    raw = b"".join(p.read_bytes() for p in home.glob(DB_FILE + "*"))
    assert before["passphrase"][0] not in raw
    refused = cli("export", "person", ok=False).stderr
    assert "口令已销毁" in refused, refused
    # The hub takes no more from it, not even pushes.
    assert "吊销" in cli("sync", ok=False).stderr
    # The kiosk says so, with nothing to type into.
    store = Store.open(home)

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.pause()
        label = pilot.app.screen.query_one("#unlock-error", Label)
        said = str(label.render())
        assert "无法再解锁" in said, said
        assert label.size.height >= 2  # wrapped inside the box at 80 columns, not cut
        assert not pilot.app.screen.query(Input)

    run(make_app(store), scenario)
    store.close()


def test_a_replacement_box_restored_from_the_backup_keeps_every_change_the_old_box_had_not_sent(
        cli: Cli, sqlite_hub: HubServer, replica: Path, tmp_path: Path) -> None:  # noqa: F811
    enroll(cli, sqlite_hub)
    synced = add_people(cli, tmp_path, 3, seed=5)
    cli("sync")
    backup = Replication(cli)
    try:
        unsent = add_people(cli, tmp_path, 4, seed=6)  # in the backup, never sent
        backup.caught_up()
    finally:
        backup.crash()
    # The box is lost. County IT replaces it: the station is revoked, a code is given.
    old = station_id(cli)
    code = json.loads(county_cli(sqlite_hub.home, "station", "replace", old))
    assert code["replaces"] == old
    assert "吊销" in cli("sync", ok=False).stderr  # the old box is refused from now on
    new = Cli(tmp_path / "replacement")
    cli("restore", "--from", str(replica), "--to", str(tmp_path / "replacement"))
    # An enrolled box's code is not a replacement's, and a plain code does not replace.
    assert "already enrolled" in new("enroll", "--hub", sqlite_hub.url, "--code", code["code"],
                                     ok=False).stderr
    new("enroll", "--replacement", "--hub", sqlite_hub.url, "--code", code["code"],
        "--fingerprint", sqlite_hub.fingerprint)
    assert station_id(new) == old  # the same station, on a new key
    new("sync")
    assert hub_names(sqlite_hub) == sorted(synced + unsent)
    assert county_cli(sqlite_hub.home, "export", "person") == new("export", "person").stdout
    # The old box's key signs nothing any more, even though the station is enrolled again.
    assert "县级平台拒绝" in cli("sync", ok=False).stderr
    listed = [json.loads(x) for x in county_cli(sqlite_hub.home, "station", "list").splitlines()]
    assert [s["revoked_at"] for s in listed if s["id"] == old] == [None]


def test_after_a_wipe_the_backup_opens_with_the_county_recovery_key_and_nothing_is_lost(
        cli: Cli, sqlite_hub: HubServer, replica: Path, tmp_path: Path) -> None:  # noqa: F811
    enroll(cli, sqlite_hub)
    entered = add_people(cli, tmp_path, 3, seed=7)
    backup = Replication(cli)
    try:
        entered += add_people(cli, tmp_path, 2, seed=8)
        county_cli(sqlite_hub.home, "station", "revoke", station_id(cli), "--wipe")
        assert "销毁" in cli("sync", ok=False).stderr  # pushed all five, then destroyed its slots
        backup.caught_up()  # the backup follows the box: its latest state has no clerk's slot
    finally:
        backup.crash()
    to = tmp_path / "replacement"
    refused = cli("restore", "--from", str(replica), "--to", str(to), ok=False).stderr
    assert "--recovery-key" in refused and not (to / DB_FILE).exists(), refused
    key = sqlite_hub.home / "recovery.key"
    assert "STATION_CLERK" in cli("restore", "--from", str(replica), "--to", str(to),
                                  "--recovery-key", str(key), ok=False).stderr
    cli("restore", "--from", str(replica), "--to", str(to), "--recovery-key", str(key),
        STATION_CLERK="李四")
    new = Cli(to)  # 李四 opens it with the passphrase given at the restore
    code = json.loads(county_cli(sqlite_hub.home, "station", "replace", station_id(cli)))["code"]
    new("enroll", "--replacement", "--hub", sqlite_hub.url, "--code", code, STATION_CLERK="李四")
    new("sync", STATION_CLERK="李四")
    assert hub_names(sqlite_hub) == sorted(entered)
    kept = new("export", "person", STATION_CLERK="李四").stdout.splitlines()
    assert sorted(json.loads(x)["fields"]["name"] for x in kept) == sorted(entered)


def test_the_kiosk_locks_when_the_daemon_hears_of_the_revocation_and_lets_a_clerk_back_in(
        cli: Cli, sqlite_hub: HubServer) -> None:
    from tui.screens.home import HomeScreen

    from .test_tui import unlock, until

    enroll(cli, sqlite_hub)
    home = Path(cli.env["STATION_HOME"])
    store = Store.open(home)
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        county_cli(sqlite_hub.home, "station", "revoke", station_id(cli))
        assert "吊销" in cli("sync", ok=False).stderr  # the daemon's round, in its own process
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "UnlockScreen"
                    and getattr(pilot.app.focused, "id", None) == "passphrase")  # drawn and ready
        assert not store.unlocked
        said = str(pilot.app.screen.query_one("#unlock-error", Label).render())
        assert "已被县级平台吊销" in said, said
        await unlock(pilot)  # a clerk who knows, to hand the data over, is not thrown out again
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.pause(2.5)
        assert isinstance(pilot.app.screen, HomeScreen) and store.unlocked

    run(app, scenario)
    store.close()
