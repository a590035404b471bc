"""The footer in the app's language (it reads the app's `lang`, as Textual's own footer reads
the app's bindings).

Bindings are declared with their Chinese description (the default the clerks read); the
footer and the help screen show `key_name(description, lang)`, so F2 relabels the keys too.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from tui.i18n import key_name


class KeyFooter(Footer):
    """Textual's compact footer, with each key's description translated on compose."""

    def __init__(self) -> None:
        super().__init__(compact=True)

    def compose(self) -> ComposeResult:
        lang = getattr(self.app, "lang", "zh")
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                widget.description = key_name(widget.description, lang)
            yield widget
