"""Parcels: sealed, signed files that carry sync between a station and its hub on a USB stick.

A station with no link for weeks writes its outbox as a parcel (`station export-changes`),
county IT applies it at the hub (`county import-changes`), which answers with a parcel of
receipts and the station's pull (`station import-return`). Anything on the stick can be
lost, copied, altered or carried to the wrong box, so a parcel is:

    MAGIC || u32 header length || header (JSON) || AES-256-GCM ciphertext || Ed25519 signature

* sealed to its recipient's X25519 key: an ephemeral key of the sender's (in the header) and
  the recipient's static key give, through HKDF-SHA256 under this format's own label, the
  AES key; the header is the associated data, so the ciphertext cannot be moved under
  another header. Nothing inside is readable without the recipient's private key;
* signed by its sender's Ed25519 key over everything before the signature, so the hub knows
  which station wrote it and the station knows its county answered;
* framed inside: the plaintext is a run of length-prefixed frames, each one of the protocol's
  own bodies (a push batch, its results, a pull page), checked by the protocol's decoders.

Pure: the keys are handed in; reading and writing the stick is the callers'.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sync.errors import SyncError

MAGIC = b"TSPARCEL1\n"
SUFFIX = ".tsp"  # the files' name ending on a stick
KINDS = ("changes", "return")
SIGNATURE_BYTES = 64
MAX_HEADER_BYTES = 16 * 1024
MAX_FRAME_BYTES = 64 * 1024 * 1024
_LENGTH = struct.Struct(">I")


class ParcelRefused(SyncError):
    """A parcel that is not whole, not for us, not from whom it says, or not of its kind;
    `reason` names which, for the tests and the CLI's JSON."""

    def __init__(self, reason: str, zh: str, en: str) -> None:
        super().__init__(zh, en)
        self.reason = reason


@dataclass(frozen=True)
class Parcel:
    header: dict[str, Any]
    frames: list[bytes]


def _aes_key(shared: bytes, kind: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"township-station parcel v1 " + kind.encode()).derive(shared)


def frame(parts: Iterable[bytes]) -> bytes:
    return b"".join(_LENGTH.pack(len(p)) + p for p in parts)


def unframe(data: bytes) -> list[bytes]:
    out, at = [], 0
    while at < len(data):
        if at + 4 > len(data):
            raise ParcelRefused("frames", "文件内容不完整", "the parcel's content is cut short")
        (size,) = _LENGTH.unpack_from(data, at)
        at += 4
        if size > MAX_FRAME_BYTES or at + size > len(data):
            raise ParcelRefused("frames", "文件内容不完整", "the parcel's content is cut short")
        out.append(data[at:at + size])
        at += size
    return out


def seal(kind: str, header: dict[str, Any], frames: Iterable[bytes], recipient: X25519PublicKey,
         signer: Ed25519PrivateKey) -> bytes:
    """The parcel's bytes. `header` is readable by anyone (ids and times, never personal
    data); the frames only by the recipient."""
    if kind not in KINDS:
        raise ValueError(kind)
    ephemeral = X25519PrivateKey.generate()
    nonce = os.urandom(12)
    head = {**header, "kind": kind, "nonce": nonce.hex(),
            "ephemeral": ephemeral.public_key().public_bytes_raw().hex()}
    head_bytes = json.dumps(head, ensure_ascii=False, sort_keys=True).encode()
    key = _aes_key(ephemeral.exchange(recipient), kind)
    body = AESGCM(key).encrypt(nonce, frame(frames), head_bytes)
    signed = MAGIC + _LENGTH.pack(len(head_bytes)) + head_bytes + body
    return signed + signer.sign(signed)


def read_header(data: bytes) -> dict[str, Any]:
    """The header alone, unverified: to know who says they sent it, and so which key checks it."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4 + SIGNATURE_BYTES:
        raise ParcelRefused("format", "不是本系统的同步文件", "not a Township Station sync file")
    (size,) = _LENGTH.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + 4
    if size > MAX_HEADER_BYTES or start + size + SIGNATURE_BYTES > len(data):
        raise ParcelRefused("format", "同步文件不完整", "the sync file is cut short")
    try:
        header = json.loads(data[start:start + size])
    except ValueError:
        raise ParcelRefused("format", "同步文件的头部已损坏", "the sync file's header is damaged") from None
    if not isinstance(header, dict) or header.get("kind") not in KINDS:
        raise ParcelRefused("format", "同步文件的头部已损坏", "the sync file's header is damaged")
    return header


def open_parcel(data: bytes, kind: str, sender: Callable[[dict[str, Any]], Ed25519PublicKey],
                recipient: Callable[[dict[str, Any]], X25519PrivateKey]) -> Parcel:
    """Check the signature (by the key `sender` names for this header), then open the
    frames (with the key `recipient` names); ParcelRefused for anything else."""
    header = read_header(data)
    if header["kind"] != kind:
        raise ParcelRefused("kind", f"这是一份“{header['kind']}”文件，不是“{kind}”文件",
                            f"this is a {header['kind']} file, not a {kind} file")
    signed, signature = data[:-SIGNATURE_BYTES], data[-SIGNATURE_BYTES:]
    try:
        sender(header).verify(signature, signed)
    except InvalidSignature:
        raise ParcelRefused("signature", "同步文件的签名不符：文件被改动过，或不是它所称的站点/平台所写",
                            "the sync file's signature does not match: it was altered, or not "
                            "written by whom it names") from None
    head_len = _LENGTH.unpack_from(data, len(MAGIC))[0]
    head_bytes = data[len(MAGIC) + 4:len(MAGIC) + 4 + head_len]
    body = signed[len(MAGIC) + 4 + head_len:]
    try:
        theirs = X25519PublicKey.from_public_bytes(bytes.fromhex(str(header["ephemeral"])))
        key = _aes_key(recipient(header).exchange(theirs), kind)
        plain = AESGCM(key).decrypt(bytes.fromhex(str(header["nonce"])), body, head_bytes)
    except (InvalidTag, ValueError, KeyError):
        raise ParcelRefused("sealed", "同步文件无法用本机的密钥打开：它不是写给本站点/平台的",
                            "the sync file does not open with this box's key: it is not meant "
                            "for it") from None
    return Parcel(header, unframe(plain))
