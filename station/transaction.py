"""One open write transaction of the store, as the write path is handed it.

`Store` builds a `Transaction` inside BEGIN IMMEDIATE ... COMMIT, and `station.writes` works
only through it: its cursor (the one connection that writes), the hybrid logical clock it
stamps with, new record ids, the sealer and the blind index. Nothing in it reaches back into
the store, so the write path is all in `station.writes` (and `station.blob_writes` for
attachment bytes) and no other module holds what it takes to write.

Also here: reading a record's row and opening its fields, which the store's reads share.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from station import settings
from station.blind_index import BlindIndex
from station.ids import IdMaker
from station.roles import CLERK_GRANT, Grant
from sync import clock as hlc
from sync.errors import LockedError, NotFound
from sync.schema import EntityDef, Schema
from sync.seal import Sealer, field_ad

if TYPE_CHECKING:
    from station.store import Clock


def fetch_rows(conn: sqlite3.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    """The rows of a query, each a dict of its columns."""
    cursor = conn.execute(sql, args)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def fetch_row(conn: sqlite3.Connection, record_id: str) -> dict[str, Any] | None:
    """The records row of an id, as a dict of its columns, or None."""
    rows = fetch_rows(conn, "SELECT * FROM records WHERE id = ?", record_id)
    return rows[0] if rows else None


def check_live(entity: EntityDef, record_id: str, row: Mapping[str, Any] | None) -> dict[str, Any]:
    """The row, if it is a live record of `entity`; else NotFound."""
    if row is None or row["entity"] != entity.name or row["deleted"]:
        raise NotFound(f"没有 {entity.label_zh} 记录 {record_id}", f"no {entity.name} record {record_id}")
    return dict(row)


def open_fields(sealer: Sealer, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's field values: the clear ones and the sealed ones opened."""
    values: dict[str, Any] = json.loads(row["clear"])
    for name, sealed in json.loads(row["sealed"]).items():
        values[name] = sealer.open_value(sealed, field_ad(row["id"], row["entity"], name))
    return values


def own_ids(conn: sqlite3.Connection, row: Mapping[str, Any]) -> list[str | None]:
    """The ids that make a record a volunteer's own (station/roles.py `is_own`): its id, its
    owner, its `volunteer` field, and its owner's `volunteer` field (an incident's step or
    photo belongs to whoever reported the incident)."""
    ids = [row.get("id"), row.get("owner"), json.loads(row["clear"]).get("volunteer")]
    if row.get("owner"):
        parent = conn.execute("SELECT json_extract(clear, '$.volunteer') FROM records WHERE id = ?",
                              (row["owner"],)).fetchone()
        ids.append(parent[0] if parent else None)
    return ids


class Transaction:
    """State of one write transaction; the clock (`last`) and the seal count are saved by
    the store at commit. Valid only inside the `with` block that made it."""

    def __init__(self, cursor: sqlite3.Cursor, last: hlc.Stamp, *, clock: Clock, station_id: str,
                 schema: Schema, ids: IdMaker, sealer: Sealer | None,
                 index: BlindIndex | None, clerk: str | None = None,
                 grant: Grant = CLERK_GRANT) -> None:
        self.cursor = cursor
        self.last = last
        self.clock = clock
        self.station_id = station_id
        self.schema = schema
        self._ids = ids
        self._sealer = sealer
        self._index = index
        self.clerk = clerk  # who is writing (None: a script with the recovery key, a restore)
        self.grant = grant  # what the writer's role may do (station/roles.py)

    def keys(self) -> tuple[Sealer, BlindIndex]:
        """The sealer and the blind index; a locked store has neither."""
        if self._sealer is None or self._index is None:
            raise LockedError("数据已锁定，请先输入口令", "the store is locked; unlock it first")
        return self._sealer, self._index

    # ------------------------------------------------------------------ clock and ids

    def stamp(self) -> hlc.Stamp:
        """The next clock stamp of this station."""
        self.last = hlc.tick(self.last, self.clock.wall_ms(), self.station_id)
        return self.last

    def receive(self, seen: str) -> None:
        """Move the clock past a stamp seen from elsewhere (a pulled change), so what is written
        here next follows it even when this box's wall clock is far behind."""
        self.last = hlc.receive(self.last, hlc.parse(seen), self.clock.wall_ms(), self.station_id,
                                max_skew_ms=2**62)

    def restart_clock(self, floor: list[hlc.Stamp]) -> None:
        """Set the clock to now, or to the newest of `floor` if that is later."""
        self.last = max([hlc.Stamp(self.clock.wall_ms(), 0, self.station_id), *floor])

    def new_id(self) -> str:
        """A new record id, ordered by the last stamp's time."""
        return self._ids.make(self.last.wall_ms)

    # ------------------------------------------------------------------ reading inside it

    # A cursor of its own for each read (the connection's), so a read never resets a query
    # the caller is still stepping through on `cursor`.

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return fetch_rows(self.cursor.connection, sql, *args)

    def row(self, record_id: str) -> dict[str, Any] | None:
        return fetch_row(self.cursor.connection, record_id)

    def live_row(self, entity: EntityDef, record_id: str) -> dict[str, Any]:
        return check_live(entity, record_id, self.row(record_id))

    def open_fields(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return open_fields(self.keys()[0], row)

    def setting(self, key: str) -> str | None:
        return settings.get(self.cursor.connection, key)

    def put_settings(self, **values: str) -> None:
        settings.put(self.cursor, **values)
