"""Sealing values with AES-256-GCM (SM4-GCM under the GM suite), bound to where they belong.

A sealed value is `version(1) || nonce(12) || ciphertext+tag` under the store's first data
key, and `version(1) || generation(1) || nonce(12) || ciphertext+tag` under a key made by a
rotation (station/rekey.py): the generation names the key, so a store part-way through a
rekey opens each value with the key it was sealed under, and a process still holding an
older key knows at once that it must unlock again. The associated data names the
record, entity and field, so a ciphertext copied into another record or field fails to open.
Nonces are random 96-bit values; AES-GCM stays safe for about 2**32 of them per key, so the
sealer counts what it seals and the store records the count (see docs/SCHEMA.md on rotation).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sync.crypto_suite import INTL_SUITE, CryptoSuite, suite_of_format
from sync.errors import KeyRotated, TamperedError

FORMAT_V1 = b"\x01"
# A value sealed under a rotated key: its suite's generation byte, then the key's generation
# (1-255). The first byte tells the suite either way: 01 and 10 intl, c1 and d0 GM.
FORMAT_GENERATION = b"\x10"
_GENERATION_BYTE = {b"\x01": b"\x10", b"\xc1": b"\xd0"}
_FIRST_FORMAT = {v: k for k, v in _GENERATION_BYTE.items()}
MAX_GENERATION = 255
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
NONCE_BYTES = 12
KEY_BYTES = 32


def field_ad(record_id: str, entity: str, field: str) -> bytes:
    """Associated data that ties a sealed value to one field of one record.

    `Sealer.seal_fields` builds the same bytes from a shared prefix; keep the two in step."""
    return f"{record_id}|{entity}|{field}".encode()


def subkey(key: bytes, purpose: str) -> bytes:
    """An independent key for one purpose, derived from `key` with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=purpose.encode()).derive(key)


def prefix(generation: int, suite: CryptoSuite = INTL_SUITE) -> bytes:
    """The bytes before the nonce of a value sealed under key `generation` of `suite`."""
    if generation == 0:
        return suite.seal_format
    if not 0 < generation <= MAX_GENERATION:
        raise ValueError("a key generation is 0-255")
    return _GENERATION_BYTE[suite.seal_format] + bytes([generation])


def generation_of(blob: bytes) -> int | None:
    """The key generation a sealed value names (None: not a sealed value)."""
    if suite_of_format(blob[:1]) is not None:
        return 0
    if blob[:1] in _FIRST_FORMAT and len(blob) > 1:
        return blob[1]
    return None


def _suite_named(blob: bytes) -> CryptoSuite | None:
    return suite_of_format(_FIRST_FORMAT.get(blob[:1], blob[:1]))


def text_generation(sealed: str) -> int | None:
    """`generation_of` for base64 text, reading only its first four characters."""
    try:
        return generation_of(base64.b64decode(sealed[:4], validate=True))
    except (ValueError, TypeError):
        return None


