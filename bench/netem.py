"""A bad link between a station and the hub: a TCP proxy on 127.0.0.1 with a bandwidth cap
per direction, added latency, and connections dropped at random (a 2G cell hand-over, a
flaky rural 4G link).

GPRS and EDGE are WebPageTest's published connection profiles ("2G": 35/32 kbit/s down/up,
1,300 ms round trip; "EDGE": 240/200 kbit/s, 840 ms), with drops added: what a gridworker's
phone gets at the edge of a township. "2G" is the kinder profile the benchmarks used before.

    .venv/bin/python bench/netem.py --profile 2G --listen 9443 --to 127.0.0.1:8443

Used by bench/run and the tests as a library: `with Link(PROFILES["2G"], target) as link:`
starts it in a thread and gives `link.port`; `link.stats` counts bytes and drops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import socket
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Profile:
    name: str
    down_bytes_per_s: float  # hub -> station
    up_bytes_per_s: float  # station -> hub
    rtt_s: float  # added round trip (half each way)
    drop_every_bytes: float  # mean bytes on the link between two dropped connections (0: never)

    def seconds_for(self, up_bytes: float, down_bytes: float) -> float:
        """The bandwidth floor of moving these bytes: both directions at once, each at its rate."""
        return max(up_bytes / self.up_bytes_per_s, down_bytes / self.down_bytes_per_s)


def _kbit(kbit_per_s: float) -> float:
    return kbit_per_s * 1000 / 8


PROFILES = {
    # GPRS, WebPageTest's "2G": 35 kbit/s down, 32 up, 1,300 ms; a drop every ~100 KB
    # (half a minute of the link: a cell hand-over on a gridworker's round).
    "GPRS": Profile("GPRS", _kbit(35), _kbit(32), 1.3, 100_000),
    # EDGE, WebPageTest's: 240 kbit/s down, 200 up, 840 ms; a drop every ~500 KB.
    "EDGE": Profile("EDGE", _kbit(240), _kbit(200), 0.84, 500_000),
    # The kinder 2G the benchmarks used first: ~30 KB/s, 400 ms, a drop every ~200 KB.
    "2G": Profile("2G", 30_000, 30_000, 0.4, 200_000),
    # A rural 4G cell at busy hours: ~250 KB/s (2 Mbit/s), 120 ms, a drop every ~2 MB.
    "rural-4G": Profile("rural-4G", 250_000, 250_000, 0.12, 2_000_000),
    "clean": Profile("clean", 1e12, 1e12, 0.0, 0),
}


@dataclass
class Stats:
    up: int = 0  # station -> hub bytes delivered
    down: int = 0
    drops: int = 0
    connections: int = 0


class _Direction:
    """A serial line of `rate` bytes/s: a chunk leaves when the previous one has."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.free_at = 0.0

    def schedule(self, now: float, size: int) -> float:
        self.free_at = max(now, self.free_at) + size / self.rate
        return self.free_at


@dataclass
class _LinkState:
    profile: Profile
    rng: random.Random
    stats: Stats = field(default_factory=Stats)
    until_drop: float = 0.0

    def __post_init__(self) -> None:
        self.up = _Direction(self.profile.up_bytes_per_s)
        self.down = _Direction(self.profile.down_bytes_per_s)
        self.next_drop()

    def next_drop(self) -> None:
        mean = self.profile.drop_every_bytes
        self.until_drop = self.rng.expovariate(1 / mean) if mean else float("inf")

    def carried(self, size: int) -> bool:
        """Count bytes on the link; True when this chunk is where the link drops."""
        self.until_drop -= size
        if self.until_drop <= 0:
            self.stats.drops += 1
            self.next_drop()
            return True
        return False


CHUNK = 4096


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: _Direction,
                link: _LinkState, upward: bool, dropped: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def receive() -> None:
        try:
            while data := await reader.read(CHUNK):
                arrives = line.schedule(loop.time(), len(data)) + link.profile.rtt_s / 2
                if link.carried(len(data)):
                    dropped.set()
                    return
                queue.put_nowait((arrives, data))
        except (ConnectionError, OSError):
            dropped.set()
        finally:
            queue.put_nowait(None)

    async def send() -> None:
        while (item := await queue.get()) is not None:
            arrives, data = item
            await asyncio.sleep(max(0.0, arrives - loop.time()))
            if dropped.is_set():
                return
            writer.write(data)
            await writer.drain()
            if upward:
                link.stats.up += len(data)
            else:
                link.stats.down += len(data)
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()

    await asyncio.gather(receive(), send(), return_exceptions=True)


async def _serve(link: _LinkState, host: str, port: int, ready: threading.Event,
                 listening: list[int], stop: asyncio.Event) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        link.stats.connections += 1
        try:
            hub_r, hub_w = await asyncio.open_connection(host, port)
        except OSError:
            client_w.close()
            return
        dropped = asyncio.Event()
        up = asyncio.ensure_future(_pipe(client_r, hub_w, link.up, link, True, dropped))
        down = asyncio.ensure_future(_pipe(hub_r, client_w, link.down, link, False, dropped))
        waiting = asyncio.ensure_future(dropped.wait())
        await asyncio.wait([asyncio.gather(up, down), waiting], return_when=asyncio.FIRST_COMPLETED)
        for w in (client_w, hub_w):
            if dropped.is_set():
                w.transport.abort()  # as a dead cell does: no FIN, the peer sees a reset
            else:
                w.close()
        for task in (up, down, waiting):
            task.cancel()

    server = await asyncio.start_server(handle, "127.0.0.1", listening[0] if listening else 0)
    sock: socket.socket = server.sockets[0]
    listening[:] = [sock.getsockname()[1]]
    ready.set()
    async with server:
        await stop.wait()
    # Connections still open are cut: what they were doing no longer matters.
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


class Link:
    """The proxy in a background thread, for as long as the `with` block runs."""

    def __init__(self, profile: Profile, target: tuple[str, int], seed: int = 1, port: int = 0) -> None:
        self.state = _LinkState(profile, random.Random(seed))
        self.target = target
        self._port = [port] if port else []
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"netem-{profile.name}")

    @property
    def port(self) -> int:
        return self._port[0]

    @property
    def stats(self) -> Stats:
        return self.state.stats

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stop = asyncio.Event()
        self._loop.run_until_complete(_serve(self.state, *self.target, self._ready, self._port, self._stop))

    def __enter__(self) -> Link:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", choices=sorted(PROFILES), default="2G")
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--to", required=True, help="HOST:PORT of the hub")
    args = parser.parse_args()
    host, port = args.to.rsplit(":", 1)
    with Link(PROFILES[args.profile], (host, int(port)), port=args.listen) as link:
        print(f"127.0.0.1:{link.port} -> {args.to} as {args.profile}; Ctrl-C stops", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
