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
        self.composed_for: tuple[object, ...] | None = None

    def shown_for(self) -> tuple[object, ...]:
        """What the footer shows depends on: the language, the width, the keys it may show
        (a focused field's hidden keys come and go as the focus moves: not these)."""
        # A set: compose orders the keys itself, so an order of Textual's alone is no change.
        active = self.screen.active_bindings
        return (getattr(self.app, "lang", "zh"), self.app.size.width,
                frozenset((key, a.binding.description, a.enabled)
                          for key, a in active.items() if a.binding.show))

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Textual recomposes the footer whenever the focus moves (dozens of times as a
        screen opens: a fifth of opening a list at 80x24, more on a slow board); only a
        change of what it shows is worth a recompose."""
        if not (self.is_attached and screen is self.screen and screen.app.app_focus):
            return super().bindings_changed(screen)  # Textual's own rule: no recompose
        shown = self.shown_for()
        if self.composed_for == shown:  # nothing new to show, or a recompose already asked
            self._bindings_ready = True
            return
        self.composed_for = shown
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        lang = getattr(self.app, "lang", "zh")
        keys = [w for w in super().compose() if isinstance(w, FooterKey)]
        if not keys:
            return
        self.composed_for = self.shown_for()
        for key in keys:
            key.description = key_name(key.description, lang)
            # Set before mounting: each key's compact watcher would otherwise add the class
            # once mounted and restyle itself (a tenth of opening a list, a key at a time).
            key.set_class(self.compact, "-compact", update=False)
        order = [k for k, _ in declared_order(self.screen)]
        ordered = sorted(keys, key=lambda key: self._rank(key, order))
        self.fitted_width = self.app.size.width
        shown = {i.key for i in fit_footer([FooterItem(k.key, f"{k.key_display} {k.description}")
                                            for k in ordered], self.fitted_width)}
        yield from (k for k in ordered if k.key in shown)

    def _rank(self, key: FooterKey, order: list[str]) -> tuple[int, int]:
        """The screen's (and its focused widget's) keys, then the way back, then the app's;
        each in the order declared."""
        position = order.index(key.key) if key.key in order else len(order)
        active = self.screen.active_bindings.get(key.key)
        if active is not None and active.node is self.app:
            return 2, position
        return (1 if key.key == "escape" else 0), position

    def on_resize(self, event: Resize) -> None:
        if self.app.size.width != self.fitted_width:
            self.refresh(recompose=True)

