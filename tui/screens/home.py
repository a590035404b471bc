"""Home: the station at a glance — base-data counts, open and overdue incidents under the
1/3/5-minute timers, sync state, open conflicts, schema version. Refreshed every few seconds
from the store (clear columns only; nothing is unsealed for it)."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.actions import parse
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Label, Static

from station import roles
from station.cases import Cases
from station.store import Store
from station.volunteers import Volunteers
from sync.errors import RoleRefused, TownshipError
from sync.human_time import deadline
from tui.i18n import text
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import Plain, PlainLabel, PlainTable
from tui.widgets.sync_status import SyncStatus

if TYPE_CHECKING:
    from tui.app import StationApp

REFRESH_SECONDS = 5
log = logging.getLogger(__name__)

# What each home key needs of the unlocked slot's role (station/roles.json, station/roles.py):
# a key the role may not use is left off the footer and help, and pressed anyway says why.
# The store refuses the same acts whatever the screen; this only keeps them off the screen.
NEEDS: dict[str, tuple[str, str]] = {
    "records": ("read", "person"),  # the base-data lists
    "cases": ("search", "incident"),  # the station's case lists (the entity: the key's own)
    "volunteers": ("export", "volunteer"),  # every volunteer, with their points and ranks
    "duty": ("write", "duty_shift"),
    "conflicts": ("search", "person"),
    "checkin": ("write", "checkin"),
    "report": ("write", "incident"),
    "my_points": ("read", "checkin"),
}
# A volunteer's own keys: one's own check-in, report and points (a clerk has the lists).
OWN_KEYS = frozenset({"checkin", "report", "my_points"})


class HomeScreen(Screen[None]):
    app: StationApp
    BINDINGS: ClassVar[list[BindingType]] = [
        ("b", "records", "基础数据"),
        ("i", "cases('incident')", "事件"),
        # In F1 help, not the footer: an 80-column footer holds about eight keys.
        Binding("m", "cases('dispute')", "纠纷", show=False),
        Binding("v", "volunteers", "志愿者", show=False),
        Binding("g", "duty", "护校", show=False),
        ("c", "conflicts", "冲突"),
        ("s", "sync", "同步"),
        Binding("r", "refresh", "刷新", show=False),
        # A volunteer's keys (OWN_KEYS): shown to a volunteer's slot only.
        Binding("k", "checkin", "今日签到"),
        Binding("n", "report", "上报事件"),
        Binding("p", "my_points", "我的积分"),
    ]

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self._figures: ThreadPoolExecutor | None = None
        self._gathering: Future[None] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Grid(id="home-grid"):
            with Vertical(classes="panel"):
                yield PlainLabel("", classes="title", id="base-title")
                yield PlainTable(id="counts", cursor_type="row", zebra_stripes=True)
            with Vertical(classes="panel"):
                yield PlainLabel("", classes="title", id="work-title")
                yield Plain("", id="incidents")
                yield PlainLabel("", classes="title", id="sync-title")
                yield SyncStatus("", id="sync")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.action_refresh()
        self.set_interval(REFRESH_SECONDS, self.tick)
        # The list is the screen a clerk opens first; made while home waits, it opens at
        # once (mounting its widgets and their CSS took a quarter core most of a second).
        # Right after home's own first frame: the unlock is not slowed down by it, and a
        # clerk who asks for the list at once waits only for what is left of it.
        self.call_after_refresh(self.prepare_records)

    def prepare_records(self) -> None:
        from tui.screens.records import RecordsScreen

        if self.is_active and self.store.unlocked and self.allowed("records"):
            self.app.prepare("records", lambda: RecordsScreen(self.store))

    def tick(self) -> None:
        # Only while home is shown: its timer runs under the list or a form too, and on a
        # slow board the figures would take the CPU those screens are waiting for. Coming
        # back refreshes them at once (on_screen_resume). `is_active`, not `is_current`:
        # Textual counts home as current under every screen that does not paint all of it.
        if self.is_active:
            self.action_refresh()

    def relabel(self, lang: str) -> None:
        self.action_refresh()

    # -- what the role may do
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.allowed(action, parameters)

    def allowed(self, action: str, parameters: tuple[object, ...] = ()) -> bool:
        need = NEEDS.get(action)
        if need is None:
            return True
        grant = self.store.grant
        if action in OWN_KEYS:
            return grant.reach == "own"
        entity = str(parameters[0]) if parameters else need[1]
        return roles.may(grant, need[0], entity)

    def on_key(self, event: events.Key) -> None:
        """A key this role may not use does nothing but say so (its binding is disabled)."""
        for binding in BindingsMap(self.BINDINGS).key_to_bindings.get(event.key, ()):
            _, action, parameters = parse(binding.action)
            if action not in OWN_KEYS and not self.allowed(action, parameters):
                event.stop()
                self.notify(self.refusal(action, parameters).message(self.app.lang),
                            severity="warning")

    def refusal(self, action: str, parameters: tuple[object, ...]) -> RoleRefused:
        act, entity = NEEDS[action]
        entity = str(parameters[0]) if parameters else entity
        found = self.store.schema.entities.get(entity)
        labels = ("基础数据", "base-data") if action == "records" else (
            (found.label_zh, found.name) if found else (entity, entity))
        return roles.refusal(self.store.grant, act, entity, *labels)

    def action_checkin(self) -> None:
        volunteers = Volunteers(self.store)
        try:
            _, new = volunteers.check_in(volunteers.own() or "")
        except TownshipError as exc:
            self.notify(exc.message(self.app.lang), severity="error")
            return
        self.notify(text("home.checked_in" if new else "home.checked_in_before", self.app.lang))
        self.action_refresh()

    def action_report(self) -> None:
        from tui.screens.cases import CaseScreen
        from tui.screens.record_form import RecordForm

        cases = Cases(self.store, "incident")

        def reported(case_id: str | None) -> None:
            if case_id:  # on to the case, where the photo is attached (A)
                self.app.push_screen(CaseScreen(self.store, "incident", case_id))

        self.app.push_screen(RecordForm(self.store, "incident",
                                        add=lambda v: cases.open(v, role="volunteer")), reported)

    def action_my_points(self) -> None:
        mine = self._my_points()
        lang = self.app.lang
        self.notify(text("home.points_line", lang, month=mine["month"], total=mine["total"]))

    def _my_points(self) -> dict[str, Any]:
        """The volunteer's own points: this month's, all, and whether checked in today."""
        volunteers = Volunteers(self.store)
        own = volunteers.own()
        today = volunteers.today().isoformat()
        entries = [e for e in volunteers.entries() if e.volunteer == own]
        return {"month": sum(e.points for e in entries if e.day[:7] == today[:7]),
                "total": sum(e.points for e in entries),
                "today": any(e.day == today and e.rule == "checkin" for e in entries)}

    # Each screen is imported when first opened: the sync and attachment code (requests,
    # Pillow) would otherwise load before the unlock screen and slow the app's start.
    def action_records(self) -> None:
        from tui.screens.records import RecordsScreen

        # Kept between visits (until the lock): mounting the list anew, its CSS and its
        # widgets, was most of the second it took to open under a quarter core.
        screen = self.app.kept("records", lambda: RecordsScreen(self.store))
        if isinstance(screen, RecordsScreen) and screen.is_mounted:
            screen.reopen()
        self.app.push_screen(screen)

    def action_cases(self, workflow: str) -> None:
        from tui.screens.cases import CasesScreen

        self.app.push_screen(CasesScreen(self.store, workflow))

    def action_volunteers(self) -> None:
        from tui.screens.volunteers import VolunteersScreen

        self.app.push_screen(VolunteersScreen(self.store))

    def action_duty(self) -> None:
        from tui.screens.volunteers import DutyScreen

        self.app.push_screen(DutyScreen(self.store))

    def action_sync(self) -> None:
        from tui.screens.sync import SyncScreen

        self.app.push_screen(SyncScreen(self.store))

    def action_conflicts(self) -> None:
        from tui.screens.conflicts import ConflictsScreen

        self.app.push_screen(ConflictsScreen(self.store))

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        if not self.store.unlocked:
            return
        lang = self.app.lang
        own = self.store.grant.reach == "own"
        self.query_one("#base-title", Label).update(text("home.my_points" if own else "home.base_data", lang))
        self.query_one("#work-title", Label).update(text("home.incidents", lang))
        self.query_one("#sync-title", Label).update(text("home.sync", lang))
        self.gather(lang)

    # In a thread of its own, kept while home is mounted: the store's status and the case
    # figures are tens of milliseconds at seed scale that need not hold the screen still, and
    # one lasting thread keeps one reader connection, whose record counts the store keeps
    # until something commits (Store._record_counts), where a worker per refresh (Textual's
    # thread workers) would count afresh each time.
    def gather(self, lang: str) -> None:
        if self._gathering is not None and not self._gathering.done():
            return  # the last refresh is still at it
        if self._figures is None:
            self._figures = ThreadPoolExecutor(max_workers=1, thread_name_prefix="home-figures")
        self._gathering = self._figures.submit(self._gather, lang)

    def _gather(self, lang: str) -> None:
        try:
            status = self.store.status()
            if self.store.grant.reach == "own":  # a volunteer: their own points, no base data
                status["mine"] = self._my_points()
            incidents = self._incidents(lang)
            now = self.store.clock.now()
        except TownshipError:
            return  # locked meanwhile: the unlock screen is up, nothing to show
        except Exception:
            log.exception("home figures")
            return
        with suppress(RuntimeError):  # the app has stopped meanwhile
            self.app.call_from_thread(self.show_figures, status, incidents, lang, now)

    def on_unmount(self) -> None:
        if self._figures is not None:
            self._figures.shutdown(wait=False, cancel_futures=True)
            self._figures = None

    def show_figures(self, status: dict[str, Any], incidents: str, lang: str, now: Any) -> None:
        if not self.is_mounted or not self.store.unlocked:
            return
        self._counts(status, lang)
        self.query_one("#incidents", Static).update(incidents)
        self.query_one("#sync", SyncStatus).show(status, lang, now)

    def _counts(self, status: dict[str, Any], lang: str) -> None:
        table = self.query_one("#counts", DataTable)
        table.clear(columns=True)
        # Fixed widths: a column sized to its header would cut 实有人口 to 实有.
        table.add_column(text("home.entity", lang), width=16)
        table.add_column(text("home.count", lang), width=10)
        if "mine" in status:
            mine = status["mine"]
            table.add_row(text("home.today", lang), text("home.yes" if mine["today"] else "home.no", lang))
            table.add_row(text("home.month_points", lang), str(mine["month"]))
            table.add_row(text("home.all_points", lang), str(mine["total"]))
            return
        schema = self.store.schema
        for name, entity in schema.entities.items():
            count = status["records"].get(name, 0)
            if count:
                table.add_row(entity.label(lang), f"{count:,}", key=name)

    def _incidents(self, lang: str) -> str:
        now = self.store.clock.now()
        figures = Cases(self.store, "incident").figures(now)
        lines = [f"{text('home.open', lang)}: {figures.open:,}",
                 f"{text('home.overdue', lang)}: {figures.overdue:,}"]
        if figures.next_due is not None:
            left = round(figures.next_due - now.timestamp())
            lines.append(f"{text('home.next_due', lang)}: {deadline(left, lang)}")
        return "\n".join(lines)
