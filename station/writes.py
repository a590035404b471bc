"""The one write path of the station.

Every add, update and delete of a record goes through `Writes`, bound to one open
transaction of the store: it validates, seals, stamps a hybrid logical clock, updates the
blind indexes and appends exactly one row to the change log (the outbox) in the same
transaction as the record. No other code writes records or changes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from station import audit_log, priorities, roles, search_forms
from station.blind_index import BlindIndex
from station.blob_writes import BlobWrites
from station.registry import Registry, duplicate_error
from station.scope import Scope
from station.transaction import Transaction, own_ids
from sync import clock as hlc
from sync import merge
from sync.errors import NotFound, SyncError, TamperedError, ValidationError
from sync.merge import DELETED
from sync.protocol import Entering, WireChange
from sync.register import SAME, key_of, survivor
from sync.schema import EntityDef, FieldDef
from sync.seal import field_ad
from sync.validate import normalise_for_index, validate_record

# Rows per executemany during a bulk import: large enough to amortise the Python-to-SQLite
# round trip, small enough to keep memory flat on a cheap box.
BULK_CHUNK = 2_000

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


# Insert or replace a record from its merge state (the columns of `Writes._record_row`).
_UPSERT_RECORD = (
    "INSERT INTO records (id, entity, grid, owner, clear, sealed, clocks, created_hlc, hlc,"
    " deleted, schema_version, created_at, updated_at, state)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
    " grid = excluded.grid, owner = excluded.owner, clear = excluded.clear,"
    " sealed = excluded.sealed, clocks = excluded.clocks, hlc = excluded.hlc,"
    " deleted = excluded.deleted, updated_at = excluded.updated_at, state = excluded.state")


def was_ad(record_id: str, stamp: str) -> bytes:
    """Associated data of the sealed previous values one change carries."""
    return f"{record_id}|{stamp}|was".encode()


def reveal_ad(record_id: str, field: str, at: str) -> bytes:
    """Associated data of a reveal's sealed clerk name: it opens only on its own row."""
    return f"{record_id}|{field}|{at}|reveal".encode()


def state_ad(record_id: str) -> bytes:
    """Associated data of a record's sealed merge state."""
    return f"{record_id}|state".encode()


def field_clock(row: Mapping[str, Any], clocks: Mapping[str, str], current: Mapping[str, Any],
                field: str) -> str:
    """The clock of a field's last write: its own entry, else the add's if the add wrote it,
    else "" (never written)."""
    if field in clocks:
        return clocks[field]
    return str(row["created_hlc"]) if field in current else ""


