"""Hub storage versions on both engines: each step on its own, a database newer than the hub
refused (by `county serve` too, in one line), a failed step rolled back, the copy beside an
embedded database, and of several workers on one PostgreSQL exactly one migrating."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sync.errors import MigrationFailed, StorageTooNew
from sync.hub import county
from sync.hub.storage import open_storage
from sync.hub.storage.migrations import LATEST, STEPS
from sync.hub.storage.postgres import MIGRATE_LOCK

COUNTY = str(Path(sys.executable).with_name("county"))
ALL_STEPS = [s.number for s in STEPS]
NUMBERS = ALL_STEPS


def after(n: int) -> list[int]:
    return [number for number in NUMBERS if number > n]

# The hub's tables as releases up to 0.1.0 made them before schema bundles, moves out of
# scope and conflict views (from `git log -p` of the hub's storage): no version recorded.
OLD_HUB = [
    "CREATE TABLE hub_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE stations (id TEXT PRIMARY KEY, township TEXT NOT NULL, grids TEXT NOT NULL,"
    " public_key TEXT NOT NULL, enrolled_at TEXT NOT NULL, revoked_at TEXT, last_seen TEXT)",
    "CREATE TABLE changes (hub_seq {serial} PRIMARY KEY, station TEXT NOT NULL,"
    " station_seq BIGINT NOT NULL, record TEXT NOT NULL, entity TEXT NOT NULL, op TEXT NOT NULL,"
    " grid TEXT, fields TEXT NOT NULL, hlc TEXT NOT NULL, base TEXT NOT NULL,"
    " schema_version INTEGER NOT NULL, received_at TEXT NOT NULL, UNIQUE (station, station_seq))",
    "INSERT INTO hub_settings VALUES ('hub_id', 'h1')",
    "INSERT INTO stations VALUES ('s1', '440524001', '[]', 'pk', '2026-11-29', NULL, NULL)",
    "INSERT INTO changes (station, station_seq, record, entity, op, grid, fields, hlc, base,"
    " schema_version, received_at) VALUES ('s1', 1, 'r1', 'grid', 'add', '440524001001', '{}',"
    " 'c1', '{}', 1, '2026-11-29')",
]


class Raw:
    """The hub's database reached directly, not through the code under test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite:///")

    def run(self, *statements: str) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        serial = "INTEGER" if self.sqlite else "BIGSERIAL"
        if self.sqlite:
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as conn:
                for sql in statements:
                    rows = conn.execute(sql.replace("{serial}", serial)).fetchall()
            return rows
        with psycopg.connect(self.url, autocommit=True) as conn:
            for sql in statements:
                cursor = conn.execute(sql.replace("{serial}", serial).encode())
                rows = cursor.fetchall() if cursor.description else []
        return rows

    def version(self) -> str | None:
        found = self.run("SELECT value FROM hub_settings WHERE key = 'storage_version'")
        return found[0][0] if found else None


@pytest.fixture
def raw(hub_database: str) -> Raw:
    return Raw(hub_database)


def undo_step_7(raw: Raw) -> None:
    """Take out what steps 7 and after add, as a database from before them has none of it."""
    raw.run("ALTER TABLE stations DROP COLUMN wipe", "ALTER TABLE enrollments DROP COLUMN replaces",
            "DROP TABLE station_audit")


def migrate(url: str) -> list[int]:
    storage = open_storage(url)
    try:
        return storage.migrate()
    finally:
        storage.close()


def test_a_new_database_is_made_at_the_latest_version_and_migrates_once(raw: Raw) -> None:
    assert migrate(raw.url) == ALL_STEPS
    assert raw.version() == str(ALL_STEPS[-1]) == str(LATEST)
    assert migrate(raw.url) == []  # the second start finds it current
    assert raw.run("SELECT count(*) FROM stations") == [(0,)]


