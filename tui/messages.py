"""The events the app's screens and workers send upward (attributes down, messages up).

A worker runs on its own thread and touches the screen only by posting one of these
(`post_message` is thread-safe); a screen tells the app what happened with one of these and
never calls into it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # the sync code loads with the sync screen, not at the app's start
    from pathlib import Path

    from station.spreadsheet import Report
    from station.syncer import Progress


class Unlocked(Message):
    """The store took the passphrase: the unlock screen is done, the app shows home."""


class Indexing(Message):
    """The first unlock after an upgrade is building the search indexes: how far it got."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total


class UnlockFailed(Message):
    """The passphrase was refused (or the store could not be opened); why, in the clerk's
    language."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class SyncProgress(Message):
    """One step of a sync round, as `sync_once` reports it."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress


class SyncFinished(Message):
    """A sync round ended (done or failed); the log line that says how."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class SyncRevoked(Message):
    """The county revoked this station while it synced; what to tell the clerk."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class SyncBusy(Message):
    """The county hub is busy: the round waits and tries again by itself; the line says so."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class SyncEstimated(Message):
    """Before a first sync over the link: what it will bring and how long it should take, in
    the clerk's language (station/first_sync.py)."""

    def __init__(self, line: str, long: bool) -> None:
        super().__init__()
        self.line = line
        self.long = long


class ImportProgress(Message):
    """A step of a spreadsheet import: stage ("read", "check", "write"), done of total."""

    def __init__(self, stage: str, done: int, total: int) -> None:
        super().__init__()
        self.stage = stage
        self.done = done
        self.total = total


class ImportChecked(Message):
    """The sheet at `path` was checked (or written, when `ids` is not None); `failed` is why it
    could not be, in the clerk's language."""

    def __init__(self, path: Path, report: Report | None, ids: list[str] | None = None,
                 failed: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.report = report
        self.ids = ids
        self.failed = failed
