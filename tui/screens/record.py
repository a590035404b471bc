"""One record's own screen: every field with its label, personal values masked as on the
list. A clerk reveals one field on purpose — the cursor on it, then `v` — and the store
records who revealed which field of which record, and when (`Store.reveal`). The whole value
stays until the screen is left or `REVEAL_SECONDS` pass, whichever comes first. Enter (or
`e`) edits the record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Header, Label

from station.store import Store
from sync.errors import NotFound
from sync.schema import EntityDef, FieldDef
from tui.i18n import text
from tui.screens.record_form import RecordForm
from tui.shown import masked_value, shown_value
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import PlainLabel, PlainTable

if TYPE_CHECKING:
    from tui.app import StationApp

# Long enough to read an ID number aloud and copy it down; short enough that a clerk who
# walks away does not leave it on the screen.
REVEAL_SECONDS = 30


class RecordScreen(Screen[str | None]):
    """Dismisses with the record's id when it was edited (so the list reloads), else None."""

    app: StationApp
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "reveal", "显示"),
        Binding("e", "edit", "修改"),
        Binding("escape", "back", "返回"),
    ]

    def __init__(self, store: Store, entity: str, record_id: str) -> None:
        super().__init__()
        self.store = store
        self.entity_name = entity
        self.record_id = record_id
        self.values: dict[str, Any] = {}
        self.revealed: dict[str, Any] = {}  # field → the whole value, while it is shown
        self.edited = False
        self.timer: Timer | None = None

    @property
    def entity(self) -> EntityDef:
        return self.store.schema.entity(self.entity_name)

    def shown_fields(self) -> list[FieldDef]:
        return [f for f in self.entity.fields if not f.deprecated or f.name in self.values]

    def compose(self) -> ComposeResult:
        yield Header()
        yield PlainLabel("", classes="title", id="record-title")
        yield PlainTable(id="record", cursor_type="row", zebra_stripes=True)
        yield PlainLabel("", id="record-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load()
        self.query_one("#record", DataTable).focus()

    def relabel(self, lang: str) -> None:
        self.show()

    def load(self) -> None:
        self.values = dict(self.store.get(self.entity_name, self.record_id)["fields"])
        self.hide()

    def show(self) -> None:
        lang = self.app.lang
        entity, names = self.entity, self.store.mask_names
        table = self.query_one("#record", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        table.add_column(text("record.field", lang), width=16)
        table.add_column(text("record.value", lang))
        for f in self.shown_fields():
            value = self.values.get(f.name)
            cell = (shown_value(f, self.revealed[f.name], self.store, lang) if f.name in self.revealed
                    else masked_value(entity, f, value, self.store, lang, names=names))
            table.add_row(f.label(lang), cell, key=f.name)
        table.move_cursor(row=row)
        named = entity.by_name.get(entity.title_field or "")
        title = masked_value(entity, named, self.values.get(named.name), self.store, lang,
                             names=names) if named else ""
        colon = "：" if lang == "zh" else ": "
        self.query_one("#record-title", Label).update(f"{entity.label(lang)}{colon}{title}")
        self.query_one("#record-hint", Label).update(text("reveal.hint", lang, s=REVEAL_SECONDS))

    def current_field(self) -> FieldDef | None:
        table = self.query_one("#record", DataTable)
        if not table.row_count:
            return None
        name = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        return self.entity.by_name.get(name)

    def action_reveal(self) -> None:
        """The field under the cursor whole, the reveal recorded first; for the time allowed."""
        f = self.current_field()
        lang = self.app.lang
        if f is None or not f.sensitive or self.values.get(f.name) in (None, ""):
            self.notify(text("reveal.nothing", lang))
            return
        try:
            self.revealed[f.name] = self.store.reveal(self.entity_name, self.record_id, f.name)
        except NotFound as exc:
            self.notify(exc.message(lang), severity="error")
            return
        if self.timer is not None:
            self.timer.stop()
        self.timer = self.set_timer(REVEAL_SECONDS, self.hide)
        self.show()
        self.notify(text("reveal.recorded", lang, field=f.label(lang)))

    def hide(self) -> None:
        """Every field masked again."""
        self.revealed.clear()
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
        self.show()

    @on(DataTable.RowSelected, "#record")
    def selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit()

    def action_edit(self) -> None:
        self.hide()
        self.app.push_screen(RecordForm(self.store, self.entity_name, self.record_id), self._after_edit)

    def _after_edit(self, saved: str | None) -> None:
        if saved:
            self.edited = True
            self.load()

    def on_screen_suspend(self) -> None:
        self.hide()  # a screen above it, or the idle lock: nothing stays revealed

    def action_back(self) -> None:
        self.revealed.clear()
        self.dismiss(self.record_id if self.edited else None)
