"""What the county dashboard shows, apart from how: the accounts and sessions of county IT,
the stations, the work figures, and every table as rows for the pages and the exports. The
pages themselves are in `sync.hub.pages` and its templates.

Accounts, roles, logins and the audit trail are `sync.hub.access`; accounts are made with
`county user add`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sync.bundle import Bundle, check_bundle, parse_bundle
from sync.errors import TownshipError
from sync.hub import fleet
from sync.hub.access import Access
from sync.hub.rules import Hub
from sync.hub.tables import Label, Percent, shown, when
from sync.human_time import relative
from sync.report import Period, period_of
from sync.schema import Schema
from sync.validate import CHINA_TZ

SESSION_COOKIE = "ts_session"

TABLES = ("stations", "fleet", "schema", "work", "departments", "base_data", "volunteers")


@dataclass(frozen=True)
class Column:
    """A column of the stations table, on the page and in its exports alike."""

    key: str  # the export's header
    zh: str
    en: str
    field: str = ""  # the station row's field, if not `key`
    exported: Callable[[Any], Any] = lambda value: value
    shown: Callable[[Any], str] = str  # the cell on the page
    on_page: bool = True  # else in the exports only

    def value(self, row: dict[str, Any]) -> Any:
        return row[self.field or self.key]


def _places(places: tuple[Label, ...]) -> Label | str:
    """Several grids in one cell: their names, their codes beneath (the codes alone if none is
    named)."""
    if not places:
        return "全乡镇 whole township"
    names, codes = " ".join(places), " ".join(p.code for p in places)
    return Label(names, codes if names != codes else "", codes)


# A new column is one line here: the page and both exports follow. The page then adds the
# station's state and its revoke button; the exports add revoked_at.
STATION_COLUMNS = (
    # By name on the page, the id beneath; the exports keep both, apart.
    Column("station", "站点", "Station", field="label", exported=lambda label: label.code,
           shown=lambda label: label),
    Column("name", "站点名称", "Name", on_page=False),
    # Places by name where the schema or a grid record names them, their codes beneath; the
    # exports keep the codes.
    Column("township", "乡镇", "Township", field="place", exported=lambda place: place.code,
           shown=lambda place: place),
    Column("grids", "网格", "Grids", field="grid_places",
           exported=lambda places: " ".join(p.code for p in places), shown=_places),
    Column("last_seen", "最近联系", "Last seen", shown=when),
    Column("last_push", "最近上传", "Last push", shown=when),
    Column("changes", "已收变更", "Changes"),
    Column("pending", "待上传", "Pending", shown=shown),
    Column("rejected", "被拒", "Rejected", shown=shown),
    Column("lag", "落后", "Lag", shown=shown),
    Column("files", "已收附件", "Files"),
    Column("files_arriving", "附件传送中", "Files arriving"),
    Column("schema_version", "数据版本", "Schema", shown=lambda version: str(version or "—")),
    # Blank: never synced yet; a 0.1.x station names no software (it speaks protocol 1).
    Column("software_version", "软件版本", "Software",
           shown=lambda version: version or "—"),
    Column("protocol_version", "协议", "Protocol", shown=lambda version: str(version or "—")),
)


@dataclass(frozen=True)
class FleetRow:
    """A station in the fleet view: its id, the CSS classes of its row (`attention` and each
    alarm's key, or `ok`, or `revoked`), and its cells as (column key, value) pairs."""

    id: str
    classes: str
    cells: tuple[tuple[str, Any], ...]


# The fleet view's columns: (key, Chinese, English). The key is the CSS class of the column's
# header and cells, which scripts (and the tests) read a column by.
FLEET_COLUMNS = (
    ("station", "站点", "Station"),
    ("attention", "需要关注", "Attention"),
    ("township", "乡镇", "Township"),
    ("last-seen", "最近联系", "Last seen"),
    ("pending", "站内待上传", "Waiting on station"),
    ("behind", "下载落后（条）", "Pull behind (changes)"),
    ("backup", "备份最近到达", "Backup last reached replica"),
    ("clock", "时钟偏差", "Clock offset"),
    ("software", "软件版本", "Software"),
    ("schema", "数据版本", "Schema"),
)
# The fleet export: the same stations in the same order, as figures a script can use.
FLEET_EXPORT = ("station", "name", "attention", "township", "last_seen", "pending", "rejected",
                "lag", "backup_reached", "backup_behind", "clock_offset_ms", "software_version",
                "schema_version", "revoked_at")


def station_label(row: dict[str, Any]) -> Label:
    """A station by the name its clerks gave it, its id beneath (the id alone before it said
    a name: a release before names travelled)."""
    name = row.get("name")
    return Label(name, row["id"], row["id"]) if name else Label(row["id"], "", row["id"])


def _moment(at: datetime | str | None, now: datetime, never: tuple[str, str]) -> Label:
    if at is None:
        return Label(*never, "")
    return Label(relative(at, now, "zh"), relative(at, now, "en"), "")


def _backup_cell(row: dict[str, Any], now: datetime, now_ms: int) -> Label:
    state = fleet.backup_state(row, now_ms)
    if state == "unknown":
        return Label("未报告", "not reported", state)
    at = fleet.backup_time(row)
    if state == "never" or at is None:
        return Label("从未备份", "never", state)
    behind = int(row.get("backup_behind") or 0)
    zh, en = relative(at, now, "zh"), relative(at, now, "en")
    if behind:  # what the replica lacks: the writes after that moment
        zh, en = f"{zh}（缺 {behind} 个事务）", f"{en} ({behind} transactions behind)"
    return Label(zh, en, state)


def fleet_row(row: dict[str, Any], now_ms: int) -> FleetRow:
    """One station as the fleet view shows it, Chinese first, times in Beijing time and in
    the relative forms of `sync.human_time`."""
    now = datetime.fromtimestamp(now_ms / 1000, CHINA_TZ)
    found = fleet.alarms(row, now_ms)
    if row.get("revoked_at"):
        attention, classes = Label("已吊销", "revoked", "revoked"), "revoked"
    elif found:
        attention = Label("、".join(a.zh for a in found), ", ".join(a.en for a in found),
                          " ".join(a.key for a in found))
        classes = "attention " + attention.code
    else:
        attention, classes = Label("正常", "ok", "ok"), "ok"
    cells = {
        "station": station_label(row), "attention": attention,
        "township": row["place"],
        "last-seen": _moment(row.get("last_seen"), now, ("从未联系", "never")),
        "pending": row.get("pending"), "behind": row.get("lag"),
        "backup": _backup_cell(row, now, now_ms),
        "clock": Label(*fleet.clock_words(row.get("clock_offset_ms")), ""),
        "software": row.get("software_version") or "—", "schema": row.get("schema_version"),
    }
    return FleetRow(row["id"], classes, tuple((key, cells[key]) for key, _zh, _en in FLEET_COLUMNS))


def _fleet_export(row: dict[str, Any], now_ms: int) -> list[Any]:
    at = fleet.backup_time(row)
    return [row["id"], row.get("name"), " ".join(a.key for a in fleet.alarms(row, now_ms)),
            row["township"], row.get("last_seen"), row.get("pending"), row.get("rejected"),
            row.get("lag"), at.isoformat() if at else None, row.get("backup_behind"),
            row.get("clock_offset_ms"), row.get("software_version"), row.get("schema_version"),
            row.get("revoked_at")]


class Dashboard:
    def __init__(self, hub: Hub, home: Path | None = None,
                 clock_ms: Callable[[], int] | None = None) -> None:
        # The work figures are sums over facts the hub keeps as each push is stored
        # (sync/hub/work_figures.py), so every page shows them as they are now.
        self.hub, self.home = hub, home
        self.clock_ms = clock_ms or hub.clock.wall_ms
        self.access = Access(hub, self.clock_ms)

    # ---------------------------------------------------------------- accounts and sessions
    # (sync.hub.access; these are kept for the callers that predate it)

    def add_account(self, name: str, password: str, role: str | None = None) -> bool:
        return self.access.add_account(name, password, role)

    def log_in(self, name: str, password: str, address: str = "") -> tuple[str, str] | None:
        """(session token, CSRF token), or None for a wrong name or password."""
        return self.access.log_in(name, password, address)

    # ---------------------------------------------------------------- data

    def stations(self) -> list[dict[str, Any]]:
        """Every station, with `lag`: the county's changes in its scope or not, that came in
        after the station last pulled (None before its first pull)."""
        with self.hub.storage.transaction() as tx:
            rows, last = tx.stations(), tx.last_seq()
        labels = self.labels()
        return [r | {"lag": None if r["pull_cursor"] is None else max(0, last - int(r["pull_cursor"])),
                     "label": station_label(r), "place": labels.place(r["township"]),
                     "grid_places": tuple(labels.place(g) for g in r["grids"])} for r in rows]

    def fleet(self) -> list[FleetRow]:
        """Every station as the fleet view shows it, what needs attention first."""
        now_ms = self.clock_ms()
        return [fleet_row(dict(r), now_ms) for r in fleet.ranked(self.stations(), now_ms)]

    def closure_history(self, days: int = 14) -> list[tuple[str, float]]:
        """The county's incident closure rate at the end of each of the last `days` days, as
        chart bars labelled with the day and (cases closed by then / reported by then)."""
        today = datetime.now(CHINA_TZ).date()
        span = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
        points = self.hub.closure_history("incident", span)
        return [(f"{d:%m-%d}（{closed}/{reported}）", 100.0 * closed / reported if reported else 0.0)
                for d, reported, closed in points]

    def preview(self, raw: bytes) -> tuple[Bundle | None, str]:
        """The bundle and '' when the hub would publish it, or None and why it would refuse."""
        try:
            bundle = parse_bundle(raw)
            check_bundle(bundle, self.hub.schema)
        except TownshipError as exc:
            return None, str(exc)
        return bundle, ""

    def publish(self, raw: bytes) -> Bundle:
        assert self.home is not None, "publishing needs the county home's signing key"
        key = self.hub.suite.signing_key((self.home / "signing.key").read_bytes())
        return self.hub.publish(raw, key)

    def labels(self) -> Labels:
        return Labels(self.hub.schema, self.hub.place_names())

    def report(self, period: Period | None = None) -> dict[str, Any]:
        return self.hub.report(now=datetime.now(CHINA_TZ), period=period)

    def table(self, name: str, period: Period | None = None, report: dict[str, Any] | None = None,
              labels: Labels | None = None) -> tuple[list[str], list[list[Any]]]:
        """(headers, rows) of one of TABLES, as the pages and the exports show it; the work
        figures for a period when one is given (else since the start). A page showing several
        tables passes the period's `report` and the `labels` it read once."""
        if name == "stations":
            return ([c.key for c in STATION_COLUMNS] + ["revoked_at"],
                    [[c.exported(c.value(r)) for c in STATION_COLUMNS] + [r["revoked_at"]]
                     for r in self.stations()])
        if name == "fleet":
            now_ms = self.clock_ms()
            return list(FLEET_EXPORT), [_fleet_export(dict(r), now_ms)
                                        for r in fleet.ranked(self.stations(), now_ms)]
        if name == "schema":
            return (["version", "name", "published_at", "stations"],
                    [[r["version"], r["name"], r["published_at"], r["stations"]]
                     for r in self.hub.schema_versions()])
        if name == "volunteers":
            return self._volunteers(period)
        report = self.report(period) if report is None else report
        labels = self.labels() if labels is None else labels
        places = [(labels.county(), report["county"]),
                  *[(labels.place(code), figures) for code, figures in sorted(report["townships"].items())]]
        if name == "base_data":
            entities = sorted({e for _, figures in places for e in figures["base_data"]})
            return (["township", *entities], [[place, *[figures["base_data"].get(e, 0) for e in entities]]
                                              for place, figures in places])
        kinds = sorted(k for k in report["county"] if k not in ("base_data", "volunteers"))
        if name == "departments":
            return (["township", "kind", "department", "cases"],
                    [[place, labels.kind(k), labels.code("department", department), n]
                     for place, figures in places for k in kinds
                     for department, n in sorted(figures[k].get("by_department", {}).items())])
        return work_table(report, places, kinds)

    def _volunteers(self, period: Period | None) -> tuple[list[str], list[list[Any]]]:
        """The volunteers by points earned in the period (this month by default), by name:
        masked as a station's list shows it, never the record's id."""
        if period is None:
            today = datetime.now(CHINA_TZ).date()
            period = period_of(month=f"{today:%Y-%m}")
            assert period is not None
        ledger = self.hub.volunteer_points()
        entries = [e for e in ledger if period.holds_day(e.day)]
        names = self.hub.names("volunteer", {e.volunteer for e in entries})
        totals: dict[str, dict[str, int]] = {}
        for e in entries:
            got = totals.setdefault(e.volunteer, {"checkin": 0, "accepted_report": 0, "points": 0})
            got[e.rule] = got.get(e.rule, 0) + 1
            got["points"] += e.points
        ranked = sorted(totals.items(), key=lambda kv: (-kv[1]["points"], kv[0]))  # as sync.points.ranking
        return (["rank", "name", "checkins", "accepted_reports", "points", "period"],
                [[place, names.get(v, "—"), got["checkin"], got["accepted_report"], got["points"],
                  period.name] for place, (v, got) in enumerate(ranked, start=1)])


MEASURES = ("reported", "closed", "closure_rate", "overdue")


def work_table(report: dict[str, Any], places: list[tuple[Label, dict[str, Any]]],
               kinds: list[str]) -> tuple[list[str], list[list[Any]]]:
    """The work table: per place, each kind's measures, the deadlines missed (the 1/3/5-minute
    rule), the base records, and the volunteers' check-ins and points."""
    missed = [(k, step) for k in kinds for step in report["county"][k].get("missed", {})]
    headers = (["township"] + [f"{k}_{m}" for k in kinds for m in MEASURES]
               + [f"{k}_missed_{step}" for k, step in missed]
               + ["base_records", "volunteer_checkins", "volunteer_points"])
    rows = []
    for place, figures in places:
        volunteering = figures.get("volunteers", {})
        rows.append([place, *[Percent(figures[k][m]) if m == "closure_rate" else figures[k].get(m)
                              for k in kinds for m in MEASURES],
                     *[figures[k]["missed"][step] for k, step in missed],
                     sum(figures["base_data"].values()), volunteering.get("checkins"),
                     volunteering.get("points")])
    return headers, rows


class Labels:
    """Codes as people read them: places by name (else their code), schema codes by their
    label in Chinese with the English kept (`sync.hub.tables.Label`)."""

    def __init__(self, schema: Schema, places: dict[str, str]) -> None:
        self.schema, self.places = schema, places

    def county(self) -> Label:
        return Label("全县", "County", "county")

    def place(self, code: str) -> Label:
        if not code:
            return Label("未定网格", "No grid", "none")
        name = self.places.get(code)
        return Label(name, code, code) if name else Label(code, "", code)

    def kind(self, key: str) -> Label:
        """A report's kind of case (`incidents`) by its workflow's label."""
        wf = self.schema.workflows.get(key.removesuffix("s"))
        if wf is None:
            return Label(key, "", key)
        subject = self.schema.entity(wf.subject_entity)
        return Label(subject.label_zh, subject.label_en, key)

    def code(self, table: str, code: str) -> Label:
        found = self.schema.code_tables.get(table)
        value = found.by_code.get(code) if found else None
        return Label(value.label_zh, value.label_en, code) if value else Label(code, "", code)

    def entity(self, name: str) -> Label:
        found = self.schema.entities.get(name)
        return Label(found.label_zh, found.label_en, name) if found else Label(name, "", name)

    def step(self, key: str) -> Label:
        """A missed deadline's column (incidents_missed_dispose) by its deadline's label."""
        kind, _, step = key.partition("_missed_")
        wf = self.schema.workflows.get(kind.removesuffix("s"))
        found = wf.by_step.get(step) if wf else None
        if found is None or not found.deadline_label_zh:
            return Label(key, "", key)
        what = self.kind(kind)
        return Label(f"{what}超时（{found.deadline_label_zh}）",
                     f"{what.en} late ({found.deadline_label_en})", key)

    def heading(self, key: str) -> Label:
        """A work table's column, Chinese first: incidents_closure_rate -> 事件办结率."""
        if key in _HEADINGS:
            return Label(*_HEADINGS[key], key)
        if "_missed_" in key:
            return self.step(key)
        kind, _, measure = key.partition("_")
        zh, en = _MEASURES.get(measure, (measure, measure))
        what = self.kind(kind)
        return Label(f"{what}{zh}", f"{what.en} {en}", key)


_HEADINGS = {"township": ("乡镇（街道）", "Township"), "base_records": ("基础数据条数", "Base records"),
             "volunteer_checkins": ("志愿者签到", "Volunteer check-ins"),
             "volunteer_points": ("志愿者积分", "Volunteer points")}
_MEASURES = {"reported": ("上报", "reported"), "closed": ("办结", "closed"),
             "closure_rate": ("办结率", "closure rate"), "overdue": ("超时未办", "overdue")}
