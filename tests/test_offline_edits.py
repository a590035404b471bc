"""Acceptance tests of issue 20, "No offline edit is ever lost": real stations driven through
the `station` command, a real county hub over HTTPS.

Each test is a script of who wrote what and what each station had received when it wrote.
Every expectation comes from that script alone (which writes an author had received, which it
had not), never from the merge code: a write the author had not received when it wrote is
concurrent with it, so it must still be there, shown as a conflict, after everyone syncs.

They fail on the merge that judged "had seen" by clock order (a version saw every version
with a clock at or before its base), and are the acceptance of the causal-context merge.
The grids test also needs `county station grids`, which did not exist when it was written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from station import synthetic

from .conftest import GRID, TOWNSHIP, Cli
from .hubserver import HubServer
from .test_sync_e2e import county_cli, enroll, station

OTHER_GRID = "440524001002"  # another grid of the same township


def rows(run: Cli, *args: str) -> list[dict[str, Any]]:
    """A station command's JSON lines."""
    return [json.loads(line) for line in run(*args).stdout.splitlines()]


def hub_rows(hub: HubServer, *args: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in county_cli(hub.home, *args).splitlines()]


def sides(conflict: dict[str, Any]) -> list[Any]:
    """Every value a conflict shows a clerk: the one shown and the ones that lost."""
    return [conflict["winner"]["value"], *(v["value"] for v in conflict["losers"])]


def add_person(run: Cli, grid: str = GRID, seed: int = 20) -> str:
    person = next(synthetic.people(1, [grid], seed=seed))
    return run("add", "person", "--json", json.dumps(person, ensure_ascii=False)).stdout.strip()


def gridworker(tmp_path: Path, hub: HubServer, *grids: str) -> Cli:
    """A gridworker's station, enrolled for these grids of the township only."""
    run = Cli(tmp_path / "gridworker")
    run("init", "--township", TOWNSHIP, "--name", "网格员站", "--clerk", "王五")
    enroll(run, hub, *grids)
    return run


# --------------------------------------------------------------------------- 1. fields

def test_an_offline_phone_edit_survives_two_later_edits_made_without_it(
        cli: Cli, hub: HubServer, tmp_path: Path) -> None:
    """Station A changes a person's phone while its link is down. Meanwhile station B changes
    the same phone, syncs, and changes it once more. B never had A's number when it typed
    either of its own, so A's number is news to B: when A's link comes back, every station
    and the county must show a conflict between A's number and B's last one. B's first
    number is not a side: B itself replaced it, knowing it."""
    a, b = cli, station(tmp_path, "b", hub)
    enroll(a, hub)
    rid = add_person(a)
    a("sync")
    b("sync")
    a("update", "person", rid, "--json", '{"phone": "13800000001"}')   # A, offline
    b("update", "person", rid, "--json", '{"phone": "13800000002"}')   # B, first
    b("sync")
    b("update", "person", rid, "--json", '{"phone": "13800000003"}')   # B, second: saw its first only
    b("sync")
    a("sync")
    b("sync")

    found = {"A": rows(a, "conflicts", "list"), "B": rows(b, "conflicts", "list"),
             "hub": hub_rows(hub, "conflicts")}
    for where, conflicts in found.items():
        on_phone = [c for c in conflicts if (c["record"], c["field"]) == (rid, "phone")]
        assert len(on_phone) == 1, (
            f"{where}: A's offline phone 13800000001 was never received by B, yet no conflict"
            f" is open on it; conflicts there: {conflicts};"
            f" phone shown on A: {a.json('get', 'person', rid)['fields']['phone']}")
        shown = sides(on_phone[0])
        assert {"13800000001", "13800000003"} <= set(shown), (where, on_phone[0])
        assert "13800000002" not in shown, (where, on_phone[0])  # B had it when it wrote again
        # Each side names the station and clerk that typed it, and when (Beijing time).
        for side in (on_phone[0]["winner"], *on_phone[0]["losers"]):
            writer = {"13800000001": a, "13800000003": b}[side["value"]]
            assert side["station"] == writer.json("status", "--json")["station_id"], side
            assert side["clerk"] == rows(writer, "clerk", "list")[0]["clerk"], side
            assert side["at"].endswith("+08:00"), side
    assert a("export").stdout == b("export").stdout == county_cli(hub.home, "export")


# --------------------------------------------------------------------------- 2. deletes

