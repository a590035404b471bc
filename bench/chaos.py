"""A proxy that mangles whole requests and replies between stations and the hub.

bench/netem.py shapes bytes (bandwidth, latency, dropped connections); through TLS that is
all a network can do to a stream. Duplicated, reordered and truncated *requests* happen one
level up — a retrying middlebox, a captive portal, a reconnecting 2G modem — so this proxy
terminates TLS with the hub's own certificate (the stations' pin still matches), reads each
HTTP request whole, and at `rate` does one of these (each in turn, in a shuffled order):

    drop-request   close the connection; the hub never hears of it
    drop-reply     the hub applies the request; its reply is lost
    delay          hold the request 0.2–1.5 s, then pass it on
    duplicate      pass it on twice (the second copy a replay)
    truncate-req   send the hub half the body, then cut the connection
    truncate-reply send the station half the reply, then cut the connection
    reorder        pass on, before this request, an older one kept from earlier

Used by tests/torture/test_network_chaos.py as a library:
`with Chaos(hub_home, ("127.0.0.1", hub_port), rate=0.2) as chaos:` gives `chaos.port` and
`chaos.faults` (how many of each were done). `chaos.script` takes faults for chosen requests
instead: (path prefix, fault) pairs, each done once to the next request whose path starts
with its prefix, before any at random (tests/test_sync_round.py).
"""

from __future__ import annotations

import http.client
import random
import socket
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

FAULTS = ("drop-request", "drop-reply", "delay", "duplicate", "truncate-req", "truncate-reply",
          "reorder")


class Chaos:
    def __init__(self, hub_home: Path, target: tuple[str, int], rate: float = 0.2,
                 seed: int = 0) -> None:
        self.target, self.rate = target, rate
        self.rng = random.Random(seed)
        self.order = self.rng.sample(FAULTS, len(FAULTS))
        self.lock = threading.Lock()
        self.faults: Counter[str] = Counter()
        self.requests = 0
        self.kept: list[tuple[str, str, dict[str, str], bytes]] = []
        self.script: list[tuple[str, str]] = []
        self.paths: list[str] = []  # every request's path, in the order they came
        self.upstream = ssl.create_default_context(cafile=str(hub_home / "tls.crt"))
        self.upstream.check_hostname = False  # the pin is checked by the fingerprint, not a name
        server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_side.load_cert_chain(str(hub_home / "tls.crt"), str(hub_home / "tls.key"))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        # A station's idle keep-alive connection holds its handler thread: closing must not
        # wait for those (socketserver joins every handler thread on close by default).
        self.server.block_on_close = False
        self.server.socket = server_side.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Chaos:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()

    def choose(self, path: str = "") -> str | None:
        with self.lock:
            self.requests += 1
            self.paths.append(path)
            scripted = next((i for i, (prefix, _) in enumerate(self.script) if path.startswith(prefix)), None)
            if scripted is not None:
                fault = self.script.pop(scripted)[1]
                self.faults[fault] += 1
                return fault
            if self.rng.random() >= self.rate:
                return None
            # In turn, from a shuffled order: a short run still meets every kind.
            fault = self.order[sum(self.faults.values()) % len(self.order)]
            self.faults[fault] += 1
            return fault

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes,
                cut: bool = False) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """The hub's reply, or None when the request was cut half-way on purpose."""
        conn = http.client.HTTPSConnection(*self.target, context=self.upstream, timeout=60)
        try:
            if cut:
                conn.putrequest(method, path, skip_accept_encoding=True)
                for name, value in headers.items():
                    conn.putheader(name, value)
                conn.endheaders()
                conn.send(body[: len(body) // 2])
                return None
            conn.request(method, path, body=body or None, headers=headers)
            reply = conn.getresponse()
            return reply.status, reply.getheaders(), reply.read()
        finally:
            conn.close()


def _handler(chaos: Chaos) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.relay()

        def do_POST(self) -> None:
            self.relay()

        def relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            request = (self.command, self.path, headers, body)
            fault = chaos.choose(self.path)
            if fault == "drop-request":
                return self.cut()
            if fault == "truncate-req":
                chaos.forward(*request, cut=True)
                return self.cut()
            if fault == "delay":
                time.sleep(chaos.rng.uniform(0.2, 1.5))
            if fault == "reorder" and chaos.kept:
                chaos.forward(*chaos.kept.pop(0))  # an old request arrives after newer ones
            if chaos.rng.random() < 0.1:
                chaos.kept.append(request)
            reply = chaos.forward(*request)
            if fault == "duplicate":
                chaos.forward(*request)
            assert reply is not None
            if fault == "drop-reply":
                return self.cut()
            status, reply_headers, content = reply
            self.send_response_only(status)
            for name, value in reply_headers:
                if name.lower() not in ("connection", "transfer-encoding", "date", "server"):
                    self.send_header(name, value)
            self.end_headers()
            if fault == "truncate-reply":
                self.wfile.write(content[: len(content) // 2])
                return self.cut()
            self.wfile.write(content)

        def cut(self) -> None:
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    return Handler
