"""Schema bundles reaching stations: applied whole or refused whole, renames that move data,
stations several versions behind, and data never applied before the bundle it needs."""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station import synthetic
from station.conflicts import Conflicts
from station.schema_updates import apply_bundle
from station.store import Store
from station.syncer import client_for, pull
from sync.bundle import BundleError, sign_bundle
from sync.errors import ValidationError
from sync.hub import county
from sync.protocol import PushBatch, WireChange

from .conftest import GRID, PASSPHRASE, Cli
from .hubserver import HubServer
from .test_sync_e2e import county_cli, enroll, station

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "bundles"
LIVING, AREA, FIRE = sorted(EXAMPLES.glob("*.json"))
PERSON = {"name": "李四", "id_number": "11010519491231002X", "grid": GRID}
# Other people, one ID number each: a register holds one person per number.
OTHERS = [p["id_number"] for p in synthetic.people(300, [GRID], seed=31)]
KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def county_store(store: Store) -> Store:
    """A store that trusts KEY as the county's signing key, as enrollment would set it."""
    with store.atomic() as writes:
        writes.put_settings(county_signing_key=base64.b64encode(
            KEY.public_key().public_bytes_raw()).decode())
    return store


def signed(path: Path) -> tuple[bytes, str]:
    body = path.read_bytes()
    return body, sign_bundle(KEY, body)


def bundle(version: int, *ops: dict[str, Any]) -> bytes:
    return json.dumps({"format": 1, "version": version, "name": "t", "summary_zh": "测试",
                       "summary_en": "test", "operations": list(ops)}).encode()


def test_an_added_field_is_accepted_validated_and_shown_with_no_code_change(
        county_store: Store) -> None:
    store = county_store
    before = store.add("person", PERSON)
    apply_bundle(store, *signed(LIVING))
    assert store.schema.version == 2 and store.status()["schema_version"] == 2
    rid = store.add("person", {**PERSON, "name": "王五", "id_number": OTHERS[0], "living_alone": "是"})
    assert store.get("person", rid)["fields"]["living_alone"] is True
    assert "living_alone" not in store.get("person", before)["fields"]  # old records untouched
    with pytest.raises(ValidationError) as err:
        store.add("person", {**PERSON, "living_alone": "也许"})
    assert "living_alone" in str(err.value)
    versions = store.conn.execute("SELECT version, source FROM schema_versions ORDER BY version")
    assert list(versions) == [(1, "schema.sql"), (2, "person-living-alone")]


def test_a_new_entity_and_code_table_arrive_as_forms(county_store: Store) -> None:
    store = county_store
    for path in (LIVING, AREA, FIRE):
        apply_bundle(store, *signed(path))
    building = store.add("building", {"address": "人民路1号", "grid": GRID, "floors": 6, "use": "01"})
    check = store.add("fire_check", {"building": building, "grid": GRID, "checked_on": "2026-11-20",
                                     "result": "2", "inspector": "赵六"})
    assert store.get("fire_check", check)["fields"]["result"] == "2"
    with pytest.raises(ValidationError) as err:
        store.add("fire_check", {"building": building, "grid": GRID, "checked_on": "2026-11-20",
                                 "result": "9"})
    assert "result" in str(err.value) and "code_table" in str(err.value)
    with pytest.raises(ValidationError) as err:  # deprecated: hidden from new entry
        store.add("person", {**PERSON, "former_name": "李三"})
    assert "deprecated" in str(err.value)


def refused(store: Store, body: bytes, signature: str, where: str) -> None:
    with pytest.raises(BundleError) as err:
        apply_bundle(store, body, signature)
    assert err.value.where.startswith(where), err.value
    assert store.schema.version == 1  # nothing changed, and the store still works
    someone = {**PERSON, "id_number": OTHERS[store.count("person")]}  # a new person each time
    assert store.get("person", store.add("person", someone))["fields"]["name"] == "李四"


def test_bad_bundles_are_refused_whole_and_the_station_keeps_working(county_store: Store) -> None:
    body, signature = signed(LIVING)
    refused(county_store, body, sign_bundle(Ed25519PrivateKey.generate(), body), "signature")
    refused(county_store, body.replace(b"false", b"true", 1), signature, "signature")  # tampered
    refused(county_store, body, "", "signature")  # unsigned
    refused(county_store, *signed(AREA), "version")  # a gap: 3 after 1
    drop = bundle(2, {"op": "set_labels", "entity": "house", "label_zh": "房屋"},
                  {"op": "drop_field", "entity": "person", "field": "notes"})
    refused(county_store, drop, sign_bundle(KEY, drop), "operations[1] drop_field")
    unknown = bundle(2, {"op": "merge_entities", "entity": "house"})
    refused(county_store, unknown, sign_bundle(KEY, unknown), "operations[0]")
    refused(county_store, b"{not json", sign_bundle(KEY, b"{not json"), "bundle")


