"""Attachments: checked and sealed on the station, moved after the records in acknowledged
chunks over a real hub (SQLite and PostgreSQL), resumed after cuts, sent once per county."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest
from PIL import Image

from station import synthetic, transfer
from station.attachments import Attachments
from station.cases import Cases
from station.store import Store
from station.syncer import client_for, push, records_first, sync_once
from sync import attachments as files
from sync.bundle import BundleError, check_bundle, parse_bundle
from sync.client import Client
from sync.errors import SyncError, ValidationError
from sync.hub import county
from sync.schema import v1_schema

from .conftest import GRID, Cli
from .hubserver import HubServer
from .test_backup import Replication, restore
from .test_sync_e2e import county_cli, enroll
from .torture.test_security import hub_database_files

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from netem import Link, Profile


def noise_image(path: Path, width: int, height: int, fmt: str = "PNG", seed: int = 1) -> bytes:
    """An image of random pixels: it does not compress, so its bytes are unlike any other."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    path.write_bytes(out.getvalue())
    return out.getvalue()


def incident(store: Store) -> str:
    return Cases(store, "incident").open({"category": "01", "title": "路灯不亮", "grid": GRID},
                                         note="随手拍")


# ---------------------------------------------------------------------- pure rules


def test_types_are_told_from_the_bytes_and_chunks_cover_the_file_exactly() -> None:
    assert files.sniff(b"\xff\xd8\xff\xe0....") == "image/jpeg"
    assert files.sniff(b"\x89PNG\r\n\x1a\n...") == "image/png"
    assert files.sniff(b"%PDF-1.7") == "application/pdf"
    assert files.sniff(b"GIF89a") is None and files.sniff(b"") is None
    size = 3 * files.CHUNK_BYTES + 5
    assert files.chunk_count(size) == 4 and files.chunk_count(1) == 1
    assert sum(files.chunk_length(size, i) for i in range(4)) == size
    with pytest.raises(ValidationError, match="chunk 3 must be 5 bytes"):
        files.check_chunk(size, 3, files.CHUNK_BYTES)
    with pytest.raises(ValidationError, match="index"):
        files.check_chunk(size, 4, 5)


def test_the_schema_says_which_records_take_files_and_a_bundle_can_change_it() -> None:
    schema = v1_schema()
    rule = files.rule_for(schema, "incident")
    with pytest.raises(ValidationError, match="person records take no attachments") as refused:
        files.rule_for(schema, "person")
    assert refused.value.field == "entity" and "实有人口" in refused.value.zh
    with pytest.raises(ValidationError, match=r"too large: 10\.0 MB, the limit is 10\.0 MB|too large"):
        files.check_file(rule, "image/png", rule.max_bytes + 1)
    with pytest.raises(ValidationError, match="allowed: JPEG, PNG, PDF") as wrong:
        files.check_file(rule, None, 10)
    assert wrong.value.rule == "media_type"
    bundle = parse_bundle(json.dumps({
        "format": 1, "version": 2, "name": "x", "summary_zh": "x", "summary_en": "x",
        "operations": [{"op": "set_attachments", "entity": "person", "max_bytes": 2_000_000,
                        "types": ["image/jpeg"]}]}).encode())
    after = check_bundle(bundle, schema)
    assert after.attachments["person"].types == ("image/jpeg",)
    bad = parse_bundle(json.dumps({
        "format": 1, "version": 2, "name": "x", "summary_zh": "x", "summary_en": "x",
        "operations": [{"op": "set_attachments", "entity": "person", "max_bytes": 10,
                        "types": ["text/html"]}]}).encode())
    with pytest.raises(BundleError, match=r"operations\[0\].*types must be"):
        check_bundle(bad, schema)


# ---------------------------------------------------------------------- on the station


