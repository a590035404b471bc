"""Record ids: time-ordered UUIDs (RFC 9562 version 7), made on the station.

Ids sort by creation time, so `export` (sorted by id) lists records roughly in the order they
were entered, and B-tree inserts stay at the right edge of the index.
"""

from __future__ import annotations

import os
import uuid


class IdMaker:
    """Makes v7 UUIDs that strictly increase within this process, even within one millisecond."""

    def __init__(self) -> None:
        self._last_ms = -1
        self._seq = 0

    def make(self, now_ms: int) -> str:
        if now_ms > self._last_ms:
            self._last_ms = now_ms
            # Start the 12-bit sequence at a random point in its lower half, so ids made in
            # the same millisecond on two stations do not share a prefix pattern.
            self._seq = int.from_bytes(os.urandom(2), "big") & 0x7FF
        else:
            self._seq += 1
            if self._seq > 0xFFF:  # sequence exhausted: borrow the next millisecond
                self._last_ms += 1
                self._seq = 0
        rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        value = (self._last_ms & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76 | self._seq << 64 | 0b10 << 62 | rand_b
        return str(uuid.UUID(int=value))
