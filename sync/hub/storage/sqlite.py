"""The hub's embedded default: one SQLite file in COUNTY_HOME, no set-up."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sync.hub.storage.base import SCHEMA, Storage, Tx


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

    def migrate(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn().executescript(SCHEMA.format(serial="INTEGER", blob="BLOB"))

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

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