def test_a_photo_is_shrunk_sealed_in_chunks_and_read_back(store: Store, tmp_path: Path) -> None:
    case = incident(store)
    photo = tmp_path / "随手拍.jpg"
    noise_image(photo, 2400, 1200, "JPEG")
    (stored,) = Attachments(store).attach("incident", case, photo, note="东门路灯")
    assert stored["shrunk"] and stored["media_type"] == "image/jpeg"
    data = Attachments(store).read(stored["sha256"])
    assert hashlib.sha256(data).hexdigest() == stored["sha256"] and len(data) == stored["size"]
    assert Image.open(io.BytesIO(data)).size == (1600, 800)
    (row,) = Attachments(store).of(case)
    assert (row["name"], row["note"], row["arrived"], row["sent"]) == ("随手拍.jpg", "东门路灯", True, False)
    chunks = store.conn.execute("SELECT count(*), sum(length(data)) FROM blob_chunks").fetchone()
    assert chunks[0] == files.chunk_count(len(data)) and chunks[1] > len(data)  # sealed: larger
    # The longest side is a setting; the original is kept only when asked.
    with store.atomic() as writes:
        writes.put_settings(attach_longest_side="800")
    small, original = Attachments(store).attach("incident", case, photo, keep_original=True)
    assert Image.open(io.BytesIO(Attachments(store).read(small["sha256"]))).size == (800, 400)
    assert original["original"] and Attachments(store).read(original["sha256"]) == photo.read_bytes()


def test_the_same_file_twice_is_stored_once(store: Store, tmp_path: Path) -> None:
    case = incident(store)
    scan = tmp_path / "协议.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + os.urandom(100_000))
    first = Attachments(store).attach("incident", case, scan)[0]
    second = Attachments(store).attach("incident", case, scan)[0]
    assert first["sha256"] == second["sha256"] and first["id"] != second["id"]
    assert store.conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 1
    assert len(Attachments(store).of(case)) == 2


@pytest.mark.parametrize(("content", "entity", "message"), [
    (b"GIF89a" + b"\0" * 100, "incident", "an unrecognised file is not accepted (allowed: JPEG, PNG, PDF)"),
    (b"%PDF-1.4" + b"\0" * (10 * 1024 * 1024), "incident", "the file is too large: 10.0 MB, the limit"),
    (b"", "incident", "not accepted"),
    (b"%PDF-1.4", "person", "person records take no attachments"),
    (b"\x89PNG\r\n\x1a\nnot really", "incident", "the image cannot be read"),
])
def test_a_refused_file_says_why_and_nothing_is_saved(
        store: Store, tmp_path: Path, content: bytes, entity: str, message: str) -> None:
    case = incident(store)
    target = case if entity == "incident" else store.add("person", next(synthetic.people(1, [GRID])))
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    before = store.status()["pending"]
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Attachments(store).attach(entity, target, path)
    assert store.status()["pending"] == before
    assert store.conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 0


def test_the_command_line_refuses_with_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    case = cli("incident", "new", "--json", json.dumps(
        {"category": "01", "title": "井盖缺失", "grid": GRID})).stdout.strip()
    wrong = tmp_path / "note.txt"
    wrong.write_text("hello")
    err = cli("attach", "incident", case, str(wrong), ok=False).stderr
    assert "file" in err and "不接受" in err
    photo = tmp_path / "p.png"
    data = noise_image(photo, 300, 200)
    out = cli.json("attach", "incident", case, str(photo), "--note", "现场")
    assert out["sha256"] == hashlib.sha256(data).hexdigest() and not out["shrunk"]
    (listed,) = [json.loads(x) for x in cli("attachments", "incident", case).stdout.splitlines()]
    assert listed["arrived"] and not listed["sent"] and listed["size"] == len(data)
    cli("attachment", "get", out["id"], "--out", str(tmp_path / "back.png"))
    assert (tmp_path / "back.png").read_bytes() == data
    assert (tmp_path / "back.png").stat().st_mode & 0o077 == 0
    assert "range" in cli("settings", "set", "attach_longest_side", "12", ok=False).stderr
    assert "one chunk" in cli("settings", "set", "attachment_budget", "100", ok=False).stderr
    cli("settings", "set", "attachment_budget", "65536")
    budget = [json.loads(x) for x in cli("settings", "list").stdout.splitlines()]
    assert {r["key"]: r["value"] for r in budget}["attachment_budget"] == "65536"


# ---------------------------------------------------------------------- with a real hub


