"""The open model's sender: pre-encoded HTTP/1.1 requests over keep-alive connections, the
answers read by I/O callbacks in gevent's hub instead of a greenlet per request.

Locust's ``FastHttpSession`` costs about 450 µs of CPU a request on a loaded machine (URL and
cookie handling, header objects, redirects, the response wrapper, a greenlet and its
switches and timeouts), so one process could not send 3,000 scheduled requests a second.
:class:`Connections` keeps what a scheduled request needs: the request line and fixed
headers encoded once (:meth:`Connections.head`), written by the scheduling greenlet itself on
an idle connection (one is opened if none is idle and fewer than ``connections`` are open;
else the request waits for one, and the wait counts in its latency); each connection's
answers are read and parsed (``Content-Length`` or chunked) by a libev watcher callback, and
a callback given with the request is called with the :class:`Answer`. A request unanswered
after ``network_timeout_s`` fails and its connection is closed. HTTPS goes through
geventhttpclient's pool instead, a greenlet per request (:class:`TLSConnections`).

:func:`log_request` puts a result into Locust's statistics through the request event, as
``FastHttpSession`` does, so Locust's tables, CSVs and master/worker reports see it
unchanged. :class:`OrderSender` sends the scenario's orders through it
(``benchmarks/open_generator.py`` measures it against ``FastHttpSession``).
"""

from __future__ import annotations

import _socket  # the unpatched socket type: non-blocking, read from libev callbacks
import logging
import socket
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import gevent
import gevent.socket
import gevent.ssl
import orjson
from geventhttpclient.connectionpool import SSLConnectionPool
from geventhttpclient.response import HTTPConnectionClosed, HTTPSocketPoolResponse

from loadtests.arrivals import OrderStream
from loadtests.latency import Histograms

log = logging.getLogger("peakline.open_sender")

#: buyers' orders (``loadtests/locustfile.py`` sends them too), a row of their own in the stats
ORDERS = "/marketplace/v1/orders"
ORDER_NAME = f"POST {ORDERS}"
#: bytes read at once (an order's answer fits)
READ_SIZE = 65536
_READ = 1  # libev's EV_READ


class Answer(NamedTuple):
    """An answer's status and body; status 0 and ``error`` when none came."""

    status: int
    body: bytes
    error: Exception | None = None


#: ``callback(context, answer)``: called once per request, in the hub (it must not block)
Done = Callable[[Any, Answer], None]


def encode_head(method: str, host: str, path: str, headers: dict[str, str]) -> bytes:
    """A request line and the headers every such request carries, encoded once."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def encode_request(head: bytes, body: bytes, headers: bytes = b"") -> bytes:
    """``head`` (:func:`encode_head`), per-request ``headers`` (``Name: value\\r\\n`` lines)
    and the body."""
    return b"%sContent-Length: %d\r\n%s\r\n%s" % (head, len(body), headers, body)


def _target(base_url: str) -> tuple[str, int, str, str]:
    """Host, port, ``Host`` header and path prefix of an http(s) base URL."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    header = (f"[{host}]" if ":" in host else host) + ("" if parts.port is None else f":{port}")
    return host, port, header, parts.path.rstrip("/")


class _Parse(NamedTuple):
    """A complete answer parsed from the front of a buffer."""

    status: int
    body: bytes
    used: int  # bytes of the buffer it took
    close: bool  # the server closes the connection after it


class BadAnswer(Exception):
    """An answer that is not HTTP/1.x this sender reads."""


