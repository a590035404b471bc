"""A clerk's morning in a real terminal (tmux at 80x24), keys only: unlock, import a 500-row
sheet from a stick, find people by surname and by the last 6 digits of an ID number, log an
incident with a photo from the stick, walk it through the five steps to 已办结, sync, and see
at the county hub that it all arrived."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

from PIL import Image

from .conftest import GRID, PASSPHRASE, STATION, Cli
from .hubserver import HubServer
from .test_spreadsheet import HEADERS, people_rows, write_xlsx
from .test_sync_e2e import county_cli, enroll

SOCKET = f"ts-{uuid.uuid4().hex[:8]}"  # a tmux server of this test's own


class Terminal:
    """`station tui` in a tmux pane of 80x24: keys in, the pane's text out."""

    def __init__(self, home: str) -> None:
        self.session = f"ts-{uuid.uuid4().hex[:8]}"
        self.tmux("new-session", "-d", "-s", self.session, "-x", "80", "-y", "24",
                  f"env -u STATION_PASSPHRASE STATION_HOME={home} LANG=C.UTF-8 {STATION} tui")

    @staticmethod
    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", self.session, key)

    def type(self, words: str) -> None:
        self.tmux("send-keys", "-t", self.session, "-l", words)

    def wait_for(self, *words: str, seconds: float = 60) -> str:
        """The pane's text once every one of `words` is on it."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            shown = self.screen()
            if all(w in shown for w in words):
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{words!r} never all appeared:\n{self.screen()}")

    def find(self, words: str) -> None:
        """Ctrl+F, then type once the search box has the keys (the footer drops the list's
        Ctrl+A): as a clerk looks up before typing, for keys typed while the focus is still
        moving can reach the list instead (seen just after an import, under load)."""
        self.wait_for("Ctrl+A 新增")
        self.keys("C-f")
        deadline = time.monotonic() + 30
        while "Ctrl+A 新增" in self.screen().rstrip("\n").splitlines()[-1]:
            assert time.monotonic() < deadline, self.screen()
            time.sleep(0.1)
        self.type(words)
        self.wait_for(f"▊  {words} ")  # in the search box
        self.keys("Enter")

    def field(self, label: str, value: str) -> None:
        """Tab to the form's next field and type into it; its line then reads `value`. The
        pause lets the focus land first: keys sent with no gap after a Tab reach the field
        before it (a clerk never types that fast; tmux does)."""
        self.keys("Tab")
        time.sleep(1)
        self.type(value)
        deadline = time.monotonic() + 30
        while not any(line.strip().startswith(label) and line.rstrip().endswith(value)
                      for line in self.screen().splitlines()):
            assert time.monotonic() < deadline, self.screen()
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", self.session],
                       capture_output=True, timeout=30)


def test_a_clerks_morning_at_80x24_in_a_real_terminal(cli: Cli, sqlite_hub: HubServer,
                                                     tmp_path: Path) -> None:
    assert shutil.which("tmux"), "tmux is installed by install.sh --dev"
    enroll(cli, sqlite_hub)
    already = {"name": "李四", "id_number": "11010519491231002X", "grid": GRID}  # on the list
    cli("add", "person", "--json", json.dumps(already, ensure_ascii=False))
    stick = tmp_path / "U盘"
    (stick / "台账").mkdir(parents=True)
    rows = people_rows(500, seed=22)
    write_xlsx(stick / "台账" / "实有人口.xlsx", HEADERS, rows)
    (stick / "照片").mkdir()
    Image.new("RGB", (640, 480), (90, 140, 200)).save(stick / "照片" / "路灯现场.jpg", "JPEG")
    cli("settings", "set", "usb_roots", json.dumps([str(stick)], ensure_ascii=False))

    names = [str(r[0]) for r in rows]
    ids = [str(r[1]) for r in rows]
    surname = Counter(n[0] for n in names).most_common(1)[0][0]
    with_surname = sum(n.startswith(surname) for n in [*names, already["name"]])
    last6 = Counter(i[-6:] for i in [*ids, already["id_number"]])
    one = next(k for k, i in enumerate(ids) if last6[i[-6:]] == 1 and not names[k].startswith(surname))

    term = Terminal(cli.env["STATION_HOME"])
    try:
        # 1. unlock
        term.wait_for("解锁工作站")
        term.type(PASSPHRASE)
        term.keys("Enter")
        term.wait_for("待上传", "F1 帮助")

        # 2. the sheet from the stick into base data
        term.keys("b")
        term.wait_for("共 1 条")
        term.keys("C-o")
        term.wait_for("台账/实有人口.xlsx")
        term.keys("Enter")
        term.wait_for("500 行都可以导入", seconds=90)
        term.keys("C-s")
        term.wait_for("已导入 500 条记录", seconds=90)
        term.keys("Escape")
        shown = term.wait_for("共 501 条")
        assert not any(i in shown for i in ids), shown  # the list masks ID numbers

        # 3. find by surname, then by the last 6 digits of one ID number
        term.find(surname)
        shown = term.wait_for("找到 ")
        assert f"找到 {with_surname} 条（姓氏 {with_surname}）" in shown, shown
        assert not any(i in shown for i in ids), shown  # ID numbers stay masked on the list
        term.find(ids[one][-6:])
        shown = term.wait_for("找到 1 条")
        masked_name = names[one][0] + "*" * (len(names[one]) - 1)
        assert masked_name in shown and names[one] not in shown, shown
        assert ids[one] not in shown
        term.keys("Escape")
        term.wait_for("共 501 条")
        term.keys("Escape")
        term.wait_for("待上传")

        # 4. an incident, with the photo from the stick
        term.keys("i")
        term.wait_for("Ctrl+A 新增")
        term.keys("C-a")
        term.wait_for("事件类别")
        term.keys("Enter")  # the category's list opens; the first is 社会治安
        term.wait_for("社会治安")
        term.keys("Down", "Enter")
        term.wait_for("01 社会治安  ")
        term.field("事件名称 *", "路灯损坏")
        term.field("事件简述", "村口路灯不亮")
        term.field("发生地点", "村口")
        term.field("所属网格 *", GRID)
        term.keys("C-s")
        term.wait_for("路灯损坏")
        term.keys("Enter")
        term.wait_for("环节: 发现", "附件：无")
        term.keys("a")
        term.wait_for("路灯现场.jpg")
        term.keys("Enter")
        term.wait_for("已添加附件")
        term.wait_for("附件：1 个")

        # 5. the four moves after 发现, each by the number the case's screen shows beside it
        for key, move, step in (("1", "上报", "上报"), ("1", "交办处置", "处置"),
                                ("1", "反馈结果", "反馈"), ("2", "核查通过", "核查")):
            term.wait_for(f"  {key}  {move}")
            term.keys(key)
            term.wait_for("经办人", "Ctrl+S 保存")  # the step's form, its clerk filled in
            term.keys("C-s")
            term.wait_for(f"环节: {step}")
        shown = term.wait_for("已办结")
        assert "附件：1 个" in shown

        # 6. sync
        term.keys("Escape")
        term.wait_for("Ctrl+A 新增")
        term.keys("Escape")
        term.wait_for("待上传")
        term.keys("s")
        term.wait_for("Ctrl+R 重发")
        term.keys("s")
        shown = term.wait_for("完成：上传", seconds=120)
        pushed = int(shown.split("完成：上传")[1].split("条")[0])
        assert pushed >= 501 + 1 + 5, shown  # the people, the incident and its five steps
        # the line whole once the notices of the morning have gone from over it
        shown = term.wait_for("被拒 0 条，下载 0 条；附件上传 1 个")
        assert all(len(line) <= 80 for line in shown.splitlines())
        term.keys("C-q")
    finally:
        term.close()

    people = [json.loads(x)["fields"] for x in
              county_cli(sqlite_hub.home, "export", "person").splitlines()]
    assert len(people) == 501
    assert sorted((p["name"], p["id_number"]) for p in people) == sorted(
        [("李四", "11010519491231002X"), *zip(names, ids, strict=True)])
    (incident,) = [json.loads(x) for x in
                   county_cli(sqlite_hub.home, "export", "incident").splitlines()]
    assert incident["fields"]["title"] == "路灯损坏" and incident["fields"]["location"] == "村口"
    assert incident["fields"]["category"] == "01"
    events = [json.loads(x)["fields"] for x in
              county_cli(sqlite_hub.home, "export", "incident_event").splitlines()]
    assert sorted(e["step"] for e in events) == sorted(
        ["discover", "report", "dispose", "feedback", "verify"])
    assert {e["incident"] for e in events} == {incident["id"]}
    for entity in ("person", "incident", "incident_event"):  # the hub holds what the station does
        assert county_cli(sqlite_hub.home, "export", entity) == cli("export", entity).stdout
