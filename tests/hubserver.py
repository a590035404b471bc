"""A real county hub over HTTPS on 127.0.0.1 for tests and benchmarks: uvicorn in a daemon
thread (`HubServer`), so it stops by itself with the test process even if a test dies
half-way; or `county serve` in a child process (`HubProcess`), to crash and restart it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests
import uvicorn

from sync.hub import county
from sync.hub.http import IN_FLIGHT_ENV, KEEP_ALIVE_S, RETRY_AFTER_S, SHUTDOWN_S, LoadShed, make_app
from sync.hub.rules import HubClock
from sync.pinning import fingerprint


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HubServer:
    def __init__(self, home: Path, port: int | None = None, max_in_flight: int | None = None,
                 retry_after: tuple[int, int] = RETRY_AFTER_S,
                 wall_ms: Callable[[], int] | None = None) -> None:
        """`wall_ms`: the hub's clock, for a test that moves time on (the real one by default)."""
        self.home = home
        self.port = port or free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.fingerprint = fingerprint((home / "tls.crt").read_bytes())
        hub = county.open_hub(home, clock=HubClock(wall_ms) if wall_ms else None)
        self.app = make_app(hub, home, max_in_flight, retry_after)
        config = uvicorn.Config(self.app, host="127.0.0.1",
                                port=self.port, ssl_certfile=str(home / "tls.crt"),
                                ssl_keyfile=str(home / "tls.key"), log_level="warning",
                                timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=SHUTDOWN_S)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def without(self, path: str) -> HubServer:
        """The hub of an earlier release that lacks the call at `path` (it answers 404 with no
        refusal body): the same app with that route taken out. Before `start`."""
        from starlette.routing import Route

        self.app.router.routes = [r for r in self.app.router.routes
                                  if not (isinstance(r, Route) and r.path == path)]
        return self

    def start(self) -> HubServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/v1/health", verify=str(self.home / "tls.crt"), timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("the test hub did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def shed(self) -> LoadShed:
        """The app's load shedder (built with the app's middleware at its first request), to
        read its counts or change its limit while the hub runs."""
        node = self.app.middleware_stack
        while not isinstance(node, LoadShed):
            node = node.app  # type: ignore[union-attr]
        return node


def _die_with_parent() -> None:
    """In the child: the kernel kills it when the test process goes, however that goes."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class HubProcess:
    """`county serve` in a child process: a hub that can be killed (SIGKILL) and restarted on
    the same port, as a county server crashes and comes back. Stopped with the test."""

    def __init__(self, home: Path, port: int | None = None, workers: int = 1,
                 log: Path | None = None, max_in_flight: int | None = None) -> None:
        self.home = home
        self.max_in_flight = max_in_flight  # per worker (COUNTY_MAX_IN_FLIGHT); None: the default
        self.log = log  # where its stdout and stderr go (appended); nowhere by default
        self.port = port or free_port()
        self.workers = workers
        self.url = f"https://127.0.0.1:{self.port}"
        self.fingerprint = fingerprint((home / "tls.crt").read_bytes())
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> HubProcess:
        county_bin = Path(sys.executable).with_name("county")
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(county_bin), "--home", str(self.home), "serve", "--port", str(self.port),
             "--workers", str(self.workers)],
            stdout=out, stderr=out, preexec_fn=_die_with_parent, env=self._environment())
        if self.log:
            out.close()  # type: ignore[union-attr]  # the child holds its own copy
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/v1/health", verify=str(self.home / "tls.crt"), timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the hub process did not start")

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop(IN_FLIGHT_ENV, None)
        if self.max_in_flight is not None:
            env[IN_FLIGHT_ENV] = str(self.max_in_flight)
        return env

    def kill(self) -> None:
        """A crash: no shutdown, open transactions are left to the database to roll back."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # uvicorn waits for open keep-alive connections: not forever
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
