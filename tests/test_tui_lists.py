"""Lists that name what they show, in Beijing time, at 80x24 (issue 21, points 1 and 2).

One Pilot session on known data: incidents written at known UTC instants, a grid with a name,
a person whose phone two stations changed at once, a last sync at a known UTC instant. The
expected words are worked out by hand from that data; the clock (conftest's NOON) stands at
2026-11-27 12:00 Beijing time."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rich.cells import cell_len
from rich.text import Text
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Label, Static

from station.cases import Cases
from station.store import Store
from sync.protocol import WireChange
from tui.app import make_app
from tui.screens.cases import CaseScreen, CasesScreen
from tui.screens.conflicts import ConflictScreen, ConflictsScreen
from tui.screens.home import HomeScreen

from .conftest import GRID, NOON
from .test_tui import cells, run, unlock, until

GRID2 = "440524001002"
LONG_TITLE = "消防通道被电动车和杂物长期堵塞存在严重安全隐患"
PHONE_HERE, PHONE_THERE, ID_NUMBER = "13812345678", "13987654321", "11010519491231002X"


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def known_data(store: Store) -> dict[str, str]:
    """Two named grids, three open incidents and a phone conflict; the ids by name."""
    store.add("grid", {"code": GRID, "name": "城关第一网格", "township": GRID[:9]})
    store.add("grid", {"code": GRID2, "name": "河西网格", "township": GRID[:9]})
    incidents = Cases(store, "incident")
    # Found 2026-11-25 03:30 UTC = 11:30 Beijing; reported 30 s later with the police. Deadlines
    # count from discovery: dispose was due 11-25 11:33, so at 11-27 12:00 it is two days over.
    old = incidents.open({"category": "03", "title": LONG_TITLE, "grid": GRID, "reporter": "陈建国",
                          "reporter_phone": PHONE_HERE}, at="2026-11-25T03:30:00+00:00")
    incidents.advance(old, "report", department="police", note="已通知派出所",
                      at="2026-11-25T11:30:30+08:00")
    # Found ten minutes ago and reported at 11:50:30: dispose was due 11:53, 7 minutes ago.
    late = incidents.open({"category": "04", "title": "垃圾堆放", "grid": GRID2},
                          at="2026-11-27T11:50:00+08:00")
    incidents.advance(late, "report", at="2026-11-27T11:50:30+08:00")
    # Found 20 s ago by another clerk: report is due at 12:00:40, in 40 s.
    fresh = incidents.open({"category": "09", "title": "路灯损坏", "grid": GRID},
                           at="2026-11-27T11:59:40+08:00", actor="李明")
    person = store.add("person", {"name": "王小明", "id_number": ID_NUMBER, "phone": PHONE_HERE,
                                  "grid": GRID})
    added = store.conn.execute("SELECT created_hlc FROM records WHERE id = ?", (person,)).fetchone()[0]
    store.update("person", person, {"phone": "13812340000"})
    there = f"{ms('2026-11-27T04:01:00+00:00'):015d}.000000.elsewhere"  # 12:01 Beijing
    with store.atomic() as writes:  # the same phone changed elsewhere, unseen here
        writes.apply_remote(WireChange("elsewhere", 1, person, "person", "update", GRID,
                                       {"phone": PHONE_THERE}, there, {"phone": added}, 1,
                                       {"phone": PHONE_HERE}, by="王五"))
        writes.put_settings(last_sync="2026-11-26T06:05:00.000+00:00")  # 14:05 Beijing, yesterday
    return {"old": old, "late": late, "fresh": fresh, "person": person}


def screen_lines(app: App[None]) -> list[str]:
    """The screen as a terminal shows it, line by line."""
    strips = app.screen._compositor.render_strips()
    return ["".join(segment.text for segment in strip) for strip in strips]


def listed(table: DataTable[object]) -> list[str]:
    return [str(key.value) for key in table.rows]


def test_lists_name_their_cases_and_conflicts_in_beijing_time(store: Store) -> None:
    assert datetime.fromtimestamp(NOON / 1000, UTC).isoformat() == "2026-11-27T04:00:00+00:00"
    ids = known_data(store)
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        sync = str(pilot.app.screen.query_one("#sync", Static).render())
        assert "上次同步: 昨天 14:05" in sync and "+00:00" not in sync
        assert "最近时限: 超时 2 天" in str(pilot.app.screen.query_one("#incidents", Static).render())

        await pilot.press("i")
        await until(pilot, lambda: isinstance(pilot.app.screen, CasesScreen))
        screen = pilot.app.screen
        table = screen.query_one("#cases", DataTable)
        await until(pilot, lambda: table.row_count == 3)
        # Most overdue first; each row names its case, category, grid, when found, step, due.
        assert listed(table) == [ids["old"], ids["late"], ids["fresh"]]
        old = cells(table, ids["old"])
        assert old[0].endswith("…") and LONG_TITLE.startswith(old[0][:-1]) and len(old[0]) > 5
        assert old[1:] == ["安全隐患", "城关第一网格", "2026-11-25", "上报", "超时 2 天"]
        assert cells(table, ids["late"]) == ["垃圾堆放", "环境卫生", "河西网格", "10 分钟前",
                                              "上报", "超时 7 分钟"]
        assert cells(table, ids["fresh"]) == ["路灯损坏", "公共设施", "城关第一网格", "刚刚",
                                               "发现", "剩余 40 秒"]
        shown = "\n".join(screen_lines(pilot.app))
        for seconds in re.findall(r"(\d+) 秒", shown):
            assert int(seconds) < 60, shown  # never seconds past a minute
        assert "超时 2 天" in shown and "剩余 40 秒" in shown  # the last column is on screen
        overdue = table.get_row(ids["old"])[0]
        on_time = table.get_row(ids["fresh"])[0]
        assert isinstance(overdue, Text) and isinstance(on_time, Text)
        assert "red" in str(overdue.style) and "red" not in str(on_time.style)

        filter_line = lambda: str(screen.query_one("#cases-filter", Label).render())  # noqa: E731
        await pilot.press("o")  # overdue only
        await until(pilot, lambda: listed(table) == [ids["old"], ids["late"]])
        assert "只看超时: 是" in filter_line()
        await pilot.press("o", "g")  # every case again, then the first grid
        await until(pilot, lambda: listed(table) == [ids["old"], ids["fresh"]])
        assert "网格: 城关第一网格" in filter_line()
        await pilot.press("g")
        await until(pilot, lambda: listed(table) == [ids["late"]])
        await pilot.press("g", "t")  # every grid; the first step
        await until(pilot, lambda: listed(table) == [ids["fresh"]])
        assert "环节: 发现" in filter_line()
        await pilot.press("t")
        await until(pilot, lambda: listed(table) == [ids["old"], ids["late"]])
        await pilot.press(*"tttt", "d")  # back to every open case; newest first
        await until(pilot, lambda: listed(table) == [ids["fresh"], ids["late"], ids["old"]])
        assert "排序: 按发现时间" in filter_line()

        await pilot.press("down", "down", "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, CaseScreen))
        case = pilot.app.screen
        head = str(case.query_one("#case-head", Static).render())
        # Written as 03:30 UTC, shown as 11:30 Beijing time, with the clerk who logged it.
        assert LONG_TITLE in head and "发现登记: 张三 · 2026-11-25 11:30" in head
        fields = str(case.query_one("#case-fields", Static).render())
        for line in (f"事件名称: {LONG_TITLE}", "事件类别: 安全隐患",
                     f"所属网格: 城关第一网格（{GRID}）", "报告人联系方式: 138****5678"):
            assert line in fields.splitlines(), fields
        assert PHONE_HERE not in fields and "陈建国" not in fields and "报告人: 陈**" in fields
        assert store.reveals() == []
        await pilot.press("v")  # the clerk calls the reporter back: the people shown whole, recorded
        await until(pilot, lambda: PHONE_HERE in str(case.query_one("#case-fields", Static).render()))
        assert "报告人: 陈建国" in str(case.query_one("#case-fields", Static).render())
        assert sorted(r["field"] for r in store.reveals()) == ["reporter", "reporter_phone"]
        await pilot.press("v")
        await until(pilot, lambda: PHONE_HERE not in str(case.query_one("#case-fields", Static).render()))
        timeline = str(case.query_one("#case-timeline", Static).render()).splitlines()
        assert "2026-11-25 11:30  发现  张三" in timeline
        assert "2026-11-25 11:30  上报  张三  公安  已通知派出所" in timeline

        await pilot.press("escape", "escape", "c")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConflictsScreen))
        conflicts = pilot.app.screen
        (row,) = conflicts.query_one("#conflicts", DataTable).rows
        assert cells(conflicts.query_one("#conflicts", DataTable), row) == ["实有人口 王**", "联系方式"]
        pane = str(conflicts.query_one("#conflict-values", Static).render())
        assert "联系方式（当前显示）: 139****4321（王五 · 站点 ewhere · 2026-11-27 12:01）" in pane
        assert "联系方式（另一方）: 138****0000（张三 · 本站 · 2026-11-27 12:00）" in pane
        shown = "\n".join(screen_lines(pilot.app))
        for whole in (PHONE_HERE, PHONE_THERE, "13812340000", ID_NUMBER, "王小明"):
            assert whole not in shown
        assert "138****0000（张三 · 本站 · 2026-11-27 12:00）" in shown.replace("\n", "")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConflictScreen))
        title = str(pilot.app.screen.query_one("#conflict-title", Label).render())
        assert title == "实有人口 王** · 联系方式"

    run(app, scenario)


def test_the_home_figures_count_open_and_overdue_cases_and_are_fresh_on_return(
        store: Store) -> None:
    """Three open cases of which two are overdue (known_data's times); a fourth found while
    the clerk is in the case list is counted when she comes back, not by a timer beneath."""
    known_data(store)
    store.lock()
    app = make_app(store)

    def figures(home: HomeScreen) -> str:
        return str(home.query_one("#incidents", Static).render())

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen)
                    and "办理中: 3" in figures(pilot.app.screen))
        home = pilot.app.screen
        assert isinstance(home, HomeScreen)
        assert "已超时: 2" in figures(home) and "最近时限: 超时 2 天" in figures(home)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(pilot.app.screen, CasesScreen))
        Cases(store, "incident").open({"category": "03", "title": "井盖缺失", "grid": GRID},
                                      at="2026-11-27T11:00:00+08:00")  # an hour ago: overdue
        home.tick()  # the five-second timer, while the list is shown
        await pilot.pause(0.3)
        assert "办理中: 3" in figures(home)  # home is not shown: nothing was gathered
        await pilot.press("escape")
        await until(pilot, lambda: "办理中: 4" in figures(home))
        assert "已超时: 3" in figures(home)

    run(app, scenario)


def test_the_person_list_is_made_while_home_waits_and_is_fresh_when_reopened(store: Store) -> None:
    """The list is mounted behind home before the clerk asks for it (the first opening of a
    shift cost a quarter core most of a second), is gone behind the lock, and shown again it
    holds what another thread committed meanwhile (a sync worker), not the page it kept."""
    import random
    import threading
    from datetime import date

    from station.synthetic import id_number
    from tui.screens.records import RecordsScreen
    from tui.widgets.footer import KeyFooter

    rng = random.Random(21)
    born = iter(range(1, 10))

    def person(name: str) -> dict[str, str]:
        return {"name": name, "grid": GRID,
                "id_number": id_number(rng, date(1980, 1, next(born)), True)}

    for name in ("张一", "张二", "张三"):
        store.add("person", person(name))
    store.lock()
    app = make_app(store)

    def status() -> str:
        return str(app.get_screen("records").query_one("#records-status", Label).render())

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        # Not shown, yet mounted with its first page: nothing to wait for on the key.
        await until(pilot, lambda: app.is_screen_installed("records")
                    and app.get_screen("records").is_mounted and status() == "第 1–3 条，共 3 条")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, RecordsScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        ids: list[str] = []
        added = threading.Thread(target=lambda: ids.append(store.add("person", person("李四"))))
        added.start()
        added.join()
        assert len(ids) == 1  # committed by the other thread
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, RecordsScreen))
        assert status() == "第 1–4 条，共 4 条"
        table = app.screen.query_one("#records", DataTable)
        assert table.row_count == 4 and table.cursor_row == 0
        # The footer's keys work by touch as by key: Ctrl+A 新增 opens the new record's form.
        footer = app.screen.query_one(KeyFooter)
        labels = footer.shown_keys()
        assert labels[:3] == ["PgDn 下一页", "PgUp 上一页", "Ctrl+A 新增"]
        start = sum(len(label.encode("gbk")) + 1 for label in labels[:2])  # cells: GBK is 2 per 汉字
        await pilot.click(KeyFooter, offset=(start + 1, 0))
        await until(pilot, lambda: type(app.screen).__name__ == "RecordForm")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RecordsScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        app.action_lock()
        await pilot.pause()
        assert not app.is_screen_installed("records")  # no page of the shift behind the lock

    run(app, scenario)


# Two long descriptions of one case, written here and on another station at once.
DESCRIBED_HERE = ("小区东门外人行道上有三辆电动车和大量纸箱长期堆放，堵住了消防通道，"
                  "居民多次反映无人处理，今早又有老人被绊倒")
DESCRIBED_THERE = ("东门外消防通道被电动车和纸箱堵塞，物业已联系车主挪车，纸箱由环卫当日清运，"
                   "下午复查确认通道畅通无阻碍")


def unspaced(text: str) -> str:
    """Text with its spaces and line breaks taken out: a wrapped value read whole again."""
    return re.sub(r"\s", "", text)


def test_a_conflict_on_a_case_names_it_by_title_and_wraps_both_values_whole(store: Store) -> None:
    """The conflict list and the conflict's screen name a case by its title and show both
    long descriptions in full at 80 columns, wrapped, never cut (the case's own screen shows
    a description whole too); the reporter's phone on the same case stays masked until v."""
    cases = Cases(store, "incident")
    case = cases.open({"category": "03", "title": "消防通道堵塞", "grid": GRID,
                       "description": "消防通道堵塞", "reporter_phone": PHONE_HERE},
                      at="2026-11-27T11:00:00+08:00")
    added = store.conn.execute("SELECT created_hlc FROM records WHERE id = ?", (case,)).fetchone()[0]
    store.update("incident", case, {"description": DESCRIBED_HERE, "reporter_phone": "13812340000"})
    there = f"{ms('2026-11-27T04:01:00+00:00'):015d}.000000.0a1b2c3d4e5f"  # 12:01 Beijing
    with store.atomic() as writes:
        writes.apply_remote(WireChange(
            "0a1b2c3d4e5f", 1, case, "incident", "update", GRID,
            {"description": DESCRIBED_THERE, "reporter_phone": PHONE_THERE}, there,
            {"description": added, "reporter_phone": added}, 1,
            {"description": "消防通道堵塞", "reporter_phone": PHONE_HERE}, by="王五"))
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConflictsScreen))
        table = pilot.app.screen.query_one("#conflicts", DataTable)
        await until(pilot, lambda: table.row_count == 2)
        rows = {cells(table, key)[1]: key for key in table.rows}
        assert set(rows) == {"报告人联系方式", "事件简述"}
        assert all(cells(table, key)[0] == "事件 消防通道堵塞" for key in table.rows)
        table.move_cursor(row=table.get_row_index(rows["事件简述"]))
        await pilot.pause()
        lines = screen_lines(pilot.app)
        assert len(lines) == 24 and all(cell_len(line) <= 80 for line in lines)
        shown = unspaced("".join(lines))
        for value, author in ((DESCRIBED_THERE, "（王五·站点3d4e5f·2026-11-27 12:01）"),
                              (DESCRIBED_HERE, "（张三·本站·2026-11-27 12:00）")):
            assert unspaced(value + author) in shown, "\n".join(lines)
        assert "…" not in "".join(lines)

        table.move_cursor(row=table.get_row_index(rows["报告人联系方式"]))
        await pilot.pause()
        shown = "".join(screen_lines(pilot.app))
        assert "139****4321" in shown and "138****0000" in shown
        assert PHONE_THERE not in shown and "13812340000" not in shown

        table.move_cursor(row=table.get_row_index(rows["事件简述"]))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConflictScreen))
        screen = pilot.app.screen
        await pilot.pause()
        assert str(screen.query_one("#conflict-title", Label).render()) == "事件 消防通道堵塞 · 事件简述"
        lines = screen_lines(pilot.app)
        assert all(cell_len(line) <= 80 for line in lines)
        shown = unspaced("".join(lines))
        assert unspaced(f"本站的值: {DESCRIBED_HERE}（张三 · 本站 · 2026-11-27 12:00）") in shown
        assert unspaced(f"其他站点的值: {DESCRIBED_THERE}（王五 · 站点 3d4e5f · 2026-11-27 12:01）") in shown
        assert unspaced("原值（双方修改前）: 消防通道堵塞") in shown
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConflictsScreen))

        table.move_cursor(row=table.get_row_index(rows["报告人联系方式"]))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConflictScreen))
        screen = pilot.app.screen
        await pilot.pause()
        shown = "".join(screen_lines(pilot.app))
        assert "事件 消防通道堵塞 · 报告人联系方式" in shown
        assert "138****0000" in shown and "139****4321" in shown and PHONE_THERE not in shown
        assert store.reveals() == []
        await pilot.press("v")
        await until(pilot, lambda: PHONE_THERE in "".join(screen_lines(pilot.app)))
        assert "13812340000" in "".join(screen_lines(pilot.app))
        assert [(r["record"], r["field"]) for r in store.reveals()] == [(case, "reporter_phone")]

    run(app, scenario)
