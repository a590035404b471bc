"""Record validation: pure functions of a value, its field definition and "today".

No I/O and no clock reads, so the hub and the station validate alike and every rule is tested
directly. Each error names the field and the rule, in Chinese and English, and does not echo
the value itself: messages end up in logs, and values are personal data.
"""

from __future__ import annotations

import math
import operator
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import TypeGuard

from sync.attachments import check_sha256
from sync.errors import SchemaError, ValidationError
from sync.schema import CodeTable, EntityDef, FieldDef, Schema

DEFAULT_TEXT_MAX = 4000
PHONE_MAX = 50  # GB/T 31000-2015: 联系方式 is at most 50 characters
EARLIEST_BIRTH = date(1880, 1, 1)
# Stations are in China: a time typed without an offset is Beijing time.
CHINA_TZ = timezone(timedelta(hours=8))
# SQLite integers are signed 64-bit; a bigger number would fail only at the storage edge.
_INT_LIMIT = 2**63

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID18 = re.compile(r"[0-9]{17}[0-9X]")
_ID15 = re.compile(r"[0-9]{15}")
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# Area codes are 010 and 020-029 (three digits) or 0 + three digits elsewhere, so the split
# between area code and number is unambiguous even when no hyphen was typed.
_LANDLINE = re.compile(r"(0(?:10|2[0-9]|[3-9][0-9]{2}))-?([0-9]{7,8})(?:-([0-9]{1,6}))?")
# Chinese input methods produce several dash look-alikes; 转 is how an extension is written.
_DASHES = str.maketrans(dict.fromkeys("‐‑‒–—―−转", "-"))
_TIME_OF_DAY = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")
_AREA_DIGITS = {"county_code": 6, "township_code": 9, "grid_code": 12}

_INT_TEXT = re.compile(r"[+-]?[0-9]{1,19}")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
_DATE_TEXT = re.compile(r"([0-9]{4})([-/]?)([0-9]{2})\2([0-9]{2})")
_DATETIME_TEXT = re.compile(r"[0-9]{4}-?[0-9]{2}-?[0-9]{2}[T ][0-9]{2}.*")
_REF_TEXT = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TRUE = frozenset({"true", "1", "是"})
_FALSE = frozenset({"false", "0", "否"})


@dataclass(frozen=True)
class IdNumber:
    """A citizen ID number that passed GB 11643-1999, with what it says about its holder."""

    value: str
    birth_date: date
    sex: str  # GB/T 2261.1: "1" male (odd sequence), "2" female (even)


# --- identifiers ------------------------------------------------------------------------------


MAX_STATION_NAME = 100


def check_station_name(name: str, field: str = "name") -> str:
    """A station's name as given at `station init` (or set later): what the county's pages
    show it by. The station checks it on entry, and the hub again as it arrives."""
    if not name.strip() or len(name) > MAX_STATION_NAME or not name.isprintable():
        raise ValidationError(field, "text", f"站点名称不能为空、不超过 {MAX_STATION_NAME} 字且不含控制字符",
                              f"the station name must be 1-{MAX_STATION_NAME} printable characters")
    return name


def _squeeze(raw: str) -> str:
    """NFKC (full-width digits and letters become ASCII) with every kind of space removed."""
    return "".join(unicodedata.normalize("NFKC", raw).split())


def id_check_char(body17: str) -> str:
    """The ISO 7064 MOD 11-2 check character over the first 17 digits of an ID number."""
    if len(body17) != 17:
        raise ValueError("the check character is computed over 17 digits")
    return _ID_CHECK[sum(map(operator.mul, map(int, body17), _ID_WEIGHTS)) % 11]


def _id_shape(raw: str, field: str) -> str:
    value = _squeeze(raw).upper()
    if _ID18.fullmatch(value) or _ID15.fullmatch(value):
        return value
    raise ValidationError(field, "id_number", "身份证号应为 18 位（末位可为 X），或旧式 15 位数字",
                          "an ID number is 18 characters (the last may be X) or 15 legacy digits")


def _id_birth_date(value: str, today: date, field: str) -> date:
    # The legacy 15-digit form has YYMMDD; those numbers were issued to people born in 19YY.
    text = value[6:14] if len(value) == 18 else "19" + value[6:12]
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise ValidationError(field, "id_number", "身份证号中的出生日期不是真实日期",
                              "the birth date in the ID number is not a real date") from None
    if born > today:
        raise ValidationError(field, "id_number", "身份证号中的出生日期在今天之后",
                              "the birth date in the ID number is in the future")
    if born < EARLIEST_BIRTH:
        raise ValidationError(field, "id_number", "身份证号中的出生日期早于 1880 年",
                              "the birth date in the ID number is before 1880")
    return born


