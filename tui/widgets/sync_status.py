"""The station's link to the county in a few lines: hub, what waits to go up, what the hub
refused, the last sync and its error, open conflicts, the schema version. Home and the sync
screen both show it."""

from __future__ import annotations

from typing import Any

from tui.i18n import text
from tui.widgets.plain import Plain


def sync_lines(status: dict[str, Any], lang: str) -> str:
    sync = status["sync"]
    hub = sync["hub"] or text("home.not_enrolled", lang)
    lines = [f"{text('home.enrolled', lang)}: {hub}",
             f"{text('home.pending', lang)}: {status['pending']}",
             f"{text('home.rejected', lang)}: {status['rejected']}",
             f"{text('home.last_sync', lang)}: {status['last_sync'] or text('home.never', lang)}",
             f"{text('home.conflicts', lang)}: {status['conflicts']}",
             f"{text('home.schema', lang)}: {status['schema_version']}"]
    if status.get("files_pending"):  # shown while there are some: photos wait on a slow link
        lines.insert(2, f"{text('home.files_pending', lang)}: {status['files_pending']}")
    if sync["last_error"]:
        lines.append(f"{text('home.last_error', lang)}: {sync['last_error']}")
    return "\n".join(lines)


class SyncStatus(Plain):
    """`sync_lines` of a store status, shown as plain text."""

    def show(self, status: dict[str, Any], lang: str) -> None:
        self.update(sync_lines(status, lang))
