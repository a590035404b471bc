"""The sync loop: a thin loop with backoff around `sync_once`, as Litestream's monitor is.

While the hub answers, it syncs every `interval` seconds, and within a second of a local
write. While the hub is unreachable it backs off exponentially with jitter, but never waits
longer than `probe` seconds, so a returning link is noticed within seconds. An error that
retrying cannot fix (a refused certificate, a revoked station) is reported and retried at the
probe interval: the clerk sees it in `station status`, and nothing is lost meanwhile. A hub
that refuses the station's protocol version is asked again only every `UPGRADE_WAIT`: nothing
changes until someone upgrades, and a county of stations must not keep knocking meanwhile.

A busy hub (503, `HubBusy`) is not an error: the round's outcome is "busy", the clerk sees
"县级平台繁忙，稍后自动重试", and the next round comes after the hub's Retry-After plus jitter,
not sooner for a local write. The first round after the daemon starts waits a random part of
`START_SPREAD`: boxes that come back from a power cut together do not all knock at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from station.store import Store
from station.syncer import SyncResult
from sync import log_lines
from sync.errors import (
    DiskError,
    HubBusy,
    KeyRotated,
    ProtocolRefused,
    StationRevoked,
    SyncError,
    TownshipError,
)

INTERVAL = 30.0  # seconds between rounds while online and idle
PROBE = 15.0  # the longest wait while the hub is unreachable
FIRST_BACKOFF = 1.0
UPGRADE_WAIT = 600.0  # after a protocol refusal: an upgraded hub is noticed within 10 minutes
START_SPREAD = 15.0  # the first round waits up to this (the probe interval: as after an outage)
# After a busy answer: the hub's Retry-After plus up to half again (and at least a second of
# spread), so that stations turned away in the same second come back apart.
BUSY_JITTER = 0.5
BUSY_WAIT = 10.0  # when a busy hub (or a proxy in front of it) names no Retry-After
# How long `station sync --once` and the kiosk's sync keep trying a busy hub before they
# leave the rest to the daemon.
BUSY_PATIENCE = 300.0

Outcome = Literal["done", "busy", "error", "revoked"]
T = TypeVar("T")
# One line per round (`station sync --daemon` writes it to stderr: sync.log under systemd):
# counts, the outcome and the error's kind, never its words (they may quote a record).
log = logging.getLogger("station.sync")


def busy_wait(exc: HubBusy, rng: random.Random) -> float:
    """Seconds to wait after a busy answer before asking again."""
    base = BUSY_WAIT if exc.retry_after is None else exc.retry_after
    return base + rng.random() * max(1.0, base * BUSY_JITTER)


def patiently(attempt: Callable[[], T], sleep: Callable[[float], None],
              on_busy: Callable[[HubBusy, float], None], rng: random.Random | None = None,
              patience: float = BUSY_PATIENCE) -> T:
    """`attempt()`, asked again after each busy answer's wait (told to `on_busy` first) for
    as long as the waits add up to `patience`; past it, the last HubBusy is raised."""
    rng = rng or random.Random()
    waited = 0.0
    while True:
        try:
            return attempt()
        except HubBusy as exc:
            wait = busy_wait(exc, rng)
            if waited + wait > patience:
                raise
            on_busy(exc, wait)
            sleep(wait)
            waited += wait


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
    start_spread: float = START_SPREAD
    outcome: Outcome | None = None  # of the last round
    monotonic: Callable[[], float] = time.monotonic
    # Unlocks the store again (the service's passphrase) when another process changed the
    # data key under this one (None: the round fails until someone does).
    reopen: Callable[[Store], None] | None = None
    # What the last round's byte budget left waiting (None: it held nothing back): the next
    # round comes at the interval, not as soon as anything waits, or a metered link's budget
    # per round would be a budget per second. A write made since still wakes it.
    left: int | None = None

    def round(self) -> float:
        """One round; returns how long to wait before the next (and logs one line of it)."""
        started = self.monotonic()
        before = int(self.store.status()["pending"])
        values: dict[str, object] = {}
        wait = self._round(before, values)
        log.info(log_lines.line("round", **values, pending=self.store.status()["pending"],
                                ms=round((self.monotonic() - started) * 1000), next_s=wait))
        return wait

    def _keep_keys(self) -> None:
        """Before a round: unlock again if another process changed the data key under this
        one (`reopen`, with the service's passphrase), and go on with a change of key that
        is under way (a cut-off `station rekey`), in the background of the box's life."""
        if not self.store.unlocked and self.reopen is not None:
            self.reopen(self.store)
        if self.store.rekey_state() is not None:
            self.store.continue_rekey()

    def _round(self, before: int, values: dict[str, object]) -> float:
        try:
            self._keep_keys()
            result = self.sync_once(self.store)
        except StationRevoked as exc:  # the store is locked (or wiped): nothing more to do
            self.outcome = "revoked"
            values.update(outcome="revoked", wipe=exc.wipe)
            self._note(last_error=str(exc), last_error_at=self.store.clock.iso(),
                       last_error_retryable="0")
            return 0.0
        except HubBusy as exc:
            # The hub is up and said when to come back: neither a failure of the link (the
            # backoff stays where it was) nor an error for the clerk (an older one is cleared).
            self.outcome = "busy"
            values.update(outcome="busy", retry_after=exc.retry_after)
            self._note(busy_at=self.store.clock.iso(), last_error="",
                       last_round=f"busy, retry after {exc.retry_after}")
            return busy_wait(exc, self.backoff.rng)
        except KeyRotated:  # unlock with the new key at once, in the next round
            self.outcome = "error"
            values.update(outcome="error", error="KeyRotated", retryable=True)
            return 0.0 if self.reopen is not None else self.backoff.cap
        except TownshipError as exc:
            self.outcome = "error"
            # A link that drops mid-push but carried batches before it is working: try again
            # at the first step of the backoff, not a longer one each time (a 2G link drops
            # every few hundred KB; doubling waits would cost more than the drops).
            progressed = int(self.store.status()["pending"]) < before
            self.failures = 1 if progressed else self.failures + 1
            retryable = isinstance(exc, SyncError) and exc.retryable
            values.update(outcome="error", error=type(exc).__name__, retryable=retryable)
            self._note(last_error=str(exc), last_error_at=self.store.clock.iso(), busy_at="",
                       last_error_retryable="1" if retryable else "0")
            if isinstance(exc, ProtocolRefused):
                return UPGRADE_WAIT
            return self.backoff.delay(self.failures) if retryable else self.backoff.cap
        self.failures = 0
        self.outcome = "done"
        values.update(outcome="done", pushed=result.pushed, rejected=result.rejected,
                      pulled=result.pulled, files_sent=result.files_sent)
        self.left = None
        if result.waiting is not None:  # counts only: what the budget left for the next round
            self.left = int(self.store.status()["pending"])
            values.update(budget_spent=result.bytes,
                          **{f"waiting_{k}": v for k, v in result.waiting.as_json().items()})
        self._note(last_success=self.store.clock.iso(), last_error="", busy_at="",
                   last_round=f"pushed {result.pushed}, rejected {result.rejected},"
                              f" pulled {result.pulled}")
        return self.interval

    def _note(self, **values: str) -> None:
        # A full or read-only disk loses the note, not the loop: the next round tries again.
        with suppress(DiskError):
            self.store.note(**values)

    def wait(self, seconds: float) -> None:
        """Sleep in one-second steps, waking early when a local write is waiting to go up
        (only while the hub is answering: neither a dead link nor a busy hub is asked sooner
        for it; after a round its budget stopped, only for a write made since)."""
        waited = 0.0
        while waited < seconds:
            step = min(1.0, seconds - waited)
            self.sleep(step)
            waited += step
            pending = int(self.store.status()["pending"])
            if self.failures == 0 and self.outcome != "busy" and pending > (self.left or 0):
                return

    def run(self, rounds: int | None = None) -> None:
        # Straight to sleep, not `wait`: a box back from a power cut has writes waiting.
        self.sleep(self.backoff.rng.random() * self.start_spread)
        done = 0
        while rounds is None or done < rounds:
            wait = self.round()
            if self.outcome == "revoked":  # the county revoked it: the daemon stops (status 3)
                return
            self.wait(wait)
            done += 1
