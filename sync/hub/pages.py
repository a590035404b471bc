"""The county dashboard's pages for county IT, served by the hub at `/` over its HTTPS.

    GET  /login, POST /login, POST /logout
    GET  /stations                   every station: last seen, last push, schema, changes
    GET  /fleet                      every station's health, what needs attention first
    POST /stations/enroll            a one-time enrollment code, shown once          (admin)
    POST /stations/{id}/revoke       refused at the station's next request           (admin)
    GET  /schema, POST /schema/preview, POST /schema/publish    schema bundles   (POST: admin)
    GET  /work                       the work figures;  GET /export/NAME.csv|xlsx  any table
    GET  /audit?page=N               the audit trail, newest first                   (admin)
    GET  /stations/{id}/audit        a station's own trail as it synced it, and its chain (admin)

No page or data without a login (a GET goes to the login page, a POST is refused with 403);
what only an admin may do is refused to a viewer with 403 however it is asked for (the pages
also leave out its buttons); every action goes into the audit trail (`sync.hub.access`);
every form carries its session's CSRF token and a POST without it is refused; the login form
itself uses a double-submit cookie. Pages are Chinese first with the English beneath, and
load nothing from outside (county networks are closed). The HTML is in `templates/`, Jinja2
with autoescaping on, so a value can only reach a page escaped; what the pages show comes
from `sync.hub.dashboard.Dashboard`.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from sync.audit_chain import ACTIONS as chain_actions
from sync.bundle import MAX_BUNDLE_BYTES
from sync.clock import is_node
from sync.errors import AdminOnly, LoginThrottled, TownshipError
from sync.hub.access import SESSION_S
from sync.hub.accounts import ADMIN, ROLES
from sync.hub.audit import Actor
from sync.hub.dashboard import FLEET_COLUMNS, SESSION_COOKIE, STATION_COLUMNS, TABLES, Dashboard
from sync.hub.tables import Label, bars, shown, to_csv, to_xlsx, when
from sync.report import Period, period_of

LOGIN_COOKIE = "ts_login"
SHOWN = 500  # a station's newest audit entries on its page (the chain is checked whole)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_TOWNSHIP = re.compile(r"\d{9}")
_GRID = re.compile(r"\d{12}")
# Every page: never cached (it shows a session's CSRF token), never framed, and allowed to
# load nothing but its own inline style and the charts drawn into it.
HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                      "img-src 'self' data:; form-action 'self'"}
PAGE_RULE = "字段 page：页码为正整数 (field page: a page number is a whole number from 1)"
ENROLL_RULE = ("乡镇代码为 9 位数字；网格代码为该乡镇下的 12 位数字，以空格分隔",
               "township: 9 digits; grids: 12-digit codes in that township, space-separated")


class LoginRequired(TownshipError):
    """No live session: a page is asked for, or a form posted, without logging in."""


class FormExpired(TownshipError):
    """A form was posted without its session's CSRF token (an old page, or another site)."""


@dataclass(frozen=True)
class Visit:
    """Who is signed in, the CSRF token every form of theirs carries, and their role."""

    account: str
    csrf: str
    role: str

    @property
    def admin(self) -> bool:
        return self.role == ADMIN

    @property
    def role_label(self) -> tuple[str, str]:
        return ROLES.get(self.role, (self.role, self.role))


def address(request: Request) -> str:
    return request.client.host if request.client else ""


def actor(request: Request) -> Actor:
    """Who acts in this request, for the audit trail: the visit's account, or nobody yet."""
    visit = getattr(request.state, "visit", None)
    return Actor(visit.account, visit.role, address(request)) if visit else Actor("", "", address(request))


def cell(value: Any) -> Markup:
    """A table cell: a code's label Chinese first with its English (or code) beneath, a
    figure as `shown` gives it. Escaped here, since the result is marked safe."""
    if isinstance(value, Label):
        en = value.en if value.en and value.en != value else ""
        return Markup("{}<br><span class=\"en\">{}</span>").format(value, en) if en else Markup.escape(value)
    return Markup.escape(shown(value))


def period_query(period: Period | None) -> str:
    """The query string that asks for a period again (an export of the figures shown)."""
    if period is None:
        return ""
    if period.name == f"{period.first:%Y-%m}":
        return "?" + urlencode({"month": period.name})
    return "?" + urlencode({"from": period.first.isoformat(), "to": period.last.isoformat()})


def asked_period(request: Request) -> Period | None:
    """The period of a GET form (month=YYYY-MM, or from= and to=): ValidationError if wrong."""
    q = request.query_params
    return period_of(q.get("month") or None, q.get("from") or None, q.get("to") or None)


