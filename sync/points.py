"""Volunteer points, shared by the station and the county hub: pure.

Points are never stored: the ledger is derived from the check-ins and the accepted reports,
with the amounts read from the schema's point rules. A check-in repeated on the same day, on
any station, earns nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sync.schema import PointRule


@dataclass(frozen=True)
class LedgerEntry:
    volunteer: str
    day: str  # YYYY-MM-DD
    rule: str
    points: int
    source: str  # the check-in or incident that earned it


def ledger(checkins: Iterable[tuple[str, str, str]], accepted: Iterable[tuple[str, str, str]],
           rules: Mapping[str, PointRule]) -> list[LedgerEntry]:
    """Points earned: one entry per (volunteer, day) checked in and per accepted report.

    checkins: (volunteer, day, checkin id); accepted: (volunteer, day accepted, incident id).
    Pure: the same inputs give the same ledger, whatever their order."""
    entries: dict[tuple[str, str, str], LedgerEntry] = {}
    for volunteer, day, source in sorted(checkins):
        key = (volunteer, day, "checkin")
        if key not in entries and "checkin" in rules:  # a second check-in that day earns nothing
            entries[key] = LedgerEntry(volunteer, day, "checkin", rules["checkin"].points, source)
    for volunteer, day, source in sorted(accepted):
        if "accepted_report" in rules:
            entries[(volunteer, day, source)] = LedgerEntry(
                volunteer, day, "accepted_report", rules["accepted_report"].points, source)
    return sorted(entries.values(), key=lambda e: (e.day, e.volunteer, e.rule, e.source))


def ranking(entries: Iterable[LedgerEntry], month: str) -> list[tuple[str, int]]:
    """(volunteer, points) for one month (YYYY-MM), most points first, ties by id."""
    totals: dict[str, int] = defaultdict(int)
    for e in entries:
        if e.day.startswith(month):
            totals[e.volunteer] += e.points
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
