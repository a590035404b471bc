"""The kiosk app driven by Textual's Pilot at 80x24: unlock, home, language, help, locking."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

from textual.app import App
from textual.binding import Binding
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Input, Label, Static

from station.store import Store
from tui.app import StationApp, make_app
from tui.i18n import KEY_NAMES
from tui.screens.help import HelpScreen
from tui.screens.home import HomeScreen
from tui.screens.unlock import UnlockScreen
from tui.widgets.footer import KeyFooter

from .conftest import GRID, PASSPHRASE, FakeTime
from .hubserver import HubServer

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


def cells(table: DataTable[object], row: object) -> list[str]:
    """A row's cells as the text shown (user text is held as rich Text, never markup)."""
    return [str(c) for c in table.get_row(row)]  # type: ignore[arg-type]


async def unlock(pilot: Pilot[None], passphrase: str = PASSPHRASE) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, UnlockScreen))
    for ch in passphrase:
        await pilot.press(ch if ch != " " else "space")
    await pilot.press("enter")


async def open_records(pilot: Pilot[None]) -> Screen[object]:
    """Unlock, and from home open the base-data list (the person list first)."""
    from tui.screens.records import RecordsScreen

    await unlock(pilot)
    await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
    await pilot.press("b")
    await until(pilot, lambda: isinstance(pilot.app.screen, RecordsScreen))
    return pilot.app.screen


def test_a_wrong_passphrase_is_refused_in_chinese_and_the_right_one_opens_home(store: Store) -> None:
    store.add("person", {"name": "李四", "id_number": "11010519491231002X", "grid": GRID})
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot, "wrong passphrase")
        error = pilot.app.screen.query_one("#unlock-error", Label)
        await until(pilot, lambda: "口令" in str(error.render()))
        assert not store.unlocked
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        table = pilot.app.screen.query_one("#counts", DataTable)
        assert cells(table, "person")[:2] == ["实有人口", "1"]
        sync = str(pilot.app.screen.query_one("#sync", Static).render())
        assert "待上传: 1" in sync and "未注册" in sync and "数据版本: 1" in sync

    run(app, scenario)


def test_the_unlock_screen_tells_the_app_with_messages(store: Store) -> None:
    """Messages up: the worker's refusal stays on the unlock screen, the unlock goes to the
    app (recorded with Textual's message hook, as harlequin's functional tests do)."""
    from tui.messages import Unlocked, UnlockFailed

    store.lock()
    app = make_app(store)
    seen: list[object] = []

    async def main() -> None:
        async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
            await unlock(pilot, "wrong passphrase")
            await until(pilot, lambda: any(isinstance(m, UnlockFailed) for m in seen))
            assert not any(isinstance(m, Unlocked) for m in seen)
            await unlock(pilot)
            await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))

    asyncio.run(main())
    # The hook sees a message at each node it arrives at: the refusal is handled (and
    # stopped) by the unlock screen; the unlock passes the screen and arrives at the app.
    (failed,) = [m for m in seen if isinstance(m, UnlockFailed)]
    assert "口令" in failed.reason
    unlocked = [m for m in seen if isinstance(m, Unlocked)]
    assert len(unlocked) == 2 and unlocked[0] is unlocked[1]


def test_f2_switches_to_english_and_back(store: Store) -> None:
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        assert "同步" in footer_text(pilot) and "English" in footer_text(pilot)
        await pilot.press("f2")
        await pilot.pause()
        assert "Pending: 0" in str(pilot.app.screen.query_one("#sync", Static).render())
        await until(pilot, lambda: "Sync" in footer_text(pilot))
        assert "中文" in footer_text(pilot) and "同步" not in footer_text(pilot)
        await pilot.press("f2")
        await pilot.pause()
        assert "待上传: 0" in str(pilot.app.screen.query_one("#sync", Static).render())
        await until(pilot, lambda: "同步" in footer_text(pilot))

    run(app, scenario)


def footer_text(pilot: Pilot[None]) -> str:
    return " ".join(label.split(" ", 1)[1] for footer in pilot.app.screen.query(KeyFooter)
                    for label in footer.shown_keys())


def test_every_key_has_an_english_name() -> None:
    """A binding added without one would stay Chinese in the English footer."""
    import tui

    screens = [cls for module in tui_modules(tui) for cls in vars(module).values()
               if isinstance(cls, type) and issubclass(cls, (Screen, App))
               and cls.__module__.startswith("tui.")]
    described = {description(b) for cls in screens for b in vars(cls).get("BINDINGS", [])} - {""}
    assert described and len(screens) >= 10
    assert not described - set(KEY_NAMES), described - set(KEY_NAMES)


