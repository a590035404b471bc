"""The login throttle's rule on its own (sync/hub/throttle.py), with times the test sets: five
wrong passwords within 15 minutes lock an account for 5 minutes, the wait doubles for every
five more remembered, failures are forgotten after a day. The dashboard's use of it, over
HTTPS on both engines, is in test_dashboard_roles.py."""

from __future__ import annotations

from sync.hub import throttle
from sync.hub.throttle import ACCOUNT, ADDRESS, Rule, locked_until

MIN = 60_000
HOUR = 60 * MIN
T0 = 1_795_752_000_000  # 2026-11-27 12:00 Beijing time


def tries(n: int, start: int = T0, every: int = 1000) -> list[int]:
    return [start + i * every for i in range(n)]


def test_four_wrong_passwords_lock_nothing() -> None:
    assert locked_until(tries(4), T0 + 4000, ACCOUNT) is None


def test_the_fifth_wrong_password_within_15_minutes_locks_for_5_minutes() -> None:
    failures = tries(5)  # the last at T0 + 4 s
    opens = T0 + 4000 + 5 * MIN
    assert locked_until(failures, T0 + 4000, ACCOUNT) == opens
    assert locked_until(failures, opens - 1, ACCOUNT) == opens
    assert locked_until(failures, opens, ACCOUNT) is None


def test_five_wrong_passwords_spread_over_more_than_15_minutes_lock_nothing() -> None:
    spread = tries(5, every=4 * MIN + 1)  # first to last: 16 minutes and 4 ms
    assert locked_until(spread, spread[-1], ACCOUNT) is None
    just_in = tries(5, every=15 * MIN // 4)  # first to last: exactly 15 minutes
    assert locked_until(just_in, just_in[-1], ACCOUNT) == just_in[-1] + 5 * MIN


def test_each_wrong_password_after_a_lock_locks_again_and_the_wait_doubles_every_five() -> None:
    # However long the guesser waits between tries, the burst is remembered for a day.
    # Five at once, then one more each time the lock lifts: 5, 5, 5, 5, 5 minutes, then 10.
    failures = tries(5)
    for count in range(6, 16):
        now = locked_until(failures, failures[-1], ACCOUNT)
        assert now is not None
        failures.append(now)  # tried again the moment it opened, wrong again
        expected = {6: 5, 7: 5, 8: 5, 9: 5, 10: 10, 11: 10, 14: 10, 15: 20}.get(count)
        if expected is not None:
            assert locked_until(failures, failures[-1], ACCOUNT) == failures[-1] + expected * MIN, count


def test_the_wait_stops_growing_at_its_ceiling() -> None:
    rule = Rule(limit=5, max_wait_ms=HOUR)
    assert locked_until(tries(200), T0 + 199_000, rule) == T0 + 199_000 + HOUR
    assert locked_until(tries(200), T0 + 199_000, ACCOUNT) == T0 + 199_000 + 24 * HOUR  # 5 min × 2^39, capped


def test_failures_older_than_a_day_are_forgotten() -> None:
    old = tries(5, start=T0 - 25 * HOUR)
    assert locked_until(old, T0, ACCOUNT) is None
    # Five old and five new count as five: the first wait, not the doubled one.
    assert locked_until(old + tries(5), T0 + 4000, ACCOUNT) == T0 + 4000 + 5 * MIN
    assert throttle.remembered(old + tries(5), T0 + 4000, ACCOUNT) == tries(5)
    # A burst a day old locks no more: three wrong passwords since are not five.
    burst_then_slow = tries(5, start=T0 - 24 * HOUR - 10_000) + tries(3, every=HOUR)
    assert locked_until(burst_then_slow, T0 + 2 * HOUR, ACCOUNT) is None


def test_an_address_takes_ten_wrong_passwords() -> None:
    assert locked_until(tries(9), T0 + 8000, ADDRESS) is None
    assert locked_until(tries(10), T0 + 9000, ADDRESS) == T0 + 9000 + 5 * MIN


def test_keys_are_keyed_hashes_apart_for_names_and_addresses() -> None:
    secret, other = b"k" * 32, b"o" * 32
    as_name = throttle.key("account", "127.0.0.1", secret)
    assert len(as_name) == 64 and "127.0.0.1" not in as_name
    assert as_name != throttle.key("address", "127.0.0.1", secret)
    assert as_name != throttle.key("account", "127.0.0.1", other)
    assert as_name == throttle.key("account", "127.0.0.1", secret)
