"""The fleet: which stations need county IT's attention, and in what order.

Pure functions of a station's row (what `Tx.stations` reads, with `lag`) and the current
time, so the rules are tested directly and the page, the export and any later alert read the
same ones. What stands out, most pressing first (`ALARMS`):

* **silent**: nothing heard for more than a day (since its enrollment, if it never synced):
  a box switched off, a link down, a daemon dead;
* **stale backup**: its replica never received anything (or no backup is set up), or it
  lacks transactions and the newest it holds is more than a day old;
* **clock off**: its signed requests arrive more than a minute off the hub's clock (at five
  minutes the hub refuses them, and its changes' clocks mislead every merge);
* **refused changes**: changes the hub refused wait on the station for a clerk.

The list is sorted by those (a station with the first is ahead of every one without it, and
so on), then by how long it has been silent, how far behind its pull is and how much waits
in its outbox; revoked stations last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sync.human_time import DAY, MINUTE, duration

SILENT_S = DAY  # heard from longer ago than this: silent
BACKUP_STALE_S = DAY  # a replica lacking writes, whose newest is older than this: stale
CLOCK_OFF_MS = MINUTE * 1000  # further than this from the hub's clock: off
IN_STEP_MS = 1000  # closer than this is shown as in step (a request's travel is in it too)


@dataclass(frozen=True)
class Alarm:
    """Something about a station that wants county IT; `key` is its CSS class on the page."""

    key: str
    zh: str
    en: str


SILENT = Alarm("silent", "失联", "silent")
STALE_BACKUP = Alarm("stale-backup", "备份过期", "backup stale")
CLOCK_OFF = Alarm("clock-off", "时钟不准", "clock off")
REFUSED = Alarm("refused", "有被拒变更", "changes refused")
ALARMS = (SILENT, STALE_BACKUP, CLOCK_OFF, REFUSED)  # most pressing first


def _ms(iso: str | None) -> int | None:
    return None if not iso else int(datetime.fromisoformat(iso).timestamp() * 1000)


def silent_for_ms(row: Mapping[str, Any], now_ms: int) -> int:
    """How long nothing has been heard of the station: since its last call, or since its
    enrollment if it never called."""
    since = _ms(row.get("last_seen")) or _ms(row.get("enrolled_at")) or now_ms
    return max(0, now_ms - since)


def backup_state(row: Mapping[str, Any], now_ms: int) -> str:
    """'unknown' (never told: a release before backup reports), 'never' (its replica holds
    nothing, or no backup is set up), 'stale' or 'ok'."""
    at, behind = row.get("backup_ms"), row.get("backup_behind")
    if at is None:
        return "unknown"
    if int(at) == 0:
        return "never"
    # A replica that holds every transaction is current however old its newest one is: a
    # quiet station wrote nothing since.
    if (behind is None or int(behind) > 0) and now_ms - int(at) > BACKUP_STALE_S * 1000:
        return "stale"
    return "ok"


def alarms(row: Mapping[str, Any], now_ms: int) -> tuple[Alarm, ...]:
    """What stands out about one station, most pressing first; nothing for a revoked one."""
    if row.get("revoked_at"):
        return ()
    found = []
    if silent_for_ms(row, now_ms) > SILENT_S * 1000:
        found.append(SILENT)
    if backup_state(row, now_ms) in ("never", "stale"):
        found.append(STALE_BACKUP)
    offset = row.get("clock_offset_ms")
    if offset is not None and abs(int(offset)) > CLOCK_OFF_MS:
        found.append(CLOCK_OFF)
    if int(row.get("rejected") or 0) > 0:
        found.append(REFUSED)
    return tuple(found)


def _order(row: Mapping[str, Any], now_ms: int) -> tuple[Any, ...]:
    found = alarms(row, now_ms)
    return (bool(row.get("revoked_at")), tuple(a not in found for a in ALARMS),
            -silent_for_ms(row, now_ms), -int(row.get("lag") or 0), -int(row.get("pending") or 0),
            row.get("name") or row["id"], row["id"])


def ranked(rows: Iterable[Mapping[str, Any]], now_ms: int) -> list[Mapping[str, Any]]:
    """The stations, what needs attention first (see the module notes)."""
    return sorted(rows, key=lambda row: _order(row, now_ms))


def clock_words(offset_ms: int | None) -> tuple[str, str]:
    """A station's clock as the hub saw it: 快 3 秒 / 3 s fast, 慢 2 分钟 / 2 min slow,
    准 / in step; — when never measured."""
    if offset_ms is None:
        return "—", ""
    if abs(offset_ms) < IN_STEP_MS:
        return "准", "in step"
    span = offset_ms / 1000
    if offset_ms > 0:
        return f"快 {duration(span)}", f"{duration(span, 'en')} fast"
    return f"慢 {duration(span)}", f"{duration(span, 'en')} slow"


def backup_time(row: Mapping[str, Any]) -> datetime | None:
    """When the station's replica last received a transaction (None: never, or not told)."""
    at = row.get("backup_ms")
    return datetime.fromtimestamp(int(at) / 1000, UTC) if at else None
