"""What a passer-by at the counter can read, in one Pilot session at 80x24 (issue 21): the
person list and a search show no whole ID or mobile number, only their masked forms; a
record's screen shows one whole only after the reveal key, and the reveal is recorded with
the clerk, record and field; the person form shows at least eight fields at once, its
dropdowns say 请选择, a bad value's message sits right under its field, and a grid outside
the station's township is refused there, naming the field and the scope, with nothing saved."""

from __future__ import annotations

import asyncio

from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from station.store import Store
from tui.app import StationApp, make_app
from tui.screens.home import HomeScreen
from tui.screens.record import RecordScreen
from tui.screens.record_form import RecordForm
from tui.screens.records import RecordsScreen

from .conftest import GRID, TOWNSHIP
from .test_tui import SIZE, open_records, until

# Real-format people: 18-digit ID numbers with valid check digits, mainland mobiles.
PEOPLE = [
    {"name": "陈建华", "id_number": "440524198803152312", "phone": "13912342318", "grid": GRID},
    {"name": "李秀英", "id_number": "44052419750620402X", "phone": "13600135678", "grid": GRID},
    {"name": "王强", "id_number": "440524200109091134", "phone": "18826660019", "grid": GRID},
]
# The same values as the counter may see them, written out by hand.
MASKED = ["4405**********2312", "139****2318", "陈**", "4405**********402X", "136****5678",
          "李**", "4405**********1134", "188****0019", "王*"]
WHOLE = [p[k] for p in PEOPLE for k in ("id_number", "phone")]


def screen_text(app: StationApp) -> str:
    """What the terminal shows, line by line, as a passer-by would read it."""
    return "\n".join("".join(segment.text for segment in strip)
                     for strip in app.screen._compositor.render_strips())


def shows_whole(app: StationApp) -> list[str]:
    shown = screen_text(app)
    return [value for value in WHOLE if value in shown]


def test_a_passer_by_sees_masked_values_and_a_reveal_is_deliberate_and_recorded(
        store: Store) -> None:
    ids = [store.add("person", p) for p in PEOPLE]
    clerk = store.clerk
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await open_records(pilot)
        await pilot.pause()
        listed = screen_text(app)
        assert shows_whole(app) == []
        assert all(m in listed for m in MASKED), listed

        # A search by a mobile number: the result is masked, and the number typed is gone.
        await pilot.press("ctrl+f", *PEOPLE[1]["phone"], "enter")
        await until(pilot, lambda: "找到 1 条" in screen_text(app))
        assert "136****5678" in screen_text(app) and shows_whole(app) == []

        # The record's own screen: masked until v on the field, then whole, and recorded.
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordScreen))
        await pilot.pause()
        assert shows_whole(app) == [] and "4405**********402X" in screen_text(app)
        assert store.reveals() == []
        table = app.screen.query_one("#record", DataTable)
        table.move_cursor(row=1)  # 公民身份号码, the second field of a person
        await pilot.press("v")
        await until(pilot, lambda: PEOPLE[1]["id_number"] in screen_text(app))
        assert PEOPLE[1]["phone"] not in screen_text(app)  # only the field asked for
        (reveal,) = store.reveals()
        assert (reveal["clerk"], reveal["record"], reveal["field"]) == (clerk, ids[1], "id_number")
        assert reveal["entity"] == "person" and reveal["at"]

        # Editing shows personal values as dots until Ctrl+R on one (recorded too).
        await pilot.press("e")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordForm))
        await pilot.pause()
        assert shows_whole(app) == []
        app.screen.query_one("#field-phone", Input).focus()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: PEOPLE[1]["phone"] in screen_text(app))
        assert [r["field"] for r in store.reveals()] == ["id_number", "phone"]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordScreen))
        await pilot.pause()
        assert shows_whole(app) == []  # leaving the screen hid what was shown
        await pilot.press("escape", "escape")  # the record, then the search
        await until(pilot, lambda: "第 1–3 条" in screen_text(app))

        await new_person_form(pilot)

        # With mask_names off (station settings set mask_names 0) names are whole; the
        # numbers stay masked.
        with store.atomic() as writes:
            writes.put_settings(mask_names="0")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("b")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordsScreen))
        await pilot.pause()
        assert "陈建华" in screen_text(app) and shows_whole(app) == []

    async def new_person_form(pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+a")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordForm))
        await pilot.pause()
        shown = screen_text(app).splitlines()
        labels = [f.label_zh for f in store.schema.entity("person").fields if not f.deprecated]
        visible = [label for label in labels if any(line.lstrip().startswith(label)
                                                    for line in shown)]
        assert len(visible) >= 8, visible
        assert "请选择" in screen_text(app) and "Select" not in screen_text(app)

        async def type_into(field: str, value: str) -> None:
            widget = app.screen.query_one(f"#field-{field}", Input)
            widget.focus()
            widget.value = ""
            widget.value = value  # typed in at once: the keys are not what this test is about
            await pilot.pause()

        await type_into("name", "赵敏")
        await type_into("id_number", "440582199201015563")  # the check digit is 2
        await type_into("grid", "440524002001")  # the next township's grid
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "校验位" in screen_text(app))
        assert under("公民身份号码", "校验位")
        await type_into("id_number", "440582199201015562")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "不在本站范围内" in screen_text(app))
        assert under("所属网格", f"所属网格 440524002001 不在本站范围内（本站乡镇 {TOWNSHIP}）")
        assert "校验位" not in screen_text(app)
        assert store.count("person") == len(PEOPLE)  # nothing saved
        await type_into("grid", GRID)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordsScreen))
        assert store.count("person") == len(PEOPLE) + 1

    def under(label: str, message: str) -> bool:
        """Whether `message` is on the line right under the field labelled `label`."""
        lines = screen_text(app).splitlines()
        row = next(i for i, line in enumerate(lines) if line.lstrip().startswith(label))
        return message in lines[row + 1]

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await scenario(pilot)
    asyncio.run(main())


