"""Base data: one entity's records a page at a time (keyset paging: as fast at record
160,000 as at record 1), search as clerks search (a whole ID number, phone or name, a surname,
pinyin initials, the last digits of an ID number or phone: one page of the best matches, and
how they matched), and the way to a record's form. Only the page on screen is unsealed, and
it is shown masked (a passer-by at the counter sees 4405**********2318, 139****5678, 张*): a
whole value only on the record's own screen, on a deliberate key (tui/screens/record.py)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Select

from station.store import Store
from sync.errors import RoleRefused
from sync.schema import EntityDef, FieldDef
from tui.i18n import text
from tui.screens.record import RecordScreen
from tui.screens.record_form import RecordForm
from tui.shown import masked_value, shown_value
from tui.widgets.confirm import ConfirmScreen
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import PlainLabel, PlainTable

if TYPE_CHECKING:
    from tui.app import StationApp

PAGE = 50
BASE_ENTITIES = ("person", "building", "house", "organization", "special_care", "grid")
__all__ = ["RecordsScreen", "list_fields", "shown_value"]  # shown_value: other screens' import


def list_fields(entity: EntityDef) -> list[FieldDef]:
    """The columns of a list: the title field first, then the next few that are not refs."""
    fields = [f for f in entity.fields if not f.deprecated and f.type not in ("ref", "refs")]
    title = [f for f in fields if f.name == entity.title_field]
    return (title + [f for f in fields if f.name != entity.title_field])[:4]


class RecordsScreen(Screen[None]):
    app: StationApp
    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: the table would otherwise scroll its 50 rows; these move through the data.
        Binding("pagedown,ctrl+n", "next_page", "下一页", priority=True),
        Binding("pageup,ctrl+p", "previous_page", "上一页", priority=True),
        Binding("ctrl+a", "add", "新增"),
        Binding("delete,ctrl+d", "delete", "删除"),
        # Before Find in the footer, which then has no room for Find: the search box at the
        # top says what it does, and F1 lists Ctrl+F.
        Binding("ctrl+o", "import", "导入"),
        Binding("ctrl+f", "find", "查找"),
        Binding("escape", "back", "返回"),
    ]

    def __init__(self, store: Store, entity: str = "person") -> None:
        super().__init__()
        self.store = store
        self.entity = entity
        self.rows: list[dict[str, Any]] = []
        self.position = 0  # index of the first row shown
        self.total = 0  # live records of the entity, counted when the list (re)loads
        self.columns_for: tuple[str, str] | None = None  # (entity, language) of the columns
        self.searching = False
        self.matched: dict[str, str] = {}  # record id -> how it matched the search
        self.found_more = False  # the search matched more than one page
        self.read_as: tuple[int, int] | None = None  # the store's read_version at load

    def compose(self) -> ComposeResult:
        schema = self.store.schema
        lang = self.app.lang
        yield Header()
        with Horizontal(id="records-bar"):
            yield Select([(schema.entity(e).label(lang), e) for e in BASE_ENTITIES if e in schema.entities],
                         value=self.entity, allow_blank=False, id="entity")
            yield Input(placeholder=text("records.search", lang), id="search")
        yield PlainTable(id="records", cursor_type="row", zebra_stripes=True)
        yield PlainLabel("", id="records-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        try:
            self.load()
        except RoleRefused as exc:  # reached by a role that may not read it: say so, go back
            self.notify(exc.message(self.app.lang), severity="warning")
            self.app.call_later(self.dismiss_refused)
            return
        self.query_one("#records", DataTable).focus()

    def dismiss_refused(self) -> None:
        if self.is_current:
            self.app.pop_screen()

    def reopen(self) -> None:
        """Shown again from home (the app keeps this screen): the first page anew, in the
        language now chosen, the cursor in the list."""
        search = self.query_one("#search", Input)
        search.value = ""
        search.placeholder = text("records.search", self.app.lang)
        if self.unchanged():
            self.show_status(self.app.lang)  # the first page as it was: nothing to redraw
            self.query_one("#records", DataTable).move_cursor(row=0, column=0)
        else:
            self.load()  # the rows once, in the language now chosen (not relabel's show too)
        self.query_one("#records", DataTable).focus()

    def unchanged(self) -> bool:
        """The first page on screen is what the store holds now, in the language chosen:
        nothing committed since it was read (a save, a sync, an import all commit)."""
        version = self.store.read_version()
        return (version is not None and version == self.read_as and not self.searching
                and self.position == 0 and self.columns_for == (self.entity, self.app.lang))

    # -- loading
    def load(self) -> None:
        """The first page, and the total (counted here, not on every page)."""
        self.read_as = self.store.read_version()  # before reading: a commit after is seen
        self.rows = self.store.page(self.entity, limit=PAGE)
        self.total = self.store.count(self.entity)
        self.position = 0
        self.searching = False
        self.show()

    def show(self) -> None:
        lang = self.app.lang
        store = self.store
        entity = store.schema.entity(self.entity)
        columns = list_fields(entity)
        table = self.query_one("#records", DataTable)
        if self.columns_for == (self.entity, lang):
            table.clear()  # rows only: the columns and their widths stay
        else:
            table.clear(columns=True)
            table.add_columns(*(f.label(lang) for f in columns))
            self.columns_for = (self.entity, lang)
        names = store.mask_names
        for record in self.rows:
            table.add_row(*(masked_value(entity, f, record["fields"].get(f.name), store, lang,
                                         names=names) for f in columns), key=record["id"])
        self.show_status(lang)

    def show_status(self, lang: str) -> None:
        total = self.total
        if self.searching:
            status = self.found_status(lang)
        elif not self.rows:
            status = text("records.empty", lang)
        else:
            status = text("records.page", lang, first=self.position + 1,
                          last=self.position + len(self.rows), total=f"{total:,}")
        self.query_one("#records-status", Label).update(status)

    def found_status(self, lang: str) -> str:
        """找到 n 条 and how they matched (姓氏 12、拼音首字母 3), or that more matched."""
        n = len(self.rows)
        if self.found_more:
            return text("records.found_more", lang, n=n)
        kinds = Counter(self.matched.values())
        how = ("、" if lang == "zh" else ", ").join(f"{text('match.' + k, lang)} {c}"
                                                   for k, c in kinds.items())
        found = text("records.found", lang, n=n)
        return f"{found}（{how}）" if how and lang == "zh" else f"{found} ({how})" if how else found

    def relabel(self, lang: str) -> None:
        self.query_one("#search", Input).placeholder = text("records.search", lang)
        self.show()

    # -- actions
    @on(Select.Changed, "#entity")
    def entity_changed(self, event: Select.Changed) -> None:
        if event.value != self.entity:
            self.entity = str(event.value)
            self.load()

    def action_next_page(self) -> None:
        if not self.rows or self.searching or len(self.rows) < PAGE:
            return
        rows = self.store.page(self.entity, after=self.rows[-1]["id"], limit=PAGE)
        if rows:
            self.rows, self.position = rows, self.position + PAGE
            self.show()

    def action_previous_page(self) -> None:
        if not self.rows or self.searching or self.position == 0:
            return
        self.rows = self.store.page(self.entity, before=self.rows[0]["id"], limit=PAGE)
        self.position = max(0, self.position - PAGE)
        self.show()

    def action_find(self) -> None:
        self.query_one("#search", Input).focus()

    @on(Input.Submitted, "#search")
    def search(self, event: Input.Submitted) -> None:
        term = event.value.strip()
        if not term:
            self.load()
            return
        found = self.store.find(term, self.entity, limit=PAGE)
        self.rows = [m.record for m in found.matches]
        self.matched = {m.record["id"]: m.by for m in found.matches}
        self.found_more = found.more
        self.searching = True
        # The number typed is as personal as the results: it leaves the screen with them.
        event.input.value = ""
        self.show()
        self.query_one("#records", DataTable).focus()

    def action_back(self) -> None:
        if self.searching:
            self.query_one("#search", Input).value = ""
            self.load()
        else:
            self.app.pop_screen()

    def action_import(self) -> None:
        """A spreadsheet of this list's entity from a USB stick (tui/screens/importing.py)."""
        from tui.screens.importing import ImportScreen

        self.app.push_screen(ImportScreen(self.store, self.entity), self._after_import)

    def _after_import(self, imported: bool | None) -> None:
        if imported:
            self.load()

    def action_add(self) -> None:
        form = RecordForm(self.store, self.entity)

        def added(saved: str | None) -> None:
            if form.existing:  # already registered: the clerk opens that record instead
                self.app.push_screen(RecordScreen(self.store, self.entity, form.existing),
                                     self._after_form)
            self._after_form(saved)

        self.app.push_screen(form, added)

    @on(DataTable.RowSelected, "#records")
    def open_record(self, event: DataTable.RowSelected) -> None:
        record_id = str(event.row_key.value)
        self.app.push_screen(RecordScreen(self.store, self.entity, record_id), self._after_form)

    def _after_form(self, saved: str | None) -> None:
        if saved:
            self.load()

    def action_delete(self) -> None:
        table = self.query_one("#records", DataTable)
        if not self.rows:
            return
        record_id = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.store.delete(self.entity, record_id)
                self.notify(text("records.deleted", self.app.lang))
                self.load()

        lang = self.app.lang
        self.app.push_screen(ConfirmScreen(text("records.confirm_delete", lang), lang), confirmed)

