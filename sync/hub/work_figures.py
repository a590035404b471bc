"""The work figures as the hub keeps and reads them: the facts of `sync.hub.figures` written
in each push's transaction (`keep`), filled once for the data already there (`fill`), and the
county report, the closure history, the volunteers' ledger and the open conflicts and
duplicates read back from them with the database's sums, without opening a sealed record.

A period's report counts each case as it stood at the period's end. A case whose events all
fall before that end stood then as it stands now, so the sums over the kept facts are its
figures; the few that have events on both sides of the end (reported in the period, moved on
after it) are derived again from their events' facts, by the same `sync.workflow.derive`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sync import merge
from sync.hub.figures import (
    BASE,
    CASE,
    CHECKIN,
    EVENT,
    CaseFacts,
    RecordFacts,
    Roles,
    Tally,
    case_facts,
    county_totals,
    township_report,
    volunteering,
)
from sync.hub.storage import Tx
from sync.points import LedgerEntry, ledger
from sync.report import Period
from sync.schema import Schema
from sync.seal import Sealer
from sync.validate import CHINA_TZ
from sync.workflow import StepEvent, derive

_FILL_BATCH = 2000


def _events(rows: Iterable[tuple[Any, ...]]) -> dict[str, list[StepEvent]]:
    """(parent, workflow, id, step, clock, at, department) rows as step events by case."""
    out: dict[str, list[StepEvent]] = {}
    for parent, _wf, event_id, step, clock, at, department in rows:
        out.setdefault(str(parent), []).append(StepEvent(event_id, step, clock, at, department))
    return out


def derive_cases(schema: Schema, cases: Iterable[tuple[Any, ...]],
                 events: Iterable[tuple[Any, ...]]) -> list[CaseFacts]:
    by_case = _events(events)
    return [case_facts(schema.workflow(wf), str(cid), str(township), volunteer, by_case.get(str(cid), []))
            for cid, wf, township, volunteer in cases if wf in schema.workflows]


def keep(tx: Tx, schema: Schema, facts: Sequence[RecordFacts]) -> None:
    """Store a push's record facts, add their differences to the kept totals, and derive again
    every case they touch: its own record, an event of it, or an event that was its (a case
    moved to another parent)."""
    if not facts:
        return
    before = {str(r[0]): r for r in tx.facts_before([f.id for f in facts])}
    touched = {f.parent for f in facts if f.role == EVENT and f.parent}
    touched |= {f.id for f in facts if f.role == CASE}
    touched |= {str(r[7]) for r in before.values() if r[3] == EVENT and r[7]}
    counts: dict[tuple[str, str, str], int] = {}
    keys: dict[tuple[str, str], int] = {}
    for f in facts:
        old = before.get(f.id)
        if old is not None:
            _count(counts, keys, -1, *old[1:7])
        _count(counts, keys, 1, f.township, f.entity, f.role, f.live, f.conflicts, f.key)
    tx.put_record_facts([f.row() for f in facts])
    if any(keys.values()):
        held = tx.key_counts(sorted(keys))
        after = {k: held.get(k, 0) + d for k, d in keys.items() if d}
        twice = sum((n > 1) - (held.get(k, 0) > 1) for k, n in after.items())
        tx.put_key_counts(after)
        counts[("duplicates", "", "")] = twice
    tx.add_counts(counts)
    if touched:
        ids = sorted(touched)
        rows = derive_cases(schema, *tx.case_inputs(ids))
        tx.replace_case_facts(ids, [r.row() for r in rows], [m for r in rows for m in r.marks()])


def _count(counts: dict[tuple[str, str, str], int], keys: dict[tuple[str, str], int], sign: int,
           township: str, entity: str, role: str, live: Any, conflicts: int, key: str | None) -> None:
    """What one record adds to the kept totals (`sign` -1: what its facts before took away)."""
    if conflicts:
        counts[("conflicts", "", "")] = counts.get(("conflicts", "", ""), 0) + sign * int(conflicts)
    if not live:
        return
    if role in (BASE, CHECKIN):
        counts[("base", township, entity)] = counts.get(("base", township, entity), 0) + sign
    if key:
        keys[(entity, key)] = keys.get((entity, key), 0) + sign


def fill(tx: Tx, schema: Schema, sealer: Sealer, secret: bytes) -> int:
    """Every fact anew from the records (each opened once): at the first open after storage
    step 6, and after a schema bundle is published (a new step or rename may change them).
    Returns the records read."""
    roles = Roles(schema)
    tx.clear_figures()
    entities = [str(r[0]) for r in tx.rows("SELECT DISTINCT entity FROM records ORDER BY entity")]
    count = 0
    for entity in entities:
        batch: list[tuple[Any, ...]] = []
        for record_id, ent, grid, sealed, deleted in tx.records(entity):
            raw = sealer.open_value(sealed, record_id.encode())
            conflicts = len(merge.conflicts(merge.state_from_stored(raw)))
            batch.append(roles.facts(record_id, ent, grid, raw, bool(deleted), conflicts, secret).row())
            if len(batch) >= _FILL_BATCH:
                tx.put_record_facts(batch)
                count, batch = count + len(batch), []
        tx.put_record_facts(batch)
        count += len(batch)
    rows = derive_cases(schema, *tx.all_case_inputs())
    tx.replace_case_facts([], [r.row() for r in rows], [m for r in rows for m in r.marks()])
    tx.count_all()
    return count


# ---------------------------------------------------------------------- reading them back


def _tally(tallies: dict[str, dict[str, Tally]], township: str, workflow: str) -> Tally:
    return tallies.setdefault(township, {}).setdefault(workflow, Tally())


def case_tallies(tx: Tx, schema: Schema, as_of: datetime | None,
                 period: Period | None) -> dict[str, dict[str, Tally]]:
    """township -> workflow -> its counts, for the cases reported since the start (or in the
    period, as they stood at its end), overdue and missed deadlines counted at `as_of`."""
    tallies: dict[str, dict[str, Tally]] = {}
    args: list[Any]
    for name, wf in sorted(schema.workflows.items()):
        where, args = "c.workflow = ?", [name]
        if period is not None:
            start, end = period.start.timestamp(), period.end.timestamp()
            where += " AND c.started_ts >= ? AND c.started_ts < ? AND c.last_ts < ?"
            args = [name, start, end, end]
        for _wf, township, step, n in tx.case_groups(where, args):
            _tally(tallies, township, name).by_step[step] = int(n)
        for _wf, township, department, n in tx.department_groups(where, args):
            _tally(tallies, township, name).by_department[department] = int(n)
        if as_of is not None:
            for _wf, township, n in tx.overdue_groups(where, args, as_of.timestamp()):
                _tally(tallies, township, name).overdue = int(n or 0)
            for township, step, n in tx.late_groups(where, args):
                missed = _tally(tallies, township, name).missed
                missed[step] = missed.get(step, 0) + int(n)
            for s in wf.steps:
                if s.deadline_seconds is None:
                    continue
                for township, n in tx.unmet_groups(where, args, s.step, s.deadline_seconds,
                                                   as_of.timestamp()):
                    missed = _tally(tallies, township, name).missed
                    missed[s.step] = missed.get(s.step, 0) + int(n)
        if period is not None:
            _add_straddling(tx, schema, name, period, as_of, tallies)
    return tallies


def _add_straddling(tx: Tx, schema: Schema, name: str, period: Period, as_of: datetime | None,
                    tallies: dict[str, dict[str, Tally]]) -> None:
    """The cases with events after the period's end, each derived from the events before it."""
    wf = schema.workflow(name)
    ids = tx.straddling(name, period.start.timestamp(), period.end.timestamp())
    if not ids:
        return
    cases, event_rows = tx.case_inputs(ids)
    by_case = _events(event_rows)
    for cid, _wf, township, _volunteer in cases:
        state = derive(wf, [e for e in by_case.get(str(cid), [])
                            if datetime.fromisoformat(e.at) < period.end])
        if state.started_at is not None and period.holds(state.started_at):
            _tally(tallies, str(township), name).add_state(wf, state, as_of)


