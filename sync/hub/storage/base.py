"""The county hub's storage: one interface, a SQLite and a PostgreSQL implementation.

Everything the hub keeps goes through `Storage.transaction()`, which hands out a `Tx` whose
methods are plain SQL shared by both engines (placeholders are rewritten per engine). What
differs lives in `sqlite.py` and `postgres.py` beside this file: connecting, the schema's
auto-increment column, and how a push transaction is serialised.

Two rules hold on both engines, for any number of hub processes:
* a change is stored once per (station, station_seq): a resent batch gets the old receipts;
* hub sequence numbers become visible in order, so a puller that has seen N never later
  finds a change below N it missed (a push transaction is serialised for that).

Personal values arrive here already sealed by the hub (`fields`, `state` are opaque text).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sync.audit_chain import AuditEntry
from sync.hub.storage.figures import FigureTx

# Storage version 1 (the baseline); later versions are steps in migrations.py beside this file.
SCHEMA = """
CREATE TABLE IF NOT EXISTS hub_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS enrollments (
    code_hash  TEXT PRIMARY KEY,
    township   TEXT NOT NULL,
    grids      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_by    TEXT
);
CREATE TABLE IF NOT EXISTS stations (
    id          TEXT PRIMARY KEY,
    township    TEXT NOT NULL,
    grids       TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    enrolled_at TEXT NOT NULL,
    revoked_at  TEXT,
    last_seen   TEXT,
    schema_version INTEGER
);
CREATE TABLE IF NOT EXISTS bundles (
    version      INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    body         TEXT NOT NULL,
    signature    TEXT NOT NULL,
    published_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (
    station TEXT NOT NULL,
    nonce   TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    PRIMARY KEY (station, nonce)
);
CREATE TABLE IF NOT EXISTS changes (
    hub_seq        {serial} PRIMARY KEY,
    station        TEXT NOT NULL,
    station_seq    BIGINT NOT NULL,
    record         TEXT NOT NULL,
    entity         TEXT NOT NULL,
    op             TEXT NOT NULL,
    grid           TEXT,
    prev_grid      TEXT,
    fields         TEXT NOT NULL,
    hlc            TEXT NOT NULL,
    base           TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    received_at    TEXT NOT NULL,
    was            TEXT NOT NULL DEFAULT '',
    UNIQUE (station, station_seq)
);
CREATE INDEX IF NOT EXISTS changes_grid ON changes (grid, hub_seq);
CREATE TABLE IF NOT EXISTS records (
    id      TEXT PRIMARY KEY,
    entity  TEXT NOT NULL,
    grid    TEXT,
    state   TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    hlc     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_entity ON records (entity, id);
CREATE TABLE IF NOT EXISTS station_reports (
    station     TEXT PRIMARY KEY,
    pending     INTEGER,
    rejected    INTEGER,
    pull_cursor BIGINT NOT NULL,
    reported_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    name       TEXT PRIMARY KEY,
    password   TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
    sha256       TEXT PRIMARY KEY,
    size         BIGINT NOT NULL,
    chunks       INTEGER NOT NULL,
    complete     INTEGER NOT NULL DEFAULT 0,
    station      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    completed_at TEXT
);
CREATE TABLE IF NOT EXISTS blob_chunks (
    sha256 TEXT NOT NULL,
    idx    INTEGER NOT NULL,
    data   {blob} NOT NULL,
    PRIMARY KEY (sha256, idx)
);
CREATE TABLE IF NOT EXISTS web_sessions (
    token_hash TEXT PRIMARY KEY,
    account    TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
"""


@dataclass(frozen=True)
class StationRow:
    id: str
    township: str
    grids: tuple[str, ...]
    public_key: str
    revoked_at: str | None
    # What its latest signed request named (sync/version.py); None before its first one.
    protocol_version: int | None = None
    software_version: str | None = None
    # How many times county IT changed its grids, and the grids before the latest change
    # (None: never changed; () the whole township). A change written before its station had
    # received a narrowing is judged by the scope it was written under.
    scope_version: int = 0
    prior_grids: tuple[str, ...] | None = None
    # The name its clerks gave it (`station init --name`), as it last said it; None before
    # it said one (a release that does not send it).
    name: str | None = None
    # Not stored: how far the clock of the request that authenticated it was from the hub's
    # (station minus hub, ms), recorded with what it says when it pulls.
    offset_ms: int | None = None
    # Revoked with --wipe: at its next contact the box pushes what it can, then destroys its
    # keyslots (issue 25). Only pushes are taken from it meanwhile.
    wipe: bool = False

    def in_scope(self, grid: str | None) -> bool:
        """A station reads and writes its township, or only its grids when so enrolled."""
        return _within(grid, self.township, self.grids)

    def in_scope_when(self, grid: str | None, scope: int | None) -> bool:
        """Whether a change written under scope version `scope` may touch `grid`: in today's
        scope, or in the one before when its author had not yet received the change."""
        if self.in_scope(grid):
            return True
        return ((scope or 0) < self.scope_version and self.prior_grids is not None
                and _within(grid, self.township, self.prior_grids))


def _within(grid: str | None, township: str, grids: tuple[str, ...]) -> bool:
    if grid is None:
        return False
    if grids:
        return grid in grids
    return grid.startswith(township)


@dataclass(frozen=True)
class StoredChange:
    hub_seq: int
    station: str
    station_seq: int
    record: str
    entity: str
    op: str
    grid: str | None
    fields: str
    hlc: str
    base: str
    schema_version: int
    was: str = ""  # sealed values the author saw, "" when none
    prev_grid: str | None = None  # the record's grid before this change (read back on pull)
    seen: str | None = None  # JSON causal context as the station sent it; None: legacy
    author: str = ""  # the sealed name of the clerk who wrote it, "" when not sent


class Tx(FigureTx):
    """The statements of one hub transaction, the same on both engines (the work figures'
    facts in `FigureTx`, storage/figures.py)."""

    def __init__(self, cursor: Any, placeholder: str) -> None:
        self.cursor = cursor
        self._mark = placeholder

    def _run(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return self.cursor.execute(sql.replace("?", self._mark), tuple(args))

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._run(sql, args).fetchall())

    # -- settings
    def setting(self, key: str) -> str | None:
        found = self.rows("SELECT value FROM hub_settings WHERE key = ?", (key,))
        return str(found[0][0]) if found else None

    def put_setting(self, key: str, value: str) -> None:
        self._run("INSERT INTO hub_settings (key, value) VALUES (?, ?) ON CONFLICT (key)"
                  " DO UPDATE SET value = excluded.value", (key, value))

    # -- enrollment and stations
    def add_enrollment(self, code_hash: str, township: str, grids: Sequence[str], now: str) -> None:
        self._run("INSERT INTO enrollments (code_hash, township, grids, created_at) VALUES (?, ?, ?, ?)",
                  (code_hash, township, json.dumps(list(grids)), now))

    def add_replacement(self, code_hash: str, station: StationRow, now: str) -> None:
        """A one-time code for a box that takes over `station` (restored from its backup)."""
        self._run("INSERT INTO enrollments (code_hash, township, grids, created_at, replaces)"
                  " VALUES (?, ?, ?, ?, ?)",
                  (code_hash, station.township, json.dumps(list(station.grids)), now, station.id))

    def take_enrollment(self, code_hash: str, station_id: str
                        ) -> tuple[str, tuple[str, ...], str | None] | None:
        """Use a one-time code: (township, grids, the station it replaces or None), or None
        when unknown or already used."""
        found = self.rows("SELECT township, grids, replaces FROM enrollments WHERE code_hash = ?"
                          " AND used_by IS NULL", (code_hash,))
        if not found:
            return None
        self._run("UPDATE enrollments SET used_by = ? WHERE code_hash = ?", (station_id, code_hash))
        township, grids, replaces = found[0]
        return str(township), tuple(json.loads(grids)), replaces

    # -- the stations' audit trails
    def add_station_audit(self, station_id: str, entries: Sequence[AuditEntry], now: str) -> int:
        """Keep a station's entries as received (one sent again changes nothing); the newest
        seq now held of it (0: none)."""
        for e in entries:
            self._run("INSERT INTO station_audit (station, seq, at, clerk, role, action, target,"
                      " detail, prev, hash, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                      " ON CONFLICT (station, seq) DO NOTHING",
                      (station_id, e.seq, e.at, e.clerk, e.role, e.action, e.target, e.detail,
                       e.prev, e.hash, now))
        found = self.rows("SELECT max(seq) FROM station_audit WHERE station = ?", (station_id,))
        return int(found[0][0] or 0)

    def station_audit(self, station_id: str, limit: int | None = None) -> list[AuditEntry]:
        """A station's entries as held, by seq (the newest `limit` when given, still by seq)."""
        if limit is None:
            rows = self.rows("SELECT seq, at, clerk, role, action, target, detail, prev, hash"
                             " FROM station_audit WHERE station = ? ORDER BY seq", (station_id,))
        else:
            rows = self.rows("SELECT seq, at, clerk, role, action, target, detail, prev, hash"
                             " FROM station_audit WHERE station = ? ORDER BY seq DESC LIMIT ?",
                             (station_id, limit))[::-1]
        return [AuditEntry(int(r[0]), *r[1:]) for r in rows]

    def rekey_station(self, station_id: str, public_key: str, name: str | None) -> None:
        """The replacement box's key takes over the station: the old box's key signs nothing
        any more, and the revocation (with its wipe) is over."""
        self._run("UPDATE stations SET public_key = ?, revoked_at = NULL, wipe = 0,"
                  " name = coalesce(?, name) WHERE id = ?", (public_key, name, station_id))

    def add_station(self, station: StationRow, now: str) -> None:
        self._run("INSERT INTO stations (id, township, grids, public_key, enrolled_at, name)"
                  " VALUES (?, ?, ?, ?, ?, ?)",
                  (station.id, station.township, json.dumps(list(station.grids)),
                   station.public_key, now, station.name))

    def station(self, station_id: str) -> StationRow | None:
        found = self.rows("SELECT id, township, grids, public_key, revoked_at, protocol_version,"
                          " software_version, scope_version, prior_grids, name, wipe FROM stations"
                          " WHERE id = ?", (station_id,))
        if not found:
            return None
        sid, township, grids, key, revoked, protocol, software, scope, prior, name, wipe = found[0]
        return StationRow(sid, township, tuple(json.loads(grids)), key, revoked, protocol, software,
                          int(scope or 0), None if prior is None else tuple(json.loads(prior)), name,
                          wipe=bool(wipe))

    def set_grids(self, station: StationRow, grids: Sequence[str]) -> None:
        """County IT changes a station's grids; the old ones are kept as its prior scope."""
        self._run("UPDATE stations SET grids = ?, prior_grids = ?, scope_version = ? WHERE id = ?",
                  (json.dumps(list(grids)), json.dumps(list(station.grids)),
                   station.scope_version + 1, station.id))

    def note_versions(self, station_id: str, protocol: int, software: str | None) -> None:
        """The protocol and software versions a station's signed request named."""
        self._run("UPDATE stations SET protocol_version = ?, software_version = ? WHERE id = ?",
                  (protocol, software, station_id))

    def note_name(self, station_id: str, name: str) -> None:
        """The name a station's signed request (or its enrollment) says it has."""
        self._run("UPDATE stations SET name = ? WHERE id = ?", (name, station_id))

    def note_clock(self, station_id: str, offset_ms: int, now: str) -> None:
        """How far a station's clock was from the hub's in a request it signed."""
        self._run("UPDATE stations SET clock_offset_ms = ?, clock_seen_at = ? WHERE id = ?",
                  (offset_ms, now, station_id))

    def revoke(self, station_id: str, now: str, wipe: bool = False) -> bool:
        """Revoke a station (False: no such station, or revoked already). With `wipe`, also a
        station revoked before without it: its box is told to destroy its keys."""
        return bool(self._run(
            "UPDATE stations SET revoked_at = coalesce(revoked_at, ?),"
            " wipe = CASE WHEN ? = 1 THEN 1 ELSE wipe END"
            " WHERE id = ? AND (revoked_at IS NULL OR (? = 1 AND wipe = 0))",
            (now, int(wipe), station_id, int(wipe))).rowcount)

    def seen(self, station_id: str, schema_version: int | None, now: str) -> None:
        """A station called: when, and the schema version it says it runs."""
        self._run("UPDATE stations SET last_seen = ?, schema_version = coalesce(?, schema_version)"
                  " WHERE id = ?", (now, schema_version, station_id))

    def report_outbox(self, station_id: str, pending: int | None, rejected: int | None,
                      cursor: int, now: str,
                      backup: tuple[int | None, int | None] = (None, None)) -> None:
        """What a station said of its outbox (and of its backup: when its replica last
        received a transaction, ms, and how many it lacks) when it pulled, and where its pull
        stood. What it did not say this time is kept from before."""
        self._run("INSERT INTO station_reports (station, pending, rejected, pull_cursor, reported_at,"
                  " backup_ms, backup_behind) VALUES (?, ?, ?, ?, ?, ?, ?)"
                  " ON CONFLICT (station) DO UPDATE SET"
                  " pending = coalesce(excluded.pending, station_reports.pending),"
                  " rejected = coalesce(excluded.rejected, station_reports.rejected),"
                  " pull_cursor = excluded.pull_cursor, reported_at = excluded.reported_at,"
                  " backup_ms = coalesce(excluded.backup_ms, station_reports.backup_ms),"
                  " backup_behind = coalesce(excluded.backup_behind, station_reports.backup_behind)",
                  (station_id, pending, rejected, cursor, now, *backup))

    def after_own_push(self, station_id: str, left: int, refused: int, first_seq: int | None,
                       last_seq: int | None) -> None:
        """A push from the station took `left` changes out of its outbox (`refused` of them
        refused) and stored its accepted ones as `first_seq`..`last_seq`: what it reported
        waiting at the start of its round is that much less, its refused ones that many more,
        and a pull that had reached everything before them is past them too (a station never
        pulls its own). Without this the fleet view showed a round's later batches as still
        waiting, until the next round."""
        self._run("UPDATE station_reports SET pending = CASE WHEN pending > ? THEN pending - ? ELSE 0 END,"
                  " rejected = rejected + ? WHERE station = ? AND pending IS NOT NULL",
                  (left, left, refused, station_id))
        if first_seq is not None and last_seq is not None:
            self._run("UPDATE station_reports SET pull_cursor = ? WHERE station = ? AND pull_cursor >= ?",
                      (last_seq, station_id, first_seq - 1))

    def station_versions(self) -> dict[int | None, int]:
        """How many stations (not revoked) run each schema version (None: not reported yet)."""
        return {(None if v is None else int(v)): int(n) for v, n in self.rows(
            "SELECT schema_version, count(*) FROM stations WHERE revoked_at IS NULL"
            " GROUP BY schema_version")}

    def stations_seen(self, since: str) -> int:
        """Stations not revoked whose last pull came at or after `since` (ISO time, UTC)."""
        return int(self.rows("SELECT count(*) FROM stations WHERE revoked_at IS NULL"
                             " AND last_seen >= ?", (since,))[0][0])

    def stations(self) -> list[dict[str, Any]]:
        """Every station with what the dashboard shows of it, newest enrollment first."""
        rows = self.rows(
            "SELECT s.id, s.township, s.grids, s.enrolled_at, s.revoked_at, s.last_seen,"
            " s.schema_version, s.protocol_version, s.software_version,"
            " (SELECT max(received_at) FROM changes c WHERE c.station = s.id),"
            " (SELECT count(*) FROM changes c WHERE c.station = s.id), r.pending, r.rejected,"
            " r.pull_cursor,"
            " (SELECT count(*) FROM blobs b WHERE b.station = s.id AND b.complete = 1),"
            " (SELECT count(*) FROM blobs b WHERE b.station = s.id AND b.complete = 0),"
            " s.name, s.clock_offset_ms, s.clock_seen_at, r.backup_ms, r.backup_behind"
            " FROM stations s LEFT JOIN station_reports r ON r.station = s.id"
            " ORDER BY s.enrolled_at DESC, s.id")
        # files: attachments this station was the first to send, whole at the hub; and those
        # still arriving. clock_offset_ms: station minus hub in its latest signed request
        # (at clock_seen_at); backup_ms: when its replica last received a transaction (0:
        # never, or no backup), backup_behind: transactions it lacked; None: never told.
        names = ("id", "township", "grids", "enrolled_at", "revoked_at", "last_seen",
                 "schema_version", "protocol_version", "software_version", "last_push", "changes",
                 "pending", "rejected", "pull_cursor",
                 "files", "files_arriving", "name", "clock_offset_ms", "clock_seen_at",
                 "backup_ms", "backup_behind")
        return [dict(zip(names, row, strict=True)) | {"grids": json.loads(row[2])} for row in rows]

    # -- dashboard accounts and sessions
    def add_account(self, name: str, password_hash: str, now: str, role: str) -> bool:
        """A new account, or False when the name is taken."""
        if self.rows("SELECT 1 FROM accounts WHERE name = ?", (name,)):
            return False
        self._run("INSERT INTO accounts (name, password, created_at, role) VALUES (?, ?, ?, ?)",
                  (name, password_hash, now, role))
        return True

    def account(self, name: str) -> tuple[str, str] | None:
        """(password hash, role) of an account."""
        found = self.rows("SELECT password, role FROM accounts WHERE name = ?", (name,))
        return (str(found[0][0]), str(found[0][1])) if found else None

    def account_hash(self, name: str) -> str | None:
        found = self.account(name)
        return found[0] if found else None

    def accounts(self) -> list[tuple[str, str, str]]:
        """(name, created_at, role) of every account, by name."""
        return [(str(n), str(c), str(r)) for n, c, r in
                self.rows("SELECT name, created_at, role FROM accounts ORDER BY name")]

    def admins(self) -> list[str]:
        """The admins' names, locked for this transaction: two removals at once cannot both
        find another admin left."""
        return [str(n) for (n,) in self.rows(self.admins_sql())]

    def admins_sql(self) -> str:
        return "SELECT name FROM accounts WHERE role = 'admin' ORDER BY name"

    def remove_account(self, name: str) -> bool:
        """Forget an account and end its sessions; False when there is none."""
        self._run("DELETE FROM web_sessions WHERE account = ?", (name,))
        return bool(self._run("DELETE FROM accounts WHERE name = ?", (name,)).rowcount)

    def set_password(self, name: str, password_hash: str) -> bool:
        """A new password hash; every session of the account ends. False when there is none."""
        self._run("DELETE FROM web_sessions WHERE account = ?", (name,))
        return bool(self._run("UPDATE accounts SET password = ? WHERE name = ?",
                              (password_hash, name)).rowcount)

    def add_session(self, token_hash: str, account: str, csrf: str, expires_ms: int) -> None:
        self._run("INSERT INTO web_sessions (token_hash, account, csrf, expires_ms) VALUES (?, ?, ?, ?)",
                  (token_hash, account, csrf, expires_ms))

    def session(self, token_hash: str, now_ms: int) -> tuple[str, str, str] | None:
        """(account, CSRF token, role) of a live session; expired ones are forgotten on the
        way. The role is read at every request: a change takes effect at once."""
        self._run("DELETE FROM web_sessions WHERE expires_ms < ?", (now_ms,))
        found = self.rows("SELECT s.account, s.csrf, a.role FROM web_sessions s"
                          " JOIN accounts a ON a.name = s.account WHERE s.token_hash = ?",
                          (token_hash,))
        return (str(found[0][0]), str(found[0][1]), str(found[0][2])) if found else None

    def end_session(self, token_hash: str) -> None:
        self._run("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash,))

    # -- login throttling (sync/hub/throttle.py holds the rule)
    def serialise_logins(self) -> None:
        """Hold the login lock until this transaction ends, so that two tries never count the
        same failures (SQLite's BEGIN IMMEDIATE serialises every writer already)."""
    def login_failures(self, keys: Sequence[str], since_ms: int) -> dict[str, list[int]]:
        """The failure times of each key after `since_ms`; older ones are forgotten here."""
        self._run("DELETE FROM login_failures WHERE at_ms <= ?", (since_ms,))
        out: dict[str, list[int]] = {k: [] for k in keys}
        marks = ", ".join("?" * len(keys))
        for k, at in self.rows(f"SELECT key, at_ms FROM login_failures WHERE key IN ({marks})",
                               list(keys)):
            out[str(k)].append(int(at))
        return out

    def add_login_failures(self, keys: Sequence[str], at_ms: int, attempt: str) -> None:
        self.cursor.executemany(
            "INSERT INTO login_failures (key, at_ms, attempt) VALUES (?, ?, ?)".replace("?", self._mark),
            [(k, at_ms, attempt) for k in keys])

    def forget_login_failures(self, attempt: str, key: str) -> None:
        """A try that turned out right: its own rows go, and every earlier one of `key`."""
        self._run("DELETE FROM login_failures WHERE attempt = ? OR key = ?", (attempt, key))

    # -- the audit trail (sync/hub/audit.py)
    def add_audit(self, at: str, account: str, role: str, address: str, action: str,
                  target: str, outcome: str) -> None:
        self._run("INSERT INTO audit (at, account, role, address, action, target, outcome)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?)", (at, account, role, address, action, target, outcome))

    def audit(self, limit: int, offset: int = 0) -> list[tuple[str, str, str, str, str, str, str]]:
        """(at, account, role, address, action, target, outcome), newest first."""
        return [tuple(str(v) for v in row) for row in self.rows(  # type: ignore[misc]
            "SELECT at, account, role, address, action, target, outcome FROM audit"
            " ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))]

    def audit_count(self) -> int:
        return int(self.rows("SELECT count(*) FROM audit")[0][0])

    # -- schema bundles
    def add_bundle(self, version: int, name: str, body: str, signature: str, now: str) -> None:
        self._run("INSERT INTO bundles (version, name, body, signature, published_at)"
                  " VALUES (?, ?, ?, ?, ?)", (version, name, body, signature, now))

    def bundles(self, after: int = 0) -> list[tuple[int, str, str, str, str]]:
        """(version, name, body, signature, published_at) of each bundle after `after`."""
        return [(int(v), str(n), str(b), str(s), str(p)) for v, n, b, s, p in self.rows(
            "SELECT version, name, body, signature, published_at FROM bundles WHERE version > ?"
            " ORDER BY version", (after,))]

    def bundle_version(self) -> int:
        found = self.rows("SELECT max(version) FROM bundles")
        return int(found[0][0] or 1)

    def remember_nonce(self, station: str, nonce: str, time_ms: int, forget_before_ms: int) -> bool:
        """True the first time a (station, nonce) is seen; False for a replay."""
        self._run("DELETE FROM nonces WHERE time_ms < ?", (forget_before_ms,))
        if self.rows("SELECT 1 FROM nonces WHERE station = ? AND nonce = ?", (station, nonce)):
            return False
        self._run("INSERT INTO nonces (station, nonce, time_ms) VALUES (?, ?, ?)",
                  (station, nonce, time_ms))
        return True

    # -- attachment bytes (sealed chunks, addressed by the file's SHA-256)
    def blob(self, sha256: str) -> tuple[int, int, bool] | None:
        """(size, chunks, complete) of a file the hub knows, locked for this transaction."""
        found = self.rows(self.blob_sql(), (sha256,))
        return (int(found[0][0]), int(found[0][1]), bool(found[0][2])) if found else None

    def blob_sql(self) -> str:
        return "SELECT size, chunks, complete FROM blobs WHERE sha256 = ?"

    def add_blob(self, sha256: str, size: int, chunks: int, station: str, now: str) -> None:
        self._run("INSERT INTO blobs (sha256, size, chunks, station, created_at) VALUES (?, ?, ?, ?, ?)"
                  " ON CONFLICT (sha256) DO NOTHING", (sha256, size, chunks, station, now))

    def reset_blob(self, sha256: str, size: int, chunks: int, station: str) -> None:
        """Forget a file's chunks and register it anew under another size."""
        self._run("DELETE FROM blob_chunks WHERE sha256 = ?", (sha256,))
        self._run("UPDATE blobs SET size = ?, chunks = ?, station = ? WHERE sha256 = ?",
                  (size, chunks, station, sha256))

    def blob_chunk_indexes(self, sha256: str) -> set[int]:
        return {int(i) for (i,) in self.rows("SELECT idx FROM blob_chunks WHERE sha256 = ?", (sha256,))}

    def put_blob_chunk(self, sha256: str, idx: int, sealed: bytes) -> bool:
        """Keep a chunk; False when it was already held (a resend)."""
        return bool(self._run("INSERT INTO blob_chunks (sha256, idx, data) VALUES (?, ?, ?)"
                              " ON CONFLICT (sha256, idx) DO NOTHING", (sha256, idx, sealed)).rowcount)

    def blob_chunk(self, sha256: str, idx: int) -> bytes | None:
        found = self.rows("SELECT data FROM blob_chunks WHERE sha256 = ? AND idx = ?", (sha256, idx))
        return bytes(found[0][0]) if found else None

    def complete_blob(self, sha256: str, now: str) -> None:
        self._run("UPDATE blobs SET complete = 1, completed_at = ? WHERE sha256 = ?", (now, sha256))

    def drop_blob_chunks(self, sha256: str) -> None:
        self._run("DELETE FROM blob_chunks WHERE sha256 = ?", (sha256,))

    # -- changes and records
    def receipts_of(self, station: str, seqs: Sequence[int]) -> dict[int, int]:
        """Station sequence number -> hub sequence number, for those already stored."""
        if not seqs:
            return {}
        found = self.rows("SELECT station_seq, hub_seq FROM changes WHERE station = ? AND"
                          " station_seq BETWEEN ? AND ?", (station, min(seqs), max(seqs)))
        wanted = set(seqs)
        return {int(s): int(h) for s, h in found if s in wanted}

    def insert_changes(self, rows: Sequence[tuple[StoredChange, str | None]], now: str) -> list[int]:
        """Store changes in order and return their hub sequence numbers.

        Numbered here from `last_seq`, in one executemany: only a push transaction may call
        this, and pushes are serialised (see the module notes), so the numbers are unique and
        commit in order. Each change comes with its record's grid before it, so a station
        whose scope the record leaves still receives the change that moves it out."""
        first = self.last_seq() + 1
        self.cursor.executemany(
            ("INSERT INTO changes (hub_seq, station, station_seq, record, entity, op, grid,"
             " prev_grid, fields, hlc, base, schema_version, received_at, was, seen, author)"
             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").replace("?", self._mark),
            [(first + i, c.station, c.station_seq, c.record, c.entity, c.op, c.grid, prev, c.fields,
              c.hlc, c.base, c.schema_version, now, c.was, c.seen, c.author)
             for i, (c, prev) in enumerate(rows)])
        return list(range(first, first + len(rows)))

    def changes_since(self, cursor: int, station: StationRow, limit: int,
                      own_after: int | None = None) -> list[StoredChange]:
        """Changes after `cursor` in the station's scope, not its own, in hub order; with
        `own_after`, also its own from that station sequence number on (a restored station
        getting back what it sent after its backup's position)."""
        mine_args: list[Any] = [station.id]
        mine = "station != ?"
        if own_after is not None:
            mine, mine_args = "(station != ? OR station_seq > ?)", [station.id, own_after]
        scope, args = _scope_clause(station)
        found = self.rows(
            "SELECT hub_seq, station, station_seq, record, entity, op, grid, fields, hlc, base,"
            " schema_version, was, prev_grid, seen, author FROM changes"
            f" WHERE hub_seq > ? AND {mine} AND {scope}"
            " ORDER BY hub_seq LIMIT ?", [cursor, *mine_args, *args, limit])
        return [StoredChange(*row) for row in found]

    def count_since(self, cursor: int, station: StationRow) -> int:
        """How many changes a pull from `cursor` would bring this station (its first sync's
        estimate: the same filter as `changes_since`, counted)."""
        scope, args = _scope_clause(station)
        found = self.rows(f"SELECT count(*) FROM changes WHERE hub_seq > ? AND station != ? AND {scope}",
                          [cursor, station.id, *args])
        return int(found[0][0] or 0)

    def own_last_seq(self, station_id: str) -> int:
        """The highest station sequence number the hub holds from this station."""
        found = self.rows("SELECT max(station_seq) FROM changes WHERE station = ?", [station_id])
        return int(found[0][0] or 0)

    def last_seq(self) -> int:
        found = self.rows("SELECT max(hub_seq) FROM changes")
        return int(found[0][0] or 0)

    def records_by_id(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None, str, int, str]]:
        """(entity, grid, state, deleted, hlc) of each record that exists, locked for this
        transaction."""
        out: dict[str, tuple[str, str | None, str, int, str]] = {}
        for i in range(0, len(ids), 500):
            part = list(ids[i : i + 500])
            sql = self.record_sql().format(ids=", ".join("?" * len(part)))
            for row in self.rows(sql, part):
                out[str(row[0])] = (str(row[1]), row[2], str(row[3]), int(row[4]), str(row[5]))
        return out

    def record_sql(self) -> str:
        return "SELECT id, entity, grid, state, deleted, hlc FROM records WHERE id IN ({ids})"

    def put_records(self, rows: Sequence[tuple[str, str, str | None, str, bool, str]]) -> None:
        """(id, entity, grid, state, deleted, hlc) of each record, inserted or replaced."""
        self.cursor.executemany(
            ("INSERT INTO records (id, entity, grid, state, deleted, hlc) VALUES (?, ?, ?, ?, ?, ?)"
             " ON CONFLICT (id) DO UPDATE SET entity = excluded.entity, grid = excluded.grid,"
             " state = excluded.state, deleted = excluded.deleted, hlc = excluded.hlc"
             ).replace("?", self._mark),
            [(i, e, g, st, int(d), h) for i, e, g, st, d, h in rows])

    def records(self, entity: str | None = None) -> Iterator[tuple[str, str, str | None, str, int]]:
        sql = "SELECT id, entity, grid, state, deleted FROM records"
        args: list[Any] = []
        if entity:
            sql += " WHERE entity = ?"
            args.append(entity)
        yield from self.rows(sql + " ORDER BY id", args)


class Storage(ABC):
    """A hub database; `transaction(push=True)` serialises pushes (see the module notes)."""

    url: str

    @abstractmethod
    def migrate(self) -> list[int]:
        """Bring the database to the current storage version (sync/hub/storage/migrations.py);
        returns the steps applied, none when it was current. StorageTooNew for a database of
        a newer release."""

    @abstractmethod
    def transaction(self, push: bool = False) -> AbstractContextManager[Tx]: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def check(self) -> None:
        """Read a hub table on a connection of its own, apart from the request's (so a busy
        hub's probe does not wait for one): `DatabaseDown` with the reason if that fails."""


# The query of a health check: a real table of the hub's, so a database that answers but is
# not the hub's (emptied, or the wrong one) fails too.
CHECK_SQL = "SELECT count(*) FROM hub_settings"


def open_storage(url: str, pool_size: int | None = None) -> Storage:
    """`sqlite:///path/hub.db` or `postgresql://…`; `pool_size`: PostgreSQL connections
    (None: POOL_SIZE of postgres.py; SQLite has one per thread and ignores it)."""
    if url.startswith(("postgresql://", "postgres://")):
        from sync.hub.storage.postgres import POOL_SIZE, PostgresStorage

        return PostgresStorage(url, pool_size or POOL_SIZE)
    if url.startswith("sqlite:///"):
        from sync.hub.storage.sqlite import SqliteStorage

        return SqliteStorage(url)
    from sync.errors import ConfigError

    raise ConfigError(f"不支持的数据库地址：{url}", f"unsupported database URL: {url}"
                      " (use sqlite:///PATH or postgresql://…)")


def _scope_clause(station: StationRow) -> tuple[str, list[Any]]:
    """The WHERE clause (and its arguments) of the changes in a station's scope: in one of
    its grids, or in its township when the county did not limit it, or moved out of one."""
    if station.grids:
        marks = ", ".join("?" * len(station.grids))
        return f"(grid IN ({marks}) OR prev_grid IN ({marks}))", list(station.grids) * 2
    return "(grid LIKE ? OR prev_grid LIKE ?)", [station.township + "%"] * 2
