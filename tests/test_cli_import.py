"""`station import` from the command line: what a script and a person at a terminal see."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import TOWNSHIP, Cli
from .test_spreadsheet import HEADERS, people_rows, write_xlsx, wrong_check_digit


def test_import_refuses_a_500_row_sheet_with_a_bad_cell_on_row_312(cli: Cli, tmp_path: Path) -> None:
    rows = people_rows(500, seed=21)
    rows[310][2] = "139"  # spreadsheet row 312, column C: not a phone
    path = write_xlsx(tmp_path / "实有人口.xlsx", HEADERS, rows)
    done = cli("import", "person", str(path), ok=False)
    assert "第 312 行 C 列（联系方式）" in done.stderr and "row 312, column C" in done.stderr
    assert "nothing was saved" in done.stderr
    problems = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(p["row"], p["column"], p["field"]) for p in problems] == [(312, "C", "phone")]
    assert cli("export", "person").stdout == ""
    assert cli.json("status", "--json")["pending"] == 0


def test_import_prints_one_id_per_row_and_the_records_match_the_sheet(
        cli: Cli, tmp_path: Path) -> None:
    rows = people_rows(40, seed=22)
    path = tmp_path / "people.csv"
    path.write_bytes(("\n".join([",".join(HEADERS), *(",".join(r) for r in rows)]) + "\n")
                     .encode("gb18030"))
    done = cli("import", "person", str(path))
    ids = done.stdout.split()
    assert len(ids) == 40 and "已导入 40 条记录" in done.stderr
    exported = [json.loads(line) for line in cli("export", "person").stdout.splitlines()]
    assert sorted(r["id"] for r in exported) == sorted(ids)
    assert sorted(r["fields"]["name"] for r in exported) == sorted(r[0] for r in rows)


def test_dry_run_lists_each_bad_cell_as_a_json_line_and_saves_nothing(
        cli: Cli, tmp_path: Path) -> None:
    rows = people_rows(30, seed=23)
    rows[4][1] = wrong_check_digit(rows[4][1])  # row 6, B
    rows[19][5] = "未知"  # row 21, F
    rows[27][4] = "4405240010"  # row 29, E: 10 digits
    path = write_xlsx(tmp_path / "people.xlsx", HEADERS, rows)
    done = cli("import", "person", str(path), "--dry-run", ok=False)
    problems = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(p["row"], p["column"], p["header"]) for p in problems] == [
        (6, "B", "公民身份号码"), (21, "F", "人口类型"), (29, "E", "所属网格")]
    assert all(p["rule"] and p["zh"].startswith(f"第 {p['row']} 行") for p in problems)
    assert "3 个单元格有误" in done.stderr
    assert cli("export", "person").stdout == ""
    good = write_xlsx(tmp_path / "good.xlsx", HEADERS, people_rows(5, seed=24))
    checked = cli("import", "person", str(good), "--dry-run")
    assert checked.stdout == "" and "可导入 5 条" in checked.stderr
    assert cli("export", "person").stdout == ""  # a dry run writes nothing even when clean


def test_a_map_file_and_its_bad_entries(cli: Cli, tmp_path: Path) -> None:
    own = ("户主", "身份证", "电话", "网格")
    rows = [[r[0], r[1], r[2], r[4]] for r in people_rows(8, seed=25)]
    path = write_xlsx(tmp_path / "村台账.xlsx", own, rows)
    bad = tmp_path / "bad.map"
    bad.write_text("户主 = name\n身份证 = id_no\n", encoding="utf-8")
    err = cli("import", "person", str(path), "--map", str(bad), ok=False).stderr
    assert "第 2 行：“实有人口”没有字段 id_no" in err
    good = tmp_path / "good.map"
    good.write_bytes("户主 = name\n身份证 = id_number\n电话 = phone\n网格 = grid\n".encode("gb18030"))
    assert len(cli("import", "person", str(path), "--map", str(good)).stdout.split()) == 8


def test_an_unknown_entity_or_file_type_is_one_line(cli: Cli, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "p.xlsx", HEADERS, people_rows(1))
    assert "没有名为 'people' 的实体" in cli("import", "people", str(path), ok=False).stderr
    (tmp_path / "p.txt").write_text("x", encoding="utf-8")
    assert "只能导入 .xlsx 或 .csv" in cli("import", "person", str(tmp_path / "p.txt"),
                                         ok=False).stderr


def test_usb_roots_is_a_setting_of_absolute_folders(cli: Cli, tmp_path: Path) -> None:
    err = cli("settings", "set", "usb_roots", f"{tmp_path}:U盘", ok=False).stderr
    assert "usb_roots 应为路径的 JSON 列表" in err and "json_list" in err
    roots = json.dumps([f"{tmp_path}/a", f"{tmp_path}/b"], ensure_ascii=False)
    assert cli.json("settings", "set", "usb_roots", roots) == {"key": "usb_roots", "value": roots}
    listed = [json.loads(line) for line in cli("settings", "list").stdout.splitlines()]
    assert next(s for s in listed if s["key"] == "usb_roots")["value"] == roots


def test_a_row_of_someone_already_registered_is_reported_as_a_duplicate_and_nothing_saved(
        cli: Cli, tmp_path: Path) -> None:
    rows = people_rows(30, seed=23)
    name, id_number = rows[19][0], rows[19][1]  # spreadsheet row 21
    existing = cli("add", "person", "--json", json.dumps(
        {"name": name, "id_number": id_number, "grid": rows[19][4]}, ensure_ascii=False)).stdout.strip()
    path = write_xlsx(tmp_path / "实有人口.xlsx", HEADERS, rows)
    done = cli("import", "person", str(path), "--dry-run", ok=False)
    problems = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(problems) == 1 and problems[0]["row"] == 21, problems
    assert existing in done.stdout and "重复" in done.stderr + done.stdout
    refused = cli("import", "person", str(path), ok=False)
    assert "第 21 行" in refused.stderr and "nothing was saved" in refused.stderr
    assert [json.loads(line)["id"] for line in cli("export", "person").stdout.splitlines()] == [existing]


def test_a_row_outside_the_stations_scope_is_refused_at_import_naming_field_and_scope(
        cli: Cli, tmp_path: Path) -> None:
    """Scope checked at entry (issue 21 point 6), on import as in the form and on `station
    add`: a grid of the next township refuses the whole sheet, the message names the field,
    the grid and the station's township, and nothing is saved."""
    rows = people_rows(12, seed=25)
    rows[6][4] = "440524002001"  # spreadsheet row 8, column E: another township's grid
    path = write_xlsx(tmp_path / "实有人口.xlsx", HEADERS, rows)
    done = cli("import", "person", str(path), ok=False)
    assert "第 8 行 E 列（所属网格）" in done.stderr and "nothing was saved" in done.stderr
    (problem,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert (problem["row"], problem["column"], problem["field"], problem["rule"]) == (
        8, "E", "grid", "scope")
    assert f"所属网格 440524002001 不在本站范围内（本站乡镇 {TOWNSHIP}）" in problem["zh"]
    assert f"outside this station's scope (this station's township {TOWNSHIP})" in problem["en"]
    assert cli("export", "person").stdout == ""
    assert cli.json("status", "--json")["pending"] == 0
