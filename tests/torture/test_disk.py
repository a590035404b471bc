"""A full disk and a read-only disk under the station's store (a real tmpfs mounted for the
test): a clear message naming the cause, nothing saved half-way, no corruption, and the
station carries on — writes and sync — once space returns or the disk is writable again."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from station import synthetic

from ..conftest import GRID, TOWNSHIP, Cli
from ..hubserver import HubServer
from ..test_sync_e2e import county_cli, enroll


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk refuses another byte."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\1" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def people_file(path: Path, n: int, seed: int) -> Path:
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n"
                            for p in synthetic.people(n, [GRID], seed=seed)), encoding="utf-8")
    return path


def integrity(home: Path) -> str:
    conn = sqlite3.connect(home / "station.db")
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def station_on_disk(small_disk: Path, tmp_path: Path) -> Cli:
    cli = Cli(small_disk / "home")
    cli("init", "--township", TOWNSHIP, "--name", "测试镇综治中心", "--clerk", "张三")
    cli("add", "person", "--file", str(people_file(tmp_path / "first.jsonl", 20, seed=1)))
    return cli


def test_a_full_disk_refuses_clearly_saves_nothing_and_recovers(
        station_on_disk: Cli, small_disk: Path, tmp_path: Path, figures: Callable[..., None]) -> None:
    cli = station_on_disk
    batch = people_file(tmp_path / "more.jsonl", 500, seed=2)
    filler = fill(small_disk)
    err = cli("add", "person", "--file", str(batch), ok=False).stderr
    assert "disk is full" in err and "nothing was saved" in err
    err = cli("add", "person", "--json", json.dumps(next(synthetic.people(1, [GRID], seed=3)),
                                                     ensure_ascii=False), ok=False).stderr
    assert "disk is full" in err
    filler.unlink()  # space returns
    assert integrity(small_disk / "home") == "ok"
    assert cli.json("status", "--json")["records"] == {"person": 20}  # nothing half-way
    cli("add", "person", "--file", str(batch))
    assert cli.json("status", "--json")["records"] == {"person": 520}
    assert integrity(small_disk / "home") == "ok"
    figures(runs=1, faults=2, records_written=520, lost=0, duplicates=0)


def test_a_read_only_disk_refuses_clearly_and_the_station_carries_on(
        station_on_disk: Cli, small_disk: Path, figures: Callable[..., None]) -> None:
    cli = station_on_disk
    person = json.dumps(next(synthetic.people(1, [GRID], seed=4)), ensure_ascii=False)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        err = cli("add", "person", "--json", person, ok=False).stderr
        assert "read-only" in err and "nothing was saved" in err
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    cli("add", "person", "--json", person)
    assert cli.json("status", "--json")["records"] == {"person": 21}
    assert integrity(small_disk / "home") == "ok"
    figures(runs=1, faults=1, records_written=21, lost=0, duplicates=0)


def test_a_pull_onto_a_full_disk_stops_clearly_and_completes_when_space_returns(
        station_on_disk: Cli, small_disk: Path, sqlite_hub: HubServer, tmp_path: Path,
        figures: Callable[..., None]) -> None:
    other = Cli(tmp_path / "other")
    other("init", "--township", TOWNSHIP, "--name", "另一站", "--clerk", "李四")
    for cli in (other, station_on_disk):
        enroll(cli, sqlite_hub)
    other("add", "person", "--file", str(people_file(tmp_path / "theirs.jsonl", 3000, seed=5)))
    other("sync", timeout=300)
    filler = fill(small_disk)
    err = station_on_disk("sync", ok=False, timeout=300).stderr
    assert "disk is full" in err
    filler.unlink()
    station_on_disk("sync", timeout=300)
    assert integrity(small_disk / "home") == "ok"
    hub_export = county_cli(sqlite_hub.home, "export")
    assert station_on_disk("export").stdout == hub_export
    assert len(hub_export.splitlines()) == 3020
    figures(runs=1, faults=1, records_written=3020, lost=0, duplicates=0)

