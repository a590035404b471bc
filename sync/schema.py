"""The schema as data: entities, fields and code tables, read from the definition tables.

`schema.sql` is version 1. It is executed into the station's store (and, for the hub, into a
scratch in-memory database) and this module reads the definition tables back into frozen
dataclasses. Nothing else in the program knows an entity's fields.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from sync.errors import SchemaError

ATTACHMENT_ENTITY = "attachment"  # a file on any record (sync.attachments), never a case's part

# The project's top-level schema.sql, reached through the link beside this file, which also
# carries it into the wheel as package data (an installed, non-editable copy has no top level).
SCHEMA_SQL = Path(__file__).with_name("schema.sql")

FIELD_TYPES = frozenset(
    {"text", "integer", "number", "boolean", "date", "datetime", "code", "codes", "ref", "refs",
     "texts"}
)
LIST_TYPES = frozenset({"codes", "refs", "texts"})


@dataclass(frozen=True)
class CodeValue:
    code: str
    label_zh: str
    label_en: str
    parent: str | None = None
    deprecated: bool = False


@dataclass(frozen=True)
class CodeTable:
    name: str
    label_zh: str
    label_en: str
    values: tuple[CodeValue, ...] = ()

    @cached_property
    def by_code(self) -> dict[str, CodeValue]:
        return {v.code: v for v in self.values}

    def label(self, code: str, lang: str = "zh") -> str:
        value = self.by_code.get(code)
        if value is None:
            return code
        return value.label_zh if lang == "zh" else value.label_en


@dataclass(frozen=True)
class FieldDef:
    entity: str
    name: str
    type: str
    label_zh: str
    label_en: str
    position: int = 0
    help_zh: str | None = None
    help_en: str | None = None
    required: bool = False
    sensitive: bool = False
    indexed: bool = False
    rule: str | None = None
    code_table: str | None = None
    ref_entity: str | None = None
    max_length: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    default: Any = None
    deprecated: bool = False
    since_version: int = 1

    def label(self, lang: str = "zh") -> str:
        return self.label_zh if lang == "zh" else self.label_en


# Rules of the identifiers a population register keys its records by (GB/T 31000-2015:
# people by 公民身份号码, organisations by 统一社会信用代码).
KEY_RULES = ("id_number", "credit_code")


@dataclass(frozen=True)
class EntityDef:
    name: str
    label_zh: str
    label_en: str
    fields: tuple[FieldDef, ...]
    module: str | None = None
    scope_field: str | None = None
    title_field: str | None = None
    parent_field: str | None = None
    position: int = 0

    @cached_property
    def by_name(self) -> dict[str, FieldDef]:
        return {f.name: f for f in self.fields}

    @cached_property
    def sensitive_fields(self) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.fields if f.sensitive)

    @cached_property
    def indexed_fields(self) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.fields if f.indexed)

    @cached_property
    def key_field(self) -> FieldDef | None:
        """The field a register keys this entity by, one live record per value: its first
        field whose rule is a national identifier (公民身份号码, 统一社会信用代码). Read from
        the schema's rules, so a bundle that gives a new entity such a field keys it too."""
        return next((f for f in self.fields if f.rule in KEY_RULES and not f.deprecated), None)

    def label(self, lang: str = "zh") -> str:
        return self.label_zh if lang == "zh" else self.label_en


@dataclass(frozen=True)
class StepDef:
    step: str
    label_zh: str
    label_en: str
    position: int
    deadline_seconds: int | None = None
    deadline_label_zh: str | None = None
    deadline_label_en: str | None = None
    closes: bool = False

    def label(self, lang: str = "zh") -> str:
        return self.label_zh if lang == "zh" else self.label_en


@dataclass(frozen=True)
class MoveDef:
    from_step: str  # "" for the first step
    to_step: str
    label_zh: str
    label_en: str
    needs_reason: bool = False


@dataclass(frozen=True)
class WorkflowDef:
    name: str
    subject_entity: str
    event_entity: str
    label_zh: str
    label_en: str
    steps: tuple[StepDef, ...]
    moves: tuple[MoveDef, ...]

    @cached_property
    def by_step(self) -> dict[str, StepDef]:
        return {s.step: s for s in self.steps}

    @cached_property
    def move_map(self) -> dict[tuple[str, str], MoveDef]:
        return {(m.from_step, m.to_step): m for m in self.moves}

    @property
    def first_step(self) -> str:
        return next(m.to_step for m in self.moves if m.from_step == "")


@dataclass(frozen=True)
class PointRule:
    name: str
    label_zh: str
    label_en: str
    points: int


@dataclass(frozen=True)
class AttachmentRule:
    """Files an entity's records may carry: at most `max_bytes` each, of these media types."""

    entity: str
    max_bytes: int
    types: tuple[str, ...]


@dataclass(frozen=True)
class Schema:
    version: int
    entities: Mapping[str, EntityDef]
    code_tables: Mapping[str, CodeTable] = field(default_factory=dict)
    workflows: Mapping[str, WorkflowDef] = field(default_factory=dict)
    point_rules: Mapping[str, PointRule] = field(default_factory=dict)
    attachments: Mapping[str, AttachmentRule] = field(default_factory=dict)

    def workflow(self, name: str) -> WorkflowDef:
        try:
            return self.workflows[name]
        except KeyError:
            raise SchemaError(f"没有流程 {name!r}", f"no workflow {name!r}") from None

    def entity(self, name: str) -> EntityDef:
        try:
            return self.entities[name]
        except KeyError:
            known = ", ".join(sorted(self.entities))
            raise SchemaError(
                f"没有名为 {name!r} 的实体（可用：{known}）",
                f"no entity named {name!r} (known: {known})",
            ) from None

    def code_table(self, name: str) -> CodeTable:
        try:
            return self.code_tables[name]
        except KeyError:
            raise SchemaError(f"没有代码表 {name!r}", f"no code table {name!r}") from None

    def case_parts(self, workflow: str) -> list[EntityDef]:
        """Entities whose records belong to a workflow's case besides its steps and files:
        those whose parent field refers to the case's entity (a dispute's parties), in
        schema order."""
        wf = self.workflow(workflow)
        out = []
        for entity in sorted(self.entities.values(), key=lambda e: e.position):
            parent = entity.by_name.get(entity.parent_field or "")
            if (parent is not None and parent.ref_entity == wf.subject_entity
                    and entity.name not in (wf.event_entity, ATTACHMENT_ENTITY)):
                out.append(entity)
        return out


