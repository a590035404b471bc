"""The county hub's rules, independent of HTTP: enrollment, authentication, push and pull.

`Hub` sits on a `Storage` (SQLite or PostgreSQL) and applies the same pure merge as the
stations (`sync.merge`). Each pushed change is checked on its own — signer, scope, entity,
clock, field values — so a bad one is rejected with its reason while the others go through;
an accepted change gets a receipt (the hub's sequence number) and is stored once however often
it is resent. Personal values are sealed at rest under the hub's own data key: a dump of the
hub's database shows none of them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sync import attachments as files
from sync import clock as hlc
from sync import dictionary as zdict
from sync import merge
from sync.audit_chain import AuditEntry, Break, first_break
from sync.bundle import (
    Bundle,
    Rename,
    check_bundle,
    parse_bundle,
    sign_bundle,
    upcast_fields,
    with_dictionary,
)
from sync.crypto_suite import INTL_SUITE, CryptoSuite, SigningKey, mismatch_words, suite_named
from sync.errors import NotFound, SchemaError, TamperedError, TownshipError, ValidationError
from sync.hub import figures, work_figures
from sync.hub.blob_store import BlobStore
from sync.hub.figures import FIGURES_VERSION, RecordFacts, Roles, blind_key_secret
from sync.hub.merging import COUNTY_NODE
from sync.hub.metrics import SEEN_WITHIN, StationCounts
from sync.hub.storage import StationRow, Storage, StoredChange, Tx
from sync.hub.versions import protocol_of, software_of
from sync.masking import mask_id_number, mask_value
from sync.points import LedgerEntry, ledger
from sync.protocol import (
    Entering,
    PullPage,
    PushBatch,
    Result,
    RoundAnswer,
    RoundAsk,
    WireChange,
    encode_page,
)
from sync.register import same_key_groups
from sync.report import Period, case_summary
from sync.schema import FieldDef, Schema
from sync.seal import Sealer, subkey
from sync.signing import WINDOW_MS, AuthError, read_headers, suite_of, verify
from sync.validate import CHINA_TZ, check_station_name, validate_record
from sync.version import older

ENROLL_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXY346789"  # no look-alikes: read aloud over a phone


# Changes the hub encodes to weigh a first sync's bytes per change: one station pull page
# (station/syncer.py's PULL_PAGE), so the sample compresses as the pages will.
ESTIMATE_SAMPLE = 2500


@dataclass(frozen=True)
class FirstSyncSize:
    """What a pull from a cursor would bring: changes, and bytes on the wire (estimated)."""

    changes: int
    bytes: int


@dataclass(frozen=True)
class HubClock:
    wall_ms: Callable[[], int]

    def iso(self) -> str:
        return _iso(self.wall_ms())

    def today(self) -> date:
        return datetime.fromtimestamp(self.wall_ms() / 1000, CHINA_TZ).date()


def _iso(ms: int) -> str:
    """The hub's form of a time (what it stores as last_seen, received_at …)."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def enrollment_code() -> str:
    """A one-time code: 16 characters in groups of four, about 77 bits."""
    raw = "".join(secrets.choice(ENROLL_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def code_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().upper().encode()).hexdigest()


TAMPERED = "\u26a0 tampered"  # what an audit entry's clerk that does not open reads as


def _audit_ad(station_id: str, seq: int) -> bytes:
    """Associated data of a station audit entry's sealed clerk: bound to its station and seq."""
    return f"audit|{station_id}|{seq}".encode()


# What a station revoked with a wipe may still send: its changes, so that its clerks' work
# reaches the county before the box destroys its keys. Nothing may be pulled to it.
WIPE_TAKES = frozenset({"/v1/push"})


class Hub:
    def __init__(self, storage: Storage, data_key: bytes, schema: Schema, clock: HubClock,
                 suite: CryptoSuite = INTL_SUITE) -> None:
        self.storage = storage
        self.suite = suite  # the county's, chosen at `county init --crypto` (sync/crypto_suite.py)
        self.sealer = Sealer(data_key, suite)
        # Keys the dashboard's login throttle by (sync.hub.throttle.key): a name typed at the
        # login is not kept in a form a copy of the database can read back.
        self.throttle_secret = (subkey if suite is INTL_SUITE else suite.subkey)(
            data_key, "dashboard login throttle")
        self.clock = clock
        self.blobs = BlobStore(storage, self.sealer, clock.iso)
        # Every version's schema: a change is validated by the rules it was captured under,
        # so an old station's change is never refused for being old (docs/SCHEMA.md).
        self.schemas: dict[int, Schema] = {schema.version: schema}
        self.renames: tuple[Rename, ...] = ()
        # The zstd dictionaries the hub holds, by id: the built-in one of version 1 and each
        # published bundle's (sync/dictionary.py); replaced whole, never changed in place.
        self.dictionaries: dict[int, zdict.Dictionary] = zdict.held([zdict.builtin()])
        self._schema_lock = threading.Lock()  # request threads catch up concurrently
        self._figure_secret = blind_key_secret(data_key, suite)
        self._roles: Roles | None = None
        self._since: dict[str, tuple[tuple[int, int], Any]] = {}  # see _unchanged
        with self.storage.transaction() as tx:
            self._catch_up(tx)
            filled = tx.setting("figures") == FIGURES_VERSION
        if not filled:
            self.fill_figures(only_if_missing=True)

    @property
    def schema(self) -> Schema:
        return self.schemas[max(self.schemas)]

    @property
    def roles(self) -> Roles:
        """What each entity is to the work figures, for the current schema."""
        if self._roles is None or self._roles.schema is not self.schema:
            self._roles = Roles(self.schema)
        return self._roles

    def fill_figures(self, only_if_missing: bool = False) -> int:
        """The work figures' facts anew from every record (each opened once), in one push
        transaction; with `only_if_missing`, unless another hub process filled them first.
        Returns the records read (0 when nothing was to do)."""
        with self.storage.transaction(push=True) as tx:
            self._catch_up(tx)
            if only_if_missing and tx.setting("figures") == FIGURES_VERSION:
                return 0
            count = work_figures.fill(tx, self.schema, self.sealer, self._figure_secret)
            tx.put_setting("figures", FIGURES_VERSION)
        return count

    def _catch_up(self, tx: Tx) -> None:
        """Load bundles another hub process published since this one last looked."""
        if tx.bundle_version() == self.schema.version:
            return
        with self._schema_lock:
            for version, _name, body, _sig, _at in tx.bundles(self.schema.version):
                bundle = parse_bundle(body.encode())
                self.schemas[version] = check_bundle(bundle, self.schema)
                self.renames += bundle.renames
                self._hold(bundle)

    def _hold(self, bundle: Bundle) -> None:
        if bundle.dictionary is not None:
            held = zdict.Dictionary(bundle.version, bundle.dictionary)
            self.dictionaries = {**self.dictionaries, held.id: held}

    @property
    def wire_dictionaries(self) -> dict[int, bytes]:
        """The dictionaries' bytes by id, as sync.protocol opens a body framed with one."""
        return {i: d.raw for i, d in self.dictionaries.items()}

    # ------------------------------------------------------------------ schema bundles

    def publish(self, raw: bytes, key: SigningKey) -> Bundle:
        """Check a bundle against the current schema, add the new version's dictionary to it,
        sign it and publish it; a rename moves the field in every record state the hub keeps,
        in the same transaction. Returns the bundle as published."""
        # The dictionary is trained before the push lock is taken (about half a second); the
        # bundle is checked again under it, against the schema as it then is.
        bundle = parse_bundle(raw)
        with self.storage.transaction() as tx:
            self._catch_up(tx)
        bundle = with_dictionary(bundle, check_bundle(bundle, self.schema))
        raw = bundle.raw
        with self.storage.transaction(push=True) as tx:
            self._catch_up(tx)
            new = check_bundle(bundle, self.schema)
            tx.add_bundle(bundle.version, bundle.name, raw.decode("utf-8"), sign_bundle(key, raw),
                          self.clock.iso())
            for rename in bundle.renames:
                rows = [(rid, *row) for rid, row in tx.records_by_id(
                    [r[0] for r in tx.records(rename.entity)]).items()]
                tx.put_records([
                    (rid, entity, grid, self._renamed_state(rid, state, rename), bool(deleted), newest)
                    for rid, entity, grid, state, deleted, newest in rows])
            # A bundle may add steps, deadlines or roles, or rename a field a fact reads:
            # the facts follow it in the same transaction (a rare act: every record opened).
            work_figures.fill(tx, new, self.sealer, self._figure_secret)
        with self._schema_lock:
            self.schemas[bundle.version] = new
            self.renames += bundle.renames
            self._hold(bundle)
        return bundle

    def _renamed_state(self, record_id: str, sealed: str, rename: Rename) -> str:
        raw = self.sealer.open_value(sealed, record_id.encode())
        if rename.old in raw:
            raw[rename.new] = raw.pop(rename.old)
        return self.sealer.seal_value(raw, record_id.encode())

    def bundles(self, after: int) -> list[dict[str, Any]]:
        """The signed bundles after version `after`, oldest first, as stations fetch them."""
        with self.storage.transaction() as tx:
            return [{"version": v, "name": n, "bundle": b, "signature": s, "published_at": p}
                    for v, n, b, s, p in tx.bundles(after)]

    def schema_versions(self) -> list[dict[str, Any]]:
        """Each version, when it was published, and how many stations run it."""
        with self.storage.transaction() as tx:
            published = [(1, "schema.sql", None)] + [(v, n, p) for v, n, _b, _s, p in tx.bundles(0)]
            running = tx.station_versions()
        return [{"version": v, "name": n, "published_at": p, "stations": running.get(v, 0)}
                for v, n, p in published] + (
            [{"version": None, "name": "not reported yet", "published_at": None,
              "stations": running[None]}] if running.get(None) else [])

    # ------------------------------------------------------------------ enrollment

    def set_grids(self, station_id: str, grids: list[str]) -> StationRow:
        """County IT changes an enrolled station's grids (each within its township). Its next
        pull says so; what it wrote before it received that is judged by its old grids."""
        with self.storage.transaction(push=True) as tx:
            station = tx.station(station_id)
            if station is None:
                raise NotFound(f"没有站点 {station_id}", f"no station {station_id}")
            for grid in grids:
                if not (len(grid) == 12 and grid.isdigit() and grid.startswith(station.township)):
                    raise ValidationError(
                        "grid", "grid_code", f"网格代码 {grid} 应为本乡镇（{station.township}）的 12 位代码",
                        f"grid {grid} must be a 12-digit code in township {station.township}")
            tx.set_grids(station, sorted(set(grids)))
            changed = tx.station(station_id)
        assert changed is not None
        return changed

    def add_enrollment(self, township: str, grids: list[str]) -> str:
        code = enrollment_code()
        with self.storage.transaction() as tx:
            tx.add_enrollment(code_hash(code), township, grids, self.clock.iso())
        return code

    def enroll(self, code: str, station_id: str, public_key_b64: str,
               name: str | None = None, crypto: str | None = None) -> StationRow:
        """A station joins with a one-time code; `name`, the one its clerks gave it, is what
        the county's pages show it by (None from a release that does not send it). `crypto`:
        the station's suite (None from a release before suites: intl); one that is not the
        county's is refused before the code is spent."""
        theirs = suite_named(crypto, "crypto")
        if theirs is not self.suite:
            zh, en = mismatch_words(theirs, self.suite)
            raise AuthError("wrong_suite", zh, en)
        if name is not None:
            check_station_name(name)
        if not hlc.is_node(station_id):  # it names the station in every clock it stamps
            raise ValidationError("station_id", "node", "站点编号应为 1–32 个小写字母或数字",
                                  "the station id must be 1-32 lower-case letters or digits")
        if station_id == COUNTY_NODE:  # the node of county IT's own writes (sync.hub.merging)
            raise ValidationError("station_id", "reserved", f"站点编号 {COUNTY_NODE} 为县级平台保留",
                                  f"the station id {COUNTY_NODE} is the county's own")
        try:
            self.suite.verify_key(base64.b64decode(public_key_b64, validate=True))
        except ValueError:
            kind = self.suite.signature_name
            raise ValidationError("public_key", kind.lower(), "站点公钥无效",
                                  f"the station public key is not an {kind} key") from None
        with self.storage.transaction() as tx:
            known = tx.station(station_id)
            scope = tx.take_enrollment(code_hash(code), station_id)
            if scope is None:
                raise AuthError("bad_code", "注册码无效或已使用", "enrollment code unknown or already used")
            township, grids, replaces = scope
            if replaces is not None:  # a box restored from the backup of station `replaces`
                if known is None or replaces != station_id:
                    raise AuthError("not_replacement", "此注册码用于替换另一站点",
                                    "this code replaces another station")
                tx.rekey_station(station_id, public_key_b64, name)
                return replace(known, public_key=public_key_b64, revoked_at=None, wipe=False,
                               name=name or known.name)
            if known is not None:
                raise AuthError("enrolled", "此站点已注册", "this station is already enrolled")
            station = StationRow(station_id, township, grids, public_key_b64, None, name=name)
            tx.add_station(station, self.clock.iso())
        return station

    def revoke(self, station_id: str, wipe: bool = False) -> bool:
        """Refuse the station from its next request on; with `wipe`, its box is told to push
        what it can and then destroy its keyslots (docs/SECURITY.md)."""
        with self.storage.transaction() as tx:
            return tx.revoke(station_id, self.clock.iso(), wipe)

    def add_replacement(self, station_id: str) -> str:
        """A one-time code for the box that replaces `station_id`, restored from its backup:
        enrolled with it, that box's new key takes over the station (its id, its changes and
        their numbers), and the old box's key is refused. The station is revoked first if it
        was not, since two boxes must never sign as one."""
        code = enrollment_code()
        with self.storage.transaction() as tx:
            station = tx.station(station_id)
            if station is None:
                raise ValidationError("station", "exists", "没有这个站点", "no such station")
            if station.revoked_at is None:
                tx.revoke(station_id, self.clock.iso())
            tx.add_replacement(code_hash(code), station, self.clock.iso())
        return code

    def stations(self, older_than: tuple[int, ...] | None = None) -> list[dict[str, Any]]:
        """Every station as the dashboard lists it, with the protocol and software versions of
        its latest signed request; with `older_than`, only the stations not revoked whose
        last request came from a release before that one, or from one that names none (0.1.x,
        protocol 1: `sync.version.older`). A station that never synced is not among them:
        nothing is known of what it runs."""
        with self.storage.transaction() as tx:
            rows = tx.stations()
        if older_than is None:
            return rows
        return [r for r in rows if r["revoked_at"] is None and r["protocol_version"] is not None
                and older(r["software_version"], older_than)]

    def station_counts(self) -> StationCounts:
        """Stations enrolled (not revoked), and how many were seen within each of the
        metrics' windows."""
        now = self.clock.wall_ms()
        with self.storage.transaction() as tx:
            enrolled = sum(tx.station_versions().values())
            seen = {label: tx.stations_seen(_iso(now - seconds * 1000))
                    for label, seconds in SEEN_WITHIN.items()}
        return StationCounts(enrolled, seen)

    # ------------------------------------------------------------------ authentication

    def authenticate(self, headers: dict[str, str], method: str, path: str, body: bytes) -> StationRow:
        """The signing station, or AuthError: unknown, revoked, forged, expired or replayed
        (or ProtocolRefused: a protocol this hub does not speak). Records the versions a
        station's request names (signed, so they are its word)."""
        protocol, software = protocol_of(headers), software_of(headers)
        claimed = read_headers(headers).station
        try:
            return self._authenticated(claimed, headers, method, path, body, protocol, software)
        except AuthError as exc:
            if exc.reason == "expired":  # after its transaction, which the refusal rolled back
                self._note_wrong_clock(claimed, headers, method, path, body)
            raise

    def _authenticated(self, claimed: str, headers: dict[str, str], method: str, path: str,
                       body: bytes, protocol: int, software: str | None) -> StationRow:
        with self.storage.transaction() as tx:
            station = tx.station(claimed)
            if station is None:
                raise AuthError("unknown_station", "未注册的站点", "unknown station")
            if station.revoked_at is not None and not (station.wipe and path in WIPE_TAKES):
                if station.wipe:  # the box pushes what it can (WIPE_TAKES), then destroys its keys
                    raise AuthError("revoked_wipe", "此站点已被吊销，须销毁本机密钥",
                                    "this station has been revoked; its keys must be destroyed")
                raise AuthError("revoked", "此站点已被吊销", "this station has been revoked")
            now = self.clock.wall_ms()
            named = suite_of(headers)
            if named is not self.suite:  # by name: not a bad signature, a station of the other kind
                zh, en = mismatch_words(self.suite, named, "request")
                raise AuthError("wrong_suite", zh, en)
            public = self.suite.verify_key(base64.b64decode(station.public_key))
            signed = verify(public, headers, method, path, body, now)
            if not tx.remember_nonce(station.id, signed.nonce, signed.time_ms, now - 2 * WINDOW_MS):
                raise AuthError("replayed", "重复的请求（已处理过）", "replayed request (nonce seen before)")
            if (station.protocol_version, station.software_version) != (protocol, software):
                tx.note_versions(station.id, protocol, software)
                station = replace(station, protocol_version=protocol, software_version=software)
        return replace(station, offset_ms=signed.time_ms - now)

    def _note_wrong_clock(self, claimed: str, headers: dict[str, str], method: str, path: str,
                          body: bytes) -> None:
        """A request refused as expired still says how far off its station's clock is, which
        is what county IT needs to see of it, once the signature shows the station sent it
        (anyone could send a wrong time under its id). Nothing else of the request is kept."""
        with self.storage.transaction() as tx:
            station = tx.station(claimed)
            if station is None:
                return
            now = self.clock.wall_ms()
            try:
                public = self.suite.verify_key(base64.b64decode(station.public_key))
                signed = verify(public, headers, method, path, body, now, window_ms=2**62)
            except (AuthError, ValueError):
                return
            tx.note_clock(station.id, signed.time_ms - now, self.clock.iso())

    # ------------------------------------------------------------------ push

    def push(self, station: StationRow, batch: PushBatch) -> list[Result]:
        """Apply a batch: every change checked on its own, the accepted ones stored in order.

        Two phases. What depends only on the change (validation by the schema's rules, the
        field versions, sealing the change) is done first, outside the push lock, so hub
        workers do it in parallel. Then, under the lock, one read of the receipts and one of
        the records the batch touches, the merges, and one write of each: the lock numbers
        changes in commit order (storage), and everything held under it is the hub's
        throughput limit (docs/BENCHMARKS.md)."""
        with self.storage.transaction() as tx:
            self._catch_up(tx)
            if batch.name is not None and batch.name != station.name:
                tx.note_name(station.id, batch.name)  # renamed on the station since
        renames = len(self.renames)
        prepared = [self._prepare(station, change) for change in batch.changes]
        with self.storage.transaction(push=True) as tx:
            self._catch_up(tx)
            if len(self.renames) != renames:  # a rename was published meanwhile: names moved
                prepared = [self._prepare(station, change) for change in batch.changes]
            known = tx.receipts_of(station.id, [c.seq for c in batch.changes])
            stored = tx.records_by_id(sorted({c.record for c in batch.changes}))
            work = _PushWork(stored)
            results: list[Result | WireChange] = []
            for change, ready in zip(batch.changes, prepared, strict=True):
                if change.seq in known or change.seq in work.accepted:
                    results.append(change)  # a resend: the same receipt, nothing new
                    continue
                try:
                    results.append(self._accept(station, change, ready, work))
                except TownshipError as exc:
                    results.append(Result(change.seq, rejected=str(exc)))
            seqs = tx.insert_changes(work.changes, self.clock.iso())
            tx.put_records([(rid, *row) for rid, row in work.records.items()])
            work_figures.keep(tx, self.schema, list(work.facts.values()))
            refused = sum(1 for r in results if isinstance(r, Result) and r.rejected is not None)
            tx.after_own_push(station.id, len(seqs) + refused, refused, min(seqs, default=None),
                              max(seqs, default=None))
        known.update(zip([c.station_seq for c, _ in work.changes], seqs, strict=True))
        return [Result(r.seq, receipt=known[r.seq]) if isinstance(r, WireChange) else r
                for r in results]

    def _prepare(self, station: StationRow, change: WireChange) -> _Prepared | TownshipError:
        """The checks and work that need nothing stored: the change refused, or ready to apply."""
        try:
            self._check_change(station, change)
        except TownshipError as exc:
            return exc
        change = self._upcast(change)
        ad = _change_ad(station.id, change)
        return _Prepared(
            merge.change_versions(change.op, change.fields, change.hlc, change.base, change.was,
                                  None if change.seen is None else merge.context(change.seen),
                                  change.by or ""),
            self.sealer.seal_value(change.fields, ad),
            self.sealer.seal_value(change.was, ad + b"|was") if change.was else "",
            self.sealer.seal_value(change.by, ad + b"|by") if change.by else "", change)

    def _accept(self, station: StationRow, change: WireChange, ready: _Prepared | TownshipError,
                work: _PushWork) -> WireChange:
        """Check one change against the record as stored and queue it and its record's new
        state; the change is returned for its receipt, known once the batch is stored."""
        if isinstance(ready, AuthError):  # whose change and where: refused before anything else
            raise ready
        before = work.current(change.record)
        stored = self._state_from(change.record, before)
        if isinstance(ready, TownshipError):
            self._check_against(station, change, before, stored, [])
            raise ready
        self._check_against(station, change, before, stored, ready.versions)
        if before is None:  # the common case of a first push: nothing to merge with
            state = {name: merge.FieldState((v,)) for name, v in ready.versions}
        else:
            state = merge.apply_all(stored, ready.versions)
        up = ready.upcast
        row, raw = self._record_row(up, state)
        roles = self.roles
        work.facts[change.record] = roles.facts(
            change.record, up.entity, row[1], raw if roles.needs_values(up.entity) else None, row[3],
            0 if before is None else len(merge.conflicts(state)), self._figure_secret)
        # Stored under the record's grid as merged (an edit concurrent with a move out of the
        # author's grid follows the record), so pulls reach the stations that hold it now.
        work.changes.append((StoredChange(
            0, station.id, up.seq, up.record, up.entity, up.op, row[1], ready.sealed_fields,
            up.hlc, _dumps_sorted(up.base), up.schema_version, ready.sealed_was,
            seen=None if up.seen is None else _dumps_sorted(up.seen),
            author=ready.sealed_by),
            before[1] if before else None))
        work.accepted.add(change.seq)
        work.records[change.record] = row
        return change

    def _check_change(self, station: StationRow, change: WireChange) -> None:
        if change.station != station.id:
            raise AuthError("not_yours", "只能提交本站的变更", "a station may only push its own changes")
        if not station.in_scope_when(change.grid, change.scope):
            raise AuthError("out_of_scope", f"网格 {change.grid} 不在本站范围内",
                            f"grid {change.grid} is outside this station's scope")
        stamp = hlc.parse(change.hlc)
        ahead = stamp.wall_ms - self.clock.wall_ms()
        if ahead > hlc.DEFAULT_MAX_SKEW_MS:
            raise hlc.ahead_of_hub(ahead // 1000)
        schema = self.schemas.get(change.schema_version)
        if schema is None:
            raise SchemaError(f"数据版本 {change.schema_version} 比县级平台的还新",
                              f"schema version {change.schema_version} is newer than the hub's")
        entity = schema.entity(change.entity)
        if change.op in ("add", "update"):
            validate_record(entity, change.fields, schema, today=self.clock.today(),
                            partial=change.op == "update")
        if change.entity == files.ENTITY and change.op == "add":
            files.check_record(schema, change.fields)

    @staticmethod
    def _check_against(station: StationRow, change: WireChange, before: tuple[Any, ...] | None,
                       stored: dict[str, merge.FieldState],
                       versions: list[tuple[str, merge.Version]]) -> None:
        if before is None and change.op != "add":
            # Its add was refused (or never sent): an edit alone would make half a record.
            raise ValidationError("record", "unknown_record",
                                  "县级平台还没有这条记录：请先重发它被拒绝的新增",
                                  "the county has no such record yet: resend its refused add first")
        if before is not None and not station.in_scope_when(before[1], change.scope) and not _moved_unseen(
                station, change, stored, versions):
            raise AuthError("out_of_scope", "该记录不在本站范围内",
                            "that record is outside this station's scope")

    def _upcast(self, change: WireChange) -> WireChange:
        """A change in the current schema's names (a field renamed since it was captured)."""
        if change.schema_version == self.schema.version:
            return change
        def up(values: dict[str, Any]) -> dict[str, Any]:
            return upcast_fields(change.entity, values, change.schema_version, self.renames)
        return replace(change, fields=up(change.fields), base=up(change.base), was=up(change.was),
                       schema_version=self.schema.version)

    def _state_from(self, record_id: str,
                    found: tuple[Any, ...] | None) -> dict[str, merge.FieldState]:
        if found is None:
            return {}
        raw = self.sealer.open_value(found[2], record_id.encode())
        return merge.state_from_stored(raw)

    def _record_row(self, change: WireChange, state: dict[str, merge.FieldState]
                    ) -> tuple[tuple[str, str | None, str, bool, str], merge.StoredState]:
        """The record's row as stored, and its state in stored form (its facts read it)."""
        raw = merge.state_to_stored(state)
        newest = max(v.clock for s in state.values() for v in s.versions)
        grid = _text_of(state["grid"].winner.value) if "grid" in state else change.grid
        return (change.entity, grid, self.sealer.seal_value(raw, change.record.encode()),
                merge.is_deleted(state), newest), raw

    # ------------------------------------------------------------------ attachments

    def attachment_chunk(self, station: StationRow, record_id: str, idx: int) -> bytes:
        """A chunk of the file an attachment record in the station's scope describes: a
        station fetches only files of records it may see, and only by their record."""
        with self.storage.transaction() as tx:
            found = tx.records_by_id([record_id]).get(record_id)
        if found is None or found[0] != files.ENTITY or found[3]:
            raise NotFound(f"县级平台没有附件记录 {record_id}", f"the hub has no attachment {record_id}")
        if not station.in_scope(found[1]):
            raise AuthError("out_of_scope", "该附件不在本站范围内",
                            "that attachment is outside this station's scope")
        values = _current(self.sealer.open_value(found[2], record_id.encode()))
        return self.blobs.chunk(str(values["sha256"]), idx)

    # ------------------------------------------------------------------ pull and export

    def pull(self, station: StationRow, cursor: int, limit: int = 1000,
             station_version: int | None = None, own_after: int | None = None,
             outbox: tuple[int | None, int | None] = (None, None), name: str | None = None,
             backup: tuple[int | None, int | None] = (None, None), *, calling: bool = True
             ) -> PullPage:
        """Changes after `cursor` in the station's scope, in the current schema's names; the
        page says which version that is, so a station behind fetches the bundles first.

        `own_after`: a station restored from a backup also gets back its own changes after
        that sequence number, and learns the highest it ever sent (`own_last_seq`), so its
        next changes are numbered after it. `calling=False`: a page made for a file (a
        first-sync seed), not asked for by the station: nothing is noted of it.

        What the station says of itself for the fleet view is kept: its outbox, its `name`
        and its `backup` (when its replica last received a transaction, how many it lacks),
        each None when not said; and how far its clock was from the hub's."""
        if name is not None:
            check_station_name(name)
        with self.storage.transaction() as tx:
            self._catch_up(tx)
            if calling:
                tx.seen(station.id, station_version, self.clock.iso())
                if name is not None and name != station.name:
                    tx.note_name(station.id, name)
                if station.offset_ms is not None:
                    tx.note_clock(station.id, station.offset_ms, self.clock.iso())
            # The newest number is read before the page: on PostgreSQL each statement sees
            # what has committed when it starts, so a push committing between the two would
            # otherwise move an empty page's cursor past changes the page never saw.
            last = tx.last_seq()
            stored = tx.changes_since(cursor, station, limit, own_after)
            own_last = tx.own_last_seq(station.id) if own_after is not None else None
            # The last page (and an empty one) moves the cursor to the newest change read
            # before it, past other stations' out-of-scope changes and the station's own:
            # every change up to `last` had committed, so the page holds each in scope. A
            # full page stops at its last change, where the next one begins.
            full = len(stored) == limit
            next_cursor = stored[-1].hub_seq if full else max(cursor, last, *(c.hub_seq for c in stored[-1:]))
            if calling:
                tx.report_outbox(station.id, *outbox, next_cursor, self.clock.iso(), backup)
            # A record moved into the scope: the station gets its whole state, not only the
            # fields the moving change wrote.
            moved_in = sorted({c.record for c in stored if c.prev_grid is not None
                               and not station.in_scope(c.prev_grid) and station.in_scope(c.grid)})
            states = tx.records_by_id(moved_in)
        changes = tuple(self._upcast(self._wire(c)) for c in stored)
        entering = {rid: Entering(row[0], row[1], self.sealer.open_value(row[2], rid.encode()))
                    for rid, row in states.items()}
        extra: dict[str, Any] = {"schema_version": self.schema.version,
                                 "scope": {"version": station.scope_version, "grids": list(station.grids)}}
        if own_last is not None:
            extra["own_last_seq"] = own_last
        return PullPage(changes, next_cursor, full, extra=extra, entering=entering)

    def sync_round(self, station: StationRow, ask: RoundAsk) -> RoundAnswer:
        """A round's first request (POST /v1/sync): the bundles after the station's version,
        its batch applied as a push is, then the first page from its cursor, made after the
        push, each in the same transactions as the separate calls, so a failure between them
        leaves what a failure between those calls would (the station resends the batch; the
        receipts it gets are the ones given before)."""
        bundles = self.bundles(ask.schema_version)
        results = self.push(station, ask.batch) if ask.batch is not None else []
        backup = (None, None) if ask.backup is None else (ask.backup.replicated_ms, ask.backup.behind)
        # The station counted its refused changes before this batch was answered; those the
        # batch had refused now join them, as its next report will say (the fleet view).
        pending, rejected = ask.outbox
        if rejected is not None:
            rejected += sum(1 for r in results if r.rejected is not None)
        page = self.pull(station, ask.cursor, ask.limit, ask.schema_version, None,
                         (pending, rejected), ask.name, backup)
        through = self.take_audit(station, ask.audit) if ask.audit else None
        return RoundAnswer(bundles, results, page, through)

    def take_audit(self, station: StationRow, entries: Sequence[AuditEntry]) -> int:
        """Keep a station's audit entries as it sent them (checked by `audit_check`, not
        here: an entry the box's file lost or altered must show at the hub too, not be kept
        out of sight); the newest seq the hub now holds of it."""
        # The clerk's name is sealed at rest, as the hub seals a change's author: it names a
        # person. The chain covers the name itself, so the check opens it first.
        sealed = [replace(e, clerk=self.sealer.seal_value(e.clerk, _audit_ad(station.id, e.seq)))
                  for e in entries]
        with self.storage.transaction() as tx:
            return tx.add_station_audit(station.id, sealed, self.clock.iso())

    def audit_trail(self, station_id: str, limit: int | None = None) -> list[AuditEntry]:
        """A station's entries as the hub holds them, the clerks' names opened. A name that
        does not open (altered in the database) is shown as TAMPERED, and the entry then
        fails the chain's check at its own hash."""
        with self.storage.transaction() as tx:
            held = tx.station_audit(station_id, limit)
        return [replace(e, clerk=self._audit_clerk(station_id, e)) for e in held]

    def _audit_clerk(self, station_id: str, entry: AuditEntry) -> str:
        try:
            return str(self.sealer.open_value(entry.clerk, _audit_ad(station_id, entry.seq)))
        except (TamperedError, ValueError):
            return TAMPERED

    def audit_check(self, station_id: str) -> tuple[int, Break | None]:
        """(entries held, the first link that does not hold or None) of a station's trail."""
        held = self.audit_trail(station_id)
        return len(held), first_break(held, suite=self.suite)

    def estimate(self, station: StationRow, cursor: int, sample: int = ESTIMATE_SAMPLE) -> FirstSyncSize:
        """What a pull from `cursor` would bring: the changes counted, and their bytes on the
        wire from the first `sample` of them encoded and compressed as a page is (so it
        follows the schema, the data and the compression as they are, not a constant).
        Nothing is noted of the station: it has not pulled anything."""
        with self.storage.transaction() as tx:
            count = tx.count_since(cursor, station)
        if not count:
            return FirstSyncSize(0, 0)
        page = self.pull(station, cursor, min(sample, count), calling=False)
        each = len(encode_page(page)) / max(1, len(page.changes))
        return FirstSyncSize(count, round(each * count))

    def _wire(self, c: StoredChange) -> WireChange:
        ad = _change_ad(c.station, WireChange(c.station, c.station_seq, c.record, c.entity, c.op,
                                              c.grid, {}, c.hlc, {}, c.schema_version))
        return WireChange(c.station, c.station_seq, c.record, c.entity, c.op, c.grid,
                          self.sealer.open_value(c.fields, ad), c.hlc, json.loads(c.base),
                          c.schema_version,
                          self.sealer.open_value(c.was, ad + b"|was") if c.was else {},
                          None if c.seen is None else json.loads(c.seen), None,
                          self.sealer.open_value(c.author, ad + b"|by") if c.author else None)

    def _gather(self) -> tuple[dict[str, dict[str, list[Any]]], dict[str, dict[str, str]],
                               dict[str, dict[str, int]]]:
        """From every record: each workflow's step events by case, each workflow's cases with
        their township, and the other records counted per township and entity."""
        from sync.workflow import StepEvent

        events: dict[str, dict[str, list[Any]]] = {}
        subjects: dict[str, dict[str, str]] = {}  # workflow -> subject id -> township
        counts: dict[str, dict[str, int]] = {}
        by_event = {wf.event_entity: wf for wf in self.schema.workflows.values()}
        by_subject = {wf.subject_entity: wf for wf in self.schema.workflows.values()}
        parts = {p.name for name in self.schema.workflows for p in self.schema.case_parts(name)}
        with self.storage.transaction() as tx:
            rows = list(tx.records())
        for record_id, entity, grid, sealed_state, deleted in rows:
            if deleted:
                continue
            township = (grid or "")[:9]
            if entity in by_subject:
                subjects.setdefault(by_subject[entity].name, {})[record_id] = township
            elif entity in by_event:
                wf = by_event[entity]
                raw = self.sealer.open_value(sealed_state, record_id.encode())
                parent = self.schema.entity(entity).parent_field or wf.subject_entity
                value = _current(raw)
                clock = min(v[0] for vs in raw.values() for v in vs)
                events.setdefault(wf.name, {}).setdefault(str(value.get(parent)), []).append(
                    StepEvent(record_id, str(value.get("step")), clock, str(value.get("at")),
                              value.get("department")))
            elif entity != files.ENTITY and entity not in parts:  # nor files, nor a case's parties
                counts.setdefault(township, {})[entity] = counts.setdefault(township, {}).get(entity, 0) + 1
        return events, subjects, counts

    def _unchanged(self, name: str, compute: Callable[[Tx], Any]) -> Any:
        """`compute(tx)`, or what it gave while the records were as they are now. Records change
        only with a push that stores changes (the hub's sequence number moves) or a published
        bundle (its version moves), in any hub process: so this is never stale."""
        with self.storage.transaction() as tx:
            self._catch_up(tx)
            return self._unchanged_in(tx, name, compute)

    def _unchanged_in(self, tx: Tx, name: str, compute: Callable[[Tx], Any]) -> Any:
        mark = (tx.last_seq(), tx.bundle_version())
        found = self._since.get(name)
        if found is not None and found[0] == mark:
            return found[1]
        value = compute(tx)
        self._since[name] = (mark, value)
        return value

    def volunteer_ledger(self) -> tuple[list[LedgerEntry], dict[str, str]]:
        """The points ledger from every station's check-ins and accepted reports, by the same
        rules as a station's (`sync.points`): a report is accepted when its incident reaches
        the step after the first, on that event's day; and the township of each entry's
        source. Read from the kept facts."""
        result: tuple[list[LedgerEntry], dict[str, str]] = self._unchanged(
            "ledger", lambda tx: work_figures.volunteer_ledger(tx, self.schema))
        return result

    def volunteer_points(self) -> list[LedgerEntry]:
        return self.volunteer_ledger()[0]

    def _volunteer_ledger(self, events: dict[str, dict[str, list[Any]]]
                          ) -> tuple[list[LedgerEntry], dict[str, str]]:
        """The ledger, and the township of each entry's source (check-in or incident)."""
        loop = self.schema.workflow("incident")
        second = next(m.to_step for m in loop.moves if m.from_step == loop.first_step)
        accepted_on = {sid: min(e.at for e in evs if e.step == second)[:10]
                       for sid, evs in events.get("incident", {}).items()
                       if any(e.step == second for e in evs)}
        parent = self.schema.entity("checkin").parent_field or "volunteer"
        checkins, accepted, township = [], [], {}
        with self.storage.transaction() as tx:
            rows = [*tx.records("checkin"), *tx.records("incident")]
        for record_id, entity, grid, sealed, deleted in rows:
            if deleted:
                continue
            value = _current(self.sealer.open_value(sealed, record_id.encode()))
            township[record_id] = (grid or "")[:9]
            if entity == "checkin" and value.get(parent) and value.get("day"):
                checkins.append((str(value[parent]), str(value["day"]), record_id))
            elif entity == "incident" and value.get("volunteer") and record_id in accepted_on:
                accepted.append((str(value["volunteer"]), accepted_on[record_id], record_id))
        return ledger(checkins, accepted, self.schema.point_rules), township

    def names(self, entity: str, ids: set[str]) -> dict[str, str]:
        """The title of these records (a person's name, a case's title) as a county page shows
        it beside or instead of an id: masked as a station's list masks it (sync.masking)."""
        definition = self.schema.entity(entity)
        title = definition.by_name.get(definition.title_field or "name")
        with self.storage.transaction() as tx:
            found = tx.records_by_id(sorted(ids))
        out = {}
        for record_id, (ent, _grid, sealed, _deleted, _hlc) in found.items():
            if ent == entity:
                shown = _masked_title(title, _current(self.sealer.open_value(sealed, record_id.encode())))
                if shown:
                    out[record_id] = shown
        return out

    def place_names(self) -> dict[str, str]:
        """Grid and township codes -> names: each grid from its grid record (`name`), each
        township from a `township` code table when the schema has one (a county adds it by
        bundle). A place with no name known is left out: the pages show its code."""
        found: dict[str, str] = self._unchanged(
            "places", lambda tx: self._place_names(list(tx.records("grid"))))
        return dict(found)

    def _place_names(self, rows: list[tuple[str, str, str | None, str, int]]) -> dict[str, str]:
        out = {}
        tables = self.schema.code_tables
        if "township" in tables:
            out.update({v.code: v.label_zh for v in tables["township"].values})
        for record_id, _entity, grid, sealed, deleted in rows:
            value = _current(self.sealer.open_value(sealed, record_id.encode()))
            if not deleted and value.get("name"):
                out[str(value.get("code") or grid)] = str(value["name"])
        return out

    def closure_history(self, workflow: str, days: list[date]) -> list[tuple[date, int, int]]:
        """(day, cases reported by its end, closed by its end) of one workflow, county-wide,
        from the kept facts."""
        with self.storage.transaction() as tx:
            return work_figures.closure_history(tx, workflow, days)

    def report(self, now: datetime | None = None, period: Period | None = None) -> dict[str, Any]:
        """The station report's shape, per township and for the whole county; with `now`, each
        kind of case also counts those overdue under its step deadlines (the 1/3/5-minute rule).

        With a `period`, only the cases reported within it, each as it stood at the period's
        end (events after it are not counted), overdue counted then (or now, if sooner); and
        the volunteers' check-ins and points earned within it. Summed from the kept facts
        (sync/hub/work_figures.py); `report_from_records` is the same read from every record."""
        with self.storage.transaction() as tx:
            self._catch_up(tx)
            ledger = self._unchanged_in(tx, "ledger", lambda t: work_figures.volunteer_ledger(t, self.schema))
            return work_figures.report(tx, self.schema, now, period, ledger)

    def open_conflict_count(self) -> int:
        """How many conflicts are open county-wide (`len(conflicts())`, from the kept facts)."""
        with self.storage.transaction() as tx:
            return tx.open_conflicts()

    def duplicate_count(self) -> int:
        """How many keys more than one live record holds (`len(duplicates())`, kept facts)."""
        with self.storage.transaction() as tx:
            return tx.duplicate_keys()

    # The figures read from every record, as before they were kept: slow (every record opened),
    # kept as the check of the kept ones (`county report --from-records`, and the tests).

    def volunteer_points_from_records(self) -> list[LedgerEntry]:
        return self._volunteer_ledger(self._gather()[0])[0]

    def closure_history_from_records(self, workflow: str, days: list[date]) -> list[tuple[date, int, int]]:
        from sync.report import closure_over_time
        from sync.workflow import derive

        events, subjects, _ = self._gather()
        wf = self.schema.workflow(workflow)
        states = [derive(wf, events.get(workflow, {}).get(sid, [])) for sid in subjects.get(workflow, {})]
        return closure_over_time(states, {st.step for st in wf.steps if st.closes}, days)

    def report_from_records(self, now: datetime | None = None,
                            period: Period | None = None) -> dict[str, Any]:
        """`report`, read from every record."""
        from sync.workflow import derive

        events, subjects, counts = self._gather()
        as_of = now if period is None else min(now or period.end, period.end)

        def state(name: str, sid: str) -> Any:
            found = events.get(name, {}).get(sid, [])
            if period is not None:
                found = [e for e in found if datetime.fromisoformat(e.at) < period.end]
            return derive(self.schema.workflow(name), found)

        cases: dict[str, dict[str, dict[str, Any]]] = {}  # township -> workflow -> id -> state
        for name, ids in subjects.items():
            for sid, township in ids.items():
                found = state(name, sid)
                if period is None or (found.started_at is not None and period.holds(found.started_at)):
                    cases.setdefault(township, {}).setdefault(name, {})[sid] = found
        ledger_entries, source_township = self._volunteer_ledger(events)
        if period is not None:
            ledger_entries = [e for e in ledger_entries if period.holds_day(e.day)]
        volunteering = figures.volunteering(ledger_entries, source_township)
        townships = sorted(set(counts) | set(cases) | set(volunteering))
        per = {t: _township_report(cases.get(t, {}), self.schema, counts.get(t, {}), as_of,
                                   volunteering.get(t)) for t in townships}
        every: dict[str, dict[str, Any]] = {}
        for by_name in cases.values():
            for name, found in by_name.items():
                every.setdefault(name, {}).update(found)
        whole = {"checkins": 0, "points": 0} | figures.county_totals(volunteering)
        out = {"county": _township_report(every, self.schema, figures.county_totals(counts), as_of, whole),
               "townships": per}
        if period is not None:
            out["period"] = {"from": period.first.isoformat(), "to": period.last.isoformat(),
                             "name": period.name}
        return out

    def state(self, record_id: str) -> dict[str, merge.FieldState]:
        """A record's merge state: every field's frontier of versions ({} when unknown)."""
        with self.storage.transaction() as tx:
            found = tx.records_by_id([record_id]).get(record_id)
        return self._state_from(record_id, found)

    def conflicts(self) -> list[dict[str, Any]]:
        """Every open conflict the hub holds, as `station conflicts list --json` shows them
        (without `here`: the hub has no side of its own). Read from the records' states."""
        with self.storage.transaction() as tx:
            rows = list(tx.records())
        out = []
        for record_id, entity, grid, sealed_state, _deleted in rows:
            state = self._state_from(record_id, (entity, grid, sealed_state))
            for c in merge.conflicts(state):
                out.append({"id": f"{record_id}:{c.field}", "record": record_id, "entity": entity,
                            "grid": grid, "field": c.field,
                            "base": None if c.base is None else json.loads(c.base),
                            "winner": _version(c.winner),
                            "losers": [_version(v) for v in c.losers]})
        return out

    def duplicates(self) -> list[dict[str, Any]]:
        """Every ID number (credit code) that more than one live record holds: the same
        person registered at two stations and not merged yet. Masked as a list masks them
        (the key, and names); the first record is the one a merge keeps."""
        keyed = {e.name: e for e in self.schema.entities.values() if e.key_field is not None}
        with self.storage.transaction() as tx:
            rows = [r for name in sorted(keyed) for r in tx.records(name) if not r[4]]
        live, grids = [], {}
        for record_id, entity, grid, sealed_state, _deleted in rows:
            values = _current(self.sealer.open_value(sealed_state, record_id.encode()))
            live.append((record_id, keyed[entity], values))
            grids[record_id] = (grid, values)
        out = []
        for entity_name, key, ids in same_key_groups(live):
            definition = keyed[entity_name]
            title = definition.by_name.get(definition.title_field or "")
            out.append({"entity": entity_name, "key": mask_id_number(key), "kept": ids[0],
                         "records": [{"id": i, "grid": grids[i][0], "name": _masked_title(
                             title, grids[i][1])} for i in ids]})
        return out

    def export(self, entity: str | None = None) -> Iterator[dict[str, Any]]:
        """Current records as `station export` prints them: id, entity, fields; sorted by id."""
        with self.storage.transaction() as tx:
            rows = list(tx.records(entity))
        for record_id, ent, _grid, sealed_state, deleted in rows:
            if deleted:
                continue
            values = {name: value for name, value in
                      _current(self.sealer.open_value(sealed_state, record_id.encode())).items()
                      if not name.startswith("_")}
            yield {"id": record_id, "entity": ent,
                   "fields": {k: v for k, v in values.items() if v is not None}}


def _township_report(cases: dict[str, dict[str, Any]], schema: Schema,
                     base_counts: dict[str, int], now: datetime | None = None,
                     volunteering: dict[str, int] | None = None) -> dict[str, Any]:
    from sync.workflow import deadlines

    out: dict[str, Any] = {}
    for name, wf in sorted(schema.workflows.items()):
        by_step: dict[str | None, int] = {}
        by_department: dict[str, int] = {}
        for state in cases.get(name, {}).values():
            by_step[state.step] = by_step.get(state.step, 0) + 1
            for department in state.departments:
                by_department[department] = by_department.get(department, 0) + 1
        out[f"{name}s"] = case_summary(by_step, {st.step for st in wf.steps if st.closes},
                                       by_department)
        if now is not None:
            out[f"{name}s"].update(_overdue(wf, cases.get(name, {}).values(), now, deadlines))
    out["base_data"] = dict(sorted(base_counts.items()))
    if volunteering is not None:
        out["volunteers"] = {"checkins": 0, "points": 0} | volunteering
    return out


def _overdue(wf: Any, states: Any, now: datetime, deadlines: Callable[..., Any]) -> dict[str, Any]:
    """`overdue`: the open cases past a deadline now (as before); and per step with a deadline
    (the 1/3/5-minute rule), `missed`: the cases that reached it late or are past it unmet."""
    overdue, missed = 0, {s.step: 0 for s in wf.steps if s.deadline_seconds is not None}
    for state in states:
        found = deadlines(wf, state, now)
        overdue += any(d.status == "overdue" for d in found)
        for d in found:
            missed[d.step] += d.status in ("overdue", "late")
    return {"overdue": overdue, "missed": missed}


@dataclass
class _Prepared:
    """A change checked and sealed outside the push lock (Hub._prepare)."""

    versions: list[tuple[str, merge.Version]]
    sealed_fields: str
    sealed_was: str
    sealed_by: str  # the clerk who wrote it (shown with a conflict)
    upcast: WireChange  # in the current schema's names


@dataclass
class _PushWork:
    """What one push batch has accepted so far, to be stored in one go at its end."""

    stored: dict[str, tuple[str, str | None, str, int, str]]
    changes: list[tuple[StoredChange, str | None]] = field(default_factory=list)
    accepted: set[int] = field(default_factory=set)
    records: dict[str, tuple[str, str | None, str, bool, str]] = field(default_factory=dict)
    facts: dict[str, RecordFacts] = field(default_factory=dict)  # the work figures' (sync.hub.figures)

    def current(self, record_id: str) -> tuple[str, str | None, str, int, str] | None:
        """(entity, grid, sealed state, deleted, hlc), counting earlier changes of this batch."""
        if record_id in self.records:
            entity, grid, state, deleted, newest = self.records[record_id]
            return entity, grid, state, int(deleted), newest
        return self.stored.get(record_id)


def _moved_unseen(station: StationRow, change: WireChange, stored: dict[str, merge.FieldState],
                  versions: list[tuple[str, merge.Version]]) -> bool:
    """Whether a change to a record now outside the station's scope was written before its
    author had received the move: it named the grid the record left (one in the station's
    scope), and the move is not in its context. Such an edit is accepted and merged; only
    one written after the author received the move is refused."""
    grid = stored.get("grid")
    if grid is None or not versions or not station.in_scope_when(change.grid, change.scope):
        return False
    move = grid.winner
    if move.was and json.loads(move.was) != change.grid:
        return False  # the station names a grid the record did not leave
    return not any(merge.covers(v.seen, move.clock) for _, v in versions)


def _text_of(canonical: str) -> Any:
    """A value from its canonical JSON; a plain string (a grid code) without the JSON parser,
    since every record the hub stores reads its grid."""
    if len(canonical) > 1 and canonical[0] == canonical[-1] == '"' and "\\" not in canonical:
        return canonical[1:-1]
    return json.loads(canonical)


def _masked_title(title: FieldDef | None, values: dict[str, Any]) -> str:
    value = values.get(title.name) if title is not None else None
    if title is None or value is None:
        return ""
    return mask_value(title.rule, value, is_name=True) if title.sensitive else str(value)


def _current(raw: dict[str, Any]) -> dict[str, Any]:
    """A record's values from its opened merge state: each field's winning version."""
    return {name: json.loads(versions[-1][2]) for name, versions in raw.items()}


def _version(v: merge.Version) -> dict[str, Any]:
    """One side of a conflict: the value, the station and clerk that wrote it, and when."""
    return {"value": json.loads(v.value), "clock": v.clock, "station": hlc.parse(v.clock).node,
            "was": json.loads(v.was) if v.was else None, "clerk": v.by or None,
            "at": merge.written_at(v.clock)}


_dumps_sorted = json.JSONEncoder(sort_keys=True).encode


def _change_ad(station: str, change: WireChange) -> bytes:
    return f"change|{station}|{change.seq}|{change.record}".encode()
