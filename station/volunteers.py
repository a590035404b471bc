"""Volunteer gridworkers (义务网格员): daily check-in, a points ledger, a monthly ranking.

Points are never stored: the ledger is derived from the check-ins and the accepted reports,
with the amounts read from the schema's point rules. A check-in repeated on the same day, here
or (after sync) on another station, earns nothing twice.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from station import roles
from station.store import CHINA_TZ, Store
from sync.errors import NotFound, ValidationError
from sync.points import LedgerEntry, ledger, ranking

__all__ = ["LedgerEntry", "Volunteers", "ledger", "ranking"]


class Volunteers:
    def __init__(self, store: Store) -> None:
        self.store = store

    def today(self) -> date:
        return datetime.fromtimestamp(self.store.clock.wall_ms() / 1000, CHINA_TZ).date()

    def own(self) -> str | None:
        """The unlocked volunteer's own record (None: the slot is not a volunteer's)."""
        return self.store.grant.volunteer if self.store.grant.reach == "own" else None

    def find(self, who: str) -> str:
        """A volunteer's id from their id, phone or name (exactly one must match). A
        volunteer's slot finds only themselves: they check in, and see the points of, no one
        else."""
        own = self.own()
        if own is not None:
            fields = self.store.get("volunteer", own)["fields"]
            if who.strip().lower() in {own, str(fields.get("phone")), str(fields.get("name")).lower()}:
                return own
            raise roles.refusal(self.store.grant, "write", "checkin", "其他志愿者的签到和积分",
                                "other volunteers' check-in and points")
        row = self.store.conn.execute(
            "SELECT id FROM records WHERE id = ? AND entity = 'volunteer' AND deleted = 0",
            (who.lower(),)).fetchone()
        if row:
            return str(row[0])
        found = self.store.search(who, "volunteer")
        if len(found) == 1:
            return str(found[0]["id"])
        if not found:
            raise NotFound(f"没有找到志愿者 {who}", f"no volunteer matches {who}")
        raise ValidationError("volunteer", "ambiguous", f"有 {len(found)} 名志愿者匹配，请用编号",
                              f"{len(found)} volunteers match; use the id")

    def check_in(self, who: str, day: str | None = None, station: str | None = None) -> tuple[str, bool]:
        """Check a volunteer in for a day: (check-in id, True if new). Again the same day: the
        existing check-in, nothing written."""
        volunteer_id = self.find(who)
        day = day or self.today().isoformat()
        with self.store.atomic() as writes:
            existing = self.store.conn.execute(
                "SELECT id FROM records WHERE entity = 'checkin' AND owner = ? AND deleted = 0"
                " AND json_extract(clear, '$.day') = ?", (volunteer_id, day)).fetchone()
            if existing:
                return str(existing[0]), False
            volunteer = self.store.get("volunteer", volunteer_id)["fields"]
            values: dict[str, Any] = {"volunteer": volunteer_id, "day": day, "grid": volunteer["grid"]}
            if station:
                values["station"] = station
            return writes.add("checkin", values), True

    def entries(self) -> list[LedgerEntry]:
        conn = self.store.conn
        checkins = [(owner, json.loads(clear)["day"], rid) for rid, owner, clear in conn.execute(
            "SELECT id, owner, clear FROM records WHERE entity = 'checkin' AND deleted = 0")]
        # A report is accepted when the station takes it up: the incident reaches the step
        # after the first. The day is that event's own (local) date.
        loop = self.store.schema.workflow("incident")
        second = next(m.to_step for m in loop.moves if m.from_step == loop.first_step)
        reported: dict[str, str] = {}
        for owner, when in conn.execute(
                "SELECT owner, json_extract(clear, '$.at') FROM records WHERE entity = ?"
                " AND deleted = 0 AND json_extract(clear, '$.step') = ?", (loop.event_entity, second)):
            reported[owner] = min(reported.get(owner, when), when)
        accepted = [(json.loads(clear)["volunteer"], reported[rid][:10], rid)
                    for rid, clear in conn.execute(
                        "SELECT id, clear FROM records WHERE entity = 'incident' AND deleted = 0"
                        " AND json_extract(clear, '$.volunteer') IS NOT NULL")
                    if rid in reported]
        return ledger(checkins, accepted, self.store.schema.point_rules)

    def ranking(self, month: str | None = None) -> list[dict[str, Any]]:
        month = month or self.today().isoformat()[:7]
        out = []
        for place, (volunteer, points) in enumerate(ranking(self.entries(), month), start=1):
            fields = self.store.get("volunteer", volunteer)["fields"]
            out.append({"rank": place, "volunteer": volunteer, "name": fields.get("name"),
                        "affiliation": fields.get("affiliation"), "points": points, "month": month})
        return out
