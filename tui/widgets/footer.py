"""The footer in the app's language, on one line that is never cut (it reads the app's `lang`,
as Textual's own footer reads the app's bindings).

Bindings are declared with their Chinese description (the default the clerks read); the
footer and the help screen show `key_name(description, lang)`, so F2 relabels the keys too.
Keys come in order of importance: the screen's own, Esc (back), then the app's (F1 help
first). Textual's footer would cut the line at the screen's edge ("f2 Eng"); this one leaves
out whole keys from the least important end instead (`fit_footer`), never F1 or Esc: F1
lists every key.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import ActiveBinding, BindingsMap
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from tui.i18n import key_name
from tui.keys import FooterItem, fit_footer


def declared_order(screen: Screen[object]) -> list[tuple[str, ActiveBinding]]:
    """The screen's active bindings, each node's in the order of its class's own BINDINGS
    (then those it inherits from Textual's classes). Textual's order is the merged one,
    base classes first: the app's Ctrl+Q (declared by Textual's App) would come before F1."""
    def position(item: tuple[str, ActiveBinding]) -> int:
        own = list(BindingsMap(getattr(type(item[1].node), "BINDINGS", [])).key_to_bindings)
        return own.index(item[0]) if item[0] in own else len(own)

    return sorted(screen.active_bindings.items(), key=position)


class KeyFooter(Footer):
    """Textual's compact footer, each key's description translated, ordered and fitted to
    the width on compose."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self.fitted_width = 0

    def compose(self) -> ComposeResult:
        lang = getattr(self.app, "lang", "zh")
        keys = [w for w in super().compose() if isinstance(w, FooterKey)]
        for key in keys:
            key.description = key_name(key.description, lang)
        ordered = sorted(keys, key=self._rank)
        self.fitted_width = self.app.size.width
        shown = {i.key for i in fit_footer([FooterItem(k.key, f"{k.key_display} {k.description}")
                                            for k in ordered], self.fitted_width)}
        yield from (k for k in ordered if k.key in shown)

    def _rank(self, key: FooterKey) -> tuple[int, int]:
        """The screen's (and its focused widget's) keys, then the way back, then the app's;
        each in the order declared."""
        order = [k for k, _ in declared_order(self.screen)]
        position = order.index(key.key) if key.key in order else len(order)
        active = self.screen.active_bindings.get(key.key)
        if active is not None and active.node is self.app:
            return 2, position
        return (1 if key.key == "escape" else 0), position

    def on_resize(self, event: Resize) -> None:
        if self.app.size.width != self.fitted_width:
            self.refresh(recompose=True)