def test_an_offline_delete_does_not_swallow_two_edits_it_never_saw(
        cli: Cli, hub: HubServer, tmp_path: Path) -> None:
    """Station A deletes a person while offline; station B, not knowing, corrects the
    person's phone twice, syncing in between. A's delete cannot have meant B's corrections:
    both stations must show a delete conflict naming B's edit, and keeping the edit brings the
    person back, with B's last phone, on both stations and at the county."""
    a, b = cli, station(tmp_path, "b", hub)
    enroll(a, hub)
    rid = add_person(a)
    a("sync")
    b("sync")
    a("delete", "person", rid)                                        # A, offline
    b("update", "person", rid, "--json", '{"phone": "13900000001"}')
    b("sync")
    b("update", "person", rid, "--json", '{"phone": "13900000002"}')
    b("sync")
    a("sync")
    b("sync")

    for where, side in (("A", a), ("B", b)):
        conflicts = rows(side, "conflicts", "list")
        deletes = [c for c in conflicts if (c["record"], c["field"]) == (rid, "_deleted")]
        assert len(deletes) == 1, (
            f"{where}: A deleted without having received B's two phone edits, yet no delete"
            f" conflict is open; conflicts there: {conflicts}; export: {side('export').stdout!r}")
        missed = deletes[0]["losers"]
        assert {(v["field"], v["value"]) for v in missed} >= {("phone", "13900000002")}, missed
        assert all(v["field"] == "phone" and v["value"].startswith("139") for v in missed), missed

    (conflict,) = [c for c in rows(a, "conflicts", "list") if c["field"] == "_deleted"]
    a("conflicts", "resolve", conflict["id"], "--keep", "edited")
    a("sync")
    b("sync")
    a("sync")
    for side in (a, b):
        assert side.json("get", "person", rid)["fields"]["phone"] == "13900000002"
        assert side("conflicts", "list").stdout == ""
    assert county_cli(hub.home, "conflicts") == ""
    assert rid in county_cli(hub.home, "export", "person")
    assert a("export").stdout == b("export").stdout == county_cli(hub.home, "export")


# --------------------------------------------------------------------------- 3. step events

def test_an_offline_verification_stays_a_clash_until_someone_who_saw_it_acts(
        cli: Cli, sqlite_hub: HubServer, tmp_path: Path) -> None:
    """A street-light case is at 反馈 (feed back). Station X finds the repair not done and
    sends it back to 处置 (dispose). Station Y, offline and still seeing 反馈, verifies and
    closes it. Station W receives X's send-back (not Y's verification) and feeds back again.
    When Y's link returns, nobody has yet looked at Y's verification: every station must show
    the clash. It is settled only once a clerk who has it in front of them moves the case on."""
    hub = sqlite_hub
    x, y, w = cli, station(tmp_path, "y", hub), station(tmp_path, "w", hub)
    enroll(x, hub)
    case = x("incident", "new", "--json", json.dumps(
        {"category": "03", "title": "路灯损坏", "grid": GRID})).stdout.strip()
    for step in ("report", "dispose", "feedback"):
        x("incident", "advance", case, step)
    for run in (x, y, w):
        run("sync")
    x("incident", "advance", case, "dispose", "--note", "路灯仍不亮")   # X: verification failed
    x("sync")
    y("incident", "advance", case, "verify")                          # Y, offline: verified
    w("sync")                                                         # W has X's event, not Y's
    w("incident", "advance", case, "feedback", "--note", "已更换灯泡")
    w("sync")
    for run in (y, x, w):
        run("sync")

    for name, run in (("X", x), ("Y", y), ("W", w)):
        clashes = [c for c in rows(run, "conflicts", "list")
                   if (c["record"], c["field"]) == (case, "step")]
        assert len(clashes) == 1, (
            f"{name}: Y's verification was seen by no one who acted later, yet no clash is"
            f" open; timeline there: "
            f"{[(e['step'], e['applied']) for e in run.json('incident', 'show', case)['events']]}")
        assert [v["value"] for v in clashes[0]["losers"]] == ["verify"], clashes[0]

    x("incident", "advance", case, "verify")  # X has Y's verification in front of it now
    for run in (x, y, w):
        run("sync")
    for run in (x, y, w):
        assert run("conflicts", "list").stdout == ""
        assert run.json("incident", "show", case)["step"] == "verify"
    assert county_cli(hub.home, "export", "incident") == x("export", "incident").stdout


# --------------------------------------------------------------------------- 4. scope

