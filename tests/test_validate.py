"""Validation rules: every rule refuses what it should, names the field and the rule, and
normalises what it accepts. The schema here is built in the test, not read from schema.sql."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.errors import SchemaError, ValidationError
from sync.schema import CodeTable, CodeValue, EntityDef, FieldDef, Schema
from sync.validate import (
    IdNumber,
    check_credit_code,
    normalise_for_index,
    normalise_mobile,
    normalise_phone,
    parse_id_number,
    validate_record,
    validate_value,
)

TODAY = date(2026, 11, 28)


def fd(name: str, type: str = "text", **kw: Any) -> FieldDef:
    return FieldDef(entity="person", name=name, type=type, label_zh=f"{name}（中）", label_en=name, **kw)


GENDER = CodeTable("gender", "性别", "sex", (
    CodeValue("0", "未知的性别", "unknown"), CodeValue("1", "男", "male"),
    CodeValue("2", "女", "female"), CodeValue("9", "未说明的性别", "unspecified"),
))
POPULATION = CodeTable("population_type", "人口类型", "population type", (
    CodeValue("01", "户籍人口", "registered"), CodeValue("02", "流动人口", "floating"),
    CodeValue("03", "暂住人口", "temporary", deprecated=True),
))
PERSON = EntityDef("person", "人员", "person", fields=(
    fd("name", required=True, max_length=50),
    fd("gender", "code", code_table="gender", rule="sex_of:id_number"),
    fd("id_number", rule="id_number", indexed=True),
    fd("birth_date", "date", rule="birth_date_of:id_number"),
    fd("phone", rule="phone"),
    fd("population_type", "code", code_table="population_type", default="01"),
    fd("tags", "texts", max_length=10),
    fd("household", "ref", ref_entity="house"),
    fd("old_note", deprecated=True),
    fd("age", "integer", min_value=0, max_value=150),
))
SCHEMA = Schema(1, {"person": PERSON}, {"gender": GENDER, "population_type": POPULATION})


def refused(fn: Callable[..., object], *args: Any, **kw: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        fn(*args, **kw)
    return info.value


def value_of(f: FieldDef, value: object) -> object:
    return validate_value(f, value, SCHEMA, today=TODAY)


def id_check(body17: str) -> str:
    """The reference's ISO 7064 MOD 11-2, written out again so the test does not trust the code."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


# --- citizen ID numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "born", "sex"),
    [
        ("11010519491231002X", date(1949, 12, 31), "2"),
        ("34052419800101001X", date(1980, 1, 1), "1"),
        ("440524188001010014", date(1880, 1, 1), "1"),
        ("360426199101010071", date(1991, 1, 1), "1"),
    ],
)
def test_known_good_id_numbers_give_birth_date_and_sex(raw: str, born: date, sex: str) -> None:
    assert parse_id_number(raw, today=TODAY) == IdNumber(raw, born, sex)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("360426199101010072", "check digit is wrong"),
        ("36042619910101007", "18 characters"),
        ("3604261991010100711", "18 characters"),
        ("36042619910101007Y", "18 characters"),
        ("X60426199101010071", "18 characters"),
        ("360426199102300071", "not a real date"),
        ("360426" + "20261129" + "001" + id_check("36042620261129001"), "in the future"),
        ("360426" + "18791231" + "001" + id_check("36042618791231001"), "before 1880"),
        ("360426910230007", "not a real date"),
        ("", "18 characters"),
    ],
)
def test_bad_id_numbers_are_refused_with_a_message_that_says_why(raw: str, says: str) -> None:
    err = refused(parse_id_number, raw, today=TODAY, field="holder_id")
    assert (err.field, err.rule) == ("holder_id", "id_number")
    assert says in err.en


def test_wrong_check_digit_message_names_the_check_digit_in_chinese() -> None:
    err = refused(parse_id_number, "360426199101010072", today=TODAY)
    assert "校验位" in err.zh and "check digit" in err.en


@pytest.mark.parametrize(
    "raw",
    ["11010519491231002x", "110105 19491231 002X", "１１０１０５１９４９１２３１００２ｘ",
     " 11010519491231002X\u3000"],
)
def test_id_number_accepts_lower_case_x_spaces_and_full_width(raw: str) -> None:
    assert parse_id_number(raw, today=TODAY).value == "11010519491231002X"


def test_legacy_15_digit_id_number_is_read_as_born_in_the_1900s() -> None:
    parsed = parse_id_number("440524800101001", today=TODAY)
    assert parsed == IdNumber("440524800101001", date(1980, 1, 1), "1")
    assert parse_id_number("440524800101002", today=TODAY).sex == "2"


