"""Benchmark: reading the outbox in push-tier order against plain seq order (issue 24 point 4).

    .venv/bin/python bench/bench_outbox.py [--changes 250000] [--workflow-share 0.04] [--out bench/out]

Builds one store whose outbox holds `--changes` waiting changes: people, with incidents
entered among them (a share of them, in runs spread over the whole log, as a township's
clerks enter them between census corrections). Then, on that store, in one run:
  * the whole outbox read as a sync round reads it (`station.syncer.outbox`: batches of
    1,000, every sealed value opened), in tier order, against the same read by seq alone
    (the query before issue 24 point 4, on its `changes_pending` index);
  * the queries alone (rows read, nothing opened): tier order by one index range per tier
    (what `syncer` does), tier order by a row-value cursor `(tier, seq) > (?, ?)` (the
    obvious way, measured to show why it is not used), and seq order;
  * the write path's cost of the extra index: `Store.add_many` of people with and without
    `changes_outbox`.
Prints one JSON object; docs/BENCHMARKS.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station import keys, synthetic  # noqa: E402
from station.store import Store  # noqa: E402
from station.syncer import outbox  # noqa: E402
from station.writes import was_ad  # noqa: E402
from sync.protocol import WireChange  # noqa: E402
from sync.seal import field_ad  # noqa: E402

GRIDS = [f"440524001{n:03d}" for n in range(1, 41)]
BATCH = 1000
FAST_KDF = keys.FAST_KDF  # unlock is not measured here
PASSPHRASE = "benchmark passphrase"


def build(home: Path, changes: int, share: float) -> Store:
    """A store with `changes` waiting changes, incidents in runs among the people."""
    store = Store.create(home, township="440524001", name="基准站", clerk="bench",
                         passphrase=PASSPHRASE, kdf=FAST_KDF)
    runs = 50
    per_run = changes // runs
    incidents = max(1, int(per_run * share))
    people = synthetic.people(changes, GRIDS, seed=2026)
    for r in range(runs):
        store.add_many("person", (next(people) for _ in range(per_run - incidents)))
        store.add_many("incident", ({"category": "03", "title": f"路灯损坏 {r}-{i}",
                                     "grid": GRIDS[i % len(GRIDS)]} for i in range(incidents)))
    return store


def pending_by_seq(store: Store, limit: int, after: int = 0) -> list[WireChange]:
    """`station.syncer.pending` of the release before push tiers (by seq, on changes_pending),
    byte limit left out as `read_by_tier` leaves it out: the same work in the old order."""
    sealer, _ = store._require_sealer()
    out: list[WireChange] = []
    for row in store.conn.execute(
            "SELECT seq, record_id, entity, op, grid, clear, sealed, hlc, base, schema_version, was,"
            " seen, scope, clerk FROM changes WHERE seq > ? AND receipt IS NULL AND rejected IS NULL"
            " ORDER BY seq LIMIT ?", (after, limit)):
        seq, record, entity, op, grid, clear, sealed, stamp, base, version, was, seen, scope, by = row
        fields = json.loads(clear)
        for name, value in json.loads(sealed).items():
            fields[name] = sealer.open_value(value, field_ad(record, entity, name))
        out.append(WireChange(store.station_id, seq, record, entity, op, grid, fields, stamp,
                              json.loads(base), version,
                              sealer.open_value(was, was_ad(record, stamp)) if was else {},
                              None if seen is None else json.loads(seen), scope, by))
    return out


def read_by_seq(store: Store) -> int:
    count, batch = 0, pending_by_seq(store, BATCH)
    while batch:
        count += len(batch)
        batch = pending_by_seq(store, BATCH, after=batch[-1].seq)
    return count


def read_by_tier(store: Store) -> int:
    return sum(len(batch) for batch in outbox(store, BATCH, max_bytes=2**40))


def query_seq(conn: sqlite3.Connection) -> int:
    after, count = 0, 0
    while rows := conn.execute(
            "SELECT seq FROM changes WHERE seq > ? AND receipt IS NULL AND rejected IS NULL"
            " ORDER BY seq LIMIT ?", (after, BATCH)).fetchall():
        after, count = rows[-1][0], count + len(rows)
    return count


def query_tier_ranges(conn: sqlite3.Connection) -> int:
    count = 0
    for tier in (0, 1, 2):
        after = 0
        while rows := conn.execute(
                "SELECT seq FROM changes INDEXED BY changes_outbox WHERE receipt IS NULL"
                " AND rejected IS NULL AND tier = ? AND seq > ? ORDER BY seq LIMIT ?",
                (tier, after, BATCH)).fetchall():
            after, count = rows[-1][0], count + len(rows)
    return count


def query_row_value(conn: sqlite3.Connection, most_s: float = 120.0) -> tuple[int, bool]:
    """The row-value cursor; stops after `most_s` (it may be quadratic): rows, finished."""
    cursor, count, start = (-1, 0), 0, time.perf_counter()
    while rows := conn.execute(
            "SELECT tier, seq FROM changes INDEXED BY changes_outbox WHERE receipt IS NULL"
            " AND rejected IS NULL AND (tier, seq) > (?, ?) ORDER BY tier, seq LIMIT ?",
            (*cursor, BATCH)).fetchall():
        cursor, count = rows[-1], count + len(rows)
        if time.perf_counter() - start > most_s:
            return count, False
    return count, True


def timed(run: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = run()
        best = min(best, time.perf_counter() - start)
    return best, value


def write_cost(work: Path, people: int) -> dict[str, float]:
    """add_many of `people` into a fresh store, with the outbox index and without it."""
    out = {}
    for label, keep in (("with_index", True), ("without_index", False)):
        home = work / f"write-{label}"
        store = Store.create(home, township="440524001", name="基准站", clerk="bench",
                             passphrase=PASSPHRASE, kdf=FAST_KDF)
        if not keep:
            with store.atomic() as writes:
                writes.txn.cursor.execute("DROP INDEX changes_outbox")
        rows = list(synthetic.people(people, GRIDS, seed=7))
        seconds, _ = timed(lambda s=store, r=rows: s.add_many("person", r))  # type: ignore[misc]
        out[f"{label}_records_per_s"] = round(people / seconds)
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=250_000)
    parser.add_argument("--workflow-share", type=float, default=0.04)
    parser.add_argument("--write-people", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    work = args.out / "outbox"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    store = build(work / "station", args.changes, args.workflow_share)
    built = time.perf_counter() - started
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn = store.conn
    waiting = conn.execute("SELECT count(*) FROM changes WHERE receipt IS NULL").fetchone()[0]
    # Alternated, best of three each: the shared machine's load moves between runs.
    seq_s = tier_s = q_seq_s = q_tier_s = float("inf")
    for _ in range(3):
        s, seq_n = timed(lambda: read_by_seq(store))
        t, tier_n = timed(lambda: read_by_tier(store))
        qs, q_seq_n = timed(lambda: query_seq(conn))
        qt, q_tier_n = timed(lambda: query_tier_ranges(conn))
        seq_s, tier_s, q_seq_s, q_tier_s = min(seq_s, s), min(tier_s, t), min(q_seq_s, qs), min(q_tier_s, qt)
    q_row_s, (q_row_n, finished) = timed(lambda: query_row_value(conn))
    assert seq_n == tier_n == q_seq_n == q_tier_n == waiting
    report = {
        "changes": waiting,
        "workflow_changes": conn.execute("SELECT count(*) FROM changes WHERE tier = 0").fetchone()[0],
        "build_s": round(built, 1),
        "read_and_open_by_seq_s": round(seq_s, 2),
        "read_and_open_by_tier_s": round(tier_s, 2),
        "query_by_seq_s": round(q_seq_s, 3),
        "query_by_tier_ranges_s": round(q_tier_s, 3),
        "query_by_row_value_s": round(q_row_s, 3),
        "row_value_rows": q_row_n,
        "row_value_finished": finished,
        **write_cost(work, args.write_people),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
                   f" SQLite {sqlite3.sqlite_version}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    store.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
