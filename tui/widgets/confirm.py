"""The confirm dialog: a question, yes or no."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button

from tui.i18n import text
from tui.widgets.plain import PlainLabel


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no, keyboard first: Y / N (or Enter on the focused button, Esc for no);
    dismisses with the answer."""

    BINDINGS: ClassVar[list[BindingType]] = [("y", "answer(True)", "是"),
                                             ("n,escape", "answer(False)", "否")]

    def __init__(self, question: str, lang: str) -> None:
        super().__init__()
        self.question = question
        self.lang = lang

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield PlainLabel(self.question)
            with Horizontal():
                yield Button(f"{text('yes', self.lang)} (Y)", variant="error", id="yes")
                yield Button(f"{text('no', self.lang)} (N)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