def _station(tmp_path: Path, name: str, hub: HubServer) -> Cli:
    cli = Cli(tmp_path / name)
    cli("init", "--township", "440524001", "--name", name, "--clerk", "张三")
    enroll(cli, hub)
    return cli


def _open(cli: Cli) -> Store:
    store = Store.open(Path(cli.env["STATION_HOME"]))
    store.unlock(cli.env["STATION_PASSPHRASE"])
    return store


def test_a_photo_reaches_the_hub_whole_after_its_record_and_crosses_once(
        hub: HubServer, tmp_path: Path) -> None:
    one, two = _station(tmp_path, "one", hub), _station(tmp_path, "two", hub)
    photo = tmp_path / "photo.png"
    data = noise_image(photo, 700, 500, seed=7)  # about a megabyte: 32 chunks
    a = _open(one)
    try:
        case = incident(a)
        (stored,) = Attachments(a).attach("incident", case, photo)
        result = sync_once(a)
        assert result.files_sent == 1 and Attachments(a).get(stored["id"])["sent"]
    finally:
        a.close()
    out = tmp_path / "at-hub.png"
    county_cli(hub.home, "attachment", "get", stored["sha256"], "--out", str(out))
    assert out.read_bytes() == data
    assert any(r["id"] == stored["id"] for r in map(json.loads, county_cli(
        hub.home, "export", "attachment").splitlines()))

    # Another station of the township gets the record, not the bytes (not its own case) —
    # until a clerk there opens it: then it comes down, identical.
    b = _open(two)
    try:
        sync_once(b)
        assert Attachments(b).get(stored["id"])["arrived"] is False
        assert Attachments(b).to_fetch() == []
        got = transfer.fetch(b, client_for(b), transfer.Budget(None), only=stored["id"])
        assert got.files_done == 1 and Attachments(b).read(stored["sha256"]) == data
        assert len(got.chunks) == files.chunk_count(len(data))
    finally:
        b.close()

    # The same photo attached on a third station: its record goes up, its bytes do not.
    c = _open(_station(tmp_path, "three", hub))
    try:
        Attachments(c).attach("incident", incident(c), photo)
        client = client_for(c)
        result = sync_once(c, client)
        assert result.files_sent == 1 and Attachments(c).to_send() == []
        assert client.bytes_sent < len(data) / 10, client.bytes_sent  # records and one question
    finally:
        c.close()
    assert "has no attachment" in county_cli_fail(hub.home, "attachment", "get", "ab" * 32,
                                                          "--out", str(tmp_path / "none"))


