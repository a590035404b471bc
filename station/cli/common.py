"""What every `station` command module shares: the context, output, errors and options.

A thin layer: each command turns its options into calls of `station.Store` and prints what
comes back. JSON goes to stdout, messages to stderr; any error is one line and a non-zero exit.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

import click

from station.store import Store
from sync.errors import TownshipError, ValidationError
from sync.human_time import HOUR, MINUTE, absolute, beijing, relative

DEFAULT_HOME = Path.home() / ".local" / "share" / "township-station"

Decorated = TypeVar("Decorated", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> NoReturn:
    """Say what went wrong on one line of stderr and exit."""
    click.echo(f"station: {message}", err=True)
    sys.exit(code)


def beijing_time(iso: str | None, now: datetime | None = None) -> str:
    """A stored time for a person to read, as a clerk thinks of it when `now` is given:
    刚刚 (just now), 3 分钟前 (3 min ago), 今天 / 昨天 14:05 北京时间 (yesterday 14:05 Beijing
    time); an older one, or any without `now`, as Beijing time to the minute, saying so
    (2026-12-02 02:49 北京时间). JSON output keeps the ISO 8601 value with its offset."""
    if not iso:
        return ""
    if now is None:
        return f"{absolute(iso)} 北京时间 (Beijing time)"
    zh, en = relative(iso, now, "zh", dated=False), relative(iso, now, "en", dated=False)
    if -MINUTE <= (beijing(now) - beijing(iso)).total_seconds() < HOUR:
        return f"{zh} ({en})"  # no hour to place in a time zone
    if zh == absolute(iso):
        return f"{zh} 北京时间 (Beijing time)"
    return f"{zh} 北京时间 ({en} Beijing time)"


def emit(value: Any) -> None:
    """One JSON value on one line of stdout: sorted keys, no spaces, Chinese as it is."""
    click.echo(json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")))


class Context:
    """The station home of this run, and its store opened (and unlocked) only when asked."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._store: Store | None = None

    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.home)
        return self._store

    def unlocked(self) -> Store:
        store = self.store()
        if not store.unlocked:
            store.unlock(ask_passphrase("STATION_PASSPHRASE", "口令 / passphrase"),
                         os.environ.get("STATION_CLERK") or None)
        return store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


# Secrets a systemd unit hands over with LoadCredential= rather than in the environment,
# which every process of the service, and anyone who may read its /proc/PID/environ, sees.
CREDENTIALS = {"STATION_PASSPHRASE": "passphrase"}


def credential(env: str) -> str | None:
    """The secret systemd put in $CREDENTIALS_DIRECTORY for `env` (LoadCredential=), if any:
    a file only the service's user can read, on a non-swappable mount that ends with it. One
    trailing newline, which an editor adds, is not part of it."""
    folder, name = os.environ.get("CREDENTIALS_DIRECTORY"), CREDENTIALS.get(env)
    if not folder or not name:
        return None
    try:
        value = (Path(folder) / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return value[:-1] if value.endswith("\n") else value


def ask_passphrase(env: str, prompt: str, confirm: bool = False) -> str:
    """The passphrase from the environment variable `env`, else from the service's credential,
    else asked in a terminal."""
    value = os.environ.get(env)
    if value is None:
        value = credential(env)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise ValidationError(env, "required", f"需要口令：请设置 {env} 或在终端中运行",
                              f"a passphrase is needed: set {env} or run in a terminal")
    again = "再输入一次 / repeat" if confirm else False
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=again))


class StationGroup(click.Group):
    """Maps every error of ours (and the few of the layers below that reach here) to one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TownshipError as exc:
            fail(str(exc))
        except BrokenPipeError:
            # The reader went away (`station export | head`): not an error of ours.
            sys.stderr.close()
            sys.exit(0)
        except sqlite3.Error as exc:
            fail(f"数据库错误 (database error): {exc}")
        except OSError as exc:
            fail(f"文件错误 (file error): {exc.strerror or exc} {exc.filename or ''}".rstrip())
        finally:
            obj = ctx.find_object(Context)
            if obj is not None:
                obj.close()


# ---------------------------------------------------------------------- input

def json_object(text: str, line: int = 0) -> dict[str, Any]:
    """`text` as a JSON object, or an error that names the line (of a JSON-lines file)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        err = ValidationError("json", "json", f"不是有效的 JSON（第 {exc.colno} 列）",
                              f"not valid JSON (column {exc.colno})")
        raise err.at_line(line) if line else err from None
    if not isinstance(value, dict):
        err = ValidationError("json", "json_object", "应为 JSON 对象 {…}", "expected a JSON object {…}")
        raise err.at_line(line) if line else err
    return value


def jsonl(stream: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of a JSON-lines stream with their line numbers; blank lines skipped."""
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield number, json_object(line, number)


def as_of_time(text: str | None) -> datetime | None:
    """The `--as-of` time: ISO 8601 with a UTC offset (deadlines are judged in real time)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("--as-of", "datetime", "不是有效时间（ISO 8601）",
                              "not a valid ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValidationError("--as-of", "datetime", "需要带时区，如 +08:00",
                              "needs a UTC offset, e.g. +08:00")
    return moment


# ---------------------------------------------------------------------- options

def json_option(help: str, required: bool = True) -> Callable[[Decorated], Decorated]:
    """`--json TEXT`, passed to the command as `json_text`."""
    return click.option("--json", "json_text", required=required, help=help)


def as_json_option(
        help: str = "machine-readable (the only form for now)") -> Callable[[Decorated], Decorated]:
    """The `--json` flag of a listing, passed as `as_json`."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def as_of_option(help: str) -> Callable[[Decorated], Decorated]:
    """`--as-of TIME` (read with `as_of_time`), passed as `as_of`."""
    return click.option("--as-of", "as_of", help=help)


def at_option(help: str) -> Callable[[Decorated], Decorated]:
    """`--at TIME`: when something happened (ISO 8601), passed as `at`."""
    return click.option("--at", "at", help=help)
