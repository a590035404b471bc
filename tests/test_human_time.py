"""Times as a Beijing clerk reads them (sync/human_time.py): absolute, relative, deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sync.human_time import absolute, beijing, deadline, duration, relative

BEIJING = timezone(timedelta(hours=8))
# 2026-12-01 18:49:14 UTC is 2026-12-02 02:49 in Beijing: a different calendar day.
LATE_UTC = datetime(2026, 12, 1, 18, 49, 14, 589000, tzinfo=UTC)


def test_absolute_is_beijing_time_to_the_minute_whatever_the_stored_offset() -> None:
    assert absolute("2026-12-01T18:49:14.589+00:00") == "2026-12-02 02:49"
    assert absolute(LATE_UTC) == "2026-12-02 02:49"
    assert absolute("2026-12-01T14:05:59+08:00") == "2026-12-01 14:05"
    assert absolute("2026-12-01T14:05:00") == "2026-12-01 14:05"  # no offset: already Beijing
    assert beijing("2026-12-01T06:05:00Z").hour == 14


@pytest.mark.parametrize(("ago", "zh", "en"), [
    (timedelta(seconds=0), "刚刚", "just now"),
    (timedelta(seconds=59), "刚刚", "just now"),
    (timedelta(seconds=60), "1 分钟前", "1 min ago"),
    (timedelta(minutes=3, seconds=30), "3 分钟前", "3 min ago"),
    (timedelta(minutes=59, seconds=59), "59 分钟前", "59 min ago"),
])
def test_relative_recent_moments(ago: timedelta, zh: str, en: str) -> None:
    now = datetime(2026, 12, 1, 14, 5, tzinfo=BEIJING)
    assert relative(now - ago, now, "zh") == zh
    assert relative(now - ago, now, "en") == en


def test_yesterday_is_the_beijing_calendars_not_utcs() -> None:
    # 00:30 in Beijing on 12-02 is still 12-01 in UTC; 22:10 Beijing on 12-01 is yesterday.
    now = datetime(2026, 12, 2, 0, 30, tzinfo=BEIJING)
    before_midnight = datetime(2026, 12, 1, 14, 10, tzinfo=UTC)  # 22:10 Beijing, 12-01
    assert relative(before_midnight, now) == "昨天 22:10"
    assert relative(before_midnight, now, "en") == "yesterday 22:10"
    # 01:10 UTC on 12-01 is 09:10 Beijing on 12-01: in UTC the same day as now, not in Beijing.
    same_utc_day = datetime(2026, 12, 1, 1, 10, tzinfo=UTC)
    assert relative(same_utc_day, now.astimezone(UTC)) == "昨天 09:10"


def test_today_then_yesterday_then_a_date() -> None:
    now = datetime(2026, 12, 1, 14, 5, tzinfo=BEIJING)
    assert relative(datetime(2026, 12, 1, 8, 0, tzinfo=BEIJING), now) == "今天 08:00"
    assert relative(datetime(2026, 12, 1, 0, 0, tzinfo=BEIJING), now, "en") == "today 00:00"
    assert relative(datetime(2026, 11, 30, 0, 0, tzinfo=BEIJING), now) == "昨天 00:00"
    assert relative(datetime(2026, 11, 29, 23, 59, tzinfo=BEIJING), now) == "2026-11-29"
    assert relative("2026-11-29T15:59:00+00:00", now) == "2026-11-29"  # 23:59 Beijing


def test_a_moment_ahead_of_now_shows_its_time() -> None:
    now = datetime(2026, 12, 1, 14, 5, tzinfo=BEIJING)
    assert relative(now + timedelta(seconds=20), now) == "刚刚"  # a clock a little fast
    assert relative(now + timedelta(hours=2), now) == "2026-12-01 16:05"


@pytest.mark.parametrize(("seconds", "zh", "en"), [
    (0, "0 秒", "0 s"),
    (40, "40 秒", "40 s"),
    (59, "59 秒", "59 s"),
    (60, "1 分钟", "1 min"),
    (3 * 60 + 59, "3 分钟", "3 min"),
    (3599, "59 分钟", "59 min"),
    (3600, "1 小时", "1 h"),
    (86399, "23 小时", "23 h"),
    (86400, "1 天", "1 day"),
    (17_681_578, "204 天", "204 days"),  # the "超时 17681578 秒"
])
def test_duration_in_its_largest_whole_unit(seconds: int, zh: str, en: str) -> None:
    assert duration(seconds, "zh") == zh
    assert duration(-seconds, "en") == en


def test_a_deadline_says_left_or_over() -> None:
    assert deadline(40) == "剩余 40 秒"
    assert deadline(-180) == "超时 3 分钟"
    assert deadline(-2 * 86400 - 5) == "超时 2 天"
    assert deadline(40, "en") == "40 s left"
    assert deadline(-2 * 86400, "en") == "2 days over"
    assert deadline(-59) == "超时 59 秒" and deadline(-60) == "超时 1 分钟"


def test_a_status_line_keeps_the_hour_of_an_old_moment() -> None:
    now = datetime(2026, 12, 1, 14, 5, tzinfo=BEIJING)
    old = datetime(2026, 11, 20, 6, 30, tzinfo=UTC)  # 14:30 Beijing
    assert relative(old, now, dated=False) == "2026-11-20 14:30"
    assert relative(now - timedelta(minutes=3), now, dated=False) == "3 分钟前"
