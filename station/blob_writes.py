"""The write path of attachment bytes: the `blobs` and `blob_chunks` tables.

Bound to one open transaction (`Writes.blobs`), like `station.writes` for records. A file is
kept as sealed chunks addressed by its SHA-256, so the same photo attached twice is stored
once; `blobs` says how many of its chunks are here (`stored`), whether the hub has it all
(`sent_at`) and whether a clerk asked for it (`wanted`).
"""

from __future__ import annotations

from station.transaction import Transaction
from sync import attachments as files


class BlobWrites:
    """Attachment bytes written in one transaction."""

    def __init__(self, txn: Transaction) -> None:
        self.txn = txn

    def store(self, data: bytes, sha256: str, sent: bool) -> None:
        """Keep a whole file (sealed, chunk by chunk); `sent`: the hub has it already."""
        sealer, _ = self.txn.keys()
        cursor, now = self.txn.cursor, self.txn.clock.iso()
        chunks = files.chunk_count(len(data))
        cursor.execute("INSERT OR IGNORE INTO blobs (sha256, size, chunks, sent_at, created_at)"
                       " VALUES (?, ?, ?, ?, ?)", (sha256, len(data), chunks, now if sent else None, now))
        cursor.executemany(
            "INSERT OR IGNORE INTO blob_chunks (sha256, idx, data) VALUES (?, ?, ?)",
            [(sha256, i, sealer.seal_bytes(data[i * files.CHUNK_BYTES:(i + 1) * files.CHUNK_BYTES],
                                           files.chunk_ad(sha256, i))) for i in range(chunks)])
        cursor.execute("UPDATE blobs SET stored = chunks WHERE sha256 = ?", (sha256,))

    def expect(self, sha256: str, size: int, wanted: bool = False) -> None:
        """Note a file whose bytes are at the hub (and, `wanted`, that a clerk asked for it)."""
        now = self.txn.clock.iso()
        self.txn.cursor.execute(
            "INSERT OR IGNORE INTO blobs (sha256, size, chunks, sent_at, created_at)"
            " VALUES (?, ?, ?, ?, ?)", (sha256, size, files.chunk_count(size), now, now))
        if wanted:
            self.txn.cursor.execute("UPDATE blobs SET wanted = 1 WHERE sha256 = ?", (sha256,))

    def put_chunk(self, sha256: str, size: int, idx: int, data: bytes) -> tuple[int, int]:
        """Keep one fetched chunk, sealed; (chunks now held, chunks of the file)."""
        sealer, _ = self.txn.keys()
        cursor = self.txn.cursor
        self.expect(sha256, size)
        cursor.execute("INSERT OR IGNORE INTO blob_chunks (sha256, idx, data) VALUES (?, ?, ?)",
                       (sha256, idx, sealer.seal_bytes(data, files.chunk_ad(sha256, idx))))
        cursor.execute("UPDATE blobs SET stored = (SELECT count(*) FROM blob_chunks WHERE"
                       " sha256 = ?) WHERE sha256 = ?", (sha256, sha256))
        stored, chunks = cursor.execute("SELECT stored, chunks FROM blobs WHERE sha256 = ?",
                                        (sha256,)).fetchone()
        return int(stored), int(chunks)

    def drop_chunks(self, sha256: str) -> None:
        """Forget a file's bytes (they did not match its SHA-256), to be fetched again."""
        self.txn.cursor.execute("DELETE FROM blob_chunks WHERE sha256 = ?", (sha256,))
        self.txn.cursor.execute("UPDATE blobs SET stored = 0 WHERE sha256 = ?", (sha256,))

    def mark_sent(self, sha256: str) -> None:
        """The hub has the whole file."""
        self.txn.cursor.execute("UPDATE blobs SET sent_at = ? WHERE sha256 = ?",
                                (self.txn.clock.iso(), sha256))

    def fetched(self, sha256: str) -> None:
        """The file is whole here: nobody is waiting for it any more."""
        self.txn.cursor.execute("UPDATE blobs SET wanted = 0 WHERE sha256 = ?", (sha256,))
