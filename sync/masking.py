"""Personal values as a passer-by at a public counter may see them.

Pure functions. A list, a conflict or a record's summary shows a value masked; only a
clerk's deliberate reveal on a record's detail shows it whole (and that reveal is recorded).
The forms follow what a Chinese register shows on paper: an ID number keeps its first four
digits (the prefecture) and its last four, a mobile its first three (the carrier) and its last
four, a name its surname.
"""

from __future__ import annotations

from typing import Any

STAR = "*"


def mask_id_number(value: str) -> str:
    """4405**********2318: the first four and the last four characters kept."""
    if len(value) <= 8:
        return STAR * len(value)
    return value[:4] + STAR * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """139****5678 for a mobile; a landline keeps its area code and its last four digits."""
    digits = value.replace(" ", "")
    if len(digits) == 11 and digits.isdigit() and digits.startswith("1"):
        return digits[:3] + STAR * 4 + digits[-4:]
    area, dash, number = digits.partition("-")
    if dash and len(number) > 4:
        return f"{area}-{STAR * (len(number) - 4)}{number[-4:]}"
    if len(digits) <= 4:
        return STAR * len(digits)
    return STAR * (len(digits) - 4) + digits[-4:]


def mask_name(value: str) -> str:
    """张*, 欧阳**: the first character kept (a two-character surname shows its first only)."""
    if len(value) <= 1:
        return value
    return value[0] + STAR * (len(value) - 1)


def mask_text(value: str) -> str:
    """Any other personal text (an address, a note): its first two characters, then stars."""
    if len(value) <= 2:
        return STAR * len(value)
    return value[:2] + STAR * min(len(value) - 2, 6)


def mask_value(rule: str | None, value: Any, *, is_name: bool = False, names: bool = True) -> str:
    """A sensitive field's value as shown on a list: by its schema rule (id_number,
    credit_code, mobile, phone), as a name when it is its entity's title field (`names`
    False leaves names whole, the station's setting), otherwise as personal text."""
    if value is None or value == "":
        return ""
    text = value if isinstance(value, str) else str(value)
    if rule in ("id_number", "credit_code"):
        return mask_id_number(text)
    if rule in ("mobile", "phone"):
        return mask_phone(text)
    if is_name:
        return mask_name(text) if names else text
    return mask_text(text)
