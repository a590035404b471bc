"""Every word of the kiosk in the clerk's language, Textual's own words included, and a footer
that is never cut: one Pilot walk at 80x24 through every screen, on the county's demo data,
in Chinese and then in English.

What a Chinese screen may show in Latin letters (the rule these tests hold the app to):
- keycaps, as printed on a keyboard: Ctrl, Shift, Alt, Esc, Enter, Tab, Space, Backspace,
  Del, Ins, Home, End, PgUp, PgDn, F1 to F12, and a letter key alone as the letter it types
  (b, i: one letter, so no word);
- "English" on the F2 key: the language it switches to, named in that language, as language
  menus do (an English screen names Chinese "中文" the same way);
- byte units, as Chinese screens write them too: KB, MB, GB; and the file formats a
  picker accepts, as Chinese screens name them: JPEG, PNG, PDF;
- data: the X of an ID number (one letter), the lowercase hex tail of a record's id that a
  case without a title, or a conflict's record, is shown by, and a file's name (现场.png).
Anything else of two Latin letters or more is an English word on a Chinese screen.

An English screen is checked on its chrome (header, footer, help, titles, column headers):
the records themselves are Chinese data.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.app import App
from textual.binding import BindingsMap
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Select, Static

from station.attachments import Attachments
from station.cases import Cases
from station.demo import SCALES, DemoData
from station.store import Store
from sync.protocol import WireChange
from tui.app import make_app
from tui.i18n import TEXTUAL_KEYS
from tui.keys import FooterItem, KeyHelp, fit_footer, help_sections, key_display
from tui.screens.attachments import AttachmentsScreen
from tui.screens.cases import CaseScreen, CasesScreen
from tui.screens.conflicts import ConflictScreen, ConflictsScreen
from tui.screens.help import HelpScreen
from tui.screens.home import HomeScreen
from tui.screens.importing import ImportScreen
from tui.screens.pick_file import PickFileScreen
from tui.screens.record import RecordScreen
from tui.screens.record_form import RecordForm
from tui.screens.records import RecordsScreen
from tui.screens.sync import SyncScreen
from tui.screens.unlock import UnlockScreen
from tui.screens.volunteers import DutyScreen, VolunteersScreen
from tui.widgets.confirm import ConfirmScreen
from tui.widgets.footer import KeyFooter

from .conftest import PASSPHRASE
from .test_tui_attachments import photo

SIZE = (80, 24)
KEYCAPS = {"Ctrl", "Shift", "Alt", "Esc", "Enter", "Tab", "Space", "Backspace", "Del", "Ins",
           "Home", "End", "PgUp", "PgDn", *(f"F{n}" for n in range(1, 13))}
LATIN_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2,}(?![A-Za-z0-9])")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
STATION_NAME = "测试镇综治中心"
OTHER_STATION = "0a1b2c3d4e5f"  # a station id with no word in its tail
PHOTO = "现场.png"
UNITS = {"KB", "MB", "GB", "JPEG", "PNG", "PDF"}
SHEET = "人口.xlsx"

# Keys each screen's footer must show whole, in each language (the screen's own first).
FOOTER: dict[str, tuple[list[str], list[str]]] = {
    "unlock": (["F1 帮助", "F2 English"], ["F1 Help", "F2 中文"]),
    "home": (["b 基础数据", "i 事件", "c 冲突", "s 同步", "F1 帮助"],
             ["b Records", "i Incidents", "c Conflicts", "s Sync", "F1 Help"]),
    "person": (["PgDn 下一页", "PgUp 上一页", "Ctrl+A 新增", "Del 删除", "Ctrl+O 导入",
                "Esc 返回", "F1 帮助"],
               ["PgDn Next", "PgUp Previous", "Ctrl+A Add", "Del Delete", "Ctrl+O Import",
                "Esc Back", "F1 Help"]),
    "choices": (["Esc 收起选项", "F1 帮助"], ["Esc Close the choices", "F1 Help"]),
    "record": (["v 显示", "e 修改", "Esc 返回", "F1 帮助"], ["v Reveal", "e Edit", "Esc Back", "F1 Help"]),
    "form": (["Ctrl+S 保存", "Esc 返回", "F1 帮助"], ["Ctrl+S Save", "Esc Back", "F1 Help"]),
    "cases": (["Ctrl+A 新增", "Esc 返回", "F1 帮助"], ["Ctrl+A Add", "Esc Back", "F1 Help"]),
    "case": (["f 附件", "Esc 返回", "F1 帮助"], ["f Files", "Esc Back", "F1 Help"]),
    "conflict": (["l 保留本站", "r 保留对方", "Esc 返回", "F1 帮助"],
                 ["l Keep ours", "r Keep theirs", "Esc Back", "F1 Help"]),
    "sync": (["s 同步", "Ctrl+R 重发", "Esc 返回", "F1 帮助"],
             ["s Sync", "Ctrl+R Resend", "Esc Back", "F1 Help"]),
    "duty": (["i 签到", "o 签退", "Esc 返回", "F1 帮助"],
             ["i Sign in", "o Sign out", "Esc Back", "F1 Help"]),
}
BACK_ONLY = (["Esc 返回", "F1 帮助"], ["Esc Back", "F1 Help"])
FOOTER |= {
    "disputes": FOOTER["cases"],
    "dispute": (["p 当事人", "v 显示", "Esc 返回", "F1 帮助"],
                ["p Add a party", "v Reveal", "Esc Back", "F1 Help"]),
    "party": FOOTER["form"],
    "pick": (["t 附加到", "Esc 返回", "F1 帮助"], ["t Attach to", "Esc Back", "F1 Help"]),
    "import": (["Ctrl+S 导入", "Esc 返回", "F1 帮助"], ["Ctrl+S Import", "Esc Back", "F1 Help"]),
}
NO_FOOTER = {"confirm"}  # a modal question over the list: its two answers are its keys
# Lines the help must have on a screen: its own keys, keys the footer leaves out, and
# Textual's own (the table's ↓ and Ctrl+End, an input's Ctrl+A), in each language.
HELP: dict[str, tuple[list[str], list[str]]] = {
    "unlock": (["Tab", "下一项", "光标到开头"], ["Next field", "To the start"]),
    "home": (["纠纷", "志愿者", "护校", "刷新", "锁定", "下移", "到最下面", "选定"],
             ["Disputes", "Volunteers", "Guard duty", "Refresh", "Lock", "Down",
              "To the bottom", "Select"]),
    "person": (["PgDn / Ctrl+N", "Del / Ctrl+D", "Ctrl+F", "查找", "导入", "下移", "到最下面",
                "向左翻页"],
               ["PgDn / Ctrl+N", "Del / Ctrl+D", "Ctrl+F", "Find", "Import", "Down",
                "To the bottom", "Page left"]),
    "form": (["保存", "Home / Ctrl+A", "光标到开头", "删除左边一个字", "粘贴"],
             ["Save", "Home / Ctrl+A", "To the start", "Delete the character left", "Paste"]),
    "sync": (["重发", "向下滚动"], ["Resend", "Scroll down"]),
}


def screen_text(app: App[None]) -> str:
    """The screen as the terminal shows it (what Textual's screenshot draws), as text."""
    console = Console(width=SIZE[0], height=SIZE[1], file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


def demo_store(store: Store, tmp_path: Path) -> str:
    """The county's demo data at the small scale, a photo on the open incident and one
    conflict on a person (the same name edited here and on another station); the store
    locked, as the kiosk starts. Returns the open incident's title."""
    DemoData(store, SCALES["small"], seed=3).fill()
    cases = Cases(store, "incident")
    case = cases.summaries(open_only=True)[0]["id"]
    title = str(cases.show(case)["fields"]["title"])
    Attachments(store).attach("incident", case, photo(tmp_path / PHOTO))
    person = store.page("person", limit=1)[0]
    rid, grid = person["id"], person["fields"]["grid"]
    added = store.conn.execute("SELECT created_hlc FROM records WHERE id = ?", (rid,)).fetchone()[0]
    store.update("person", rid, {"name": "李四甲"})
    later = f"{int(added.split('.')[0]) + 60_000:015d}.000000.{OTHER_STATION}"
    with store.atomic() as writes:
        writes.apply_remote(WireChange(OTHER_STATION, 1, rid, "person", "update", grid,
                                       {"name": "李四乙"}, later, {"name": added}, 1,
                                       {"name": person["fields"]["name"]}, by="王五"))
    store.lock()
    return title


def record_words(store: Store) -> set[str]:
    """The hex runs of every record id: a list shows a case or a record by its id's tail."""
    return {w for (rid,) in store.conn.execute("SELECT id FROM records")
            for w in re.findall("[a-f]{2,}", rid)}


Check = Callable[[str], Awaitable[None]]


async def walk(pilot: Pilot[None], check: Check, help_check: Check) -> None:
    """Every screen by keys: unlock, home, each base-data list (through the entity choice),
    a person's form, incidents, a case and its files, conflicts and one conflict, sync,
    volunteers, guard duty; `check(name)` at each, `help_check(name)` over F1 on some."""
    app = pilot.app

    async def at(screen: type[Screen[Any]], name: str,
                 ready: Callable[[], bool] = lambda: True, with_help: bool = False) -> None:
        await until(pilot, lambda: isinstance(app.screen, screen) and ready())
        await pilot.pause()
        await check(name)
        if with_help:
            await pilot.press("f1")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.pause()
            await help_check(name)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, screen))

    def shows(entity: str) -> Callable[[], bool]:
        return lambda: getattr(app.screen, "entity", "") == entity and rows("records")()

    def rows(table: str) -> Callable[[], bool]:
        return lambda: app.screen.query_one(f"#{table}", DataTable).row_count > 0

    await at(UnlockScreen, "unlock", with_help=True)
    app.screen.query_one("#passphrase", Input).value = PASSPHRASE  # typing it: 2 s of keys
    await pilot.press("enter")
    await at(HomeScreen, "home", rows("counts"), with_help=True)
    await pilot.press("b")
    await at(RecordsScreen, "person", rows("records"), with_help=True)
    await pilot.press("enter")
    await at(RecordScreen, "record")
    await pilot.press("e")
    await at(RecordForm, "form", with_help=True)
    await pilot.press("escape")
    await until(pilot, lambda: isinstance(app.screen, RecordScreen))
    await pilot.press("escape")
    await until(pilot, lambda: isinstance(app.screen, RecordsScreen))
    await pilot.press("shift+tab", "shift+tab", "enter")  # the search, the entity's choices
    await until(pilot, lambda: app.screen.query("SelectOverlay:focus"))
    await check("choices")
    await pilot.press("down", "enter")
    for entity in ("building", "house", "organization", "special_care", "grid"):
        # The first by keys, the others chosen directly: each choice by keys costs 3 of them.
        app.screen.query_one("#entity", Select).value = entity
        await at(RecordsScreen, entity, shows(entity))
    await pilot.press("escape")
    await until(pilot, lambda: isinstance(app.screen, HomeScreen))
    await pilot.press("i")
    await at(CasesScreen, "cases", rows("cases"))
    await pilot.press("enter")
    await at(CaseScreen, "case")
    await pilot.press("f")
    await at(AttachmentsScreen, "attachments", rows("attachments"))
    await pilot.press("escape", "escape", "escape", "c")
    await at(ConflictsScreen, "conflicts", rows("conflicts"))
    await pilot.press("enter")
    await at(ConflictScreen, "conflict")
    await pilot.press("escape", "escape", "s")
    await at(SyncScreen, "sync", with_help=True)
    await pilot.press("escape", "v")
    await at(VolunteersScreen, "volunteers", rows("volunteers"))
    await pilot.press("escape", "g")
    await at(DutyScreen, "duty", rows("duty"))
    await pilot.press("escape")
    await until(pilot, lambda: isinstance(app.screen, HomeScreen))


