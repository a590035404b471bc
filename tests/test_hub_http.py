"""The hub over real HTTPS: every way to cheat gets a 4xx with a reason, nothing else."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.client import Client
from sync.hub import county
from sync.protocol import PushBatch, WireChange, encode_push
from sync.signing import sign

from .conftest import NOON
from .hubserver import HubServer

KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def hub(sqlite_hub: HubServer) -> HubServer:
    return sqlite_hub


def enrolled_client(hub: HubServer, station: str = "sthttp") -> Client:
    code = county.open_hub(hub.home).add_enrollment("440524001", [])
    client = Client(hub.url, hub.home / "tls.crt", station, KEY)
    client.enroll(code, base64.b64encode(KEY.public_key().public_bytes_raw()).decode())
    return client


def post(hub: HubServer, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(hub.url + "/v1/push", data=body, headers=headers,
                         verify=str(hub.home / "tls.crt"), timeout=10)


def batch() -> bytes:
    change = WireChange("sthttp", 1, "01a224be-898f-709d-9d8d-22528afa74a2", "person", "add",
                        "440524001001", {"name": "李四", "id_number": "11010519491231002X",
                                         "grid": "440524001001"}, f"{NOON:015d}.000000.abc", {}, 1)
    return encode_push(PushBatch("sthttp", (change,)))


def test_unsigned_tampered_replayed_and_revoked_requests_are_refused(hub: HubServer) -> None:
    import time

    enrolled_client(hub)
    body = batch()
    now = time.time_ns() // 1_000_000
    good = sign(KEY, "POST", "/v1/push", body, "sthttp", now)
    assert post(hub, body, good).status_code == 200
    replay = post(hub, body, good)
    assert (replay.status_code, replay.json()["error"]) == (409, "replayed")
    unsigned = post(hub, body, {})
    assert (unsigned.status_code, unsigned.json()["error"]) == (401, "unsigned")
    tampered = post(hub, body + b" ", sign(KEY, "POST", "/v1/push", body, "sthttp", now))
    assert (tampered.status_code, tampered.json()["error"]) == (401, "bad_signature")
    stale = post(hub, body, sign(KEY, "POST", "/v1/push", body, "sthttp", now - 3_600_000))
    assert (stale.status_code, stale.json()["error"]) == (401, "expired")
    forged = post(hub, body, sign(Ed25519PrivateKey.generate(), "POST", "/v1/push", body,
                                  "sthttp", now))
    assert forged.json()["error"] == "bad_signature"
    county.open_hub(hub.home).revoke("sthttp")
    revoked = post(hub, body, sign(KEY, "POST", "/v1/push", body, "sthttp", now))
    assert (revoked.status_code, revoked.json()["error"]) == (403, "revoked")
    assert "revoked" in revoked.json()["message"]


def test_a_malformed_batch_is_a_400_naming_the_place(hub: HubServer) -> None:
    import time

    import zstandard

    enrolled_client(hub)
    body = zstandard.ZstdCompressor().compress(json.dumps(
        {"station": "sthttp", "changes": [{"seq": 0}]}).encode())
    reply = post(hub, body, sign(KEY, "POST", "/v1/push", body, "sthttp",
                                 time.time_ns() // 1_000_000))
    assert reply.status_code == 400 and reply.json()["error"].startswith("changes[0].")


def test_a_resent_batch_over_http_gets_the_same_receipts(hub: HubServer) -> None:
    client = enrolled_client(hub)
    from sync.protocol import decode_push

    again = client.push(decode_push(batch()))
    assert again == client.push(decode_push(batch()))
    assert again[0].receipt
