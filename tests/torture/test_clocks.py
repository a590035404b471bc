"""Wrong clocks: a station two days fast, one two days slow, one whose clock jumps back.

The hub's guards refuse what they must (a request signed outside its five-minute window; a
change stamped in the hub's future), each with a message that names the clock; nothing is
lost meanwhile, and once the box's clock is right again everything goes up, in the order the
hybrid clock gives it: an edit made after seeing another wins over it, whatever the wall
clock said when it was made."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from station import keys, synthetic
from station.store import Clock, Store
from station.syncer import SyncResult, client_for, enroll
from station.syncer import sync_once as sync_with_machine_clock
from sync.errors import SyncError
from sync.hub import county

from ..conftest import GRID, PASSPHRASE, TOWNSHIP
from ..hubserver import HubServer

DAY_MS = 24 * 3600 * 1000
class SkewedClock:
    """This machine's time plus an offset the test moves."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms

    def clock(self) -> Clock:
        return Clock(wall_ms=self.wall_ms)


_clocks: dict[str, SkewedClock] = {}


def sync_once(store: Store) -> SyncResult:
    """A sync round whose requests are signed by the box's own (skewed) clock."""
    return sync_with_machine_clock(store, client_for(store, _clocks[store.station_id].wall_ms))


@pytest.fixture
def station(sqlite_hub: HubServer, tmp_path: Path) -> Iterator[Callable[[str], tuple[Store, SkewedClock]]]:
    made: list[Store] = []

    def make(name: str) -> tuple[Store, SkewedClock]:
        skewed = SkewedClock()
        store = Store.create(tmp_path / name, township=TOWNSHIP, name=name, clerk="张三",
                             passphrase=PASSPHRASE, kdf=keys.FAST_KDF, clock=skewed.clock())
        enroll(store, sqlite_hub.url, county.open_hub(sqlite_hub.home).add_enrollment(TOWNSHIP, []),
               sqlite_hub.fingerprint)
        made.append(store)
        _clocks[store.station_id] = skewed
        return store, skewed

    yield make
    for store in made:
        store.close()


def hub_export(hub: HubServer) -> list[dict[str, object]]:
    return list(county.open_hub(hub.home).export("person"))


def test_a_fast_station_is_refused_clearly_loses_nothing_and_catches_up_when_set_right(
        station: Callable[[str], tuple[Store, SkewedClock]], sqlite_hub: HubServer,
        figures: Callable[..., None]) -> None:
    fast, clock = station("fast")
    clock.offset_ms = 2 * DAY_MS
    ids = fast.add_many("person", synthetic.people(50, [GRID], seed=1))
    with pytest.raises(SyncError, match="check the station clock"):
        sync_once(fast)
    assert fast.status()["pending"] == 50  # nothing lost, nothing sent
    clock.offset_ms = 0  # the clerk (or NTP) sets the clock right
    fast.update("person", ids[0], {"phone": "13900000001"})  # still stamped two days ahead
    result = sync_once(fast)
    # The hub refused the stamps from its future; the station stamped them anew and resent.
    assert fast.status()["pending"] == 0, fast.status()
    assert fast.status()["rejected"] == 0, [r["reason"] for r in fast.rejected()]
    assert result.rejected == 0
    assert list(fast.export("person")) == hub_export(sqlite_hub)
    assert {r["id"] for r in hub_export(sqlite_hub)} == set(ids)
    assert fast.get("person", ids[0])["fields"]["phone"] == "13900000001"
    # New writes are stamped from now on, and the hub takes them at once.
    fast.update("person", ids[1], {"phone": "13900000002"})
    assert sync_once(fast).rejected == 0 and fast.status()["pending"] == 0
    figures(runs=1, faults=1, records_written=50, edits=2, lost=0, duplicates=0)


def test_a_slow_station_keeps_the_order_it_saw(
        station: Callable[[str], tuple[Store, SkewedClock]], sqlite_hub: HubServer,
        figures: Callable[..., None]) -> None:
    normal, _ = station("normal")
    slow, clock = station("slow")
    (person,) = normal.add_many("person", synthetic.people(1, [GRID], seed=2))
    normal.update("person", person, {"phone": "13900000010"})
    sync_once(normal)
    sync_once(slow)  # the slow box sees the normal one's edit...
    clock.offset_ms = -2 * DAY_MS  # ...then its clock falls two days back (a flat RTC battery)
    slow.update("person", person, {"phone": "13900000020"})  # made after seeing 010
    new = slow.add_many("person", synthetic.people(20, [GRID], seed=3))
    with pytest.raises(SyncError, match="check the station clock"):
        sync_once(slow)
    assert slow.status()["pending"] == 21
    clock.offset_ms = 0
    sync_once(slow)
    sync_once(normal)
    assert slow.status()["pending"] == 0 and slow.status()["rejected"] == 0
    records = {r["id"]: r for r in hub_export(sqlite_hub)}
    assert records[person]["fields"]["phone"] == "13900000020"  # the later action won
    assert set(new) <= set(records)
    assert list(normal.export("person")) == list(slow.export("person")) == hub_export(sqlite_hub)
    figures(runs=1, faults=1, records_written=21, lost=0, duplicates=0)


def test_a_clock_that_jumps_back_still_orders_its_own_edits(
        station: Callable[[str], tuple[Store, SkewedClock]], sqlite_hub: HubServer,
        figures: Callable[..., None]) -> None:
    jumpy, clock = station("jumpy")
    other, _ = station("other")
    (person,) = jumpy.add_many("person", synthetic.people(1, [GRID], seed=4))
    phones = [f"1390000{n:04d}" for n in range(10)]
    for n, phone in enumerate(phones):
        clock.offset_ms = -n * 20_000  # each edit made 20 s "earlier" than the one before
        jumpy.update("person", person, {"phone": phone})
    stamps = [c.hlc for c in jumpy.changes() if c.record_id == person]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    sync_once(jumpy)
    sync_once(other)
    assert {r["id"]: r for r in hub_export(sqlite_hub)}[person]["fields"]["phone"] == phones[-1]
    assert other.get("person", person)["fields"]["phone"] == phones[-1]
    figures(runs=1, faults=len(phones), records_written=1, edits=len(phones), lost=0, duplicates=0)
