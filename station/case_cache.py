"""What the store keeps of each case's derived state, so that screens need not replay them.

The step events are the truth and sync carries them. Each workflow subject's row also keeps
its current step (`records.step`) and when its nearest unmet deadline falls due
(`records.due`, POSIX seconds; NULL once closed or with nothing left to meet). Both are set in
the transaction that adds an event, locally or from a pull, and are read by lists, reports and
the home screen's figures: counting open and overdue cases is then one indexed query instead
of deriving every open case's history every few seconds (a second of a quarter core at seed
scale, docs/BENCHMARKS.md).

Plain SQL reads on a connection, with no Store: the storage migration that adds `due` fills
it from `derived`.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sync.schema import Schema, WorkflowDef
from sync.workflow import StepEvent, derive, due_at


def event_rows(conn: sqlite3.Connection, event_entity: str, where: str = "",
               args: Iterable[Any] = ()) -> list[tuple[str, StepEvent]]:
    """(case id, event) of the live step events, with an extra SQL condition on them."""
    sql = "SELECT id, owner, clear, created_hlc FROM records WHERE entity = ? AND deleted = 0"
    out = []
    for rid, owner, clear, clock in conn.execute(sql + where, [event_entity, *args]):
        fields = json.loads(clear)
        out.append((owner, StepEvent(rid, fields.get("step", ""), clock, fields.get("at", ""),
                                     fields.get("department"))))
    return out


def derived(conn: sqlite3.Connection, schema: Schema) -> list[tuple[str | None, float | None, str]]:
    """(step, due, id) of every workflow subject, derived from its events again: for the
    migration that added `due` and for demo data written in bulk, which write them
    (`Writes.set_steps`). Schema bundles cannot change a workflow today (sync.bundle); one
    that could would derive them again too."""
    return [row for wf in schema.workflows.values() for row in _derived(conn, wf)]


def _derived(conn: sqlite3.Connection, workflow: WorkflowDef) -> list[tuple[str | None, float | None, str]]:
    by_case: dict[str, list[StepEvent]] = defaultdict(list)
    for owner, event in event_rows(conn, workflow.event_entity):
        by_case[owner].append(event)
    rows = []
    for (rid,) in conn.execute("SELECT id FROM records WHERE entity = ?", [workflow.subject_entity]):
        state = derive(workflow, by_case.get(rid, []))
        rows.append((state.step, due_at(workflow, state), rid))
    return rows


@dataclass(frozen=True)
class Figures:
    """Open cases, how many are overdue, and when the nearest deadline falls due."""

    open: int
    overdue: int
    next_due: float | None  # POSIX seconds, the most overdue when some are


def figures(conn: sqlite3.Connection, workflow: WorkflowDef, now: float) -> Figures:
    closing = [s.step for s in workflow.steps if s.closes]
    marks = ", ".join("?" * len(closing))
    found = conn.execute(
        "SELECT count(*), coalesce(sum(due < ?), 0), min(due) FROM records"
        f" WHERE entity = ? AND deleted = 0 AND (step IS NULL OR step NOT IN ({marks}))",
        [now, workflow.subject_entity, *closing]).fetchone()
    return Figures(int(found[0]), int(found[1]), found[2])
