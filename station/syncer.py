"""The station's half of sync: enrollment, and draining the outbox to the hub.

The outbox is the change log: every change without a receipt or a rejection goes up in
bounded batches, cases and their steps first, then base data, then attachment records, each
tier oldest first (station.priorities); a `round_budget` caps the bytes of one round. A
receipt marks a change as accepted; a rejection keeps the change, with the hub's reason,
for the clerk to see, fix and resend — it never blocks the changes behind it. A batch
interrupted anywhere is simply sent again: the hub answers a resent change with its old
receipt.
"""

from __future__ import annotations

import base64
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from station import audit_log, backup, priorities, transfer
from station.attachments import Attachments
from station.cases import Cases
from station.priorities import RoundBudget, Waiting
from station.schema_updates import apply_bundle, dictionaries
from station.store import Store
from station.writes import Writes, was_ad
from sync import parcel, pinning
from sync.client import Client, fetch_certificate
from sync.crypto_suite import mismatch_words, suite_named
from sync.dictionary import parse_ids
from sync.errors import NotFound, StationRevoked, SyncError, TownshipError, ValidationError
from sync.protocol import (
    MAX_AUDIT,
    MAX_CHANGES,
    BackupReport,
    PullPage,
    PushBatch,
    Result,
    RoundAnswer,
    RoundAsk,
    WireChange,
)
from sync.seal import field_ad

CERT_FILE = "hub.crt"
# Changes per pull page (the hub allows up to 5,000). docs/BENCHMARKS.md has the measurement
# this was chosen by.
PULL_PAGE = 2500
# JSON bytes per push batch (estimated from the outbox row), a quarter of what the hub accepts
# (MAX_BODY_BYTES): a batch of typical changes is limited by their count, one of long texts
# by this.
BATCH_BYTES = 1024 * 1024
# Where a read of the outbox stands: the (tier, seq) of the last change read.
Cursor = tuple[int, int]
START: Cursor = (-1, 0)
_NO_TOP = 2**62


@dataclass(frozen=True)
class Progress:
    """Where a sync is, for a progress bar: the stage, changes done of how many (None while
    unknown: a pull learns its total only at the end), and bytes on the wire so far."""

    stage: str  # "schema", "push", "pull" or "files"
    done: int
    total: int | None
    bytes: int


Report = Callable[[Progress], None]


def _silent(progress: Progress) -> None:
    pass


@dataclass(frozen=True)
class SyncResult:
    pushed: int
    rejected: int
    batches: int
    pulled: int = 0
    files_sent: int = 0  # attachments the hub now has whole (or had already)
    files_fetched: int = 0
    waiting: Waiting | None = None  # what the round's byte budget left for the next one
    bytes: int = 0  # the round's bytes on the wire (bodies, compressed)


def enroll(store: Store, hub_url: str, code: str, fingerprint: str | None = None,
           replacement: bool = False) -> dict[str, Any]:
    """Join a county hub: pin its certificate, register a new signing key, add the recovery
    slot for the county's key. The store must be unlocked (the key is sealed in it).

    `replacement`: this box was restored from the backup of an enrolled station that county
    IT revoked and replaced (`county station replace`): it keeps the station's id, changes
    and numbers, and its new key takes over from the old box's."""
    enrolled = bool(store.settings().get("hub_url"))
    if enrolled and not replacement:
        raise SyncError("此站点已注册到县级平台", "this station is already enrolled")
    if replacement and not enrolled:
        raise ValidationError("replacement", "enrolled", "只有从已注册站点的备份恢复的工作站才能替换它",
                              "only a box restored from an enrolled station's backup can replace it")
    pem = fetch_certificate(hub_url)
    seen = pinning.fingerprint(pem)
    if fingerprint and seen != fingerprint.lower().replace(":", ""):
        raise SyncError("县级平台证书指纹不符，已停止注册",
                        f"the hub's certificate fingerprint is {seen}, not the one given; stopped")
    cert_path = store.home / CERT_FILE
    pinned_before = cert_path.exists()
    cert_path.write_bytes(pem)
    suite = store.suite
    key = suite.generate_signing_key()
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    client = Client(hub_url, cert_path, store.station_id, key)
    client.name = store.settings()["name"]  # the county's pages show the station by it
    try:
        reply = client.enroll(code, public)
        county_suite = suite_named(reply.get("crypto"), "crypto")  # none: a hub before suites
        if county_suite is not suite:  # the hub refuses first; an older one cannot tell
            raise ValidationError("crypto", "suite", *mismatch_words(suite, county_suite))
    except BaseException:
        if not pinned_before:  # refused: the box is left as it was
            cert_path.unlink(missing_ok=True)
        raise
    if reply.get("township") != store.settings()["township"]:
        raise ValidationError("code", "township", "注册码属于另一个乡镇",
                              f"the code is for township {reply.get('township')}, not this station's")
    sealer, _ = store._require_sealer()
    with store.atomic() as writes:
        writes.put_settings(
            hub_url=hub_url, hub_fingerprint=seen, scope_grids=json.dumps(reply.get("grids", [])),
            hub_cert=pem.decode(),  # in the store too, so a restored home gets its pin back
            county_signing_key=str(reply["county_signing_key"]),
            enroll_code=parcel.code_binding(code),  # a first-sync seed made with it loads here
            revoked_at="",  # a replacement takes over a revoked station
            station_key=sealer.seal_value(base64.b64encode(key.private_bytes_raw()).decode(),
                                          b"settings|station_key"))
    store.set_county_key(bytes.fromhex(str(reply["county_recovery_key"])))
    return {"hub": hub_url, "fingerprint": seen, "township": reply["township"],
            "grids": reply.get("grids", [])}


