"""Report arithmetic, shared by the station and (per township) the county hub: pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sync.validate import CHINA_TZ

if TYPE_CHECKING:
    from sync.workflow import CaseState


def closure_rate(closed: int, reported: int) -> float:
    """Closed as a percentage of reported, to one decimal, as county reports print it."""
    return round(100.0 * closed / reported, 1) if reported else 0.0


def case_summary(by_step: Mapping[str | None, int], closing_steps: set[str],
                 by_department: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Reported, closed and the closure rate of one kind of case, from counts per step."""
    reported = sum(by_step.values())
    closed = sum(n for step, n in by_step.items() if step in closing_steps)
    summary: dict[str, Any] = {
        "reported": reported,
        "closed": closed,
        "open": reported - closed,
        "closure_rate": closure_rate(closed, reported),
        "by_step": {str(step): n for step, n in sorted(by_step.items(), key=lambda kv: str(kv[0]))},
    }
    if by_department is not None:
        summary["by_department"] = dict(sorted(by_department.items()))
    return summary


def closure_over_time(states: Iterable[CaseState], closing_steps: set[str],
                      days: Sequence[date]) -> list[tuple[date, int, int]]:
    """For each day: cases reported by its end, and of those closed by its end (Beijing time;
    a case's `at` times are what its steps' authors gave)."""
    started, closed = [], []
    for state in states:
        if state.started_at is None:
            continue
        started.append(_day(state.started_at))
        ends = [_day(at) for step, at in state.reached.items() if step in closing_steps]
        closed.append(min(ends) if ends else None)
    return [(day, sum(1 for d in started if d <= day), sum(1 for d in closed if d is not None and d <= day))
            for day in days]


def _day(at: str) -> date:
    return datetime.fromisoformat(at).astimezone(CHINA_TZ).date()
