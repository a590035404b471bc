"""Versions on the wire and zstd framing, against a real hub over HTTPS on 127.0.0.1: the hub
speaks the current protocol and the one before, refuses others with a message that says what
to upgrade, records what each station runs; and sync works when the HTTP library decodes
zstd by itself (urllib3 with backports-zstd, or Python 3.14's compression.zstd)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
import zstandard

from station import synthetic
from station.store import Store
from station.syncer import client_for, pending, sync_once
from station.syncer import push as push_only
from sync.errors import ProtocolRefused
from sync.protocol import PushBatch, encode_push
from sync.signing import sign
from sync.version import (
    OLDEST_PROTOCOL,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    older,
    release,
    software_version,
    wire_headers,
)

from .conftest import GRID, Cli
from .hubserver import HubServer
from .test_sync_e2e import COUNTY, county_cli, station

TOO_OLD, TOO_NEW = PROTOCOL_VERSION - 2, PROTOCOL_VERSION + 1
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # RFC 8878: how every zstd frame begins (the oracle, not the code's)


@pytest.fixture
def hub(sqlite_hub: HubServer) -> HubServer:
    return sqlite_hub


def _open(cli: Cli) -> Store:
    store = Store.open(Path(cli.env["STATION_HOME"]))
    store.unlock(cli.env["STATION_PASSPHRASE"])
    return store


def _add_people(cli: Cli, n: int) -> None:
    for person in synthetic.people(n, [GRID], seed=n):
        cli("add", "person", "--json", json.dumps(person, ensure_ascii=False))


def _old_request(store: Store, hub: HubServer, method: str, path: str, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> tuple[requests.Response, bytes]:
    """A request as a 0.1.x station sends it (protocol 1: no version headers, TSv1 signature),
    and the reply's bytes as they came on the wire, whatever urllib3 could decode."""
    client = client_for(store)
    signed = sign(client.key, method, path, body, store.station_id, client.clock_ms())
    reply = requests.request(method, hub.url + path, data=body or None, stream=True,
                             headers={**signed, **(headers or {})}, verify=str(client.cert_path),
                             timeout=30)
    return reply, reply.raw.read(decode_content=False)


def _listed(hub: HubServer, *args: str) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in map(json.loads, county_cli(hub.home, "station", "list", *args).splitlines())}


def test_every_request_names_its_versions_and_releases_compare_as_numbers() -> None:
    mine = wire_headers()
    assert mine[PROTOCOL_HEADER] == str(PROTOCOL_VERSION) == "2"
    assert mine["User-Agent"] == f"township-station/{software_version()} (protocol 2)"
    assert (release("0.2.0"), release("0.3.0rc1"), release("soon")) == ((0, 2, 0), (0, 3, 0), None)
    assert older("0.1.9", (0, 2, 0)) and older(None, (0, 2, 0)) and older("soon", (0, 2, 0))
    assert not older("0.2", (0, 2, 0)) and not older("0.10.0", (0, 9, 9))


def test_push_and_pull_work_when_urllib3_decodes_zstd_by_itself(hub: HubServer, tmp_path: Path) -> None:
    # The case this proves: urllib3 here decodes `Content-Encoding: zstd` (backports-zstd is
    # a dev dependency below Python 3.14; 3.14 has compression.zstd).
    assert "zstd" in urllib3.util.request.ACCEPT_ENCODING, "install backports-zstd (dev dependency)"
    a, b = station(tmp_path, "a", hub), station(tmp_path, "b", hub)
    _add_people(a, 3)
    one, two = _open(a), _open(b)
    try:
        # A protocol-1 reply is decoded by urllib3 on the way: the caller gets JSON, not zstd.
        path = "/v1/pull?cursor=0"
        old = requests.get(hub.url + path, verify=str(client_for(one).cert_path), timeout=30,
                           headers=sign(client_for(one).key, "GET", path, b"", one.station_id,
                                        client_for(one).clock_ms()))
        assert old.headers["Content-Encoding"] == "zstd" and not old.content.startswith(ZSTD_MAGIC)

        # The current client: bodies are a media type of their own, never a Content-Encoding.
        seen: list[requests.Response] = []
        client = client_for(one)
        client.session.hooks["response"].append(lambda r, *args, **kwargs: seen.append(r))
        assert sync_once(one, client).pushed == 3  # a round in one request: /v1/sync
        one.update("person", next(c.record_id for c in one.changes()), {"phone": "13900139009"})
        assert push_only(one, client).pushed == 1 and client.pull(0).changes == ()  # and call by call
        framed = [r for r in seen if r.request.path_url.startswith(("/v1/sync", "/v1/push", "/v1/pull"))]
        assert {r.request.path_url.split("?")[0] for r in framed} == {"/v1/sync", "/v1/push", "/v1/pull"}
        for r in framed:
            assert r.headers["Content-Type"] == "application/zstd"
            assert "Content-Encoding" not in r.headers and r.content.startswith(ZSTD_MAGIC)
        push = next(r for r in framed if r.request.path_url == "/v1/sync")
        assert push.request.headers["Content-Type"] == "application/zstd"
        assert "Content-Encoding" not in push.request.headers

        assert sync_once(two).pulled == 4
    finally:
        one.close()
        two.close()
    assert county_cli(hub.home, "export", "person") == a("export", "person").stdout == \
        b("export", "person").stdout