async def until(pilot: Pilot[None], condition: Callable[[], object], seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"the app did not get there:\n{screen_text(pilot.app)}")


def footer_labels(screen: Screen[object]) -> list[str]:
    return [label for footer in screen.query(KeyFooter) for label in footer.shown_keys()]


def check_footer(name: str, shown: str, screen: Screen[object], lang: str) -> None:
    """The footer's keys are each drawn whole on the last line, and the screen's important
    ones are among them."""
    if name in NO_FOOTER:
        return
    last = shown.rstrip("\n").splitlines()[-1]
    labels = footer_labels(screen)
    assert labels and all(label in last for label in labels), (name, labels, last)
    expected = FOOTER.get(name, BACK_ONLY)[lang == "en"]
    assert set(expected) <= set(labels), (name, expected, last)


def textual_descriptions(node: object) -> set[str]:
    """The key descriptions Textual's own classes give a widget, screen or app."""
    return {b.description for cls in type(node).__mro__ if cls.__module__.startswith("textual")
            and "BINDINGS" in vars(cls) for bs in BindingsMap(vars(cls)["BINDINGS"])
            .key_to_bindings.values() for b in bs if b.description}


Route = Callable[[Pilot[None], Check, Check], Awaitable[None]]


def run_walk(store: Store, lang: str, check: Callable[[Pilot[None], str], None],
             help_check: Callable[[Pilot[None], str], None], route: Route | None = None) -> set[str]:
    """The walk (or `route`) in `lang`; returns Textual's key descriptions of every node it met."""
    seen: set[str] = set()
    app = make_app(store, lang=lang)

    async def main() -> None:
        # Notifications shown (Pilot hides them by default): a toast is on the screen too.
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            async def checked(name: str) -> None:
                for node in pilot.app.screen.walk_children(with_self=True):
                    seen.update(textual_descriptions(node))
                check(pilot, name)

            async def help_checked(name: str) -> None:
                help_check(pilot, name)

            await (route or walk)(pilot, checked, help_checked)
            await pilot.press("ctrl+c")  # Textual's "Do you want to quit?", in the app's words
            quits = "按 Ctrl+Q 退出" if lang == "zh" else "Ctrl+Q quits"
            await until(pilot, lambda: quits in screen_text(pilot.app))
            check(pilot, "home")

    asyncio.run(main())
    return seen | textual_descriptions(app)


