"""Roles on the kiosk (issue 25 point 6), driven by Pilot at 80x24: a volunteer's home shows
only their keys (check in, report, my points) and their own points, a key for base data does
nothing but say it is refused; a gridworker's list shows only their grids' records."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.pilot import Pilot
from textual.widgets import DataTable, Select, Static

from station import keys, roles
from station.store import Store
from station.volunteers import Volunteers
from tui.app import StationApp, make_app
from tui.screens.home import HomeScreen
from tui.screens.record_form import RecordForm
from tui.screens.unlock import UnlockScreen
from tui.widgets.footer import KeyFooter

from .conftest import GRID
from .test_tui import SIZE, unlock, until

OTHER_GRID = "440524001002"
WORKER_PASS = "gridworker passphrase 1"
VOLUNTEER_PASS = "volunteer passphrase 1"


def seed(store: Store) -> dict[str, str]:
    """Two people in the gridworker's grid, one in the next, a volunteer; the two slots."""
    ids = {
        "a": store.add("person", {"name": "李一", "id_number": "440524198001010013", "grid": GRID}),
        "b": store.add("person", {"name": "李二", "id_number": "440524199002020023", "grid": GRID}),
        "c": store.add("person", {"name": "王三", "id_number": "44052419700303003X",
                                  "grid": OTHER_GRID}),
        "volunteer": store.add("volunteer", {"name": "赵快递", "phone": "13800138001",
                                             "affiliation": "顺丰", "grid": GRID}),
    }
    store.add_clerk("王网格", WORKER_PASS, keys.FAST_KDF,
                    roles.Grant("gridworker", frozenset({GRID})))
    store.add_clerk("赵志愿", VOLUNTEER_PASS, keys.FAST_KDF,
                    roles.Grant("volunteer", volunteer=ids["volunteer"]))
    store.lock()
    return ids


def run(app: StationApp, scenario: Callable[[Pilot[None]], Awaitable[None]]) -> None:
    """As tests/test_tui.py runs the app, with its notifications kept (the refusals)."""
    async def main() -> None:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await scenario(pilot)
    asyncio.run(main())


async def unlock_as(pilot: Pilot[None], clerk: str, passphrase: str) -> None:
    """Choose the slot on the unlock screen (as a clerk does with the arrow keys), then type."""
    await until(pilot, lambda: isinstance(pilot.app.screen, UnlockScreen))
    pilot.app.screen.query_one("#clerk", Select).value = clerk
    await unlock(pilot, passphrase)


def footer_keys(pilot: Pilot[None]) -> set[str]:
    return {label for footer in pilot.app.screen.query(KeyFooter) for label in footer.shown_keys()}


def screen_text(pilot: Pilot[None]) -> str:
    return " ".join(str(w.render()) for w in pilot.app.screen.query(Static))


def notices(pilot: Pilot[None]) -> list[str]:
    return [str(n.message) for n in pilot.app._notifications]


def test_a_volunteers_home_shows_only_their_keys_and_refuses_base_data(store: Store) -> None:
    ids = seed(store)
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock_as(pilot, "赵志愿", VOLUNTEER_PASS)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        assert store.clerk == "赵志愿"
        shown = footer_keys(pilot)
        assert {"k 今日签到", "n 上报事件", "p 我的积分"} <= shown
        assert not shown & {"b 基础数据", "i 事件", "c 冲突"}
        await until(pilot, lambda: "本月积分" in screen_text(pilot) or bool(
            pilot.app.screen.query_one("#counts", DataTable).row_count))
        table = pilot.app.screen.query_one("#counts", DataTable)
        assert table.row_count == 3  # today, this month, in all: no base-data counts
        await pilot.press("b")  # base data: refused, and nothing opens
        await pilot.pause()
        assert isinstance(pilot.app.screen, HomeScreen)
        assert any("志愿者无权查看基础数据" in n for n in notices(pilot))
        await pilot.press("v")  # the list of every volunteer: refused too
        await pilot.pause()
        assert isinstance(pilot.app.screen, HomeScreen)
        assert any("志愿者无权导出义务网格员" in n for n in notices(pilot))
        await pilot.press("k")  # check in: one key
        await until(pilot, lambda: any("签到成功" in n for n in notices(pilot)))
        await pilot.press("p")
        await until(pilot, lambda: any("本月积分 1 分，累计 1 分" in n for n in notices(pilot)))
        await pilot.press("n")  # report an incident: the incident form
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordForm))
        assert pilot.app.screen.entity_name == "incident"

    run(app, scenario)
    store.unlock("correct horse battery staple")
    (entry,) = [e for e in Volunteers(store).entries() if e.rule == "checkin"]
    assert entry.volunteer == ids["volunteer"]
    assert [e.role for e in store.audit_trail() if e.clerk == "赵志愿" and e.action == "add"] == ["volunteer"]


def test_a_gridworkers_list_shows_only_their_grids_records(store: Store) -> None:
    ids = seed(store)
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock_as(pilot, "王网格", WORKER_PASS)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        shown = footer_keys(pilot)
        assert "b 基础数据" in shown and "k 今日签到" not in shown
        await pilot.press("b")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "RecordsScreen")
        table = pilot.app.screen.query_one("#records", DataTable)
        await until(pilot, lambda: table.row_count > 0)
        assert {str(k.value) for k in table.rows} == {ids["a"], ids["b"]}

    run(app, scenario)
