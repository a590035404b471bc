"""The sync loop: a thin loop with backoff around `sync_once`, as Litestream's monitor is.

While the hub answers, it syncs every `interval` seconds, and within a second of a local
write. While the hub is unreachable it backs off exponentially with jitter, but never waits
longer than `probe` seconds, so a returning link is noticed within seconds. An error that
retrying cannot fix (a refused certificate, a revoked station) is reported and retried at the
probe interval: the clerk sees it in `station status`, and nothing is lost meanwhile. A hub
that refuses the station's protocol version is asked again only every `UPGRADE_WAIT`: nothing
changes until someone upgrades, and a county of stations must not keep knocking meanwhile.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field

from station.store import Store
from station.syncer import SyncResult
from sync.errors import DiskError, ProtocolRefused, SyncError, TownshipError

INTERVAL = 30.0  # seconds between rounds while online and idle
PROBE = 15.0  # the longest wait while the hub is unreachable
FIRST_BACKOFF = 1.0
UPGRADE_WAIT = 600.0  # after a protocol refusal: an upgraded hub is noticed within 10 minutes


@dataclass
class Backoff:
    """Exponential backoff with jitter, capped at the probe interval."""

    first: float = FIRST_BACKOFF
    cap: float = PROBE
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int) -> float:
        ceiling = min(self.cap, self.first * 2 ** max(failures - 1, 0))
        # Jitter in [ceiling/2, ceiling]: stations that lost the link together do not all
        # come back in the same second.
        return ceiling / 2 + self.rng.random() * ceiling / 2


@dataclass
class Loop:
    store: Store
    sync_once: Callable[[Store], SyncResult]
    sleep: Callable[[float], None]
    backoff: Backoff = field(default_factory=Backoff)
    interval: float = INTERVAL
    failures: int = 0

    def round(self) -> float:
        """One round; returns how long to wait before the next."""
        before = int(self.store.status()["pending"])
        try:
            result = self.sync_once(self.store)
        except TownshipError as exc:
            # A link that drops mid-push but carried batches before it is working: try again
            # at the first step of the backoff, not a longer one each time (a 2G link drops
            # every few hundred KB; doubling waits would cost more than the drops).
            progressed = int(self.store.status()["pending"]) < before
            self.failures = 1 if progressed else self.failures + 1
            retryable = isinstance(exc, SyncError) and exc.retryable
            self._note(last_error=str(exc), last_error_at=self.store.clock.iso(),
                       last_error_retryable="1" if retryable else "0")
            if isinstance(exc, ProtocolRefused):
                return UPGRADE_WAIT
            return self.backoff.delay(self.failures) if retryable else self.backoff.cap
        self.failures = 0
        self._note(last_success=self.store.clock.iso(), last_error="",
                   last_round=f"pushed {result.pushed}, rejected {result.rejected},"
                              f" pulled {result.pulled}")
        return self.interval

    def _note(self, **values: str) -> None:
        # A full or read-only disk loses the note, not the loop: the next round tries again.
        with suppress(DiskError), self.store.atomic() as writes:
            writes.put_settings(**values)

    def wait(self, seconds: float) -> None:
        """Sleep in one-second steps, waking early when a local write is waiting to go up
        (only while the hub is answering: a dead link is not probed faster for it)."""
        waited = 0.0
        while waited < seconds:
            step = min(1.0, seconds - waited)
            self.sleep(step)
            waited += step
            if self.failures == 0 and self.store.status()["pending"]:
                return

    def run(self, rounds: int | None = None) -> None:
        done = 0
        while rounds is None or done < rounds:
            self.wait(self.round())
            done += 1
