"""A station at work, to be killed: the crash loop's victim (tests/torture/test_crash_loop.py).

    python -m tests.torture.worker HOME ACKS SEED

Opens the store at HOME and, until it is killed, adds people a few at a time, edits one of
its own now and then, and pushes and pulls every few writes. After each write returns —
the moment a clerk sees "saved" — its record ids are appended to ACKS and flushed to disk:
the test checks after every kill that each of them is still there. A hub that is down (the
loop kills it too) is only a failed round; the worker goes on writing.
"""

from __future__ import annotations

import os
import random
import sys
import time
from contextlib import suppress
from pathlib import Path

from station import synthetic
from station.store import Store
from station.syncer import client_for, pull, push
from sync.client import Client
from sync.errors import TownshipError

PASSPHRASE = "correct horse battery staple"


def main() -> None:
    home, acks, seed = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    store = Store.open(home)
    store.unlock(PASSPHRASE)
    # A restarted worker draws the same people again: those it registered before its kill
    # are already there, and the register refuses a second one (a kiosk would open it).
    people = (p for p in synthetic.people(10**7, ["440524001001"], seed=seed)
              if store.registered("person", p) is None)
    mine: list[str] = []
    client: Client | None = None
    phase = acks.with_suffix(".phase")  # what it is doing, for the test to count its kills by
    with acks.open("a", encoding="utf-8") as out:
        while True:
            phase.write_text("write")
            ids = store.add_many("person", [next(people) for _ in range(rng.randint(1, 12))])
            out.write("".join(f"{i}\n" for i in ids))
            out.flush()
            os.fsync(out.fileno())
            mine += ids
            time.sleep(rng.uniform(0, 0.05))  # a busy kiosk, not a bulk import
            if rng.random() < 0.3:
                store.update("person", rng.choice(mine), {"phone": f"139{rng.randrange(10**8):08d}"})
            if rng.random() < 0.25:
                # The hub down or the link cut: the next round sends it all again.
                with suppress(TownshipError):
                    client = client or client_for(store)
                    phase.write_text("push")
                    push(store, client)
                    phase.write_text("pull")
                    pull(store, client)


if __name__ == "__main__":
    main()
