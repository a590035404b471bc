"""The footer in the app's language, on one line that is never cut (it reads the app's `lang`,
as Textual's own footer reads the app's bindings).

Bindings are declared with their Chinese description (the default the clerks read); the
footer and the help screen show `key_name(description, lang)`, so F2 relabels the keys too.
Keys come in order of importance: the screen's own, Esc (back), then the app's (F1 help
first). Textual's footer would cut the line at the screen's edge ("f2 Eng"); this one leaves
out whole keys from the least important end instead (`fit_footer`), never F1 or Esc: F1
lists every key.

One widget drawing one line, not Textual's footer of a widget per key: that one is mounted
anew each time the keys change (the focus entering or leaving the search box), and each
new key widget, once sized, asked for another layout of the whole screen: seven layouts
and two mounts in one search, a third of its time. This one repaints its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import ActiveBinding, BindingsMap
from textual.screen import Screen
from textual.widget import Widget

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


@dataclass(frozen=True)
class ShownKey:
    key: str
    display: str  # the keycap: "Ctrl+S"
    description: str  # in the app's language: "保存"
    enabled: bool

    @property
    def label(self) -> str:
        return f"{self.display} {self.description}"


class KeyFooter(Widget, can_focus=False):
    """The keys of the screen (and its focused widget), translated, ordered and fitted."""

    ALLOW_SELECT = False
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        width: 1fr;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyFooter > .key-footer--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyFooter > .key-footer--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeyFooter > .key-footer--disabled {
        text-style: dim;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "key-footer--key", "key-footer--description", "key-footer--disabled"}

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[ShownKey] = []
        self.shown_for_: tuple[object, ...] | None = None
        self.spans: list[tuple[int, int, ShownKey]] = []  # cells [start, end) of each key

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.update_keys()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def shown_for(self) -> tuple[object, ...]:
        """What the footer shows depends on: the language, the width, the keys it may show."""
        # A set: the footer orders the keys itself, so an order of Textual's alone is no change.
        active = self.screen.active_bindings
        return (getattr(self.app, "lang", "zh"), self.app.size.width,
                frozenset((key, a.binding.description, a.enabled)
                          for key, a in active.items() if a.binding.show))

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen:
            self.update_keys()

    def on_resize(self, event: events.Resize) -> None:
        self.update_keys()

    def update_keys(self, force: bool = False) -> None:
        """The keys again, when what they depend on changed: a repaint of one line (its
        size is the screen's width and one row, whatever it says), never a layout."""
        shown = self.shown_for()
        if shown == self.shown_for_ and not force:
            return
        self.shown_for_ = shown
        self.keys = self.fitted()
        self.refresh()

    def fitted(self) -> list[ShownKey]:
        lang = getattr(self.app, "lang", "zh")
        order = [k for k, _ in declared_order(self.screen)]
        keys: list[ShownKey] = []
        actions: set[str] = set()
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            # One key per action, as Textual's footer: "pagedown,ctrl+n" shows PgDn alone.
            if not binding.show or binding.action in actions:
                continue
            actions.add(binding.action)
            keys.append(ShownKey(key, self.app.get_key_display(binding),
                                 key_name(binding.description, lang), active.enabled))
        keys.sort(key=lambda k: self._rank(k.key, order))
        width = self.app.size.width
        kept = {i.key for i in fit_footer([FooterItem(k.key, k.label) for k in keys], width)}
        return [k for k in keys if k.key in kept]

    def _rank(self, key: str, order: list[str]) -> tuple[int, int]:
        """The screen's (and its focused widget's) keys, then the way back, then the app's;
        each in the order declared."""
        position = order.index(key) if key in order else len(order)
        active = self.screen.active_bindings.get(key)
        if active is not None and active.node is self.app:
            return 2, position
        return (1 if key == "escape" else 0), position

    def shown_keys(self) -> list[str]:
        """The keys as the footer shows them ("Ctrl+S 保存"), in order: what tests read."""
        return [k.label for k in self.keys]

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-footer--key")
        description_style = self.get_component_rich_style("key-footer--description")
        dim = self.get_component_rich_style("key-footer--disabled")
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, ShownKey]] = []
        for k in self.keys:
            start = line.cell_len
            line.append(k.display, key_style + dim if not k.enabled else key_style)
            line.append(f" {k.description}",
                        description_style + dim if not k.enabled else description_style)
            spans.append((start, start + cell_len(k.label), k))
            line.append(" ")  # the compact footer's one cell between keys (tui.keys.footer_width)
        self.spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        """A key touched or clicked does what the key does, as on Textual's footer."""
        for start, end, k in self.spans:
            if start <= event.x < end:
                if k.enabled:
                    self.app.simulate_key(k.key)
                else:
                    self.app.bell()
                return
