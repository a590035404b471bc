"""Backups with the real litestream binary: continuous replication to a file replica, a box
that dies (litestream SIGKILLed, the home deleted), a restore that a clerk unlocks, a resync
with the hub that doubles and loses nothing, clear messages for a missing or damaged replica,
and a replica that holds no personal value in clear."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from station import synthetic
from station.store import Store
from sync.hub import county

from .conftest import GRID, PASSPHRASE, STATION, Cli
from .hubserver import HubServer, _die_with_parent
from .test_sealing import scan_for_clear_values
from .test_sync_e2e import enroll


class Replication:
    """`station backup run` (litestream under it) in a child process."""

    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.process = subprocess.Popen([STATION, "backup", "run"], env=cli.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=_die_with_parent)

    def caught_up(self, seconds: float = 30) -> dict[str, object]:
        """Wait until the replica holds every transaction of the database."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status = self.cli.json("backup", "status")
            if status["ok"]:
                return dict(status)
            time.sleep(0.2)
        raise AssertionError(f"the replica never caught up: {status}")

    def crash(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def replica(cli: Cli, tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "usb" / "station-backup"
    cli.json("backup", "setup", "--replica", str(where))
    yield where


def restore(cli: Cli, replica: Path, to: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    return cli("restore", "--from", str(replica), "--to", str(to), ok=ok)


def test_setup_writes_a_private_configuration_and_names_what_is_wrong(cli: Cli, tmp_path: Path) -> None:
    home = Path(cli.env["STATION_HOME"])
    for bad, words in ((["--replica", "relative/path"], "absolute"),
                       (["--replica", str(home / "inside")], "inside the station home"),
                       (["--replica", "ftp://nas/backup"], "unsupported replica scheme"),
                       (["--replica", "s3://bucket"], "s3://BUCKET/PATH")):
        err = cli("backup", "setup", *bad, ok=False).stderr
        assert words in err and err.count("\n") == 1, err
    assert not (home / "litestream.yml").exists()  # nothing half-written
    env = {k: v for k, v in cli.env.items() if not k.startswith("LITESTREAM_")}
    keys = tmp_path / "s3.keys"
    keys.write_text("LITESTREAM_ACCESS_KEY_ID=AK\nLITESTREAM_SECRET_ACCESS_KEY=SK\n")
    keys.chmod(0o644)
    no_keys = subprocess.run([STATION, "backup", "setup", "--replica", "s3://county/t1"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert no_keys.returncode != 0 and "LITESTREAM_ACCESS_KEY_ID" in no_keys.stderr
    assert "must be 0600" in cli("backup", "setup", "--replica", "s3://county/t1", "--credentials",
                                 str(keys), ok=False).stderr
    keys.chmod(0o600)
    done = cli.json("backup", "setup", "--replica", "s3://county/t1?endpoint=http://127.0.0.1:9000",
                    "--credentials", str(keys))
    assert done["replica"].startswith("s3://county/t1")
    for name in ("litestream.yml", "backup.json"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600
    assert "SK" not in (home / "litestream.yml").read_text()  # keys stay in their own file
    assert "no backup is set up" in Cli(tmp_path / "other")("backup", "status", ok=False).stderr


def test_continuous_writes_survive_losing_the_box(cli: Cli, replica: Path, tmp_path: Path) -> None:
    """Write without pause, kill litestream and delete the home at once: the restore holds
    every write up to the replica's position, with no hole, and a clerk unlocks it."""
    home = Path(cli.env["STATION_HOME"])
    running = Replication(cli)
    running.caught_up()
    store = Store.open(home)
    store.unlock(PASSPHRASE)
    people = list(synthetic.people(100_000, [GRID], seed=11))
    written: list[tuple[str, float]] = []
    stop = time.monotonic() + 3
    while time.monotonic() < stop:
        written.append((store.add("person", people[len(written)]), time.time()))
    crashed_at = time.time()
    running.crash()
    store.close()
    shutil.rmtree(home)  # the disk is gone

    out = json.loads(restore(cli, replica, tmp_path / "restored").stdout)
    assert out["txid"] > 0
    back = Store.open(tmp_path / "restored")
    back.unlock(PASSPHRASE)
    present = {r["id"] for r in back.page("person", limit=len(written) + 1)}
    kept = [rid in present for rid, _ in written]
    n = sum(kept)
    assert kept == [True] * n + [False] * (len(written) - n)  # a prefix: no write skipped
    assert n > 0, len(written)
    assert out["recover_after"] == n  # one change per write: the outbox ends where the data does
    lost_seconds = crashed_at - written[n - 1][1]
    # What the replica may lag by (docs/RELIABILITY.md has the measured figure): not a share
    # of the writes, which a loaded machine's litestream can fall behind on in 3 s.
    assert lost_seconds < 5, lost_seconds
    back.close()


def test_a_restored_station_resyncs_with_nothing_doubled_or_lost(
        cli: Cli, hub: HubServer, replica: Path) -> None:
    home = Path(cli.env["STATION_HOME"])
    enroll(cli, hub)
    people = iter(synthetic.people(9, [GRID], seed=12))

    def add(n: int) -> None:
        for _ in range(n):
            cli("add", "person", "--json", json.dumps(next(people), ensure_ascii=False))

    add(3)
    assert cli.json("sync", "--once")["pushed"] == 3  # A: on the hub before the backup
    running = Replication(cli)
    add(2)  # B: pending when the replica last heard from the box
    running.caught_up()
    running.crash()
    add(2)  # C: sent to the hub after the replica's position, then the box dies
    assert cli.json("sync", "--once")["pushed"] == 4
    shutil.rmtree(home)

    restore(cli, replica, home)
    assert cli.json("status", "--json")["pending"] == 2  # B, whose receipts were lost
    add(1)  # D: written on the restored box before it syncs; its number is one C used
    result = cli.json("sync", "--once")
    assert result["pending"] == 0 and result["rejected"] == 0
    station = cli("export", "person").stdout
    assert len(station.splitlines()) == 8  # A, B, C (back from the hub) and D
    assert county_export(hub) == station
    again = cli.json("sync", "--once")
    assert (again["pushed"], again["pulled"]) == (0, 0)
    with county.open_hub(hub.home).storage.transaction() as tx:
        per_record = tx.rows("SELECT record, count(*) FROM changes GROUP BY record")
        numbers = tx.rows("SELECT station_seq FROM changes ORDER BY station_seq")
    assert len(per_record) == 8 and all(n == 1 for _, n in per_record)  # nothing doubled
    assert [s for (s,) in numbers] == list(range(1, 9))


def county_export(hub: HubServer) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
                   for r in county.open_hub(hub.home).export("person"))


def test_a_missing_or_damaged_replica_gives_a_clear_message(cli: Cli, replica: Path, tmp_path: Path) -> None:
    err = restore(cli, tmp_path / "nowhere", tmp_path / "r1", ok=False).stderr
    assert "no backup found" in err and err.count("\n") == 1
    cli("add", "person", "--json", json.dumps(next(iter(synthetic.people(1, [GRID], seed=3))),
                                              ensure_ascii=False))
    running = Replication(cli)
    running.caught_up()
    running.crash()
    for ltx in replica.rglob("*.ltx"):  # bit rot on the USB stick
        data = bytearray(ltx.read_bytes())
        for i in range(100, len(data), 7):
            data[i] ^= 0xFF
        ltx.write_bytes(bytes(data))
    err = restore(cli, replica, tmp_path / "r2", ok=False).stderr
    assert "may be damaged" in err or "integrity" in err or "no backup found" in err, err
    assert not (tmp_path / "r2" / "station.db").exists()  # nothing half-restored is left
    err = restore(cli, replica, Path(cli.env["STATION_HOME"]), ok=False).stderr
    assert "already holds a station store" in err


def test_the_replica_holds_no_personal_value_in_clear(cli: Cli, replica: Path, tmp_path: Path) -> None:
    people = list(synthetic.people(300, [GRID], seed=13))
    path = tmp_path / "people.jsonl"
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in people))
    cli("add", "person", "--file", str(path))
    running = Replication(cli)
    running.caught_up()
    running.crash()
    restore(cli, replica, tmp_path / "restored")
    secrets = [p[k] for p in people for k in ("name", "id_number", "phone", "address")]
    # The replica's files as they are, and the database they restore to, byte for byte.
    assert scan_for_clear_values(replica, secrets) == []
    assert scan_for_clear_values(tmp_path / "restored", secrets) == []
    assert scan_for_clear_values(tmp_path / "restored", [GRID]) == [GRID]  # the scan can see


def test_status_shows_the_replica_falling_behind_and_catching_up(cli: Cli, replica: Path) -> None:
    running = Replication(cli)
    first = running.caught_up()
    running.crash()
    time.sleep(1.1)  # the replica's times are whole seconds
    cli("add", "person", "--json", json.dumps(next(iter(synthetic.people(1, [GRID], seed=5))),
                                              ensure_ascii=False))
    behind = cli.json("backup", "status")
    assert behind["behind"] >= 1 and not behind["ok"] and behind["lag_seconds"] >= 0
    assert behind["replica_txid"] == first["replica_txid"]
    running = Replication(cli)
    assert running.caught_up()["replica_txid"] > first["replica_txid"]  # type: ignore[operator]
    running.crash()


ROOT = Path(__file__).resolve().parent.parent


def test_install_service_writes_the_units_and_uninstall_removes_them(tmp_path: Path) -> None:
    root = tmp_path / "root"
    run = subprocess.run([str(ROOT / "install.sh"), "--service", "--kiosk", "--root", str(root)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    units = root / "etc/systemd/system"
    venv = ROOT / ".venv/bin/station"
    sync_unit = (units / "township-station-sync.service").read_text()
    assert f"ExecStart={venv} sync --daemon" in sync_unit and "User=township" in sync_unit
    assert "EnvironmentFile=/etc/township-station/sync.env" in sync_unit
    assert "LoadCredential=passphrase:/etc/township-station/passphrase" in sync_unit
    assert not re.search(r"@[A-Z_]+@", sync_unit)  # filled in (@system-service is systemd's)
    backup_unit = (units / "township-station-backup.service").read_text()
    assert f"ExecStart={venv} backup run" in backup_unit
    assert "ConditionPathExists=/var/lib/township-station/backup.json" in backup_unit
    kiosk = (units / "township-station-kiosk.service").read_text()
    assert "TTYPath=/dev/tty1" in kiosk and "Conflicts=getty@tty1.service" in kiosk
    assert "fbterm" in kiosk and f"{venv} tui" in kiosk
    env = root / "etc/township-station/sync.env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "var/lib/township-station").stat().st_mode) == 0o700
    assert "/var/log/township-station/*.log" in (root / "etc/logrotate.d/township-station").read_text()
    secret = root / "etc/township-station/passphrase"
    assert "PASSPHRASE" not in env.read_text()  # the passphrase has a file of its own
    assert secret.read_text() == "" and stat.S_IMODE(secret.stat().st_mode) == 0o600
    # An install of the release before kept the passphrase in sync.env: moved out, once.
    env.write_text("STATION_CLERK=张三\nSTATION_PASSPHRASE='secret words'\n")
    for _ in range(2):  # and again: nothing changes the second time
        again = subprocess.run([str(ROOT / "install.sh"), "--service", "--root", str(root)],
                               capture_output=True, text=True, timeout=600, cwd=ROOT)
        assert again.returncode == 0, again.stderr
        assert env.read_text() == "STATION_CLERK=张三\n"  # the clerk never overwritten
        assert secret.read_text() == "secret words" and stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert stat.S_IMODE(env.stat().st_mode) == 0o600
    gone = subprocess.run([str(ROOT / "install.sh"), "--uninstall", "--root", str(root)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert gone.returncode == 0, gone.stderr
    assert not any(units.glob("township-station-*"))
    assert not (root / "etc/logrotate.d/township-station").exists()
    assert env.exists() and secret.exists()  # the store's settings are kept


def test_the_sync_service_unlocks_with_the_passphrase_systemd_hands_it(tmp_path: Path, cli: Cli) -> None:
    # What LoadCredential= gives the daemon (systemd is not PID 1 on this machine, so the folder
    # is made here as systemd makes it): $CREDENTIALS_DIRECTORY/passphrase, and no passphrase
    # in the environment.
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o500)
    env = {k: v for k, v in cli.env.items() if k != "STATION_PASSPHRASE"}
    (creds / "passphrase").write_text(PASSPHRASE + "\n")  # an editor's newline is not part of it
    creds.chmod(0o500)
    cli("add", "person", "--json", json.dumps({"name": "王五", "id_number": "11010519491231002X",
                                                "grid": GRID}))
    run = subprocess.run([STATION, "export", "person"], capture_output=True, text=True, timeout=60,
                         env={**env, "CREDENTIALS_DIRECTORY": str(creds)}, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert [json.loads(line)["fields"]["name"] for line in run.stdout.splitlines()] == ["王五"]
    # Without it, and not at a terminal, the message names the variable to set.
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = subprocess.run([STATION, "export", "person"], capture_output=True, text=True, timeout=60,
                             env={**env, "CREDENTIALS_DIRECTORY": str(empty)}, stdin=subprocess.DEVNULL)
    assert refused.returncode != 0 and "STATION_PASSPHRASE" in refused.stderr, refused.stderr


@pytest.mark.skipif(os.path.isdir("/run/systemd/system"), reason="this machine runs systemd")
def test_without_systemd_install_service_says_so_and_how_to_run_each_part() -> None:
    run = subprocess.run([str(ROOT / "deploy/service.sh"), "install"], capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 0
    assert "systemd is not running" in run.stderr and "station backup run" in run.stderr
    assert "station sync --daemon" in run.stderr


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[str]:
    """An S3-compatible server on 127.0.0.1 (moto), with a bucket `county`; its endpoint."""
    import boto3

    from .hubserver import free_port

    port = free_port()
    server = subprocess.Popen([str(Path(STATION).with_name("moto_server")), "-H", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=_die_with_parent)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="AK", aws_secret_access_key="SK")
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket="county")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_an_s3_replica_with_keys_from_a_private_file(cli: Cli, s3: str, tmp_path: Path) -> None:
    keys = tmp_path / "s3.keys"
    keys.write_text("LITESTREAM_ACCESS_KEY_ID=AK\nLITESTREAM_SECRET_ACCESS_KEY=SK\n")
    keys.chmod(0o600)
    url = f"s3://county/t440524001?endpoint={s3}&region=us-east-1&forcePathStyle=true"
    cli.json("backup", "setup", "--replica", url, "--credentials", str(keys))
    person = next(iter(synthetic.people(1, [GRID], seed=21)))
    rid = cli("add", "person", "--json", json.dumps(person, ensure_ascii=False)).stdout.strip()
    running = Replication(cli)
    status = running.caught_up()
    running.crash()
    assert status["replica"].startswith("s3://county/t440524001")
    out = json.loads(cli("restore", "--from", url, "--to", str(tmp_path / "restored"),
                         "--credentials", str(keys)).stdout)
    assert out["txid"] > 0
    back = Store.open(tmp_path / "restored")
    back.unlock(PASSPHRASE)
    assert back.get("person", rid)["fields"]["name"] == person["name"]
    back.close()
    wrong = tmp_path / "wrong.keys"
    wrong.write_text("LITESTREAM_ACCESS_KEY_ID=AK\nSECRET=SK\n")
    wrong.chmod(0o600)
    assert "line 2" in cli("restore", "--from", url, "--to", str(tmp_path / "r2"), "--credentials",
                           str(wrong), ok=False).stderr