def chart(items: Sequence[tuple[str, float]], top: float | None = None, unit: str = "") -> Markup:
    """A bar chart for a page, scaled to `top` or else to its tallest bar (at least 1). Marked
    safe for the templates because `bars` escapes every label and value itself."""
    if top is None:
        top = max([value for _, value in items] + [1])
    return Markup(bars(items, top, unit))


def templates() -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.PackageLoader("sync.hub", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(shown=shown, when=when, cell=cell)
    env.globals.update(chart=chart)
    return Jinja2Templates(env=env)


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


def _text(form: dict[str, Any], name: str) -> str:
    """A text field, or '' (for a file posted under a text field's name, too)."""
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _same(given: str, expected: str) -> bool:
    # In constant time; as bytes, because compare_digest refuses a str that is not ASCII.
    return secrets.compare_digest(given.encode(), expected.encode())


def _title(exc: Exception) -> tuple[str, str]:
    assert isinstance(exc, TownshipError)  # the handlers are only registered for ours
    return exc.zh, exc.en


def _redirect(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


class Pages:
    """One handler per route; the login and CSRF checks end in exception handlers."""

    def __init__(self, board: Dashboard) -> None:
        self.board = board
        self.templates = templates()

    def page(self, request: Request, name: str, title: tuple[str, str], status: int = 200,
             **context: Any) -> Response:
        visit = getattr(request.state, "visit", None)
        return self.templates.TemplateResponse(request, name, {"title": title, "visit": visit, **context},
                                               status_code=status, headers=HEADERS)

    async def signed_in(self, request: Request, admin: str = "", target: str = "") -> dict[str, Any]:
        """The posted fields (none for a GET), once the session is live and, for a POST, its
        CSRF token is in the form: else LoginRequired or FormExpired. With `admin` (the
        action, as the audit trail names it), AdminOnly for a viewer, and the refusal is
        audited."""
        token = request.cookies.get(SESSION_COOKIE)
        found = await run_in_threadpool(self.board.access.session, token) if token else None
        if found is None:
            raise LoginRequired("请先登录", "Log in first")
        request.state.visit = visit = Visit(*found)
        form: dict[str, Any] = {}
        if request.method == "POST":
            form = await _form(request)
            if not _same(_text(form, "csrf"), visit.csrf):
                raise FormExpired("表单已失效", "The form has expired: CSRF token missing or wrong")
        if admin and not visit.admin:
            await self.audit(request, admin, target, "forbidden")
            raise AdminOnly()
        return form

    async def audit(self, request: Request, action: str, target: str = "", outcome: str = "ok") -> None:
        await run_in_threadpool(self.board.access.record, actor(request), action, target, outcome)

    # ---------------------------------------------------------------- errors

    def exception_handlers(self) -> dict[Any, Callable[[Request, Exception], Response]]:
        return {LoginRequired: self.login_required, FormExpired: self.form_expired,
                AdminOnly: self.admin_only}

    def login_required(self, request: Request, exc: Exception) -> Response:
        if request.method == "GET":
            return _redirect("/login")
        return self.message(request, _title(exc), 403)

    def form_expired(self, request: Request, exc: Exception) -> Response:
        return self.message(request, _title(exc), 403, back="/stations")

    def admin_only(self, request: Request, exc: Exception) -> Response:
        return self.message(request, _title(exc), 403, back="/stations")

    def message(self, request: Request, title: tuple[str, str], status: int, error: str = "",
                back: str = "") -> Response:
        """A page that says one thing (under its title), with a way back."""
        return self.page(request, "message.html", title, status, error=error, back=back)

    # ---------------------------------------------------------------- logging in and out

    async def login_page(self, request: Request) -> Response:
        return self.login_form(request)

    def login_form(self, request: Request, error: tuple[str, str] | None = None, error_id: str = "",
                   status: int = 200) -> Response:
        nonce = secrets.token_urlsafe(24)
        response = self.page(request, "login.html", ("登录", "Log in"), status, nonce=nonce, error=error,
                             error_id=error_id)
        response.set_cookie(LOGIN_COOKIE, nonce, max_age=600, httponly=True, secure=True,
                            samesite="strict")
        return response

    async def login(self, request: Request) -> Response:
        form = await _form(request)
        if not _same(_text(form, "login_csrf"), request.cookies.get(LOGIN_COOKIE, "-")):
            return self.login_form(request, ("表单已失效，请重试", "The form expired; try again"), status=403)
        try:
            session = await run_in_threadpool(self.board.log_in, _text(form, "name"), _text(form, "password"),
                                              address(request))
        except LoginThrottled as exc:
            return self.login_form(request, _title(exc), "login-error", 429)
        if session is None:
            wrong = ("账号或密码不对", "Wrong account or password")
            return self.login_form(request, wrong, "login-error", 401)
        response = _redirect("/stations")
        response.set_cookie(SESSION_COOKIE, session[0], max_age=SESSION_S, httponly=True, secure=True,
                            samesite="strict")
        response.delete_cookie(LOGIN_COOKIE)
        return response

    async def logout(self, request: Request) -> Response:
        await self.signed_in(request)
        await run_in_threadpool(self.board.access.log_out, request.cookies.get(SESSION_COOKIE, ""),
                                actor(request))
        response = _redirect("/login")
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def home(self, request: Request) -> Response:
        await self.signed_in(request)
        return _redirect("/stations")

    # ---------------------------------------------------------------- stations

    async def stations(self, request: Request) -> Response:
        await self.signed_in(request)
        return await self.stations_page(request)

    async def stations_page(self, request: Request, error: tuple[str, str] | None = None,
                            status: int = 200) -> Response:
        rows = await run_in_threadpool(self.board.stations)
        lags = [(str(r["label"]), int(r["lag"])) for r in rows
                if r["lag"] is not None and not r["revoked_at"]]
        return self.page(request, "stations.html", ("站点", "Stations"), status, rows=rows,
                         columns=STATION_COLUMNS, lags=lags, error=error)

    async def enroll(self, request: Request) -> Response:
        form = await self.signed_in(request, admin="enroll")
        township, grids = _text(form, "township").strip(), _text(form, "grids").split()
        if not _TOWNSHIP.fullmatch(township) or not all(_GRID.fullmatch(g) and g.startswith(township)
                                                        for g in grids):
            # Not what was typed: whatever it was, the audit trail keeps only codes.
            await self.audit(request, "enroll", "", "refused")
            return await self.stations_page(request, ENROLL_RULE, 400)
        code = await run_in_threadpool(self.board.hub.add_enrollment, township, grids)
        await self.audit(request, "enroll", " ".join([township, *grids]))
        return self.page(request, "enrolled.html", ("注册码", "Enrollment code"), code=code)

    async def revoke(self, request: Request) -> Response:
        station = request.path_params["station"]
        station = station if is_node(station) else ""  # the audit keeps only what can be an id
        await self.signed_in(request, admin="revoke", target=station)
        revoked = await run_in_threadpool(self.board.hub.revoke, station)
        await self.audit(request, "revoke", station, "ok" if revoked else "refused")
        return _redirect("/stations")

    async def fleet(self, request: Request) -> Response:
        await self.signed_in(request)
        rows = await run_in_threadpool(self.board.fleet)
        return self.page(request, "fleet.html", ("站点运行状况", "Fleet"), rows=rows,
                         columns=FLEET_COLUMNS)

    # ---------------------------------------------------------------- schema bundles

    async def schema(self, request: Request) -> Response:
        await self.signed_in(request)
        _, rows = await run_in_threadpool(self.board.table, "schema")
        rollout = [(f"v{v}" if v is not None else "未报告 unknown", s) for v, _name, _at, s in rows]
        return self.page(request, "schema.html", ("数据版本", "Schema versions"), rows=rows, rollout=rollout)

    async def schema_preview(self, request: Request) -> Response:
        raw = (await self.signed_in(request, admin="preview")).get("bundle") or b""
        raw = raw.encode() if isinstance(raw, str) else raw
        bundle, refused = await run_in_threadpool(self.board.preview, raw)
        if bundle is None:
            return self.page(request, "preview.html", ("数据包预览", "Bundle preview"), 400, refused=refused)
        return self.page(request, "preview.html", ("数据包预览", "Bundle preview"), refused="", bundle=bundle,
                         operations=[json.dumps(op, ensure_ascii=False) for op in bundle.operations],
                         raw=base64.b64encode(raw).decode())

    async def schema_publish(self, request: Request) -> Response:
        form = await self.signed_in(request, admin="publish")
        try:
            raw = base64.b64decode(form.get("raw", ""), validate=True)
            bundle = await run_in_threadpool(self.board.publish, raw)
        except (ValueError, TownshipError) as exc:
            await self.audit(request, "publish", "", "refused")
            return self.message(request, ("未发布", "Not published"), 400, error=str(exc))
        await self.audit(request, "publish", f"v{bundle.version}")
        return _redirect("/schema")

    # ---------------------------------------------------------------- work figures and exports

    async def work(self, request: Request) -> Response:
        await self.signed_in(request)
        try:
            period = asked_period(request)
        except TownshipError as exc:
            return self.message(request, ("统计期间有误", "Wrong period"), 400, error=str(exc), back="/work")
        figures = await run_in_threadpool(self.work_figures, period)
        return self.page(request, "work.html", ("工作统计", "Work"), **figures)

    def work_figures(self, period: Period | None = None) -> dict[str, Any]:
        """What the work page shows (in a worker thread: sums over the kept facts)."""
        board = self.board
        labels, report = board.labels(), board.report(period)
        headers, rows = board.table("work", period, report, labels)
        rate = headers.index("incidents_closure_rate") if "incidents_closure_rate" in headers else None
        base_headers, base_rows = board.table("base_data", period, report, labels)
        history_days = 14
        return {"headers": [labels.heading(h) for h in headers], "rows": rows, "days": history_days,
                "rates": None if rate is None else [(str(r[0]), float(r[rate] or 0)) for r in rows],
                "history": board.closure_history(history_days),
                "departments": board.table("departments", period, report, labels)[1],
                "volunteers": board.table("volunteers", period)[1],
                "base_headers": [Label("乡镇（街道）", "Township", "township")]
                + [labels.entity(e) for e in base_headers[1:]], "base_rows": base_rows,
                "period": period, "query": period_query(period),
                "conflicts": board.hub.open_conflict_count(), "duplicates": board.hub.duplicate_count()}

    async def export(self, request: Request) -> Response:
        await self.signed_in(request)
        name, kind = request.path_params["name"], request.path_params["kind"]
        if name not in TABLES or kind not in ("csv", "xlsx"):
            return self.message(request, ("没有这个表", "No such table"), 404)
        try:
            period = asked_period(request)
        except TownshipError as exc:
            return self.message(request, ("统计期间有误", "Wrong period"), 400, error=str(exc), back="/work")
        headers, rows = await run_in_threadpool(self.board.table, name, period)
        await self.audit(request, "export", f"{name}.{kind}{period_query(period)}")
        body = to_csv(headers, rows) if kind == "csv" else to_xlsx(name, headers, rows)
        media = "text/csv; charset=utf-8" if kind == "csv" else XLSX
        filename = f"{name}-{period.name.replace('..', '_')}" if period else name
        return Response(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="{filename}.{kind}"', "Cache-Control": "no-store"})

    # ---------------------------------------------------------------- the audit trail

    async def audit_page(self, request: Request) -> Response:
        await self.signed_in(request, admin="audit")
        page = request.query_params.get("page", "1")
        if not (page.isdigit() and 0 < int(page) < 10**9):
            return self.message(request, ("页码有误", "Wrong page"), 400, error=PAGE_RULE, back="/audit")
        entries, pages = await run_in_threadpool(self.board.access.audit, int(page))
        return self.page(request, "audit.html", ("审计记录", "Audit trail"),
                         rows=[e.shown() for e in entries], page=int(page), pages=pages)

    async def station_audit(self, request: Request) -> Response:
        """A station's audit trail as it sent it, the newest SHOWN entries, and whether its
        whole chain holds (admins: it names who looked at whose records)."""
        station = request.path_params["station"]
        await self.signed_in(request, admin="audit", target=station)
        hub = self.board.hub
        count, broken = await run_in_threadpool(hub.audit_check, station)
        entries = await run_in_threadpool(hub.audit_trail, station, SHOWN)
        rows = [{"seq": e.seq, "at": when(e.at), "clerk": e.clerk or "—", "role": e.role,
                 "action": chain_actions.get(e.action, (e.action, e.action)),
                 "target": e.target or "—",
                 "detail": "" if e.detail == "{}" else e.detail} for e in entries]
        said = None if broken is None else (f"链条断裂：{broken.line('zh')}",
                                            f"the chain is broken: {broken.line('en')}")
        return self.page(request, "station_audit.html",
                         (f"站点审计记录：{station}", f"Station audit trail: {station}"),
                         rows=rows, count=count, broken=said)

    def routes(self) -> list[Route]:
        return [
            Route("/audit", self.audit_page, methods=["GET"]),
            Route("/stations/{station}/audit", self.station_audit, methods=["GET"]),
            Route("/schema", self.schema, methods=["GET"]),
            Route("/schema/preview", self.schema_preview, methods=["POST"]),
            Route("/schema/publish", self.schema_publish, methods=["POST"]),
            Route("/work", self.work, methods=["GET"]),
            Route("/export/{name}.{kind}", self.export, methods=["GET"]),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/", self.home, methods=["GET"]),
            Route("/stations", self.stations, methods=["GET"]),
            Route("/fleet", self.fleet, methods=["GET"]),
            Route("/stations/enroll", self.enroll, methods=["POST"]),
            Route("/stations/{station}/revoke", self.revoke, methods=["POST"]),
        ]
