"""Storage versions of the hub's database, and the numbered steps between them.

Both engines run the same steps through `Ddl`, the little each step needs (run a statement,
list a table's columns), inside one transaction that the engine opens and serialises: SQLite
with its write lock (BEGIN IMMEDIATE), PostgreSQL with an advisory lock, so that of several
`county serve` workers starting on one database exactly one migrates and the others wait,
then find it current. The version is the `storage_version` row of `hub_settings`, written in
the same transaction as the steps; a database without it is version 0 (empty, or made by a
release up to 0.1.0, which ran `SCHEMA` with CREATE … IF NOT EXISTS and nothing more).

Later steps run after a baseline that reads today's `SCHEMA`: keep `SCHEMA` as version 1 and
put every later change in a step of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sync.errors import MigrationFailed, StorageTooNew
from sync.hub.storage.base import SCHEMA
from sync.version import software_version


class Ddl(Protocol):
    """A migration transaction on one engine."""

    serial: str  # the auto-increment column type
    blob: str  # the bytes column type

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...

    def tables(self) -> set[str]: ...

    def columns(self, table: str) -> set[str]: ...


@dataclass(frozen=True)
class Step:
    """One migration: from storage version `number - 1` to `number`."""

    number: int
    what: str
    run: Callable[[Ddl], None]


def storage_version(ddl: Ddl) -> int:
    if "hub_settings" not in ddl.tables():
        return 0
    found = ddl.execute("SELECT value FROM hub_settings WHERE key = 'storage_version'")
    return int(found[0][0]) if found else 0


def run(ddl: Ddl) -> list[int]:
    """Apply every step after the database's version; returns their numbers. The caller holds
    the transaction and the lock; StorageTooNew for a database of a newer release."""
    found = storage_version(ddl)
    if found > LATEST:
        raise StorageTooNew("县级平台数据库", "county hub database", found, LATEST, software_version())
    steps = [step for step in STEPS if step.number > found]
    for step in steps:
        step.run(ddl)
    if steps:
        ddl.execute("DELETE FROM hub_settings WHERE key = 'storage_version'")
        ddl.execute("INSERT INTO hub_settings (key, value) VALUES ('storage_version', ?)",
                    (str(LATEST),))
    return [step.number for step in steps]


def failed(found: int, exc: Exception) -> MigrationFailed:
    """The error for a step that failed: its transaction was rolled back whole."""
    return MigrationFailed(
        f"县级平台数据库从存储版本 {found} 升级到 {LATEST} 失败（{exc}）：已全部撤销，数据库未改动",
        f"migrating the county hub database from storage version {found} to {LATEST} failed"
        f" ({exc}): rolled back, the database is unchanged",
    )


# Columns that joined `SCHEMA` after its table did: CREATE TABLE IF NOT EXISTS never added
# them to a database made before (stations before schema bundles, changes before moves out
# of scope and before conflicts kept the author's view).
_LATE_COLUMNS = (
    ("stations", "schema_version", "INTEGER"),
    ("changes", "prev_grid", "TEXT"),
    ("changes", "was", "TEXT NOT NULL DEFAULT ''"),
)


def _baseline(ddl: Ddl) -> None:
    """Step 1: every table and index of `SCHEMA`, with every column, keeping every row."""
    for statement in SCHEMA.format(serial=ddl.serial, blob=ddl.blob).split(";"):
        if statement.strip():
            ddl.execute(statement)
    for table, column, definition in _LATE_COLUMNS:
        if column not in ddl.columns(table):
            ddl.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def _station_versions(ddl: Ddl) -> None:
    """Step 2: the protocol and software versions each station last said it runs."""
    ddl.execute("ALTER TABLE stations ADD COLUMN protocol_version INTEGER")
    ddl.execute("ALTER TABLE stations ADD COLUMN software_version TEXT")


def _change_contexts(ddl: Ddl) -> None:
    """Step 3: what each author had received. Each change's causal context (sync.merge), as
    its station sent it: JSON {station: newest clock received}, NULL for changes stored
    before (read as legacy); and each station's scope version with its grids before the
    latest change, so an edit written before a station received a narrowing is kept."""
    ddl.execute("ALTER TABLE changes ADD COLUMN seen TEXT")
    ddl.execute("ALTER TABLE changes ADD COLUMN author TEXT NOT NULL DEFAULT ''")  # sealed clerk name
    ddl.execute("ALTER TABLE stations ADD COLUMN scope_version INTEGER NOT NULL DEFAULT 0")
    ddl.execute("ALTER TABLE stations ADD COLUMN prior_grids TEXT")


def _roles(ddl: Ddl) -> None:
    """Step 4: roles, login throttling and the audit trail (issue 23). Every account made
    before roles was county IT's own and could do everything: it becomes an admin. The
    column's default is the lesser role, so a row written without one can change nothing."""
    ddl.execute("ALTER TABLE accounts ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer'")
    ddl.execute("UPDATE accounts SET role = 'admin'")
    # One row per wrong password (and per try under way): key is a keyed hash of the name
    # typed or of the address (sync.hub.throttle), attempt the try's random id.
    ddl.execute("CREATE TABLE login_failures (key TEXT NOT NULL, at_ms BIGINT NOT NULL,"
                " attempt TEXT NOT NULL)")
    ddl.execute("CREATE INDEX login_failures_key ON login_failures (key, at_ms)")
    ddl.execute(f"CREATE TABLE audit (id {ddl.serial} PRIMARY KEY, at TEXT NOT NULL,"
                " account TEXT NOT NULL, role TEXT NOT NULL, address TEXT NOT NULL,"
                " action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL)")


