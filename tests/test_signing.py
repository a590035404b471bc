"""Signed requests: anything unsigned, altered, moved, stale or forged is refused."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.signing import WINDOW_MS, AuthError, sign, verify

KEY = Ed25519PrivateKey.generate()
NOW = 1_795_752_000_000
BODY = b'{"changes": []}'


def headers(**changes: str) -> dict[str, str]:
    signed = sign(KEY, "POST", "/v1/push", BODY, "station-1", NOW)
    return {**signed, **changes}


def test_a_signed_request_verifies_and_names_its_station() -> None:
    signed = verify(KEY.public_key(), headers(), "POST", "/v1/push", BODY, NOW + 1000)
    assert signed.station == "station-1" and signed.time_ms == NOW


@pytest.mark.parametrize(("method", "path", "body", "reason"), [
    ("POST", "/v1/push", b'{"changes": [1]}', "bad_signature"),   # body altered
    ("POST", "/v1/pull", BODY, "bad_signature"),                 # moved to another endpoint
    ("GET", "/v1/push", BODY, "bad_signature"),                  # another method
])
def test_an_altered_request_is_refused(method: str, path: str, body: bytes, reason: str) -> None:
    with pytest.raises(AuthError) as err:
        verify(KEY.public_key(), headers(), method, path, body, NOW)
    assert err.value.reason == reason


def test_another_stations_key_does_not_verify() -> None:
    with pytest.raises(AuthError) as err:
        verify(Ed25519PrivateKey.generate().public_key(), headers(), "POST", "/v1/push", BODY, NOW)
    assert err.value.reason == "bad_signature"


def test_a_claimed_other_station_does_not_verify() -> None:
    with pytest.raises(AuthError) as err:
        verify(KEY.public_key(), headers(**{"X-Station": "station-2"}), "POST", "/v1/push", BODY, NOW)
    assert err.value.reason == "bad_signature"


@pytest.mark.parametrize("skew", [WINDOW_MS + 1, -(WINDOW_MS + 1)])
def test_a_stale_or_future_request_is_expired(skew: int) -> None:
    with pytest.raises(AuthError) as err:
        verify(KEY.public_key(), headers(), "POST", "/v1/push", BODY, NOW + skew)
    assert err.value.reason == "expired"


@pytest.mark.parametrize("drop", ["X-Station", "X-Time", "X-Nonce", "X-Signature"])
def test_a_request_missing_any_signature_header_is_unsigned(drop: str) -> None:
    h = {k: v for k, v in headers().items() if k != drop}
    with pytest.raises(AuthError) as err:
        verify(KEY.public_key(), h, "POST", "/v1/push", BODY, NOW)
    assert err.value.reason == "unsigned" and drop in str(err.value)


def test_header_names_are_case_insensitive() -> None:
    lower = {k.lower(): v for k, v in headers().items()}
    assert verify(KEY.public_key(), lower, "POST", "/v1/push", BODY, NOW).station == "station-1"


def _by_hand(lines: list[str]) -> dict[str, str]:
    """Headers signing a canonical text written out here as docs/PROTOCOL.md gives it."""
    nonce = "0123456789abcdef"
    text = "\n".join([lines[0], "POST", "/v1/push", hashlib.sha256(BODY).hexdigest(), "station-1",
                      str(NOW), nonce, *lines[1:]])
    return {"X-Station": "station-1", "X-Time": str(NOW), "X-Nonce": nonce,
            "X-Signature": base64.b64encode(KEY.sign(text.encode())).decode()}


def test_a_protocol_1_request_signed_as_0_1_signed_it_still_verifies() -> None:
    assert verify(KEY.public_key(), _by_hand(["TSv1"]), "POST", "/v1/push", BODY, NOW).station == "station-1"


def test_a_request_naming_its_versions_is_signed_over_them() -> None:
    named = {"X-Township-Protocol": "2", "X-Township-Software": "0.2.0"}
    assert verify(KEY.public_key(), {**_by_hand(["TSv2", "2", "0.2.0"]), **named}, "POST",
                  "/v1/push", BODY, NOW).station == "station-1"
    signed = sign(KEY, "POST", "/v1/push", BODY, "station-1", NOW, versions=("2", "0.2.0"))
    assert {k: signed[k] for k in named} == named
    assert verify(KEY.public_key(), signed, "POST", "/v1/push", BODY, NOW).station == "station-1"


@pytest.mark.parametrize("change", [
    {"X-Township-Protocol": "1"},       # claims the older protocol (the old framing)
    {"X-Township-Software": "0.9.9"},   # claims another release
    {"X-Township-Protocol": None, "X-Township-Software": None},  # stripped: passes as protocol 1
])
def test_altered_or_stripped_versions_do_not_verify(change: dict[str, str | None]) -> None:
    signed = sign(KEY, "POST", "/v1/push", BODY, "station-1", NOW, versions=("2", "0.2.0"))
    altered = {k: v for k, v in {**signed, **change}.items() if v is not None}
    with pytest.raises(AuthError) as err:
        verify(KEY.public_key(), altered, "POST", "/v1/push", BODY, NOW)
    assert err.value.reason == "bad_signature"


def test_versions_added_to_a_protocol_1_request_do_not_verify() -> None:
    added = {**headers(), "X-Township-Protocol": "2", "X-Township-Software": "0.2.0"}
    with pytest.raises(AuthError) as err:
        verify(KEY.public_key(), added, "POST", "/v1/push", BODY, NOW)
    assert err.value.reason == "bad_signature"