def description(binding: Binding | tuple[str, ...]) -> str:
    return binding.description if isinstance(binding, Binding) else (binding[2:3] or ("",))[0]


def tui_modules(package: object) -> list[object]:
    import importlib
    import pkgutil

    found = pkgutil.walk_packages(package.__path__, prefix="tui.")  # type: ignore[attr-defined]
    return [importlib.import_module(m.name) for m in found]


def test_f2_in_english_translates_the_help_screen_too(store: Store) -> None:
    store.lock()
    app = make_app(store, lang="en")

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        keys = str(pilot.app.screen.query_one("#help-keys", Static).render())
        assert "Lock" in keys and "Refresh" in keys and "锁定" not in keys

    run(app, scenario)


def test_textuals_own_keys_read_in_chinese_in_help() -> None:
    from tui.i18n import key_name

    assert key_name("Focus Next", "zh") == "下一项" and key_name("Focus Next", "en") == "Next field"
    assert key_name("同步", "en") == "Sync" and key_name("English", "en") == "中文"


def test_help_lists_the_keys_and_ctrl_l_locks_at_once(store: Store) -> None:
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        keys = str(pilot.app.screen.query_one("#help-keys", Static).render())
        assert "锁定" in keys and "English" in keys and "刷新" in keys and "同步" in keys
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(pilot.app.screen, UnlockScreen))
        assert not store.unlocked

    run(app, scenario)


def test_the_app_locks_itself_after_the_idle_time_and_not_before(store: Store,
                                                                  fake_time: FakeTime) -> None:
    """The idle time is read from the clock the app is given: the test moves it, no waiting."""
    store.lock()
    app = make_app(store, monotonic=fake_time.monotonic, idle_lock=300)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        fake_time.sleep(299)
        app.lock_if_idle()
        await pilot.press("r")  # a key: the idle time starts again
        fake_time.sleep(299)
        app.lock_if_idle()
        await pilot.pause()
        assert store.unlocked and isinstance(pilot.app.screen, HomeScreen)
        fake_time.sleep(2)  # 301 seconds since the last key
        app.lock_if_idle()
        await until(pilot, lambda: isinstance(pilot.app.screen, UnlockScreen)
                    and isinstance(pilot.app.screen.focused, Input))  # shown, ready to type
        assert not store.unlocked

    run(app, scenario)


def test_add_a_person_with_a_wrong_check_digit_fix_it_beside_the_field_and_save(store: Store) -> None:
    from textual.widgets import Input

    from tui.screens.record_form import RecordForm
    from tui.screens.records import RecordsScreen

    store.lock()
    app = make_app(store)

    async def type_into(pilot: Pilot[None], selector: str, value: str) -> None:
        field = pilot.app.screen.query_one(selector, Input)
        field.focus()
        field.value = ""
        await pilot.press(*[c if c != " " else "space" for c in value])

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("b")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordsScreen))
        await pilot.press("ctrl+a")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordForm))
        await type_into(pilot, "#field-name", "王五")
        await type_into(pilot, "#field-id_number", "110105194912310021")  # check digit is X
        await type_into(pilot, "#field-grid", GRID)
        await pilot.press("ctrl+s")
        error = pilot.app.screen.query_one("#error-id_number", Label)
        await until(pilot, lambda: "校验位" in str(error.render()))
        assert pilot.app.screen.focused is pilot.app.screen.query_one("#field-id_number")
        assert store.count("person") == 0  # nothing saved
        await type_into(pilot, "#field-id_number", "11010519491231002X")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordsScreen))
        assert store.count("person") == 1
        (person,) = store.page("person")
        assert person["fields"]["name"] == "王五" and person["fields"]["birth_date"] == "1949-12-31"
        table = pilot.app.screen.query_one("#records", DataTable)
        assert table.row_count == 1

    run(app, scenario)


