"""The work figures kept as facts: what each record and each case contributes to the county
report, the dashboard's work page and its closure chart, in clear, small rows the hub's
database can sum (issue 23: the page opened every sealed record and took 6.3-12.4 s at
251,175 records).

Two kinds of rows, both written in the transaction that stores a push (so they can never
disagree with the records), and filled once for the data already there (`Hub.fill_figures`):

* a record's facts (`RecordFacts`): its entity, township, whether it is live, its open
  conflicts, its role in the figures, and the few values the figures read: an event's case,
  step, clock, time and department; a check-in's volunteer and day; a case's reporting
  volunteer; a keyed record's blind key (a keyed BLAKE2b of the normalised key);
* a case's facts (`CaseFacts`), derived from its events by the same `sync.workflow.derive` as
  ever: its step, whether closed, when it started and first closed, when its nearest unmet
  deadline falls due, when each step was first reached, its departments.

Nothing personal is in clear: ids, codes, steps, times and clocks only (docs/SECURITY.md).
Times are kept as POSIX seconds (float, as `datetime.timestamp()` gives them) beside the text,
so the database compares them exactly as the Python of the figures did. Pure: no I/O here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync import attachments as files
from sync.crypto_suite import INTL_SUITE, CryptoSuite
from sync.points import LedgerEntry
from sync.register import key_of
from sync.report import case_summary
from sync.schema import Schema, WorkflowDef
from sync.workflow import CaseState, StepEvent, deadlines, derive, due_at

# Bumped when what a fact holds changes: a hub finding another version fills them anew.
FIGURES_VERSION = "2"

CASE, EVENT, CHECKIN, BASE, OTHER = "case", "event", "checkin", "base", "other"
REACHED, DEPARTMENT, LATE = "r", "d", "l"  # the kinds of a case's marks


@dataclass(frozen=True)
class RecordFacts:
    id: str
    entity: str
    township: str
    live: bool
    conflicts: int
    role: str  # CASE, EVENT, CHECKIN, BASE (counted as base data) or OTHER
    workflow: str | None = None  # a case's or an event's
    parent: str | None = None  # an event's case; a check-in's volunteer
    step: str | None = None
    clock: str | None = None
    at: str | None = None
    at_ts: float | None = None
    department: str | None = None
    volunteer: str | None = None  # the volunteer who reported a case
    day: str | None = None  # a check-in's day
    key: str | None = None  # a keyed record's blind key

    def row(self) -> tuple[Any, ...]:
        return (self.id, self.entity, self.township, int(self.live), self.conflicts, self.role,
                self.workflow, self.parent, self.step, self.clock, self.at, self.at_ts,
                self.department, self.volunteer, self.day, self.key)


RECORD_COLUMNS = ("id", "entity", "township", "live", "conflicts", "role", "workflow", "parent",
                  "step", "clock", "at", "at_ts", "department", "volunteer", "day", "key")


@dataclass(frozen=True)
class CaseFacts:
    id: str
    workflow: str
    township: str
    step: str | None
    closed: bool
    started_at: str | None
    started_ts: float | None
    last_ts: float | None  # the latest time of any of its events: a period ending after it sees it whole
    closed_ts: float | None  # when a closing step was first reached
    due_ts: float | None  # `sync.workflow.due_at`: overdue once the time is past it
    volunteer: str | None
    accepted_on: str | None  # the day (as its author wrote it) it reached its second step
    reached: Mapping[str, float] = field(default_factory=dict)
    departments: tuple[str, ...] = ()
    late: tuple[str, ...] = ()  # steps reached after their deadline (that does not change)

    def row(self) -> tuple[Any, ...]:
        return (self.id, self.workflow, self.township, self.step, int(self.closed), self.started_at,
                self.started_ts, self.last_ts, self.closed_ts, self.due_ts, self.volunteer,
                self.accepted_on)

    def marks(self) -> list[tuple[str, str, str, float | None]]:
        out: list[tuple[str, str, str, float | None]] = [
            (self.id, REACHED, step, ts) for step, ts in sorted(self.reached.items())]
        return (out + [(self.id, DEPARTMENT, d, None) for d in self.departments]
                + [(self.id, LATE, step, None) for step in self.late])


CASE_COLUMNS = ("id", "workflow", "township", "step", "closed", "started_at", "started_ts",
                "last_ts", "closed_ts", "due_ts", "volunteer", "accepted_on")


def seconds(at: str | None) -> float | None:
    """An ISO time as POSIX seconds, as the figures compare it; None when it is not one."""
    try:
        return datetime.fromisoformat(at).timestamp() if at else None
    except (TypeError, ValueError):
        return None


def blind_key_secret(data_key: bytes, suite: CryptoSuite = INTL_SUITE) -> bytes:
    """The key of the figures' blind keys (keyed BLAKE2b, 32 bytes), apart from the sealing
    key it is derived from (with HMAC-SM3 in a GM county; the BLAKE2b grouping key it keys
    stays as it is in both: it never leaves the hub, docs/SECURITY.md)."""
    if suite is INTL_SUITE:
        return hmac.new(data_key, b"township-station hub figures: blind keys", hashlib.sha256).digest()
    return suite.mac(data_key, b"township-station hub figures: blind keys")


class Roles:
    """What each entity is to the figures, read from the schema once (a push asks per change)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.by_subject = {wf.subject_entity: wf for wf in schema.workflows.values()}
        self.by_event = {wf.event_entity: wf for wf in schema.workflows.values()}
        self.parts = {p.name for name in schema.workflows for p in schema.case_parts(name)}
        self.parent = {e: schema.entity(e).parent_field or wf.subject_entity
                       for e, wf in self.by_event.items()}
        checkin = schema.entities.get("checkin")
        self.checkin_parent = (checkin.parent_field if checkin else None) or "volunteer"
        self.keys = {name: e for name, e in schema.entities.items() if e.key_field is not None}
        self._roles: dict[str, str] = {}

    def role(self, entity: str) -> str:
        found = self._roles.get(entity)
        if found is None:
            if entity in self.by_subject:
                found = CASE
            elif entity in self.by_event:
                found = EVENT
            elif entity == "checkin":
                found = CHECKIN
            else:
                found = OTHER if entity == files.ENTITY or entity in self.parts else BASE
            self._roles[entity] = found
        return found

    def needs_values(self, entity: str) -> bool:
        return self.role(entity) in (EVENT, CASE, CHECKIN) or entity in self.keys

    def facts(self, record_id: str, entity: str, grid: str | None, raw: Mapping[str, Any] | None,
              deleted: bool, conflicts: int, secret: bytes) -> RecordFacts:
        """A record's facts from its opened merge state (`raw`, stored form; None: not needed,
        a record whose role reads no value)."""
        role = self.role(entity)
        township = (grid or "")[:9]
        if raw is None:
            return RecordFacts(record_id, entity, township, not deleted, conflicts, role)

        def value(name: str) -> Any:  # the winning version's value: only the fields read
            versions = raw.get(name)
            return json.loads(versions[-1][2]) if versions else None

        key = None
        definition = self.keys.get(entity)
        if definition is not None and definition.key_field is not None:
            name = definition.key_field.name
            normal = key_of(definition, {name: value(name)})
            if normal is not None:  # keyed BLAKE2b: a MAC, and cheaper than HMAC per record
                key = hashlib.blake2b(f"{entity}|{normal}".encode(), key=secret, digest_size=20).hexdigest()
        if role == EVENT:
            at, department = str(value("at")), value("department")
            return RecordFacts(record_id, entity, township, not deleted, conflicts, role,
                               self.by_event[entity].name, str(value(self.parent[entity])),
                               str(value("step")), min(v[0] for vs in raw.values() for v in vs), at,
                               seconds(at), None if department is None else str(department), key=key)
        if role == CASE:
            volunteer = value("volunteer")
            return RecordFacts(record_id, entity, township, not deleted, conflicts, role,
                               self.by_subject[entity].name, key=key,
                               volunteer=str(volunteer) if volunteer else None)
        if role == CHECKIN and (volunteer := value(self.checkin_parent)) and (day := value("day")):
            return RecordFacts(record_id, entity, township, not deleted, conflicts, role,
                               parent=str(volunteer), day=str(day), key=key)
        return RecordFacts(record_id, entity, township, not deleted, conflicts, role, key=key)


