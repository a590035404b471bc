"""Snapshots of the kiosk app's main screens, in Chinese at 80x24 (pytest-textual-snapshot).

After a deliberate change of a screen: `.venv/bin/pytest tests/test_tui_snapshots.py
--snapshot-update`, look at the new SVGs in tests/__snapshots__/, and commit them."""

from __future__ import annotations

from typing import Any

import pytest

from station import synthetic
from station.store import Store
from tui.app import StationApp

from .conftest import GRID, PASSPHRASE

SIZE = (80, 24)


@pytest.fixture
def app(store: Store) -> StationApp:
    store.add_many("person", synthetic.people(60, [GRID], seed=11))
    store.lock()
    return StationApp(store)


def typed(passphrase: str) -> list[str]:
    return [c if c != " " else "space" for c in passphrase]


def test_unlock_screen(app: StationApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=SIZE)


def test_home_screen(app: StationApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=SIZE, press=[*typed(PASSPHRASE), "enter", "wait:1500"])


def test_person_list(app: StationApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=SIZE,
                        press=[*typed(PASSPHRASE), "enter", "wait:1500", "b", "wait:300"])


def test_new_person_form(app: StationApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=SIZE, press=[*typed(PASSPHRASE), "enter", "wait:1500",
                                                        "b", "wait:300", "ctrl+a", "wait:300"])