def help_keys(pilot: Pilot[None]) -> str:
    return str(pilot.app.screen.query_one("#help-keys", Static).render())


def test_every_screen_in_chinese_has_no_english_word_and_a_whole_footer(
        store: Store, tmp_path: Path) -> None:
    demo_store(store, tmp_path)
    data = record_words(store) | set(LATIN_WORD.findall(PHOTO))
    visited: list[str] = []

    def english(text: str) -> set[str]:
        return {w for w in LATIN_WORD.findall(text) if w not in KEYCAPS | UNITS | {"English"}
                and not (w in data or any(w in d for d in data))}

    def check(pilot: Pilot[None], name: str) -> None:
        visited.append(name)
        shown = screen_text(pilot.app)
        assert not english(shown), (name, english(shown), shown)
        check_footer(name, shown, pilot.app.screen, "zh")

    def help_check(pilot: Pilot[None], name: str) -> None:
        shown, keys = screen_text(pilot.app), help_keys(pilot)
        assert not english(shown) and not english(keys), (name, english(keys), keys)
        assert "Bottom" not in keys and "Cursor down" not in keys
        assert all(line in keys for line in HELP.get(name, ([], []))[0]), (name, keys)
        assert "本页按键" in shown and "帮助：按键" in shown  # drawn, not only composed

    seen = run_walk(store, "zh", check, help_check)
    assert {"unlock", "home", "person", "building", "house", "organization", "special_care",
            "grid", "choices", "record", "form", "cases", "case", "attachments", "conflicts", "conflict",
            "sync", "volunteers", "duty"} <= set(visited)
    # Textual's own keys on every widget the walk met, shown or not yet: each one translated.
    assert "Cursor down" in seen and "Dismiss menu" in seen
    assert not seen - set(TEXTUAL_KEYS), seen - set(TEXTUAL_KEYS)


