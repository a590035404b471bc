"""The station's audit trail on disk (issue 25 point 2): the `audit_log` table, appended in
the transaction of the action it records, so an action and its entry land together or not at
all. The chain's rules are in sync/audit_chain.py, shared with the hub."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from sync.audit_chain import AuditEntry, Break, first_break, following
from sync.crypto_suite import CryptoSuite, suite_named

# The role an entry names when none is given: a clerk's (station/roles.py holds the others;
# the write path and the unlock pass the unlocked slot's own).
CLERK_ROLE = "clerk"
_COLUMNS = "seq, at, clerk, role, action, target, detail, prev, hash"


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    seq, at, clerk, role, action, target, detail, prev, digest = row
    return AuditEntry(int(seq), at, clerk, role, action, target, detail, prev, digest)


def last(conn: sqlite3.Connection | sqlite3.Cursor) -> AuditEntry | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return _entry(row) if row else None


def append(cursor: sqlite3.Cursor, at: str, clerk: str, action: str, target: str = "",
           detail: Mapping[str, Any] | None = None, role: str = CLERK_ROLE) -> AuditEntry:
    """Chain one entry to the newest (inside the caller's write transaction)."""
    entry = following(last(cursor), at, clerk, role, action, target, detail, _suite(cursor))
    cursor.execute(f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (entry.seq, entry.at, entry.clerk, entry.role, entry.action, entry.target,
                    entry.detail, entry.prev, entry.hash))
    return entry


def entries(conn: sqlite3.Connection, after: int = 0, limit: int | None = None) -> list[AuditEntry]:
    """The entries after seq `after`, in the order stored (by seq)."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                        (after, -1 if limit is None else limit)).fetchall()
    return [_entry(r) for r in rows]


def verify(conn: sqlite3.Connection) -> tuple[int, Break | None]:
    """(entries, the first break or None) of the whole trail as the file holds it."""
    held = entries(conn)
    return len(held), first_break(held, suite=_suite(conn))


def _suite(conn: sqlite3.Connection | sqlite3.Cursor) -> CryptoSuite:
    """The store's suite (its `crypto` setting): the chain's digest is the suite's."""
    row = conn.execute("SELECT value FROM settings WHERE key = 'crypto'").fetchone()
    return suite_named(None if row is None else str(row[0]))