def test_the_list_pages_through_many_records_and_finds_by_phone(store: Store) -> None:
    from station import synthetic
    from tui.screens.records import PAGE, RecordsScreen

    people = list(synthetic.people(130, [GRID], seed=4))
    store.add_many("person", people)
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("b")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordsScreen))
        screen = pilot.app.screen
        status = screen.query_one("#records-status", Label)
        assert "第 1–50 条，共 130 条" in str(status.render())
        await pilot.press("pagedown", "pagedown")
        assert "第 101–130 条" in str(status.render())
        await pilot.press("pagedown")  # no further
        assert "第 101–130 条" in str(status.render())
        await pilot.press("pageup")
        assert "第 51–100 条" in str(status.render())
        assert screen.query_one("#records", DataTable).row_count == PAGE
        await pilot.press("ctrl+f")
        await pilot.press(*people[7]["phone"], "enter")
        await until(pilot, lambda: "找到 1 条" in str(status.render()))

    run(app, scenario)


def test_a_conflict_is_shown_three_ways_and_settled_with_one_key(store: Store) -> None:
    from station.conflicts import Conflicts
    from sync.protocol import WireChange
    from tui.screens.conflicts import ConflictScreen, ConflictsScreen

    rid = store.add("person", {"name": "李四", "id_number": "11010519491231002X", "grid": GRID})
    added = store.conn.execute("SELECT created_hlc FROM records WHERE id = ?", (rid,)).fetchone()[0]
    store.update("person", rid, {"name": "李四甲"})
    later = f"{int(added.split('.')[0]) + 60_000:015d}.000000.elsewhere"
    with store.atomic() as writes:  # the same edit made elsewhere, unseen by this station
        writes.apply_remote(WireChange("elsewhere", 1, rid, "person", "update", GRID,
                                       {"name": "李四乙"}, later, {"name": added}, 1,
                                       {"name": "李四"}, by="王五"))
    assert len(Conflicts(store).list()) == 1
    clerk = store.clerk
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConflictsScreen))
        # The list names whose record it is, the name masked to its surname: a passer-by
        # reads 李** (the record shows the newer side, 李四乙), never the whole name.
        listed = cells(pilot.app.screen.query_one("#conflicts", DataTable),
                       Conflicts(store).list()[0]["id"])
        assert listed == ["实有人口 李**", "姓名"]
        pane = str(pilot.app.screen.query_one("#conflict-values", Static).render())
        assert "李四" not in pane and "姓名（当前显示）: 李**（王五" in pane
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConflictScreen))
        screen = pilot.app.screen
        assert "实有人口 李** · 姓名" in str(screen.query_one("#conflict-title", Label).render())
        assert "李四" not in str(screen.query_one("#here", Static).render())
        assert store.reveals() == []
        await pilot.press("v")  # the clerk asks to see the values to choose between them
        await until(pilot, lambda: "李四甲" in str(screen.query_one("#here", Static).render()))
        # Shown whole on purpose, and recorded like a reveal on the record's own screen.
        assert [(r["clerk"], r["record"], r["field"]) for r in store.reveals()] == [(clerk, rid, "name")]
        assert "李四" in str(screen.query_one("#base", Static).render())
        assert "李四甲" in str(screen.query_one("#here", Static).render())
        there = str(screen.query_one("#there", Static).render())
        assert "李四乙" in there
        # Who wrote the other side, where, and when in Beijing time (UTC+8, from its clock).
        beijing = datetime.fromtimestamp(int(later.split(".")[0]) / 1000, timezone(timedelta(hours=8)))
        assert "王五" in there and "站点 ewhere" in there and beijing.strftime("%Y-%m-%d %H:%M") in there
        assert f"{clerk} · 本站" in str(screen.query_one("#here", Static).render())
        await pilot.press("l")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConflictsScreen))
        assert Conflicts(store).list() == []
        assert store.get("person", rid)["fields"]["name"] == "李四甲"
        assert store.status()["pending"] == 3  # the add, the edit, and the settling change

    run(app, scenario)


async def open_sync_screen(pilot: Pilot[None]) -> Static:
    """Unlock, then the sync screen (s); its state lines."""
    from tui.screens.sync import SyncScreen

    await unlock(pilot)
    await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
    await pilot.press("s")
    await until(pilot, lambda: isinstance(pilot.app.screen, SyncScreen))
    return pilot.app.screen.query_one("#sync-state", Static)


async def sync_now(pilot: Pilot[None]) -> list[str]:
    """Sync from the sync screen (s) until it says done; the lines of its log."""
    from textual.widgets import Log

    await pilot.press("s")
    log = pilot.app.screen.query_one("#sync-log", Log)
    await until(pilot, lambda: any("完成" in line for line in log.lines), seconds=60)
    return list(log.lines)


