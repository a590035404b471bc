"""The one write path: each write stamps the clock and appends exactly one change."""

from __future__ import annotations

import json

import zstandard

from station import synthetic
from station.store import Store

from .conftest import GRID, FakeTime

PERSON = {"name": "李四", "id_number": "11010519491231002X", "grid": GRID}


def test_each_write_appends_exactly_one_change_in_order(store: Store) -> None:
    a = store.add("person", PERSON)
    store.update("person", a, {"phone": "13800138000"})
    b = store.add("building", {"address": "人民路1号", "grid": GRID, "floors": 6, "use": "01"})
    store.delete("person", a)
    changes = list(store.changes())
    assert [(c.seq, c.record_id, c.op) for c in changes] == [
        (1, a, "add"), (2, a, "update"), (3, b, "add"), (4, a, "delete")
    ]
    assert store.status()["pending"] == 4


def test_the_clock_strictly_increases_even_when_the_wall_clock_goes_back(
    store: Store, fake_time: FakeTime
) -> None:
    a = store.add("person", PERSON)
    fake_time.ms -= 3_600_000  # the RTC jumps back an hour
    store.update("person", a, {"phone": "13800138000"})
    fake_time.ms -= 86_400_000 * 365 * 50  # ...then to 1976
    store.update("person", a, {"phone": "13900139000"})
    fake_time.ms += 86_400_000 * 365 * 51
    store.add("person", {**PERSON, "id_number": "34052419800101001X"})
    stamps = [c.hlc for c in store.changes()]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


def test_clock_survives_a_restart(store: Store, fake_time: FakeTime) -> None:
    store.add("person", PERSON)
    last = next(iter(reversed(list(store.changes())))).hlc
    home = store.home
    store.close()
    fake_time.ms -= 60_000
    reopened = Store.open(home, clock=fake_time.clock())
    from .conftest import PASSPHRASE

    reopened.unlock(PASSPHRASE)
    reopened.add("person", {**PERSON, "id_number": "34052419800101001X"})
    assert list(reopened.changes())[-1].hlc > last
    reopened.close()


def test_an_update_records_what_its_author_had_seen(store: Store) -> None:
    a = store.add("person", PERSON)
    first = list(store.changes())[-1].hlc
    store.update("person", a, {"name": "李四四"})
    change = list(store.changes())[-1]
    assert change.base == {"name": first}
    assert set(change.sealed) == {"name"} and change.clear == {}


def test_an_update_that_changes_nothing_writes_nothing(store: Store) -> None:
    a = store.add("person", PERSON)
    assert store.update("person", a, {"name": "李四"}) is False
    assert len(list(store.changes())) == 1


def test_delete_leaves_a_tombstone_that_is_gone_from_every_view(store: Store) -> None:
    a = store.add("person", PERSON)
    store.delete("person", a)
    row = store.conn.execute("SELECT deleted FROM records WHERE id = ?", (a,)).fetchone()
    assert row == (1,)
    assert list(store.export()) == []
    assert store.search("11010519491231002X") == []
    assert store.status()["records"] == {}


def test_a_push_batch_of_long_texts_stays_under_the_hubs_body_limit(store: Store) -> None:
    """The outbox is cut by bytes as well as by count: 300 people with 1,000-character notes
    would be about 1.6 MiB of JSON, more than a batch should carry."""
    from station.syncer import BATCH_BYTES, pending
    from sync.protocol import MAX_BODY_BYTES, PushBatch, encode_push

    numbers = [p["id_number"] for p in synthetic.people(300, [GRID], seed=3)]  # one each
    store.add_many("person", [{**PERSON, "name": f"李{i}", "id_number": numbers[i],
                               "notes": "独居需关注" * 200} for i in range(300)])
    batch = pending(store, 1000)
    body = len(json.dumps(json.loads(
        zstandard.ZstdDecompressor().decompress(encode_push(PushBatch(store.station_id, tuple(batch))),
                                                max_output_size=MAX_BODY_BYTES)),
        ensure_ascii=False).encode())
    assert 10 < len(batch) < 300
    assert BATCH_BYTES // 2 < body <= BATCH_BYTES
    assert [c.seq for c in pending(store, 1000, max_bytes=1)] == [batch[0].seq]  # never empty