def test_an_offline_edit_to_a_person_moved_out_of_the_grid_meanwhile_reaches_the_county(
        cli: Cli, hub: HubServer, tmp_path: Path) -> None:
    """A gridworker holds grid 440524001001 only. Offline, they update a resident's phone.
    Meanwhile the township moves that resident to grid 440524001002. The gridworker typed the
    phone while the resident was theirs, without knowing of the move: the county must take the
    phone. Then the resident leaves the gridworker's station, and nothing is left refused."""
    township, worker = cli, gridworker(tmp_path, hub, GRID)
    enroll(township, hub)
    rid = add_person(township)
    township("sync")
    worker("sync")
    worker("update", "person", rid, "--json", '{"phone": "13700000001"}')   # offline
    township("update", "person", rid, "--json", json.dumps({"grid": OTHER_GRID}))
    township("sync")
    result = worker.json("sync")
    township("sync")

    refused = rows(worker, "rejected", "list")
    assert result["rejected"] == 0 and refused == [], (
        f"the gridworker's phone, typed before the move reached them, was refused: {refused}")
    (at_hub,) = [r for r in hub_rows(hub, "export", "person") if r["id"] == rid]
    assert (at_hub["fields"]["phone"], at_hub["fields"]["grid"]) == ("13700000001", OTHER_GRID)
    fields = township.json("get", "person", rid)["fields"]
    assert (fields["phone"], fields["grid"]) == ("13700000001", OTHER_GRID)
    assert rid not in worker("export").stdout                  # gone from the gridworker ...
    assert "no person record" in worker("update", "person", rid, "--json",
                                        '{"phone": "13700000009"}', ok=False).stderr
    assert worker.json("status", "--json")["pending"] == 0     # ... with nothing left behind
    assert township("export").stdout == county_cli(hub.home, "export")


def test_a_move_received_before_any_edit_leaves_nothing_refused_and_nothing_lost(
        cli: Cli, sqlite_hub: HubServer, tmp_path: Path) -> None:
    """The township moves a resident out of the gridworker's grid; the gridworker syncs and
    the resident leaves their station. From then on the gridworker cannot change the resident
    (it is not theirs any more), nothing of theirs is refused, and the county keeps it all."""
    hub = sqlite_hub
    township, worker = cli, gridworker(tmp_path, hub, GRID)
    enroll(township, hub)
    rid = add_person(township)
    township("sync")
    worker("sync")
    township("update", "person", rid, "--json", json.dumps({"grid": OTHER_GRID}))
    township("sync")
    worker("sync")
    assert "no person record" in worker("get", "person", rid, ok=False).stderr
    status = worker.json("status", "--json")
    assert (status["pending"], status["rejected"], rows(worker, "rejected", "list")) == (0, 0, [])
    assert township("export").stdout == county_cli(hub.home, "export")
    assert rid in county_cli(hub.home, "export", "person")


def test_an_offline_edit_in_a_grid_county_it_took_away_meanwhile_reaches_the_county(
        cli: Cli, hub: HubServer, tmp_path: Path) -> None:
    """A gridworker holds two grids. Offline, they update the phone of a resident of the
    second grid. Meanwhile county IT narrows their station to the first grid only. The phone
    was typed while the grid was theirs: the county must take it and pass it on.

    There is no command yet to change an enrolled station's grids: this is written against
    `county station grids STATION_ID --grid G …` (the grids it keeps)."""
    township, worker = cli, gridworker(tmp_path, hub, GRID, OTHER_GRID)
    enroll(township, hub)
    rid = add_person(township, OTHER_GRID)
    township("sync")
    worker("sync")
    worker("update", "person", rid, "--json", '{"phone": "13700000002"}')   # offline
    worker_id = worker.json("status", "--json")["station_id"]
    county_cli(hub.home, "station", "grids", worker_id, "--grid", GRID)
    result = worker.json("sync")
    township("sync")

    refused = rows(worker, "rejected", "list")
    assert result["rejected"] == 0 and refused == [], (
        f"the phone typed while the grid was the gridworker's was refused: {refused}")
    (at_hub,) = [r for r in hub_rows(hub, "export", "person") if r["id"] == rid]
    assert at_hub["fields"]["phone"] == "13700000002"
    assert township.json("get", "person", rid)["fields"]["phone"] == "13700000002"
    assert rid not in worker("export").stdout  # the issue: "the same holds" as for a move
