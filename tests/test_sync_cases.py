"""Incidents across stations: step events merge by union; only an impossible pair needs a
person, and acting on the case settles it everywhere."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import GRID, Cli
from .hubserver import HubServer
from .test_sync_e2e import county_cli, enroll, station


def test_verified_there_and_sent_back_here_is_one_clash_settled_by_acting(
        cli: Cli, sqlite_hub: HubServer, tmp_path: Path) -> None:
    a = cli
    enroll(a, sqlite_hub)
    b = station(tmp_path, "b", sqlite_hub)
    case = a("incident", "new", "--json", json.dumps(
        {"category": "03", "title": "路灯损坏", "grid": GRID})).stdout.strip()
    for step in ("report", "dispose", "feedback"):
        a("incident", "advance", case, step)
    a("sync")
    b("sync")
    assert b.json("incident", "show", case)["step"] == "feedback"
    # Offline: B sends it back (verification failed), then A verifies it.
    b("incident", "advance", case, "dispose", "--note", "仍有隐患")
    a("incident", "advance", case, "verify")
    for run in (a, b, a):
        run("sync")
    shown = [run.json("incident", "show", case) for run in (a, b)]
    assert shown[0]["step"] == shown[1]["step"] == "dispose"   # the same verdict on both sides
    assert [e["applied"] for e in shown[0]["events"]] == [e["applied"] for e in shown[1]["events"]]
    for run in (a, b):
        (clash,) = [json.loads(x) for x in run("conflicts", "list").stdout.splitlines()]
        assert clash["field"] == "step" and [v["value"] for v in clash["losers"]] == ["verify"]
        assert "step_conflict" in run("conflicts", "resolve", clash["id"], "--keep", "local",
                                      ok=False).stderr
    b("incident", "advance", case, "feedback", "--note", "已整改")  # a person acts on it
    b("sync")
    a("sync")
    assert a("conflicts", "list").stdout == b("conflicts", "list").stdout == ""
    assert a.json("incident", "show", case)["step"] == "feedback"
    assert county_cli(sqlite_hub.home, "export", "incident") == a("export", "incident").stdout


def test_pulled_steps_keep_the_home_screens_overdue_figures_true(
        cli: Cli, sqlite_hub: HubServer, tmp_path: Path) -> None:
    """B's figures come from A's events alone (the cache is set by the pull, not by B)."""
    from datetime import datetime

    from station.cases import Cases
    from station.store import Store

    from .conftest import PASSPHRASE

    a = cli
    enroll(a, sqlite_hub)
    b = station(tmp_path, "b", sqlite_hub)
    case = a("incident", "new", "--at", "2026-11-28T09:00:00+08:00", "--json", json.dumps(
        {"category": "03", "title": "路灯损坏", "grid": GRID})).stdout.strip()
    a("sync")
    b("sync")
    when = datetime.fromisoformat("2026-11-28T09:01:30+08:00")

    def figures_on_b() -> tuple[int, int, float | None]:
        store = Store.open(Path(b.env["STATION_HOME"]))
        try:
            store.unlock(PASSPHRASE)
            f = Cases(store, "incident").figures(when)
        finally:
            store.close()
        return f.open, f.overdue, None if f.next_due is None else f.next_due - when.timestamp()

    assert figures_on_b() == (1, 1, -30)        # reporting was due at 09:01
    a("incident", "advance", case, "report", "--at", "2026-11-28T09:00:30+08:00")
    a("sync")
    b("sync")
    assert figures_on_b() == (1, 0, 90)         # disposal is due at 09:03


def test_a_disputes_parties_and_agreement_reach_the_county_and_another_station(
        cli: Cli, sqlite_hub: HubServer, tmp_path: Path) -> None:
    a = cli
    enroll(a, sqlite_hub)
    b = station(tmp_path, "b", sqlite_hub)
    case = a("dispute", "new", "--json", json.dumps(
        {"kind": "02", "parties": ["王芳", "李建国"], "grid": GRID})).stdout.strip()
    a("dispute", "party", case, "--json", json.dumps({"name": "王芳", "role": "01"}))
    a("dispute", "party", case, "--json", json.dumps(
        {"name": "李建国", "role": "02", "phone": "13800138000"}))
    a("dispute", "advance", case, "mediate", "--method", "01", "--fields", json.dumps(
        {"agreement": "yes", "agreement_text": "李建国赔偿围墙修缮费三千元"}))
    result = json.loads(a("sync").stdout)
    assert result["rejected"] == 0 and result["pending"] == 0
    b("sync")
    shown = b.json("dispute", "show", case)
    assert [(p["name"], p["role"]) for p in shown["parts"]["dispute_party"]] == [
        ("王芳", "01"), ("李建国", "02")]
    assert (shown["events"][-1]["agreement"], shown["events"][-1]["agreement_text"]) == (
        "yes", "李建国赔偿围墙修缮费三千元")
    for entity in ("dispute_party", "dispute_event"):
        assert county_cli(sqlite_hub.home, "export", entity) == a("export", entity).stdout
    # The parties are casework, not base data, in the station's report and the county's.
    county = json.loads(county_cli(sqlite_hub.home, "report", "--json"))
    here = a.json("report", "--json")
    assert "dispute_party" not in here["base_data"] and here["base_data"]["grid"] == 0
    assert all("dispute_party" not in figures["base_data"] for figures in county.values()
               if isinstance(figures, dict) and "base_data" in figures)
    assert county["county"]["disputes"]["reported"] == here["disputes"]["reported"] == 1
