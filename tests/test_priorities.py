"""Push priorities and a round's byte budget (issue 24 point 4): cases and their steps go up
before base data, base data before attachments, and a `round_budget` caps what one round
moves — records and files alike — without ever starving sync.

The oracle is the hub's own record of what it received and in what order (its change
numbers, handed out as each batch arrives, with the station's number of each change), and
its export against what was entered: never the ordering function under test. Real hubs over
HTTPS on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import sqlite3
from pathlib import Path

import pytest

from station import keys, migrations, priorities, synthetic
from station.attachments import Attachments
from station.cases import Cases
from station.daemon import Loop
from station.priorities import RoundBudget, Waiting
from station.store import DB_FILE, Store
from station.syncer import PULL_PAGE, SyncResult, client_for, outbox, pending, sync_once
from sync import attachments as files
from sync import log_lines
from sync.hub import county
from sync.protocol import MAX_CHANGES
from sync.schema import v1_schema

from .conftest import GRID, PASSPHRASE, Cli, FakeTime
from .hubserver import HubServer
from .test_sync_e2e import county_cli, station
from .test_wire_versions import _open

BUDGET = priorities.MIN_ROUND_BUDGET


def _people(n: int, seed: int) -> list[dict[str, object]]:
    return list(synthetic.people(n, [GRID], seed=seed))


def _received(hub: HubServer) -> list[tuple[int, str, str, int]]:
    """(hub number, entity, record, station number) of every change the hub stored, in the
    order it stored them."""
    with county.open_hub(hub.home).storage.transaction() as tx:
        return [(int(h), str(e), str(r), int(s)) for h, e, r, s in tx.rows(
            "SELECT hub_seq, entity, record, station_seq FROM changes ORDER BY hub_seq", [])]


def _open_incidents(store: Store, n: int, volunteer: str | None = None) -> list[str]:
    cases = Cases(store, "incident")
    return [cases.open({"category": "03", "title": f"路灯损坏{i}", "grid": GRID,
                        **({"volunteer": volunteer} if volunteer else {})}) for i in range(n)]


def _rounds(store: Store, most: int = 40) -> list[SyncResult]:
    """Sync rounds until one leaves nothing waiting (and at most `most`)."""
    done: list[SyncResult] = []
    while not done or done[-1].waiting is not None:
        assert len(done) < most, "the rounds never finished the outbox"
        done.append(sync_once(store))
    return done


def _set(cli: Cli, key: str, value: int) -> None:
    cli("settings", "set", key, str(value))


# ---------------------------------------------------------------------------- the pure rules


def test_cases_their_steps_and_parts_come_first_and_attachment_records_last() -> None:
    tiers = priorities.tiers(v1_schema())
    first = {name for name, tier in tiers.items() if tier == priorities.WORKFLOW}
    assert first == {"incident", "incident_event", "dispute", "dispute_event", "dispute_party"}
    assert {name for name, tier in tiers.items() if tier == priorities.ATTACHMENT} == {"attachment"}
    for name in ("person", "building", "house", "organization", "special_care", "volunteer",
                 "checkin", "grid", "duty_post", "duty_shift"):
        assert tiers[name] == priorities.BASE
    assert priorities.tier_of(tiers, "an_entity_from_a_later_bundle") == priorities.BASE


def test_a_schema_change_moves_only_the_entities_whose_tier_changed() -> None:
    old = {"person": 1, "incident": 0, "notice": 1}
    assert priorities.retiered(old, {"person": 1, "incident": 0, "notice": 0, "new": 1}) == {"notice": 0}
    assert priorities.retiered(old, old) == {}


def test_a_budget_always_allows_a_rounds_first_batch_and_page_and_nothing_past_it() -> None:
    used = [10 * BUDGET]  # the first request alone was ten budgets
    budget = RoundBudget(BUDGET, lambda: used[0])
    assert budget.take("push") and budget.take("pull")  # the round's first: always
    assert not budget.take("push") and not budget.take("pull") and not budget.take("files")
    assert budget.held == {"push", "pull", "files"} and budget.left() == 0
    used[0] = BUDGET - 1
    assert budget.take("files") and budget.left() == 1
    unlimited = RoundBudget(None, lambda: 10**15)
    assert all(unlimited.take("push") for _ in range(3)) and unlimited.left() is None
    assert not unlimited.held


def test_a_budget_below_64_kib_is_refused_naming_the_setting_and_the_rule() -> None:
    from sync.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        priorities.check_round_budget(BUDGET - 1)
    assert refused.value.field == "round_budget" and refused.value.rule == "min_round_budget"
    assert "65536" in refused.value.en and "65536" in refused.value.zh
    assert priorities.check_round_budget(0) == 0 and priorities.check_round_budget(BUDGET) == BUDGET


def test_what_waited_is_said_in_both_languages_with_counts_only() -> None:
    w = Waiting(base=120, files_up=3)
    assert w.line("zh") == "本轮预算已用完：还有 120 条基础数据、3 个附件下轮再传"
    assert w.line("en") == ("This round's byte budget is used up: 120 base-data changes and 3 files"
                            " wait for the next round")
    both = Waiting(workflow=2, pull_more=True)
    assert both.line("zh") == "本轮预算已用完：还有 2 条事件和纠纷记录下轮再传；县级平台的新数据下轮再取"
    assert "the county's new data come next round" in both.line("en")


# ---------------------------------------------------------------------------- the outbox


def _tiers_of(store: Store) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for entity, tier in store.conn.execute("SELECT entity, tier FROM changes"):
        found.setdefault(entity, set()).add(tier)
    return found


def test_the_outbox_is_read_by_tier_and_a_change_written_meanwhile_comes_after(store: Store) -> None:
    people = store.add_many("person", _people(30, seed=1))
    _open_incidents(store, 1)
    store.update("person", people[0], {"phone": "13700000002"})
    assert _tiers_of(store) == {"person": {1}, "incident": {0}, "incident_event": {0}}
    reading = outbox(store, 10)
    first = next(reading)
    assert [c.entity for c in first[:2]] == ["incident", "incident_event"]
    assert [c.record for c in first[2:]] == people[:8]
    # Written while the round reads: a later case waits for the pass after this one, so an
    # edit of a record already read never passes that record's earlier change.
    (later,) = _open_incidents(store, 1)
    store.update("person", people[1], {"phone": "13700000003"})
    rest = [c for batch in reading for c in batch]
    read = [*first, *rest]
    assert [c.record for c in read[-3:]] == [later, rest[-2].record, people[1]]
    assert rest[-2].entity == "incident_event"
    assert len(read) == len({c.seq for c in read}) == 30 + 2 + 1 + 2 + 1
    updates = [c.seq for c in read if c.record == people[0]]
    assert updates == sorted(updates) and len(updates) == 2


def test_storage_step_8_gives_waiting_changes_their_tier(tmp_path: Path, fake_time: FakeTime) -> None:
    home = tmp_path / "old"
    made = Store.create(home, township="440524001", name="旧站", clerk="张三", passphrase=PASSPHRASE,
                        kdf=keys.FAST_KDF, clock=fake_time.clock())
    made.add_many("person", _people(3, seed=2))
    _open_incidents(made, 2)
    made.close()
    db = home / DB_FILE
    with sqlite3.connect(db, isolation_level=None) as conn:  # as release 7 left it
        conn.execute("DROP INDEX changes_outbox")
        conn.execute("DROP TABLE audit_log")  # and what the steps after 8 make
        conn.execute("ALTER TABLE changes DROP COLUMN tier")
        conn.execute("PRAGMA user_version = 7")
    with sqlite3.connect(db, isolation_level=None) as conn:
        assert migrations.upgrade(conn, db) == list(range(8, migrations.LATEST + 1))
    again = Store.open(home, clock=fake_time.clock())
    again.unlock(PASSPHRASE)
    try:
        assert _tiers_of(again) == {"person": {1}, "incident": {0}, "incident_event": {0}}
        assert [c.entity for c in pending(again, 3)] == ["incident", "incident_event", "incident"]
    finally:
        again.close()


# ---------------------------------------------------------------------------- over HTTPS


def test_incidents_entered_after_base_data_reach_the_hub_in_the_first_batch(
        hub: HubServer, tmp_path: Path) -> None:
    a = station(tmp_path, "a", hub)
    one = _open(a)
    try:
        ids = one.add_many("person", _people(1500, seed=11))
        cases = _open_incidents(one, 4)
        Cases(one, "incident").advance(cases[0], "report")
        one.update("person", ids[0], {"phone": "13700000001"})  # an edit after its add
        entered = one.conn.execute("SELECT count(*) FROM changes").fetchone()[0]
        result = sync_once(one)
    finally:
        one.close()
    assert entered == 1500 + 1 + 9  # the people, the edit, 4 cases with 5 steps
    assert (result.pushed, result.rejected, result.waiting) == (entered, 0, None)
    got = _received(hub)
    # The hub numbered the 9 workflow changes (4 cases, their 4 first steps, one step more)
    # before any person, though every person was entered before them.
    assert {e for _, e, _, _ in got[:9]} == {"incident", "incident_event"}
    assert all(e == "person" for _, e, _, _ in got[9:])
    # Within a tier, the station's order: each record's changes as they were written.
    per_record: dict[str, list[int]] = {}
    for _, _, record, seq in got:
        per_record.setdefault(record, []).append(seq)
    assert all(seqs == sorted(seqs) for seqs in per_record.values())
    assert per_record[ids[0]] == sorted(per_record[ids[0]]) and len(per_record[ids[0]]) == 2


def test_an_incident_sent_before_the_volunteer_it_names_is_accepted_and_converges(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    """The only reference from a case to base data in schema v1 (incident.volunteer): the
    hub checks a reference's form, not that its record has come, so the incident is never
    refused for going first; a station that pulls in between holds it without the volunteer,
    and both converge once the rest arrives."""
    a, b = station(tmp_path, "a", sqlite_hub), station(tmp_path, "b", sqlite_hub)
    _set(a, "round_budget", BUDGET)
    one, two = _open(a), _open(b)
    try:
        one.add_many("person", _people(3000, seed=12))  # ahead of the volunteer: its batch waits
        volunteer = one.add("volunteer", {"name": "王小明", "phone": "13912345678", "grid": GRID})
        (case,) = _open_incidents(one, 1, volunteer=volunteer)
        first = sync_once(one)
        assert first.rejected == 0 and first.waiting is not None and first.waiting.base > 0
        stored = {e for _, e, _, _ in _received(sqlite_hub)}
        assert "incident" in stored and "volunteer" not in stored
        sync_once(two)
        assert two.get("incident", case)["fields"]["volunteer"] == volunteer
        assert two.count("volunteer") == 0
        assert sum(r.rejected for r in _rounds(one)) == 0
        sync_once(two)
        assert two.get("volunteer", volunteer)["fields"]["name"] == "王小明"
    finally:
        one.close()
        two.close()
    assert a("export").stdout == b("export").stdout == county_cli(sqlite_hub.home, "export")


def test_a_budget_stops_the_round_says_what_waited_and_later_rounds_finish_it_once(
        hub: HubServer, tmp_path: Path) -> None:
    a = station(tmp_path, "a", hub)
    _set(a, "round_budget", BUDGET)
    one = _open(a)
    try:
        one.add_many("person", _people(4000, seed=13))
        _open_incidents(one, 3)
        rounds = _rounds(one)
        entered = one.conn.execute("SELECT count(*) FROM changes").fetchone()[0]
    finally:
        one.close()
    assert len(rounds) >= 3
    first = rounds[0].waiting
    assert first is not None and first.workflow == 0 and first.base == 4006 - rounds[0].pushed
    assert "条基础数据" in first.line("zh") and "base-data changes" in first.line("en")
    # Nothing lost, nothing twice: the hub stored each change once, and holds what was entered.
    assert len(_received(hub)) == entered == sum(r.pushed for r in rounds) == 4006
    assert a("export").stdout == county_cli(hub.home, "export")
    assert a.json("status", "--json")["pending"] == 0


def test_the_cli_says_what_waited_in_both_languages_and_in_its_json(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    a = station(tmp_path, "a", sqlite_hub)
    _set(a, "round_budget", BUDGET)
    one = _open(a)
    try:
        one.add_many("person", _people(3000, seed=14))
    finally:
        one.close()
    run = a("sync")
    said = json.loads(run.stdout)
    assert said["waiting"]["base"] == 3000 - said["pushed"] > 0
    assert f"还有 {said['waiting']['base']} 条基础数据下轮再传" in run.stderr
    assert f"{said['waiting']['base']} base-data changes wait for the next round" in run.stderr
    assert said["bytes"] >= BUDGET
    while "waiting" in said:
        said = a.json("sync")
    assert said["pending"] == 0


def test_a_budget_below_64_kib_is_refused_by_the_cli(cli: Cli) -> None:
    refused = cli("settings", "set", "round_budget", str(BUDGET - 1), ok=False)
    assert "round_budget" in refused.stderr and "65536" in refused.stderr
    cli("settings", "set", "round_budget", str(BUDGET))
    cli("settings", "set", "round_budget", "0")  # no budget again
    listed = {r["key"]: r for r in map(json.loads, cli("settings", "list").stdout.splitlines())}
    assert listed["round_budget"]["value"] == "0"


def test_a_tiny_budget_still_moves_a_batch_and_a_page_every_round(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    a, b = station(tmp_path, "a", sqlite_hub), station(tmp_path, "b", sqlite_hub)
    one = _open(a)
    try:
        one.add_many("person", _people(3 * PULL_PAGE, seed=15))
        assert sync_once(one).waiting is None  # no budget here: all of it goes up
    finally:
        one.close()
    _set(b, "round_budget", BUDGET)
    two = _open(b)
    try:
        two.add_many("person", _people(2 * MAX_CHANGES + 10, seed=16))
        rounds = _rounds(two)
    finally:
        two.close()
    # Every round moved one batch and one page at least; the budget held the rest.
    for r in rounds[:-1]:
        assert r.batches >= 1 or r.pushed == 0
        assert r.pulled >= 1 or not (r.waiting and r.waiting.pull_more)
    # The first round: its first request's batch (and the one written behind it, before the
    # request's answer could be counted) and its one page; the rest waited.
    first = rounds[0]
    assert 1 <= first.batches <= 2 and first.pushed == first.batches * MAX_CHANGES
    assert first.pulled == PULL_PAGE and first.waiting is not None and first.waiting.pull_more
    assert first.waiting.base == 2 * MAX_CHANGES + 10 - first.pushed
    assert sum(r.pushed for r in rounds) == 2 * MAX_CHANGES + 10
    assert sum(r.pulled for r in rounds) == 3 * PULL_PAGE
    assert a("export").stdout != b("export").stdout  # a has not pulled b's yet
    a("sync")
    assert a("export").stdout == b("export").stdout == county_cli(sqlite_hub.home, "export")


def test_attachments_wait_behind_records_under_a_budget(sqlite_hub: HubServer, tmp_path: Path) -> None:
    a = station(tmp_path, "a", sqlite_hub)
    scan = tmp_path / "scan.pdf"
    data = b"%PDF-1.4\n" + random.Random(17).randbytes(3 * files.CHUNK_BYTES)
    scan.write_bytes(data)
    sha, chunks = hashlib.sha256(data).hexdigest(), files.chunk_count(len(data))
    _set(a, "round_budget", BUDGET)
    one = _open(a)
    try:
        (case,) = _open_incidents(one, 1)
        Attachments(one).attach("incident", case, scan)
        one.add_many("person", _people(2500, seed=18))
        rounds: list[tuple[SyncResult, int]] = []
        while not rounds or rounds[-1][0].waiting is not None:
            assert len(rounds) < 20
            result = sync_once(one)
            # Asked of the hub: how many of the file's chunks it still lacks.
            lacking = client_for(one).missing_chunks([(sha, len(data))]).get(sha)
            rounds.append((result, chunks if lacking is None else len(lacking)))
        assert one.status()["files_pending"] == 0
    finally:
        one.close()
    first = rounds[0][0].waiting
    assert first is not None and first.files_up == 1 and first.base > 0
    # No chunk moved while any record still waited; the file went in the rounds after.
    records_waited = [r for r, _ in rounds if r.waiting and (r.waiting.base or r.waiting.attachments)]
    assert records_waited and all(lacking == chunks for r, lacking in rounds[:len(records_waited)])
    assert rounds[-1][1] == 0 and sum(r.files_sent for r, _ in rounds) == 1
    stored = [e for _, e, _, _ in _received(sqlite_hub)]
    assert stored.index("attachment") > max(i for i, e in enumerate(stored) if e == "person")
    out = tmp_path / "back.pdf"
    county_cli(sqlite_hub.home, "attachment", "get", sha, "--out", str(out))
    assert out.read_bytes() == data


def test_the_daemon_logs_what_waited_and_waits_its_interval_for_it(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    store.add_many("person", _people(3, seed=19))  # "pending": what the budget left
    held = SyncResult(0, 0, 1, waiting=Waiting(base=3), bytes=70_000)
    slept: list[float] = []
    loop = Loop(store, lambda s: held, slept.append, interval=5.0)
    with caplog.at_level(logging.INFO, logger="station.sync"):
        loop.wait(loop.round())
    event, values = log_lines.parse(caplog.records[-1].getMessage())
    assert event == "round" and values["waiting_base"] == "3" and values["budget_spent"] == "70000"
    assert sum(slept) == 5.0  # not woken by what the budget left waiting
    slept.clear()
    loop.round()
    store.add("person", _people(4, seed=20)[3])  # a new write wakes it, as always

    def write_then_sleep(seconds: float) -> None:
        slept.append(seconds)
    loop.sleep = write_then_sleep
    loop.wait(5.0)
    assert sum(slept) == 1.0


def test_the_kiosks_sync_screen_says_what_the_budget_left(store: Store, sqlite_hub: HubServer) -> None:
    from textual.pilot import Pilot

    from station.syncer import enroll
    from tui.app import make_app

    from .test_tui import open_sync_screen, run, sync_now

    enroll(store, sqlite_hub.url, county.open_hub(sqlite_hub.home).add_enrollment("440524001", []))
    with store.atomic() as writes:
        writes.put_settings(round_budget=str(BUDGET))
    store.add_many("person", _people(3000, seed=21))
    store.lock()
    app = make_app(store)

    async def scenario(pilot: Pilot[None]) -> None:
        await open_sync_screen(pilot)
        lines = await sync_now(pilot)
        said = [line for line in lines if line.startswith("本轮预算已用完")]
        waiting = store.status()["pending"]
        assert said == [f"本轮预算已用完：还有 {waiting} 条基础数据下轮再传"], lines
        assert 0 < waiting < 3000

    run(app, scenario)
