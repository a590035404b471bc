"""Incidents and disputes: the open cases with their step and the nearest deadline under
the 1/3/5-minute rule (counting down every second), a new case from the schema's form, and a
case's screen — its timeline, its deadlines, and only the moves the workflow allows from
where it stands, each on a number key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from station.cases import Cases
from sync.errors import TownshipError
from sync.schema import WorkflowDef
from tui.footer import KeyFooter
from tui.form import RecordForm
from tui.i18n import text
from tui.table_screen import TableScreen

if TYPE_CHECKING:
    from tui.app import StationApp


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

    def __init__(self, workflow: str = "incident") -> None:
        super().__init__()
        self.workflow_name = workflow

    @property
    def workflow(self) -> WorkflowDef:
        return self.app.store.schema.workflow(self.workflow_name)

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(1, self.load)  # the countdowns

    def load(self) -> None:
        lang = self.app.lang
        wf = self.workflow
        subject = self.app.store.schema.entity(wf.subject_entity)
        self.title_label().update(wf.label_zh if lang == "zh" else wf.label_en)
        table = self.table
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_columns(subject.label(lang), text("cases.step", lang), text("cases.due", lang))
        cases = Cases(self.app.store, self.workflow_name).summaries()
        cases.sort(key=lambda c: (c["closed"], c["next_due"]["seconds_left"] if c["next_due"] else 1e12))
        for c in cases:
            title = c["fields"].get(subject.title_field or "") or c["id"][-6:]
            step = wf.by_step[c["step"]].label(lang) if c["step"] in wf.by_step else ""
            table.add_row(str(title), step, text("cases.closed", lang) if c["closed"]
                          else countdown(c["next_due"], lang), key=c["id"])
        self.keep_cursor(cursor)

    def action_new(self) -> None:
        cases = Cases(self.app.store, self.workflow_name)
        self.app.push_screen(RecordForm(self.workflow.subject_entity, add=lambda v: cases.open(v)))

    @on(DataTable.RowSelected, "#cases")
    def open_case(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(CaseScreen(self.workflow_name, str(event.row_key.value)))


class CaseScreen(Screen[None]):
    app: StationApp
    AUTO_FOCUS = ""  # the number keys choose a move
    BINDINGS: ClassVar[list[BindingType]] = [
        *[Binding(str(n), f"move({n})", show=False) for n in range(1, 10)],
        Binding("escape", "back", "返回"),
    ]

    def __init__(self, workflow: str, case_id: str) -> None:
        super().__init__()
        self.workflow_name = workflow
        self.case_id = case_id
        self.pending_move: str | None = None

    @property
    def cases(self) -> Cases:
        return Cases(self.app.store, self.workflow_name)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="case-head")
        yield Static("", id="case-moves")
        yield Input(placeholder="", id="case-reason", disabled=True)
        yield Static("", id="case-timeline")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(1, self.load)

    def relabel(self, lang: str) -> None:
        self.load()

    def moves(self) -> list[tuple[str, str, bool]]:
        """(to step, label, needs a reason) of each move allowed from the current step."""
        wf = self.app.store.schema.workflow(self.workflow_name)
        step = self.cases.state(self.case_id).step or ""
        lang = self.app.lang
        return [(m.to_step, m.label_zh if lang == "zh" else m.label_en, m.needs_reason)
                for m in wf.moves if m.from_step == step]

    def load(self) -> None:
        lang = self.app.lang
        wf = self.app.store.schema.workflow(self.workflow_name)
        shown = self.cases.show(self.case_id)
        subject = self.app.store.schema.entity(wf.subject_entity)
        title = shown["fields"].get(subject.title_field or "", self.case_id[-6:])
        step = wf.by_step[shown["step"]].label(lang) if shown["step"] in wf.by_step else ""
        due = [f"{wf.by_step[d['step']].label(lang)} {countdown(d, lang)}"
               for d in shown["deadlines"] if d["status"] != "met"]
        closed = f"（{text('cases.closed', lang)}）" if shown["closed"] else ""
        self.query_one("#case-head", Static).update(
            f"{title}\n{text('cases.step', lang)}: {step}{closed}"
            + (f"\n{text('cases.due', lang)}: " + "；".join(due) if due else ""))
        moves = self.moves()
        self.query_one("#case-moves", Static).update(
            f"{text('cases.moves', lang)}\n" + "\n".join(
                f"  {n}  {label}" for n, (_, label, _) in enumerate(moves, 1))
            if moves else text("cases.none", lang))
        lines = [f"{e.get('at', '')[:19].replace('T', ' ')}  "
                 f"{wf.by_step[e['step']].label(lang) if e.get('step') in wf.by_step else e.get('step')}"
                 f"  {e.get('actor', '')}  {e.get('note') or ''}"
                 for e in shown["events"] if e["applied"]]
        self.query_one("#case-timeline", Static).update(
            f"{text('cases.timeline', lang)}\n" + "\n".join(lines))

    def action_move(self, n: int) -> None:
        moves = self.moves()
        if not 1 <= n <= len(moves):
            return
        step, _, needs_reason = moves[n - 1]
        if needs_reason:
            self.pending_move = step
            reason = self.query_one("#case-reason", Input)
            reason.disabled = False
            reason.placeholder = text("cases.reason", self.app.lang)
            reason.focus()
            return
        self.advance(step, None)

    @on(Input.Submitted, "#case-reason")
    def reason_given(self, event: Input.Submitted) -> None:
        if self.pending_move and event.value.strip():
            self.advance(self.pending_move, event.value.strip())
            event.input.value = ""
            event.input.disabled = True
            self.pending_move = None

    def advance(self, step: str, note: str | None) -> None:
        wf = self.app.store.schema.workflow(self.workflow_name)
        try:
            self.cases.advance(self.case_id, step, note=note)
        except TownshipError as exc:
            self.app.notify(exc.message(self.app.lang), severity="error")
            return
        self.app.notify(text("cases.moved", self.app.lang, step=wf.by_step[step].label(self.app.lang)))
        self.load()

    def action_back(self) -> None:
        self.app.pop_screen()