def client_for(store: Store, clock_ms: Callable[[], int] | None = None) -> Client:
    """The hub client of an enrolled store; `clock_ms` signs requests (the machine's clock
    unless a test gives the box a wrong one)."""
    settings = store.settings()
    if "hub_url" not in settings:
        raise SyncError("尚未注册到县级平台：请先运行 station enroll",
                        "not enrolled with a hub; run `station enroll` first")
    sealer, _ = store._require_sealer()
    raw = base64.b64decode(sealer.open_value(settings["station_key"], b"settings|station_key"))
    cert = store.home / CERT_FILE
    if not cert.exists() and settings.get("hub_cert"):  # a home restored from its backup
        cert.write_text(settings["hub_cert"])
    client = Client(settings["hub_url"], cert, store.station_id, store.suite.signing_key(raw),
                    clock_ms)
    client.name = settings["name"]  # told on every push and pull: a rename reaches the county
    client.hold(dictionaries(store))
    if "hub_dictionaries" in settings:  # named by the hub last: a round's first request uses them
        client.hub_dictionaries = parse_ids(settings["hub_dictionaries"], "hub_dictionaries")
    return client


def remember_dictionaries(store: Store, client: Client) -> None:
    """Keep what the hub named of its dictionaries for the next client (each idle round of
    the daemon opens one: KeptConnection), when it changed."""
    named = client.hub_dictionaries
    text = None if named is None else ",".join(map(str, named))
    if text is not None and store.settings().get("hub_dictionaries") != text:
        with store.atomic() as writes:
            writes.put_settings(hub_dictionaries=text)


def pending(store: Store, limit: int, max_bytes: int = BATCH_BYTES,
            after: Cursor = START) -> list[WireChange]:
    """The next changes in push order after `after` not yet accepted or rejected, as they go
    on the wire: at most `limit`, and no more than about `max_bytes` of JSON (always at least
    one), so a run of long texts never makes a batch the hub must refuse whole."""
    return _read(store, limit, max_bytes, after)[0]


def _read(store: Store, limit: int, max_bytes: int, after: Cursor, above: int = 0,
          upto: int = _NO_TOP) -> tuple[list[WireChange], Cursor]:
    """`pending` among the changes numbered in (`above`, `upto`], and the cursor after them."""
    sealer, _ = store._require_sealer()
    out: list[WireChange] = []
    size = 0
    cursor = after
    for row in _waiting_rows(store, after, above, upto, limit):
        tier, seq, record, entity, op, grid, clear, sealed, stamp, base, version, was, seen, scope, by = row
        # Sealed text is base64 of the value plus 29 bytes: an upper bound of its JSON.
        size += len(clear) + len(sealed) + len(was) + len(base) + 200
        if out and size > max_bytes:
            break
        cursor = (tier, seq)
        fields = json.loads(clear)
        for name, value in json.loads(sealed).items():
            fields[name] = sealer.open_value(value, field_ad(record, entity, name))
        out.append(WireChange(store.station_id, seq, record, entity, op, grid, fields, stamp,
                              json.loads(base), version,
                              sealer.open_value(was, was_ad(record, stamp)) if was else {},
                              None if seen is None else json.loads(seen), scope, by))
        if len(out) == limit:
            break
    return out, cursor


