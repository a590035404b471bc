"""No one let in, nothing personal in clear: a station's key cannot act as another, a revoked
station is refused at its next request, the county's recovery key opens a store whose clerks
all forgot their passphrases, the hub's API refuses every call without the right
credentials, and a byte scan of everything the system writes — the station home, its
litestream replica and what it restores to, every log, the hub's home and database (SQLite,
and PostgreSQL's own data directory) — finds no name, ID number, phone or address."""

from __future__ import annotations

import base64
import json
import re
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station import synthetic
from sync.hub import county
from sync.signing import sign

from ..conftest import GRID, STATION, TOWNSHIP, Cli
from ..hubserver import HubProcess
from ..test_backup import Replication, restore
from ..test_sync_e2e import enroll

SECRET_FIELDS = ("name", "id_number", "phone", "address")


def scan(roots: list[Path], secrets: list[str]) -> dict[str, list[str]]:
    """{file: secrets found in it in clear}, for every file under the roots (UTF-8, and the
    \\u escapes JSON would write)."""
    needles = {s.encode(): s for s in secrets}
    needles.update({json.dumps(s).strip('"').encode(): s for s in secrets})
    pattern = re.compile(b"|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
    found: dict[str, list[str]] = {}
    for root in roots:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file():
                hits = {needles[m.group()] for m in pattern.finditer(path.read_bytes())}
                if hits:
                    found[str(path)] = sorted(hits)
    return found


def hub_database_files(hub_database: str, since: float) -> list[Path]:
    """The files the hub's database wrote: SQLite's file, -wal and -shm; or PostgreSQL's
    files of this database, its write-ahead log and shared catalogs written since `since`
    (the other databases on the server are not the hub's)."""
    if hub_database.startswith("sqlite"):
        db = Path(hub_database.removeprefix("sqlite:///"))
        return list(db.parent.glob(db.name + "*"))
    with psycopg.connect(hub_database, autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # what the hub wrote is now in the table files too
        data = Path(str(conn.execute("SHOW data_directory").fetchone()[0]))  # type: ignore[index]
        oid = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()"
                           ).fetchone()[0]  # type: ignore[index]
    return [p for root in (data / "base" / str(oid), data / "pg_wal", data / "global")
            for p in root.rglob("*") if p.is_file() and p.stat().st_mtime >= since - 1]


def test_nothing_personal_in_clear_anywhere_the_system_writes(
        cli: Cli, hub_database: str, tmp_path: Path, figures: Callable[..., None]) -> None:
    began = time.time()
    logs = tmp_path / "logs"
    logs.mkdir()
    county.init(tmp_path / "county", hub_database)
    hub = HubProcess(tmp_path / "county", log=logs / "county.log").start()
    people = list(synthetic.people(300, [GRID], seed=4242))
    secrets = [p[k] for p in people for k in SECRET_FIELDS]
    source = tmp_path / "people.jsonl"
    source.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in people), encoding="utf-8")
    replica = tmp_path / "usb" / "replica"
    try:
        enroll(cli, hub)
        cli.json("backup", "setup", "--replica", str(replica))
        running = Replication(cli)
        station_log = (logs / "station.log").open("a", encoding="utf-8")
        # What a service writes to its log: everything on stderr, and the output of the
        # commands scripts run unattended. (`search` and `get` show a record to the clerk
        # who asked: their output is the point, not a log.)
        for args in (["add", "person", "--file", str(source)], ["sync"], ["status"], ["report"],
                     ["search", people[0]["phone"]], ["rejected", "list"]):
            done = cli(*args)
            station_log.write(done.stderr + (done.stdout if args[0] not in ("search", "add") else ""))
        daemon = subprocess.Popen([STATION, "sync", "--daemon"], env=cli.env, stdout=station_log,
                                  stderr=station_log)
        time.sleep(3)
        daemon.terminate()
        daemon.wait(timeout=30)
        running.caught_up()
        running.crash()
        station_log.close()
        restore(cli, replica, tmp_path / "restored")
    finally:
        hub.stop()
    roots = [Path(cli.env["STATION_HOME"]), replica, tmp_path / "restored", logs, hub.home]
    database_files = hub_database_files(hub_database, began)
    roots += database_files
    pg_files = 0 if hub_database.startswith("sqlite") else len(database_files)
    assert scan(roots, secrets) == {}
    # The scan can see: the grid code is stored clear on purpose, and the source file is clear.
    assert scan(roots[5:], [GRID]) and scan([source], secrets[:4])
    assert (logs / "station.log").stat().st_size > 0 and "同步" in (logs / "station.log").read_text()
    figures(runs=1, secrets=len(secrets), found_in_clear=0, postgres_files_scanned=pg_files,
            backend=hub_database.split(":")[0])


