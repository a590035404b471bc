"""Schema bundles as pure logic: every operation, every refusal, upcasts and signatures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.bundle import (
    BundleError,
    Rename,
    check_bundle,
    parse_bundle,
    sign_bundle,
    upcast_fields,
    verify_bundle,
)
from sync.schema import Schema, v1_schema

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "bundles"
V1 = v1_schema()


def raw(*ops: dict[str, Any], version: int = 2) -> bytes:
    return json.dumps({"format": 1, "version": version, "name": "test", "summary_zh": "测试",
                       "summary_en": "test", "operations": list(ops)}, ensure_ascii=False).encode()


def apply(*ops: dict[str, Any], schema: Schema = V1) -> Schema:
    return check_bundle(parse_bundle(raw(*ops, version=schema.version + 1)), schema)


def test_the_example_bundles_chain_from_version_1_to_4() -> None:
    schema = V1
    files = sorted(EXAMPLES.glob("*.json"))
    assert any("living" in f.name for f in files)
    for f in files:
        schema = check_bundle(parse_bundle(f.read_bytes()), schema)
    assert schema.version == 4
    alone = schema.entity("person").by_name["living_alone"]
    assert (alone.type, alone.label_zh, alone.sensitive, alone.default) == (
        "boolean", "独居老人", True, False)
    assert "floor_area" in schema.entity("house").by_name and "area" not in schema.entity("house").by_name
    assert schema.entity("person").by_name["former_name"].deprecated
    assert schema.entity("fire_check").parent_field == "building"


def test_add_field_is_for_new_records_only_and_keeps_its_version() -> None:
    schema = apply({"op": "add_field", "entity": "building", "field": {
        "name": "elevator", "type": "boolean", "label_zh": "有无电梯", "label_en": "Has a lift",
        "required": True}})
    f = schema.entity("building").by_name["elevator"]
    assert f.required and f.since_version == 2 and f.position > 1
    assert V1.entity("building").by_name.get("elevator") is None  # the old schema is untouched


def test_labels_code_values_and_deprecation() -> None:
    schema = apply(
        {"op": "set_labels", "entity": "house", "field": "room", "label_zh": "房号", "help_zh": "如 302"},
        {"op": "set_labels", "entity": "house", "label_en": "Dwelling"},
        {"op": "set_labels", "code_table": "house_use", "code": "03", "label_zh": "闲置"},
        {"op": "add_code_values", "code_table": "house_use",
         "values": [{"code": "06", "label_zh": "仓储", "label_en": "Storage"}]},
        {"op": "deprecate_field", "entity": "house", "field": "tenant"})
    house = schema.entity("house")
    assert (house.by_name["room"].label_zh, house.by_name["room"].help_zh) == ("房号", "如 302")
    assert house.label_en == "Dwelling"
    assert schema.code_table("house_use").by_code["03"].label_zh == "闲置"
    assert schema.code_table("house_use").by_code["06"].label_en == "Storage"
    assert house.by_name["tenant"].deprecated and not house.by_name["tenant"].required


def test_rename_keeps_the_field_and_upcasts_older_changes() -> None:
    schema = apply({"op": "rename_field", "entity": "house", "from": "area", "to": "floor_area"})
    f = schema.entity("house").by_name["floor_area"]
    assert (f.type, f.since_version) == ("number", 1)
    renames = [Rename(2, "house", "area", "floor_area")]
    assert upcast_fields("house", {"area": 80, "room": "302"}, 1, renames) == {
        "floor_area": 80, "room": "302"}
    assert upcast_fields("house", {"area": 80}, 2, renames) == {"area": 80}  # already current
    assert upcast_fields("person", {"area": 80}, 1, renames) == {"area": 80}  # another entity


@pytest.mark.parametrize(("ops", "words"), [
    ([{"op": "drop_field", "entity": "person", "field": "notes"}], "lose data"),
    ([{"op": "drop_entity", "entity": "house"}], "lose data"),
    ([{"op": "remove_code_values", "code_table": "gender", "codes": ["1"]}], "orphan"),
    ([{"op": "change_type", "entity": "house", "field": "area", "type": "text"}], "type"),
    ([{"op": "teleport"}], "unknown operation"),
    ([{"op": "add_field", "entity": "nowhere", "field": {}}], "no entity"),
    ([{"op": "add_field", "entity": "person", "field": {"name": "name", "type": "text",
                                                        "label_zh": "x", "label_en": "x"}}],
     "already exists"),
    ([{"op": "add_field", "entity": "person", "field": {"name": "x", "type": "blob",
                                                        "label_zh": "x", "label_en": "x"}}], "type"),
    ([{"op": "add_field", "entity": "person", "field": {"name": "x", "type": "integer",
                                                        "label_zh": "x", "label_en": "x",
                                                        "default": "many"}}], "default"),
    ([{"op": "add_field", "entity": "person", "field": {"name": "x", "type": "code",
                                                        "code_table": "nope", "label_zh": "x",
                                                        "label_en": "x"}}], "code_table"),
    ([{"op": "rename_field", "entity": "person", "from": "grid", "to": "area"}], "scope"),
    ([{"op": "rename_field", "entity": "person", "from": "birth_date", "to": "born"}], "derivation"),
    ([{"op": "add_code_values", "code_table": "gender",
       "values": [{"code": "1", "label_zh": "男", "label_en": "Male"}]}], "already exists"),
])
def test_a_bad_operation_is_refused_naming_the_operation_and_the_reason(
        ops: list[dict[str, Any]], words: str) -> None:
    with pytest.raises(BundleError) as err:
        apply(*ops)
    assert err.value.where.startswith("operations[0]") and words in err.value.en


@pytest.mark.parametrize(("body", "where"), [
    (b"not json", "bundle"),
    (b"[]", "bundle"),
    (json.dumps({"format": 2}).encode(), "format"),
    (raw({"op": "add_field"}).replace(b'"version": 2', b'"version": "2"'), "version"),
    (raw().replace(b'"operations": []', b'"operations": []'), "operations"),
    (raw({"nop": 1}), "operations[0]"),
])
def test_a_malformed_file_is_refused_with_its_place(body: bytes, where: str) -> None:
    with pytest.raises(BundleError) as err:
        parse_bundle(body)
    assert err.value.where == where


def test_a_gap_in_the_chain_is_refused() -> None:
    bundle = parse_bundle(raw({"op": "set_labels", "entity": "house", "label_zh": "房屋"}, version=3))
    with pytest.raises(BundleError) as err:
        check_bundle(bundle, V1)
    assert err.value.where == "version" and "expected 2" in err.value.en


def test_the_county_signature_covers_every_byte() -> None:
    key = Ed25519PrivateKey.generate()
    body = (EXAMPLES / "0002-person-living-alone.json").read_bytes()
    signature = sign_bundle(key, body)
    verify_bundle(key.public_key(), body, signature)
    for bad_body, bad_sig, bad_key in [
            (body.replace(b"false", b"true"), signature, key.public_key()),
            (body, signature, Ed25519PrivateKey.generate().public_key()),
            (body, "not base64!", key.public_key()), (body, "", key.public_key())]:
        with pytest.raises(BundleError) as err:
            verify_bundle(bad_key, bad_body, bad_sig)
        assert err.value.where == "signature"