def _waiting_rows(store: Store, after: Cursor, above: int, upto: int,
                  limit: int) -> Iterator[tuple[Any, ...]]:
    """Waiting rows after `after` in (tier, seq) order, numbered in (`above`, `upto`]: one
    range of the changes_outbox index per tier, so every batch starts where the last ended
    (SQLite seeks a row-value bound on the index's first column only, and would rescan the
    tier from its start for each batch: docs/BENCHMARKS.md, "Push priorities")."""
    for tier in priorities.TIERS:
        if tier < after[0]:
            continue
        floor = max(above, after[1]) if tier == after[0] else above
        for row in store.conn.execute(
                "SELECT seq, record_id, entity, op, grid, clear, sealed, hlc, base, schema_version,"
                " was, seen, scope, clerk FROM changes INDEXED BY changes_outbox"
                " WHERE receipt IS NULL AND rejected IS NULL AND tier = ? AND seq > ? AND seq <= ?"
                " ORDER BY seq LIMIT ?", (tier, floor, upto, limit)):
            yield (tier, *row)


def outbox(store: Store, limit: int, max_bytes: int = BATCH_BYTES, budget: RoundBudget | None = None,
           after: Cursor = START) -> Iterator[list[WireChange]]:
    """The whole outbox in push order after `after`, batch by batch, each read after the one
    before was handed on (while `budget` allows another). Changes written meanwhile come
    after what was there when the read began, in their own tier order: each pass reads the
    numbers up to the newest at its start, so a record's later change never passes its
    earlier one."""
    above, cursor = 0, after
    while True:
        top = int(store.conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0])
        read = False
        while budget is None or budget.take("push"):
            batch, cursor = _read(store, limit, max_bytes, cursor, above, top)
            if not batch:
                break
            read = True
            yield batch
        else:
            return
        if not read:
            return
        above, cursor = top, START


def push(store: Store, client: Client, limit: int = MAX_CHANGES, report: Report = _silent,
         restamp: bool = True, answered: Iterator[tuple[PushBatch, list[Result]]] | None = None,
         budget: RoundBudget | None = None) -> SyncResult:
    """Send the whole outbox, batch by batch, recording each receipt or rejection.

    Each batch is written on the hub's connection before the answer to the one before it is
    read (sync.pipeline), and read from the outbox while that one is on its way: the link
    is never idle while the hub applies a batch, and the station's work hides behind both.
    Answers are recorded in order; a failure leaves everything not yet answered in the
    outbox, to be sent again. `answered`: the batches and answers as they come (the round's
    first request and the batches behind it: `combined`); by default the outbox's. `budget`:
    no batch is read once the round's bytes reach it (the rest waits for the next round)."""
    pushed = rejected = batches = 0
    total = int(store.status()["pending"])
    for batch, results in _answered(store, client, limit, budget) if answered is None else answered:
        _record_answers(store, results)
        batches += 1
        pushed += sum(1 for r in results if r.receipt)
        rejected += sum(1 for r in results if r.rejected)
        report(Progress("push", pushed + rejected, total, client.bytes_sent + client.bytes_received))
        if len(results) < len(batch.changes):
            raise SyncError("县级平台的回执不完整", "the hub answered only part of a batch")
    done = SyncResult(pushed, rejected, batches)
    return _restamped(store, client, done, limit, report, budget) if restamp else done


def _batches(store: Store, limit: int, budget: RoundBudget | None = None,
             after: Cursor = START) -> Iterator[PushBatch]:
    """The outbox as push batches, each read after the one before was handed on."""
    for batch in outbox(store, limit, budget=budget, after=after):
        yield PushBatch(store.station_id, tuple(batch))


