"""Storage versions of the station's store, and the numbered steps between them.

A store records its storage version in the SQLite header (`PRAGMA user_version`): it is part
of every transaction, litestream replicates it with the pages, and it can be read before any
table is trusted. Version 0 is a store made by a release up to 0.1.0, which recorded none.

`upgrade` runs at every open. A store at an older version is first copied beside itself
(`VACUUM INTO`, a consistent snapshot even while litestream or another process reads it),
then every step from its version on runs in one transaction, with the new version written in
that same transaction: a failed step leaves the store exactly as it was, and the copy stays
for a person to roll back to. The copy is removed by the next open that finds the store at
the current version (docs/UPGRADING.md says how to roll back before that).

Plain numbered functions, not sqlite-utils' `sqlite_migrate`: that package records applied
steps by name in a table, runs each in its own transaction and cannot tell a store written by
a newer release from one it knows, which are the three things this module exists for.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sync.errors import MigrationFailed, StorageTooNew
from sync.schema import schema_sql
from sync.store_copy import copy_beside, remove_copies
from sync.version import software_version


@dataclass(frozen=True)
class Step:
    """One migration: from storage version `number - 1` to `number`."""

    number: int
    what: str
    run: Callable[[sqlite3.Connection], None]


def storage_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def stamp(conn: sqlite3.Connection) -> None:
    """Record the current storage version (a new store is made at it, from schema.sql)."""
    conn.execute(f"PRAGMA user_version = {LATEST}")


def upgrade(conn: sqlite3.Connection, db: Path) -> list[int]:
    """Bring the store at `db` (open on `conn`) to the current storage version.

    Returns the steps applied (none when it was current). Raises StorageTooNew for a store
    written by a newer release and MigrationFailed, with the store unchanged, when a step
    fails."""
    version = storage_version(conn)
    if version > LATEST:
        raise StorageTooNew("站点数据库", "station store", version, LATEST, software_version())
    if version == LATEST:
        remove_copies(db)
        return []
    copy = copy_beside(conn, db, version)
    return _apply(conn, version, copy)


def _apply(conn: sqlite3.Connection, version: int, copy: Path) -> list[int]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process (the sync daemon beside a CLI command) may have migrated it while
        # this one was copying: the write lock is held now, so look again.
        found = storage_version(conn)
        if found > LATEST:
            raise StorageTooNew("站点数据库", "station store", found, LATEST, software_version())
        steps = [step for step in STEPS if step.number > found]
        for step in steps:
            step.run(conn)
        stamp(conn)
        conn.execute("COMMIT")
    except BaseException as exc:
        conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise MigrationFailed(
                f"站点数据库从存储版本 {version} 升级到 {LATEST} 失败（{exc}）：已全部撤销，"
                f"数据库仍是版本 {version}；升级前的副本在 {copy}",
                f"migrating the station store from storage version {version} to {LATEST} failed"
                f" ({exc}): nothing was changed, the store is still at version {version}; the"
                f" copy made before is {copy}",
            ) from exc
        raise
    return [step.number for step in steps]


# ---------------------------------------------------------------------------- step 1: baseline
#
# Releases up to 0.1.0 ran schema.sql once, at `init`, and nothing after: a store made before a
# table, column or index joined schema.sql never got it (one made before attachments has no
# `blobs`, and cannot even be opened). This step compares the store with a scratch database
# made from today's schema.sql and adds what is missing, keeping every row.

# New NOT NULL columns without a default, and what an old row gets: before created_hlc
# existed every field's clock was in `clocks`, so the add's clock only needs a valid stamp.
_FILLS = {("records", "created_hlc"): "hlc"}


def _items(sql: str) -> tuple[dict[str, str], str]:
    """The column definitions and constraints of a CREATE TABLE (normalised → as written),
    and what follows its closing bracket (WITHOUT ROWID), normalised."""
    sql = re.sub(r"--[^\n]*", "", sql)
    body, tail = sql[sql.index("(") + 1:sql.rindex(")")], sql[sql.rindex(")") + 1:]
    items, depth, start = {}, 0, 0
    for i, ch in enumerate(body + ","):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            if written := " ".join(body[start:i].split()):
                items[_normal(written)] = written
            start = i + 1
    return items, _normal(tail)


def _normal(text: str) -> str:
    return re.sub(r"\s*([(),])\s*", r"\1", " ".join(text.split())).lower()


def _column_name(item: str) -> str | None:
    first = re.match(r'"?(\w+)', item).group(1)  # type: ignore[union-attr]
    if first in {"primary", "unique", "check", "foreign", "constraint"}:
        return None
    return first


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f'PRAGMA table_xinfo("{table}")')]


def _addable(item: str) -> bool:
    """Whether ALTER TABLE ADD COLUMN can add this column to a table that has rows."""
    if "primary key" in item or "unique" in item:
        return False
    return "not null" not in item or " default " in f" {item} "


def _objects(conn: sqlite3.Connection, kind: str) -> dict[str, tuple[str, str]]:
    """name → (table, sql) of the tables or indexes that schema.sql could have made."""
    return {name: (table, sql) for name, table, sql in conn.execute(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = ? AND sql IS NOT NULL"
        " AND name NOT LIKE 'sqlite_%' ORDER BY rowid", (kind,))}


def _baseline(conn: sqlite3.Connection) -> None:
    ref = sqlite3.connect(":memory:")
    try:
        ref.executescript(schema_sql())
        known_entities = _entity_names(conn)
        added: dict[str, list[str]] = {}
        mine = _objects(conn, "table")
        for table, (_, sql) in _objects(ref, "table").items():
            if table not in mine:
                conn.execute(sql)
            else:
                added[table] = _reconcile_table(conn, table, mine[table][1], sql)
        _reconcile_indexes(conn, ref)
        _fill_definitions(conn, ref, known_entities, added)
    finally:
        ref.close()


def _entity_names(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM schema_entities")}


def _reconcile_table(conn: sqlite3.Connection, table: str, mine: str, ref: str) -> list[str]:
    """Bring one existing table to the shape schema.sql gives it; returns the columns added
    in place (ALTER TABLE), which `_fill_definitions` may give values."""
    (my_items, my_tail), (ref_items, ref_tail) = _items(mine), _items(ref)
    if my_items.keys() == ref_items.keys() and my_tail == ref_tail:
        return []
    have = set(_columns(conn, table))
    missing = [i for i in ref_items.keys() - my_items.keys()
               if _column_name(i) is not None and _column_name(i) not in have]
    if (my_items.keys() | set(missing) == ref_items.keys() and my_tail == ref_tail
            and all(map(_addable, missing))):
        for item in sorted(missing):
            conn.execute(f'ALTER TABLE "{table}" ADD COLUMN {ref_items[item]}')
        return [str(_column_name(item)) for item in missing]
    _rebuild(conn, table, ref)
    return []


def _rebuild(conn: sqlite3.Connection, table: str, ref: str) -> None:
    """SQLite cannot change a constraint in place (changes.op's CHECK gained 'undelete'): make
    the table anew from schema.sql and copy every row into it."""
    old = _columns(conn, table)
    tmp = f"_migrating_{table}"
    conn.execute(re.sub(r"^CREATE TABLE\s+\w+", f"CREATE TABLE {tmp}", ref.strip(), count=1))
    new = _columns(conn, tmp)
    lost = [c for c in old if c not in new]
    if lost:  # never reached by any release so far; a column is never dropped silently
        raise sqlite3.OperationalError(f"{table} has columns schema.sql no longer makes: {lost}")
    targets = [c for c in new if c in old or (table, c) in _FILLS]
    values = [c if c in old else _FILLS[(table, c)] for c in targets]
    conn.execute(f"INSERT INTO {tmp} ({', '.join(targets)}) SELECT {', '.join(values)} FROM {table}")
    seq = _sequence(conn, table)
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE {tmp} RENAME TO {table}")
    if seq is not None:
        # AUTOINCREMENT must never hand out a station sequence number twice, even one whose
        # row is gone: keep the high-water mark the old table had.
        conn.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, seq))


def _sequence(conn: sqlite3.Connection, table: str) -> int | None:
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        return None
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    return None if row is None else int(row[0])


def _reconcile_indexes(conn: sqlite3.Connection, ref: sqlite3.Connection) -> None:
    wanted = _objects(ref, "index")
    ref_tables = set(_objects(ref, "table"))
    for name, (table, sql) in _objects(conn, "index").items():
        # An index schema.sql dropped (changes_record: never used, and slowed every write).
        if table in ref_tables and (name not in wanted or _normal(sql) != _normal(wanted[name][1])):
            conn.execute(f'DROP INDEX "{name}"')
    have = _objects(conn, "index")
    for name, (_, sql) in wanted.items():
        if name not in have:
            conn.execute(sql)


def _fill_definitions(conn: sqlite3.Connection, ref: sqlite3.Connection,
                      known_entities: set[str], added: dict[str, list[str]]) -> None:
    """Give the definition tables the version-1 rows an old store lacks: whole entities,
    workflows, code tables, values and rules, and values of the columns just added.

    Fields are added only to entities the store did not have: a schema bundle may have
    renamed a field of one it had, and the old name must not come back."""
    for table in _objects(ref, "table"):
        cursor = ref.execute(f"SELECT * FROM {table}")
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        if not rows:
            continue  # a storage table: schema.sql puts no rows in those
        if table == "schema_fields":
            rows = [r for r in rows if r[columns.index("entity")] not in known_entities]
        marks = ", ".join("?" * len(columns))
        conn.executemany(f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                         rows)
        _fill_added(conn, ref, table, added.get(table, []))


def _fill_added(conn: sqlite3.Connection, ref: sqlite3.Connection, table: str,
                columns: list[str]) -> None:
    keys = [row[1] for row in ref.execute(f"PRAGMA table_info({table})") if row[5]]
    for column in columns:
        where = " AND ".join(f"{k} = ?" for k in keys)
        conn.executemany(
            f"UPDATE {table} SET {column} = ? WHERE {where} AND {column} IS NULL",
            ref.execute(f"SELECT {column}, {', '.join(keys)} FROM {table}"
                        f" WHERE {column} IS NOT NULL").fetchall())


# What each change's author had received (sync.merge), the scope version it was written
# under, and its clerk: NULL in changes written before (read as legacy, scope 0, no clerk).
_CHANGE_CONTEXT_COLUMNS = (("seen", "TEXT"), ("scope", "INTEGER"), ("clerk", "TEXT"))


def _change_contexts(conn: sqlite3.Connection) -> None:
    """Step 2: the change log's causal contexts, scope versions and clerks (issue 20). A
    store that step 1 brought from 0.1.0 has them already: only the missing are added."""
    have = set(_columns(conn, "changes"))
    for column, kind in _CHANGE_CONTEXT_COLUMNS:
        if column not in have:
            conn.execute(f"ALTER TABLE changes ADD COLUMN {column} {kind}")


# As schema.sql makes it (a store that step 1 brought from 0.1.0 has it already).
_REVEALS = """CREATE TABLE IF NOT EXISTS reveals (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    record_id TEXT NOT NULL,
    entity    TEXT NOT NULL,
    field     TEXT NOT NULL,
    clerk     TEXT NOT NULL
)"""


def _reveals(conn: sqlite3.Connection) -> None:
    """Step 3: the record of clerks' reveals of masked personal values (issue 21)."""
    conn.execute(_REVEALS)


def _refused_index(conn: sqlite3.Connection) -> None:
    """Step 4: an index of the refused changes not yet resent (the home screen counts them
    every few seconds; without it each count read the whole change log)."""
    conn.execute("CREATE INDEX IF NOT EXISTS changes_refused ON changes (seq)"
                 " WHERE rejected IS NOT NULL AND resent_as IS NULL")


def _case_deadlines(conn: sqlite3.Connection) -> None:
    """Step 5: each case's next deadline kept on its row (station.case_cache), filled from
    its events here, so the home screen counts overdue cases with one query."""
    from station import case_cache
    from sync.schema import load_schema

    if "due" not in _columns(conn, "records"):
        conn.execute("ALTER TABLE records ADD COLUMN due REAL")
    conn.executemany("UPDATE records SET step = ?, due = ? WHERE id = ?",
                     case_cache.derived(conn, load_schema(conn)))


# Fields schema.sql's version 1 gained for entities a store already has (issue 22): step 1
# adds fields only to entities new to the store, so these are named one by one.
_V1_FIELDS_ADDED_LATER = (("dispute_event", "agreement"), ("dispute_event", "agreement_text"))


def _dispute_forms(conn: sqlite3.Connection) -> None:
    """Step 6: the dispute forms of issue 22 in a store made before them: the parties'
    entity (dispute_party), the party-role and agreement code tables, and the agreement
    fields of a mediation step. Rows the store has (a bundle may have changed them) stay."""
    ref = sqlite3.connect(":memory:")
    try:
        ref.executescript(schema_sql())
        _fill_definitions(conn, ref, _entity_names(conn), {})
        cursor = ref.execute("SELECT * FROM schema_fields")
        columns = [d[0] for d in cursor.description]
        rows = [r for r in cursor.fetchall()
                if (r[columns.index("entity")], r[columns.index("name")]) in _V1_FIELDS_ADDED_LATER]
        conn.executemany(f"INSERT OR IGNORE INTO schema_fields ({', '.join(columns)})"
                         f" VALUES ({', '.join('?' * len(columns))})", rows)
    finally:
        ref.close()


def _dictionaries(conn: sqlite3.Connection) -> None:
    """Step 7: each applied schema bundle's zstd dictionary (issue 24), kept so that bodies
    to and from the hub can be compressed with it. Bundles applied before have none: their
    versions' bodies go without until the next bundle brings one."""
    if "dictionary" not in _columns(conn, "schema_versions"):
        conn.execute("ALTER TABLE schema_versions ADD COLUMN dictionary BLOB")


def _push_tiers(conn: sqlite3.Connection) -> None:
    """Step 8: each change's push tier and the index the outbox is read by (issue 24 point
    4: cases and their steps first). Only waiting changes are given their tier: the others
    are never read by it, and a change log kept for years is not rewritten for nothing."""
    from station import priorities
    from sync.schema import load_schema

    if "tier" not in _columns(conn, "changes"):
        conn.execute("ALTER TABLE changes ADD COLUMN tier INTEGER NOT NULL DEFAULT 1")
    conn.executemany("UPDATE changes SET tier = ? WHERE entity = ? AND receipt IS NULL AND rejected IS NULL",
                     [(tier, entity) for entity, tier in priorities.tiers(load_schema(conn)).items()
                      if tier != priorities.BASE])
    conn.execute("CREATE INDEX IF NOT EXISTS changes_outbox ON changes (tier, seq)"
                 " WHERE receipt IS NULL AND rejected IS NULL")


_AUDIT_LOG = """CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, clerk TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL, prev TEXT NOT NULL,
    hash TEXT NOT NULL)"""


def _audit_log(conn: sqlite3.Connection) -> None:
    """Step 9: the audit trail, chained by hash (issue 25). It starts empty: what was done
    before the upgrade was not recorded, and is not made up now."""
    conn.execute(_AUDIT_LOG)


# Each keyslot's role (issue 25 point 6): every slot made before is a clerk's, as it was.
_KEYSLOT_ROLE_COLUMNS = (("role", "TEXT NOT NULL DEFAULT 'clerk'"), ("grids", "TEXT"),
                         ("volunteer", "TEXT"))


def _keyslot_roles(conn: sqlite3.Connection) -> None:
    """Step 10: each keyslot's role, grids and volunteer (station/roles.py). Slots made
    before are clerks'. A store that step 1 brought from 0.1.0 has the columns already."""
    have = set(_columns(conn, "keyslots"))
    for column, kind in _KEYSLOT_ROLE_COLUMNS:
        if column not in have:
            conn.execute(f"ALTER TABLE keyslots ADD COLUMN {column} {kind}")


def _clerk_pairs(conn: sqlite3.Connection) -> None:
    """Step 11: room in each clerk's keyslot for a key pair of its own, so a data-key
    rotation can reach every clerk (issue 25). A migration has no passphrase: each slot gets
    its pair at its clerk's next unlock (`Keyring.upgrade_slot`)."""
    for column in ("public_key", "wrapped_private"):
        if column not in _columns(conn, "keyslots"):
            conn.execute(f"ALTER TABLE keyslots ADD COLUMN {column} BLOB")


STEPS: tuple[Step, ...] = (
    Step(1, "baseline: the tables, columns, indexes and version-1 definitions of schema.sql",
         _baseline),
    Step(2, "changes: seen, scope and clerk (what each author had received)", _change_contexts),
    Step(3, "reveals: who revealed which masked field of which record, and when", _reveals),
    Step(4, "changes: an index of the refused changes not yet resent", _refused_index),
    Step(5, "records: each case's next deadline, derived from its events", _case_deadlines),
    Step(6, "definitions: dispute parties, party roles and mediation agreements (issue 22)",
         _dispute_forms),
    Step(7, "schema versions: each bundle's zstd dictionary (issue 24)", _dictionaries),
    Step(8, "changes: each waiting change's push tier, and the outbox index by tier (issue 24)",
         _push_tiers),
    Step(9, "audit_log: the audit trail, chained by hash (issue 25)", _audit_log),
    Step(10, "keyslots: each slot's role, grids and volunteer (issue 25 point 6)",
         _keyslot_roles),
    Step(11, "keyslots: each clerk's own key pair, for data-key rotation (issue 25)", _clerk_pairs),
)
LATEST = STEPS[-1].number
