"""The one write path of the station.

Every add, update and delete of a record goes through `Writes`, bound to one open
transaction of the store: it validates, seals, stamps a hybrid logical clock, updates the
blind indexes and appends exactly one row to the change log (the outbox) in the same
transaction as the record. No other code writes records or changes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from functools import lru_cache
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any

from station.blind_index import BlindIndex
from sync.errors import ValidationError
from sync.schema import EntityDef
from sync.seal import Sealer
from sync.validate import normalise_for_index, validate_record

if TYPE_CHECKING:
    from station.store import Store, _Txn

# Rows per executemany during a bulk import: large enough to amortise the Python-to-SQLite
# round trip, small enough to keep memory flat on a cheap box.
BULK_CHUNK = 2_000
DELETED = "_deleted"

# The C encoder, made once: json.dumps (and JSONEncoder.encode) build a new one on every
# call, which showed up as a tenth of the bulk-import time in the profile.
_c_encode = c_make_encoder(None, None, encode_basestring, None, ":", ",", True, False, False)


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON, the same as json.dumps(..., sort_keys=True)."""
    return "".join(_c_encode(value, 0))


@lru_cache(maxsize=64)
def iso_ms(wall_ms: int) -> str:
    """UTC ISO 8601 text of a millisecond time (cached: a bulk import stamps many per ms)."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(wall_ms / 1000, UTC).isoformat(timespec="milliseconds")


def field_clock(row: Mapping[str, Any], clocks: Mapping[str, str], current: Mapping[str, Any],
                field: str) -> str:
    """The clock of a field's last write: its own entry, else the add's if the add wrote it,
    else "" (never written)."""
    if field in clocks:
        return clocks[field]
    return str(row["created_hlc"]) if field in current else ""


class Writes:
    """The writes of one transaction; made by `Store.atomic()`, valid only inside it."""

    def __init__(self, store: Store, txn: _Txn, sealer: Sealer, index: BlindIndex) -> None:
        self.store = store
        self.schema = store.schema
        self.txn = txn
        self.sealer = sealer
        self.index = index

    # ------------------------------------------------------------------ add

    def add(self, entity_name: str, values: Mapping[str, Any]) -> str:
        return self.add_lines(entity_name, [(0, values)])[0]

    def add_lines(self, entity_name: str, rows: Iterable[tuple[int, Mapping[str, Any]]]) -> list[str]:
        """Validate and add (line, record) pairs; the first bad one raises, naming its line.

        (A writer thread overlapping SQLite with the sealing was tried and measured slower:
        the two threads fight over the GIL while binding parameters.)"""
        entity = self.schema.entity(entity_name)
        today = self.store.clock.today()
        ids: list[str] = []
        batch = _Batch()
        for line, raw in rows:
            try:
                values = validate_record(entity, raw, self.schema, today=today)
            except ValidationError as exc:
                raise (exc.at_line(line) if line else exc) from None
            ids.append(self._prepare_add(entity, values, batch))
            if len(batch.records) >= BULK_CHUNK:
                batch.flush(self.txn.cursor)
        batch.flush(self.txn.cursor)
        return ids

    def _prepare_add(self, entity: EntityDef, values: dict[str, Any], batch: _Batch) -> str:
        stamp = str(self.store._stamp(self.txn))
        record_id = self.store._ids.make(self.txn.last.wall_ms)
        clear, sealed = self._split(entity, record_id, values)
        clear_json, sealed_json = dumps(clear), dumps(sealed)
        grid = values.get(entity.scope_field) if entity.scope_field else None
        owner = values.get(entity.parent_field) if entity.parent_field else None
        now = iso_ms(self.store.clock.wall_ms())
        version = self.schema.version
        batch.records.append((record_id, entity.name, grid, owner, clear_json, sealed_json, "{}",
                              stamp, stamp, version, now, now))
        batch.changes.append((record_id, entity.name, "add", grid, clear_json, sealed_json, stamp,
                              "{}", version, now))
        batch.index.extend(self._index_rows(entity, record_id, values))
        return record_id

    # ------------------------------------------------------------------ update and delete

    def update(self, entity_name: str, record_id: str, values: Mapping[str, Any]) -> bool:
        """Change some fields; False (and nothing written) when nothing actually changed."""
        entity = self.schema.entity(entity_name)
        row = self.store._live_row(entity, record_id)
        current = self.store._open_fields(row)
        new = validate_record(entity, values, self.schema, today=self.store.clock.today(),
                              partial=True)
        changed = {k: v for k, v in new.items() if current.get(k) != v}
        if not changed:
            return False
        stamp = str(self.store._stamp(self.txn))
        clocks = json.loads(row["clocks"])
        base = {k: field_clock(row, clocks, current, k) for k in changed}
        merged = {k: v for k, v in {**current, **changed}.items() if v is not None}
        clocks.update(dict.fromkeys(changed, stamp))
        self._replace_index(entity, record_id, current, merged)
        clear, sealed = self._split(entity, record_id, merged)
        grid = merged.get(entity.scope_field) if entity.scope_field else None
        owner = merged.get(entity.parent_field) if entity.parent_field else None
        self.txn.cursor.execute(
            "UPDATE records SET grid = ?, owner = ?, clear = ?, sealed = ?, clocks = ?, hlc = ?,"
            " updated_at = ? WHERE id = ?",
            (grid, owner, dumps(clear), dumps(sealed), dumps(clocks), stamp,
             self.store.clock.iso(), record_id),
        )
        change_clear = {k: v for k, v in changed.items() if k not in sealed}
        change_sealed = {k: sealed[k] for k in changed if k in sealed}
        self._append_change(record_id, entity, "update", grid, change_clear, change_sealed, stamp,
                            base)
        return True

    def delete(self, entity_name: str, record_id: str) -> None:
        """A tombstone: the record stays (so the delete can sync) but leaves every view."""
        entity = self.schema.entity(entity_name)
        row = self.store._live_row(entity, record_id)
        stamp = str(self.store._stamp(self.txn))
        clocks = json.loads(row["clocks"])
        base = {DELETED: row["hlc"]}
        clocks[DELETED] = stamp
        self.txn.cursor.execute("DELETE FROM blind_index WHERE record_id = ?", (record_id,))
        self.txn.cursor.execute(
            "UPDATE records SET deleted = 1, clocks = ?, hlc = ?, updated_at = ? WHERE id = ?",
            (dumps(clocks), stamp, self.store.clock.iso(), record_id),
        )
        self._append_change(record_id, entity, "delete", row["grid"], {}, {}, stamp, base)

    def set_step(self, record_id: str, step: str | None) -> None:
        """Cache a workflow subject's current step, derived from its events.

        Not a change: the events are the truth and sync carries them; this column only lets
        lists and reports count by step without replaying every history."""
        self.txn.cursor.execute("UPDATE records SET step = ? WHERE id = ?", (step, record_id))

    def acknowledge(self, seq: int, receipt: int | None, rejected: str | None) -> None:
        """Record the hub's answer to one change: its receipt, or why it was refused."""
        self.txn.cursor.execute(
            "UPDATE changes SET receipt = ?, rejected = ?, acked_at = ? WHERE seq = ?",
            (receipt, rejected, self.store.clock.iso(), seq))

    def put_settings(self, **values: str) -> None:
        self.store._put_settings(**values)

    # ------------------------------------------------------------------ pieces

    def _split(self, entity: EntityDef, record_id: str,
               values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        clear: dict[str, Any] = {}
        secret: list[tuple[str, Any]] = []
        fields = entity.by_name
        for name, value in values.items():
            f = fields.get(name)
            # A field unknown to this schema is sealed: we cannot know it is harmless.
            if f is None or f.sensitive:
                secret.append((name, value))
            else:
                clear[name] = value
        return clear, self.sealer.seal_fields(record_id, entity.name, secret)

    def _append_change(self, record_id: str, entity: EntityDef, op: str, grid: str | None,
                       clear: Mapping[str, Any], sealed: Mapping[str, str], stamp: str,
                       base: Mapping[str, str]) -> None:
        self.txn.cursor.execute(
            "INSERT INTO changes (record_id, entity, op, grid, clear, sealed, hlc, base,"
            " schema_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record_id, entity.name, op, grid, dumps(clear), dumps(sealed), stamp, dumps(base),
             self.schema.version, self.store.clock.iso()),
        )

    def _index_rows(self, entity: EntityDef, record_id: str,
                    values: Mapping[str, Any]) -> list[tuple[str, int, str]]:
        rows = []
        for f in entity.indexed_fields:
            value = values.get(f.name)
            if value is None:
                continue
            key = f"{entity.name}.{f.name}"
            rows.append((key, self.index.bucket(key, normalise_for_index(f, value)), record_id))
        return rows

    def _replace_index(self, entity: EntityDef, record_id: str, old: Mapping[str, Any],
                       new: Mapping[str, Any]) -> None:
        self.txn.cursor.executemany(
            "DELETE FROM blind_index WHERE field = ? AND bucket = ? AND record_id = ?",
            self._index_rows(entity, record_id, old),
        )
        self.txn.cursor.executemany(
            "INSERT OR IGNORE INTO blind_index (field, bucket, record_id) VALUES (?, ?, ?)",
            self._index_rows(entity, record_id, new),
        )


class _Batch:
    """Rows of an add waiting for one executemany each."""

    def __init__(self) -> None:
        self.records: list[tuple[Any, ...]] = []
        self.changes: list[tuple[Any, ...]] = []
        self.index: list[tuple[str, int, str]] = []

    def flush(self, cursor: sqlite3.Cursor) -> None:
        cursor.executemany(
            "INSERT INTO records (id, entity, grid, owner, clear, sealed, clocks, created_hlc, hlc,"
            " schema_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.records,
        )
        cursor.executemany(
            "INSERT INTO changes (record_id, entity, op, grid, clear, sealed, hlc, base,"
            " schema_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.changes,
        )
        cursor.executemany(
            "INSERT OR IGNORE INTO blind_index (field, bucket, record_id) VALUES (?, ?, ?)",
            self.index,
        )
        self.records.clear()
        self.changes.clear()
        self.index.clear()