def case_facts(wf: WorkflowDef, case_id: str, township: str, volunteer: str | None,
               events: Iterable[StepEvent]) -> CaseFacts:
    """A case's facts from its live events, derived as the figures always derived them."""
    events = list(events)
    state = derive(wf, events)
    closing = {s.step for s in wf.steps if s.closes}
    reached = {step: ts for step, at in state.reached.items() if (ts := seconds(at)) is not None}
    closed_at = [reached[s] for s in closing if s in reached]
    second = next((m.to_step for m in wf.moves if m.from_step == wf.first_step), None)
    accepted = [e.at for e in events if e.step == second]
    times = [ts for e in events if (ts := seconds(e.at)) is not None]
    started = seconds(state.started_at)
    # As sync.workflow.deadlines compares them: reached later than the start plus the deadline.
    late = tuple(s.step for s in wf.steps if s.deadline_seconds is not None and started is not None
                 and s.step in reached and reached[s.step] > started + s.deadline_seconds)
    return CaseFacts(case_id, wf.name, township, state.step, state.closed, state.started_at,
                     started, max(times, default=None), min(closed_at, default=None),
                     due_at(wf, state), volunteer, min(accepted)[:10] if accepted else None,
                     reached, state.departments, late)


@dataclass
class Tally:
    """A kind of case's counts in one township: by step, by department, overdue, and the
    deadlines missed. Summed from the database's groups, or added to case by case."""

    by_step: dict[str | None, int] = field(default_factory=dict)
    by_department: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    missed: dict[str, int] = field(default_factory=dict)

    def add_state(self, wf: WorkflowDef, state: CaseState, as_of: datetime | None) -> None:
        self.by_step[state.step] = self.by_step.get(state.step, 0) + 1
        for department in state.departments:
            self.by_department[department] = self.by_department.get(department, 0) + 1
        if as_of is not None:
            found = deadlines(wf, state, as_of)
            self.overdue += any(d.status == "overdue" for d in found)
            for d in found:
                self.missed[d.step] = self.missed.get(d.step, 0) + (d.status in ("overdue", "late"))

    def add(self, other: Tally) -> None:
        for step, n in other.by_step.items():
            self.by_step[step] = self.by_step.get(step, 0) + n
        for department, n in other.by_department.items():
            self.by_department[department] = self.by_department.get(department, 0) + n
        self.overdue += other.overdue
        for step, n in other.missed.items():
            self.missed[step] = self.missed.get(step, 0) + n

    def summary(self, wf: WorkflowDef, with_overdue: bool) -> dict[str, Any]:
        """The report's entry for this kind of case, as `sync.report.case_summary` shapes it."""
        out = case_summary({s: n for s, n in self.by_step.items() if n},
                           {st.step for st in wf.steps if st.closes},
                           {d: n for d, n in self.by_department.items() if n})
        if with_overdue:
            out.update({"overdue": self.overdue,
                        "missed": {s.step: self.missed.get(s.step, 0) for s in wf.steps
                                   if s.deadline_seconds is not None}})
        return out


