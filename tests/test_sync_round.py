"""A sync round in one request (issue 24 point 2): the schema check, the first push batch and
the pull cursor go in POST /v1/sync, whose answer brings the bundles, the receipts and the
first page. Real hubs over HTTPS on 127.0.0.1 (SQLite and PostgreSQL); the failures are made
by bench/chaos.py, a proxy that cuts the chosen request's reply on its way.

The oracle is what the stations were given and what the hub stored, counted apart from the
code under test: the people each station entered, the hub's own change numbers (a change
stored twice would take a second one), and the requests as the proxy and the HTTP library saw
them."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from urllib3.util.wait import wait_for_read

from station import synthetic
from station.store import Store
from station.syncer import client_for, outbox, pending, push, sync_once
from sync.client import Client
from sync.errors import HubUnreachable
from sync.hub import county
from sync.protocol import MAX_CHANGES, PushBatch, encode_push

from .hubserver import HubServer
from .test_sync_e2e import county_cli, station
from .test_wire_versions import _open

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from chaos import Chaos

GRID = "440524001001"


def _people(n: int, seed: int) -> list[dict[str, object]]:
    return list(synthetic.people(n, [GRID], seed=seed))


def _names(store: Store) -> set[str]:
    return {str(r["fields"]["name"]) for r in store.page("person", limit=10_000)}


def _hub_last(hub: HubServer) -> int:
    """The hub's newest change number: one more for every change it stores."""
    with county.open_hub(hub.home).storage.transaction() as tx:
        return tx.last_seq()


def _watch(client: Client) -> list[requests.Response]:
    seen: list[requests.Response] = []
    client.session.hooks["response"].append(lambda r, *args, **kwargs: seen.append(r))
    return seen


@contextmanager
def _through_chaos(hub: HubServer, store: Store) -> Iterator[Chaos]:
    """`store` talks to the hub through a proxy that does only the faults it is told to."""
    with Chaos(hub.home, ("127.0.0.1", hub.port), rate=0.0) as chaos:
        with store.atomic() as writes:
            writes.put_settings(hub_url=f"https://127.0.0.1:{chaos.port}")
        yield chaos


def test_a_round_of_a_few_changes_each_way_is_one_request(hub: HubServer, tmp_path: Path) -> None:
    a, b = station(tmp_path, "a", hub), station(tmp_path, "b", hub)
    entered = _people(5, seed=3)
    one, two = _open(a), _open(b)
    try:
        two.add_many("person", entered[:2])
        assert sync_once(two).pushed == 2
        one.add_many("person", entered[2:])
        client = client_for(one)
        seen = _watch(client)
        result = sync_once(one, client)
        assert (result.pushed, result.rejected, result.pulled) == (3, 0, 2)
        assert [(r.request.method, r.request.path_url) for r in seen] == [("POST", "/v1/sync")]
        client = client_for(two)
        seen = _watch(client)
        assert sync_once(two, client).pulled == 3
        assert len(seen) == 1
        # Every person entered anywhere is on both stations, once.
        names = {str(p["name"]) for p in entered}
        assert _names(one) == _names(two) == names and one.count("person") == 5
    finally:
        one.close()
        two.close()
    assert county_cli(hub.home, "export", "person") == a("export", "person").stdout


def test_a_reply_lost_after_the_push_was_applied_is_made_good_by_the_next_round(
        hub: HubServer, tmp_path: Path) -> None:
    a, b = station(tmp_path, "a", hub), station(tmp_path, "b", hub)
    entered = _people(5, seed=4)
    one, two = _open(a), _open(b)
    try:
        two.add_many("person", entered[:2])
        assert sync_once(two).pushed == 2
        one.add_many("person", entered[2:])
        before = _hub_last(hub)
        with _through_chaos(hub, one) as chaos:
            chaos.script = [("/v1/sync", "drop-reply")]
            with pytest.raises(HubUnreachable):
                sync_once(one)
            # The hub applied the batch; the station never heard: all still to send, and
            # nothing pulled (the page was in the lost reply).
            assert _hub_last(hub) == before + 3
            assert one.status()["pending"] == 3 and one.count("person") == 3
            assert one.settings().get("pull_cursor", "0") == "0"
            result = sync_once(one)
            assert (result.pushed, result.rejected, result.pulled) == (3, 0, 2)
            assert chaos.paths == ["/v1/sync", "/v1/sync"] and chaos.faults["drop-reply"] == 1
        assert _hub_last(hub) == before + 3  # the resent batch got its receipts, nothing stored twice
        assert one.status()["pending"] == 0
        assert sync_once(two).pulled == 3
        assert _names(one) == _names(two) == {str(p["name"]) for p in entered}
    finally:
        one.close()
        two.close()
    assert county_cli(hub.home, "export", "person") == a("export", "person").stdout


