"""Keys as the clerk reads them: keycap names (Ctrl+S, Esc, PgDn), the help screen's lines
and which keys the one-line footer has room for. Pure functions of plain data: the footer
and the help screen (tui/widgets/footer.py, tui/screens/help.py) hand them what Textual's
bindings say.

Keycaps are the same in both languages, as printed on the keyboard: the modifier names
(Ctrl, Shift, Alt), Esc, Enter, Tab, Space, Backspace, Del, Ins, Home, End, PgUp, PgDn and
F1–F12, arrows as ↑ ↓ ← →, and a letter key alone as the lowercase letter it types (`b`;
"B" would read as Shift+B, which the binding does not take).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len

MODIFIERS = {"ctrl": "Ctrl", "shift": "Shift", "alt": "Alt", "meta": "Meta", "super": "Super"}
KEYCAPS = {
    "escape": "Esc", "enter": "Enter", "tab": "Tab", "space": "Space", "backspace": "Backspace",
    "delete": "Del", "insert": "Ins", "home": "Home", "end": "End", "pageup": "PgUp",
    "pagedown": "PgDn", "up": "↑", "down": "↓", "left": "←", "right": "→",
    **{f"f{n}": f"F{n}" for n in range(1, 25)},
}
# Keys that name a character by its Unicode name in Textual ("question_mark").
SYMBOLS = {"question_mark": "?", "slash": "/", "minus": "-", "plus": "+", "comma": ",",
           "full_stop": ".", "colon": ":", "semicolon": ";", "equals_sign": "=",
           "left_square_bracket": "[", "right_square_bracket": "]"}
# The words of KEYCAPS and MODIFIERS a Chinese screen may show (tests read them from here).
KEYCAP_WORDS = frozenset(w for w in (*KEYCAPS.values(), *MODIFIERS.values()) if w.isascii())
# A kiosk keyboard has no ⌘ key: Textual's macOS bindings are left out of the help.
ABSENT_MODIFIERS = ("super", "meta")
# The footer's keys never dropped: the help, which lists every key, and the way back.
PINNED_KEYS = ("f1", "escape")
HELP_KEY_COLUMN = 20  # cells: "PgDn / Ctrl+N" and "Ctrl+Shift+←" with room to spare


def key_display(key: str) -> str:
    """A Textual key ("ctrl+s", "escape", "pagedown", "b") as its keycap ("Ctrl+S", "Esc",
    "PgDn", "b")."""
    *modifiers, name = key.split("+") if key != "+" else ["+"]
    cap = KEYCAPS.get(name) or SYMBOLS.get(name) or name
    if modifiers and len(cap) == 1:
        cap = cap.upper()  # Ctrl+S, as printed in manuals and on the form's hint
    return "+".join([*(MODIFIERS.get(m, m.title()) for m in modifiers), cap])


@dataclass(frozen=True)
class KeyHelp:
    """One binding as the help shows it: its key, what it does (in the app's language) and
    where it comes from: the screen, the app (any screen) or the focused widget."""

    key: str
    description: str
    source: str  # "screen", "app" or "widget"
    textual: bool = False  # one of Textual's own (Tab, a table's arrows): after the app's


SOURCES = ("screen", "app", "widget")


def help_sections(keys: Iterable[KeyHelp]) -> dict[str, list[tuple[str, str]]]:
    """(keycaps, description) per source in SOURCES order, the app's own keys before Textual's,
    each in the order given; the keys of one source that do the same thing share a line
    ("PgDn / Ctrl+N  下一页"); keys no kiosk keyboard has are left out."""
    merged: dict[str, dict[str, list[str]]] = {source: {} for source in SOURCES}
    for k in sorted(keys, key=lambda k: k.textual):
        if not k.description or k.key.split("+")[0] in ABSENT_MODIFIERS:
            continue
        caps = merged[k.source].setdefault(k.description, [])
        if key_display(k.key) not in caps:
            caps.append(key_display(k.key))
    return {source: [(" / ".join(caps), what) for what, caps in merged[source].items()]
            for source in SOURCES if merged[source]}


def help_line(caps: str, description: str) -> str:
    """One line of the help: the keycaps padded to a column, then what they do."""
    return f"{caps}{' ' * max(1, HELP_KEY_COLUMN - cell_len(caps))}{description}"


@dataclass(frozen=True)
class FooterItem:
    key: str
    label: str  # keycaps and description, as the footer shows them: "Ctrl+S 保存"


def footer_width(label: str) -> int:
    """Cells a key takes in Textual's compact footer: its label and one cell of margin."""
    return cell_len(label) + 1


def fit_footer(items: Sequence[FooterItem], width: int) -> list[FooterItem]:
    """The items that fit in `width` cells, in their order (most important first): the
    pinned keys always, then as many of the others, from the first, as leave them room.
    A key is shown whole or not at all; the help screen lists the ones left out."""
    used = sum(footer_width(i.label) for i in items if i.key in PINNED_KEYS)
    full = False
    kept: list[FooterItem] = []
    for item in items:
        if item.key not in PINNED_KEYS:
            full = full or used + footer_width(item.label) > width
            if full:
                continue  # and every one after it: a later key is a less important one
            used += footer_width(item.label)
        kept.append(item)
    return kept