def test_a_rename_moves_the_data_of_every_record_and_its_conflicts(county_store: Store) -> None:
    store = county_store
    building = store.add("building", {"address": "人民路1号", "grid": GRID, "floors": 6, "use": "01"})
    house = store.add("house", {"building": building, "room": "302", "grid": GRID, "use": "01",
                                "area": 86.5, "owner": "李四"})
    store.update("house", house, {"area": 90})
    apply_bundle(store, *signed(LIVING))
    apply_bundle(store, *signed(AREA))
    fields = store.get("house", house)["fields"]
    assert fields["floor_area"] == 90 and "area" not in fields and fields["owner"] == "李四"
    store.update("house", house, {"floor_area": 95})
    assert store.get("house", house)["fields"]["floor_area"] == 95
    assert Conflicts(store).list() == []
    with pytest.raises(ValidationError):
        store.update("house", house, {"area": 1})  # the old name is gone from forms


def test_adding_a_field_rewrites_no_record(county_store: Store) -> None:
    """Not a timing (that is bench/bench_schema.py): the bundle writes a few definition rows
    and its version, whatever the number of records, and leaves every record as it was."""
    store = county_store
    store.add_many("person", [{**PERSON, "name": f"李{i}", "id_number": OTHERS[i]} for i in range(300)])
    snapshot = "SELECT id, clear, sealed, clocks, state FROM records ORDER BY id"
    before = store.conn.execute(snapshot).fetchall()
    tables_before = _every_row(store)
    apply_bundle(store, *signed(LIVING))
    tables_after = _every_row(store)
    moved = {t: len(tables_before[t] ^ tables_after[t]) for t in tables_after}
    assert sum(moved.values()) <= 10  # a few definition rows and the version
    assert set(tables_after) - {t for t, n in moved.items() if n == 0} <= {
        "schema_fields", "schema_versions"}
    assert store.conn.execute(snapshot).fetchall() == before


def _every_row(store: Store) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every table of the store's file, read apart from the store."""
    with sqlite3.connect(store.home / "station.db") as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: set(conn.execute(f'SELECT * FROM "{t}"')) for t in tables}


# ------------------------------------------------------------------ through the hub


def publish(hub: HubServer, *paths: Path) -> None:
    for path in paths:
        county_cli(hub.home, "schema", "push", str(path))


def test_a_station_three_versions_behind_lands_its_old_edits_in_the_renamed_field(
        cli: Cli, hub: HubServer, tmp_path: Path) -> None:
    enroll(cli, hub)
    other = station(tmp_path, "b", hub)
    building = cli("add", "building", "--json", json.dumps(
        {"address": "人民路1号", "grid": GRID, "floors": 6, "use": "01"}, ensure_ascii=False)).stdout.strip()
    house = cli("add", "house", "--json", json.dumps(
        {"building": building, "room": "302", "grid": GRID, "use": "01", "area": 86.5})).stdout.strip()
    cli("update", "house", house, "--json", '{"area": 88}')  # made under version 1, not synced
    publish(hub, LIVING, AREA, FIRE)
    listed = [json.loads(x) for x in county_cli(hub.home, "schema", "list").splitlines()]
    assert [r["version"] for r in listed] == [1, 2, 3, 4, None]  # None: not reported yet
    assert listed[-1]["stations"] == 2 and listed[3]["name"] == "fire-safety-check"

    # The hub upcasts a version-1 change it receives directly, too.
    store = Store.open(cli.env["STATION_HOME"])
    store.unlock(PASSPHRASE)
    (old,) = [c for c in store.changes() if c.op == "update"]
    assert old.schema_version == 1
    store.close()

    result = cli.json("sync")
    assert result["pending"] == 0 and result["rejected"] == 0
    assert cli.json("status", "--json")["schema_version"] == 4
    assert cli.json("get", "house", house)["fields"]["floor_area"] == 88
    exported = [json.loads(x) for x in county_cli(hub.home, "export", "house").splitlines()]
    assert exported[0]["fields"]["floor_area"] == 88 and "area" not in exported[0]["fields"]
    other("sync")
    assert other.json("get", "house", house)["fields"]["floor_area"] == 88
    assert other("export").stdout == cli("export").stdout == county_cli(hub.home, "export")
    versions = {row["version"]: row["stations"]
                for row in map(json.loads, county_cli(hub.home, "schema", "list").splitlines())}
    assert versions[4] == 2 and versions[1] == 0