def test_birth_date_is_in_the_future_only_relative_to_today() -> None:
    body = "44052420261129002"
    raw = body + id_check(body)
    assert refused(parse_id_number, raw, today=TODAY).rule == "id_number"
    assert parse_id_number(raw, today=date(2026, 11, 29)).birth_date == date(2026, 11, 29)


def test_unknown_region_code_is_not_refused() -> None:
    body = "99999920000101001"
    assert parse_id_number(body + id_check(body), today=TODAY).value == body + id_check(body)


# --- unified social credit codes --------------------------------------------------------------


@pytest.mark.parametrize("raw", ["91350100M000100Y43", "91110108551385082Q", "91110000600037341L"])
def test_known_good_credit_codes_pass(raw: str) -> None:
    assert check_credit_code(raw) == raw


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("91350100M000100Y44", "check character is wrong, expected 3"),
        ("91110108551385082R", "check character"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100I43", "except I, O, S, V and Z"),
        ("9135O100M000100Y43", "except I, O, S, V and Z"),
    ],
)
def test_bad_credit_codes_are_refused(raw: str, says: str) -> None:
    err = refused(check_credit_code, raw, field="uscc")
    assert (err.field, err.rule) == ("uscc", "credit_code")
    assert says in err.en


def test_credit_code_is_normalised_from_lower_case_full_width_and_spaces() -> None:
    assert check_credit_code(" ９１３５０１００m000 100y43 ") == "91350100M000100Y43"


# --- phones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("13800138000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("0086-138-0013-8000", "13800138000"),
        ("１９９１２３４５６７８", "19912345678"),
    ],
)
def test_mobile_numbers_are_normalised_to_11_digits(raw: str, normal: str) -> None:
    assert normalise_mobile(raw) == normal


@pytest.mark.parametrize(
    "raw", ["12800138000", "1380013800", "138001380001", "0755-12345678", "+1 1380013800"]
)
def test_not_a_mobile_is_refused(raw: str) -> None:
    err = refused(normalise_mobile, raw, field="contact")
    assert (err.field, err.rule) == ("contact", "mobile")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("+86 138-0013-8000", "13800138000"),
        ("0755-12345678", "0755-12345678"),
        ("075512345678", "0755-12345678"),
        ("(0755) 1234 5678", "0755-12345678"),
        ("020-1234567", "020-1234567"),
        ("010-12345678-801", "010-12345678-801"),
        ("0755-12345678转8", "0755-12345678-8"),
        ("+86 755 12345678", "0755-12345678"),
        ("０２０－１２３４５６７", "020-1234567"),
    ],
)
def test_phone_accepts_mobiles_and_landlines_with_area_code(raw: str, normal: str) -> None:
    assert normalise_phone(raw) == normal


@pytest.mark.parametrize("raw", ["12345", "12345678", "0755-123456", "075-51234567", "0" * 51, "电话"])
def test_not_a_phone_is_refused(raw: str) -> None:
    err = refused(normalise_phone, raw)
    assert (err.field, err.rule) == ("phone", "phone")


# --- blind index form -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "value", "index"),
    [
        (fd("id_number", rule="id_number"), "11010519491231002x", "11010519491231002X"),
        (fd("id_number", rule="id_number"), "440524800101001", "440524198001010013"),
        (fd("phone", rule="phone"), "+86 138-0013-8000", "13800138000"),
        (fd("phone", rule="phone"), "0755-12345678", "075512345678"),
        (fd("mobile", rule="mobile"), "138 0013 8000", "13800138000"),
        (fd("credit_code", rule="credit_code"), "91350100m000100y43", "91350100M000100Y43"),
        (fd("name"), "  Zhang\u3000  SAN ", "zhang san"),
        (fd("name"), "ＬＩ　Ｓｉ", "li si"),
    ],
)
def test_index_form_makes_equal_meanings_equal_text(f: FieldDef, value: str, index: str) -> None:
    assert normalise_for_index(f, value) == index


def test_legacy_and_current_id_number_share_one_index_form() -> None:
    f = fd("id_number", rule="id_number")
    current = "440524198001010013"
    assert parse_id_number(current, today=TODAY).birth_date == date(1980, 1, 1)
    assert normalise_for_index(f, "440524800101001") == normalise_for_index(f, current)


