"""One write path on the station (STYLE.md, convention 3): no module but the write path's own
writes the records, the change log, conflicts, blind indexes or attachment bytes.

The source of station/, tui/ and sync/ is read with `ast`: SQL in string literals (INSERT,
INSERT OR REPLACE, REPLACE, upserts, UPDATE, DELETE) and sqlite-utils table calls
(`.insert/.upsert/.update/.delete…` on one of those tables) are found wherever they are.
A table named only at run time (an f-string placeholder) cannot be seen; none is used.
"""

from __future__ import annotations

import ast
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from station import keys, synthetic
from station.store import Store
from tests.conftest import GRID, PASSPHRASE, TOWNSHIP

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("station", "tui", "sync")
GUARDED = {"records", "changes", "conflicts", "blind_index", "blobs", "blob_chunks", "reveals",
           "sqlite_sequence"}  # sqlite_sequence numbers the change log
WRITE_PATH = {
    "station/writes.py",  # records, changes, conflicts, blind indexes
    "station/blob_writes.py",  # attachment bytes
    # The hub's own database has tables of the same names; its storage is its write path.
    "sync/hub/storage/base.py",
    # Storage migrations rebuild a table whose layout changed, keeping its rows and its
    # AUTOINCREMENT high-water mark: they run before any store is open, in one transaction.
    "station/migrations.py",
    # A data-key rotation seals every row again where it lies, inside a `Writes` transaction
    # (Store.continue_rekey): it changes no value, only the key each is sealed under.
    "station/rekey.py",
}
_QUOTE = r"[\"'`\[]?"
_SQL_WRITE = re.compile(
    rf"\b(?:(?:INSERT(?:\s+OR\s+\w+)?|REPLACE)\s+INTO|DELETE\s+FROM)\s+{_QUOTE}(\w+)"
    rf"|\bUPDATE(?:\s+OR\s+\w+)?\s+{_QUOTE}(\w+){_QUOTE}\s+SET\b", re.IGNORECASE)
_TABLE_WRITES = {"insert", "insert_all", "upsert", "upsert_all", "update", "delete",
                 "delete_where", "lookup", "transform", "drop"}


def _texts(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal; an f-string's placeholders become '?', and
    strings joined with + are joined here too."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value
        elif isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "?"
                                       for v in node.values)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            parts = [_literal(side) for side in (node.left, node.right)]
            if all(p is not None for p in parts):
                yield node.lineno, "".join(p for p in parts if p is not None)


def _literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left), _literal(node.right)
        return None if left is None or right is None else left + right
    return None


def _named_table(node: ast.AST) -> str | None:
    """The table of `db.table("x")`, `db["x"]` or `Table(db, "x")`, if `node` is one."""
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        arg = node.args[0] if name == "table" else node.args[1] if (
            name == "Table" and len(node.args) > 1) else None
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value if isinstance(node.slice.value, str) else None
    return None


def writes_in(source: str) -> list[tuple[int, str]]:
    """(line, table) of every write to a guarded table in a module's source."""
    tree = ast.parse(source)
    found = {(line, table) for line, text in _texts(tree) for m in _SQL_WRITE.finditer(text)
             if (table := (m.group(1) or m.group(2)).lower()) in GUARDED}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            table = _named_table(node.func.value)
            if node.func.attr in _TABLE_WRITES and table in GUARDED:
                found.add((node.lineno, table))
        table = _named_table(node)
        if isinstance(node, ast.Call) and table in GUARDED:  # a Table object of one at all
            found.add((node.lineno, table))
    return sorted(found)


def test_only_the_write_path_writes_records_changes_conflicts_indexes_and_files() -> None:
    outside = [f"{path.relative_to(ROOT)}:{line}: {table}"
               for folder in SCANNED for path in sorted((ROOT / folder).rglob("*.py"))
               if str(path.relative_to(ROOT)) not in WRITE_PATH
               for line, table in writes_in(path.read_text(encoding="utf-8"))]
    assert outside == []


def test_the_write_path_is_where_the_scan_looks() -> None:
    """The allowed modules exist and do write: a renamed module cannot leave a stale pass."""
    for module in WRITE_PATH:
        assert writes_in((ROOT / module).read_text(encoding="utf-8")), module


def test_the_scan_finds_each_kind_of_write() -> None:
    example = '''
cursor.execute("INSERT INTO records (id) VALUES (?)", ())
cursor.execute("INSERT OR REPLACE INTO changes (seq) VALUES (1)")
cursor.execute("REPLACE INTO blobs VALUES (1)")
cursor.execute("insert into conflicts (id) values (?) on conflict (id) do update set id = 1")
cursor.execute("UPDATE  blind_index SET bucket = 1")
cursor.execute(f"DELETE FROM blob_chunks WHERE sha256 = {x}")
cursor.execute("UPDATE " + "records SET deleted = 1")
db.table("changes").upsert({"seq": 1}, pk="seq")
db["conflicts"].delete("x")
Table(db, "blobs")
'''
    assert [table for _, table in writes_in(example)] == [
        "records", "changes", "blobs", "conflicts", "blind_index", "blob_chunks", "records",
        "changes", "conflicts", "blobs"]


def test_the_scan_lets_reads_and_other_tables_be() -> None:
    example = '''
cursor.execute("SELECT * FROM records WHERE id = ?", (x,))
cursor.execute("UPDATE settings SET value = 1 WHERE key = 'records'")
cursor.execute("INSERT INTO keyslots (kind) VALUES ('changes')")
db.table("schema_fields").upsert({"name": "x"}, pk="name")
row["records"]
text = "Update records here"
'''
    assert writes_in(example) == []


def test_a_write_around_the_write_path_is_refused(tmp_path: Path) -> None:
    """What a module reads through is read-only: a write outside a transaction of the
    store fails loudly instead of landing without its change."""
    store = Store.create(tmp_path / "station", township=TOWNSHIP, name="测试站", clerk="王芳",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    record_id = store.add("person", next(synthetic.people(1, [GRID], seed=4)))
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store.conn.execute("DELETE FROM records WHERE id = ?", (record_id,))
    assert store.count("person") == 1
    store.close()
