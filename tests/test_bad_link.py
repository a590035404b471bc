"""A push over a link that drops connections (bench/netem.py between a station and a real hub):
every drop loses at most the batch in flight, the outbox never grows, the daemon's retries
finish the job, and the hub holds each change exactly once."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from station import synthetic
from station.daemon import Backoff, Loop
from station.store import Store
from station.syncer import KeptConnection, SyncResult, client_for, enroll, push
from sync.hub import county

from .conftest import GRID
from .hubserver import HubServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from netem import PROFILES, Link, Profile

# Fast, but a dropped connection every ~24 KB: a 2,000-change push crosses several drops.
FLAKY = Profile("flaky", 2_000_000, 0.01, 24_000)


def test_drops_never_send_the_push_back_to_the_start(store: Store, sqlite_hub: HubServer) -> None:
    enroll(store, sqlite_hub.url, county.open_hub(sqlite_hub.home).add_enrollment("440524001", []),
           sqlite_hub.fingerprint)
    store.add_many("person", synthetic.people(2000, [GRID], seed=31))
    outbox: list[int] = []
    with Link(FLAKY, ("127.0.0.1", sqlite_hub.port), seed=5) as link:
        with store.atomic() as writes:
            writes.put_settings(hub_url=f"https://127.0.0.1:{link.port}")
        client = client_for(store)

        def push_round(s: Store) -> SyncResult:
            try:
                return push(s, client, limit=200)
            finally:
                outbox.append(int(s.status()["pending"]))

        loop = Loop(store, push_round, time.sleep, Backoff(first=0.05, cap=0.2))
        deadline = time.monotonic() + 120
        while store.status()["pending"] and time.monotonic() < deadline:
            wait = loop.round()
            if loop.failures:
                time.sleep(wait)
        drops = link.stats.drops
    assert store.status()["pending"] == 0, outbox
    assert drops >= 2  # the link really dropped, more than once
    assert outbox == sorted(outbox, reverse=True)  # never grew: nothing acknowledged was lost
    with county.open_hub(sqlite_hub.home).storage.transaction() as tx:
        (stored,) = tx.rows("SELECT count(*), count(DISTINCT station_seq) FROM changes")
    assert stored == (2000, 2000)  # each change once, however often it was sent


def test_the_daemon_keeps_one_connection_from_round_to_round(store: Store, sqlite_hub: HubServer) -> None:
    enroll(store, sqlite_hub.url, county.open_hub(sqlite_hub.home).add_enrollment("440524001", []),
           sqlite_hub.fingerprint)
    with Link(PROFILES["clean"], ("127.0.0.1", sqlite_hub.port)) as link:
        with store.atomic() as writes:
            writes.put_settings(hub_url=f"https://127.0.0.1:{link.port}")
        idle = [0.0]
        rounds = KeptConnection(clock=lambda: idle[0])
        pushed = []
        for n in range(3):
            store.add_many("person", synthetic.people(5, [GRID], seed=40 + n))
            pushed.append(rounds(store).pushed)
            idle[0] += 20  # under MAX_IDLE_S between rounds: the connection is reused
        kept = link.stats.connections
        idle[0] += 30  # idle too long: a carrier's NAT may have dropped it, open a new one
        rounds(store)
        renewed = link.stats.connections
        with store.atomic() as writes:  # the hub moved: the next round connects there
            writes.put_settings(hub_url=sqlite_hub.url)
        store.add_many("person", synthetic.people(1, [GRID], seed=49))
        pushed.append(rounds(store).pushed)
        after_move = link.stats.connections
    assert pushed == [5, 5, 5, 1]
    assert kept == 1  # three rounds, each a schema check, a push and a pull: one handshake
    assert renewed == 2
    assert after_move == 2  # the last went to the new address, not through the old link
