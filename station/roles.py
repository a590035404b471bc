"""Roles on the station (issue 25 point 6): who may do what, as data.

The table is `station/roles.json`: for each role, the actions it may take on each entity and
its reach (every record of the station, the records of its grids, or its own). `may` answers
"may this slot do ACTION on ENTITY (in GRID, its own or not)"; the store's API asks it before
every read and write (station/store.py, station/writes.py), so the CLI, the kiosk and the web
kiosk obey the same rule. Pure: no I/O beyond reading the table once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sync.errors import RoleRefused, ValidationError

TABLE_FILE = Path(__file__).with_name("roles.json")
CLERK, GRIDWORKER, VOLUNTEER = "clerk", "gridworker", "volunteer"
ADMIN_ENTITY = "station"  # what `admin` acts on: keyslots and settings
ADMIN_LABELS = ("本站的办事员和设置", "the station's clerks and settings")


@dataclass(frozen=True)
class RoleDef:
    name: str
    zh: str
    en: str
    reach: str  # "station" | "grids" | "own"
    may: Mapping[str, frozenset[str]]

    def actions(self, entity: str) -> frozenset[str]:
        return self.may.get(entity, self.may.get("*", frozenset()))


@dataclass(frozen=True)
class Table:
    roles: Mapping[str, RoleDef]
    actions: Mapping[str, tuple[str, str]]  # action -> (Chinese, English)


def parse_table(data: Mapping[str, Any]) -> Table:
    actions = {a: (str(zh), str(en)) for a, (zh, en) in data["actions"].items()}
    roles = {}
    for name, r in data["roles"].items():
        if r["reach"] not in ("station", "grids", "own"):
            raise ValueError(f"role {name}: unknown reach {r['reach']!r}")
        may = {e: frozenset(acts) for e, acts in r["may"].items()}
        unknown = {a for acts in may.values() for a in acts} - actions.keys()
        if unknown:
            raise ValueError(f"role {name}: unknown actions {sorted(unknown)}")
        roles[name] = RoleDef(name, r["zh"], r["en"], r["reach"], may)
    return Table(roles, actions)


@cache
def table() -> Table:
    return parse_table(json.loads(TABLE_FILE.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Grant:
    """What one keyslot was given: its role, its grids (a gridworker) or its volunteer."""

    role: str = CLERK
    grids: frozenset[str] = field(default_factory=frozenset)
    volunteer: str | None = None

    @classmethod
    def of(cls, role: str | None, grids: str | None, volunteer: str | None) -> Grant:
        """The grant a keyslot's columns hold (NULL role: a slot from before roles, a clerk)."""
        return cls(role or CLERK, frozenset(json.loads(grids or "[]")), volunteer or None)

    @property
    def reach(self) -> str:
        return role_def(self.role).reach


CLERK_GRANT = Grant()


def role_def(role: str, rules: Table | None = None) -> RoleDef:
    found = (rules or table()).roles.get(role)
    if found is None:
        raise ValueError(f"unknown role {role!r}")
    return found


def may(grant: Grant, action: str, entity: str, *, grid: str | None = None,
        own: bool | None = None, rules: Table | None = None) -> bool:
    """Whether `grant` may do `action` on `entity`. For one record, `grid` is its grid and
    `own` whether it is the volunteer's own (None: not about one record, as a list is: the
    caller then narrows the list to `grids_of` / the volunteer's own records)."""
    found = role_def(grant.role, rules)
    if action not in found.actions(entity):
        return False
    if found.reach == "grids" and grid is not None:
        return grid in grant.grids
    if found.reach == "own" and own is not None:
        return own and grant.volunteer is not None
    return True


def refusal(grant: Grant, action: str, entity: str, entity_zh: str, entity_en: str,
            rules: Table | None = None) -> RoleRefused:
    """The error naming the role and the action: 志愿者无权查看人口信息 (a volunteer may not
    read person records)."""
    rules = rules or table()
    found = role_def(grant.role, rules)
    act_zh, act_en = rules.actions.get(action, (action, action))
    where_zh = where_en = ""
    if found.reach == "grids" and action in found.actions(entity):
        shown = "、".join(sorted(grant.grids)) or "无"
        where_zh, where_en = f"（仅限网格 {shown}）", f" outside grids {', '.join(sorted(grant.grids))}"
    elif found.reach == "own" and action in found.actions(entity):
        where_zh, where_en = "（仅限本人的记录）", " other than their own"
    return RoleRefused(grant.role, action, entity,
                       f"{found.zh}无权{act_zh}{entity_zh}{where_zh}，未执行",
                       f"a {found.en} may not {act_en} {entity_en}"
                       f"{'' if entity == ADMIN_ENTITY else ' records'}{where_en}; nothing was done")


def check(grant: Grant, action: str, entity: str, labels: tuple[str, str], *,
          grid: str | None = None, own: bool | None = None) -> None:
    """Raise RoleRefused unless `may`."""
    if not may(grant, action, entity, grid=grid, own=own):
        raise refusal(grant, action, entity, *labels)


def is_own(grant: Grant, ids: Iterable[str | None]) -> bool:
    """Whether a record is the volunteer's own: one of `ids` (its id, its owner, its
    `volunteer` field, its owner's) is the slot's volunteer record."""
    return grant.volunteer is not None and grant.volunteer in set(ids)


def checked_grant(role: str, grids: Iterable[str], volunteer: str | None) -> Grant:
    """A grant for a new slot, its shape checked: a gridworker has grids, a volunteer its
    volunteer record, and neither goes with another role."""
    names = sorted(table().roles)
    if role not in table().roles:
        raise ValidationError("role", "role", f"角色应为 {'、'.join(names)} 之一",
                              f"a role is one of {', '.join(names)}")
    wanted = frozenset(g.strip() for g in grids if g.strip())
    bad = sorted(g for g in wanted if not (len(g) == 12 and g.isascii() and g.isdigit()))
    if bad:
        raise ValidationError("grids", "grid_code", f"网格代码应为 12 位数字：{bad[0]}",
                              f"a grid code is 12 digits: {bad[0]}")
    reach = role_def(role).reach
    if (reach == "grids") != bool(wanted):
        raise ValidationError("grids", "role_grids", "网格员须指定网格，其他角色不指定",
                              "a gridworker needs --grids; other roles take none")
    if (reach == "own") != bool(volunteer):
        raise ValidationError("volunteer", "role_volunteer", "志愿者须指定志愿者编号，其他角色不指定",
                              "a volunteer needs --volunteer ID; other roles take none")
    return Grant(role, wanted, volunteer.lower() if volunteer else None)


def label(role: str, lang: str = "zh") -> str:
    found = role_def(role)
    return found.zh if lang == "zh" else found.en
