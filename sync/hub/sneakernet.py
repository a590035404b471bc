"""The county's half of sync on a USB stick: a station's changes applied and answered, and a
new station's first sync written as a seed.

`import_changes` checks the parcel as the hub checks a signed request (a station it enrolled,
not revoked, its signature), opens it with the county's X25519 key, applies each push batch
through `Hub.push` (the same receipts and rejections as over the link, the same scope rules),
then writes a return parcel: the results, the bundles the station lacks, and its pull from
the cursor it had, sealed to the key the station made for this export and signed by the
county. Idempotent: a parcel applied twice gets its old receipts, and nothing changes.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from sync import parcel
from sync.crypto_suite import SigningKey
from sync.hub.rules import Hub
from sync.hub.storage.base import StationRow
from sync.protocol import compress, decode_push, encode_page, encode_results, unpack

PULL_PAGE = 2500
MAX_PULLED = 200_000  # changes in one return file; the rest comes with the next one
SEED_DAYS = 30  # a seed not loaded within this is refused: the township has moved on


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
    header = parcel.read_header(path)
    station = _station(hub, header)
    public = hub.suite.verify_key(base64.b64decode(station.public_key))
    recovery = X25519PrivateKey.from_private_bytes((home / "recovery.key").read_bytes())
    opened = parcel.open_file(path, "changes", lambda _h: public, lambda _h: recovery)
    meta = unpack(next(opened.frames))
    # Every batch is read and checked before the first is applied: nothing half-way.
    batches = [decode_push(body) for body in opened.frames]
    for batch in batches:
        if batch.station != station.id or any(c.station != station.id for c in batch.changes):
            raise parcel.ParcelRefused("station", "文件中有别的站点的变更",
                                       "the file holds another station's changes")
    results = [hub.push(station, batch) for batch in batches]
    cursor = int(meta["cursor"])
    pulled = Pulled()
    answer = {"results": len(results), "cursor": cursor, "bundles": hub.bundles(int(meta["schema"]))}
    reply = X25519PublicKey.from_public_bytes(bytes.fromhex(str(opened.header["reply"])))
    folder = out or path.parent
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"return-{station.id[:8]}-{str(opened.header['id'])[:8]}{parcel.SUFFIX}"
    pages = pull_pages(hub, station, cursor, int(meta["schema"]), pulled, MAX_PULLED,
                       outbox=(int(meta["pending"]), int(meta["rejected"])))
    parcel.write_file(target, "return", {"station": station.id, "answers": opened.header["id"],
                                         "created": hub.clock.iso()},
                      [compress(answer), *(encode_results(r) for r in results), *pages], reply,
                      _signing(hub, home))
    flat = [r for batch in results for r in batch]
    return {"station": station.id, "accepted": sum(1 for r in flat if r.receipt),
            "rejected": sum(1 for r in flat if r.rejected), "pulled": pulled.changes,
            "more": pulled.more, "file": str(target)}


@dataclass
class Pulled:
    changes: int = 0
    more: bool = False


def pull_pages(hub: Hub, station: StationRow, cursor: int, schema: int, pulled: Pulled,
               most: int | None = None, **pull: Any) -> Iterator[bytes]:
    """The station's pull from `cursor` as encoded pages, made as the file takes them."""
    while True:
        page = hub.pull(station, cursor, PULL_PAGE, schema, **pull)
        pulled.changes += len(page.changes)
        pulled.more = page.more
        cursor = page.cursor
        yield encode_page(page)
        if not page.more or (most is not None and pulled.changes >= most):
            return


def _signing(hub: Hub, home: Path) -> SigningKey:
    return hub.suite.signing_key((home / "signing.key").read_bytes())


def make_seed(hub: Hub, home: Path, township: str, grids: list[str], out: Path,
              days: int = SEED_DAYS) -> dict[str, Any]:
    """A new station's first sync on a stick: an enrollment code for the scope, and a seed of
    everything a station of that scope may see, sealed to a one-time key given with the code.
    Once enrolled with that code, the station loads the seed and then pulls only what came
    after it."""
    code = hub.add_enrollment(township, grids)
    key = parcel.new_seed_key()
    created = datetime.now(UTC)
    expires = created + timedelta(days=days)
    scope = StationRow("seed", township, tuple(sorted(set(grids))), "", None)
    version = hub.schema.version
    pulled = Pulled()
    meta = {"bundles": hub.bundles(1), "township": township, "grids": list(scope.grids)}
    header = {"township": township, "code": parcel.code_binding(code),
              "created": created.isoformat(timespec="seconds"),
              "expires": expires.isoformat(timespec="seconds")}
    out.parent.mkdir(parents=True, exist_ok=True)
    size = parcel.write_file(out, "seed", header,
                             [compress(meta), *pull_pages(hub, scope, 0, version, pulled, calling=False)],
                             parcel.seed_private(key).public_key(), _signing(hub, home))
    return {"code": code, "seed_key": key, "file": str(out), "changes": pulled.changes, "bytes": size,
            "township": township, "grids": list(scope.grids), "expires": header["expires"]}
