"""The kiosk app driven by Textual's Pilot at 80x24: unlock, home, language, help, locking."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.pilot import Pilot
from textual.widgets import DataTable, Label, Static

from station.store import Store
from tui.app import StationApp
from tui.help import HelpScreen
from tui.home import HomeScreen
from tui.unlock import UnlockScreen

from .conftest import GRID, PASSPHRASE

SIZE = (80, 24)


def run(app: StationApp, scenario: Callable[[Pilot[None]], Awaitable[None]]) -> None:
    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await scenario(pilot)
    asyncio.run(main())


async def until(pilot: Pilot[None], condition: Callable[[], bool], seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the app did not get there")


async def unlock(pilot: Pilot[None], passphrase: str = PASSPHRASE) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, UnlockScreen))
    for ch in passphrase:
        await pilot.press(ch if ch != " " else "space")
    await pilot.press("enter")


def test_a_wrong_passphrase_is_refused_in_chinese_and_the_right_one_opens_home(store: Store) -> None:
    store.add("person", {"name": "李四", "id_number": "11010519491231002X", "grid": GRID})
    store.lock()
    app = StationApp(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot, "wrong passphrase")
        error = pilot.app.screen.query_one("#unlock-error", Label)
        await until(pilot, lambda: "口令" in str(error.render()))
        assert not store.unlocked
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        table = pilot.app.screen.query_one("#counts", DataTable)
        assert table.get_row("person")[0] == "实有人口" and table.get_row("person")[1] == "1"
        sync = str(pilot.app.screen.query_one("#sync", Static).render())
        assert "待上传: 1" in sync and "未注册" in sync and "数据版本: 1" in sync

    run(app, scenario)


def test_f2_switches_to_english_and_back(store: Store) -> None:
    store.lock()
    app = StationApp(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("f2")
        await pilot.pause()
        assert "Pending: 0" in str(pilot.app.screen.query_one("#sync", Static).render())
        await pilot.press("f2")
        await pilot.pause()
        assert "待上传: 0" in str(pilot.app.screen.query_one("#sync", Static).render())

    run(app, scenario)


def test_help_lists_the_keys_and_ctrl_l_locks_at_once(store: Store) -> None:
    store.lock()
    app = StationApp(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        keys = str(pilot.app.screen.query_one("#help-keys", Static).render())
        assert "锁定 Lock" in keys and "English/中文" in keys and "刷新 Refresh" in keys
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(pilot.app.screen, UnlockScreen))
        assert not store.unlocked

    run(app, scenario)


def test_the_app_locks_itself_when_idle(store: Store) -> None:
    store.lock()
    app = StationApp(store, idle_lock=1.5)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        assert store.unlocked
        await until(pilot, lambda: isinstance(pilot.app.screen, UnlockScreen), seconds=6)
        assert not store.unlocked

    run(app, scenario)