def parse_answer(buf: bytes, at_eof: bool = False) -> _Parse | None:
    """The answer at the front of ``buf``, or ``None`` while it is incomplete (``at_eof``:
    the server closed the connection, which ends a body of no stated length)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if at_eof:
            raise BadAnswer("connection closed in the head of an answer")
        return None
    if not buf.startswith(b"HTTP/1."):
        raise BadAnswer(f"not an HTTP/1.x answer: {buf[:40]!r}")
    try:
        status = int(buf[9:12])
    except ValueError:
        raise BadAnswer(f"no status in {buf[:40]!r}") from None
    head = buf[:end + 2].lower()
    close = b"\r\nconnection: close" in head or buf.startswith(b"HTTP/1.0")
    start = end + 4
    if 100 <= status < 200:  # an interim answer: the final one follows
        rest = parse_answer(buf[start:], at_eof)
        return None if rest is None else rest._replace(used=rest.used + start)
    if status in (204, 304):
        return _Parse(status, b"", start, close)
    if b"\r\ntransfer-encoding:" in head and b"chunked" in head:
        return _chunked(buf, start, status, close, at_eof)
    at = head.find(b"\r\ncontent-length:")
    if at < 0:  # the body runs to the end of the connection
        return _Parse(status, buf[start:], len(buf), True) if at_eof else None
    line_end = head.find(b"\r\n", at + 2)
    try:
        length = int(head[at + 17:line_end])
    except ValueError:
        raise BadAnswer("a Content-Length that is not a number") from None
    if len(buf) - start < length:
        if at_eof:
            raise BadAnswer("connection closed in the body of an answer")
        return None
    return _Parse(status, buf[start:start + length], start + length, close)


def _chunked(buf: bytes, at: int, status: int, close: bool, at_eof: bool) -> _Parse | None:
    parts = []
    while True:
        line_end = buf.find(b"\r\n", at)
        if line_end < 0:
            break
        try:
            size = int(buf[at:line_end].split(b";", 1)[0], 16)
        except ValueError:
            raise BadAnswer("a chunk size that is not hex") from None
        if size == 0:
            trailer_end = buf.find(b"\r\n\r\n", line_end)
            if buf[line_end:line_end + 4] == b"\r\n\r\n" or trailer_end >= 0:
                used = line_end + 4 if buf[line_end:line_end + 4] == b"\r\n\r\n" \
                    else trailer_end + 4
                return _Parse(status, b"".join(parts), used, close)
            break
        if len(buf) < line_end + 2 + size + 2:
            break
        parts.append(buf[line_end + 2:line_end + 2 + size])
        at = line_end + 2 + size + 2
    if at_eof:
        raise BadAnswer("connection closed in a chunked body")
    return None


class _Conn:
    """One keep-alive connection: its socket, watcher and the request it waits on."""

    __slots__ = ("buf", "context", "done", "request", "served", "sock", "started", "watcher")

    def __init__(self, sock: Any, watcher: Any) -> None:
        self.sock, self.watcher = sock, watcher
        self.buf = b""
        self.done: Done | None = None
        self.context: Any = None
        self.request = b""
        self.started = 0.0
        self.served = 0  # answers read on it: a server may close a used one when it likes


class Connections:
    """Requests to one ``http://`` host over at most ``connections`` keep-alive connections."""

    def __init__(self, base_url: str, *, connections: int = 1000,
                 connect_timeout_s: float = 10.0, network_timeout_s: float = 20.0) -> None:
        host, port, self.host, self.prefix = _target(base_url)
        if base_url.startswith("https:"):
            raise ValueError("Connections speaks plain HTTP; use TLSConnections for https")
        self.address = (host, port)
        self.limit, self.connect_timeout_s = connections, connect_timeout_s
        self.network_timeout_s = network_timeout_s
        self.loop = gevent.get_hub().loop
        self.idle: list[_Conn] = []  # last used first (warm, and the others may time out)
        self.busy: set[_Conn] = set()
        self.opening = 0
        self.waiting: deque[tuple[bytes, Done, Any, bool]] = deque()
        self.retries = 0  # requests sent again because a used connection had been closed
        self.closed = False
        self._watchdog = gevent.spawn(self._expire_forever)

    def head(self, method: str, path: str, headers: dict[str, str]) -> bytes:
        return encode_head(method, self.host, self.prefix + path, headers)

    def submit(self, request: bytes, done: Done, context: Any = None) -> None:
        """Send ``request`` (complete bytes) now if a connection is free, else as soon as
        one is; ``done(context, answer)`` once it is answered or has failed."""
        self._submit(request, done, context, True)

    def _submit(self, request: bytes, done: Done, context: Any, retry: bool) -> None:
        if self.closed:
            _call(done, context, Answer(0, b"", ConnectionAbortedError("sender closed")))
        elif self.idle:
            self._write(self.idle.pop(), request, done, context, retry)
        elif len(self.busy) + self.opening < self.limit:
            self.opening += 1
            gevent.spawn_raw(self._open, request, done, context)
        else:
            self.waiting.append((request, done, context, retry))

    def _open(self, request: bytes, done: Done, context: Any) -> None:
        try:
            sock = gevent.socket.create_connection(self.address,
                                                   timeout=self.connect_timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw = _socket.socket(sock.family, sock.type, sock.proto, sock.detach())
            raw.setblocking(False)
        except Exception as exc:  # noqa: BLE001 - refused, unreachable, timed out
            self.opening -= 1
            _call(done, context, Answer(0, b"", exc))
            self._next_waiting()
            return
        self.opening -= 1
        conn = _Conn(raw, self.loop.io(raw.fileno(), _READ))
        conn.watcher.start(self._readable, conn)
        if self.closed:
            self._drop(conn)
            _call(done, context, Answer(0, b"", ConnectionAbortedError("sender closed")))
            return
        self._write(conn, request, done, context, False)

    def _write(self, conn: _Conn, request: bytes, done: Done, context: Any,
               retry: bool) -> None:
        conn.done, conn.context, conn.request = done, context, request if retry else b""
        conn.started, conn.buf = time.monotonic(), b""
        self.busy.add(conn)
        try:
            sent = conn.sock.send(request)
        except BlockingIOError:
            sent = 0
        except OSError as exc:  # a used connection the server closed
            self._fail(conn, exc)
            return
        if sent < len(request):  # the socket buffer is full: finish in a greenlet
            gevent.spawn_raw(self._write_rest, conn, request[sent:])

    def _write_rest(self, conn: _Conn, rest: bytes) -> None:
        try:
            while rest and conn.done is not None:
                gevent.socket.wait_write(conn.sock.fileno(), timeout=self.network_timeout_s)
                try:
                    rest = rest[conn.sock.send(rest):]
                except BlockingIOError:
                    continue
        except Exception as exc:  # noqa: BLE001
            if conn.done is not None:
                self._fail(conn, exc)

    def _readable(self, conn: _Conn) -> None:
        """The watcher's callback: read what came, hand over complete answers."""
        try:
            data = conn.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(conn, exc)
            return
        if conn.done is None:  # idle: the server closed it (or talks out of turn)
            self._drop(conn)
            return
        if not data and not conn.buf:  # closed before answering: perhaps as it was reused
            self._fail(conn, ConnectionResetError("the server closed the connection"))
            return
        conn.buf += data
        try:
            answer = parse_answer(conn.buf, at_eof=not data)
        except BadAnswer as exc:
            self._fail(conn, exc)
            return
        if answer is None:
            return
        done, context = conn.done, conn.context
        conn.done, conn.context, conn.request, conn.buf = None, None, b"", b""
        conn.served += 1
        self.busy.discard(conn)
        if answer.close or not data:
            self._drop(conn)
        else:
            self.idle.append(conn)
        _call(done, context, Answer(answer.status, answer.body))
        self._next_waiting()

    def _fail(self, conn: _Conn, exc: Exception) -> None:
        """The connection broke: its request fails, or goes once more on another connection
        if nothing of its answer came on a used connection (the server closed it meanwhile;
        requests that must not be applied twice carry an idempotency key)."""
        done, context, request = conn.done, conn.context, conn.request
        again = bool(request) and conn.served > 0 and not conn.buf and not isinstance(
            exc, (TimeoutError, BadAnswer))
        self._drop(conn)
        if done is None:
            return
        if again:
            self.retries += 1
            self._submit(request, done, context, False)
        else:
            _call(done, context, Answer(0, b"", exc))
            self._next_waiting()

    def _drop(self, conn: _Conn) -> None:
        conn.watcher.stop()
        conn.sock.close()
        self.busy.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        conn.done = None

    def _next_waiting(self) -> None:
        while self.waiting and (self.idle or len(self.busy) + self.opening < self.limit):
            self._submit(*self.waiting.popleft())

    def expire(self) -> None:
        """Fail the requests unanswered for ``network_timeout_s`` (closing their connection)."""
        limit = time.monotonic() - self.network_timeout_s
        for conn in [c for c in self.busy if c.done is not None and c.started < limit]:
            self._fail(conn, TimeoutError(f"no answer within {self.network_timeout_s:g} s"))

    def _expire_forever(self) -> None:
        while not self.closed:
            gevent.sleep(min(0.5, self.network_timeout_s / 4))
            self.expire()

    def close(self) -> None:
        """Close every connection; requests still waiting fail."""
        self.closed = True
        self._watchdog.kill(block=False)
        for conn in [*self.busy, *self.idle]:
            done, context = conn.done, conn.context
            self._drop(conn)
            if done is not None:
                _call(done, context, Answer(0, b"", ConnectionAbortedError("sender closed")))
        while self.waiting:
            _request, done, context, _retry = self.waiting.popleft()
            _call(done, context, Answer(0, b"", ConnectionAbortedError("sender closed")))


class TLSConnections:
    """:class:`Connections` for ``https://``: geventhttpclient's TLS pool, a greenlet per
    request (TLS on non-blocking sockets read from callbacks is not worth its code here).
    Certificates are not checked unless ``insecure`` is false, as ``FastHttpUser`` does."""

    def __init__(self, base_url: str, *, connections: int = 1000,
                 connect_timeout_s: float = 10.0, network_timeout_s: float = 20.0,
                 insecure: bool = True) -> None:
        host, port, self.host, self.prefix = _target(base_url)
        self.pool = SSLConnectionPool(
            host, port, host, port, size=connections, connection_timeout=connect_timeout_s,
            network_timeout=network_timeout_s, insecure=insecure,
            ssl_context_factory=_tls_context(insecure))

    def head(self, method: str, path: str, headers: dict[str, str]) -> bytes:
        return encode_head(method, self.host, self.prefix + path, headers)

    def submit(self, request: bytes, done: Done, context: Any = None) -> None:
        gevent.spawn_raw(lambda: _call(done, context, self.send(request)))

    def send(self, request: bytes) -> Answer:
        for again in (True, False):
            try:
                sock = self.pool.get_socket()
                try:
                    sock.sendall(request)
                except OSError:
                    self.pool.release_socket(sock)
                    raise
                response = HTTPSocketPoolResponse(sock, self.pool, method="POST")
                return Answer(response.status_code, response.read())
            except HTTPConnectionClosed as exc:  # a used connection the server had closed
                if not again:
                    return Answer(0, b"", exc)
            except Exception as exc:  # noqa: BLE001 - refused, timed out, reset
                return Answer(0, b"", exc)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.pool.close()


def _tls_context(insecure: bool) -> Callable[..., gevent.ssl.SSLContext]:
    """A factory of gevent's TLS client contexts (whether or not ``ssl`` is patched): no
    certificate checked if ``insecure``, else against ``cafile`` (certifi's by default)."""

    def factory(cafile: str | None = None, **_kw: Any) -> gevent.ssl.SSLContext:
        context = gevent.ssl.SSLContext(gevent.ssl.PROTOCOL_TLS_CLIENT)
        if insecure:
            context.check_hostname = False
            context.verify_mode = gevent.ssl.CERT_NONE
        else:
            context.load_verify_locations(cafile=cafile)
        return context

    return factory


def connections(base_url: str, **kw: Any) -> Connections | TLSConnections:
    """The sender for ``base_url``: :class:`Connections`, or :class:`TLSConnections`."""
    return (TLSConnections if base_url.startswith("https:") else Connections)(base_url, **kw)


def _call(done: Done, context: Any, answer: Answer) -> None:
    try:
        done(context, answer)
    except Exception:  # in the hub: a failing callback must not stop the others
        log.exception("accounting for an answer failed")


def log_request(events: Any, method: str, name: str, path: str, response_time_ms: float,
                length: int, failure: str | Exception | None = None) -> None:
    """One request into Locust's statistics (its ``request`` event, as a session fires it);
    a ``failure`` given as text is reported as Locust reports ``response.failure(text)``."""
    if isinstance(failure, str):  # Locust is imported (and patches gevent) only in Locust
        from locust.exception import CatchResponseError

        failure = CatchResponseError(failure)
    events.request.fire(request_type=method, name=name, response_time=response_time_ms,
                        response_length=length, exception=failure, context={}, url=path,
                        response=None)


class OrderSender:
    """Submits order ``i`` of a stream (``submit(i, due, finished)``, as the dispatcher
    calls it) and accounts for the answer: Locust's statistics (response time from ``due``,
    the scheduled time), the HDR histograms and the outcome counters of
    ``loadtests/locustfile.py``; then calls ``finished()``.

    A 429 is counted as ``throttled`` in its own row (``... (429)``), a 409 for stock as
    ``orders_out_of_stock``; neither is an error."""

    def __init__(self, client: Connections | TLSConnections, events: Any, stream: OrderStream,
                 *, client_id: str, headers: dict[str, str], sku_base: int = 0,
                 latency: Histograms, outcomes: Counter[str],
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.client, self.events, self.clock = client, events, clock
        self.latency, self.outcomes = latency, outcomes
        self.head = client.head("POST", ORDERS, headers)
        self.client_id = client_id
        self.key_prefix = uuid.uuid4().hex.encode()  # idempotency keys unique to this sender
        self.regions = [stream.region_ids[r] for r in stream.region.tolist()]
        self.line_start = stream.line_start.tolist()
        self.sku = (stream.sku + sku_base).tolist()
        self.qty = stream.qty.tolist()

    def body(self, i: int) -> bytes:
        lo, hi = self.line_start[i], self.line_start[i + 1]
        return orjson.dumps({"client_id": self.client_id, "region": self.regions[i],
                             "lines": [{"sku": sku, "quantity": qty} for sku, qty
                                       in zip(self.sku[lo:hi], self.qty[lo:hi], strict=True)]})

    def __call__(self, i: int, due: float, finished: Callable[[], None]) -> None:
        key = b"Idempotency-Key: %s-%d\r\n" % (self.key_prefix, i)
        self.client.submit(encode_request(self.head, self.body(i), key), self._answered,
                           (due, finished))

    def _answered(self, context: tuple[float, Callable[[], None]], answer: Answer) -> None:
        due, finished = context
        try:
            took = self.clock() - due
            name, status, failure = ORDER_NAME, answer.status, None
            if status == 429:
                name += " (429)"
                self.outcomes["throttled"] += 1
            elif status in (200, 201):
                self.outcomes["orders_created"] += 1
            elif status == 409 and b"OUT_OF_STOCK" in answer.body:
                self.outcomes["orders_out_of_stock"] += 1
            elif status == 0:
                failure = answer.error
            else:
                failure = f"HTTP {status}: {answer.body[:200].decode('utf-8', 'replace')}"
            self.outcomes["answered"] += 1
            self.latency.record(name, took)
            log_request(self.events, "POST", name, ORDERS, took * 1000, len(answer.body),
                        failure)
        finally:
            finished()
