"""No duplicate people or organisations (issue 22, point 5): one live person per 公民身份号码,
one organisation per 统一社会信用代码; the same person registered at two stations offline is a
"same person" conflict a clerk merges, and the merge reaches every station and the county."""

from __future__ import annotations

import json
import random
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from station import synthetic
from station.store import Store
from sync.errors import AlreadyRegistered, NotFound, ValidationError
from sync.masking import mask_id_number, mask_name
from sync.register import merge_plan, repointed, same_key_groups

from .conftest import GRID, Cli
from .hubserver import HubServer
from .test_dashboard import logged_in
from .test_sync_e2e import county_cli, enroll, station

ZHANG = synthetic.id_number(random.Random(22), date(1978, 3, 14), True)
LI = synthetic.id_number(random.Random(23), date(1990, 11, 2), False)


def person(name: str, id_number: str, **more: str) -> dict[str, str]:
    return {"name": name, "id_number": id_number, "grid": GRID, **more}


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


# ---------------------------------------------------------------------- the lookup


def test_registered_finds_the_live_record_holding_an_id_number(store: Store) -> None:
    rid = store.add("person", person("张伟", ZHANG, phone="13812345678"))
    found = store.registered("person", {"id_number": ZHANG, "name": "别的名字"})
    assert found is not None and found["id"] == rid and found["fields"]["name"] == "张伟"
    assert found["fields"]["phone"] == "13812345678"
    assert store.registered("person", {"id_number": ZHANG.lower()}) is not None  # x and X
    assert store.registered("person", {"id_number": LI}) is None
    assert store.registered("person", {"name": "张伟"}) is None  # no key given
    assert store.registered("incident", {"title": "x"}) is None  # an entity without a key
    store.delete("person", rid)
    assert store.registered("person", {"id_number": ZHANG}) is None  # only live records


def test_a_legacy_15_digit_number_finds_the_18_digit_one(store: Store) -> None:
    rid = store.add("person", person("王芳", LI))
    legacy = LI[:6] + LI[8:17]  # GB 11643-1999: the century and the check digit dropped
    found = store.registered("person", {"id_number": legacy})
    assert found is not None and found["id"] == rid


def test_registered_finds_an_organisation_by_its_credit_code(store: Store) -> None:
    code = synthetic.credit_code(random.Random(5))
    org = {"name": "城关镇顺发五金店", "credit_code": code, "address": "城关镇人民路12号", "grid": GRID}
    rid = store.add("organization", org)
    found = store.registered("organization", {"credit_code": code})
    assert found is not None and found["id"] == rid
    with pytest.raises(AlreadyRegistered) as refused:
        store.add("organization", {**org, "name": "顺发五金"})
    assert refused.value.existing == rid and "城关镇顺发五金店" in str(refused.value)


def test_the_store_refuses_a_second_person_and_an_update_onto_a_registered_number(
        store: Store) -> None:
    first = store.add("person", person("张伟", ZHANG))
    with pytest.raises(AlreadyRegistered) as refused:
        store.add("person", person("张卫", ZHANG))
    assert refused.value.existing == first and refused.value.field == "id_number"
    other = store.add("person", person("李娜", LI))
    with pytest.raises(AlreadyRegistered):
        store.update("person", other, {"id_number": ZHANG})
    assert store.get("person", other)["fields"]["id_number"] == LI
    assert [r["id"] for r in store.export("person")] == sorted([first, other])


def test_one_import_with_the_same_number_twice_is_refused_whole(store: Store) -> None:
    rows = [person("赵敏", LI), person("张伟", ZHANG), person("张卫", ZHANG)]
    with pytest.raises(ValidationError) as refused:
        store.add_many("person", rows)
    assert refused.value.line == 3 and "第 2 行" in str(refused.value)
    assert store.count("person") == 0


# ---------------------------------------------------------------------- the command line


def test_the_cli_refuses_a_second_person_naming_the_existing_record(cli: Cli, tmp_path: Path) -> None:
    rid = cli("add", "person", "--json", json.dumps(person("张伟", ZHANG), ensure_ascii=False)
              ).stdout.strip()
    err = cli("add", "person", "--json", json.dumps(person("张卫", ZHANG), ensure_ascii=False),
              ok=False).stderr
    assert rid in err and "张*" in err and "张伟" not in err  # named, masked as a list masks
    assert "已登记" in err and "already registered" in err
    assert ZHANG not in err
    batch = tmp_path / "people.jsonl"
    batch.write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in [
        person("李娜", LI), person("张小伟", ZHANG)]) + "\n", encoding="utf-8")
    err = cli("add", "person", "--file", str(batch), ok=False).stderr
    assert "第 2 行" in err and "line 2" in err and rid in err
    assert [r["id"] for r in lines(cli("export", "person").stdout)] == [rid]  # all or nothing
    li = cli("add", "person", "--json", json.dumps(person("李娜", LI), ensure_ascii=False)
             ).stdout.strip()
    err = cli("update", "person", li, "--json", json.dumps({"id_number": ZHANG}), ok=False).stderr
    assert rid in err and "已登记" in err
    assert cli.json("get", "person", li)["fields"]["id_number"] == LI