@lru_cache(maxsize=4096)
def parse_id_number(raw: str, *, today: date, field: str = "id_number") -> IdNumber:
    """Check a citizen ID number (GB 11643-1999) and read its birth date and sex.

    The region code is not checked against today's GB/T 2260 list: codes are frozen when a
    number is issued, and regions are merged and renamed every year. Cached: validating a
    person parses the number for the field itself and again for the birth date and sex it
    implies (a failure is not cached, and raises each time).
    """
    value = _id_shape(raw, field)
    born = _id_birth_date(value, today, field)
    if len(value) == 18:
        expected = id_check_char(value[:17])
        if value[17] != expected:
            # The expected character is not shown: it would invite "fixing" a typo made
            # anywhere in the number by changing only the last character.
            raise ValidationError(field, "id_number", "校验位错误（请核对整个号码）",
                                  "check digit is wrong (check the whole number)")
    sequence_end = value[16] if len(value) == 18 else value[14]
    return IdNumber(value, born, "1" if int(sequence_end) % 2 else "2")


def credit_check_char(body17: str) -> str:
    """The GB 32100-2015 check character over the first 17 characters of a credit code."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def _credit_shape(raw: str, field: str) -> str:
    value = _squeeze(raw).upper()
    if len(value) != 18:
        raise ValidationError(field, "credit_code", "统一社会信用代码应为 18 位",
                              "a unified social credit code is 18 characters")
    if any(c not in _USCC_ALPHABET for c in value):
        raise ValidationError(field, "credit_code", "统一社会信用代码只用数字和字母（不含 I、O、S、V、Z）",
                              "a credit code uses digits and letters except I, O, S, V and Z")
    return value


def check_credit_code(raw: str, *, field: str = "credit_code") -> str:
    """A unified social credit code (GB 32100-2015), normalised, or ValidationError."""
    value = _credit_shape(raw, field)
    expected = credit_check_char(value[:17])
    if value[17] != expected:
        raise ValidationError(field, "credit_code", f"校验码错误，应为 {expected}",
                              f"check character is wrong, expected {expected}")
    return value


# --- phone numbers ----------------------------------------------------------------------------


def _phone_text(raw: str) -> str:
    return _squeeze(raw).translate(_DASHES).replace("(", "").replace(")", "")


def _strip_country(text: str) -> str:
    """Drop +86 / 0086; the international form also drops a landline's leading 0, so add it."""
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            rest = text[len(prefix):].lstrip("-")
            if rest.startswith("0") or _MOBILE.fullmatch(rest.replace("-", "")):
                return rest
            return "0" + rest
    return text


def normalise_mobile(raw: str, *, field: str = "phone") -> str:
    """A mainland mobile number as 11 digits, or ValidationError (rule `mobile`)."""
    digits = _strip_country(_phone_text(raw)).replace("-", "")
    if not _MOBILE.fullmatch(digits):
        raise ValidationError(field, "mobile", "不是有效的手机号码", "not a valid mainland mobile number")
    return digits


def normalise_phone(raw: str, *, field: str = "phone") -> str:
    """A mobile (11 digits) or a landline ("0755-12345678", "020-1234567-801")."""
    text = _phone_text(raw)
    if len(text) <= PHONE_MAX:
        text = _strip_country(text)
        if _MOBILE.fullmatch(text.replace("-", "")):
            return text.replace("-", "")
        landline = _LANDLINE.fullmatch(text)
        if landline:
            return "-".join(part for part in landline.groups() if part)
    raise ValidationError(field, "phone", "不是有效的电话号码（手机号，或带区号的固定电话）",
                          "not a valid phone number (a mobile, or a landline with its area code)")


# --- blind index form -------------------------------------------------------------------------


def normalise_for_index(field: FieldDef, value: object) -> str:
    """The canonical text a blind index is computed over: equal meaning, equal text.

    Raises ValidationError when `value` cannot be a value of the field at all, so a search
    skips fields the term cannot match (a name is not a phone). Identifiers are only checked
    for shape here: a stored value was fully validated when it was written.
    """
    if not isinstance(value, str):
        raise ValidationError(field.name, "type", "应为文本", "expected text")
    kind = field.rule or field.name
    if kind == "id_number":
        number = _id_shape(value, field.name)
        # The same person under the legacy and the current form must share one index entry.
        return _upgrade_id15(number) if len(number) == 15 else number
    if kind == "credit_code":
        return _credit_shape(value, field.name)
    if kind == "mobile":
        return normalise_mobile(value, field=field.name)
    if kind == "phone":
        return normalise_phone(value, field=field.name).replace("-", "")
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()


