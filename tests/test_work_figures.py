"""The work figures kept as facts (issue 23, storage step 6): the county report, the closure
history, the volunteers' points and the open conflicts and duplicates, summed from the facts
the hub keeps in each push's transaction, on both engines.

Two oracles, neither the code under test: the figures of known stations' cases worked out by
hand from the times this test chose and the v1 deadlines (1, 3, 5 minutes from discovery); and
the old computation, which opens every record (`Hub.report_from_records`), on demo data and
these cases, since the start and for every month and a run of days."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from station import keys
from station.cases import Cases
from station.demo import SCALES, DemoData
from station.store import Store
from station.syncer import client_for, enroll, pull, push
from sync.hub import county
from sync.hub.rules import Hub
from sync.report import Period, period_of
from sync.validate import CHINA_TZ

from .conftest import PASSPHRASE
from .hubserver import HubServer

A, B = "440524001", "440524002"
T0 = datetime(2026, 11, 10, 9, 0, tzinfo=CHINA_TZ)  # long past: every unmet deadline is overdue
LOOP = ("report", "dispose", "feedback", "verify")


def at(seconds: float, start: datetime = T0) -> str:
    return (start + timedelta(seconds=seconds)).isoformat()


def incident(grid: str, n: int) -> dict[str, Any]:
    return {"category": "03", "title": f"路灯损坏 {n}", "grid": grid, "location": "人民路"}


@dataclass
class County:
    """Three stations of two townships, synced to one hub, holding the cases below."""

    hub: HubServer
    stations: dict[str, Store]

    def open_hub(self) -> Hub:
        return county.open_hub(self.hub.home)

    def sync(self) -> None:
        for store in self.stations.values():
            client = client_for(store)
            push(store, client)
            pull(store, client)


def station(hub: HubServer, home: Path, township: str, grids: list[str] | None = None) -> Store:
    store = Store.create(home, township=township, name=f"{township}站", clerk="张三",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    enroll(store, hub.url, county.open_hub(hub.home).add_enrollment(township, grids or []),
           hub.fingerprint)
    return store


def known_cases(hub: HubServer, tmp_path: Path) -> County:
    """Township A: four incidents found at T0 — two walked to verification within every
    deadline, one reported 90 s after discovery (its 1-minute deadline missed) and then
    walked through in time, one never reported — so 3 of 4 closed (75.0 %), 1 overdue, and
    deadlines missed: report 2, dispose 1, feedback 1. Each disposal by the police.
    Township B: two incidents, one closed in time by the market office, one reported only
    (dispose and feedback missed); one dispute registered and mediated to resolution, one
    only registered. One person registered at both A stations (a duplicate), and a phone
    edited at both while apart (a conflict). A fifth A incident is found at 23:59:30 on
    11-11 and walked through after midnight: a period ending on 11-11 sees it just found."""
    a1, a2 = station(hub, tmp_path / "a1", A), station(hub, tmp_path / "a2", A)
    b = station(hub, tmp_path / "b", B)
    ga, gb = A + "001", B + "001"
    cases = Cases(a1, "incident")
    for n, times in enumerate(((10, 20, 30, 40), (15, 25, 35, 45), (90, 100, 110, 120))):
        case = cases.open(incident(ga, n), at=at(0))
        for step, t in zip(LOOP, times, strict=True):
            cases.advance(case, step, at=at(t), department="police" if step == "dispose" else None)
    cases.open(incident(ga, 3), at=at(0))
    late = cases.open(incident(ga, 4), at=at(0, datetime(2026, 11, 11, 23, 59, 30, tzinfo=CHINA_TZ)))
    for t, step in zip((40, 60, 80, 100), LOOP, strict=True):
        cases.advance(late, step, at=at(t, datetime(2026, 11, 11, 23, 59, 30, tzinfo=CHINA_TZ)))
    cases_b = Cases(b, "incident")
    done = cases_b.open(incident(gb, 5), at=at(0))
    for step, t in zip(LOOP, (5, 50, 100, 150), strict=True):
        cases_b.advance(done, step, at=at(t), department="market" if step == "dispose" else None)
    half = cases_b.open(incident(gb, 6), at=at(0))
    cases_b.advance(half, "report", at=at(30))
    disputes = Cases(b, "dispute")
    dispute = {"kind": "01", "parties": ["王芳", "李强"], "description": "邻里纠纷", "grid": gb,
               "scale": "01", "involved_count": 2}
    resolved = disputes.open(dispute, at=at(0))
    disputes.advance(resolved, "mediate", at=at(600), extra={"method": "01"})
    disputes.advance(resolved, "resolved", at=at(1200), extra={"agreement": "yes"})
    disputes.open(dispute, at=at(60))
    person = {"name": "李四", "id_number": "11010519491231002X", "grid": ga}
    shared = a1.add("person", person)
    a2.add("person", person)
    world = County(hub, {"a1": a1, "a2": a2, "b": b})
    world.sync()
    world.sync()  # a2 now holds a1's person: both edit its phone while apart
    a1.update("person", shared, {"phone": "13800138000"})
    a2.update("person", shared, {"phone": "13900139000"})
    world.sync()
    return world


@pytest.fixture
def known(hub: HubServer, tmp_path: Path) -> Iterator[County]:
    world = known_cases(hub, tmp_path)
    yield world
    for store in world.stations.values():
        store.close()


def summary(figures: dict[str, Any]) -> tuple[Any, ...]:
    return (figures["reported"], figures["closed"], figures["closure_rate"], figures.get("overdue"),
            figures.get("missed"), figures.get("by_department"))


def test_the_report_sums_known_cases_as_worked_out_by_hand(known: County) -> None:
    hub = known.open_hub()
    now = datetime.now(CHINA_TZ)
    report = hub.report(now=now)
    a, b, whole = report["townships"][A], report["townships"][B], report["county"]
    # A: the five incidents (the late-night one closed in time), 4 of 5 closed.
    assert summary(a["incidents"]) == (5, 4, 80.0, 1, {"report": 2, "dispose": 1, "feedback": 1},
                                       {"police": 3})
    assert summary(b["incidents"]) == (2, 1, 50.0, 1, {"report": 0, "dispose": 1, "feedback": 1},
                                       {"market": 1})
    assert summary(b["disputes"])[:3] == (2, 1, 50.0)
    assert summary(whole["incidents"]) == (7, 5, 71.4, 2, {"report": 2, "dispose": 2, "feedback": 2},
                                           {"market": 1, "police": 3})
    assert a["base_data"] == {"person": 2} and whole["base_data"] == {"person": 2}
    # November 10th alone: the four A incidents found that day, as they stand (3 of 4: 75.0 %).
    day = hub.report(now=now, period=period_of(first="2026-11-10", last="2026-11-10"))
    assert summary(day["townships"][A]["incidents"]) == (4, 3, 75.0, 1,
                                                          {"report": 2, "dispose": 1, "feedback": 1},
                                                          {"police": 3})
    # November 11th: the late incident as it stood at midnight, found 30 s before: nothing due.
    night = hub.report(now=now, period=period_of(first="2026-11-11", last="2026-11-11"))
    assert summary(night["townships"][A]["incidents"]) == (1, 0, 0.0, 0,
                                                            {"report": 0, "dispose": 0, "feedback": 0},
                                                            {})
    assert night["townships"][A]["incidents"]["by_step"] == {"discover": 1}
    assert B not in night["townships"]
    assert hub.open_conflict_count() == 1 and hub.duplicate_count() == 1
    history = hub.closure_history("incident", [date(2026, 11, 9), date(2026, 11, 10), date(2026, 11, 12)])
    assert history == [(date(2026, 11, 9), 0, 0), (date(2026, 11, 10), 6, 4), (date(2026, 11, 12), 7, 5)]


def periods() -> list[Period]:
    today = datetime.now(CHINA_TZ).date()
    months = {(today - timedelta(days=30 * n)).strftime("%Y-%m") for n in range(14)} | {"2026-11"}
    out = [p for m in sorted(months) if (p := period_of(month=m)) is not None]
    out += [Period(date(2026, 11, 9) + timedelta(days=n), date(2026, 11, 9) + timedelta(days=n + k))
            for n in range(4) for k in (0, 1)]
    return out + [Period(today - timedelta(days=n), today) for n in (0, 6, 45)]


def same_as_every_record_says(hub: Hub) -> None:
    now = datetime.now(CHINA_TZ)
    assert hub.report(now=now) == hub.report_from_records(now=now)
    assert hub.report() == hub.report_from_records()
    for period in periods():
        assert hub.report(now=now, period=period) == hub.report_from_records(now=now, period=period), period
    days = [datetime.now(CHINA_TZ).date() - timedelta(days=n) for n in range(400, -1, -7)]
    days += [date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 12)]
    for wf in ("incident", "dispute"):
        assert hub.closure_history(wf, days) == hub.closure_history_from_records(wf, days)
    assert hub.volunteer_points() == hub.volunteer_points_from_records()
    assert hub.open_conflict_count() == len(hub.conflicts())
    assert hub.duplicate_count() == len(hub.duplicates())


def test_the_kept_figures_are_those_read_from_every_record(known: County) -> None:
    DemoData(known.stations["b"], SCALES["small"], seed=3).fill()
    known.sync()
    hub = known.open_hub()
    assert hub.report()["county"]["incidents"]["reported"] == 7 + SCALES["small"].incidents
    same_as_every_record_says(hub)
    # A deleted case, a deleted event and a person deleted leave the figures as the records say.
    b = known.stations["b"]
    first_case = next(r["id"] for r in b.export("incident"))
    b.delete("incident", first_case)
    b.delete("incident_event", next(r["id"] for r in b.export("incident_event")
                                    if r["fields"].get("incident") != first_case))
    b.delete("person", next(r["id"] for r in b.export("person")))
    known.sync()
    same_as_every_record_says(hub)
    # Filled again from the records (as at the first open after the upgrade): the same.
    kept = hub.report(now=datetime.now(CHINA_TZ))
    assert hub.fill_figures() > 0
    assert hub.report(now=datetime.now(CHINA_TZ)) == kept


def test_a_township_that_closed_3_of_its_4_cases_shows_75_percent_in_every_export_and_the_report(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    """Township A found four incidents on November 10th and closed three (worked out by hand
    in `known_cases`): 75 % in the CSV and XLSX exports of that day as in `county report
    --from/--to`; the page's table and chart are read in tests/test_dashboard_browser.py. The
    month of November adds A's late-night case (closed): 4 of 5, 80 %."""
    import io

    from openpyxl import load_workbook

    from .test_dashboard import logged_in
    from .test_dashboard_roles import county_cli

    world = known_cases(sqlite_hub, tmp_path)
    for store in world.stations.values():
        store.close()
    session, _ = logged_in(sqlite_hub)
    day = "?from=2026-11-10&to=2026-11-10"
    as_csv = session.get(f"{sqlite_hub.url}/export/work.csv{day}")
    assert as_csv.status_code == 200
    lines = as_csv.content.decode("utf-8-sig").splitlines()
    column = lines[0].split(",").index("incidents_closure_rate")
    rows = {line.split(",")[0]: line.split(",")[column] for line in lines[1:]}
    assert rows[A] == "75.0%"  # what Excel and WPS read as the number 0.75, shown as a percentage
    as_xlsx = session.get(f"{sqlite_hub.url}/export/work.xlsx{day}")
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).worksheets[0]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == A)
    rate = row[header.index("incidents_closure_rate")]
    assert (rate.value, rate.number_format, rate.data_type) == (0.75, "0.0%", "n")

    def rate_of(*period: str) -> float:
        report = json.loads(county_cli(sqlite_hub.home, "report", "--json", *period).stdout)
        return float(report["townships"][A]["incidents"]["closure_rate"])

    assert rate_of("--from", "2026-11-10", "--to", "2026-11-10") == 75.0
    assert rate_of("--month", "2026-11") == 80.0 == rate_of()
    # A wrong period is one line naming the rule, and no figures.
    for args, words in ((("--month", "2026-13"), "月份应为 YYYY-MM"),
                        (("--month", "2026-11", "--from", "2026-11-01", "--to", "2026-11-02"), "只能选一种"),
                        (("--from", "2026-11-10"), "起止日期都要填写"),
                        (("--from", "2026-11-10", "--to", "2026-11-09"), "结束日期不能早于开始日期")):
        refused = county_cli(sqlite_hub.home, "report", "--json", *args, ok=False)
        assert words in refused.output and "townships" not in refused.output, args
        assert len(refused.output.strip().splitlines()) == 1, refused.output