def _answered(store: Store, client: Client, limit: int, budget: RoundBudget | None = None
              ) -> Iterator[tuple[PushBatch, list[Result]]]:
    """Each batch with the hub's answer: pipelined on a real client; otherwise (a test's
    client wired to the hub's rules) the next batch read while one is answered."""
    if isinstance(client, Client):
        yield from client.pushes(_batches(store, limit, budget))
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="push") as sender:
        batches = _batches(store, limit, budget)
        batch = next(batches, None)
        while batch is not None:
            answer = sender.submit(client.push, batch)
            following = next(batches, None)
            yield batch, answer.result()
            batch = following


def _restamped(store: Store, client: Client, done: SyncResult, limit: int, report: Report,
               budget: RoundBudget | None = None) -> SyncResult:
    """After a push: changes refused as stamped in the hub's future, from a time this box's
    clock was fast (the hub has just accepted our signed requests, so it is right now), sent
    again, stamped anew, once."""
    resent = store.resend_ahead_of_hub() if done.rejected else []
    if not resent:
        return done
    again = push(store, client, limit, report, restamp=False, budget=budget)
    return SyncResult(done.pushed + again.pushed, done.rejected - len(resent) + again.rejected,
                      done.batches + again.batches)


def _record_answers(store: Store, results: list[Result]) -> None:
    with store.atomic() as writes:
        for result in results:
            writes.acknowledge(result.seq, result.receipt, result.rejected)
        if results:
            writes.put_settings(last_sync=store.clock.iso(),
                                last_receipt=str(max(r.receipt or 0 for r in results)))


def pull(store: Store, client: Client, limit: int = PULL_PAGE, report: Report = _silent,
         own_after: int | None = None, on_page: Callable[[PullPage], None] | None = None,
         first: PullPage | None = None, ask_again: bool = False,
         budget: RoundBudget | None = None) -> int:
    """Fetch what changed elsewhere in scope; each page and its cursor in one transaction.
    (`own_after`: also this station's own changes after that number; see `recover`.
    `first`: the first page, come with the round's first request: `sync_once`; then
    `ask_again`: ask for the next page even if it was the last, to tell the hub the schema
    version the round's bundles brought the station to. `budget`: no page is asked for once
    the round's bytes reach it.)"""
    pulled = 0
    settings = store.settings()
    cursor = int(settings.get("pull_cursor", "0"))
    grids = set(json.loads(settings.get("scope_grids", "[]")))
    township = settings["township"]
    scope = int(settings.get("scope_version", "0"))

    def in_scope(grid: str | None) -> bool:
        return grid is not None and (grid in grids if grids else grid.startswith(township))

    workflows = {w.event_entity: Cases(store, w.name) for w in store.schema.workflows.values()}
    status = store.status()
    client.outbox = (int(status["pending"]), int(status["rejected"]))
    if isinstance(client, Client) and first is None:  # not a parcel's replay: told nobody
        client.backup = _backup_report(store)
    pages = _prefetched(client, cursor, limit, store.schema.version, own_after, budget) if first is None \
        else _after(first, ask_again,
                    lambda: _prefetched(client, first.cursor, limit, store.schema.version, budget=budget))
    for page in pages:
        if int(page.extra.get("schema_version", 1)) > store.schema.version:
            # Data from a newer schema is never applied before its bundle.
            update_schema(store, client)
            if int(page.extra["schema_version"]) > store.schema.version:
                raise SyncError("县级平台的数据版本比本站新，但未能取得相应的数据包",
                                "the hub's data needs a newer schema than the bundles it sent")
            workflows = {w.event_entity: Cases(store, w.name)
                         for w in store.schema.workflows.values()}
        told = page.extra.get("scope")
        with store.atomic() as writes:
            if isinstance(told, dict) and int(told.get("version", 0)) > scope:
                # County IT changed our grids: from now on we write under the new scope, and
                # records of grids we lost leave (once nothing of theirs waits to be sent).
                scope, grids = int(told["version"]), {str(g) for g in told.get("grids", [])}
                writes.put_settings(scope_version=str(scope), scope_grids=json.dumps(sorted(grids)))
                writes.purge_outside(in_scope)
            elif int(store.settings().get("scope_leftovers", "0")):
                writes.purge_outside(in_scope)
            for entity, case_id in sorted(_apply_pulled(writes, page, in_scope, workflows)):
                workflows[entity].refresh(writes, case_id)  # event entities: step cache, clashes
            # Two stations that registered one person offline: a "same person" conflict.
            writes.same_key(c.record for c in page.changes if c.op != "delete" and (
                (e := store.schema.entities.get(c.entity)) is not None and e.key_field is not None))
            writes.put_settings(pull_cursor=str(page.cursor), last_sync=store.clock.iso())
            if page.changes:  # the newest stamp the county sent us (Writes._restart_clock)
                newest = max(c.hlc for c in page.changes)
                writes.put_settings(pull_newest=max(newest, store.settings().get("pull_newest", "")))
        pulled += len(page.changes)
        if on_page is not None:
            on_page(page)
        report(Progress("pull", pulled, None if page.more else pulled,
                        client.bytes_sent + client.bytes_received))
    return pulled


