"""Schema bundles on the station: checked, then applied in one transaction, or refused whole.

A bundle must carry the county's signature (the key stored at enrollment) and follow the
store's current version exactly. Its operations are checked against the current schema
(`sync.bundle.check_bundle`); the resulting schema is written to the definition tables with
sqlite-utils, and a rename moves the field's data in every record of the entity — values,
their seals (bound to the field name), clocks, merge states, blind indexes and open
conflicts. Additive operations touch definition rows only, so they take milliseconds at any
number of records. Anything wrong: nothing changes, and the store stays on its version.

The bundle's zstd dictionary, when it carries one, is kept with its version (covered by the
county's signature like the rest: a tampered one is refused with the bundle), and
`dictionaries` is what the station holds: the built-in one and those.
"""

from __future__ import annotations

import base64
import hashlib
import json

import sqlite_utils

from station import priorities
from station.store import Store
from sync.bundle import Bundle, BundleError, check_bundle, parse_bundle, verify_bundle
from sync.dictionary import Dictionary, builtin
from sync.schema import Schema


def apply_bundle(store: Store, raw: bytes, signature: str) -> Bundle:
    """Verify, check and apply one bundle; the store's schema is the new version after it."""
    key = store.settings().get("county_signing_key")
    if not key:
        raise BundleError("signature", "尚未注册到县级平台，没有县级公钥可以核验",
                          "not enrolled: there is no county key to check the signature with")
    verify_bundle(store.suite.verify_key(base64.b64decode(key)), raw, signature)
    bundle = parse_bundle(raw)
    new = check_bundle(bundle, store.schema)
    with store.atomic() as writes:
        _write_definitions(sqlite_utils.Database(writes.txn.cursor.connection), store.schema, new)
        for rename in bundle.renames:
            writes.rename_field(rename.entity, rename.old, rename.new)
        # A bundle that makes an entity part of a case (a new parent field) moves its waiting
        # changes with it; usually none moves and nothing is written.
        writes.retier_outbox(priorities.retiered(priorities.tiers(store.schema), priorities.tiers(new)))
        writes.txn.cursor.execute(
            "INSERT INTO schema_versions (version, applied_at, source, digest, dictionary)"
            " VALUES (?, ?, ?, ?, ?)",
            (bundle.version, store.clock.iso(), bundle.name, hashlib.sha256(raw).hexdigest(),
             bundle.dictionary))
    store.reload_schema()
    return bundle


def dictionaries(store: Store) -> list[Dictionary]:
    """The zstd dictionaries the station holds: the built-in one of version 1 and each applied
    bundle's."""
    rows = store.conn.execute(
        "SELECT version, dictionary FROM schema_versions WHERE dictionary IS NOT NULL").fetchall()
    return [builtin(), *(Dictionary(int(v), bytes(raw)) for v, raw in rows)]


def _write_definitions(db: sqlite_utils.Database, old: Schema, new: Schema) -> None:
    """The definition tables as `new` has them (through the transaction's connection).
    Nothing is ever removed except a renamed field's old row; every other row is upserted."""
    for entity in new.entities.values():
        known = old.entities.get(entity.name)
        if known == entity:
            continue  # only what the bundle changed is written
        db.table("schema_entities").upsert({
            "name": entity.name, "label_zh": entity.label_zh, "label_en": entity.label_en,
            "module": entity.module, "scope_field": entity.scope_field,
            "title_field": entity.title_field, "parent_field": entity.parent_field,
            "position": entity.position,
            "since_version": new.version if known is None else _since(db, "schema_entities", entity.name),
        }, pk="name")
        if known is not None:
            for gone in set(known.by_name) - set(entity.by_name):
                db.table("schema_fields").delete((entity.name, gone))
        db.table("schema_fields").upsert_all([{
            "entity": f.entity, "name": f.name, "position": f.position, "type": f.type,
            "label_zh": f.label_zh, "label_en": f.label_en, "help_zh": f.help_zh,
            "help_en": f.help_en, "required": int(f.required), "sensitive": int(f.sensitive),
            "indexed": int(f.indexed), "rule": f.rule, "code_table": f.code_table,
            "ref_entity": f.ref_entity, "max_length": f.max_length, "min_value": f.min_value,
            "max_value": f.max_value,
            "default_value": None if f.default is None else json.dumps(f.default, ensure_ascii=False),
            "deprecated": int(f.deprecated), "since_version": f.since_version,
        } for f in entity.fields if known is None or known.by_name.get(f.name) != f],
            pk=("entity", "name"))
    for table in new.code_tables.values():
        if old.code_tables.get(table.name) == table:
            continue
        if table.name not in old.code_tables:
            db.table("code_tables").insert({"name": table.name, "label_zh": table.label_zh,
                                      "label_en": table.label_en, "since_version": new.version})
        before = old.code_tables[table.name].by_code if table.name in old.code_tables else {}
        db.table("code_values").upsert_all([{
            "code_table": table.name, "code": v.code, "label_zh": v.label_zh, "label_en": v.label_en,
            "parent": v.parent, "position": i, "deprecated": int(v.deprecated),
            "since_version": 1 if v.code in before else new.version,
        } for i, v in enumerate(table.values) if before.get(v.code) != v], pk=("code_table", "code"))
    for rule in new.attachments.values():
        if old.attachments.get(rule.entity) != rule:
            db.table("attachment_rules").upsert({
                "entity": rule.entity, "max_bytes": rule.max_bytes, "types": json.dumps(list(rule.types)),
                "since_version": new.version}, pk="entity")


def _since(db: sqlite_utils.Database, table: str, name: str) -> int:
    row = db.execute(f"SELECT since_version FROM {table} WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 1