def test_the_hub_never_refuses_a_change_for_being_old(sqlite_hub: HubServer) -> None:
    hub = county.open_hub(sqlite_hub.home)
    key = Ed25519PrivateKey.from_private_bytes((sqlite_hub.home / "signing.key").read_bytes())
    for path in (LIVING, AREA):
        hub.publish(path.read_bytes(), key)
    code = hub.add_enrollment("440524001", [])
    station_key = Ed25519PrivateKey.generate()
    st = hub.enroll(code, "stold", base64.b64encode(station_key.public_key().public_bytes_raw()).decode())
    record = "01a224be-898f-709d-9d8d-22528afa74a9"
    change = WireChange("stold", 1, record, "house", "add", GRID,
                        {"building": "01a224be-898f-709d-9d8d-22528afa74a8", "room": "1",
                         "grid": GRID, "use": "01", "area": 50},
                        f"{hub.clock.wall_ms():015d}.000000.stold", {}, 1)
    (result,) = hub.push(st, PushBatch("stold", (change,)))
    assert result.receipt, result.rejected
    (house,) = hub.export("house")
    assert house["fields"]["floor_area"] == 50 and "area" not in house["fields"]


def test_data_that_needs_a_newer_schema_is_never_applied_before_its_bundle(
        cli: Cli, hub: HubServer, tmp_path: Path) -> None:
    enroll(cli, hub)
    behind = station(tmp_path, "b", hub)
    publish(hub, LIVING)
    cli("sync")  # now at version 2
    rid = cli("add", "person", "--json", json.dumps({**PERSON, "living_alone": True},
                                                    ensure_ascii=False)).stdout.strip()
    cli("sync")
    home = Path(behind.env["STATION_HOME"])
    # The station cannot check the county's signature (its key was swapped): the bundle is
    # refused, and so is the page that needs it.
    conn = sqlite3.connect(home / "station.db")
    conn.execute("UPDATE settings SET value = ? WHERE key = 'county_signing_key'",
                 (base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode(),))
    conn.commit()
    conn.close()
    store = Store.open(home)
    store.unlock(PASSPHRASE)
    with pytest.raises(BundleError):
        pull(store, client_for(store))
    assert store.schema.version == 1 and store.settings().get("pull_cursor") in (None, "0")
    assert list(store.export()) == []
    store.close()
    assert "signature" in behind("sync", ok=False).stderr
    assert behind.json("status", "--json")["schema_version"] == 1
    assert rid not in behind("export").stdout
    assert behind("add", "person", "--json", json.dumps(PERSON, ensure_ascii=False)).stdout.strip()


def test_a_value_of_a_field_not_known_yet_is_kept_and_shown_once_its_bundle_arrives(
        county_store: Store) -> None:
    store = county_store
    rid = "01a224be-898f-709d-9d8d-22528afa74b1"
    with store.atomic() as writes:
        writes.apply_remote(WireChange("elsewhere", 1, rid, "person", "add", GRID,
                                       {**PERSON, "living_alone": True},
                                       f"{store.clock.wall_ms():015d}.000000.elsewhere", {}, 2))
    row = store.conn.execute("SELECT clear, sealed FROM records WHERE id = ?", (rid,)).fetchone()
    assert "living_alone" in json.loads(row[1])  # kept, sealed as every unknown field
    apply_bundle(store, *signed(LIVING))
    assert store.get("person", rid)["fields"]["living_alone"] is True


def test_county_it_is_told_which_operation_of_a_bundle_is_refused_and_why(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    bad = tmp_path / "drop.json"
    bad.write_bytes(bundle(2, {"op": "add_field", "entity": "person", "field": {
        "name": "x", "type": "text", "label_zh": "x", "label_en": "x"}},
        {"op": "drop_field", "entity": "person", "field": "notes"}))
    result = subprocess.run([str(Path(sys.executable).with_name("county")), "--home",
                             str(sqlite_hub.home), "schema", "push", str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "operations[1] drop_field" in result.stderr and "lose data" in result.stderr
    listed = [json.loads(x) for x in county_cli(sqlite_hub.home, "schema", "list").splitlines()]
    assert [r["version"] for r in listed] == [1]  # nothing published