MASKED_NAME = re.compile(r"[\u4e00-\u9fff]\*+")


def test_every_screen_in_english_has_no_chinese_chrome(store: Store, tmp_path: Path) -> None:
    case_title = demo_store(store, tmp_path)

    def chinese(text: str) -> list[str]:
        return CJK.findall(text.replace("中文", ""))

    def check(pilot: Pilot[None], name: str) -> None:
        screen = pilot.app.screen
        shown = screen_text(pilot.app)
        chrome = [*footer_labels(screen),
                  *(str(c.label) for t in screen.query(DataTable) for c in t.columns.values()),
                  # a record named in a title is data: the case's title, a masked name (李**)
                  *(MASKED_NAME.sub("", str(label.render()).replace(case_title, "")
                                    .replace(STATION_NAME, ""))
                    for label in screen.query(".title").results(Label))]
        if screen.query(Header):
            header = shown.splitlines()[0]
            assert "Township Station" in header and STATION_NAME in header
            chrome.append(header.replace(STATION_NAME, ""))
        assert not chinese(" ".join(chrome)), (name, chrome)
        check_footer(name, shown, screen, "en")

    def help_check(pilot: Pilot[None], name: str) -> None:
        shown, keys = screen_text(pilot.app), help_keys(pilot)
        assert not chinese(shown) and not chinese(keys), (name, keys)
        assert all(line in keys for line in HELP.get(name, ([], []))[1]), (name, keys)
        assert "Help: keys" in shown

    run_walk(store, "en", check, help_check)


