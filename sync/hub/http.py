"""The hub over HTTPS: a small ASGI app (Starlette) in front of `sync.hub.Hub`.

    POST /v1/enroll   JSON {code, station_id, public_key}     (the one unsigned call)
    POST /v1/sync     zstd JSON {schema, push?, cursor, limit, …}, signed
                                                              -> zstd JSON {bundles, results, page}:
                      a round's schema check, first push batch and first pull page in one trip
    POST /v1/push     zstd JSON push batch, signed            -> zstd JSON results
    GET  /v1/pull?cursor=N&limit=M&schema=V[&pending=P&rejected=R&name=…&backup=MS&backup_behind=N],
                      signed                                  -> zstd JSON page
    GET  /, /login, /stations, /schema, /work, /export/…    the county dashboard (sync.hub.pages)
    GET  /v1/schema?after=N, signed                           -> zstd JSON signed bundles
    GET  /v1/estimate?cursor=N, signed                        -> {changes, bytes}: what a pull from N brings
    GET  /v1/probe?bytes=N, signed                            -> N random bytes (≤ 64 KiB), to time a link
    POST /v1/files/missing  JSON {files: [{sha256, size}]}, signed -> {missing: {sha256: [chunk…]}}
    PUT  /v1/files/SHA256/CHUNK?size=N  the chunk's bytes, signed  -> {complete: bool}
    GET  /v1/attachments/RECORD/CHUNK, signed                 -> a chunk of that record's file
    GET  /v1/health                                           -> {ok: true} or 503 {ok: false, reason}
    GET  /metrics     Prometheus text (sync.hub.metrics), loopback or the config's bearer token

Each push and pull call is one log line (`county.sync`, key=value: station, changes in or
out, ms), through stdlib logging to stderr: the journal, under systemd.

Past what it can take, the hub turns a station's sync call away at once with 503 and a
Retry-After (`LoadShed`) rather than letting it wait for a thread and a database connection
until the station's read timeout; health and the dashboard are never turned away.

Every refusal is a 4xx with a JSON body {"error": reason, "message": one line zh (en)}: any of
our errors raised by a handler becomes one (an exception handler of the app, `_refused`). A
protocol version the hub does not speak is refused first, with 426 (sync/hub/versions.py), by
a middleware in front of every /v1/ route. zstd bodies go as `Content-Type: application/zstd`
to a protocol-2 station, and as `Content-Encoding: zstd` to a protocol-1 one, which reads
nothing else.

Every /v1/ reply names the zstd dictionaries the hub holds (`X-Township-Dictionaries`), and a
small zstd reply goes compressed with the newest one the station named as its own
(`Dictionaries`, sync/dictionary.py): never to a station that named none.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sync import dictionary as zdict
from sync import log_lines
from sync.errors import DatabaseDown, HubBusy, NotFound, ProtocolRefused, TownshipError, ValidationError
from sync.hub import county
from sync.hub.config import DEFAULT_POOL_SIZE, CountyConfig
from sync.hub.dashboard import Dashboard
from sync.hub.metrics import CONTENT_TYPE, Metrics, may_read, route_of
from sync.hub.pages import Pages
from sync.hub.rules import Hub
from sync.hub.storage import StationRow
from sync.hub.versions import protocol_of
from sync.protocol import (
    MAX_BODY_BYTES,
    compress,
    decode_push,
    decode_round,
    encode_answer,
    encode_page,
    encode_results,
    reframe,
)
from sync.signing import AuthError, dictionaries_of
from sync.version import DICTIONARIES_HEADER, PROTOCOL_VERSION, ZSTD_MEDIA_TYPE

# How a zstd JSON reply is labelled, by the protocol of the request it answers.
ZSTD_ENCODED = {"Content-Type": "application/json", "Content-Encoding": "zstd"}  # protocol 1
ZSTD_TYPED = {"Content-Type": ZSTD_MEDIA_TYPE}  # protocol 2 on
UPGRADE_REQUIRED = 426
STATUS = {"unsigned": 401, "bad_signature": 401, "expired": 401, "replayed": 409,
          "unknown_station": 403, "revoked": 403, "not_yours": 403, "out_of_scope": 403,
          "revoked_wipe": 403, "not_replacement": 403, "bad_code": 403, "enrolled": 409,
          "wrong_suite": 403}


def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TownshipError)  # the only class it is registered for
    if isinstance(exc, ProtocolRefused):
        # 426 names the protocol to switch to (RFC 9110, 15.5.22); stations map it to an
        # error that is not retried soon.
        return JSONResponse({"error": "protocol", "message": str(exc)}, status_code=UPGRADE_REQUIRED,
                            headers={"Upgrade": f"township-sync/{PROTOCOL_VERSION}"})
    if isinstance(exc, DatabaseDown):
        # Not the station's fault, and likely over soon (a restart, a failover): a busy answer.
        return JSONResponse({"error": "busy", "message": str(HubBusy(RETRY_AFTER_S[1]))}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_S[1])})
    if isinstance(exc, AuthError):
        status, reason = STATUS.get(exc.reason, 403), exc.reason
    elif isinstance(exc, ValidationError):
        status, reason = 400, f"{exc.field}:{exc.rule}"
    elif isinstance(exc, NotFound):
        status, reason = 404, "not_found"
    else:
        status, reason = 400, type(exc).__name__
    return JSONResponse({"error": reason, "message": str(exc)}, status_code=status)


# Seconds an idle connection is kept open: longer than a station reuses one (MAX_IDLE_S in
# station/syncer.py), so a round soon after the last reuses its connection and skips TCP's and
# TLS's handshakes (two round trips and the certificate's bytes; on 2G about a second).
KEEP_ALIVE_S = 30
# Seconds a stopping hub waits for requests in flight. Stations keep idle connections open,
# and closing TLS politely waits for each peer's answer: without a bound, a restart waited
# 30 s for stations that were doing nothing. A request cut here is retried by its station.
SHUTDOWN_S = 3

class ProtocolCheck:
    """Refuse a /v1/ request in a protocol the hub does not speak, before anything of it is
    read, and note the protocol of the others for the handlers (`request.state.protocol`).
    In front of the app's exception handling, so it answers a refusal itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            request = Request(scope)
            try:
                scope.setdefault("state", {})["protocol"] = protocol_of(request.headers)
            except TownshipError as exc:
                await _refused(request, exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Dictionaries:
    """Name the hub's zstd dictionaries on every /v1/ reply, and note for the handlers the one
    a reply to this request may be compressed with (`request.state.dictionary`: the newest
    the station named as its own, or None). Behind ProtocolCheck: a protocol-1 request names
    none (its signature would not cover the header), and its replies go as they always did."""

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        held = self.hub.dictionaries
        try:
            named = dictionaries_of(dict(request.headers))
            ids = zdict.parse_ids(named, DICTIONARIES_HEADER) if named is not None else ()
        except TownshipError as exc:
            await _refused(request, exc)(scope, receive, send)
            return
        common = zdict.newest_common(held, ids)
        scope.setdefault("state", {})["dictionary"] = common.raw if common else None
        ours = (DICTIONARIES_HEADER.lower().encode(), zdict.format_ids(held.values()).encode())

        async def naming(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), ours]  # type: ignore[misc]
            await send(message)

        await self.app(scope, receive, naming)  # type: ignore[arg-type]


