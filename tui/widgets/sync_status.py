"""The station's link to the county in a few lines: hub, what waits to go up, what the hub
refused, the last sync and its error, open conflicts, the schema version. Home and the sync
screen both show it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sync.human_time import relative
from tui.i18n import text
from tui.widgets.plain import Plain


def sync_lines(status: dict[str, Any], lang: str, now: datetime) -> str:
    """The lines, times in Beijing time as a clerk says them ("3 分钟前", "昨天 14:05")."""
    sync = status["sync"]
    last = status["last_sync"]
    hub = sync["hub"] or text("home.not_enrolled", lang)
    lines = [f"{text('home.enrolled', lang)}: {hub}",
             f"{text('home.pending', lang)}: {status['pending']:,}",
             f"{text('home.rejected', lang)}: {status['rejected']:,}",
             f"{text('home.last_sync', lang)}: "
             f"{relative(last, now, lang, dated=False) if last else text('home.never', lang)}",
             f"{text('home.conflicts', lang)}: {status['conflicts']:,}",
             f"{text('home.schema', lang)}: {status['schema_version']}"]
    if status.get("files_pending"):  # shown while there are some: photos wait on a slow link
        lines.insert(2, f"{text('home.files_pending', lang)}: {status['files_pending']:,}")
    if sync.get("busy_at"):  # not an error: the daemon tries again when the hub said
        lines.append(text("sync.busy", lang))
    if sync["last_error"]:
        lines.append(f"{text('home.last_error', lang)}: {sync['last_error']}")
    return "\n".join(lines)


class SyncStatus(Plain):
    """`sync_lines` of a store status, shown as plain text."""

    def show(self, status: dict[str, Any], lang: str, now: datetime) -> None:
        self.update(sync_lines(status, lang, now))
