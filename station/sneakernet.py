"""Sync on a USB stick, for a station with no usable link (issue 24).

`export_changes` writes the outbox as a parcel (sync.parcel) sealed to the county and signed
by this station; county IT applies it at the hub (`county import-changes`), which answers with
a return parcel sealed to a key made for this export and signed by the county;
`import_return` records its receipts and rejections and applies its pull exactly as a sync
round over the link would (`station.syncer.pull`, through `Replay`, a stand-in for the hub
client that serves the pages from the file).

Nothing here changes the outbox's rules: a change leaves the outbox only with a receipt, so a
lost stick, or a return file never brought back, loses nothing; the next export, or the next
sync over a link, sends it again and the hub answers a resent change with its old receipt.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from station import syncer
from station.store import Store
from sync import parcel
from sync.crypto_suite import SigningKey
from sync.errors import SyncError
from sync.human_time import absolute
from sync.protocol import (
    MAX_CHANGES,
    PullPage,
    PushBatch,
    compress,
    decode_page,
    decode_results,
    encode_push,
    unpack,
)

_REPLY_KEYS = "parcel_reply_keys"  # settings: export id -> its reply key, sealed


def _station_key(store: Store) -> SigningKey:
    settings = store.settings()
    if "hub_url" not in settings or "county_public_key" not in settings:
        raise SyncError("尚未注册到县级平台：请先运行 station enroll",
                        "not enrolled with a hub; run `station enroll` first")
    sealer, _ = store._require_sealer()
    raw = base64.b64decode(sealer.open_value(settings["station_key"], b"settings|station_key"))
    return store.suite.signing_key(raw)


def _outbox(store: Store) -> list[bytes]:
    """Every change waiting for an answer, as the push batches the link would carry."""
    return [encode_push(PushBatch(store.station_id, tuple(changes)))
            for changes in syncer.outbox(store, MAX_CHANGES)]


def export_changes(store: Store, folder: Path) -> dict[str, Any]:
    """Write the outbox to `folder` as one parcel; what it holds, and its path."""
    key = _station_key(store)
    settings = store.settings()
    county = X25519PublicKey.from_public_bytes(bytes.fromhex(settings["county_public_key"]))
    status = store.status()
    batches = _outbox(store)
    reply = X25519PrivateKey.generate()
    export_id = uuid.uuid4().hex
    meta = {"cursor": int(settings.get("pull_cursor", "0")), "schema": store.schema.version,
            "pending": int(status["pending"]), "rejected": int(status["rejected"])}
    header = {"station": store.station_id, "id": export_id, "created": store.clock.iso(),
              "reply": reply.public_key().public_bytes_raw().hex(), "batches": len(batches)}
    sealer, _ = store._require_sealer()
    keys = json.loads(settings.get(_REPLY_KEYS, "{}"))
    keys[export_id] = sealer.seal_value(reply.private_bytes_raw().hex(), b"settings|" + export_id.encode())
    with store.atomic() as writes:  # the key first: a file without it could never be answered
        writes.put_settings(**{_REPLY_KEYS: json.dumps(keys)})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"changes-{store.station_id[:8]}-{export_id[:8]}{parcel.SUFFIX}"
    size = parcel.write_file(path, "changes", header, [compress(meta), *batches], county, key)
    return {"file": str(path), "changes": int(status["pending"]), "batches": len(batches),
            "bytes": size, "id": export_id}


class Replay:
    """What `syncer.pull` and `syncer.update_schema` ask of a hub client, answered from a
    parcel: its bundles, then its pull pages in order from the cursor the station had, each
    decoded only when asked for (a seed holds a whole township)."""

    timeout = (1.0,)

    def __init__(self, bundles: list[dict[str, Any]], pages: Iterator[bytes], start: int) -> None:
        self._bundles, self._pages, self._at = bundles, pages, start
        self.outbox: tuple[int, int] | None = None
        self.bytes_sent = self.bytes_received = 0

    def bundles(self, after: int) -> list[dict[str, Any]]:
        return [b for b in self._bundles if int(b.get("version", 0)) > after]

    def pull(self, cursor: int, limit: int = 0, schema_version: int | None = None,
             own_after: int | None = None) -> PullPage:
        body = next(self._pages, None) if cursor == self._at else None
        if body is None:
            return PullPage((), cursor, False)
        page = decode_page(body)
        self._at = page.cursor
        return page


def apply_pull(store: Store, replay: Replay, report: syncer.Report = syncer._silent) -> int:
    """Bundles, then pages, exactly as a sync round applies them from the link."""
    syncer.update_schema(store, replay)  # type: ignore[arg-type]
    return syncer.pull(store, replay, report=report)  # type: ignore[arg-type]


def import_return(store: Store, path: Path) -> dict[str, Any]:
    """Apply a return parcel: its receipts and rejections, then the county's bundles and pull."""
    settings = store.settings()
    keys = json.loads(settings.get(_REPLY_KEYS, "{}"))
    county = store.suite.verify_key(base64.b64decode(settings["county_signing_key"]))
    header = parcel.read_header(path)
    if header.get("station") != store.station_id:
        raise parcel.ParcelRefused("station", "这份回执文件是给另一个站点的",
                                   f"this return file is for station {header.get('station')}, not this one")
    answered = str(header.get("answers", ""))
    if answered not in keys:
        raise parcel.ParcelRefused("unknown", "这份回执文件所答复的导出不是本站点的，或已导入过",
                                   "this return file answers no export of this station's, or it "
                                   "was imported before")
    sealer, _ = store._require_sealer()
    reply = X25519PrivateKey.from_private_bytes(bytes.fromhex(
        sealer.open_value(keys[answered], b"settings|" + answered.encode())))
    opened = parcel.open_file(path, "return", lambda _h: county, lambda _h: reply)
    meta = unpack(next(opened.frames))
    results = [r for _ in range(int(meta["results"])) for r in decode_results(next(opened.frames))]
    cursor = int(store.settings().get("pull_cursor", "0"))
    if cursor < int(meta["cursor"]):
        raise parcel.ParcelRefused("cursor",
                                   "本站点的数据比这份回执文件所接的还早（是否从备份恢复过？）：请联网同步",
                                   "this station is behind where the return file starts (restored "
                                   "from a backup?): sync over a link")
    syncer._record_answers(store, results)
    pulled = 0
    if cursor == int(meta["cursor"]):  # else it synced over a link since, which pulled already
        pulled = apply_pull(store, Replay(list(meta.get("bundles", [])), opened.frames, cursor))
    del keys[answered]  # answered: the same file again is refused, and its key is gone
    with store.atomic() as writes:
        writes.put_settings(**{_REPLY_KEYS: json.dumps(keys)})
    return {"accepted": sum(1 for r in results if r.receipt),
            "rejected": sum(1 for r in results if r.rejected), "pulled": pulled,
            "pending": int(store.status()["pending"])}


