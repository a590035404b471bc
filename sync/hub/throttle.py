"""Login throttling for the county dashboard: when wrong passwords lock an account or an
address, and for how long. Pure: the failures and the time are arguments, and where they are
kept (the hub database, so that every `county serve` worker sees the same) is the caller's.

The rule, per key (an account name as typed, or a client address):
* failures older than MEMORY_MS are forgotten, and a right password forgets the account's;
* once LIMIT of its remembered failures fell within WINDOW_MS, the key is locked until WAIT
  after its latest failure, and stays so: every later failure it is remembered with locks it
  again (else a guesser who waited out the window would get LIMIT quick guesses again);
* WAIT starts at FIRST_WAIT_MS and doubles for every further LIMIT failures remembered, up to
  MAX_WAIT_MS: a few dozen guesses a day for one who waits out every lock.

A name that is no account is throttled exactly as one that is, so a lock tells nothing of
which names exist. Keys are kept as keyed hashes (a password typed into the name box is not
kept in clear).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

MINUTE_MS = 60_000


@dataclass(frozen=True)
class Rule:
    limit: int  # failures within the window that lock
    window_ms: int = 15 * MINUTE_MS
    first_wait_ms: int = 5 * MINUTE_MS
    max_wait_ms: int = 24 * 60 * MINUTE_MS
    memory_ms: int = 24 * 60 * MINUTE_MS


# Five wrong passwords for one account; more for one address, which a county office's
# machines may share behind one NAT (and where a guesser tries many names).
ACCOUNT = Rule(limit=5)
ADDRESS = Rule(limit=10)


def remembered(failures: Sequence[int], now_ms: int, rule: Rule) -> list[int]:
    """The failures (times in ms) the rule still counts at `now_ms`, oldest first."""
    return sorted(t for t in failures if now_ms - rule.memory_ms < t <= now_ms)


def wait_ms(count: int, rule: Rule) -> int:
    """How long a lock lasts when `count` failures are remembered (count >= limit)."""
    doublings = (count - rule.limit) // rule.limit
    return min(rule.first_wait_ms << min(doublings, 40), rule.max_wait_ms)


def locked_until(failures: Sequence[int], now_ms: int, rule: Rule) -> int | None:
    """When the key opens again (ms), or None when it is not locked at `now_ms`."""
    kept = remembered(failures, now_ms, rule)
    burst = any(kept[i + rule.limit - 1] - kept[i] <= rule.window_ms
                for i in range(len(kept) - rule.limit + 1))
    if not burst:
        return None
    until = kept[-1] + wait_ms(len(kept), rule)
    return until if until > now_ms else None


def key(kind: str, value: str, secret: bytes) -> str:
    """What the hub keeps of a throttled name or address: a keyed hash (`kind` is `account`
    or `address`, so the same text counts apart under each)."""
    return hmac.new(secret, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
