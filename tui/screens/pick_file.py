"""Attach a photo or a scan from a USB stick or a camera folder to a case or one of its steps.

The files under the station's `usb_roots` (station.usb_files) whose names say they may be of
a type the case accepts, newest first; `t` chooses what the file goes on (the case, or one of
its steps), Enter attaches the file under the cursor through the store's one write path
(station.attachments: the type read from the bytes, a photo shrunk, the size limit checked).
A refused file says which rule refused it and nothing is stored. Listing the folders and
attaching run in workers: a stick may be slow, and shrinking a camera photo takes a moment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Header, Static

from station.attachments import Attachments
from station.cases import Cases
from station.store import Store
from station.usb_files import Found, find_files, roots_of, suffixes_for
from sync import attachments as files
from sync.errors import TownshipError
from sync.human_time import absolute
from tui.i18n import text
from tui.screens.table import TableScreen
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import Plain, PlainLabel, PlainTable

MIN_NAME_WIDTH = 12
FOLDER_WIDTH = 16  # the folder under its root: the stick's name and the first folders
SCROLLBAR = 2


def fit(value: str, width: int) -> Text:
    """A cell cut to `width` cells with an ellipsis, as plain text (a file name is not markup)."""
    cell = Text(value)
    cell.truncate(width, overflow="ellipsis")
    return cell


def targets(store: Store, workflow: str, case_id: str, lang: str) -> list[tuple[str, str, str]]:
    """(entity, record id, what to call it) of the case and each of its steps, the case first."""
    cases = Cases(store, workflow)
    wf = store.schema.workflow(workflow)
    shown = cases.show(case_id)
    out = [(wf.subject_entity, case_id, store.schema.entity(wf.subject_entity).label(lang))]
    for n, event in enumerate(shown["events"], 1):
        step = str(event.get("step") or "")
        label = wf.by_step[step].label(lang) if step in wf.by_step else step
        at = absolute(str(event["at"])) if event.get("at") else ""
        out.append((wf.event_entity, str(event["id"]), f"{n}. {label} {at}".rstrip()))
    return out


class PickFileScreen(TableScreen):
    """Goes back to the screen it came from once a file is stored (or on Esc)."""

    TABLE = "pick"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "target", "附加到"),
        Binding("r", "refresh", "刷新"),
        *TableScreen.BINDINGS,
    ]

    def __init__(self, store: Store, workflow: str, case_id: str) -> None:
        super().__init__(store)
        self.workflow_name = workflow
        self.case_id = case_id
        self.target = 0  # index into targets(): the case itself first
        self.found: dict[str, Found] = {}
        self.busy = False

    def compose(self) -> ComposeResult:
        # The target and the status above the table: a stick of 500 photos fills the screen.
        yield Header()
        yield PlainLabel("", classes="title", id=f"{self.TABLE}-title")
        yield Plain("", id="pick-target")
        yield Plain("", id="pick-status")
        yield PlainTable(id=self.TABLE, cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.scan()

    def on_screen_resume(self) -> None:
        pass  # nothing above this screen changes its files

    def load(self) -> None:
        """Title and the target line; the rows come from `scan` (a worker)."""
        lang = self.app.lang
        choices = targets(self.store, self.workflow_name, self.case_id, lang)
        self.target %= len(choices)
        rule = files.rule_for(self.store.schema, choices[self.target][0])
        kinds = "、".join(files.TYPE_NAMES.get(t, t) for t in rule.types)
        self.title_label().update(text("pick.title", lang, kinds=kinds,
                                       limit=files.megabytes(rule.max_bytes)))
        self.query_one("#pick-target", Static).update(
            text("pick.target", lang, target=choices[self.target][2]))
        if self.found:
            self.fill(list(self.found.values()))

    def say(self, line: str) -> None:
        self.query_one("#pick-status", Static).update(line)

    def action_target(self) -> None:
        self.target += 1
        self.load()

    def action_refresh(self) -> None:
        self.scan()

    @work(thread=True, exclusive=True, group="pick-scan")
    def scan(self) -> None:
        """The files under the roots (a stick just put in shows after `r`)."""
        lang = self.app.lang
        try:
            roots = roots_of(self.store.settings())
        except TownshipError as exc:  # a usb_roots setting that is not a list of paths
            self.app.call_from_thread(self.refused, exc.message(lang))
            return
        types = {t for entity in (self.store.schema.workflow(self.workflow_name).subject_entity,
                                  self.store.schema.workflow(self.workflow_name).event_entity)
                 for t in files.rule_for(self.store.schema, entity).types}
        found = find_files(roots, suffixes_for(sorted(types)))
        self.app.call_from_thread(self.scanned, found, roots, lang)

    def scanned(self, found: list[Found], roots: list[Path], lang: str) -> None:
        if not self.is_attached:
            return
        self.found = {str(f.path): f for f in found}
        self.fill(found)
        if not found:
            self.say(text("pick.none", lang, roots="、".join(map(str, roots))))
        else:
            self.say(text("pick.count", lang, n=len(found)))

    def fill(self, found: list[Found]) -> None:
        lang = self.app.lang
        headers = [text(k, lang) for k in ("attachments.name", "pick.folder",
                                           "attachments.size", "pick.changed")]
        rows = [[f.path.name, f.shown_folder, files.megabytes(f.size),
                 absolute(datetime.fromtimestamp(f.mtime, UTC).isoformat())]  # Beijing time
                for f in found]
        table = self.query_one(f"#{self.TABLE}", PlainTable)
        widths = [max([cell_len(h), *(cell_len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
        widths[1] = min(widths[1], FOLDER_WIDTH)
        room = self.app.size.width - 2 * table.cell_padding * len(headers) - SCROLLBAR
        widths[0] = max(MIN_NAME_WIDTH, min(widths[0], room - sum(widths[1:])))
        cursor = table.cursor_row
        table.clear(columns=True)
        for header, width in zip(headers, widths, strict=True):
            table.add_column(header, width=width)
        for f, row in zip(found, rows, strict=True):
            table.add_row(*(fit(c, w) for c, w in zip(row, widths, strict=True)), key=str(f.path))
        self.keep_cursor(cursor)

    @on(DataTable.RowSelected, "#pick")
    def attach_selected(self, event: DataTable.RowSelected) -> None:
        if self.busy:
            return
        lang = self.app.lang
        entity, record_id, _ = targets(self.store, self.workflow_name, self.case_id,
                                       lang)[self.target]
        self.busy = True
        self.say(text("pick.working", lang))
        self.attach(entity, record_id, Path(str(event.row_key.value)), lang)

    @work(thread=True, exclusive=True, group="pick-attach")
    def attach(self, entity: str, record_id: str, path: Path, lang: str) -> None:
        try:
            stored: list[dict[str, Any]] = Attachments(self.store).attach(entity, record_id, path)
        except TownshipError as exc:
            self.app.call_from_thread(self.refused, exc.message(lang))
            return
        except OSError as exc:  # the stick was pulled out
            self.app.call_from_thread(self.refused, text("pick.unreadable", lang, why=exc))
            return
        self.app.call_from_thread(self.attached, stored, lang)

    def refused(self, line: str) -> None:
        self.busy = False
        if self.is_attached:
            self.say(line)

    def attached(self, stored: list[dict[str, Any]], lang: str) -> None:
        self.busy = False
        self.app.notify(text("pick.done", lang, name=stored[0]["name"]))
        self.dismiss(None)
