"""Home: the station at a glance — base-data counts, open and overdue incidents under the
1/3/5-minute timers, sync state, open conflicts, schema version. Refreshed every few seconds
from the store (clear columns only; nothing is unsealed for it)."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Label, Static

from station.cases import Cases
from station.store import Store
from sync.errors import TownshipError
from sync.human_time import deadline
from tui.i18n import text
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import Plain, PlainLabel, PlainTable
from tui.widgets.sync_status import SyncStatus

if TYPE_CHECKING:
    from tui.app import StationApp

REFRESH_SECONDS = 5
log = logging.getLogger(__name__)


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

        if self.is_active and self.store.unlocked:
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
        self.query_one("#base-title", Label).update(text("home.base_data", lang))
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