def _rows(conn: sqlite3.Connection, sql: str) -> Iterable[dict[str, Any]]:
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


def load_schema(conn: sqlite3.Connection) -> Schema:
    """Read the definition tables of an open database into a `Schema`."""
    version_row = conn.execute("SELECT max(version) FROM schema_versions").fetchone()
    version = int(version_row[0] or 0)
    values: dict[str, list[CodeValue]] = {}
    for r in _rows(conn, "SELECT * FROM code_values ORDER BY code_table, position, code"):
        values.setdefault(r["code_table"], []).append(
            CodeValue(r["code"], r["label_zh"], r["label_en"], r["parent"], bool(r["deprecated"]))
        )
    tables = {
        r["name"]: CodeTable(r["name"], r["label_zh"], r["label_en"],
                             tuple(values.get(r["name"], ())))
        for r in _rows(conn, "SELECT * FROM code_tables ORDER BY name")
    }
    fields: dict[str, list[FieldDef]] = {}
    for r in _rows(conn, "SELECT * FROM schema_fields ORDER BY entity, position, name"):
        fields.setdefault(r["entity"], []).append(_field_from_row(r))
    entities = {
        r["name"]: EntityDef(
            name=r["name"], label_zh=r["label_zh"], label_en=r["label_en"],
            fields=tuple(fields.get(r["name"], ())), module=r["module"],
            scope_field=r["scope_field"], title_field=r["title_field"],
            parent_field=r["parent_field"], position=r["position"],
        )
        for r in _rows(conn, "SELECT * FROM schema_entities ORDER BY position, name")
    }
    rules = {r["name"]: PointRule(r["name"], r["label_zh"], r["label_en"], r["points"])
             for r in _rows(conn, "SELECT * FROM point_rules ORDER BY name")}
    attachments = {r["entity"]: AttachmentRule(r["entity"], int(r["max_bytes"]),
                                               tuple(json.loads(r["types"])))
                   for r in _rows(conn, "SELECT * FROM attachment_rules ORDER BY entity")}
    return Schema(version=version, entities=entities, code_tables=tables,
                  workflows=_load_workflows(conn), point_rules=rules, attachments=attachments)


def _load_workflows(conn: sqlite3.Connection) -> dict[str, WorkflowDef]:
    steps: dict[str, list[StepDef]] = {}
    for r in _rows(conn, "SELECT * FROM workflow_steps ORDER BY workflow, position"):
        steps.setdefault(r["workflow"], []).append(StepDef(
            r["step"], r["label_zh"], r["label_en"], r["position"], r["deadline_seconds"],
            r["deadline_label_zh"], r["deadline_label_en"], bool(r["closes"])))
    moves: dict[str, list[MoveDef]] = {}
    for r in _rows(conn, "SELECT * FROM workflow_moves ORDER BY workflow, from_step, to_step"):
        moves.setdefault(r["workflow"], []).append(MoveDef(
            r["from_step"], r["to_step"], r["label_zh"], r["label_en"], bool(r["needs_reason"])))
    return {
        r["name"]: WorkflowDef(r["name"], r["subject_entity"], r["event_entity"], r["label_zh"],
                               r["label_en"], tuple(steps.get(r["name"], ())),
                               tuple(moves.get(r["name"], ())))
        for r in _rows(conn, "SELECT * FROM workflows ORDER BY name")
    }


def _field_from_row(r: dict[str, Any]) -> FieldDef:
    if r["type"] not in FIELD_TYPES:
        raise SchemaError(
            f"字段 {r['entity']}.{r['name']} 的类型 {r['type']!r} 未知",
            f"field {r['entity']}.{r['name']} has unknown type {r['type']!r}",
        )
    return FieldDef(
        entity=r["entity"], name=r["name"], type=r["type"], label_zh=r["label_zh"],
        label_en=r["label_en"], position=r["position"], help_zh=r["help_zh"],
        help_en=r["help_en"], required=bool(r["required"]), sensitive=bool(r["sensitive"]),
        indexed=bool(r["indexed"]), rule=r["rule"], code_table=r["code_table"],
        ref_entity=r["ref_entity"], max_length=r["max_length"], min_value=r["min_value"],
        max_value=r["max_value"],
        default=json.loads(r["default_value"]) if r["default_value"] is not None else None,
        deprecated=bool(r["deprecated"]), since_version=r["since_version"],
    )


def schema_sql() -> str:
    """The text of `schema.sql` (version 1)."""
    try:
        return SCHEMA_SQL.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaError(f"找不到 schema.sql：{exc}", f"cannot read schema.sql: {exc}") from exc


def v1_schema() -> Schema:
    """Version 1, read from `schema.sql` through a scratch in-memory database."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(schema_sql())
        conn.execute(
            "INSERT INTO schema_versions (version, applied_at, source) VALUES (1, '', 'schema.sql')"
        )
        return load_schema(conn)
    finally:
        conn.close()
