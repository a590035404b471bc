"""Keyslots: the station's data key wrapped once per clerk and once for the county.

As in LUKS, the records are sealed under one random data key; each clerk's passphrase
derives a key-encryption key (Argon2id, parameters kept in the slot so each slot can be
opened with the cost it was made with) that wraps a copy of it. The recovery slot wraps the
data key to the county's X25519 public key, so the county can reopen a station whose clerks
are all gone without any clerk's passphrase.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sync.crypto_suite import GM_SUITE, INTL_SUITE, CryptoSuite
from sync.errors import WrongPassphrase
from sync.seal import KEY_BYTES, NONCE_BYTES, subkey

SALT_BYTES = 16
_WRAP_AD = b"township-station keyslot v1"
_RECOVERY_PURPOSE = "township-station recovery slot v1"
_GM_WRAPPED_BYTES = 1 + NONCE_BYTES + KEY_BYTES + 16  # an intl slot is one byte shorter


@dataclass(frozen=True)
class KdfParams:
    """How a passphrase becomes a key-encryption key; stored in each slot."""

    kdf: str = "argon2id"
    memory_kib: int = 196_608
    iterations: int = 3
    lanes: int = 4


# Measured on the 2-core development machine (see docs/BENCHMARKS.md): Argon2id with 192 MiB,
# 3 passes and 4 lanes takes 0.6-0.8 s (the machine is noisy), inside the 0.5-1 s a kiosk
# unlock can afford and
# well above RFC 9106's second recommendation (64 MiB, t=3, p=4).
STANDARD_KDF = KdfParams()
# For tests and throwaway demo stores only: the slot records these weak parameters, so a
# store made with them is visibly weak and a real store never silently uses them.
FAST_KDF = KdfParams(memory_kib=8_192, iterations=1, lanes=1)
SCRYPT_KDF = KdfParams(kdf="scrypt", memory_kib=131_072, iterations=1, lanes=1)


def params_to_json(params: KdfParams) -> dict[str, object]:
    return asdict(params)


def params_from_json(data: dict[str, object]) -> KdfParams:
    return KdfParams(
        kdf=str(data["kdf"]), memory_kib=int(str(data["memory_kib"])),
        iterations=int(str(data["iterations"])), lanes=int(str(data["lanes"])),
    )


def derive_kek(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    secret = passphrase.encode("utf-8")
    if params.kdf == "argon2id":
        return Argon2id(salt=salt, length=KEY_BYTES, iterations=params.iterations,
                        lanes=params.lanes, memory_cost=params.memory_kib).derive(secret)
    if params.kdf == "scrypt":
        # scrypt's memory is 128 * r * n bytes; with r = 8, n = memory_kib.
        return Scrypt(salt=salt, length=KEY_BYTES, n=params.memory_kib, r=8,
                      p=params.lanes).derive(secret)
    raise ValueError(f"unknown KDF {params.kdf!r}")


def wrap(kek: bytes, data_key: bytes, suite: CryptoSuite = INTL_SUITE) -> bytes:
    """`nonce || AES-256-GCM(data key)`; under GM `c1 || nonce || SM4-GCM(data key)`, one
    byte longer, so `unwrap` tells the two apart and an intl slot is as it always was."""
    nonce = os.urandom(NONCE_BYTES)
    if suite is not INTL_SUITE:
        return suite.seal_format + nonce + suite.aead(kek).encrypt(nonce, data_key, _WRAP_AD)
    return nonce + AESGCM(kek).encrypt(nonce, data_key, _WRAP_AD)


def unwrap(kek: bytes, wrapped: bytes) -> bytes:
    """The data key, or WrongPassphrase when this KEK does not open the slot."""
    try:
        if len(wrapped) == _GM_WRAPPED_BYTES and wrapped[:1] == GM_SUITE.seal_format:
            return GM_SUITE.aead(kek).decrypt(wrapped[1:1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES:],
                                              _WRAP_AD)
        return AESGCM(kek).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_AD)
    except InvalidTag:
        raise WrongPassphrase("口令不正确", "wrong passphrase") from None


def new_data_key() -> bytes:
    return os.urandom(KEY_BYTES)


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def wrap_to_public(data_key: bytes, public: bytes, purpose: str = _RECOVERY_PURPOSE,
                   suite: CryptoSuite = INTL_SUITE) -> tuple[bytes, bytes]:
    """Seal the data key to an X25519 public key: (ephemeral public key, wrapped key), the
    key wrapped with the suite's cipher (the exchange itself stays X25519: docs/SECURITY.md)."""
    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public))
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    kek = subkey(shared + ephemeral_public + public, purpose)
    return ephemeral_public, wrap(kek, data_key, suite)


def unwrap_with_private(private_raw: bytes, ephemeral_public: bytes, wrapped: bytes,
                        purpose: str = _RECOVERY_PURPOSE) -> bytes:
    private = X25519PrivateKey.from_private_bytes(private_raw)
    shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    public = private.public_key().public_bytes_raw()
    return unwrap(subkey(shared + ephemeral_public + public, purpose), wrapped)


def wrap_for_county(data_key: bytes, county_public: bytes) -> tuple[bytes, bytes]:
    """Seal the data key to the county's X25519 key: (ephemeral public key, wrapped key)."""
    return wrap_to_public(data_key, county_public)


def unwrap_as_county(county_private: bytes, ephemeral_public: bytes, wrapped: bytes) -> bytes:
    try:
        return unwrap_with_private(county_private, ephemeral_public, wrapped)
    except WrongPassphrase:
        raise WrongPassphrase("县级恢复密钥不匹配", "the county recovery key does not match") from None


# A clerk's slot holds an X25519 key pair of the clerk's own: the private key wrapped under
# the passphrase's KEK, the data key sealed to the public key. A rotation (station/rekey.py)
# can then give every remaining clerk the new data key without their passphrases, and a
# clerk who left, who may remember the old data key, has no way to the new one.
CLERK_PURPOSE = "township-station clerk slot v2"


def new_clerk_pair() -> tuple[bytes, bytes]:
    """(private, public) raw X25519 keys for a clerk's slot."""
    private = X25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def unlock_delay(failures: int) -> float:
    """Seconds to wait before the next attempt after `failures` wrong passphrases in a row.

    The first three tries are free (typos happen); after that the wait doubles, capped at a
    minute so a clerk who finally remembers is not locked out for long.
    """
    if failures < 3:
        return 0.0
    return float(min(2 ** (failures - 3), 60))