def test_a_reply_cut_inside_its_first_pull_page_applies_nothing_and_the_next_round_brings_all(
        hub: HubServer, tmp_path: Path) -> None:
    a, b = station(tmp_path, "a", hub), station(tmp_path, "b", hub)
    entered = _people(302, seed=5)
    one, two = _open(a), _open(b)
    try:
        two.add_many("person", entered[:300])
        assert sync_once(two).pushed == 300
        one.add_many("person", entered[300:])
        before = _hub_last(hub)
        with _through_chaos(hub, one) as chaos:
            # The answer is two receipts and a page of 300 people: its first half ends inside
            # the page.
            chaos.script = [("/v1/sync", "truncate-reply")]
            with pytest.raises(HubUnreachable):
                sync_once(one)
            assert _hub_last(hub) == before + 2
            assert one.status()["pending"] == 2 and one.count("person") == 2
            assert one.settings().get("pull_cursor", "0") == "0"
            result = sync_once(one)
            assert (result.pushed, result.pulled) == (2, 300)
            assert chaos.faults["truncate-reply"] == 1
        assert _hub_last(hub) == before + 2
        assert _names(one) == {str(p["name"]) for p in entered} and one.count("person") == 302
    finally:
        one.close()
        two.close()


def test_a_hub_without_the_round_request_gets_the_calls_one_by_one(tmp_path: Path) -> None:
    county.init(tmp_path / "county")
    old = HubServer(tmp_path / "county").without("/v1/sync").start()  # the release before
    try:
        a, b = station(tmp_path, "a", old), station(tmp_path, "b", old)
        entered = _people(3, seed=6)
        one = _open(a)
        try:
            one.add_many("person", entered)
            client = client_for(one)
            seen = _watch(client)
            assert sync_once(one, client).pushed == 3
            paths = [r.request.path_url.split("?")[0] for r in seen]
            assert paths[0] == "/v1/sync" and seen[0].status_code == 404
            assert {"/v1/schema", "/v1/push", "/v1/pull"} <= set(paths[1:])
            # Not asked again on that connection's next round.
            one.update("person", one.page("person", limit=1)[0]["id"], {"phone": "13900139011"})
            assert sync_once(one, client).pushed == 1
            assert "/v1/sync" not in [r.request.path_url for r in seen[len(paths):]]
        finally:
            one.close()
        assert b.json("sync", "--once")["pulled"] == 4
    finally:
        old.stop()


class _Relay:
    """A TCP relay to the hub on loopback: it counts the connections it was given and can close
    them all at once, as a hub's keep-alive timeout or a NAT closes an idle one. Subclasses look
    at (or hold) each chunk on its way up or down."""

    def __init__(self, hub_port: int) -> None:
        self.hub_port = hub_port
        self.accepted = 0
        self.open: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                station, _ = self.listener.accept()
                hub = socket.create_connection(("127.0.0.1", self.hub_port))
                self.accepted += 1
                self.open += [station, hub]
                for source, sink, seen in ((station, hub, self._going_up), (hub, station, self._going_down)):
                    threading.Thread(target=self._pipe, args=(source, sink, seen), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, seen: Callable[[bytes], None]) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                seen(data)
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def _going_up(self, data: bytes) -> None:
        """A chunk from the station, before it is passed on."""

    def _going_down(self, data: bytes) -> None:
        """A chunk from the hub, before it is passed on."""

    def cut_all(self) -> None:
        for sock in self.open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.open.clear()

    def close(self) -> None:
        self.cut_all()
        self.listener.close()


class _HeldAnswers(_Relay):
    """A relay that lets the TLS handshake through, then holds every byte the hub sends until
    the station has sent `until` bytes: a station that waits for one batch's answer before it
    sends the next never gets one (it times out); one that writes its batches ahead of their
    answers gets them all. The oracle is the bytes on the wire, not a clock."""

    HANDSHAKE = 4096  # a TLS 1.3 handshake's bytes from the station: well under this

    def __init__(self, hub_port: int, until: int) -> None:
        self.until = until
        self.up = 0
        self.released = threading.Event()
        super().__init__(hub_port)

    def _going_up(self, data: bytes) -> None:
        self.up += len(data)
        if self.up >= self.until:
            self.released.set()

    def _going_down(self, data: bytes) -> None:
        if self.up > self.HANDSHAKE:
            self.released.wait(timeout=30)

    def close(self) -> None:
        self.released.set()
        super().close()


