"""The `station` command line, run as a real process, as scripts and county tooling run it."""

from __future__ import annotations

import json
import subprocess
import tomllib
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from station import synthetic
from sync.version import PROTOCOL_VERSION

from .conftest import GRID, STATION, TOWNSHIP, Cli


def test_add_get_update_delete_round_trip(cli: Cli) -> None:
    rid = cli("add", "person", "--json",
              json.dumps({"name": "李四", "id_number": "11010519491231002X", "grid": GRID})
              ).stdout.strip()
    assert cli.json("get", "person", rid)["fields"]["name"] == "李四"
    cli("update", "person", rid, "--json", '{"phone": "138-0013-8000"}')
    assert cli.json("get", "person", rid)["fields"]["phone"] == "13800138000"
    cli("delete", "person", rid)
    assert "no person record" in cli("get", "person", rid, ok=False).stderr


def test_status_json_has_the_contract_keys(cli: Cli) -> None:
    cli("add", "person", "--json", '{"name": "李四", "id_number": "11010519491231002X", '
        f'"grid": "{GRID}"}}')
    status = cli.json("status", "--json")
    assert {"pending", "schema_version", "conflicts", "last_sync"} <= set(status)
    assert (status["pending"], status["schema_version"], status["conflicts"]) == (1, 1, 0)
    assert status["last_sync"] is None


def test_status_says_the_last_sync_in_beijing_time_and_json_keeps_iso(cli: Cli) -> None:
    from station.store import Store

    with Store.open(cli.env["STATION_HOME"]) as store:
        store.unlock(cli.env["STATION_PASSPHRASE"])
        with store.atomic() as writes:  # the instant: 18:49 UTC is 02:49 the next day here
            writes.put_settings(last_sync="2026-12-01T18:49:14.589+00:00")
    assert "上次同步 last sync: 2026-12-02 02:49 北京时间 (Beijing time)" in cli("status").stdout
    assert cli.json("status", "--json")["last_sync"] == "2026-12-01T18:49:14.589+00:00"


@pytest.mark.parametrize(("ago", "said"), [
    (timedelta(seconds=20), "上次同步 last sync: 刚刚 (just now)"),
    (timedelta(minutes=3, seconds=30), "上次同步 last sync: 3 分钟前 (3 min ago)"),
    (None, "上次同步 last sync: 昨天 14:05 北京时间 (yesterday 14:05 Beijing time)"),
])
def test_status_says_a_recent_sync_as_a_clerk_thinks_of_it(
        cli: Cli, ago: timedelta | None, said: str) -> None:
    """刚刚, 3 分钟前, 昨天 14:05 on the command line as on the kiosk; JSON keeps ISO 8601."""
    from station.store import Store

    beijing = timezone(timedelta(hours=8))
    now = datetime.now(beijing)
    if ago is None:  # 14:05 Beijing time on the day before today's Beijing date
        moment = datetime.combine(now.date() - timedelta(days=1), time(14, 5), beijing)
    else:
        moment = now - ago
    stored = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    with Store.open(cli.env["STATION_HOME"]) as store:
        store.unlock(cli.env["STATION_PASSPHRASE"])
        with store.atomic() as writes:
            writes.put_settings(last_sync=stored)
    assert said in cli("status").stdout.splitlines()
    assert cli.json("status", "--json")["last_sync"] == stored