# The sync calls a busy hub turns away: each holds a worker thread, and a database connection
# most of its time. Not enrollment (rare, and a person waits on it), health (the load
# balancer's probe must see a busy hub alive) or the dashboard.
SHED_PATHS = ("/v1/sync", "/v1/push", "/v1/pull", "/v1/schema", "/v1/files/", "/v1/attachments/",
              "/v1/estimate", "/v1/probe")
# Sync calls one worker process runs at once, per database connection it holds: one at work
# on each connection and one ready behind it, so no connection waits for work while a call
# that waits, waits about one call's time, far from the station's read timeout (60 s). 500
# stations at once without a limit: p99 30.4 s and 21 timed-out rounds (docs/BENCHMARKS.md).
IN_FLIGHT_PER_CONNECTION = 2
# Database connections one worker holds by default: county.toml's `pool_size` (SQLite's one
# writer takes no more calls at once).
WORKER_CONNECTIONS = DEFAULT_POOL_SIZE
# Seconds a turned-away station is told to wait, drawn at random from this range for each
# answer (whole seconds: Retry-After's delay-seconds), so stations turned away in the same
# second do not come back in the same second; the station adds jitter of its own on top.
RETRY_AFTER_S = (2, 10)
# The environment variable a worker process reads its limit from (0: never turn away).
IN_FLIGHT_ENV = "COUNTY_MAX_IN_FLIGHT"


