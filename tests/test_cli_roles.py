"""Roles on the station through the real `station` command (issue 25 point 6): a gridworker
sees and changes only their grids' records, a volunteer checks in, reports an incident with a
photo and sees their own points, and nothing else; each refusal names the role and the action
on one line, and nothing is saved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import GRID, Cli
from .test_attachments import noise_image

OTHER_GRID = "440524001002"
WORKER_PASS = "gridworker passphrase 1"
VOLUNTEER_PASS = "volunteer passphrase 1"
# ID numbers with valid check digits (GB 11643, worked out by hand for these tests)
IN_GRID = "440524198001010013"
OTHER = "440524199002020023"


@pytest.fixture
def seeded(cli: Cli) -> dict[str, str]:
    """A clerk's store: one person in each of two grids, a volunteer, and a gridworker's and
    a volunteer's keyslots beside the clerk's."""
    ids = {
        "mine": cli("add", "person", "--json", json.dumps(
            {"name": "李网格", "id_number": IN_GRID, "grid": GRID})).stdout.strip(),
        "other": cli("add", "person", "--json", json.dumps(
            {"name": "王邻格", "id_number": OTHER, "grid": OTHER_GRID})).stdout.strip(),
        "volunteer": cli("volunteer", "add", "--json", json.dumps(
            {"name": "赵快递", "phone": "13800138001", "affiliation": "顺丰", "grid": GRID})
        ).stdout.strip(),
    }
    cli("clerk", "add", "王网格", "--role", "gridworker", "--grids", GRID,
        STATION_NEW_PASSPHRASE=WORKER_PASS)
    cli("clerk", "add", "赵志愿", "--role", "volunteer", "--volunteer", ids["volunteer"],
        STATION_NEW_PASSPHRASE=VOLUNTEER_PASS)
    return ids


def as_worker(cli: Cli, *args: str, ok: bool = True) -> str:
    run = cli(*args, ok=ok, STATION_CLERK="王网格", STATION_PASSPHRASE=WORKER_PASS)
    return run.stdout if ok else run.stderr


def as_volunteer(cli: Cli, *args: str, ok: bool = True) -> str:
    run = cli(*args, ok=ok, STATION_CLERK="赵志愿", STATION_PASSPHRASE=VOLUNTEER_PASS)
    return run.stdout if ok else run.stderr


def lines(out: str) -> list[dict[str, object]]:
    return [json.loads(x) for x in out.splitlines()]


def test_clerk_list_shows_each_slots_role(cli: Cli, seeded: dict[str, str]) -> None:
    listed = {r["clerk"]: r for r in lines(cli("clerk", "list").stdout)}
    assert listed["张三"]["role"] == "clerk"
    assert (listed["王网格"]["role"], listed["王网格"]["grids"]) == ("gridworker", [GRID])
    assert (listed["赵志愿"]["role"], listed["赵志愿"]["volunteer"]) == ("volunteer", seeded["volunteer"])


def test_a_gridworker_lists_and_searches_only_their_grids(cli: Cli, seeded: dict[str, str]) -> None:
    assert [r["id"] for r in lines(as_worker(cli, "list", "person"))] == [seeded["mine"]]
    assert [r["id"] for r in lines(as_worker(cli, "export", "person"))] == [seeded["mine"]]
    assert lines(as_worker(cli, "search", OTHER)) == []
    assert [r["id"] for r in lines(as_worker(cli, "search", IN_GRID))] == [seeded["mine"]]
    # the clerk, for comparison, sees both
    assert {r["id"] for r in lines(cli("list", "person").stdout)} == {seeded["mine"], seeded["other"]}


def test_a_gridworker_is_refused_another_grids_record(cli: Cli, seeded: dict[str, str]) -> None:
    before = cli.json("status", "--json")["pending"]
    err = as_worker(cli, "update", "person", seeded["other"], "--json", '{"phone": "13900139000"}',
                    ok=False)
    assert "网格员无权录入或修改实有人口（仅限网格 440524001001）" in err
    assert "a gridworker may not enter or change person records outside grids 440524001001" in err
    err = as_worker(cli, "get", "person", seeded["other"], ok=False)
    assert "网格员无权查看实有人口" in err
    err = as_worker(cli, "add", "person", "--json", json.dumps(
        {"name": "新邻格", "id_number": "44052419700303003X", "grid": OTHER_GRID}), ok=False)
    assert "gridworker may not enter or change person" in err
    # moving one's own record into another grid is refused too
    err = as_worker(cli, "update", "person", seeded["mine"], "--json",
                    json.dumps({"grid": OTHER_GRID}), ok=False)
    assert "outside grids" in err
    assert cli.json("status", "--json")["pending"] == before
    assert cli.json("get", "person", seeded["mine"])["fields"]["grid"] == GRID
    as_worker(cli, "update", "person", seeded["mine"], "--json", '{"phone": "13900139000"}')
    assert cli.json("get", "person", seeded["mine"])["fields"]["phone"] == "13900139000"


@pytest.mark.parametrize(("args", "zh", "en"), [
    (("list", "person"), "志愿者无权查看实有人口", "a volunteer may not read person records"),
    (("search", "李网格"), "志愿者无权查找", "a volunteer may not search"),
    (("export",), "志愿者无权导出", "a volunteer may not export"),
    (("export", "person"), "志愿者无权导出实有人口", "a volunteer may not export person records"),
    (("get", "person", "mine"), "志愿者无权查看实有人口", "a volunteer may not read person"),
    (("clerk", "add", "钱某"), "志愿者无权管理本站的办事员和设置",
     "a volunteer may not manage the station's clerks and settings; nothing was done"),
    (("clerk", "remove", "王网格"), "志愿者无权管理", "a volunteer may not manage"),
    (("reveals",), "志愿者无权管理", "a volunteer may not manage"),
    (("audit", "list"), "志愿者无权管理", "a volunteer may not manage"),
    (("settings", "set", "mask_names", "0"), "志愿者无权管理", "a volunteer may not manage"),
    (("add", "person", "--json", json.dumps({"name": "某", "id_number": "44052419700303003X",
                                             "grid": GRID})),
     "志愿者无权录入或修改实有人口", "a volunteer may not enter or change person records"),
])
def test_a_volunteer_is_refused_base_data_and_the_station(
        cli: Cli, seeded: dict[str, str], args: tuple[str, ...], zh: str, en: str) -> None:
    args = tuple(seeded["mine"] if a == "mine" else a for a in args)
    before = (cli("export").stdout, cli("clerk", "list").stdout, cli("settings", "list").stdout)
    err = as_volunteer(cli, *args, ok=False)
    assert zh in err and en in err
    assert (cli("export").stdout, cli("clerk", "list").stdout, cli("settings", "list").stdout) == before


def test_a_volunteer_is_refused_an_import(cli: Cli, seeded: dict[str, str], tmp_path: Path) -> None:
    sheet = tmp_path / "people.csv"
    sheet.write_text("name,id_number,grid\n某,44052419700303003X,440524001001\n", encoding="utf-8")
    before = cli("export").stdout
    err = as_volunteer(cli, "import", "person", str(sheet), ok=False)
    assert "志愿者无权导入实有人口" in err and "a volunteer may not import person records" in err
    assert cli("export").stdout == before


def test_a_volunteer_checks_in_reports_with_a_photo_and_sees_their_points(
        cli: Cli, seeded: dict[str, str], tmp_path: Path) -> None:
    me = seeded["volunteer"]
    checked = json.loads(as_volunteer(cli, "volunteer", "checkin", "13800138001"))
    assert checked["new"] is True
    case = as_volunteer(cli, "incident", "new", "--role", "volunteer", "--json", json.dumps(
        {"category": "01", "title": "井盖缺失", "grid": GRID})).strip()
    photo = tmp_path / "p.png"
    noise_image(photo, 300, 200)
    stored = json.loads(as_volunteer(cli, "attach", "incident", case, str(photo)))
    assert stored["media_type"] == "image/png"
    # the report names its volunteer, so it earns them points once accepted
    assert cli.json("get", "incident", case)["fields"]["volunteer"] == me
    points = lines(as_volunteer(cli, "volunteer", "points"))
    assert [(p["volunteer"], p["rule"]) for p in points] == [(me, "checkin")]
    # checking in someone else, or reading the ranking of everyone, is refused
    other = cli("volunteer", "add", "--json", json.dumps(
        {"name": "孙外卖", "phone": "13800138002", "affiliation": "美团", "grid": GRID})).stdout.strip()
    err = as_volunteer(cli, "volunteer", "checkin", other, ok=False)
    assert "志愿者无权录入或修改其他志愿者的签到和积分" in err
    cli("volunteer", "checkin", other)  # the clerk checks the other in: now they rank too
    err = as_volunteer(cli, "volunteer", "ranking", ok=False)
    assert "志愿者无权查看义务网格员（仅限本人的记录）" in err
    assert len(lines(as_volunteer(cli, "volunteer", "points"))) == 1  # still their own only


def test_the_audit_trail_names_each_role(cli: Cli, seeded: dict[str, str]) -> None:
    as_worker(cli, "update", "person", seeded["mine"], "--json", '{"phone": "13900139000"}')
    as_volunteer(cli, "volunteer", "checkin", seeded["volunteer"])
    acts = [(e["clerk"], e["role"], e["action"]) for e in lines(cli("audit", "list", "--json").stdout)]
    assert ("王网格", "gridworker", "update") in acts
    assert ("赵志愿", "volunteer", "add") in acts
    assert ("张三", "clerk", "add") in acts
    assert cli.json("audit", "verify")["whole"] is True


def test_a_clerk_does_everything(cli: Cli, seeded: dict[str, str], tmp_path: Path) -> None:
    cli("update", "person", seeded["other"], "--json", '{"phone": "13900139001"}')
    assert len(lines(cli("search", OTHER).stdout)) == 1
    cli("volunteer", "checkin", seeded["volunteer"])
    assert {r["volunteer"] for r in lines(cli("volunteer", "ranking").stdout)} == {seeded["volunteer"]}
    cli("settings", "set", "mask_names", "0")
    cli("clerk", "remove", "王网格")
    assert "王网格" not in cli("clerk", "list").stdout