def test_file_import_is_all_or_nothing_and_names_the_bad_line(cli: Cli, tmp_path: Path) -> None:
    people = list(synthetic.people(20, [GRID], seed=9))
    lines = [json.dumps(p, ensure_ascii=False) for p in people]
    lines[13] = json.dumps({**people[13], "phone": "12345"}, ensure_ascii=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    err = cli("add", "person", "--file", str(bad), ok=False).stderr
    assert "line 14" in err and "field phone" in err
    assert cli.json("status", "--json")["pending"] == 0
    lines[13] = json.dumps(people[13], ensure_ascii=False)
    lines.insert(5, "")  # a blank line is skipped but still counted for line numbers
    lines[9] = "{not json"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert "line 10" in cli("add", "person", "--file", str(bad), ok=False).stderr
    del lines[9]
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ids = cli("add", "person", "--file", str(good)).stdout.split()
    assert len(ids) == 19


def test_export_is_sorted_and_identical_for_identical_content(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n"
                           for p in synthetic.people(30, [GRID], seed=1)), encoding="utf-8")
    cli("add", "person", "--file", str(src))
    first = cli("export").stdout
    records = [json.loads(line) for line in first.splitlines()]
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    assert set(records[0]) == {"id", "entity", "fields"}
    assert cli("export", "person").stdout == first == cli("export").stdout


def test_search_by_phone_prints_the_match(cli: Cli) -> None:
    cli("add", "person", "--json", '{"name": "李四", "id_number": "11010519491231002X", '
        f'"grid": "{GRID}", "phone": "13800138000"}}')
    found = [json.loads(x) for x in cli("search", "13800138000").stdout.splitlines()]
    assert [r["fields"]["name"] for r in found] == ["李四"]


def test_clerks_can_be_added_listed_and_removed(cli: Cli) -> None:
    cli("clerk", "add", "王五", STATION_NEW_PASSPHRASE="wangwu passphrase")
    assert [c["clerk"] for c in map(json.loads, cli("clerk", "list").stdout.splitlines())] == [
        "张三", "王五"]
    cli("clerk", "remove", "张三", STATION_PASSPHRASE="wangwu passphrase")
    assert "wrong passphrase" in cli("get", "person", "x", ok=False).stderr
    cli("clerk", "passwd", "王五", STATION_PASSPHRASE="wangwu passphrase",
        STATION_NEW_PASSPHRASE="another one 123")
    cli("export", STATION_PASSPHRASE="another one 123")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "person", "--json", "{oops"], "not valid JSON"),
        (["add", "person", "--json", "[1]"], "expected a JSON object"),
        (["add", "spaceship", "--json", "{}"], "no entity named 'spaceship'"),
        (["add", "person"], "give exactly one of --json or --file"),
        (["get", "person", "nope"], "no person record"),
        (["export"], "wrong passphrase"),
    ],
)
def test_errors_are_one_clear_line_and_a_non_zero_exit(cli: Cli, args: list[str],
                                                       message: str) -> None:
    env = {"STATION_PASSPHRASE": "wrong passphrase!"} if message == "wrong passphrase" else {}
    assert message in cli(*args, ok=False, **env).stderr


def test_init_refuses_a_second_store_and_a_bad_township(cli: Cli, tmp_path: Path) -> None:
    assert "already exists" in cli("init", "--township", TOWNSHIP, "--name", "x", "--clerk", "y",
                                   ok=False).stderr
    other = Cli(tmp_path / "other")
    err = other("init", "--township", "4405", "--name", "x", "--clerk", "y", ok=False).stderr
    assert "township" in err and "9 digits" in err
    assert not (tmp_path / "other" / "station.db").exists()


def test_commands_on_a_missing_store_say_to_run_init(tmp_path: Path) -> None:
    err = Cli(tmp_path / "none")("status", ok=False).stderr
    assert "station init" in err


def test_version_names_the_release_and_the_protocol(tmp_path: Path) -> None:
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    release = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
    result = Cli(tmp_path / "none")("--version")  # no store needed
    assert result.stdout == f"station {release} (protocol {PROTOCOL_VERSION})\n"
    assert not (tmp_path / "none").exists()


def test_no_passphrase_and_no_terminal_is_a_clear_error(cli: Cli) -> None:
    env = {k: v for k, v in cli.env.items() if k != "STATION_PASSPHRASE"}
    result = subprocess.run([STATION, "export"], capture_output=True, text=True, env=env,
                            stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode != 0 and "STATION_PASSPHRASE" in result.stderr
