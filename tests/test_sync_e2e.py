"""A station and a real hub over HTTPS on 127.0.0.1: enroll, push, receipts, rejections."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from station import synthetic
from station.store import DB_FILE
from sync import log_lines
from sync.hub import county

from .conftest import GRID, PASSPHRASE, Cli
from .hubserver import HubProcess, HubServer

COUNTY = str(Path(sys.executable).with_name("county"))


def county_cli(home: Path, *args: str) -> str:
    result = subprocess.run([COUNTY, "--home", str(home), *args], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def enroll(cli: Cli, hub: HubServer | HubProcess, *grids: str) -> dict[str, object]:
    args = [f"--grid={g}" for g in grids]
    code = json.loads(county_cli(hub.home, "station", "add", "--township", "440524001", *args))
    return cli.json("enroll", "--hub", hub.url, "--code", code["code"], "--fingerprint",
                    hub.fingerprint)


def believe_in_grids(cli: Cli, *grids: str) -> None:
    """Give the station a wrong idea of its grids, behind its back. It refuses a grid outside
    its scope as the record is entered; this is how a change the hub refuses is still made,
    to show that the hub has the last word and that a refusal blocks nothing."""
    with sqlite3.connect(Path(cli.env["STATION_HOME"]) / DB_FILE) as conn:
        conn.execute("UPDATE settings SET value = ? WHERE key = 'scope_grids'", (json.dumps(grids),))


def test_records_reach_the_hub_with_receipts_and_a_rejection_blocks_nothing(
        cli: Cli, hub: HubServer) -> None:
    assert enroll(cli, hub)["township"] == "440524001"
    people = list(synthetic.people(5, [GRID], seed=4))
    people[2]["grid"] = "440524002001"  # valid, but another township's grid: the hub refuses it
    refused = cli("add", "person", "--json", json.dumps(people[2], ensure_ascii=False), ok=False)
    assert "440524002001 不在本站范围内" in refused.stderr  # at entry, first
    believe_in_grids(cli, GRID, "440524002001")
    for p in people:
        cli("add", "person", "--json", json.dumps(p, ensure_ascii=False))
    result = cli.json("sync", "--once")
    assert (result["pushed"], result["rejected"], result["pending"]) == (4, 1, 0)
    status = cli.json("status", "--json")
    assert status["rejected"] == 1 and status["last_receipt"] and status["last_sync"]
    station_lines = [line for line in cli("export", "person").stdout.splitlines()
                     if "440524002001" not in line]
    assert county_cli(hub.home, "export", "person").splitlines() == station_lines
    again = cli.json("sync", "--once")
    assert (again["pushed"], again["rejected"]) == (0, 0)

    # The clerk sees why, fixes the record and sends it again: it reaches the hub whole.
    (refused,) = [json.loads(x) for x in cli("rejected", "list").stdout.splitlines()]
    assert refused["op"] == "add" and "440524002001" in refused["reason"]
    cli("update", "person", refused["record"], "--json", json.dumps({"grid": GRID}))
    assert cli.json("sync", "--once")["rejected"] == 1  # the fix alone is refused: no add yet
    assert "no refused change" in cli("rejected", "resend", "999", ok=False).stderr
    for r in [json.loads(x) for x in cli("rejected", "list").stdout.splitlines()]:
        cli("rejected", "resend", str(r["seq"]))
    result = cli.json("sync", "--once")
    assert result["rejected"] == 0 and result["pending"] == 0
    assert cli.json("status", "--json")["rejected"] == 0
    assert county_cli(hub.home, "export", "person") == cli("export", "person").stdout


def test_an_enrollment_code_cannot_be_used_twice_or_with_a_wrong_fingerprint(
        cli: Cli, hub: HubServer, tmp_path: Path) -> None:
    code = json.loads(county_cli(hub.home, "station", "add", "--township", "440524001"))["code"]
    err = cli("enroll", "--hub", hub.url, "--code", code, "--fingerprint", "00" * 32, ok=False).stderr
    assert "fingerprint" in err
    cli("enroll", "--hub", hub.url, "--code", code)
    other = Cli(tmp_path / "other")
    other("init", "--township", "440524001", "--name", "另一站", "--clerk", "李四")
    assert "already used" in other("enroll", "--hub", hub.url, "--code", code, ok=False).stderr


def test_a_hub_presenting_another_certificate_is_refused(cli: Cli, hub: HubServer,
                                                         tmp_path: Path) -> None:
    enroll(cli, hub)
    cli("add", "person", "--json", json.dumps(next(synthetic.people(1, [GRID])), ensure_ascii=False))
    hub.stop()
    impostor_home = tmp_path / "impostor"
    county.init(impostor_home)
    impostor = HubServer(impostor_home, port=hub.port).start()
    try:
        err = cli("sync", "--once", ok=False).stderr
        assert "not the one pinned" in err
        assert cli.json("status", "--json")["pending"] == 1  # nothing lost, nothing sent
    finally:
        impostor.stop()


def test_an_unreachable_hub_is_a_clear_retryable_error(cli: Cli, hub: HubServer) -> None:
    enroll(cli, hub)
    cli("add", "person", "--json", json.dumps(next(synthetic.people(1, [GRID])), ensure_ascii=False))
    hub.stop()
    err = cli("sync", "--once", ok=False).stderr
    assert "cannot reach the hub" in err
    assert cli.json("status", "--json")["pending"] == 1


def station(tmp_path: Path, name: str, hub: HubServer, township: str = "440524001") -> Cli:
    run = Cli(tmp_path / name)
    run("init", "--township", township, "--name", f"{name}站", "--clerk", "张三")
    code = json.loads(county_cli(hub.home, "station", "add", "--township", township))["code"]
    run("enroll", "--hub", hub.url, "--code", code)
    return run


def test_three_stations_converge_and_a_concurrent_edit_is_one_conflict_each_side(
        cli: Cli, hub: HubServer, tmp_path: Path) -> None:
    a = cli
    enroll(a, hub)
    b = station(tmp_path, "b", hub)
    elsewhere = station(tmp_path, "c", hub, township="440524002")
    ids = [a("add", "person", "--json", json.dumps(p, ensure_ascii=False)).stdout.strip()
           for p in synthetic.people(3, [GRID], seed=8)]
    a("sync")
    assert b.json("sync")["pulled"] == 3
    assert b("export").stdout == a("export").stdout == county_cli(hub.home, "export")

    original = a.json("get", "person", ids[0])["fields"]["name"]
    a("update", "person", ids[0], "--json", '{"name": "甲方改名"}')
    b("update", "person", ids[0], "--json", '{"name": "乙方改名"}')
    b("update", "person", ids[1], "--json", '{"phone": "13700000000"}')  # no conflict: one side
    a("sync")
    b("sync")
    a("sync")
    assert a("export").stdout == b("export").stdout == county_cli(hub.home, "export")
    for side in (a, b):
        (conflict,) = [json.loads(x) for x in side("conflicts", "list").stdout.splitlines()]
        assert conflict["record"] == ids[0] and conflict["field"] == "name"
        values = {conflict["winner"]["value"], *(v["value"] for v in conflict["losers"])}
        assert values == {"甲方改名", "乙方改名"}
        assert conflict["base"] == original  # what both sides started from
    (at_hub,) = [json.loads(x) for x in county_cli(hub.home, "conflicts").splitlines()]
    assert (at_hub["record"], at_hub["field"], at_hub["base"]) == (ids[0], "name", original)
    assert a.json("get", "person", ids[1])["fields"]["phone"] == "13700000000"

    conflict_id = json.loads(a("conflicts", "list").stdout)["id"]
    a("conflicts", "resolve", conflict_id, "--keep", "local")
    assert a("conflicts", "list").stdout == ""
    a("sync")
    b("sync")
    assert b("conflicts", "list").stdout == ""  # the resolution closed it everywhere
    assert b.json("get", "person", ids[0])["fields"]["name"] == "甲方改名"
    assert a("export").stdout == b("export").stdout == county_cli(hub.home, "export")
    assert county_cli(hub.home, "conflicts") == ""
    assert elsewhere.json("sync")["pulled"] == 0 and elsewhere("export").stdout == ""


@pytest.mark.parametrize("keep", ["deleted", "edited"])
def test_a_delete_that_missed_an_edit_is_a_conflict_settled_either_way_everywhere(
        cli: Cli, hub: HubServer, tmp_path: Path, keep: str) -> None:
    a = cli
    enroll(a, hub)
    b = station(tmp_path, "b", hub)
    rid = a("add", "person", "--json", json.dumps(next(synthetic.people(1, [GRID], seed=5)),
                                                   ensure_ascii=False)).stdout.strip()
    a("sync")
    b("sync")
    b("update", "person", rid, "--json", '{"phone": "13900000000"}')
    a("delete", "person", rid)  # later, without having seen b's edit
    b("sync")
    a("sync")
    b("sync")
    assert a("export").stdout == b("export").stdout == county_cli(hub.home, "export") == ""
    for side in (a, b):
        (conflict,) = [json.loads(x) for x in side("conflicts", "list").stdout.splitlines()]
        assert (conflict["record"], conflict["field"]) == (rid, "_deleted")
        (missed,) = conflict["losers"]
        assert (missed["field"], missed["value"]) == ("phone", "13900000000")
    assert "delete" in b("conflicts", "resolve", conflict["id"], "--value", '"x"', ok=False).stderr
    b("conflicts", "resolve", conflict["id"], "--keep", keep)
    assert b("conflicts", "list").stdout == ""
    b("sync")
    a("sync")
    assert a("conflicts", "list").stdout == "" and county_cli(hub.home, "conflicts") == ""
    assert a("export").stdout == b("export").stdout == county_cli(hub.home, "export")
    if keep == "edited":
        assert a.json("get", "person", rid)["fields"]["phone"] == "13900000000"
        assert a.json("search", "13900000000")  # back in the indexes too
    else:
        assert a("export").stdout == ""


def test_a_delete_reaches_the_other_station_as_a_delete(cli: Cli, hub: HubServer,
                                                        tmp_path: Path) -> None:
    enroll(cli, hub)
    b = station(tmp_path, "b", hub)
    rid = cli("add", "person", "--json", json.dumps(next(synthetic.people(1, [GRID], seed=2)),
                                                     ensure_ascii=False)).stdout.strip()
    cli("sync")
    b("sync")
    cli("delete", "person", rid)
    cli("sync")
    b("sync")
    assert b("export").stdout == "" and county_cli(hub.home, "export") == ""
    assert "no person record" in b("get", "person", rid, ok=False).stderr


def test_the_daemon_notices_a_returning_hub_by_itself(cli: Cli, hub: HubServer) -> None:
    import signal
    import time

    from station.daemon import START_SPREAD

    from .conftest import STATION

    enroll(cli, hub)
    hub.stop()
    stuck: list[str] = []
    # Ctrl-C as a terminal sends it: a test run started in the background (nohup, `&`) has
    # SIGINT ignored, and a child would inherit that and never see it.
    daemon = subprocess.Popen([STATION, "sync", "--daemon"], env=cli.env,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        person = next(synthetic.people(1, [GRID], seed=3))
        rid = cli("add", "person", "--json", json.dumps(person, ensure_ascii=False)).stdout.strip()
        # The daemon's first round waits a random part of START_SPREAD by design (boxes back
        # from a power cut do not knock at once), then meets the dead link.
        deadline = time.monotonic() + START_SPREAD + 20
        while time.monotonic() < deadline and not cli.json("status", "--json")["sync"]["last_error"]:
            time.sleep(0.2)  # waiting for the real daemon to meet the dead link
        assert "cannot reach the hub" in cli.json("status", "--json")["sync"]["last_error"]
        back = HubServer(hub.home, port=hub.port).start()
        try:
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline and rid not in county_cli(hub.home, "export"):
                time.sleep(0.5)
            assert rid in county_cli(hub.home, "export"), "the daemon did not push after the link returned"
            assert cli.json("status", "--json")["pending"] == 0
        finally:
            back.stop()
    finally:
        daemon.send_signal(signal.SIGINT)
        try:
            _, err = daemon.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()  # not raised here: it would hide what failed above, if anything did
            _, err = daemon.communicate(timeout=10)
            print("the daemon did not stop on Ctrl-C within 20 s; its stderr:", err[-2000:])
            stuck.append(err)
    assert not stuck, "the daemon did not stop within 20 s of Ctrl-C"
    # One line per round, key=value: the dead link's rounds, then the one that pushed.
    rounds = [log_lines.parse(line.partition("station.sync ")[2])[1] for line in err.splitlines()
              if "station.sync round " in line]
    assert rounds and rounds[0]["outcome"] == "error" and rounds[0]["error"] == "HubUnreachable"
    assert rounds[0]["retryable"] == "1" and rounds[0]["pending"] == "1"
    pushed = [r for r in rounds if r["outcome"] == "done" and r["pushed"] == "1"]
    assert pushed and pushed[0]["pending"] == "0" and pushed[0]["ms"].isdigit()
    assert PASSPHRASE not in err and "张三" not in err  # nor the clerk, nor what was typed
    assert not [f for f in ("name", "id_number", "phone", "address") if str(person[f]) in err]


def test_the_county_report_matches_the_stations_after_sync(cli: Cli, hub: HubServer) -> None:
    enroll(cli, hub)
    cli("demo-data", "--scale", "small", "--seed", "5", timeout=300)
    cli("sync", timeout=300)
    mine = cli.json("report", "--json")
    county_report = json.loads(county_cli(hub.home, "report", "--json"))
    township = county_report["townships"]["440524001"]
    for kind in ("incidents", "disputes"):
        for key in ("reported", "closed", "closure_rate", "by_step"):
            assert township[kind][key] == mine[kind][key], (kind, key)
    assert township["incidents"]["by_department"] == mine["incidents"]["by_department"]
    assert county_report["county"]["incidents"]["reported"] == 113
    assert township["base_data"]["person"] == mine["base_data"]["person"] == 1_200


def test_two_hub_processes_on_one_postgresql_lose_nothing_and_double_nothing(
        postgres_url: str, tmp_path: Path) -> None:
    """Two stateless hub servers share one database; stations sync through either."""
    import threading

    home = tmp_path / "county"
    county.init(home, postgres_url)
    first, second = HubServer(home).start(), HubServer(home).start()
    try:
        stations = []
        for n, server in enumerate((first, second, first)):
            run = Cli(tmp_path / f"s{n}")
            run("init", "--township", "440524001", "--name", f"{n}站", "--clerk", "张三")
            code = json.loads(county_cli(home, "station", "add", "--township", "440524001"))["code"]
            run("enroll", "--hub", server.url, "--code", code)
            batch = tmp_path / f"people{n}.jsonl"
            batch.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n"
                                     for p in synthetic.people(40, [GRID], seed=n)), encoding="utf-8")
            run("add", "person", "--file", str(batch))
            stations.append(run)
        threads = [threading.Thread(target=run, args=("sync",), kwargs={"timeout": 120})
                   for run in stations]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for run in stations:
            run("sync", timeout=120)
        exports = {run("export").stdout for run in stations}
        assert len(exports) == 1 and exports == {county_cli(home, "export")}
        assert len(exports.pop().splitlines()) == 120
    finally:
        first.stop()
        second.stop()


def test_a_record_that_leaves_a_stations_scope_is_removed_there_without_a_delete(
        cli: Cli, hub: HubServer, tmp_path: Path) -> None:
    enroll(cli, hub)
    narrow = Cli(tmp_path / "narrow")
    narrow("init", "--township", "440524001", "--name", "一网格站", "--clerk", "李四")
    code = json.loads(county_cli(hub.home, "station", "add", "--township", "440524001",
                                 f"--grid={GRID}"))["code"]
    narrow("enroll", "--hub", hub.url, "--code", code)
    rid = cli("add", "person", "--json", json.dumps(next(synthetic.people(1, [GRID], seed=9)),
                                                     ensure_ascii=False)).stdout.strip()
    cli("sync")
    narrow("sync")
    assert narrow.json("get", "person", rid)["id"] == rid
    cli("update", "person", rid, "--json", '{"grid": "440524001002"}')
    cli("sync")
    narrow("sync")
    assert narrow("export").stdout == ""                      # gone from the narrow station
    assert narrow.json("status", "--json")["pending"] == 0     # and not taken for a delete
    assert rid in county_cli(hub.home, "export")               # the record lives on
    assert rid in cli("export").stdout

    # Edited while away, then moved back: the station receives the whole record, not only
    # the fields of the change that moved it.
    cli("update", "person", rid, "--json", '{"phone": "13600000000"}')
    cli("update", "person", rid, "--json", json.dumps({"grid": GRID}))
    cli("sync")
    narrow("sync")
    assert narrow("export").stdout == cli("export").stdout
    assert narrow.json("get", "person", rid)["fields"]["phone"] == "13600000000"
    assert narrow.json("status", "--json")["pending"] == 0