def test_step_1_brings_a_0_1_0_hub_to_every_table_and_column_keeping_its_rows(raw: Raw) -> None:
    raw.run(*OLD_HUB)
    assert migrate(raw.url) == ALL_STEPS
    assert raw.run("SELECT id, schema_version FROM stations") == [("s1", None)]
    assert raw.run("SELECT record, prev_grid, was FROM changes") == [("r1", None, "")]
    assert raw.run("SELECT value FROM hub_settings WHERE key = 'hub_id'") == [("h1",)]
    for table in ("blobs", "blob_chunks", "bundles", "accounts", "web_sessions", "station_reports"):
        assert raw.run(f"SELECT count(*) FROM {table}") == [(0,)]
    storage = open_storage(raw.url)  # the hub's own queries run on it
    with storage.transaction() as tx:
        assert [(s["id"], s["changes"]) for s in tx.stations()] == [("s1", 1)]
    storage.close()


def test_step_2_adds_the_stations_protocol_and_software_versions(raw: Raw) -> None:
    from sync.hub.storage.base import SCHEMA

    serial, blob = ("INTEGER", "BLOB") if raw.sqlite else ("BIGSERIAL", "BYTEA")
    schema = SCHEMA.format(serial=serial, blob=blob)
    raw.run(*[s for s in schema.split(";") if s.strip()],
            "INSERT INTO hub_settings VALUES ('storage_version', '1')",
            "INSERT INTO stations (id, township, grids, public_key, enrolled_at)"
            " VALUES ('s1', '440524001', '[]', 'pk', '2026-11-29')")
    assert migrate(raw.url) == [n for n in ALL_STEPS if n > 1]
    assert raw.run("SELECT id, protocol_version, software_version FROM stations") == [("s1", None, None)]
    raw.run("UPDATE stations SET protocol_version = 2, software_version = '0.2.0'")
    assert raw.run("SELECT protocol_version, software_version FROM stations") == [(2, "0.2.0")]


# What each step after the baseline added, as the SQL itself (not the code under test).
STEP_SQL = {
    2: ["ALTER TABLE stations ADD COLUMN protocol_version INTEGER",
        "ALTER TABLE stations ADD COLUMN software_version TEXT"],
    3: ["ALTER TABLE changes ADD COLUMN seen TEXT",
        "ALTER TABLE changes ADD COLUMN author TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE stations ADD COLUMN scope_version INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE stations ADD COLUMN prior_grids TEXT"],
}


def at_version(raw: Raw, version: int, *statements: str) -> None:
    """A database at storage `version` as the release that made it left it, then `statements`."""
    from sync.hub.storage.base import SCHEMA

    serial, blob = ("INTEGER", "BLOB") if raw.sqlite else ("BIGSERIAL", "BYTEA")
    raw.run(*[s for s in SCHEMA.format(serial=serial, blob=blob).split(";") if s.strip()],
            f"INSERT INTO hub_settings VALUES ('storage_version', '{version}')",
            *[sql for step in range(2, version + 1) for sql in STEP_SQL[step]], *statements)


def test_step_3_gives_changes_a_causal_context_and_keeps_old_ones_legacy(raw: Raw) -> None:
    at_version(raw, 2,
               "INSERT INTO changes (hub_seq, station, station_seq, record, entity, op, grid, fields,"
               " hlc, base, schema_version, received_at) VALUES (1, 's1', 1, 'r', 'person', 'add',"
               " NULL, 'f', '000000000000001.000000.s1', '{}', 1, '2026-11-29')")
    assert migrate(raw.url) == [n for n in ALL_STEPS if n > 2]
    # A change stored before contexts has none: the merge reads it as a legacy version.
    assert raw.run("SELECT hub_seq, seen FROM changes") == [(1, None)]