def recover(store: Store, client: Client, report: Report = _silent) -> int:
    """The first sync of a store restored from its backup, before anything is pushed.

    The backup may be behind what this station sent: the hub then holds changes the store
    lost, under sequence numbers the store will hand out again. So: pull from the restored
    cursor with this station's own changes after the store's last number (they come back
    like anyone else's), learn the highest number the hub has from us, and renumber what
    was written since the restore after it — otherwise the hub would take a new change for
    one it already has and drop it. Changes that were pending in the backup keep their
    numbers: if the hub got them before the crash, it answers with the receipt it gave then."""
    floor = store.settings().get("recover_after") or ""
    if not floor:
        return 0
    hub_last = 0

    def seen(page: PullPage) -> None:
        nonlocal hub_last
        hub_last = max(hub_last, int(page.extra.get("own_last_seq", 0)))

    pulled = pull(store, client, report=report, own_after=int(floor), on_page=seen)
    with store.atomic() as writes:
        writes.renumber_outbox(int(floor), hub_last)
        writes.put_settings(recover_after="")
    return pulled


# Seconds between two looks at where the backup stands for the county (two litestream runs,
# about 0.13 s on the kiosk's hardware): the fleet view flags a backup a day old, so ten
# minutes is fresh enough, and a daemon syncing every minute does not pay it every round.
BACKUP_REPORT_S = 600


def _backup_report(store: Store) -> BackupReport | None:
    """Where the backup stands, at most every BACKUP_REPORT_S; None between two looks."""
    now = store.clock.wall_ms()
    last = int(store.settings().get("backup_reported", "0"))
    if 0 <= now - last < BACKUP_REPORT_S * 1000:
        return None
    found = backup.report(store.home)
    if found is not None:
        with store.atomic() as writes:
            writes.put_settings(backup_reported=str(now))
    return found


def _apply_pulled(writes: Writes, page: PullPage, in_scope: Callable[[str | None], bool],
                  workflows: Mapping[str, Cases]) -> set[tuple[str, str]]:
    """Apply one page in order; the (event entity, case id) pairs whose steps it touched."""
    touched: set[tuple[str, str]] = set()
    run: list[WireChange] = []  # in-scope changes since the last purge, applied in one go
    entered: set[str] = set()
    for change in page.changes:
        if not in_scope(change.grid):
            writes.apply_page(run)
            run = []
            writes.purge(change.record)  # it moved out of our scope: not a delete
            entered.discard(change.record)
            continue
        if change.record in page.entering and change.record not in entered:
            writes.apply_page(run)  # moved in: first its whole state, then the change
            run = []
            writes.apply_entering(change.record, page.entering[change.record])
            entered.add(change.record)
        run.append(change)
        parent = writes.schema.entity(change.entity).parent_field if change.entity in workflows else None
        if parent and change.fields.get(parent):
            touched.add((change.entity, str(change.fields[parent])))
    writes.apply_page(run)
    return touched


def _after(first: PullPage, again: bool, rest: Callable[[], Iterator[PullPage]]) -> Iterator[PullPage]:
    """`first`, then the pages after it when it says there are more or `again` (fetched then)."""
    yield first
    if first.more or again:
        yield from rest()