def volunteering(entries: Iterable[LedgerEntry], source_township: Mapping[str, str]
                 ) -> dict[str, dict[str, int]]:
    """Check-ins and points per township of each entry's source (a check-in, an incident)."""
    out: dict[str, dict[str, int]] = {}
    for e in entries:
        got = out.setdefault(source_township.get(e.source, ""), {"checkins": 0, "points": 0})
        got["checkins"] += e.rule == "checkin"
        got["points"] += e.points
    return out


def county_totals(per_township: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """The county's sum of each count kept per township (base records by entity, or the
    volunteers' check-ins and points)."""
    total: dict[str, int] = {}
    for counts in per_township.values():
        for name, n in counts.items():
            total[name] = total.get(name, 0) + n
    return total


def township_report(schema: Schema, tallies: Mapping[str, Tally], base_counts: Mapping[str, int],
                    with_overdue: bool, volunteering: Mapping[str, int] | None) -> dict[str, Any]:
    """One township's (or the county's) figures, in the shape `county report --json` prints."""
    out: dict[str, Any] = {}
    for name, wf in sorted(schema.workflows.items()):
        out[f"{name}s"] = tallies.get(name, Tally()).summary(wf, with_overdue)
    out["base_data"] = dict(sorted(base_counts.items()))
    if volunteering is not None:
        out["volunteers"] = {"checkins": 0, "points": 0} | dict(volunteering)
    return out
