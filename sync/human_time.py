"""Times as a clerk at a Beijing counter reads them, in Chinese and English.

Pure functions of their arguments (the current time is one of them). Every time the app or a
CLI message shows a person is Beijing time (UTC+8), whatever offset it was stored with: an ISO
8601 string from the hub ("…+00:00"), an event's "…+08:00", or an aware datetime. JSON output
does not come here: it keeps ISO 8601 with its offset.

- `absolute`: 2026-12-01 14:05, the same in both languages.
- `relative`: how a clerk thinks of a recent moment: 刚刚, 3 分钟前, 今天 14:05, 昨天 14:05,
  then the date alone (2026-11-28). "Yesterday" is the Beijing calendar's, not UTC's.
- `duration` and `deadline`: an interval in one human unit, never seconds past a minute:
  剩余 40 秒, 超时 3 分钟, 超时 2 天.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sync.validate import CHINA_TZ

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# (seconds in the unit, Chinese, English singular, English plural), largest first.
_UNITS = (
    (DAY, "天", "day", "days"),
    (HOUR, "小时", "h", "h"),
    (MINUTE, "分钟", "min", "min"),
    (1, "秒", "s", "s"),
)


def beijing(moment: datetime | str) -> datetime:
    """`moment` in Beijing time; an ISO string is parsed, and a time with no offset is taken
    to be Beijing time already (what a clerk typed into a form)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=CHINA_TZ)
    return moment.astimezone(CHINA_TZ)


def absolute(moment: datetime | str) -> str:
    """2026-12-01 14:05 (Beijing time, to the minute)."""
    return beijing(moment).strftime("%Y-%m-%d %H:%M")


def relative(moment: datetime | str, now: datetime | str, lang: str = "zh", *,
             dated: bool = True) -> str:
    """刚刚 / just now under a minute ago, 3 分钟前 / 3 min ago under an hour, 今天 14:05 /
    today 14:05 the same Beijing day, 昨天 14:05 / yesterday 14:05 the day before, then the
    date (a list's column), or with `dated` False the absolute time (a status line, where the
    hour of an old sync matters). A moment ahead of `now` (another station's clock) gets its
    absolute time."""
    then, current = beijing(moment), beijing(now)
    ago = (current - then).total_seconds()
    if ago < 0:
        return absolute(then) if ago < -MINUTE else _word("just_now", lang)
    if ago < MINUTE:
        return _word("just_now", lang)
    if ago < HOUR:
        n = int(ago // MINUTE)
        return f"{n} 分钟前" if lang == "zh" else f"{n} min ago"
    clock = then.strftime("%H:%M")
    if then.date() == current.date():
        return f"{_word('today', lang)} {clock}"
    if then.date() == current.date() - timedelta(days=1):
        return f"{_word('yesterday', lang)} {clock}"
    return then.date().isoformat() if dated else absolute(then)


def duration(seconds: float, lang: str = "zh") -> str:
    """An interval in its largest whole unit: 40 秒, 3 分钟, 5 小时, 2 天 (rounded down, so
    59 s stays 59 秒 and 60 s is 1 分钟)."""
    whole = int(abs(seconds))
    for size, zh, one, many in _UNITS:
        if whole >= size or size == 1:
            n = whole // size
            return f"{n} {zh}" if lang == "zh" else f"{n} {one if n == 1 else many}"
    raise AssertionError("unreachable: the last unit is one second")


def deadline(seconds_left: float, lang: str = "zh") -> str:
    """剩余 40 秒 / 40 s left while time remains, 超时 3 分钟 / 3 min over once it passed."""
    span = duration(seconds_left, lang)
    if seconds_left >= 0:
        return f"剩余 {span}" if lang == "zh" else f"{span} left"
    return f"超时 {span}" if lang == "zh" else f"{span} over"


_WORDS = {
    "just_now": ("刚刚", "just now"),
    "today": ("今天", "today"),
    "yesterday": ("昨天", "yesterday"),
}


def _word(key: str, lang: str) -> str:
    zh, en = _WORDS[key]
    return zh if lang == "zh" else en
