"""A case's attachments in the kiosk app at 80x24, keys only: listed with their size and
where their bytes are, opened with the system viewer from /dev/shm, and — when a file has not
arrived and the hub cannot be asked — wanted at the next sync, said in the clerk's language."""

from __future__ import annotations

import io
import os
import random
import sqlite3
import stat
from pathlib import Path

import pytest
from PIL import Image
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from station.attachments import Attachments
from station.cases import Cases
from station.store import DB_FILE, Store
from station.syncer import sync_once
from sync.attachments import megabytes
from tui.app import make_app
from tui.screens.attachments import AttachmentsScreen
from tui.screens.cases import CaseScreen, CasesScreen
from tui.screens.home import HomeScreen

from .conftest import GRID, PASSPHRASE, TOWNSHIP, Cli
from .hubserver import HubServer
from .test_sync_e2e import enroll
from .test_tui import cells, open_sync_screen, run, sync_now, unlock, until


def photo(path: Path, seed: int = 1) -> Path:
    """A small PNG of random pixels (it does not compress: a few KB, unlike any other)."""
    rng = random.Random(seed)
    out = io.BytesIO()
    Image.frombytes("RGB", (40, 40), rng.randbytes(40 * 40 * 3)).save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


def incident(store: Store) -> str:
    return Cases(store, "incident").open({"category": "01", "title": "路灯不亮", "grid": GRID},
                                         note="x")


async def open_case(pilot: Pilot[None]) -> CaseScreen:
    """Unlock, incidents (i), the first case (Enter)."""
    await unlock(pilot)
    await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
    await pilot.press("i")
    await until(pilot, lambda: isinstance(pilot.app.screen, CasesScreen)
                and pilot.app.screen.table.row_count > 0)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, CaseScreen))
    screen = pilot.app.screen
    assert isinstance(screen, CaseScreen)
    return screen


async def open_files(pilot: Pilot[None]) -> AttachmentsScreen:
    """The first case's attachments (f)."""
    await open_case(pilot)
    await pilot.press("f")
    await until(pilot, lambda: isinstance(pilot.app.screen, AttachmentsScreen)
                and pilot.app.screen.table.row_count > 0)
    screen = pilot.app.screen
    assert isinstance(screen, AttachmentsScreen)
    return screen


def status(screen: AttachmentsScreen) -> str:
    return str(screen.query_one("#attachments-status", Static).render())


def shown_line(table: DataTable[object], y: int) -> str:
    """Line `y` of the table as it is drawn (0: the headers)."""
    return table.render_line(y).text


@pytest.fixture
def no_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def test_a_case_and_its_steps_files_are_listed_and_no_viewer_is_said_not_crashed(
        store: Store, tmp_path: Path, no_display: None) -> None:
    case_id = incident(store)
    (event,) = Cases(store, "incident").show(case_id)["events"]
    attachments = Attachments(store)
    (own,) = attachments.attach("incident", case_id, photo(tmp_path / "路灯[red]现场[b].png"))
    (step,) = attachments.attach("incident_event", event["id"], photo(tmp_path / "b.png", seed=2))
    store.lock()

    async def scenario(pilot: Pilot[None]) -> None:
        case = await open_case(pilot)
        assert str(case.query_one("#case-files", Static).render()) == "附件：2 个"
        await pilot.press("f")
        await until(pilot, lambda: isinstance(pilot.app.screen, AttachmentsScreen)
                    and pilot.app.screen.table.row_count == 2)
        screen = pilot.app.screen
        assert isinstance(screen, AttachmentsScreen)
        assert cells(screen.table, own["id"]) == [
            "路灯[red]现场[b].png", "事件", megabytes(own["size"]), "已到本站", "待上传"]
        assert cells(screen.table, step["id"])[1:] == [
            "发现", megabytes(step["size"]), "已到本站", "待上传"]
        assert "KB" in megabytes(own["size"]) and not megabytes(own["size"]).startswith("0 ")
        await pilot.press("enter")
        await until(pilot, lambda: "没有图片查看程序" in status(screen))
        assert pilot.app.is_running and pilot.app.screen is screen
        await pilot.press("f2")
        await until(pilot, lambda: "County" in shown_line(screen.table, 0))
        await pilot.press("enter")
        await until(pilot, lambda: "no image viewer here" in status(screen))
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is case)
        assert str(case.query_one("#case-files", Static).render()) == "Attachments: 2"

    run(make_app(store), scenario)


