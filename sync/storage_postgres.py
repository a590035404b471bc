"""The hub on PostgreSQL, for several stateless hub processes behind a load balancer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from sync.errors import ConfigError
from sync.storage import SCHEMA, Storage, Tx

# The advisory lock every push transaction takes. It serialises pushes across all hub
# processes, so hub sequence numbers commit in order and a puller never skips one that
# commits late; a measured throughput limit is the price (docs/PROTOCOL.md).
PUSH_LOCK = 73_052_026


class _PgTx(Tx):
    def record_sql(self) -> str:
        return super().record_sql() + " FOR UPDATE"


class PostgresStorage(Storage):
    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()

    def _conn(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            try:
                conn = psycopg.connect(self.url, autocommit=True)
            except psycopg.OperationalError as exc:
                raise ConfigError(f"无法连接 PostgreSQL：{exc}",
                                  f"cannot connect to PostgreSQL: {exc}") from exc
            self._local.conn = conn
        return conn

    def migrate(self) -> None:
        with self._conn().transaction():
            self._conn().execute(SCHEMA.format(serial="BIGSERIAL").encode())

    @contextmanager
    def transaction(self, push: bool = False) -> Iterator[Tx]:
        conn = self._conn()
        with conn.transaction(), conn.cursor() as cursor:
            if push:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (PUSH_LOCK,))
            yield _PgTx(cursor, "%s")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
