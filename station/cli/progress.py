"""Progress bars on stderr for the long commands (demo data, `add --file`, import, sync,
restore): shown when stderr is a terminal, or with `--progress`; never in a pipe, a log or
with `--no-progress`, so scripts and their tests read the same output as before.

One `Bars` is the `on_progress(stage, done, total)` callback the library takes: each new
stage closes the previous bar and opens its own (click's bar when the total is known, a
running count when it is not, as for a pull that learns its size at the end); off a terminal
(`--progress` into a log) a plain line at each tenth instead of a redraw.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO, TypeVar

import click

Decorated = TypeVar("Decorated", bound=Callable[..., Any])

LABELS = {
    "read": "读取 reading",
    "check": "检查 checking",
    "write": "写入 writing",
    "schema": "表结构 schema",
    "recover": "找回 recovering",
    "push": "上传 pushing",
    "pull": "下载 pulling",
    "files": "附件 files",
    "restore": "恢复 restoring",
    "records": "记录 records",
}


def progress_option(func: Decorated) -> Decorated:
    """`--progress/--no-progress`: default, a bar only when stderr is a terminal."""
    return click.option("--progress/--no-progress", "progress", default=None,
                        help="progress bars on stderr (default: only on a terminal)")(func)


def wanted(option: bool | None, stream: TextIO | None = None) -> bool:
    """Whether to draw: the option when given, else whether stderr is a terminal."""
    if option is not None:
        return option
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


class Bars:
    """Bars for one command's stages; quiet (and nearly free) when not shown."""

    def __init__(self, shown: bool, stream: TextIO | None = None,
                 labels: dict[str, str] | None = None) -> None:
        self.shown = shown
        self.stream = stream or sys.stderr
        self.labels = {**LABELS, **(labels or {})}
        self._stage: str | None = None
        self._bar: Any = None  # click's ProgressBar, typed privately by click
        self._pos = 0
        self._terminal = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self.shown:
            return
        if stage != self._stage:
            self._finish()
            self._start(stage, total)
        label = self.labels.get(stage, stage)
        if self._bar is not None:
            self._bar.update(max(0, done - self._pos))
        elif self._terminal:
            self.stream.write(f"\r{label}: {done}" + (f"/{total}" if total else ""))
        elif self._step(done, total):
            # Asked for off a terminal (a log): a line at each tenth, not a redraw.
            self.stream.write(f"{label}: {done}" + (f"/{total}\n" if total else "\n"))
        self.stream.flush()
        self._pos = max(self._pos, done)

    def _step(self, done: int, total: int | None) -> bool:
        tenth = max(1, (total or 1000) // 10)
        return done == total or done // tenth != self._pos // tenth or done == 0

    def _start(self, stage: str, total: int | None) -> None:
        self._stage, self._pos = stage, 0
        self._bar = None
        if total and self._terminal:
            self._bar = click.progressbar(length=total, label=self.labels.get(stage, stage),
                                          file=self.stream, show_pos=True, width=30)
            self._bar.__enter__()

    def _finish(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
        elif self._stage is not None and self._terminal:
            self.stream.write("\n")
        self._bar, self._stage = None, None

    def close(self) -> None:
        if self.shown:
            self._finish()

    def __enter__(self) -> Bars:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
