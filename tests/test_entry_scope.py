"""A grid outside the station's scope is refused as the record is entered (issue 21): through
the store's API, `station add` and `station add --file`, naming the field by its label and
the scope, with nothing saved; a pulled record is never refused. (The form: test_tui_masking.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from station.store import Store
from sync.errors import ValidationError
from sync.protocol import WireChange

from .conftest import GRID, TOWNSHIP, Cli

ELSEWHERE = "440524002001"  # a grid of the next township
NEIGHBOUR = "440524001002"  # another grid of this township
PERSON = {"name": "陈建华", "id_number": "440524198803152312", "phone": "13912342318"}


def person(grid: str, **more: str) -> dict[str, str]:
    return {**PERSON, "grid": grid, **more}


def test_the_store_refuses_a_grid_of_another_township_naming_field_and_scope(store: Store) -> None:
    with pytest.raises(ValidationError) as caught:
        store.add("person", person(ELSEWHERE))
    assert caught.value.field == "grid" and caught.value.rule == "scope"
    assert "所属网格 440524002001" in caught.value.zh and f"本站乡镇 {TOWNSHIP}" in caught.value.zh
    assert "Grid 440524002001" in caught.value.en and f"township {TOWNSHIP}" in caught.value.en
    assert store.count("person") == 0
    assert store.status()["pending"] == 0  # nothing in the outbox either


def test_grids_the_county_gave_limit_entry_and_moves(store: Store) -> None:
    with store.atomic() as writes:  # as enrollment or a pull records the county's grids
        writes.put_settings(scope_grids=json.dumps([GRID]))
    rid = store.add("person", person(GRID))
    with pytest.raises(ValidationError) as caught:
        store.add("incident", {"category": "03", "title": "路灯损坏", "grid": NEIGHBOUR})
    assert f"本站网格：{GRID}" in caught.value.zh and f"this station's grids: {GRID}" in caught.value.en
    assert "所属网格" in caught.value.zh  # the incident's own label for its grid field
    with pytest.raises(ValidationError, match="scope"):
        store.update("person", rid, {"grid": NEIGHBOUR, "phone": "13700000000"})
    assert store.get("person", rid)["fields"]["grid"] == GRID
    assert store.get("person", rid)["fields"]["phone"] == PERSON["phone"]  # no half of it
    assert store.count("incident") == 0


def test_a_pulled_record_outside_the_scope_is_not_refused(store: Store) -> None:
    """County IT narrowed the grids; a change written before that still arrives and is kept
    (the hub decides what the station may see; entry is what the station checks)."""
    with store.atomic() as writes:
        writes.put_settings(scope_grids=json.dumps([NEIGHBOUR]))
    clock = f"{store.clock.wall_ms():015d}.000000.elsewhere"
    rid = "01a224be-898f-709d-9d8d-22528afa74a4"
    with store.atomic() as writes:
        writes.apply_remote(WireChange("elsewhere", 1, rid, "person", "add", GRID,
                                       person(GRID), clock, {}, 1, by="王五"))
    assert store.get("person", rid)["fields"]["grid"] == GRID


def count(cli: Cli) -> int:
    return len(cli("export", "person").stdout.splitlines())


def test_station_add_and_add_file_refuse_out_of_scope_and_save_nothing(cli: Cli,
                                                                       tmp_path: Path) -> None:
    cli("add", "person", "--json", json.dumps(person(GRID), ensure_ascii=False))
    before = count(cli)
    err = cli("add", "person", "--json", json.dumps(person(ELSEWHERE), ensure_ascii=False),
              ok=False).stderr
    assert "所属网格 440524002001 不在本站范围内" in err and f"本站乡镇 {TOWNSHIP}" in err
    batch = tmp_path / "people.jsonl"
    rows = [person(GRID, id_number="44052419750620402X", phone="13800001111", name="李秀英"),
            person(ELSEWHERE, id_number="440524200109091134", phone="13800002222", name="王强"),
            person(GRID, id_number="440582199201015562", phone="13800003333", name="赵敏")]
    batch.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                     encoding="utf-8")
    err = cli("add", "person", "--file", str(batch), ok=False).stderr
    assert "第 2 行" in err and "所属网格 440524002001" in err and TOWNSHIP in err
    assert count(cli) == before  # the good first and third lines were not saved either
