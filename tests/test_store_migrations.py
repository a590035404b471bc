"""Station storage versions: a store made by release 0.1.0 (tests/fixtures/station-0.1.0) opens
migrated with every record, the copy beside it and when it goes, step 1 on its own (old
tables rebuilt, a current store untouched, renamed fields kept out), a store newer than the
software refused, a failed migration that changes nothing, and a litestream replica that
stays restorable across a migration."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from station import keys, migrations
from station.store import DB_FILE, Store
from sync.errors import MigrationFailed, StorageTooNew

from .conftest import GRID, PASSPHRASE, TOWNSHIP, Cli, FakeTime

FIXTURE = Path(__file__).parent / "fixtures" / "station-0.1.0" / DB_FILE
# What the fixture's README says was written into it by 0.1.0.
OLD_RECORDS = {
    "grid": {"code": "440524001001", "name": "第一网格", "township": "440524001"},
    "incident": {"category": "01", "title": "路灯损坏", "grid": "440524001001",
                 "description": "东街路灯不亮"},
    "person": {"name": "李四", "id_number": "11010519491231002X", "phone": "13900139000",
               "gender": "2", "grid": "440524001001", "population_type": "01",
               "address": "东街1号", "birth_date": "1949-12-31"},
}
COPY = f"{DB_FILE}.storage-v0.bak"


def old_home(tmp_path: Path) -> Path:
    home = tmp_path / "old"
    home.mkdir(mode=0o700)
    shutil.copy(FIXTURE, home / DB_FILE)
    (home / DB_FILE).chmod(0o600)
    return home


def raw(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def shape(db: Path) -> dict[str, Any]:
    """Each table's columns and indexes as SQLite's pragmas describe them."""
    with sqlite3.connect(db) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        out: dict[str, Any] = {}
        for t in tables:
            columns = {r[1:6] for r in conn.execute(f"PRAGMA table_xinfo({t})")}
            indexes = {(i[1], i[2], i[4], tuple(c[2] for c in conn.execute(
                f"PRAGMA index_xinfo('{i[1]}')") if c[5])) for i in conn.execute(
                f"PRAGMA index_list({t})")}
            out[t] = (columns, indexes)
        return out


def definitions(db: Path) -> dict[str, list[str]]:
    tables = ["schema_entities", "schema_fields", "workflows", "workflow_steps", "workflow_moves",
              "point_rules", "attachment_rules", "code_tables", "code_values"]
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return {t: sorted(json.dumps(dict(r), sort_keys=True, ensure_ascii=False)
                          for r in conn.execute(f"SELECT * FROM {t}")) for t in tables}


def new_store(tmp_path: Path, fake_time: FakeTime) -> Path:
    home = tmp_path / "new"
    Store.create(home, township=TOWNSHIP, name="新站", clerk="张三", passphrase=PASSPHRASE,
                 kdf=keys.FAST_KDF, clock=fake_time.clock()).close()
    return home / DB_FILE


def test_a_new_store_is_made_at_the_current_storage_version(tmp_path: Path,
                                                            fake_time: FakeTime) -> None:
    db = new_store(tmp_path, fake_time)
    assert raw(db, "PRAGMA user_version") == [(migrations.LATEST,)]
    Store.open(db.parent).close()
    assert not list(db.parent.glob("*.bak"))  # nothing was copied


def test_a_0_1_0_store_opens_migrated_with_every_record(tmp_path: Path) -> None:
    home = old_home(tmp_path)
    assert raw(home / DB_FILE, "PRAGMA user_version") == [(0,)]
    with Store.open(home) as store:
        store.unlock(PASSPHRASE)
        found = {r["entity"]: r["fields"] for r in store.export()}
        assert store.status()["pending"] == 4  # its unsent changes are still to send
    assert found == OLD_RECORDS
    assert raw(home / DB_FILE, "PRAGMA user_version") == [(migrations.LATEST,)]


def test_a_migrated_0_1_0_store_has_what_a_new_store_has(tmp_path: Path,
                                                         fake_time: FakeTime) -> None:
    home = old_home(tmp_path)
    Store.open(home).close()
    fresh = new_store(tmp_path, fake_time)
    assert shape(home / DB_FILE) == shape(fresh)
    assert definitions(home / DB_FILE) == definitions(fresh)


def test_a_migrated_0_1_0_store_takes_attachments(tmp_path: Path) -> None:
    from PIL import Image

    home = old_home(tmp_path)
    cli = Cli(home)
    incident = next(r["id"] for r in map(json.loads, cli("export").stdout.splitlines())
                    if r["entity"] == "incident")
    photo = tmp_path / "lamp.png"
    Image.new("RGB", (40, 30), (200, 90, 20)).save(photo)
    cli("attach", "incident", incident, str(photo))
    listed = [json.loads(line) for line in cli("attachments", "incident", incident).stdout.splitlines()]
    assert [a["name"] for a in listed] == ["lamp.png"]


def test_the_copy_beside_is_the_old_store_until_the_next_open(tmp_path: Path) -> None:
    home = old_home(tmp_path)
    Store.open(home).close()
    copy = home / COPY
    assert raw(copy, "PRAGMA user_version") == [(0,)]
    assert raw(copy, "SELECT count(*) FROM records") == [(3,)]
    assert raw(copy, "SELECT count(*) FROM sqlite_master WHERE name = 'blobs'") == [(0,)]
    assert copy.stat().st_mode & 0o077 == 0
    Store.open(home).close()
    assert not copy.exists()


# The change log as the first release made it: three ops only, no `was`, no `resent_as`.
OLD_CHANGES = """CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL, entity TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'update', 'delete')), grid TEXT,
    clear TEXT NOT NULL, sealed TEXT NOT NULL, hlc TEXT NOT NULL, base TEXT NOT NULL,
    schema_version INTEGER NOT NULL, created_at TEXT NOT NULL, receipt INTEGER,
    acked_at TEXT, rejected TEXT)"""


def _as_first_release(db: Path, extra: str = "") -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE changes")
        conn.execute(OLD_CHANGES.replace("rejected TEXT)", f"rejected TEXT{extra})"))
        conn.execute("CREATE INDEX changes_record ON changes (record_id)")
        conn.executemany(
            "INSERT INTO changes (seq, record_id, entity, op, clear, sealed, hlc, base,"
            " schema_version, created_at) VALUES (?, 'r', 'grid', 'add', '{}', '{}', 'c', '{}',"
            " 1, 'now')", [(1,), (2,), (7,)])
        conn.execute("DELETE FROM changes WHERE seq = 7")  # its number must never come back
        conn.execute("PRAGMA user_version = 0")


def test_step_1_rebuilds_a_table_whose_constraint_changed(tmp_path: Path,
                                                          fake_time: FakeTime) -> None:
    db = new_store(tmp_path, fake_time)
    _as_first_release(db)
    with sqlite3.connect(db, isolation_level=None) as conn:
        assert migrations.upgrade(conn, db) == [step.number for step in migrations.STEPS]
        assert conn.execute("SELECT seq, was, resent_as FROM changes").fetchall() == [
            (1, "", None), (2, "", None)]
        conn.execute("INSERT INTO changes (record_id, entity, op, clear, sealed, hlc, base,"
                     " schema_version, created_at) VALUES ('r', 'grid', 'undelete', '{}', '{}',"
                     " 'c', '{}', 1, 'now')")
        assert conn.execute("SELECT max(seq) FROM changes").fetchone() == (8,)
        indexes = {n for (n,) in conn.execute("SELECT name FROM pragma_index_list('changes')")}
    # The unused index schema.sql dropped is gone; those it names are there.
    assert indexes == {"changes_pending", "changes_refused", "changes_outbox"}


def test_step_1_changes_nothing_in_a_current_store(tmp_path: Path, fake_time: FakeTime) -> None:
    db = new_store(tmp_path, fake_time)
    with sqlite3.connect(db, isolation_level=None) as conn:
        before = list(conn.iterdump())
        conn.execute("BEGIN")
        migrations.STEPS[0].run(conn)
        conn.execute("COMMIT")
        assert list(conn.iterdump()) == before


def conn_rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_step_2_gives_the_change_log_contexts_and_keeps_old_changes_legacy(
        tmp_path: Path, fake_time: FakeTime) -> None:
    db = new_store(tmp_path, fake_time)
    store = Store.open(db.parent, clock=fake_time.clock())
    store.unlock(PASSPHRASE)
    rid = store.add("grid", {"code": "440524001001", "name": "一网格", "township": TOWNSHIP})
    store.close()
    with sqlite3.connect(db, isolation_level=None) as conn:  # as storage version 1 left it
        for column in ("seen", "scope", "clerk"):
            conn.execute(f"ALTER TABLE changes DROP COLUMN {column}")
        conn.execute("PRAGMA user_version = 1")
    store = Store.open(db.parent, clock=fake_time.clock())
    store.unlock(PASSPHRASE)
    store.update("grid", rid, {"name": "第一网格"})
    store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST
        rows = conn.execute("SELECT op, seen, scope, clerk FROM changes ORDER BY seq").fetchall()
    # The change from before has no context (read as legacy); the new one has its clerk, and
    # no context of its own to keep: it edits this station's own add, as the clock says.
    assert rows == [("add", None, None, None), ("update", None, None, "张三")]


def test_step_4_indexes_the_refused_changes_the_home_screen_counts(tmp_path: Path,
                                                                  fake_time: FakeTime) -> None:
    db = new_store(tmp_path, fake_time)
    fresh = shape(db)
    count = ("SELECT count(*) FROM changes WHERE rejected IS NOT NULL AND resent_as IS NULL")
    with sqlite3.connect(db, isolation_level=None) as conn:  # as storage version 3 left it
        conn.execute("DROP INDEX changes_refused")
        conn.execute("PRAGMA user_version = 3")
        assert "changes_refused" not in str(conn.execute("EXPLAIN QUERY PLAN " + count).fetchall())
    with sqlite3.connect(db, isolation_level=None) as conn:
        assert migrations.upgrade(conn, db) == [s.number for s in migrations.STEPS if s.number > 3]
        # The count Store.status() makes every few seconds no longer reads the whole log.
        assert "changes_refused" in str(conn.execute("EXPLAIN QUERY PLAN " + count).fetchall())
    assert shape(db) == fresh
    store = Store.open(db.parent, clock=fake_time.clock())
    assert store.status()["rejected"] == 0
    store.close()


def test_step_3_adds_the_reveals_table_to_a_store_of_step_2(tmp_path: Path,
                                                            fake_time: FakeTime) -> None:
    db = new_store(tmp_path, fake_time)
    fresh = shape(db)
    store = Store.open(db.parent, clock=fake_time.clock())
    store.unlock(PASSPHRASE)
    rid = store.add("person", {"name": "李四", "id_number": "11010519491231002X", "grid": GRID})
    store.close()
    with sqlite3.connect(db, isolation_level=None) as conn:  # as storage version 2 left it
        conn.execute("DROP TABLE reveals")
        conn.execute("PRAGMA user_version = 2")
    with sqlite3.connect(db, isolation_level=None) as conn:
        assert migrations.upgrade(conn, db) == [s.number for s in migrations.STEPS if s.number > 2]
    assert shape(db) == fresh
    store = Store.open(db.parent, clock=fake_time.clock())
    store.unlock(PASSPHRASE)
    assert store.reveal("person", rid, "id_number") == "11010519491231002X"
    (row,) = store.reveals()
    assert (row["record"], row["field"], row["clerk"]) == (rid, "id_number", "张三")
    store.close()
    # The clerk's name is sealed in the row; the record id and field name are not personal.
    assert raw(db, "SELECT record_id, entity, field FROM reveals") == [(rid, "person", "id_number")]
    ((clerk,),) = raw(db, "SELECT clerk FROM reveals")
    assert "张三" not in clerk


def test_step_1_never_brings_back_a_field_a_bundle_renamed(tmp_path: Path,
                                                           fake_time: FakeTime) -> None:
    db = new_store(tmp_path, fake_time)
    with sqlite3.connect(db) as conn:  # a 0.1.0 store where a bundle renamed person.phone
        conn.execute("UPDATE schema_fields SET name = 'mobile' WHERE entity = 'person'"
                     " AND name = 'phone'")
        conn.execute("DELETE FROM schema_fields WHERE entity = 'attachment'")
        conn.execute("DELETE FROM schema_entities WHERE name = 'attachment'")
        conn.execute("PRAGMA user_version = 0")
    Store.open(db.parent).close()
    fields = {(e, n) for e, n in raw(db, "SELECT entity, name FROM schema_fields")}
    assert ("person", "mobile") in fields and ("person", "phone") not in fields
    assert ("attachment", "sha256") in fields  # a whole missing entity comes back


def test_a_store_newer_than_the_software_refuses_to_open(tmp_path: Path,
                                                         fake_time: FakeTime) -> None:
    db = new_store(tmp_path, fake_time)
    raw(db, f"PRAGMA user_version = {migrations.LATEST + 3}")
    with pytest.raises(StorageTooNew) as caught:
        Store.open(db.parent)
    assert f"storage version {migrations.LATEST + 3}" in caught.value.en
    assert f"up to {migrations.LATEST}" in caught.value.en
    err = Cli(db.parent)("status", ok=False).stderr  # one line, non-zero
    assert f"存储版本为 {migrations.LATEST + 3}" in err and str(migrations.LATEST) in err
    assert raw(db, "PRAGMA user_version") == [(migrations.LATEST + 3,)]


def test_a_failed_migration_leaves_the_old_store_as_it_was(tmp_path: Path,
                                                           fake_time: FakeTime) -> None:
    db = new_store(tmp_path, fake_time)
    # A column schema.sql never made, in a table that must be rebuilt: step 1 refuses to
    # drop it, so the migration fails half-way through.
    _as_first_release(db, extra=", local_note TEXT")
    with sqlite3.connect(db) as conn:
        before = list(conn.iterdump())
    with pytest.raises(MigrationFailed) as caught:
        Store.open(db.parent)
    assert "local_note" in caught.value.en and "still at version 0" in caught.value.en
    with sqlite3.connect(db) as conn:
        assert list(conn.iterdump()) == before
    assert (db.parent / COPY).exists()  # kept: no open has succeeded since


def test_a_litestream_replica_stays_restorable_across_a_migration(tmp_path: Path) -> None:
    from .test_backup import Replication, restore

    home = old_home(tmp_path)
    cli = Cli(home)
    where = tmp_path / "usb" / "station-backup"
    cli.json("backup", "setup", "--replica", str(where))
    replication = Replication(cli)
    try:
        replication.caught_up()  # the replica holds the 0.1.0 store
        assert cli.json("status", "--json")["records"] == {"grid": 1, "incident": 1, "person": 1}  # migrates
        cli("add", "grid", "--json",
            '{"code": "440524001002", "name": "第二网格", "township": "440524001"}')
        replication.caught_up()
    finally:
        replication.crash()
    restore(cli, where, tmp_path / "restored")
    restored = tmp_path / "restored" / DB_FILE
    assert raw(restored, "PRAGMA user_version") == [(migrations.LATEST,)]
    back = Cli(tmp_path / "restored")
    assert back("export").stdout == cli("export").stdout
    assert len(back("export").stdout.splitlines()) == 4


def test_step_6_gives_a_store_made_before_it_the_dispute_forms(tmp_path: Path,
                                                               fake_time: FakeTime) -> None:
    """A store of storage version 5 had no dispute parties, party roles or agreement fields:
    it gets exactly the rows a new store has, and keeps a row a bundle changed."""
    db = new_store(tmp_path, fake_time)
    fresh = definitions(db)
    with sqlite3.connect(db, isolation_level=None) as conn:  # as storage version 5 left it
        conn.execute("DELETE FROM schema_fields WHERE entity = 'dispute_party'"
                     " OR name IN ('agreement', 'agreement_text')")
        conn.execute("DELETE FROM schema_entities WHERE name = 'dispute_party'")
        conn.execute("DELETE FROM code_values WHERE code_table IN ('party_role', 'agreement_result')")
        conn.execute("DELETE FROM code_tables WHERE name IN ('party_role', 'agreement_result')")
        # a county bundle had relabelled a mediation method: that label must stay
        conn.execute("UPDATE code_values SET label_zh = '人民调解' WHERE code_table = 'mediation_method'"
                     " AND code = '01'")
        conn.execute("PRAGMA user_version = 5")
    with sqlite3.connect(db, isolation_level=None) as conn:
        assert 6 in migrations.upgrade(conn, db)
        assert conn.execute("SELECT label_zh FROM code_values WHERE code_table = 'mediation_method'"
                            " AND code = '01'").fetchone() == ("人民调解",)
        conn.execute("UPDATE code_values SET label_zh = '调解' WHERE code_table = 'mediation_method'"
                     " AND code = '01'")
    assert definitions(db) == fresh
    store = Store.open(db.parent, clock=fake_time.clock())
    store.unlock(PASSPHRASE)
    dispute = store.add("dispute", {"kind": "02", "parties": ["王芳"], "grid": GRID})
    store.add("dispute_party", {"dispute": dispute, "name": "王芳", "role": "01", "grid": GRID})
    assert [f.name for f in store.schema.entity("dispute_event").fields][-2:] == [
        "agreement", "agreement_text"]
    store.close()