@pytest.fixture
def fake_viewer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An `xdg-open` on PATH, with a display, that copies the file it is given to
    `seen/copy` and then writes its path to `seen/path`; the directory `seen`."""
    bin_dir, seen = tmp_path / "bin", tmp_path / "seen"
    bin_dir.mkdir()
    seen.mkdir()
    viewer = bin_dir / "xdg-open"
    # The copy first, its path last: once the path is there, the copy is whole.
    viewer.write_text(f'#!/bin/sh\ncp "$1" "{seen}/copy"\nprintf %s "$1" > "{seen}/path.tmp"\n'
                      f'mv "{seen}/path.tmp" "{seen}/path"\n')
    viewer.chmod(viewer.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":99")
    return seen


def viewed(seen: Path) -> bytes:
    """What the fake viewer was given, after checking it was a private copy in /dev/shm
    (removed here: the app's own timer would take two minutes)."""
    opened = Path((seen / "path").read_text())
    try:
        assert opened.parent == Path("/dev/shm") and opened.suffix == ".png"
        return (seen / "copy").read_bytes()
    finally:
        opened.unlink(missing_ok=True)


def test_enter_opens_a_private_copy_in_dev_shm_with_the_system_viewer(
        store: Store, tmp_path: Path, fake_viewer: Path) -> None:
    case_id = incident(store)
    (stored,) = Attachments(store).attach("incident", case_id, photo(tmp_path / "现场.png"))
    expected = Attachments(store).read(stored["sha256"])
    store.lock()

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_files(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: (fake_viewer / "path").exists())
        await until(pilot, lambda: "已用查看程序打开：现场.png" in status(screen))

    run(make_app(store), scenario)
    assert viewed(fake_viewer) == expected


def test_a_file_not_here_on_an_unenrolled_station_is_wanted_at_the_next_sync(
        store: Store, tmp_path: Path, no_display: None) -> None:
    case_id = incident(store)
    (stored,) = Attachments(store).attach("incident", case_id, photo(tmp_path / "协议扫描.png"))
    with sqlite3.connect(store.home / DB_FILE) as conn:  # the bytes were never here
        conn.execute("DELETE FROM blob_chunks")
        conn.execute("UPDATE blobs SET stored = 0")
    store.lock()

    async def scenario(pilot: Pilot[None]) -> None:
        await open_case(pilot)
        line = pilot.app.screen.query_one("#case-files", Static)
        assert str(line.render()) == "附件：1 个，其中 1 个未到本站"
        await pilot.press("f")
        await until(pilot, lambda: isinstance(pilot.app.screen, AttachmentsScreen)
                    and pilot.app.screen.table.row_count == 1)
        screen = pilot.app.screen
        assert isinstance(screen, AttachmentsScreen)
        assert cells(screen.table, stored["id"])[3:] == ["未到本站", "—"]
        await pilot.press("enter")
        await until(pilot, lambda: "下次同步时取回" in status(screen))
        assert "尚未注册到县级平台" in status(screen)
        assert cells(screen.table, stored["id"])[3] == "未到本站"

    run(make_app(store), scenario)
    assert store.conn.execute("SELECT wanted FROM blobs").fetchall() == [(1,)]


def test_the_columns_fit_80_columns_in_both_languages_with_a_long_name(
        store: Store, tmp_path: Path) -> None:
    case_id = incident(store)
    long_name = "很长的文件名" * 8 + ".png"
    Attachments(store).attach("incident", case_id, photo(tmp_path / long_name))
    store.lock()

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_files(pilot)
        table = screen.table
        await pilot.pause()
        header, row = shown_line(table, 0), shown_line(table, 1)
        for word in ("文件名", "所属", "大小", "本站", "县级"):
            assert word in header, header
        assert "已到本站" in row and "待上传" in row and "很长的文件名" in row, row
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= 80
        assert "（回车用查看程序打开）" in str(screen.title_label().render())
        await pilot.press("f2")
        await until(pilot, lambda: "County" in shown_line(table, 0))
        header, row = shown_line(table, 0), shown_line(table, 1)
        for word in ("Name", "On", "Size", "Here", "County"):
            assert word in header, header
        assert "Here" in row and "To send" in row and "Incident" in row, row
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= 80

    run(make_app(store), scenario)


def test_a_file_from_another_station_comes_down_on_enter_and_is_wanted_when_the_hub_is_gone(
        sqlite_hub: HubServer, tmp_path: Path, fake_viewer: Path) -> None:
    one, two = enrolled(tmp_path / "one", sqlite_hub), enrolled(tmp_path / "two", sqlite_hub)
    try:
        attachments = Attachments(one)
        case_id = incident(one)
        (first,) = attachments.attach("incident", case_id, photo(tmp_path / "现场.png"))
        (second,) = attachments.attach("incident", case_id, photo(tmp_path / "协议.png", seed=2))
        expected = attachments.read(first["sha256"])
        assert sync_once(one).files_sent == 2
    finally:
        one.close()
    sync_once(two)
    assert not Attachments(two).get(first["id"])["arrived"]
    two.lock()

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_files(pilot)
        table = screen.table
        assert [cells(table, a["id"])[3] for a in (first, second)] == ["未到本站"] * 2
        for _ in range(table.get_row_index(first["id"])):
            await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: (fake_viewer / "path").exists())
        await until(pilot, lambda: "已用查看程序打开" in status(screen))
        assert cells(table, first["id"])[3:] == ["已到本站", "已上传"]
        sqlite_hub.stop()
        await pilot.press("up" if table.cursor_row else "down", "enter")
        await until(pilot, lambda: "下次同步时取回" in status(screen))
        assert cells(table, second["id"])[3] == "未到本站"

    try:
        run(make_app(two), scenario)
        assert viewed(fake_viewer) == expected
        wanted = dict(two.conn.execute("SELECT sha256, wanted FROM blobs").fetchall())
        assert wanted == {first["sha256"]: 0, second["sha256"]: 1}
    finally:
        two.close()