def test_step_4_makes_every_account_of_before_roles_an_admin(raw: Raw) -> None:
    at_version(raw, 3,
               "INSERT INTO accounts VALUES ('it', 'argon2id$x', '2026-11-29T00:00:00+00:00')",
               "INSERT INTO accounts VALUES ('王工', 'argon2id$y', '2026-11-30T00:00:00+00:00')",
               "INSERT INTO web_sessions VALUES ('tokenhash', 'it', 'csrf', 99999999999999)")
    assert migrate(raw.url) == [n for n in ALL_STEPS if n > 3]
    # County IT who set the hub up keep every power they had, and their open session.
    assert raw.run("SELECT name, role FROM accounts ORDER BY name") == [("it", "admin"), ("王工", "admin")]
    storage = open_storage(raw.url)
    with storage.transaction() as tx:
        assert tx.session("tokenhash", 0) == ("it", "csrf", "admin")
    storage.close()
    for table in ("login_failures", "audit"):
        assert raw.run(f"SELECT count(*) FROM {table}") == [(0,)]
    # A row written without a role gets the lesser one.
    raw.run("INSERT INTO accounts (name, password, created_at) VALUES ('new', 'h', 'now')")
    assert raw.run("SELECT role FROM accounts WHERE name = 'new'") == [("viewer",)]


def test_step_5_gives_stations_a_name_a_clock_offset_and_a_backup_report(raw: Raw) -> None:
    """A station enrolled before names travelled keeps its row and reads as "not told" (NULL)
    in every new column until it next calls; the columns then take what it says."""
    assert 5 in NUMBERS
    migrate(raw.url)
    raw.run("INSERT INTO stations (id, township, grids, public_key, enrolled_at)"
            " VALUES ('s1', '440524001', '[]', 'pk', '2026-11-29')",
            "INSERT INTO station_reports (station, pending, rejected, pull_cursor, reported_at)"
            " VALUES ('s1', 2, 0, 7, '2026-11-29')")
    # Undo step 5 by hand (as a database at the step before it has them: no such columns),
    # then run it again from there.
    before = max(n for n in NUMBERS if n < 5)
    for table, column in (("stations", "name"), ("stations", "clock_offset_ms"),
                          ("stations", "clock_seen_at"), ("station_reports", "backup_ms"),
                          ("station_reports", "backup_behind")):
        raw.run(f"ALTER TABLE {table} DROP COLUMN {column}")
    # And every later step's tables, which the steps after 5 make again.
    for table in ("record_facts", "case_facts", "case_marks", "figure_counts", "key_counts"):
        raw.run(f"DROP TABLE {table}")
    undo_step_7(raw)
    raw.run(f"UPDATE hub_settings SET value = '{before}' WHERE key = 'storage_version'")
    assert migrate(raw.url) == after(before)
    assert raw.run("SELECT id, name, clock_offset_ms, clock_seen_at FROM stations") == [
        ("s1", None, None, None)]
    assert raw.run("SELECT pending, pull_cursor, backup_ms, backup_behind FROM station_reports") == [
        (2, 7, None, None)]
    storage = open_storage(raw.url)  # the hub's own statements on the migrated tables
    try:
        with storage.transaction() as tx:
            tx.note_name("s1", "城关镇综治中心")
            tx.note_clock("s1", -4200, "2026-12-01T00:00:00+00:00")
            tx.report_outbox("s1", None, None, 9, "2026-12-01T00:00:00+00:00", (1764547200000, 3))
            (row,) = tx.stations()
    finally:
        storage.close()
    assert (row["name"], row["clock_offset_ms"], row["pending"], row["pull_cursor"],
            row["backup_ms"], row["backup_behind"]) == ("城关镇综治中心", -4200, 2, 9, 1764547200000, 3)


def test_a_failed_step_is_rolled_back_whole(raw: Raw) -> None:
    raw.run(*OLD_HUB, "ALTER TABLE stations ADD COLUMN protocol_version INTEGER")  # step 2 will clash
    with pytest.raises(MigrationFailed) as caught:
        migrate(raw.url)
    assert "0" in caught.value.en and "rolled back" in caught.value.en
    assert raw.version() is None  # still a version-0 database: step 1's work was undone too
    with pytest.raises((sqlite3.OperationalError, psycopg.errors.UndefinedTable)):
        raw.run("SELECT count(*) FROM blobs")