class Writes:
    """The writes of one transaction; made by `Store.atomic()`, valid only inside it."""

    def __init__(self, txn: Transaction) -> None:
        self.txn = txn
        self.schema = txn.schema
        self.clock = txn.clock
        self.sealer, self.index = txn.keys()
        self.blobs = BlobWrites(txn)
        # The scope version this station writes under (county IT's changes to its grids).
        self.scope = int(txn.setting("scope_version") or 0)
        # Restored from a backup and not yet given back what it had sent since: it may lack
        # its own latest writes, so its contexts say exactly how far it holds its own.
        self.recovering = bool(txn.setting("recover_after"))
        self.by = txn.clerk or ""  # who writes: shown with a conflict on every station
        self.grant = txn.grant  # what the writer's role may do (station/roles.py)
        self._scope: Scope | None = None
        self._registry: Registry | None = None
        self._tiers: dict[str, int] | None = None
        # What many records added at once are, in the audit trail: "add" (`add --file`, the
        # demo data) or "import" (a spreadsheet), set by the caller.
        self.bulk_action = "add"

    def tier(self, entity: str) -> int:
        """The push tier of a change to `entity` (station.priorities), read once per transaction."""
        if self._tiers is None:
            self._tiers = priorities.tiers(self.schema)
        return priorities.tier_of(self._tiers, entity)

    def retier_outbox(self, moved: Mapping[str, int]) -> None:
        """Give the waiting changes of entities a schema change moved their new tier: all of
        an entity's waiting changes share one tier, so a record's changes keep their order."""
        self.txn.cursor.executemany(
            "UPDATE changes SET tier = ? WHERE entity = ? AND receipt IS NULL AND rejected IS NULL",
            [(tier, entity) for entity, tier in moved.items()])
        self._tiers = None

    @property
    def station_scope(self) -> Scope:
        """The grids this station may enter records in (read once per transaction)."""
        if self._scope is None:
            self._scope = Scope.of({k: self.txn.setting(k) for k in ("township", "scope_grids")})
        return self._scope

    def check_scope(self, entity: EntityDef, values: Mapping[str, Any]) -> None:
        """Refuse a record entered here in a grid outside the station's scope (issue 21):
        the hub would refuse it at the next sync. Pulled records never come through here."""
        f = entity.by_name.get(entity.scope_field or "")
        grid = values.get(f.name) if f is not None else None
        if f is not None and isinstance(grid, str):
            self.station_scope.check(f, grid)

    # ------------------------------------------------------------------ add

    def add(self, entity_name: str, values: Mapping[str, Any], seen: merge.Context = ()) -> str:
        """Add one record. `seen`: what its author had received that it depends on (a step
        event names the case's events, `sync.workflow.case_context`); a new record has
        nothing else in its past."""
        return self.add_lines(entity_name, [(0, values)], seen)[0]

    # ------------------------------------------------------------------ the audit trail

    def audit(self, action: str, target: str = "", detail: Mapping[str, Any] | None = None) -> None:
        """An entry of the audit trail for what the clerk does in this transaction: it lands
        with the write it records, or neither does (station.audit_log)."""
        audit_log.append(self.txn.cursor, self.clock.iso(), self.by, action, target, detail,
                         role=self.grant.role)

    # ------------------------------------------------------------------ roles

    def require(self, action: str, entity: EntityDef | str, *, grid: str | None = None,
                row: Mapping[str, Any] | None = None) -> None:
        """RoleRefused unless the writer's role may do `action` on the entity (on one record:
        its grid, and whether it is a volunteer's own). Before anything is written."""
        entity = self.schema.entity(entity) if isinstance(entity, str) else entity
        own = None
        if row is not None and self.grant.reach == "own":
            own = roles.is_own(self.grant, own_ids(self.txn.cursor.connection, row))
        roles.check(self.grant, action, entity.name, (entity.label_zh, entity.name), grid=grid,
                    own=own)

    def require_admin(self) -> None:
        """RoleRefused unless the writer is a clerk (keyslots, settings)."""
        roles.check(self.grant, "admin", roles.ADMIN_ENTITY, roles.ADMIN_LABELS)

    def _as_added(self, entity: EntityDef, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        """A volunteer's new record names them (a report is credited to who made it)."""
        if self.grant.reach == "own" and "volunteer" in entity.by_name:
            return {**raw, "volunteer": self.grant.volunteer}
        return raw

    def _require_add(self, entity: EntityDef, values: Mapping[str, Any]) -> None:
        grid = values.get(entity.scope_field) if entity.scope_field else None
        owner = values.get(entity.parent_field) if entity.parent_field else None
        row = {"id": None, "owner": owner, "clear": dumps({"volunteer": values.get("volunteer")})}
        self.require("write", entity, grid=grid if isinstance(grid, str) else None, row=row)

    def add_lines(self, entity_name: str, rows: Iterable[tuple[int, Mapping[str, Any]]],
                  seen: merge.Context = ()) -> list[str]:
        """Validate and add (line, record) pairs; the first bad one raises, naming its line.

        (A writer thread overlapping SQLite with the sealing was tried and measured slower:
        the two threads fight over the GIL while binding parameters.)"""
        entity = self.schema.entity(entity_name)
        self.require("import" if self.bulk_action == "import" else "write", entity)
        today = self.clock.today()
        ids: list[str] = []
        batch = _Batch()
        keys: dict[str, int] = {}  # the keys of this add so far, and the line of each
        for line, raw in rows:
            try:
                values = validate_record(entity, self._as_added(entity, raw), self.schema,
                                         today=today)
                self._require_add(entity, values)
                self.check_scope(entity, values)
                key = self._check_key(entity, values, keys, line)
            except ValidationError as exc:
                raise (exc.at_line(line) if line else exc) from None
            ids.append(self._prepare_add(entity, values, batch, seen))
            if key is not None:
                keys[key] = line
                self.registry.added(entity, key, ids[-1])
            if len(batch.records) >= BULK_CHUNK:
                batch.flush(self.txn.cursor)
        batch.flush(self.txn.cursor)
        if len(ids) == 1 and self.bulk_action == "add":
            self.audit("add", f"{entity.name}/{ids[0]}")
        elif ids:
            self.audit(self.bulk_action, entity.name, {"count": len(ids)})
        return ids

    def _prepare_add(self, entity: EntityDef, values: dict[str, Any], batch: _Batch,
                     seen: merge.Context = ()) -> str:
        stamp = str(self.txn.stamp())
        record_id = self.txn.new_id()
        clear, sealed = self._split(entity, record_id, values)
        clear_json, sealed_json = dumps(clear), dumps(sealed)
        grid = values.get(entity.scope_field) if entity.scope_field else None
        owner = values.get(entity.parent_field) if entity.parent_field else None
        now = iso_ms(self.clock.wall_ms())
        version = self.schema.version
        batch.records.append((record_id, entity.name, grid, owner, clear_json, sealed_json, "{}",
                              stamp, stamp, version, now, now))
        batch.changes.append((record_id, entity.name, "add", grid, clear_json, sealed_json, stamp,
                              "{}", version, now, None if not seen else dumps(dict(seen)),
                              self.scope or None, self.by or None, self.tier(entity.name)))
        batch.index.extend(self._index_rows(entity, record_id, values))
        return record_id

    # ------------------------------------------------------------------ the register's keys

    @property
    def registry(self) -> Registry:
        """Who holds which ID number or credit code, read inside this transaction."""
        if self._registry is None:
            self._registry = Registry(self.txn.cursor, self.sealer, self.index)
        return self._registry

    def registered(self, entity: EntityDef, values: Mapping[str, Any],
                   exclude: Iterable[str] = ()) -> dict[str, Any] | None:
        """The live record (as `Store.get` shows it) already holding these values' key."""
        key = key_of(entity, values)
        holders = self.registry.holders(entity, key, exclude) if key is not None else []
        if not holders:
            return None
        row = self.txn.live_row(entity, holders[0])
        return {"id": row["id"], "entity": entity.name, "fields": self.txn.open_fields(row)}

    def _check_key(self, entity: EntityDef, values: Mapping[str, Any], earlier: Mapping[str, int],
                   line: int, record_id: str = "") -> str | None:
        """Refuse a record whose ID number or credit code another live record holds (or an
        earlier line of the same add); the record's key otherwise."""
        key = key_of(entity, values)
        if key is None:
            return None
        f = entity.key_field
        assert f is not None
        if key in earlier:
            raise ValidationError(
                f.name, "registered",
                f"与第 {earlier[key]} 行的{f.label_zh}相同，同一人（单位）只能登记一次；未保存",
                f"the same {f.label_en} as line {earlier[key]}: one record per {f.label_en};"
                " nothing was saved")
        existing = self.registered(entity, values, [record_id] if record_id else [])
        if existing is not None:
            raise duplicate_error(entity, existing, self.txn.setting("mask_names") != "0")
        return key

    def same_key(self, record_ids: Iterable[str]) -> None:
        """After a pull: open a "same person" conflict for each of these records whose ID
        number (credit code) another live record holds — two stations registered one person
        offline — and close those whose pair no longer shares a key (merged, or corrected).
        Its id names the pair, lower id first, so both stations and every sync agree on it."""
        keys: dict[str, dict[str, str]] = {}  # entity -> {record id: its key}
        ids = sorted(set(record_ids))
        for i in range(0, len(ids), 500):  # the rows of a pulled page read together
            chunk = ids[i:i + 500]
            for row in self.txn.rows(f"SELECT * FROM records WHERE id IN ({','.join('?' * len(chunk))})"
                                     " AND deleted = 0", *chunk):
                entity = self.schema.entities.get(row["entity"])
                if entity is None or entity.key_field is None:
                    continue
                key = self.registry.key_in(entity, row)  # its key alone: one value opened
                if key:
                    keys.setdefault(entity.name, {})[row["id"]] = key
        for name, held in sorted(keys.items()):
            found = self.registry.holders_of(self.schema.entities[name], held)
            for record_id in sorted(found):
                for other in found[record_id]:
                    self._open_same(name, *survivor(record_id, other))
        self.close_same()

    def _open_same(self, entity: str, kept: str, other: str) -> None:
        cid = f"{kept}:{SAME}:{other}"
        body = {"records": [kept, other]}
        self.txn.cursor.execute(
            "INSERT INTO conflicts (id, record_id, entity, field, sealed, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET resolved_at = NULL,"
            " resolution = NULL WHERE conflicts.resolved_at IS NOT NULL",
            (cid, kept, entity, SAME, self.sealer.seal_value(body, cid.encode()), self.clock.iso()))

    def close_same(self) -> None:
        """Close every open "same person" conflict whose two records no longer share a live
        key: one was deleted (a merge, here or pulled from where it was made) or corrected."""
        for cid, entity_name in self.txn.cursor.execute(
                "SELECT id, entity FROM conflicts WHERE field = ? AND resolved_at IS NULL",
                (SAME,)).fetchall():
            kept, _, other = cid.partition(f":{SAME}:")
            entity = self.schema.entities.get(entity_name)
            keys = []
            for record_id in (kept, other):
                row = self.txn.row(record_id)
                live = row is not None and not row["deleted"]
                keys.append(self.registry.key_in(entity, row) if live and entity and row else None)
            if keys[0] is None or keys[0] != keys[1]:
                gone = self.txn.row(other)
                self.txn.cursor.execute(
                    "UPDATE conflicts SET resolved_at = ?, resolution = coalesce(resolution, ?)"
                    " WHERE id = ?",
                    (self.clock.iso(), "merged" if gone is None or gone["deleted"] else "differ", cid))

    def keep_merged(self, conflict_id: str, kept: Mapping[str, Any]) -> None:
        """Keep in a settled "same person" conflict the other record's values that the merge
        did not take (where both records held a different value), sealed like its values."""
        found = self.txn.cursor.execute("SELECT sealed FROM conflicts WHERE id = ?",
                                        (conflict_id,)).fetchone()
        if found is None:
            return
        body = {**self.sealer.open_value(found[0], conflict_id.encode()), "not_taken": dict(kept)}
        self.txn.cursor.execute("UPDATE conflicts SET sealed = ? WHERE id = ?",
                                (self.sealer.seal_value(body, conflict_id.encode()), conflict_id))

    # ------------------------------------------------------------------ update and delete

    def update(self, entity_name: str, record_id: str, values: Mapping[str, Any],
               force: bool = False, seen: merge.Context | None = None) -> bool:
        """Change some fields; False (and nothing written) when nothing actually changed.

        `force` writes the given fields even when their value is the current one: settling a
        conflict in favour of the value already shown is still a write that must sync.
        `seen`: the write's causal context when it is not all the station holds of the
        record (a clerk's choice in a conflict supersedes only what she was shown)."""
        entity = self.schema.entity(entity_name)
        row = self.txn.live_row(entity, record_id)
        self.require("write", entity, grid=row["grid"], row=row)
        current = self.txn.open_fields(row)
        new = validate_record(entity, values, self.schema, today=self.clock.today(),
                              partial=True)
        moved = new.get(entity.scope_field or "")
        if isinstance(moved, str):  # a gridworker may not move a record out of their grids
            self.require("write", entity, grid=moved, row=row)
        changed = {k: v for k, v in new.items() if force or current.get(k) != v}
        if not changed:
            return False
        if not force:  # a clerk moving a record; settling a conflict keeps a value already here
            self.check_scope(entity, changed)
        if entity.key_field is not None and entity.key_field.name in changed:
            self._check_key(entity, {**current, **changed}, {}, 0, record_id)
        seen = self.received(row) if seen is None else self.own_entry(seen, row)
        stamp = str(self.txn.stamp())
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
             self.clock.iso(), record_id),
        )
        change_clear = {k: v for k, v in changed.items() if k not in sealed}
        change_sealed = {k: sealed[k] for k in changed if k in sealed}
        # What the clerk saw before the edit travels with it, so a conflict can show it.
        was = {k: current.get(k) for k in changed if base[k]}
        self._append_change(record_id, entity, "update", grid, change_clear, change_sealed, stamp,
                            base, was, seen)
        if row["state"]:  # the record has a merge state from a pull: keep it in step
            self._advance_state(row, merge.change_versions("update", changed, stamp, base, was, seen,
                                                           self.by))
        if entity.key_field is not None and entity.key_field.name in changed:
            self.close_same()  # a clerk corrected the number of one of a "same person" pair
        self.audit("settle" if force else "update", f"{entity.name}/{record_id}",
                   {"fields": sorted(changed)})
        return True

    def settle(self, entity_name: str, record_id: str, field: str, value: Any,
               shown: Iterable[str]) -> None:
        """A clerk's choice in a conflict of `field`: `value`, superseding exactly the versions
        she was shown (their clocks), so one that arrived after the screen stays a conflict."""
        row = self.txn.live_row(self.schema.entity(entity_name), record_id)
        state = self.record_state(row)
        clocks = set(shown)
        versions = [v for v in state[field].versions if v.clock in clocks] if field in state else []
        self.update(entity_name, record_id, {field: value}, force=True,
                    seen=merge.settle_context(state, field, versions))

    def contexts(self, record_ids: Iterable[str]) -> dict[str, merge.Context]:
        """What the author of each record's first write had received (a step event: the case's
        events), read from its merge state or, for a record only written here, its add."""
        out: dict[str, merge.Context] = {}
        for record_id in record_ids:
            row = self.txn.row(record_id)
            if row is None:
                continue
            if row["state"]:
                out[record_id] = merge.record_context(self.record_state(row))
                continue
            found = self.txn.cursor.execute(
                "SELECT seen FROM changes WHERE record_id = ? AND op = 'add' ORDER BY seq DESC LIMIT 1",
                (record_id,)).fetchone()
            if found is not None and found[0] is not None:
                out[record_id] = merge.with_seen(row["created_hlc"], json.loads(found[0]))
        return out

    def held(self, row: Mapping[str, Any]) -> merge.Context:
        """Everything this station holds of a record. A record no pull has touched holds only
        this station's own writes."""
        return (merge.record_context(self.record_state(row)) if row["state"]
                else merge.dot(row["hlc"]))

    def received(self, row: Mapping[str, Any]) -> merge.Context:
        """The context of a write made now: everything this station holds of the record."""
        return self.own_entry(self.held(row), row)

    def own_entry(self, seen: merge.Context, row: Mapping[str, Any]) -> merge.Context:
        """`seen` with this station's own entry as it must be sent. A station holds all its own
        writes, so the entry is left to the write's clock, which stands for them all, even
        when `seen` names an older one (a settle's context names the versions shown, and an
        own concurrent delete of the same value is not shown, yet was known). Except while a
        restored station recovers (`recovering`): it may lack its latest own writes, and an
        entry left out would cover those the backup lost (a delete made right after the
        restore would supersede, unseen, the edit the old box had pushed), so the entry is
        named: the newest own write it holds of the record, or the zero clock."""
        own = self.txn.station_id
        others = tuple((n, c) for n, c in seen if n != own)
        if not self.recovering:
            return others
        mine = [c for n, c in self.held(row) if n == own] or [str(hlc.Stamp(0, 0, own))]
        return merge.join(others, ((own, mine[0]),))

    def delete(self, entity_name: str, record_id: str) -> None:
        """A tombstone: the record stays (so the delete can sync) but leaves every view."""
        entity = self.schema.entity(entity_name)
        row = self.txn.live_row(entity, record_id)
        self.require("write", entity, grid=row["grid"], row=row)
        stamp = str(self.txn.stamp())
        clocks = json.loads(row["clocks"])
        base = {DELETED: row["hlc"]}
        clocks[DELETED] = stamp
        self.txn.cursor.execute("DELETE FROM blind_index WHERE record_id = ?", (record_id,))
        self.txn.cursor.execute(
            "UPDATE records SET deleted = 1, clocks = ?, hlc = ?, updated_at = ? WHERE id = ?",
            (dumps(clocks), stamp, self.clock.iso(), record_id),
        )
        seen = self.received(row)
        self._append_change(record_id, entity, "delete", row["grid"], {}, {}, stamp, base, None, seen)
        if row["state"]:
            self._advance_state(row, merge.change_versions("delete", {}, stamp, base, None, seen, self.by))
        if entity.key_field is not None:
            self.close_same()
        self.audit("delete", f"{entity.name}/{record_id}")

    def undelete(self, entity_name: str, record_id: str, shown: Iterable[str] | None = None) -> None:
        """Bring a deleted record back, with the edits its delete had missed: how a delete
        conflict is settled for the edit. Its base is the newest delete, so it wins over every
        delete it saw, here and wherever it syncs to."""
        entity, row, state = self._deleted_row(entity_name, record_id)
        self.require("write", entity, grid=row["grid"], row=row)
        stamp = str(self.txn.stamp())
        base = {DELETED: state[DELETED].winner.clock if DELETED in state else row["hlc"]}
        clocks = json.loads(row["clocks"])
        clocks[DELETED] = stamp
        self._replace_index(entity, record_id, {}, self.txn.open_fields(row))
        self.txn.cursor.execute(
            "UPDATE records SET deleted = 0, clocks = ?, hlc = ?, updated_at = ? WHERE id = ?",
            (dumps(clocks), stamp, self.clock.iso(), record_id))
        seen = self.own_entry(self._shown(state, shown), row)
        self._append_change(record_id, entity, "undelete", row["grid"], {}, {}, stamp, base, None, seen)
        self._save_state(record_id, entity.name, merge.apply_all(
            state, merge.change_versions("undelete", {}, stamp, base, None, seen, self.by)))
        self.audit("settle", f"{entity.name}/{record_id}", {"kept": "edit"})

    def redelete(self, entity_name: str, record_id: str, shown: Iterable[str] | None = None) -> None:
        """Delete again a deleted record, having seen every edit it missed: how a delete
        conflict is settled for the delete. Its base is the record's newest clock, so no edit
        is left unseen and the conflict closes everywhere."""
        entity, row, state = self._deleted_row(entity_name, record_id)
        self.require("write", entity, grid=row["grid"], row=row)
        stamp = str(self.txn.stamp())
        base = {DELETED: max([row["hlc"], *(v.clock for s in state.values() for v in s.versions)])}
        clocks = json.loads(row["clocks"])
        clocks[DELETED] = stamp
        self.txn.cursor.execute("UPDATE records SET clocks = ?, hlc = ?, updated_at = ? WHERE id = ?",
                                (dumps(clocks), stamp, self.clock.iso(), record_id))
        seen = self.own_entry(self._shown(state, shown), row)
        self._append_change(record_id, entity, "delete", row["grid"], {}, {}, stamp, base, None, seen)
        self._save_state(record_id, entity.name, merge.apply_all(
            state, merge.change_versions("delete", {}, stamp, base, None, seen, self.by)))
        self.audit("settle", f"{entity.name}/{record_id}", {"kept": "delete"})

    @staticmethod
    def _shown(state: Mapping[str, merge.FieldState], shown: Iterable[str] | None) -> merge.Context:
        """The context of settling a delete conflict: the delete and the edits it missed that
        the clerk was shown (their clocks), or everything held when none are named."""
        if shown is None:
            return merge.record_context(state)
        clocks = set(shown)
        versions = [v for s in state.values() for v in s.versions if v.clock in clocks]
        return merge.settle_context(state, DELETED, versions)

    def _deleted_row(self, entity_name: str, record_id: str
                     ) -> tuple[EntityDef, dict[str, Any], dict[str, merge.FieldState]]:
        entity = self.schema.entity(entity_name)
        row = self.txn.row(record_id)
        if row is None or row["entity"] != entity.name or not row["deleted"]:
            raise NotFound(f"没有已删除的{entity.label_zh}记录 {record_id}",
                           f"no deleted {entity.name} record {record_id}")
        return entity, row, self.record_state(row)

    def set_step(self, record_id: str, step: str | None, due: float | None) -> None:
        """Cache a workflow subject's current step and when its next deadline falls due,
        derived from its events (station.case_cache).

        Not a change: the events are the truth and sync carries them; these columns only let
        lists and reports count by step and deadline without replaying every history."""
        self.txn.cursor.execute("UPDATE records SET step = ?, due = ? WHERE id = ?",
                                (step, due, record_id))

    def set_steps(self, rows: Iterable[tuple[str | None, float | None, str]]) -> None:
        """`set_step` for many subjects at once: (step, due, id) rows."""
        self.txn.cursor.executemany("UPDATE records SET step = ?, due = ? WHERE id = ?", rows)

    # ------------------------------------------------------------------ changes from the hub

    def apply_remote(self, change: WireChange) -> None:
        """Merge one pulled change into the local record, field by field, exactly as the hub
        does. Not a local write: nothing goes to the change log."""
        self.apply_page([change])

    def apply_page(self, changes: Iterable[WireChange]) -> None:
        """`apply_remote` for a page of changes, in order.

        Records this station has never seen (most of a first pull) are merged in memory and
        written with one executemany at the end; a record it holds is merged row by row.
        Nothing else reads those new records before the page is done, so this is the same as
        applying the changes one by one, in a fraction of the time (docs/BENCHMARKS.md)."""
        changes = list(changes)
        if not changes:
            return
        # Our clock moves past every clock we have seen, so a local edit made after this pull
        # is later than what it saw even when this box's wall clock is far behind.
        newest = max(changes, key=lambda c: c.hlc).hlc
        self.txn.receive(newest)
        held = self._held({c.record for c in changes})
        fresh: dict[str, tuple[WireChange, dict[str, merge.FieldState], bool]] = {}
        for change in changes:
            versions = merge.change_versions(
                change.op, change.fields, change.hlc, change.base, change.was,
                None if change.seen is None else merge.context(change.seen), change.by or "")
            if change.record in held:
                self._apply_held(change, versions)
            elif change.record in fresh:
                first, state, _ = fresh[change.record]
                if first.entity != change.entity:
                    raise SyncError(f"记录 {change.record} 的实体不一致",
                                    f"record {change.record} changed entity")
                fresh[change.record] = (change, merge.apply_all(state, versions), False)
            else:
                fresh[change.record] = (change, {name: merge.FieldState((v,)) for name, v in versions},
                                        True)
        self._insert_fresh(fresh.values())

    def apply_entering(self, record_id: str, entering: Entering) -> None:
        """Merge the whole state of a record that moved into this station's scope: what the
        hub knows of it, and what this station may still hold from before it left."""
        remote = merge.state_from_stored(entering.state)
        newest = max(v.clock for s in remote.values() for v in s.versions)
        self.txn.receive(newest)
        row = self.txn.row(record_id)
        if row is not None and row["entity"] != entering.entity:
            raise SyncError(f"记录 {record_id} 的实体不一致", f"record {record_id} changed entity")
        local = self.record_state(row) if row is not None else {}
        self._materialize(record_id, entering.entity, entering.grid,
                          merge.merge_record(local, remote), row)

    def _held(self, ids: set[str]) -> set[str]:
        """Which of these records this station already holds."""
        out: set[str] = set()
        ordered = sorted(ids)
        for i in range(0, len(ordered), 500):
            part = ordered[i : i + 500]
            out.update(r for (r,) in self.txn.cursor.execute(
                f"SELECT id FROM records WHERE id IN ({', '.join('?' * len(part))})", part))
        return out

    def _apply_held(self, change: WireChange, versions: list[tuple[str, merge.Version]]) -> None:
        row = self.txn.row(change.record)
        if row is None or row["entity"] != change.entity:
            raise SyncError(f"记录 {change.record} 的实体不一致", f"record {change.record} changed entity")
        self._materialize(change.record, change.entity, change.grid,
                          merge.apply_all(self.record_state(row), versions), row)

    def _insert_fresh(self, fresh: Iterable[tuple[WireChange, dict[str, merge.FieldState], bool]]
                      ) -> None:
        """Write records first seen in this page. A record made by one change has its values
        as the change carries them and no conflict; where the page held several changes of
        it, concurrent ones may conflict, and that is recorded here."""
        rows: list[tuple[Any, ...]] = []
        index: list[tuple[str, int, str]] = []
        for change, state, single in fresh:
            given = {k: v for k, v in change.fields.items() if v is not None} if single else None
            row, entity, values, deleted = self._record_row(change.record, change.entity, change.grid,
                                                            state, None, given)
            rows.append(row)
            if not deleted:
                index.extend(self._index_rows(entity, change.record, values))
            if not single and merge.conflicts(state):
                self._record_conflicts(change.record, change.entity, state)
        self.txn.cursor.executemany(_UPSERT_RECORD, rows)
        self.txn.cursor.executemany(
            "INSERT OR IGNORE INTO blind_index (field, bucket, record_id) VALUES (?, ?, ?)", index)

    def step_clash(self, case_id: str, entity: str, step: str | None, latest_clock: str,
                   clashes: Iterable[tuple[str, str]]) -> None:
        """Open (or close) the conflict of a case whose merged step events include impossible
        ones (`sync.workflow.open_clashes`): (clock, step) of each. Acting on the case later
        closes it, on every station that receives that act."""
        cid = f"{case_id}:step"
        clashes = list(clashes)
        if not clashes:
            self.txn.cursor.execute(
                "UPDATE conflicts SET resolved_at = ?, resolution = 'acted' WHERE id = ?"
                " AND resolved_at IS NULL", (self.clock.iso(), cid))
            return
        body = {"winner": [latest_clock, merge.canonical(step)],
                "losers": [[clock, merge.canonical(s)] for clock, s in clashes]}
        self.txn.cursor.execute(
            "INSERT INTO conflicts (id, record_id, entity, field, sealed, local_hlc, remote_hlc,"
            " created_at) VALUES (?, ?, ?, 'step', ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " sealed = excluded.sealed, resolved_at = NULL, resolution = NULL",
            (cid, case_id, entity, self.sealer.seal_value(body, cid.encode()), latest_clock,
             clashes[-1][0], self.clock.iso()))

    def purge_outside(self, in_scope: Callable[[str | None], bool]) -> int:
        """Purge the records of grids this station no longer holds, but none with a change
        still waiting to be sent: it leaves with a later sync, once the county has it."""
        waiting = {r for (r,) in self.txn.cursor.execute(
            "SELECT DISTINCT record_id FROM changes WHERE receipt IS NULL AND rejected IS NULL")}
        outside = [rid for rid, grid in self.txn.cursor.execute(
                   "SELECT id, grid FROM records WHERE grid IS NOT NULL").fetchall()
                   if not in_scope(grid)]
        for rid in outside:
            if rid not in waiting:
                self.purge(rid)
        kept = sum(rid in waiting for rid in outside)
        self.put_settings(scope_leftovers=str(kept))  # looked at again by the next pull
        return kept

    def purge(self, record_id: str) -> None:
        """Remove a record that left this station's scope. Not a delete: nothing is logged,
        nothing syncs, and the record lives on at the hub and in the stations that see it."""
        for sql in ("DELETE FROM blind_index WHERE record_id = ?",
                    "DELETE FROM conflicts WHERE record_id = ?",
                    "DELETE FROM records WHERE id = ?"):
            self.txn.cursor.execute(sql, (record_id,))

    def note_resolution(self, conflict_id: str, resolution: str) -> None:
        """Say how a person settled a conflict (the settling write itself closed it)."""
        self.txn.cursor.execute("UPDATE conflicts SET resolution = ? WHERE id = ?",
                                (resolution, conflict_id))

    # ------------------------------------------------------------------ schema updates

    def rename_field(self, entity_name: str, old: str, new: str) -> None:
        """Move a renamed field's data in every record of its entity: values, their seals
        (bound to the field name), clocks, merge states, open conflicts and blind indexes.
        Not a change: every station applies the same rename from the same bundle."""
        entity = self.schema.entity(entity_name)
        for row in self.txn.rows("SELECT * FROM records WHERE entity = ?", entity.name):
            self._rename_in_record(entity, row, old, new)
        # The whole value's index and every derived form's ('entity.field#form').
        key = f"{entity.name}.{old}"
        self.txn.cursor.execute("DELETE FROM blind_index WHERE field = ? OR (field > ? AND field < ?)",
                                (key, key + "#", key + "$"))  # '$' follows '#'
        if entity.by_name[old].indexed:
            self._index_renamed(entity, entity.by_name[old], new)

    def _rename_in_record(self, entity: EntityDef, row: dict[str, Any], old: str, new: str) -> None:
        # A record never pulled has no merge state; its state would be rebuilt from the
        # change log, whose entries keep the old name. Make it now, under the old name.
        state = self.record_state(row) if not row["state"] else None
        if state is not None and old not in state:
            state = None
        clear = json.loads(row["clear"])
        sealed: dict[str, str] = json.loads(row["sealed"])
        clocks = json.loads(row["clocks"])
        if old in clear:
            clear[new] = clear.pop(old)
        if old in sealed:
            value = self.sealer.open_value(sealed.pop(old), field_ad(row["id"], entity.name, old))
            sealed.update(self.sealer.seal_fields(row["id"], entity.name, [(new, value)]))
        if old in clocks:
            clocks[new] = clocks.pop(old)
        self.txn.cursor.execute("UPDATE records SET clear = ?, sealed = ?, clocks = ? WHERE id = ?",
                                (dumps(clear), dumps(sealed), dumps(clocks), row["id"]))
        self._rename_conflict(row["id"], old, new)  # before the state: saving it re-checks conflicts
        if state is not None or row["state"]:
            current = state if state is not None else self.record_state(row)
            if old in current:
                current = {(new if k == old else k): v for k, v in current.items()}
                self._save_state(row["id"], entity.name, current)

    def _rename_conflict(self, record_id: str, old: str, new: str) -> None:
        old_id, new_id = f"{record_id}:{old}", f"{record_id}:{new}"
        found = self.txn.cursor.execute("SELECT sealed FROM conflicts WHERE id = ?", (old_id,)).fetchone()
        if found is None:
            return
        body = self.sealer.open_value(found[0], old_id.encode())
        self.txn.cursor.execute(
            "UPDATE conflicts SET id = ?, field = ?, sealed = ? WHERE id = ?",
            (new_id, new, self.sealer.seal_value(body, new_id.encode()), old_id))

    def _index_renamed(self, entity: EntityDef, field: FieldDef, new: str) -> None:
        """Buckets are keyed by field: compute them again under the new name."""
        rows = []
        for record_id, sealed_json in self.txn.cursor.execute(
                "SELECT id, sealed FROM records WHERE entity = ? AND deleted = 0",
                (entity.name,)).fetchall():
            sealed = json.loads(sealed_json)
            if new in sealed:
                value = self.sealer.open_value(sealed[new], field_ad(record_id, entity.name, new))
                rows.extend(self._field_index_rows(entity, field, new, record_id, value))
        self.txn.cursor.executemany(
            "INSERT OR IGNORE INTO blind_index (field, bucket, record_id) VALUES (?, ?, ?)", rows)

    def record_state(self, row: Mapping[str, Any]) -> dict[str, merge.FieldState]:
        """A record's per-field merge state: stored once a pull touched it, else rebuilt from
        its values and the bases in its own change log (records only ever written here)."""
        if row["state"]:
            raw = self.sealer.open_value(row["state"], state_ad(row["id"]))
            return merge.state_from_stored(raw)
        current = self.txn.open_fields(row)
        latest: dict[str, tuple[str, str, str, str | None, str]] = {}
        for op, clear, sealed, stamp, base, was, context, by in self.txn.cursor.execute(
                "SELECT op, clear, sealed, hlc, base, was, seen, clerk FROM changes WHERE record_id = ?"
                " ORDER BY seq", (row["id"],)).fetchall():
            bases = json.loads(base)
            names = [DELETED] if op in ("delete", "undelete") else [*json.loads(clear),
                                                                    *json.loads(sealed)]
            for name in names:
                latest[name] = (stamp, bases.get(name, ""), was, context, by or "")
        state = {}
        for name, (clock, base, was, context, by) in latest.items():
            saw = self.sealer.open_value(was, was_ad(row["id"], clock)) if was else {}
            value = (("true" if row["deleted"] else "false") if name == DELETED
                     else merge.canonical(current.get(name)))
            state[name] = merge.FieldState((merge.Version(
                clock, base, value, merge.canonical(saw[name]) if name in saw else "",
                merge.with_seen(clock, json.loads(context)) if context is not None else (), by),))
        return state

    def _advance_state(self, row: Mapping[str, Any], versions: list[tuple[str, merge.Version]]) -> None:
        self._save_state(row["id"], row["entity"], merge.apply_all(self.record_state(row), versions))

    def _save_state(self, record_id: str, entity: str, state: Mapping[str, merge.FieldState]) -> None:
        raw = merge.state_to_stored(state)
        self.txn.cursor.execute("UPDATE records SET state = ? WHERE id = ?",
                                (self.sealer.seal_value(raw, state_ad(record_id)), record_id))
        self._record_conflicts(record_id, entity, state)

    def _materialize(self, record_id: str, entity_name: str, grid: str | None,
                     state: Mapping[str, merge.FieldState], row: Mapping[str, Any] | None) -> None:
        """Write the winners of a merge state as the record everyone sees."""
        record, entity, values, deleted = self._record_row(record_id, entity_name, grid, state, row)
        old = self.txn.open_fields(row) if row is not None and not row["deleted"] else {}
        self._replace_index(entity, record_id, old, {} if deleted else values)
        self.txn.cursor.execute(_UPSERT_RECORD, record)
        self._record_conflicts(record_id, entity_name, state)

    def _record_row(self, record_id: str, entity_name: str, grid: str | None,
                    state: Mapping[str, merge.FieldState], row: Mapping[str, Any] | None,
                    values: dict[str, Any] | None = None
                    ) -> tuple[tuple[Any, ...], EntityDef, dict[str, Any], bool]:
        """The records row of a merge state's winners (for `_UPSERT_RECORD`), with the entity,
        the values and whether the record is deleted. `values` are the winners when the
        caller has them decoded already."""
        entity = self.schema.entities.get(entity_name) or EntityDef(entity_name, entity_name,
                                                                    entity_name, ())
        if values is None:
            values = {n: json.loads(s.winner.value) for n, s in state.items() if not n.startswith("_")}
            values = {k: v for k, v in values.items() if v is not None}
        deleted = merge.is_deleted(state)
        clocks = {n: s.winner.clock for n, s in state.items()}
        newest = max(clocks.values())
        created = row["created_hlc"] if row is not None else min(clocks.values())
        clear, sealed = self._split(entity, record_id, values)
        grid = values.get(entity.scope_field, grid) if entity.scope_field else grid
        owner = values.get(entity.parent_field) if entity.parent_field else None
        now = self.clock.iso()
        raw = merge.state_to_stored(state)
        return ((record_id, entity_name, grid, owner, dumps(clear), dumps(sealed), dumps(clocks),
                 created, newest, int(deleted), self.schema.version, now, now,
                 self.sealer.seal_value(raw, state_ad(record_id))), entity, values, deleted)

    def _record_conflicts(self, record_id: str, entity: str,
                          state: Mapping[str, merge.FieldState]) -> None:
        """Open a conflict per field whose merge kept a differing loser; close the others."""
        now = self.clock.iso()
        open_now = set()
        for c in merge.conflicts(state):
            cid = f"{record_id}:{c.field}"
            open_now.add(cid)
            fields = c.loser_fields or (c.field,) * len(c.losers)
            body = {"winner": [c.winner.clock, c.winner.value, c.winner.was, c.field, c.winner.by],
                    "losers": [[v.clock, v.value, v.was, f, v.by]
                               for v, f in zip(c.losers, fields, strict=True)],
                    "base": c.base}
            self.txn.cursor.execute(
                "INSERT INTO conflicts (id, record_id, entity, field, sealed, local_hlc, remote_hlc,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " sealed = excluded.sealed, resolved_at = NULL, resolution = NULL",
                (cid, record_id, entity, c.field, self.sealer.seal_value(body, cid.encode()),
                 c.winner.clock, c.losers[-1].clock, now))
        for (cid,) in self.txn.cursor.execute(
                "SELECT id FROM conflicts WHERE record_id = ? AND resolved_at IS NULL"
                f" AND field != '{SAME}'", (record_id,)).fetchall():
            if cid not in open_now:
                self.txn.cursor.execute(
                    "UPDATE conflicts SET resolved_at = ?, resolution = 'settled' WHERE id = ?",
                    (now, cid))

    def resend(self, seq: int) -> int:
        """A refused change again, carrying the record's values as they are now: the whole
        record for an add (so nothing of it is lost at the hub), the same fields for an
        update. It is checked against today's rules first, so an unfixed value is named here
        rather than refused again. The record's clocks move to the new change, so later edits
        are seen as following it."""
        found = self.txn.cursor.execute(
            "SELECT record_id, entity, op, clear, sealed, base, seen FROM changes WHERE seq = ?"
            " AND rejected IS NOT NULL AND resent_as IS NULL", (seq,)).fetchone()
        if found is None:
            raise NotFound(f"没有待重发的被拒变更 {seq}", f"no refused change {seq} waiting to be resent")
        record_id, entity_name, op, clear, sealed, base, context = found
        entity = self.schema.entity(entity_name)
        row = self.txn.row(record_id)
        if row is None:
            raise NotFound(f"记录 {record_id} 已不在本站", f"record {record_id} is no longer here")
        current = self.txn.open_fields(row)
        # What the author had received then, which the resent change still stands on.
        seen = merge.context(json.loads(context)) if context is not None else self.received(row)
        stamp = str(self.txn.stamp())
        clocks = json.loads(row["clocks"])
        if op == "add":
            values = validate_record(entity, current, self.schema, today=self.clock.today())
            names, bases = list(values), {}
            self.txn.cursor.execute("UPDATE records SET created_hlc = ?, hlc = ? WHERE id = ?",
                                    (stamp, stamp, record_id))
        elif op == "update":
            names = [*json.loads(clear), *json.loads(sealed)]
            values = validate_record(entity, {n: current.get(n) for n in names}, self.schema,
                                     today=self.clock.today(), partial=True)
            bases = json.loads(base)
            clocks.update(dict.fromkeys(names, stamp))
        else:
            values, names, bases = {}, [DELETED], json.loads(base)
            clocks[DELETED] = stamp
        self.txn.cursor.execute("UPDATE records SET clocks = ?, hlc = ? WHERE id = ?",
                                (dumps(clocks), stamp, record_id))
        change_clear, change_sealed = self._split(entity, record_id, values)
        self._append_change(record_id, entity, op, row["grid"], change_clear, change_sealed, stamp,
                            bases, None, seen)
        new_seq = int(self.txn.cursor.execute("SELECT last_insert_rowid()").fetchone()[0])
        self.txn.cursor.execute("UPDATE changes SET resent_as = ? WHERE seq = ?", (new_seq, seq))
        if row["state"]:
            self._advance_state(row, merge.change_versions(op, values, stamp, bases, None, seen, self.by))
        return new_seq

    def resend_ahead_of_hub(self) -> list[int]:
        """The changes the hub refused as stamped in its future, sent again with fresh stamps;
        their new sequence numbers. Called once the hub has accepted a request of ours, which
        proves this box's clock now agrees with the county's: the stamps came from a time the
        clock was fast. Nobody but this station has seen them, so they can be replaced. A
        change that today's rules refuse stays refused, for the clerk."""
        rows = self.txn.cursor.execute(
            "SELECT seq, record_id, rejected FROM changes WHERE rejected IS NOT NULL"
            " AND resent_as IS NULL ORDER BY seq").fetchall()
        ahead = {record for _, record, reason in rows if hlc.is_ahead_of_hub(reason)}
        # An edit refused only because its record's add was refused for the clock goes too.
        refused = [seq for seq, record, reason in rows if hlc.is_ahead_of_hub(reason)
                   or (record in ahead and "unknown_record" in reason)]
        if not refused:
            return []
        self._restart_clock()
        resent = []
        for seq in refused:
            try:
                resent.append(self.resend(seq))
            except (ValidationError, NotFound):  # both raise before writing anything
                continue
        return resent

    def _restart_clock(self) -> None:
        """Bring the clock back from a fast past to now, but never below a stamp the county
        has accepted from us or sent us, so what we write next still follows what we saw."""
        accepted = self.txn.cursor.execute(
            "SELECT max(hlc) FROM changes WHERE receipt IS NOT NULL").fetchone()[0]
        self.txn.restart_clock([hlc.parse(s) for s in (accepted, self.txn.setting("pull_newest"))
                                if s])

    def acknowledge(self, seq: int, receipt: int | None, rejected: str | None) -> None:
        """Record the hub's answer to one change: its receipt, or why it was refused."""
        self.txn.cursor.execute(
            "UPDATE changes SET receipt = ?, rejected = ?, acked_at = ? WHERE seq = ?",
            (receipt, rejected, self.clock.iso(), seq))

    def put_settings(self, **values: str) -> None:
        self.txn.put_settings(**values)

    def change_setting(self, key: str, value: str) -> None:
        """A clerk's change of one station setting, audited; only a clerk may."""
        self.require_admin()
        self.put_settings(**{key: value})
        self.audit("setting", detail={"name": key})

    # ------------------------------------------------------------------ search indexes

    def index_search_forms(self, limit: int) -> tuple[int, bool]:
        """One step of building the derived search indexes (station/search_forms.py) of the
        records written before this software had them: the next `limit` live records after
        the step before, indexed, and how far it got recorded in the same transaction, so a
        crash loses nothing and the next unlock resumes. Returns how many records it indexed
        and whether every record is now indexed (the generation then recorded as complete).

        Records written meanwhile are indexed by their own writes; indexing one again here
        inserts the same rows (INSERT OR IGNORE)."""
        if self.txn.setting("search_index") == str(search_forms.GENERATION):
            return 0, True
        after = self.txn.setting("search_index_after") or ""
        entities = {e.name: e for e in self.schema.entities.values() if e.indexed_fields}
        marks = ", ".join("?" * len(entities))
        rows = self.txn.cursor.execute(
            f"SELECT id, entity, clear, sealed FROM records WHERE deleted = 0 AND id > ?"
            f" AND entity IN ({marks}) ORDER BY id LIMIT ?", (after, *entities, limit)).fetchall()
        index: list[tuple[str, int, str]] = []
        for record_id, entity_name, clear, sealed in rows:
            index.extend(self._rows_to_build(entities[entity_name], record_id, clear, sealed))
        self.txn.cursor.executemany(
            "INSERT OR IGNORE INTO blind_index (field, bucket, record_id) VALUES (?, ?, ?)", index)
        if len(rows) < limit:
            self.put_settings(search_index=str(search_forms.GENERATION), search_index_after="")
            return len(rows), True
        self.put_settings(search_index_after=rows[-1][0])
        return len(rows), False

    def _rows_to_build(self, entity: EntityDef, record_id: str, clear: str,
                       sealed: str, index: BlindIndex | None = None) -> list[tuple[str, int, str]]:
        """The index rows of a record's indexed fields, only those opened. A value that does
        not open (altered on disk) or no longer fits its field's rule is left out: the build
        must not stop the unlock it runs in, and that record fails loudly where it is read."""
        values = json.loads(clear)
        seals = json.loads(sealed)
        rows: list[tuple[str, int, str]] = []
        for f in entity.indexed_fields:
            try:
                value = (self.sealer.open_value(seals[f.name], field_ad(record_id, entity.name, f.name))
                         if f.name in seals else values.get(f.name))
                if value is not None:
                    rows.extend(self._field_index_rows(entity, f, f.name, record_id, value, index))
            except (TamperedError, ValidationError):
                continue
        return rows

    def reveal(self, entity_name: str, record_id: str, field: str) -> Any:
        """A clerk's deliberate look at a masked field: its whole value, with the reveal
        recorded in the same transaction (who, when, which record and field), so nothing
        shows a whole value without leaving a trace. The clerk's name is sealed."""
        entity = self.schema.entity(entity_name)
        if field not in entity.by_name:
            raise ValidationError(field, "field", f"{entity.label_zh}没有这个字段",
                                  f"{entity.name} has no such field")
        row = self.txn.live_row(entity, record_id)
        self.require("reveal", entity, grid=row["grid"], row=row)
        value = self.txn.open_fields(row).get(field)
        self.note_reveal(entity.name, record_id, field)
        return value

    def note_reveal(self, entity_name: str, record_id: str, field: str) -> None:
        """Record that the unlocked clerk was shown a masked field whole somewhere other than
        the record itself (both sides of a conflict): who, when, which record and field."""
        at = self.clock.iso()
        clerk = self.sealer.seal_value(self.by, reveal_ad(record_id, field, at))
        self.txn.cursor.execute(
            "INSERT INTO reveals (at, record_id, entity, field, clerk) VALUES (?, ?, ?, ?, ?)",
            (at, record_id, entity_name, field, clerk))
        self.audit("reveal", f"{entity_name}/{record_id}", {"field": field})

    def renumber_outbox(self, floor: int, hub_last: int) -> int:
        """Move the changes numbered after `floor` (written since a restore) to after
        `hub_last`, and make the next number follow; how many moved. See syncer.recover."""
        shift = hub_last - floor
        if shift <= 0:
            return 0
        conn = self.txn.cursor
        # Through negative numbers: an UPDATE of a primary key checks each row as it goes.
        moved = conn.execute("UPDATE changes SET seq = -seq WHERE seq > ?", (floor,)).rowcount
        conn.execute("UPDATE changes SET seq = ? - seq WHERE seq < 0", (shift,))
        conn.execute("UPDATE changes SET resent_as = resent_as + ? WHERE resent_as > ?", (shift, floor))
        self._number_after(hub_last)
        return int(moved)

    def _number_after(self, last: int) -> None:
        """Make the change log's next number follow `last`. AUTOINCREMENT keeps its mark in
        sqlite_sequence, which has no row for `changes` (or does not exist) until a change was
        written: a restored backup taken before the first change has none, and updating the
        row alone did nothing, so the next change took a number the hub already had (found
        by tests/test_causal_oracle.py). A row numbered `last`, added and removed, sets it."""
        cursor = self.txn.cursor
        top = max(last, int(cursor.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]))
        cursor.execute(
            "INSERT INTO changes (seq, record_id, entity, op, grid, clear, sealed, hlc, base,"
            " schema_version, created_at) VALUES (?, '', '', 'add', NULL, '{}', '{}', '', '{}', 0, '')"
            " ON CONFLICT (seq) DO NOTHING", (top + 1,))
        cursor.execute("DELETE FROM changes WHERE seq = ? AND record_id = ''", (top + 1,))
        cursor.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'changes'", (top,))

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
                       base: Mapping[str, str], was: Mapping[str, Any] | None = None,
                       seen: merge.Context = ()) -> None:
        """One row of the outbox. `seen` is stored without the change's own clock, as it is
        sent (`sync.merge.stored_seen`)."""
        sealed_was = self.sealer.seal_value(dict(was), was_ad(record_id, stamp)) if was else ""
        context = _stored_context(self.txn.station_id, stamp, base, seen)
        self.txn.cursor.execute(
            "INSERT INTO changes (record_id, entity, op, grid, clear, sealed, hlc, base, was,"
            " schema_version, created_at, seen, scope, clerk, tier)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record_id, entity.name, op, grid, dumps(clear), dumps(sealed), stamp, dumps(base),
             sealed_was, self.schema.version, self.clock.iso(),
             None if context is None else dumps(context), self.scope or None, self.by or None,
             self.tier(entity.name)),
        )

    def _index_rows(self, entity: EntityDef, record_id: str, values: Mapping[str, Any],
                    index: BlindIndex | None = None) -> list[tuple[str, int, str]]:
        rows: list[tuple[str, int, str]] = []
        for f in entity.indexed_fields:
            value = values.get(f.name)
            if value is not None:
                rows.extend(self._field_index_rows(entity, f, f.name, record_id, value, index))
        return rows

    def _field_index_rows(self, entity: EntityDef, f: FieldDef, name: str, record_id: str,
                          value: Any, index: BlindIndex | None = None) -> list[tuple[str, int, str]]:
        """The blind-index rows of one field's value: its whole value's, then one per derived
        form (surname, initials, last digits: station.search_forms), each under its own key
        'entity.field#form' and width. `name`: the field's name now (a rename's new one)."""
        key = f"{entity.name}.{name}"
        whole = normalise_for_index(f, value)
        bucket = (index or self.index).bucket  # `index`: another key's (a rekey's old one)
        rows = [(key, bucket(key, whole), record_id)]
        for form, text in search_forms.derived(search_forms.field_kind(entity, f), whole):
            form_key = f"{key}#{form}"
            rows.append((form_key, bucket(form_key, text, search_forms.DERIVED_BITS[form]),
                         record_id))
        return rows

    def _replace_index(self, entity: EntityDef, record_id: str, old: Mapping[str, Any],
                       new: Mapping[str, Any]) -> None:
        self.txn.cursor.executemany(
            "DELETE FROM blind_index WHERE field = ? AND bucket = ? AND record_id = ?",
            self._index_rows(entity, record_id, old),
        )
        older = self.index.older()
        if older is not None:  # a rekey under way: the record may still be indexed under the old key
            self.txn.cursor.executemany(
                "DELETE FROM blind_index WHERE field = ? AND bucket = ? AND record_id = ?",
                self._index_rows(entity, record_id, old, older))
        self.txn.cursor.executemany(
            "INSERT OR IGNORE INTO blind_index (field, bucket, record_id) VALUES (?, ?, ?)",
            self._index_rows(entity, record_id, new),
        )


def _stored_context(station: str, stamp: str, base: Mapping[str, str],
                    seen: merge.Context) -> dict[str, str] | None:
    """A change's context as the outbox keeps it and the wire carries it (`Writes.received`
    leaves this station's own entry out unless it is recovering from a restore), and None
    where the clock and bases imply it (`sync.merge.derivable`): nothing received from
    elsewhere, and every base this station's own. Hub and stations read None the same way."""
    context = dict(seen)
    if not context and all(not b or merge.node_of(b) == station for b in base.values()):
        return None
    return context


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
            " schema_version, created_at, seen, scope, clerk, tier)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.changes,
        )
        cursor.executemany(
            "INSERT OR IGNORE INTO blind_index (field, bucket, record_id) VALUES (?, ?, ?)",
            self.index,
        )
        self.records.clear()
        self.changes.clear()
        self.index.clear()
