"""A "same person" conflict: one ID number registered at two stations offline. The screen
shows both records field by field, masked as a list masks them, and M merges them into the
one with the lower id (station/duplicates.py): every field only the other held is taken,
where both differ the kept record's value stays and the other's is kept with the settled
conflict, and every case that named the other names the kept one. The merge syncs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header

from station.conflicts import Conflicts
from station.duplicates import Duplicates
from station.store import Store
from sync.errors import TownshipError
from sync.schema import EntityDef
from tui.i18n import text
from tui.shown import masked_value
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import Plain, PlainLabel

if TYPE_CHECKING:
    from tui.app import StationApp


def pair_lines(store: Store, entity: EntityDef, kept: dict[str, Any], other: dict[str, Any],
               lang: str) -> list[str]:
    """One line per field either record holds: its label, the kept record's value, the
    other's, both masked; "≠" where they differ (the kept value stays)."""
    names = store.mask_names
    out = []
    for f in entity.fields:
        a, b = kept.get(f.name), other.get(f.name)
        if a is None and b is None:
            continue
        shown_a = masked_value(entity, f, a, store, lang, names=names) or "—"
        shown_b = masked_value(entity, f, b, store, lang, names=names) or "—"
        mark = " ≠ " if a is not None and b is not None and a != b else " | "
        out.append(f"{f.label(lang)}：{shown_a}{mark}{shown_b}")
    return out


def same_summary(store: Store, c: dict[str, Any], lang: str) -> str:
    """The two records of a conflict in the list's pane: each by its title, masked."""
    entity = store.schema.entity(c["entity"])
    title = entity.by_name.get(entity.title_field or "")
    parts = []
    for side, record in zip(("same.kept", "same.other"), c["records"], strict=True):
        value = (record["fields"] or {}).get(title.name) if title else None
        shown = masked_value(entity, title, value, store, lang, names=store.mask_names) \
            if title is not None else ""
        parts.append(f"{text(side, lang)}: {shown or record['id'][-6:]}")
    return " · ".join(parts)


class SamePersonScreen(Screen[None]):
    """Both records of one ID number; M merges them, Esc goes back."""

    app: StationApp
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "merge", "合并"),
        Binding("escape", "back", "返回"),
    ]

    def __init__(self, store: Store, conflict_id: str) -> None:
        super().__init__()
        self.store = store
        self.conflict_id = conflict_id

    def conflict(self) -> dict[str, Any] | None:
        found = [c for c in Conflicts(self.store).list() if c["id"] == self.conflict_id]
        return found[0] if found else None

    def compose(self) -> ComposeResult:
        lang = self.app.lang
        c = self.conflict()
        yield Header()
        with VerticalScroll(id="same-box"):
            if c is None or any(r["fields"] is None for r in c["records"]):
                yield PlainLabel(text("conflicts.none", lang))
            else:
                entity = self.store.schema.entity(c["entity"])
                kept, other = (r["fields"] for r in c["records"])
                yield PlainLabel(text("same.title", lang, entity=entity.label(lang)), classes="title")
                yield Plain(text("same.columns", lang), id="same-columns")
                yield Plain("\n".join(pair_lines(self.store, entity, kept, other, lang)), id="same-fields")
                yield Plain(text("same.keys", lang), id="same-keys")
        yield KeyFooter()

    def action_merge(self) -> None:
        try:
            Duplicates(self.store).merge(self.conflict_id)
        except TownshipError as exc:
            self.notify(exc.message(self.app.lang), severity="error")
            return
        self.notify(text("same.merged", self.app.lang))
        self.app.pop_screen()

    def action_back(self) -> None:
        self.app.pop_screen()
