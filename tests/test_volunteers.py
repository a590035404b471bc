"""Courier volunteers: one check-in a day, points from data rules, a monthly ranking."""

from __future__ import annotations

import json

from sync.points import LedgerEntry, ledger, ranking
from sync.schema import v1_schema

from .conftest import GRID, Cli

RULES = v1_schema().point_rules


def add_volunteer(cli: Cli, name: str, phone: str) -> str:
    return cli("volunteer", "add", "--json", json.dumps(
        {"name": name, "phone": phone, "affiliation": "顺丰速运", "grid": GRID, "grids": [GRID]}
    )).stdout.strip()


def test_a_repeated_check_in_the_same_day_changes_nothing(cli: Cli) -> None:
    vid = add_volunteer(cli, "王小明", "13912345678")
    first = cli.json("volunteer", "checkin", "13912345678", "--day", "2026-11-27")
    assert first["new"] is True
    pending = cli.json("status", "--json")["pending"]
    again = cli.json("volunteer", "checkin", vid, "--day", "2026-11-27")
    assert again == {"checkin": first["checkin"], "new": False}
    assert cli.json("status", "--json")["pending"] == pending  # nothing written
    cli("volunteer", "checkin", vid, "--day", "2026-11-28", "--station", "东村驿站")
    points = [json.loads(x) for x in cli("volunteer", "points", vid).stdout.splitlines()]
    assert [(p["day"], p["rule"], p["points"]) for p in points] == [
        ("2026-11-27", "checkin", 1), ("2026-11-28", "checkin", 1)]


def test_accepted_reports_earn_points_and_the_month_is_ranked(cli: Cli) -> None:
    busy = add_volunteer(cli, "王小明", "13912345678")
    quiet = add_volunteer(cli, "李小红", "13812345678")
    for day in ("2026-11-01", "2026-11-02"):
        cli("volunteer", "checkin", quiet, "--day", day)
    cli("volunteer", "checkin", busy, "--day", "2026-11-03")
    case = cli("incident", "new", "--json", json.dumps(
        {"category": "03", "title": "井盖缺失", "grid": GRID, "source": "02", "volunteer": busy}),
        "--at", "2026-11-05T10:00:00+08:00").stdout.strip()
    unaccepted = cli("incident", "new", "--json", json.dumps(
        {"category": "03", "title": "井盖缺失", "grid": GRID, "source": "02", "volunteer": quiet}),
        "--at", "2026-11-05T10:00:00+08:00").stdout.strip()
    assert unaccepted  # still at discover: earns nothing yet
    cli("incident", "advance", case, "report", "--at", "2026-11-05T10:00:30+08:00")
    rows = [json.loads(x) for x in cli("volunteer", "ranking", "--month", "2026-11").stdout.splitlines()]
    assert [(r["rank"], r["name"], r["points"]) for r in rows] == [(1, "王小明", 6), (2, "李小红", 2)]
    assert cli("volunteer", "ranking", "--month", "2026-10").stdout == ""


def test_checkin_of_an_unknown_volunteer_is_a_clear_error(cli: Cli) -> None:
    assert "no volunteer matches" in cli("volunteer", "checkin", "13000000000", ok=False).stderr


def test_the_ledger_counts_one_check_in_per_day_whatever_the_order() -> None:
    checkins = [("v1", "2026-11-01", "c2"), ("v1", "2026-11-01", "c1"), ("v2", "2026-11-01", "c3")]
    entries = ledger(checkins, [("v1", "2026-11-02", "i1")], RULES)
    assert entries == ledger(list(reversed(checkins)), [("v1", "2026-11-02", "i1")], RULES)
    assert [(e.volunteer, e.rule) for e in entries] == [
        ("v1", "checkin"), ("v2", "checkin"), ("v1", "accepted_report")]
    assert ranking(entries, "2026-11") == [("v1", 6), ("v2", 1)]


def test_ranking_ties_are_broken_by_id() -> None:
    entries = [LedgerEntry("b", "2026-11-01", "checkin", 1, "x"),
               LedgerEntry("a", "2026-11-01", "checkin", 1, "y")]
    assert ranking(entries, "2026-11") == [("a", 1), ("b", 1)]