@pytest.mark.parametrize(
    ("f", "value", "rule"),
    [
        (fd("phone", rule="phone"), "李四", "phone"),
        (fd("id_number", rule="id_number"), "李四", "id_number"),
        (fd("name"), 42, "type"),
    ],
)
def test_index_form_refuses_a_term_that_cannot_be_a_value_of_the_field(
    f: FieldDef, value: object, rule: str
) -> None:
    err = refused(normalise_for_index, f, value)
    assert (err.field, err.rule) == (f.name, rule)


# --- values by type ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "value", "normal"),
    [
        (fd("t"), "  李四 ", "李四"),
        (fd("t"), "第一行\n\t第二行", "第一行\n\t第二行"),
        (fd("t"), "line\r\nbreak", "line\nbreak"),
        (fd("t"), "e\u0301", "\u00e9"),
        (fd("t"), "   ", None),
        (fd("n", "integer"), 42, 42),
        (fd("n", "integer"), " -7 ", -7),
        (fd("n", "integer"), "４２", 42),
        (fd("x", "number"), 2.5, 2.5),
        (fd("x", "number"), "3", 3),
        (fd("x", "number"), "-0.25", -0.25),
        (fd("x", "number"), "1e3", 1000.0),
        (fd("b", "boolean"), True, True),
        (fd("b", "boolean"), 0, False),
        (fd("b", "boolean"), "TRUE", True),
        (fd("b", "boolean"), "是", True),
        (fd("b", "boolean"), "否", False),
        (fd("d", "date"), "2026-11-28", "2026-11-28"),
        (fd("d", "date"), "20261128", "2026-11-28"),
        (fd("d", "date"), "2026/11/28", "2026-11-28"),
        (fd("d", "date"), date(2024, 2, 29), "2024-02-29"),
        (fd("dt", "datetime"), "2026-11-28T12:00:00Z", "2026-11-28T12:00:00+00:00"),
        (fd("dt", "datetime"), "2026-11-28 12:00", "2026-11-28T12:00:00+08:00"),
        (fd("dt", "datetime"), "2026-11-28T12:00:00.123456+05:30", "2026-11-28T12:00:00+05:30"),
        (fd("r", "ref"), "0190F3A2B4C47D8E9F0A1B2C3D4E5F60", "0190f3a2-b4c4-7d8e-9f0a-1b2c3d4e5f60"),
        (fd("r", "ref"), "0190F3A2-B4C4-7D8E-9F0A-1B2C3D4E5F60", "0190f3a2-b4c4-7d8e-9f0a-1b2c3d4e5f60"),
        (fd("rs", "refs"), ["0190f3a2b4c47d8e9f0a1b2c3d4e5f60"], ["0190f3a2-b4c4-7d8e-9f0a-1b2c3d4e5f60"]),
        (fd("ts", "texts"), (" a ", "b"), ["a", "b"]),
        (fd("ts", "texts"), [], None),
        (fd("c", rule="county_code"), "440524", "440524"),
        (fd("c", rule="township_code"), "440524001", "440524001"),
        (fd("c", rule="grid_code"), "４４０５２４００１００１", "440524001001"),
    ],
)
def test_good_values_are_normalised(f: FieldDef, value: object, normal: object) -> None:
    assert value_of(f, value) == normal