def _upgrade_id15(value: str) -> str:
    """The 18-character form of a legacy number, as GB 11643-1999 defines the upgrade."""
    body = value[:6] + "19" + value[6:]
    return body + id_check_char(body)


# --- values by type ---------------------------------------------------------------------------

_Check = Callable[[FieldDef, object, Schema, date], object]


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple) and not value


def _as_str(f: FieldDef, value: object, zh: str = "文本", en: str = "text") -> str:
    if not isinstance(value, str):
        raise ValidationError(f.name, "type", f"应为{zh}", f"expected {en}")
    return value


# Controls (Unicode category Cc) other than tab and newline; bidi overrides and isolates,
# which make text display differently from what is stored (spoofed names); lone surrogates,
# which cannot be encoded as UTF-8 and would fail only when sealed. One regex search instead
# of a per-character category lookup: measured 10x faster on a typical address.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _clean_text(f: FieldDef, value: object) -> str:
    # Text pasted from Windows brings \r\n; a line break is still a line break.
    text = _as_str(f, value)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        code = ord(bad.group())
        raise ValidationError(f.name, "control_chars", f"含有不允许的控制字符 U+{code:04X}",
                              f"contains the control character U+{code:04X}")
    return text.strip()


def _check_length(f: FieldDef, text: str) -> str:
    limit = f.max_length if f.max_length is not None else DEFAULT_TEXT_MAX
    if len(text) > limit:
        raise ValidationError(f.name, "max_length", f"最多 {limit} 个字（现有 {len(text)} 个）",
                              f"at most {limit} characters (this has {len(text)})")
    return text


def _apply_rule(f: FieldDef, text: str, today: date) -> str:
    rule = f.rule or ""
    if rule == "id_number":
        return parse_id_number(text, today=today, field=f.name).value
    if rule == "credit_code":
        return check_credit_code(text, field=f.name)
    if rule == "mobile":
        return normalise_mobile(text, field=f.name)
    if rule == "phone":
        return normalise_phone(text, field=f.name)
    if rule in _AREA_DIGITS:
        return _area_code(f, text, rule)
    if rule == "sha256":
        return check_sha256(text.lower(), f.name)
    if rule == "time_of_day":
        if not _TIME_OF_DAY.fullmatch(text):
            raise ValidationError(f.name, rule, "时间格式应为 HH:MM（24 小时制）",
                                  "a time of day is HH:MM (24-hour)")
        return text
    # Derived rules (birth_date_of:, sex_of:) are checked per record. A rule name this build
    # does not know came with a newer schema bundle; the hub, which knows it, checks it.
    return text


def _area_code(f: FieldDef, text: str, rule: str) -> str:
    digits = _AREA_DIGITS[rule]
    value = _squeeze(text)
    if not re.fullmatch(f"[0-9]{{{digits}}}", value):
        raise ValidationError(f.name, rule, f"应为 {digits} 位数字的区划代码",
                              f"an area code of exactly {digits} digits")
    return value


def _check_text(f: FieldDef, value: object, schema: Schema, today: date) -> str:
    # Length is measured after the rule, so "1101 0519 …" fits an 18-character ID field.
    return _check_length(f, _apply_rule(f, _clean_text(f, value), today))


def _check_integer(f: FieldDef, value: object, schema: Schema, today: date) -> int:
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        value = int(text) if _INT_TEXT.fullmatch(text) else value
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= _INT_LIMIT:
        raise ValidationError(f.name, "type", "应为整数", "expected a whole number")
    return int(_bounded(f, value))


def _check_number(f: FieldDef, value: object, schema: Schema, today: date) -> int | float:
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if _NUMBER_TEXT.fullmatch(text) and len(text) <= 40:
            value = int(text) if text.lstrip("+-").isdigit() else float(text)
    if not _is_number(value):
        raise ValidationError(f.name, "type", "应为数字", "expected a number")
    return _bounded(f, value)


def _is_number(value: object) -> TypeGuard[int | float]:
    if isinstance(value, bool):
        return False  # JSON true is not 1, even though Python says so
    if isinstance(value, int):
        return abs(value) < _INT_LIMIT
    return isinstance(value, float) and math.isfinite(value)


