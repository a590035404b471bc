"""One store, several threads, as the kiosk uses it: a sync worker writes while the screens
read every second. Fixed numbers of operations (no wall-clock durations); what was written is
checked from the file itself, through a connection of the test's own."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from station import audit_log, keys, synthetic
from station.store import DB_FILE, Store
from sync.audit_chain import first_break
from tests.conftest import GRID, PASSPHRASE, TOWNSHIP

READS = 300
ADDS = 150
ACKS = 60


def _run_together(*jobs: Callable[[], None]) -> list[BaseException]:
    """Run each job in a thread of its own, started at the same moment; their errors."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], None]) -> None:
        start.wait()
        try:
            job()
        except BaseException as exc:  # every error counts, whatever its kind
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _new_store(home: Path) -> Store:
    return Store.create(home, township=TOWNSHIP, name="测试站", clerk="王芳", passphrase=PASSPHRASE,
                        kdf=keys.FAST_KDF)


def test_a_reader_and_two_writers_share_one_store_without_error(tmp_path: Path) -> None:
    store = _new_store(tmp_path / "station")
    people = list(synthetic.people(2 * ADDS, [GRID], seed=18))
    added: dict[str, list[str]] = {"kiosk": [], "sync": []}
    acknowledged: list[int] = []

    def screens() -> None:  # the home and records screens refreshing
        for _ in range(READS):
            store.count("person")
            store.page("person", limit=20)
            store.status()

    def kiosk() -> None:  # a clerk entering people
        for person in people[:ADDS]:
            added["kiosk"].append(store.add("person", person))

    def sync_worker() -> None:  # a sync round: new records, and receipts for what went up
        for i, person in enumerate(people[ADDS:]):
            added["sync"].append(store.add("person", person))
            if i < ACKS:
                with store.atomic() as writes:
                    seq = max(c.seq for c in store.changes())
                    writes.acknowledge(seq, 1000 + seq, None)
                    acknowledged.append(seq)

    errors = _run_together(screens, kiosk, sync_worker)
    store.close()
    assert errors == []

    with sqlite3.connect(tmp_path / "station" / DB_FILE) as conn:
        records = {r for (r,) in conn.execute("SELECT id FROM records")}
        per_record = dict(conn.execute("SELECT record_id, count(*) FROM changes GROUP BY record_id"))
        seqs = [s for (s,) in conn.execute("SELECT seq FROM changes ORDER BY seq")]
        receipts = dict(conn.execute("SELECT seq, receipt FROM changes WHERE receipt IS NOT NULL"))
        trail = audit_log.entries(conn)
    assert records == set(added["kiosk"]) | set(added["sync"])
    # The audit trail, appended by both writers at once: one "add" entry per record added,
    # numbered without a gap, each chained to the one before (no two entries on one link).
    assert sorted(e.target for e in trail if e.action == "add") == sorted(f"person/{r}" for r in records)
    assert [e.seq for e in trail] == list(range(1, len(trail) + 1))
    assert first_break(trail) is None
    assert len(records) == 2 * ADDS
    assert per_record == dict.fromkeys(records, 1)  # each record has its one change
    assert seqs == list(range(1, 2 * ADDS + 1))  # numbered without a gap
    assert receipts == {seq: 1000 + seq for seq in acknowledged}


def test_locking_the_store_during_another_threads_write_keeps_the_seal_count(tmp_path: Path) -> None:
    """The kiosk locks itself (idle timeout) while the sync worker is inside a transaction:
    that transaction ends with the keys it began with, and counts its seals."""
    store = _new_store(tmp_path / "station")
    inside, locked = threading.Event(), threading.Event()
    added: list[str] = []

    def worker() -> None:
        with store.atomic() as writes:
            added.append(writes.add("person", next(synthetic.people(1, [GRID], seed=3))))
            inside.set()
            locked.wait()

    def kiosk() -> None:
        inside.wait()
        store.lock()
        locked.set()

    path = tmp_path / "station" / DB_FILE
    with sqlite3.connect(path) as conn:
        (before,) = conn.execute("SELECT value FROM settings WHERE key = 'seal_count'").fetchone()
    assert _run_together(worker, kiosk) == []
    assert not store.unlocked
    store.close()
    with sqlite3.connect(path) as conn:
        (after,) = conn.execute("SELECT value FROM settings WHERE key = 'seal_count'").fetchone()
        (sealed,) = conn.execute("SELECT sealed FROM records WHERE id = ?", added).fetchone()
    assert int(after) - int(before) == len(json.loads(sealed)) > 0


def test_closing_the_store_closes_every_threads_connection(tmp_path: Path) -> None:
    store = _new_store(tmp_path / "station")
    reads: list[int] = []
    go_on, closed = threading.Event(), threading.Event()

    def screen() -> None:
        reads.append(store.count("person"))
        go_on.set()
        closed.wait()
        store.count("person")

    def shutdown() -> None:
        go_on.wait()
        store.close()
        closed.set()

    errors = _run_together(screen, shutdown)
    assert reads == [0]
    assert [type(e) for e in errors] == [sqlite3.ProgrammingError]  # closed, not reopened


def test_a_lasting_readers_counts_follow_every_commit_of_other_threads_and_processes(
        tmp_path: Path) -> None:
    """Home's figures thread keeps its record counts until its connection sees a commit: each
    count it reads after a write by another thread, or by another process, includes it."""
    import subprocess
    import sys

    store = _new_store(tmp_path / "station")
    people = iter(synthetic.people(40, [GRID], seed=19))
    asks: list[threading.Event] = []
    answers: list[int] = []
    done = threading.Event()

    def figures_thread() -> None:  # one thread, as home's, asked again and again
        while not done.is_set() or asks:
            if asks:
                asks.pop(0)
                answers.append(store.status()["records"].get("person", 0))
            else:
                done.wait(0.001)

    def ask() -> int:
        before = len(answers)
        asks.append(threading.Event())
        while len(answers) == before:
            threading.Event().wait(0.001)
        return answers[-1]

    reader = threading.Thread(target=figures_thread)
    reader.start()
    try:
        assert ask() == 0
        for n in range(1, 11):  # a writer thread: the kiosk or the sync worker
            writer = threading.Thread(target=store.add, args=("person", next(people)))
            writer.start()
            writer.join()
            assert ask() == n and ask() == n
        station = Path(sys.executable).with_name("station")
        subprocess.run([str(station), "add", "person", "--json", json.dumps(next(people))],
                       env={"STATION_HOME": str(tmp_path / "station"), "STATION_PASSPHRASE": PASSPHRASE,
                            "STATION_KDF": "fast", "PATH": "/usr/bin:/bin"}, check=True,
                       capture_output=True)
        assert ask() == 11  # another process committed: the kept count is not used
        with sqlite3.connect(tmp_path / "station" / DB_FILE) as conn:
            (n,) = conn.execute("SELECT count(*) FROM records WHERE entity = 'person'"
                                " AND deleted = 0").fetchone()
        assert n == 11
    finally:
        done.set()
        reader.join()
        store.close()
