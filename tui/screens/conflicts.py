"""Conflicts: concurrent edits to settle. The list shows each open one; its screen shows the
three values side by side — what both sides started from, this station's, the other's — and
keeps one or takes a new value. The choice is an ordinary change: it syncs and closes the
conflict everywhere."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input

from station.conflicts import Conflicts
from station.store import Store
from sync.errors import TownshipError
from sync.merge import DELETED
from tui.i18n import text
from tui.screens.table import TableScreen
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import Plain, PlainLabel

if TYPE_CHECKING:
    from tui.app import StationApp


def field_label(store: Store, c: dict[str, Any], lang: str) -> str:
    """The conflicting field as a form names it."""
    if c["field"] == DELETED:
        return text("conflicts.deleted_field", lang)
    entity = store.schema.entities.get(c["entity"])
    f = entity.by_name.get(c["field"]) if entity else None
    return f.label(lang) if f else str(c["field"])


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _author(version: dict[str, Any], lang: str) -> str:
    """Who wrote a side and when: clerk, station, Beijing time to the minute."""
    clerk = version.get("clerk") or text("conflicts.unknown_clerk", lang)
    station = text("conflicts.this_station", lang) if version["here"] else \
        text("conflicts.station", lang, station=version["station"][-6:])
    return f"{clerk} · {station} · {version['at'][:16].replace('T', ' ')}"


class ConflictsScreen(TableScreen):
    TABLE = "conflicts"

    def load(self) -> None:
        lang = self.app.lang
        found = Conflicts(self.store).list()
        self.title_label().update(
            text("conflicts.title", lang) if found else text("conflicts.none", lang))
        table = self.table
        table.clear(columns=True)
        table.add_columns(text("conflicts.record", lang), text("conflicts.field", lang),
                          text("conflicts.shown", lang), text("conflicts.other", lang))
        for c in found:
            table.add_row(self._title(c), field_label(self.store, c, lang), _value(c["winner"]["value"]),
                          "、".join(_value(v["value"]) for v in c["losers"]), key=c["id"])

    def _title(self, c: dict[str, Any]) -> str:
        schema = self.store.schema
        entity = schema.entities.get(c["entity"])
        label = entity.label(self.app.lang) if entity else c["entity"]
        return f"{label} {c['record'][-6:]}"

    @on(DataTable.RowSelected, "#conflicts")
    def open_conflict(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(ConflictScreen(self.store, str(event.row_key.value)))


class ConflictScreen(Screen[None]):
    """One conflict, three ways. L keeps this station's value, R the other's; a delete
    conflict keeps the delete (D) or the edit (E); or type a new value and press Enter."""

    app: StationApp
    AUTO_FOCUS = ""  # nothing focused: keys choose; Tab goes to the new-value field
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "keep('local')", "保留本站"),
        Binding("r", "keep('remote')", "保留对方"),
        Binding("d", "keep('deleted')", "保留删除", show=False),
        Binding("e", "keep('edited')", "保留修改", show=False),
        Binding("escape", "back", "返回"),
    ]

    def __init__(self, store: Store, conflict_id: str) -> None:
        super().__init__()
        self.store = store
        self.conflict_id = conflict_id

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
            versions = [c["winner"], *c["losers"]]
            here = [v for v in versions if v["here"]]
            there = [v for v in versions if not v["here"]]
            unknown = text("conflicts.unknown", lang)

            def shown(vs: list[dict[str, Any]]) -> str:
                return "；".join(_value(v["value"]) + (f" ({v['field']})" if v.get("field")
                                                      and c["field"] == DELETED else "")
                                + f"（{_author(v, lang)}）" for v in vs) or unknown

            yield PlainLabel(field_label(self.store, c, lang), classes="title")
            yield Plain(f"{text('conflicts.base', lang)}: "
                         f"{unknown if c.get('base') is None else _value(c['base'])}", id="base")
            yield Plain(f"{text('conflicts.here', lang)}: {shown(here)}", id="here")
            yield Plain(f"{text('conflicts.there', lang)}: {shown(there)}", id="there")
            if c["field"] == DELETED:
                yield Plain(f"D {text('conflicts.keep_deleted', lang)} · "
                             f"E {text('conflicts.keep_edited', lang)}", id="choices")
            elif c["field"] == "step":
                yield Plain(text("conflicts.step", lang), id="choices")
            else:
                yield Plain(f"L {text('conflicts.keep_local', lang)} · "
                             f"R {text('conflicts.keep_remote', lang)}", id="choices")
                yield Input(placeholder=text("conflicts.new", lang), id="new-value")
        yield KeyFooter()

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