def _bounded(f: FieldDef, value: int | float) -> int | float:
    if f.min_value is not None and value < f.min_value:
        raise ValidationError(f.name, "min_value", f"不能小于 {f.min_value:g}",
                              f"must be at least {f.min_value:g}")
    if f.max_value is not None and value > f.max_value:
        raise ValidationError(f.name, "max_value", f"不能大于 {f.max_value:g}",
                              f"must be at most {f.max_value:g}")
    return value


def _check_boolean(f: FieldDef, value: object, schema: Schema, today: date) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    key = unicodedata.normalize("NFKC", value).strip().lower() if isinstance(value, str) else None
    if key in _TRUE or key in _FALSE:
        return key in _TRUE
    raise ValidationError(f.name, "type", "应为“是”或“否”", "expected yes or no (true/false)")


def _check_date(f: FieldDef, value: object, schema: Schema, today: date) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    text = unicodedata.normalize("NFKC", _as_str(f, value, "日期", "a date")).strip()
    match = _DATE_TEXT.fullmatch(text)
    if not match:
        raise ValidationError(f.name, "date", "日期应写成 YYYY-MM-DD", "a date is written YYYY-MM-DD")
    try:
        return date(int(match[1]), int(match[3]), int(match[4])).isoformat()
    except ValueError:
        raise ValidationError(f.name, "date", "不是真实存在的日期", "not a real date") from None