def volunteer_ledger(tx: Tx, schema: Schema) -> tuple[list[LedgerEntry], dict[str, str]]:
    """The points ledger (`sync.points`) from the kept check-ins and accepted reports, and the
    township of each entry's source."""
    checkins = tx.checkin_facts()
    accepted = tx.accepted_facts("incident") if "incident" in schema.workflows else []
    township = {str(r[2]): str(r[3]) for r in (*checkins, *accepted)}
    return (ledger([(str(v), str(d), str(i)) for v, d, i, _ in checkins],
                   [(str(v), str(d), str(i)) for v, d, i, _ in accepted], schema.point_rules),
            township)


def report(tx: Tx, schema: Schema, now: datetime | None = None, period: Period | None = None,
           ledger: tuple[list[LedgerEntry], dict[str, str]] | None = None) -> dict[str, Any]:
    """`Hub.report` from the kept facts: the same figures, the same shape (`ledger`: the
    volunteers' as `volunteer_ledger` gives it, when already read)."""
    as_of = now if period is None else min(now or period.end, period.end)
    tallies = case_tallies(tx, schema, as_of, period)
    counts: dict[str, dict[str, int]] = {}
    for township, entity, n in tx.base_counts():
        counts.setdefault(str(township), {})[str(entity)] = int(n)
    entries, source_township = ledger if ledger is not None else volunteer_ledger(tx, schema)
    if period is not None:
        entries = [e for e in entries if period.holds_day(e.day)]
    by_township = volunteering(entries, source_township)
    with_overdue = as_of is not None
    per = {t: township_report(schema, tallies.get(t, {}), counts.get(t, {}), with_overdue,
                              by_township.get(t))
           for t in sorted(set(counts) | set(tallies) | set(by_township))}
    whole: dict[str, Tally] = {}
    for by_name in tallies.values():
        for name, tally in by_name.items():
            whole.setdefault(name, Tally()).add(tally)
    county = {"checkins": 0, "points": 0} | county_totals(by_township)
    out = {"county": township_report(schema, whole, county_totals(counts), with_overdue, county),
           "townships": per}
    if period is not None:
        out["period"] = {"from": period.first.isoformat(), "to": period.last.isoformat(),
                         "name": period.name}
    return out


def closure_history(tx: Tx, workflow: str, days: Sequence[date]) -> list[tuple[date, int, int]]:
    """(day, cases reported by its end, closed by its end), Beijing days, county-wide."""
    ends = [datetime.combine(d + timedelta(days=1), time.min, CHINA_TZ).timestamp() for d in days]
    return [(d, reported, closed) for d, (reported, closed) in zip(days, tx.closure_counts(workflow, ends),
                                                                    strict=True)]