def _fleet(ddl: Ddl) -> None:
    """Step 5: what the county's fleet view shows of each station beyond its outbox: the name
    its clerks gave it, how far its clock was from the hub's in its latest signed request
    (and when), and where its backup stood (when its replica last received a transaction, and
    how many it lacked). Every existing station starts with none of them: NULL, "not told"."""
    ddl.execute("ALTER TABLE stations ADD COLUMN name TEXT")
    ddl.execute("ALTER TABLE stations ADD COLUMN clock_offset_ms BIGINT")
    ddl.execute("ALTER TABLE stations ADD COLUMN clock_seen_at TEXT")
    ddl.execute("ALTER TABLE station_reports ADD COLUMN backup_ms BIGINT")
    ddl.execute("ALTER TABLE station_reports ADD COLUMN backup_behind BIGINT")


def _figures(ddl: Ddl) -> None:
    """Step 6: the work figures kept as facts (sync/hub/figures.py), a row per record and per
    case, kept in each push's transaction. Made empty here: the hub fills them from the
    records the first time it opens the database (`Hub.fill_figures`: it needs the data key
    and the schema, which a migration has not), and marks them filled in `hub_settings`."""
    ddl.execute("""CREATE TABLE record_facts (
        id TEXT PRIMARY KEY, entity TEXT NOT NULL, township TEXT NOT NULL,
        live INTEGER NOT NULL, conflicts INTEGER NOT NULL, role TEXT NOT NULL,
        workflow TEXT, parent TEXT, step TEXT, clock TEXT, at TEXT, at_ts DOUBLE PRECISION,
        department TEXT, volunteer TEXT, day TEXT, key TEXT)""")
    ddl.execute("CREATE INDEX record_facts_parent ON record_facts (parent)")
    # Partial: only check-ins enter it (the points read them), so other records' writes skip it.
    ddl.execute("CREATE INDEX record_facts_checkins ON record_facts (role) WHERE role = 'checkin'")
    ddl.execute("""CREATE TABLE case_facts (
        id TEXT PRIMARY KEY, workflow TEXT NOT NULL, township TEXT NOT NULL, step TEXT,
        closed INTEGER NOT NULL, started_at TEXT, started_ts DOUBLE PRECISION,
        last_ts DOUBLE PRECISION, closed_ts DOUBLE PRECISION, due_ts DOUBLE PRECISION,
        volunteer TEXT, accepted_on TEXT)""")
    ddl.execute("""CREATE TABLE case_marks (
        case_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, ts DOUBLE PRECISION,
        PRIMARY KEY (case_id, kind, name))""")
    # Totals kept by adding each push's differences: live base records per township and
    # entity, open conflicts, keys held twice; and how many live records hold each key.
    ddl.execute("""CREATE TABLE figure_counts (
        kind TEXT NOT NULL, township TEXT NOT NULL, entity TEXT NOT NULL, n BIGINT NOT NULL,
        PRIMARY KEY (kind, township, entity))""")
    ddl.execute("""CREATE TABLE key_counts (
        entity TEXT NOT NULL, key TEXT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (entity, key))""")
    ddl.execute("DELETE FROM hub_settings WHERE key = 'figures'")


def _replacement(ddl: Ddl) -> None:
    """Step 7: revocation that reaches the box (issue 25). A station revoked with a wipe
    destroys its keyslots at its next contact; a one-time code can name the station a
    replacement box (restored from its backup) takes over."""
    ddl.execute("ALTER TABLE stations ADD COLUMN wipe INTEGER NOT NULL DEFAULT 0")
    ddl.execute("ALTER TABLE enrollments ADD COLUMN replaces TEXT")


def _station_audit(ddl: Ddl) -> None:
    """Step 8: each station's audit trail as it sent it (issue 25), kept as received so that
    `county audit verify` can show an entry edited, taken out or moved, here or on the box."""
    ddl.execute("""CREATE TABLE station_audit (
        station TEXT NOT NULL, seq BIGINT NOT NULL, at TEXT NOT NULL, clerk TEXT NOT NULL,
        role TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL,
        prev TEXT NOT NULL, hash TEXT NOT NULL, received_at TEXT NOT NULL,
        PRIMARY KEY (station, seq))""")


STEPS: tuple[Step, ...] = (
    Step(1, "baseline: the tables, indexes and columns of SCHEMA", _baseline),
    Step(2, "stations: protocol_version and software_version", _station_versions),
    Step(3, "changes: seen (causal contexts); stations: scope_version, prior_grids", _change_contexts),
    Step(4, "accounts: role; login_failures, audit", _roles),
    Step(5, "stations: name, clock_offset_ms, clock_seen_at; station_reports: backup_ms,"
            " backup_behind", _fleet),
    Step(6, "record_facts, case_facts, case_marks, figure_counts, key_counts: the work figures"
            " kept as facts", _figures),
    Step(7, "stations: wipe; enrollments: replaces (revocation that reaches the box)", _replacement),
    Step(8, "station_audit: each station's audit trail, as received", _station_audit),
)
LATEST = STEPS[-1].number
