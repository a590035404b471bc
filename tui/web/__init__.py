"""`station tui --web`: the kiosk app served to a browser on the same box by textual-serve.

Each browser tab that connects gets its own app process (`station tui` under Textual's web
driver) on the same store, so the unlock screen stands between the page and the data exactly
as it does in a terminal. The server listens on 127.0.0.1 only: the page is plain HTTP and
carries every keystroke, passphrase included, so it must never leave the box.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

HOST = "127.0.0.1"
PAGE = Path(__file__).parent  # app_index.html: no fonts or scripts from the internet


def app_command(home: Path, lang: str, idle_lock: int) -> str:
    """The shell command textual-serve runs for each browser that connects."""
    return shlex.join([sys.executable, "-m", "tui.cli", "--home", str(home.resolve()),
                       "tui", "--lang", lang, "--idle-lock", str(idle_lock)])


def serve(home: Path, port: int, lang: str, idle_lock: int) -> None:
    """Serve until Ctrl+C or SIGTERM."""
    from textual_serve.server import Server

    server = Server(app_command(home, lang, idle_lock), host=HOST, port=port,
                    title="乡镇工作站 Township Station", templates_path=PAGE)
    server.serve()
