"""`station tui` in a real terminal: tmux at 80x24, keys typed, the screen read back."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid

from .conftest import GRID, PASSPHRASE, STATION, Cli

SOCKET = f"ts-{uuid.uuid4().hex[:8]}"  # a tmux server of these tests' own (bench_tui.Terminal)


def tmux(*args: str) -> str:
    # A new session can meet the server of the test before as it exits (its last session
    # closed): tmux then fails with "server exited unexpectedly". Seen once in CI; try again.
    for attempt in range(3):
        done = subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True,
                              timeout=30)
        if done.returncode == 0 or args[0] != "new-session" or attempt == 2:
            break
        time.sleep(0.5)
    if done.returncode != 0:
        raise AssertionError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def test_station_tui_unlocks_and_shows_home_in_a_real_terminal(cli: Cli) -> None:
    assert shutil.which("tmux"), "tmux is installed by install.sh --dev"
    cli("add", "person", "--json", json.dumps({"name": "李四", "id_number": "11010519491231002X",
                                               "grid": GRID}, ensure_ascii=False))
    session = f"ts-{uuid.uuid4().hex[:8]}"
    home = cli.env["STATION_HOME"]
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24",
         f"env -u STATION_PASSPHRASE STATION_HOME={home} LANG=C.UTF-8 {STATION} tui")
    try:
        def screen() -> str:
            return tmux("capture-pane", "-p", "-t", session)

        def wait_for(words: str, seconds: float = 30) -> str:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                shown = screen()
                if words in shown:
                    return shown
                time.sleep(0.2)
            raise AssertionError(f"{words!r} never appeared:\n{screen()}")

        wait_for("解锁工作站")
        tmux("send-keys", "-t", session, "-l", PASSPHRASE)
        tmux("send-keys", "-t", session, "Enter")
        shown = wait_for("待上传")
        assert "实有人口" in shown and "数据版本: 1" in shown
        assert all(len(line) <= 80 for line in shown.splitlines())
        tmux("send-keys", "-t", session, "C-l")
        wait_for("解锁工作站")
        tmux("send-keys", "-t", session, "C-q")
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True,
                       timeout=30)


def test_station_demo_sets_up_hub_and_station_and_opens_the_app(tmp_path: object) -> None:
    """The README's main command, in a real terminal: the app opens on the demo station, and
    quitting it stops the demo hub."""
    home = f"{tmp_path}/demo"
    session = f"ts-{uuid.uuid4().hex[:8]}"
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24",
         f"env -u STATION_PASSPHRASE LANG=C.UTF-8 {STATION} demo --home {home}")
    try:
        def wait_for(words: str, seconds: float = 90) -> str:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                shown = tmux("capture-pane", "-p", "-t", session)
                if words in shown:
                    return shown
                time.sleep(0.2)
            raise AssertionError(f"{words!r} never appeared:\n{tmux('capture-pane', '-p', '-t', session)}")

        shown = wait_for("解锁工作站")
        assert "口令 passphrase: demo 口令 2026" in shown  # the newcomer sees what to type
        tmux("send-keys", "-t", session, "-l", "demo 口令 2026")
        tmux("send-keys", "-t", session, "Enter")
        shown = wait_for("待上传: 0")
        assert "1,200" in shown and "https://127.0.0.1:" in shown
        tmux("send-keys", "-t", session, "C-q")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and subprocess.run(
                ["pgrep", "-f", f"county --home {home}/county serve"], capture_output=True).returncode == 0:
            time.sleep(0.2)
        assert subprocess.run(["pgrep", "-f", f"county --home {home}/county serve"],
                              capture_output=True).returncode != 0  # the demo hub stopped
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True,
                       timeout=30)


def wait_for(session: str, words: str, seconds: float = 30) -> str:
    """The pane's text once `words` are on it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        shown = tmux("capture-pane", "-p", "-t", session)
        if words in shown:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{words!r} never appeared:\n{tmux('capture-pane', '-p', '-t', session)}")