class Sealer:
    """Seals under one data key (its generation) with the cipher of `suite` (AES-256-GCM for
    intl; SM4-GCM for gm, whose values start with their own format byte), and opens under it
    or an older key it holds (`older`: generation -> key, while a rekey seals again what the
    older key sealed)."""

    def __init__(self, key: bytes, suite: CryptoSuite = INTL_SUITE, generation: int = 0,
                 older: Mapping[int, bytes] | None = None) -> None:
        if len(key) != KEY_BYTES or any(len(k) != KEY_BYTES for k in (older or {}).values()):
            raise ValueError("a data key is 32 bytes")
        self.suite = suite
        self.generation = generation
        self._prefix = prefix(generation, suite)
        self._aead = self._cipher(key)
        self._opens = {g: self._cipher(k) for g, k in (older or {}).items()}
        self._opens[generation] = self._aead
        self.sealed_count = 0

    def _cipher(self, key: bytes) -> Any:
        return AESGCM(key) if self.suite is INTL_SUITE else self.suite.aead(key)

    def holds(self, generation: int) -> bool:
        return generation in self._opens

    def seal_bytes(self, plaintext: bytes, ad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        self.sealed_count += 1
        return self._prefix + nonce + self._aead.encrypt(nonce, plaintext, ad)

    def open_bytes(self, blob: bytes, ad: bytes) -> bytes:
        named = _suite_named(blob)
        if named is not None and named is not self.suite:
            raise _other_suite(ad, self.suite, named)
        generation = generation_of(blob)
        if generation is None:
            raise _tampered(ad)
        start = len(prefix(generation, self.suite))
        if len(blob) < start + NONCE_BYTES + 16:
            raise _tampered(ad)
        aead = self._opens.get(generation)
        if aead is None:
            if generation > self.generation:
                raise KeyRotated("数据密钥已更换，请重新解锁", "the data key was changed: unlock again")
            raise _tampered(ad)
        try:
            return aead.decrypt(blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :], ad)
        except InvalidTag:
            raise _tampered(ad) from None
    def seal_value(self, value: Any, ad: bytes) -> str:
        """Seal a JSON value; the result is base64 text, ready for a JSON column."""
        plaintext = _encode(value).encode()
        return base64.b64encode(self.seal_bytes(plaintext, ad)).decode("ascii")

    def seal_fields(self, record_id: str, entity: str,
                    items: Iterable[tuple[str, Any]]) -> dict[str, str]:
        """Seal several fields of one record: `seal_value` for each, in one tight loop.

        The bulk-import path seals about six values per person; binding the callables to
        locals and building the associated data from one prefix saved a fifth of the sealing
        time on the kiosk-class machine (docs/BENCHMARKS.md)."""
        encrypt, urandom, b64 = self._aead.encrypt, os.urandom, binascii.b2a_base64
        head = self._prefix
        prefix_ad = f"{record_id}|{entity}|"
        out: dict[str, str] = {}
        for name, value in items:
            nonce = urandom(NONCE_BYTES)
            blob = head + nonce + encrypt(nonce, _encode(value).encode(), (prefix_ad + name).encode())
            out[name] = b64(blob, newline=False).decode("ascii")
        self.sealed_count += len(out)
        return out

    def open_value(self, sealed: str, ad: bytes) -> Any:
        try:
            blob = base64.b64decode(sealed, validate=True)
        except (ValueError, TypeError):
            raise _tampered(ad) from None
        return json.loads(self.open_bytes(blob, ad))

    def reseal_value(self, sealed: str, ad: bytes) -> str:
        """The same value sealed under this sealer's key (as it is, if it already is)."""
        if text_generation(sealed) == self.generation:
            return sealed
        return base64.b64encode(self.seal_bytes(self._open_text(sealed, ad), ad)).decode("ascii")

    def reseal_bytes(self, blob: bytes, ad: bytes) -> bytes:
        if generation_of(blob) == self.generation:
            return blob
        return self.seal_bytes(self.open_bytes(blob, ad), ad)

    def _open_text(self, sealed: str, ad: bytes) -> bytes:
        try:
            blob = base64.b64decode(sealed, validate=True)
        except (ValueError, TypeError):
            raise _tampered(ad) from None
        return self.open_bytes(blob, ad)


def _tampered(ad: bytes) -> TamperedError:
    where = ad.decode(errors="replace").replace("|", " / ")
    return TamperedError(
        f"加密数据无法打开（{where}）：已被改动或不属于此处",
        f"sealed value cannot be opened ({where}): altered or moved from elsewhere",
    )


def _other_suite(ad: bytes, ours: CryptoSuite, theirs: CryptoSuite) -> TamperedError:
    where = ad.decode(errors="replace").replace("|", " / ")
    return TamperedError(
        f"加密数据（{where}）以{theirs.zh}加密，本处使用{ours.zh}，无法打开",
        f"sealed value ({where}) is sealed under {theirs.en}; this side uses {ours.en}",
    )
