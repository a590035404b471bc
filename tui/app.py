"""The kiosk app: unlock, then the station's screens; Chinese first, keyboard first.

`make_app` builds it, for `station tui`, the demo and the tests alike. The store is opened
locked and handed to each screen through its constructor (attributes down); the screens tell
the app what happened with the messages of tui/messages.py (messages up). The app locks itself
after `idle_lock` seconds without a key or a click (and at once on Ctrl+L): the data key is
forgotten and the unlock screen comes back. Idle time is read from the `monotonic` clock it is
given, so a test can move it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.events import Key, MouseDown
from textual.reactive import reactive
from textual.screen import Screen

from station.store import Store
from sync.errors import TownshipError
from tui.i18n import TEXTUAL_KEYS, key_name, text
from tui.keys import KeyHelp, key_display
from tui.messages import Unlocked
from tui.screens.help import HelpScreen
from tui.screens.home import HomeScreen
from tui.screens.unlock import UnlockScreen
from tui.widgets.footer import KeyFooter, declared_order

IDLE_LOCK_SECONDS = 300
# How often the idle time is compared with `idle_lock`: the lock comes at most this late.
IDLE_CHECK_SECONDS = 1


class StationApp(App[None]):
    CSS_PATH = "station.tcss"
    # Every action has a key, and the palette's search box and commands are Textual's English.
    ENABLE_COMMAND_PALETTE = False
    # In the footer's order, after the screen's keys: the one with least room drops the last.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "帮助"),
        Binding("ctrl+l", "lock", "锁定"),
        Binding("f2", "language", "English"),
        Binding("ctrl+q", "quit", "退出", priority=True),
    ]
    lang: reactive[str] = reactive("zh")

    def __init__(self, store: Store, *, monotonic: Callable[[], float], idle_lock: float,
                 lang: str, hint: str | None) -> None:
        super().__init__()
        self.store = store
        self.hint = hint
        self.idle_lock = idle_lock
        self.kept_screens: set[str] = set()
        self.monotonic = monotonic
        self.last_input = monotonic()
        # The revocation this shift already knew of (Store.revoked_at): a new one locks the kiosk.
        self.revocation_known = store.revoked_at
        self.set_reactive(StationApp.lang, lang)
        self.title = text("app.title", lang)

    def on_mount(self) -> None:
        self.sub_title = self.store.status()["name"]
        self.push_screen(self.unlock_screen())
        self.set_interval(IDLE_CHECK_SECONDS, self.lock_if_idle)

    def unlock_screen(self) -> UnlockScreen:
        return UnlockScreen(self.store, hint=self.hint)

    # -- locking
    def on_unlocked(self, event: Unlocked) -> None:
        self.last_input = self.monotonic()
        self.revocation_known = self.store.revoked_at
        self.switch_screen(HomeScreen(self.store))
        if self.store.rekey_state() is not None:
            self.go_on_with_rekey()

    @work(thread=True, exclusive=True, group="rekey")
    def go_on_with_rekey(self) -> None:
        """A change of data key cut off earlier goes on in the background while the store is
        open, a few hundred rows a step; the lock stops it and the next unlock resumes it."""
        with suppress(TownshipError):
            self.store.continue_rekey(until=lambda: not self.store.unlocked)

    def kept(self, name: str, make: Callable[[], Screen[Any]]) -> Screen[Any]:
        """A screen kept between visits until the lock (installed), made on first use."""
        if not self.is_screen_installed(name):
            self.install_screen(make(), name)
        self.kept_screens.add(name)
        return self.get_screen(name)

    def prepare(self, name: str, make: Callable[[], Screen[Any]]) -> None:
        """Make and mount a kept screen before it is asked for, without showing it."""
        screen = self.kept(name, make)
        if not screen.is_running:
            # Textual's own step of push_screen that mounts a screen (compose, on_mount,
            # styles), without putting it on the stack: there is no public call for it.
            self._get_screen(screen)

    def action_lock(self, reason: str | None = None) -> None:
        if not self.store.unlocked:
            return
        self.store.lock()
        self._behind_the_lock(self.unlock_screen())
        if reason:
            self.notify(reason)

    def lock_revoked(self, reason: str) -> None:
        """The county revoked the station: the sync worker locked the store (or destroyed its
        keyslots). Back to the unlock screen, which keeps saying why."""
        self.store.lock()
        self._behind_the_lock(UnlockScreen(self.store, hint=self.hint, error=reason))

    def _behind_the_lock(self, unlock: UnlockScreen) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(unlock)
        for name in self.kept_screens:  # nothing of the shift stays behind the lock
            self.uninstall_screen(name)
        self.kept_screens.clear()

    def lock_if_idle(self) -> None:
        """Lock when the last key or click is more than `idle_lock` seconds ago. Not while the
        unlock screen is up: its worker may have just opened the store, with the last key of
        the shift long ago, and the `Unlocked` it sent (which restarts the idle time) must not
        find the screen locked again under it (it did, on a slow board)."""
        if not self.is_running or not self.screen_stack or isinstance(self.screen, UnlockScreen):
            return  # (a timer may fire while the app is closing and its screens are gone)
        if not self.store.unlocked:
            # Locked from under the screens: a revocation heard by this process's sync, or
            # another process changed the data key and this one's next save found it out
            # (Store._check_generation). Say which at the unlock.
            revoked = self.store.revoked_at != self.revocation_known
            self.revocation_known = self.store.revoked_at
            self._behind_the_lock(UnlockScreen(self.store, hint=self.hint, error=text(
                "locked.revoked" if revoked else "locked.rekeyed", self.lang)))
            return
        if self.store.unlocked and self.store.revoked_at != self.revocation_known:
            # The sync daemon heard it from the hub: locked once, with the reason on screen. A
            # clerk who unlocks again after it (to hand the data over) is not thrown out.
            self.revocation_known = self.store.revoked_at
            self.lock_revoked(text("locked.revoked", self.lang))
            return
        if self.store.unlocked and self.monotonic() - self.last_input > self.idle_lock:
            self.action_lock(text("locked.idle", self.lang))

    def on_key(self, event: Key) -> None:
        self.last_input = self.monotonic()

    def on_mouse_down(self, event: MouseDown) -> None:
        self.last_input = self.monotonic()

    # -- language and help
    def action_language(self) -> None:
        self.lang = "en" if self.lang == "zh" else "zh"

    def watch_lang(self, lang: str) -> None:
        self.title = text("app.title", lang)
        for screen in self.screen_stack:
            if not screen.is_mounted:
                continue
            relabel = getattr(screen, "relabel", None)
            if relabel is not None:
                relabel(lang)
            for footer in screen.query(KeyFooter):
                footer.update_keys()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        screen = self.screen

        def source(node: DOMNode) -> str:
            return "app" if node is self else "screen" if node is screen else "widget"

        self.push_screen(HelpScreen([
            KeyHelp(key, key_name(active.binding.description, self.lang), source(active.node),
                    textual=active.binding.description in TEXTUAL_KEYS)
            for key, active in declared_order(screen)]))

    def get_key_display(self, binding: Binding) -> str:
        """Keycaps, the same in both languages (Ctrl+S, Esc, PgDn): tui/keys.py."""
        return binding.key_display or key_display(binding.key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Lock only what is unlocked: the unlock screen's footer and help leave Ctrl+L out."""
        return action != "lock" or self.store.unlocked

    def action_help_quit(self) -> None:
        """Ctrl+C where nothing is selected: Textual says how to quit, in English."""
        self.notify(text("keys.quit_how", self.lang))


def make_app(store: Store, *, monotonic: Callable[[], float] = time.monotonic,
             idle_lock: float = IDLE_LOCK_SECONDS, lang: str = "zh",
             hint: str | None = None) -> StationApp:
    """The kiosk app on an open store (locked or not: the unlock screen comes first).
    `monotonic`: the clock idle time is measured with; `hint`: a line under the unlock form
    (the demo shows its passphrase there)."""
    return StationApp(store, monotonic=monotonic, idle_lock=idle_lock, lang=lang, hint=hint)
