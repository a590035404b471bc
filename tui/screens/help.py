"""The help screen: every key of the screen below it, of the app and of the focused widget
(Textual's own: a table's arrows, an input's editing keys), each described in the app's
language and shown with its keycaps; it scrolls when they are more than the box holds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen

from tui.i18n import text
from tui.keys import KeyHelp, help_line, help_sections
from tui.widgets.plain import Plain, PlainLabel

if TYPE_CHECKING:
    from tui.app import StationApp


def help_text(keys: Iterable[KeyHelp], lang: str) -> str:
    """The keys in sections (this screen, anywhere, where the cursor is), one line a key."""
    lines: list[str] = []
    for source, entries in help_sections(keys).items():
        if lines:
            lines.append("")
        lines.append(text(f"keys.{source}", lang))
        lines += [f"  {help_line(caps, what)}" for caps, what in entries]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    app: StationApp
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "dismiss", "关闭"),
                                             ("f1", "dismiss", "关闭")]

    def __init__(self, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        lang = self.app.lang
        with Vertical(id="help-box"):
            yield PlainLabel(text("help.title", lang), classes="title")
            with VerticalScroll(id="help-scroll"):  # focused: the arrows and PgDn scroll it
                yield Plain(help_text(self.keys, lang), id="help-keys")
            yield PlainLabel(text("help.close", lang), id="help-close")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss()
