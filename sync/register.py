"""The register's key: a person's 公民身份号码, an organisation's 统一社会信用代码.

Pure functions, shared by the station (which refuses a second holder and raises a "same
person" conflict when two stations registered one offline) and the hub (which lists the
duplicates still open for county IT).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sync.errors import ValidationError
from sync.schema import EntityDef
from sync.validate import normalise_for_index

# The conflict field of two records that hold one key: the same person registered twice.
SAME = "_same"


def key_of(entity: EntityDef, values: Mapping[str, Any]) -> str | None:
    """The normalised key of a record's values (a legacy 15-digit ID number as its 18-digit
    form), or None: no key field, no value, or one the field could not hold (validation
    names that, not this)."""
    f = entity.key_field
    value = values.get(f.name) if f is not None else None
    if f is None or value is None or value == "":
        return None
    try:
        return normalise_for_index(f, value)
    except ValidationError:
        return None


def same_key_groups(records: Iterable[tuple[str, EntityDef, Mapping[str, Any]]]
                    ) -> list[tuple[str, str, list[str]]]:
    """(entity, key, ids in id order) of every key more than one live record holds, given
    (id, entity, values) of the live records; sorted by entity, then by the first id. The
    first id is the survivor a merge keeps (the earlier registration: ids are time-ordered)."""
    held: dict[tuple[str, str], list[str]] = {}
    for record_id, entity, values in records:
        key = key_of(entity, values)
        if key is not None:
            held.setdefault((entity.name, key), []).append(record_id)
    groups = [(entity, key, sorted(ids)) for (entity, key), ids in held.items() if len(ids) > 1]
    return sorted(groups, key=lambda g: (g[0], g[2][0]))


def survivor(a: str, b: str) -> tuple[str, str]:
    """(kept, merged away) of two records of one key: the lower id is kept, so two stations
    merging the same pair at once make the same choice and converge."""
    return (a, b) if a < b else (b, a)


def merge_plan(key_field: str, kept: Mapping[str, Any], other: Mapping[str, Any],
               take: Iterable[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """What merging `other` into `kept` writes, and what it leaves: (the fields the kept
    record takes from the other: every one it lacks, and those named in `take`; the other's
    differing values it does not take, kept with the settled conflict). The key itself is
    the same by definition (its spelling may differ: a legacy 15-digit number), so stays."""
    chosen = set(take)
    taken: dict[str, Any] = {}
    left: dict[str, Any] = {}
    for name, value in other.items():
        if name == key_field or value is None or value == "" or value == kept.get(name):
            continue
        if kept.get(name) in (None, "", []) or name in chosen:
            taken[name] = value
        else:
            left[name] = value
    return taken, left


def repointed(value: Any, old: str, new: str) -> Any:
    """A ref (an id) or refs (a list of ids) value with `old` replaced by `new`; a list keeps
    its order and names `new` once."""
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            item = new if item == old else item
            if item not in out:
                out.append(item)
        return out
    return new if value == old else value
