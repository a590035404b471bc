"""The record already registered under the ID number (credit code) a clerk just typed: shown
masked, as a list shows it, so the clerk opens it instead of registering the person again."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen

from station.store import Store
from sync.schema import EntityDef, FieldDef
from tui.i18n import text
from tui.shown import masked_value
from tui.widgets.plain import PlainLabel

SHOWN_FIELDS = 5


def summary_fields(entity: EntityDef) -> list[FieldDef]:
    """The title, the key, then the next few plain fields: enough to recognise the record."""
    first = [f for f in (entity.by_name.get(entity.title_field or ""), entity.key_field) if f]
    rest = [f for f in entity.fields if f not in first and not f.deprecated
            and f.type not in ("ref", "refs")]
    return (first + rest)[:SHOWN_FIELDS]


class RegisteredScreen(ModalScreen[bool]):
    """Enter (or O) opens the registered record, Esc goes back to the form; dismisses with
    whether to open it."""

    BINDINGS: ClassVar[list[BindingType]] = [("enter,o", "answer(True)", "打开该记录"),
                                             ("escape", "answer(False)", "返回修改")]

    def __init__(self, store: Store, record: dict[str, Any], lang: str) -> None:
        super().__init__()
        self.store = store
        self.record = record
        self.lang = lang

    def compose(self) -> ComposeResult:
        lang = self.lang
        entity = self.store.schema.entity(self.record["entity"])
        key = entity.key_field
        names = self.store.mask_names
        with Vertical(id="registered-box"):
            yield PlainLabel(text("registered.title", lang, field=key.label(lang) if key else "",
                                  entity=entity.label(lang)), classes="title")
            for f in summary_fields(entity):
                value = masked_value(entity, f, self.record["fields"].get(f.name), self.store, lang,
                                     names=names)
                yield PlainLabel(f"{f.label(lang)}：{value}", classes="registered-field")
            yield PlainLabel(text("registered.keys", lang), id="registered-keys")

    def action_answer(self, open_it: bool) -> None:
        self.dismiss(open_it)
