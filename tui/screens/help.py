"""The help screen: every key binding of the app and of the screen below it."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen

from tui.i18n import text
from tui.widgets.plain import Plain, PlainLabel

if TYPE_CHECKING:
    from tui.app import StationApp


class HelpScreen(ModalScreen[None]):
    app: StationApp
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "dismiss", "关闭"),
                                             ("f1", "dismiss", "关闭")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        lang = self.app.lang
        with Vertical(id="help-box"):
            yield PlainLabel(text("help.title", lang), classes="title")
            yield Plain("\n".join(f"{key:<10} {what}" for key, what in self.keys), id="help-keys")
            yield PlainLabel(text("help.close", lang))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss()
