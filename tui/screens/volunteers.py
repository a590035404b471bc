"""Courier volunteers and school-gate guard duty: check a volunteer in with two keystrokes
(move to the name, Enter), the month's points and ranking; today's guard roster, signed in
and out with one key. The volunteer list stands at the counter like any other: a name shows
as 赵* (whole with `mask_names` 0) and a mobile as 138****0001, which tells two 赵* apart."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from station.duty import Duty
from station.volunteers import Volunteers
from sync.errors import TownshipError
from tui.i18n import text
from tui.screens.table import TableScreen
from tui.shown import masked_value


class VolunteersScreen(TableScreen):
    TABLE = "volunteers"

    def load(self) -> None:
        lang = self.app.lang
        store = self.store
        volunteers = Volunteers(store)
        today = volunteers.today().isoformat()
        checked = {owner for (owner,) in store.conn.execute(
            "SELECT owner FROM records WHERE entity = 'checkin' AND deleted = 0"
            " AND json_extract(clear, '$.day') = ?", (today,))}
        ranks = {r["volunteer"]: r for r in volunteers.ranking()}
        entity = store.schema.entity("volunteer")
        names = store.mask_names

        def shown(v: dict[str, Any], field: str) -> str:
            f = entity.by_name.get(field)
            return masked_value(entity, f, v["fields"].get(field), store, lang, names=names) if f else ""

        self.title_label().update(text("volunteers.title", lang))
        table = self.table
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_column(text("volunteers.name", lang), width=12)
        table.add_column(text("volunteers.phone", lang), width=12)
        table.add_column(text("volunteers.today", lang), width=10)
        table.add_column(text("volunteers.points", lang), width=10)
        table.add_column(text("volunteers.rank", lang), width=6)
        for v in store.export("volunteer"):
            r = ranks.get(v["id"])
            table.add_row(shown(v, "name"), shown(v, "phone"),
                          text("volunteers.checked_in", lang) if v["id"] in checked else "",
                          str(r["points"]) if r else "0", str(r["rank"]) if r else "", key=v["id"])
        self.keep_cursor(cursor)

    @on(DataTable.RowSelected, "#volunteers")
    def check_in(self, event: DataTable.RowSelected) -> None:
        lang = self.app.lang
        try:
            _, new = Volunteers(self.store).check_in(str(event.row_key.value),
                                                         station=self.store.status()["name"])
        except TownshipError as exc:
            self.notify(exc.message(lang), severity="error")
            return
        self.notify(text("volunteers.checked_in" if new else "volunteers.again", lang))
        self.load()


class DutyScreen(TableScreen):
    TABLE = "duty"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "sign('in')", "签到"),
        Binding("o", "sign('out')", "签退"),
        *TableScreen.BINDINGS,
    ]

    def load(self) -> None:
        lang = self.app.lang
        self.title_label().update(text("duty.title", lang))
        table = self.table
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_column(text("duty.post", lang), width=28)
        table.add_column(text("duty.time", lang), width=12)
        table.add_column(text("duty.state", lang), width=10)
        for s in Duty(self.store).roster():
            state = ("duty.out" if s.get("signed_out_at") else "duty.in" if s.get("signed_in_at")
                     else "duty.none")
            table.add_row(f"{s.get('school') or ''} {s.get('post_name') or ''}",
                          f"{s['start_time']}–{s['end_time']}", text(state, lang), key=s["id"])
        self.keep_cursor(cursor)

    def action_sign(self, what: str) -> None:
        table = self.table
        if not table.row_count:
            return
        shift = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        try:
            Duty(self.store).sign(shift, what)
        except TownshipError as exc:
            self.notify(exc.message(self.app.lang), severity="error")
            return
        self.notify(text("duty.signed", self.app.lang))
        self.load()
