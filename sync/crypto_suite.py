"""The cryptographic suite of a county (issue 25 point 3): international or national (GM, 国密).

A county is all one or the other, chosen once at `county init --crypto` and `station init
--crypto`; the protocol is otherwise the same. Each suite names the primitives every part uses:

    purpose                         intl (the default)       gm
    sealing a value (sync/seal.py)  AES-256-GCM              SM4-GCM (GB/T 32907), 16-byte key
                                                             derived from the 32-byte data key
    subkeys                         HKDF-SHA256              HKDF-SM3
    blind indexes, MACs             HMAC-SHA256              HMAC-SM3 (GB/T 32905)
    digests (audit chain, request)  SHA-256                  SM3
    request and bundle signatures   Ed25519                  SM2 with SM3 (GB/T 32918), the
                                                             standard's default signer id

The intl suite is exactly what the code used before suites existed, byte for byte, so every
existing store and hub opens unchanged. A sealed value names its suite by its first byte, so
a value of one suite is never tried under the other; a signature names it too (a request by
its `X-Crypto` header, a bundle by an `sm2:` prefix), so one of the other suite is refused by
name rather than as a bad signature. Pure: no I/O beyond the operating system's randomness.

SM2 comes from gmssl (pure Python, reviewed here for what it lacks): its own nonce source is
`random.choice`, so this module always passes it a nonce from `os.urandom`, and it does not
check a signature's range or that a public key is on the curve, so this module does both.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from gmssl import sm2

from sync.errors import ValidationError

INTL = "intl"
GM = "gm"
CRYPTO_HEADER = "X-Crypto"  # names the suite of a request's signature (absent: intl)
SM2_PREFIX = "sm2:"  # a bundle signature under GM (an intl one has no prefix)
TAG_BYTES = 16
_SM4_KEY_PURPOSE = "township-station sm4 key v1"


class Aead(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...
    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


class VerifyKey(Protocol):
    def verify(self, signature: bytes, data: bytes) -> None: ...
    def public_bytes_raw(self) -> bytes: ...


class SigningKey(Protocol):
    def sign(self, data: bytes) -> bytes: ...
    def private_bytes_raw(self) -> bytes: ...
    def public_key(self) -> VerifyKey: ...


class Sm4Gcm:
    """SM4 in GCM mode, with AESGCM's interface: ciphertext || 16-byte tag. (cryptography has
    SM4 as a block cipher, not as an AEAD class.)"""

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise ValueError("an SM4 key is 16 bytes")
        self._key = key

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        encryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(associated_data or b"")
        body = encryptor.update(data) + encryptor.finalize()
        return body + encryptor.tag

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        if len(data) < TAG_BYTES:
            raise InvalidTag
        decryptor = Cipher(algorithms.SM4(self._key),
                           modes.GCM(nonce, data[-TAG_BYTES:])).decryptor()
        decryptor.authenticate_additional_data(associated_data or b"")
        return decryptor.update(data[:-TAG_BYTES]) + decryptor.finalize()


# The SM2 recommended curve (GB/T 32918.5), as gmssl holds it.
_CURVE = sm2.default_ecc_table
_N = int(_CURVE["n"], 16)
_P = int(_CURVE["p"], 16)
_A = int(_CURVE["a"], 16)
_B = int(_CURVE["b"], 16)


def _scalar() -> int:
    """A uniformly random scalar in [1, n-1] from the operating system (never gmssl's own)."""
    while True:
        k = int.from_bytes(os.urandom(32), "big")
        if 1 <= k < _N:
            return k


class Sm2PublicKey:
    """An SM2 public key: 64 bytes, x || y (the uncompressed point without its 04 byte)."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 64:
            raise ValueError("an SM2 public key is 64 bytes")
        x, y = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        if not (x < _P and y < _P and (y * y - x * x * x - _A * x - _B) % _P == 0):
            raise ValueError("not a point of the SM2 curve")
        self._raw = raw
        self._sm2 = sm2.CryptSM2(private_key=None, public_key=raw.hex())

    @classmethod
    def from_public_bytes(cls, raw: bytes) -> Sm2PublicKey:
        return cls(raw)

    def public_bytes_raw(self) -> bytes:
        return self._raw

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raises InvalidSignature unless `signature` (r || s, 64 bytes) is this key's over
        `data`, with SM3 over Z_A || data as the standard says."""
        if len(signature) != 64:
            raise InvalidSignature
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        if not (1 <= r < _N and 1 <= s < _N):
            raise InvalidSignature
        if not self._sm2.verify_with_sm3(signature.hex(), data):
            raise InvalidSignature


class Sm2PrivateKey:
    """An SM2 private key: the scalar d, kept as 32 bytes."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise ValueError("an SM2 private key is 32 bytes")
        d = int.from_bytes(raw, "big")
        if not 1 <= d < _N - 1:
            raise ValueError("not an SM2 private key")
        self._raw = raw
        signer = sm2.CryptSM2(private_key=raw.hex(), public_key="")
        public = bytes.fromhex(signer._kg(d, _CURVE["g"]))
        self._public = Sm2PublicKey(public)
        self._sm2 = sm2.CryptSM2(private_key=raw.hex(), public_key=public.hex())

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        while True:
            d = _scalar()
            if d < _N - 1:
                return cls(d.to_bytes(32, "big"))

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> Sm2PrivateKey:
        return cls(raw)

    def private_bytes_raw(self) -> bytes:
        return self._raw

    def public_key(self) -> Sm2PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        while True:  # gmssl returns None for the rare nonce the standard says to draw again
            signature = self._sm2.sign_with_sm3(data, f"{_scalar():064x}")
            if signature is not None:
                return bytes.fromhex(signature)


@dataclass(frozen=True)
class CryptoSuite:
    name: str
    zh: str  # how a clerk or county IT sees it named
    en: str
    seal_format: bytes  # the first byte of a value sealed under this suite
    hash_name: str  # hashlib / OpenSSL name of the digest

    def _hash(self) -> hashes.HashAlgorithm:
        return hashes.SM3() if self.name == GM else hashes.SHA256()

    def subkey(self, key: bytes, purpose: str, length: int = 32) -> bytes:
        """An independent key for one purpose, derived with HKDF over the suite's digest."""
        return HKDF(algorithm=self._hash(), length=length, salt=None,
                    info=purpose.encode()).derive(key)

    def aead(self, data_key: bytes) -> Aead:
        """The sealing cipher under a 32-byte data key. SM4 takes 16 bytes: they are derived
        with HKDF-SM3, never cut from the data key, so no key bytes serve two ciphers."""
        if self.name == GM:
            return Sm4Gcm(self.subkey(data_key, _SM4_KEY_PURPOSE, 16))
        return AESGCM(data_key)

    def mac(self, key: bytes, data: bytes) -> bytes:
        # The digest named as a string takes OpenSSL's one-shot HMAC (2.5x faster than a
        # hashlib constructor, station/blind_index.py); OpenSSL 3 has SM3 built in.
        return hmac.digest(key, data, self.hash_name)

    def digest(self, data: bytes) -> bytes:
        h = hashes.Hash(self._hash())
        h.update(data)
        return h.finalize()

    def hexdigest(self, data: bytes) -> str:
        return self.digest(data).hex()

    def generate_signing_key(self) -> SigningKey:
        return Sm2PrivateKey.generate() if self.name == GM else Ed25519PrivateKey.generate()

    def signing_key(self, raw: bytes) -> SigningKey:
        """A private signing key from its 32 raw bytes (ValueError if it is not one)."""
        if self.name == GM:
            return Sm2PrivateKey.from_private_bytes(raw)
        return Ed25519PrivateKey.from_private_bytes(raw)

    def verify_key(self, raw: bytes) -> VerifyKey:
        """A public key from its raw bytes (ValueError if it is not one of this suite)."""
        if self.name == GM:
            return Sm2PublicKey.from_public_bytes(raw)
        return Ed25519PublicKey.from_public_bytes(raw)

    @property
    def signature_name(self) -> str:
        return "SM2" if self.name == GM else "Ed25519"


INTL_SUITE = CryptoSuite(INTL, "国际密码（AES-256-GCM、SHA-256、Ed25519）",
                         "international (AES-256-GCM, SHA-256, Ed25519)", b"\x01", "sha256")
GM_SUITE = CryptoSuite(GM, "国密（SM4、SM3、SM2）", "national GM (SM4, SM3, SM2)", b"\xc1", "sm3")
SUITES: dict[str, CryptoSuite] = {INTL: INTL_SUITE, GM: GM_SUITE}


def suite_named(name: str | None, field: str = "crypto") -> CryptoSuite:
    """The suite of a name as a setting, a config or a request says it (None or "": intl, as
    every store and hub made before suites is)."""
    suite = SUITES.get(name or INTL)
    if suite is None:
        raise ValidationError(field, "suite", f"密码体系应为 {' 或 '.join(SUITES)}，而不是 {name}",
                              f"the crypto suite must be {' or '.join(SUITES)}, not {name}")
    return suite


def suite_of_format(first: bytes) -> CryptoSuite | None:
    """The suite a sealed value's first byte names, or None for no known suite."""
    return next((s for s in SUITES.values() if s.seal_format == first), None)


def suite_of_key(key: SigningKey | VerifyKey) -> CryptoSuite:
    return GM_SUITE if isinstance(key, Sm2PrivateKey | Sm2PublicKey) else INTL_SUITE


def mismatch_words(ours: CryptoSuite, theirs: CryptoSuite, what: str = "county"
                   ) -> tuple[str, str]:
    """(Chinese, English) saying that two suites differ, naming both."""
    zh_what = {"county": "县级平台", "request": "请求", "bundle": "数据结构包"}.get(what, what)
    return (f"密码体系不一致：本方为{ours.zh}，{zh_what}为{theirs.zh}；一个县只能全部使用同一种",
            f"crypto suites differ: this side is {ours.en}, the {what} is {theirs.en};"
            " a county is all one suite")