# ---------------------------------------------------------------------- pure parts


def test_merge_plan_takes_what_the_kept_record_lacks_and_leaves_what_differs() -> None:
    kept = {"name": "张伟", "id_number": ZHANG, "phone": "13812345678", "grid": GRID}
    other = {"name": "张卫", "id_number": ZHANG.lower(), "address": "城关镇人民路3号", "grid": GRID,
             "phone": ""}
    taken, left = merge_plan("id_number", kept, other)
    assert taken == {"address": "城关镇人民路3号"} and left == {"name": "张卫"}
    taken, left = merge_plan("id_number", kept, other, take=["name"])
    assert taken == {"address": "城关镇人民路3号", "name": "张卫"} and left == {}


def test_repointed_replaces_an_id_in_a_ref_and_in_a_list_once() -> None:
    assert repointed("b", "b", "a") == "a" and repointed("c", "b", "a") == "c"
    assert repointed(["x", "b", "a"], "b", "a") == ["x", "a"]


def test_same_key_groups_lists_keys_held_twice_with_the_lower_id_first(store: Store) -> None:
    entity = store.schema.entity("person")
    groups = same_key_groups([("2", entity, {"id_number": ZHANG}), ("1", entity, {"id_number": ZHANG}),
                              ("3", entity, {"id_number": LI})])
    assert groups == [("person", ZHANG, ["1", "2"])]


# ---------------------------------------------------------------------- two stations


def _register_twice(a: Cli, b: Cli) -> dict[str, Any]:
    """Both stations register 张伟 offline, each with what its clerk knew, and each a
    special-care case pointing at its own copy; then they sync."""
    entered = {
        "a": person("张伟", ZHANG, phone="13812345678", address="城关镇人民路3号"),
        "b": person("张卫", ZHANG, ethnicity="汉族", household_address="城关镇东门村5组"),
    }
    ids, cases, held = {}, {}, {}
    for side, run in (("a", a), ("b", b)):
        ids[side] = run("add", "person", "--json", json.dumps(entered[side], ensure_ascii=False)
                        ).stdout.strip()
        held[side] = run.json("get", "person", ids[side])["fields"]
        cases[side] = run("add", "special_care", "--json", json.dumps(
            {"person": ids[side], "kind": "01", "grid": GRID})).stdout.strip()
    a("sync")
    b("sync")
    a("sync")
    return {"ids": ids, "cases": cases, "held": held}


def _same(run: Cli) -> list[dict[str, Any]]:
    return [c for c in lines(run("conflicts", "list").stdout) if c["field"] == "_same"]


def test_two_stations_registering_one_person_merge_into_one_everywhere(
        cli: Cli, hub: HubServer, tmp_path: Path) -> None:
    a = cli
    enroll(a, hub)
    b = station(tmp_path, "b", hub)
    got = _register_twice(a, b)
    ids, held = got["ids"], got["held"]
    kept_side = min(ids, key=lambda s: ids[s])  # the earlier registration: ids are time-ordered
    other_side = "b" if kept_side == "a" else "a"
    kept, other = ids[kept_side], ids[other_side]
    for run in (a, b):
        (conflict,) = _same(run)
        assert conflict["id"] == f"{kept}:_same:{other}"
        assert [r["id"] for r in conflict["records"]] == [kept, other]
    (listed,) = lines(county_cli(hub.home, "duplicates"))
    assert listed["entity"] == "person" and listed["kept"] == kept
    assert listed["key"] == mask_id_number(ZHANG) and ZHANG not in json.dumps(listed)
    assert [r["id"] for r in listed["records"]] == [kept, other]
    assert {r["name"] for r in listed["records"]} == {mask_name("张伟"), mask_name("张卫")}
    session, _ = logged_in(hub)  # and on the dashboard's work page
    work = session.get(hub.url + "/work").text
    assert "重复登记未合并" in work and ZHANG not in work
    assert re.search(r'id="open-duplicates">(?:(?!</p>).)*: 1</p>', work, re.S)

    refused = a("conflicts", "resolve", conflict["id"], "--keep", "local", ok=False).stderr
    assert "station conflicts merge" in refused and "合并" in refused
    assert a("conflicts", "merge", conflict["id"]).stdout.strip() == kept
    assert _same(a) == []
    a("sync")
    b("sync")
    a("sync")
    # Every field either clerk entered; where both entered one differently, the kept one's.
    expected = {**held[other_side], **held[kept_side]}
    for run in (a, b):
        (only,) = lines(run("export", "person").stdout)
        assert (only["id"], only["fields"]) == (kept, expected)
        cases = lines(run("export", "special_care").stdout)
        assert sorted(c["id"] for c in cases) == sorted(got["cases"].values())
        assert {c["fields"]["person"] for c in cases} == {kept}
        assert _same(run) == [] and run("conflicts", "list").stdout == ""
    assert a("export").stdout == b("export").stdout == county_cli(hub.home, "export")
    assert county_cli(hub.home, "duplicates") == ""
    assert re.search(r'id="open-duplicates">(?:(?!</p>).)*: 0</p>', session.get(hub.url + "/work").text,
                     re.S)
    # The other's differing name is not lost: it stays with the settled conflict.
    (settled,) = [c for c in lines(a("conflicts", "list", "--all").stdout) if c["field"] == "_same"]
    assert settled["resolution"] == "merged"
    assert settled["not_taken"] == {"name": held[other_side]["name"]}


