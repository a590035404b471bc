"""zstd dictionaries on the wire (issue 24 point 3): the shipped one is what schema version 1
trains to, each published bundle carries its own under the county's signature, the hub and a
station use one only when both hold it, a station or hub of the release before (or with none
in common) syncs as before, and a frame naming a dictionary its receiver lacks is refused by
name. Real hubs over HTTPS on 127.0.0.1; frame headers read by hand from RFC 8878."""

from __future__ import annotations

import base64
import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests
import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station.schema_updates import apply_bundle, dictionaries
from station.store import Store
from station.syncer import client_for, pending, sync_once
from sync import dictionary
from sync.bundle import BundleError, parse_bundle, sign_bundle, with_dictionary
from sync.client import Client
from sync.errors import Rejected, ValidationError
from sync.hub import county
from sync.hub.http import Dictionaries
from sync.protocol import MAX_BODY_BYTES, PushBatch, compress, decode_push, encode_push, opened, reframe
from sync.schema import v1_schema
from sync.signing import AuthError, sign, verify
from sync.version import DICTIONARIES_HEADER

from .conftest import PASSPHRASE, FakeTime
from .hubserver import HubServer
from .test_schema_updates import LIVING
from .test_store_migrations import new_store, shape
from .test_sync_e2e import county_cli, station
from .test_wire_versions import _add_people, _open

MAGIC = b"\x28\xb5\x2f\xfd"


def frame_dict_id(body: bytes) -> int:
    """The Dictionary_ID a zstd frame header carries, read by hand (RFC 8878, 3.1.1.1): the
    oracle, apart from the code under test."""
    assert body[:4] == MAGIC, body[:8]
    descriptor = body[4]
    size = (0, 1, 2, 4)[descriptor & 0b11]
    start = 5 if descriptor & 0b0010_0000 else 6  # a window descriptor unless single-segment
    return int.from_bytes(body[start:start + size], "little") if size else 0


def raw_dict_id(raw: bytes) -> int:
    """A dictionary's id as its header spells it (RFC 8878, 5)."""
    assert raw[:4] == b"\x37\xa4\x30\xec"
    return int.from_bytes(raw[4:8], "little")


FOREIGN = dictionary.Dictionary(9, dictionary.train(v1_schema(), seed=7, size=4096))


# ------------------------------------------------------------------ the dictionary itself


def test_the_shipped_dictionary_is_what_schema_version_1_trains_to() -> None:
    shipped = dictionary.BUILTIN.read_bytes()
    # If this fails after a change to schema.sql: `python -m sync.dictionary` rebuilds it.
    assert dictionary.train(v1_schema()) == shipped
    assert dictionary.builtin().id == raw_dict_id(shipped) >= 32_768
    # Trained on the schema's words: field names and code values are in it.
    assert b"id_number" in shipped and b"population_type" in shipped


def test_a_body_with_the_dictionary_names_it_and_is_smaller() -> None:
    body = {"station": "a1b2c3d4e5f60718", "changes": [{"entity": "person", "op": "update",
                                                        "fields": {"phone": "13900139000"}}]}
    plain = compress(body)
    framed = reframe(plain, dictionary.builtin().raw)
    assert frame_dict_id(plain) == 0 and frame_dict_id(framed) == raw_dict_id(dictionary.builtin().raw)
    assert len(framed) < len(plain)
    held = {dictionary.builtin().id: dictionary.builtin().raw}
    assert json.loads(opened(framed, held)) == body
    assert reframe(framed, FOREIGN.raw) == framed  # framed once, never twice
    big = compress({"x": base64.b64encode(random.Random(1).randbytes(100_000)).decode()})
    assert len(big) > 64 * 1024 and reframe(big, dictionary.builtin().raw) == big


def test_a_frame_naming_a_dictionary_the_receiver_lacks_is_refused_by_name() -> None:
    foreign = reframe(encode_push(PushBatch("a1b2c3d4e5f60718", ())), FOREIGN.raw)
    for receive in (lambda: decode_push(foreign),
                    lambda: decode_push(foreign, {dictionary.builtin().id: dictionary.builtin().raw}),
                    lambda: opened(foreign, {})):
        with pytest.raises(ValidationError) as refused:
            receive()
        assert (refused.value.field, refused.value.rule) == ("body", "dictionary")
        assert str(FOREIGN.id) in refused.value.zh and str(FOREIGN.id) in refused.value.en
        assert DICTIONARIES_HEADER in refused.value.en
    # The limits hold with a dictionary too: a bomb and garbage are refused as before.
    compressor = zstandard.ZstdCompressor(dict_data=zstandard.ZstdCompressionDict(FOREIGN.raw))
    bomb = compressor.compress(b"[" + b" " * (MAX_BODY_BYTES + 10) + b"]")
    with pytest.raises(ValidationError) as refused:
        decode_push(bomb, {FOREIGN.id: FOREIGN.raw})
    assert refused.value.rule == "zstd"
    with pytest.raises(ValidationError) as refused:
        decode_push(compressor.compress(b"{nope"), {FOREIGN.id: FOREIGN.raw})
    assert refused.value.rule == "json"


