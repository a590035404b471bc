"""The unlock screen: choose the clerk, type the passphrase. The key derivation takes most of
a second on purpose, so it runs in a worker and the screen stays responsive; the worker says
how it went with a message, and `Unlocked` goes on up to the app.

With the passphrase a clerk may also choose a shift PIN (station/shift_pin.py). While that
PIN is live the screen asks for it instead, after each idle lock; Ctrl+P goes back to the
passphrase, and so does the screen by itself once the PIN is void (shift over, wrong tries)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Select

from station.shift_pin import check_pin
from station.store import Store
from sync.errors import TownshipError
from tui.i18n import text
from tui.messages import Indexing, Unlocked, UnlockFailed
from tui.widgets.footer import KeyFooter
from tui.widgets.plain import PlainLabel

if TYPE_CHECKING:
    from tui.app import StationApp


class UnlockScreen(Screen[None]):
    app: StationApp
    # No description: the footer stays as it is; the screen's own line names the key.
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+p", "use_passphrase", show=False)]

    def __init__(self, store: Store, hint: str | None = None, error: str | None = None) -> None:
        """`hint`: a line under the form (the demo shows its passphrase there); `error`: why
        the kiosk was locked, kept on the screen (a revocation), not a passing notice."""
        super().__init__()
        self.store = store
        self.hint = hint
        self.error = error
        # Whose live shift PIN this screen asks for; None: the passphrase form.
        self.pin_clerk = store.pin_clerk()

    def compose(self) -> ComposeResult:
        lang = self.app.lang
        with Vertical(id="unlock-box"):
            yield PlainLabel(f"{self.store.status()['name']} · {text('unlock.title', lang)}",
                             classes="title", id="unlock-title")
            if self.store.wiped:  # no clerk's slot is left: nothing to type
                yield PlainLabel(self.error or text("unlock.wiped", lang), id="unlock-error",
                                 classes="reason")
            else:
                yield from self._form(lang)
        yield KeyFooter()

    def _form(self, lang: str) -> ComposeResult:
        """The passphrase (or shift PIN) form, its error line and its button."""
        if self.pin_clerk is not None:
            yield PlainLabel(text("pin.label", lang, clerk=self.pin_clerk), id="pin-label")
            yield Input(password=True, id="pin", max_length=8)
        else:
            clerks = [c["clerk"] for c in self.store.clerks()]
            yield PlainLabel(text("unlock.clerk", lang), id="clerk-label")
            yield Select([(c, c) for c in clerks], value=clerks[0], allow_blank=False,
                         id="clerk")
            yield PlainLabel(text("unlock.passphrase", lang), id="passphrase-label")
            yield Input(password=True, id="passphrase")
            yield PlainLabel(text("pin.new", lang), id="new-pin-label")
            yield Input(password=True, id="new-pin", max_length=8)
        yield PlainLabel(self.error or "", id="unlock-error", classes="reason" if self.error else "")
        yield Button(text("unlock.button", lang), variant="primary", id="unlock")
        if self.pin_clerk is not None:
            yield PlainLabel(text("pin.use_passphrase", lang), id="pin-hint")
        if self.hint:
            yield PlainLabel(self.hint, id="unlock-hint")

    def on_mount(self) -> None:
        self.focus_first()

    def focus_first(self) -> None:
        if self.store.wiped:
            return
        self.query_one("#pin" if self.pin_clerk is not None else "#passphrase", Input).focus()

    def relabel(self, lang: str) -> None:
        self.query_one("#unlock-title", Label).update(
            f"{self.store.status()['name']} · {text('unlock.title', lang)}")
        if self.pin_clerk is not None:
            self.query_one("#pin-label", Label).update(
                text("pin.label", lang, clerk=self.pin_clerk))
            self.query_one("#pin-hint", Label).update(text("pin.use_passphrase", lang))
        else:
            self.query_one("#clerk-label", Label).update(text("unlock.clerk", lang))
            self.query_one("#passphrase-label", Label).update(text("unlock.passphrase", lang))
            self.query_one("#new-pin-label", Label).update(text("pin.new", lang))
        self.query_one("#unlock", Button).label = text("unlock.button", lang)

    async def action_use_passphrase(self, reason: str = "") -> None:
        """Back to the passphrase form (the PIN stays live until a passphrase unlock)."""
        if self.pin_clerk is None:
            return
        self.pin_clerk = None
        await self.recompose()
        self.show_error(reason)
        self.focus_first()

    def show_error(self, message: str) -> None:
        self.query_one("#unlock-error", Label).update(message)

    @on(Input.Submitted, "#passphrase, #new-pin, #pin")
    @on(Button.Pressed, "#unlock")
    def submit(self) -> None:
        lang = self.app.lang
        if self.pin_clerk is not None:
            pin = self.query_one("#pin", Input).value
            if not pin:
                self.show_error(text("pin.empty", lang))
                return
            self.show_error(text("pin.working", lang))
            self.query_one("#unlock", Button).disabled = True
            self.unlock_with_pin(pin, lang)
            return
        passphrase = self.query_one("#passphrase", Input).value
        if not passphrase:
            self.show_error(text("unlock.empty", lang))
            return
        new_pin = self.query_one("#new-pin", Input).value
        if new_pin:
            try:  # refused before the costly passphrase check, and nothing is unlocked
                check_pin(new_pin)
            except TownshipError as exc:
                self.show_error(exc.message(lang))
                return
        clerk = self.query_one("#clerk", Select).value
        self.show_error(text("unlock.working", lang))
        self.query_one("#unlock", Button).disabled = True
        self.unlock(passphrase, str(clerk), new_pin, lang)

    @work(thread=True, exclusive=True)
    def unlock(self, passphrase: str, clerk: str, new_pin: str, lang: str) -> None:
        try:
            self.store.unlock(passphrase, clerk, on_index=self.indexing)
            if new_pin:
                self.store.set_pin(new_pin)
        except TownshipError as exc:
            self.post_message(UnlockFailed(exc.message(lang)))
            return
        self.post_message(Unlocked())

    @work(thread=True, exclusive=True)
    def unlock_with_pin(self, pin: str, lang: str) -> None:
        try:
            self.store.unlock_with_pin(pin)
        except TownshipError as exc:
            self.post_message(UnlockFailed(exc.message(lang)))
            return
        self.post_message(Unlocked())

    def indexing(self, done: int, total: int) -> None:
        """From the unlock worker: how far the search index is built (first unlock only)."""
        self.post_message(Indexing(done, total))

    def on_indexing(self, event: Indexing) -> None:
        event.stop()
        self.show_error(text("unlock.indexing", self.app.lang, done=f"{event.done:,}",
                             total=f"{event.total:,}"))

    async def on_unlock_failed(self, event: UnlockFailed) -> None:
        event.stop()
        if self.pin_clerk is not None and self.store.pin_clerk() is None:
            await self.action_use_passphrase(event.reason)  # the PIN is void now
            return
        self.show_error(event.reason)
        self.query_one("#unlock", Button).disabled = False
        for field in self.query(Input):
            field.value = ""
        self.focus_first()
