"""Import a spreadsheet from a USB stick into the list's entity: the .xlsx and .csv files on
the mounted sticks (station.usb_files), Enter checks the chosen one and shows every bad cell
by row and column, Ctrl+S imports it all or nothing with a progress bar. The reading, the
check and the write run in a worker that reports with messages; nothing is saved unless the
whole sheet passes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Label, ProgressBar, RichLog

from station.imports import ImportRefused, duplicate_finder, import_file
from station.spreadsheet import CellError, Duplicate, Report
from station.store import Store
from station.usb_files import find_files, roots_of
from sync.attachments import megabytes
from sync.errors import TownshipError
from sync.validate import CHINA_TZ
from tui.i18n import text
from tui.messages import ImportChecked, ImportProgress
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import PlainLabel, PlainTable

if TYPE_CHECKING:
    from tui.app import StationApp

SHEET_SUFFIXES = (".xlsx", ".csv")  # what station import reads
SHOWN_PROBLEMS = 200  # the log keeps this many bad cells; the count says how many in all


class ImportScreen(Screen[bool]):
    """Dismissed with True when something was imported (the list then reloads)."""

    app: StationApp
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "import", "导入", priority=True),
        Binding("r", "refresh", "刷新"),
        Binding("escape", "back", "返回"),
    ]

    def __init__(self, store: Store, entity: str) -> None:
        super().__init__()
        self.store = store
        self.entity = entity
        self.checked: Path | None = None  # the file whose check passed, ready to import
        self.imported = False
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield PlainLabel("", classes="title", id="import-title")
        yield PlainTable(id="import-files", cursor_type="row", zebra_stripes=True)
        yield ProgressBar(id="import-progress", show_eta=False)
        yield RichLog(id="import-log", wrap=True, markup=False, max_lines=SHOWN_PROBLEMS + 5)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load()
        self.query_one("#import-files", DataTable).focus()

    def relabel(self, lang: str) -> None:
        self.load()

    def load(self) -> None:
        lang = self.app.lang
        entity = self.store.schema.entity(self.entity)
        self.query_one("#import-title", Label).update(
            text("import.title", lang, entity=entity.label(lang)))
        table = self.query_one("#import-files", DataTable)
        table.clear(columns=True)
        table.add_columns(text("import.file", lang), text("import.size", lang),
                          text("import.modified", lang))
        roots = roots_of(self.store.settings())
        found = find_files(roots, SHEET_SUFFIXES)
        for item in found:
            when = datetime.fromtimestamp(item.mtime, CHINA_TZ).strftime("%Y-%m-%d %H:%M")
            table.add_row(Text(item.shown), megabytes(item.size), when, key=str(item.path))
        if not found:
            where = ("、" if lang == "zh" else ", ").join(str(r) for r in roots)
            self.say(text("import.none", lang, roots=where))

    def say(self, line: str) -> None:
        self.query_one("#import-log", RichLog).write(Text(line))

    # -- check and import, in a worker
    @on(DataTable.RowSelected, "#import-files")
    def check_selected(self, event: DataTable.RowSelected) -> None:
        if self.busy:
            return
        path = Path(str(event.row_key.value))
        self.checked = None
        self.query_one("#import-log", RichLog).clear()
        self.say(text("import.checking", self.app.lang, name=path.name))
        self.busy = True
        self.run_import(path, self.app.lang, dry_run=True)

    def action_import(self) -> None:
        lang = self.app.lang
        if self.busy:
            return
        if self.checked is None:
            self.say(text("import.check_first", lang))
            return
        self.say(text("import.writing", lang, name=self.checked.name))
        self.busy = True
        self.run_import(self.checked, lang, dry_run=False)

    @work(thread=True, exclusive=True, group="import")
    def run_import(self, path: Path, lang: str, dry_run: bool) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            self.post_message(ImportProgress(stage, done, total))

        try:
            result = import_file(self.store, self.entity, path, dry_run=dry_run,
                                 duplicates=duplicate_finder(self.store), on_progress=progress)
        except ImportRefused as refused:  # the sheet changed on the stick since its check
            self.post_message(ImportChecked(path, refused.report))
        except TownshipError as exc:
            self.post_message(ImportChecked(path, None, failed=exc.message(lang)))
        except OSError as exc:  # the stick was pulled out
            self.post_message(ImportChecked(path, None,
                                            failed=text("import.unreadable", lang, why=exc)))
        else:
            self.post_message(ImportChecked(path, result.report,
                                            None if dry_run else result.ids))

    def on_import_progress(self, event: ImportProgress) -> None:
        event.stop()
        bar = self.query_one("#import-progress", ProgressBar)
        bar.update(total=max(event.total, 1), progress=event.done)

    def on_import_checked(self, event: ImportChecked) -> None:
        event.stop()
        self.busy = False
        lang = self.app.lang
        if event.failed is not None:
            self.say(event.failed)
            return
        report = event.report
        assert report is not None
        if event.ids is not None:
            self.imported = True
            self.checked = None
            self.say(text("import.done", lang, n=len(event.ids)))
            self.notify(text("import.done", lang, n=len(event.ids)))
            return
        self.show_report(event.path, report, lang)

    def show_report(self, path: Path, report: Report, lang: str) -> None:
        problems: list[CellError | Duplicate] = [*report.errors, *report.duplicates]
        for problem in problems[:SHOWN_PROBLEMS]:
            self.say(problem.short(lang))
        if report.ok:
            self.checked = path
            self.say(text("import.ready", lang, n=len(report.good)))
        else:
            found = (("import.bad_cells", len(report.errors)),
                     ("import.duplicates", len(report.duplicates)))
            counts = ("、" if lang == "zh" else ", ").join(
                text(key, lang, n=n) for key, n in found if n)
            self.say(text("import.refused", lang, problems=counts, good=len(report.good)))

    def action_refresh(self) -> None:
        self.load()

    def action_back(self) -> None:
        if not self.busy:
            self.dismiss(self.imported)
