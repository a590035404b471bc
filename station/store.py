"""The station's encrypted local store: one plain SQLite file, sealed field by field.

The file is an ordinary SQLite database in WAL mode, so litestream can replicate it. Every
sensitive value is sealed (AES-256-GCM, see `sync.seal`) before it is written; what stays
clear is what sync and the locked kiosk need: ids, entity, grid, clocks, timestamps.

All writes go through `station.writes` inside `_transaction`, which hands the write path a
`station.transaction.Transaction`: each write stamps a hybrid logical clock and appends one
row to the change log (the outbox) in the same transaction as the record. No other code
writes records or changes (tests/test_write_path.py checks the source).

Threads (the kiosk's sync worker writes while its screens read): one connection writes, only
inside a transaction and under the store's lock; every other thread reads through a read-only
connection of its own (`conn`), which in WAL mode neither waits for the writer nor sees its
transaction half-done.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from station import audit_log, keys, migrations, rekey, roles, search, search_forms, settings
from station.blind_index import DEFAULT_BITS, BlindIndex
from station.ids import IdMaker
from station.keyring import Keyring
from station.registry import Registry
from station.shift_pin import ShiftPin
from station.transaction import Transaction, check_live, fetch_row, open_fields, own_ids
from station.writes import Writes, iso_ms, reveal_ad
from sync import clock as hlc
from sync.audit_chain import AuditEntry
from sync.crypto_suite import INTL, CryptoSuite, suite_named
from sync.errors import (
    AlreadyInitialized,
    ClerkError,
    DiskError,
    KeyRotated,
    LockedError,
    PinUnavailable,
    RekeyError,
    StationWiped,
    StoreError,
    TamperedError,
    ValidationError,
    WrongPassphrase,
)
from sync.register import key_of
from sync.schema import EntityDef, Schema, load_schema, schema_sql
from sync.seal import Sealer
from sync.validate import CHINA_TZ, check_station_name

DB_FILE = "station.db"
BUSY_TIMEOUT_S = 30  # how long a write waits for another's lock before it fails
WIPE_CHECKPOINT_MS = 2000
MIN_PASSPHRASE = 8
MAX_CLERK_NAME = 50
# Records per transaction while building the derived search indexes of an older store: each
# step is short, so the sync worker's writes and the kiosk are not held up for long.
INDEX_CHUNK = 2_000


@dataclass(frozen=True)
class Clock:
    """Where the store reads the time; tests pass their own instead of sleeping."""

    wall_ms: Callable[[], int] = field(default=lambda: time.time_ns() // 1_000_000)
    sleep: Callable[[float], None] = field(default=time.sleep)

    def today(self) -> date:
        return datetime.fromtimestamp(self.wall_ms() / 1000, CHINA_TZ).date()

    def iso(self) -> str:
        return iso_ms(self.wall_ms())

    def now(self) -> datetime:
        """The current time in Beijing time (what screens and deadlines are judged by)."""
        return datetime.fromtimestamp(self.wall_ms() / 1000, CHINA_TZ)


SYSTEM_CLOCK = Clock()

# SQLite's words for a disk that refuses writes, and what a clerk is told instead.
_DISK_ERRORS = [
    ("disk is full", "站点磁盘已满：本次未保存任何内容。请清理磁盘空间后重试，已有数据完好",
     "the station's disk is full: nothing was saved this time; free some space and try again"
     " (what was saved before is intact)"),
    ("readonly", "站点存储为只读（磁盘被设为只读？）：本次未保存任何内容，已有数据完好",
     "the station's store is read-only (was the disk remounted read-only?): nothing was saved"
     " this time; what was saved before is intact"),
    ("disk i/o error", "站点磁盘读写出错：本次未保存任何内容，请检查磁盘",
     "the station's disk failed a read or write: nothing was saved this time; check the disk"),
]


def disk_error(exc: sqlite3.OperationalError, home: Path) -> DiskError | None:
    """The clear error for a disk that refused a write, or None for any other SQLite error."""
    text = str(exc).lower()
    if "disk i/o error" in text or "unable to open" in text:
        # SQLite reports a WAL write that finds no space as an I/O error, and a store on a
        # read-only disk as one it cannot open (its -shm file): look at the disk itself.
        with suppress(OSError):
            disk = os.statvfs(home)
            if disk.f_flag & os.ST_RDONLY:
                text = "readonly"
            elif disk.f_bavail * disk.f_frsize < 1024 * 1024:
                text = "disk is full"
    for words, zh, en in _DISK_ERRORS:
        if words in text:
            return DiskError(zh, en)
    return None


@dataclass(frozen=True)
class Change:
    """One row of the change log, as sync will read it."""

    seq: int
    record_id: str
    entity: str
    op: str
    grid: str | None
    clear: dict[str, Any]
    sealed: dict[str, str]
    hlc: str
    base: dict[str, str]
    schema_version: int
    receipt: int | None
    rejected: str | None


class Store:
    """The station's records, keyslots and change log in one SQLite file."""

    def __init__(self, home: Path, conn: sqlite3.Connection, clock: Clock = SYSTEM_CLOCK) -> None:
        """`conn` becomes the store's writing connection (see `conn` for the reading ones)."""
        self.home = home
        self.clock = clock
        self._path = Path(conn.execute("PRAGMA database_list").fetchone()[2])
        self._writer = conn
        self._writer_db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()  # held for a whole write transaction
        self._writing: int | None = None  # the thread whose transaction is open
        self._local = threading.local()
        self._readers: dict[threading.Thread, sqlite3.Connection] = {}
        self._readers_lock = threading.Lock()
        self._closed = False
        self.schema: Schema = load_schema(conn)
        self.station_id = settings.get(conn, "station_id") or ""
        self.keyring = Keyring(lambda: self.conn)
        self._ids = IdMaker()
        # (data key, sealer, blind index), set and cleared as one, so a thread reading while
        # another locks or unlocks the store sees all three or none.
        self._keys: tuple[bytes, Sealer, BlindIndex] | None = None
        self.clerk: str | None = None
        # What the unlocked slot's role may do (station/roles.py); checked by every read here
        # and every write in station/writes.py.
        self.grant: roles.Grant = roles.CLERK_GRANT
        # The shift PIN slot, in memory only (station/shift_pin.py): it outlives `lock`.
        self._pin: ShiftPin | None = None

    # ------------------------------------------------------------------ lifecycle

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a write transaction
        # takes the lock before it reads the clock, and two processes never interleave.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed record survives power loss (the kiosk may lose power any time).
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA temp_store=MEMORY")
        # 64 MiB of page cache: blind-index buckets land at random places in their B-tree, and
        # with SQLite's 2 MiB default a 160,000-person import spent 40 % longer in SQLite.
        conn.execute("PRAGMA cache_size=-65536")
        return conn

    @staticmethod
    def _connect_reader(path: Path) -> sqlite3.Connection:
        # Read-only: a write that bypasses the write path fails here instead of landing
        # outside any transaction. check_same_thread=False only so `close` can close it.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA temp_store=MEMORY")
        # 8 MiB each: enough for a screen's pages and the live-records index, while the
        # writer keeps its 64 MiB; a cache as large per thread would add up on a cheap
        # board (docs/BENCHMARKS.md holds the kiosk and a sync round under 150 MB).
        conn.execute("PRAGMA cache_size=-8192")
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection this thread reads through: inside this thread's write transaction
        the transaction's own (so it sees what it wrote so far), anywhere else one of this
        thread's own. A shared connection is not safe: sqlite-utils wraps every query in a
        SAVEPOINT, and a reader's RELEASE could end a writer's transaction half-way."""
        if self._writing == threading.get_ident():
            return self._writer
        return self._reader()[0]

    @property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over `conn`."""
        if self._writing == threading.get_ident():
            return self._writer_db
        return self._reader()[1]

    def _reader(self) -> tuple[sqlite3.Connection, sqlite_utils.Database]:
        found: tuple[sqlite3.Connection, sqlite_utils.Database] | None = getattr(
            self._local, "reader", None)
        if found is None:
            if self._closed:  # as before: a closed store refuses, it does not reopen
                return self._writer, self._writer_db
            conn = self._connect_reader(self._path)
            with self._readers_lock:
                # Threads come and go (a worker per sync): close what the finished ones left.
                for thread in [t for t in self._readers if not t.is_alive()]:
                    self._readers.pop(thread).close()
                self._readers[threading.current_thread()] = conn
            found = self._local.reader = (conn, sqlite_utils.Database(conn))
        return found

    @classmethod
    def create(
        cls,
        home: Path | str,
        *,
        township: str,
        name: str,
        clerk: str,
        passphrase: str,
        kdf: keys.KdfParams = keys.STANDARD_KDF,
        county_public_key: bytes | None = None,
        clock: Clock = SYSTEM_CLOCK,
        crypto: str = INTL,
    ) -> Store:
        """Make a new store in `home` and return it unlocked by its first clerk; `crypto`
        names its suite (sync/crypto_suite.py), chosen once: its county's must match."""
        home = Path(home)
        path = home / DB_FILE
        if path.exists():
            raise AlreadyInitialized(f"{home} 中已有站点数据库", f"a station store already exists in {home}")
        _check_township(township)
        check_station_name(name)
        _check_clerk_name(clerk)
        _check_passphrase(passphrase)
        suite_named(crypto)
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o700)
        tmp = home / (DB_FILE + ".creating")
        tmp.unlink(missing_ok=True)
        data_key = keys.new_data_key()
        conn = cls._connect(tmp)
        try:
            cls._initialise(conn, township=township, name=name, clock=clock)
            if crypto != INTL:  # a store without the setting is intl, as every older one is
                conn.execute("INSERT INTO settings (key, value) VALUES ('crypto', ?)", (crypto,))
            draft = cls(home, conn, clock)
            with draft._transaction():
                draft.keyring.add_clerk(clerk, passphrase, data_key, kdf, clock.iso())
                if county_public_key is not None:
                    draft.keyring.set_county_key(data_key, county_public_key, clock.iso())
        except BaseException:
            conn.close()
            tmp.unlink(missing_ok=True)
            raise
        # Fold the WAL into the file before it is renamed: a -wal left behind under the old
        # name would be lost. A half-made store never looks like a store: it is only given its
        # real name once complete.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        draft.close()
        os.replace(tmp, path)
        os.chmod(path, 0o600)
        store = cls(home, cls._connect(path), clock)
        store._open_with(data_key, clerk)
        return store

    @staticmethod
    def _initialise(conn: sqlite3.Connection, *, township: str, name: str, clock: Clock) -> None:
        sql = schema_sql()
        conn.executescript("BEGIN;" + sql + ";COMMIT;")
        node = os.urandom(8).hex()
        now = clock.iso()
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO schema_versions (version, applied_at, source, digest) VALUES (1, ?, ?, ?)",
            (now, "schema.sql", hashlib.sha256(sql.encode()).hexdigest()),
        )
        migrations.stamp(conn)  # schema.sql is the current storage: nothing to migrate
        conn.executemany(
            "INSERT INTO settings (key, value) VALUES (?, ?)",
            [("station_id", node), ("township", township), ("name", name), ("created_at", now),
             ("hlc", str(hlc.ZERO)), ("seal_count", "0"), ("unlock_failures", "0"),
             ("blind_index_bits", str(DEFAULT_BITS)),
             # A new store has every search index from its first record.
             ("search_index", str(search_forms.GENERATION))],
        )
        conn.execute("COMMIT")

    @classmethod
    def open(cls, home: Path | str, *, clock: Clock = SYSTEM_CLOCK) -> Store:
        """Open an existing store, locked."""
        home = Path(home)
        path = home / DB_FILE
        if not path.exists():
            from sync.errors import NotInitialized

            raise NotInitialized(
                f"{home} 中没有站点数据库，请先运行 station init",
                f"no station store in {home}; run `station init` first",
            )
        try:
            conn = cls._connect(path)
            try:
                migrations.upgrade(conn, path)
            except BaseException:
                conn.close()
                raise
            return cls(home, conn, clock)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and (disk := disk_error(exc, home)):
                raise disk from exc
            raise StoreError(f"无法打开站点数据库：{exc}", f"cannot open the station store: {exc}") from exc

    def close(self) -> None:
        """Lock the store and close its connections (after a write under way, if any)."""
        self.forget_pin()
        self.lock()
        with self._lock, self._readers_lock:
            self._closed = True
            for conn in self._readers.values():
                conn.close()
            self._readers.clear()
            self._writer.close()

    def reload_schema(self) -> None:
        """Read the definition tables again, after a schema bundle changed them (committed:
        the next transaction, on any thread, writes under the new schema)."""
        self.schema = load_schema(self.conn)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ keys and clerks

    @property
    def unlocked(self) -> bool:
        return self._keys is not None

    def lock(self) -> None:
        """Forget the data key: nothing can be read or written until the next unlock. (A
        transaction already under way finishes with the keys it started with.)"""
        self._keys = None
        self.clerk = None
        # `grant` stays: only an unlock changes it, before the new keys are set, so a read
        # under way never finds a wider grant than the keys it holds were opened with.

    def _open_with(self, data_key: bytes, clerk: str | None,
                   on_index: Callable[[int, int], None] | None = None) -> None:
        bits = int(self._setting("blind_index_bits") or DEFAULT_BITS)
        self.grant = self.keyring.grant_of(clerk)
        suite = self.suite
        generation = rekey.generation_of(self._setting("key_generation"))
        older: dict[int, bytes] = {}
        state = rekey.state_of(self._setting("rekey"))
        if state is not None:  # a rekey under way: the old key too, until it is done
            older[state.from_generation] = rekey.old_key(
                Sealer(data_key, suite, generation), self._setting(rekey.OLD_KEY) or "")
        self._keys = (data_key, Sealer(data_key, suite, generation, older),
                      BlindIndex(data_key, bits, suite, older.values()))
        self.clerk = clerk
        self._complete_search_index(on_index)

    def _complete_search_index(self, on_index: Callable[[int, int], None] | None) -> None:
        """The first unlock after an upgrade builds the search indexes the store lacks (a
        migration cannot: it runs without the data key). A full disk or a lock from another
        thread stops it where it got to; the next unlock goes on from there."""
        with suppress(DiskError, LockedError):
            self.build_search_index(on_index)

    def unlock(self, passphrase: str, clerk: str | None = None,
               on_index: Callable[[int, int], None] | None = None) -> str:
        """Open the store with a clerk's passphrase; returns the clerk's name. The first
        unlock after an upgrade also builds the new search indexes, with `on_index(done,
        total)` after each step (see `build_search_index`)."""
        self._wait_after_failures()
        if self.wiped:
            raise StationWiped("此站点已被县级平台吊销，本机口令已销毁；请联系县级信息中心",
                               "this station was revoked by the county and its keys destroyed;"
                               " contact county IT")
        try:
            opened = self.keyring.open_slot(passphrase, clerk)
        except WrongPassphrase:
            failures = int(self._setting("unlock_failures") or 0) + 1
            self._set_settings(unlock_failures=str(failures),
                               unlock_failed_at=str(self.clock.wall_ms()))
            self._audit_unlock("unlock_failed", clerk or "", {"via": "passphrase", "in_a_row": failures})
            wait = keys.unlock_delay(failures)
            raise WrongPassphrase(
                f"口令不正确（连续第 {failures} 次）" + (f"，请等待 {wait:.0f} 秒后再试" if wait else ""),
                f"wrong passphrase ({failures} in a row)" + (f"; wait {wait:.0f} s" if wait else ""),
            ) from None
        if self._setting("unlock_failures") != "0":
            self._set_settings(unlock_failures="0")
        self.forget_pin()  # a passphrase starts a new shift: the last one's PIN goes
        data_key, name = opened.data_key, opened.clerk
        if opened.legacy:  # a slot from before rotation: give it its key pair now
            with suppress(DiskError, LockedError), self._transaction():
                self.keyring.upgrade_slot(opened)
        self._open_with(data_key, name, on_index)
        self._audit_unlock("unlock", name, {"via": "passphrase"})
        return name

    def _audit_unlock(self, action: str, clerk: str, detail: Mapping[str, Any]) -> None:
        """An unlock (or a failed one) in the audit trail. Its own transaction: a failed
        unlock has no keys, and an entry names no personal value, so none are needed. A full
        disk or a write lock held elsewhere loses the entry, not the unlock."""
        role = roles.CLERK
        with suppress(ClerkError):  # the role of the slot named (a failed unlock's too)
            role = self.keyring.grant_of(clerk or None).role
        with suppress(DiskError, LockedError), self._transaction() as txn:
            audit_log.append(txn.cursor, self.clock.iso(), clerk, action, detail=detail, role=role)

    def record(self, action: str, target: str = "", detail: Mapping[str, Any] | None = None) -> None:
        """An entry of the audit trail for what the unlocked clerk did outside a write (an
        export); writes record themselves (`Writes.audit`)."""
        with self.atomic() as writes:
            writes.audit(action, target, detail)

    def audit_trail(self, after: int = 0, limit: int | None = None) -> list[AuditEntry]:
        """The audit trail's entries after seq `after`, oldest first (a clerk's to read)."""
        self.require("admin", roles.ADMIN_ENTITY)
        return audit_log.entries(self.conn, after, limit)

    # The shift PIN (station/shift_pin.py): set after a passphrase unlock, it reopens the
    # store after an idle lock within the same shift, at a fraction of the Argon2id cost.
    def set_pin(self, pin: str) -> None:
        """Let the unlocked clerk reopen the store with `pin` until the end of the shift."""
        data_key = self._require_key()
        if self.clerk is None:
            raise ClerkError("恢复密钥打开的工作站不能设置班次密码",
                             "a store opened with the recovery key cannot set a PIN")
        self.forget_pin()
        self._pin = ShiftPin(data_key, self.clerk, pin, self.clock.wall_ms())

    def pin_clerk(self) -> str | None:
        """Whose shift PIN can reopen the store now (None: only a passphrase can)."""
        pin = self._pin
        if pin is not None and not pin.live(self.clock.wall_ms()):
            self.forget_pin()
            return None
        return pin.clerk if pin is not None else None

    def unlock_with_pin(self, pin: str) -> str:
        """Reopen the store with the shift PIN; returns the clerk's name. WrongPin leaves
        tries; PinUnavailable means the slot is gone and the passphrase is needed."""
        slot = self._pin
        if slot is None:
            raise PinUnavailable("没有班次密码，请输入口令", "no shift PIN is set; type the passphrase")
        try:
            data_key = slot.open(pin, self.clock.wall_ms())
        except PinUnavailable:
            self.forget_pin()
            self._audit_unlock("unlock_failed", slot.clerk, {"via": "pin", "pin_destroyed": True})
            raise
        except WrongPassphrase:
            self._audit_unlock("unlock_failed", slot.clerk, {"via": "pin"})
            raise
        self._open_with(data_key, slot.clerk)
        self._audit_unlock("unlock", slot.clerk, {"via": "pin"})
        return slot.clerk

    def forget_pin(self) -> None:
        """Destroy the shift PIN slot (end of shift, another clerk, closing)."""
        if self._pin is not None:
            self._pin.destroy()
        self._pin = None

    def unlock_with_recovery(self, county_private_key: bytes) -> None:
        """Open the store with the county's recovery key (when every clerk is gone)."""
        self._open_with(self.keyring.open_with_county_key(county_private_key), None)
        self._audit_unlock("unlock", "", {"via": "recovery_key"})

    def _wait_after_failures(self) -> None:
        delay = keys.unlock_delay(int(self._setting("unlock_failures") or 0))
        since = (self.clock.wall_ms() - int(self._setting("unlock_failed_at") or 0)) / 1000
        if since < delay:
            self.clock.sleep(delay - max(since, 0.0))

    def clerks(self) -> list[dict[str, Any]]:
        """The clerks who can unlock this store (names and slot facts; no secrets)."""
        return self.keyring.clerks()

    def add_clerk(self, clerk: str, passphrase: str, kdf: keys.KdfParams = keys.STANDARD_KDF,
                  grant: roles.Grant = roles.CLERK_GRANT) -> None:
        """Add a keyslot; `grant`: its role (a clerk's, unless given). Only a clerk may."""
        data_key = self._require_key()
        self.require("admin", roles.ADMIN_ENTITY)
        _check_clerk_name(clerk)
        _check_passphrase(passphrase)
        with self._transaction() as txn:
            self.keyring.add_clerk(clerk, passphrase, data_key, kdf, self.clock.iso(), grant)
            if self.wiped:  # opened with the county's key after a wipe: a clerk can open it again
                txn.put_settings(wiped_at="")

    def remove_clerk(self, clerk: str) -> None:
        """Remove a clerk's keyslot; the others keep working. The last one cannot go."""
        self._require_key()
        self.require("admin", roles.ADMIN_ENTITY)
        with self._transaction():
            self.keyring.remove_clerk(clerk)

    def change_passphrase(
        self, clerk: str, new_passphrase: str, kdf: keys.KdfParams = keys.STANDARD_KDF
    ) -> None:
        """Rewrap the data key for `clerk` under a new passphrase (store must be unlocked)."""
        data_key = self._require_key()
        if clerk != self.clerk:  # one's own passphrase, whatever the role; another's: a clerk
            self.require("admin", roles.ADMIN_ENTITY)
        _check_passphrase(new_passphrase)
        with self._transaction():
            grant = self.keyring.grant_of(clerk)
            self.keyring.remove_clerk(clerk, keep_one=False)
            self.keyring.add_clerk(clerk, new_passphrase, data_key, kdf, self.clock.iso(), grant)

    @property
    def revoked_at(self) -> str:
        """When this station heard that the county revoked it ("" never, or replaced since):
        a sync in this process or another (the daemon hears it first; the kiosk locks on it)."""
        return self._setting("revoked_at") or ""

    @property
    def wiped(self) -> bool:
        """County IT revoked this box with --wipe and it destroyed its clerks' keyslots."""
        return bool(self._setting("wiped_at"))

    def wipe_keys(self) -> int:
        """Destroy every clerk's keyslot and the shift PIN, then lock: no passphrase opens
        this store again (county IT revoked the box with --wipe; the sync pushed what it could
        first). The county's recovery slot stays: the box's backup follows it, and the box
        that replaces it is restored from that backup and opened with the county's key.
        `secure_delete` overwrites the slots' bytes in the file, and the WAL is folded in and
        truncated, so the wrapped keys are not left in freed pages. Returns the slots gone."""
        self.forget_pin()
        with self._lock:
            self._writer.execute("PRAGMA secure_delete = ON")
            try:
                with self._transaction() as txn:
                    gone = self.keyring.destroy_clerk_slots()
                    txn.put_settings(wiped_at=self.clock.iso(), station_key="")
            finally:
                self._writer.execute("PRAGMA secure_delete = OFF")
            self.lock()
            self._fold_wal()  # the slots' old pages are not left in its frames
        return gone

    def set_county_key(self, county_public_key: bytes) -> None:
        """Add (or replace) the recovery slot sealed to the county's X25519 public key."""
        data_key = self._require_key()
        self.require("admin", roles.ADMIN_ENTITY)
        with self._transaction():
            self.keyring.set_county_key(data_key, county_public_key, self.clock.iso())

    def _check_generation(self) -> None:
        """Inside a write transaction: if another process changed the data key since this one
        unlocked, lock (what it holds would seal under the old key) and say so."""
        keys_now = self._keys
        if keys_now is None:
            return
        if keys_now[1].generation != rekey.generation_of(settings.get(self._writer, "key_generation")):
            self.forget_pin()
            self.lock()
            raise KeyRotated("数据密钥已更换，请重新解锁", "the data key was changed: unlock again")

    # ------------------------------------------------------------------ data-key rotation

    def rekey_state(self) -> rekey.State | None:
        """Where a data-key change under way has got to (None: none is)."""
        return rekey.state_of(self._setting("rekey"))

    @property
    def key_generation(self) -> int:
        """How many times the data key was changed (0: the store's first key)."""
        return rekey.generation_of(self._setting("key_generation"))

    def rekey_skipped(self) -> int:
        """Values the last completed rekey could not open (altered on disk), left as they were."""
        return int(self._setting("rekey_not_opened") or 0)

    def start_rekey(self, remove: str | None = None) -> int:
        """Make a new data key and give it to every clerk's slot and the county's recovery
        slot in place of the old one, in one transaction (`remove`: a clerk's slot deleted in
        it first, `station clerk remove NAME --rotate`). The old key stays, sealed under the
        new one, until `continue_rekey` has sealed everything again. Returns the new key's
        generation."""
        old, sealer, _ = self._require_keys()
        self.require("admin", roles.ADMIN_ENTITY)
        if self.clerk is None and remove is None and not self.keyring.count():
            raise RekeyError("没有办事员能接收新密钥", "no clerk could receive the new key")
        new = keys.new_data_key()
        with self._lock:
            self._writer.execute("PRAGMA secure_delete = ON")  # the old wrapped keys zeroed
            try:
                with self.atomic() as writes:
                    if remove is not None:
                        self.keyring.remove_clerk(remove)
                    generation = rekey.start(writes, old, new, sealer.generation, self.clock.iso())
                    writes.audit("rekey", "", {"phase": "start", "generation": generation,
                                               **({"removed": remove} if remove else {})})
            finally:
                self._writer.execute("PRAGMA secure_delete = OFF")
            self.forget_pin()  # the shift PIN wraps the old key
            self._open_with(new, self.clerk)
        return generation

    def continue_rekey(self, progress: Callable[[int, int], None] | None = None,
                       batch: int = rekey.BATCH, until: Callable[[], bool] | None = None) -> bool:
        """Seal everything again under the new key, `batch` rows per transaction, calling
        `progress(done, total)` after each; stops early when `until()` says so (the kiosk
        locking, the sync's round). True once the rekey is complete (or none was under way).
        Each step commits its cursor with its rows: kill it anywhere and it resumes here."""
        self._require_keys()
        state = self.rekey_state()
        if state is None:
            return True
        total = rekey.total_rows(self._count_rows)
        while state is not None:
            if until is not None and until():
                return False
            # The lock per step, not for the whole work: the kiosk's own saves go in between.
            with self._lock:
                self._writer.execute("PRAGMA secure_delete = ON")  # old ciphertext zeroed when freed
                try:
                    with self.atomic() as writes:
                        state = rekey.step(writes, batch)
                    # Fold this step's pages in now, in the rekey's own time: left to SQLite's
                    # automatic checkpoint, a clerk's save paid for many steps at once (7.7 s
                    # at seed scale, docs/BENCHMARKS.md).
                    self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    self._writer.execute("PRAGMA secure_delete = OFF")
            if progress is not None:
                progress(state.done if state else total, total)
        with self._lock:
            self._open_with(self._require_key(), self.clerk)  # the old key leaves memory
            self._fold_wal()
        return True

    def _count_rows(self, table: str) -> int:
        if table == "settings":
            return 1
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def _fold_wal(self) -> None:
        """Fold the WAL into the file and empty it, so old pages are not left in its frames.
        A reader holding it (litestream, which copies the WAL itself) would make that wait for
        ever: try for two seconds, then leave it to litestream's own checkpoints."""
        self._writer.execute(f"PRAGMA busy_timeout = {WIPE_CHECKPOINT_MS}")
        try:
            with suppress(sqlite3.OperationalError):
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._writer.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")

    def _require_keys(self) -> tuple[bytes, Sealer, BlindIndex]:
        keys_now = self._keys  # read once: another thread may lock the store meanwhile
        if keys_now is None:
            raise LockedError("数据已锁定，请先输入口令", "the store is locked; unlock it first")
        return keys_now

    def _require_key(self) -> bytes:
        return self._require_keys()[0]

    def _require_sealer(self) -> tuple[Sealer, BlindIndex]:
        _, sealer, index = self._require_keys()
        return sealer, index

    # ------------------------------------------------------------------ settings

    @property
    def suite(self) -> CryptoSuite:
        """The store's crypto suite, chosen at `station init --crypto` (intl if none)."""
        return suite_named(self._setting("crypto"))

    def _setting(self, key: str) -> str | None:
        return settings.get(self.conn, key)

    def _set_settings(self, **values: str) -> None:
        with self._transaction() as txn:
            txn.put_settings(**values)

    def note(self, **values: str) -> None:
        """Settings written whether or not the store is unlocked: what the sync notes of
        itself (its last error, a revocation) once the store is locked under it. Nothing
        sealed: these are the box's own facts, not a clerk's data."""
        self._set_settings(**values)

    def mark_restored(self) -> dict[str, int]:
        """Just restored from a backup: remember the last change number the backup holds, so
        the next sync first recovers what the hub got after it (syncer.recover)."""
        last = int(self.conn.execute(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0),"
            " coalesce((SELECT max(seq) FROM changes), 0))").fetchone()[0])
        earlier = self._setting("recover_after")
        if earlier:
            # Restored again before the first restore recovered: the changes written since
            # that one were never confirmed by the hub either, so recovery starts there.
            last = min(last, int(earlier))
        with self.atomic() as writes:
            writes.put_settings(recover_after=str(int(last)))
        return {"recover_after": int(last)}

    def settings(self) -> dict[str, str]:
        return settings.all_settings(self.conn)

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        """BEGIN IMMEDIATE ... COMMIT, with the clock and the seal count saved inside it."""
        with self._lock:
            cursor = self._writer.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            self._writing = threading.get_ident()
            try:
                last = hlc.parse(settings.get(self._writer, "hlc") or str(hlc.ZERO))
                self._check_generation()
                _, sealer, index = self._keys or (None, None, None)
                txn = Transaction(cursor, last, clock=self.clock, station_id=self.station_id,
                                  schema=self.schema, ids=self._ids, sealer=sealer, index=index,
                                  clerk=self.clerk, grant=self.grant)
                sealed_before = sealer.sealed_count if sealer else 0
                yield txn
                if txn.last != last:
                    txn.put_settings(hlc=str(txn.last))
                sealed = (sealer.sealed_count if sealer else 0) - sealed_before
                if sealed:
                    cursor.execute(
                        "UPDATE settings SET value = CAST(value AS INTEGER) + ? WHERE key = 'seal_count'",
                        (sealed,),
                    )
                cursor.execute("COMMIT")
            except BaseException as exc:
                # After a full disk SQLite may have rolled back by itself already.
                with suppress(sqlite3.Error):
                    cursor.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError) and (disk := disk_error(exc, self.home)):
                    raise disk from exc
                raise
            finally:
                self._writing = None

    # ------------------------------------------------------------------ reading records

    def _row(self, record_id: str) -> dict[str, Any] | None:
        return fetch_row(self.conn, record_id)

    def _live_row(self, entity: EntityDef, record_id: str) -> dict[str, Any]:
        return check_live(entity, record_id, self._row(record_id))

    def _open_fields(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return open_fields(self._require_sealer()[0], row)

    def _present(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A record as `get` and `export` show it: id, entity and fields, nothing local."""
        values = self._open_fields(row)
        entity = self.schema.entities.get(row["entity"])
        order = [f.name for f in entity.fields] if entity else []
        known = {n: values[n] for n in order if n in values}
        # Values of fields this station's schema does not know yet are kept and shown last.
        extra = {n: v for n, v in sorted(values.items()) if n not in known}
        return {"id": row["id"], "entity": row["entity"], "fields": {**known, **extra}}

    def get(self, entity_name: str, record_id: str) -> dict[str, Any]:
        entity = self.schema.entity(entity_name)
        self.require("read", entity.name)
        row = self._live_row(entity, record_id)
        self.require("read", entity.name, grid=row["grid"], own=self._own(row))
        return self._present(row)

    # ------------------------------------------------------------------ roles

    def require(self, action: str, entity_name: str, *, grid: str | None = None,
                own: bool | None = None) -> None:
        """RoleRefused unless the unlocked slot's role may (station/roles.py)."""
        found = self.schema.entities.get(entity_name)
        labels = (found.label_zh, found.name) if found else roles.ADMIN_LABELS
        roles.check(self.grant, action, entity_name, labels, grid=grid, own=own)

    def _own(self, row: Mapping[str, Any]) -> bool | None:
        """Whether a record is the unlocked volunteer's own (None for other roles)."""
        grant = self.grant
        if grant.reach != "own":
            return None
        return roles.is_own(grant, own_ids(self.conn, row))

    def reach_sql(self) -> tuple[str, list[Any]]:
        """SQL narrowing a list of records to the role's reach (" AND ..."), and its args."""
        grant = self.grant
        if grant.reach == "grids":
            return f" AND grid IN ({', '.join('?' * len(grant.grids))})", sorted(grant.grids)
        if grant.reach == "own":
            v = grant.volunteer or ""
            return (" AND (id = ? OR owner = ? OR json_extract(clear, '$.volunteer') = ? OR owner IN"
                    " (SELECT id FROM records WHERE json_extract(clear, '$.volunteer') = ?))",
                    [v, v, v, v])
        return "", []

    def export(
        self,
        entity_name: str | None = None,
        on_error: Callable[[str, TamperedError], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Current records sorted by id. A record that fails to open raises, or goes to
        `on_error` so the others can still be read."""
        self._require_sealer()
        reach, more = self.reach_sql()
        if entity_name is not None:
            self.schema.entity(entity_name)
            self.require("export", entity_name)
            rows = self.db.query(
                f"SELECT * FROM records WHERE deleted = 0 AND entity = ?{reach} ORDER BY id",
                [entity_name, *more])
        else:
            for name in self.schema.entities:
                self.require("export", name)
            rows = self.db.query(f"SELECT * FROM records WHERE deleted = 0{reach} ORDER BY id", more)
        for row in rows:
            try:
                yield self._present(row)
            except TamperedError as exc:
                if on_error is None:
                    raise
                on_error(row["id"], exc)

    def page(self, entity_name: str, after: str = "", limit: int = 50,
             before: str = "") -> list[dict[str, Any]]:
        """One page of an entity's live records in id order, after (or, going back, before)
        an id: keyset paging, so the thousandth page costs what the first does. Only the
        page's records are opened."""
        self._require_sealer()
        self.schema.entity(entity_name)
        self.require("read", entity_name)
        reach, more = self.reach_sql()
        if before:
            rows = list(self.db.query(
                f"SELECT * FROM records WHERE entity = ? AND deleted = 0 AND id < ?{reach}"
                " ORDER BY id DESC LIMIT ?", [entity_name, before, *more, limit]))[::-1]
        else:
            rows = list(self.db.query(
                f"SELECT * FROM records WHERE entity = ? AND deleted = 0 AND id > ?{reach}"
                " ORDER BY id LIMIT ?", [entity_name, after, *more, limit]))
        return [self._present(row) for row in rows]

    def read_version(self) -> tuple[int, int] | None:
        """What this thread reads, as a token that changes once any other connection (this
        store's writer, the daemon, a CLI) has committed: a screen that kept what it read can
        tell whether to read again. None inside this thread's own transaction."""
        conn = self.conn
        if conn is self._writer:
            return None
        return id(conn), int(conn.execute("PRAGMA data_version").fetchone()[0])

    def count(self, entity_name: str) -> int:
        """Live records of an entity (clear columns only: works while locked), within the
        unlocked role's reach (a gridworker's grids)."""
        reach, more = self.reach_sql()
        return int(self.conn.execute(
            f"SELECT count(*) FROM records WHERE entity = ? AND deleted = 0{reach}",
            (entity_name, *more)).fetchone()[0])

    def find(self, term: str, entity_name: str | None = None,
             limit: int = search.DEFAULT_LIMIT) -> search.Found:
        """Records an indexed field of which `term` matches as clerks search: a whole ID
        number, phone or name, a surname, a name's pinyin initials, an ID number's last 6 or
        4 characters, a phone's last 4 digits. Ranked (station/search_forms.py), each match
        saying how it matched; at most `limit`, and whether more matched."""
        sealer, index = self._require_sealer()
        entities = [self.schema.entity(entity_name)] if entity_name else list(self.schema.entities.values())
        for entity in entities:
            self.require("search", entity.name)
        found = search.find(self.conn, sealer, index, entities, term, limit, self._present)
        if self.grant.reach == "grids":  # a gridworker finds the records of their grids only
            held = {m.record["id"] for m in found.matches if (row := self._row(m.record["id"]))
                    and row["grid"] in self.grant.grids}
            found = replace(found, matches=[m for m in found.matches if m.record["id"] in held])
        return found

    def search(self, term: str, entity_name: str | None = None,
               limit: int = search.DEFAULT_LIMIT) -> list[dict[str, Any]]:
        """The records `find` finds, best first."""
        return [m.record for m in self.find(term, entity_name, limit).matches]

    def build_search_index(self, progress: Callable[[int, int], None] | None = None,
                           chunk: int = INDEX_CHUNK) -> int:
        """Give the records written before this software the derived search indexes
        (surname, initials, last digits), `chunk` records a transaction, each step recording
        how far it got: a crash part-way loses nothing, and the next call resumes. Called at
        every unlock (a setting says when the current generation is complete, so it is one
        read after that). `progress(done, total)` after each step. How many were indexed."""
        if self._setting("search_index") == str(search_forms.GENERATION):
            return 0
        total = self._unindexed_estimate()
        done = 0
        while True:
            with self.atomic() as writes:
                count, complete = writes.index_search_forms(chunk)
            done += count
            if progress is not None:
                progress(done, max(total, done))
            if complete:
                return done

    def _unindexed_estimate(self) -> int:
        """How many live records are still to index (for the progress shown)."""
        entities = [e.name for e in self.schema.entities.values() if e.indexed_fields]
        marks = ", ".join("?" * len(entities))
        return int(self.conn.execute(
            f"SELECT count(*) FROM records WHERE deleted = 0 AND entity IN ({marks}) AND id > ?",
            (*entities, self._setting("search_index_after") or "")).fetchone()[0])

    def registered(self, entity_name: str, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """The live record already registered under these values' key (a person's ID number,
        an organisation's credit code), as `get` shows it, or None: no such record, no key
        in `values`, or an entity without a key. Found through the key's blind index, its
        few candidates opened and compared; nothing is written. The write path refuses a
        second record with the same key; a form or an import asks first, to show it."""
        sealer, index = self._require_sealer()
        entity = self.schema.entity(entity_name)
        key = key_of(entity, values)
        if key is None:
            return None
        holders = Registry(self.conn, sealer, index).holders(entity, key)
        return self._present(self._live_row(entity, holders[0])) if holders else None

    def reveal(self, entity_name: str, record_id: str, field: str) -> Any:
        """A masked field's whole value for the unlocked clerk, the reveal recorded (see
        `Writes.reveal`)."""
        with self.atomic() as writes:
            return writes.reveal(entity_name, record_id, field)

    def reveals(self) -> list[dict[str, Any]]:
        """Every recorded reveal, oldest first: seq, at (UTC), record, entity, field, clerk
        (a clerk's to read, as the audit trail is)."""
        sealer, _ = self._require_sealer()
        self.require("admin", roles.ADMIN_ENTITY)
        return [{"seq": r["seq"], "at": r["at"], "record": r["record_id"], "entity": r["entity"],
                 "field": r["field"],
                 "clerk": sealer.open_value(r["clerk"], reveal_ad(r["record_id"], r["field"], r["at"]))}
                for r in self.db.query("SELECT * FROM reveals ORDER BY seq")]

    @property
    def mask_names(self) -> bool:
        """Whether lists mask names too (the `mask_names` setting; on unless set to 0)."""
        return self._setting("mask_names") != "0"

    def changes(self, since: int = 0) -> Iterator[Change]:
        """The change log after sequence number `since`, in order."""
        for r in self.db.query("SELECT * FROM changes WHERE seq > ? ORDER BY seq", [since]):
            yield Change(
                seq=r["seq"], record_id=r["record_id"], entity=r["entity"], op=r["op"],
                grid=r["grid"], clear=json.loads(r["clear"]), sealed=json.loads(r["sealed"]),
                hlc=r["hlc"], base=json.loads(r["base"]), schema_version=r["schema_version"],
                receipt=r["receipt"], rejected=r["rejected"],
            )

    def rejected(self) -> list[dict[str, Any]]:
        """Changes the hub refused and nobody has resent yet: what, when, and why."""
        return [{"seq": r["seq"], "record": r["record_id"], "entity": r["entity"], "op": r["op"],
                 "fields": sorted([*json.loads(r["clear"]), *json.loads(r["sealed"])]),
                 "reason": r["rejected"], "at": r["acked_at"]}
                for r in self.db.query("SELECT * FROM changes WHERE rejected IS NOT NULL"
                                       " AND resent_as IS NULL ORDER BY seq")]

    def resend(self, seq: int) -> int:
        """Send a refused change again, as the record stands now (after the clerk fixed it);
        the new change's sequence number."""
        with self.atomic() as writes:
            return writes.resend(seq)

    def resend_ahead_of_hub(self) -> list[int]:
        """See `Writes.resend_ahead_of_hub`."""
        with self.atomic() as writes:
            return writes.resend_ahead_of_hub()

    def status(self) -> dict[str, Any]:
        """What a clerk or a script wants to know at a glance; works while locked."""
        settings = self.settings()
        one = self.conn.execute
        counts = self._record_counts()
        return {
            "station_id": settings["station_id"],
            "township": settings["township"],
            "name": settings["name"],
            "schema_version": self.schema.version,
            "crypto": settings.get("crypto", INTL),
            "pending": one(
                "SELECT count(*) FROM changes WHERE receipt IS NULL AND rejected IS NULL"
            ).fetchone()[0],
            "rejected": one("SELECT count(*) FROM changes WHERE rejected IS NOT NULL"
                            " AND resent_as IS NULL").fetchone()[0],
            "conflicts": one("SELECT count(*) FROM conflicts WHERE resolved_at IS NULL").fetchone()[0],
            # Attachments whose bytes have not all reached the hub yet.
            "files_pending": one("SELECT count(*) FROM blobs WHERE sent_at IS NULL").fetchone()[0],
            "last_sync": settings.get("last_sync"),
            "last_receipt": settings.get("last_receipt"),
            "enrolled": "hub_url" in settings,
            "records": counts,
            "clerks": one("SELECT count(*) FROM keyslots WHERE kind = 'passphrase'").fetchone()[0],
            "recovery_slot": "county_public_key" in settings,
            "seal_count": int(settings.get("seal_count", "0")),
            "key_generation": rekey.generation_of(settings.get("key_generation")),
            # A change of data key under way (`station rekey --resume` finishes it).
            "rekey": rekey.summary(settings.get("rekey")),
            "sync": {
                "hub": settings.get("hub_url"),
                "last_success": settings.get("last_success"),
                "last_error": settings.get("last_error") or None,
                "last_error_at": settings.get("last_error_at"),
                # When the daemon's last round found the hub busy (it tries again by itself).
                "busy_at": settings.get("busy_at") or None,
                "last_round": settings.get("last_round"),
                "pull_cursor": int(settings.get("pull_cursor", "0")),
            },
        }

    def _record_counts(self) -> dict[str, int]:
        """Live records per entity. The count reads the whole records_live index (45 ms at
        251,175 records, four times that on a quarter core) and the home screen asks every
        five seconds, so a reader keeps the last count until its connection sees a commit:
        SQLite's data_version changes when any other connection (this store's writer, the
        daemon, a CLI) has committed since."""
        conn = self.conn
        fresh = lambda: {e: n for e, n in conn.execute(  # noqa: E731
            "SELECT entity, count(*) FROM records WHERE deleted = 0 GROUP BY entity ORDER BY entity")}
        if conn is self._writer:
            return fresh()  # its own commits do not move its data_version
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        kept: tuple[sqlite3.Connection, int, dict[str, int]] | None = getattr(self._local, "counts", None)
        if kept is not None and kept[0] is conn and kept[1] == version:
            return dict(kept[2])
        counts = fresh()
        self._local.counts = (conn, version, counts)
        return dict(counts)

    # ------------------------------------------------------------------ the one write path

    @contextmanager
    def atomic(self) -> Iterator[Writes]:
        """One transaction of writes: all of them land, or none (see `station.writes`)."""
        self._require_sealer()  # a locked store refuses before the transaction starts
        with self._transaction() as txn:
            yield Writes(txn)

    def add(self, entity_name: str, values: Mapping[str, Any]) -> str:
        """Add one record; returns its new id."""
        with self.atomic() as writes:
            return writes.add(entity_name, values)

    def add_many(self, entity_name: str, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        """Add records all-or-nothing; an error names the (1-based) position of the bad one."""
        return self.add_lines(entity_name, enumerate(rows, start=1))

    def add_lines(
        self, entity_name: str, rows: Iterable[tuple[int, Mapping[str, Any]]], action: str = "add"
    ) -> list[str]:
        """Add (line number, record) pairs in one transaction: the first bad record, named by
        its line, stops the whole import and nothing of it is saved. Line 0 means no line.
        `action`: what the audit trail calls it ("import": a spreadsheet)."""
        with self.atomic() as writes:
            writes.bulk_action = action
            return writes.add_lines(entity_name, rows)

    def update(self, entity_name: str, record_id: str, values: Mapping[str, Any]) -> bool:
        """Change some fields of a record; returns False when nothing actually changed."""
        with self.atomic() as writes:
            return writes.update(entity_name, record_id, values)

    def delete(self, entity_name: str, record_id: str) -> None:
        """Tombstone a record: it stays (so the delete can sync) but is gone from every view."""
        with self.atomic() as writes:
            writes.delete(entity_name, record_id)


def _check_township(code: str) -> None:
    if not (len(code) == 9 and code.isascii() and code.isdigit()):
        raise ValidationError("township", "township_code", "乡镇代码应为 9 位数字",
                              "a township code is 9 digits")


def _check_clerk_name(name: str) -> None:
    if not name.strip() or len(name) > MAX_CLERK_NAME or not name.isprintable():
        raise ValidationError("clerk", "text", "办事员姓名不能为空、不超过 50 字且不含控制字符",
                              "a clerk name must be 1-50 printable characters")


def _check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValidationError("passphrase", "min_length", f"口令至少 {MIN_PASSPHRASE} 个字符",
                              f"a passphrase has at least {MIN_PASSPHRASE} characters")
