"""The hub on PostgreSQL, for several stateless hub processes behind a load balancer."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from sync.errors import ConfigError, DatabaseDown
from sync.hub.config import DEFAULT_POOL_SIZE
from sync.hub.storage import migrations
from sync.hub.storage.base import CHECK_SQL, Storage, Tx

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


POOL_SIZE = DEFAULT_POOL_SIZE
# Seconds a request thread waits for a free connection of the pool before its request fails
# with DatabaseDown (503): longer than a push usually holds one, shorter than a station's
# read timeout (60 s), so a station hears "try again" instead of timing out.
POOL_WAIT_S = 30.0
# Seconds the health check waits for PostgreSQL to answer (a load balancer probes every few).
CHECK_TIMEOUT_S = 3


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
    """Connections from a psycopg_pool pool of `pool_size` (opened at the first transaction,
    grown on demand, a broken connection dropped on its return); migrations and the health
    check each take a connection of their own, so a bad URL fails at once, not after the
    pool's wait."""

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()
        self._checker: psycopg.Connection | None = None

    def _connect(self, **options: Any) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True, **options)
        except psycopg.OperationalError as exc:
            raise ConfigError(f"无法连接 PostgreSQL：{exc}",
                              f"cannot connect to PostgreSQL: {exc}") from exc

    def _opened(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                # min_size 1: an idle hub holds one connection; the rest come with the load
                # and go after max_idle (10 minutes).
                self._pool = ConnectionPool(self.url, min_size=1, max_size=self.pool_size,
                                            kwargs={"autocommit": True}, timeout=POOL_WAIT_S,
                                            open=False, name="county-hub")
                self._pool.open(wait=False)
                # A storage dropped without `close` closes its pool where it is dropped: left to
                # the pool's own __del__, that can run in one of its threads, which cannot stop
                # itself ("cannot join current thread").
                weakref.finalize(self, self._pool.close)
            return self._pool

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        pool = self._opened()
        try:
            try:
                conn = pool.getconn()
            except PoolClosed:  # `close` in another thread: the storage stays usable, as before
                pool = self._opened()
                conn = pool.getconn()
        except PoolTimeout as exc:
            raise DatabaseDown(f"no PostgreSQL connection within {POOL_WAIT_S:.0f} s") from exc
        try:
            yield conn
        finally:
            pool.putconn(conn)  # rolled back if left in a transaction, dropped if broken

    def migrate(self) -> list[int]:
        # PostgreSQL's DDL is transactional: a failed step leaves the database as it was.
        # (A copy of a PostgreSQL database is the operator's pg_dump: docs/UPGRADING.md.)
        found = 0
        try:
            with self._connect() as conn, conn.transaction(), conn.cursor() as cursor:
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

    def check(self) -> None:
        with self._lock:
            try:
                if self._checker is None or self._checker.closed or self._checker.broken:
                    self._checker = self._connect(connect_timeout=CHECK_TIMEOUT_S,
                                                  options=f"-c statement_timeout={CHECK_TIMEOUT_S * 1000}")
                self._checker.execute(CHECK_SQL.encode()).fetchone()
            except (psycopg.Error, ConfigError) as exc:
                if self._checker is not None:
                    self._checker.close()
                self._checker = None
                raise DatabaseDown(_first_line(exc)) from exc

    def close(self) -> None:
        """Close the pool and the health check's connection. Connections in use are closed as
        they come back; the next transaction opens a new pool."""
        with self._lock:
            pool, self._pool = self._pool, None
            if self._checker is not None:
                self._checker.close()
                self._checker = None
        if pool is not None:
            pool.close()


def _first_line(exc: Exception) -> str:
    cause = exc.__cause__ if isinstance(exc, ConfigError) and exc.__cause__ else exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]
