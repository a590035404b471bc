"""What a stolen box holds: no personal data in clear, and sealed values that cannot be moved."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest

from station import synthetic
from station.store import DB_FILE, Store
from sync.errors import TamperedError

from .conftest import GRID


def scan_for_clear_values(home: Path, values: list[str]) -> list[str]:
    """Every value found in clear (UTF-8) in any file under the station home."""
    blobs = [p.read_bytes() for p in home.rglob("*") if p.is_file()]
    return [v for v in values if any(v.encode("utf-8") in blob for blob in blobs)]


def test_no_name_id_number_or_phone_of_1000_people_is_on_disk_in_clear(store: Store) -> None:
    people = list(synthetic.people(1000, [GRID], seed=7))
    store.add_many("person", people)
    # Keep the WAL (and -shm) in place: the scan must cover them, not just the main file.
    files = {p.name for p in store.home.iterdir()}
    assert {"station.db", "station.db-wal", "station.db-shm"} <= files
    secrets = [p[k] for p in people for k in ("name", "id_number", "phone", "address")]
    assert scan_for_clear_values(store.home, secrets) == []
    # The scan itself can see a clear value: a grid code is stored clear on purpose.
    assert scan_for_clear_values(store.home, [GRID]) == [GRID]


def sealed_of(store: Store, record_id: str) -> dict[str, str]:
    row = store.conn.execute("SELECT sealed FROM records WHERE id = ?", (record_id,)).fetchone()
    return dict(json.loads(row[0]))


def put_sealed(store: Store, record_id: str, sealed: dict[str, str]) -> None:
    """Change the file behind the store's back, as someone holding the disk could."""
    with sqlite3.connect(store.home / DB_FILE) as conn:
        conn.execute("UPDATE records SET sealed = ? WHERE id = ?", (json.dumps(sealed), record_id))


def test_one_flipped_byte_fails_that_record_loudly_and_the_rest_still_open(store: Store) -> None:
    ids = store.add_many("person", list(synthetic.people(3, [GRID], seed=1)))
    sealed = sealed_of(store, ids[1])
    blob = bytearray(base64.b64decode(sealed["name"]))
    blob[20] ^= 0x01
    sealed["name"] = base64.b64encode(bytes(blob)).decode()
    put_sealed(store, ids[1], sealed)
    with pytest.raises(TamperedError, match=f"{ids[1]} / person / name"):
        store.get("person", ids[1])
    assert store.get("person", ids[0])["fields"]["name"]
    assert store.get("person", ids[2])["fields"]["name"]
    failed: list[str] = []
    exported = list(store.export("person", on_error=lambda rid, exc: failed.append(rid)))
    assert failed == [ids[1]]
    assert [r["id"] for r in exported] == [ids[0], ids[2]]


@pytest.mark.parametrize("part", ["version", "nonce", "ciphertext", "tag"])
def test_a_flipped_bit_in_any_part_of_a_sealed_value_is_detected(store: Store, part: str) -> None:
    record_id = store.add("person", next(synthetic.people(1, [GRID])))
    sealed = sealed_of(store, record_id)
    blob = bytearray(base64.b64decode(sealed["phone"]))
    position = {"version": 0, "nonce": 5, "ciphertext": 14, "tag": len(blob) - 1}[part]
    blob[position] ^= 0x80
    sealed["phone"] = base64.b64encode(bytes(blob)).decode()
    put_sealed(store, record_id, sealed)
    with pytest.raises(TamperedError):
        store.get("person", record_id)


def test_a_sealed_name_copied_into_another_record_fails_to_open(store: Store) -> None:
    a, b = store.add_many("person", list(synthetic.people(2, [GRID], seed=3)))
    sealed_b = sealed_of(store, b)
    sealed_b["name"] = sealed_of(store, a)["name"]
    put_sealed(store, b, sealed_b)
    with pytest.raises(TamperedError, match=f"{b} / person / name"):
        store.get("person", b)
    assert store.get("person", a)["fields"]["name"]


def test_a_sealed_value_moved_to_another_field_of_the_same_record_fails(store: Store) -> None:
    record_id = store.add("person", next(synthetic.people(1, [GRID], seed=4)))
    sealed = sealed_of(store, record_id)
    sealed["address"] = sealed["name"]
    put_sealed(store, record_id, sealed)
    with pytest.raises(TamperedError, match="address"):
        store.get("person", record_id)


def test_every_seal_is_counted_for_key_rotation(store: Store) -> None:
    before = store.status()["seal_count"]
    store.add("person", {"name": "赵六", "id_number": "440524188001010014", "grid": GRID,
                         "phone": "13800138000"})
    # name, id_number, phone, birth date and sex (derived from the ID number) are all sealed
    assert store.status()["seal_count"] - before == 5