@pytest.mark.parametrize(
    ("f", "value", "rule"),
    [
        (fd("t"), 42, "type"),
        (fd("t", required=True), "  ", "required"),
        (fd("t", required=True), None, "required"),
        (fd("n", "integer"), True, "type"),
        (fd("n", "integer"), 4.0, "type"),
        (fd("n", "integer"), "4.5", "type"),
        (fd("n", "integer"), "1_000", "type"),
        (fd("n", "integer"), 2**63, "type"),
        (fd("n", "integer", min_value=0), -1, "min_value"),
        (fd("n", "integer", max_value=150), "151", "max_value"),
        (fd("x", "number"), "nan", "type"),
        (fd("x", "number"), float("inf"), "type"),
        (fd("x", "number"), False, "type"),
        (fd("x", "number", min_value=0.5), 0.25, "min_value"),
        (fd("x", "number", max_value=1), 1.01, "max_value"),
        (fd("b", "boolean"), 2, "type"),
        (fd("b", "boolean"), "maybe", "type"),
        (fd("d", "date"), 20261128, "type"),
        (fd("d", "date"), "2026-02-30", "date"),
        (fd("d", "date"), "2026-1-5", "date"),
        (fd("d", "date"), "2026-11/28", "date"),
        (fd("d", "date"), "28/11/2026", "date"),
        (fd("dt", "datetime"), "2026-11-28", "datetime"),
        (fd("dt", "datetime"), "2026-13-01T00:00:00", "datetime"),
        (fd("dt", "datetime"), "yesterday", "datetime"),
        (fd("dt", "datetime"), 1795752000, "type"),
        (fd("r", "ref"), "not-an-id", "ref"),
        (fd("r", "ref"), "{0190f3a2-b4c4-7d8e-9f0a-1b2c3d4e5f60}", "ref"),
        (fd("rs", "refs"), ["0190f3a2b4c47d8e9f0a1b2c3d4e5f60", "0190F3A2-B4C4-7D8E-9F0A-1B2C3D4E5F60"],
         "ref"),
        (fd("rs", "refs"), "0190f3a2b4c47d8e9f0a1b2c3d4e5f60", "type"),
        (fd("ts", "texts"), "a", "type"),
        (fd("ts", "texts"), ["a", " "], "required"),
        (fd("ts", "texts"), ["a", 1], "type"),
        (fd("c", rule="county_code"), "44052", "county_code"),
        (fd("c", rule="township_code"), "44052400A", "township_code"),
        (fd("c", rule="grid_code"), "4405240010011", "grid_code"),
        (fd("i", rule="id_number"), "360426199101010072", "id_number"),
        (fd("u", rule="credit_code"), "91350100M000100Y44", "credit_code"),
        (fd("m", rule="mobile"), "0755-12345678", "mobile"),
        (fd("p", rule="phone"), "12345", "phone"),
    ],
)
def test_bad_values_name_the_field_and_the_rule(f: FieldDef, value: object, rule: str) -> None:
    err = refused(value_of, f, value)
    assert (err.field, err.rule) == (f.name, rule)
    assert f.name in str(err) and rule in str(err)


def test_field_with_an_unknown_type_is_a_schema_error() -> None:
    with pytest.raises(SchemaError):
        value_of(fd("x", "colour"), "red")


# --- text: length and control characters ------------------------------------------------------


def test_max_length_counts_characters_not_bytes() -> None:
    f = fd("t", max_length=5)
    assert value_of(f, "网格员张三") == "网格员张三"
    err = refused(value_of, f, "网格员张三丰")
    assert (err.field, err.rule) == ("t", "max_length")


def test_text_without_a_max_length_is_limited_to_4000() -> None:
    assert value_of(fd("t"), "字" * 4000) == "字" * 4000
    assert refused(value_of, fd("t"), "字" * 4001).rule == "max_length"


def test_max_length_applies_to_each_item_of_texts() -> None:
    f = fd("ts", "texts", max_length=3)
    assert value_of(f, ["红马甲", "护学岗"]) == ["红马甲", "护学岗"]
    assert refused(value_of, f, ["红马甲", "快递小哥们"]).rule == "max_length"


def test_max_length_is_measured_after_the_rule_normalises() -> None:
    f = fd("i", rule="id_number", max_length=18)
    assert value_of(f, "1101 0519 4912 3100 2x") == "11010519491231002X"


@pytest.mark.parametrize(
    "text",
    [
        "李\x00四", "李\x07四", "李\x1b[31m四", "李\x7f四", "李\x85四", "李\x9f四", "\x0c李四",
        "abc\u202edcba", "\u202a李四", "\u2066李四\u2069", "\u2067x", "\u2068x", "\u202bx", "\u202cx",
        "\u202dx", "bad\ud800surrogate",
    ],
)
def test_control_characters_and_bidi_overrides_are_refused(text: str) -> None:
    err = refused(value_of, fd("note"), text)
    assert (err.field, err.rule) == ("note", "control_chars")


def test_control_characters_are_refused_inside_texts_items() -> None:
    err = refused(value_of, fd("ts", "texts"), ["ok", "bad\u202e"])
    assert (err.field, err.rule) == ("ts", "control_chars")


# --- code tables ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "value", "normal"),
    [
        (fd("p", "code", code_table="population_type"), "02", "02"),
        (fd("p", "code", code_table="population_type"), " ０１ ", "01"),
        (fd("ps", "codes", code_table="population_type"), ["02", "01"], ["02", "01"]),
    ],
)
def test_codes_in_the_table_are_accepted(f: FieldDef, value: object, normal: object) -> None:
    assert value_of(f, value) == normal


