"""Photos and scans from a USB stick or a camera folder, attached on the kiosk at 80x24 with
the keyboard alone: the files under the `usb_roots` folders are listed, Enter attaches the one
under the cursor to the case (or, after `t`, to one of its steps), and the case's file list
shows it at once. A file the schema's rule refuses (too large, not of an allowed type) says
which rule on the screen, and nothing is stored."""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path

import pytest
from PIL import Image
from textual.pilot import Pilot
from textual.widgets import Static

from station.attachments import Attachments
from station.cases import Cases
from station.store import Store
from station.usb_files import find_files, parse_roots, roots_of, suffixes_for
from sync.errors import ValidationError
from tui.app import make_app
from tui.screens.attachments import AttachmentsScreen
from tui.screens.cases import CaseScreen
from tui.screens.pick_file import PickFileScreen

from .conftest import GRID, PASSPHRASE
from .test_tui import cells, run, until
from .test_tui_attachments import open_case


def jpeg(path: Path, size: tuple[int, int] = (64, 48), seed: int = 7) -> bytes:
    """A real JPEG of random pixels, written to `path`; its bytes."""
    rng = random.Random(seed)
    out = io.BytesIO()
    Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3)).save(out, "JPEG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    return out.getvalue()


def pdf(path: Path, padding: int = 200) -> bytes:
    """A small PDF (its header is what the type is read from) padded to about `padding` bytes."""
    data = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * padding + b"\n%%EOF\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def set_roots(store: Store, *roots: Path) -> None:
    with store.atomic() as writes:
        writes.put_settings(usb_roots=json.dumps([str(r) for r in roots]))


def incident(store: Store) -> str:
    return Cases(store, "incident").open({"category": "03", "title": "桥栏杆松动", "grid": GRID},
                                         note="巡查发现")


def status(screen: PickFileScreen) -> str:
    return str(screen.query_one("#pick-status", Static).render())


def stored_attachments(store: Store) -> int:
    return int(store.db.execute(
        "SELECT count(*) FROM records WHERE entity = 'attachment'").fetchone()[0])


async def open_picker(pilot: Pilot[None], rows: int) -> PickFileScreen:
    """From the first case's screen, `a`: the picker once it lists `rows` files."""
    await pilot.press("a")
    await until(pilot, lambda: isinstance(pilot.app.screen, PickFileScreen)
                and pilot.app.screen.table.row_count == rows)
    screen = pilot.app.screen
    assert isinstance(screen, PickFileScreen)
    return screen


async def pick(pilot: Pilot[None], screen: PickFileScreen, name: str) -> None:
    """Move the cursor with the arrow keys to the row of `name`, then Enter."""
    await pilot.press(*["up"] * screen.table.row_count)
    for _ in range(screen.table.row_count):
        if cells(screen.table, screen.table.coordinate_to_cell_key(
                (screen.table.cursor_row, 0)).row_key)[0] == name:
            break
        await pilot.press("down")
    await pilot.press("enter")


def test_a_photo_and_a_scan_from_a_stick_are_attached_and_listed_at_once(
        store: Store, tmp_path: Path) -> None:
    stick = tmp_path / "media" / "clerk" / "KINGSTON"
    photo = jpeg(stick / "DCIM" / "100MEDIA" / "IMG_0001.JPG")
    scan = pdf(stick / "调解协议书.pdf")
    os.utime(stick / "调解协议书.pdf", (1_700_000_000, 1_700_000_000))  # the older of the two
    (stick / "说明.txt").write_text("不是附件")  # not of an accepted type: not listed
    set_roots(store, tmp_path / "media", tmp_path / "nothing-mounted")
    case_id = incident(store)
    (event,) = Cases(store, "incident").show(case_id)["events"]
    store.lock()

    async def scenario(pilot: Pilot[None]) -> None:
        case = await open_case(pilot)
        screen = await open_picker(pilot, rows=2)
        assert "JPEG、PNG、PDF" in str(screen.title_label().render())
        assert [cells(screen.table, str(p))[:2] for p in (
            stick / "DCIM" / "100MEDIA" / "IMG_0001.JPG", stick / "调解协议书.pdf")] == [
            ["IMG_0001.JPG", "clerk/KINGSTON/…"], ["调解协议书.pdf", "clerk/KINGSTON"]]  # 16 cells
        await pick(pilot, screen, "IMG_0001.JPG")  # onto the case itself
        await until(pilot, lambda: pilot.app.screen is case)
        await until(pilot, lambda: str(case.query_one("#case-files", Static).render())
                    == "附件：1 个")
        await pilot.press("f")
        await until(pilot, lambda: isinstance(pilot.app.screen, AttachmentsScreen)
                    and pilot.app.screen.table.row_count == 1)
        files = pilot.app.screen
        assert isinstance(files, AttachmentsScreen)
        screen = await open_picker(pilot, rows=2)
        await pilot.press("t")  # onto the first step (发现) instead
        assert "发现" in str(screen.query_one("#pick-target", Static).render())
        await pick(pilot, screen, "调解协议书.pdf")
        await until(pilot, lambda: pilot.app.screen is files and files.table.row_count == 2)
        names = sorted((cells(files.table, k)[0], cells(files.table, k)[1])
                       for k in files.table.rows)
        assert names == [("IMG_0001.JPG", "事件"), ("调解协议书.pdf", "发现")]

    run(make_app(store), scenario)
    if not store.unlocked:
        store.unlock(PASSPHRASE)
    attachments = Attachments(store)
    (own,) = attachments.of(case_id)
    (on_step,) = attachments.of(event["id"])
    assert own["media_type"] == "image/jpeg" and own["size"] == len(photo)  # small: kept as is
    assert attachments.read(str(on_step["sha256"])) == scan


def test_a_file_too_large_or_of_the_wrong_type_is_refused_on_screen_and_nothing_is_kept(
        store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "camera"
    pdf(folder / "扫描件.pdf", padding=11 * 1024 * 1024)  # over the rule's 10 MiB
    (folder / "照片.jpg").write_bytes(b"PK\x03\x04" + b"\0" * 400)  # a renamed zip file
    set_roots(store, folder)
    incident(store)
    before = stored_attachments(store)
    store.lock()

    async def scenario(pilot: Pilot[None]) -> None:
        await open_case(pilot)
        screen = await open_picker(pilot, rows=2)
        await pick(pilot, screen, "扫描件.pdf")
        await until(pilot, lambda: "文件过大" in status(screen))
        assert "上限 10.0 MB" in status(screen) and "max_bytes" in status(screen)
        await pick(pilot, screen, "照片.jpg")
        await until(pilot, lambda: "不接受" in status(screen))
        assert "允许：JPEG、PNG、PDF" in status(screen) and "media_type" in status(screen)
        assert pilot.app.screen is screen  # still here, to pick another
        await pilot.press("f2")
        await pick(pilot, screen, "扫描件.pdf")
        await until(pilot, lambda: "too large" in status(screen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, CaseScreen))
        case = pilot.app.screen
        assert str(case.query_one("#case-files", Static).render()) == "Attachments: none"

    run(make_app(store), scenario)
    assert stored_attachments(store) == before
    assert store.db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 0


def test_usb_roots_are_a_json_list_of_paths_and_default_to_the_mount_folders() -> None:
    assert roots_of({}) == [Path("/media"), Path("/mnt"), Path("~/Pictures").expanduser()]
    assert roots_of({"usb_roots": '["/srv/usb", "~/DCIM"]'}) == [
        Path("/srv/usb"), Path("~/DCIM").expanduser()]
    for bad in ('"/media"', "[1]", '["media"]', "not json"):
        with pytest.raises(ValidationError) as caught:
            parse_roots(bad)
        assert caught.value.field == "usb_roots"


def test_the_walk_skips_hidden_folders_links_and_other_types_and_lists_newest_first(
        tmp_path: Path) -> None:
    root = tmp_path / "usb"
    jpeg(root / "a" / "old.jpeg")
    os.utime(root / "a" / "old.jpeg", (1_600_000_000, 1_600_000_000))
    jpeg(root / "b" / "NEW.JPG")
    jpeg(root / ".Trash-1000" / "gone.jpg")
    pdf(root / "deep" / "1" / "2" / "3" / "4" / "5" / "6" / "7" / "too-deep.pdf")
    (root / "b" / "link.jpg").symlink_to(root / "b" / "NEW.JPG")
    (root / "notes.docx").write_bytes(b"PK")
    found = find_files([root, tmp_path / "absent"], suffixes_for(["image/jpeg", "application/pdf"]))
    assert [(f.path.name, f.shown_folder) for f in found] == [("NEW.JPG", "b"), ("old.jpeg", "a")]
    assert found[0].size == (root / "b" / "NEW.JPG").stat().st_size
