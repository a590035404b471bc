"""Incidents and disputes: the open cases with their step and the nearest deadline under
the 1/3/5-minute rule (counting down every second), a new case from the schema's form, and a
case's screen — its timeline, its deadlines, how many files it has (`f` lists them), and
only the moves the workflow allows from where it stands, each on a number key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from station.cases import Cases
from station.store import Store
from sync.schema import EntityDef, WorkflowDef
from tui.i18n import text
from tui.screens.attachments import AttachmentsScreen, of_case
from tui.screens.record_form import RecordForm
from tui.screens.records import shown_value
from tui.screens.table import TableScreen
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import Plain

if TYPE_CHECKING:
    from tui.app import StationApp


# Event fields the app fills itself: the case, the step, the time, the grid, the role.
AUTOMATIC_FIELDS = frozenset({"step", "at", "grid", "role", "attachments"})


def step_fields(event: EntityDef) -> list[str]:
    """The fields of a step event the clerk fills in its form (who, what was done, a note)."""
    return [f.name for f in event.fields if not f.deprecated and f.type != "ref"
            and f.name not in AUTOMATIC_FIELDS and f.name != event.parent_field]


def countdown(due: dict[str, Any] | None, lang: str) -> str:
    if due is None:
        return ""
    left = int(due["seconds_left"])
    return text("seconds_left" if left >= 0 else "seconds_over", lang, n=abs(left))


class CasesScreen(TableScreen):
    TABLE = "cases"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+a", "new", "新增"),
        *TableScreen.BINDINGS,
    ]

    def __init__(self, store: Store, workflow: str = "incident") -> None:
        super().__init__(store)
        self.workflow_name = workflow

    @property
    def cases(self) -> Cases:
        """Made anew each time: a sync may bring a new schema with new steps."""
        return Cases(self.store, self.workflow_name)

    @property
    def workflow(self) -> WorkflowDef:
        return self.store.schema.workflow(self.workflow_name)

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(1, self.load)  # the countdowns

    def load(self) -> None:
        lang = self.app.lang
        wf = self.workflow
        subject = self.store.schema.entity(wf.subject_entity)
        self.title_label().update(wf.label_zh if lang == "zh" else wf.label_en)
        table = self.table
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_columns(subject.label(lang), text("cases.step", lang), text("cases.due", lang))
        cases = self.cases.summaries()
        cases.sort(key=lambda c: (c["closed"], c["next_due"]["seconds_left"] if c["next_due"] else 1e12))
        for c in cases:
            title = c["fields"].get(subject.title_field or "") or c["id"][-6:]
            step = wf.by_step[c["step"]].label(lang) if c["step"] in wf.by_step else ""
            table.add_row(str(title), step, text("cases.closed", lang) if c["closed"]
                          else countdown(c["next_due"], lang), key=c["id"])
        self.keep_cursor(cursor)

    def action_new(self) -> None:
        self.app.push_screen(RecordForm(self.store, self.workflow.subject_entity, add=self.cases.open))

    @on(DataTable.RowSelected, "#cases")
    def open_case(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(CaseScreen(self.store, self.workflow_name, str(event.row_key.value)))


class CaseScreen(Screen[None]):
    app: StationApp
    AUTO_FOCUS = ""  # the number keys choose a move
    BINDINGS: ClassVar[list[BindingType]] = [
        *[Binding(str(n), f"move({n})", show=False) for n in range(1, 10)],
        Binding("f", "files", "附件"),
        Binding("escape", "back", "返回"),
    ]

    def __init__(self, store: Store, workflow: str, case_id: str) -> None:
        super().__init__()
        self.store = store
        self.workflow_name = workflow
        self.case_id = case_id

    @property
    def cases(self) -> Cases:
        return Cases(self.store, self.workflow_name)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Plain("", id="case-head")
        yield Plain("", id="case-files")
        yield Plain("", id="case-moves")
        yield Plain("", id="case-timeline")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(1, self.load)

    def relabel(self, lang: str) -> None:
        self.load()

    def moves(self) -> list[tuple[str, str, bool]]:
        """(to step, label, needs a reason) of each move allowed from the current step."""
        wf = self.store.schema.workflow(self.workflow_name)
        step = self.cases.state(self.case_id).step or ""
        lang = self.app.lang
        return [(m.to_step, m.label_zh if lang == "zh" else m.label_en, m.needs_reason)
                for m in wf.moves if m.from_step == step]

    def load(self) -> None:
        lang = self.app.lang
        wf = self.store.schema.workflow(self.workflow_name)
        shown = self.cases.show(self.case_id)
        subject = self.store.schema.entity(wf.subject_entity)
        title = shown["fields"].get(subject.title_field or "", self.case_id[-6:])
        step = wf.by_step[shown["step"]].label(lang) if shown["step"] in wf.by_step else ""
        due = [f"{wf.by_step[d['step']].label(lang)} {countdown(d, lang)}"
               for d in shown["deadlines"] if d["status"] != "met"]
        closed = f"（{text('cases.closed', lang)}）" if shown["closed"] else ""
        self.query_one("#case-head", Static).update(
            f"{title}\n{text('cases.step', lang)}: {step}{closed}"
            + (f"\n{text('cases.due', lang)}: " + "；".join(due) if due else ""))
        self.query_one("#case-files", Static).update(files_line(of_case(self.store, shown), lang))
        moves = self.moves()
        self.query_one("#case-moves", Static).update(
            f"{text('cases.moves', lang)}\n" + "\n".join(
                f"  {n}  {label}" for n, (_, label, _) in enumerate(moves, 1))
            if moves else text("cases.none", lang))
        lines = [self._timeline_line(wf, e, lang) for e in shown["events"] if e["applied"]]
        self.query_one("#case-timeline", Static).update(
            f"{text('cases.timeline', lang)}\n" + "\n".join(lines))

    def _timeline_line(self, wf: WorkflowDef, event: dict[str, Any], lang: str) -> str:
        """When, which step, who, what was done (department, method…) and the note."""
        step = event.get("step")
        entity = self.cases.event_entity
        done = [shown_value(f, event[f.name], self.store, lang) for f in entity.fields
                if f.name in step_fields(entity) and f.name not in ("actor", "note")
                and event.get(f.name) not in (None, "", [])]
        parts = [str(event.get("at", ""))[:19].replace("T", " "),
                 wf.by_step[step].label(lang) if step in wf.by_step else str(step),
                 str(event.get("actor", "")), *done, str(event.get("note") or "")]
        return "  ".join(p for p in parts if p)

    def action_move(self, n: int) -> None:
        """The step's form: who acted, what was done (a department, a mediation method) and a
        note, which a move back or a reopening must have; Ctrl+S records the step."""
        moves = self.moves()
        if not 1 <= n <= len(moves):
            return
        step, label, needs_reason = moves[n - 1]
        event = self.cases.event_entity
        self.app.push_screen(
            RecordForm(self.store, event.name, add=lambda values: self.advance(step, values),
                       only=step_fields(event), given={"actor": self.store.clerk},
                       title=label + (f"（{text('cases.reason', self.app.lang)}）" if needs_reason else "")),
            self._after_step)

    def advance(self, step: str, values: dict[str, Any]) -> str:
        """Record the move (raises as the store does, so the form shows what to fix)."""
        values = dict(values)
        self.cases.advance(self.case_id, step, note=values.pop("note", None),
                           actor=values.pop("actor", None), extra=values)
        return self.case_id

    def _after_step(self, saved: str | None) -> None:
        if saved:
            self.load()

    def action_files(self) -> None:
        self.app.push_screen(AttachmentsScreen(self.store, self.workflow_name, self.case_id))

    def action_back(self) -> None:
        self.app.pop_screen()


def files_line(attachments: list[tuple[str | None, dict[str, Any]]], lang: str) -> str:
    """How many files the case and its steps have, and how many are not here yet."""
    missing = sum(not a["arrived"] for _, a in attachments)
    if not attachments:
        return text("cases.no_files", lang)
    if missing:
        return text("cases.files_missing", lang, n=len(attachments), m=missing)
    return text("cases.files", lang, n=len(attachments))