@pytest.mark.parametrize(
    ("f", "value", "rule"),
    [
        (fd("p", "code", code_table="population_type"), "77", "code_table"),
        (fd("p", "code", code_table="population_type"), "03", "code_table"),
        (fd("p", "code", code_table="population_type"), 1, "type"),
        (fd("ps", "codes", code_table="population_type"), ["01", "77"], "code_table"),
        (fd("ps", "codes", code_table="population_type"), ["01", "03"], "code_table"),
        (fd("ps", "codes", code_table="population_type"), ["01", "01"], "code_table"),
        (fd("ps", "codes", code_table="population_type"), "01", "type"),
    ],
)
def test_codes_outside_the_table_deprecated_or_repeated_are_refused(
    f: FieldDef, value: object, rule: str
) -> None:
    err = refused(value_of, f, value)
    assert (err.field, err.rule) == (f.name, rule)


def test_deprecated_code_message_says_it_is_retired() -> None:
    err = refused(value_of, fd("p", "code", code_table="population_type"), "03")
    assert "停用" in err.zh and "retired" in err.en


def test_code_field_naming_a_missing_table_is_a_schema_error() -> None:
    with pytest.raises(SchemaError):
        value_of(fd("p", "code", code_table="no_such_table"), "01")


# --- records ----------------------------------------------------------------------------------


def record(values: dict[str, object], *, partial: bool = False) -> dict[str, object]:
    return validate_record(PERSON, values, SCHEMA, today=TODAY, partial=partial)


def test_full_record_is_normalised_with_defaults_and_derived_fields_filled() -> None:
    given: dict[str, object] = {"name": " 李四 ", "id_number": "11010519491231002x",
                                "phone": "+86 138 0013 8000", "tags": None}
    out = record(given)
    assert out == {"name": "李四", "gender": "2", "id_number": "11010519491231002X",
                   "birth_date": "1949-12-31", "phone": "13800138000", "population_type": "01"}
    assert list(out) == [f.name for f in PERSON.fields if f.name in out], "entity field order"
    assert given["name"] == " 李四 ", "the input is not changed"


def test_derived_fields_that_agree_with_the_id_number_are_kept() -> None:
    out = record({"name": "李四", "id_number": "360426199101010071", "gender": "1",
                  "birth_date": "19910101"})
    assert (out["gender"], out["birth_date"]) == ("1", "1991-01-01")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"gender": "1"}, "gender"),
        ({"birth_date": "1949-12-30"}, "birth_date"),
        ({"gender": "9"}, "gender"),
    ],
)
def test_derived_field_that_disagrees_with_the_id_number_is_refused(
    values: dict[str, object], field: str
) -> None:
    err = refused(record, {"name": "李四", "id_number": "11010519491231002X", **values})
    assert (err.field, err.rule) == (field, "id_number_mismatch")
    assert "与身份证号不符" in err.zh and "does not match the ID number" in err.en


def test_legacy_id_number_derives_a_19xx_birth_date() -> None:
    out = record({"name": "王五", "id_number": "440524800101002"})
    assert (out["birth_date"], out["gender"]) == ("1980-01-01", "2")


def test_without_an_id_number_derived_fields_are_taken_as_given() -> None:
    out = record({"name": "王五", "gender": "9", "birth_date": "2000-01-01"})
    assert (out["gender"], out["birth_date"]) == ("9", "2000-01-01")


def test_bad_id_number_is_reported_on_the_id_number_not_on_a_derived_field() -> None:
    err = refused(record, {"name": "李四", "gender": "1", "id_number": "110105194912310021"})
    assert (err.field, err.rule) == ("id_number", "id_number")


def test_first_error_in_field_order_is_raised() -> None:
    bad = {"name": "李\x07四", "phone": "12345", "id_number": "110105194912310021", "age": -1}
    assert refused(record, bad).field == "name"
    assert refused(record, {**bad, "name": "李四"}).field == "id_number"
    assert refused(record, {**bad, "name": "李四", "id_number": None}).field == "phone"
    assert refused(record, {"name": "李四", "age": 200, "gender": "7"}).field == "gender"


@pytest.mark.parametrize(
    ("values", "field", "rule"),
    [
        ({"name": "李四", "shoe_size": 42}, "shoe_size", "unknown_field"),
        ({"name": "李四", "old_note": "旧备注"}, "old_note", "deprecated"),
        ({}, "name", "required"),
        ({"name": None}, "name", "required"),
        ({"name": " \u3000 "}, "name", "required"),
        ({"name": "李四", "population_type": "03"}, "population_type", "code_table"),
        ({"name": "李四", "household": "house-1"}, "household", "ref"),
        ({"name": "李四", "age": "二十"}, "age", "type"),
    ],
)
def test_bad_records_name_the_field_and_the_rule(values: dict[str, object], field: str, rule: str) -> None:
    err = refused(record, values)
    assert (err.field, err.rule) == (field, rule)