def test_sync_now_against_a_real_hub_shows_progress_and_the_counts_change(
        store: Store, sqlite_hub: HubServer) -> None:

    from station import synthetic
    from station.syncer import enroll
    from sync.hub import county

    enroll(store, sqlite_hub.url, county.open_hub(sqlite_hub.home).add_enrollment("440524001", []))
    store.add_many("person", synthetic.people(1500, [GRID], seed=6))  # two push batches
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        state = await open_sync_screen(pilot)
        assert "待上传: 1,500" in str(state.render())
        lines = await sync_now(pilot)
        assert any("上传 1000/1500" in line for line in lines), lines
        assert any("上传 1500/1500" in line for line in lines)
        assert "待上传: 0" in str(state.render())
        assert len(list(county.open_hub(sqlite_hub.home).export("person"))) == 1500

    run(app, scenario)


def test_walk_an_incident_through_all_five_steps(store: Store) -> None:
    from textual.widgets import Input

    from station.cases import Cases
    from tui.screens.record_form import RecordForm

    category = store.schema.code_table("incident_category").values[0].code
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        head = await open_new_case(pilot, "i", ("category", category),
                                   {"title": "路灯损坏", "grid": GRID})
        case = pilot.app.screen
        assert "环节: 发现" in str(head.render())
        assert "上报 剩余" in str(head.render())  # the one-minute timer counts down
        for expected in ("上报", "处置", "反馈"):
            await step(pilot, "1")
            await until(pilot, lambda e=expected: f"环节: {e}" in str(head.render()))  # type: ignore[misc]
        await step(pilot, "1")  # verification failed: back to disposal, which needs a reason
        error = lambda: str(pilot.app.screen.query_one("#error-note", Label).render())  # noqa: E731
        await until(pilot, lambda: "需要填写原因" in error())
        assert isinstance(pilot.app.screen, RecordForm)  # nothing recorded yet
        assert pilot.app.screen.focused is pilot.app.screen.query_one("#field-note", Input)
        await pilot.press(*"照片不清", "ctrl+s")
        await until(pilot, lambda: "环节: 处置" in str(head.render()))
        await step(pilot, "1")
        await until(pilot, lambda: "环节: 反馈" in str(head.render()))
        await step(pilot, "2")
        await until(pilot, lambda: "环节: 核查" in str(head.render()))
        assert "已办结" in str(head.render())
        assert "重新处置" in str(case.query_one("#case-moves", Static).render())  # may reopen
        (summary,) = Cases(store, "incident").summaries()
        assert summary["closed"] and summary["step"] == "verify"
        timeline = str(case.query_one("#case-timeline", Static).render())
        assert "照片不清" in timeline and timeline.count("处置") == 2

    run(app, scenario)


async def open_new_case(pilot: Pilot[None], key: str, code: tuple[str, str],
                        typed: dict[str, str]) -> Static:
    """Unlock, open a workflow's list from home with `key`, report a new case through its
    form (one code field chosen, the others typed), open it; the case screen's head."""
    from textual.widgets import Input, Select

    from tui.screens.cases import CaseScreen, CasesScreen
    from tui.screens.record_form import RecordForm

    await unlock(pilot)
    await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
    await pilot.press(key)
    await until(pilot, lambda: isinstance(pilot.app.screen, CasesScreen))
    await pilot.press("ctrl+a")
    await until(pilot, lambda: isinstance(pilot.app.screen, RecordForm))
    form = pilot.app.screen
    form.query_one(f"#field-{code[0]}", Select).value = code[1]
    for name, value in typed.items():
        form.query_one(f"#field-{name}", Input).focus()
        await pilot.press(*value)
    await pilot.press("ctrl+s")
    await until(pilot, lambda: isinstance(pilot.app.screen, CasesScreen))
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, CaseScreen))
    return pilot.app.screen.query_one("#case-head", Static)


async def step(pilot: Pilot[None], key: str) -> None:
    """Choose a move by its number and record it from the step's form with Ctrl+S."""
    from tui.screens.record_form import RecordForm

    case = pilot.app.screen
    await pilot.press(key)
    await until(pilot, lambda: isinstance(pilot.app.screen, RecordForm))
    await pilot.press("ctrl+s")
    await until(pilot, lambda: pilot.app.screen is case or "⚠" in " ".join(
        str(label.render()) for label in pilot.app.screen.query(".field-error").results(Label)))