def test_a_database_newer_than_the_hub_is_refused_naming_both_versions(raw: Raw) -> None:
    migrate(raw.url)
    raw.run(f"UPDATE hub_settings SET value = '{LATEST + 5}' WHERE key = 'storage_version'")
    with pytest.raises(StorageTooNew) as caught:
        migrate(raw.url)
    assert f"storage version {LATEST + 5}" in caught.value.en
    assert f"up to {LATEST}" in caught.value.en
    assert raw.version() == str(LATEST + 5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_county_serve_on_a_newer_database_exits_with_one_line(raw: Raw, tmp_path: Path) -> None:
    county.init(tmp_path / "county", raw.url)
    raw.run(f"UPDATE hub_settings SET value = '{LATEST + 1}' WHERE key = 'storage_version'")
    for workers in ("1", "2"):
        result = subprocess.run(
            [COUNTY, "--home", str(tmp_path / "county"), "serve", "--port", str(_free_port()),
             "--workers", workers], capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"storage version {LATEST + 1}" in lines[0] and f"up to {LATEST}" in lines[0]


def test_an_embedded_hub_keeps_a_copy_until_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    Raw(f"sqlite:///{db}").run(*OLD_HUB)
    assert migrate(f"sqlite:///{db}") == ALL_STEPS
    copy = tmp_path / "hub.db.storage-v0.bak"
    with sqlite3.connect(copy) as conn:  # the hub as it was, rows and all
        assert conn.execute("SELECT count(*) FROM changes").fetchone() == (1,)
        assert "was" not in {r[1] for r in conn.execute("PRAGMA table_info(changes)")}
    assert migrate(f"sqlite:///{db}") == []
    assert not copy.exists()


@pytest.fixture
def blocked_migrations(postgres_url: str) -> Iterator[psycopg.Connection]:
    """A connection holding the migration lock, as a first worker busy migrating would."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        yield conn


def _waiting_on_lock(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                       " AND objid = %s AND NOT granted", (MIGRATE_LOCK,)).fetchone()
    return int(row[0]) if row else 0


def test_of_several_workers_on_postgresql_exactly_one_migrates(
        postgres_url: str, blocked_migrations: psycopg.Connection) -> None:
    Raw(postgres_url).run(*OLD_HUB)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(migrate(postgres_url))  # its own storage, its own connection
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    # All four reach the lock and wait there (none has touched a table yet).
    for _ in range(600):
        if _waiting_on_lock(blocked_migrations) == 4:
            break
        threading.Event().wait(0.05)
    assert _waiting_on_lock(blocked_migrations) == 4
    assert results == [] and Raw(postgres_url).version() is None
    blocked_migrations.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results) == [[], [], [], ALL_STEPS]
    assert Raw(postgres_url).run("SELECT record, was FROM changes") == [("r1", "")]


def test_step_6_the_hub_fills_the_work_figures_of_records_stored_before_it(raw: Raw) -> None:
    import os

    from sync.hub.figures import FIGURES_VERSION
    from sync.hub.rules import Hub, HubClock
    from sync.protocol import PushBatch

    from .test_hub import R1, R2, SCHEMA, Time, enrolled, person

    key = os.urandom(32)
    storage = open_storage(raw.url)
    storage.migrate()
    hub = Hub(storage, key, SCHEMA, HubClock(lambda: Time.ms))
    station = enrolled(hub)
    twin = {"name": "李四", "id_number": "11010519491231002X", "grid": "440524001002"}
    hub.push(station, PushBatch("sta", (person(1, R1), person(2, R2, fields=twin))))
    storage.close()
    # As the step before 6 left it: no facts, nothing filled.
    before = max(n for n in NUMBERS if n < 6)
    raw.run("DROP TABLE case_marks", "DROP TABLE case_facts", "DROP TABLE record_facts",
            "DROP TABLE figure_counts", "DROP TABLE key_counts",
            "DELETE FROM hub_settings WHERE key = 'figures'",
            f"UPDATE hub_settings SET value = '{before}' WHERE key = 'storage_version'")
    undo_step_7(raw)
    assert migrate(raw.url) == after(before)
    assert raw.run("SELECT count(*) FROM record_facts") == [(0,)]  # made empty: the hub fills them
    storage = open_storage(raw.url)
    storage.migrate()
    hub = Hub(storage, key, SCHEMA, HubClock(lambda: Time.ms))  # the first open fills them
    assert raw.run("SELECT id, entity, township, live FROM record_facts ORDER BY id") == [
        (R1, "person", "440524001", 1), (R2, "person", "440524001", 1)]
    assert raw.run("SELECT value FROM hub_settings WHERE key = 'figures'") == [(FIGURES_VERSION,)]
    assert hub.duplicate_count() == 1 == len(hub.duplicates())  # one ID number, two records
    assert hub.report()["townships"]["440524001"]["base_data"] == {"person": 2}
    assert hub.report() == hub.report_from_records()
    assert hub.fill_figures(only_if_missing=True) == 0  # a second worker finds them filled
    storage.close()


def test_step_7_lets_a_revocation_wipe_the_box_and_a_code_replace_a_station(raw: Raw) -> None:
    """A station and an unused code from before keep their rows: the station is not to be
    wiped, the code replaces nothing; the hub's statements then use the new columns."""
    migrate(raw.url)
    raw.run("INSERT INTO stations (id, township, grids, public_key, enrolled_at)"
            " VALUES ('s1', '440524001', '[]', 'pk', '2026-11-29')",
            "INSERT INTO enrollments (code_hash, township, grids, created_at)"
            " VALUES ('h1', '440524001', '[]', '2026-11-29')")
    undo_step_7(raw)
    before = max(n for n in NUMBERS if n < 7)
    raw.run(f"UPDATE hub_settings SET value = '{before}' WHERE key = 'storage_version'")
    assert migrate(raw.url) == after(before) == [7, 8]
    assert raw.run("SELECT id, revoked_at, wipe FROM stations") == [("s1", None, 0)]
    storage = open_storage(raw.url)
    try:
        with storage.transaction() as tx:
            assert tx.take_enrollment("h1", "s2") == ("440524001", (), None)
            assert tx.revoke("s1", "2026-12-08", wipe=True)
            found = tx.station("s1")
            assert found is not None and found.wipe and found.revoked_at == "2026-12-08"
            tx.add_replacement("h2", found, "2026-12-08")
            assert tx.take_enrollment("h2", "s1") == ("440524001", (), "s1")
            tx.rekey_station("s1", "pk2", None)
            again = tx.station("s1")
            assert again is not None
            assert (again.public_key, again.revoked_at, again.wipe) == ("pk2", None, False)
    finally:
        storage.close()


def test_step_8_keeps_each_station_s_audit_trail_as_received(raw: Raw) -> None:
    from sync.audit_chain import following

    migrate(raw.url)
    raw.run("DROP TABLE station_audit")
    before = max(n for n in NUMBERS if n < 8)
    raw.run(f"UPDATE hub_settings SET value = '{before}' WHERE key = 'storage_version'")
    assert migrate(raw.url) == [8]
    first = following(None, "2026-12-08T00:00:00Z", "张三", "clerk", "unlock")
    storage = open_storage(raw.url)
    try:
        with storage.transaction() as tx:
            assert tx.add_station_audit("s1", [first], "now") == 1
            assert tx.add_station_audit("s1", [first], "now") == 1  # sent again: nothing new
            assert tx.station_audit("s1") == [first]
    finally:
        storage.close()
