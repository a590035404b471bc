"""Hybrid logical clocks (HLC), as pure functions of data.

A stamp is (wall milliseconds, counter, node). It never goes backwards: when the wall clock
steps back (a dead RTC battery, an NTP step) the stamp keeps the larger wall time and counts
up. Stamps encode to fixed-width strings whose byte order is the clock order, so SQLite can
compare and index them as text. No function here reads the time: `now_ms` is an argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sync.errors import SyncError

# 15 decimal digits of milliseconds reach the year 33658; 6 of counter allow a million writes
# within one millisecond of a stuck wall clock before the logical wall time is pushed on.
_WALL_DIGITS = 15
_COUNTER_DIGITS = 6
COUNTER_MAX = 10**_COUNTER_DIGITS - 1
_NODE = re.compile(r"[0-9a-z]{1,32}")
_PATTERN = re.compile(rf"^(\d{{{_WALL_DIGITS}}})\.(\d{{{_COUNTER_DIGITS}}})\.([0-9a-z]{{1,32}})$")

# A remote stamp more than this far ahead of our own wall clock is refused: accepting it would
# drag every later local stamp into the future with it.
DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000


class ClockSkew(SyncError):
    """A remote clock is too far ahead of ours to be trusted."""


@dataclass(frozen=True, order=True)
class Stamp:
    wall_ms: int
    counter: int
    node: str

    def __str__(self) -> str:
        return f"{self.wall_ms:0{_WALL_DIGITS}d}.{self.counter:0{_COUNTER_DIGITS}d}.{self.node}"


ZERO = Stamp(0, 0, "0")


def is_node(name: str) -> bool:
    """Whether `name` can be a clock's node (a station id)."""
    return _NODE.fullmatch(name) is not None


def parse(text: str) -> Stamp:
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(f"not a clock stamp: {text!r}")
    return Stamp(int(match[1]), int(match[2]), match[3])


def _advance(wall_ms: int, counter: int, node: str) -> Stamp:
    if counter > COUNTER_MAX:
        return Stamp(wall_ms + 1, 0, node)
    return Stamp(wall_ms, counter, node)


def ahead_of_hub(seconds: int) -> ClockSkew:
    """The hub's refusal of a change stamped too far in its future."""
    return ClockSkew(f"时钟超前 {seconds} 秒，请校正站点时间",
                     f"clock is {seconds} s ahead; fix the station's time")


def is_ahead_of_hub(reason: str) -> bool:
    """Whether a refusal the station holds is `ahead_of_hub`'s."""
    return "s ahead; fix the station's time" in reason


def tick(last: Stamp, now_ms: int, node: str) -> Stamp:
    """The stamp for a local event: later than `last` whatever the wall clock says."""
    if now_ms > last.wall_ms:
        return Stamp(now_ms, 0, node)
    return _advance(last.wall_ms, last.counter + 1, node)


def receive(
    last: Stamp, remote: Stamp, now_ms: int, node: str, max_skew_ms: int = DEFAULT_MAX_SKEW_MS
) -> Stamp:
    """The stamp after seeing `remote`: later than both `last` and `remote`."""
    if remote.wall_ms - now_ms > max_skew_ms:
        ahead = (remote.wall_ms - now_ms) // 1000
        raise ClockSkew(
            f"对方时钟超前本机 {ahead} 秒，已拒绝", f"remote clock is {ahead} s ahead of ours; refused"
        )
    wall = max(last.wall_ms, remote.wall_ms, now_ms)
    if wall == last.wall_ms == remote.wall_ms:
        counter = max(last.counter, remote.counter) + 1
    elif wall == last.wall_ms:
        counter = last.counter + 1
    elif wall == remote.wall_ms:
        counter = remote.counter + 1
    else:
        counter = 0
    return _advance(wall, counter, node)
