"""`station report`: the station's figures in the shape county reports use.

Counts come straight from SQLite over clear columns (entity, the cached workflow step, the
department of each step event), so a report needs no unsealing and no history replay.
"""

from __future__ import annotations

from typing import Any

from station.store import Store
from station.volunteers import Volunteers
from sync.report import case_summary

# Entities that record work rather than base data (reported under their own headings).
# Not base data: casework, and the files attached to records.
_WORK = {"incident", "incident_event", "dispute", "dispute_event", "checkin", "duty_shift",
         "attachment"}


def report(store: Store) -> dict[str, Any]:
    conn = store.conn
    counts = dict(conn.execute(
        "SELECT entity, count(*) FROM records WHERE deleted = 0 GROUP BY entity"))
    out: dict[str, Any] = {"township": store.settings()["township"],
                           "schema_version": store.schema.version}
    for name, workflow in sorted(store.schema.workflows.items()):
        by_step = dict(conn.execute(
            "SELECT step, count(*) FROM records WHERE entity = ? AND deleted = 0 GROUP BY step",
            (workflow.subject_entity,)))
        by_department = dict(conn.execute(
            "SELECT json_extract(clear, '$.department') AS d, count(DISTINCT owner) FROM records"
            " WHERE entity = ? AND deleted = 0 AND d IS NOT NULL GROUP BY d",
            (workflow.event_entity,)))
        out[f"{name}s"] = case_summary(
            by_step, {s.step for s in workflow.steps if s.closes},
            by_department if "department" in store.schema.entity(workflow.event_entity).by_name
            else None)
    work = _WORK | {p.name for wf in store.schema.workflows for p in store.schema.case_parts(wf)}
    out["base_data"] = {e: counts.get(e, 0) for e in store.schema.entities if e not in work}
    entries = Volunteers(store).entries()
    out["volunteers"] = {
        "registered": counts.get("volunteer", 0),
        "checkins": sum(1 for e in entries if e.rule == "checkin"),
        "accepted_reports": sum(1 for e in entries if e.rule == "accepted_report"),
        "points": sum(e.points for e in entries),
    }
    out["duty"] = {"posts": counts.get("duty_post", 0), "shifts": counts.get("duty_shift", 0)}
    return out
