"""Small fixtures: real stores in temporary directories, and a clock the test controls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station import keys
from station.store import Clock, Store

PASSPHRASE = "correct horse battery staple"
TOWNSHIP = "440524001"
GRID = "440524001001"
# 2026-11-27 12:00:00 +08:00, in milliseconds
NOON = 1_795_752_000_000


class FakeTime:
    """A wall clock the test sets; `sleep` advances it instead of waiting."""

    def __init__(self, ms: int = NOON) -> None:
        self.ms = ms
        self.slept: list[float] = []

    def wall_ms(self) -> int:
        return self.ms

    def monotonic(self) -> float:
        """The same time in seconds, as `time.monotonic` gives it (for an idle timer)."""
        return self.ms / 1000

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.ms += int(seconds * 1000)

    def clock(self) -> Clock:
        return Clock(wall_ms=self.wall_ms, sleep=self.sleep)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true",
                     help="tests/torture at full size (200+ kills, 10,000 changes; about 15 min)")


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this test run's own on the real PostgreSQL, dropped after the run."""
    import uuid

    import psycopg

    name = f"ts_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The run's database, emptied for this test."""
    import psycopg

    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(b"DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def hub_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The hub's database URL, once for each engine: the embedded SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def hub(hub_database: str, tmp_path: Path) -> Iterator[Any]:
    """A real county hub over HTTPS on 127.0.0.1, on each backend in turn."""
    from sync.hub import county

    from .hubserver import HubServer

    county.init(tmp_path / "county", hub_database)
    server = HubServer(tmp_path / "county").start()
    yield server
    server.stop()


@pytest.fixture
def sqlite_hub(tmp_path: Path) -> Iterator[Any]:
    """A real county hub over HTTPS on 127.0.0.1, on its embedded SQLite database."""
    from sync.hub import county

    from .hubserver import HubServer

    county.init(tmp_path / "county")
    server = HubServer(tmp_path / "county").start()
    yield server
    server.stop()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "station"


@pytest.fixture
def store(home: Path, fake_time: FakeTime) -> Iterator[Store]:
    s = Store.create(home, township=TOWNSHIP, name="测试镇综治中心", clerk="张三",
                     passphrase=PASSPHRASE, kdf=keys.FAST_KDF, clock=fake_time.clock())
    yield s
    s.close()


STATION = str(Path(sys.executable).with_name("station"))


class Cli:
    def __init__(self, home: Path) -> None:
        self.env = {**os.environ, "STATION_HOME": str(home), "STATION_PASSPHRASE": PASSPHRASE,
                    "STATION_KDF": "fast"}

    def __call__(self, *args: str, ok: bool = True, stdin: str | None = None,
                 timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([STATION, *args], capture_output=True, text=True, input=stdin,
                                env={**self.env, **env}, timeout=timeout)
        if ok and result.returncode != 0:
            raise AssertionError(f"station {' '.join(args)} failed: {result.stderr}")
        if not ok:
            assert result.returncode != 0, result.stdout
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        return result

    def json(self, *args: str, timeout: float = 60) -> Any:
        return json.loads(self(*args, timeout=timeout).stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A fresh store in a temporary home, driven through the real `station` command."""
    run = Cli(tmp_path / "home")
    run("init", "--township", TOWNSHIP, "--name", "测试镇综治中心", "--clerk", "张三")
    return run


