"""The shape most of the app's screens share: a title, one table of rows to act on, the
footer; loaded on entry, on return from a screen above it and on a language switch; Esc goes
back."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Label

from station.store import Store
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import PlainLabel, PlainTable

if TYPE_CHECKING:
    from tui.app import StationApp


class TableScreen(Screen[None]):
    """Subclasses name their table (`TABLE`: its id; the title is `TABLE-title`) and fill
    both in `load` from `store`."""

    app: StationApp
    TABLE: ClassVar[str] = "table"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "返回")]

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        yield Header()
        yield PlainLabel("", classes="title", id=f"{self.TABLE}-title")
        yield PlainTable(id=self.TABLE, cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load()
        self.table.focus()

    def on_screen_resume(self) -> None:
        self.load()

    def relabel(self, lang: str) -> None:
        self.load()

    @property
    def table(self) -> DataTable[str]:
        return self.query_one(f"#{self.TABLE}", DataTable)

    def title_label(self) -> Label:
        return self.query_one(f"#{self.TABLE}-title", Label)

    def load(self) -> None:
        raise NotImplementedError

    def keep_cursor(self, row: int) -> None:
        """After a reload, the cursor back on the row it was on (or the last one)."""
        if self.table.row_count:
            self.table.move_cursor(row=min(row, self.table.row_count - 1))

    def action_back(self) -> None:
        self.app.pop_screen()
