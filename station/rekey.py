"""Data-key rotation (issue 25): a new data key, every sealed value sealed again under it in
resumable steps, and nothing left that the old key opens.

A clerk who leaves may remember the data key her passphrase once unwrapped. `start` makes a
new key and, in one transaction, seals it to every remaining clerk's own public key and to
the county's recovery key in place of the old one (station/keys.py: a clerk's slot holds a
key pair, so no other clerk's passphrase is needed), and keeps the old key sealed under the
new one for as long as the work lasts. Then `step` seals again, a few hundred rows per
transaction, every sealed value of the store (record fields and merge states, the change
log and the values its changes saw, conflicts, reveals, attachment chunks, the station's own
keys in its settings) and rebuilds each record's blind-index rows under the new key; the
cursor is saved in the same transaction as the rows, so a crash or a power cut loses nothing
and the next run goes on from there. The last step forgets the old key.

Meanwhile the store reads each value with the key its generation byte names (sync/seal.py)
and a lookup reads both keys' buckets, so the kiosk and the sync go on working throughout.
A value that does not open (altered on disk) cannot be sealed again: it is left as it is and
counted, and stays as unreadable as it was.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from station.writes import Writes, reveal_ad, state_ad, was_ad
from sync import seal
from sync.attachments import chunk_ad
from sync.errors import RekeyError, TamperedError
from sync.seal import Sealer, field_ad

# The tables in the order they are sealed again, and the column their cursor follows.
TABLES: tuple[str, ...] = ("records", "changes", "conflicts", "reveals", "blob_chunks", "settings")
BATCH = 400  # rows per transaction: about 0.1 s of work on the kiosk-class board
OLD_KEY = "rekey_old_key"  # settings: the old data key, sealed under the new one
_OLD_KEY_AD = b"settings|rekey_old_key"


@dataclass(frozen=True)
class State:
    """Where a rekey under way has got to (the `rekey` setting)."""

    from_generation: int
    table: str
    after: str  # the cursor in `table` ('' from its start)
    done: int  # rows of every table sealed again so far
    skipped: int  # values that did not open (altered), left as they were
    started_at: str

    def to_json(self) -> str:
        return json.dumps({"from": self.from_generation, "table": self.table, "after": self.after,
                           "done": self.done, "skipped": self.skipped,
                           "started_at": self.started_at}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> State:
        data = json.loads(text)
        return cls(int(data["from"]), str(data["table"]), str(data["after"]), int(data["done"]),
                   int(data["skipped"]), str(data["started_at"]))


def state_of(setting: str | None) -> State | None:
    return State.from_json(setting) if setting else None


def summary(setting: str | None) -> dict[str, Any] | None:
    """What `station status` says of a rekey under way (None: none is)."""
    state = state_of(setting)
    if state is None:
        return None
    return {"table": state.table, "done": state.done, "started_at": state.started_at}


def generation_of(setting: str | None) -> int:
    return int(setting or 0)


def old_key(sealer: Sealer, sealed: str) -> bytes:
    """The old data key a rekey under way keeps, opened with the new one."""
    return base64.b64decode(sealer.open_value(sealed, _OLD_KEY_AD))


def start(writes: Writes, old: bytes, new: bytes, generation: int, now: str) -> int:
    """Inside the rekey's first transaction: every slot given the new key, the old kept sealed
    under it, the work's cursor at its start. Returns the new key's generation."""
    if writes.txn.setting("rekey"):
        raise RekeyError("上一次更换数据密钥尚未完成：请先继续完成（station rekey --resume）",
                         "a data-key change is still under way: finish it first (station rekey --resume)")
    if generation >= seal.MAX_GENERATION:
        raise RekeyError("数据密钥已更换 255 次，不能再换：请重新建站",
                         "the data key was changed 255 times, the most a store can: make a new store")
    from station.keyring import Keyring

    Keyring(lambda: writes.txn.cursor.connection).give_new_key(new, now)
    newer = Sealer(new, writes.sealer.suite, generation + 1)
    writes.put_settings(
        key_generation=str(generation + 1),
        rekey=State(generation, TABLES[0], "", 0, 0, now).to_json(),
        **{OLD_KEY: newer.seal_value(base64.b64encode(old).decode("ascii"), _OLD_KEY_AD)},
    )
    return generation + 1


def step(writes: Writes, batch: int = BATCH) -> State | None:
    """Seal again up to `batch` rows from where the rekey got to; its state after (None: the
    rekey is complete and the old key forgotten)."""
    state = state_of(writes.txn.setting("rekey"))
    if state is None:
        return None
    table, after, done, skipped = state.table, state.after, state.done, state.skipped
    while True:
        count, last, bad = _RESEAL[table](writes, after, batch)
        done, skipped = done + count, skipped + bad
        if count == batch:
            state = State(state.from_generation, table, last, done, skipped, state.started_at)
            writes.put_settings(rekey=state.to_json())
            return state
        at = TABLES.index(table)
        if at + 1 == len(TABLES):
            writes.put_settings(rekey="", rekey_not_opened=str(skipped), **{OLD_KEY: ""})
            writes.audit("rekey", "", {"rows": done, "not_opened": skipped, "phase": "done"})
            return None
        table, after, batch = TABLES[at + 1], "", batch - count
        if batch <= 0:
            state = State(state.from_generation, table, "", done, skipped, state.started_at)
            writes.put_settings(rekey=state.to_json())
            return state


def total_rows(count: Callable[[str], int]) -> int:
    """How many rows a rekey goes through (for its progress), by `count(table)`."""
    return sum(count(t) for t in TABLES)


# ---------------------------------------------------------------------- one table each
# Each takes (writes, cursor, limit) and returns (rows done, the last row's cursor, values
# that did not open). A row is read, sealed again and written back in the same transaction.


def _reseal(sealer: Sealer, value: str, ad: bytes) -> tuple[str, int]:
    try:
        return sealer.reseal_value(value, ad), 0
    except TamperedError:
        return value, 1


def _reseal_fields(sealer: Sealer, record_id: str, entity: str, sealed: str,
                   bad: int) -> tuple[str, int]:
    """A row's `sealed` column (field -> sealed value) sealed again; and `bad` plus the values
    that did not open."""
    fields: dict[str, str] = {}
    for name, value in json.loads(sealed).items():
        fields[name], failed = _reseal(sealer, value, field_ad(record_id, entity, name))
        bad += failed
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")), bad


def _records(writes: Writes, after: str, limit: int) -> tuple[int, str, int]:
    cursor, sealer = writes.txn.cursor, writes.sealer
    rows = cursor.connection.execute(
        "SELECT id, entity, clear, sealed, state, deleted FROM records WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit)).fetchall()
    bad = 0
    for record_id, entity_name, clear, sealed, state, deleted in rows:
        text, bad = _reseal_fields(sealer, record_id, entity_name, sealed, bad)
        new_state = state
        if state:
            new_state, failed = _reseal(sealer, state, state_ad(record_id))
            bad += failed
        cursor.execute("UPDATE records SET sealed = ?, state = ? WHERE id = ?",
                       (text, new_state, record_id))
        _reindex(writes, record_id, entity_name, clear, sealed, text, bool(deleted))
    return len(rows), rows[-1][0] if rows else after, bad


def _reindex(writes: Writes, record_id: str, entity_name: str, clear: str, old_sealed: str,
             sealed: str, deleted: bool) -> None:
    """The record's blind-index rows again, under the new key: the old key's rows deleted by
    their whole primary key (the index has no other way to a record's rows: deleting by
    record id alone read the whole index for each record, 14 rows a second at seed scale)."""
    entity = writes.schema.entities.get(entity_name)
    if entity is None or not entity.indexed_fields:
        return
    cursor, older = writes.txn.cursor, writes.index.older()
    if older is not None:
        cursor.executemany("DELETE FROM blind_index WHERE field = ? AND bucket = ? AND record_id = ?",
                           writes._rows_to_build(entity, record_id, clear, old_sealed, older))
    if not deleted:
        cursor.executemany("INSERT OR IGNORE INTO blind_index (field, bucket, record_id) VALUES (?, ?, ?)",
                           writes._rows_to_build(entity, record_id, clear, sealed))


def _changes(writes: Writes, after: str, limit: int) -> tuple[int, str, int]:
    cursor, sealer = writes.txn.cursor, writes.sealer
    rows = cursor.connection.execute(
        "SELECT seq, record_id, entity, sealed, hlc, was FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
        (int(after or 0), limit)).fetchall()
    bad = 0
    for seq, record_id, entity_name, sealed, stamp, was in rows:
        text, bad = _reseal_fields(sealer, record_id, entity_name, sealed, bad)
        new_was = was
        if was:
            new_was, failed = _reseal(sealer, was, was_ad(record_id, stamp))
            bad += failed
        cursor.execute("UPDATE changes SET sealed = ?, was = ? WHERE seq = ?", (text, new_was, seq))
    return len(rows), str(rows[-1][0]) if rows else after, bad


def _conflicts(writes: Writes, after: str, limit: int) -> tuple[int, str, int]:
    cursor, sealer = writes.txn.cursor, writes.sealer
    rows = cursor.connection.execute(
        "SELECT id, sealed FROM conflicts WHERE id > ? ORDER BY id LIMIT ?", (after, limit)).fetchall()
    bad = 0
    for cid, sealed in rows:
        new, failed = _reseal(sealer, sealed, cid.encode())
        bad += failed
        cursor.execute("UPDATE conflicts SET sealed = ? WHERE id = ?", (new, cid))
    return len(rows), rows[-1][0] if rows else after, bad


def _reveals(writes: Writes, after: str, limit: int) -> tuple[int, str, int]:
    cursor, sealer = writes.txn.cursor, writes.sealer
    rows = cursor.connection.execute(
        "SELECT seq, at, record_id, field, clerk FROM reveals WHERE seq > ? ORDER BY seq LIMIT ?",
        (int(after or 0), limit)).fetchall()
    bad = 0
    for seq, at, record_id, field, clerk in rows:
        new, failed = _reseal(sealer, clerk, reveal_ad(record_id, field, at))
        bad += failed
        cursor.execute("UPDATE reveals SET clerk = ? WHERE seq = ?", (new, seq))
    return len(rows), str(rows[-1][0]) if rows else after, bad


def _blob_chunks(writes: Writes, after: str, limit: int) -> tuple[int, str, int]:
    cursor, sealer = writes.txn.cursor, writes.sealer
    sha, _, idx = after.partition("/")
    rows = cursor.connection.execute(
        "SELECT sha256, idx, data FROM blob_chunks WHERE (sha256, idx) > (?, ?)"
        " ORDER BY sha256, idx LIMIT ?", (sha, int(idx or -1), limit)).fetchall()
    bad = 0
    for sha256, index, data in rows:
        try:
            new = sealer.reseal_bytes(data, chunk_ad(sha256, index))
        except TamperedError:
            bad += 1
            continue
        cursor.execute("UPDATE blob_chunks SET data = ? WHERE sha256 = ? AND idx = ?",
                       (new, sha256, index))
    return len(rows), f"{rows[-1][0]}/{rows[-1][1]}" if rows else after, bad


def _settings(writes: Writes, after: str, limit: int) -> tuple[int, str, int]:
    """The station's own secrets in its settings: its signing key, and the reply keys of the
    USB parcels it sent (station/sneakernet.py), each sealed."""
    sealer, bad, done = writes.sealer, 0, 0
    key = writes.txn.setting("station_key")
    if key:
        new, bad = _reseal(sealer, key, b"settings|station_key")
        writes.put_settings(station_key=new)
        done += 1
    replies = writes.txn.setting("parcel_reply_keys")
    if replies:
        keys = json.loads(replies)
        for export_id, sealed in keys.items():
            keys[export_id], failed = _reseal(sealer, sealed, b"settings|" + export_id.encode())
            bad += failed
        writes.put_settings(parcel_reply_keys=json.dumps(keys))
        done += 1
    return done, "", bad


_RESEAL: dict[str, Callable[[Writes, str, int], tuple[int, str, int]]] = {
    "records": _records, "changes": _changes, "conflicts": _conflicts, "reveals": _reveals,
    "blob_chunks": _blob_chunks, "settings": _settings,
}

