"""The station's side of the wire: signed HTTPS requests to the hub with a pinned certificate.

The hub's certificate is pinned at enrollment: every later request trusts that certificate
and nothing else, so a hub presenting another one is refused. Errors of `requests` are mapped
here into ours, each saying whether trying again later can help (`retryable`).

Every request names this release's protocol and software versions (headers and User-Agent;
the signature covers them), and zstd bodies travel as `application/zstd`, never as a
Content-Encoding the HTTP library might decode on its own (docs/PROTOCOL.md).

Once the hub has named the zstd dictionaries it holds (on its replies), every request names
the station's (signed), and a small zstd body goes compressed with the newest one both hold
(sync/dictionary.py); a reply framed with one is opened here, so every body is treated alike.
"""

from __future__ import annotations

import email.utils
import json
import ssl
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from sync import dictionary
from sync.crypto_suite import INTL_SUITE, SigningKey, suite_of_key
from sync.dictionary import Dictionary
from sync.errors import HubBusy, HubUnreachable, ProtocolRefused, Rejected, StationRevoked, SyncError
from sync.pipeline import Ahead, Pipelined
from sync.protocol import (
    BackupReport,
    PullPage,
    PushBatch,
    Result,
    RoundAnswer,
    RoundAsk,
    decode_answer,
    decode_page,
    decode_results,
    encode_push,
    encode_round,
    opened,
    reframe,
    unpack,
)
from sync.signing import sign
from sync.version import DICTIONARIES_HEADER, PROTOCOL_HEADER, SOFTWARE_HEADER, ZSTD_MEDIA_TYPE, wire_headers

# The status a hub refuses a protocol version with (sync/hub/http.py).
UPGRADE_REQUIRED = 426
NOT_FOUND = 404
# The status a busy hub turns a request away with, naming when to come back (Retry-After).
BUSY = 503
# The longest Retry-After believed: a hub or a proxy in front of it naming hours must not
# silence a station that long (the daemon asks again within ten minutes whatever it says).
MAX_RETRY_AFTER_S = 600.0

# Connect quickly or give up (a dead link should be noticed in seconds); allow longer to read,
# since a large batch on a slow link takes time.
TIMEOUT = (5.0, 60.0)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class PinMismatch(SyncError):
    """The hub presented a certificate other than the one pinned at enrollment."""


class NotOffered(Rejected):
    """The hub has no such call: a release before it answers 404 without a refusal body
    (every refusal of ours names its reason in JSON)."""


