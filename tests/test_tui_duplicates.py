"""The kiosk's form at 80x24: typing an ID number already registered shows that person,
masked as a list shows them, and Enter opens their record instead of adding a second one."""

from __future__ import annotations

import random
from datetime import date

from textual.pilot import Pilot
from textual.widgets import Input

from station import synthetic
from station.store import Store
from sync.masking import mask_id_number, mask_phone
from tui.app import make_app
from tui.screens.record import RecordScreen
from tui.screens.record_form import RecordForm
from tui.screens.records import RecordsScreen
from tui.widgets.registered import RegisteredScreen

from .conftest import GRID
from .test_tui import open_records, run, until

ZHANG = synthetic.id_number(random.Random(22), date(1978, 3, 14), True)


async def type_into(pilot: Pilot[None], selector: str, value: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    await pilot.press(*value)


def test_typing_a_registered_id_number_shows_the_person_masked_and_opens_them(store: Store) -> None:
    existing = store.add("person", {"name": "张伟", "id_number": ZHANG, "phone": "13812345678",
                                    "grid": GRID})
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await open_records(pilot)
        await pilot.press("ctrl+a")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordForm))
        await type_into(pilot, "#field-name", "张卫")
        await type_into(pilot, "#field-id_number", ZHANG)  # the whole number: looked up at once
        await until(pilot, lambda: isinstance(pilot.app.screen, RegisteredScreen))
        shown = pilot.app.export_screenshot()
        assert "已登记" in shown and "张*" in shown
        assert mask_id_number(ZHANG) in shown and mask_phone("13812345678") in shown
        assert ZHANG not in shown and "13812345678" not in shown and "张伟" not in shown
        await pilot.press("escape")  # back to the form, the number still there
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordForm))
        await type_into(pilot, "#field-grid", GRID)
        await pilot.press("ctrl+s")  # saving anyway is refused with the same offer
        await until(pilot, lambda: isinstance(pilot.app.screen, RegisteredScreen))
        assert store.count("person") == 1
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordScreen))
        assert pilot.app.screen.record_id == existing  # type: ignore[attr-defined]
        assert store.count("person") == 1
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordsScreen))

    run(app, scenario)
