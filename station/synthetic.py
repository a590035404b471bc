"""Realistic synthetic records, deterministic for a seed.

Used by the tests, the benchmarks and demo data: Chinese names, valid citizen ID numbers
and credit codes, mobile numbers, addresses inside the station's grids. Nothing here is a
real person's data. A generic `sample_record` fills any entity from its schema definition, so
a field added by a schema bundle gets sample values with no code change.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sync.schema import EntityDef, FieldDef, Schema

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国文辉玉兰志强海燕丹宇浩"
    "俊欣怡子涵梓萱雨泽佳琪思远晓东春梅秋菊冬梅永红小龙德胜"
)
ROADS = ("人民路", "中山路", "解放路", "建设路", "和平路", "新华路", "文化路", "胜利路", "迎宾路", "滨江路")
VILLAGES = ("东村", "西村", "南社区", "北社区", "新村", "河口村", "山下村", "城南社区")
COUNTY_CODE = "440524"

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def id_number(rng: random.Random, birth: date, male: bool, region: str = COUNTY_CODE) -> str:
    """A citizen ID number with a correct GB 11643-1999 check character."""
    seq = rng.randrange(0, 500) * 2 + (1 if male else 0)
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


def credit_code(rng: random.Random, region: str = COUNTY_CODE) -> str:
    """A unified social credit code with correct GB 11714 and GB 32100-2015 check characters."""
    # Digits only in the organisation code: GB 11714 values letters differently from the
    # GB 32100 alphabet, and digits keep both checks unambiguous.
    org = "".join(rng.choice("0123456789") for _ in range(8))
    org_total = sum(int(c) * w for c, w in zip(org, _ORG_WEIGHTS, strict=True))
    org_check = 11 - org_total % 11
    org += "X" if org_check == 10 else "0" if org_check == 11 else str(org_check)
    body = "91" + region + org
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def chinese_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def address(rng: random.Random) -> str:
    return f"{rng.choice(VILLAGES)}{rng.choice(ROADS)}{rng.randrange(1, 300)}号"


def birth_date(rng: random.Random) -> date:
    return date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 80))


def people(count: int, grids: Sequence[str], seed: int = 0) -> Iterator[dict[str, Any]]:
    """`count` people spread over `grids`; the same seed gives the same people."""
    rng = random.Random(seed)
    # One person per ID number, as the register requires: at 120,000 people about 500 draws
    # would repeat one (80 years of birthdays times 500 sequence numbers).
    used: set[str] = set()
    for _ in range(count):
        born = birth_date(rng)
        male = rng.random() < 0.5
        name = chinese_name(rng)  # drawn first, as before: the same seed, the same people
        number = id_number(rng, born, male)
        while number in used:
            number = id_number(rng, born, male)
        used.add(number)
        yield {
            "name": name,
            "id_number": number,
            "phone": mobile(rng),
            "address": address(rng),
            "grid": rng.choice(grids),
            "population_type": rng.choice(("01", "01", "01", "02")),
        }


# An attachment describes a file of a kind the schema lets that record carry.
_ATTACHMENT_VALUES = {("attachment", "record_entity"): "incident",
                      ("attachment", "media_type"): "image/jpeg"}


def sample_value(f: FieldDef, schema: Schema, rng: random.Random, refs: Mapping[str, str],
                 grid: str) -> Any:
    """A valid value for any field, driven only by its definition."""
    by_rule = {
        "id_number": lambda: id_number(rng, birth_date(rng), rng.random() < 0.5),
        "credit_code": lambda: credit_code(rng),
        "mobile": lambda: mobile(rng),
        "phone": lambda: mobile(rng),
        "grid_code": lambda: grid,
        "township_code": lambda: grid[:9],
        "county_code": lambda: grid[:6],
        "sha256": lambda: rng.randbytes(32).hex(),
    }
    if (f.entity, f.name) in _ATTACHMENT_VALUES:
        return _ATTACHMENT_VALUES[(f.entity, f.name)]
    if f.rule in by_rule:
        value = by_rule[f.rule]()
        return [value] if f.type == "texts" else value
    if f.type in ("code", "codes"):
        table = schema.code_table(f.code_table or "")
        code = rng.choice([v.code for v in table.values if not v.deprecated])
        return [code] if f.type == "codes" else code
    if f.type in ("ref", "refs"):
        # A ref to no one entity (an attachment's record): the newest record made so far.
        target = refs[f.ref_entity] if f.ref_entity else list(refs.values())[-1]
        return [target] if f.type == "refs" else target
    return _plain_value(f, rng)


def _plain_value(f: FieldDef, rng: random.Random) -> Any:
    low = int(f.min_value) if f.min_value is not None else 0
    high = int(f.max_value) if f.max_value is not None else low + 100
    by_type: dict[str, Any] = {
        "integer": lambda: rng.randint(low, high),
        "number": lambda: float(rng.randint(low, high)),
        "boolean": lambda: rng.random() < 0.5,
        "date": lambda: f"{birth_date(rng):%Y-%m-%d}",
        "datetime": lambda: f"2026-11-{rng.randint(1, 27):02d}T09:30:00+08:00",
        "texts": lambda: [chinese_name(rng), chinese_name(rng)],
    }
    if f.type in by_type:
        return by_type[f.type]()
    if f.name.endswith("time"):
        return f"{rng.randint(6, 18):02d}:{rng.choice((0, 30)):02d}"
    text = chinese_name(rng) if "name" in f.name or f.name in ("owner", "legal_rep") else address(rng)
    return text[: f.max_length] if f.max_length else text


def sample_record(entity: EntityDef, schema: Schema, rng: random.Random,
                  refs: Mapping[str, str], grid: str) -> dict[str, Any]:
    """Every non-deprecated field of `entity` filled with a valid value.

    Fields derived from another (birth date and sex from the ID number) are left for the
    validator to fill, so they always agree with their source."""
    return {
        f.name: sample_value(f, schema, rng, refs, grid)
        for f in entity.fields
        if not f.deprecated and not (f.rule or "").partition(":")[0].endswith("_of")
    }
