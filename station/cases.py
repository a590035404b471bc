"""Cases that move through a workflow: incidents (the five-step loop) and disputes.

A case is a subject record (an incident) plus its step events (incident_event records that
name it in their parent field). Opening a case and each move append records through the one
write path, so they sync like any other change; the current step is derived from the events
by `sync.workflow` and only cached on the subject row for lists and reports.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from station import case_cache
from station.store import Store
from station.writes import Writes
from sync.errors import ValidationError
from sync.workflow import (
    CaseState,
    Deadline,
    StepEvent,
    case_context,
    check_move,
    deadlines,
    derive,
    due_at,
    next_due,
    open_clashes,
)


class Cases:
    """The cases of one workflow ('incident' or 'dispute') in a store."""

    def __init__(self, store: Store, workflow: str) -> None:
        self.store = store
        self.workflow = store.schema.workflow(workflow)
        self.subject = store.schema.entity(self.workflow.subject_entity)
        self.event_entity = store.schema.entity(self.workflow.event_entity)
        self.parent = self.event_entity.parent_field or self.subject.name
        self.parts = store.schema.case_parts(workflow)

    def now(self) -> datetime:
        return self.store.clock.now()

    # ------------------------------------------------------------------ writing

    def open(self, values: Mapping[str, Any], *, note: str | None = None, actor: str | None = None,
             role: str = "clerk", at: str | None = None) -> str:
        """Create the subject and its first step event in one transaction; returns its id."""
        with self.store.atomic() as writes:
            case_id = writes.add(self.subject.name, values)
            grid = self.store.get(self.subject.name, case_id)["fields"].get("grid")
            writes.add(self.event_entity.name, self._event(
                case_id, self.workflow.first_step, grid, note=note, actor=actor, role=role, at=at))
            state = self.state(case_id, writes)
            writes.set_step(case_id, state.step, due_at(self.workflow, state))
        return case_id

    def advance(self, case_id: str, step: str, *, note: str | None = None,
                department: str | None = None, actor: str | None = None, role: str = "clerk",
                at: str | None = None, extra: Mapping[str, Any] | None = None) -> CaseState:
        """Append one step event if the workflow allows that move from where the case is.

        `extra`: more fields of the event (a mediation method, attachment ids); a field the
        event entity does not have is refused by validation, naming it."""
        with self.store.atomic() as writes:
            subject = self.store.get(self.subject.name, case_id)
            before = self.state(case_id, writes)
            check_move(self.workflow, before, step, has_reason=bool(note and note.strip()))
            event = self._event(case_id, step, subject["fields"].get("grid"), note=note,
                                actor=actor, role=role, at=at)
            given = {**({"department": department} if department else {}), **(extra or {})}
            # The step names every event of the case this station holds: what its author had
            # seen, so a clash among them is settled by it and one it never saw stays open.
            writes.add(self.event_entity.name, {**event, **given},
                       seen=case_context((*before.applied, *before.refused)))
            state = self.state(case_id, writes)
            self.refresh(writes, case_id, state)
        return state

    def refresh(self, writes: Writes, case_id: str, state: CaseState | None = None) -> None:
        """Cache the derived step and next deadline, and open or close the case's step
        clash conflict."""
        state = state or self.state(case_id, writes)
        writes.set_step(case_id, state.step, due_at(self.workflow, state))
        latest = max((e.clock for e in state.applied), default="")
        writes.step_clash(case_id, self.subject.name, state.step, latest,
                          [(e.clock, e.step) for e in open_clashes(state)])

    def add_part(self, entity: str, case_id: str, values: Mapping[str, Any]) -> str:
        """Add a record that belongs to the case (a dispute's party): the case and its grid
        filled in, validated like any other record, naming the field it refuses."""
        part = next((p for p in self.parts if p.name == entity), None)
        if part is None or part.parent_field is None:
            raise ValidationError("entity", "part", f"“{entity}”不是{self.subject.label_zh}的组成部分",
                                  f"{entity} records do not belong to a {self.subject.name}")
        grid = self.store.get(self.subject.name, case_id)["fields"].get("grid")
        scope = part.scope_field
        return self.store.add(entity, {**values, part.parent_field: case_id,
                                       **({scope: grid} if scope and grid else {})})

    def _event(self, case_id: str, step: str, grid: Any, *, note: str | None, actor: str | None,
               role: str, at: str | None) -> dict[str, Any]:
        values = {self.parent: case_id, "step": step, "at": at or self.now().isoformat(),
                  "actor": actor or self.store.clerk, "role": role, "note": note, "grid": grid}
        # Defaults this workflow's event entity has no field for are left out, not refused.
        return {k: v for k, v in values.items() if v is not None and k in self.event_entity.by_name}

    # ------------------------------------------------------------------ reading

    def _event_rows(self, case_id: str | None = None,
                    open_only: bool = False) -> list[tuple[str, StepEvent]]:
        sql, args = "", []
        if case_id is not None:
            sql += " AND owner = ?"
            args.append(case_id)
        if open_only:
            where, more = self._open_subjects()
            sql += f" AND owner IN (SELECT id FROM records WHERE {where})"
            args += more
        return case_cache.event_rows(self.store.conn, self.event_entity.name, sql, args)

    def _open_subjects(self) -> tuple[str, list[Any]]:
        """SQL for the live subjects whose cached step does not close them."""
        closing = [s.step for s in self.workflow.steps if s.closes]
        marks = ", ".join("?" * len(closing))
        return (f"entity = ? AND deleted = 0 AND (step IS NULL OR step NOT IN ({marks}))",
                [self.subject.name, *closing])

    def state(self, case_id: str, writes: Writes | None = None) -> CaseState:
        """The case's state from its events; with `writes` (inside a write), each event also
        carries what its author had seen, which open clashes are judged by."""
        events = [e for _, e in self._event_rows(case_id)]
        state = derive(self.workflow, events)
        if writes is None or not state.refused:
            return state  # the contexts matter only to a refused event's clash
        seen = writes.contexts([e.id for e in events])
        return derive(self.workflow, [replace(e, seen=seen.get(e.id, ())) for e in events])

    def show(self, case_id: str, now: datetime | None = None) -> dict[str, Any]:
        """The case with its step, its timeline (notes opened) and its deadlines."""
        record = self.store.get(self.subject.name, case_id)
        state = self.state(case_id)
        timeline = []
        for e in state.applied + state.refused:
            fields = self.store.get(self.event_entity.name, e.id)["fields"]
            timeline.append({"id": e.id, "applied": e in state.applied, "clock": e.clock,
                             **{k: v for k, v in fields.items() if k != self.parent}})
        timeline.sort(key=lambda t: (t["clock"], t["id"]))
        shown = {**record, "step": state.step, "closed": state.closed,
                 "departments": list(state.departments), "events": timeline,
                 "deadlines": [_deadline_json(d) for d in deadlines(self.workflow, state, now or self.now())]}
        if self.parts:
            shown["parts"] = {p.name: self.parts_of(p.name, case_id) for p in self.parts}
        return shown

    def parts_of(self, entity: str, case_id: str) -> list[dict[str, Any]]:
        """The case's records of a part entity (its parties), oldest first: id and fields."""
        rows = self.store.conn.execute(
            "SELECT id FROM records WHERE entity = ? AND owner = ? AND deleted = 0 ORDER BY id",
            (entity, case_id)).fetchall()
        return [{"id": rid, **{k: v for k, v in self.store.get(entity, rid)["fields"].items()}}
                for (rid,) in rows]

    def summaries(self, now: datetime | None = None, open_only: bool = False) -> list[dict[str, Any]]:
        """Cases with their derived state, from clear data only (no unsealing). `open_only`
        uses the cached step to skip closed cases: at county scale 99 % of them."""
        now = now or self.now()
        by_case: dict[str, list[StepEvent]] = defaultdict(list)
        for owner, event in self._event_rows(open_only=open_only):
            by_case[owner].append(event)
        where, args = (self._open_subjects() if open_only
                       else ("entity = ? AND deleted = 0", [self.subject.name]))
        reach, more = self.store.reach_sql()  # a gridworker's list: their grids' cases
        where, args = where + reach, [*args, *more]
        out = []
        for rid, clear in self.store.conn.execute(
                f"SELECT id, clear FROM records WHERE {where} ORDER BY id", args):
            state = derive(self.workflow, by_case.get(rid, []))
            if open_only and state.closed:
                continue  # the cache lagged behind the events (not expected; be exact anyway)
            due = next_due(self.workflow, state, now)
            out.append({
                "id": rid, "step": state.step, "closed": state.closed,
                "discovered_at": state.started_at,
                "overdue": due is not None and due.status == "overdue",
                "next_due": _deadline_json(due) if due else None,
                "departments": list(state.departments), "fields": json.loads(clear),
            })
        return out

    def opened(self, case_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The fields of these cases, sealed ones opened (a list's titles): only the rows a
        screen shows are unsealed, not every case of the county."""
        return {rid: self.store.get(self.subject.name, rid)["fields"] for rid in case_ids}

    def figures(self, now: datetime | None = None) -> case_cache.Figures:
        """Open and overdue cases and the nearest deadline, from the cached steps and
        deadlines: one query, however many cases (the home screen's, every few seconds)."""
        return case_cache.figures(self.store.conn, self.workflow, (now or self.now()).timestamp())

    def attention(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Open cases with a deadline still to meet, the nearest (or most overdue) first."""
        waiting = [c for c in self.summaries(now, open_only=True) if c["next_due"]]
        return sorted(waiting, key=lambda c: c["next_due"]["seconds_left"])


def grid_names(store: Store) -> dict[str, str]:
    """Grid code -> the grid's name, from the grid records (clear columns: no unsealing)."""
    return {str(code): str(name) for code, name in store.conn.execute(
        "SELECT json_extract(clear, '$.code'), json_extract(clear, '$.name') FROM records"
        " WHERE entity = 'grid' AND deleted = 0") if code and name}


def _deadline_json(d: Deadline) -> dict[str, Any]:
    return {"step": d.step, "due": d.due.isoformat(), "status": d.status,
            "reached_at": d.reached_at.isoformat() if d.reached_at else None,
            "seconds_left": round(d.seconds_left)}