@pytest.mark.parametrize("how", ["push", "round"])
def test_later_batches_are_written_ahead_of_the_answers_to_those_before(
        how: str, sqlite_hub: HubServer, tmp_path: Path) -> None:
    # "round": the second batch goes up behind the round's first request (which carries the
    # first), before its answer, as it does behind a plain push.
    a = station(tmp_path, "a", sqlite_hub)
    one = _open(a)
    try:
        one.add_many("person", _people(1500, seed=7))
        first, second = outbox(one, MAX_CHANGES)
        assert len(first) == 1000 and len(second) == 500
        # Both batches' bodies must have gone up before the first answer may come down.
        bodies = sum(len(encode_push(PushBatch(one.station_id, tuple(b)))) for b in (first, second))
        relay = _HeldAnswers(sqlite_hub.port, until=bodies)
        try:
            with one.atomic() as writes:
                writes.put_settings(hub_url=f"https://127.0.0.1:{relay.port}")
            client = client_for(one)
            client.timeout = (5.0, 8.0)  # one waiting for an answer first would time out here
            seen = _watch(client)
            result = push(one, client) if how == "push" else sync_once(one, client)
            assert (result.pushed, result.batches) == (1500, 2)
            opening = "/v1/push" if how == "push" else "/v1/sync"  # the round's own request
            assert [r.request.path_url for r in seen] == [opening, "/v1/push"]
            assert relay.up >= bodies
        finally:
            relay.close()
        assert one.status()["pending"] == 0 and _hub_last(sqlite_hub) == 1500
    finally:
        one.close()


def test_a_kept_connection_closed_while_idle_is_replaced_not_a_failed_round(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    a = station(tmp_path, "a", sqlite_hub)
    one = _open(a)
    relay = _Relay(sqlite_hub.port)
    try:
        with one.atomic() as writes:
            writes.put_settings(hub_url=f"https://127.0.0.1:{relay.port}")
        client = client_for(one)
        entered = _people(3, seed=12)
        one.add_many("person", entered[:1])
        assert sync_once(one, client).pushed == 1
        one.add_many("person", entered[1:2])
        assert sync_once(one, client).pushed == 1
        assert relay.accepted == 1  # the next round went on the kept connection
        relay.cut_all()
        time.sleep(0.2)  # the FIN reaches the station's socket
        one.add_many("person", entered[2:])
        assert sync_once(one, client).pushed == 1  # not a failed round
        assert relay.accepted == 2  # on a new connection
        assert one.status()["pending"] == 0 and _hub_last(sqlite_hub) == 3
    finally:
        relay.close()
        one.close()


def test_an_answer_come_before_the_next_batch_is_written_stays_with_its_batch(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    # The regression: something to read on the kept connection between two written batches
    # was taken for the hub having closed it, so the next batch went on a new connection,
    # the first answer was lost and each later batch was paired with the answer before its own.
    a = station(tmp_path, "a", sqlite_hub)
    one = _open(a)
    relay = _Relay(sqlite_hub.port)
    try:
        one.add_many("person", _people(30, seed=13))
        with one.atomic() as writes:
            writes.put_settings(hub_url=f"https://127.0.0.1:{relay.port}")
        client = client_for(one)
        changes = pending(one, MAX_CHANGES)
        batches = [PushBatch(one.station_id, tuple(changes[i:i + 10])) for i in range(0, 30, 10)]

        def after_each_answer_came() -> Iterator[PushBatch]:
            for batch in batches:
                yield batch
                conn = client._adapter._conn
                assert conn is not None
                wait_for_read(conn.sock, timeout=10)  # its answer is readable before the next

        answered = list(client.pushes(after_each_answer_came()))
        assert [[r.seq for r in results] for _, results in answered] == [
            [c.seq for c in batch.changes] for batch in batches]
        assert relay.accepted == 1
    finally:
        relay.close()
        one.close()


def test_one_client_shared_by_threads_gives_each_call_its_own_answer(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    # One kept connection: a run of batches written ahead of their answers must not take
    # another thread's answer, nor give it one of its own. Each probe asks for a size no other
    # call asks for, so an answer read by the wrong caller shows in its length.
    from .test_threads import _run_together

    one = _open(station(tmp_path, "a", sqlite_hub))
    try:
        one.add_many("person", _people(1500, seed=13))
        client = client_for(one)
        pushed: list[int] = []

        def probes(base: int) -> Callable[[], None]:
            def job() -> None:
                for k in range(25):
                    assert client.probe(base + k) == base + k
            return job

        def estimates() -> None:
            for _ in range(10):
                changes, size = client.estimate(0)
                assert changes >= 0 and size >= 0

        errors = _run_together(lambda: pushed.append(push(one, client).pushed),
                               probes(100), probes(5000), estimates)
        assert errors == []
        assert pushed == [1500]
        assert one.status()["pending"] == 0 and _hub_last(sqlite_hub) == 1500
    finally:
        one.close()
