"""Incidents and disputes: the open cases with their step and the nearest deadline under
the 1/3/5-minute rule (counting down every second), a new case from the schema's form, and a
case's screen — its timeline, its deadlines, how many files it has (`f` lists them), and
only the moves the workflow allows from where it stands, each on a number key."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Header, Label, Static

from station.cases import Cases, grid_names
from station.store import Store
from sync.human_time import absolute, beijing, deadline, relative
from sync.masking import mask_value
from sync.schema import EntityDef, FieldDef, WorkflowDef
from tui.i18n import text
from tui.naming import case_title, category_field, code_label, grid_name, masked, record_name
from tui.screens.attachments import AttachmentsScreen, of_case
from tui.screens.pick_file import PickFileScreen
from tui.screens.record_form import RecordForm
from tui.screens.table import TableScreen
from tui.shown import hides, masked_value, short_text
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import Plain, PlainLabel, PlainTable

if TYPE_CHECKING:
    from tui.app import StationApp


# Event fields the app fills itself: the case, the step, the time, the grid, the role.
AUTOMATIC_FIELDS = frozenset({"step", "at", "grid", "role", "attachments"})


def step_fields(event: EntityDef) -> list[str]:
    """The fields of a step event the clerk fills in its form (who, what was done, a note)."""
    return [f.name for f in event.fields if not f.deprecated and f.type != "ref"
            and f.name not in AUTOMATIC_FIELDS and f.name != event.parent_field]


# The list's columns after the title, with the widest each may take at 80 columns (cells);
# the title takes what they leave, and never less than MIN_TITLE.
COLUMN_CAPS = {"category": 12, "grid": 12, "discovered": 16, "step": 10, "due": 14}
MIN_TITLE = 12
SHRINKABLE = ("category", "grid")
SHRINK_FLOOR = 6
SCROLLBAR = 2  # cells the table keeps for its vertical scrollbar
# The most rows a list unseals at once ("all" at county scale is 15,000 cases).
LIST_LIMIT = 500
OVERDUE_STYLE = "bold red"
SORTS = ("due", "discovered")
EPOCH = datetime.fromtimestamp(0, UTC)  # a case with no events sorts as the oldest


def countdown(due: dict[str, Any] | None, lang: str) -> str:
    """The deadline in a human unit: 剩余 40 秒, 超时 3 分钟, 超时 2 天."""
    if due is None:
        return ""
    return deadline(due["seconds_left"], lang)


def fit(value: str, width: int, style: str = "") -> Text:
    """A cell cut to `width` cells with an ellipsis (a list row stays one line)."""
    cell = Text(value, style=style)
    cell.truncate(width, overflow="ellipsis")
    return cell


@dataclass(frozen=True)
class CaseFilter:
    """Which cases a list shows and in what order: `step` is "open" (every case not closed),
    "all", or one step; `grid` None for every grid; sorted by the next deadline (most overdue
    first) or by when the case was discovered (newest first)."""

    step: str = "open"
    overdue: bool = False
    grid: str | None = None
    sort: str = "due"

    def keeps(self, case: dict[str, Any]) -> bool:
        if self.step == "open" and case["closed"]:
            return False
        if self.step not in ("open", "all") and case["step"] != self.step:
            return False
        if self.overdue and not case["overdue"]:
            return False
        return self.grid is None or case["fields"].get("grid") == self.grid

    def order(self, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        newest = sorted(cases, key=lambda c: beijing(c["discovered_at"]) if c.get("discovered_at")
                        else EPOCH, reverse=True)
        if self.sort == "discovered":
            return newest
        return sorted(newest, key=lambda c: (  # stable: the newest first among equals
            c["closed"], c["next_due"] is None,
            c["next_due"]["seconds_left"] if c["next_due"] else 0))


def cycle(choices: list[Any], current: Any) -> Any:
    """The choice after `current` (the first after the last, or when `current` is gone)."""
    if current not in choices:
        return choices[0]
    return choices[(choices.index(current) + 1) % len(choices)]


class CasesScreen(TableScreen):
    """Open cases by default, most overdue first; keys filter by step (t), overdue (o) and
    grid (g) and sort (d), and the line above the table says what is shown."""

    TABLE = "cases"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+a", "new", "新增"),
        # In F1 help and the line above the table: the footer has room for about eight keys.
        Binding("t", "step_filter", "按环节筛选", show=False),
        Binding("o", "overdue_filter", "只看超时", show=False),
        Binding("g", "grid_filter", "按网格筛选", show=False),
        Binding("d", "sort", "排序", show=False),
        *TableScreen.BINDINGS,
    ]

    def __init__(self, store: Store, workflow: str = "incident") -> None:
        super().__init__(store)
        self.workflow_name = workflow
        self.filter = CaseFilter()
        self.shown: dict[str, list[str]] = {}  # row key -> the plain text of its cells
        self.grids: list[str] = []  # the grids the cases are in, for the grid filter
        self.widths: list[int] = []  # of the columns, as the list was last filled

    def compose(self) -> ComposeResult:
        yield Header()
        yield PlainLabel("", classes="title", id="cases-title")
        yield PlainLabel("", id="cases-filter")
        yield PlainTable(id=self.TABLE, cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    @property
    def cases(self) -> Cases:
        """Made anew each time: a sync may bring a new schema with new steps."""
        return Cases(self.store, self.workflow_name)

    @property
    def workflow(self) -> WorkflowDef:
        return self.store.schema.workflow(self.workflow_name)

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(1, self.tick)  # the countdowns

    def on_resize(self, event: Resize) -> None:
        if self.is_mounted:
            self.load()  # the title column takes what the others leave

    # -- filters (keys)
    def action_step_filter(self) -> None:
        steps = [s.step for s in sorted(self.workflow.steps, key=lambda s: s.position)]
        self._refilter(step=cycle(["open", *steps, "all"], self.filter.step))

    def action_overdue_filter(self) -> None:
        self._refilter(overdue=not self.filter.overdue)

    def action_grid_filter(self) -> None:
        self._refilter(grid=cycle([None, *self.grids], self.filter.grid))

    def action_sort(self) -> None:
        self._refilter(sort=cycle(list(SORTS), self.filter.sort))

    def _refilter(self, **change: Any) -> None:
        self.filter = replace(self.filter, **change)
        self.load()
        self.table.move_cursor(row=0)

    # -- the list
    def load(self) -> None:
        lang = self.app.lang
        cases = self.cases
        now = cases.now()
        wanted = self.filter
        summaries = cases.summaries(now, open_only=wanted.step not in ("all",)
                                    and not self._closes(wanted.step))
        self.grids = sorted({str(c["fields"].get("grid")) for c in summaries
                             if c["fields"].get("grid")})
        kept = wanted.order([c for c in summaries if wanted.keeps(c)])
        rows = kept[:LIST_LIMIT]
        opened = cases.opened([c["id"] for c in rows])
        names = grid_names(self.store)
        cells = {c["id"]: self._cells(c, opened[c["id"]], names, now, lang) for c in rows}
        self._title(lang, len(kept))
        self.query_one("#cases-filter", Label).update(self._filter_line(names, lang, len(kept)))
        self._fill(cells, {c["id"] for c in rows if c["overdue"]}, lang)

    def _closes(self, step: str) -> bool:
        found = self.workflow.by_step.get(step)
        return bool(found and found.closes)

    def _title(self, lang: str, count: int) -> None:
        wf = self.workflow
        label = wf.label_zh if lang == "zh" else wf.label_en
        self.title_label().update(f"{label} · {text('cases.count', lang, n=count)}")

    def _filter_line(self, names: dict[str, str], lang: str, count: int) -> str:
        f = self.filter
        step = (text("cases.filter_open", lang) if f.step == "open" else text("cases.filter_all", lang)
                if f.step == "all" else self.workflow.by_step[f.step].label(lang)
                if f.step in self.workflow.by_step else f.step)
        line = text("cases.filter", lang, step=step,
                    overdue=text("yes" if f.overdue else "no", lang),
                    grid=grid_name(names, f.grid) if f.grid else text("cases.filter_all", lang),
                    sort=text(f"cases.sort_{f.sort}", lang))
        if count > LIST_LIMIT:
            line += " " + text("cases.limited", lang, n=LIST_LIMIT)
        return line

    def _cells(self, case: dict[str, Any], fields: dict[str, Any], names: dict[str, str],
               now: datetime, lang: str) -> list[str]:
        """Title, category, grid, discovered, step, deadline: the plain text of a row."""
        wf = self.workflow
        subject = self.store.schema.entity(wf.subject_entity)
        category = category_field(subject)
        step = wf.by_step[case["step"]].label(lang) if case["step"] in wf.by_step else ""
        due = text("cases.closed", lang) if case["closed"] else countdown(case["next_due"], lang)
        found = case.get("discovered_at")
        return [case_title(self.store, subject, fields, lang) or case["id"][-6:],
                code_label(self.store, category, fields.get(category.name), lang) if category else "",
                grid_name(names, fields.get("grid")),
                relative(found, now, lang) if found else "", step, due]

    def _widths(self, headers: list[str], rows: list[list[str]]) -> list[int]:
        """Each column as wide as its widest cell up to its cap; the title takes the rest."""
        keys = list(COLUMN_CAPS)
        widths = [min(COLUMN_CAPS[k], max([cell_len(headers[i + 1]),
                                          *(cell_len(r[i + 1]) for r in rows)]))
                  for i, k in enumerate(keys)]
        room = self.app.size.width - 2 * self.table.cell_padding * len(headers) - SCROLLBAR
        short = MIN_TITLE - (room - sum(widths))
        for k in SHRINKABLE:  # narrow terminals and English words: the title keeps its minimum
            i = keys.index(k)
            cut = max(0, min(short, widths[i] - SHRINK_FLOOR))
            widths[i] -= cut
            short -= cut
        return [max(MIN_TITLE, room - sum(widths)), *widths]

    @property
    def rows_table(self) -> PlainTable:
        return self.query_one(f"#{self.TABLE}", PlainTable)

    def _fill(self, cells: dict[str, list[str]], overdue: set[str], lang: str) -> None:
        table = self.rows_table
        subject = self.store.schema.entity(self.workflow.subject_entity)
        headers = [subject.label(lang), text("cases.category", lang), text("cases.grid", lang),
                   text("cases.discovered", lang), text("cases.step", lang), text("cases.due", lang)]
        widths = self._widths(headers, list(cells.values()))
        cursor = table.cursor_row
        table.clear(columns=True)
        for key, header, width in zip(["title", *COLUMN_CAPS], headers, widths, strict=True):
            table.add_column(header, width=width, key=key)
        self.widths = widths
        for rid, row in cells.items():
            style = OVERDUE_STYLE if rid in overdue else ""
            table.add_row(*(fit(c, w, style) for c, w in zip(row, widths, strict=True)), key=rid)
        self.shown = cells
        self.keep_cursor(cursor)

    def tick(self) -> None:
        """Each second: the countdowns and "3 分钟前" of the rows shown, only the cells that
        changed (the rows stay where they are under the cursor until the list reloads)."""
        if not self.shown:
            return
        lang = self.app.lang
        cases = self.cases
        now = cases.now()
        for case in cases.summaries(now, open_only=True):
            old = self.shown.get(case["id"])
            if old is None:
                continue
            due = countdown(case["next_due"], lang)
            found = case.get("discovered_at")
            new = [*old[:3], relative(found, now, lang) if found else "", old[4], due]
            if new == old:
                continue
            style = OVERDUE_STYLE if case["overdue"] else ""
            for i, key in enumerate(["title", *COLUMN_CAPS]):
                self.rows_table.update_cell(case["id"], key, fit(new[i], self.widths[i], style))
            self.shown[case["id"]] = new

    def action_new(self) -> None:
        self.app.push_screen(RecordForm(self.store, self.workflow.subject_entity, add=self.cases.open))

    @on(DataTable.RowSelected, "#cases")
    def open_case(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(CaseScreen(self.store, self.workflow_name, str(event.row_key.value)))


class CaseScreen(Screen[None]):
    app: StationApp
    AUTO_FOCUS = "#case-box"  # arrows scroll the case; the number keys choose a move
    BINDINGS: ClassVar[list[BindingType]] = [
        *[Binding(str(n), f"move({n})", show=False) for n in range(1, 10)],
        Binding("f", "files", "附件"),
        Binding("a", "attach", "添加附件"),
        Binding("p", "add_part", "当事人"),
        Binding("v", "reveal", "显示"),
        Binding("escape", "back", "返回"),
    ]

    def __init__(self, store: Store, workflow: str, case_id: str) -> None:
        super().__init__()
        self.store = store
        self.workflow_name = workflow
        self.case_id = case_id
        self.revealed = False  # the people a case names, shown whole on purpose (recorded)

    @property
    def cases(self) -> Cases:
        return Cases(self.store, self.workflow_name)

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="case-box"):
            yield Plain("", id="case-head")
            yield Plain("", id="case-moves")
            yield Plain("", id="case-fields")
            yield Plain("", id="case-parts")
            yield Plain("", id="case-files")
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
        cases = self.cases
        now = cases.now()
        shown = cases.show(self.case_id, now)
        subject = self.store.schema.entity(wf.subject_entity)
        names = grid_names(self.store)
        applied = [e for e in shown["events"] if e["applied"]]
        self.query_one("#case-head", Static).update(self._head(wf, subject, shown, applied, now, lang))
        moves = self.moves()
        self.query_one("#case-moves", Static).update(
            f"{text('cases.moves', lang)}\n" + "\n".join(
                f"  {n}  {label}" for n, (_, label, _) in enumerate(moves, 1))
            if moves else text("cases.none", lang))
        self.query_one("#case-fields", Static).update("\n".join(
            f"{f.label(lang)}: {self._field_value(subject, f, shown['fields'][f.name], names, lang)}"
            for f in subject.fields
            if not f.deprecated and shown["fields"].get(f.name) not in (None, "", [])))
        self.query_one("#case-parts", Static).update(self._parts(cases, shown, names, lang))
        self.query_one("#case-files", Static).update(files_line(of_case(self.store, shown), lang))
        lines = [self._timeline_line(wf, e, names, lang) for e in applied]
        self.query_one("#case-timeline", Static).update(
            f"{text('cases.timeline', lang)}\n" + "\n".join(lines))

    def _field_value(self, subject: EntityDef, f: FieldDef, value: Any, names: dict[str, str],
                     lang: str) -> str:
        if hides(subject, f):
            items = value if isinstance(value, list) else [value]
            if self.revealed:
                return "、".join(map(str, items))
            return "、".join(mask_value(f.rule, v, is_name=short_text(f)) for v in items)
        return detail_value(self.store, f, value, names, lang)

    def _parts(self, cases: Cases, shown: dict[str, Any], names: dict[str, str],
               lang: str) -> str:
        """Each record that belongs to the case (a dispute's parties), one line each with its
        fields' labels: names, ID and phone numbers masked as on a list until `v`."""
        blocks = []
        for part in cases.parts:
            records = shown.get("parts", {}).get(part.name, [])
            lines = [f"{part.label(lang)}（{text('cases.parts_add', lang)}）"]
            for n, record in enumerate(records, 1):
                lines += wrap_items([
                    f"{f.label(lang)}: {self._part_value(part, f, record[f.name], names, lang)}"
                    for f in part.fields if f.name in part_fields(part)
                    and record.get(f.name) not in (None, "", [])],
                    f"  {n}. ", self.size.width - SCROLLBAR)
            if not records:
                lines.append("  " + text("cases.parts_none", lang))
            blocks.append("\n".join(lines))
        return "\n".join(blocks)

    def _part_value(self, part: EntityDef, f: FieldDef, value: Any, names: dict[str, str],
                    lang: str) -> str:
        if f.sensitive and not self.revealed:
            return masked_value(part, f, value, self.store, lang, names=self.store.mask_names)
        if f.sensitive and f.type in ("text", "texts"):
            return "、".join(map(str, value)) if isinstance(value, list) else str(value)
        return detail_value(self.store, f, value, names, lang)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The party key only for cases that have parts (disputes)."""
        if action == "add_part":
            return bool(self.cases.parts)
        return True

    def action_add_part(self) -> None:
        """The form of a record that belongs to the case (a party), from the schema."""
        cases = self.cases
        if not cases.parts:
            return
        part = cases.parts[0]
        self.app.push_screen(
            RecordForm(self.store, part.name, only=part_fields(part),
                       add=lambda values: cases.add_part(part.name, self.case_id, values)),
            self._after_step)

    def action_reveal(self) -> None:
        """Show or hide the people the case names (reporter, parties, their phones): the
        clerk chose to, at the counter; each field shown whole is recorded as a reveal."""
        self.revealed = not self.revealed
        if self.revealed:
            subject = self.cases.subject
            fields = self.cases.show(self.case_id, self.cases.now())["fields"]
            with self.store.atomic() as writes:
                for f in subject.fields:
                    if hides(subject, f) and fields.get(f.name) not in (None, "", []):
                        writes.note_reveal(subject.name, self.case_id, f.name)
                for part in self.cases.parts:
                    for record in self.cases.parts_of(part.name, self.case_id):
                        for f in part.fields:
                            if f.sensitive and record.get(f.name) not in (None, "", []):
                                writes.note_reveal(part.name, record["id"], f.name)
        self.load()

    def _head(self, wf: WorkflowDef, subject: EntityDef, shown: dict[str, Any],
              applied: list[dict[str, Any]], now: datetime, lang: str) -> str:
        """Title; step (closed or not); deadlines to meet; who logged it and when."""
        title = case_title(self.store, subject, shown["fields"], lang) or self.case_id[-6:]
        step = wf.by_step[shown["step"]].label(lang) if shown["step"] in wf.by_step else ""
        due = [f"{wf.by_step[d['step']].label(lang)} {countdown(d, lang)}"
               for d in shown["deadlines"] if d["status"] != "met"]
        closed = f"（{text('cases.closed', lang)}）" if shown["closed"] else ""
        lines = [title, f"{text('cases.step', lang)}: {step}{closed}"]
        if due:
            lines.append(f"{text('cases.due', lang)}: " + "；".join(due))
        if applied:
            first = applied[0]
            at = first.get("at")
            when = absolute(at) if at else ""
            said = relative(at, now, lang) if at else ""
            if said and not said[:1].isdigit():  # "昨天 14:05", not the date again
                when += f"（{said}）"
            lines.append(text("cases.logged", lang, clerk=first.get("actor") or
                              text("conflicts.unknown_clerk", lang), at=when))
        return "\n".join(lines)

    def _timeline_line(self, wf: WorkflowDef, event: dict[str, Any], names: dict[str, str],
                       lang: str) -> str:
        """When (Beijing time), which step, who, what was done (department, method…), note."""
        step = event.get("step")
        entity = self.cases.event_entity
        # A code's label says what it is (公安, 达成协议); a text (an agreement) gets its label.
        done = [("" if f.type in ("code", "codes") else f"{f.label(lang)}: ")
                + detail_value(self.store, f, event[f.name], names, lang) for f in entity.fields
                if f.name in step_fields(entity) and f.name not in ("actor", "note")
                and event.get(f.name) not in (None, "", [])]
        at = event.get("at")
        parts = [absolute(at) if at else "",
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

    def action_attach(self) -> None:
        """A photo or a scan from a USB stick or a camera folder, on the case or a step."""
        self.app.push_screen(PickFileScreen(self.store, self.workflow_name, self.case_id))

    def action_back(self) -> None:
        self.app.pop_screen()


def wrap_items(items: list[str], first: str, width: int) -> list[str]:
    """Items two spaces apart on lines of at most `width` cells, the first line led by
    `first` and the others indented under it; an item is never cut."""
    indent = " " * cell_len(first)
    lines: list[str] = []
    line = first
    for item in items:
        lead = line in (first, indent)
        if not lead and cell_len(line) + 2 + cell_len(item) > width:
            lines.append(line)
            line, lead = indent, True
        line += item if lead else "  " + item
    return [*lines, line]


def part_fields(part: EntityDef) -> list[str]:
    """The fields of a case's part the clerk fills: not the case it belongs to, nor the grid
    (the case's own)."""
    return [f.name for f in part.fields if not f.deprecated
            and f.name not in (part.parent_field, part.scope_field)]


def detail_value(store: Store, f: FieldDef, value: Any, names: dict[str, str], lang: str) -> str:
    """A field's value on a case's screen: labels for codes, the grid's name with its code,
    Beijing time, the record a reference names; phone and ID numbers masked by their rule."""
    if f.type in ("code", "codes"):
        return code_label(store, f, value, lang)
    if f.rule == "grid_code":
        name = grid_name(names, value)
        return name if name == str(value) else f"{name}（{value}）"
    if f.type == "datetime":
        return absolute(str(value))
    if f.type == "boolean":
        return text("yes" if value else "no", lang)
    if f.type in ("ref", "refs") and f.ref_entity:
        refs = value if isinstance(value, list) else [value]
        return "、".join(record_name(store, f.ref_entity, str(r), lang) for r in refs)
    if f.sensitive and f.rule:
        return masked(f, value)
    return "、".join(map(str, value)) if isinstance(value, list) else str(value)


def files_line(attachments: list[tuple[str | None, dict[str, Any]]], lang: str) -> str:
    """How many files the case and its steps have, and how many are not here yet."""
    missing = sum(not a["arrived"] for _, a in attachments)
    if not attachments:
        return text("cases.no_files", lang)
    if missing:
        return text("cases.files_missing", lang, n=len(attachments), m=missing)
    return text("cases.files", lang, n=len(attachments))
