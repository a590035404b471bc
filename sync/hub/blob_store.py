"""Attachment bytes at the hub: sealed chunks behind the same `Storage` as the records.

Stations send a file's chunks in any order, each acknowledged on its own; the file is whole
when its last missing chunk arrives, and is then checked against its SHA-256 (a file that does
not match is dropped, to be sent again). Files are addressed by that SHA-256 alone, so the
same photo from two stations is kept, and sent, once. Chunks are sealed under the hub's data
key bound to (file, index): the database holds no file's bytes in clear.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from sync import attachments as files
from sync.errors import NotFound, ValidationError
from sync.hub.storage import Storage, Tx
from sync.seal import Sealer


class BlobStore:
    def __init__(self, storage: Storage, sealer: Sealer, now: Callable[[], str]) -> None:
        self.storage = storage
        self.sealer = sealer
        self.now = now

    def missing(self, station: str, wanted: Sequence[tuple[str, int]]) -> dict[str, list[int]]:
        """For each (sha256, size) a station holds: the chunks the hub still needs ([] when
        it has the file whole). Files new to the hub are registered on the way."""
        out: dict[str, list[int]] = {}
        for sha256, size in wanted:
            _check_file(sha256, size)
            with self.storage.transaction() as tx:
                known = self._known(tx, station, sha256, size)
                if known[2]:
                    out[sha256] = []
                    continue
                held = tx.blob_chunk_indexes(sha256)
                if len(held) == known[1]:  # every chunk came, but the last two together
                    self._finish(tx, sha256, known[1])
                    out[sha256] = []
                    continue
            out[sha256] = [i for i in range(known[1]) if i not in held]
        return out

    def put(self, station: str, sha256: str, size: int, idx: int, data: bytes) -> bool:
        """Keep one chunk; True when the hub now has the whole file."""
        _check_file(sha256, size)
        files.check_chunk(size, idx, len(data))
        with self.storage.transaction() as tx:
            _size, chunks, complete = self._known(tx, station, sha256, size)
            if complete:
                return True
            tx.put_blob_chunk(sha256, idx, self.sealer.seal_bytes(data, files.chunk_ad(sha256, idx)))
            if len(tx.blob_chunk_indexes(sha256)) < chunks:
                return False
            whole = self._finish(tx, sha256, chunks)
        if not whole:
            raise ValidationError("sha256", "mismatch", "附件内容与其 SHA-256 不符，已丢弃，请重新发送",
                                  "the file's bytes do not match its SHA-256; dropped, send it again")
        return True

    def _known(self, tx: Tx, station: str, sha256: str, size: int) -> tuple[int, int, bool]:
        known = tx.blob(sha256)
        if known is None:
            tx.add_blob(sha256, size, files.chunk_count(size), station, self.now())
            known = tx.blob(sha256)
            assert known is not None
        if known[0] != size and not known[2]:
            # Still arriving under another size: whoever said that size cannot have had the
            # file (its hash would not match anyway). Start again under this one, so nobody
            # can keep a photo out by announcing its hash with a wrong size first.
            tx.reset_blob(sha256, size, files.chunk_count(size), station)
            return size, files.chunk_count(size), False
        if known[0] != size:
            raise ValidationError("size", "mismatch", f"此文件在县级平台的大小是 {known[0]} 字节",
                                  f"the hub has this file whole, of {known[0]} bytes, not {size}")
        return known

    def _finish(self, tx: Tx, sha256: str, chunks: int) -> bool:
        """Check a file whose chunks have all come; mark it whole, or drop its chunks."""
        digest = hashlib.sha256()
        for i in range(chunks):
            digest.update(self._open(tx, sha256, i))
        if digest.hexdigest() == sha256:
            tx.complete_blob(sha256, self.now())
            return True
        tx.drop_blob_chunks(sha256)
        return False

    def _open(self, tx: Tx, sha256: str, idx: int) -> bytes:
        sealed = tx.blob_chunk(sha256, idx)
        if sealed is None:
            raise NotFound(f"县级平台没有附件 {sha256[:12]} 的第 {idx} 块",
                           f"the hub has no chunk {idx} of {sha256[:12]}")
        return self.sealer.open_bytes(sealed, files.chunk_ad(sha256, idx))

    def chunk(self, sha256: str, idx: int) -> bytes:
        """One chunk of a file the hub has whole."""
        with self.storage.transaction() as tx:
            self._whole(tx, sha256)
            return self._open(tx, sha256, idx)

    def read(self, sha256: str) -> bytes:
        """A whole file, as the station that sent it had it."""
        files.check_sha256(sha256)
        with self.storage.transaction() as tx:
            chunks = self._whole(tx, sha256)
            data = b"".join(self._open(tx, sha256, i) for i in range(chunks))
        return data

    def _whole(self, tx: Tx, sha256: str) -> int:
        known = tx.blob(sha256)
        if known is None:
            raise NotFound(f"县级平台没有附件 {sha256}", f"the hub has no attachment {sha256}")
        if not known[2]:
            held = len(tx.blob_chunk_indexes(sha256))
            raise NotFound(f"附件尚未完整到达县级平台（已收到 {held}/{known[1]} 块）",
                           f"the attachment has not fully arrived ({held} of {known[1]} chunks)")
        return known[1]


def _check_file(sha256: str, size: int) -> None:
    files.check_sha256(sha256)
    if not 0 < size <= files.MAX_FILE_BYTES:
        raise ValidationError("size", "max_bytes", f"文件大小应为 1 到 {files.MAX_FILE_BYTES} 字节",
                              f"a file's size must be 1 to {files.MAX_FILE_BYTES} bytes")