@pytest.mark.parametrize("header", ["abc", "1", "32768,", ",".join(["40000"] * 65), "99999999999"])
def test_a_dictionaries_header_that_is_not_a_list_of_ids_is_refused(header: str) -> None:
    with pytest.raises(ValidationError) as refused:
        dictionary.parse_ids(header, DICTIONARIES_HEADER)
    assert refused.value.field == DICTIONARIES_HEADER


def test_the_dictionaries_a_station_names_are_covered_by_its_signature() -> None:
    key, now, body = Ed25519PrivateKey.generate(), 1_795_752_000_000, b"x"
    versions = ("2", "0.2.0")
    named = sign(key, "POST", "/v1/push", body, "s1", now, versions=versions, dictionaries="40000")
    assert named[DICTIONARIES_HEADER] == "40000"
    verify(key.public_key(), named, "POST", "/v1/push", body, now)
    plain = sign(key, "POST", "/v1/push", body, "s1", now, versions=versions)
    forged = [{**named, DICTIONARIES_HEADER: "40001"},  # altered
              {k: v for k, v in named.items() if k != DICTIONARIES_HEADER},  # stripped
              {**plain, DICTIONARIES_HEADER: "40000"}]  # added to a request signed without
    for headers in forged:
        with pytest.raises(AuthError) as refused:
            verify(key.public_key(), headers, "POST", "/v1/push", body, now)
        assert refused.value.reason == "bad_signature"


# ------------------------------------------------------------------ in the signed bundle


