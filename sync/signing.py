"""Signed requests: every request a station makes is signed with its Ed25519 key.

The signature covers the method, the path (with its query), a SHA-256 digest of the body, the
time and a random nonce, so a request cannot be altered, moved to another endpoint, replayed
later or replayed at once (the hub remembers nonces for the time window). Pure functions: the
hub supplies the time, the station's public key and its memory of nonces.

A request that names its protocol and software versions (protocol 2 on) is signed under the
scheme `TSv2`, whose text adds both: stripping them, changing them or adding them to a
request signed without them breaks the signature. A request without them (a protocol-1
station) is signed and verified under `TSv1` exactly as before.

A versioned request that also names the zstd dictionaries its station holds is signed under
`TSv3`: the `TSv2` text plus that header's value. A station names them only to a hub that
named its own (sync/client.py), so a hub of a release before dictionaries never sees `TSv3`.

In a GM county (sync/crypto_suite.py) the key is SM2 and the body's digest SM3, and the
request says so in `X-Crypto: gm` (an intl request sends no such header, as before), so a hub
of the other suite refuses it by name (`wrong_suite`) rather than as a bad signature.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature

from sync.crypto_suite import (
    CRYPTO_HEADER,
    INTL,
    INTL_SUITE,
    CryptoSuite,
    SigningKey,
    VerifyKey,
    suite_named,
    suite_of_key,
)
from sync.errors import SyncError, ValidationError
from sync.version import DICTIONARIES_HEADER, PROTOCOL_HEADER, SOFTWARE_HEADER

SCHEME = "TSv1"
VERSIONED_SCHEME = "TSv2"  # the same text plus the protocol and software versions
DICTIONARIES_SCHEME = "TSv3"  # TSv2's text plus the dictionaries the station holds
WINDOW_MS = 5 * 60 * 1000  # a request older or newer than this is refused as expired
HEADERS = ("X-Station", "X-Time", "X-Nonce", "X-Signature")


class AuthError(SyncError):
    """A request's signature is missing, wrong, stale or replayed; `reason` says which."""

    def __init__(self, reason: str, zh: str, en: str) -> None:
        super().__init__(zh, en)
        self.reason = reason


@dataclass(frozen=True)
class Signed:
    station: str
    time_ms: int
    nonce: str


def canonical(method: str, path: str, body: bytes, station: str, time_ms: int, nonce: str,
              versions: tuple[str, str] | None = None, dictionaries: str | None = None,
              suite: CryptoSuite = INTL_SUITE) -> bytes:
    """The text a signature is over; `versions` (protocol, software) and `dictionaries` as
    the headers say them (the dictionaries only with the versions: protocol 2 on)."""
    digest = hashlib.sha256(body).hexdigest() if suite is INTL_SUITE else suite.hexdigest(body)
    lines = [SCHEME, method.upper(), path, digest, station, str(time_ms), nonce]
    if versions is not None:
        lines = [VERSIONED_SCHEME, *lines[1:], *versions]
        if dictionaries is not None:
            lines = [DICTIONARIES_SCHEME, *lines[1:], dictionaries]
    return "\n".join(lines).encode()


def sign(key: SigningKey, method: str, path: str, body: bytes, station: str,
         time_ms: int, nonce: str | None = None, versions: tuple[str, str] | None = None,
         dictionaries: str | None = None) -> dict[str, str]:
    """The headers that sign one request (with `versions`, the version headers too, and with
    `dictionaries` as well, the dictionaries header)."""
    nonce = nonce or os.urandom(16).hex()
    if versions is None:
        dictionaries = None  # a protocol-1 request names none
    suite = suite_of_key(key)
    signature = key.sign(canonical(method, path, body, station, time_ms, nonce, versions,
                                   dictionaries, suite))
    headers = {"X-Station": station, "X-Time": str(time_ms), "X-Nonce": nonce,
               "X-Signature": base64.b64encode(signature).decode("ascii")}
    if versions is not None:
        headers |= {PROTOCOL_HEADER: versions[0], SOFTWARE_HEADER: versions[1]}
    if dictionaries is not None:
        headers[DICTIONARIES_HEADER] = dictionaries
    if suite is not INTL_SUITE:
        headers[CRYPTO_HEADER] = suite.name
    return headers


def suite_of(headers: dict[str, str]) -> CryptoSuite:
    """The suite a request says it is signed under (no header: intl), or AuthError
    ('wrong_suite') for a name no suite has."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        return suite_named(lower.get(CRYPTO_HEADER.lower(), INTL))
    except ValidationError as exc:
        raise AuthError("wrong_suite", exc.zh, exc.en) from None


def versions_of(headers: dict[str, str]) -> tuple[str, str] | None:
    """The (protocol, software) a request names, as sent; None for a protocol-1 request."""
    lower = {k.lower(): v for k, v in headers.items()}
    if PROTOCOL_HEADER.lower() not in lower:
        return None
    return lower[PROTOCOL_HEADER.lower()], lower.get(SOFTWARE_HEADER.lower(), "")


def dictionaries_of(headers: dict[str, str]) -> str | None:
    """The dictionaries header of a versioned request, as sent; None when absent, and for a
    protocol-1 request (its signature does not cover it, so it is not its word)."""
    lower = {k.lower(): v for k, v in headers.items()}
    if PROTOCOL_HEADER.lower() not in lower:
        return None
    return lower.get(DICTIONARIES_HEADER.lower())


def read_headers(headers: dict[str, str]) -> Signed:
    """The signed facts of a request, or AuthError('unsigned') naming what is missing."""
    lower = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in HEADERS if h.lower() not in lower]
    if missing:
        raise AuthError("unsigned", f"请求未签名（缺少 {', '.join(missing)}）",
                        f"request is not signed (missing {', '.join(missing)})")
    try:
        time_ms = int(lower["x-time"])
    except ValueError:
        raise AuthError("unsigned", "X-Time 不是整数", "X-Time is not a whole number") from None
    nonce = lower["x-nonce"]
    if not (16 <= len(nonce) <= 64 and all(c in "0123456789abcdef" for c in nonce)):
        raise AuthError("unsigned", "X-Nonce 格式错误", "X-Nonce must be 16-64 hex digits")
    return Signed(lower["x-station"], time_ms, nonce)


def verify(public: VerifyKey, headers: dict[str, str], method: str, path: str,
           body: bytes, now_ms: int, window_ms: int = WINDOW_MS) -> Signed:
    """Check a request's signature and freshness; the caller checks the nonce was not used."""
    signed = read_headers(headers)
    if abs(now_ms - signed.time_ms) > window_ms:
        raise AuthError("expired", "请求时间超出允许范围（检查本机时钟）",
                        "request time is outside the allowed window (check the station clock)")
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        signature = base64.b64decode(lower["x-signature"], validate=True)
        public.verify(signature, canonical(method, path, body, signed.station, signed.time_ms,
                                           signed.nonce, versions_of(headers), dictionaries_of(headers),
                                           suite_of_key(public)))
    except (InvalidSignature, ValueError):
        raise AuthError("bad_signature", "签名无效：请求被篡改或密钥不符",
                        "signature does not verify: altered request or wrong key") from None
    return signed