def _check_datetime(f: FieldDef, value: object, schema: Schema, today: date) -> str:
    moment = value if isinstance(value, datetime) else _parse_datetime(f, value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    offset = moment.utcoffset()
    if offset is None or offset % timedelta(minutes=1):
        raise ValidationError(f.name, "datetime", "时区偏移应为整分钟",
                              "the UTC offset must be whole minutes")
    return moment.replace(microsecond=0).isoformat()


def _parse_datetime(f: FieldDef, value: object) -> datetime:
    text = unicodedata.normalize("NFKC", _as_str(f, value, "日期时间", "a date and time")).strip()
    try:
        if _DATETIME_TEXT.fullmatch(text):
            return datetime.fromisoformat(text.upper())
    except ValueError:
        pass
    raise ValidationError(f.name, "datetime", "日期时间应写成 YYYY-MM-DDTHH:MM:SS+08:00",
                          "a date and time is written YYYY-MM-DDTHH:MM:SS+08:00")


def _table_of(f: FieldDef, schema: Schema) -> CodeTable:
    table = schema.code_tables.get(f.code_table or "")
    if table is None:
        raise SchemaError(f"字段 {f.entity}.{f.name} 的代码表 {f.code_table!r} 不存在",
                          f"field {f.entity}.{f.name} names a missing code table {f.code_table!r}")
    return table


def _check_code(f: FieldDef, value: object, schema: Schema, today: date) -> str:
    table = _table_of(f, schema)
    code = unicodedata.normalize("NFKC", _as_str(f, value, "代码", "a code")).strip()
    entry = table.by_code.get(code)
    if entry is None:
        raise ValidationError(f.name, "code_table", f"不是“{table.label_zh}”中的代码",
                              f"not a code of the table {table.label_en!r}")
    if entry.deprecated:
        # Old records keep a retired code; a new value must use a current one.
        raise ValidationError(f.name, "code_table", f"代码“{entry.label_zh}”已停用，请选用现行代码",
                              f"the code {entry.label_en!r} is retired; choose a current one")
    return code


def _check_ref(f: FieldDef, value: object, schema: Schema, today: date) -> str:
    text = _as_str(f, value, "记录编号", "a record id").strip().lower()
    if not _REF_TEXT.fullmatch(text):
        raise ValidationError(f.name, "ref", "不是有效的记录编号", "not a valid record id")
    h = text.replace("-", "")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _list_check(item: _Check, rule: str | None) -> _Check:
    """A list type from its item check; `rule` names the rule a repeated item breaks."""

    def check(f: FieldDef, value: object, schema: Schema, today: date) -> list[object]:
        if not isinstance(value, list | tuple):
            raise ValidationError(f.name, "type", "应为列表", "expected a list")
        if any(_is_blank(v) for v in value):
            raise ValidationError(f.name, "required", "列表中不能有空项", "the list has an empty item")
        items = [item(f, v, schema, today) for v in value]
        if rule is not None and len(set(map(str, items))) != len(items):
            raise ValidationError(f.name, rule, "列表中有重复项", "the list repeats an item")
        return items

    return check


_CHECKS: dict[str, _Check] = {
    "text": _check_text,
    "integer": _check_integer,
    "number": _check_number,
    "boolean": _check_boolean,
    "date": _check_date,
    "datetime": _check_datetime,
    "code": _check_code,
    "ref": _check_ref,
    "codes": _list_check(_check_code, "code_table"),
    "refs": _list_check(_check_ref, "ref"),
    "texts": _list_check(_check_text, None),
}


def _required(f: FieldDef) -> ValidationError:
    return ValidationError(f.name, "required", f"请填写{f.label_zh}", f"{f.label_en} is required")


def validate_value(f: FieldDef, value: object, schema: Schema, *, today: date) -> object:
    """The normalised value, or ValidationError naming the field and the rule.

    A blank value (None, empty or all-space text, empty list) is missing: None comes back,
    or a `required` error if the field must be filled.
    """
    check = _CHECKS.get(f.type)
    if check is None:
        raise SchemaError(f"字段 {f.entity}.{f.name} 的类型 {f.type!r} 未知",
                          f"field {f.entity}.{f.name} has unknown type {f.type!r}")
    if _is_blank(value):
        if f.required:
            raise _required(f)
        return None
    return check(f, value, schema, today)


# --- records ----------------------------------------------------------------------------------

_DERIVED: dict[str, Callable[[IdNumber], str]] = {
    "birth_date_of": lambda parsed: parsed.birth_date.isoformat(),
    "sex_of": lambda parsed: parsed.sex,
}


def _derived(f: FieldDef, entity: EntityDef, values: Mapping[str, object], schema: Schema,
             today: date, parsed_ids: dict[str, IdNumber | None]) -> object:
    """The value an ID number given in `values` implies for `f`, or None.

    `parsed_ids` keeps each source parsed once per record: birth date and sex both derive
    from the same ID number, and parsing was a fifth of the bulk-import time."""
    kind, _, source = (f.rule or "").partition(":")
    if kind not in _DERIVED or source not in entity.by_name or _is_blank(values.get(source)):
        return None
    if source not in parsed_ids:
        raw = values[source]
        try:
            parsed_ids[source] = parse_id_number(raw, today=today, field=source) if isinstance(
                raw, str) else None
        except ValidationError:
            parsed_ids[source] = None  # the source reports its own error in field order
    parsed = parsed_ids[source]
    return None if parsed is None else validate_value(f, _DERIVED[kind](parsed), schema, today=today)


def _record_field(f: FieldDef, entity: EntityDef, values: Mapping[str, object], schema: Schema,
                  today: date, partial: bool, parsed_ids: dict[str, IdNumber | None]) -> object:
    given = values.get(f.name)
    if given is None and f.name not in values and not (f.rule and ":" in f.rule):
        # Absent and not derived: only a default or a required-field error can come of it.
        # This early way out halves validation time for records that fill half their fields.
        if not partial and f.default is not None:
            return validate_value(f, f.default, schema, today=today)
        if f.required and not partial:
            raise _required(f)
        return None
    if f.deprecated and not partial:
        if not _is_blank(given):
            raise ValidationError(f.name, "deprecated", "此字段已停用，新记录不能填写",
                                  "this field is retired and cannot be set on a new record")
        return None
    value = None if _is_blank(given) else validate_value(f, given, schema, today=today)
    derived = _derived(f, entity, values, schema, today, parsed_ids)
    if derived is not None:
        if value is not None and value != derived:
            raise ValidationError(f.name, "id_number_mismatch", "与身份证号不符",
                                  "does not match the ID number")
        value = derived
    if value is None and not partial and f.default is not None:
        value = validate_value(f, f.default, schema, today=today)
    if value is None and f.required and (not partial or f.name in values):
        raise _required(f)
    return value


def validate_record(entity: EntityDef, values: Mapping[str, object], schema: Schema, *,
                    today: date, partial: bool = False) -> dict[str, object]:
    """Check and normalise a new record, or (partial) the fields an update changes.

    Fields are checked in the entity's order and the first error is raised, so the same input
    always gets the same message. A full record comes back without None values; in an update
    None means "clear this field" and is kept.
    """
    unknown = sorted(set(values) - set(entity.by_name))
    if unknown:
        raise ValidationError(unknown[0], "unknown_field", f"“{entity.label_zh}”没有这个字段",
                              f"{entity.name} has no such field")
    out: dict[str, object] = {}
    parsed_ids: dict[str, IdNumber | None] = {}
    for f in entity.fields:
        value = _record_field(f, entity, values, schema, today, partial, parsed_ids)
        if value is not None or (partial and f.name in values):
            out[f.name] = value
    return out
