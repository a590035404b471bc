"""The kiosk's import from a USB stick, driven by Pilot at 80x24: the list's Ctrl+O, the
sheets on the stick (a folder given as a `usb_roots` root), the check naming each bad cell,
and the import all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, RichLog

from station.store import Store
from station.usb_files import find_files, roots_of
from tui.app import make_app
from tui.screens.importing import SHEET_SUFFIXES, ImportScreen
from tui.screens.records import RecordsScreen

from .test_spreadsheet import HEADERS, people_rows, write_xlsx, wrong_check_digit
from .test_tui import footer_text, open_records, run, until
from .test_tui_lists import screen_lines


def stick(store: Store, tmp_path: Path) -> Path:
    """A folder standing for a mounted stick, made a root through the station's setting."""
    root = tmp_path / "U盘"
    (root / "台账" / ".Trash-1000").mkdir(parents=True)
    with store.atomic() as writes:
        writes.put_settings(usb_roots=json.dumps([str(root)]))
    return root


def log_text(pilot: Pilot[None]) -> str:
    """The report as one text, its wrapping undone (a long path breaks anywhere)."""
    log = pilot.app.screen.query_one("#import-log", RichLog)
    return "".join(line.text.rstrip() for line in log.lines)


def test_import_a_sheet_from_a_stick_after_its_check_names_the_bad_cell(
        store: Store, tmp_path: Path) -> None:
    root = stick(store, tmp_path)
    rows = people_rows(500, seed=41)
    bad = [list(r) for r in rows]
    bad[310][1] = wrong_check_digit(bad[310][1])
    write_xlsx(root / "台账" / "实有人口-有误.xlsx", HEADERS, bad)
    write_xlsx(root / "台账" / "实有人口.xlsx", HEADERS, rows)
    (root / "台账" / "说明.txt").write_text("不是表格", encoding="utf-8")
    write_xlsx(root / "台账" / ".Trash-1000" / "旧.xlsx", HEADERS, rows[:1])
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await open_records(pilot)
        assert "导入" in footer_text(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(pilot.app.screen, ImportScreen))
        table = pilot.app.screen.query_one("#import-files", DataTable)
        shown = [str(table.get_row(key)[0]) for key in table.rows]
        assert sorted(shown) == ["台账/实有人口-有误.xlsx", "台账/实有人口.xlsx"]
        assert any("从U盘导入实有人口" in line for line in screen_lines(pilot.app))
        bad_row = shown.index("台账/实有人口-有误.xlsx")
        table.move_cursor(row=bad_row)
        await pilot.press("enter")
        await until(pilot, lambda: "未保存任何记录" in log_text(pilot), seconds=30)
        assert "第 312 行 B 列（公民身份号码）" in log_text(pilot)
        await pilot.press("ctrl+s")  # refused: the last check did not pass
        await pilot.pause()
        assert "请先选择一个表格并按回车检查" in log_text(pilot)
        assert store.count("person") == 0
        table.move_cursor(row=1 - bad_row)
        await pilot.press("enter")
        await until(pilot, lambda: "500 行都可以导入" in log_text(pilot), seconds=30)
        assert store.count("person") == 0  # a check writes nothing
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "已导入 500 条记录" in log_text(pilot), seconds=60)
        assert store.count("person") == 500
        lines = screen_lines(pilot.app)
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordsScreen))
        records = pilot.app.screen.query_one("#records", DataTable)
        assert records.row_count == 50  # the list reloaded with the people just imported

    run(app, scenario)
    exported = {r["fields"]["id_number"] for r in store.export("person")}
    assert exported == {r[1] for r in rows}


def test_the_screen_speaks_english_and_says_where_it_looked(store: Store, tmp_path: Path) -> None:
    root = stick(store, tmp_path)
    store.lock()
    app = make_app(store, lang="en")

    async def scenario(pilot: Pilot[None]) -> None:
        await open_records(pilot)
        assert "Import" in footer_text(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(pilot.app.screen, ImportScreen))
        table = pilot.app.screen.query_one("#import-files", DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["File", "Size", "Changed"]
        assert "Import Person from a USB stick" in "\n".join(screen_lines(pilot.app))
        if not table.row_count:  # nothing on this machine's /media and /mnt either
            assert "looked in" in log_text(pilot) and str(root) in log_text(pilot)

    run(app, scenario)


def test_sheets_are_listed_from_the_usb_roots_newest_first_without_lock_files(tmp_path: Path) -> None:
    assert roots_of({"usb_roots": json.dumps([f"{tmp_path}/a", f"{tmp_path}/b"])}) == [
        tmp_path / "a", tmp_path / "b"]
    deep = tmp_path / "a" / "1" / "2" / "3" / "4" / "5" / "6" / "7"
    deep.mkdir(parents=True)
    (deep / "too-deep.csv").write_text("x", encoding="utf-8")
    (tmp_path / "a" / "1" / "~$lock.xlsx").write_text("x", encoding="utf-8")
    (tmp_path / "a" / "1" / "人口.CSV").write_text("x", encoding="utf-8")
    (tmp_path / "a" / "1" / "photo.jpg").write_text("x", encoding="utf-8")
    found = find_files([tmp_path / "a", tmp_path / "missing"], SHEET_SUFFIXES)
    assert [f.shown for f in found] == ["1/人口.CSV"]


def test_a_sheet_with_a_grid_outside_the_scope_is_refused_on_the_kiosk(
        store: Store, tmp_path: Path) -> None:
    """Scope checked at entry on the kiosk's import too: the check names the cell, the field
    and the station's township, and Ctrl+S saves nothing."""
    from .conftest import TOWNSHIP

    root = stick(store, tmp_path)
    rows = [list(r) for r in people_rows(20, seed=42)]
    rows[3][4] = "440524002001"  # row 5, E: the next township's grid
    write_xlsx(root / "实有人口.xlsx", HEADERS, rows)
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await open_records(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(pilot.app.screen, ImportScreen)
                    and pilot.app.screen.query_one("#import-files", DataTable).row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: "未保存任何记录" in log_text(pilot), seconds=30)
        assert "第 5 行 E 列（所属网格）" in log_text(pilot)
        said = f"所属网格 440524002001 不在本站范围内（本站乡镇 {TOWNSHIP}）".replace(" ", "")
        assert said in log_text(pilot).replace(" ", "")  # the log wraps at a space
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert store.count("person") == 0

    run(app, scenario)
