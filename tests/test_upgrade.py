"""A station and a county hub made by release 0.1.0 open with this code, on SQLite and on
PostgreSQL: the clerks' passphrases still unlock, nothing either side held is lost, the open
conflict is still open, the photo comes out of the hub byte for byte, and the changes entered
offline under the old release sync.

The homes were made and filled by the old release's own commands
(tests/fixtures/make_upgrade_fixtures.py, run from commit 125232b); its manifest.json holds what
that release exported, and it is the oracle here, never what this code reads back."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from station.store import Store

from .conftest import Cli
from .hubserver import HubServer
from .test_sync_e2e import county_cli

RELEASE = Path(__file__).parent / "fixtures" / "release-0.1.0"
PHOTO = RELEASE / "photo.jpg"


@dataclass
class Upgraded:
    """The old homes, copied to a temporary directory and served by this code's hub."""

    manifest: dict[str, Any]
    station: Cli
    county: Path
    hub: HubServer


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def as_owner_made_them(home: Path) -> None:
    """Git keeps no 0600: give the copies back the modes `station init`/`county init` set."""
    home.chmod(0o700)
    for path in home.iterdir():
        path.chmod(0o644 if path.suffix == ".crt" or path.name == "county.toml" else 0o600)


def load_dump(dump: Path, database: str) -> None:
    """The old hub's plain-SQL pg_dump, into an empty database, with psql as an operator would
    (the dump holds COPY blocks and psql meta-commands, which only psql runs)."""
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed: the PostgreSQL dump of release 0.1.0 cannot be loaded")
    subprocess.run([psql, "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--dbname", database,
                    "--file", str(dump)], check=True, capture_output=True, timeout=120)


def point_at(station_home: Path, clerk: dict[str, str], url: str) -> None:
    """The hub comes back on another port than the one the old station enrolled with; only
    the address moves, the pinned certificate is the same (as tui/demo.py does)."""
    store = Store.open(station_home)
    try:
        store.unlock(clerk["passphrase"], clerk["name"])
        with store.atomic() as writes:
            writes.put_settings(hub_url=url)
    finally:
        store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def upgraded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Upgraded]:
    source = RELEASE / request.param
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    station_home, county_home = tmp_path / "station", tmp_path / "county"
    shutil.copytree(source / "station", station_home)
    shutil.copytree(source / "county", county_home)
    as_owner_made_them(station_home)
    as_owner_made_them(county_home)
    if request.param == "sqlite":
        database = f"sqlite:///{county_home / 'hub.db'}"
    else:
        database = str(request.getfixturevalue("postgres_url"))
        load_dump(source / "hub.sql", database)
    (county_home / "county.toml").write_text(f'database = "{database}"\n', encoding="utf-8")
    hub = HubServer(county_home).start()
    try:
        clerk = manifest["clerks"][0]
        point_at(station_home, clerk, hub.url)
        station = Cli(station_home)
        station.env.update(STATION_PASSPHRASE=clerk["passphrase"], STATION_CLERK=clerk["name"])
        yield Upgraded(manifest, station, county_home, hub)
    finally:
        hub.stop()


def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in records}


def assert_holds(now: list[dict[str, Any]], then: list[dict[str, Any]]) -> None:
    """Every record the old release exported is here, of the same entity, with every field it
    had at the same value (a later schema may add fields; it may not lose or change one)."""
    current = by_id(now)
    missing = sorted(set(by_id(then)) - set(current))
    assert not missing, f"records lost in the upgrade: {missing}"
    for old in then:
        new = current[old["id"]]
        assert new["entity"] == old["entity"], old["id"]
        changed = {k: (v, new["fields"].get(k)) for k, v in old["fields"].items()
                   if new["fields"].get(k) != v}
        assert not changed, f"{old['entity']} {old['id']}: fields changed in the upgrade: {changed}"


def test_the_clerks_passphrases_still_unlock_the_old_store(upgraded: Upgraded) -> None:
    station, manifest = upgraded.station, upgraded.manifest
    # The same slots, each with the key derivation and cost it was made with.
    slots = json_lines(station("clerk", "list").stdout)
    assert [{k: s.get(k) for k in old} for s, old in zip(slots, manifest["clerk_list"],
                                                          strict=True)] == manifest["clerk_list"]
    person = manifest["made"]["people"][1]
    expected = by_id(manifest["station_export"])[person]["fields"]["name"]
    for clerk in manifest["clerks"]:  # the second under the old release's standard Argon2id cost
        got = json.loads(station("get", "person", person, STATION_CLERK=clerk["name"],
                                 STATION_PASSPHRASE=clerk["passphrase"]).stdout)
        assert got["fields"]["name"] == expected
    wrong = station("get", "person", person, ok=False, STATION_PASSPHRASE="not the passphrase")
    assert "passphrase" in wrong.stderr.lower()


