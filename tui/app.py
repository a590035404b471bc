"""The kiosk app: unlock, then the station's screens; Chinese first, keyboard first.

The store is opened locked; every screen reads it through the app. The app locks itself
after `idle_lock` seconds without a key or a click (and at once on Ctrl+L): the data key is
forgotten and the unlock screen comes back.
"""

from __future__ import annotations

import time
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.events import Key, MouseDown
from textual.reactive import reactive

from station.store import Store
from tui.footer import KeyFooter
from tui.help import HelpScreen
from tui.home import HomeScreen
from tui.i18n import key_name, text
from tui.unlock import UnlockScreen

IDLE_LOCK_SECONDS = 300


class StationApp(App[None]):
    CSS_PATH = "station.tcss"
    ENABLE_COMMAND_PALETTE = False  # every action has a key; the footer has no room for it
    TITLE = "乡镇工作站 Township Station"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "帮助"),
        Binding("f2", "language", "English"),
        Binding("ctrl+l", "lock", "锁定"),
        Binding("ctrl+q", "quit", "退出", priority=True),
    ]
    lang: reactive[str] = reactive("zh")

    def __init__(self, store: Store, idle_lock: float = IDLE_LOCK_SECONDS, lang: str = "zh",
                 hint: str | None = None) -> None:
        """`hint`: a line under the unlock form (the demo shows its passphrase there)."""
        super().__init__()
        self.store = store
        self.hint = hint
        self.idle_lock = idle_lock
        self.last_input = time.monotonic()
        self.set_reactive(StationApp.lang, lang)

    def on_mount(self) -> None:
        self.sub_title = self.store.status()["name"]
        self.push_screen(UnlockScreen())
        self.set_interval(1, self._check_idle)

    # -- locking
    def unlocked(self) -> None:
        self.last_input = time.monotonic()
        self.switch_screen(HomeScreen())

    def action_lock(self, reason: str | None = None) -> None:
        if not self.store.unlocked:
            return
        self.store.lock()
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(UnlockScreen())
        if reason:
            self.notify(reason)

    def _check_idle(self) -> None:
        if self.store.unlocked and time.monotonic() - self.last_input > self.idle_lock:
            self.action_lock(text("locked.idle", self.lang))

    def on_key(self, event: Key) -> None:
        self.last_input = time.monotonic()

    def on_mouse_down(self, event: MouseDown) -> None:
        self.last_input = time.monotonic()

    # -- language and help
    def action_language(self) -> None:
        self.lang = "en" if self.lang == "zh" else "zh"

    def watch_lang(self, lang: str) -> None:
        for screen in self.screen_stack:
            if not screen.is_mounted:
                continue
            relabel = getattr(screen, "relabel", None)
            if relabel is not None:
                relabel(lang)
            for footer in screen.query(KeyFooter):
                footer.refresh(recompose=True)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        keys = {(active.binding.key_display or active.binding.key,
                 key_name(active.binding.description, self.lang))
                for active in self.screen.active_bindings.values() if active.binding.description}
        self.push_screen(HelpScreen(sorted(keys)))