def test_deprecated_field_given_as_none_in_a_new_record_is_not_an_error() -> None:
    assert "old_note" not in record({"name": "李四", "old_note": None})


def test_update_may_leave_out_required_fields_and_write_deprecated_ones() -> None:
    assert record({"old_note": "旧备注"}, partial=True) == {"old_note": "旧备注"}
    assert record({"phone": "0755-12345678"}, partial=True) == {"phone": "0755-12345678"}


def test_update_does_not_fill_defaults() -> None:
    assert "population_type" not in record({"name": "李四"}, partial=True)


def test_update_keeps_none_to_clear_a_field_but_refuses_clearing_a_required_one() -> None:
    assert record({"phone": None, "tags": []}, partial=True) == {"phone": None, "tags": None}
    err = refused(record, {"name": ""}, partial=True)
    assert (err.field, err.rule) == ("name", "required")


def test_update_derives_only_when_the_id_number_is_part_of_it() -> None:
    assert record({"gender": "1"}, partial=True) == {"gender": "1"}
    out = record({"id_number": "34052419800101001X"}, partial=True)
    assert out == {"gender": "1", "id_number": "34052419800101001X", "birth_date": "1980-01-01"}
    err = refused(record, {"id_number": "34052419800101001X", "gender": "2"}, partial=True)
    assert (err.field, err.rule) == ("gender", "id_number_mismatch")


def test_update_still_refuses_unknown_fields() -> None:
    assert refused(record, {"shoe_size": 42}, partial=True).rule == "unknown_field"


# --- properties -------------------------------------------------------------------------------

ID_DATES = st.dates(min_value=date(1880, 1, 1), max_value=TODAY)
ID_BODIES = st.builds(
    lambda region, born, seq: f"{region}{born:%Y%m%d}{seq}",
    st.from_regex(r"[0-9]{6}", fullmatch=True), ID_DATES, st.from_regex(r"[0-9]{3}", fullmatch=True),
)


@given(ID_BODIES, st.sampled_from("0123456789X"))
def test_only_the_computed_check_character_validates(body: str, check: str) -> None:
    if check == id_check(body):
        assert parse_id_number(body + check, today=TODAY).value == body + check
    else:
        err = refused(parse_id_number, body + check, today=TODAY)
        assert err.rule == "id_number" and "check digit" in err.en


def _spell_differently(value: str, data: st.DataObject) -> str:
    """The same value as a clerk might type it: full-width, lower-case x, stray spaces."""
    out = []
    for ch in value:
        if data.draw(st.booleans()):
            ch = chr(ord(ch) + 0xFEE0)  # the full-width form of an ASCII character
        out.append(ch.lower() if data.draw(st.booleans()) else ch)
        if data.draw(st.booleans()):
            out.append(data.draw(st.sampled_from([" ", "\u3000"])))
    return "".join(out)


def _idempotent(f: FieldDef, raw: object) -> None:
    once = value_of(f, raw)
    assert value_of(f, once) == once


@given(ID_BODIES, st.data())
def test_validating_a_normalised_id_number_returns_it_unchanged(body: str, data: st.DataObject) -> None:
    _idempotent(fd("i", rule="id_number"), _spell_differently(body + id_check(body), data))


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.sampled_from(["", "+86", "0086", "+86 "]),
       st.data())
def test_validating_a_normalised_mobile_returns_it_unchanged(mobile: str, prefix: str,
                                                             data: st.DataObject) -> None:
    f = fd("m", rule="mobile")
    typed = prefix + _spell_differently(mobile, data)
    assert value_of(f, typed) == mobile
    _idempotent(f, typed)


@given(st.dates(), st.sampled_from(["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"]))
def test_validating_a_normalised_date_returns_it_unchanged(day: date, pattern: str) -> None:
    typed = f"{day.year:04d}" + day.strftime(pattern.replace("%Y", ""))
    assert value_of(fd("d", "date"), typed) == day.isoformat()
    _idempotent(fd("d", "date"), typed)


@given(st.text(max_size=60))
def test_validating_normalised_text_returns_it_unchanged(text: str) -> None:
    f = fd("t", max_length=50)
    try:
        once = value_of(f, text)
    except ValidationError as err:
        assert err.rule in {"control_chars", "max_length"}
        return
    assert value_of(f, once) == once
