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
FLAKY = Profile("flaky", 2_000_000, 2_000_000, 0.01, 24_000)


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


def _timed_exchange(profile: Profile, size: int) -> tuple[float, float]:
    """Seconds for `size` bytes to go up through the link, then `size` bytes to come down."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    marks: dict[str, float] = {}

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            got = 0
            while got < size:
                got += len(conn.recv(65536))
            marks["up_done"] = time.perf_counter()
            conn.sendall(b"d" * size)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with Link(profile, server.getsockname()) as link, \
            socket.create_connection(("127.0.0.1", link.port)) as client:
        started = time.perf_counter()
        client.sendall(b"u" * size)
        got = 0
        while got < size:
            got += len(client.recv(65536))
        done = time.perf_counter()
    thread.join(5)
    server.close()
    return marks["up_done"] - started, done - marks["up_done"]


def test_a_link_carries_each_direction_at_its_own_rate() -> None:
    """GPRS and EDGE send slower than they receive: the proxy schedules each direction at its
    own rate (a lower bound: it can never be faster than its rate)."""
    assert PROFILES["GPRS"].up_bytes_per_s == 4_000 and PROFILES["GPRS"].down_bytes_per_s == 4_375
    assert PROFILES["EDGE"].up_bytes_per_s == 25_000 and PROFILES["EDGE"].down_bytes_per_s == 30_000
    assert (PROFILES["GPRS"].rtt_s, PROFILES["EDGE"].rtt_s) == (1.3, 0.84)
    up, down = _timed_exchange(Profile("slow-up", 1_000_000, 200_000, 0.0, 0), 100_000)
    assert up >= 0.45, up  # 100 KB at 200 KB/s
    up2, down2 = _timed_exchange(Profile("slow-down", 200_000, 1_000_000, 0.0, 0), 100_000)
    assert down2 >= 0.45, down2
    assert up2 < up and down < down2  # each rate applies to its own direction