def test_keys_are_shown_as_their_keycaps() -> None:
    assert [key_display(k) for k in ("ctrl+s", "escape", "pagedown", "pageup", "delete", "f1",
                                     "b", "ctrl+shift+left", "enter", "down", "question_mark")] \
        == ["Ctrl+S", "Esc", "PgDn", "PgUp", "Del", "F1", "b", "Ctrl+Shift+←", "Enter", "↓", "?"]


def test_the_footer_drops_whole_keys_from_the_least_important_end_never_f1_or_esc() -> None:
    items = [FooterItem("a", "a " + "新" * 10), FooterItem("b", "b 删除"),
             FooterItem("escape", "Esc 返回"), FooterItem("f1", "F1 帮助"),
             FooterItem("f2", "F2 English")]
    # 23 + 7 + 9 + 8 + 11 cells with their margins: 58 in all.
    assert fit_footer(items, 58) == items
    assert fit_footer(items, 57) == items[:4]
    assert [i.key for i in fit_footer(items, 45)] == ["a", "escape", "f1"]
    # A narrower screen loses the first key too, and then the ones after it: b is less
    # important than a, so it does not take a's place.
    assert [i.key for i in fit_footer(items, 30)] == ["escape", "f1"]
    assert [i.key for i in fit_footer(items, 5)] == ["escape", "f1"]


def test_help_lists_the_screens_keys_then_the_apps_then_the_widgets_merging_shared_ones() -> None:
    keys = [KeyHelp("tab", "下一项", "screen", textual=True), KeyHelp("pagedown", "下一页", "screen"),
            KeyHelp("ctrl+n", "下一页", "screen"), KeyHelp("down", "下移", "widget", textual=True),
            KeyHelp("super+c", "复制", "screen", textual=True), KeyHelp("f1", "帮助", "app"),
            KeyHelp("ctrl+c", "", "app")]
    assert help_sections(keys) == {"screen": [("PgDn / Ctrl+N", "下一页"), ("Tab", "下一项")],
                                   "app": [("F1", "帮助")], "widget": [("↓", "下移")]}


def more_store(store: Store, tmp_path: Path) -> str:
    """demo_store, and for the screens off the walk a dispute with a party and a stick
    (a `usb_roots` folder) holding a photo and a sheet. Returns the dispute's id."""
    from .test_spreadsheet import HEADERS, people_rows, write_xlsx

    demo_store(store, tmp_path)
    store.unlock(PASSPHRASE)
    stick = tmp_path / "U盘"
    stick.mkdir()
    photo(stick / PHOTO)
    write_xlsx(stick / SHEET, HEADERS, people_rows(3))
    disputes = Cases(store, "dispute")
    grid = store.page("grid", limit=1)[0]["fields"]["code"]
    dispute = disputes.open({"kind": store.schema.code_table("dispute_kind").values[0].code,
                             "parties": ["王五", "赵六"], "grid": grid})
    disputes.add_part("dispute_party", dispute, {
        "name": "王五", "role": store.schema.code_table("party_role").values[0].code,
        "id_number": "440524198803152312", "phone": "13912342318"})
    with store.atomic() as writes:
        writes.put_settings(usb_roots=json.dumps([str(stick)]))
    store.lock()
    return dispute


