"""Snapshots of the kiosk app's main screens, in Chinese at 80x24 (pytest-textual-snapshot).

After a deliberate change of a screen: `.venv/bin/pytest tests/test_tui_snapshots.py
--snapshot-update`, look at the new SVGs in tests/__snapshots__/, and commit them."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from station import synthetic
from station.store import Store
from tui.app import StationApp, make_app
from tui.screens.home import HomeScreen
from tui.screens.record_form import RecordForm
from tui.screens.records import RecordsScreen

from .conftest import GRID, PASSPHRASE

SIZE = (80, 24)


@pytest.fixture
def app(store: Store) -> StationApp:
    store.add_many("person", synthetic.people(60, [GRID], seed=11))
    store.lock()
    return make_app(store)


def typed(passphrase: str) -> list[str]:
    return [c if c != " " else "space" for c in passphrase]


def test_unlock_screen(app: StationApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=SIZE)


async def until(pilot: Pilot[None], condition: Any) -> None:
    for _ in range(400):  # a loaded CI machine is slow: wait for the state, not a fixed time
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the app did not get there")


async def home(pilot: Pilot[None]) -> None:
    await pilot.press(*typed(PASSPHRASE), "enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen)
                and pilot.app.screen.query_one("#counts", DataTable).row_count)
    await pilot.pause(0.3)


async def person_list(pilot: Pilot[None]) -> None:
    await home(pilot)
    await pilot.press("b")
    await until(pilot, lambda: isinstance(pilot.app.screen, RecordsScreen) and pilot.app.screen.rows)
    await pilot.pause(0.3)


async def new_person(pilot: Pilot[None]) -> None:
    await person_list(pilot)
    await pilot.press("ctrl+a")
    await until(pilot, lambda: isinstance(pilot.app.screen, RecordForm)
                and isinstance(pilot.app.screen.focused, Input))
    await pilot.pause(0.3)


def test_home_screen(app: StationApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=home)


def test_person_list(app: StationApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=person_list)


def test_new_person_form(app: StationApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=new_person)


def test_incident_list(store: Store, snap_compare: Any) -> None:
    """The open incidents of tests/test_tui_lists.py: named, in Beijing time, overdue in red."""
    from tui.screens.cases import CasesScreen

    from .test_tui_lists import known_data

    known_data(store)
    store.lock()

    async def incidents(pilot: Pilot[None]) -> None:
        await pilot.press(*typed(PASSPHRASE), "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("i")
        await until(pilot, lambda: isinstance(pilot.app.screen, CasesScreen)
                    and pilot.app.screen.query_one("#cases", DataTable).row_count == 3)
        await pilot.pause(0.3)

    assert snap_compare(make_app(store), terminal_size=SIZE, run_before=incidents)
