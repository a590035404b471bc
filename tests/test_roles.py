"""Roles on the station (issue 25 point 6): the role table as data, the one rule `may` tested
without I/O, the store's API refusing each role what it may not do, storage step 10 on a store
from before it, and the rule held while the kiosk's threads read and write at once."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from station import keys, migrations, roles, synthetic
from station.roles import Grant, may
from station.store import DB_FILE, Store
from station.volunteers import Volunteers
from sync.errors import RoleRefused, ValidationError

from .conftest import GRID, PASSPHRASE, TOWNSHIP, FakeTime

OTHER_GRID = "440524001002"
WORKER = Grant("gridworker", frozenset({GRID}))
VOLUNTEER = Grant("volunteer", volunteer="v-1")
CLERK = roles.CLERK_GRANT
BASE_DATA = ("person", "building", "house", "organization", "special_care")


# ---------------------------------------------------------------------------- the rule, pure

# Known answers, written out by hand from the issue's words (not computed from the table).
@pytest.mark.parametrize(("grant", "action", "entity", "grid", "own", "expected"), [
    (CLERK, "read", "person", OTHER_GRID, None, True),
    (CLERK, "admin", roles.ADMIN_ENTITY, None, None, True),
    (CLERK, "import", "person", None, None, True),
    (WORKER, "read", "person", GRID, None, True),
    (WORKER, "read", "person", OTHER_GRID, None, False),
    (WORKER, "write", "incident", OTHER_GRID, None, False),
    (WORKER, "write", "incident", GRID, None, True),
    (WORKER, "search", "person", None, None, True),  # a list: narrowed to the grids by the store
    (WORKER, "admin", roles.ADMIN_ENTITY, None, None, False),
    (VOLUNTEER, "write", "checkin", GRID, True, True),
    (VOLUNTEER, "write", "checkin", GRID, False, False),
    (VOLUNTEER, "write", "incident", OTHER_GRID, True, True),  # reports wherever they ride
    (VOLUNTEER, "write", "attachment", GRID, True, True),
    (VOLUNTEER, "read", "volunteer", GRID, True, True),
    (VOLUNTEER, "read", "volunteer", GRID, False, False),
    (VOLUNTEER, "export", "volunteer", None, None, False),
    (VOLUNTEER, "search", "incident", None, None, False),
    (VOLUNTEER, "admin", roles.ADMIN_ENTITY, None, None, False),
    (VOLUNTEER, "write", "dispute", GRID, True, False),
    (VOLUNTEER, "read", "duty_shift", GRID, True, False),
])
def test_may_answers_as_the_issue_says(grant: Grant, action: str, entity: str, grid: str | None,
                                       own: bool | None, expected: bool) -> None:
    assert may(grant, action, entity, grid=grid, own=own) is expected


@pytest.mark.parametrize("entity", BASE_DATA)
@pytest.mark.parametrize("action", ["read", "search", "write", "export", "import", "reveal"])
def test_a_volunteer_touches_no_base_data(entity: str, action: str) -> None:
    assert not may(VOLUNTEER, action, entity, grid=GRID, own=True)


def test_the_refusal_names_the_role_and_the_action_in_both_languages() -> None:
    err = roles.refusal(VOLUNTEER, "read", "person", "人口信息", "person")
    assert err.zh == "志愿者无权查看人口信息，未执行"
    assert err.en == "a volunteer may not read person records; nothing was done"
    assert (err.role, err.action, err.entity) == ("volunteer", "read", "person")
    err = roles.refusal(WORKER, "write", "person", "实有人口", "person")
    assert "仅限网格 440524001001" in err.zh and "outside grids 440524001001" in err.en


def test_the_table_is_data_and_a_bad_one_is_refused() -> None:
    data = json.loads(roles.TABLE_FILE.read_text(encoding="utf-8"))
    assert set(data["roles"]) == {"clerk", "gridworker", "volunteer"}
    data["roles"]["volunteer"]["may"]["person"] = ["peek"]
    with pytest.raises(ValueError, match="unknown actions"):
        roles.parse_table(data)
    data = json.loads(roles.TABLE_FILE.read_text(encoding="utf-8"))
    data["roles"]["volunteer"]["reach"] = "county"
    with pytest.raises(ValueError, match="unknown reach"):
        roles.parse_table(data)


@pytest.mark.parametrize(("role", "grids", "volunteer", "field"), [
    ("gridworker", [], None, "grids"),
    ("gridworker", ["4405"], None, "grids"),
    ("volunteer", [], None, "volunteer"),
    ("clerk", [GRID], None, "grids"),
    ("clerk", [], "v-1", "volunteer"),
    ("janitor", [], None, "role"),
])
def test_a_slots_grant_must_fit_its_role(role: str, grids: list[str], volunteer: str | None,
                                         field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        roles.checked_grant(role, grids, volunteer)
    assert refused.value.field == field


# ---------------------------------------------------------------------------- the store's API

@pytest.fixture
def seeded(store: Store) -> dict[str, str]:
    ids = {
        "mine": store.add("person", {"name": "李一", "id_number": "440524198001010013", "grid": GRID}),
        "other": store.add("person", {"name": "王三", "id_number": "44052419700303003X",
                                      "grid": OTHER_GRID}),
        "volunteer": store.add("volunteer", {"name": "赵快递", "phone": "13800138001",
                                             "affiliation": "顺丰", "grid": GRID}),
    }
    store.add_clerk("王网格", "gridworker pass", keys.FAST_KDF, WORKER)
    store.add_clerk("赵志愿", "volunteer pass", keys.FAST_KDF,
                    Grant("volunteer", volunteer=ids["volunteer"]))
    store.lock()
    return ids


def test_a_gridworker_reads_and_writes_their_grids_only(store: Store, seeded: dict[str, str]) -> None:
    store.unlock("gridworker pass", "王网格")
    assert [r["id"] for r in store.page("person")] == [seeded["mine"]]
    assert store.count("person") == 1
    assert store.search("王三") == []
    with pytest.raises(RoleRefused) as refused:
        store.get("person", seeded["other"])
    assert (refused.value.role, refused.value.action) == ("gridworker", "read")
    with pytest.raises(RoleRefused):
        store.reveal("person", seeded["other"], "id_number")
    with pytest.raises(RoleRefused):
        store.delete("person", seeded["other"])
    with pytest.raises(RoleRefused):
        store.add_clerk("钱某", "another pass", keys.FAST_KDF)
    store.update("person", seeded["mine"], {"phone": "13900139000"})
    assert store.get("person", seeded["mine"])["fields"]["phone"] == "13900139000"


def test_a_gridworkers_case_list_holds_their_grids_cases(store: Store, seeded: dict[str, str]) -> None:
    from station.cases import Cases

    store.unlock(PASSPHRASE)
    mine = Cases(store, "incident").open({"category": "01", "title": "井盖缺失", "grid": GRID})
    Cases(store, "incident").open({"category": "01", "title": "路灯损坏", "grid": OTHER_GRID})
    assert len(Cases(store, "incident").summaries()) == 2
    store.lock()
    store.unlock("gridworker pass", "王网格")
    cases = Cases(store, "incident")
    assert [c["id"] for c in cases.summaries()] == [mine]
    assert cases.opened([mine])[mine]["title"] == "井盖缺失"


def test_a_volunteer_reports_an_incident_credited_to_them(store: Store, seeded: dict[str, str]) -> None:
    from station.cases import Cases

    store.unlock("volunteer pass", "赵志愿")
    case = Cases(store, "incident").open({"category": "01", "title": "井盖缺失", "grid": GRID},
                                         role="volunteer")
    assert store.get("incident", case)["fields"]["volunteer"] == seeded["volunteer"]
    assert [r["id"] for r in store.page("incident")] == [case]
    assert Volunteers(store).check_in(seeded["volunteer"])[1] is True
    with pytest.raises(RoleRefused):
        store.page("person")
    with pytest.raises(RoleRefused):
        store.audit_trail()
    store.lock()
    store.unlock(PASSPHRASE)
    # a clerk's report is the clerk's: nobody's volunteer field is filled in for them
    other = Cases(store, "incident").open({"category": "01", "title": "路灯", "grid": GRID})
    assert "volunteer" not in store.get("incident", other)["fields"]
    roles_seen = {(e.clerk, e.action): e.role for e in store.audit_trail()}
    assert roles_seen[("赵志愿", "add")] == "volunteer"
    assert roles_seen[("赵志愿", "unlock")] == "volunteer"
    assert roles_seen[("张三", "add")] == "clerk"


def test_a_clerk_keeps_a_slots_role_when_its_passphrase_changes(store: Store,
                                                                 seeded: dict[str, str]) -> None:
    store.unlock(PASSPHRASE)
    store.change_passphrase("王网格", "new gridworker pass", keys.FAST_KDF)
    assert store.keyring.grant_of("王网格") == WORKER


# ---------------------------------------------------------------------------- storage step 10

def test_step_10_makes_every_older_slot_a_clerks_and_the_trail_still_verifies(
        tmp_path: Path, fake_time: FakeTime) -> None:
    home = tmp_path / "s"
    store = Store.create(home, township=TOWNSHIP, name="测试镇综治中心", clerk="张三",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF, clock=fake_time.clock())
    store.add("person", {"name": "李一", "id_number": "440524198001010013", "grid": GRID})
    store.close()
    db = home / DB_FILE
    with sqlite3.connect(db, isolation_level=None) as conn:  # as storage version 9 left it
        for column in ("role", "grids", "volunteer"):
            conn.execute(f"ALTER TABLE keyslots DROP COLUMN {column}")
        conn.execute("PRAGMA user_version = 9")
    store = Store.open(home, clock=fake_time.clock())
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST >= 10
        assert conn.execute("SELECT clerk, role, grids, volunteer FROM keyslots"
                            " WHERE kind = 'passphrase'").fetchall() == [("张三", "clerk", None, None)]
    store.unlock(PASSPHRASE)
    assert store.grant == roles.CLERK_GRANT
    assert store.clerks()[0]["role"] == "clerk"
    assert store.audit_trail()[0].role == "clerk"
    from station import audit_log

    assert audit_log.verify(store.conn) == (len(store.audit_trail()), None)
    store.close()


# ---------------------------------------------------------------------------- threads

def test_a_gridworkers_reads_stay_in_their_grids_while_another_thread_writes(
        store: Store, seeded: dict[str, str]) -> None:
    """The kiosk reads on its worker threads while the sync worker writes: each reader
    thread sees the gridworker's grid only, every time, and every write lands."""
    store.unlock("gridworker pass", "王网格")
    failures: list[str] = []
    rounds: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                grids = {store._row(r["id"])["grid"] for r in store.page("person", limit=500)}  # type: ignore[index]
                found = {m.record["fields"]["grid"] for m in store.find("李").matches}
            except Exception as exc:  # any failure is the finding
                failures.append(repr(exc))
                return
            if not grids <= {GRID} or not found <= {GRID}:
                failures.append(f"saw {grids | found}")
                return
            rounds.append(len(grids))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        ids = [store.add("person", p) for p in synthetic.people(30, [GRID], seed=25)]
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=30)
    assert failures == []
    assert rounds  # the readers did read while the writes went on
    assert store.count("person") == 1 + len(ids)
