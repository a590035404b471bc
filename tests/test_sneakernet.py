"""Sync on a USB stick (issue 24 point 6): a station with no link exports its outbox, county IT
applies it at the hub, the station takes the return file back. Real stations through the
`station` command, a real hub over HTTPS for enrolment and for the other stations, `county
import-changes` as a real process, on SQLite and PostgreSQL.

The oracle is what each station was given: what the offline station wrote must be at the
hub and at a station that synced over the link afterwards, what another station pushed
before the return file was made must reach the offline one, and nothing on the stick may
show a value in clear."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from station import synthetic
from sync import parcel
from sync.hub import county
from sync.protocol import PushBatch, compress, decode_results, encode_push

from .conftest import GRID, TOWNSHIP, Cli
from .hubserver import HubServer

COUNTY = str(Path(sys.executable).with_name("county"))
OTHER_TOWNSHIP_GRID = "440524002001"


def county_cli(home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([COUNTY, "--home", str(home), *args], capture_output=True, text=True,
                            timeout=120)
    assert (result.returncode == 0) == ok, result.stderr
    return result


def station(tmp_path: Path, hub: HubServer, name: str) -> Cli:
    cli = Cli(tmp_path / name)
    cli("init", "--township", TOWNSHIP, "--name", f"{name}站", "--clerk", "张三")
    code = county.open_hub(hub.home).add_enrollment(TOWNSHIP, [])
    cli("enroll", "--hub", hub.url, "--code", code, "--fingerprint", hub.fingerprint)
    return cli


def add_people(cli: Cli, tmp_path: Path, count: int, seed: int) -> list[dict[str, Any]]:
    people = list(synthetic.people(count, [GRID], seed=seed))
    path = tmp_path / f"people-{seed}.jsonl"
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in people), encoding="utf-8")
    cli("add", "person", "--file", str(path))
    return people


def names_at(cli: Cli) -> set[str]:
    out = cli("export", "person").stdout
    return {json.loads(line)["fields"]["name"] for line in out.splitlines() if line.strip()}


def hub_changes(home: Path) -> int:
    with county.open_hub(home).storage.transaction() as tx:
        ((count,),) = tx.rows("SELECT count(*) FROM changes")
    return int(count)


def test_a_station_without_a_link_syncs_through_a_stick(hub: HubServer, tmp_path: Path) -> None:
    offline, online = station(tmp_path, hub, "offline"), station(tmp_path, hub, "online")
    theirs = add_people(online, tmp_path, 20, seed=41)
    online("sync")  # the hub holds these before the return file is made
    mine = add_people(offline, tmp_path, 60, seed=42)
    stick = tmp_path / "stick"

    export = offline.json("export-changes", "--to", str(stick))
    assert export["changes"] == 60
    data = Path(export["file"]).read_bytes()
    for person in mine:  # nothing on the stick is readable without the keys
        for key in ("name", "id_number", "phone"):
            assert person[key].encode() not in data, key
    assert offline.json("status", "--json")["pending"] == 60  # nothing leaves the outbox without a receipt

    done = json.loads(county_cli(hub.home, "import-changes", export["file"]).stdout)
    assert (done["accepted"], done["rejected"]) == (60, 0)
    assert done["pulled"] >= 20  # the online station's people, in the return file
    back = Path(done["file"]).read_bytes()
    for person in theirs:
        assert person["name"].encode() not in back

    got = offline.json("import-return", done["file"])
    assert (got["accepted"], got["rejected"], got["pending"]) == (60, 0, 0)
    assert names_at(offline) >= {p["name"] for p in theirs}  # the pull came on the stick
    online("sync")
    assert names_at(online) >= {p["name"] for p in mine}  # and the changes reached the county

    # Idempotent: the same changes file again changes nothing at the hub; the same return
    # file again is refused at the station, which is unchanged.
    before = hub_changes(hub.home)
    again = json.loads(county_cli(hub.home, "import-changes", export["file"],
                                  "--out", str(tmp_path / "again")).stdout)
    assert (again["accepted"], again["rejected"]) == (60, 0) and hub_changes(hub.home) == before
    err = offline("import-return", done["file"], ok=False).stderr
    assert "imported before" in err or "已导入过" in err
    assert offline.json("status", "--json")["pending"] == 0


def flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_a_tampered_or_misdirected_file_is_refused_and_nothing_is_applied(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    one, two = station(tmp_path, sqlite_hub, "one"), station(tmp_path, sqlite_hub, "two")
    add_people(one, tmp_path, 5, seed=43)
    export = Path(one.json("export-changes", "--to", str(tmp_path / "stick"))["file"])
    data = export.read_bytes()
    header = parcel.read_header(export)
    head_end = len(parcel.MAGIC) + 4 + len(json.dumps(header, ensure_ascii=False, sort_keys=True).encode())
    cases = {
        "body": flipped(data, head_end + 40),  # inside the sealed changes
        "signature": flipped(data, len(data) - 3),
        "cut": data[: len(data) // 2],
        # Another enrolled station's id in the header: checked against that station's key.
        "other station": data.replace(header["station"].encode(),
                                      two.json("status", "--json")["station_id"].encode()),
    }
    for name, bad in cases.items():
        path = tmp_path / f"{name}.tsp"
        path.write_bytes(bad)
        err = county_cli(sqlite_hub.home, "import-changes", str(path), ok=False).stderr
        assert "sync file" in err, (name, err)
        assert len(err.strip().splitlines()) == 1, err
    assert hub_changes(sqlite_hub.home) == 0  # nothing applied half-way

    done = json.loads(county_cli(sqlite_hub.home, "import-changes", str(export)).stdout)
    err = two("import-return", done["file"], ok=False).stderr  # the return is for `one`
    assert "another station" in err or "另一个站点" in err
    back = Path(done["file"]).read_bytes()
    tampered = tmp_path / "tampered-return.tsp"
    tampered.write_bytes(flipped(back, len(back) - 80))
    err = one("import-return", str(tampered), ok=False).stderr
    assert "signature" in err
    assert one.json("status", "--json")["pending"] == 5  # the tampered return recorded nothing
    assert one.json("import-return", done["file"])["pending"] == 0


def test_a_revoked_station_file_is_refused(sqlite_hub: HubServer, tmp_path: Path) -> None:
    one = station(tmp_path, sqlite_hub, "one")
    add_people(one, tmp_path, 3, seed=44)
    export = one.json("export-changes", "--to", str(tmp_path / "stick"))
    station_id = one.json("status", "--json")["station_id"]
    assert county.open_hub(sqlite_hub.home).revoke(station_id)
    err = county_cli(sqlite_hub.home, "import-changes", export["file"], ok=False).stderr
    assert "revoked" in err and hub_changes(sqlite_hub.home) == 0


def test_a_change_out_of_the_station_scope_is_rejected_as_a_push_would_be(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    """A file signed by the station itself but holding a change in another township (a
    broken or altered box): the hub refuses that change by name and keeps the others."""
    from station.sneakernet import _station_key
    from station.store import Store
    from station.syncer import pending

    one = station(tmp_path, sqlite_hub, "one")
    add_people(one, tmp_path, 2, seed=45)
    store = Store.open(Path(one.env["STATION_HOME"]))
    store.unlock(one.env["STATION_PASSPHRASE"], "张三")
    changes = pending(store, 10)
    stray = replace(changes[0], seq=changes[-1].seq + 1, grid=OTHER_TOWNSHIP_GRID,
                    record="00000000-0000-4000-8000-000000000000")
    settings = store.settings()
    county_key = X25519PublicKey.from_public_bytes(bytes.fromhex(settings["county_public_key"]))
    signing = Ed25519PublicKey.from_public_bytes(base64.b64decode(settings["county_signing_key"]))
    reply = X25519PrivateKey.generate()
    header = {"station": store.station_id, "id": "f" * 32, "created": "", "batches": 1,
              "reply": reply.public_key().public_bytes_raw().hex()}
    meta = compress({"cursor": 0, "schema": 1, "pending": 3, "rejected": 0})
    batch = encode_push(PushBatch(store.station_id, (*changes, stray)))
    path = tmp_path / "stray.tsp"
    path.write_bytes(parcel.seal("changes", header, [meta, batch], county_key, _station_key(store)))
    store.close()

    done = json.loads(county_cli(sqlite_hub.home, "import-changes", str(path)).stdout)
    assert (done["accepted"], done["rejected"]) == (2, 1)
    opened = parcel.open_file(Path(done["file"]), "return", lambda _h: signing, lambda _h: reply)
    frames = list(opened.frames)
    results = decode_results(frames[1])
    refused = {r.seq: r.rejected for r in results if r.rejected}
    assert list(refused) == [stray.seq] and "440524002001" in str(refused[stray.seq])
    with county.open_hub(sqlite_hub.home).storage.transaction() as tx:
        grids = {g for (g,) in tx.rows("SELECT grid FROM changes")}
    assert grids == {GRID}  # the stray change was not stored


def test_a_new_station_takes_its_first_sync_from_a_seed_and_then_pulls_only_what_came_after(
        hub: HubServer, tmp_path: Path) -> None:
    """`county seed` (a real process) writes what a station of the township may see; the new
    station enrolls with the code given with it, loads the seed, and its next sync over the
    link pulls exactly the five people added at the county after the seed was made."""
    first = station(tmp_path, hub, "first")
    before = add_people(first, tmp_path, 40, seed=46)
    first("sync")
    seed_file = tmp_path / "stick" / "seed.tsp"
    made = json.loads(county_cli(hub.home, "seed", "--township", TOWNSHIP, "--out", str(seed_file)).stdout)
    assert made["changes"] >= 40 and seed_file.exists()
    data = seed_file.read_bytes()
    for person in before:
        for key in ("name", "id_number", "phone"):
            assert person[key].encode() not in data, key
    after = add_people(first, tmp_path, 5, seed=47)
    first("sync")

    new = Cli(tmp_path / "new")
    new("init", "--township", TOWNSHIP, "--name", "新站", "--clerk", "张三")
    new("enroll", "--hub", hub.url, "--code", made["code"], "--fingerprint", made["fingerprint"])
    wrong_key = parcel.new_seed_key()
    err = new("load-seed", str(seed_file), "--key", wrong_key, ok=False).stderr
    assert "not meant for it" in err
    loaded = new.json("load-seed", str(seed_file), "--key", made["seed_key"])
    assert loaded["pulled"] == made["changes"]
    assert names_at(new) == {p["name"] for p in before}  # the seed alone, no link used for it
    synced = new.json("sync")
    assert synced["pulled"] == 5  # only what the county got after the seed
    assert names_at(new) == {p["name"] for p in before + after}
    err = new("load-seed", str(seed_file), "--key", made["seed_key"], ok=False).stderr
    assert "only for a first sync" in err  # a seed never goes over data already pulled


def test_a_seed_for_another_station_tampered_or_expired_is_refused(
        sqlite_hub: HubServer, tmp_path: Path, fake_time: Any) -> None:
    from station import keys, sneakernet
    from station.store import Store

    first = station(tmp_path, sqlite_hub, "first")
    add_people(first, tmp_path, 3, seed=48)
    first("sync")
    hub = county.open_hub(sqlite_hub.home)
    from sync.hub.sneakernet import make_seed

    made = make_seed(hub, sqlite_hub.home, TOWNSHIP, [], tmp_path / "seed.tsp", days=2)
    other = station(tmp_path, sqlite_hub, "other")  # enrolled with a code of its own
    err = other("load-seed", made["file"], "--key", made["seed_key"], ok=False).stderr
    assert "another enrollment code" in err

    seed_file = Path(made["file"])
    tampered = tmp_path / "tampered.tsp"
    tampered.write_bytes(flipped(seed_file.read_bytes(), seed_file.stat().st_size // 2))
    store = Store.create(tmp_path / "new", township=TOWNSHIP, name="新站", clerk="张三",
                         passphrase="correct horse battery staple", kdf=keys.FAST_KDF,
                         clock=fake_time.clock())
    from station.syncer import enroll

    enroll(store, sqlite_hub.url, made["code"], sqlite_hub.fingerprint)
    with pytest.raises(parcel.ParcelRefused) as refused:
        sneakernet.load_seed(store, tampered, made["seed_key"])
    assert refused.value.reason == "signature"
    fake_time.ms = int(time.time() * 1000) + 3 * 86_400_000  # past the two days it may be loaded in
    with pytest.raises(parcel.ParcelRefused) as refused:
        sneakernet.load_seed(store, seed_file, made["seed_key"])
    assert refused.value.reason == "expired"
    expires = datetime.fromisoformat(made["expires"])  # as the hub wrote it, in UTC
    shown = expires.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    assert f"已过期（{shown} 北京时间）" in refused.value.zh and "+00:00" not in refused.value.zh
    assert f"{shown} Beijing time" in refused.value.en
    assert store.status()["records"] == {}  # nothing of either was applied
    store.close()
