"""Files on records (随手拍 photos, scanned agreements), sealed in the store in chunks.

`attach` checks a file against its entity's rule (type told from its first bytes, size after
a photo is shrunk), then in one transaction adds an `attachment` record describing it and
stores its bytes as sealed chunks in `blob_chunks` — in the store's own file, so litestream
replicates them and a backup holds them, never in clear. A file already held (the same photo
attached twice) is stored once: chunks are addressed by the file's SHA-256.

The bytes travel after the records (`station.transfer`); this module keeps where each file
stands: whole here or not, and sent to the hub or not.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.cases import Cases
from station.store import Store
from sync import attachments as files
from sync import clock as hlc
from sync.errors import NotFound, TamperedError, ValidationError
from sync.private import write_private

DEFAULT_LONGEST_SIDE = 1600
# A photo straight from a camera may be far over the stored limit before it is shrunk; past
# this it is not even read.
MAX_PHOTO_INPUT = 64 * 1024 * 1024
# Pillow refuses images with more pixels than this (a "decompression bomb" of a few KB).
MAX_PIXELS = 100_000_000


@dataclass(frozen=True)
class Prepared:
    """A file ready to store: its bytes as they will be kept, and what it is."""

    data: bytes
    media_type: str
    sha256: str
    shrunk: bool


def shrink(data: bytes, media_type: str, longest: int) -> bytes | None:
    """A photo scaled down so its longest side is `longest` pixels, turned upright and
    without its metadata (a camera's GPS and serial number); None when it is small enough."""
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as image:
            if max(image.size) <= longest:
                return None
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((longest, longest), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            if media_type == "image/jpeg":
                upright.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
            else:
                upright.save(out, "PNG", optimize=True)
            return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError("file", "image", f"图片无法读取（已损坏？）：{exc}",
                              f"the image cannot be read (damaged?): {exc}") from None


class Attachments:
    """The attachments of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------ adding

    def longest_side(self) -> int:
        return int(self.store.settings().get("attach_longest_side") or DEFAULT_LONGEST_SIDE)

    def prepare(self, entity: str, path: Path, keep_original: bool = False) -> list[Prepared]:
        """Read and check a file for a record of `entity`: the copy to keep (a photo shrunk),
        and with `keep_original` the photo as taken too. Refusals name the rule."""
        rule = files.rule_for(self.store.schema, entity)
        size = path.stat().st_size
        with path.open("rb") as f:
            media_type = files.sniff(f.read(16))
        files.check_file(rule, media_type, max(size, 1))  # the type first, and not empty
        assert media_type is not None
        if media_type not in files.IMAGE_TYPES or size > MAX_PHOTO_INPUT:
            files.check_file(rule, media_type, size)  # nothing to shrink: refused before reading
        data = path.read_bytes()
        kept = shrink(data, media_type, self.longest_side()) if media_type in files.IMAGE_TYPES else None
        out = [Prepared(kept if kept is not None else data, media_type,
                        hashlib.sha256(kept if kept is not None else data).hexdigest(), kept is not None)]
        if keep_original and kept is not None:
            out.append(Prepared(data, media_type, hashlib.sha256(data).hexdigest(), False))
        for prepared in out:
            files.check_file(rule, media_type, len(prepared.data))
        return out

    def attach(self, entity: str, record_id: str, path: Path, note: str | None = None,
               keep_original: bool = False) -> list[dict[str, Any]]:
        """Add a file to a record; what was stored (the original second, when kept)."""
        schema = self.store.schema
        owner = self.store._live_row(schema.entity(entity), record_id)
        prepared = self.prepare(entity, path, keep_original)
        name = path.name[-200:]
        out = []
        with self.store.atomic() as writes:
            for item in prepared:
                values = {"record": record_id, "record_entity": entity, "name": name,
                          "media_type": item.media_type, "size": len(item.data),
                          "sha256": item.sha256, "grid": owner["grid"],
                          "original": keep_original and not item.shrunk}
                if note:
                    values["note"] = note
                attachment_id = writes.add(files.ENTITY, values)
                writes.blobs.store(item.data, item.sha256, sent=False)
                out.append({"id": attachment_id, "sha256": item.sha256, "size": len(item.data),
                            "media_type": item.media_type, "name": name,
                            "shrunk": item.shrunk, "original": values["original"]})
        return out

    # ------------------------------------------------------------------ reading

    def of(self, record_id: str) -> list[dict[str, Any]]:
        """The attachments of a record, oldest first: what they are and whether their bytes
        are here (`arrived`) and at the hub (`sent`)."""
        rows = self.store.db.query(
            "SELECT r.*, b.stored, b.chunks, b.sent_at FROM records r LEFT JOIN blobs b ON"
            " b.sha256 = json_extract(r.clear, '$.sha256') WHERE r.entity = ? AND r.owner = ?"
            " AND r.deleted = 0 ORDER BY r.id", [files.ENTITY, record_id])
        out = []
        for row in rows:
            record = self.store._present(row)
            out.append({"id": row["id"], **record["fields"],
                        "arrived": row["chunks"] is not None and row["stored"] == row["chunks"],
                        "sent": row["sent_at"] is not None})
        return out

    def get(self, attachment_id: str) -> dict[str, Any]:
        record = self.store.get(files.ENTITY, attachment_id)
        state = self.blob_state(str(record["fields"]["sha256"]))
        return {"id": attachment_id, **record["fields"],
                "arrived": state is not None and state[0] == state[1],
                "sent": bool(state and state[2])}

    def blob_state(self, sha256: str) -> tuple[int, int, str | None] | None:
        """(chunks held, chunks of the file, when the hub had it all) or None."""
        row = self.store.conn.execute("SELECT stored, chunks, sent_at FROM blobs WHERE sha256 = ?",
                                      (sha256,)).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), row[2])

    def chunk(self, sha256: str, idx: int) -> bytes:
        sealer, _ = self.store._require_sealer()
        # Each transfer thread reads through a connection of its own (see Store.conn).
        row = self.store.conn.execute("SELECT data FROM blob_chunks WHERE sha256 = ? AND idx = ?",
                                      (sha256, idx)).fetchone()
        if row is None:
            raise NotFound(f"附件 {sha256[:12]} 的第 {idx} 块不在本站",
                           f"chunk {idx} of {sha256[:12]} is not here")
        return sealer.open_bytes(row[0], files.chunk_ad(sha256, idx))

    def read(self, sha256: str) -> bytes:
        """A whole file, checked against its SHA-256."""
        state = self.blob_state(sha256)
        if state is None or state[0] != state[1]:
            raise NotFound("附件还没有到达本站：请在联网时同步或打开它",
                           "the attachment has not reached this station yet: sync while online")
        data = b"".join(self.chunk(sha256, i) for i in range(state[1]))
        if hashlib.sha256(data).hexdigest() != sha256:
            raise TamperedError(f"附件 {sha256[:12]} 的内容与其指纹不符",
                                f"attachment {sha256[:12]} does not match its SHA-256")
        return data

    def write_out(self, attachment_id: str, out: Path) -> dict[str, Any]:
        """Write an attachment that has arrived to `out` (readable by its owner only)."""
        info = self.get(attachment_id)
        data = self.read(str(info["sha256"]))
        write_private(out, data)
        return {"id": attachment_id, "sha256": info["sha256"], "size": len(data), "out": str(out)}

    # ------------------------------------------------------------------ for the transfer

    def to_send(self) -> list[tuple[str, int]]:
        """(sha256, size) of every whole file here the hub is not known to have, oldest first."""
        return [(str(s), int(n)) for s, n in self.store.conn.execute(
            "SELECT sha256, size FROM blobs WHERE sent_at IS NULL AND stored = chunks"
            " ORDER BY created_at, sha256")]

    def mark_sent(self, sha256: str) -> None:
        with self.store.atomic() as writes:
            writes.blobs.mark_sent(sha256)

    def want(self, attachment_id: str) -> None:
        """A clerk asked for this file while it is not here: fetch it at the next sync."""
        info = self.get(attachment_id)
        with self.store.atomic() as writes:
            writes.blobs.expect(str(info["sha256"]), int(info["size"]), wanted=True)

    def to_fetch(self, only: str | None = None) -> list[tuple[str, str, int]]:
        """(attachment id, sha256, size) of files to bring here: those a clerk asked for, and
        those of this station's own open cases (and their steps) — never the whole county's.
        `only`: just that attachment."""
        own_open = self._own_open_cases()
        out: dict[str, tuple[str, str, int]] = {}
        for rid, owner, clear, wanted in self.store.conn.execute(
                "SELECT r.id, r.owner, r.clear, b.wanted FROM records r"
                " LEFT JOIN blobs b ON b.sha256 = json_extract(r.clear, '$.sha256')"
                " WHERE r.entity = ? AND r.deleted = 0 AND (b.chunks IS NULL OR b.stored < b.chunks)"
                " ORDER BY r.id", (files.ENTITY,)):
            fields = json.loads(clear)
            sha, size = str(fields["sha256"]), int(fields["size"])
            if only is not None and rid != only:
                continue
            if only is not None or wanted or self._case_of(str(owner)) in own_open:
                out.setdefault(sha, (rid, sha, size))
        return list(out.values())

    def _own_open_cases(self) -> set[str]:
        """Ids of the open cases this station opened (their add was stamped here)."""
        own: set[str] = set()
        for workflow in self.store.schema.workflows.values():
            where, args = Cases(self.store, workflow.name)._open_subjects()
            for rid, created in self.store.conn.execute(
                    f"SELECT id, created_hlc FROM records WHERE {where}", args):
                if hlc.parse(created).node == self.store.station_id:
                    own.add(str(rid))
        return own

    def _case_of(self, record_id: str) -> str:
        """The case a record belongs to: itself, or the case of the step it is an event of."""
        row = self.store.conn.execute("SELECT entity, owner FROM records WHERE id = ?",
                                      (record_id,)).fetchone()
        events = {w.event_entity for w in self.store.schema.workflows.values()}
        if row is not None and row[0] in events and row[1]:
            return str(row[1])
        return record_id

    def missing_chunks(self, sha256: str, size: int) -> list[int]:
        held = {int(i) for (i,) in self.store.conn.execute(
            "SELECT idx FROM blob_chunks WHERE sha256 = ?", (sha256,))}
        return [i for i in range(files.chunk_count(size)) if i not in held]

    def put_chunk(self, sha256: str, size: int, idx: int, data: bytes) -> bool:
        """Keep one fetched chunk (sealed, in its own transaction: a cut fetch resumes); True
        when it completes the file, which is then checked against its SHA-256."""
        files.check_chunk(size, idx, len(data))
        with self.store.atomic() as writes:
            stored, chunks = writes.blobs.put_chunk(sha256, size, idx, data)
        if stored != chunks:
            return False
        try:
            self.read(sha256)
        except TamperedError:
            with self.store.atomic() as writes:  # a wrong file is dropped, to be fetched again
                writes.blobs.drop_chunks(sha256)
            raise
        with self.store.atomic() as writes:
            writes.blobs.fetched(sha256)
        return True


# ---------------------------------------------------------------------- showing a file


def viewer() -> str | None:
    """The system's program for opening a file, where there is one (and a display)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return None
    return shutil.which("xdg-open")


def open_with_viewer(data: bytes, name: str, keep_s: float = 120.0) -> str:
    """Show a file with the system viewer from memory-backed storage (/dev/shm), so the
    clear copy never reaches the disk; it is removed after `keep_s` seconds (time enough for
    the viewer to read it) by a process of its own, which outlives a command that has ended.
    The copy's path."""
    program = viewer()
    if program is None:
        raise NotFound("此终端没有图片查看程序（需要图形界面和 xdg-open）",
                       "no image viewer here (needs a graphical session and xdg-open)")
    if not os.path.isdir("/dev/shm"):
        raise NotFound("没有内存文件系统放临时副本，未打开", "no memory-backed directory for the copy")
    fd, path = tempfile.mkstemp(prefix="station-", suffix=Path(name).suffix[:10], dir="/dev/shm")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    for command in (["/bin/sh", "-c", 'sleep "$0"; rm -f -- "$1"', str(keep_s), path],
                    [program, path]):
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    return path