def off_the_walk(dispute: str) -> Route:
    """The screens the walk does not reach: disputes and a dispute with its party's form, the
    file picker, the spreadsheet import and the delete question."""
    async def route(pilot: Pilot[None], check: Check, help_check: Check) -> None:
        app = pilot.app

        async def at(name: str, ready: Callable[[], object], with_help: bool = False) -> None:
            await until(pilot, ready)
            await pilot.pause()
            await check(name)
            if with_help:
                screen = app.screen
                await pilot.press("f1")
                await until(pilot, lambda: isinstance(app.screen, HelpScreen))
                await pilot.pause()
                await help_check(name)
                await pilot.press("escape")
                await until(pilot, lambda: app.screen is screen)

        def rows(table: str) -> Callable[[], bool]:
            return lambda: bool(app.screen.query(f"#{table}")) and \
                app.screen.query_one(f"#{table}", DataTable).row_count > 0

        app.screen.query_one("#passphrase", Input).value = PASSPHRASE
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("m")
        await at("disputes", lambda: isinstance(app.screen, CasesScreen) and rows("cases")(),
                 with_help=True)
        app.push_screen(CaseScreen(app.store, "dispute", dispute))  # type: ignore[attr-defined]
        await at("dispute", lambda: isinstance(app.screen, CaseScreen)
                 and "王*" in screen_text(app), with_help=True)
        await pilot.press("p")
        await at("party", lambda: isinstance(app.screen, RecordForm))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, CaseScreen))
        await pilot.press("a")
        await at("pick", lambda: isinstance(app.screen, PickFileScreen) and rows("pick")(),
                 with_help=True)
        await pilot.press("escape", "escape", "escape")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, RecordsScreen) and rows("records")())
        await pilot.press("ctrl+o")
        await at("import", lambda: isinstance(app.screen, ImportScreen) and rows("import-files")(),
                 with_help=True)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RecordsScreen))
        await pilot.press("delete")
        await at("confirm", lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, RecordsScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))

    return route


def test_the_screens_off_the_walk_in_chinese_have_no_english_word(
        store: Store, tmp_path: Path) -> None:
    """Disputes, a dispute and its party's form, the file picker, the import and the delete
    question, held to the rule above; their footers whole; their help in Chinese."""
    dispute = more_store(store, tmp_path)
    data = record_words(store) | set(LATIN_WORD.findall(PHOTO + SHEET))
    visited: list[str] = []

    def english(text: str) -> set[str]:
        return {w for w in LATIN_WORD.findall(text) if w not in KEYCAPS | UNITS | {"English"}
                and not (w in data or any(w in d for d in data))}

    def check(pilot: Pilot[None], name: str) -> None:
        visited.append(name)
        shown = screen_text(pilot.app)
        assert not english(shown), (name, english(shown), shown)
        check_footer(name, shown, pilot.app.screen, "zh")

    def help_check(pilot: Pilot[None], name: str) -> None:
        shown, keys = screen_text(pilot.app), help_keys(pilot)
        assert not english(shown) and not english(keys), (name, english(keys), keys)
        assert "本页按键" in shown and "帮助：按键" in shown

    seen = run_walk(store, "zh", check, help_check, off_the_walk(dispute))
    assert visited[:6] == ["disputes", "dispute", "party", "pick", "import", "confirm"]
    assert not seen - set(TEXTUAL_KEYS), seen - set(TEXTUAL_KEYS)


def test_the_screens_off_the_walk_in_english_have_whole_footers_and_english_help(
        store: Store, tmp_path: Path) -> None:
    dispute = more_store(store, tmp_path)

    def check(pilot: Pilot[None], name: str) -> None:
        screen = pilot.app.screen
        chrome = [*footer_labels(screen),
                  *(str(c.label) for t in screen.query(DataTable) for c in t.columns.values())]
        assert not CJK.findall(" ".join(chrome).replace("中文", "")), (name, chrome)
        check_footer(name, screen_text(pilot.app), screen, "en")

    def help_check(pilot: Pilot[None], name: str) -> None:
        keys = help_keys(pilot)
        assert not CJK.findall(keys.replace("中文", "")), (name, keys)

    run_walk(store, "en", check, help_check, off_the_walk(dispute))
