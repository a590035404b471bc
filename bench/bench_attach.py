"""A 2 MB photo through a bad link, against the bandwidth floor; and records queued behind it
(and written while it travels) reaching the hub before it.

    .venv/bin/python bench/bench_attach.py [--profile 2G] [--photo-mb 2] [--records 100]

The hub runs as `county serve` in its own process; stations talk to it through bench/netem.py.
`alone`: a photo attached to an incident (whose records went up before, on a clean link) is
sent through the profile as the sync daemon sends it — retrying after drops with its backoff —
and timed from the first byte to the hub's acknowledgement of the last chunk. The floor is the
photo's bytes at the profile's bandwidth. `clean` sends the same photo on a clean link, for the
bytes the protocol adds. `behind`: a photo is attached, then N people are added (queued behind
it), and a full sync round starts through the profile; a few seconds in, N more people are
added while the photo is on its way. The hub's own receive times say which arrived first.
Prints JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import random
import shutil
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_link import GRID, new_station  # noqa: E402
from netem import PROFILES, Link, Profile  # noqa: E402
from PIL import Image  # noqa: E402

from station import synthetic, transfer  # noqa: E402
from station.attachments import Attachments  # noqa: E402
from station.cases import Cases  # noqa: E402
from station.daemon import Loop  # noqa: E402
from station.store import Store  # noqa: E402
from station.syncer import SyncResult, client_for, push, sync_once  # noqa: E402
from sync.client import Client  # noqa: E402
from sync.hub import county  # noqa: E402
from tests.hubserver import HubProcess  # noqa: E402


def make_photo(path: Path, target: int, seed: int) -> bytes:
    """A JPEG of camera noise, 1600 px wide (so it is kept as it is), of about `target` bytes:
    noise does not compress, as a real photo's detail hardly does."""
    rng = random.Random(seed)

    def jpeg(height: int) -> bytes:
        image = Image.frombytes("RGB", (1600, height), rng.randbytes(1600 * height * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
        return out.getvalue()

    height = max(1, round(target / (len(jpeg(100)) / 100)))
    data = jpeg(min(1600, height))
    data = jpeg(min(1600, max(1, round(height * target / len(data)))))  # a second, closer guess
    path.write_bytes(data)
    return data


def attach_photo(store: Store, photo: Path) -> dict[str, Any]:
    case = Cases(store, "incident").open({"category": "01", "title": "随手拍：占道经营",
                                          "grid": GRID}, note="现场照片")
    (stored,) = Attachments(store).attach("incident", case, photo, note="东门")
    return stored


def daemon_until_sent(store: Store, round_fn: Any) -> dict[str, Any]:
    """Rounds with the daemon's own backoff until every file and record is at the hub."""
    loop = Loop(store, round_fn, time.sleep)
    failures = 0
    start = time.perf_counter()
    while Attachments(store).to_send() or int(store.status()["pending"]):
        wait = loop.round()
        if Attachments(store).to_send() or int(store.status()["pending"]):
            failures += 1
            time.sleep(wait)
    return {"seconds": time.perf_counter() - start, "failed_rounds": failures}


def send_alone(base: Path, hub: HubProcess, photo: Path, profile: Profile, seed: int) -> dict[str, Any]:
    store = new_station(base, hub, f"alone-{profile.name}", 0)
    stored = attach_photo(store, photo)
    push(store, client_for(store))  # the records first, on the clean link: not timed here
    requests: list[int] = []
    with Link(profile, ("127.0.0.1", hub.port), seed=seed) as link:
        client = Client(f"https://127.0.0.1:{link.port}", store.home / "hub.crt", store.station_id,
                        client_for(store).key)

        def files_round(s: Store) -> SyncResult:
            result = transfer.TransferResult()
            try:
                transfer.send(s, client, transfer.budget_of(s), result=result)
            finally:
                requests.append(result.requests)
            return SyncResult(0, 0, 0, files_sent=result.files_done)

        run = daemon_until_sent(store, files_round)
        stats = link.stats
    store.close()
    size = int(stored["size"])
    floor = size / profile.up_bytes_per_s
    return {**run, "profile": profile.name, "photo_bytes": size,
            "chunks": -(-size // transfer.files.CHUNK_BYTES), "chunk_requests": sum(requests),
            "up_bytes": stats.up, "down_bytes": stats.down, "drops": stats.drops,
            "connections": stats.connections, "floor_seconds": floor,
            "ratio_to_floor": run["seconds"] / floor, "wire_overhead": stats.up / size - 1}


def records_behind(base: Path, hub: HubProcess, photo: Path, profile: Profile, seed: int,
                   records: int) -> dict[str, Any]:
    """The photo first in the queue, N people behind it, N more written while it travels."""
    store = new_station(base, hub, f"behind-{profile.name}", 0)
    push(store, client_for(store))
    stored = attach_photo(store, photo)
    queued = list(synthetic.people(records, [GRID], seed=seed))
    during = list(synthetic.people(records, [GRID], seed=seed + 1))
    store.add_many("person", queued)
    with Link(profile, ("127.0.0.1", hub.port), seed=seed) as link:
        with store.atomic() as writes:
            writes.put_settings(hub_url=f"https://127.0.0.1:{link.port}")
        client = client_for(store)
        started = time.time()

        def write_later() -> None:
            time.sleep(min(3.0, photo.stat().st_size / profile.up_bytes_per_s / 4))
            store.add_many("person", during)

        writer = threading.Thread(target=write_later)
        writer.start()
        run = daemon_until_sent(store, lambda s: sync_once(s, client))
        writer.join()
        if int(store.status()["pending"]):  # written after the photo had gone: one more round
            daemon_until_sent(store, lambda s: sync_once(s, client))
    station = store.station_id
    store.close()
    arrived = _hub_times(hub.home, station, str(stored["sha256"]))
    people = arrived["people"]
    photo_at = arrived["photo"] - started
    return {"profile": profile.name, "records": records, "seconds": run["seconds"],
            "queued_last_at_s": max(people[:records]) - started,
            "written_during_last_at_s": max(people[records:]) - started,
            "written_during_first_at_s": min(people[records:]) - started,
            "photo_done_at_s": photo_at,
            "queued_before_photo": sum(1 for t in people[:records] if t < arrived["photo"]),
            "written_during_before_photo": sum(1 for t in people[records:] if t < arrived["photo"])}


def _hub_times(home: Path, station: str, sha256: str) -> dict[str, Any]:
    """When the hub received each person from `station` (in station order) and the photo whole."""
    hub = county.open_hub(home)

    def epoch(iso: Any) -> float:
        return datetime.fromisoformat(str(iso)).timestamp()

    with hub.storage.transaction() as tx:
        people = [epoch(r[0]) for r in tx.rows(
            "SELECT received_at FROM changes WHERE station = ? AND entity = 'person'"
            " ORDER BY station_seq", (station,))]
        photo = epoch(tx.rows("SELECT completed_at FROM blobs WHERE sha256 = ?", (sha256,))[0][0])
    hub.storage.close()
    return {"people": people, "photo": photo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="2G", choices=sorted(PROFILES))
    parser.add_argument("--photo-mb", type=float, default=2.0)
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "attach")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    county.init(args.out / "county")
    hub = HubProcess(args.out / "county").start()
    # A photo per run, each new to the hub (one it has already is never sent again).
    photos = [args.out / f"photo-{i}.jpg" for i in range(3)]
    for i, photo in enumerate(photos):
        make_photo(photo, int(args.photo_mb * 1024 * 1024), args.seed + i)
    profile = PROFILES[args.profile]
    try:
        figures = {
            "machine": f"{platform.machine()}, {platform.python_implementation()}"
                       f" {platform.python_version()}",
            "chunk_bytes": transfer.files.CHUNK_BYTES, "workers": transfer.WORKERS,
            "clean": send_alone(args.out, hub, photos[0], PROFILES["clean"], args.seed),
            "alone": send_alone(args.out, hub, photos[1], profile, args.seed),
            "behind": records_behind(args.out, hub, photos[2], profile, args.seed, args.records),
        }
    finally:
        hub.stop()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
