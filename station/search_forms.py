"""What a clerk types into a search, and the forms of a stored value it can match.

Clerks look people up by surname, by the last digits of an ID number or a phone, or by the
pinyin initials of a name, not only by a whole value. Each such form of an indexed field's
value has a blind index of its own (`DERIVED_BITS`, HMAC keys 'entity.field#form'), and a
search reads the buckets its term can fall in, then opens and compares every candidate, as
for a whole value. Pure functions of text: no store, no keys.

Ranking (`RANKS`, lower first; within one rank, in record id order, i.e. as registered):
0 a whole ID number or phone, 1 a whole name, 2 the last 6 characters of an ID number,
3 the last 4 of an ID number or a phone, 4 a surname, 5 a name's pinyin initials as its
characters are most often read, 6 its initials under another reading of one of them (丁俊
read Zheng Shun: the clerk who typed zs most likely meant 张三, so such names come after).
A record matched in several ways is listed once, at its best rank.
"""

from __future__ import annotations

import heapq
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

from sync.errors import ValidationError
from sync.schema import EntityDef, FieldDef
from sync.validate import normalise_for_index

# The derived forms and their index widths (bits). Bumping GENERATION makes every store build
# its derived indexes again at the next unlock (station.store.Store.build_search_index); do so
# whenever a form or a width here changes. docs/SECURITY.md says what each one reveals.
GENERATION = 1
DERIVED_BITS = {
    # About 341,000 possible last 6 (day of birth, sequence, check): 16,384 buckets, about 10
    # people each at 160,000.
    "last6": 14,
    # 10,000 last-4 values: 4,096 buckets, 2-3 values and about 39 phones each.
    "last4": 12,
    # A few hundred surnames: 64 buckets, so each mixes several (see docs/SECURITY.md).
    "surname": 6,
    # About 12,000 two- and three-letter initials: 1,024 buckets, about 12 values each.
    "initials": 10,
}
# Which forms each kind of field gets. An ID number's last 4 are searched through its last-6
# index (the 31 days of the month before them): one index fewer to reveal anything.
FORMS = {"id_number": ("last6",), "phone": ("last4",), "name": ("surname", "initials")}
RANKS = {"whole_id": 0, "whole_name": 1, "last6": 2, "last4": 3, "surname": 4, "initials": 5,
         "initials_alt": 6}

# How many readings of a character count for its initial: every reading of a surname's, the
# two first of a given name's; at most MAX_INITIALS spellings of one name, the likeliest first.
GIVEN_READINGS = 2
MAX_INITIALS = 8

# Surnames read otherwise than their character's first reading in pypinyin's table (单 is Shan
# as a surname, Dan elsewhere; 曾 Zeng, not Ceng): the initials of the surname's own reading.
SURNAME_INITIALS = {
    "曾": "z", "单": "s", "解": "x", "区": "o", "仇": "q", "朴": "p", "查": "z", "盖": "g",
    "覃": "q", "种": "c", "缪": "m", "翟": "z", "乐": "y", "员": "y", "召": "s", "秘": "b",
    "折": "s", "能": "n", "祭": "z", "谌": "c", "柏": "b", "蔚": "y", "尉": "y", "长": "c",
    "朝": "c", "重": "c", "红": "h", "华": "h", "沈": "s", "纪": "j", "繁": "p", "句": "g",
    "长孙": "zs", "尉迟": "yc", "万俟": "mq", "单于": "cy", "澹台": "tt", "令狐": "lh",
}

# Two-character surnames (复姓) still in use; any other name's surname is its first character.
COMPOUND_SURNAMES = frozenset({
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "钟离", "端木", "西门", "南宫", "独孤", "呼延", "百里", "东郭", "申屠",
    "闻人", "万俟", "澹台", "公冶", "太叔", "濮阳", "淳于", "单于", "赫连", "拓跋", "完颜", "闾丘",
    "子车", "亓官", "司空", "司寇", "左丘", "东门", "梁丘", "谷梁", "羊舌", "微生", "公羊", "公西",
    "仲孙", "巫马", "乐正", "漆雕", "第五", "鲜于",
})

_LAST6 = re.compile(r"\d{5}[\dX]")
_LAST4_ID = re.compile(r"\d{3}[\dX]")
_LAST4_PHONE = re.compile(r"\d{4}")
_INITIALS = re.compile(r"[a-z]{2,20}")


def field_kind(entity: EntityDef, f: FieldDef) -> str | None:
    """Which derived forms an indexed field has: 'id_number', 'phone', 'name' (the entity's
    title field, plain text: a person's or a volunteer's name) or None (whole value only)."""
    if not f.indexed:
        return None
    if f.rule == "id_number":
        return "id_number"
    if f.rule in ("phone", "mobile"):
        return "phone"
    if f.rule is None and f.type == "text" and f.name == entity.title_field:
        return "name"
    return None


# ------------------------------------------------------------------------ stored values


def derived(kind: str | None, value: str) -> list[tuple[str, str]]:
    """The (form, text) pairs a stored value is indexed under besides its whole self.
    `value` is already normalised (`sync.validate.normalise_for_index`)."""
    if kind == "id_number" and len(value) == 18:
        return [("last6", value[-6:])]
    if kind == "phone" and len(value) >= 4:
        return [("last4", value[-4:])]
    if kind == "name":
        forms = [("surname", s)] if (s := surname(value)) else []
        return forms + [("initials", i) for i in initials(value)]
    return []


