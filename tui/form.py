"""A record's form, built from the schema: each field's label, a widget for its type (code
tables as choices), and its validation message beside it. Saving goes through the store's one
write path: a bad value is named beside its field and nothing is saved; a good form is saved
whole. A new field from a schema bundle appears here with no code change."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, Input, Label, Select

from sync.errors import TownshipError, ValidationError
from sync.schema import EntityDef, FieldDef
from tui.footer import KeyFooter
from tui.i18n import text
from tui.plain import PlainLabel

if TYPE_CHECKING:
    from tui.app import StationApp

LISTS = ("codes", "refs", "texts")


def widget_for(f: FieldDef, value: Any, lang: str, schema_tables: dict[str, Any]) -> Widget:
    """The input for one field, holding its current value."""
    wid = f"field-{f.name}"
    if f.type == "code" and f.code_table in schema_tables:
        table = schema_tables[f.code_table]
        options = [(f"{v.code} {v.label_zh if lang == 'zh' else v.label_en}", v.code)
                   for v in table.values if not v.deprecated or v.code == value]
        return Select(options, value=value if value is not None else Select.NULL, id=wid)
    if f.type == "boolean":
        options = [(text("yes", lang), True), (text("no", lang), False)]
        return Select(options, value=value if value is not None else Select.NULL, id=wid)
    shown = "，".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))
    hint = (f.help_zh if lang == "zh" else f.help_en) or ""
    if f.type in LISTS:
        hint = hint or ("多个用逗号分开" if lang == "zh" else "separate several with commas")
    return Input(value=shown, placeholder=hint, id=wid)


def read_widget(f: FieldDef, widget: Widget) -> Any:
    """What the clerk entered, None when blank (the store validates and normalises it)."""
    if isinstance(widget, Select):
        return None if widget.value is Select.NULL else widget.value
    raw = widget.value.strip() if isinstance(widget, Input) else ""
    if not raw:
        return None
    if f.type in LISTS:
        return [part.strip() for part in re.split(r"[,，、]", raw) if part.strip()]
    return raw


class RecordForm(Screen[str | None]):
    """Add (record_id None) or edit one record; dismisses with the saved id, or None."""

    app: StationApp
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "保存", priority=True),
        Binding("escape", "cancel", "返回"),
    ]

    def __init__(self, entity: str, record_id: str | None = None,
                 add: Callable[[dict[str, Any]], str] | None = None, *,
                 only: Sequence[str] | None = None, given: Mapping[str, Any] | None = None,
                 title: str | None = None) -> None:
        """`add` saves a new record another way than a plain add (a case opens with its first
        step event); it must go through the store's write path and raise as it does.
        `only`: the fields the clerk fills (the rest are the caller's); `given`: values a new
        record's form starts with; `title`: instead of "New <entity>"."""
        super().__init__()
        self.entity_name = entity
        self.record_id = record_id
        self.original: dict[str, Any] = {}
        self.add = add
        self.only = set(only) if only is not None else None
        self.given = dict(given or {})
        self.title_text = title

    @property
    def entity(self) -> EntityDef:
        return self.app.store.schema.entity(self.entity_name)

    def fields(self) -> list[FieldDef]:
        """Current fields, and a retired one only where this record still holds a value."""
        return [f for f in self.entity.fields
                if (not f.deprecated or f.name in self.original)
                and (self.only is None or f.name in self.only)]

    def compose(self) -> ComposeResult:
        lang = self.app.lang
        if self.record_id:
            self.original = dict(self.app.store.get(self.entity_name, self.record_id)["fields"])
        title = self.title_text or text("form.edit" if self.record_id else "form.add", lang,
                                        entity=self.entity.label(lang))
        start = self.original or self.given
        yield Header()
        with VerticalScroll(id="form"):
            yield PlainLabel(title, classes="title")
            for f in self.fields():
                mark = " *" if f.required and not self.record_id else ""
                yield PlainLabel(f"{f.label(lang)}{mark}", classes="field-label")
                yield widget_for(f, start.get(f.name), lang, dict(self.app.store.schema.code_tables))
                yield PlainLabel("", id=f"error-{f.name}", classes="field-error")
            yield PlainLabel(text("form.hint", lang), id="form-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        first = self.query("#form Input, #form Select").first()
        first.focus()

    def values(self) -> dict[str, Any]:
        out = {}
        for f in self.fields():
            value = read_widget(f, self.query_one(f"#field-{f.name}"))
            if self.record_id:
                if value != _as_entered(self.original.get(f.name)):
                    out[f.name] = value  # None clears it
            elif value is not None:
                out[f.name] = value
        return out

    def clear_errors(self) -> None:
        for label in self.query(".field-error").results(Label):
            label.update("")

    def action_save(self) -> None:
        self.clear_errors()
        lang = self.app.lang
        values = self.values()
        try:
            if self.record_id:
                if not values or not self.app.store.update(self.entity_name, self.record_id, values):
                    self.app.notify(text("form.unchanged", lang))
                    self.dismiss(None)
                    return
                saved = self.record_id
            else:
                saved = (self.add or (lambda v: self.app.store.add(self.entity_name, v)))(values)
        except ValidationError as exc:
            self.show_error(exc)
            return
        except TownshipError as exc:
            self.app.notify(exc.message(lang), severity="error")
            return
        self.app.notify(text("form.saved", lang))
        self.dismiss(saved)

    def show_error(self, exc: ValidationError) -> None:
        """The message beside the field it is about; focus goes there."""
        message = exc.detail_zh if self.app.lang == "zh" else exc.detail_en
        found = self.query(f"#error-{exc.field}").results(Label)
        label = next(iter(found), None)
        if label is None:
            self.app.notify(exc.message(self.app.lang), severity="error")
            return
        label.update(f"⚠ {message}")
        widget = self.query_one(f"#field-{exc.field}")
        widget.focus()
        widget.scroll_visible()
        self.app.notify(text("form.fix", self.app.lang), severity="warning")

    def action_cancel(self) -> None:
        self.dismiss(None)


def _as_entered(value: Any) -> Any:
    """A stored value as the form reads it back unchanged (text for text inputs)."""
    if value is None or isinstance(value, bool | list):
        return value
    return str(value)