def test_a_station_cannot_act_as_another_and_a_revoked_one_is_refused_at_once(
        cli: Cli, tmp_path: Path) -> None:
    county.init(tmp_path / "county")
    hub = HubProcess(tmp_path / "county").start()
    try:
        enroll(cli, hub)
        cli("add", "person", "--json", json.dumps(next(synthetic.people(1, [GRID], seed=1)),
                                                   ensure_ascii=False))
        cli("sync")
        other_key = Ed25519PrivateKey.generate()
        other_id = "otherstation"
        county.open_hub(hub.home).enroll(county.open_hub(hub.home).add_enrollment(TOWNSHIP, []), other_id,
                                         base64.b64encode(other_key.public_key().public_bytes_raw()).decode())
        me = cli.json("status", "--json")["station_id"]
        now = time.time_ns() // 1_000_000
        verify = str(hub.home / "tls.crt")
        # Signed with the other station's key while claiming to be this one: refused.
        forged = requests.get(hub.url + "/v1/pull?cursor=0", verify=verify, timeout=10,
                              headers=sign(other_key, "GET", "/v1/pull?cursor=0", b"", me, now))
        assert (forged.status_code, forged.json()["error"]) == (401, "bad_signature")
        # Its own signature on changes that claim to be this station's: each one refused.
        from sync.protocol import PushBatch, WireChange, decode_results, encode_push

        change = WireChange(me, 99, "01a226a6-3b43-71e5-b522-44e3188e5ce6", "person", "add", GRID,
                            next(synthetic.people(1, [GRID], seed=2)), f"{now:015d}.000000.{me}", {}, 1)
        body = encode_push(PushBatch(other_id, (change,)))
        reply = requests.post(hub.url + "/v1/push", data=body, verify=verify, timeout=10,
                              headers=sign(other_key, "POST", "/v1/push", body, other_id, now))
        (result,) = decode_results(reply.content)
        assert result.receipt is None and "own changes" in str(result.rejected)
        subprocess.run([str(Path(STATION).with_name("county")), "--home", str(hub.home), "station",
                        "revoke", me], check=True, capture_output=True, timeout=60)
        err = cli("sync", ok=False).stderr
        assert "revoked" in err
    finally:
        hub.stop()


def test_the_hub_api_refuses_every_call_without_the_right_credentials(tmp_path: Path) -> None:
    county.init(tmp_path / "county")
    hub = HubProcess(tmp_path / "county").start()
    verify = str(hub.home / "tls.crt")
    stranger = Ed25519PrivateKey.generate()
    now = time.time_ns() // 1_000_000
    try:
        calls = (("POST", "/v1/push"), ("GET", "/v1/pull?cursor=0"), ("GET", "/v1/schema?after=1"))
        for method, path in calls:
            unsigned = requests.request(method, hub.url + path, verify=verify, timeout=10)
            assert unsigned.status_code == 401, (path, unsigned.text)
            unknown = requests.request(method, hub.url + path, verify=verify, timeout=10,
                                       headers=sign(stranger, method, path, b"", "nobody", now))
            assert (unknown.status_code, unknown.json()["error"]) == (403, "unknown_station")
        bad_code = requests.post(hub.url + "/v1/enroll", verify=verify, timeout=10, json={
            "code": "AAAA-BBBB-CCCC-DDDD", "station_id": "x",
            "public_key": base64.b64encode(stranger.public_key().public_bytes_raw()).decode()})
        assert (bad_code.status_code, bad_code.json()["error"]) == (403, "bad_code")
        assert requests.get(hub.url + "/v1/health", verify=verify, timeout=10).json() == {"ok": True}
    finally:
        hub.stop()
    # The county's own tools work from the county home: its secrets are the admin's alone.
    assert stat.S_IMODE(hub.home.stat().st_mode) == 0o700
    for name in ("data.key", "tls.key", "recovery.key", "signing.key"):
        if (hub.home / name).exists():
            assert stat.S_IMODE((hub.home / name).stat().st_mode) == 0o600, name


def test_the_county_recovery_key_opens_a_store_whose_clerks_all_forgot(cli: Cli, tmp_path: Path) -> None:
    county.init(tmp_path / "county")
    hub = HubProcess(tmp_path / "county").start()
    try:
        enroll(cli, hub)  # enrolling adds the county's recovery keyslot
        person = next(synthetic.people(1, [GRID], seed=9))
        record = cli("add", "person", "--json", json.dumps(person, ensure_ascii=False)).stdout.strip()
    finally:
        hub.stop()
    forgot = {"STATION_PASSPHRASE": "nobody remembers this one"}
    assert "passphrase" in cli("get", "person", record, ok=False, **forgot).stderr.lower()
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(bytes(32))
    assert cli("clerk", "recover", "王五", "--recovery-key", str(wrong), ok=False).returncode != 0
    short = tmp_path / "short.key"
    short.write_bytes(b"123")
    assert "32 bytes" in cli("clerk", "recover", "王五", "--recovery-key", str(short), ok=False).stderr
    cli("clerk", "recover", "王五", "--recovery-key", str(hub.home / "recovery.key"),
        STATION_NEW_PASSPHRASE="a brand new passphrase")
    got = json.loads(cli("get", "person", record, STATION_PASSPHRASE="a brand new passphrase",
                         STATION_CLERK="王五").stdout)
    assert got["fields"]["name"] == person["name"]