def test_a_published_bundle_carries_its_dictionary_under_the_signature(
        store: Store, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    with store.atomic() as writes:
        writes.put_settings(county_signing_key=base64.b64encode(key.public_key().public_bytes_raw()).decode())
    written = LIVING.read_bytes()
    published = with_dictionary(parse_bundle(written), _after(written))
    # County IT's text stays as written, the member added at its end.
    assert published.raw.startswith(written.rstrip()[:-1].rstrip())
    member = base64.b64decode(json.loads(published.raw)["dictionary"])
    assert member == published.dictionary and raw_dict_id(member) != dictionary.builtin().id
    with pytest.raises(BundleError) as refused:  # the hub trains it: a file may not bring one
        with_dictionary(published, _after(written))
    assert refused.value.where == "dictionary"

    # A dictionary altered on the way is refused as an altered bundle is.
    text = json.loads(published.raw)
    tampered_raw = bytearray(member)
    tampered_raw[-1] ^= 1
    tampered = published.raw.replace(text["dictionary"].encode(),
                                     base64.b64encode(bytes(tampered_raw)))
    with pytest.raises(BundleError) as refused:
        apply_bundle(store, tampered, sign_bundle(key, published.raw))
    assert refused.value.where == "signature" and store.schema.version == 1
    # Signed but not a dictionary: refused naming the member.
    junk = published.raw.replace(text["dictionary"].encode(), base64.b64encode(b"not a dictionary"))
    with pytest.raises(BundleError) as refused:
        apply_bundle(store, junk, sign_bundle(key, junk))
    assert refused.value.where == "dictionary" and store.schema.version == 1

    apply_bundle(store, published.raw, sign_bundle(key, published.raw))
    assert [(d.version, d.raw) for d in dictionaries(store)] == \
        [(1, dictionary.BUILTIN.read_bytes()), (2, member)]


def _after(raw: bytes) -> Any:
    from sync.bundle import check_bundle

    return check_bundle(parse_bundle(raw), v1_schema())


def test_storage_step_7_gives_a_store_of_step_6_the_dictionaries_column(
        tmp_path: Path, fake_time: FakeTime) -> None:
    db = new_store(tmp_path, fake_time)
    fresh = shape(db)
    with sqlite3.connect(db, isolation_level=None) as conn:  # as storage version 6 left it
        conn.execute("ALTER TABLE schema_versions DROP COLUMN dictionary")
        conn.execute("PRAGMA user_version = 6")
    store = Store.open(db.parent, clock=fake_time.clock())
    store.unlock(PASSPHRASE)
    assert [d.version for d in dictionaries(store)] == [1]
    store.close()
    assert shape(db) == fresh


# ------------------------------------------------------------------ over the wire


def _first_person(store: Store) -> str:
    return next(c.record_id for c in store.changes() if c.entity == "person")


def _watch(client: Client) -> list[requests.Response]:
    seen: list[requests.Response] = []
    client.session.hooks["response"].append(lambda r, *args, **kwargs: seen.append(r))
    return seen


def _zstd_bodies(seen: list[requests.Response]) -> tuple[list[bytes], list[bytes]]:
    """The zstd request bodies and the zstd replies of a round, as they were on the wire."""
    sent = [r.request.body for r in seen if isinstance(r.request.body, bytes)
            and r.request.headers.get("Content-Type") == "application/zstd"]
    got = [r.content for r in seen if r.headers.get("Content-Type") == "application/zstd"]
    return sent, got


def test_a_station_and_the_hub_use_the_dictionary_both_hold(sqlite_hub: HubServer, tmp_path: Path) -> None:
    a, b = station(tmp_path, "a", sqlite_hub), station(tmp_path, "b", sqlite_hub)
    _add_people(a, 3)
    one = _open(a)
    builtin = raw_dict_id(dictionary.BUILTIN.read_bytes())
    try:
        client = client_for(one)
        seen = _watch(client)
        assert sync_once(one, client).pushed == 3
        # The round is one request (POST /v1/sync), which knows nothing of the hub yet:
        # nothing named, nothing framed. Its answer names the hub's.
        (first,) = seen
        assert DICTIONARIES_HEADER not in first.request.headers
        assert first.headers[DICTIONARIES_HEADER] == str(builtin)
        # The next round on the same client names them, both ways framed with them.
        one.update("person", _first_person(one), {"phone": "13900139000"})
        assert sync_once(one, client).pushed == 1
        rest = seen[1:]
        assert rest and all(r.request.headers[DICTIONARIES_HEADER] == str(builtin) for r in rest)
        sent, got = _zstd_bodies(rest)
        assert sent and got and {frame_dict_id(x) for x in sent + got} == {builtin}

        # Remembered: the next client's first request names them and frames its body.
        one.update("person", _first_person(one), {"phone": "13900139001"})
        client = client_for(one)
        seen = _watch(client)
        assert sync_once(one, client).pushed == 1
        assert seen[0].request.headers[DICTIONARIES_HEADER] == str(builtin)
        sent, got = _zstd_bodies(seen)
        assert {frame_dict_id(x) for x in sent + got} == {builtin}
    finally:
        one.close()
    assert b.json("sync", "--once")["pulled"] == 5
    assert county_cli(sqlite_hub.home, "export", "person") == a("export", "person").stdout == \
        b("export", "person").stdout


def test_a_station_of_the_release_before_dictionaries_syncs_as_before(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    a = station(tmp_path, "a", sqlite_hub)
    _add_people(a, 2)
    store = _open(a)
    try:
        client = client_for(store)
        batch = PushBatch(store.station_id, tuple(pending(store, 100)))
        replies = []
        calls = (("POST", "/v1/push", encode_push(batch)), ("GET", "/v1/pull?cursor=0", b""))
        for method, path, body in calls:
            # As the release before signs it: protocol 2, TSv2, no dictionaries named.
            headers = sign(client.key, method, path, body, store.station_id, client.clock_ms(),
                           versions=client.versions)
            reply = requests.request(method, sqlite_hub.url + path, data=body or None,
                                     headers={**headers, "Content-Type": "application/zstd"},
                                     verify=str(client.cert_path), timeout=30)
            assert reply.status_code == 200, reply.text
            assert frame_dict_id(reply.content) == 0  # a plain frame, as that release reads
            replies.append(json.loads(zstandard.ZstdDecompressor().decompress(reply.content)))
        results = replies[0]["results"]
        assert [r["seq"] for r in results if r["receipt"]] == [c.seq for c in batch.changes]
    finally:
        store.close()
    assert county_cli(sqlite_hub.home, "export", "person") == a("export", "person").stdout


def test_a_station_with_no_dictionary_in_common_with_the_hub_syncs_without(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    # A station of a release whose built-in dictionary is another (or a hub's rolled back).
    a, b = station(tmp_path, "a", sqlite_hub), station(tmp_path, "b", sqlite_hub)
    _add_people(a, 2)
    one = _open(a)
    try:
        client = client_for(one)
        client.hold([FOREIGN])
        seen = _watch(client)
        assert sync_once(one, client).pushed == 2
        one.update("person", _first_person(one), {"phone": "13900139003"})
        assert sync_once(one, client).pushed == 1  # now naming its own, having heard the hub's
        assert seen[-1].request.headers[DICTIONARIES_HEADER] == str(FOREIGN.id)
        sent, got = _zstd_bodies(seen)
        assert sent and got and {frame_dict_id(x) for x in sent + got} == {0}
    finally:
        one.close()
    assert b.json("sync", "--once")["pulled"] == 3
    assert county_cli(sqlite_hub.home, "export", "person") == b("export", "person").stdout


def test_a_hub_of_the_release_before_dictionaries_gets_requests_as_before(tmp_path: Path) -> None:
    county.init(tmp_path / "county")
    old = HubServer(tmp_path / "county")
    # That hub's app: the same, without what names and uses dictionaries.
    old.app.user_middleware = [m for m in old.app.user_middleware if m.cls is not Dictionaries]
    old.start()
    try:
        a, b = station(tmp_path, "a", old), station(tmp_path, "b", old)
        _add_people(a, 2)
        one = _open(a)
        try:
            client = client_for(one)
            seen = _watch(client)
            assert sync_once(one, client).pushed == 2
            assert all(DICTIONARIES_HEADER not in r.request.headers for r in seen)  # TSv2 as before
            sent, got = _zstd_bodies(seen)
            assert sent and got and {frame_dict_id(x) for x in sent + got} == {0}
        finally:
            one.close()
        assert b.json("sync", "--once")["pulled"] == 2
    finally:
        old.stop()


def test_a_push_framed_with_a_dictionary_the_hub_lacks_is_refused_and_stays_in_the_outbox(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    a = station(tmp_path, "a", sqlite_hub)
    _add_people(a, 1)
    store = _open(a)
    try:
        client = client_for(store)
        client.hold([dictionary.builtin(), FOREIGN])
        client.hub_dictionaries = (FOREIGN.id,)  # as if the hub had named it
        with pytest.raises(Rejected) as refused:
            client.push(PushBatch(store.station_id, tuple(pending(store, 10))))
        assert str(FOREIGN.id) in str(refused.value) and "dictionary" in str(refused.value)
        assert store.status()["pending"] == 1
        assert sync_once(store).pushed == 1  # the next round, with what the hub really holds
    finally:
        store.close()


def test_a_published_bundles_dictionary_is_used_once_the_station_applied_it(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    a, b = station(tmp_path, "a", sqlite_hub), station(tmp_path, "b", sqlite_hub)
    county_cli(sqlite_hub.home, "schema", "push", str(LIVING))
    (published,) = county.open_hub(sqlite_hub.home).bundles(1)
    v2 = raw_dict_id(base64.b64decode(json.loads(published["bundle"])["dictionary"]))
    builtin = raw_dict_id(dictionary.BUILTIN.read_bytes())
    _add_people(b, 1)
    assert b.json("sync", "--once")["pushed"] == 1
    one = _open(a)
    try:
        # Not applied yet: the station holds only the built-in one, and that is what comes.
        client = client_for(one)
        client.hub_dictionaries = (v2, builtin)
        seen = _watch(client)
        client.pull(0, schema_version=1)
        assert seen[-1].request.headers[DICTIONARIES_HEADER] == str(builtin)
        assert frame_dict_id(seen[-1].content) == builtin
        # After the round applied the bundle, its own dictionary, both ways.
        _add_people(a, 1)
        client = client_for(one)
        assert sync_once(one, client).pushed == 1 and one.schema.version == 2
        seen = _watch(client)
        one.update("person", _first_person(one), {"phone": "13900139002"})
        assert sync_once(one, client).pushed == 1
        sent, got = _zstd_bodies(seen)
        assert sent and got and {frame_dict_id(x) for x in sent + got} == {v2}
        assert seen[-1].request.headers[DICTIONARIES_HEADER] == f"{v2},{builtin}"
    finally:
        one.close()
    assert b.json("sync", "--once")["pulled"] == 2  # a's add and its update
    assert county_cli(sqlite_hub.home, "export", "person") == a("export", "person").stdout == \
        b("export", "person").stdout
