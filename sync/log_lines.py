"""Log lines a machine room collects: stdlib logging to stderr, one `key=value` line per event.

Under systemd, stderr is the journal (journald stamps each line, so the line carries no time
of its own); elsewhere (a terminal, a log file) each line starts with its UTC time. The
values are ids, counts and durations: never a person's name, number or anything a clerk typed
(tests/test_hub_service.py reads the lines of a real hub and a real daemon for that).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping

# Set by systemd when stderr is connected to the journal (systemd.exec(5)).
JOURNAL_ENV = "JOURNAL_STREAM"


def line(event: str, **values: object) -> str:
    """`event key=value …` in the order given; a value with a space, a quote or an equals
    sign is quoted, so that every line splits the same way."""
    parts = [event]
    for key, value in values.items():
        text = _text(value)
        if not text or any(c in text for c in ' "=\\\n'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def parse(text: str) -> tuple[str, dict[str, str]]:
    """The event and the values of a line `line` made (for tests and log tools)."""
    import shlex

    event, *pairs = shlex.split(text, posix=True)
    return event, dict(pair.split("=", 1) for pair in pairs)


class _Utc(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))


def to_stderr(name: str, environ: Mapping[str, str] = os.environ,
              level: int = logging.INFO) -> logging.Logger:
    """The logger `name`, writing INFO and above to stderr (once, however often it is asked)."""
    logger = logging.getLogger(name)
    if not any(getattr(h, "township", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.township = True  # type: ignore[attr-defined]
        if environ.get(JOURNAL_ENV):
            handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
        else:
            handler.setFormatter(_Utc("%(asctime)sZ %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
    return logger
