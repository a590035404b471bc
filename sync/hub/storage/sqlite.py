"""The hub's embedded default: one SQLite file in COUNTY_HOME, no set-up."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sync.errors import DatabaseDown
from sync.hub.storage import migrations
from sync.hub.storage.base import CHECK_SQL, Storage, Tx
from sync.store_copy import copy_beside, remove_copies

# Seconds the health check waits for SQLite's lock (a checkpoint holds it briefly).
CHECK_TIMEOUT_S = 3


class _SqliteDdl:
    serial = "INTEGER"
    blob = "BLOB"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, args).fetchall()

    def tables(self) -> set[str]:
        return {name for (name,) in self.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def columns(self, table: str) -> set[str]:
        return {row[1] for row in self.execute(f"PRAGMA table_info({table})")}


class SqliteStorage(Storage):
    def __init__(self, url: str) -> None:
        self.url = url
        self.path = Path(url.removeprefix("sqlite:///"))
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        # One connection per thread: uvicorn and tests call from several threads.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def migrate(self) -> list[int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._conn()
        ddl = _SqliteDdl(conn)
        version = migrations.storage_version(ddl)
        if version == migrations.LATEST:
            remove_copies(self.path)
            return []
        if ddl.tables() and version < migrations.LATEST:
            # A hub that already holds data: keep a copy until the next good start.
            copy_beside(conn, self.path, version)
        conn.execute("BEGIN IMMEDIATE")
        try:
            applied = migrations.run(ddl)  # looks again, under the write lock
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise migrations.failed(version, exc) from exc
            raise
        return applied

    @contextmanager
    def transaction(self, push: bool = False) -> Iterator[Tx]:
        # BEGIN IMMEDIATE takes SQLite's one write lock up front: writers are serialised,
        # which is what exactly-once receipts and in-order hub sequence numbers need.
        cursor = self._conn().cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield Tx(cursor, "?")
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise

    def check(self) -> None:
        # A fresh read-only connection, not this thread's: an open one still reads a file
        # that was deleted or replaced under it, and would call a lost database healthy.
        try:
            conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True,
                                   timeout=CHECK_TIMEOUT_S)
            try:
                conn.execute(CHECK_SQL).fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise DatabaseDown(f"{exc} ({self.path.name})") from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
