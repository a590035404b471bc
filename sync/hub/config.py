"""The county hub's configuration: county.toml, read with tomllib into one frozen `CountyConfig`.

`county init` writes county.toml in the county home with the database URL; the same file (or
another one named by `county serve --config FILE`, for a service whose settings live in /etc)
may hold how the hub is served:

    database      = "postgresql://county@127.0.0.1/county"   # or sqlite:///PATH
    host          = "0.0.0.0"      # the address `county serve` listens on
    port          = 8443
    workers       = 2              # uvicorn worker processes (more than one wants PostgreSQL)
    pool_size     = 10             # PostgreSQL connections per worker
    max_in_flight = 20             # sync calls per worker before 503 + Retry-After (0: never;
                                   # unset: 2 per pool connection)
    metrics_token = "…"            # bearer token for /metrics from other than loopback
    crypto        = "gm"           # the county's crypto suite, written by `county init --crypto`
                                   # and fixed from then on (sync/crypto_suite.py; absent: intl)

`parse` is pure: a mapping in, a config or a `ValidationError` naming the key and its rule out,
so a bad file stops `county serve` before anything is started.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sync.crypto_suite import suite_named
from sync.errors import ConfigError, NotInitialized, ValidationError

CONFIG = "county.toml"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8443
DEFAULT_WORKERS = 1
MAX_WORKERS = 64
# Connections per hub worker. PostgreSQL allows 100 in all by default, shared by every hub
# worker and every tool; a request thread waits for a free connection instead of opening one
# of its own (500 stations at once made 2 workers ask for more than 100: bench_load.py).
DEFAULT_POOL_SIZE = 10
MAX_POOL_SIZE = 1000
# A token shorter than this is guessable from the network.
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class CountyConfig:
    database: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = DEFAULT_WORKERS
    pool_size: int = DEFAULT_POOL_SIZE
    max_in_flight: int | None = None  # None: COUNTY_MAX_IN_FLIGHT, else 2 per pool connection
    metrics_token: str | None = None
    crypto: str = "intl"  # the suite the county's keys are of: never changed after init


def _bad(key: str, rule: str, zh: str, en: str) -> ValidationError:
    return ValidationError(key, rule, zh, en)


def _whole(data: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(key, "range", f"应为 {low} 到 {high} 的整数",
                   f"must be a whole number from {low} to {high}")
    return value


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise _bad(key, "text", "应为非空字符串（前后无空格）",
                   "must be a non-empty string with no spaces around it")
    return value


def _database(data: Mapping[str, Any]) -> str | None:
    url = _text(data, "database")
    if url is not None and not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise _bad("database", "url", "应为 sqlite:///路径 或 postgresql://… 地址",
                   "must be a sqlite:///PATH or postgresql://… URL")
    return url


def _token(data: Mapping[str, Any]) -> str | None:
    token = _text(data, "metrics_token")
    if token is not None and (len(token) < MIN_TOKEN_CHARS or not token.isascii() or " " in token):
        raise _bad("metrics_token", "token", f"应为至少 {MIN_TOKEN_CHARS} 个字符的 ASCII 字符串（无空格）",
                   f"must be at least {MIN_TOKEN_CHARS} ASCII characters with no spaces")
    return token


def _crypto(data: Mapping[str, Any]) -> str | None:
    name = _text(data, "crypto")
    if name is not None:
        suite_named(name)  # ValidationError naming the key and the suites there are
    return name


KEYS = ("database", "host", "port", "workers", "pool_size", "max_in_flight", "metrics_token",
        "crypto")


def parse(data: Mapping[str, Any], base: CountyConfig | None = None) -> CountyConfig:
    """The config `data` describes, on top of `base` (the keys it leaves out keep their values
    there); `base` None: `database` is required."""
    for key in data:
        if key not in KEYS:
            raise _bad(key, "unknown", f"未知的设置项（可用：{'、'.join(KEYS)}）",
                       f"unknown key (known: {', '.join(KEYS)})")
    database = _database(data) or (base.database if base else None)
    if database is None:
        raise _bad("database", "required", "必须填写数据库地址", "a database URL is required")
    found: dict[str, Any] = {
        "host": _text(data, "host"),
        "port": _whole(data, "port", 1, 65535),
        "workers": _whole(data, "workers", 1, MAX_WORKERS),
        "pool_size": _whole(data, "pool_size", 1, MAX_POOL_SIZE),
        "max_in_flight": _whole(data, "max_in_flight", 0, 1_000_000),
        "metrics_token": _token(data),
        "crypto": _crypto(data),
    }
    # Several workers on SQLite are allowed (they take turns at its one write lock: slower,
    # never wrong); the docs advise PostgreSQL for them.
    return replace(base or CountyConfig(database), database=database,
                   **{k: v for k, v in found.items() if v is not None})


def read(path: Path, base: CountyConfig | None = None) -> CountyConfig:
    """The config in the TOML file at `path` (on top of `base`)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if base is None and path.name == CONFIG:
            raise NotInitialized(f"{path.parent} 中没有县级平台，请先运行 county init",
                                 f"no county hub in {path.parent}; run `county init` first") from None
        raise ConfigError(f"找不到配置文件 {path}", f"no config file at {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}：不是有效的 TOML：{exc}", f"{path}: not valid TOML: {exc}") from exc
    try:
        return parse(data, base)
    except ValidationError as exc:  # the file too, so county IT knows which one to open
        raise ValidationError(exc.field, exc.rule, f"{exc.detail_zh}（{path}）",
                              f"{exc.detail_en} (in {path})") from None


def load(home: Path, extra: Path | None = None) -> CountyConfig:
    """The county home's county.toml, then `extra`'s keys over it (`county serve --config`)."""
    config = read(home / CONFIG)
    if extra is None:
        return config
    served = read(extra, config)
    if served.crypto != config.crypto:  # the home's keys are of one suite, fixed at init
        raise _bad("crypto", "fixed",
                   f"密码体系在 county init 时选定（{config.crypto}），不能在 {extra} 中改为 {served.crypto}",
                   f"the crypto suite is fixed at county init ({config.crypto});"
                   f" {extra} cannot make it {served.crypto}")
    return served
