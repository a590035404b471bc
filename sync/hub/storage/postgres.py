"""The hub on PostgreSQL, for several stateless hub processes behind a load balancer."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from sync.errors import ConfigError
from sync.hub.storage import migrations
from sync.hub.storage.base import Storage, Tx

# The advisory lock every push transaction takes. It serialises pushes across all hub
# processes, so hub sequence numbers commit in order and a puller never skips one that
# commits late; a measured throughput limit is the price (docs/PROTOCOL.md).
PUSH_LOCK = 73_052_026
# The advisory lock of a migration: of several workers starting together, one migrates and
# the others wait for its commit, then find the database current.
MIGRATE_LOCK = 73_052_027
# The advisory lock of a login's count of failures: guesses sent at once, to any worker, are
# counted one after another and none slips in under the limit. Held only for the count.
LOGIN_LOCK = 73_052_028


class _PgTx(Tx):
    def record_sql(self) -> str:
        return super().record_sql() + " FOR UPDATE"

    def serialise_logins(self) -> None:
        self._run("SELECT pg_advisory_xact_lock(?)", (LOGIN_LOCK,))

    def admins_sql(self) -> str:
        return super().admins_sql() + " FOR UPDATE"

    def blob_sql(self) -> str:
        # Two chunks of one file arriving together must not both count the other as missing.
        return super().blob_sql() + " FOR UPDATE"


# Connections per hub process. PostgreSQL allows 100 in all by default, shared by every hub
# worker and every tool; a request thread waits for a free connection instead of opening one
# of its own (500 stations at once made 2 workers ask for more than 100: bench_load.py).
POOL_SIZE = 10


class _PgDdl:
    serial = "BIGSERIAL"
    blob = "BYTEA"

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self.cursor = cursor

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self.cursor.execute(sql.replace("?", "%s").encode(), args or None)
        return self.cursor.fetchall() if self.cursor.description else []

    def tables(self) -> set[str]:
        return {name for (name,) in self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}

    def columns(self, table: str) -> set[str]:
        return {name for (name,) in self.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?", (table,))}


class PostgresStorage(Storage):
    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise ConfigError(f"无法连接 PostgreSQL：{exc}",
                              f"cannot connect to PostgreSQL: {exc}") from exc

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A connection of the pool for as long as the block runs; a broken one is dropped."""
        with self._slots:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            if conn.closed:
                conn = self._connect()
            try:
                yield conn
            finally:
                if conn.closed or conn.broken:
                    conn.close()
                else:
                    self._idle.put(conn)

    def migrate(self) -> list[int]:
        # PostgreSQL's DDL is transactional: a failed step leaves the database as it was.
        # (A copy of a PostgreSQL database is the operator's pg_dump: docs/UPGRADING.md.)
        found = 0
        try:
            with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
                ddl = _PgDdl(cursor)
                found = migrations.storage_version(ddl)
                return migrations.run(ddl)
        except psycopg.Error as exc:
            raise migrations.failed(found, exc) from exc

    @contextmanager
    def transaction(self, push: bool = False) -> Iterator[Tx]:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            if push:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (PUSH_LOCK,))
            yield _PgTx(cursor, "%s")

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
