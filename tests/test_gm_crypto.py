"""National cryptography (GM, 国密; issue 25 point 3): a county chosen `--crypto gm` seals with
SM4-GCM, keys its blind indexes with HMAC-SM3, hashes its audit chain with SM3 and signs its
requests and bundles with SM2, and it syncs end to end exactly as an international one does.

The oracles are the standards' own known answers (SM3 of "abc", the SM4 block of GB/T 32907),
an SM2 verification written here from GB/T 32918 with plain integers (not gmssl's), and
decryption with cryptography's SM4 and AES directly, not through the code under test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from station import keys, synthetic
from station.blind_index import BlindIndex
from station.store import DB_FILE, Store
from sync import audit_chain
from sync.bundle import BundleError, sign_bundle, verify_bundle
from sync.crypto_suite import (
    GM_SUITE,
    INTL_SUITE,
    Sm2PrivateKey,
    Sm2PublicKey,
    suite_named,
)
from sync.errors import TamperedError, ValidationError, WrongPassphrase
from sync.hub import config, county
from sync.seal import Sealer, field_ad
from sync.signing import AuthError, sign, verify
from sync.version import PROTOCOL_VERSION, software_version

from .conftest import GRID, PASSPHRASE, TOWNSHIP, Cli
from .hubserver import HubServer
from .test_sync_e2e import county_cli, enroll
from .torture.test_security import SECRET_FIELDS, hub_database_files, scan

KEY = bytes(range(32))
SM4_VECTOR = "0123456789abcdeffedcba9876543210"  # GB/T 32907 example 1: key = plaintext


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


# ------------------------------------------------------------------ the primitives


def test_sm3_is_sm3_by_the_standards_known_answer() -> None:
    assert GM_SUITE.hexdigest(b"abc") == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    assert INTL_SUITE.hexdigest(b"abc") == hashlib.sha256(b"abc").hexdigest()


def test_the_gm_sealing_cipher_is_sm4_in_gcm_by_the_standards_block() -> None:
    block = bytes.fromhex(SM4_VECTOR)
    ecb = Cipher(algorithms.SM4(block), modes.ECB()).encryptor()
    assert (ecb.update(block) + ecb.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"
    # GCM's first keystream block is the cipher of nonce || 00000002: with the SM4 key the
    # suite derives, it is what SM4-ECB (checked above) gives for that block.
    key16 = HKDF(hashes.SM3(), 16, None, b"township-station sm4 key v1").derive(KEY)
    nonce = bytes(12)
    sealed = GM_SUITE.aead(KEY).encrypt(nonce, bytes(16), b"")
    ecb = Cipher(algorithms.SM4(key16), modes.ECB()).encryptor()
    assert sealed[:16] == ecb.update(nonce + b"\x00\x00\x00\x02") + ecb.finalize()
    assert len(sealed) == 32  # 16 bytes of text, a 16-byte tag


# The SM2 recommended curve (GB/T 32918.5), written out here for an independent verifier.
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = P - 3
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
G = (0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
     0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0)
Point = tuple[int, int] | None


def _add(p: Point, q: Point) -> Point:
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % P == 0:
        return None
    if p == q:
        slope = (3 * p[0] * p[0] + A) * pow(2 * p[1], -1, P) % P
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, P) % P
    x = (slope * slope - p[0] - q[0]) % P
    return x, (slope * (p[0] - x) - p[1]) % P


def _mul(k: int, p: Point) -> Point:
    out: Point = None
    while k:
        if k & 1:
            out = _add(out, p)
        p, k = _add(p, p), k >> 1
    return out


def sm2_verifies(public: bytes, signature: bytes, message: bytes) -> bool:
    """GB/T 32918.2 section 7, with the default signer id 1234567812345678."""
    x, y = int.from_bytes(public[:32], "big"), int.from_bytes(public[32:], "big")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s < N):
        return False
    z = sm3(b"\x00\x80" + b"1234567812345678" + b"".join(
        v.to_bytes(32, "big") for v in (A, B, G[0], G[1], x, y)))
    e = int.from_bytes(sm3(z + message), "big")
    t = (r + s) % N
    point = _add(_mul(s, G), _mul(t, (x, y)))
    return point is not None and (e + point[0]) % N == r


def test_an_sm2_signature_verifies_by_the_standard_and_a_flipped_byte_fails() -> None:
    key = Sm2PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    assert _mul(int.from_bytes(key.private_bytes_raw(), "big"), G) == (
        int.from_bytes(public[:32], "big"), int.from_bytes(public[32:], "big"))
    signature = key.sign(b"TSbundle1\nhello")
    assert sm2_verifies(public, signature, b"TSbundle1\nhello")
    key.public_key().verify(signature, b"TSbundle1\nhello")
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not sm2_verifies(public, flipped, b"TSbundle1\nhello")
    from cryptography.exceptions import InvalidSignature
    for bad_sig, message in ((flipped, b"TSbundle1\nhello"), (signature, b"TSbundle1\nhellp"),
                             (bytes(64), b"TSbundle1\nhello")):
        with pytest.raises(InvalidSignature):
            key.public_key().verify(bad_sig, message)
    assert key.sign(b"x") != key.sign(b"x")  # a fresh nonce each time (from os.urandom)
    with pytest.raises(ValueError, match="curve"):
        Sm2PublicKey(public[:63] + bytes([public[63] ^ 1]))


# ------------------------------------------------------------------ sealing and indexes


def test_a_gm_value_opens_only_as_gm_and_only_where_it_was_sealed() -> None:
    gm, intl = Sealer(KEY, GM_SUITE), Sealer(KEY)
    ad = field_ad("r1", "person", "name")
    sealed = base64.b64decode(gm.seal_value("张三", ad))
    assert sealed[:1] == b"\xc1"
    nonce, body = sealed[1:13], sealed[13:]
    key16 = HKDF(hashes.SM3(), 16, None, b"township-station sm4 key v1").derive(KEY)
    decryptor = Cipher(algorithms.SM4(key16), modes.GCM(nonce, body[-16:])).decryptor()
    decryptor.authenticate_additional_data(ad)
    assert json.loads(decryptor.update(body[:-16]) + decryptor.finalize()) == "张三"
    text = base64.b64encode(sealed).decode()
    assert gm.open_value(text, ad) == "张三"
    with pytest.raises(TamperedError, match="national GM") as found:
        intl.open_value(text, ad)
    assert "国密" in found.value.zh and "international" in found.value.en
    with pytest.raises(TamperedError, match="moved"):
        gm.open_value(text, field_ad("r2", "person", "name"))
    with pytest.raises(TamperedError, match="moved"):
        gm.open_value(text, field_ad("r1", "person", "phone"))
    many = gm.seal_fields("r1", "person", [("name", "李四"), ("phone", "13800138000")])
    assert {base64.b64decode(v)[:1] for v in many.values()} == {b"\xc1"}
    assert gm.open_value(many["phone"], field_ad("r1", "person", "phone")) == "13800138000"


def test_an_intl_value_is_sealed_exactly_as_before_and_not_tried_as_gm() -> None:
    ad = field_ad("r1", "person", "name")
    sealed = base64.b64decode(Sealer(KEY).seal_value("张三", ad))
    assert sealed[:1] == b"\x01"
    assert json.loads(AESGCM(KEY).decrypt(sealed[1:13], sealed[13:], ad)) == "张三"
    with pytest.raises(TamperedError, match="sealed under international"):
        Sealer(KEY, GM_SUITE).open_bytes(sealed, ad)


def test_a_gm_blind_index_is_hmac_sm3_under_an_hkdf_sm3_key() -> None:
    key = HKDF(hashes.SM3(), 32, None, b"blind-index|person.id_number").derive(KEY)
    mac = hmac.new(key, b"110101199003074514", "sm3").digest()
    expected = int.from_bytes(mac[:4], "big") >> 16
    assert BlindIndex(KEY, 16, GM_SUITE).bucket("person.id_number", "110101199003074514") == expected
    intl_key = HKDF(hashes.SHA256(), 32, None, b"blind-index|person.id_number").derive(KEY)
    intl_mac = hmac.new(intl_key, b"110101199003074514", "sha256").digest()
    assert BlindIndex(KEY, 16).bucket("person.id_number", "110101199003074514") == (
        int.from_bytes(intl_mac[:4], "big") >> 16)


# ------------------------------------------------------------------ signatures


def test_a_request_signed_under_gm_says_so_and_verifies_only_with_its_sm2_key() -> None:
    key = Sm2PrivateKey.generate()
    headers = sign(key, "POST", "/v1/push", b"body", "st1", 1_000, versions=("2", "1.0"))
    assert headers["X-Crypto"] == "gm"
    assert verify(key.public_key(), headers, "POST", "/v1/push", b"body", 1_000).station == "st1"
    with pytest.raises(AuthError) as refused:
        verify(key.public_key(), headers, "POST", "/v1/push", b"bodY", 1_000)
    assert refused.value.reason == "bad_signature"
    intl = sign(Ed25519PrivateKey.generate(), "POST", "/v1/push", b"body", "st1", 1_000)
    assert "X-Crypto" not in intl  # the intl wire is as it was


def test_a_bundle_signed_under_the_other_suite_is_refused_by_name() -> None:
    gm_key, intl_key = Sm2PrivateKey.generate(), Ed25519PrivateKey.generate()
    signature = sign_bundle(gm_key, b'{"version": 2}')
    assert signature.startswith("sm2:")
    verify_bundle(gm_key.public_key(), b'{"version": 2}', signature)
    with pytest.raises(BundleError, match="signature"):
        verify_bundle(gm_key.public_key(), b'{"version": 3}', signature)
    with pytest.raises(BundleError, match=r"this side is international.*national GM"):
        verify_bundle(intl_key.public_key(), b'{"version": 2}', signature)
    with pytest.raises(BundleError, match=r"this side is national GM.*international"):
        verify_bundle(gm_key.public_key(), b'{"version": 2}', sign_bundle(intl_key, b'{"version": 2}'))


# ------------------------------------------------------------------ the store


def test_a_gm_store_seals_with_sm4_and_chains_its_audit_trail_with_sm3(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "st", township=TOWNSHIP, name="国密镇", clerk="张三",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF, crypto="gm")
    person = next(iter(synthetic.people(1, [GRID], seed=7)))
    record_id = store.add("person", person)
    assert store.status()["crypto"] == "gm" and store.suite is GM_SUITE
    assert store.get("person", record_id)["fields"]["name"] == person["name"]
    assert [r["id"] for r in store.search(person["id_number"], "person")] == [record_id]
    store.close()
    with sqlite3.connect(tmp_path / "st" / DB_FILE) as conn:
        sealed = json.loads(conn.execute("SELECT sealed FROM records").fetchone()[0])
        rows = conn.execute("SELECT seq, at, clerk, role, action, target, detail, prev, hash"
                            " FROM audit_log ORDER BY seq").fetchall()
    assert {base64.b64decode(v)[:1] for v in sealed.values()} == {b"\xc1"}
    assert rows and rows[-1][4] == "add"
    for seq, at, clerk, role, action, target, detail, prev, digest in rows:
        body = json.dumps([seq, at, clerk, role, action, target, detail, prev], ensure_ascii=False,
                          separators=(",", ":"))
        assert digest == sm3(body.encode()).hex() != hashlib.sha256(body.encode()).hexdigest()
    entries = [audit_chain.AuditEntry(*r) for r in rows]
    assert audit_chain.first_break(entries, suite=GM_SUITE) is None
    assert audit_chain.first_break(entries) == audit_chain.Break(1, "hash")  # not SHA-256
    again = Store.open(tmp_path / "st")
    again.unlock(PASSPHRASE)
    assert again.get("person", record_id)["fields"]["phone"] == person["phone"]
    again.close()


def test_a_gm_clerk_slot_wraps_the_data_key_with_sm4(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "st", township=TOWNSHIP, name="国密镇", clerk="张三",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF, crypto="gm")
    person = next(iter(synthetic.people(1, [GRID], seed=8)))
    record_id = store.add("person", person)
    store.close()
    with sqlite3.connect(tmp_path / "st" / DB_FILE) as conn:
        salt, wrapped_private, ephemeral, wrapped = conn.execute(
            "SELECT salt, wrapped_private, ephemeral_public, wrapped FROM keyslots"
            " WHERE kind = 'passphrase'").fetchone()
        sealed = json.loads(conn.execute("SELECT sealed FROM records").fetchone()[0])

    def sm4_open(kek: bytes, blob: bytes) -> bytes:
        key16 = HKDF(hashes.SM3(), 16, None, b"township-station sm4 key v1").derive(kek)
        decryptor = Cipher(algorithms.SM4(key16), modes.GCM(blob[1:13], blob[-16:])).decryptor()
        decryptor.authenticate_additional_data(b"township-station keyslot v1")
        return decryptor.update(blob[13:-16]) + decryptor.finalize()

    # The clerk's X25519 private key under the passphrase's KEK, the data key sealed to its
    # public half (so a rotation can reach the slot): both wrapped with SM4-GCM.
    assert len(wrapped) == len(wrapped_private) == 61
    assert wrapped[:1] == wrapped_private[:1] == b"\xc1"
    private = X25519PrivateKey.from_private_bytes(
        sm4_open(keys.derive_kek(PASSPHRASE, salt, keys.FAST_KDF), wrapped_private))
    shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral))
    public = private.public_key().public_bytes_raw()
    kek = HKDF(hashes.SHA256(), 32, None, b"township-station clerk slot v2").derive(
        shared + ephemeral + public)
    data_key = sm4_open(kek, wrapped)
    opened = Sealer(data_key, GM_SUITE).open_value(sealed["name"], field_ad(record_id, "person", "name"))
    assert opened == person["name"]
    again = Store.open(tmp_path / "st")
    with pytest.raises(WrongPassphrase):
        again.unlock("not the passphrase")
    again.close()


def test_an_unknown_suite_is_refused_naming_the_ones_there_are(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="intl or gm"):
        suite_named("des")
    with pytest.raises(ValidationError, match="crypto"):
        Store.create(tmp_path / "st", township=TOWNSHIP, name="镇", clerk="张三",
                     passphrase=PASSPHRASE, kdf=keys.FAST_KDF, crypto="des")
    assert not (tmp_path / "st" / DB_FILE).exists()


def test_the_county_suite_is_fixed_in_its_home_at_init(tmp_path: Path) -> None:
    home = county.init(tmp_path / "county", crypto="gm")
    assert config.load(home).crypto == "gm"
    assert county.public_keys(home)["crypto"] == "gm"
    assert len(base64.b64decode(county.public_keys(home)["county_signing_key"])) == 64  # SM2
    other = tmp_path / "serve.toml"
    other.write_text('crypto = "intl"\n')
    with pytest.raises(ValidationError, match="fixed at county init"):
        config.load(home, other)
    other.write_text("port = 9443\n")
    assert config.load(home, other).crypto == "gm"


# ------------------------------------------------------------------ end to end


def gm_station(tmp_path: Path, name: str) -> Cli:
    cli = Cli(tmp_path / name)
    made = cli.json("init", "--township", TOWNSHIP, "--name", f"{name}综治中心", "--clerk", "张三",
                    "--crypto", "gm")
    assert made["crypto"] == "gm"
    return cli


def hub_sealed_changes(hub_database: str) -> list[str]:
    """The sealed fields of every change the hub holds, as its database has them."""
    query = "SELECT fields FROM changes"
    if hub_database.startswith("sqlite"):
        with sqlite3.connect(hub_database.removeprefix("sqlite:///")) as conn:
            return [r[0] for r in conn.execute(query)]
    with psycopg.connect(hub_database) as pg:
        return [r[0] for r in pg.execute(query)]


def test_a_gm_station_syncs_with_a_gm_hub_and_nothing_personal_is_in_clear(
        hub_database: str, tmp_path: Path) -> None:
    began = time.time()
    home = county.init(tmp_path / "county", hub_database, crypto="gm")
    hub = HubServer(home).start()
    try:
        first, second = gm_station(tmp_path, "甲站"), gm_station(tmp_path, "乙站")
        assert enroll(first, hub)["township"] == TOWNSHIP
        people = list(synthetic.people(12, [GRID], seed=2512))
        source = tmp_path / "people.jsonl"
        source.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in people),
                          encoding="utf-8")
        first("add", "person", "--file", str(source))
        source.unlink()  # only the system's own files are scanned below
        pushed = first.json("sync", "--once")
        assert pushed["pushed"] == 12 and not pushed.get("rejected"), pushed
        exported = first("export", "person").stdout.splitlines()
        assert county_cli(home, "export", "person").splitlines() == exported
        enroll(second, hub)
        second.json("sync", "--once")
        assert second("export", "person").stdout.splitlines() == exported
        assert first.json("status", "--json")["crypto"] == "gm"

        # A GM hub refuses a request signed under intl by name, even by a station it knows.
        station_id = first.json("status", "--json")["station_id"]
        body = b'{"cursor": 0}'
        forged = sign(Ed25519PrivateKey.generate(), "POST", "/v1/push", body, station_id,
                      int(time.time() * 1000), versions=(str(PROTOCOL_VERSION), software_version()))
        answer = requests.post(hub.url + "/v1/push", data=body, headers=forged,
                               verify=str(home / "tls.crt"), timeout=10)
        assert answer.status_code == 403, answer.text
        assert "international" in answer.text and "national GM" in answer.text
    finally:
        hub.stop()

    # The station's sealed bytes are SM4-GCM's (their format byte), and the hub's at rest too.
    with sqlite3.connect(Path(first.env["STATION_HOME"]) / DB_FILE) as conn:
        sealed = [json.loads(r[0]) for r in conn.execute("SELECT sealed FROM records")]
    assert len(sealed) == 12
    assert {base64.b64decode(v)[:1] for fields in sealed for v in fields.values()} == {b"\xc1"}
    assert {base64.b64decode(v)[:1] for v in hub_sealed_changes(hub_database)} == {b"\xc1"}
    secrets = [str(p[k]) for p in people for k in SECRET_FIELDS]
    roots = [Path(first.env["STATION_HOME"]), Path(second.env["STATION_HOME"]), home,
             *hub_database_files(hub_database, began)]
    assert scan(roots, secrets) == {}
    assert scan(roots, [GRID])  # the scan sees what is clear on purpose


def test_an_intl_station_is_refused_by_a_gm_county_naming_both_and_nothing_is_saved(
        cli: Cli, tmp_path: Path) -> None:
    home = county.init(tmp_path / "county", crypto="gm")
    hub = HubServer(home).start()
    try:
        code = json.loads(county_cli(home, "station", "add", "--township", TOWNSHIP))["code"]
        refused = cli("enroll", "--hub", hub.url, "--code", code, "--fingerprint", hub.fingerprint,
                      ok=False)
        assert "international" in refused.stderr and "national GM" in refused.stderr, refused.stderr
        assert "国密" in refused.stderr and "国际密码" in refused.stderr
        station_home = Path(cli.env["STATION_HOME"])
        with sqlite3.connect(station_home / DB_FILE) as conn:
            saved = dict(conn.execute("SELECT key, value FROM settings").fetchall())
        assert not {"hub_url", "county_signing_key", "station_key"} & saved.keys()
        assert not [p for p in station_home.iterdir() if p.suffix in (".crt", ".pem")]
        # The code was not spent: a GM station enrolls with it.
        gm = gm_station(tmp_path, "国密站")
        done = gm.json("enroll", "--hub", hub.url, "--code", code, "--fingerprint", hub.fingerprint)
        assert done["township"] == TOWNSHIP
    finally:
        hub.stop()


def test_a_gm_station_is_refused_by_an_intl_county(sqlite_hub: HubServer, tmp_path: Path) -> None:
    gm = gm_station(tmp_path, "国密站")
    code = json.loads(county_cli(sqlite_hub.home, "station", "add", "--township", TOWNSHIP))["code"]
    refused = gm("enroll", "--hub", sqlite_hub.url, "--code", code, "--fingerprint",
                 sqlite_hub.fingerprint, ok=False)
    assert "national GM" in refused.stderr and "international" in refused.stderr, refused.stderr
    assert "hub_url" not in gm.json("status", "--json")


def test_a_gm_station_syncs_through_a_stick_signed_with_sm2(tmp_path: Path) -> None:
    home = county.init(tmp_path / "county", crypto="gm")
    hub = HubServer(home).start()
    try:
        offline = gm_station(tmp_path, "离线站")
        enroll(offline, hub)
        people = list(synthetic.people(5, [GRID], seed=2513))
        for person in people:
            offline("add", "person", "--json", json.dumps(person, ensure_ascii=False))
        export = offline.json("export-changes", "--to", str(tmp_path / "stick"))
        assert not scan([Path(export["file"])], [str(p[k]) for p in people for k in SECRET_FIELDS])
        # The hub knows the station by an SM2 key (64 bytes, on the curve), so the parcel's
        # signature it checks below is SM2's.
        with county.open_hub(home).storage.transaction() as tx:
            row = tx.station(offline.json("status", "--json")["station_id"])
        assert row is not None
        assert len(Sm2PublicKey(base64.b64decode(row.public_key)).public_bytes_raw()) == 64
        done = json.loads(county_cli(home, "import-changes", export["file"]))
        assert (done["accepted"], done["rejected"]) == (5, 0)
        got = offline.json("import-return", done["file"])
        assert (got["accepted"], got["pending"]) == (5, 0)
    finally:
        hub.stop()


def test_a_gm_sealer_and_signing_key_serve_several_threads_at_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    sealer, key = Sealer(KEY, GM_SUITE), Sm2PrivateKey.generate()

    def work(n: int) -> bool:
        ad = field_ad(f"r{n}", "person", "name")
        for i in range(50):
            text = f"张{n}-{i}"
            assert sealer.open_value(sealer.seal_value(text, ad), ad) == text
        signature = key.sign(f"request {n}".encode())
        return sm2_verifies(key.public_key().public_bytes_raw(), signature, f"request {n}".encode())

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(work, range(8)))
