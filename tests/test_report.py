"""The station report, on demo data whose figures are known by construction."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Cli


def test_small_demo_data_reports_its_own_figures(cli: Cli) -> None:
    added = cli.json("demo-data", "--scale", "small", "--seed", "3")
    report = cli.json("report", "--json")
    assert report["incidents"]["reported"] == 113 == added["incident"]
    assert report["incidents"]["closed"] == 112
    assert report["incidents"]["closure_rate"] == 99.1
    assert (report["disputes"]["reported"], report["disputes"]["closed"]) == (45, 44)
    assert sum(report["incidents"]["by_department"].values()) == 112  # each closed case had one
    base = report["base_data"]
    assert base["person"] + base["building"] + base["house"] + base["organization"] + \
        base["special_care"] == 1_600
    assert report["volunteers"]["checkins"] == added["checkin"]
    assert report["volunteers"]["points"] == report["volunteers"]["checkins"] + \
        5 * report["volunteers"]["accepted_reports"]


def test_demo_data_is_deterministic_for_a_seed(cli: Cli, tmp_path: Path) -> None:
    other = Cli(tmp_path / "other")
    other("init", "--township", "440524001", "--name", "另一站", "--clerk", "李四")
    for run in (cli, other):
        run("demo-data", "--scale", "small", "--seed", "7")

    def content(run: Cli) -> list[str]:
        rows = [json.loads(x) for x in run("export", "person").stdout.splitlines()]
        return sorted(json.dumps(r["fields"], ensure_ascii=False, sort_keys=True) for r in rows)

    assert content(cli) == content(other)


def test_seed_scale_reports_the_county_figures(cli: Cli) -> None:
    """The county's own scale: 160,000 base records, 11,302 incidents (99.2 % closed)."""
    cli("demo-data", "--scale", "seed", timeout=900)
    report = cli.json("report", "--json")
    assert (report["incidents"]["reported"], report["incidents"]["closed"]) == (11_302, 11_208)
    assert report["incidents"]["closure_rate"] == 99.2
    assert (report["disputes"]["reported"], report["disputes"]["closed"]) == (4_527, 4_403)
    assert report["disputes"]["closure_rate"] == 97.3
    base = report["base_data"]
    assert sum(base[e] for e in ("person", "building", "house", "organization",
                                 "special_care")) == 160_000
    assert base["grid"] == 500 and report["volunteers"]["registered"] == 230
    assert report["duty"]["posts"] == 106


def test_closure_over_time_counts_each_case_from_the_day_it_started_and_the_day_it_closed() -> None:
    from datetime import date

    from sync.report import closure_over_time
    from sync.workflow import CaseState, StepEvent

    def case(started: str, closed: str | None) -> CaseState:
        first = StepEvent("e", "reported", "000000000000001.000000.a", started, None)
        reached = {"reported": started} | ({"closed": closed} if closed else {})
        return CaseState("closed" if closed else "reported", closed is not None, (first,), (), reached, ())

    states = [case("2026-11-01T10:00:00+08:00", "2026-11-02T09:00:00+08:00"),
              case("2026-11-02T23:30:00+08:00", None),
              case("2026-11-02T16:00:00+00:00", "2026-11-04T01:00:00+08:00")]  # starts 11-03 in Beijing
    days = [date(2026, 11, d) for d in range(1, 6)]
    assert closure_over_time(states, {"closed"}, days) == [
        (days[0], 1, 0), (days[1], 2, 1), (days[2], 3, 1), (days[3], 3, 2), (days[4], 3, 2)]
