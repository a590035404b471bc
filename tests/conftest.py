"""Small fixtures: real stores in temporary directories, and a clock the test controls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from station import keys
from station.store import Clock, Store

PASSPHRASE = "correct horse battery staple"
TOWNSHIP = "440524001"
GRID = "440524001001"
# 2026-11-28 12:00:00 +08:00, in milliseconds
NOON = 1_795_752_000_000


class FakeTime:
    """A wall clock the test sets; `sleep` advances it instead of waiting."""

    def __init__(self, ms: int = NOON) -> None:
        self.ms = ms
        self.slept: list[float] = []

    def wall_ms(self) -> int:
        return self.ms

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.ms += int(seconds * 1000)

    def clock(self) -> Clock:
        return Clock(wall_ms=self.wall_ms, sleep=self.sleep)


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
