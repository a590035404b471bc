"""A first sync's bytes and time, told before it crosses the link (issue 24 point 5).

A new or replaced station that has not loaded a seed from county IT (`station load-seed`)
pulls its whole scope over the link: a township at the seed's scale is megabytes, which GPRS
moves in most of an hour. Before it starts, the station asks the hub how many changes that is
and how many bytes they make on the wire (`GET /v1/estimate`: the hub counts them and weighs
a page of them encoded as it will send them), then times the link itself: an empty probe
for the round trip, then PROBE_BYTES that do not compress for the bandwidth down. The clerk
reads the bytes and the time before waiting for them, and, when it is long, that a seed on a
USB stick does it without the link.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from station.store import Store
from sync.client import Client
from sync.human_time import duration

# Bytes of the bandwidth probe: about 4 s of GPRS (35 kbit/s), a fifth of a second of EDGE;
# long enough beside the round trip that the bandwidth shows through it.
PROBE_BYTES = 16 * 1024
# The shortest transfer time believed for the probe: on a link faster than the probe can
# measure (a LAN), the estimate is then "fast", not a division by almost nothing.
MIN_PROBE_S = 0.005
# Past this, the clerk is told of the seed as the way round the link.
LONG_S = 30 * 60


@dataclass(frozen=True)
class Estimate:
    changes: int  # what the pull will bring, by the hub's count
    bytes: int  # their bytes on the wire, by the hub's weighing of a page of them
    bytes_per_s: float  # the link's bandwidth down, measured by the probe
    round_trip_s: float  # the link's round trip, measured by the empty probe

    @property
    def seconds(self) -> float:
        """The bytes at the measured bandwidth, plus the request's round trip (the pull's
        later pages are fetched while the one before is applied, so their trips overlap)."""
        return self.round_trip_s + self.bytes / self.bytes_per_s

    @property
    def long(self) -> bool:
        return self.seconds > LONG_S

    def line(self, lang: str) -> str:
        """What the sync screen and the CLI say before the first sync starts."""
        size, rate = _size(self.bytes), _size(self.bytes_per_s)
        span = duration(max(self.seconds, 1.0), lang)
        if lang == "zh":
            said = (f"首次同步：约 {self.changes:,} 条、{size}，按测得网速 {rate}/秒，预计约 {span}")
            return said + ("；可向县级平台索取首次同步数据包，用U盘导入（station load-seed）"
                           if self.long else "")
        said = (f"First sync: about {self.changes:,} changes, {size}; at the measured {rate}/s,"
                f" about {span}")
        return said + ("; county IT can give a first-sync seed on a USB stick instead"
                       " (station load-seed)" if self.long else "")

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"seconds": round(self.seconds, 1)}


def unknown_line(why: str, lang: str) -> str:
    """What is said instead when the hub cannot estimate (a release before the estimate) or
    the link failed while asking: the clerk learns that no figure is coming, and why, rather
    than wondering whether the screen missed it; the sync itself goes on and says its own end."""
    if lang == "zh":
        return f"首次同步：无法事先估算（{why}），照常同步"
    return f"First sync: no estimate ({why}); syncing anyway"


def _size(count: float) -> str:
    if count >= 1024 * 1024:
        return f"{count / 1024 / 1024:.1f} MB"
    return f"{max(count, 1) / 1024:.1f} KB" if count < 100 * 1024 else f"{count / 1024:.0f} KB"


def is_first(store: Store) -> bool:
    """Whether the next sync is this station's first pull over the link: enrolled, nothing
    pulled yet (a loaded seed moves the pull cursor on), and not a restore's recovery."""
    settings = store.settings()
    return bool(settings.get("hub_url")) and not int(settings.get("pull_cursor") or 0) \
        and not settings.get("recover_after")


def measure(store: Store, client: Client, clock: Callable[[], float] = time.perf_counter) -> Estimate:
    """Ask the hub what the first pull brings, then time the link with two probes."""
    changes, size = client.estimate(int(store.settings().get("pull_cursor") or 0))
    # The estimate's request opened the connection (TCP and TLS handshakes): the probes
    # after it ride the open connection, as the pull's pages will.
    start = clock()
    client.probe(0)
    trip = clock() - start
    start = clock()
    got = client.probe(PROBE_BYTES)
    took = clock() - start
    return Estimate(changes, size, got / max(took - trip, MIN_PROBE_S), trip)
