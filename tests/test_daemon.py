"""The sync loop's timing, on an injected clock: backoff with jitter, bounded, reset on success."""

from __future__ import annotations

import logging
import random

import pytest

from station import synthetic
from station.daemon import PROBE, UPGRADE_WAIT, Backoff, Loop
from station.store import Store
from station.syncer import SyncResult
from sync import log_lines
from sync.errors import HubBusy, HubUnreachable, ProtocolRefused, Rejected

from .conftest import GRID


def test_backoff_doubles_with_jitter_and_never_exceeds_the_probe_interval() -> None:
    backoff = Backoff(rng=random.Random(1))
    delays = [backoff.delay(n) for n in range(1, 12)]
    for n, d in enumerate(delays, start=1):
        ceiling = min(PROBE, 2 ** (n - 1))
        assert ceiling / 2 <= d <= ceiling
    assert max(delays) <= PROBE


class Outcomes:
    """A sync_once that fails while the 'link' is down, then succeeds."""

    def __init__(self, down_for: int) -> None:
        self.down_for = down_for
        self.calls = 0

    def __call__(self, store: Store) -> SyncResult:
        self.calls += 1
        if self.calls <= self.down_for:
            raise HubUnreachable("连不上", "cannot reach the hub")
        return SyncResult(1, 0, 1, 0)


def test_a_returning_link_is_noticed_within_the_probe_interval(store: Store) -> None:
    slept: list[float] = []
    loop = Loop(store, Outcomes(down_for=6), slept.append, Backoff(rng=random.Random(2)),
                interval=30.0)
    waits = [loop.round() for _ in range(8)]
    for n, wait in enumerate(waits[:6], start=1):
        ceiling = min(PROBE, 2 ** (n - 1))
        assert ceiling / 2 <= wait <= ceiling
    assert waits[6:] == [30.0, 30.0] and loop.failures == 0
    status = store.status()["sync"]
    assert status["last_success"] and status["last_error"] is None


def test_a_link_that_drops_mid_push_after_progress_is_retried_at_the_first_step(store: Store) -> None:
    """Each round sends one change and then loses the link: the wait never grows."""
    store.add_many("person", synthetic.people(5, [GRID], seed=8))

    def one_then_drop(s: Store) -> SyncResult:
        waiting = [r[0] for r in s.conn.execute("SELECT seq FROM changes WHERE receipt IS NULL")]
        if len(waiting) > 1:  # the last change never gets through
            with s.atomic() as writes:
                writes.acknowledge(min(waiting), 1000 + min(waiting), None)
        raise HubUnreachable("断了", "the link dropped")

    loop = Loop(store, one_then_drop, lambda s: None, Backoff(rng=random.Random(3)))
    waits = [loop.round() for _ in range(4)]
    assert all(0.5 <= w <= 1.0 for w in waits) and loop.failures == 1
    assert store.status()["pending"] == 1
    with_no_progress = [loop.round() for _ in range(3)]  # the last change stays: a dead link
    assert with_no_progress[-1] > 1.0  # backs off again


def test_a_failure_is_visible_in_status_and_a_refusal_waits_the_probe_interval(store: Store) -> None:
    def refused(s: Store) -> SyncResult:
        raise Rejected("拒绝", "the hub refused: revoked")

    loop = Loop(store, refused, lambda s: None)
    assert loop.round() == PROBE
    assert "revoked" in store.status()["sync"]["last_error"]


def test_a_protocol_refusal_waits_long_and_keeps_the_outbox(store: Store) -> None:
    store.add("person", next(synthetic.people(1, [GRID])))

    def too_old(s: Store) -> SyncResult:
        raise ProtocolRefused("协议过旧", "the hub refused: protocol 0, upgrade the station")

    loop = Loop(store, too_old, lambda s: None)
    assert [loop.round() for _ in range(3)] == [UPGRADE_WAIT] * 3
    assert UPGRADE_WAIT >= 40 * PROBE  # not the probe interval of a dead link
    status = store.status()
    assert (status["pending"], status["rejected"]) == (1, 0)
    assert "upgrade the station" in status["sync"]["last_error"]


def test_a_local_write_wakes_the_wait_early_while_online(store: Store) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            store.add("person", {"name": "李四", "id_number": "11010519491231002X", "grid": GRID})

    loop = Loop(store, Outcomes(down_for=0), sleep)
    loop.wait(30.0)
    assert slept == [1.0, 1.0, 1.0]


def test_each_round_logs_one_line_of_ids_and_counts_done_failed_or_busy(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """What the journal collects of the daemon: one key=value line a round, whatever it came
    to, and nothing a clerk typed (counts and error classes only)."""
    person = {"name": "李四", "id_number": "11010519491231002X", "grid": GRID, "phone": "13800138000"}
    store.add("person", person)
    answers: list[SyncResult | Exception] = [
        SyncResult(3, 1, 1, pulled=2), HubUnreachable(f"连不上 {person['name']}", "cannot reach the hub"),
        HubBusy(7.0)]

    def sync_once(s: Store) -> SyncResult:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    clock = iter(range(0, 100, 2))  # each round takes 0.2 s by this clock
    loop = Loop(store, sync_once, lambda s: None, Backoff(rng=random.Random(4)),
                monotonic=lambda: next(clock) / 10)
    with caplog.at_level(logging.INFO, logger="station.sync"):
        for _ in range(3):
            loop.round()
    lines = [r.getMessage() for r in caplog.records if r.name == "station.sync"]
    assert len(lines) == 3
    parsed = [log_lines.parse(line) for line in lines]
    assert [event for event, _ in parsed] == ["round"] * 3
    done, failed, busy = (values for _, values in parsed)
    assert {k: done[k] for k in ("outcome", "pushed", "rejected", "pulled", "pending", "ms")} == {
        "outcome": "done", "pushed": "3", "rejected": "1", "pulled": "2", "pending": "1", "ms": "200"}
    assert (failed["outcome"], failed["error"], failed["retryable"]) == ("error", "HubUnreachable", "1")
    assert (busy["outcome"], busy["retry_after"]) == ("busy", "7.0")
    for line in lines:
        assert person["name"] not in line and person["phone"] not in line and person["id_number"] not in line
