"""The home screen's case figures (open, overdue, the nearest deadline), kept on each case's
row as its events are written: locally, from a pull, and by the storage migration that
added them. The expected figures come from the times the test chose
and the 1/3/5-minute deadlines of the v1 incident workflow, not from the derivation."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from station import keys, migrations
from station.cases import Cases
from station.store import DB_FILE, Store
from sync.schema import load_schema

from .conftest import GRID, PASSPHRASE, FakeTime

T0 = datetime.fromisoformat("2026-11-28T09:00:00+08:00")
INCIDENT = {"category": "03", "title": "路灯损坏", "grid": GRID, "location": "人民路"}


def at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def three_cases(store: Store) -> dict[str, str]:
    """waiting: found at 09:00, nothing since (reporting due 09:01).
    reported: found at 09:02, reported at 09:02:30 (disposal due 09:05).
    closed: found and walked to verification by 09:00:40."""
    cases = Cases(store, "incident")
    ids = {"waiting": cases.open(INCIDENT, at=at(0)),
           "reported": cases.open(INCIDENT, at=at(120))}
    cases.advance(ids["reported"], "report", at=at(150))
    ids["closed"] = cases.open(INCIDENT, at=at(0))
    for n, step in enumerate(("report", "dispose", "feedback", "verify"), start=1):
        cases.advance(ids["closed"], step, at=at(10 * n))
    return ids


def seen(store: Store, seconds: int) -> tuple[int, int, float | None]:
    f = Cases(store, "incident").figures(T0 + timedelta(seconds=seconds))
    left = None if f.next_due is None else f.next_due - (T0.timestamp() + seconds)
    return f.open, f.overdue, left


def test_open_and_overdue_cases_follow_the_clock_and_each_step(store: Store) -> None:
    assert seen(store, 0) == (0, 0, None)
    ids = three_cases(store)
    assert seen(store, 30) == (2, 0, 30)        # reporting of "waiting" due in 30 s
    assert seen(store, 90) == (2, 1, -30)       # ... and 30 s past it
    assert seen(store, 400) == (2, 2, -340)     # disposal of "reported" (09:05) passed too
    cases = Cases(store, "incident")
    cases.advance(ids["waiting"], "report", at=at(95))
    assert seen(store, 100) == (2, 0, 80)       # now disposal of "waiting" at 09:03 is nearest
    for step in ("dispose", "feedback", "verify"):
        cases.advance(ids["waiting"], step, at=at(100))
    assert seen(store, 100) == (1, 0, 200)      # only "reported" is left, due 09:05
    store.delete("incident", ids["reported"])
    assert seen(store, 100) == (0, 0, None)


def test_storage_step_5_fills_the_deadlines_of_cases_written_before_it(
        tmp_path: Path, fake_time: FakeTime) -> None:
    home = tmp_path / "old"
    store = Store.create(home, township="440524001", name="测试站", clerk="张三",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF, clock=fake_time.clock())
    three_cases(store)
    store.close()
    db = home / DB_FILE
    with sqlite3.connect(db, isolation_level=None) as conn:  # as storage version 4 left it
        conn.execute("ALTER TABLE records DROP COLUMN due")
        conn.execute("UPDATE records SET step = NULL")
        conn.execute("PRAGMA user_version = 4")
    with sqlite3.connect(db, isolation_level=None) as conn:
        assert migrations.upgrade(conn, db) == list(range(5, migrations.LATEST + 1))
        assert len(load_schema(conn).workflows) == 2
    store = Store.open(home, clock=fake_time.clock())
    store.unlock(PASSPHRASE)
    assert seen(store, 90) == (2, 1, -30)
    store.close()
