"""A real county hub over HTTPS on 127.0.0.1 for tests: uvicorn in a daemon thread, so it
stops by itself with the test process even if a test dies half-way."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import requests
import uvicorn

from sync import county
from sync.http import make_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HubServer:
    def __init__(self, home: Path, port: int | None = None) -> None:
        self.home = home
        self.port = port or free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.fingerprint = county.fingerprint((home / "tls.crt").read_bytes())
        config = uvicorn.Config(make_app(county.open_hub(home), home), host="127.0.0.1",
                                port=self.port, ssl_certfile=str(home / "tls.crt"),
                                ssl_keyfile=str(home / "tls.key"), log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

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
