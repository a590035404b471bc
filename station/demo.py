"""Demo data at the county's own scale, deterministic for a seed.

`seed` is the scale the county reports: 160,000 base-data records, 500 gridworkers (one per
grid), 11,302 incidents of which 11,208 are closed, 4,527 disputes of which 4,403 are closed,
230 courier volunteers, guard posts at 53 schools. `small` is about 1 % of it, for tests and
first looks. Every record goes through the one write path (validated, sealed, logged), so the
data set is also a realistic load for sync. The content depends only on the seed; record ids
are time-ordered UUIDs and so differ between runs.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from station import case_cache, synthetic
from station.store import CHINA_TZ, Store


@dataclass(frozen=True)
class Scale:
    grids: int
    people: int
    buildings: int
    houses: int
    organizations: int
    special_care: int
    incidents: int
    incidents_closed: int
    disputes: int
    disputes_closed: int
    volunteers: int
    schools: int

    @property
    def base_data(self) -> int:
        return self.people + self.buildings + self.houses + self.organizations + self.special_care

    @property
    def expected(self) -> int:
        """About how many records a fill writes, for a progress bar's end (check-ins on two
        days in three of 30, a closed case with all its steps; the seed moves it a little)."""
        return (self.grids + self.base_data + self.volunteers * 21 + self.schools * 2 * 3
                + self.incidents * 6 + self.disputes * 4)


SCALES = {
    "seed": Scale(grids=500, people=120_000, buildings=12_000, houses=20_000, organizations=6_000,
                  special_care=2_000, incidents=11_302, incidents_closed=11_208, disputes=4_527,
                  disputes_closed=4_403, volunteers=230, schools=53),
    "small": Scale(grids=5, people=1_200, buildings=120, houses=200, organizations=60,
                   special_care=20, incidents=113, incidents_closed=112, disputes=45,
                   disputes_closed=44, volunteers=3, schools=1),
}
CHUNK = 20_000
PROGRESS_EVERY = 200
_LOOP = ("discover", "report", "dispose", "feedback", "verify")
_DEPARTMENTS = ("police", "justice", "education", "health", "market", "emergency", "township")


class DemoData:
    def __init__(self, store: Store, scale: Scale, seed: int = 0,
                 today: date | None = None,
                 on_progress: Callable[[str, int, int | None], None] | None = None) -> None:
        self.store = store
        # (stage, done, total): records written so far of the whole set, for a progress bar.
        self.on_progress = on_progress
        self.written = 0
        self.scale = scale
        self.rng = random.Random(seed)
        self.today = today or datetime.fromtimestamp(store.clock.wall_ms() / 1000, CHINA_TZ).date()
        township = store.settings()["township"]
        self.grids = [f"{township}{n:03d}" for n in range(1, scale.grids + 1)]

    def fill(self) -> dict[str, int]:
        """Write the whole data set; returns how many records of each entity were added."""
        added: dict[str, int] = {}
        self._bulk(added, "grid", self._grids())
        people = self._bulk(added, "person", self._people(self.rng.randrange(2**32)))
        buildings = self._bulk(added, "building", self._buildings())
        self._bulk(added, "house", self._houses(buildings))
        self._bulk(added, "organization", self._organizations())
        self._bulk(added, "special_care", self._special_care(people))
        volunteers = self._bulk(added, "volunteer", self._volunteers())
        self._bulk(added, "checkin", self._checkins(volunteers))
        self._cases(added, "incident", self.scale.incidents, self.scale.incidents_closed, volunteers)
        self._cases(added, "dispute", self.scale.disputes, self.scale.disputes_closed, volunteers)
        posts = self._bulk(added, "duty_post", self._posts())
        self._bulk(added, "duty_shift", self._shifts(posts))
        return added

    def _bulk(self, added: dict[str, int], entity: str, rows: Iterator[dict[str, Any]]) -> list[str]:
        ids: list[str] = []
        chunk: list[dict[str, Any]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == CHUNK:
                ids += self._add(entity, chunk)
                chunk = []
        if chunk:
            ids += self._add(entity, chunk)
        added[entity] = added.get(entity, 0) + len(ids)
        return ids

    def _add(self, entity: str, chunk: list[dict[str, Any]]) -> list[str]:
        """One transaction; the progress bar moves every PROGRESS_EVERY records inside it."""
        if self.on_progress is None:
            return self.store.add_many(entity, chunk)
        report, total, start = self.on_progress, self.scale.expected, self.written

        def counted() -> Iterator[tuple[int, dict[str, Any]]]:
            for n, row in enumerate(chunk, start=1):
                yield n, row
                if n % PROGRESS_EVERY == 0 or n == len(chunk):
                    report("records", start + n, total)

        ids = self.store.add_lines(entity, counted())
        self.written += len(ids)
        return ids

    def _grids(self) -> Iterator[dict[str, Any]]:
        for n, code in enumerate(self.grids, start=1):
            yield {"code": code, "name": f"第{n}网格", "township": code[:9],
                   "gridworker": synthetic.chinese_name(self.rng),
                   "gridworker_phone": synthetic.mobile(self.rng),
                   "households": self.rng.randint(150, 600)}

    def _buildings(self) -> Iterator[dict[str, Any]]:
        for _ in range(self.scale.buildings):
            yield {"address": synthetic.address(self.rng), "grid": self.rng.choice(self.grids),
                   "floors": self.rng.randint(1, 18), "use": self.rng.choice(("01", "01", "02", "06"))}

    def _houses(self, buildings: list[str]) -> Iterator[dict[str, Any]]:
        for _ in range(self.scale.houses):
            rented = self.rng.random() < 0.25
            house = {"building": self.rng.choice(buildings), "grid": self.rng.choice(self.grids),
                     "room": f"{self.rng.randint(1, 18)}{self.rng.randint(1, 4):02d}",
                     "use": "02" if rented else "01", "is_rental": rented,
                     "owner": synthetic.chinese_name(self.rng)}
            if rented:
                house["tenant"] = synthetic.chinese_name(self.rng)
            yield house

    def _organizations(self) -> Iterator[dict[str, Any]]:
        trades = ("快递服务部", "超市", "餐饮店", "五金店", "物业服务有限公司", "农业合作社")
        for n in range(self.scale.organizations):
            yield {"name": f"{synthetic.chinese_name(self.rng)}{trades[n % len(trades)]}{n}",
                   "credit_code": synthetic.credit_code(self.rng), "org_kind": "01",
                   "address": synthetic.address(self.rng), "grid": self.rng.choice(self.grids),
                   "legal_rep": synthetic.chinese_name(self.rng), "phone": synthetic.mobile(self.rng)}

    def _special_care(self, people: list[str]) -> Iterator[dict[str, Any]]:
        for person in self.rng.sample(people, self.scale.special_care):
            yield {"person": person, "kind": f"0{self.rng.randint(1, 6)}",
                   "risk_level": f"0{self.rng.randint(1, 4)}", "grid": self.rng.choice(self.grids),
                   "follow_up_days": self.rng.choice((7, 14, 30))}

    def _volunteers(self) -> Iterator[dict[str, Any]]:
        companies = ("顺丰速运", "中通快递", "圆通速递", "美团外卖", "饿了么", "京东物流")
        for _ in range(self.scale.volunteers):
            home = self.rng.choice(self.grids)
            yield {"name": synthetic.chinese_name(self.rng), "phone": synthetic.mobile(self.rng),
                   "kind": self.rng.choice(("01", "02")), "affiliation": self.rng.choice(companies),
                   "grid": home, "grids": [home]}

    def _checkins(self, volunteers: list[str]) -> Iterator[dict[str, Any]]:
        # The last 30 days; couriers check in on about two days in three.
        for back in range(30, 0, -1):
            day = (self.today - timedelta(days=back)).isoformat()
            for v in volunteers:
                if self.rng.random() < 0.66:
                    yield {"volunteer": v, "day": day, "grid": self.rng.choice(self.grids),
                           "station": f"{self.rng.choice(synthetic.VILLAGES)}驿站"}

    def _cases(self, added: dict[str, int], workflow: str, total: int, closed: int,
               volunteers: list[str]) -> None:
        """Subjects in bulk, then their step events in bulk, then the cached steps."""
        wf = self.store.schema.workflow(workflow)
        subjects = [self._incident(volunteers) if workflow == "incident" else self._dispute()
                    for _ in range(total)]
        ids = self._bulk(added, wf.subject_entity, iter(subjects))
        walks = [self._walk(workflow, n < closed) for n in range(total)]
        parent = self.store.schema.entity(wf.event_entity).parent_field or wf.subject_entity
        events = (
            {parent: case_id, "grid": subject["grid"], **event}
            for case_id, subject, walk in zip(ids, subjects, walks, strict=True) for event in walk
        )
        self._bulk(added, wf.event_entity, events)
        with self.store.atomic() as writes:
            writes.set_steps(case_cache.derived(writes.txn.cursor.connection, self.store.schema))

    def _people(self, seed: int) -> Iterator[dict[str, Any]]:
        """The scale's people; on a station that holds people already (demo data twice, or
        after an import) those whose ID number is registered are passed over for others,
        since the register refuses a second one. Looked up only then: it is 0.3 ms a person."""
        if not self.store.count("person"):
            return synthetic.people(self.scale.people, self.grids, seed=seed)
        fresh = (p for p in synthetic.people(10 * self.scale.people + 1000, self.grids, seed=seed)
                 if self.store.registered("person", p) is None)
        return itertools.islice(fresh, self.scale.people)

    def _incident(self, volunteers: list[str]) -> dict[str, Any]:
        titles = ("路灯损坏", "占道经营", "邻里噪音", "消防通道堵塞", "垃圾堆放", "井盖缺失",
                  "电动车违规充电")
        incident = {"category": self.rng.choice(("01", "03", "04", "05", "06", "09")),
                    "title": self.rng.choice(titles), "grid": self.rng.choice(self.grids),
                    "location": synthetic.address(self.rng), "severity": "1",
                    "source": self.rng.choice(("01", "02", "03", "04"))}
        if incident["source"] == "02" and volunteers:
            incident["volunteer"] = self.rng.choice(volunteers)
        return incident

    def _dispute(self) -> dict[str, Any]:
        return {"kind": self.rng.choice(("01", "02", "04", "06", "07", "11")),
                "parties": [synthetic.chinese_name(self.rng), synthetic.chinese_name(self.rng)],
                "description": "双方因琐事发生争执", "grid": self.rng.choice(self.grids),
                "scale": "01", "involved_count": 2}

    def _walk(self, workflow: str, closed: bool) -> list[dict[str, Any]]:
        """Step events of one case: a full walk when closed, part of one when open."""
        start = datetime.combine(self.today - timedelta(days=self.rng.randint(1, 365)),
                                 datetime.min.time(), CHINA_TZ) + timedelta(
            minutes=self.rng.randint(7 * 60, 20 * 60))
        if workflow == "incident":
            steps = list(_LOOP) if closed else list(_LOOP[: self.rng.randint(1, 4)])
            department = self.rng.choice(_DEPARTMENTS)
        else:
            steps = ["register", "mediate", "resolved"] if closed else ["register", "mediate"]
            department = None
        walk = []
        moment = start
        for step in steps:
            event = {"step": step, "at": moment.isoformat(), "role": "gridworker"}
            if department and step in ("dispose", "feedback"):
                event["department"] = department
            walk.append(event)
            moment += timedelta(seconds=self.rng.randint(20, 100))
        return walk

    def _posts(self) -> Iterator[dict[str, Any]]:
        for n in range(1, self.scale.schools + 1):
            for gate in ("东门", "西门"):
                yield {"school": f"第{n}小学", "name": gate, "grid": self.rng.choice(self.grids)}

    def _shifts(self, posts: list[str]) -> Iterator[dict[str, Any]]:
        kinds = ("parent", "teacher", "guard", "police")
        for post in posts:
            for start, end in (("07:20", "08:10"), ("16:20", "17:10")):
                yield {"post": post, "day": self.today.isoformat(), "start_time": start,
                       "end_time": end, "kind": self.rng.choice(kinds),
                       "person_name": synthetic.chinese_name(self.rng),
                       "phone": synthetic.mobile(self.rng), "grid": self.rng.choice(self.grids)}
