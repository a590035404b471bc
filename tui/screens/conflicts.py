"""Conflicts: concurrent edits to settle. The list shows each open one; its screen shows the
three values side by side — what both sides started from, this station's, the other's — and
keeps one or takes a new value. The choice is an ordinary change: it syncs and closes the
conflict everywhere."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Static

from station.conflicts import Conflicts
from station.store import Store
from sync.errors import TownshipError
from sync.human_time import absolute
from sync.masking import mask_value
from sync.merge import DELETED
from sync.register import SAME
from sync.schema import EntityDef, FieldDef
from tui.i18n import text
from tui.naming import record_name
from tui.screens.same_person import SamePersonScreen, same_summary
from tui.screens.table import TableScreen
from tui.shown import hides, short_text
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import Plain, PlainLabel

if TYPE_CHECKING:
    from tui.app import StationApp

# The record column never narrower than this; the field's label is never cut.
MIN_RECORD = 16
SCROLLBAR = 2


def field_label(store: Store, c: dict[str, Any], lang: str) -> str:
    """The conflicting field as a form names it."""
    if c["field"] == DELETED:
        return text("conflicts.deleted_field", lang)
    if c["field"] == SAME:
        return text("conflicts.same_field", lang)
    entity = store.schema.entities.get(c["entity"])
    f = entity.by_name.get(c["field"]) if entity else None
    return f.label(lang) if f else str(c["field"])


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def is_case(store: Store, entity: EntityDef) -> bool:
    """Whether `entity` is a workflow's subject (an incident, a dispute)."""
    return any(w.subject_entity == entity.name for w in store.schema.workflows.values())


def personal(store: Store, entity: EntityDef, f: FieldDef) -> bool:
    """Whether a conflict masks a field's values until v: a case's fields as the case's own
    screen masks them (its title and long texts whole, the reporter and phones masked:
    tui.shown.hides), any other record's personal (sensitive) fields."""
    return hides(entity, f) if is_case(store, entity) else f.sensitive


def side_value(store: Store, c: dict[str, Any], version: dict[str, Any] | None, value: Any,
               reveal: bool = False) -> str:
    """A side's value as it may be shown: whole, or masked by its field's rule when the field
    is personal (a name as a name) and the clerk has not asked to see it. A delete conflict's
    edits name their field in the version."""
    entity = store.schema.entities.get(c["entity"])
    name = version.get("field") if version and c["field"] == DELETED else c["field"]
    f = entity.by_name.get(str(name)) if entity else None
    if reveal or entity is None or f is None or not personal(store, entity, f) or value is None:
        return _value(value)
    is_name = short_text(f) if is_case(store, entity) else f.name == entity.title_field
    return mask_value(f.rule, value if isinstance(value, str) else _value(value), is_name=is_name)


def sensitive(store: Store, c: dict[str, Any]) -> bool:
    """Whether a conflict shows a personal value (a delete conflict may show any field)."""
    entity = store.schema.entities.get(c["entity"])
    if entity is None:
        return False
    if c["field"] == DELETED:
        return any(personal(store, entity, f) for f in entity.fields)
    f = entity.by_name.get(c["field"])
    return bool(f and personal(store, entity, f))


def _author(version: dict[str, Any], lang: str) -> str:
    """Who wrote a side and when: clerk, station, Beijing time to the minute."""
    clerk = version.get("clerk") or text("conflicts.unknown_clerk", lang)
    station = text("conflicts.this_station", lang) if version["here"] else \
        text("conflicts.station", lang, station=version["station"][-6:])
    return f"{clerk} · {station} · {absolute(version['at'])}"


def sides(store: Store, c: dict[str, Any], versions: list[dict[str, Any]], lang: str,
          reveal: bool = False) -> str:
    """Values of one side, each with who wrote it and when; "(not known)" when none."""
    return "；".join(
        side_value(store, c, v, v["value"], reveal)
        + (f" ({field_label_of(store, c, v['field'], lang)})" if v.get("field")
           and c["field"] == DELETED else "")
        + f"（{_author(v, lang)}）" for v in versions) or text("conflicts.unknown", lang)


def field_label_of(store: Store, c: dict[str, Any], name: str, lang: str) -> str:
    entity = store.schema.entities.get(c["entity"])
    f = entity.by_name.get(name) if entity else None
    return f.label(lang) if f else name


class ConflictsScreen(TableScreen):
    """Each open conflict on a row (whose record, which field: both whole); the highlighted
    one's two values in full below, wrapping, masked as on any list."""

    TABLE = "conflicts"

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.found: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Plain("", id="conflict-values")

    def on_resize(self, event: Resize) -> None:
        if self.is_mounted:
            self.load()

    def load(self) -> None:
        lang = self.app.lang
        self.found = {c["id"]: c for c in Conflicts(self.store).list()}
        self.title_label().update(
            text("conflicts.title", lang) if self.found else text("conflicts.none", lang))
        names = {cid: record_name(self.store, c["entity"], c["record"], lang)
                 for cid, c in self.found.items()}
        labels = {cid: field_label(self.store, c, lang) for cid, c in self.found.items()}
        headers = [text("conflicts.record", lang), text("conflicts.field", lang)]
        field_width = max([cell_len(headers[1]), *map(cell_len, labels.values())])
        table = self.table
        room = self.app.size.width - 2 * table.cell_padding * 2 - SCROLLBAR
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_column(headers[0], width=max(MIN_RECORD, room - field_width))
        table.add_column(headers[1], width=field_width)
        for cid in self.found:
            table.add_row(names[cid], labels[cid], key=cid)
        self.keep_cursor(cursor)
        self.show_values()

    @on(DataTable.RowHighlighted, "#conflicts")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_values()

    def show_values(self) -> None:
        """Both values of the conflict under the cursor, whole and wrapping."""
        pane = self.query_one("#conflict-values", Static)
        table = self.table
        if not table.row_count:
            pane.update("")
            return
        c = self.found.get(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))
        if c is None:
            return
        lang = self.app.lang
        if c["field"] == SAME:
            pane.update(same_summary(self.store, c, lang))
            return
        label = field_label(self.store, c, lang)
        pane.update("\n".join([
            text("conflicts.values", lang, label=label, side=text("conflicts.shown", lang),
                 value=sides(self.store, c, [c["winner"]], lang)),
            text("conflicts.values", lang, label=label, side=text("conflicts.other", lang),
                 value=sides(self.store, c, c["losers"], lang))]))

    @on(DataTable.RowSelected, "#conflicts")
    def open_conflict(self, event: DataTable.RowSelected) -> None:
        cid = str(event.row_key.value)
        if self.found.get(cid, {}).get("field") == SAME:
            self.app.push_screen(SamePersonScreen(self.store, cid))
        else:
            self.app.push_screen(ConflictScreen(self.store, cid))