def _prefetched(client: Client, cursor: int, limit: int, version: int,
                own_after: int | None = None, budget: RoundBudget | None = None) -> Iterator[PullPage]:
    """Pages from `cursor` on, the next one fetched while the caller applies this one.

    The hub's half (reading, opening, compressing) and the station's (merging, sealing) then
    overlap, and a slow link's round trip hides behind the apply. One page ahead at most, so
    memory stays flat; an error in the fetch is raised here, after the pages before it. The
    budget is asked before each fetch: a page fetched ahead and then left unapplied would be
    bytes a metered link paid for nothing."""
    ahead: queue.Queue[PullPage | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def fetch() -> None:
        at = cursor
        while not stop.is_set():
            try:
                page: PullPage | BaseException | None = None
                if budget is None or budget.take("pull"):
                    page = client.pull(at, limit, version, own_after)
            except BaseException as exc:  # handed to the caller, who raises it
                page = exc
            while not stop.is_set():
                try:
                    ahead.put(page, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if page is None or isinstance(page, BaseException) or not page.more:
                return
            at = page.cursor

    fetcher = threading.Thread(target=fetch, name="pull-prefetch", daemon=True)
    fetcher.start()
    try:
        while True:
            got = ahead.get()
            if isinstance(got, BaseException):
                raise got
            if got is None:  # held by the round's budget: the rest comes next round
                return
            yield got
            if not got.more:
                return
    finally:
        stop.set()
        fetcher.join(timeout=max(getattr(client, "timeout", (60.0,))) + 1)


def update_schema(store: Store, client: Client) -> list[int]:
    """Fetch and apply the county's schema bundles after this store's version, in order; the
    versions applied. A bad one stops here with a clear error, and the store stays on the last
    good version, fully working."""
    applied = []
    for item in client.bundles(store.schema.version):
        bundle = apply_bundle(store, str(item["bundle"]).encode("utf-8"), str(item["signature"]))
        applied.append(bundle.version)
    if applied and isinstance(client, Client):  # not a parcel's replay (station/sneakernet.py)
        client.hold(dictionaries(store))  # the new version's, from the next request on
    return applied


def sync_once(store: Store, client: Client | None = None, report: Report = _silent) -> SyncResult:
    """One round: schema bundles first, then push the outbox, then pull. What tests, the
    daemon and the kiosk app call; `report` hears the progress after each batch and page.

    The schema check, the first batch and the first page go in one request when the hub
    takes it (`combined`); a store restored from its backup first recovers, call by call."""
    client = client or client_for(store)
    try:
        return _round(store, client, report)
    except StationRevoked as exc:
        raise heard_revoked(store, client, exc, report) from exc


def heard_revoked(store: Store, client: Client, exc: StationRevoked, report: Report = _silent
                  ) -> StationRevoked:
    """County IT revoked this station: lock the store (the kiosk goes back to its unlock
    screen, the daemon stops). Revoked with --wipe, first push what the link takes (the hub
    still takes pushes from it), then destroy the clerks' keyslots (`Store.wipe_keys`).
    Returns the error to raise, which says what was done."""
    if not exc.wipe or store.wiped:
        store.note(revoked_at=store.clock.iso())
        store.lock()
        return StationRevoked("此站点已被县级平台吊销，已锁定；请联系县级信息中心",
                              "this station has been revoked by the county and is locked;"
                              " contact county IT")
    before = int(store.status()["pending"])
    if store.unlocked:
        with suppress(TownshipError):  # what the link takes before it fails: the rest is in the backup
            push(store, client, report=report)
    sent = before - int(store.status()["pending"])
    store.note(revoked_at=store.clock.iso())
    store.wipe_keys()
    return StationRevoked(f"此站点已被县级平台吊销：已上传 {sent} 条变更，本机口令已按指令销毁",
                          f"this station has been revoked by the county: {sent} changes sent, and"
                          " its keys destroyed as ordered", wipe=True)


def _round(store: Store, client: Client, report: Report) -> SyncResult:
    report(Progress("schema", 0, None, 0))
    budget = round_budget(store, client)
    recovering = bool(store.settings().get("recover_after"))
    first, pulled = (None, None) if recovering or not isinstance(client, Client) \
        else combined(store, client, report, budget)
    if pulled is None:  # call by call: recovering, a test's client, or a hub before rounds
        update_schema(store, client)
        recover(store, client, report)
        pushed = push(store, client, report=report, budget=budget)
        if first is not None:
            pushed = SyncResult(first.pushed + pushed.pushed, first.rejected + pushed.rejected,
                                first.batches + pushed.batches)
        pulled = pull(store, client, report=report, budget=budget)
    else:
        assert first is not None
        pushed = first
    sent, fetched = move_files(store, client, report, budget)
    remember_dictionaries(store, client)
    return SyncResult(pushed.pushed, pushed.rejected, pushed.batches, pulled,
                      sent.files_done + sent.files_known, fetched.files_done,
                      waiting_after(store, budget), budget.used())


def round_budget(store: Store, client: Client) -> RoundBudget:
    """This round's budget from the `round_budget` setting (unset or 0: none), counting the
    client's bytes from now on: a kept client's counters run on from round to round."""
    limit = int(store.settings().get(priorities.SETTING) or 0) or None

    def total() -> int:  # a test's client wired to the hub's rules counts nothing
        return sum(int(getattr(client, name, 0)) for name in ("bytes_sent", "bytes_received", "bytes_ahead"))

    start = total()
    return RoundBudget(limit, lambda: total() - start)


def waiting_after(store: Store, budget: RoundBudget) -> Waiting | None:
    """What the round's budget left for the next round (None: it held nothing back)."""
    if not budget.held:
        return None
    by_tier = dict(store.conn.execute(
        "SELECT tier, count(*) FROM changes INDEXED BY changes_outbox"
        " WHERE receipt IS NULL AND rejected IS NULL GROUP BY tier").fetchall())
    files = "files" in budget.held
    attachments = Attachments(store)
    found = Waiting(by_tier.get(priorities.WORKFLOW, 0), by_tier.get(priorities.BASE, 0),
                    by_tier.get(priorities.ATTACHMENT, 0), "pull" in budget.held,
                    len(attachments.to_send()) if files else 0,
                    len(attachments.to_fetch()) if files else 0)
    return None if found == Waiting() else found


# The newest audit entry the hub said it holds: the next round's request carries those after.
AUDIT_SENT = "audit_sent"


def combined(store: Store, client: Client, report: Report = _silent,
             budget: RoundBudget | None = None) -> tuple[SyncResult, int | None]:
    """A round whose first request carries the schema check, the first push batch and the
    pull cursor, and whose answer brings the bundles, the receipts and the first page: one
    round trip for a round of a few changes each way (docs/PROTOCOL.md). The later batches
    are written behind it, ahead of its answer; later pages follow as `pull` asks for them.
    A pulled count of None: the hub is of a release before it, and what was pushed is all
    that was done (the batches written behind the round went up as plain pushes).

    A failure anywhere leaves what a failure of the separate calls would: receipts not yet
    recorded come again when the batch is resent (the hub answers a resent change with the
    receipt it gave), and the pull cursor moves only with a page applied."""
    if not client.rounds:
        return SyncResult(0, 0, 0), None
    batch, after = _read(store, MAX_CHANGES, BATCH_BYTES, START)
    status = store.status()
    client.outbox = (max(0, int(status["pending"]) - len(batch)), int(status["rejected"]))
    client.backup = _backup_report(store)
    cursor = int(store.settings().get("pull_cursor", "0"))
    budget = budget or priorities.unlimited()
    # The round's first batch and page go in this request, whatever the budget.
    budget.take("push")
    budget.take("pull")
    # Whatever the unlocked role: the trail goes to the county whoever runs the round.
    audit = tuple(audit_log.entries(store.conn, int(store.settings().get(AUDIT_SENT) or 0), MAX_AUDIT))
    ask = RoundAsk(store.schema.version, PushBatch(store.station_id, tuple(batch)) if batch else None,
                   cursor, PULL_PAGE, audit=audit)
    answers: list[RoundAnswer | None] = []

    def took(answer: RoundAnswer | None) -> None:
        answers.append(answer)
        if answer is None:
            return
        if audit and answer.audit_through is not None:  # the hub holds them: not sent again
            store.note(**{AUDIT_SENT: str(min(answer.audit_through, audit[-1].seq))})
        for item in answer.bundles:  # checked and applied in order, as update_schema does
            apply_bundle(store, str(item["bundle"]).encode("utf-8"), str(item["signature"]))
        if answer.bundles:
            client.hold(dictionaries(store))

    later = _batches(store, MAX_CHANGES, budget, after=after) if batch else iter(())
    pushed = push(store, client, report=report, answered=client.pushes(later, ask, took), budget=budget)
    if not answers or answers[0] is None:
        return pushed, None
    # A round that brought bundles asks once more: the hub learns the version the station is
    # on now (the county's schema list counts stations by it) and pages in it.
    return pushed, pull(store, client, report=report, first=answers[0].page,
                        ask_again=bool(answers[0].bundles), budget=budget)


def move_files(store: Store, client: Client, report: Report = _silent, budget: RoundBudget | None = None
               ) -> tuple[transfer.TransferResult, transfer.TransferResult]:
    """After the records: attachments up, then those this station should hold down, within
    the per-sync attachment budget and what the records left of the round's budget (none
    left: the files wait for the next round). Records written meanwhile go up between two
    chunks."""
    budget = budget or priorities.unlimited()
    if not budget.take("files"):
        return transfer.TransferResult(), transfer.TransferResult()
    files = transfer.budget_of(store, budget.left())

    def progress(result: transfer.TransferResult) -> None:
        report(Progress("files", len(result.chunks), None, client.bytes_sent + client.bytes_received))

    sent = transfer.send(store, client, files, between=records_first(store, budget), report=progress)
    fetched = transfer.fetch(store, client, files, report=progress)
    if sent.over_budget or fetched.over_budget:
        budget.held.add("files")
    return sent, fetched


def fetch_now(store: Store, attachment_id: str) -> None:
    """Bring one attachment here from the hub now: a clerk opened it. When it cannot come —
    the hub out of reach, the station not enrolled, the file not whole at the hub yet — it
    is asked for at the next sync, and NotFound says so and why."""
    attachments = Attachments(store)
    if attachments.get(attachment_id)["arrived"]:
        return
    try:
        result = transfer.fetch(store, client_for(store), transfer.Budget(None),
                                only=attachment_id, retries=2)
    except SyncError as exc:
        why_zh, why_en = exc.zh, exc.en
    else:
        if attachments.get(attachment_id)["arrived"]:
            return
        refused = next(iter(result.refused.values()), None)
        why_zh, why_en = (refused.zh, refused.en) if refused else (
            "县级平台还没有收齐这个文件", "the hub does not have the whole file yet")
    attachments.want(attachment_id)
    raise NotFound(f"附件还不在本站，下次同步时取回（{why_zh}）",
                   f"not here yet; it will be fetched at the next sync ({why_en})")


def records_first(store: Store, budget: RoundBudget | None = None) -> transfer.Between:
    """Push records written while a file is on its way, before its next chunk."""
    busy = threading.Lock()

    def between(client: Client) -> None:
        waiting = store.conn.execute("SELECT 1 FROM changes WHERE receipt IS NULL"
                                     " AND rejected IS NULL LIMIT 1").fetchone()
        if waiting and busy.acquire(blocking=False):
            try:
                push(store, client, budget=budget)
            finally:
                busy.release()
    return between


# A kept connection idle longer than this is not trusted: a carrier's NAT may have forgotten
# it without a word, and a request on it would wait for the read timeout (60 s) to find out.
# Rounds soon after a write, and a busy station's rounds, reuse it; an idle box's do not.
MAX_IDLE_S = 25.0


class KeptConnection:
    """`sync_once` for the daemon: one client, and so one open connection, kept from round to
    round while the hub's address and pinned certificate stay the same. A round then costs no
    TCP or TLS handshake (the hub keeps an idle connection longer than the daemon's interval);
    a connection the hub or the link has closed is simply opened again by the next request."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._client: Client | None = None
        self._for: tuple[str | None, str | None] = (None, None)
        self._clock = clock
        self._used = 0.0

    def __call__(self, store: Store, report: Report = _silent) -> SyncResult:
        settings = store.settings()
        hub = (settings.get("hub_url"), settings.get("hub_fingerprint"))
        if self._client is None or hub != self._for or self._clock() - self._used > MAX_IDLE_S:
            if self._client is not None:
                self._client.session.close()
            self._client, self._for = client_for(store), hub
        try:
            return sync_once(store, self._client, report)
        finally:
            self._used = self._clock()
