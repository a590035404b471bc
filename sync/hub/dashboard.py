"""The county dashboard: web pages for county IT, served by the hub at `/` over its HTTPS.

    GET  /login, POST /login, POST /logout
    GET  /stations                   every station: last seen, last push, schema, changes
    POST /stations/enroll            a one-time enrollment code, shown once
    POST /stations/{id}/revoke       refused at the station's next request

No page or data without a login (a GET goes to the login page, a POST is refused with 403);
every form carries its session's CSRF token and a POST without it is refused; the login form
itself uses a double-submit cookie. Sessions live 8 hours; the hub stores only a hash of
each token. Pages are Chinese first with the English beneath, and load nothing from outside
(county networks are closed). Accounts are made with `county user add`.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sync.bundle import MAX_BUNDLE_BYTES, Bundle, check_bundle, parse_bundle
from sync.errors import TownshipError
from sync.hub import accounts
from sync.hub.rules import Hub
from sync.hub.tables import bars, to_csv, to_xlsx
from sync.points import ranking
from sync.validate import CHINA_TZ

SESSION_COOKIE = "ts_session"
LOGIN_COOKIE = "ts_login"
SESSION_S = 8 * 3600
FIGURES_S = 60  # how long the work figures are reused (Dashboard._recent)
_TOWNSHIP = re.compile(r"\d{9}")
_GRID = re.compile(r"\d{12}")

STYLE = """
body { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; margin: 0; color: #222; }
header { background: #1d4e89; color: #fff; padding: .6em 1em; display: flex; gap: 1em; align-items: center; }
header a { color: #fff; }
header button { color: #fff; background: transparent; border: 1px solid #fff; border-radius: 3px; }
header .en { color: #dde; }
header form { margin-left: auto; }
main { padding: 1em; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ccc; padding: .3em .5em; text-align: left; }
.en { color: #666; font-size: .85em; }
.error { color: #a00; }
.code { font-size: 2em; font-family: monospace; letter-spacing: .1em; }
"""


def _t(zh: str, en: str) -> str:
    """Chinese first, English beneath it (both escaped)."""
    return f'{html.escape(zh)} <span class="en">{html.escape(en)}</span>'


def _page(title_zh: str, title_en: str, body: str, account: str | None = None,
          csrf: str | None = None, status: int = 200) -> HTMLResponse:
    nav = ""
    if account is not None:
        nav = (f'<a href="/stations">{_t("站点", "Stations")}</a>'
               f'<a href="/schema">{_t("数据版本", "Schema")}</a>'
               f'<a href="/work">{_t("工作统计", "Work")}</a>'
               f'<form method="post" action="/logout"><input type="hidden" name="csrf" '
               f'value="{html.escape(csrf or "")}"><span>{html.escape(account)}</span> '
               f'<button id="logout">{_t("退出", "Log out")}</button></form>')
    return HTMLResponse(
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<title>{html.escape(title_zh)} · 县级平台</title><style>{STYLE}</style></head>'
        f'<body><header><strong>{_t("县级平台", "County hub")}</strong>{nav}</header>'
        f'<main><h1>{_t(title_zh, title_en)}</h1>{body}</main></body></html>', status_code=status,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                            "img-src 'self' data:; form-action 'self'"})


async def _form(request: Request) -> dict[str, Any]:
    """The posted fields: text as str, an uploaded file as its bytes (a bundle at most)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        out: dict[str, Any] = {}
        async with request.form(max_files=1, max_fields=20) as form:
            for name, value in form.items():
                out[name] = (await value.read(MAX_BUNDLE_BYTES + 1)) if hasattr(value, "read") else value
        return out
    body = (await request.body())[:64 * 1024].decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


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

    def closure_history(self, days: int = 14) -> str:
        """The county's incident closure rate at the end of each of the last `days` days, as a
        chart (cases reported by then, and of those closed by then)."""
        today = datetime.now(CHINA_TZ).date()
        span = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
        points = self._recent(f"history-{days}", lambda: self.hub.closure_history("incident", span))
        items = [(f"{d:%m-%d}（{closed}/{reported}）", 100.0 * closed / reported if reported else 0.0)
                 for d, reported, closed in points]
        title = _t(f"全县事件办结率（近 {days} 天）", f"County incident closure rate, last {days} days")
        return f'<h2 id="closure-over-time">{title}</h2>' + bars(items, 100.0, " %")

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
            return (["station", "township", "grids", "last_seen", "last_push", "changes", "pending",
                     "rejected", "lag", "files", "files_arriving", "schema_version", "revoked_at"],
                    [[r["id"], r["township"], " ".join(r["grids"]), r["last_seen"], r["last_push"],
                      r["changes"], r["pending"], r["rejected"], r["lag"], r["files"],
                      r["files_arriving"], r["schema_version"], r["revoked_at"]]
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


Handler = Callable[[Request, str, str], Awaitable[Response]]


def routes(board: Dashboard) -> list[Route]:
    def signed_in(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Only with a live session; a POST also only with the session's CSRF token."""
        async def run(request: Request) -> Response:
            found = await run_in_threadpool(board.session, request)
            if found is None:
                if request.method == "GET":
                    return RedirectResponse("/login", status_code=303)
                return _page("请先登录", "Log in first", "", status=403)
            account, csrf = found
            if request.method == "POST":
                form = await _form(request)
                if not secrets.compare_digest(form.get("csrf", ""), csrf):
                    return _page("表单已失效", "The form has expired: CSRF token missing or wrong",
                                 '<p><a href="/stations">返回 Back</a></p>', account, csrf, 403)
                request.state.form = form
            return await handler(request, account, csrf)
        return run

    async def login_page(request: Request, error: str = "", status: int = 200) -> Response:
        nonce = secrets.token_urlsafe(24)
        body = (f'<form method="post" action="/login"><input type="hidden" name="login_csrf" '
                f'value="{nonce}"><p><label>{_t("账号", "Account")}<br><input name="name" id="name" '
                f'autofocus></label></p><p><label>{_t("密码", "Password")}<br><input name="password" '
                f'id="password" type="password"></label></p>{error}'
                f'<p><button id="login">{_t("登录", "Log in")}</button></p></form>')
        response = _page("登录", "Log in", body, status=status)
        response.set_cookie(LOGIN_COOKIE, nonce, max_age=600, httponly=True, secure=True,
                            samesite="strict")
        return response

    async def login(request: Request) -> Response:
        form = await _form(request)
        if not secrets.compare_digest(form.get("login_csrf", ""), request.cookies.get(LOGIN_COOKIE, "-")):
            expired = _t("表单已失效，请重试", "The form expired; try again")
            return await login_page(request, f'<p class="error">{expired}</p>', 403)
        session = await run_in_threadpool(board.log_in, form.get("name", ""), form.get("password", ""))
        if session is None:
            return await login_page(request, f'<p class="error" id="login-error">'
                                             f'{_t("账号或密码不对", "Wrong account or password")}</p>', 401)
        response = RedirectResponse("/stations", status_code=303)
        response.set_cookie(SESSION_COOKIE, session[0], max_age=SESSION_S, httponly=True, secure=True,
                            samesite="strict")
        response.delete_cookie(LOGIN_COOKIE)
        return response

    async def logout(request: Request, account: str, csrf: str) -> Response:
        await run_in_threadpool(board.log_out, request)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def home(request: Request, account: str, csrf: str) -> Response:
        return RedirectResponse("/stations", status_code=303)

    async def stations(request: Request, account: str, csrf: str) -> Response:
        rows = await run_in_threadpool(board.stations)
        return _page("站点", "Stations", _stations_body(rows, csrf), account, csrf)

    async def enroll(request: Request, account: str, csrf: str) -> Response:
        form = request.state.form
        township, grids = form.get("township", "").strip(), form.get("grids", "").split()
        if not _TOWNSHIP.fullmatch(township) or not all(_GRID.fullmatch(g) and g.startswith(township)
                                                        for g in grids):
            error = _t("乡镇代码为 9 位数字；网格代码为该乡镇下的 12 位数字，以空格分隔",
                       "township: 9 digits; grids: 12-digit codes in that township, space-separated")
            rows = await run_in_threadpool(board.stations)
            return _page("站点", "Stations", f'<p class="error" id="enroll-error">{error}</p>'
                         + _stations_body(rows, csrf), account, csrf, 400)
        code = await run_in_threadpool(board.hub.add_enrollment, township, grids)
        body = (f'<p>{_t("一次性注册码（只显示这一次）：", "One-time enrollment code (shown only now):")}</p>'
                f'<p class="code" id="enroll-code">{html.escape(code)}</p>'
                f'<p>{_t("在站点上运行", "On the station run")} <code>station enroll --hub URL --code '
                f'{html.escape(code)}</code></p><p><a href="/stations">{_t("返回", "Back")}</a></p>')
        return _page("注册码", "Enrollment code", body, account, csrf)

    async def revoke(request: Request, account: str, csrf: str) -> Response:
        await run_in_threadpool(board.hub.revoke, request.path_params["station"])
        return RedirectResponse("/stations", status_code=303)

    async def schema(request: Request, account: str, csrf: str) -> Response:
        _, rows = await run_in_threadpool(board.table, "schema")
        return _page("数据版本", "Schema versions", _schema_body(rows, csrf), account, csrf)

    async def schema_preview(request: Request, account: str, csrf: str) -> Response:
        raw = request.state.form.get("bundle") or b""
        raw = raw.encode() if isinstance(raw, str) else raw
        bundle, refused = await run_in_threadpool(board.preview, raw)
        if bundle is None:
            body = (f'<p class="error" id="bundle-refused">{_t("不能发布：", "Would be refused: ")}'
                    f'{html.escape(refused)}</p><p><a href="/schema">{_t("返回", "Back")}</a></p>')
            return _page("数据包预览", "Bundle preview", body, account, csrf, 400)
        ops = "".join(f"<li><code>{html.escape(json.dumps(op, ensure_ascii=False))}</code></li>"
                      for op in bundle.operations)
        summary = _t(f"版本 {bundle.version}：{bundle.summary_zh}",
                     f"version {bundle.version}: {bundle.summary_en}")
        body = (f'<p id="bundle-summary">{summary}</p>'
                f'<ol id="bundle-operations">{ops}</ol>'
                f'<form method="post" action="/schema/publish"><input type="hidden" name="csrf" '
                f'value="{html.escape(csrf)}"><input type="hidden" name="raw" '
                f'value="{base64.b64encode(raw).decode()}"><button id="publish">'
                f'{_t("签名并发布", "Sign and publish")}</button></form>')
        return _page("数据包预览", "Bundle preview", body, account, csrf)

    async def schema_publish(request: Request, account: str, csrf: str) -> Response:
        try:
            raw = base64.b64decode(request.state.form.get("raw", ""), validate=True)
            await run_in_threadpool(board.publish, raw)
        except (ValueError, TownshipError) as exc:
            return _page("未发布", "Not published", f'<p class="error">{html.escape(str(exc))}</p>',
                         account, csrf, 400)
        return RedirectResponse("/schema", status_code=303)

    async def work(request: Request, account: str, csrf: str) -> Response:
        headers, rows = await run_in_threadpool(board.table, "work")
        _, departments = await run_in_threadpool(board.table, "departments")
        base_headers, base_rows = await run_in_threadpool(board.table, "base_data")
        _, volunteers = await run_in_threadpool(board.table, "volunteers")
        conflicts = len(await run_in_threadpool(board.hub.conflicts))
        history = await run_in_threadpool(board.closure_history)
        body = (_work_body(headers, rows) + history
                + f'<h2>{_t("各部门办理", "Handled by each department")}</h2>'
                + _plain_table("departments", ["乡镇 Township", "类别 Kind", "部门 Department", "件数 Cases"],
                               departments)
                + _exports("departments")
                + f'<h2>{_t("本月志愿者积分", "Volunteer points this month")}</h2>'
                + _plain_table("volunteers", ["名次 Rank", "志愿者 Volunteer", "姓名 Name", "签到 Check-ins",
                                              "采纳上报 Accepted reports", "积分 Points", "月份 Month"],
                               volunteers) + _exports("volunteers")
                + f'<h2>{_t("基础数据与志愿者签到", "Base data and volunteer check-ins")}</h2>'
                + _plain_table("base-data", base_headers, base_rows) + _exports("base_data")
                + f'<p id="open-conflicts">{_t("未解决的冲突", "Conflicts still open")}: {conflicts}</p>')
        return _page("工作统计", "Work", body, account, csrf)

    async def export(request: Request, account: str, csrf: str) -> Response:
        name, kind = request.path_params["name"], request.path_params["kind"]
        if name not in TABLES or kind not in ("csv", "xlsx"):
            return _page("没有这个表", "No such table", "", account, csrf, 404)
        headers, rows = await run_in_threadpool(board.table, name)
        body = to_csv(headers, rows) if kind == "csv" else to_xlsx(name, headers, rows)
        media = "text/csv; charset=utf-8" if kind == "csv" else XLSX
        return Response(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="{name}.{kind}"', "Cache-Control": "no-store"})

    return [
        Route("/schema", signed_in(schema), methods=["GET"]),
        Route("/schema/preview", signed_in(schema_preview), methods=["POST"]),
        Route("/schema/publish", signed_in(schema_publish), methods=["POST"]),
        Route("/work", signed_in(work), methods=["GET"]),
        Route("/export/{name}.{kind}", signed_in(export), methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", signed_in(logout), methods=["POST"]),
        Route("/", signed_in(home), methods=["GET"]),
        Route("/stations", signed_in(stations), methods=["GET"]),
        Route("/stations/enroll", signed_in(enroll), methods=["POST"]),
        Route("/stations/{station}/revoke", signed_in(revoke), methods=["POST"]),
    ]


def _stations_body(rows: list[dict[str, Any]], csrf: str) -> str:
    token = f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
    head = "".join(f"<th>{_t(zh, en)}</th>" for zh, en in (
        ("站点", "Station"), ("乡镇", "Township"), ("网格", "Grids"), ("最近联系", "Last seen"),
        ("最近上传", "Last push"), ("已收变更", "Changes"), ("待上传", "Pending"), ("被拒", "Rejected"),
        ("落后", "Lag"), ("已收附件", "Files"), ("附件传送中", "Files arriving"),
        ("数据版本", "Schema"), ("状态", "State"), ("", "")))
    lines = []
    for r in rows:
        state = _t("已吊销", "revoked") if r["revoked_at"] else _t("正常", "active")
        action = "" if r["revoked_at"] else (
            f'<form method="post" action="/stations/{html.escape(r["id"])}/revoke">{token}'
            f'<button class="revoke">{_t("吊销", "Revoke")}</button></form>')
        cells = [r["id"], r["township"], " ".join(r["grids"]) or "全乡镇 whole township",
                 _when(r["last_seen"]), _when(r["last_push"]), str(r["changes"]),
                 _shown(r["pending"]), _shown(r["rejected"]), _shown(r["lag"]), str(r["files"]),
                 str(r["files_arriving"]), str(r["schema_version"] or "—")]
        lines.append(f'<tr id="station-{html.escape(r["id"])}">'
                     + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
                     + f"<td>{state}</td><td>{action}</td></tr>")
    lags = [(str(r["id"]), int(r["lag"])) for r in rows if r["lag"] is not None and not r["revoked_at"]]
    chart = "" if not lags else (f'<h2>{_t("各站点落后的变更数", "Sync lag per station (changes)")}</h2>'
                                 + bars(lags, max(max(v for _, v in lags), 1)))
    table = (f'<table id="stations"><tr>{head}</tr>{"".join(lines)}</table>{chart}{_exports("stations")}'
             if lines else f'<p id="no-stations">{_t("还没有站点", "No stations yet")}</p>')
    enroll = (f'<h2>{_t("注册新站点", "Enroll a station")}</h2>'
              f'<form method="post" action="/stations/enroll">{token}'
              f'<label>{_t("乡镇代码", "Township code")} <input name="township" id="township"></label> '
              f'<label>{_t("网格（可选）", "Grids (optional)")} <input name="grids" id="grids"></label> '
              f'<button id="enroll">{_t("生成注册码", "Make a code")}</button></form>')
    return table + enroll


def _when(iso: str | None) -> str:
    """A stored UTC time as county IT reads it: Beijing time, to the second."""
    if not iso:
        return "—"
    at = datetime.fromisoformat(iso).astimezone(CHINA_TZ)
    return at.strftime("%Y-%m-%d %H:%M:%S")


TABLES = ("stations", "schema", "work", "departments", "base_data", "volunteers")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _exports(name: str) -> str:
    return (f'<p class="exports">{_t("导出", "Export")}: <a id="export-{name}-csv" '
            f'href="/export/{name}.csv">CSV</a> · <a id="export-{name}-xlsx" '
            f'href="/export/{name}.xlsx">XLSX</a></p>')


def _schema_body(rows: list[list[Any]], csrf: str) -> str:
    lines = "".join(f'<tr id="version-{v}"><td>{v if v is not None else "—"}</td>'
                    f"<td>{html.escape(str(n))}</td><td>{_when(p)}</td><td>{s}</td></tr>"
                    for v, n, p, s in rows)
    head = "".join(f"<th>{_t(zh, en)}</th>" for zh, en in (
        ("版本", "Version"), ("名称", "Name"), ("发布时间", "Published"), ("站点数", "Stations")))
    chart = bars([(f"v{v}" if v is not None else "未报告 unknown", s) for v, _n, _p, s in rows],
                 max([s for *_, s in rows] + [1]))
    upload = (f'<h2>{_t("上传数据包", "Upload a bundle")}</h2><form method="post" action="/schema/preview" '
              f'enctype="multipart/form-data"><input type="hidden" name="csrf" value="{html.escape(csrf)}">'
              f'<input type="file" name="bundle" id="bundle" accept=".json"> '
              f'<button id="preview">{_t("预览", "Preview")}</button></form>')
    return (f'<table id="versions"><tr>{head}</tr>{lines}</table>'
            f'<h2>{_t("各版本站点数", "Stations per version")}</h2>{chart}{_exports("schema")}{upload}')


_KINDS = {"incidents": "事件", "disputes": "矛盾纠纷"}
_MEASURES = {"reported": "上报", "closed": "办结", "closure_rate": "办结率", "overdue": "超时",
             "records": "条数"}


def _heading(key: str) -> str:
    """A work table's column, Chinese first: incidents_closure_rate -> 事件办结率."""
    if key == "township":
        return _t("乡镇", "Township")
    kind, _, measure = key.partition("_")
    zh = _KINDS.get(kind, "基础数据" if kind == "base" else kind) + _MEASURES.get(measure, measure)
    return _t(zh, key.replace("_", " "))


def _work_body(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f'<th data-key="{html.escape(h)}">{_heading(h)}</th>' for h in headers)
    lines = "".join(f'<tr id="work-{html.escape(str(r[0]))}">'
                    + "".join(f"<td>{html.escape(_shown(v))}</td>" for v in r) + "</tr>" for r in rows)
    rate = headers.index("incidents_closure_rate") if "incidents_closure_rate" in headers else None
    chart = "" if rate is None else (
        f'<h2>{_t("各乡镇事件办结率", "Incident closure rate by township")}</h2>'
        + bars([(str(r[0]), float(r[rate] or 0) * 100) for r in rows], 100.0, " %"))
    return f'<table id="work"><tr>{head}</tr>{lines}</table>{chart}{_exports("work")}'


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value * 100:.1f} %" if value <= 1 else f"{value:.1f}"
    return "—" if value is None else str(value)


def _plain_table(table_id: str, headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    lines = "".join("<tr>" + "".join(f"<td>{html.escape(_shown(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f'<table id="{table_id}"><tr>{head}</tr>{lines}</table>'
