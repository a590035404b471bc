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
from tui.screens.registered import RegisteredScreen

from .conftest import GRID, PASSPHRASE
from .test_tui import open_records, run, unlock, until

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


def test_a_same_person_conflict_is_shown_masked_and_merged_with_one_key(store: Store) -> None:
    from station.conflicts import Conflicts
    from sync.protocol import WireChange
    from tui.screens.conflicts import ConflictsScreen
    from tui.screens.home import HomeScreen
    from tui.screens.same_person import SamePersonScreen

    here = store.add("person", {"name": "张伟", "id_number": ZHANG, "phone": "13812345678",
                                "grid": GRID})
    there = "01a224be-898f-709d-9d8d-22528afa74a4"  # registered at another station, offline
    case = "01a224be-898f-709d-9d8d-22528afa74a5"
    clock = f"{store.clock.wall_ms():015d}.000000.elsewhere"
    with store.atomic() as writes:  # what the sync pulls, and what it then checks
        writes.apply_remote(WireChange("elsewhere", 1, there, "person", "add", GRID, {
            "name": "张卫", "id_number": ZHANG, "address": "城关镇人民路3号", "grid": GRID},
            clock, {}, 1, by="王五"))
        writes.apply_remote(WireChange("elsewhere", 2, case, "special_care", "add", GRID, {
            "person": there, "kind": "01", "grid": GRID}, clock, {}, 1, by="王五"))
        writes.same_key([there, case])
    (conflict,) = Conflicts(store).list()
    kept, other = sorted([here, there])
    assert conflict["id"] == f"{kept}:_same:{other}"
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConflictsScreen))
        shown = pilot.app.export_screenshot()
        assert "同一人员重复登记" in shown and "张*" in shown and "张伟" not in shown
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, SamePersonScreen))
        shown = pilot.app.export_screenshot()
        assert mask_id_number(ZHANG) in shown and ZHANG not in shown
        assert mask_phone("13812345678") in shown and "13812345678" not in shown
        assert "张卫" not in shown and "人民路3号" not in shown
        await pilot.press("m")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConflictsScreen))
        await until(pilot, lambda: "没有待处理的冲突" in pilot.app.export_screenshot())

    run(app, scenario)
    store.unlock(PASSPHRASE)
    (person,) = store.export("person")
    entered = {"here": {"name": "张伟", "phone": "13812345678"},
               "there": {"name": "张卫", "address": "城关镇人民路3号"}}
    first, second = ("here", "there") if kept == here else ("there", "here")
    assert person["id"] == kept
    for name, value in {**entered[second], **entered[first]}.items():
        assert person["fields"][name] == value
    assert store.get("special_care", case)["fields"]["person"] == kept
    assert Conflicts(store).list() == []
