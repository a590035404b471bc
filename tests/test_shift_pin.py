"""The shift PIN (station/shift_pin.py) on real stores: it reopens the store after a lock
within the shift, not after it; three wrong tries void it; it never reaches the disk, a backup
or the hub; and the kiosk asks for it after a lock (Pilot at 80x24)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from textual.widgets import Input, Label

from station import synthetic
from station.shift_pin import ShiftPin, check_pin
from station.store import Store
from station.syncer import enroll, sync_once
from sync.errors import LockedError, PinUnavailable, ValidationError, WrongPin
from sync.hub import county
from tui.app import make_app
from tui.screens.home import HomeScreen
from tui.screens.unlock import UnlockScreen

from .conftest import GRID, PASSPHRASE, Cli, FakeTime
from .hubserver import HubServer
from .test_backup import Replication
from .test_tui import run, until

PIN = "246813"
HOUR_MS = 3600 * 1000


def test_a_pin_reopens_the_store_within_the_shift_and_not_after(store: Store,
                                                                 fake_time: FakeTime) -> None:
    record = store.add("person", {"name": "李四", "id_number": "11010519491231002X", "grid": GRID})
    store.set_pin(PIN)
    store.lock()
    assert store.pin_clerk() == "张三"
    with pytest.raises(LockedError):
        store.get("person", record)
    fake_time.ms += 11 * HOUR_MS + 59 * 60 * 1000  # 11 h 59 min into the shift
    assert store.unlock_with_pin(PIN) == "张三"
    assert store.clerk == "张三" and store.get("person", record)["fields"]["name"] == "李四"
    store.lock()
    fake_time.ms += 60 * 1000  # 12 h: the shift is over
    with pytest.raises(PinUnavailable, match="expired"):
        store.unlock_with_pin(PIN)
    assert store.pin_clerk() is None and not store.unlocked
    with pytest.raises(PinUnavailable):  # gone for good, not only late
        store.unlock_with_pin(PIN)
    assert store.unlock(PASSPHRASE) == "张三"  # the passphrase still opens it


def test_three_wrong_pins_destroy_the_slot_and_the_right_one_no_longer_opens(
        store: Store) -> None:
    store.set_pin(PIN)
    store.lock()
    with pytest.raises(WrongPin, match="2 tries left"):
        store.unlock_with_pin("135792")
    with pytest.raises(WrongPin, match="1 tries left"):
        store.unlock_with_pin("135793")
    with pytest.raises(PinUnavailable, match="3 wrong PINs"):
        store.unlock_with_pin("135794")
    assert store.pin_clerk() is None
    with pytest.raises(PinUnavailable):
        store.unlock_with_pin(PIN)
    assert not store.unlocked


def test_a_wrong_pin_is_counted_but_the_right_one_still_opens_before_the_limit(
        store: Store) -> None:
    store.set_pin(PIN)
    store.lock()
    with pytest.raises(WrongPin):
        store.unlock_with_pin("135792")
    assert store.unlock_with_pin(PIN) == "张三"


def test_pin_rules_and_what_ends_a_slot(store: Store, home: Path, fake_time: FakeTime) -> None:
    for bad, rule in [("12345", "digits"), ("123456789", "digits"), ("12a456", "digits"),
                      ("１２３４５６", "digits"), ("000000", "guessable"), ("345678", "guessable"),
                      ("987654", "guessable"), ("890123", "guessable")]:
        with pytest.raises(ValidationError) as refused:
            check_pin(bad)
        assert refused.value.field == "pin" and refused.value.rule == rule, bad
    check_pin("20261201")
    store.set_pin(PIN)
    store.lock()
    with pytest.raises(LockedError):  # only an unlocked clerk can set one
        store.set_pin("135790")
    store.unlock(PASSPHRASE)  # a passphrase unlock starts a new shift: the old PIN is void
    assert store.pin_clerk() is None
    store.set_pin(PIN)
    store.close()  # and the process ending (or the store closing) takes it along
    reopened = Store.open(home, clock=fake_time.clock())
    assert reopened.pin_clerk() is None
    with pytest.raises(PinUnavailable):
        reopened.unlock_with_pin(PIN)
    reopened.close()


def needles(slot: ShiftPin) -> dict[str, bytes]:
    """What would open the slot, as raw bytes and as the encodings JSON on the wire uses."""
    raw = {"salt": slot._salt, "secret": slot._secret or b"", "wrapped": slot._wrapped or b""}
    found = dict(raw)
    for name, value in raw.items():
        found[f"{name} hex"] = value.hex().encode()
        found[f"{name} base64"] = base64.b64encode(value)
        found[f"{name} base64url"] = base64.urlsafe_b64encode(value).rstrip(b"=")
    return found


def scan(where: Path, wanted: dict[str, bytes]) -> list[str]:
    blobs = [p.read_bytes() for p in where.rglob("*") if p.is_file()]
    return [name for name, value in wanted.items() if any(value in blob for blob in blobs)]


def test_the_pin_slot_is_never_in_the_store_a_backup_or_at_the_hub(
        cli: Cli, tmp_path: Path) -> None:
    home = Path(cli.env["STATION_HOME"])
    replica = tmp_path / "usb" / "station-backup"
    cli.json("backup", "setup", "--replica", str(replica))
    county.init(tmp_path / "county")
    hub = HubServer(tmp_path / "county").start()
    store = Store.open(home)
    try:
        store.unlock(PASSPHRASE)
        store.set_pin(PIN)
        assert store._pin is not None
        wanted = needles(store._pin)
        code = county.open_hub(hub.home).add_enrollment("440524001", [])
        enroll(store, hub.url, code, hub.fingerprint)
        store.add_many("person", list(synthetic.people(20, [GRID], seed=21)))
        store.lock()
        assert store.unlock_with_pin(PIN) == "张三"
        result = sync_once(store)
        assert result.pushed >= 20  # the round did reach the hub
        running = Replication(cli)
        running.caught_up()
        running.crash()
        # The keyslots table holds the clerk's passphrase and the county's recovery slot only.
        kinds = store.conn.execute("SELECT kind, clerk FROM keyslots ORDER BY id").fetchall()
        assert kinds == [("passphrase", "张三"), ("recovery", None)]
        assert scan(home, wanted) == []
        assert scan(replica, wanted) == []
        assert scan(tmp_path / "county", wanted) == []
        # The scan can see: the slot's bytes are in this process, and a file holding them shows.
        (tmp_path / "probe").write_bytes(b"x" + wanted["wrapped base64"] + b"y")
        # (A base64 without "+" or "/" holds its base64url, which drops the padding: then
        # both names see the probe.)
        same = [n for n in ("wrapped base64url",) if wanted[n] in wanted["wrapped base64"]]
        assert scan(tmp_path, wanted) == ["wrapped base64", *same]
    finally:
        store.close()
        hub.stop()


def test_after_a_lock_the_kiosk_asks_for_the_pin_and_falls_back_to_the_passphrase(
        store: Store) -> None:
    """Pilot at 80x24: passphrase + a guessable PIN (refused, still locked), passphrase + a
    good PIN, Ctrl+L, a wrong PIN, the right PIN, Ctrl+L, Ctrl+P back to the passphrase."""
    store.lock()
    app = make_app(store)

    def error() -> str:
        return str(app.screen.query_one("#unlock-error", Label).render())

    def type_into(field: str, value: str) -> None:
        app.screen.query_one(field, Input).value = value

    async def scenario(pilot) -> None:  # type: ignore[no-untyped-def]
        await until(pilot, lambda: isinstance(app.screen, UnlockScreen))
        assert not app.screen.query("#pin")  # no PIN yet: the passphrase form
        type_into("#passphrase", PASSPHRASE)
        type_into("#new-pin", "123456")
        await pilot.press("enter")
        await until(pilot, lambda: "字段 pin" in error())  # the field and the rule, in Chinese
        assert "容易猜到" in error() and not store.unlocked
        type_into("#passphrase", PASSPHRASE)
        app.screen.query_one("#new-pin", Input).focus()
        for digit in PIN:
            await pilot.press(digit)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert store.pin_clerk() == "张三"
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, UnlockScreen))
        assert not store.unlocked
        assert str(app.screen.query_one("#pin-label", Label).render()) == "张三 的班次密码"
        assert app.screen.query_one("#pin", Input).has_focus
        for digit in "135792":
            await pilot.press(digit)
        await pilot.press("enter")
        await until(pilot, lambda: "还可再试 2 次" in error())
        assert not store.unlocked and app.screen.query_one("#pin", Input).value == ""
        for digit in PIN:
            await pilot.press(digit)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert store.unlocked and store.clerk == "张三"
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, UnlockScreen))
        await pilot.press("ctrl+p")
        await until(pilot, lambda: bool(app.screen.query("#passphrase")))
        assert app.screen.query_one("#passphrase", Input).has_focus
        assert store.pin_clerk() == "张三"  # only a passphrase unlock voids it

    run(app, scenario)  # tests/test_tui.run: the app at SIZE, 80x24
