"""Parcels: sealed, signed files that carry sync between a station and its hub on a USB stick.

A station with no link for weeks writes its outbox as a parcel (`station export-changes`),
county IT applies it at the hub (`county import-changes`), which answers with a parcel of
receipts and the station's pull (`station import-return`); a new station loads its township
from a seed parcel (`county seed`, `station load-seed`). Anything on a stick can be lost,
copied, altered or carried to the wrong box, so a parcel is:

    MAGIC || u32 header length || header (JSON) || frames || Ed25519 signature
    frame = u32 length || AES-256-GCM ciphertext of one plaintext frame

* sealed to its recipient's X25519 key: an ephemeral key of the sender's (in the header) and
  the recipient's static key give, through HKDF-SHA256 under this format's own label, the
  AES key; each frame has its own nonce (the header's, plus the frame's number) and the
  header as associated data, so no frame can be moved under another header. Nothing inside is
  readable without the recipient's private key;
* signed by its sender's Ed25519 key over MAGIC, the header and the SHA-256 of the frames, so
  the hub knows which station wrote it, the station knows its county answered, and no frame
  can be dropped, repeated or reordered;
* read in two passes, a frame at a time: the signature is checked over the whole file first,
  then the frames are opened as the caller takes them. A seed of a whole township is tens of
  megabytes; a kiosk holds one frame (one push batch or pull page) at once.

Each plaintext frame is one of the protocol's own bodies (a push batch, its results, a pull
page), checked by the protocol's decoders. Pure but for reading and writing the file.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sync.crypto_suite import SigningKey, VerifyKey
from sync.errors import SyncError

MAGIC = b"TSPARCEL2\n"
SUFFIX = ".tsp"  # the files' name ending on a stick
KINDS = ("changes", "return", "seed")
SIGNATURE_BYTES = 64
MAX_HEADER_BYTES = 16 * 1024
MAX_FRAME_BYTES = 64 * 1024 * 1024
_LENGTH = struct.Struct(">I")
_READ = 1024 * 1024


class ParcelRefused(SyncError):
    """A parcel that is not whole, not for us, not from whom it says, or not of its kind;
    `reason` names which, for the tests and the CLI's JSON."""

    def __init__(self, reason: str, zh: str, en: str) -> None:
        super().__init__(zh, en)
        self.reason = reason


@dataclass(frozen=True)
class Parcel:
    header: dict[str, Any]
    frames: Iterator[bytes]  # opened one at a time, in order, as they are taken


def _aes_key(shared: bytes, kind: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"township-station parcel v2 " + kind.encode()).derive(shared)


def _nonce(base: bytes, index: int) -> bytes:
    return base[:4] + (int.from_bytes(base[4:], "big") ^ index).to_bytes(8, "big")


def _signed_text(head: bytes, body_digest: bytes) -> bytes:
    return MAGIC + _LENGTH.pack(len(head)) + head + body_digest


def write(out: IO[bytes], kind: str, header: dict[str, Any], frames: Iterable[bytes],
          recipient: X25519PublicKey, signer: SigningKey) -> int:
    """Write a parcel to `out`, a frame at a time; its size in bytes. `header` is readable by
    anyone (ids and times, never personal data); the frames only by the recipient."""
    if kind not in KINDS:
        raise ValueError(kind)
    ephemeral = X25519PrivateKey.generate()
    nonce = os.urandom(12)
    head = json.dumps({**header, "kind": kind, "nonce": nonce.hex(),
                       "ephemeral": ephemeral.public_key().public_bytes_raw().hex()},
                      ensure_ascii=False, sort_keys=True).encode()
    aes = AESGCM(_aes_key(ephemeral.exchange(recipient), kind))
    out.write(MAGIC + _LENGTH.pack(len(head)) + head)
    body = hashlib.sha256()
    size = len(MAGIC) + 4 + len(head)
    for index, plain in enumerate(frames):
        sealed = aes.encrypt(_nonce(nonce, index), plain, head)
        piece = _LENGTH.pack(len(sealed)) + sealed
        body.update(piece)
        out.write(piece)
        size += len(piece)
    out.write(signer.sign(_signed_text(head, body.digest())))
    return size + SIGNATURE_BYTES


