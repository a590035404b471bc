"""The county's half of sync on a USB stick: apply a station's changes parcel, answer it.

`import_changes` checks the parcel as the hub checks a signed request (a station it enrolled,
not revoked, its signature), opens it with the county's X25519 key, applies each push batch
through `Hub.push` (the same receipts and rejections as over the link, the same scope rules),
then writes a return parcel: the results, the bundles the station lacks, and its pull from
the cursor it had, sealed to the key the station made for this export and signed by the
county. Idempotent: a parcel applied twice gets its old receipts, and nothing changes.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from sync import parcel
from sync.hub.rules import Hub
from sync.hub.storage.base import StationRow
from sync.private import write_private
from sync.protocol import compress, decode_push, encode_page, encode_results, unpack

PULL_PAGE = 2500
MAX_PULLED = 200_000  # changes in one return file; the rest comes with the next one


def _station(hub: Hub, header: dict[str, Any]) -> StationRow:
    with hub.storage.transaction() as tx:
        station = tx.station(str(header.get("station", "")))
    if station is None:
        raise parcel.ParcelRefused("unknown_station", "文件来自未注册的站点",
                                   "the file is from an unknown station")
    if station.revoked_at is not None:
        raise parcel.ParcelRefused("revoked", "文件来自已吊销的站点", "the file is from a revoked station")
    return station


def import_changes(hub: Hub, home: Path, path: Path, out: Path | None = None) -> dict[str, Any]:
    """Apply the changes parcel at `path`; write the return parcel into `out` (by default
    beside it). What was accepted and refused, and the return file's path."""
    data = path.read_bytes()
    header = parcel.read_header(data)
    station = _station(hub, header)
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(station.public_key))
    recovery = X25519PrivateKey.from_private_bytes((home / "recovery.key").read_bytes())
    opened = parcel.open_parcel(data, "changes", lambda _h: public, lambda _h: recovery)
    meta = unpack(opened.frames[0])
    results = []
    for body in opened.frames[1:]:
        batch = decode_push(body)
        if batch.station != station.id or any(c.station != station.id for c in batch.changes):
            raise parcel.ParcelRefused("station", "文件中有别的站点的变更",
                                       "the file holds another station's changes")
        results.append(hub.push(station, batch))
    cursor = int(meta["cursor"])
    pages, at, pulled = [], cursor, 0
    while True:
        page = hub.pull(station, at, PULL_PAGE, int(meta["schema"]),
                        outbox=(int(meta["pending"]), int(meta["rejected"])))
        pages.append(encode_page(page))
        pulled += len(page.changes)
        at = page.cursor
        if not page.more or pulled >= MAX_PULLED:
            break
    answer = {"results": len(results), "cursor": cursor, "bundles": hub.bundles(int(meta["schema"]))}
    reply = X25519PublicKey.from_public_bytes(bytes.fromhex(str(opened.header["reply"])))
    signing = Ed25519PrivateKey.from_private_bytes((home / "signing.key").read_bytes())
    back = parcel.seal("return", {"station": station.id, "answers": opened.header["id"],
                                  "created": hub.clock.iso()},
                       [compress(answer), *(encode_results(r) for r in results), *pages], reply, signing)
    folder = out or path.parent
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"return-{station.id[:8]}-{str(opened.header['id'])[:8]}{parcel.SUFFIX}"
    write_private(target, back)
    flat = [r for batch in results for r in batch]
    return {"station": station.id, "accepted": sum(1 for r in flat if r.receipt),
            "rejected": sum(1 for r in flat if r.rejected), "pulled": pulled, "more": page.more,
            "file": str(target)}
