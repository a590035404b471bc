"""Records of every entity go in validated and come back out as they went in."""

from __future__ import annotations

import random

import pytest

from station import synthetic
from station.store import Store
from sync.errors import NotFound, ValidationError

from .conftest import GRID


def in_reference_order(store: Store) -> list[str]:
    """Entity names, each after the entities its ref fields point at; one whose ref may point
    at any record (an attachment's) after all the others."""
    pending = dict(store.schema.entities)
    ordered: list[str] = []

    def any_ref(name: str) -> bool:
        return any(f.type == "ref" and not f.ref_entity for f in pending[name].fields)

    while pending:
        ready = [n for n, e in pending.items()
                 if all(f.ref_entity in ordered for f in e.fields if f.ref_entity)
                 and (not any_ref(n) or all(any_ref(m) for m in pending))]
        assert ready, f"reference cycle among {sorted(pending)}"
        ordered += sorted(ready)
        for n in ready:
            del pending[n]
    return ordered


def test_every_entity_round_trips(store: Store) -> None:
    rng = random.Random(11)
    refs: dict[str, str] = {}
    names = in_reference_order(store)
    assert len(names) >= 11
    for name in names:
        entity = store.schema.entities[name]
        values = synthetic.sample_record(entity, store.schema, rng, refs, GRID)
        record_id = store.add(name, values)
        refs[name] = record_id
        got = store.get(name, record_id)
        assert got["id"] == record_id and got["entity"] == name
        for field, value in values.items():
            assert got["fields"][field] == value, f"{name}.{field}"
    exported = list(store.export())
    assert [r["id"] for r in exported] == sorted(refs.values())


def test_birth_date_and_sex_are_derived_from_the_id_number(store: Store) -> None:
    record_id = store.add("person", {"name": "李四", "id_number": "11010519491231002x", "grid": GRID})
    fields = store.get("person", record_id)["fields"]
    assert fields["id_number"] == "11010519491231002X"
    assert fields["birth_date"] == "1949-12-31"
    assert fields["gender"] == "2"


@pytest.mark.parametrize(
    ("values", "field", "rule"),
    [
        ({"name": "李四", "id_number": "110105194912310021", "grid": GRID}, "id_number", "id_number"),
        ({"name": "李四", "id_number": "11010519491231002X", "grid": "4405"}, "grid", "grid_code"),
        ({"name": "李四", "id_number": "11010519491231002X", "grid": GRID, "phone": "12345"},
         "phone", "phone"),
        ({"id_number": "11010519491231002X", "grid": GRID}, "name", "required"),
        ({"name": "李\x07四", "id_number": "11010519491231002X", "grid": GRID}, "name",
         "control_chars"),
        ({"name": "李四", "id_number": "11010519491231002X", "grid": GRID, "population_type": "77"},
         "population_type", "code_table"),
        ({"name": "李四", "id_number": "11010519491231002X", "grid": GRID, "shoe_size": 42},
         "shoe_size", "unknown_field"),
    ],
)
def test_bad_input_names_the_field_and_rule_and_writes_nothing(
    store: Store, values: dict[str, object], field: str, rule: str
) -> None:
    with pytest.raises(ValidationError) as err:
        store.add("person", values)
    assert (err.value.field, err.value.rule) == (field, rule)
    assert field in str(err.value) and rule in str(err.value)
    assert store.conn.execute("SELECT count(*) FROM records").fetchone() == (0,)
    assert store.conn.execute("SELECT count(*) FROM changes").fetchone() == (0,)


def test_credit_code_check_character_is_enforced(store: Store) -> None:
    base = {"name": "某某快递有限公司", "address": "人民路1号", "grid": GRID}
    store.add("organization", {**base, "credit_code": "91350100M000100Y43"})
    with pytest.raises(ValidationError) as err:
        store.add("organization", {**base, "credit_code": "91350100M000100Y44"})
    assert (err.value.field, err.value.rule) == ("credit_code", "credit_code")


def test_a_bad_record_in_a_batch_saves_none_of_it_and_names_its_line(store: Store) -> None:
    people = list(synthetic.people(50, [GRID], seed=2))
    people[36]["id_number"] = people[36]["id_number"][:-1] + (
        "0" if people[36]["id_number"][-1] != "0" else "1")
    with pytest.raises(ValidationError, match="line 37") as err:
        store.add_many("person", people)
    assert err.value.line == 37 and err.value.field == "id_number"
    assert store.status()["records"] == {} and store.status()["pending"] == 0


def test_update_validates_and_clears_with_null(store: Store) -> None:
    rid = store.add("person", {"name": "李四", "id_number": "11010519491231002X", "grid": GRID,
                               "phone": "13800138000"})
    with pytest.raises(ValidationError) as err:
        store.update("person", rid, {"name": None})
    assert (err.value.field, err.value.rule) == ("name", "required")
    store.update("person", rid, {"phone": None, "address": "新村人民路2号"})
    fields = store.get("person", rid)["fields"]
    assert "phone" not in fields and fields["address"] == "新村人民路2号"
    assert store.search("13800138000") == []


def test_search_finds_by_id_number_phone_and_name_through_the_blind_index(store: Store) -> None:
    people = list(synthetic.people(300, [GRID], seed=5))
    ids = store.add_many("person", people)
    target = people[123]
    for term in (target["id_number"], target["phone"], target["name"]):
        found = store.search(term)
        assert ids[123] in [r["id"] for r in found]
        # Candidates sharing a truncated bucket are opened and compared: only true matches.
        assert all(term in r["fields"].values() for r in found)
    assert [r["id"] for r in store.search(target["id_number"].lower())] == [ids[123]]
    assert store.search(" +86 " + target["phone"]) != []
    assert store.search("11010519491231002X") == []


def test_blind_index_buckets_are_truncated_hmacs(store: Store) -> None:
    store.add_many("person", list(synthetic.people(200, [GRID], seed=6)))
    buckets = [b for (b,) in store.conn.execute(
        "SELECT bucket FROM blind_index WHERE field = 'person.id_number'")]
    assert len(buckets) == 200 and max(buckets) < 2**16


def test_get_of_a_missing_or_other_entity_record_is_not_found(store: Store) -> None:
    rid = store.add("person", {"name": "李四", "id_number": "11010519491231002X", "grid": GRID})
    with pytest.raises(NotFound):
        store.get("building", rid)
    with pytest.raises(NotFound):
        store.get("person", "0190a0a0-0000-7000-8000-000000000000")
