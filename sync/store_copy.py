"""The copy of a SQLite store kept beside it while it is migrated (the station's and the
embedded hub's): made with `VACUUM INTO`, a consistent snapshot even while litestream or
another process reads the store, and removed by the next open that needs no migration."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sync.errors import MigrationFailed


def copy_path(db: Path, version: int) -> Path:
    """Where the copy of the store at `db`, at storage version `version`, is kept."""
    return db.with_name(f"{db.name}.storage-v{version}.bak")


def copy_beside(conn: sqlite3.Connection, db: Path, version: int) -> Path:
    """Copy the store open on `conn` (outside any transaction) to `copy_path(db, version)`."""
    copy = copy_path(db, version)
    part = copy.with_name(copy.name + ".part")
    part.unlink(missing_ok=True)  # VACUUM INTO refuses to write over a file
    try:
        conn.execute("VACUUM INTO ?", (str(part),))
        os.chmod(part, 0o600)  # as private as the store itself
        os.replace(part, copy)  # a copy under its real name is always whole
    except (sqlite3.Error, OSError) as exc:
        part.unlink(missing_ok=True)
        raise MigrationFailed(
            f"升级前无法复制数据库 {db}（{exc}）：数据库未改动",
            f"cannot copy {db} before migrating it ({exc}): the store is unchanged",
        ) from exc
    return copy


def remove_copies(db: Path) -> None:
    """The store opened at the current version: the copies made before it have served."""
    for old in db.parent.glob(f"{db.name}.storage-v*.bak"):
        old.unlink(missing_ok=True)
