"""Sync: the state of the link to the county, sync now with a progress bar (changes and
bytes), a log of what happened, and the changes the hub refused — open the record to fix it,
then send it again. The round runs in a worker, which reports with messages."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Label, Log, ProgressBar
from textual.worker import get_current_worker

from station import first_sync
from station.daemon import patiently
from station.store import Store
from station.syncer import Progress, SyncResult, client_for, sync_once
from sync.errors import HubBusy, StationRevoked, TownshipError
from tui.i18n import text
from tui.messages import SyncBusy, SyncEstimated, SyncFinished, SyncProgress, SyncRevoked
from tui.screens.record_form import RecordForm
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import PlainLabel, PlainTable
from tui.widgets.sync_status import SyncStatus

if TYPE_CHECKING:
    from tui.app import StationApp


class _Left(Exception):
    """The clerk left the sync screen while it waited for a busy hub."""


def _sleep_unless_left(seconds: float) -> None:
    """Sleep in the sync worker, in short steps, stopping when the worker is cancelled."""
    worker = get_current_worker()
    waited = 0.0
    while waited < seconds:
        if worker.is_cancelled:
            raise _Left
        step = min(0.1, seconds - waited)
        time.sleep(step)
        waited += step


class SyncScreen(Screen[None]):
    app: StationApp
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sync", "同步"),
        Binding("ctrl+r", "resend", "重发"),
        Binding("escape", "back", "返回"),
    ]

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        yield Header()
        yield SyncStatus("", id="sync-state")
        yield PlainLabel("", id="sync-estimate")
        yield ProgressBar(id="sync-progress", show_eta=False)
        yield Log(id="sync-log", max_lines=200)
        yield PlainLabel("", classes="title", id="rejected-title")
        yield PlainTable(id="rejected", cursor_type="row")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.refresh_state()

    def on_screen_resume(self) -> None:
        self.refresh_state()

    def relabel(self, lang: str) -> None:
        self.refresh_state()

    def refresh_state(self) -> None:
        lang = self.app.lang
        self.query_one("#sync-state", SyncStatus).show(self.store.status(), lang,
                                                     self.store.clock.now())
        self.query_one("#rejected-title", Label).update(text("sync.rejected", lang))
        table = self.query_one("#rejected", DataTable)
        table.clear(columns=True)
        table.add_columns("#", text("home.entity", lang), text("sync.reason", lang))
        schema = self.store.schema
        for r in self.store.rejected():
            entity = schema.entities.get(r["entity"])
            table.add_row(str(r["seq"]), entity.label(lang) if entity else r["entity"], r["reason"],
                          key=str(r["seq"]))

    def action_sync(self) -> None:
        self.query_one("#sync-progress", ProgressBar).update(total=None, progress=0)
        self.run_sync(self.app.lang)

    @work(thread=True, exclusive=True, group="sync")
    def run_sync(self, lang: str) -> None:
        def report(progress: Progress) -> None:
            self.post_message(SyncProgress(progress))

        def busy(exc: HubBusy, wait: float) -> None:
            self.post_message(SyncBusy(text("sync.busy_wait", lang, seconds=max(1, round(wait)))))

        self._estimate(lang)
        try:
            result = patiently(lambda: sync_once(self.store, report=report), _sleep_unless_left, busy)
        except _Left:
            return
        except HubBusy as exc:  # busy past the screen's patience: the daemon goes on trying
            self.post_message(SyncFinished(exc.message(lang)))
            return
        except StationRevoked as exc:  # the store is locked (or its keys destroyed) already
            self.post_message(SyncRevoked(exc.message(lang)))
            return
        except TownshipError as exc:
            self.post_message(SyncFinished(text("sync.failed", lang, why=exc.message(lang))))
            return
        self._finished(result, lang)

    def _estimate(self, lang: str) -> None:
        """Before the first pull over the link, its bytes and time, on the screen. A hub that
        cannot estimate (an older release) or a link that fails here is said as such, with
        its reason; the sync itself then goes on and says how it ended."""
        if not first_sync.is_first(self.store):
            return
        try:
            estimate = first_sync.measure(self.store, client_for(self.store))
        except TownshipError as exc:
            self.post_message(SyncEstimated(first_sync.unknown_line(exc.message(lang), lang), False))
            return
        self.post_message(SyncEstimated(estimate.line(lang), estimate.long))

    def _finished(self, result: SyncResult, lang: str) -> None:
        line = text("sync.done", lang, pushed=result.pushed, rejected=result.rejected,
                    pulled=result.pulled)
        if result.files_sent or result.files_fetched:
            line += text("sync.done_files", lang, sent=result.files_sent, fetched=result.files_fetched)
        if result.waiting is not None:  # the round's byte budget ran out: what goes next round
            line += "\n" + result.waiting.line(lang)
        self.post_message(SyncFinished(line))

    def on_sync_progress(self, event: SyncProgress) -> None:
        event.stop()
        p = event.progress
        lang = self.app.lang
        bar = self.query_one("#sync-progress", ProgressBar)
        kb = f"{p.bytes / 1024:,.0f}"
        if p.stage == "schema":
            line = text("sync.schema", lang)
        elif p.stage == "push":
            bar.update(total=p.total or 1, progress=p.done)
            line = text("sync.push", lang, done=p.done, total=p.total, kb=kb)
        elif p.stage == "files":  # attachments, after the records: chunks as they are acknowledged
            bar.update(total=None, progress=p.done)
            line = text("sync.files", lang, done=p.done, kb=kb)
        else:
            bar.update(total=p.total, progress=p.done)
            line = text("sync.pull", lang, done=p.done, kb=kb)
        self.query_one("#sync-log", Log).write_line(line)

    def on_sync_estimated(self, event: SyncEstimated) -> None:
        event.stop()
        label = self.query_one("#sync-estimate", Label)
        label.update(event.line)
        label.set_class(event.long, "warning")
        label.display = True
        self.query_one("#sync-log", Log).write_line(event.line)

    def on_sync_revoked(self, event: SyncRevoked) -> None:
        event.stop()
        self.app.lock_revoked(event.line)

    def on_sync_busy(self, event: SyncBusy) -> None:
        event.stop()
        self.query_one("#sync-log", Log).write_line(event.line)

    def on_sync_finished(self, event: SyncFinished) -> None:
        event.stop()
        bar = self.query_one("#sync-progress", ProgressBar)
        bar.update(total=bar.total or 1, progress=bar.total or 1)
        self.query_one("#sync-log", Log).write_lines(event.line.splitlines())
        self.refresh_state()

    @on(DataTable.RowSelected, "#rejected")
    def fix(self, event: DataTable.RowSelected) -> None:
        found = [r for r in self.store.rejected() if str(r["seq"]) == event.row_key.value]
        if found:
            self.app.push_screen(RecordForm(self.store, found[0]["entity"], found[0]["record"]))

    def action_resend(self) -> None:
        table = self.query_one("#rejected", DataTable)
        if not table.row_count:
            return
        seq = int(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))
        try:
            self.store.resend(seq)
        except TownshipError as exc:
            self.notify(exc.message(self.app.lang), severity="error")
            return
        self.notify(text("sync.resent", self.app.lang))
        self.refresh_state()

    def action_back(self) -> None:
        self.app.pop_screen()
