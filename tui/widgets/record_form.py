"""A record's form body, built from the schema: one row per field — its label, then a
one-line borderless widget for its type (code tables as choices) — and right under it the
line where its validation message goes, shown only when there is one. One row a field is
what lets a person's twelve fields show at once at 80x24. A new field from a schema bundle
appears here with no code change. The screen around it (tui/screens/record_form.py) saves
what it reads.

An edited record's personal values (the schema's sensitive fields) start hidden, as a
password is: the screen reveals one on a deliberate key, and the store records that."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Label, Select

from sync.errors import ValidationError
from sync.schema import FieldDef
from tui.i18n import text
from tui.widgets.plain import PlainLabel

LISTS = ("codes", "refs", "texts")


def widget_for(f: FieldDef, value: Any, lang: str, schema_tables: dict[str, Any],
               hidden: bool = False) -> Widget:
    """The one-line input for one field, holding its current value (`hidden`: shown as
    dots until revealed)."""
    wid = f"field-{f.name}"
    prompt = text("form.choose", lang)
    if f.type == "code" and f.code_table in schema_tables:
        table = schema_tables[f.code_table]
        options = [(f"{v.code} {v.label_zh if lang == 'zh' else v.label_en}", v.code)
                   for v in table.values if not v.deprecated or v.code == value]
        return Select(options, value=value if value is not None else Select.NULL, id=wid,
                      prompt=prompt, compact=True)
    if f.type == "boolean":
        options = [(text("yes", lang), True), (text("no", lang), False)]
        return Select(options, value=value if value is not None else Select.NULL, id=wid,
                      prompt=prompt, compact=True)
    shown = "，".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))
    hint = (f.help_zh if lang == "zh" else f.help_en) or ""
    if f.type in LISTS:
        hint = hint or text("form.several", lang)
    return Input(value=shown, placeholder=hint, id=wid, compact=True, password=hidden and bool(shown))


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


class RecordFields(VerticalScroll):
    """The title, then a row (label, input) and a message line for each field, then the
    keys' hint.

    `start`: the values the inputs begin with (the record's own when `editing`); `editing`
    also means no field is marked required (the record has them) and `values` gives only what
    changed. `hidden`: the fields whose start value shows as dots until `unhide`."""

    def __init__(self, fields: Sequence[FieldDef], start: Mapping[str, Any], *, title: str,
                 lang: str, code_tables: dict[str, Any], editing: bool,
                 hidden: Sequence[str] = ()) -> None:
        super().__init__(id="form")
        self.fields = list(fields)
        self.start = dict(start)
        self.title_text = title
        self.lang = lang
        self.code_tables = code_tables
        self.editing = editing
        self.hidden = set(hidden)

    def compose(self) -> ComposeResult:
        yield PlainLabel(self.title_text, classes="title")
        for f in self.fields:
            mark = " *" if f.required and not self.editing else ""
            with Horizontal(classes="field-row"):
                yield PlainLabel(f"{f.label(self.lang)}{mark}", classes="field-label")
                yield widget_for(f, self.start.get(f.name), self.lang, self.code_tables,
                                 hidden=f.name in self.hidden)
            yield PlainLabel("", id=f"error-{f.name}", classes="field-error")
        yield PlainLabel(text("form.hint", self.lang), id="form-hint")

    def hidden_field(self, widget: Widget | None) -> str | None:
        """The field of `widget` if it still hides its value, else None."""
        if isinstance(widget, Input) and widget.password and widget.id:
            name = widget.id.removeprefix("field-")
            return name if name in self.hidden else None
        return None

    def unhide(self, name: str) -> None:
        """Show a hidden field's whole value (the caller has recorded the reveal)."""
        self.query_one(f"#field-{name}", Input).password = False

    def values(self) -> dict[str, Any]:
        """A new record's filled fields; an edited record's changed ones (None clears one)."""
        out = {}
        for f in self.fields:
            value = read_widget(f, self.query_one(f"#field-{f.name}"))
            if self.editing:
                if value != _as_entered(self.start.get(f.name)):
                    out[f.name] = value
            elif value is not None:
                out[f.name] = value
        return out

    def clear_errors(self) -> None:
        for label in self.query(".field-error").results(Label):
            label.update("")
            label.remove_class("shown")

    def show_error(self, exc: ValidationError) -> bool:
        """The message beside the field it is about, and focus there; False when the form
        has no such field (the caller says it another way)."""
        label = next(iter(self.query(f"#error-{exc.field}").results(Label)), None)
        if label is None:
            return False
        label.update(f"⚠ {exc.detail_zh if self.lang == 'zh' else exc.detail_en}")
        label.add_class("shown")
        widget = self.query_one(f"#field-{exc.field}")
        widget.focus()
        widget.scroll_visible()
        return True


def _as_entered(value: Any) -> Any:
    """A stored value as the form reads it back unchanged (text for text inputs)."""
    if value is None or isinstance(value, bool | list):
        return value
    return str(value)
