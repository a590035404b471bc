"""A process killed mid-import leaves a whole store: all of the file or none of it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from station import synthetic

from .conftest import GRID, STATION, Cli


def test_sigkill_during_a_file_import_saves_nothing_half_way(cli: Cli, tmp_path: Path) -> None:
    before = cli("add", "person", "--json", json.dumps(next(synthetic.people(1, [GRID], seed=5)),
                                                        ensure_ascii=False)).stdout.strip()
    src = tmp_path / "many.jsonl"
    src.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n"
                           for p in synthetic.people(40_000, [GRID], seed=6)), encoding="utf-8")
    proc = subprocess.Popen([STATION, "add", "person", "--file", str(src)], env=cli.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    home = Path(cli.env["STATION_HOME"])
    wal = home / "station.db-wal"
    deadline = time.monotonic() + 60
    # Kill it once the import is visibly writing (the WAL grows past its first pages).
    while time.monotonic() < deadline and (not wal.exists() or wal.stat().st_size < 4_000_000):
        time.sleep(0.05)
    assert proc.poll() is None, "the import finished before it could be killed; use a bigger file"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(home / "station.db")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    status = cli.json("status", "--json")
    assert status["records"] == {"person": 1} and status["pending"] == 1
    assert [r["id"] for r in map(json.loads, cli("export").stdout.splitlines())] == [before]
