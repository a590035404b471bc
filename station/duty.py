"""School-gate guard duty (护学岗): posts, shifts, the day's roster, sign-in and sign-out.

A shift is uncovered when, at a moment inside it, nobody has signed in for it (or the guard
has already signed out). Which kinds of people stand guard (parent, teacher, guard, police)
is a code table, not code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from station.store import CHINA_TZ, Store
from sync.errors import ValidationError


@dataclass(frozen=True)
class Shift:
    id: str
    post: str
    day: str
    start: str  # HH:MM
    end: str
    kind: str
    signed_in_at: str | None
    signed_out_at: str | None


def covered(shift: Shift, moment: datetime) -> bool | None:
    """True or False while `moment` falls inside the shift; None outside it. Pure."""
    local = moment.astimezone(CHINA_TZ)
    if local.date().isoformat() != shift.day or not shift.start <= local.strftime("%H:%M") < shift.end:
        return None
    signed_in = shift.signed_in_at is not None and datetime.fromisoformat(shift.signed_in_at) <= moment
    signed_out = shift.signed_out_at is not None and datetime.fromisoformat(shift.signed_out_at) <= moment
    return signed_in and not signed_out


class Duty:
    def __init__(self, store: Store) -> None:
        self.store = store

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.store.clock.wall_ms() / 1000, CHINA_TZ)

    def shifts(self, day: str | None = None) -> list[Shift]:
        sql = "SELECT id, clear FROM records WHERE entity = 'duty_shift' AND deleted = 0"
        args: list[Any] = []
        if day:
            sql += " AND json_extract(clear, '$.day') = ?"
            args.append(day)
        out = []
        for rid, clear in self.store.conn.execute(sql, args):
            f = json.loads(clear)
            out.append(Shift(rid, f["post"], f["day"], f["start_time"], f["end_time"], f["kind"],
                             f.get("signed_in_at"), f.get("signed_out_at")))
        return sorted(out, key=lambda s: (s.day, s.start, s.post, s.id))

    def roster(self, day: str | None = None) -> list[dict[str, Any]]:
        """The day's shifts with their post and school, in time order."""
        day = day or self.now().date().isoformat()
        posts = self._posts()
        return [{**_shift_json(s), "school": posts.get(s.post, {}).get("school"),
                 "post_name": posts.get(s.post, {}).get("name")} for s in self.shifts(day)]

    def sign(self, shift_id: str, what: str, at: str | None = None) -> None:
        """Sign in ('in') or out ('out') of a shift; signing out needs a sign-in first."""
        moment = at or self.now().isoformat(timespec="seconds")
        with self.store.atomic() as writes:
            fields = self.store.get("duty_shift", shift_id)["fields"]
            if what == "out" and not fields.get("signed_in_at"):
                raise ValidationError("signed_out_at", "signed_in_first", "尚未签到，不能签退",
                                      "cannot sign out before signing in")
            writes.update("duty_shift", shift_id, {f"signed_{what}_at": moment})

    def uncovered(self, moment: datetime | None = None) -> list[dict[str, Any]]:
        """Shifts running at `moment` that nobody is covering, with their post and school."""
        moment = moment or self.now()
        posts = self._posts()
        return [{**_shift_json(s), "school": posts.get(s.post, {}).get("school"),
                 "post_name": posts.get(s.post, {}).get("name")}
                for s in self.shifts(moment.astimezone(CHINA_TZ).date().isoformat())
                if covered(s, moment) is False]

    def _posts(self) -> dict[str, dict[str, Any]]:
        return {rid: json.loads(clear) for rid, clear in self.store.conn.execute(
            "SELECT id, clear FROM records WHERE entity = 'duty_post' AND deleted = 0")}


def _shift_json(s: Shift) -> dict[str, Any]:
    return {"id": s.id, "post": s.post, "day": s.day, "start_time": s.start, "end_time": s.end,
            "kind": s.kind, "signed_in_at": s.signed_in_at, "signed_out_at": s.signed_out_at}
