"""A push batch's first phase (Hub.push): each change checked by the schema's rules, its field
versions made and it sealed under the county key — what needs nothing stored — with the
checks of a large batch done by a worker process.

Why a process: a station's batches reach the hub one after another on one connection, so a
first sync is applied batch by batch, and this phase is about half of a batch's apply, half
of it the checks (validation field by field, ID check digits, code tables). Threads would
share one core for it (the GIL); the worker checks the batch on the second core while this
process makes the versions and seals (docs/BENCHMARKS.md,
"Speed against PouchDB"). What needs the push lock (the merge with the stored record, the
hub's numbering, the writes) stays in the hub's process, and so does everything the worker
would have to send back big: only a yes or no per change returns.

A change the worker does not pass is checked again here, so a refusal is raised by the same
code in the same process as ever (no exception crosses a pipe), and a worker that died, or
has not started yet, only means the hub checks that part itself. The worker is sent plain
data: the changes, the station's row, the schemas and renames, and the hub's clock as read
for this batch — never a key (it seals nothing).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sync import attachments as files
from sync import clock as hlc
from sync import merge
from sync.bundle import Rename, upcast_fields
from sync.errors import SchemaError, TownshipError
from sync.hub.storage import StationRow
from sync.protocol import WireChange
from sync.schema import Schema
from sync.seal import Sealer
from sync.signing import AuthError
from sync.validate import validate_record

# Worker processes per hub process: one where there is a second core to run it on; none on a
# single core, where it could only add the pickling.
PREPARE_PROCESSES = 1 if (os.cpu_count() or 1) > 1 else 0
# Below this many changes a batch is prepared here alone: sending a part to the worker and
# back costs about 1 ms, a change about 0.3 ms, and a clerk's everyday round is a few changes.
SPLIT_AT = 256


@dataclass(frozen=True)
class Rules:
    """What checking a change needs of the hub, as data a worker can be sent."""

    schemas: Mapping[int, Schema]  # every version's, by version
    renames: tuple[Rename, ...]
    now_ms: int  # the hub's clock, read once for the batch
    today: date

    @property
    def version(self) -> int:
        return max(self.schemas)


@dataclass
class Prepared:
    """A change checked and sealed outside the push lock."""

    versions: list[tuple[str, merge.Version]]
    sealed_fields: str
    sealed_was: str
    sealed_by: str  # the clerk who wrote it (shown with a conflict)
    upcast: WireChange  # in the current schema's names


def prepare(rules: Rules, sealer: Sealer, station: StationRow, change: WireChange,
            checked: bool = False) -> Prepared | TownshipError:
    """The checks and work that need nothing stored: the change refused, or ready to apply
    (`checked`: its checks were passed already, by a worker)."""
    try:
        if not checked:
            check_change(rules, station, change)
    except TownshipError as exc:
        return exc
    change = upcast(change, rules.version, rules.renames)
    ad = change_ad(station.id, change)
    return Prepared(
        merge.change_versions(change.op, change.fields, change.hlc, change.base, change.was,
                              None if change.seen is None else merge.context(change.seen),
                              change.by or ""),
        sealer.seal_value(change.fields, ad),
        sealer.seal_value(change.was, ad + b"|was") if change.was else "",
        sealer.seal_value(change.by, ad + b"|by") if change.by else "", change)


def _unchecked(rules: Rules, sealer: Sealer, station: StationRow, change: WireChange
               ) -> Prepared | None:
    """A change prepared before its checks have passed, or None: not yet checked, it may be
    malformed in any way they would have refused (a clock that does not parse, a schema
    version the hub does not know), and is then prepared again, checks first."""
    try:
        ready = prepare(rules, sealer, station, change, checked=True)
    except Exception:  # see above: its checks say what was wrong
        return None
    return ready if isinstance(ready, Prepared) else None


def check_change(rules: Rules, station: StationRow, change: WireChange) -> None:
    if change.station != station.id:
        raise AuthError("not_yours", "只能提交本站的变更", "a station may only push its own changes")
    if not station.in_scope_when(change.grid, change.scope):
        raise AuthError("out_of_scope", f"网格 {change.grid} 不在本站范围内",
                        f"grid {change.grid} is outside this station's scope")
    ahead = hlc.parse(change.hlc).wall_ms - rules.now_ms
    if ahead > hlc.DEFAULT_MAX_SKEW_MS:
        raise hlc.ahead_of_hub(ahead // 1000)
    schema = rules.schemas.get(change.schema_version)
    if schema is None:
        raise SchemaError(f"数据版本 {change.schema_version} 比县级平台的还新",
                          f"schema version {change.schema_version} is newer than the hub's")
    entity = schema.entity(change.entity)
    if change.op in ("add", "update"):
        validate_record(entity, change.fields, schema, today=rules.today,
                        partial=change.op == "update")
    if change.entity == files.ENTITY and change.op == "add":
        files.check_record(schema, change.fields)


def upcast(change: WireChange, version: int, renames: tuple[Rename, ...]) -> WireChange:
    """A change in the names of schema `version`, the current (a field renamed since it was
    captured)."""
    if change.schema_version == version:
        return change

    def up(values: dict[str, Any]) -> dict[str, Any]:
        return upcast_fields(change.entity, values, change.schema_version, renames)
    return replace(change, fields=up(change.fields), base=up(change.base), was=up(change.was),
                   schema_version=version)


def change_ad(station: str, change: WireChange) -> bytes:
    return f"change|{station}|{change.seq}|{change.record}".encode()


class Preparer:
    """Prepares a batch: here alone when small or without a worker; else the worker checks
    the whole batch while this process makes every change's versions and seals, about the
    same work (measured on a batch of 1,000 people: checks 58 ms; versions, seals and the
    rest 65 ms). Only the changes go to the worker and only a yes or no per change comes
    back: prepared changes pickled back cost this process more than preparing them (1.1 MB
    a batch of 1,000)."""

    def __init__(self, data_key: bytes, processes: int = PREPARE_PROCESSES) -> None:
        self._key = data_key
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._up: Future[None] | None = None  # done once the worker has started
        self._sent: tuple[tuple[int, ...], int] | None = None  # the schemas and renames pickled
        self._pickled = b""
        self.passed_there = 0  # changes the worker has passed (tests, profiles)

    def batch(self, rules: Rules, sealer: Sealer, station: StationRow,
              changes: Sequence[WireChange]) -> list[Prepared | TownshipError]:
        if self.processes < 1 or len(changes) < SPLIT_AT or not self._warm():
            return [prepare(rules, sealer, station, c) for c in changes]
        theirs = self._submit(rules, station, changes)
        ahead = [_unchecked(rules, sealer, station, c) for c in changes]
        passed = self._result(theirs) or [False] * len(changes)
        self.passed_there += sum(passed)
        # A change the worker did not pass (refused there, or the worker not up) is checked
        # here: the refusal comes from this process, as it always did.
        return [ready if ok and ready is not None else prepare(rules, sealer, station, change)
                for change, ready, ok in zip(changes, ahead, passed, strict=True)]

    def _submit(self, rules: Rules, station: StationRow, changes: Sequence[WireChange]
                ) -> Future[list[bool]] | None:
        token, state = self._state(rules)
        try:
            return self._start().submit(_check_part, token, state, rules.now_ms, rules.today,
                                        station, changes)
        except (BrokenProcessPool, RuntimeError, OSError):
            self.close()  # the worker is started again for the next batch
            return None

    def _result(self, future: Future[list[bool]] | None) -> list[bool] | None:
        # Not started yet (the worker still starting, or its core busy): this process checks
        # that part itself rather than wait, so a worker never makes a batch slower.
        if future is None or (not future.running() and future.cancel()):
            return None
        try:
            return future.result()
        except (BrokenProcessPool, OSError, pickle.PicklingError):
            self.close()
            return None

    def _state(self, rules: Rules) -> tuple[tuple[tuple[int, ...], int], bytes]:
        """The schemas and renames pickled, once for each state of them: schemas are only
        ever added (by version) and renames appended, so their counts name the state."""
        token = (tuple(sorted(rules.schemas)), len(rules.renames))
        if token != self._sent:
            self._pickled = pickle.dumps((dict(rules.schemas), rules.renames))
            self._sent = token
        return token, self._pickled

    def _warm(self) -> bool:
        """Whether the worker is up. Started by the first large batch, which (as every one
        until it is up, about a second) is prepared here alone rather than wait for it."""
        try:
            if self._pool is None:
                # spawn, not fork: the hub's process has threads (uvicorn's, database
                # pools), and a forked child could inherit a lock one of them held.
                self._pool = ProcessPoolExecutor(self.processes, multiprocessing.get_context("spawn"))
                self._up = self._pool.submit(_ready)
        except (RuntimeError, OSError, AssertionError):  # (a daemonic process may not start one)
            self.close()
            self.processes = 0  # no worker here: the hub prepares its batches alone
            return False
        if self._up is None or not self._up.done():
            return False
        if self._up.exception() is not None:  # it could not start: not tried again each batch
            self.close()
            self.processes = 0
            return False
        return True

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            raise RuntimeError("the worker was stopped")
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._up = None


# ------------------------------------------------------------------ in the worker process

_worker: dict[str, Any] = {}


def _ready() -> None:
    """Nothing: done once the worker has started and imported this module."""


def _check_part(token: tuple[tuple[int, ...], int], state: bytes, now_ms: int, today: date,
                station: StationRow, changes: Sequence[WireChange]) -> list[bool]:
    """The worker's share: whether each change passes its checks."""
    if _worker.get("token") != token:
        _worker["schemas"], _worker["renames"] = pickle.loads(state)
        _worker["token"] = token
    rules = Rules(_worker["schemas"], _worker["renames"], now_ms, today)
    out: list[bool] = []
    for change in changes:
        try:
            check_change(rules, station, change)
            out.append(True)
        except TownshipError:
            out.append(False)
    return out
