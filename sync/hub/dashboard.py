"""What the county dashboard shows, apart from how: the accounts and sessions of county IT,
the stations, the work figures, and every table as rows for the pages and the exports. The
pages themselves are in `sync.hub.pages` and its templates.

Sessions live 8 hours; the hub stores only a hash of each token. Accounts are made with
`county user add`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.requests import Request

from sync.bundle import Bundle, check_bundle, parse_bundle
from sync.errors import TownshipError
from sync.hub import accounts
from sync.hub.rules import Hub
from sync.hub.tables import shown, when
from sync.points import ranking
from sync.validate import CHINA_TZ

SESSION_COOKIE = "ts_session"
SESSION_S = 8 * 3600
FIGURES_S = 60  # how long the work figures are reused (Dashboard._recent)

TABLES = ("stations", "schema", "work", "departments", "base_data", "volunteers")


@dataclass(frozen=True)
class Column:
    """A column of the stations table, on the page and in its exports alike."""

    key: str  # the export's header
    zh: str
    en: str
    field: str = ""  # the station row's field, if not `key`
    exported: Callable[[Any], Any] = lambda value: value
    shown: Callable[[Any], str] = str  # the cell on the page

    def value(self, row: dict[str, Any]) -> Any:
        return row[self.field or self.key]


# A new column is one line here: the page and both exports follow. The page then adds the
# station's state and its revoke button; the exports add revoked_at.
STATION_COLUMNS = (
    Column("station", "站点", "Station", field="id"),
    Column("township", "乡镇", "Township"),
    Column("grids", "网格", "Grids", exported=" ".join,
           shown=lambda grids: " ".join(grids) or "全乡镇 whole township"),
    Column("last_seen", "最近联系", "Last seen", shown=when),
    Column("last_push", "最近上传", "Last push", shown=when),
    Column("changes", "已收变更", "Changes"),
    Column("pending", "待上传", "Pending", shown=shown),
    Column("rejected", "被拒", "Rejected", shown=shown),
    Column("lag", "落后", "Lag", shown=shown),
    Column("files", "已收附件", "Files"),
    Column("files_arriving", "附件传送中", "Files arriving"),
    Column("schema_version", "数据版本", "Schema", shown=lambda version: str(version or "—")),
    # Blank: never synced yet; a 0.1.x station names no software (it speaks protocol 1).
    Column("software_version", "软件版本", "Software",
           shown=lambda version: version or "—"),
    Column("protocol_version", "协议", "Protocol", shown=lambda version: str(version or "—")),
)


class Dashboard:
    def __init__(self, hub: Hub, home: Path | None = None,
                 clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        self.hub, self.home, self.clock_ms = hub, home, clock_ms
        self._cache: dict[str, tuple[float, Any]] = {}

    def _recent(self, key: str, compute: Callable[[], Any]) -> Any:
        """`compute()`, or its result from the last FIGURES_S seconds. The work figures read
        and open every record (about 2 s each at 250,000 records on two cores: BENCHMARKS.md),
        and one page shows several: a report a minute old is what county reports use anyway."""
        found = self._cache.get(key)
        if found is None or time.monotonic() - found[0] > FIGURES_S:
            found = (time.monotonic(), compute())
            self._cache[key] = found
        return found[1]

    # ---------------------------------------------------------------- accounts and sessions

    def add_account(self, name: str, password: str) -> bool:
        accounts.check_account(name, password)
        hashed = accounts.hash_password(password)
        with self.hub.storage.transaction() as tx:
            return tx.add_account(name, hashed, self.hub.clock.iso())

    def log_in(self, name: str, password: str) -> tuple[str, str] | None:
        """(session token, CSRF token), or None for a wrong name or password."""
        with self.hub.storage.transaction() as tx:
            stored = tx.account_hash(name)
        if not accounts.verify_password(password, stored or accounts.dummy_hash()) or stored is None:
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.hub.storage.transaction() as tx:
            tx.add_session(accounts.token_hash(token), name, csrf, self.clock_ms() + SESSION_S * 1000)
        return token, csrf

    def session(self, request: Request) -> tuple[str, str] | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        with self.hub.storage.transaction() as tx:
            return tx.session(accounts.token_hash(token), self.clock_ms())

    def log_out(self, request: Request) -> None:
        token = request.cookies.get(SESSION_COOKIE, "")
        with self.hub.storage.transaction() as tx:
            tx.end_session(accounts.token_hash(token))

    # ---------------------------------------------------------------- data

    def stations(self) -> list[dict[str, Any]]:
        """Every station, with `lag`: the county's changes in its scope or not, that came in
        after the station last pulled (None before its first pull)."""
        with self.hub.storage.transaction() as tx:
            rows, last = tx.stations(), tx.last_seq()
        return [r | {"lag": None if r["pull_cursor"] is None else max(0, last - int(r["pull_cursor"]))}
                for r in rows]

    def closure_history(self, days: int = 14) -> list[tuple[str, float]]:
        """The county's incident closure rate at the end of each of the last `days` days, as
        chart bars labelled with the day and (cases closed by then / reported by then)."""
        today = datetime.now(CHINA_TZ).date()
        span = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
        points = self._recent(f"history-{days}", lambda: self.hub.closure_history("incident", span))
        return [(f"{d:%m-%d}（{closed}/{reported}）", 100.0 * closed / reported if reported else 0.0)
                for d, reported, closed in points]

    def preview(self, raw: bytes) -> tuple[Bundle | None, str]:
        """The bundle and '' when the hub would publish it, or None and why it would refuse."""
        try:
            bundle = parse_bundle(raw)
            check_bundle(bundle, self.hub.schema)
        except TownshipError as exc:
            return None, str(exc)
        return bundle, ""

    def publish(self, raw: bytes) -> Bundle:
        assert self.home is not None, "publishing needs the county home's signing key"
        key = Ed25519PrivateKey.from_private_bytes((self.home / "signing.key").read_bytes())
        return self.hub.publish(raw, key)

    def table(self, name: str) -> tuple[list[str], list[list[Any]]]:
        """(headers, rows) of one of TABLES, as the pages and the exports show it."""
        if name == "stations":
            return ([c.key for c in STATION_COLUMNS] + ["revoked_at"],
                    [[c.exported(c.value(r)) for c in STATION_COLUMNS] + [r["revoked_at"]]
                     for r in self.stations()])
        if name == "schema":
            return (["version", "name", "published_at", "stations"],
                    [[r["version"], r["name"], r["published_at"], r["stations"]]
                     for r in self.hub.schema_versions()])
        report = self._recent("report", lambda: self.hub.report(now=datetime.now(CHINA_TZ)))
        kinds = sorted(k for k in report["county"] if k != "base_data")
        measures = ("reported", "closed", "closure_rate", "overdue")
        places = [("county", report["county"]), *sorted(report["townships"].items())]
        if name == "volunteers":
            month = datetime.now(CHINA_TZ).strftime("%Y-%m")
            ledger = self._recent("points", self.hub.volunteer_points)
            entries = [e for e in ledger if e.day.startswith(month)]
            names = self.hub.names("volunteer", {e.volunteer for e in entries})

            def earned(volunteer: str, rule: str) -> int:
                return sum(1 for e in entries if e.volunteer == volunteer and e.rule == rule)
            return (["rank", "volunteer", "name", "checkins", "accepted_reports", "points", "month"],
                    [[place, v, names.get(v, ""), earned(v, "checkin"), earned(v, "accepted_report"),
                      points, month] for place, (v, points) in enumerate(ranking(entries, month), start=1)])
        if name == "base_data":
            entities = sorted({e for _, figures in places for e in figures["base_data"]})
            return (["township", *entities], [[place, *[figures["base_data"].get(e, 0) for e in entities]]
                                              for place, figures in places])
        if name == "departments":
            return (["township", "kind", "department", "cases"],
                    [[place, k, department, n] for place, figures in places for k in kinds
                     for department, n in sorted(figures[k].get("by_department", {}).items())])
        headers = ["township"] + [f"{k}_{m}" for k in kinds for m in measures] + ["base_records"]
        rows = [[place, *[figures[k][m] for k in kinds for m in measures],
                 sum(figures["base_data"].values())] for place, figures in places]
        return headers, rows

