"""Widgets that show text as it is. Names, addresses, titles, notes and the hub's reasons come
from people; Textual reads strings as markup by default, so a name like `[/]` crashed the app
and `[red]…` restyled it (found by tests/torture/test_hostile_input.py). Every label, static
and table of this app is one of these; none of its own text uses markup either."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable, Label, Static


class Plain(Static):
    def __init__(self, content: Any = "", **kwargs: Any) -> None:
        super().__init__(content, markup=False, **kwargs)


class PlainLabel(Label):
    def __init__(self, content: Any = "", **kwargs: Any) -> None:
        super().__init__(content, markup=False, **kwargs)


class PlainTable(DataTable[Any]):
    def add_row(self, *cells: Any, **kwargs: Any) -> Any:
        return super().add_row(*(Text(c) if isinstance(c, str) else c for c in cells), **kwargs)