def test_two_stations_merging_the_same_pair_at_once_converge(
        cli: Cli, hub: HubServer, tmp_path: Path) -> None:
    a = cli
    enroll(a, hub)
    b = station(tmp_path, "b", hub)
    got = _register_twice(a, b)
    ids, held = got["ids"], got["held"]
    kept = min(ids.values())
    other_side = "a" if ids["b"] == kept else "b"
    kept_side = "b" if other_side == "a" else "a"
    for run in (a, b):  # both clerks merge before either hears of the other's merge
        (conflict,) = _same(run)
        assert run("conflicts", "merge", conflict["id"]).stdout.strip() == kept
    a("sync")
    b("sync")
    a("sync")
    assert a("export").stdout == b("export").stdout == county_cli(hub.home, "export")
    for run in (a, b):
        (only,) = lines(run("export", "person").stdout)
        assert (only["id"], only["fields"]) == (kept, {**held[other_side], **held[kept_side]})
        assert {c["fields"]["person"] for c in lines(run("export", "special_care").stdout)} == {kept}
        assert run("conflicts", "list").stdout == ""
    assert county_cli(hub.home, "conflicts") == "" and county_cli(hub.home, "duplicates") == ""


# ---------------------------------------------------------------------- one station, pulled


def _pulled_twin(store: Store, name: str, **more: str) -> str:
    """The same person as a record pulled from another station, then checked as a pull is."""
    from sync.protocol import WireChange

    rid = "01a224be-898f-709d-9d8d-22528afa74a4"
    clock = f"{store.clock.wall_ms():015d}.000000.elsewhere"
    with store.atomic() as writes:
        writes.apply_remote(WireChange("elsewhere", 1, rid, "person", "add", GRID,
                                       {**person(name, ZHANG), **more}, clock, {}, 1, by="王五"))
        writes.same_key([rid])
    return rid


def test_correcting_one_number_of_a_pair_closes_its_conflict(store: Store) -> None:
    from station.conflicts import Conflicts

    here = store.add("person", person("张伟", ZHANG))
    there = _pulled_twin(store, "张卫")
    (conflict,) = Conflicts(store).list()
    assert {r["id"] for r in conflict["records"]} == {here, there}
    store.update("person", here, {"id_number": LI})  # it was a typing mistake here
    assert Conflicts(store).list() == []
    (settled,) = Conflicts(store).list(include_resolved=True)
    assert settled["resolution"] == "differ"


def test_a_merge_points_a_parent_at_the_kept_record_and_takes_what_it_lacked(store: Store) -> None:
    from station.conflicts import Conflicts
    from station.duplicates import Duplicates

    here = store.add("person", person("张伟", ZHANG))
    there = _pulled_twin(store, "张卫", phone="13812345678")
    kept, other = sorted([here, there])
    care = store.add("special_care", {"person": other, "kind": "01", "grid": GRID})
    (conflict_id,) = [c["id"] for c in Conflicts(store).list()]
    assert Duplicates(store).merge(conflict_id) == kept
    assert store.get("special_care", care)["fields"]["person"] == kept
    assert store.conn.execute("SELECT owner FROM records WHERE id = ?", (care,)).fetchone()[0] == kept
    (only,) = store.export("person")
    assert only["id"] == kept and only["fields"]["phone"] == "13812345678"
    with pytest.raises(NotFound, match="no open same-person conflict"):
        Duplicates(store).merge(conflict_id)


# ---------------------------------------------------------------------- county IT


