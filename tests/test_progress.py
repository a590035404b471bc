"""Progress bars on long command-line work: drawn on stderr when it is a terminal, absent when
it is a pipe, so scripts read exactly what they read before."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
from pathlib import Path

from station import synthetic

from .conftest import GRID, STATION, Cli
from .hubserver import HubServer
from .test_backup import Replication, replica  # noqa: F401 (the fixture)
from .test_spreadsheet import HEADERS, people_rows, write_xlsx
from .test_sync_e2e import enroll

BAR = "[#"  # click's bar as it fills


def on_a_terminal(cli: Cli, *args: str, timeout: float = 120) -> tuple[str, str, int]:
    """Run `station ARGS` with stderr on a pseudo-terminal and stdout on a pipe (as in
    `station import … > ids.txt` typed at a terminal): (stdout, what the terminal showed, rc)."""
    master, slave = pty.openpty()
    process = subprocess.Popen([STATION, *args], env=cli.env, stdout=subprocess.PIPE,
                               stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            process.kill()
            raise AssertionError(f"station {' '.join(args)} hung; showed {shown!r}")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    out = process.stdout.read().decode() if process.stdout else ""
    process.wait(timeout=timeout)
    os.close(master)
    return out, shown.decode(errors="replace"), process.returncode


def test_import_draws_its_bars_on_a_terminal_and_not_in_a_pipe(cli: Cli, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "people.xlsx", HEADERS, people_rows(300, seed=31))
    out, shown, rc = on_a_terminal(cli, "import", "person", str(path))
    assert rc == 0 and len(out.split()) == 300  # the ids still go to stdout, whole
    assert "检查 checking" in shown and "写入 writing" in shown and "300/300" in shown
    assert BAR in shown
    again = write_xlsx(tmp_path / "more.xlsx", HEADERS, people_rows(300, seed=32))
    piped = cli("import", "person", str(again))
    assert "checking" not in piped.stderr and "/300" not in piped.stderr
    assert piped.stderr.strip().splitlines() == ["已导入 300 条记录 (imported 300)"]
    forced = cli("import", "person", str(write_xlsx(tmp_path / "x.xlsx", HEADERS,
                                                    people_rows(5, seed=33))), "--progress")
    assert "5/5" in forced.stderr  # asked for: drawn even into a pipe


def test_add_file_and_demo_data_draw_bars_on_a_terminal(cli: Cli, tmp_path: Path) -> None:
    lines = tmp_path / "people.jsonl"
    lines.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n"
                             for p in synthetic.people(250, [GRID], seed=34)), encoding="utf-8")
    out, shown, rc = on_a_terminal(cli, "add", "person", "--file", str(lines))
    assert rc == 0 and len(out.split()) == 250
    assert "记录 records" in shown and "250/250" in shown
    out, shown, rc = on_a_terminal(cli, "demo-data")
    assert rc == 0 and json.loads(out)["person"] == 1200
    assert "记录 records" in shown and BAR in shown
    assert "records" not in cli("demo-data", "--seed", "2").stderr.replace("demo records", "")


def test_a_first_sync_draws_its_stages_on_a_terminal(cli: Cli, sqlite_hub: HubServer) -> None:
    enroll(cli, sqlite_hub)
    cli("demo-data")
    out, shown, rc = on_a_terminal(cli, "sync", "--once")
    assert rc == 0 and json.loads(out)["pending"] == 0
    assert "上传 pushing" in shown and BAR in shown and "下载 pulling" in shown
    assert cli("sync", "--once").stderr == ""  # in a pipe: not a character more


def test_restore_draws_its_steps_on_a_terminal(cli: Cli, replica: Path,  # noqa: F811
                                               tmp_path: Path) -> None:
    person = next(synthetic.people(1, [GRID], seed=35))
    cli("add", "person", "--json", json.dumps(person, ensure_ascii=False))
    running = Replication(cli)
    running.caught_up()
    running.crash()
    home = Path(cli.env["STATION_HOME"])
    shutil.rmtree(home)
    out, shown, rc = on_a_terminal(cli, "restore", "--from", str(replica), "--to", str(home))
    assert rc == 0 and json.loads(out)["home"] == str(home)
    assert "恢复 restoring" in shown and "4/4" in shown
