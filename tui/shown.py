"""Values as a screen shows them: code labels instead of codes, lists joined, and a personal
value masked for a screen a passer-by can read (sync.masking does the masking)."""

from __future__ import annotations

from typing import Any

from station.store import Store
from sync.masking import STAR, mask_value
from sync.schema import EntityDef, FieldDef
from tui.i18n import text


def shown_value(f: FieldDef | None, value: Any, store: Store, lang: str) -> str:
    """A value as a list cell: code labels instead of codes, lists joined."""
    if value is None:
        return ""
    if f is not None and f.type in ("code", "codes") and f.code_table:
        table = store.schema.code_tables.get(f.code_table)
        codes = value if isinstance(value, list) else [value]
        return "、".join(table.label(str(c), lang) if table else str(c) for c in codes)
    if isinstance(value, bool):
        return text("yes" if value else "no", lang)
    if isinstance(value, list):
        return "、".join(map(str, value))
    return str(value)


def masked_value(entity: EntityDef, f: FieldDef, value: Any, store: Store, lang: str, *,
                 names: bool = True) -> str:
    """A value as a passer-by may see it: a personal (sensitive) field masked by its rule
    (sync.masking), a name too unless `names` is False (the station's `mask_names`), a
    personal code (sex, a special-care kind) wholly; anything else as `shown_value`."""
    shown = shown_value(f, value, store, lang)
    if not f.sensitive or not shown:
        return shown
    if f.type in ("code", "codes", "boolean"):
        return STAR * len(shown)  # a label's first characters would already say what it is
    return mask_value(f.rule, shown, is_name=f.name == entity.title_field, names=names)


LONG_TEXT = 1000  # a description or a note: what the case is, shown on its screen


def hides(subject: EntityDef, f: FieldDef) -> bool:
    """Whether a case's screens (the case, a conflict on it) mask a field until the clerk
    presses v: the personal ones (reporter, parties, phones, a location), not the title, the
    long texts a clerk works the case from (description, notes: 1,000 characters or more) or
    codes (their labels)."""
    return (f.sensitive and f.name != subject.title_field and f.type in ("text", "texts")
            and (f.max_length is None or f.max_length < LONG_TEXT))


def short_text(f: FieldDef) -> bool:
    """A short personal text (a name: at most 50 characters) keeps its first character."""
    return f.rule is None and (f.type == "texts" or (f.max_length or 0) <= 50)
