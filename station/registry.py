"""The register's keys: one live person per 公民身份号码, one organisation per 统一社会信用代码.

An entity's key is its identifier field (`sync.schema.EntityDef.key_field`). Finding who
already holds a value goes through the field's blind index where it has one (ID numbers are
sealed): the bucket's few candidates are opened, their key field alone, and compared. A key
kept in clear (a credit code is public) has no index; its entity's live records are read, in
clear, once per lookup or once per bulk add.

Reads only: the write path (`station.writes`) refuses a second holder, the sync raises a
"same person" conflict when two stations registered one offline (`station.duplicates`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from station.blind_index import BlindIndex
from sync.errors import AlreadyRegistered
from sync.masking import mask_value
from sync.register import key_of
from sync.schema import EntityDef, FieldDef
from sync.seal import Sealer, field_ad

Reader = sqlite3.Connection | sqlite3.Cursor


class Registry:
    """Who holds a key, read through one connection (a reader's, or a write transaction's)."""

    def __init__(self, conn: Reader, sealer: Sealer, index: BlindIndex) -> None:
        self.conn = conn
        self.sealer = sealer
        self.index = index
        self._clear_keys: dict[str, dict[str, list[str]]] = {}

    def holders(self, entity: EntityDef, key: str, exclude: Iterable[str] = ()) -> list[str]:
        """Ids of the live records of `entity` whose key is `key`, in id order."""
        f = entity.key_field
        if f is None:
            return []
        skip = set(exclude)
        found = self._indexed(entity, f, key) if f.indexed else self._clear_map(entity, f).get(key, [])
        return sorted(r for r in found if r not in skip)

    def _indexed(self, entity: EntityDef, f: FieldDef, key: str) -> list[str]:
        name = f"{entity.name}.{f.name}"
        out = []
        buckets = sorted(self.index.buckets(name, key))
        for record_id, clear, sealed in self.conn.execute(
                # The index's field names the entity. (Saying `r.entity = ?` as well made SQLite
                # walk every live person by the entity index: 14 ms a lookup, not 1.)
                "SELECT r.id, r.clear, r.sealed FROM blind_index b JOIN records r ON r.id = b.record_id"
                f" WHERE b.field = ? AND b.bucket IN ({','.join('?' * len(buckets))}) AND r.deleted = 0",
                (name, *buckets)).fetchall():
            if self._key_value(entity, f, record_id, clear, sealed) == key:
                out.append(record_id)
        return out

    def holders_of(self, entity: EntityDef, keys: Mapping[str, str]) -> dict[str, list[str]]:
        """For many records at once ({record id: its key}): the other live records of
        `entity` holding each one's key, in id order. A pulled page's records are looked up
        together: one query per few hundred buckets, not one per record (a first pull of a
        township's 120,000 people spent a fifth of its time in single lookups)."""
        f = entity.key_field
        if f is None or not keys:
            return {}
        if not f.indexed:
            found = self._clear_map(entity, f)
            return {rid: [o for o in found.get(key, []) if o != rid] for rid, key in keys.items()}
        name = f"{entity.name}.{f.name}"
        buckets = set().union(*(self.index.buckets(name, key) for key in keys.values()))
        by_key: dict[str, list[str]] = {}
        ordered = sorted(buckets)
        for i in range(0, len(ordered), 500):  # under SQLite's bound-parameter limit
            chunk = ordered[i:i + 500]
            for record_id, clear, sealed in self.conn.execute(
                    "SELECT r.id, r.clear, r.sealed FROM blind_index b JOIN records r"
                    " ON r.id = b.record_id WHERE b.field = ? AND b.bucket IN"
                    f" ({','.join('?' * len(chunk))}) AND r.deleted = 0",
                    (name, *chunk)).fetchall():
                # A record of the batch is not opened again: its key is known.
                key = keys.get(record_id) or self._key_value(entity, f, record_id, clear, sealed)
                if key is not None:
                    by_key.setdefault(key, []).append(record_id)
        return {rid: sorted(o for o in by_key.get(key, []) if o != rid) for rid, key in keys.items()}

    def _clear_map(self, entity: EntityDef, f: FieldDef) -> dict[str, list[str]]:
        """Every live record's key of an entity whose key is not indexed, read once."""
        found = self._clear_keys.get(entity.name)
        if found is None:
            found = self._clear_keys[entity.name] = {}
            for record_id, clear, sealed in self.conn.execute(
                    "SELECT id, clear, sealed FROM records WHERE entity = ? AND deleted = 0",
                    (entity.name,)).fetchall():
                key = self._key_value(entity, f, record_id, clear, sealed)
                if key is not None:
                    found.setdefault(key, []).append(record_id)
        return found

    def added(self, entity: EntityDef, key: str, record_id: str) -> None:
        """A record of this key was just written in the same transaction: keep a map read
        before it true."""
        if entity.name in self._clear_keys:
            self._clear_keys[entity.name].setdefault(key, []).append(record_id)

    def key_in(self, entity: EntityDef, row: Mapping[str, Any]) -> str | None:
        """The key of a records row, only its key field opened."""
        f = entity.key_field
        if f is None:
            return None
        return self._key_value(entity, f, row["id"], row["clear"], row["sealed"])

    def _key_value(self, entity: EntityDef, f: FieldDef, record_id: str, clear: str,
                   sealed: str) -> str | None:
        clear_values = json.loads(clear)
        if f.name in clear_values:
            value = clear_values[f.name]
        else:
            sealed_values = json.loads(sealed)
            if f.name not in sealed_values:
                return None
            value = self.sealer.open_value(sealed_values[f.name],
                                           field_ad(record_id, entity.name, f.name))
        return key_of(entity, {f.name: value})


def duplicate_error(entity: EntityDef, existing: Mapping[str, Any], names: bool = True
                    ) -> AlreadyRegistered:
    """The refusal of a second record with a registered key, naming the one that holds it:
    its id and its title (a name) masked as lists mask it."""
    f = entity.key_field
    assert f is not None
    title = entity.by_name.get(entity.title_field or "")
    shown = str(existing["fields"].get(title.name, "")) if title is not None else ""
    if title is not None and title.sensitive:
        shown = mask_value(title.rule, shown, is_name=True, names=names)
    return AlreadyRegistered(
        f.name,
        f"该{f.label_zh}已登记：{entity.label_zh}记录 {existing['id']}（{shown}），"
        "请打开该记录，不要重复登记；未保存",
        f"this {f.label_en} is already registered: {entity.name} record {existing['id']}"
        f" ({shown}); open it instead of adding a second one; nothing was saved",
        str(existing["id"]))