def test_no_record_is_lost_on_either_side(upgraded: Upgraded) -> None:
    manifest = upgraded.manifest
    station_now = json_lines(upgraded.station("export").stdout)
    county_now = json_lines(county_cli(upgraded.county, "export"))
    assert_holds(station_now, manifest["station_export"])
    assert_holds(county_now, manifest["county_export"])
    # Nothing extra either: the same records, and a deleted one stays deleted on both sides.
    assert set(by_id(station_now)) == set(by_id(manifest["station_export"]))
    assert set(by_id(county_now)) == set(by_id(manifest["county_export"]))
    for gone in manifest["made"]["deleted"]:
        assert gone not in by_id(station_now) and gone not in by_id(county_now)
    status = upgraded.station.json("status", "--json")
    old = manifest["station_status"]
    assert (status["station_id"], status["pending"], status["conflicts"]) == (
        old["station_id"], old["pending"], old["conflicts"])
    counts = {entity: status["records"].get(entity, 0) for entity in old["records"]}
    assert counts == old["records"]
    assert not {e: n for e, n in status["records"].items() if e not in old["records"] and n}


def test_the_offline_changes_sync_and_reach_the_hub(upgraded: Upgraded) -> None:
    station, manifest = upgraded.station, upgraded.manifest
    offline = manifest["offline"]
    assert offline["added"][0] not in by_id(manifest["county_export"])  # the fixture is as claimed
    result = station.json("sync")
    assert (result["pushed"], result["rejected"], result["pending"]) == (
        manifest["station_status"]["pending"], 0, 0)
    county_now = json_lines(county_cli(upgraded.county, "export"))
    assert_holds(county_now, manifest["station_export"])  # what the old station held, offline too
    assert county_cli(upgraded.county, "export") == station("export").stdout

    # The old store keeps working: a record written by this code goes the same way.
    added = station("add", "organization", "--json", json.dumps(
        {"name": "升级后新单位", "address": "城关镇解放路 20 号", "grid": offline_grid(manifest)},
        ensure_ascii=False)).stdout.strip()
    assert station.json("sync")["pushed"] == 1
    assert added in by_id(json_lines(county_cli(upgraded.county, "export", "organization")))
    assert county_cli(upgraded.county, "export") == station("export").stdout


def offline_grid(manifest: dict[str, Any]) -> str:
    grid: str = by_id(manifest["station_export"])[manifest["offline"]["added"][0]]["fields"]["grid"]
    return grid


def conflict_facts(row: dict[str, Any]) -> tuple[Any, ...]:
    losers = sorted(v["value"] for v in row["losers"])
    return row["record"], row["field"], row["base"], row["winner"]["value"], losers


def test_the_open_conflict_is_still_open_and_can_be_settled(upgraded: Upgraded) -> None:
    station, manifest = upgraded.station, upgraded.manifest
    (then,) = manifest["station_conflicts"]
    (now,) = json_lines(station("conflicts", "list").stdout)
    assert now["id"] == then["id"] and conflict_facts(now) == conflict_facts(then)
    (at_hub,) = json_lines(county_cli(upgraded.county, "conflicts", "--json"))
    assert (at_hub["record"], at_hub["field"]) == (then["record"], then["field"])
    station("sync")
    (still,) = json_lines(station("conflicts", "list").stdout)  # a sync settles nothing
    assert conflict_facts(still) == conflict_facts(then)

    station("conflicts", "resolve", then["id"], "--keep", "local")
    station("sync")
    assert station("conflicts", "list").stdout == ""
    assert county_cli(upgraded.county, "conflicts", "--json") == ""
    local = next(v["value"] for v in [then["winner"], *then["losers"]] if v["here"])
    assert station.json("get", "person", then["record"])["fields"][then["field"]] == local


def test_the_photo_comes_out_of_the_hub_and_the_station_byte_for_byte(
        upgraded: Upgraded, tmp_path: Path) -> None:
    manifest, photo = upgraded.manifest, PHOTO.read_bytes()
    (attached,) = manifest["attachments"]
    assert attached["sha256"] == hashlib.sha256(photo).hexdigest() and attached["sent"]
    from_hub = tmp_path / "from-hub.jpg"
    county_cli(upgraded.county, "attachment", "get", attached["sha256"], "--out", str(from_hub))
    assert from_hub.read_bytes() == photo
    from_station = tmp_path / "from-station.jpg"
    upgraded.station("attachment", "get", attached["id"], "--out", str(from_station))
    assert from_station.read_bytes() == photo
    (listed,) = json_lines(upgraded.station("attachments", "incident", attached["record"]).stdout)
    assert (listed["id"], listed["arrived"], listed["sent"]) == (attached["id"], True, True)
    assert os.stat(from_hub).st_mode & 0o077 == 0


def test_the_cases_keep_their_steps(upgraded: Upgraded) -> None:
    for case, then in upgraded.manifest["cases"].items():
        now = upgraded.station.json(then["entity"], "show", case)
        assert (now["step"], now["closed"]) == (then["step"], then["closed"])
        # Deadlines are left out: they are judged against today's clock, not the fixture's.
        timeline = [(e["id"], e["step"], e["at"], e.get("note")) for e in then["events"]]
        assert [(e["id"], e["step"], e["at"], e.get("note")) for e in now["events"]] == timeline