def test_a_dispute_is_mediated_with_its_method_and_mediator_on_record(store: Store) -> None:
    from textual.widgets import Input, Select

    from station.cases import Cases
    from tui.screens.record_form import RecordForm

    kind = store.schema.code_table("dispute_kind").values[0].code
    method = store.schema.code_table("mediation_method").values[0]
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        head = await open_new_case(pilot, "m", ("kind", kind), {"parties": "王五，赵六", "grid": GRID})
        assert "环节: 登记受理" in str(head.render())
        await pilot.press("1")  # 开始调解: the mediation form
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordForm))
        mediation = pilot.app.screen
        assert "开始调解" in str(mediation.query_one(".title", Label).render())
        assert mediation.query_one("#field-actor", Input).value == store.clerk  # the mediator
        assert not mediation.query("#field-step") and not mediation.query("#field-dispute")
        mediation.query_one("#field-method", Select).value = method.code
        mediation.query_one("#field-note", Input).focus()
        await pilot.press(*"双方达成初步共识", "ctrl+s")
        await until(pilot, lambda: "环节: 调解" in str(head.render()))
        timeline = str(pilot.app.screen.query_one("#case-timeline", Static).render())
        assert method.label_zh in timeline and "双方达成初步共识" in timeline
        (summary,) = Cases(store, "dispute").summaries()
        assert summary["step"] == "mediate"
        events = Cases(store, "dispute").show(summary["id"])["events"]
        assert [e.get("method") for e in events] == [None, method.code]

    run(app, scenario)


def test_a_volunteer_checks_in_with_two_keystrokes_and_a_guard_signs_in(store: Store) -> None:
    from station.duty import Duty
    from station.volunteers import Volunteers
    from tui.screens.volunteers import DutyScreen, VolunteersScreen

    first = store.add("volunteer", {"name": "赵六", "phone": "13800000001", "grid": GRID})
    second = store.add("volunteer", {"name": "钱七", "phone": "13800000002", "grid": GRID})
    post = store.add("duty_post", {"school": "城关小学", "name": "东门", "grid": GRID})
    today = Volunteers(store).today().isoformat()
    shift = store.add("duty_shift", {"post": post, "day": today, "start_time": "11:30",
                                     "end_time": "13:00", "kind": store.schema.code_table(
                                         "duty_kind").values[0].code, "grid": GRID})
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("v")
        await until(pilot, lambda: isinstance(pilot.app.screen, VolunteersScreen))
        table = pilot.app.screen.query_one("#volunteers", DataTable)
        target = second if table.get_row_index(second) == 1 else first
        await pilot.press("down", "enter")  # the two keystrokes
        await until(pilot, lambda: "已签到" in cells(table, target))
        assert store.conn.execute("SELECT count(*) FROM records WHERE entity = 'checkin'"
                                  ).fetchone()[0] == 1
        await pilot.press("enter")  # again the same day: nothing new
        await pilot.pause()
        assert store.conn.execute("SELECT count(*) FROM records WHERE entity = 'checkin'"
                                  ).fetchone()[0] == 1
        assert cells(table, target)[3] == "1"  # a check-in is worth a point this month
        await pilot.press("escape", "g")
        await until(pilot, lambda: isinstance(pilot.app.screen, DutyScreen))
        await pilot.press("i")
        duty = pilot.app.screen.query_one("#duty", DataTable)
        await until(pilot, lambda: "已签到" in cells(duty, shift))
        (row,) = Duty(store).roster(today)
        assert row["signed_in_at"]

    run(app, scenario)


def test_the_list_kept_between_visits_shows_what_was_added_meanwhile_and_goes_at_the_lock(
        store: Store) -> None:
    """The person list is kept between visits (it opens faster on a slow board): opened
    again it shows the records written since, on its first page; the lock drops it."""
    from station import synthetic

    first_person, second_person = synthetic.people(2, [GRID], seed=7)
    store.add("person", first_person)
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        from tui.screens.records import RecordsScreen

        first = await open_records(pilot)
        status = first.query_one("#records-status", Label)
        await until(pilot, lambda: "共 1 条" in str(status.render()))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        store.add("person", second_person)
        await pilot.press("b")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordsScreen))
        assert pilot.app.screen is first  # the same screen, not mounted anew
        await until(pilot, lambda: "共 2 条" in str(status.render()))
        assert first.query_one("#records", DataTable).has_focus
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(pilot.app.screen, UnlockScreen))
        assert not pilot.app.is_screen_installed("records")  # nothing of the shift kept

    run(app, scenario)
