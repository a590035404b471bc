"""The unlock screen: choose the clerk, type the passphrase. The key derivation takes most of
a second on purpose, so it runs in a worker and the screen stays responsive; the worker says
how it went with a message, and `Unlocked` goes on up to the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Select

from station.store import Store
from sync.errors import TownshipError
from tui.i18n import text
from tui.messages import Unlocked, UnlockFailed
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import PlainLabel

if TYPE_CHECKING:
    from tui.app import StationApp


class UnlockScreen(Screen[None]):
    app: StationApp

    def __init__(self, store: Store, hint: str | None = None) -> None:
        """`hint`: a line under the form (the demo shows its passphrase there)."""
        super().__init__()
        self.store = store
        self.hint = hint

    def compose(self) -> ComposeResult:
        lang = self.app.lang
        clerks = [c["clerk"] for c in self.store.clerks()]
        with Vertical(id="unlock-box"):
            yield PlainLabel(f"{self.store.status()['name']} · {text('unlock.title', lang)}",
                             classes="title", id="unlock-title")
            yield PlainLabel(text("unlock.clerk", lang), id="clerk-label")
            yield Select([(c, c) for c in clerks], value=clerks[0], allow_blank=False, id="clerk")
            yield PlainLabel(text("unlock.passphrase", lang), id="passphrase-label")
            yield Input(password=True, id="passphrase")
            yield PlainLabel("", id="unlock-error")
            yield Button(text("unlock.button", lang), variant="primary", id="unlock")
            if self.hint:
                yield PlainLabel(self.hint, id="unlock-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#passphrase", Input).focus()

    def relabel(self, lang: str) -> None:
        self.query_one("#unlock-title", Label).update(
            f"{self.store.status()['name']} · {text('unlock.title', lang)}")
        self.query_one("#clerk-label", Label).update(text("unlock.clerk", lang))
        self.query_one("#passphrase-label", Label).update(text("unlock.passphrase", lang))
        self.query_one("#unlock", Button).label = text("unlock.button", lang)

    def show_error(self, message: str) -> None:
        self.query_one("#unlock-error", Label).update(message)

    @on(Input.Submitted, "#passphrase")
    @on(Button.Pressed, "#unlock")
    def submit(self) -> None:
        passphrase = self.query_one("#passphrase", Input).value
        if not passphrase:
            self.show_error(text("unlock.empty", self.app.lang))
            return
        clerk = self.query_one("#clerk", Select).value
        self.show_error(text("unlock.working", self.app.lang))
        self.query_one("#unlock", Button).disabled = True
        self.unlock(passphrase, str(clerk), self.app.lang)

    @work(thread=True, exclusive=True)
    def unlock(self, passphrase: str, clerk: str, lang: str) -> None:
        try:
            self.store.unlock(passphrase, clerk)
        except TownshipError as exc:
            self.post_message(UnlockFailed(exc.message(lang)))
            return
        self.post_message(Unlocked())

    def on_unlock_failed(self, event: UnlockFailed) -> None:
        event.stop()
        self.show_error(event.reason)
        self.query_one("#unlock", Button).disabled = False
        field = self.query_one("#passphrase", Input)
        field.value = ""
        field.focus()