class ConflictScreen(Screen[None]):
    """One conflict, three ways, with whose record it is. L keeps this station's value, R the
    other's; a delete conflict keeps the delete (D) or the edit (E); or type a new value and
    press Enter. Personal values are masked until V shows them."""

    app: StationApp
    AUTO_FOCUS = ""  # nothing focused: keys choose; Tab goes to the new-value field
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "keep('local')", "保留本站"),
        Binding("r", "keep('remote')", "保留对方"),
        Binding("d", "keep('deleted')", "保留删除", show=False),
        Binding("e", "keep('edited')", "保留修改", show=False),
        Binding("v", "reveal", "显示原值", show=False),
        Binding("escape", "back", "返回"),
    ]

    def __init__(self, store: Store, conflict_id: str) -> None:
        super().__init__()
        self.store = store
        self.conflict_id = conflict_id
        self.revealed = False

    def conflict(self) -> dict[str, Any] | None:
        found = [c for c in Conflicts(self.store).list() if c["id"] == self.conflict_id]
        return found[0] if found else None

    def compose(self) -> ComposeResult:
        lang = self.app.lang
        c = self.conflict()
        yield Header()
        with Vertical(id="conflict-box"):
            if c is None:
                yield PlainLabel(text("conflicts.none", lang))
                return
            yield PlainLabel("", classes="title", id="conflict-title")
            yield Plain("", id="base")
            yield Plain("", id="here")
            yield Plain("", id="there")
            yield Plain("", id="choices")
            if c["field"] not in (DELETED, "step"):
                yield Input(placeholder=text("conflicts.new", lang), id="new-value")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.show()

    def relabel(self, lang: str) -> None:
        self.show()

    def show(self) -> None:
        c = self.conflict()
        if c is None or not self.query("#base"):
            return
        lang = self.app.lang
        store = self.store
        versions = [c["winner"], *c["losers"]]
        unknown = text("conflicts.unknown", lang)
        reveal = self.revealed
        self.query_one("#conflict-title", Label).update(
            f"{record_name(store, c['entity'], c['record'], lang)} · {field_label(store, c, lang)}")
        self.query_one("#base", Static).update(
            f"{text('conflicts.base', lang)}: "
            f"{unknown if c.get('base') is None else side_value(store, c, None, c['base'], reveal)}")
        self.query_one("#here", Static).update(
            f"{text('conflicts.here', lang)}: "
            f"{sides(store, c, [v for v in versions if v['here']], lang, reveal)}")
        self.query_one("#there", Static).update(
            f"{text('conflicts.there', lang)}: "
            f"{sides(store, c, [v for v in versions if not v['here']], lang, reveal)}")
        if c["field"] == DELETED:
            choices = (f"D {text('conflicts.keep_deleted', lang)} · "
                       f"E {text('conflicts.keep_edited', lang)}")
        elif c["field"] == "step":
            choices = text("conflicts.step", lang)
        else:
            choices = (f"L {text('conflicts.keep_local', lang)} · "
                       f"R {text('conflicts.keep_remote', lang)}")
        if sensitive(store, c):
            choices += "\n" + text("conflicts.revealed" if reveal else "conflicts.masked", lang)
        self.query_one("#choices", Static).update(choices)

    def action_reveal(self) -> None:
        """Show or hide the personal values: the clerk chose to, at the counter."""
        if isinstance(self.focused, Input):
            return
        self.revealed = not self.revealed
        c = self.conflict()
        if self.revealed and c is not None and sensitive(self.store, c):
            with self.store.atomic() as writes:  # shown whole: recorded, as on a record's screen
                writes.note_reveal(c["entity"], c["record"], c["field"])
        self.show()

    def action_keep(self, keep: str) -> None:
        if isinstance(self.focused, Input):
            return  # typing a new value: letters are letters
        self.settle(keep, None)

    @on(Input.Submitted, "#new-value")
    def new_value(self, event: Input.Submitted) -> None:
        raw = event.value.strip()
        if raw:
            self.settle(None, raw)

    def settle(self, keep: str | None, value: Any) -> None:
        try:
            Conflicts(self.store).resolve(self.conflict_id, keep, value)
        except TownshipError as exc:
            self.notify(exc.message(self.app.lang), severity="error")
            return
        self.notify(text("conflicts.settled", self.app.lang))
        self.app.pop_screen()

    def action_back(self) -> None:
        self.app.pop_screen()
