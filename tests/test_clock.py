"""Laws of the hybrid logical clock: it never goes backwards, whatever the wall clock does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync import clock as hlc

walls = st.integers(min_value=0, max_value=10**13)


@given(st.lists(walls, min_size=1, max_size=200))
def test_tick_is_strictly_increasing_for_any_wall_clock(readings: list[int]) -> None:
    last = hlc.ZERO
    for now in readings:
        stamp = hlc.tick(last, now, "a1")
        assert stamp > last
        assert str(stamp) > str(last), "the text form must sort like the clock"
        last = stamp


@given(walls, walls, st.integers(0, 50), st.integers(0, 50))
def test_receive_is_later_than_both_clocks(local: int, remote: int, lc: int, rc: int) -> None:
    last = hlc.Stamp(local, lc, "a")
    other = hlc.Stamp(remote, rc, "b")
    stamp = hlc.receive(last, other, now_ms=max(local, remote), node="a")
    assert stamp > last and (stamp.wall_ms, stamp.counter) > (other.wall_ms, other.counter)


def test_receive_refuses_a_clock_far_in_the_future() -> None:
    far = hlc.Stamp(10_000_000 + hlc.DEFAULT_MAX_SKEW_MS + 1, 0, "b")
    with pytest.raises(hlc.ClockSkew):
        hlc.receive(hlc.ZERO, far, now_ms=10_000_000, node="a")


def test_counter_overflow_moves_the_logical_wall_on() -> None:
    last = hlc.Stamp(5, hlc.COUNTER_MAX, "a")
    assert hlc.tick(last, 1, "a") == hlc.Stamp(6, 0, "a")


@given(walls, st.integers(0, hlc.COUNTER_MAX), st.from_regex(r"[0-9a-z]{1,32}", fullmatch=True))
def test_text_form_round_trips(wall: int, counter: int, node: str) -> None:
    stamp = hlc.Stamp(wall, counter, node)
    assert hlc.parse(str(stamp)) == stamp