def load_seed(store: Store, path: Path, key_text: str,
              report: syncer.Report = syncer._silent) -> dict[str, Any]:
    """A new station's first sync from a stick (`county seed`): everything its scope may see
    up to when the seed was made; its next sync pulls only what came after."""
    settings = store.settings()
    if "county_signing_key" not in settings:
        raise SyncError("请先用与初始数据一同给出的注册码注册（station enroll），再导入初始数据",
                        "enroll first (station enroll) with the code given with the seed, then load it")
    header = parcel.read_header(path)
    if header.get("kind") != "seed":
        raise parcel.ParcelRefused("kind", "这不是初始数据文件", "this is not a seed file")
    if header.get("code") != settings.get("enroll_code"):
        raise parcel.ParcelRefused("station", "这份初始数据是为另一个注册码制作的，不是本站点的",
                                   "this seed was made for another enrollment code, not this station's")
    expires = str(header.get("expires", ""))
    if store.clock.wall_ms() > _ms(expires):
        shown = absolute(expires)  # Beijing time, as a clerk reads it (the file has UTC)
        raise parcel.ParcelRefused("expired", f"这份初始数据已过期（{shown} 北京时间）：请县级平台重新制作",
                                   f"this seed expired at {shown} Beijing time: ask county IT for a new one")
    if int(settings.get("pull_cursor", "0")) != 0:
        raise parcel.ParcelRefused("loaded", "本站点已从县级平台取得过数据：初始数据只用于首次同步",
                                   "this station has pulled from the county already: a seed is only "
                                   "for a first sync")
    county = store.suite.verify_key(base64.b64decode(settings["county_signing_key"]))
    opened = parcel.open_file(path, "seed", lambda _h: county, lambda _h: parcel.seed_private(key_text))
    meta = unpack(next(opened.frames))
    pulled = apply_pull(store, Replay(list(meta.get("bundles", [])), opened.frames, 0), report)
    return {"pulled": pulled, "cursor": int(store.settings().get("pull_cursor", "0")),
            "schema_version": store.schema.version}


def _ms(iso: str) -> int:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1000)
    except ValueError:
        raise parcel.ParcelRefused("format", "初始数据文件的有效期无法识别",
                                   "the seed's expiry cannot be read") from None