def enrolled(home: Path, hub: HubServer) -> Store:
    """A station of the township enrolled with `hub` through the real command, opened."""
    cli = Cli(home)
    cli("init", "--township", TOWNSHIP, "--name", home.name, "--clerk", "张三")
    enroll(cli, hub)
    store = Store.open(home)
    store.unlock(PASSPHRASE)
    return store


def test_home_says_how_many_files_wait_to_go_up_only_while_some_do(store: Store,
                                                                     tmp_path: Path) -> None:
    from tui.widgets.sync_status import sync_lines

    assert "待上传附件" not in sync_lines(store.status(), "zh", store.clock.now())
    case = Cases(store, "incident").open({"category": "01", "title": "路灯不亮", "grid": GRID})
    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(photo)
    Attachments(store).attach("incident", case, photo)
    assert "待上传附件: 1" in sync_lines(store.status(), "zh", store.clock.now())
    assert "Files to send: 1" in sync_lines(store.status(), "en", store.clock.now())


def test_the_sync_screen_shows_files_moving_after_the_records(
        store: Store, sqlite_hub: HubServer, tmp_path: Path) -> None:

    from station.syncer import enroll as enroll_store
    from sync.hub import county

    enroll_store(store, sqlite_hub.url,
                 county.open_hub(sqlite_hub.home).add_enrollment("440524001", []))
    Attachments(store).attach("incident", incident(store), photo(tmp_path / "现场.png", seed=5))
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        state = await open_sync_screen(pilot)
        assert "待上传附件: 1" in str(state.render())
        lines = await sync_now(pilot)
        assert any(line.startswith("附件 ") and "块" in line for line in lines), lines
        assert any("附件上传 1 个" in line for line in lines), lines
        assert "待上传附件" not in str(state.render())

    run(app, scenario)