def test_the_volunteer_list_masks_names_and_mobiles_and_still_checks_in(store: Store) -> None:
    """The list a courier is checked in from stands at the counter too: 赵* and 138****0001,
    the mobile's last digits telling two 赵* apart; names whole only with mask_names 0."""
    from station.volunteers import Volunteers
    from tui.screens.volunteers import VolunteersScreen

    volunteers = [("赵六", "13800000001"), ("赵敏", "13912341234")]
    ids = [store.add("volunteer", {"name": name, "phone": phone, "grid": GRID})
           for name, phone in volunteers]
    store.lock()
    app = make_app(store)

    def rows() -> list[str]:
        return [line for line in screen_text(app).splitlines() if "****" in line]

    async def scenario(pilot: Pilot[None]) -> None:
        await open_home(pilot)
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, VolunteersScreen) and len(rows()) == 2)
        shown = screen_text(app)
        for name, phone in volunteers:
            assert name not in shown and phone not in shown, shown
        assert "手机号码" in shown and "138****0001" in shown and "139****1234" in shown
        assert all(line.lstrip().startswith("赵* ") for line in rows()), rows()
        table = app.screen.query_one("#volunteers", DataTable)
        row = next(i for i, key in enumerate(table.rows) if key.value == ids[1])
        table.move_cursor(row=row)
        await pilot.press("enter")  # checked in by the row, whatever its name shows
        await until(pilot, lambda: "已签到" in next(r for r in rows() if "139****1234" in r))
        today = Volunteers(store).today().isoformat()
        assert store.conn.execute(
            "SELECT owner FROM records WHERE entity = 'checkin' AND json_extract(clear, '$.day') = ?",
            (today,)).fetchall() == [(ids[1],)]

        with store.atomic() as writes:
            writes.put_settings(mask_names="0")
        await pilot.press("escape", "v")
        await until(pilot, lambda: isinstance(app.screen, VolunteersScreen) and "赵敏" in screen_text(app))
        assert "赵六" in screen_text(app)
        assert all(phone not in screen_text(app) for _, phone in volunteers)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await scenario(pilot)
    asyncio.run(main())


async def open_home(pilot: Pilot[None]) -> None:
    from .test_tui import unlock

    await unlock(pilot)
    await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