def in_flight_limit(connections: int = WORKER_CONNECTIONS) -> int:
    """The default limit of sync calls in flight in one worker with `connections` database
    connections (a county of W workers takes W times this at once)."""
    return max(1, IN_FLIGHT_PER_CONNECTION * connections)


def limit_from_environment(environ: Mapping[str, str] = os.environ) -> int | None:
    """The limit named by COUNTY_MAX_IN_FLIGHT (0 turns shedding off), or None for the default."""
    value = environ.get(IN_FLIGHT_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValidationError(IN_FLIGHT_ENV, "integer", "应为 0 或正整数（0 表示不限）",
                              "must be 0 or a positive whole number (0: no limit)")
    return int(value)


class LoadShed:
    """Count the sync calls in flight in this worker; past `limit`, answer a new one at once
    with 503, a Retry-After and the refusal body {"error": "busy", "message": …}, before
    anything of it is read or checked. `limit` 0 turns nothing away. The count needs no lock:
    an ASGI app runs on one event loop. `turned_away` counts the 503s, for metrics."""

    def __init__(self, app: ASGIApp, limit: int | None = None,
                 retry_after: tuple[int, int] = RETRY_AFTER_S, rng: random.Random | None = None) -> None:
        self.app = app
        # None here (an app made without a limit: the tests' in-process hub) turns nothing
        # away; `county serve` gives every worker `in_flight_limit` of its pool unless county IT
        # set another (`app_for`).
        self.limit = 0 if limit is None else limit
        self.retry_after = retry_after
        self.rng = rng or random.Random()
        self.in_flight = 0
        self.turned_away = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(SHED_PATHS):
            await self.app(scope, receive, send)
            return
        if self.limit and self.in_flight >= self.limit:
            self.turned_away += 1
            await self.busy()(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    def busy(self) -> Response:
        # The body the station sent is not read: uvicorn discards it and keeps the connection.
        seconds = self.rng.randint(*self.retry_after)
        return JSONResponse({"error": "busy", "message": str(HubBusy(seconds))}, status_code=503,
                            headers={"Retry-After": str(seconds)})


class Counted:
    """Count every request by route and status (outermost: a shed or refused one too)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app fails before it answers

        async def sending(message: dict[str, object]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])  # type: ignore[call-overload]
            await send(message)

        try:
            await self.app(scope, receive, sending)  # type: ignore[arg-type]
        finally:
            self.metrics.requests.labels(route_of(scope["path"]), str(status)).inc()


# Threads for health checks and scrapes, apart from the requests' (40 by default): a hub busy
# with 500 stations still answers its load balancer's probe.
PROBE_THREADS = 2
log = logging.getLogger("county.sync")


def _zstd(request: Request, body: bytes) -> Response:
    """A zstd JSON reply, framed as the request's protocol reads it: under protocol 2, with
    the dictionary the station holds when there is one (Dictionaries)."""
    if request.state.protocol < 2:
        return Response(body, headers=ZSTD_ENCODED)
    return Response(reframe(body, getattr(request.state, "dictionary", None)), headers=ZSTD_TYPED)


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ValidationError("body", "max_bytes", "请求体过大", f"body is over {MAX_BODY_BYTES} bytes")
    return body


def _whole(query: Mapping[str, str], name: str, default: int) -> int:
    """A query parameter that must be a whole number from 0 to 2^63 - 1 (what the databases
    store; a larger one crashed the SQLite driver: found by the torture suite's fuzzing)."""
    try:
        value = int(query.get(name, str(default)))
    except ValueError:
        value = -1
    if not 0 <= value < 2**63:
        raise ValidationError(name, "integer", f"{name} 应为 0 到 2^63-1 的整数",
                              f"{name} must be a whole number from 0 to 2^63-1")
    return value


# The most bytes a link probe returns: a quarter of a minute of GPRS (35 kbit/s).
MAX_PROBE_BYTES = 64 * 1024
# Files a station may ask about in one request.
MAX_FILES = 1000


def _file_list(body: bytes) -> list[tuple[str, int]]:
    """The (sha256, size) pairs of a /v1/files/missing body; the values are checked later."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ValidationError("body", "json", "不是有效的 JSON", "not valid JSON") from None
    items = data.get("files") if isinstance(data, dict) else None
    if not isinstance(items, list) or len(items) > MAX_FILES or not all(
            isinstance(i, dict) and isinstance(i.get("sha256"), str)
            and isinstance(i.get("size"), int) and not isinstance(i.get("size"), bool) for i in items):
        raise ValidationError("files", "shape", f"应为至多 {MAX_FILES} 个 {{sha256, size}} 的列表",
                              f"must be a list of at most {MAX_FILES} {{sha256, size}} objects")
    return [(i["sha256"], i["size"]) for i in items]


def make_app(hub: Hub, home: Path, max_in_flight: int | None = None,
             retry_after: tuple[int, int] = RETRY_AFTER_S, metrics_token: str | None = None) -> Starlette:
    """The hub's app; `max_in_flight`: sync calls at once before a busy answer (LoadShed);
    `metrics_token`: the bearer token that opens /metrics to other than loopback."""
    metrics = Metrics(hub.station_counts)
    probes: list[anyio.CapacityLimiter] = []  # made on the event loop, at the first probe

    async def probe(work: object) -> object:
        if not probes:
            probes.append(anyio.CapacityLimiter(PROBE_THREADS))
        return await anyio.to_thread.run_sync(work, limiter=probes[0])  # type: ignore[arg-type]

    async def health(request: Request) -> Response:
        try:
            await probe(hub.storage.check)
        except DatabaseDown as exc:
            return JSONResponse({"ok": False, "reason": f"database: {exc.reason}"}, status_code=503)
        return JSONResponse({"ok": True})

    async def exposition(request: Request) -> Response:
        host = request.client.host if request.client else None
        if not may_read(host, request.headers.get("authorization"), metrics_token):
            return JSONResponse({"error": "forbidden", "message": "指标仅限本机或持令牌读取"
                                 " (metrics: loopback or the bearer token only)"}, status_code=403)
        return Response(await probe(metrics.text), media_type=CONTENT_TYPE)

    async def enroll(request: Request) -> Response:
        try:
            data = json.loads(await _body(request))
        except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested past reason
            raise ValidationError("body", "json", "不是有效的 JSON", "not valid JSON") from None
        if not isinstance(data, dict) or not all(
                isinstance(data.get(k), str) for k in ("code", "station_id", "public_key")):
            raise ValidationError("body", "shape", "需要 code、station_id、public_key",
                                  "needs code, station_id and public_key")
        name = data.get("name")  # left off by releases before the fleet view
        if name is not None and not isinstance(name, str):
            raise ValidationError("name", "text", "站点名称应为文本", "the station name must be text")
        crypto = data.get("crypto")  # left off by releases before suites: intl
        if crypto is not None and not isinstance(crypto, str):
            raise ValidationError("crypto", "text", "密码体系应为文本", "the crypto suite must be text")
        station = await run_in_threadpool(hub.enroll, data["code"], data["station_id"],
                                          data["public_key"], name, crypto)
        return JSONResponse({"township": station.township, "grids": list(station.grids),
                             **county.public_keys(home)})

    async def push(request: Request) -> Response:
        started = time.perf_counter()
        body = await _body(request)
        station = await run_in_threadpool(hub.authenticate, dict(request.headers), "POST",
                                          request.url.path, body)
        batch = decode_push(body, hub.wire_dictionaries)
        results = await run_in_threadpool(hub.push, station, batch)
        refused = sum(1 for r in results if r.rejected is not None)
        seconds = time.perf_counter() - started
        metrics.accepted.inc(len(results) - refused)
        metrics.refused.inc(refused)
        metrics.push_seconds.observe(seconds)
        # Ids and counts only: a refusal's reason may quote what a clerk typed.
        log.info(log_lines.line("push", station=station.id, changes_in=len(results),
                                accepted=len(results) - refused, refused=refused,
                                ms=round(seconds * 1000)))
        return _zstd(request, encode_results(results))

    async def sync_round(request: Request) -> Response:
        # A round's first request: what /v1/schema, /v1/push and /v1/pull do, in that order,
        # in one round trip (docs/PROTOCOL.md, "One round, one round trip").
        started = time.perf_counter()
        body = await _body(request)
        station = await signed(request, body)
        ask = await run_in_threadpool(decode_round, body, hub.wire_dictionaries)
        answer = await run_in_threadpool(hub.sync_round, station, ask)
        reply = await run_in_threadpool(encode_answer, answer)
        refused = sum(1 for r in answer.results if r.rejected is not None)
        seconds = time.perf_counter() - started
        metrics.accepted.inc(len(answer.results) - refused)
        metrics.refused.inc(refused)
        metrics.sent.inc(len(answer.page.changes))
        metrics.round_seconds.observe(seconds)
        log.info(log_lines.line("round", station=station.id, changes_in=len(answer.results),
                                accepted=len(answer.results) - refused, refused=refused,
                                bundles=len(answer.bundles), changes_out=len(answer.page.changes),
                                more=answer.page.more, cursor=answer.page.cursor,
                                ms=round(seconds * 1000)))
        return _zstd(request, reply)

    async def pull(request: Request) -> Response:
        started = time.perf_counter()
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        station = await run_in_threadpool(hub.authenticate, dict(request.headers), "GET", path, b"")
        query = request.query_params
        cursor = _whole(query, "cursor", 0)
        limit = min(max(_whole(query, "limit", 1000), 1), 5000)
        version = _whole(query, "schema", 1) if "schema" in query else None
        own = _whole(query, "own", 0) if "own" in query else None
        # What the station says of its outbox (inside the signed path, so it is its word).
        pending, rejected = (_whole(query, k, 0) if k in query else None for k in ("pending", "rejected"))
        outbox = (pending, rejected)
        # And of its backup and its name, for the fleet view (absent from older releases).
        backup_ms, behind = (_whole(query, k, 0) if k in query else None for k in ("backup", "backup_behind"))
        page = await run_in_threadpool(hub.pull, station, cursor, limit, version, own, outbox,
                                       query.get("name"), (backup_ms, behind))
        reply = _zstd(request, encode_page(page))
        seconds = time.perf_counter() - started
        metrics.sent.inc(len(page.changes))
        metrics.pull_seconds.observe(seconds)
        log.info(log_lines.line("pull", station=station.id, changes_out=len(page.changes),
                                more=page.more, cursor=page.cursor, ms=round(seconds * 1000)))
        return reply

    async def schema(request: Request) -> Response:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        await run_in_threadpool(hub.authenticate, dict(request.headers), "GET", path, b"")
        after = _whole(request.query_params, "after", 1)
        bundles = await run_in_threadpool(hub.bundles, after)
        return _zstd(request, compress({"bundles": bundles}))

    async def estimate(request: Request) -> Response:
        station = await signed(request)
        size = await run_in_threadpool(hub.estimate, station, _whole(request.query_params, "cursor", 0))
        return JSONResponse({"changes": size.changes, "bytes": size.bytes})

    async def link_probe(request: Request) -> Response:
        # Bytes that do not compress, for a station to time its link with (station/first_sync.py).
        await signed(request)
        return Response(os.urandom(min(_whole(request.query_params, "bytes", 0), MAX_PROBE_BYTES)),
                        media_type="application/octet-stream")

    async def signed(request: Request, body: bytes = b"") -> StationRow:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return await run_in_threadpool(hub.authenticate, dict(request.headers), request.method,
                                       path, body)

    async def files_missing(request: Request) -> Response:
        body = await _body(request)
        station = await signed(request, body)
        wanted = _file_list(body)
        missing = await run_in_threadpool(hub.blobs.missing, station.id, wanted)
        return JSONResponse({"missing": missing})

    async def file_chunk(request: Request) -> Response:
        body = await _body(request)
        station = await signed(request, body)
        size = _whole(request.query_params, "size", 0)
        complete = await run_in_threadpool(hub.blobs.put, station.id, request.path_params["sha"],
                                           size, request.path_params["idx"], body)
        return JSONResponse({"complete": complete})

    async def attachment_chunk(request: Request) -> Response:
        station = await signed(request)
        data = await run_in_threadpool(hub.attachment_chunk, station, request.path_params["record"],
                                       request.path_params["idx"])
        return Response(data, media_type="application/octet-stream")

    pages = Pages(Dashboard(hub, home))
    return Starlette(routes=[
        *pages.routes(),
        Route("/v1/health", health),
        Route("/metrics", exposition),
        Route("/v1/enroll", enroll, methods=["POST"]),
        Route("/v1/sync", sync_round, methods=["POST"]),
        Route("/v1/push", push, methods=["POST"]),
        Route("/v1/pull", pull, methods=["GET"]),
        Route("/v1/schema", schema, methods=["GET"]),
        Route("/v1/estimate", estimate, methods=["GET"]),
        Route("/v1/probe", link_probe, methods=["GET"]),
        Route("/v1/files/missing", files_missing, methods=["POST"]),
        Route("/v1/files/{sha}/{idx:int}", file_chunk, methods=["PUT"]),
        Route("/v1/attachments/{record}/{idx:int}", attachment_chunk, methods=["GET"]),
    ], exception_handlers={TownshipError: _refused, **pages.exception_handlers()},
        middleware=[Middleware(Counted, metrics=metrics),
                    Middleware(LoadShed, limit=max_in_flight, retry_after=retry_after),
                    Middleware(ProtocolCheck), Middleware(Dictionaries, hub=hub)])


# Where `county serve` names the config file its worker processes read (beside COUNTY_HOME).
CONFIG_ENV = "COUNTY_CONFIG"


def app_for(home: Path, settings: CountyConfig) -> Starlette:
    """The app `county serve` runs: the config's database, pool and metrics token, and the
    in-flight limit of COUNTY_MAX_IN_FLIGHT, else of the config, else two calls per database
    connection of the pool (`in_flight_limit`: 20 for the default pool of 10). At 500
    stations at once on 2 cores that limit answered its 503s in 2.1 s at p99 and every change
    was accepted in 39-41 s with no error; without it, pushes waited up to 14 s in the hub
    (docs/BENCHMARKS.md, "Load shedding")."""
    in_flight = limit_from_environment()
    if in_flight is None:
        in_flight = settings.max_in_flight
    if in_flight is None:
        in_flight = in_flight_limit(settings.pool_size)
    return make_app(county.open_hub(home, settings), home, in_flight,
                    metrics_token=settings.metrics_token)


def app_from_environment() -> Starlette:
    """The app for one of several worker processes (`county serve --workers N`): each opens
    the hub in the county home named by COUNTY_HOME, with the config of COUNTY_CONFIG."""
    home = Path(os.environ["COUNTY_HOME"])
    extra = os.environ.get(CONFIG_ENV)
    log_lines.to_stderr("county")
    return app_for(home, county.load_config(home, Path(extra) if extra else None))