def test_county_it_merges_a_pair_registered_in_two_townships(
        cli: Cli, hub: HubServer, tmp_path: Path) -> None:
    """Pulls are scoped, so a person registered in two townships reaches no station whole: no
    station has a "same person" conflict to merge, the county lists the pair, and county IT
    merges it; each station gets its part at the next sync."""
    import subprocess

    from .test_sync_e2e import COUNTY

    a = cli
    enroll(a, hub)
    there = "440524002001"
    c = station(tmp_path, "c", hub, township="440524002")
    entered = {"a": person("张伟", ZHANG, phone="13812345678"),
               "c": {**person("张卫", ZHANG, ethnicity="汉族", address="东门村5组"), "grid": there}}
    ids, held, cases = {}, {}, {}
    for side, run in (("a", a), ("c", c)):
        ids[side] = run("add", "person", "--json", json.dumps(entered[side], ensure_ascii=False)
                        ).stdout.strip()
        held[side] = run.json("get", "person", ids[side])["fields"]
        cases[side] = run("add", "special_care", "--json", json.dumps(
            {"person": ids[side], "kind": "01", "grid": held[side]["grid"]})).stdout.strip()
    lone = a("add", "person", "--json", json.dumps(person("李娜", LI), ensure_ascii=False)
             ).stdout.strip()
    for run in (a, c, a):
        run("sync")
    assert _same(a) == [] and _same(c) == []  # neither station holds both
    kept_side = min(ids, key=lambda s: ids[s])
    other_side = "c" if kept_side == "a" else "a"
    kept, other = ids[kept_side], ids[other_side]
    (listed,) = lines(county_cli(hub.home, "duplicates"))
    assert [r["id"] for r in listed["records"]] == [kept, other]

    def county(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([COUNTY, "--home", str(hub.home), *args], capture_output=True,
                              text=True, timeout=60)

    before = county_cli(hub.home, "export")
    refused = county("merge", kept, lone)  # not one ID number: refused, nothing written
    assert refused.returncode == 1 and "不是重复登记" in refused.stderr
    assert "不是同一类" in county("merge", kept, cases["a"]).stderr
    assert county_cli(hub.home, "export") == before
    assert county("merge", other, kept).stdout.strip() == kept  # either order
    assert county_cli(hub.home, "duplicates") == "" and county_cli(hub.home, "conflicts") == ""
    again = county("merge", kept, other)  # merged already: the other is gone
    assert again.returncode == 1 and f"没有在用的记录 {other}" in again.stderr
    for run in (a, c, a):
        run("sync")
    # Every field either clerk entered; the kept one's where both differ (its name, its grid).
    expected = {**held[other_side], **held[kept_side]}
    at_county = {r["id"]: r["fields"] for r in lines(county_cli(hub.home, "export"))}
    assert at_county[kept] == expected and other not in at_county
    assert {at_county[cases[s]]["person"] for s in ("a", "c")} == {kept}
    for side, run in (("a", a), ("c", c)):
        people = {r["id"]: r["fields"] for r in lines(run("export", "person").stdout)}
        people.pop(lone, None)
        assert people == ({kept: expected} if side == kept_side else {})  # scoped: its own only
        (care,) = lines(run("export", "special_care").stdout)
        assert (care["id"], care["fields"]["person"]) == (cases[side], kept)
        assert run("conflicts", "list").stdout == ""
    assert a("export").stdout == "".join(
        line + "\n" for line in county_cli(hub.home, "export").splitlines()
        if json.loads(line)["fields"].get("grid", "").startswith("440524001"))


def test_a_county_merge_closes_the_same_person_conflict_at_both_stations(
        cli: Cli, sqlite_hub: HubServer, tmp_path: Path) -> None:
    a = cli
    enroll(a, sqlite_hub)
    b = station(tmp_path, "b", sqlite_hub)
    got = _register_twice(a, b)
    ids, held = got["ids"], got["held"]
    kept = min(ids.values())
    kept_side = "a" if ids["a"] == kept else "b"
    other_side = "b" if kept_side == "a" else "a"
    assert len(_same(a)) == len(_same(b)) == 1  # both clerks see it; county IT merges
    (listed,) = lines(county_cli(sqlite_hub.home, "duplicates"))
    assert county_cli(sqlite_hub.home, "merge", *[r["id"] for r in listed["records"]]
                      ).strip() == kept
    a("sync")
    b("sync")
    for run in (a, b):
        (only,) = lines(run("export", "person").stdout)
        assert (only["id"], only["fields"]) == (kept, {**held[other_side], **held[kept_side]})
        assert {c["fields"]["person"] for c in lines(run("export", "special_care").stdout)} == {kept}
        assert run("conflicts", "list").stdout == ""
    assert a("export").stdout == b("export").stdout == county_cli(sqlite_hub.home, "export")
