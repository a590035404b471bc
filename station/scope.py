"""The station's scope: the grids whose records it may enter, as the county gave them.

A station covers its whole township (grid codes begin with its 9-digit code) unless county IT
limited it to some grids (`scope_grids`, told at enrollment and by later pulls). The hub
refuses a change outside that scope; the write path refuses it as the record is entered, so
a clerk hears it at the counter instead of at the next sync. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from sync.errors import ValidationError
from sync.schema import FieldDef


@dataclass(frozen=True)
class Scope:
    township: str
    grids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, settings: Mapping[str, str | None]) -> Scope:
        """The scope the station's settings hold (`township`, `scope_grids` as JSON)."""
        grids = json.loads(settings.get("scope_grids") or "[]")
        return cls(str(settings.get("township") or ""), frozenset(str(g) for g in grids))

    def contains(self, grid: str | None) -> bool:
        if grid is None:
            return False
        return grid in self.grids if self.grids else grid.startswith(self.township)

    def describe(self) -> tuple[str, str]:
        """The scope in words (Chinese, English): the township, or the grid list."""
        if self.grids:
            listed = sorted(self.grids)
            return f"本站网格：{'、'.join(listed)}", f"this station's grids: {', '.join(listed)}"
        return f"本站乡镇 {self.township}", f"this station's township {self.township}"

    def check(self, f: FieldDef, grid: str) -> None:
        """Refuse a grid outside the scope, naming the field by its label and the scope."""
        if self.contains(grid):
            return
        zh, en = self.describe()
        raise ValidationError(
            f.name, "scope",
            f"{f.label_zh} {grid} 不在本站范围内（{zh}），未保存",
            f"{f.label_en} {grid} is outside this station's scope ({en}); nothing was saved")