def write_file(path: Path, kind: str, header: dict[str, Any], frames: Iterable[bytes],
               recipient: X25519PublicKey, signer: SigningKey) -> int:
    """The same into `path`, mode 0600, written beside it and renamed: never half a file."""
    tmp = path.with_name(path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            size = write(out, kind, header, frames, recipient, signer)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return size


def seal(kind: str, header: dict[str, Any], frames: Iterable[bytes], recipient: X25519PublicKey,
         signer: SigningKey) -> bytes:
    """A parcel's bytes in memory (small parcels, tests)."""
    out = io.BytesIO()
    write(out, kind, header, frames, recipient, signer)
    return out.getvalue()


def _damaged() -> ParcelRefused:
    return ParcelRefused("format", "同步文件不完整或已损坏", "the sync file is cut short or damaged")


def _head(src: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    if src.read(len(MAGIC)) != MAGIC:
        raise ParcelRefused("format", "不是本系统的同步文件", "not a Township Station sync file")
    raw = src.read(4)
    if len(raw) != 4:
        raise _damaged()
    (size,) = _LENGTH.unpack(raw)
    head = src.read(size) if size <= MAX_HEADER_BYTES else b""
    if len(head) != size or not head:
        raise _damaged()
    try:
        header = json.loads(head)
    except ValueError:
        raise _damaged() from None
    if not isinstance(header, dict) or header.get("kind") not in KINDS:
        raise _damaged()
    return header, head


def _pieces(src: IO[bytes], end: int) -> Iterator[bytes]:
    """The sealed frames between here and `end` (where the signature starts)."""
    while src.tell() < end:
        raw = src.read(4)
        if len(raw) != 4:
            raise _damaged()
        (size,) = _LENGTH.unpack(raw)
        if size > MAX_FRAME_BYTES or src.tell() + size > end:
            raise _damaged()
        yield raw + src.read(size)


def read_header(path: Path) -> dict[str, Any]:
    """The header alone, unverified: to know who says they sent it, and so which key checks it."""
    with path.open("rb") as src:
        return _head(src)[0]


def open_file(path: Path, kind: str, sender: Callable[[dict[str, Any]], VerifyKey],
              recipient: Callable[[dict[str, Any]], X25519PrivateKey]) -> Parcel:
    """Check the signature over the whole file (by the key `sender` names for this header),
    then hand out its frames opened one by one (with the key `recipient` names)."""
    total = path.stat().st_size
    with path.open("rb") as src:
        header, head = _head(src)
        if header["kind"] != kind:
            raise ParcelRefused("kind", f"这是一份“{header['kind']}”文件，不是“{kind}”文件",
                                f"this is a {header['kind']} file, not a {kind} file")
        end = total - SIGNATURE_BYTES
        if end < src.tell():
            raise _damaged()
        body = hashlib.sha256()
        for piece in _pieces(src, end):
            body.update(piece)
        signature = src.read(SIGNATURE_BYTES)
    try:
        sender(header).verify(signature, _signed_text(head, body.digest()))
    except InvalidSignature:
        raise ParcelRefused("signature", "同步文件的签名不符：文件被改动过，或不是它所称的站点/平台所写",
                            "the sync file's signature does not match: it was altered, or not "
                            "written by whom it names") from None
    try:
        theirs = X25519PublicKey.from_public_bytes(bytes.fromhex(str(header["ephemeral"])))
        aes = AESGCM(_aes_key(recipient(header).exchange(theirs), kind))
        nonce = bytes.fromhex(str(header["nonce"]))
    except (ValueError, KeyError):
        raise _not_ours() from None
    return Parcel(header, _opened(path, len(MAGIC) + 4 + len(head), end, aes, nonce, head))


def _not_ours() -> ParcelRefused:
    return ParcelRefused("sealed", "同步文件无法用本机的密钥打开：它不是写给本站点/平台的",
                         "the sync file does not open with this box's key: it is not meant for it")


def _opened(path: Path, start: int, end: int, aes: AESGCM, nonce: bytes, head: bytes) -> Iterator[bytes]:
    with path.open("rb") as src:
        src.seek(start)
        for index, piece in enumerate(_pieces(src, end)):
            try:
                yield aes.decrypt(_nonce(nonce, index), piece[4:], head)
            except InvalidTag:
                raise _not_ours() from None


# ------------------------------------------------------------------ first-sync seeds
# A seed carries a township's data to a new station on a stick. It is sealed to a one-time
# key county IT gives with the enrollment code (read out or on paper, never on the stick),
# and bound to that code, so only the station enrolled with it loads it.

SEED_KEY_BYTES = 16  # 128 bits: 26 base32 characters


def new_seed_key() -> str:
    raw = base64.b32encode(os.urandom(SEED_KEY_BYTES)).decode().rstrip("=")
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def seed_private(key_text: str) -> X25519PrivateKey:
    """The X25519 key a seed key stands for (dashes, spaces and case do not matter)."""
    raw = key_text.replace("-", "").replace(" ", "").strip().upper()
    try:
        secret = base64.b32decode(raw + "=" * (-len(raw) % 8))
    except ValueError:
        secret = b""
    if len(secret) != SEED_KEY_BYTES:
        raise ParcelRefused("seed_key", "初始数据密钥格式不对：应为 26 个字母或数字（可带短横）",
                            "the seed key is malformed: 26 letters or digits, dashes allowed")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"township-station seed key v1").derive(secret)
    return X25519PrivateKey.from_private_bytes(derived)


def code_binding(code: str) -> str:
    """What a seed's header says of the enrollment code it was made with: a hash under its own
    label (not the hub's stored hash), compared with the code the station enrolled with."""
    normal = code.replace("-", "").strip().upper()
    return hashlib.sha256(b"township-station seed code|" + normal.encode()).hexdigest()
