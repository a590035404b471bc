"""Report arithmetic, shared by the station and (per township) the county hub: pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sync.errors import ValidationError
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


@dataclass(frozen=True)
class Period:
    """Beijing days from `first` to `last`, both included: what a county report covers."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, CHINA_TZ)

    @property
    def end(self) -> datetime:
        """The first instant after the period (midnight in Beijing after `last`)."""
        return datetime.combine(self.last + timedelta(days=1), time.min, CHINA_TZ)

    def holds(self, at: str) -> bool:
        """Whether an ISO time (any offset) falls within the period, in Beijing time."""
        return self.start <= datetime.fromisoformat(at) < self.end

    def holds_day(self, day: str) -> bool:
        """Whether a day (YYYY-MM-DD, already a Beijing day) is one of the period's."""
        return self.first.isoformat() <= day <= self.last.isoformat()

    @property
    def name(self) -> str:
        """2026-11 for a whole month, else 2026-11-03..2026-11-09."""
        if self.first.day == 1 and self.last == _month_end(self.first):
            return f"{self.first:%Y-%m}"
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


def period_of(month: str | None = None, first: str | None = None, last: str | None = None) -> Period | None:
    """The period a county report asks for: a month (YYYY-MM), or from/to days (YYYY-MM-DD,
    both needed, inclusive); None when none is given (the figures since the start)."""
    if month:
        if first or last:
            raise ValidationError("month", "period", "月份与起止日期只能选一种",
                                  "give a month or from/to days, not both")
        try:
            day = datetime.strptime(month, "%Y-%m").date()
        except ValueError:
            raise ValidationError("month", "month", "月份应为 YYYY-MM，例如 2026-11",
                                  "a month is YYYY-MM, e.g. 2026-11") from None
        return Period(day, _month_end(day))
    if not first and not last:
        return None
    days = []
    for name, value in (("from", first), ("to", last)):
        if not value:
            raise ValidationError(name, "period", "起止日期都要填写", "give both from and to days")
        try:
            days.append(date.fromisoformat(value))
        except ValueError:
            raise ValidationError(name, "date", "日期应为 YYYY-MM-DD，例如 2026-11-03",
                                  "a day is YYYY-MM-DD, e.g. 2026-11-03") from None
    if days[1] < days[0]:
        raise ValidationError("to", "period", "结束日期不能早于开始日期", "the to day is before the from day")
    return Period(days[0], days[1])


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)