def fetch_certificate(hub_url: str, timeout: float = 5.0) -> bytes:
    """The certificate the hub presents now (PEM): what enrollment pins."""
    parts = urlsplit(hub_url)
    if parts.scheme != "https" or not parts.hostname:
        raise SyncError("县级平台地址应为 https://主机:端口", "the hub URL must be https://HOST:PORT")
    try:
        pem = ssl.get_server_certificate((parts.hostname, parts.port or 443), timeout=timeout)
    except (TimeoutError, OSError) as exc:
        raise HubUnreachable(f"连不上县级平台：{exc}", f"cannot reach the hub: {exc}") from exc
    return pem.encode()


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delay-seconds, or an HTTP-date (RFC 9110, 10.2.3),
    bounded to [0, MAX_RETRY_AFTER_S]; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _certificate_refused(exc: BaseException) -> bool:
    """Whether a TLS error is the pinned certificate check failing (and not a cut link):
    requests and urllib3 wrap the `ssl` error, so look through the chain and the args."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(e):
            return True
        todo.extend([*e.args, e.__cause__, e.__context__, getattr(e, "reason", None)])
    return False


class Client:
    def __init__(self, hub_url: str, cert_path: Path, station_id: str, key: SigningKey,
                 clock_ms: Callable[[], int] | None = None, timeout: tuple[float, float] = TIMEOUT) -> None:
        self.base = hub_url.rstrip("/")
        self.cert_path = cert_path
        self.station_id = station_id
        self.key = key
        self.clock_ms = clock_ms or _now_ms
        self.timeout = timeout
        self.session = requests.Session()
        # Every call on one kept connection, on which push batches are written ahead.
        self._adapter = Pipelined()
        self.session.mount(self.base + "/", self._adapter)
        mine = wire_headers()
        self.session.headers.update(mine)
        self.versions = (mine[PROTOCOL_HEADER], mine[SOFTWARE_HEADER])  # what the signature covers
        self.outbox: tuple[int, int] | None = None  # (pending, rejected), told to the hub on pulls
        # What else the station tells the hub for the county's fleet view (docs/PROTOCOL.md,
        # "What a station reports"): its name on enrollment, pushes and pulls, and on pulls
        # where its backup stands. None: not told (the hub keeps what it was told last).
        self.name: str | None = None
        self.backup: BackupReport | None = None
        self.bytes_sent = 0  # bodies on the wire (compressed), for progress and benchmarks
        self.bytes_received = 0
        # Push bodies written ahead whose answers have not come (counted in bytes_sent once
        # they do): a round's byte budget counts them from the moment they leave.
        self.bytes_ahead = 0
        # The zstd dictionaries this station holds (the built-in one, and those of the schema
        # bundles it applied: `hold`), and those the hub named on its latest reply (None: not
        # heard yet, or a hub of a release before dictionaries: no dictionary either way).
        self.hold([dictionary.builtin()])
        self.hub_dictionaries: tuple[int, ...] | None = None
        self.rounds = True  # whether the hub takes a round in one request (POST /v1/sync)

    def hold(self, dictionaries: list[Dictionary]) -> None:
        self.dictionaries = dictionary.held(dictionaries)
        self._raw = {i: d.raw for i, d in self.dictionaries.items()}

    def _framing(self) -> tuple[str | None, bytes | None]:
        """What a request says of dictionaries (None: nothing, to a hub that named none) and
        the one its zstd body goes with (None: none both hold)."""
        if self.hub_dictionaries is None or not self.dictionaries:  # naming none: as before
            return None, None
        common = dictionary.newest_common(self.dictionaries, self.hub_dictionaries)
        return dictionary.format_ids(self.dictionaries.values()), common.raw if common else None

    def _heard(self, response: requests.Response) -> None:
        """Note the dictionaries a hub's answer names; an answer naming none is from a hub that
        has none (or a release before them): nothing more is compressed with one."""
        named = response.headers.get(DICTIONARIES_HEADER)
        self.hub_dictionaries = None if named is None else dictionary.parse_ids(named, DICTIONARIES_HEADER)

    def _send(self, method: str, path: str, body: bytes = b"",
              signed: bool = True, headers: dict[str, str] | None = None) -> bytes:
        request = self._prepare(method, path, body, signed, headers)
        with self._mapped():
            response = self.session.send(request, timeout=self.timeout, verify=str(self.cert_path))
        return self._finish(response)

    def _prepare(self, method: str, path: str, body: bytes = b"", signed: bool = True,
                 headers: dict[str, str] | None = None) -> requests.PreparedRequest:
        """The request as it goes: its zstd body framed with the dictionary both hold, signed."""
        all_headers = dict(headers or {})
        named, framing = self._framing() if signed else (None, None)
        if all_headers.get("Content-Type") == ZSTD_MEDIA_TYPE:
            body = reframe(body, framing)
        if signed:
            all_headers.update(sign(self.key, method, path, body, self.station_id, self.clock_ms(),
                                    versions=self.versions, dictionaries=named))
        return self.session.prepare_request(requests.Request(method, self.base + path, data=body or None,
                                                             headers=all_headers))

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        """`requests`' errors as ours, each saying whether trying again later can help."""
        try:
            yield
        except requests.exceptions.SSLError as exc:
            if _certificate_refused(exc):
                raise PinMismatch("县级平台的证书与注册时不同，已拒绝连接",
                                  "the hub's certificate is not the one pinned at enrollment") from exc
            # Any other TLS failure is a connection cut mid-handshake or mid-record.
            raise HubUnreachable("连不上县级平台（连接中断）",
                                 "cannot reach the hub: the connection was cut") from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise HubUnreachable("连不上县级平台（网络中断或平台未运行）",
                                 f"cannot reach the hub: {type(exc).__name__}") from exc
        except requests.RequestException as exc:  # a reply cut or garbled on the way
            raise HubUnreachable("县级平台的回复在途中中断",
                                 f"the hub's reply was cut on the way: {type(exc).__name__}") from exc

    def _finish(self, response: requests.Response) -> bytes:
        """The answer's JSON bytes (a refusal raised), counted, and what it names noted."""
        sent = response.request.body if response.request is not None else None
        self.bytes_sent += len(sent) if isinstance(sent, bytes) else 0
        self.bytes_received += len(response.content)
        content = self._check(response)
        self._heard(response)
        if response.headers.get("Content-Type") == ZSTD_MEDIA_TYPE:  # never a file's chunk
            content = opened(content, self._raw)
        return content

    @staticmethod
    def _check(response: requests.Response) -> bytes:
        if response.status_code < 400:
            return response.content
        try:
            refusal = response.json()
            message = str(refusal.get("message", response.text))
        except (ValueError, AttributeError):
            refusal, message = None, response.text[:200]
        if response.status_code == NOT_FOUND and not isinstance(refusal, dict):
            raise NotOffered("县级平台版本较旧，不支持此请求", "the hub's release does not offer this call")
        if response.status_code == UPGRADE_REQUIRED:
            raise ProtocolRefused(f"县级平台拒绝：{message}", f"the hub refused: {message}")
        if response.status_code == BUSY:
            raise HubBusy(retry_after(response.headers.get("Retry-After")))
        if response.status_code >= 500:
            error = SyncError(f"县级平台出错（{response.status_code}）", f"hub error {response.status_code}")
            error.retryable = True
            raise error
        if isinstance(refusal, dict) and refusal.get("error") in ("revoked", "revoked_wipe"):
            raise StationRevoked(f"县级平台拒绝：{message}", f"the hub refused: {message}",
                                 wipe=refusal.get("error") == "revoked_wipe")
        raise Rejected(f"县级平台拒绝：{message}", f"the hub refused: {message}")

    def enroll(self, code: str, public_key_b64: str) -> dict[str, Any]:
        ask = {"code": code, "station_id": self.station_id, "public_key": public_key_b64}
        suite = suite_of_key(self.key)
        if suite is not INTL_SUITE:  # a hub reads none as intl, as every release before suites
            ask["crypto"] = suite.name
        body = json.dumps(ask | ({"name": self.name} if self.name is not None else {})).encode()
        reply = self._send("POST", "/v1/enroll", body, signed=False,
                           headers={"Content-Type": "application/json"})
        return dict(json.loads(reply))

    def push(self, batch: PushBatch) -> list[Result]:
        return decode_results(self._send("POST", "/v1/push", encode_push(self._named(batch)),
                                         headers={"Content-Type": ZSTD_MEDIA_TYPE}))

    def pushes(self, batches: Iterator[PushBatch], first: RoundAsk | None = None,
               took: Callable[[RoundAnswer | None], None] | None = None
               ) -> Iterator[tuple[PushBatch, list[Result]]]:
        """Each batch with its results, in order. Each batch is written on the connection
        before the answer to the one before it is read (sync.pipeline), so it travels while
        the hub applies that one; the next batch is taken from `batches` meanwhile.

        `first`: a round's first request (`sync_round`), written before the batches, so the
        second batch travels while the hub answers the round; `took` hears its answer (None
        from a hub before it) before the round's batch is yielded with its results. After a
        None no more batches are written: the round goes call by call from there."""
        with self._mapped(), self._adapter.ahead(self.session, self.timeout, str(self.cert_path)) as run:
            sent: list[tuple[PushBatch | None, int]] = []
            try:
                if first is not None:
                    sent.append((None, self._ahead(run, "/v1/sync", encode_round(self._asked(first)))))
                for batch in batches:
                    sent.append((batch, self._ahead(run, "/v1/push", encode_push(self._named(batch)))))
                    if run.waiting > 1 and not (yield from self._answered(sent.pop(0), run, first, took)):
                        break
                while run.waiting:
                    yield from self._answered(sent.pop(0), run, first, took)
            finally:
                self.bytes_ahead = 0

    def _ahead(self, run: Ahead, path: str, body: bytes) -> int:
        """Write one request of `pushes`; its body's size, in bytes_ahead until its answer."""
        request = self._prepare("POST", path, body, headers={"Content-Type": ZSTD_MEDIA_TYPE})
        run.write(request)
        size = len(request.body or b"")
        self.bytes_ahead += size
        return size

    def _answered(self, sent: tuple[PushBatch | None, int], run: Ahead, first: RoundAsk | None,
                  took: Callable[[RoundAnswer | None], None] | None
                  ) -> Generator[tuple[PushBatch, list[Result]], None, bool]:
        """Read one answer of `pushes`; False when it was a round the hub does not offer."""
        batch, size = sent
        if batch is not None:
            results = decode_results(self._finish(run.read()))  # counted in bytes_sent now
            self.bytes_ahead -= size
            yield batch, results
            return True
        assert first is not None and took is not None
        try:
            answer = decode_answer(self._finish(run.read()))
        except NotOffered:
            self.rounds = False
            took(None)
            return False
        finally:
            self.bytes_ahead -= size
        took(answer)
        if first.batch is not None:
            yield first.batch, answer.results
        return True

    def _named(self, batch: PushBatch) -> PushBatch:
        return replace(batch, name=self.name) if batch.name is None and self.name is not None else batch

    def sync_round(self, ask: RoundAsk) -> RoundAnswer | None:
        """A round's schema check, first push batch and first pull page in one request (POST
        /v1/sync); None from a hub of a release before it, which is then not asked again:
        the round goes call by call, as it did (station.syncer.sync_once)."""
        if not self.rounds:
            return None
        try:
            reply = self._send("POST", "/v1/sync", encode_round(self._asked(ask)),
                               headers={"Content-Type": ZSTD_MEDIA_TYPE})
        except NotOffered:
            self.rounds = False
            return None
        return decode_answer(reply)

    def _asked(self, ask: RoundAsk) -> RoundAsk:
        """The round's ask with what the station says of itself (its name, outbox, backup)."""
        if ask.batch is not None:
            ask = replace(ask, batch=self._named(ask.batch))
        return replace(ask, name=self.name, outbox=self.outbox or (None, None), backup=self.backup)

    def pull(self, cursor: int, limit: int = 1000, schema_version: int | None = None,
             own_after: int | None = None) -> PullPage:
        query = f"cursor={cursor}&limit={limit}" + (f"&schema={schema_version}" if schema_version else "")
        query += f"&own={own_after}" if own_after is not None else ""
        if self.outbox is not None:  # for the county's dashboard: what is still to come from us
            query += f"&pending={self.outbox[0]}&rejected={self.outbox[1]}"
        if self.name is not None:  # percent-encoded: the signed path is ASCII as sent
            query += f"&name={quote(self.name, safe='')}"
        if self.backup is not None:
            query += f"&backup={self.backup.replicated_ms}&backup_behind={self.backup.behind}"
        return decode_page(self._send("GET", f"/v1/pull?{query}"))

    def bundles(self, after: int) -> list[dict[str, Any]]:
        """The county's signed schema bundles after version `after` (checked by the caller)."""
        data = unpack(self._send("GET", f"/v1/schema?after={after}"))
        bundles = data.get("bundles") if isinstance(data, dict) else None
        if not isinstance(bundles, list) or not all(
                isinstance(b, dict) and isinstance(b.get("bundle"), str)
                and isinstance(b.get("signature"), str) for b in bundles):
            raise SyncError("县级平台返回的数据包列表格式不对", "the hub's bundle list is malformed")
        return bundles

    def estimate(self, cursor: int) -> tuple[int, int]:
        """(changes, bytes on the wire) that a pull from `cursor` would bring, by the hub's count."""
        data = json.loads(self._send("GET", f"/v1/estimate?cursor={cursor}"))
        if not isinstance(data, dict) or not all(
                isinstance(data.get(k), int) and not isinstance(data.get(k), bool) and data[k] >= 0
                for k in ("changes", "bytes")):
            raise SyncError("县级平台返回的同步估算格式不对", "the hub's estimate is malformed")
        return int(data["changes"]), int(data["bytes"])

    def probe(self, size: int) -> int:
        """Fetch `size` bytes that do not compress (to time the link); the bytes received."""
        return len(self._send("GET", f"/v1/probe?bytes={size}"))

    # ------------------------------------------------------------------ attachments

    def copy(self) -> Client:
        """Another client for the same station and hub, on a connection of its own (a
        transfer keeps two requests in flight, one per connection)."""
        other = Client(self.base, self.cert_path, self.station_id, self.key, self.clock_ms,
                       self.timeout)
        other.name = self.name
        other.hold(list(self.dictionaries.values()))
        other.hub_dictionaries = self.hub_dictionaries
        other.rounds = self.rounds
        return other

    def missing_chunks(self, files: list[tuple[str, int]]) -> dict[str, list[int]]:
        """For each (sha256, size): the chunks the hub still needs ([] when it has the file)."""
        body = json.dumps({"files": [{"sha256": s, "size": n} for s, n in files]}).encode()
        data = json.loads(self._send("POST", "/v1/files/missing", body,
                                     headers={"Content-Type": "application/json"}))
        missing = data.get("missing") if isinstance(data, dict) else None
        if not isinstance(missing, dict) or not all(
                isinstance(v, list) and all(isinstance(i, int) for i in v) for v in missing.values()):
            raise SyncError("县级平台返回的附件状态格式不对", "the hub's answer about files is malformed")
        return {str(k): [int(i) for i in v] for k, v in missing.items()}

    def put_chunk(self, sha256: str, size: int, idx: int, data: bytes) -> bool:
        """Send one chunk; True when the hub now has the whole file."""
        reply = json.loads(self._send("PUT", f"/v1/files/{sha256}/{idx}?size={size}", data,
                                      headers={"Content-Type": "application/octet-stream"}))
        return bool(reply.get("complete"))

    def attachment_chunk(self, record_id: str, idx: int) -> bytes:
        """One chunk of the file an attachment record (in this station's scope) describes."""
        return self._send("GET", f"/v1/attachments/{record_id}/{idx}")
