"""Faults in the middle of sync: lost replies, killed stations, cut connections.
After a resync: nothing lost, nothing doubled, nothing pending."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from station.store import Store
from station.syncer import client_for, pending
from sync.hub import county
from sync.protocol import PushBatch

from .conftest import PASSPHRASE, STATION, Cli
from .hubserver import HubProcess, HubServer
from .test_sync_e2e import county_cli, enroll, station


@pytest.fixture
def hub(sqlite_hub: HubServer) -> HubServer:
    return sqlite_hub


def hub_changes(hub: HubServer) -> int:
    conn = sqlite3.connect(hub.home / "hub.db")
    try:
        return int(conn.execute("SELECT count(*) FROM changes").fetchone()[0])
    finally:
        conn.close()


def local_changes(cli: Cli) -> int:
    conn = sqlite3.connect(Path(cli.env["STATION_HOME"]) / "station.db")
    try:
        return int(conn.execute("SELECT count(*) FROM changes").fetchone()[0])
    finally:
        conn.close()


def assert_whole(a: Cli, hub: HubServer) -> None:
    status = a.json("status", "--json")
    assert status["pending"] == 0 and status["rejected"] == 0
    assert hub_changes(hub) == local_changes(a)  # every change exactly once
    assert county_cli(hub.home, "export") == a("export").stdout


def test_a_lost_reply_is_resent_without_doubling_anything(cli: Cli, hub: HubServer) -> None:
    enroll(cli, hub)
    cli("demo-data", "--scale", "small", timeout=300)
    store = Store.open(cli.env["STATION_HOME"])
    store.unlock(PASSPHRASE)
    client = client_for(store)
    first = client.push(PushBatch(store.station_id, tuple(pending(store, 1000))))  # reply "lost"
    store.close()
    assert len(first) == 1000 and hub_changes(hub) == 1000
    result = cli.json("sync", timeout=300)
    assert result["pushed"] == local_changes(cli)  # the first 1,000 came back with old receipts
    assert_whole(cli, hub)


def wait_for(predicate: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_a_station_killed_mid_push_and_mid_pull_resumes_whole(cli: Cli, hub: HubServer,
                                                              tmp_path: Path) -> None:
    enroll(cli, hub)
    cli("demo-data", "--scale", "small", timeout=300)
    proc = subprocess.Popen([STATION, "sync"], env=cli.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(lambda: hub_changes(hub) > 0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < hub_changes(hub) < local_changes(cli)  # really cut half-way
    cli("sync", timeout=300)
    assert_whole(cli, hub)

    other = station(tmp_path, "b", hub)
    home_b = Path(other.env["STATION_HOME"])

    def cursor_moved() -> bool:
        conn = sqlite3.connect(home_b / "station.db")
        try:
            row = conn.execute("SELECT value FROM settings WHERE key = 'pull_cursor'").fetchone()
            return row is not None and int(row[0]) > 0
        finally:
            conn.close()

    proc = subprocess.Popen([STATION, "sync"], env=other.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(cursor_moved)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    other("sync", timeout=300)
    assert other("export").stdout == cli("export").stdout
    assert other.json("status", "--json")["pending"] == 0


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 that can cut every connection after a few bytes upstream."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.cut_after: int | None = None
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            limit = self.cut_after
            threading.Thread(target=self._pipe, args=(client, upstream, limit), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, None), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: limit - sent])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.listener.close()


def test_a_request_cut_mid_body_is_retried_whole_later(cli: Cli, hub: HubServer) -> None:
    proxy = CuttingProxy(hub.port)
    try:
        code = json.loads(county_cli(hub.home, "station", "add", "--township", "440524001"))["code"]
        cli("enroll", "--hub", f"https://127.0.0.1:{proxy.port}", "--code", code)
        cli("demo-data", "--scale", "small", timeout=300)
        proxy.cut_after = 30_000  # past the TLS handshake, inside the first batch's body
        err = cli("sync", ok=False, timeout=120).stderr
        assert "cannot reach the hub" in err
        assert hub_changes(hub) == 0  # a cut body is never applied in part
        proxy.cut_after = None
        cli("sync", timeout=300)
        assert_whole(cli, hub)
    finally:
        proxy.close()


def test_a_hub_killed_mid_push_and_restarted_loses_nothing_and_doubles_nothing(
        cli: Cli, hub_database: str, tmp_path: Path) -> None:
    """The county server crashes (SIGKILL) while a station pushes, and comes back on the same
    address: the batch it was applying is rolled back whole, and the next sync completes."""
    home = tmp_path / "county"
    county.init(home, hub_database)
    hub = HubProcess(home).start()
    try:
        enroll(cli, hub)
        cli("demo-data", "--scale", "small", timeout=300)
        storage = county.open_hub(home).storage

        def stored() -> int:
            with storage.transaction() as tx:
                return int(tx.rows("SELECT count(*) FROM changes")[0][0])

        proc = subprocess.Popen([STATION, "sync"], env=cli.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        wait_for(lambda: stored() > 0)
        hub.kill()
        _, err = proc.communicate(timeout=120)
        # Killed between requests the link is gone; killed while answering, the reply is cut:
        # either way one line that says the hub went away, and a retry resumes.
        assert proc.returncode != 0, err
        assert b"cannot reach the hub" in err or b"reply was cut on the way" in err, err
        assert 0 < stored() < local_changes(cli), (stored(), local_changes(cli))  # cut half-way
        hub = HubProcess(home, hub.port).start()
        cli("sync", timeout=300)
        status = cli.json("status", "--json")
        assert status["pending"] == 0 and status["rejected"] == 0
        assert stored() == local_changes(cli)  # every change exactly once
        assert county_cli(home, "export") == cli("export").stdout
        storage.close()
    finally:
        hub.stop()
