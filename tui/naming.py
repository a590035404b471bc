"""How a screen names a record a clerk has to recognise: a case by its title, a person by a
masked name, a grid by its name, a code by its label. All from the schema and the record, so a
new entity or code table needs no change here; personal values go through sync.masking."""

from __future__ import annotations

from typing import Any

from station.store import Store
from sync.errors import TownshipError
from sync.masking import mask_value
from sync.schema import EntityDef, FieldDef

NAME_SEPARATOR = "、"


def category_field(entity: EntityDef) -> FieldDef | None:
    """The field that sorts an entity into kinds: its first code field with a code table
    (an incident's category, a dispute's kind)."""
    return next((f for f in entity.fields if not f.deprecated and f.type == "code"
                 and f.code_table), None)


def code_label(store: Store, f: FieldDef | None, value: Any, lang: str) -> str:
    """A code's label from its table (the code itself when the table does not know it)."""
    if value is None or value == "":
        return ""
    table = store.schema.code_tables.get(f.code_table) if f and f.code_table else None
    codes = value if isinstance(value, list) else [value]
    return NAME_SEPARATOR.join(table.label(str(c), lang) if table else str(c) for c in codes)


def masked(f: FieldDef, value: Any, *, is_name: bool = False) -> str:
    """A value as a passer-by may see it: sensitive values masked by the field's rule."""
    items = value if isinstance(value, list) else [value]
    if not f.sensitive:
        return NAME_SEPARATOR.join(str(v) for v in items if v not in (None, ""))
    return NAME_SEPARATOR.join(mask_value(f.rule, v, is_name=is_name) for v in items
                               if v not in (None, ""))


def case_title(store: Store, entity: EntityDef, fields: dict[str, Any], lang: str) -> str:
    """A case's title. A text title field is shown whole: it names the matter ("路灯损坏"),
    not a person. An entity whose title is a code (a dispute's kind, which the list shows in
    its own column) is named by its first text field instead, the parties, masked as names."""
    title = entity.by_name.get(entity.title_field or "")
    if title is not None and title.type == "text":
        return str(fields.get(title.name) or "")
    for f in entity.fields:
        if f.type in ("text", "texts") and not f.deprecated and f.rule is None \
                and fields.get(f.name) not in (None, "", []):
            return masked(f, fields[f.name], is_name=True)
    return code_label(store, title, fields.get(title.name), lang) if title else ""


def record_name(store: Store, entity_name: str, record_id: str, lang: str) -> str:
    """"实有人口 李**", "事件 路灯损坏": the entity's label and the record's title as a list may
    show it. A step event is named by its case; a record that cannot be read (deleted, not
    here) by the end of its id."""
    entity = store.schema.entities.get(entity_name)
    if entity is None:
        return f"{entity_name} {record_id[-6:]}"
    try:
        fields = store.get(entity_name, record_id)["fields"]
    except TownshipError:
        return f"{entity.label(lang)} {record_id[-6:]}"
    workflows = {w.subject_entity for w in store.schema.workflows.values()}
    if entity.parent_field and fields.get(entity.parent_field):
        parent = entity.by_name.get(entity.parent_field)
        if parent is not None and parent.ref_entity:
            return record_name(store, parent.ref_entity, str(fields[entity.parent_field]), lang)
    if entity_name in workflows:
        name = case_title(store, entity, fields, lang)
    else:
        name = title_value(store, entity, fields, lang)
    return f"{entity.label(lang)} {name or record_id[-6:]}"


def title_value(store: Store, entity: EntityDef, fields: dict[str, Any], lang: str) -> str:
    """The title field's value as a list shows it: masked as a name when it is personal."""
    f = entity.by_name.get(entity.title_field or "")
    if f is None or fields.get(f.name) in (None, ""):
        return ""
    if f.type in ("code", "codes"):
        return code_label(store, f, fields[f.name], lang)
    return masked(f, fields[f.name], is_name=True)


def grid_name(names: dict[str, str], code: Any) -> str:
    """A grid's name, or its code when this station has no record of that grid."""
    return names.get(str(code), str(code or ""))
