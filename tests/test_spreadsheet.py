"""Spreadsheets in: a township's .xlsx or .csv sheet read, matched and checked cell by cell,
and imported all or nothing (station.spreadsheet, station.imports)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from station import synthetic
from station.imports import ImportRefused, import_file
from station.spreadsheet import (
    SheetError,
    cell_value,
    column_letter,
    decode_csv,
    match_columns,
    parse_map,
    read_csv,
    read_xlsx,
)
from station.store import Store
from sync.errors import ValidationError

from .conftest import GRID

# The headers a township's register uses: the schema's Chinese labels, in the clerk's order.
HEADERS = ("姓名", "公民身份号码", "联系方式", "现住地详址", "所属网格", "人口类型")
KEYS = ("name", "id_number", "phone", "address", "grid", "population_type")
POPULATION = {"01": "户籍人口", "02": "流动人口"}  # labels as a clerk types them


def people_rows(count: int, seed: int = 3) -> list[list[Any]]:
    """Realistic people as sheet rows; the population type by its label, as clerks write it."""
    rows = []
    for person in synthetic.people(count, [GRID], seed=seed):
        row = [person[k] for k in KEYS]
        row[5] = POPULATION[row[5]]
        rows.append(row)
    return rows


def wrong_check_digit(id_number: str) -> str:
    """The same ID number with another last character: a valid number has only one."""
    return id_number[:-1] + ("1" if id_number[-1] != "1" else "2")


def write_xlsx(path: Path, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def csv_bytes(headers: Sequence[str], rows: Sequence[Sequence[Any]], encoding: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def exported_people(store: Store) -> list[dict[str, Any]]:
    return [r["fields"] for r in store.export("person")]


# ---------------------------------------------------------------------- the 500-row sheet

@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_500_row_sheet_with_one_bad_cell_on_row_312_is_refused_whole(
        store: Store, tmp_path: Path, kind: str) -> None:
    rows = people_rows(500)
    rows[310][1] = wrong_check_digit(rows[310][1])  # data row 311 is spreadsheet row 312
    path = tmp_path / f"people.{kind}"
    if kind == "xlsx":
        write_xlsx(path, HEADERS, rows)
    else:
        path.write_bytes(csv_bytes(HEADERS, rows, "utf-8"))
    with pytest.raises(ImportRefused) as refused:
        import_file(store, "person", path)
    assert "第 312 行 B 列（公民身份号码）" in refused.value.zh
    assert "row 312, column B (公民身份号码)" in refused.value.en
    assert [(e.row, e.column) for e in refused.value.report.errors] == [(312, "B")]
    assert store.count("person") == 0 and exported_people(store) == []
    assert store.status()["pending"] == 0  # nothing in the outbox either


def test_the_same_sheet_without_the_bad_cell_goes_in_whole(store: Store, tmp_path: Path) -> None:
    rows = people_rows(500)
    path = write_xlsx(tmp_path / "people.xlsx", HEADERS, rows)
    seen: list[tuple[str, int, int]] = []
    result = import_file(store, "person", path, on_progress=lambda *p: seen.append(p))
    assert len(result.ids) == 500 == store.count("person")
    got = {p["id_number"]: p for p in exported_people(store)}
    for row in rows[:: 50]:
        person = got[row[1]]
        assert (person["name"], person["phone"], person["grid"]) == (row[0], row[2], row[4])
        code = next(c for c, label in POPULATION.items() if label == row[5])
        assert person["population_type"] == code
    assert ("check", 500, 500) in seen and ("write", 500, 500) in seen


def test_a_dry_run_lists_every_bad_cell_and_saves_nothing(store: Store, tmp_path: Path) -> None:
    rows = people_rows(20)
    rows[2][1] = wrong_check_digit(rows[2][1])  # row 4, B
    rows[2][2] = "12345"  # row 4, C too: a row's cells are each checked
    rows[9][4] = "440524002001"  # row 11, E: another township's grid
    rows[14][5] = "外星人"  # row 16, F: no such population type
    rows[17][0] = ""  # row 19, A: the name is required
    path = write_xlsx(tmp_path / "people.xlsx", HEADERS, rows)
    result = import_file(store, "person", path, dry_run=True)
    found = [(e.row, e.column, e.header, e.error.rule) for e in result.report.errors]
    assert found == [(4, "B", "公民身份号码", "id_number"), (4, "C", "联系方式", "phone"),
                     (11, "E", "所属网格", "scope"), (16, "F", "人口类型", "code_table"),
                     (19, "A", "姓名", "required")]
    assert len(result.report.good) == 16 and result.ids == []
    assert store.count("person") == 0


# ---------------------------------------------------------------------- encodings

def test_a_gb18030_csv_as_chinese_excel_saves_it(store: Store, tmp_path: Path) -> None:
    rows = people_rows(30, seed=5)
    data = csv_bytes(HEADERS, rows, "gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the test's file really is not UTF-8
    path = tmp_path / "人口.csv"
    path.write_bytes(data)
    import_file(store, "person", path)
    assert sorted(p["name"] for p in exported_people(store)) == sorted(r[0] for r in rows)


def test_a_utf8_csv_with_a_byte_order_mark(store: Store, tmp_path: Path) -> None:
    rows = people_rows(10, seed=6)
    path = tmp_path / "people.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_bytes(HEADERS, rows, "utf-8"))
    import_file(store, "person", path)
    assert sorted(p["id_number"] for p in exported_people(store)) == sorted(r[1] for r in rows)


def test_decode_csv_takes_utf8_then_gb18030() -> None:
    text = "姓名,性别\n张伟,男\n"
    assert decode_csv(text.encode("utf-8")) == text
    assert decode_csv(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert decode_csv(text.encode("gb18030")) == text
    assert read_csv(text.encode("gb18030")).headers == ("姓名", "性别")


# ---------------------------------------------------------------------- columns and --map

def test_a_map_file_names_the_township_own_headers(store: Store, tmp_path: Path) -> None:
    own = ("序号", "户主姓名", "身份证号", "手机", "住址", "网格编码", "类别")
    rows = [[n, *row] for n, row in enumerate(people_rows(12, seed=7), start=1)]
    path = write_xlsx(tmp_path / "台账.xlsx", own, rows)
    with pytest.raises(SheetError, match="第 A 列“序号”"):
        import_file(store, "person", path)  # without a map the first column matches nothing
    mapping = ("# 本村台账的表头\n序号 = -\n户主姓名 = name\n身份证号 = id_number\n手机 = phone\n"
               "住址 = address\n网格编码 = grid\n类别 = population_type\n")
    import_file(store, "person", path, mapping)
    assert sorted(p["phone"] for p in exported_people(store)) == sorted(r[3] for r in rows)


def test_bad_map_entries_say_which_line_and_why(store: Store) -> None:
    person = store.schema.entity("person")
    with pytest.raises(SheetError, match="第 2 行应为“表头 = 字段名”"):
        parse_map("姓名 = name\n身份证号 id_number\n", person)
    with pytest.raises(SheetError, match="第 1 行：“实有人口”没有字段 idnumber"):
        parse_map("身份证号 = idnumber\n", person)
    with pytest.raises(SheetError, match="表头“手机”已在前面出现"):
        parse_map("手机 = phone\n手机 = notes\n", person)
    with pytest.raises(SheetError, match="表格中没有表头“电话”"):
        match_columns(person, ["姓名"], parse_map("电话 = phone\n", person))


def test_columns_match_by_chinese_label_english_label_or_field_name(store: Store) -> None:
    person = store.schema.entity("person")
    columns = match_columns(person, ["姓名", "ID number", "phone", ""])
    assert [(c.letter, c.field.name) for c in columns] == [("A", "name"), ("B", "id_number"),
                                                          ("C", "phone")]
    with pytest.raises(SheetError, match="第 A 列和第 C 列都对应字段 name"):
        match_columns(person, ["姓名", "phone", "name"])


def test_a_template_s_required_mark_and_a_clerk_s_dates_are_understood(store: Store) -> None:
    person = store.schema.entity("person")
    assert [c.field.name for c in match_columns(person, ["姓名*", "＊公民身份号码"])] == [
        "name", "id_number"]
    birth = person.by_name["birth_date"]
    assert [cell_value(birth, store.schema, v) for v in
            ("1990年1月2日", "1990.1.2", "1990/01/02", "1990-1-2")] == ["1990-01-02"] * 4


def test_code_cells_take_the_code_or_its_label(store: Store) -> None:
    gender = store.schema.entity("person").by_name["gender"]
    population = store.schema.entity("person").by_name["population_type"]
    schema = store.schema
    assert [cell_value(gender, schema, v) for v in ("男", "男性", "1", 1, "女", "Female")] == \
        ["1", "1", "1", "1", "2", "2"]
    assert cell_value(population, schema, 2) == "02"  # Excel dropped the leading zero
    assert cell_value(gender, schema, "未") == "未"  # two labels begin so: left to the rule


def test_numbers_excel_made_of_id_and_phone_cells_come_back_as_text(store: Store) -> None:
    phone = store.schema.entity("person").by_name["phone"]
    assert cell_value(phone, store.schema, 13912345678.0) == "13912345678"


def test_gender_by_label_that_contradicts_the_id_number_names_its_cell(
        store: Store, tmp_path: Path) -> None:
    person = next(synthetic.people(1, [GRID], seed=9))
    wrong = "女" if int(person["id_number"][16]) % 2 else "男"  # 17th digit odd: a man
    path = write_xlsx(tmp_path / "p.xlsx", ["姓名", "公民身份号码", "所属网格", "性别"],
                      [[person["name"], person["id_number"], GRID, wrong]])
    with pytest.raises(ImportRefused, match="第 2 行 D 列（性别）") as refused:
        import_file(store, "person", path)
    assert refused.value.report.errors[0].error.rule == "id_number_mismatch"


def test_column_letters_go_past_z() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == \
        ["A", "Z", "AA", "AB", "ZZ", "AAA"]


def test_a_file_that_is_not_a_sheet_is_refused_with_its_kind(store: Store, tmp_path: Path) -> None:
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(SheetError, match=r"只能导入 \.xlsx 或 \.csv"):
        import_file(store, "person", tmp_path / "old.xls")
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    with pytest.raises(SheetError, match="不是有效的 Excel 文件"):
        import_file(store, "person", tmp_path / "broken.xlsx")
    assert isinstance(SheetError("file", "x", "a", "b"), ValidationError)


def test_read_xlsx_skips_empty_rows_and_keeps_spreadsheet_row_numbers(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "gaps.xlsx", ["姓名"], [["张伟"], [None], ["李娜"]])
    sheet = read_xlsx(path.read_bytes())
    assert sheet.rows == ((2, ("张伟",)), (4, ("李娜",)))


# ---------------------------------------------------------------------- the duplicate hook

def test_rows_the_duplicate_hook_names_are_reported_and_nothing_saved(
        store: Store, tmp_path: Path) -> None:
    rows = people_rows(5, seed=10)
    path = write_xlsx(tmp_path / "p.xlsx", HEADERS, rows)
    known = {rows[3][1]: "0190d1c8-0000-7000-8000-000000000001"}
    asked: list[str] = []

    def duplicates(entity: str, values: dict[str, object]) -> str | None:
        asked.append(entity)
        return known.get(str(values["id_number"]))

    result = import_file(store, "person", path, dry_run=True, duplicates=duplicates)
    assert [(d.row, d.existing) for d in result.report.duplicates] == [
        (5, "0190d1c8-0000-7000-8000-000000000001")]
    assert asked == ["person"] * 5
    with pytest.raises(ImportRefused, match="第 5 行：已登记为记录"):
        import_file(store, "person", path, duplicates=duplicates)
    assert store.count("person") == 0
