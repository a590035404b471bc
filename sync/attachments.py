"""Attachments as both ends see them: chunks, content addresses, media types and the limits.

A file is addressed by the SHA-256 of its bytes and cut into chunks of `CHUNK_BYTES` (the
last one shorter). The chunk is the unit of everything: each is sealed on its own on the
station and at the hub, sent in one request and acknowledged on its own, so a cut link
resumes at the next missing chunk and a file the hub has whole is never sent again.

What the file is (name, note, the record it belongs to) is an ordinary `attachment` record:
it syncs with the other records, ahead of the bytes. This module is pure: the checks here
run on the station when a file is attached and at the hub when the record arrives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sync.errors import ValidationError
from sync.schema import ATTACHMENT_ENTITY, AttachmentRule, Schema

# 32 KiB: about a second of a 2G link, so a dropped connection costs at most that much
# again; small enough that two requests in flight hide the round trip (docs/BENCHMARKS.md).
CHUNK_BYTES = 32 * 1024
# No schema may allow more than this per file (a bundle asking for more is refused).
MAX_FILE_BYTES = 100 * 1024 * 1024
ENTITY = ATTACHMENT_ENTITY  # the records describing files

# Media types told from the file's first bytes, never from its name.
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
KNOWN_TYPES = ("image/jpeg", "image/png", "application/pdf")
TYPE_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "application/pdf": "PDF"}
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
_SHA256 = re.compile(r"[0-9a-f]{64}")


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes, or None when it is none we know."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    return None


def chunk_count(size: int) -> int:
    return max(1, -(-size // CHUNK_BYTES))


def chunk_length(size: int, idx: int) -> int:
    """How many bytes chunk `idx` of a file of `size` bytes holds."""
    return min(CHUNK_BYTES, size - idx * CHUNK_BYTES)


def chunk_ad(sha256: str, idx: int) -> bytes:
    """Associated data binding a sealed chunk to its file and place."""
    return f"blob|{sha256}|{idx}".encode()


def check_sha256(text: object, field: str = "sha256") -> str:
    if not isinstance(text, str) or not _SHA256.fullmatch(text):
        raise ValidationError(field, "sha256", "应为 64 位小写十六进制的 SHA-256",
                              "must be a SHA-256 as 64 lower-case hex digits")
    return text


def check_chunk(size: int, idx: int, length: int) -> None:
    """A chunk's place and length against the file's size (what the hub stores)."""
    if not 0 <= idx < chunk_count(size):
        raise ValidationError("chunk", "index", f"块序号应为 0 到 {chunk_count(size) - 1}",
                              f"the chunk index must be 0 to {chunk_count(size) - 1}")
    if length != chunk_length(size, idx):
        raise ValidationError("chunk", "length", f"第 {idx} 块应为 {chunk_length(size, idx)} 字节",
                              f"chunk {idx} must be {chunk_length(size, idx)} bytes, not {length}")


def rule_for(schema: Schema, entity: str) -> AttachmentRule:
    """The attachment rule of an entity, or a clear refusal when it takes no files."""
    rule = schema.attachments.get(entity)
    if rule is None:
        label = schema.entities[entity].label_zh if entity in schema.entities else entity
        allowed = "、".join(schema.entities[e].label_zh for e in schema.attachments if e in schema.entities)
        raise ValidationError("entity", "attachments",
                              f"“{label}”记录不能添加附件（可添加附件的：{allowed}）",
                              f"{entity} records take no attachments"
                              f" (these do: {', '.join(schema.attachments)})")
    return rule


def check_file(rule: AttachmentRule, media_type: str | None, size: int) -> None:
    """A file against its entity's rule: an allowed type, not empty, not over the limit."""
    allowed_zh = "、".join(TYPE_NAMES.get(t, t) for t in rule.types)
    if media_type is None or media_type not in rule.types:
        what = TYPE_NAMES.get(media_type or "", "无法识别的类型")
        raise ValidationError("file", "media_type", f"不接受 {what} 文件（允许：{allowed_zh}）",
                              f"{what if media_type else 'an unrecognised'} file is not accepted"
                              f" (allowed: {', '.join(TYPE_NAMES.get(t, t) for t in rule.types)})")
    if size <= 0:
        raise ValidationError("file", "empty", "文件是空的", "the file is empty")
    if size > rule.max_bytes:
        raise ValidationError("file", "max_bytes",
                              f"文件过大：{megabytes(size)}，上限 {megabytes(rule.max_bytes)}",
                              f"the file is too large: {megabytes(size)}, the limit is"
                              f" {megabytes(rule.max_bytes)}")


def check_record(schema: Schema, fields: Mapping[str, Any]) -> None:
    """An attachment record's description against the rule of the entity it belongs to
    (the hub's check of a pushed `attachment`: the station may run another build)."""
    rule = rule_for(schema, str(fields.get("record_entity")))
    size = fields.get("size")
    check_file(rule, fields.get("media_type") if isinstance(fields.get("media_type"), str) else None,
               size if isinstance(size, int) else 0)


def megabytes(size: int) -> str:
    """A file's size as a clerk reads it: bytes, KB or MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
