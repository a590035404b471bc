"""A case's attachments — its own and its steps' photos and scans: name, size, whether the
bytes are on this station and whether the county has them. Enter opens one with the system
viewer, fetching it from the hub first (in a worker) when it has not arrived; a station that
cannot fetch it now asks for it at the next sync and says so."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.widgets import DataTable, Static

from station.attachments import Attachments, open_with_viewer
from station.cases import Cases
from station.store import Store
from station.syncer import fetch_now
from sync.attachments import megabytes
from sync.errors import TownshipError
from tui.i18n import text
from tui.screens.pick_file import PickFileScreen
from tui.screens.table import TableScreen
from tui.widgets.plain import Plain

if TYPE_CHECKING:
    from sync.schema import WorkflowDef

# The name column never narrower than this, however long the other columns' words.
MIN_NAME_WIDTH = 10
# Cells the table keeps for its vertical scrollbar.
SCROLLBAR = 2


def of_case(store: Store, shown: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(the step it was added at, or None for the case's own) and each attachment of a case
    as `Cases.show` gives it, the case's first, then its steps' in their order."""
    attachments = Attachments(store)
    out: list[tuple[str | None, dict[str, Any]]] = [(None, a) for a in attachments.of(shown["id"])]
    for event in shown["events"]:
        out += [(str(event.get("step") or ""), a) for a in attachments.of(event["id"])]
    return out


def county_state(attachment: dict[str, Any]) -> str:
    """Whether the county has the file: sent, or still to send from here; a file that is not
    here either came from elsewhere or is not known at the hub, and this station has nothing to
    send (`sent` stays false for another station's file until it is fetched or asked for)."""
    if attachment["sent"]:
        return "attachments.sent"
    return "attachments.unsent" if attachment["arrived"] else "attachments.unknown"


class AttachmentsScreen(TableScreen):
    TABLE = "attachments"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "添加附件"),
        *TableScreen.BINDINGS,
    ]

    def __init__(self, store: Store, workflow: str, case_id: str) -> None:
        super().__init__(store)
        self.workflow_name = workflow
        self.case_id = case_id

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Plain("", id="attachments-status")

    def on_resize(self, event: Resize) -> None:
        self.load()  # the name column takes what the others leave

    def load(self) -> None:
        lang = self.app.lang
        store = self.store
        workflow = store.schema.workflow(self.workflow_name)
        shown = Cases(store, self.workflow_name).show(self.case_id)
        subject = store.schema.entity(workflow.subject_entity)
        title = shown["fields"].get(subject.title_field or "") or self.case_id[-6:]
        self.title_label().update(text("attachments.title", lang, case=title))
        rows = [(a["id"], self._cells(workflow, step, a, lang))
                for step, a in of_case(store, shown)]
        headers = [text(k, lang) for k in ("attachments.name", "attachments.on",
                                           "attachments.size", "attachments.here",
                                           "attachments.county")]
        widths = [max([cell_len(h), *(cell_len(cells[i]) for _, cells in rows)])
                  for i, h in enumerate(headers)]
        table = self.table
        room = self.app.size.width - 2 * table.cell_padding * len(headers) - SCROLLBAR
        widths[0] = max(MIN_NAME_WIDTH, min(widths[0], room - sum(widths[1:])))
        cursor = table.cursor_row
        table.clear(columns=True)
        for header, width in zip(headers, widths, strict=True):
            table.add_column(header, width=width)
        for attachment_id, cells in rows:
            table.add_row(*cells, key=attachment_id)
        self.keep_cursor(cursor)
        if not rows:
            self.say(text("attachments.none", lang))

    def _cells(self, workflow: WorkflowDef, step: str | None, attachment: dict[str, Any],
               lang: str) -> list[str]:
        """Name, where it was added, size, here or not, at the county or not."""
        if step is None:
            where = self.store.schema.entity(workflow.subject_entity).label(lang)
        else:
            where = workflow.by_step[step].label(lang) if step in workflow.by_step else step
        name = str(attachment.get("name", ""))
        if attachment.get("original"):
            name += text("attachments.original", lang)
        return [name, where, megabytes(int(attachment.get("size") or 0)),
                text("attachments.arrived" if attachment["arrived"] else "attachments.missing", lang),
                text(county_state(attachment), lang)]

    def say(self, line: str) -> None:
        self.query_one("#attachments-status", Static).update(line)

    def action_add(self) -> None:
        """A file from a USB stick or a camera folder; the list shows it on return."""
        self.app.push_screen(PickFileScreen(self.store, self.workflow_name, self.case_id))

    @on(DataTable.RowSelected, "#attachments")
    def open_selected(self, event: DataTable.RowSelected) -> None:
        self.say(text("attachments.opening", self.app.lang))
        self.show_file(str(event.row_key.value), self.app.lang)

    @work(thread=True, exclusive=True, group="attachment")
    def show_file(self, attachment_id: str, lang: str) -> None:
        """Fetch it when it is not here (the network: never on the UI's thread), then hand a
        private copy to the system viewer."""
        store = self.store
        attachments = Attachments(store)
        try:
            info = attachments.get(attachment_id)
            if not info["arrived"]:
                self.app.call_from_thread(self.say, text("attachments.fetching", lang))
                fetch_now(store, attachment_id)  # or says why not, and asks for it next sync
            open_with_viewer(attachments.read(str(info["sha256"])), str(info["name"]))
        except TownshipError as exc:
            self.app.call_from_thread(self.finished, exc.message(lang))
            return
        except OSError as exc:  # the viewer would not start, /dev/shm full
            self.app.call_from_thread(self.finished, text("attachments.failed", lang, why=exc))
            return
        self.app.call_from_thread(self.finished, text("attachments.opened", lang,
                                                      name=info["name"]))

    def finished(self, line: str) -> None:
        if self.is_attached:
            self.load()  # it may have arrived
            self.say(line)
        if self.app.screen is not self:  # the clerk went back meanwhile
            self.app.notify(line)