@pytest.mark.parametrize(("named", "words"), [
    (str(TOO_OLD), ["upgrade the station", "请升级本站软件", f"protocol {TOO_OLD}"]),
    ("two", ["upgrade the station", "请升级本站软件", "'two'"]),
    ("2.0", ["upgrade the station", "'2.0'"]),
    ("", ["upgrade the station"]),
    (str(TOO_NEW), ["upgrade the hub", "请升级县级平台软件", f"protocol {TOO_NEW}"]),
])
def test_a_protocol_the_hub_does_not_speak_is_refused_and_the_outbox_stays(
        hub: HubServer, tmp_path: Path, named: str, words: list[str]) -> None:
    a = station(tmp_path, "a", hub)
    _add_people(a, 2)
    store = _open(a)
    try:
        client = client_for(store)
        client.session.headers[PROTOCOL_HEADER] = named
        client.versions = (named, client.versions[1])
        with pytest.raises(ProtocolRefused) as refused:
            sync_once(store, client)
        assert refused.value.retryable is False
        status = store.status()
        assert (status["pending"], status["rejected"]) == (2, 0)
    finally:
        store.close()
    message = str(refused.value)
    for word in [*words, f"{OLDEST_PROTOCOL}–{PROTOCOL_VERSION}"]:
        assert word in message, (word, message)
    # Refused before anything else is looked at: an unsigned request gets the same answer.
    raw = requests.post(hub.url + "/v1/push", data=b"x", headers={PROTOCOL_HEADER: named},
                        verify=str(hub.home / "tls.crt"), timeout=30)
    assert raw.status_code == 426 and raw.json()["error"] == "protocol"
    assert raw.headers["Upgrade"] == f"township-sync/{PROTOCOL_VERSION}"
    assert _listed(hub)[store.station_id]["protocol_version"] is None  # never accepted


def test_an_old_station_syncs_the_old_way_and_a_current_one_the_new_and_the_hub_records_each(
        hub: HubServer, tmp_path: Path) -> None:
    a, b = station(tmp_path, "a", hub), station(tmp_path, "b", hub)
    _add_people(a, 2)
    store = _open(a)
    try:
        # Protocol 1, as a 0.1.x station: the push's receipts come back as Content-Encoding: zstd.
        batch = PushBatch(store.station_id, tuple(pending(store, 100)))
        reply, wire = _old_request(store, hub, "POST", "/v1/push", encode_push(batch),
                                   {"Content-Type": "application/json", "Content-Encoding": "zstd"})
        assert reply.status_code == 200, wire
        assert (reply.headers["Content-Type"], reply.headers["Content-Encoding"]) == \
            ("application/json", "zstd")
        results = json.loads(zstandard.ZstdDecompressor().decompress(wire))["results"]
        assert [r["seq"] for r in results if r["receipt"]] == [c.seq for c in batch.changes]
        reply, wire = _old_request(store, hub, "GET", "/v1/pull?cursor=0")
        assert reply.status_code == 200 and reply.headers["Content-Encoding"] == "zstd"
        assert json.loads(zstandard.ZstdDecompressor().decompress(wire))["changes"] == []  # its own
        listed = _listed(hub)[store.station_id]
        assert (listed["protocol_version"], listed["software_version"]) == (1, None)
        assert set(_listed(hub, "--older-than", "0.2.0")) == {store.station_id}

        # The same station upgraded: the current protocol, its receipts as before (the same).
        result = sync_once(store)
        assert (result.pushed, result.rejected) == (2, 0)
    finally:
        store.close()
    assert b.json("sync", "--once")["pulled"] == 2
    assert county_cli(hub.home, "export", "person") == b("export", "person").stdout
    listed = _listed(hub)
    assert {(r["protocol_version"], r["software_version"]) for r in listed.values()} == \
        {(PROTOCOL_VERSION, software_version())}
    assert _listed(hub, "--older-than", software_version()) == {}
    assert len(_listed(hub, "--older-than", "999.0")) == 2
    err = county_cli_fail(hub.home, "station", "list", "--older-than", "soon")
    assert "older-than" in err and "0.2.0" in err


def county_cli_fail(home: Path, *args: str) -> str:
    result = subprocess.run([COUNTY, "--home", str(home), *args], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr
