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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sync import clock as hlc
from sync import merge
from sync.errors import TownshipError, ValidationError
from sync.protocol import PullPage, PushBatch, Result, WireChange
from sync.report import case_summary
from sync.schema import Schema
from sync.seal import Sealer
from sync.signing import WINDOW_MS, AuthError, read_headers, verify
from sync.storage import StationRow, Storage, StoredChange, Tx
from sync.validate import validate_record

CHINA_TZ = timezone(timedelta(hours=8))
ENROLL_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXY346789"  # no look-alikes: read aloud over a phone


@dataclass(frozen=True)
class HubClock:
    wall_ms: Callable[[], int]

    def iso(self) -> str:
        return datetime.fromtimestamp(self.wall_ms() / 1000, UTC).isoformat(
            timespec="milliseconds")

    def today(self) -> date:
        return datetime.fromtimestamp(self.wall_ms() / 1000, CHINA_TZ).date()


def enrollment_code() -> str:
    """A one-time code: 16 characters in groups of four, about 77 bits."""
    raw = "".join(secrets.choice(ENROLL_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def code_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().upper().encode()).hexdigest()


class Hub:
    def __init__(self, storage: Storage, data_key: bytes, schema: Schema, clock: HubClock) -> None:
        self.storage = storage
        self.sealer = Sealer(data_key)
        self.schema = schema
        self.clock = clock

    # ------------------------------------------------------------------ enrollment

    def add_enrollment(self, township: str, grids: list[str]) -> str:
        code = enrollment_code()
        with self.storage.transaction() as tx:
            tx.add_enrollment(code_hash(code), township, grids, self.clock.iso())
        return code

    def enroll(self, code: str, station_id: str, public_key_b64: str) -> StationRow:
        try:
            Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        except ValueError:
            raise ValidationError("public_key", "ed25519", "站点公钥无效",
                                  "the station public key is not an Ed25519 key") from None
        with self.storage.transaction() as tx:
            if tx.station(station_id) is not None:
                raise AuthError("enrolled", "此站点已注册", "this station is already enrolled")
            scope = tx.take_enrollment(code_hash(code), station_id)
            if scope is None:
                raise AuthError("bad_code", "注册码无效或已使用", "enrollment code unknown or already used")
            station = StationRow(station_id, scope[0], scope[1], public_key_b64, None)
            tx.add_station(station, self.clock.iso())
        return station

    def revoke(self, station_id: str) -> bool:
        with self.storage.transaction() as tx:
            return tx.revoke(station_id, self.clock.iso())

    # ------------------------------------------------------------------ authentication

    def authenticate(self, headers: dict[str, str], method: str, path: str, body: bytes) -> StationRow:
        """The signing station, or AuthError: unknown, revoked, forged, expired or replayed."""
        claimed = read_headers(headers).station
        with self.storage.transaction() as tx:
            station = tx.station(claimed)
            if station is None:
                raise AuthError("unknown_station", "未注册的站点", "unknown station")
            if station.revoked_at is not None:
                raise AuthError("revoked", "此站点已被吊销", "this station has been revoked")
            now = self.clock.wall_ms()
            public = Ed25519PublicKey.from_public_bytes(base64.b64decode(station.public_key))
            signed = verify(public, headers, method, path, body, now)
            if not tx.remember_nonce(station.id, signed.nonce, signed.time_ms, now - 2 * WINDOW_MS):
                raise AuthError("replayed", "重复的请求（已处理过）", "replayed request (nonce seen before)")
        return station

    # ------------------------------------------------------------------ push

    def push(self, station: StationRow, batch: PushBatch) -> list[Result]:
        results = []
        with self.storage.transaction(push=True) as tx:
            for change in batch.changes:
                results.append(self._push_one(tx, station, change))
        return results

    def _push_one(self, tx: Tx, station: StationRow, change: WireChange) -> Result:
        receipt = tx.receipt_of(station.id, change.seq)
        if receipt is not None:
            return Result(change.seq, receipt=receipt)  # a resend: the same receipt, nothing new
        before = tx.record(change.record)
        try:
            self._check(station, change, before)
        except TownshipError as exc:
            return Result(change.seq, rejected=str(exc))
        state = self._state_from(change.record, before)
        for name, version in merge.change_versions(change.op, change.fields, change.hlc, change.base):
            state = merge.apply(state, name, version)
        sealed_fields = self.sealer.seal_value(change.fields, _change_ad(station.id, change))
        hub_seq = tx.insert_change(StoredChange(
            0, station.id, change.seq, change.record, change.entity, change.op, change.grid,
            sealed_fields, change.hlc, json.dumps(change.base, sort_keys=True), change.schema_version),
            self.clock.iso(), prev_grid=before[1] if before else None)
        self._put_state(tx, change, state)
        return Result(change.seq, receipt=hub_seq)

    def _check(self, station: StationRow, change: WireChange, before: tuple[Any, ...] | None) -> None:
        if change.station != station.id:
            raise AuthError("not_yours", "只能提交本站的变更", "a station may only push its own changes")
        if not station.in_scope(change.grid):
            raise AuthError("out_of_scope", f"网格 {change.grid} 不在本站范围内",
                            f"grid {change.grid} is outside this station's scope")
        if before is not None and not station.in_scope(before[1]):
            raise AuthError("out_of_scope", "该记录不在本站范围内",
                            "that record is outside this station's scope")
        stamp = hlc.parse(change.hlc)
        ahead = stamp.wall_ms - self.clock.wall_ms()
        if ahead > hlc.DEFAULT_MAX_SKEW_MS:
            raise hlc.ClockSkew(f"时钟超前 {ahead // 1000} 秒，请校正站点时间",
                                f"clock is {ahead // 1000} s ahead; fix the station's time")
        entity = self.schema.entity(change.entity)
        if change.op != "delete":
            validate_record(entity, change.fields, self.schema, today=self.clock.today(),
                            partial=change.op == "update")

    def _state(self, tx: Tx, record_id: str) -> dict[str, merge.FieldState]:
        return self._state_from(record_id, tx.record(record_id))

    def _state_from(self, record_id: str,
                    found: tuple[Any, ...] | None) -> dict[str, merge.FieldState]:
        if found is None:
            return {}
        raw = self.sealer.open_value(found[2], record_id.encode())
        return {name: merge.FieldState(tuple(merge.Version(*v) for v in versions))
                for name, versions in raw.items()}

    def _put_state(self, tx: Tx, change: WireChange, state: dict[str, merge.FieldState]) -> None:
        raw = {name: [[v.clock, v.base, v.value] for v in s.versions] for name, s in state.items()}
        newest = max(v.clock for s in state.values() for v in s.versions)
        tx.put_record(change.record, change.entity, change.grid,
                      self.sealer.seal_value(raw, change.record.encode()), merge.is_deleted(state),
                      newest)

    # ------------------------------------------------------------------ pull and export

    def pull(self, station: StationRow, cursor: int, limit: int = 1000) -> PullPage:
        with self.storage.transaction() as tx:
            stored = tx.changes_since(cursor, station, limit)
            last = tx.last_seq()
        changes = tuple(self._wire(c) for c in stored)
        # An empty page still moves the cursor past other stations' out-of-scope changes.
        next_cursor = stored[-1].hub_seq if stored else max(cursor, last)
        return PullPage(changes, next_cursor, len(stored) == limit)

    def _wire(self, c: StoredChange) -> WireChange:
        ad = _change_ad(c.station, WireChange(c.station, c.station_seq, c.record, c.entity, c.op,
                                              c.grid, {}, c.hlc, {}, c.schema_version))
        return WireChange(c.station, c.station_seq, c.record, c.entity, c.op, c.grid,
                          self.sealer.open_value(c.fields, ad), c.hlc, json.loads(c.base),
                          c.schema_version)

    def report(self) -> dict[str, Any]:
        """The station report's shape, per township and for the whole county."""
        from sync.workflow import StepEvent, derive

        events: dict[str, dict[str, list[StepEvent]]] = {}
        subjects: dict[str, dict[str, str]] = {}  # workflow -> subject id -> township
        counts: dict[str, dict[str, int]] = {}
        by_event = {wf.event_entity: wf for wf in self.schema.workflows.values()}
        by_subject = {wf.subject_entity: wf for wf in self.schema.workflows.values()}
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
                value = {n: json.loads(vs[-1][2]) for n, vs in raw.items()}
                clock = min(v[0] for vs in raw.values() for v in vs)
                events.setdefault(wf.name, {}).setdefault(str(value.get(parent)), []).append(
                    StepEvent(record_id, str(value.get("step")), clock, str(value.get("at")),
                              value.get("department")))
            else:
                counts.setdefault(township, {})[entity] = counts.setdefault(township, {}).get(entity, 0) + 1
        townships = sorted(set(counts) | {t for s in subjects.values() for t in s.values()})
        per: dict[str, Any] = {}
        for township in townships:
            cases = {name: {sid: derive(self.schema.workflow(name), events.get(name, {}).get(sid, []))
                            for sid, t in ids.items() if t == township}
                     for name, ids in subjects.items()}
            per[township] = _township_report(cases, self.schema, counts.get(township, {}))
        every = {name: {sid: derive(self.schema.workflow(name), events.get(name, {}).get(sid, []))
                        for sid in ids} for name, ids in subjects.items()}
        total: dict[str, int] = {}
        for c in counts.values():
            for entity, n in c.items():
                total[entity] = total.get(entity, 0) + n
        return {"county": _township_report(every, self.schema, total), "townships": per}

    def export(self, entity: str | None = None) -> Iterator[dict[str, Any]]:
        """Current records as `station export` prints them: id, entity, fields; sorted by id."""
        with self.storage.transaction() as tx:
            rows = list(tx.records(entity))
        for record_id, ent, _grid, sealed_state, deleted in rows:
            if deleted:
                continue
            raw = self.sealer.open_value(sealed_state, record_id.encode())
            values = {name: json.loads(vs[-1][2]) for name, vs in raw.items()
                      if not name.startswith("_")}
            yield {"id": record_id, "entity": ent,
                   "fields": {k: v for k, v in values.items() if v is not None}}


def _township_report(cases: dict[str, dict[str, Any]], schema: Schema,
                     base_counts: dict[str, int]) -> dict[str, Any]:
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
    out["base_data"] = dict(sorted(base_counts.items()))
    return out


def _change_ad(station: str, change: WireChange) -> bytes:
    return f"change|{station}|{change.seq}|{change.record}".encode()