def test_f1_in_a_real_terminal_describes_every_key_in_chinese(cli: Cli) -> None:
    """Textual's own keys of the home screen's table (↓, Ctrl+End) read in Chinese on the help
    screen, which scrolls to show them all; the footer shows its keys whole."""
    cli("add", "person", "--json", json.dumps({"name": "李四", "id_number": "11010519491231002X",
                                               "grid": GRID}, ensure_ascii=False))
    session = f"ts-{uuid.uuid4().hex[:8]}"
    home = cli.env["STATION_HOME"]
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24",
         f"env -u STATION_PASSPHRASE STATION_HOME={home} LANG=C.UTF-8 {STATION} tui")
    try:
        wait_for(session, "解锁工作站")
        tmux("send-keys", "-t", session, "-l", PASSPHRASE)
        tmux("send-keys", "-t", session, "Enter")
        wait_for(session, "待上传")
        shown = wait_for(session, "F1 帮助")  # the footer comes once its bindings are known
        footer = shown.rstrip("\n").splitlines()[-1]
        assert "b 基础数据" in footer and "F1 帮助" in footer and "Ctrl+L 锁定" in footer, footer
        tmux("send-keys", "-t", session, "F1")
        top = wait_for(session, "本页按键")
        assert "基础数据" in top and "纠纷" in top and "帮助：按键" in top
        tmux("send-keys", "-t", session, "End")  # the help's end: the table's own keys
        bottom = wait_for(session, "到最下面")  # Ctrl+End, the last but two of the table's
        assert "光标所在处" in bottom and "下移" in bottom and "选定" in bottom, bottom
        for english in ("Bottom", "Top", "Cursor down", "Page Right", "Select"):
            assert english not in top and english not in bottom, english
        tmux("send-keys", "-t", session, "Escape")
        wait_for(session, "待上传")
        tmux("send-keys", "-t", session, "C-q")
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True,
                       timeout=30)


def test_the_lists_in_a_real_terminal_mask_numbers_and_name_their_cases(cli: Cli) -> None:
    """Issue 21 in tmux at 80x24, as a passer-by reads the pane: the person list shows the ID
    and mobile numbers masked, never whole; the incident list names its case by title, with
    its category and grid, and a deadline two days over as 超时 2 天, not in seconds."""
    import re
    from datetime import datetime, timedelta, timezone

    whole_id, phone = "11010519491231002X", "13812345678"
    cli("add", "person", "--json", json.dumps({"name": "李四", "id_number": whole_id,
                                               "phone": phone, "grid": GRID}, ensure_ascii=False))
    found = (datetime.now(timezone(timedelta(hours=8))) - timedelta(days=2, hours=1)).isoformat()
    cli("incident", "new", "--json", json.dumps({"category": "03", "title": "消防通道堵塞",
                                                 "grid": GRID}, ensure_ascii=False), "--at", found)
    session = f"ts-{uuid.uuid4().hex[:8]}"
    home = cli.env["STATION_HOME"]
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24",
         f"env -u STATION_PASSPHRASE STATION_HOME={home} LANG=C.UTF-8 {STATION} tui")
    try:
        wait_for(session, "解锁工作站")
        tmux("send-keys", "-t", session, "-l", PASSPHRASE)
        tmux("send-keys", "-t", session, "Enter")
        wait_for(session, "待上传")
        wait_for(session, "b 基础数据")  # home's keys are bound: b is not typed into the unlock
        tmux("send-keys", "-t", session, "b")
        shown = wait_for(session, "1101**********002X")
        assert "138****5678" in shown and "李*" in shown
        assert whole_id not in shown and phone not in shown and "李四" not in shown
        tmux("send-keys", "-t", session, "Escape")
        wait_for(session, "待上传")
        tmux("send-keys", "-t", session, "i")
        shown = wait_for(session, "消防通道堵塞")
        row = next(line for line in shown.splitlines() if "消防通道堵塞" in line)
        assert "安全隐患" in row and "超时 2 天" in row, row
        assert all(int(n) < 60 for n in re.findall(r"(\d+) 秒", shown)), shown
        assert all(len(line) <= 80 for line in shown.splitlines())
        tmux("send-keys", "-t", session, "C-q")
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True,
                       timeout=30)
