"""The hub's storage: one suite, run on the embedded SQLite and on real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sync.hub.storage import StationRow, Storage, StoredChange, Tx, open_storage

NOW = "2026-11-28T04:00:00+00:00"
HERE = StationRow("st-a", "440524001", (), "key-a", None)
OTHER_TOWNSHIP = StationRow("st-c", "440524002", (), "key-c", None)
ONE_GRID = StationRow("st-d", "440524001", ("440524001002",), "key-d", None)


@pytest.fixture
def storage(hub_database: str) -> Iterator[Storage]:
    store = open_storage(hub_database)
    store.migrate()
    store.migrate()  # idempotent
    yield store
    store.close()


def insert(tx: Tx, c: StoredChange, prev_grid: str | None = None) -> int:
    return tx.insert_changes([(c, prev_grid)], NOW)[0]


def change(station: str, seq: int, grid: str = "440524001001", record: str = "r1") -> StoredChange:
    return StoredChange(0, station, seq, record, "person", "add", grid, "{}",
                        f"{seq:015d}.000000.a", "{}", 1)


def test_an_enrollment_code_works_once(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.add_enrollment("hash-1", "440524001", ["440524001001"], NOW)
    with storage.transaction() as tx:
        assert tx.take_enrollment("hash-1", "st-a") == ("440524001", ("440524001001",), None)
        assert tx.take_enrollment("hash-1", "st-b") is None
        assert tx.take_enrollment("unknown", "st-b") is None


def test_stations_can_be_added_found_and_revoked(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.add_station(HERE, NOW)
    with storage.transaction() as tx:
        assert tx.station("st-a") == HERE
        assert tx.revoke("st-a", NOW) and not tx.revoke("st-a", NOW)
        found = tx.station("st-a")
        assert found is not None and found.revoked_at == NOW
        assert tx.station("nobody") is None


def test_a_stations_protocol_and_software_versions_are_kept(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.add_station(HERE, NOW)
        tx.add_station(OTHER_TOWNSHIP, NOW)
    with storage.transaction() as tx:
        assert (tx.station("st-a").protocol_version, tx.station("st-a").software_version) == (None, None)
        tx.note_versions("st-a", 1, None)
        tx.note_versions("st-c", 2, "0.2.0")
    with storage.transaction() as tx:
        assert tx.station("st-c") == StationRow("st-c", "440524002", (), "key-c", None, 2, "0.2.0")
        listed = {r["id"]: (r["protocol_version"], r["software_version"]) for r in tx.stations()}
    assert listed == {"st-a": (1, None), "st-c": (2, "0.2.0")}


def test_a_nonce_is_accepted_once_and_forgotten_after_the_window(storage: Storage) -> None:
    with storage.transaction() as tx:
        assert tx.remember_nonce("st-a", "n1", 1_000, forget_before_ms=0)
        assert not tx.remember_nonce("st-a", "n1", 1_000, forget_before_ms=0)
        assert tx.remember_nonce("st-b", "n1", 1_000, forget_before_ms=0)
        assert tx.remember_nonce("st-a", "n1", 9_000, forget_before_ms=5_000)


def test_a_change_is_stored_once_per_station_sequence(storage: Storage) -> None:
    with storage.transaction(push=True) as tx:
        first = insert(tx, change("st-a", 1))
        second, third = tx.insert_changes([(change("st-a", 5), None), (change("st-a", 9), None)], NOW)
    assert (second, third) == (first + 1, first + 2)
    with storage.transaction(push=True) as tx:
        assert tx.receipts_of("st-a", [1, 2, 9]) == {1: first, 9: third}
        assert tx.receipts_of("st-b", [1]) == {}
        assert tx.receipts_of("st-a", []) == {}
    with pytest.raises(Exception), storage.transaction(push=True) as tx:  # noqa: B017
        insert(tx, change("st-a", 1))
    with storage.transaction() as tx:
        assert tx.last_seq() == third


def test_pull_returns_the_scope_in_order_without_the_stations_own(storage: Storage) -> None:
    with storage.transaction(push=True) as tx:
        insert(tx, change("st-a", 1, "440524001001"))
        insert(tx, change("st-b", 1, "440524001002"))
        insert(tx, change("st-b", 2, "440524002001"))
        insert(tx, change("st-b", 3, "440524001001"))
    with storage.transaction() as tx:
        mine = tx.changes_since(0, HERE, 10)
        assert [(c.station, c.station_seq) for c in mine] == [("st-b", 1), ("st-b", 3)]
        assert [c.hub_seq for c in mine] == sorted(c.hub_seq for c in mine)
        assert [(c.station, c.station_seq) for c in tx.changes_since(0, OTHER_TOWNSHIP, 10)] == [
            ("st-b", 2)]
        assert [(c.station, c.station_seq) for c in tx.changes_since(0, ONE_GRID, 10)] == [("st-b", 1)]
        assert [c.station_seq for c in tx.changes_since(mine[0].hub_seq, HERE, 10)] == [3]
        assert len(tx.changes_since(0, HERE, 1)) == 1


def test_records_are_upserted(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.put_records([("r1", "person", "440524001001", '{"v": 1}', False, "h1"),
                        ("r3", "house", None, '{"v": 3}', False, "h3")])
        tx.put_records([("r1", "person", "440524001001", '{"v": 2}', True, "h2")])
    with storage.transaction() as tx:
        assert tx.records_by_id(["r1", "r2", "r3"]) == {
            "r1": ("person", "440524001001", '{"v": 2}', 1, "h2"),
            "r3": ("house", None, '{"v": 3}', 0, "h3")}
        assert tx.records_by_id([f"x{i}" for i in range(1200)]) == {}


def test_concurrent_pushes_from_many_workers_lose_nothing_and_double_nothing(
        storage: Storage) -> None:
    """Several hub workers (threads with their own connections) push the same batches."""
    def worker() -> None:
        for seq in range(1, 31):
            with storage.transaction(push=True) as tx:
                if not tx.receipts_of("st-a", [seq]):
                    insert(tx, change("st-a", seq, record=f"r{seq}"))
        storage.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with storage.transaction() as tx:
        got = tx.changes_since(0, StationRow("reader", "440524001", (), "k", None), 1000)
    assert sorted(c.station_seq for c in got) == list(range(1, 31))
    assert [c.hub_seq for c in got] == sorted(c.hub_seq for c in got)
