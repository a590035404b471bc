"""Reveals of masked personal values, as county IT and the audit read them: `station
reveals` (Beijing time for a person, JSON lines for a script) and the `mask_names` setting a
clerk changes with `station settings`. (The kiosk's side: test_tui_masking.)"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from station.store import Store

from .conftest import GRID, PASSPHRASE, Cli


def test_station_reveals_lists_who_revealed_which_field_and_mask_names_is_a_setting(
        cli: Cli) -> None:
    rid = cli("add", "person", "--json", json.dumps(
        {"name": "陈建华", "id_number": "440524198803152312", "grid": GRID},
        ensure_ascii=False)).stdout.strip()
    assert cli("reveals", "--json").stdout == ""
    with Store.open(Path(cli.env["STATION_HOME"])) as store:
        store.unlock(PASSPHRASE)
        assert store.reveal("person", rid, "id_number") == "440524198803152312"
    (row,) = [json.loads(line) for line in cli("reveals", "--json").stdout.splitlines()]
    assert (row["clerk"], row["record"], row["entity"], row["field"]) == (
        "张三", rid, "person", "id_number")
    assert row["at"].endswith("+00:00")  # JSON keeps ISO 8601 with its offset
    human = cli("reveals").stdout
    assert "张三" in human and rid in human and "公民身份号码" in human
    beijing = datetime.fromisoformat(row["at"]).astimezone(timezone(timedelta(hours=8)))
    assert beijing.strftime("%Y-%m-%d %H:%M:%S") in human
    assert "440524198803152312" not in human + json.dumps(row)  # the value is never listed

    settings = {s["key"]: s for s in map(json.loads, cli("settings", "list").stdout.splitlines())}
    assert settings["mask_names"]["value"] == "1"  # on until a clerk turns it off
    assert "mask_names" in cli("settings", "set", "mask_names", "2", ok=False).stderr
    cli("settings", "set", "mask_names", "0")
    with Store.open(Path(cli.env["STATION_HOME"])) as store:
        assert store.mask_names is False