def form_values(kind: str | None, by: str, value: str) -> set[str]:
    """Every text a stored (normalised) value has under `by`, as a search compares it."""
    if by == "whole":
        return {value}
    if by == "last6":
        return {value[-6:]} if kind == "id_number" and len(value) == 18 else set()
    if by == "last4":
        return {value[-4:]} if kind in ("id_number", "phone") and len(value) >= 4 else set()
    if by == "surname" and kind == "name":
        return {s} if (s := surname(value)) else set()
    if by == "initials" and kind == "name":
        return set(initials(value)[:1])  # its likeliest spelling
    if by == "initials_alt" and kind == "name":
        return set(initials(value)[1:])  # the spellings of its characters' other readings
    return set()


# CJK unified ideographs, their extensions A-G and the compatibility ideographs.
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def is_han(char: str) -> bool:
    return _HAN.fullmatch(char) is not None


def surname(name: str) -> str | None:
    """The surname of a Chinese name: a compound surname (欧阳修 → 欧阳) or the first character.
    None for a name that does not start with a Chinese character."""
    if not name or not is_han(name[0]):
        return None
    if len(name) > 2 and name[:2] in COMPOUND_SURNAMES:
        return name[:2]
    return name[0]


@lru_cache(maxsize=65536)  # names repeat; a bulk import asks for each one
def initials(name: str) -> tuple[str, ...]:
    """The pinyin initials a clerk may type for a name (张三 → zs; 曾国藩 → zgf and cgf), most
    likely first; only its Chinese characters count (a minority name's dot is skipped)."""
    chars = _HAN.findall(name)
    if len(chars) < 2:
        return ()
    family = surname(name) or ""
    own = SURNAME_INITIALS.get(family, "")
    choices = [_first(own[i], _letters(c)) if i < len(own) else
               _letters(c) if i < len(family) else _letters(c)[:GIVEN_READINGS]
               for i, c in enumerate(chars)]
    if not all(choices):
        return ()
    return tuple("".join(ch[i] for ch, i in zip(choices, pick, strict=True))
                 for pick in _commonest(tuple(len(c) for c in choices), MAX_INITIALS))


def _first(letter: str, letters: tuple[str, ...]) -> tuple[str, ...]:
    return (letter, *(x for x in letters if x != letter))


@lru_cache(maxsize=4096)  # few shapes: the number of readings of each character
def _commonest(sizes: tuple[int, ...], most: int) -> tuple[tuple[int, ...], ...]:
    """Up to `most` choices of one reading per character, the fewest uncommon readings first
    (best-first from all-commonest: a long name's every combination would be too many)."""
    start = (0,) * len(sizes)
    heap, seen = [(0, start)], {start}
    out: list[tuple[int, ...]] = []
    while heap and len(out) < most:
        _, pick = heapq.heappop(heap)
        out.append(pick)
        for i, size in enumerate(sizes):
            if pick[i] + 1 < size:
                nxt = (*pick[:i], pick[i] + 1, *pick[i + 1:])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (sum(nxt), nxt))
    return tuple(out)


@cache  # a few thousand characters appear in names
def _letters(char: str) -> tuple[str, ...]:
    """The first letters of a character's readings, commonest first (pypinyin's table)."""
    first_letters = _pinyin_first_letters()
    found = first_letters(char)
    return tuple(dict.fromkeys(x for x in found if len(x) == 1 and "a" <= x <= "z"))


@lru_cache(maxsize=1)
def _pinyin_first_letters() -> Callable[[str], list[str]]:
    # pypinyin's documented switches: its phrase table (about 44 MB in memory, measured) only
    # helps words in running text, not names, and the kiosk must stay under 150 MB.
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
    os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "1")
    from pypinyin import Style, pinyin

    def first_letters(char: str) -> list[str]:
        readings = pinyin(char, style=Style.FIRST_LETTER, heteronym=True, errors="ignore")
        return list(readings[0]) if readings else []

    return first_letters


# ------------------------------------------------------------------------ search terms


@dataclass(frozen=True)
class Probe:
    """One index to read for a term: `form` ('' for the whole value's index), the texts whose
    buckets to read in it (`keys`), and what a candidate's `by` form must equal (`wanted`)."""

    by: str
    rank: int
    form: str
    keys: tuple[str, ...]
    wanted: str


def probes(entity: EntityDef, f: FieldDef, term: str) -> list[Probe]:
    """Every way `term` can match field `f`, as typed by a clerk."""
    kind = field_kind(entity, f)
    out = []
    try:
        whole = normalise_for_index(f, term)
    except ValidationError:
        whole = None  # the term cannot be a whole value of this field (not a phone, say)
    if whole is not None:
        rank = RANKS["whole_name"] if f.rule is None else RANKS["whole_id"]
        out.append(Probe("whole", rank, "", (whole,), whole))
    text = " ".join(unicodedata.normalize("NFKC", term).split())
    if kind == "id_number":
        upper = text.upper()
        if _LAST6.fullmatch(upper):
            out.append(Probe("last6", RANKS["last6"], "last6", (upper,), upper))
        elif _LAST4_ID.fullmatch(upper):
            # The day of birth comes before an ID number's last four: 01-31.
            days = tuple(f"{day:02d}{upper}" for day in range(1, 32))
            out.append(Probe("last4", RANKS["last4"], "last6", days, upper))
    elif kind == "phone" and _LAST4_PHONE.fullmatch(text):
        out.append(Probe("last4", RANKS["last4"], "last4", (text,), text))
    elif kind == "name":
        folded = text.casefold()
        if folded and all(map(is_han, folded)) and (len(folded) == 1 or folded in COMPOUND_SURNAMES):
            out.append(Probe("surname", RANKS["surname"], "surname", (folded,), folded))
        elif _INITIALS.fullmatch(folded):
            out.extend(Probe(by, RANKS[by], "initials", (folded,), folded)
                       for by in ("initials", "initials_alt"))
    return out
