"""One kept HTTPS connection to the hub, on which a request may be written before the answer to
the one before it has come (HTTP/1.1 pipelining, RFC 9112, 9.3.2).

On GPRS or EDGE a push of several batches paid, for each batch after the first, a round trip
and the hub's apply of the batch before it, in which the link carried nothing. Written ahead,
the next batch is on its way while the hub applies this one, and the hub answers them in the
order they came (uvicorn holds a pipelined request until the one before it is answered).

`Pipelined` is a transport adapter of `requests`, mounted on the client's session for the
hub's address: every call (the round's first request, pages, files) goes on its one
connection, so the batches written ahead follow the round's first request without another
TCP and TLS handshake. h11 frames the messages; this module only keeps the connection, writes
and reads in order, and maps what can go wrong into requests' own exceptions, so the client
treats a cut or refused connection as it always did.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import h11
import requests
from requests.adapters import BaseAdapter
from requests.hooks import dispatch_hook
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.util.wait import wait_for_read

# Bytes read from the socket at a time.
READ_BYTES = 65_536


class _Connection:
    """One TLS connection and the bytes read past the last answer (the next one's start)."""

    def __init__(self, host: str, port: int, cafile: str, timeout: tuple[float, float]) -> None:
        context = ssl.create_default_context(cafile=cafile)
        raw = socket.create_connection((host, port), timeout=timeout[0])
        try:
            self.sock = context.wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise
        self.sock.settimeout(timeout[1])
        self.leftover = b""
        self.in_flight = 0  # requests written whose answers are not read yet
        self.closing = False  # the hub said it closes after the answer read last

    def close(self) -> None:
        with suppress(OSError):
            self.sock.close()


def _dropped(conn: _Connection) -> bool:
    """A kept connection, idle between answers, that the other end has closed (as urllib3
    checks its pooled ones): a request on it would fail. Readable is not enough: TLS 1.3
    session tickets may be waiting, which the TLS layer takes without giving any data. A cut
    that comes after this check fails the call, as any cut does; the next round resends."""
    if conn.in_flight or conn.leftover or not wait_for_read(conn.sock, timeout=0.0):
        return False
    limit = conn.sock.gettimeout()
    conn.sock.setblocking(False)
    try:
        conn.sock.recv(READ_BYTES)
    except (ssl.SSLWantReadError, BlockingIOError):
        return False  # a ticket, no data: still open
    except OSError:
        return True
    finally:
        conn.sock.settimeout(limit)
    return True  # closed (b""), or bytes no request asked for: not to be trusted either


def _errors(exc: BaseException) -> requests.RequestException:
    """What `requests` itself raises for such a failure (sync.client maps those)."""
    if isinstance(exc, ssl.SSLError):
        return requests.exceptions.SSLError(exc)
    if isinstance(exc, socket.timeout):
        return requests.exceptions.ReadTimeout(exc)
    return requests.exceptions.ConnectionError(exc)


class Pipelined(BaseAdapter):
    """A `requests` adapter on one kept connection, with requests written ahead (`ahead`)."""

    def __init__(self) -> None:
        super().__init__()
        self._conn: _Connection | None = None
        self._lock = threading.RLock()  # one exchange (or one pipelined run) at a time

    # ---------------------------------------------------------------- requests' interface

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: bool | str = True, cert: Any = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        with self._lock:
            cycle = self._write(request, timeout, verify)
            return self._read(request, cycle)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ---------------------------------------------------------------- written ahead

    @contextmanager
    def ahead(self, session: requests.Session, timeout: Any, verify: bool | str
              ) -> Iterator[Ahead]:
        """Requests written one after another, their answers read in order (`Ahead`)."""
        with self._lock:
            run = Ahead(self, session, timeout, verify)
            try:
                yield run
            except BaseException:
                self.close()  # answers still on their way would be read as the next call's
                raise
            if run.waiting:
                self.close()

    # ---------------------------------------------------------------- one message each way

    def _connection(self, url: str, timeout: Any, verify: bool | str) -> _Connection:
        if self._conn is not None and _dropped(self._conn):
            self.close()  # the hub (or a NAT) closed it while it was kept: a new one
        if self._conn is None or self._conn.closing:
            self.close()
            parts = urlsplit(url)
            if not isinstance(verify, str):
                raise requests.exceptions.InvalidURL("the hub's pinned certificate is required")
            limits = timeout if isinstance(timeout, tuple) else (timeout, timeout)
            try:
                self._conn = _Connection(parts.hostname or "", parts.port or 443, verify, limits)
            except (OSError, ssl.SSLError) as exc:
                raise _errors(exc) from exc
        return self._conn

    def _write(self, request: requests.PreparedRequest, timeout: Any, verify: bool | str) -> h11.Connection:
        assert request.url is not None
        conn = self._connection(request.url, timeout, verify)
        parts = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        assert isinstance(body, bytes), "the hub's client sends whole bodies"
        headers = [("Host", parts.netloc), *((k, v) for k, v in request.headers.items()
                                             if k.lower() not in ("host", "content-length"))]
        if body or request.method in ("POST", "PUT"):
            headers.append(("Content-Length", str(len(body))))
        cycle = h11.Connection(h11.CLIENT)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        data = cycle.send(h11.Request(method=request.method or "GET", target=target, headers=headers))
        if body:
            data += cycle.send(h11.Data(data=body))
        data += cycle.send(h11.EndOfMessage())
        try:
            conn.sock.sendall(data)
        except (OSError, ssl.SSLError) as exc:
            self.close()
            raise _errors(exc) from exc
        conn.in_flight += 1
        return cycle

    def _read(self, request: requests.PreparedRequest, cycle: h11.Connection) -> requests.Response:
        conn = self._conn
        if conn is None:
            raise requests.exceptions.ConnectionError("the connection was closed")
        try:
            status, reason, headers, body = self._message(conn, cycle)
        except (OSError, ssl.SSLError, h11.ProtocolError) as exc:
            self.close()
            raise _errors(exc) from exc
        conn.in_flight -= 1
        conn.closing = cycle.their_state is h11.MUST_CLOSE or cycle.our_state is h11.MUST_CLOSE
        return _response(request, status, reason, headers, body)

    @staticmethod
    def _message(conn: _Connection, cycle: h11.Connection
                 ) -> tuple[int, str, list[tuple[bytes, bytes]], bytes]:
        if conn.leftover:  # (b"" would tell h11 the connection closed)
            cycle.receive_data(conn.leftover)
            conn.leftover = b""
        status, reason, headers, body = 0, "", [], bytearray()
        while True:
            event = cycle.next_event()
            if event is h11.NEED_DATA:
                cycle.receive_data(conn.sock.recv(READ_BYTES))  # b"": the hub closed it
            elif isinstance(event, h11.Response):
                status, reason = event.status_code, event.reason.decode("latin-1")
                headers = list(event.headers)
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                conn.leftover = cycle.trailing_data[0]  # the next answer's first bytes
                return status, reason, headers, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the hub closed the connection before its answer")
            # h11.InformationalResponse (100 Continue): nothing to keep


class Ahead:
    """A run of requests on the adapter's connection: `write` sends one at once, `read` returns
    the oldest one's answer (after the session's response hooks, as `Session.send` would)."""

    def __init__(self, adapter: Pipelined, session: requests.Session, timeout: Any,
                 verify: bool | str) -> None:
        self.adapter, self.session = adapter, session
        self.timeout, self.verify = timeout, verify
        self._sent: deque[tuple[requests.PreparedRequest, h11.Connection]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._sent)

    def write(self, request: requests.PreparedRequest) -> None:
        self._sent.append((request, self.adapter._write(request, self.timeout, self.verify)))

    def read(self) -> requests.Response:
        request, cycle = self._sent.popleft()
        response = self.adapter._read(request, cycle)
        hooked = dispatch_hook("response", self.session.hooks, response)
        return hooked if isinstance(hooked, requests.Response) else response


def _response(request: requests.PreparedRequest, status: int, reason: str,
              headers: list[tuple[bytes, bytes]], body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = reason
    response.headers = CaseInsensitiveDict({k.decode("latin-1"): v.decode("latin-1") for k, v in headers})
    response._content = body
    response.encoding = get_encoding_from_headers(response.headers)
    response.url = request.url or ""
    response.request = request
    return response