def county_cli_fail(home: Path, *args: str) -> str:
    import subprocess

    from .test_sync_e2e import COUNTY

    done = subprocess.run([COUNTY, "--home", str(home), *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    return done.stderr


def test_a_cut_transfer_resumes_at_the_next_missing_chunk(sqlite_hub: HubServer,
                                                          tmp_path: Path) -> None:
    cli = _station(tmp_path, "cut", sqlite_hub)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + random.Random(3).randbytes(1_200_000))
    total = files.chunk_count(scan.stat().st_size)
    store = _open(cli)
    try:
        Attachments(store).attach("incident", incident(store), scan)
        base = client_for(store)
        push(store, base)  # the records first, on a good link
        acknowledged: set[int] = set()
        rounds = requests = 0
        # A fast link that drops a connection every ~150 KB: each drop ends the round (no
        # retries), as a daemon's round ends when its link goes.
        with Link(Profile("cut", 5_000_000, 5_000_000, 0.0, 150_000), ("127.0.0.1", sqlite_hub.port),
                  seed=11) as link:
            client = Client(f"https://127.0.0.1:{link.port}", base.cert_path, store.station_id,
                            base.key)
            while Attachments(store).to_send():
                rounds += 1
                assert rounds < 60
                result = transfer.TransferResult()
                with suppress(SyncError):
                    transfer.send(store, client, transfer.Budget(None), retries=0, result=result)
                now = {i for _, i in result.chunks}
                assert not now & acknowledged, "an acknowledged chunk was sent again"
                assert len(now) == len(result.chunks)  # and none twice in one round
                acknowledged |= now
                requests += result.requests
            drops = link.stats.drops
    finally:
        store.close()
    assert drops >= 3 and rounds >= 4, (drops, rounds)
    # A chunk whose answer the cut lost is not acknowledged, yet the hub kept it: the next
    # round's question finds it there and it is not sent again either.
    assert acknowledged <= set(range(total)) and len(acknowledged) >= total - 2 * rounds
    assert requests <= total + 2 * rounds  # at most the two in flight per cut are repeated
    out = tmp_path / "back.pdf"
    county_cli(sqlite_hub.home, "attachment", "get", hashlib.sha256(scan.read_bytes()).hexdigest(),
               "--out", str(out))
    assert out.read_bytes() == scan.read_bytes()


def byte_runs(data: bytes, run: int = 32, count: int = 64) -> list[bytes]:
    """`count` runs of `run` bytes spread over a file: any of them found elsewhere means the
    file's bytes are there in clear."""
    step = max(1, (len(data) - run) // count)
    return [data[i:i + run] for i in range(0, len(data) - run, step)][:count]


def found_runs(roots: list[Path], runs: list[bytes]) -> dict[str, int]:
    pattern = re.compile(b"|".join(re.escape(r) for r in runs))
    found: dict[str, int] = {}
    for root in roots:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file() and (hits := len(pattern.findall(path.read_bytes()))):
                found[str(path)] = hits
    return found


def test_no_run_of_a_files_bytes_is_in_clear_on_the_station_its_replica_or_the_hub(
        cli: Cli, hub_database: str, tmp_path: Path) -> None:
    began = time.time()
    county.init(tmp_path / "county", hub_database)
    hub = HubServer(tmp_path / "county").start()
    replica = tmp_path / "usb" / "replica"
    photo = tmp_path / "photo.png"
    data = noise_image(photo, 500, 400, seed=9)
    try:
        enroll(cli, hub)
        cli.json("backup", "setup", "--replica", str(replica))
        running = Replication(cli)
        case = cli("incident", "new", "--json", json.dumps(
            {"category": "01", "title": "占道经营", "grid": GRID})).stdout.strip()
        assert cli.json("attach", "incident", case, str(photo))["sha256"] == hashlib.sha256(data).hexdigest()
        assert cli.json("sync")["files_sent"] == 1
        running.caught_up()
        running.crash()
        restore(cli, replica, tmp_path / "restored")
        # The replica carried the photo: the restored station reads it back, identical.
        restored = Cli(tmp_path / "restored")
        (attached,) = [json.loads(x) for x in restored("attachments", "incident", case).stdout.splitlines()]
        assert attached["arrived"] and attached["sent"]
        restored("attachment", "get", attached["id"], "--out", str(tmp_path / "restored.png"))
        assert (tmp_path / "restored.png").read_bytes() == data
        copy = tmp_path / "from-hub.png"
        county_cli(hub.home, "attachment", "get", hashlib.sha256(data).hexdigest(), "--out", str(copy))
        assert copy.read_bytes() == data
    finally:
        hub.stop()
    runs = byte_runs(data)
    (tmp_path / "restored.png").unlink()
    roots = [Path(cli.env["STATION_HOME"]), replica, tmp_path / "restored", hub.home,
             *hub_database_files(hub_database, began)]
    assert found_runs(roots, runs) == {}
    assert found_runs([photo, copy], runs)  # the scan can see: the file itself is clear


def test_records_written_while_a_photo_travels_reach_the_hub_before_it(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    cli = _station(tmp_path, "busy", sqlite_hub)
    photo = tmp_path / "scan.pdf"
    photo.write_bytes(b"%PDF-1.4\n" + random.Random(5).randbytes(700_000))
    store = _open(cli)
    try:
        Attachments(store).attach("incident", incident(store), photo)
        base = client_for(store)
        push(store, base)
        people = list(synthetic.people(100, [GRID], seed=8))
        # 100 KB/s: the file takes about seven seconds; the people are written meanwhile.
        with Link(Profile("slow", 100_000, 100_000, 0.05, 0), ("127.0.0.1", sqlite_hub.port)) as link:
            client = Client(f"https://127.0.0.1:{link.port}", base.cert_path, store.station_id,
                            base.key)
            moving = threading.Thread(target=transfer.send, args=(
                store, client, transfer.Budget(None)), kwargs={"between": records_first(store)})
            moving.start()
            time.sleep(1.0)
            assert Attachments(store).to_send(), "the file went too fast to test this"
            store.add_many("person", people)
            moving.join(timeout=60)
        assert Attachments(store).to_send() == [] and store.status()["pending"] == 0
    finally:
        store.close()
    hub = county.open_hub(sqlite_hub.home)
    with hub.storage.transaction() as tx:
        (completed,) = tx.rows("SELECT completed_at FROM blobs")[0]
        (last_person,) = tx.rows("SELECT max(received_at) FROM changes WHERE entity = 'person'")[0]
        (people_at_hub,) = tx.rows("SELECT count(*) FROM changes WHERE entity = 'person'")[0]
    assert people_at_hub == 100 and last_person < completed, (last_person, completed)


def test_county_it_lets_another_entity_take_files_with_a_bundle(sqlite_hub: HubServer,
                                                                 tmp_path: Path) -> None:
    cli = _station(tmp_path, "bundle", sqlite_hub)
    person = cli("add", "person", "--json", json.dumps(next(synthetic.people(1, [GRID], seed=2)),
                                                       ensure_ascii=False)).stdout.strip()
    photo = tmp_path / "face.jpg"
    noise_image(photo, 300, 400, "JPEG")
    assert "person records take no attachments" in cli("attach", "person", person, str(photo),
                                                       ok=False).stderr
    bundle = tmp_path / "0002-person-photo.json"
    bundle.write_text(json.dumps({
        "format": 1, "version": 2, "name": "person-photo", "summary_zh": "实有人口可附照片",
        "summary_en": "People may carry a photo",
        "operations": [{"op": "set_attachments", "entity": "person", "max_bytes": 200_000,
                        "types": ["image/jpeg"]}]}, ensure_ascii=False))
    county_cli(sqlite_hub.home, "schema", "push", str(bundle))
    cli.json("sync")
    stored = cli.json("attach", "person", person, str(photo))
    assert stored["media_type"] == "image/jpeg"
    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + os.urandom(1000))
    assert "allowed: JPEG" in cli("attach", "person", person, str(pdf), ok=False).stderr
    assert cli.json("sync")["files_sent"] == 1


def test_files_come_down_for_the_stations_own_open_cases_only(sqlite_hub: HubServer,
                                                              tmp_path: Path) -> None:
    mine, other = _station(tmp_path, "mine", sqlite_hub), _station(tmp_path, "other", sqlite_hub)
    a = _open(mine)
    try:
        open_case, closing_case = incident(a), incident(a)
        sync_once(a)
    finally:
        a.close()
    b = _open(other)
    evidence = []
    try:
        sync_once(b)
        for n, case in enumerate((open_case, closing_case)):
            photo = tmp_path / f"evidence-{n}.png"
            noise_image(photo, 120, 90, seed=20 + n)
            evidence.append(Attachments(b).attach("incident", case, photo)[0])
        cases = Cases(b, "incident")
        for step in ("report", "dispose", "feedback", "verify"):  # the second case closes
            cases.advance(closing_case, step, note="已处理", department="police")
        sync_once(b)
    finally:
        b.close()
    a = _open(mine)
    try:
        result = sync_once(a)
        got = {e["sha256"]: Attachments(a).blob_state(e["sha256"]) for e in evidence}
        assert result.files_fetched == 1
        assert got[evidence[0]["sha256"]] is not None and Attachments(a).get(evidence[0]["id"])["arrived"]
        assert got[evidence[1]["sha256"]] is None  # a closed case's file stays at the county
    finally:
        a.close()


def test_a_byte_budget_moves_whole_chunks_and_the_rest_next_round(sqlite_hub: HubServer,
                                                                  tmp_path: Path) -> None:
    cli = _station(tmp_path, "metered", sqlite_hub)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + random.Random(9).randbytes(5 * files.CHUNK_BYTES))
    case = cli("incident", "new", "--json", json.dumps(
        {"category": "01", "title": "违章搭建", "grid": GRID})).stdout.strip()
    cli.json("attach", "incident", case, str(scan))
    cli.json("settings", "set", "attachment_budget", str(2 * files.CHUNK_BYTES))
    rounds = []
    while True:
        result = cli.json("sync")
        rounds.append(result)
        if result["files_pending"] == 0:
            break
        assert len(rounds) < 6
    # 6 chunks at 2 per round: 3 rounds; the records (case, step, attachment) in the first.
    assert [r["files_pending"] for r in rounds] == [1, 1, 0] and rounds[0]["pushed"] == 3
    out = tmp_path / "back.pdf"
    county_cli(sqlite_hub.home, "attachment", "get", hashlib.sha256(scan.read_bytes()).hexdigest(),
               "--out", str(out))
    assert out.read_bytes() == scan.read_bytes()


def command_lines() -> list[tuple[int, str]]:
    """(pid, command line) of every process still there while /proc is read."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                out.append((int(entry.name), (entry / "cmdline").read_bytes().decode(errors="replace")))
    return out


def test_attachment_open_hands_a_private_copy_in_memory_to_the_system_viewer(
        cli: Cli, tmp_path: Path) -> None:
    case = cli("incident", "new", "--json", json.dumps(
        {"category": "01", "title": "积水", "grid": GRID})).stdout.strip()
    photo = tmp_path / "积水.png"
    data = noise_image(photo, 60, 40)
    attachment = cli.json("attach", "incident", case, str(photo))["id"]
    no_display = {k: v for k, v in cli.env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    cli.env = no_display
    assert "no image viewer here" in cli("attachment", "open", attachment, ok=False).stderr
    viewer_dir = tmp_path / "bin"
    viewer_dir.mkdir()
    seen = tmp_path / "seen"
    (viewer_dir / "xdg-open").write_text(f"#!/bin/sh\ncp \"$1\" {seen}\necho \"$1\" > {seen}.path\n")
    (viewer_dir / "xdg-open").chmod(0o755)
    result = cli("attachment", "open", attachment, DISPLAY=":99",
                 PATH=f"{viewer_dir}:{os.environ['PATH']}")
    copy = json.loads(result.stdout)["opened"]
    deadline = time.monotonic() + 10
    while not seen.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen.read_bytes() == data and copy.startswith("/dev/shm/")
    assert os.stat(copy).st_mode & 0o077 == 0
    # The command has ended; the copy's removal is scheduled in a process of its own.
    (remover,) = [pid for pid, line in command_lines() if copy in line and "rm -f" in line]
    os.kill(remover, 9)
    Path(copy).unlink()


def test_a_file_announced_with_a_wrong_size_still_arrives_whole(tmp_path: Path) -> None:
    from sync.hub.blob_store import BlobStore
    from sync.hub.storage import open_storage
    from sync.seal import Sealer

    storage = open_storage(f"sqlite:///{tmp_path / 'hub.db'}")
    storage.migrate()
    blobs = BlobStore(storage, Sealer(os.urandom(32)), lambda: "2026-11-29T00:00:00.000+00:00")
    data = random.Random(4).randbytes(files.CHUNK_BYTES + 100)
    sha = hashlib.sha256(data).hexdigest()
    # Someone who does not have the file announces its hash with another size first.
    assert blobs.missing("mallory", [(sha, 10)]) == {sha: [0]}
    with pytest.raises(ValidationError, match="do not match its SHA-256"):
        blobs.put("mallory", sha, 10, 0, b"0123456789")  # whole, wrong: dropped
    assert blobs.missing("honest", [(sha, len(data))]) == {sha: [0, 1]}
    assert blobs.put("honest", sha, len(data), 0, data[:files.CHUNK_BYTES]) is False
    assert blobs.put("honest", sha, len(data), 1, data[files.CHUNK_BYTES:]) is True
    assert blobs.read(sha) == data
    with pytest.raises(ValidationError, match="whole, of"):  # once whole, the size is known
        blobs.missing("mallory", [(sha, 10)])
