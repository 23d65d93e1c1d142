"""The open model's sender: answers parsed as HTTP frames them, keep-alive connections reused
(and replaced when the server closed one), timeouts, and orders on schedule into Locust's
statistics, the HDR histograms and the outcome counters."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter

import gevent
import gevent.server
import numpy as np
import pytest

from loadtests.arrivals import OrderStream
from loadtests.latency import Histograms
from loadtests.locust_stats import stats_module
from loadtests.open_model import Dispatcher
from loadtests.open_sender import (
    ORDER_NAME,
    Answer,
    BadAnswer,
    Connections,
    OrderSender,
    TLSConnections,
    connections,
    encode_request,
    parse_answer,
)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"


def test_answers_are_read_as_http_frames_them():
    assert parse_answer(OK) == (200, b"{}", len(OK), False)
    assert parse_answer(OK[:-1]) is None  # the body is not all there yet
    assert parse_answer(OK + b"HTTP/1.1 200") == (200, b"{}", len(OK), False)
    chunked = (b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4\r\nOUT_\r\n8;x=1\r\nOF_STOCK\r\n0\r\n\r\n")
    assert parse_answer(chunked) == (409, b"OUT_OF_STOCK", len(chunked), False)
    assert parse_answer(chunked[:-2]) is None
    closing = b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    assert parse_answer(closing).close is True
    assert parse_answer(b"HTTP/1.1 204 No Content\r\n\r\n").body == b""
    to_eof = b"HTTP/1.0 200 OK\r\n\r\nall of it"
    assert parse_answer(to_eof) is None
    assert parse_answer(to_eof, at_eof=True) == (200, b"all of it", len(to_eof), True)
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" + OK
    assert parse_answer(interim) == (200, b"{}", len(interim), False)
    for broken in (b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 2xx OK\r\n\r\n",
                   b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n"):
        with pytest.raises(BadAnswer):
            parse_answer(broken)
    with pytest.raises(BadAnswer):
        parse_answer(OK[:-1], at_eof=True)


class Server:
    """Reads requests, answers ``/ok`` (keep-alive) and ``/chunked``; closes the connection
    without an answer on ``/drop`` (and on ``/drop-once`` the first time); never answers
    ``/never``."""

    def __init__(self, **tls: str) -> None:
        self.connections = 0
        self.requests: list[bytes] = []
        self.dropped = 0
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self.handle, **tls)
        self.server.start()
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_port}"

    def handle(self, sock, _address) -> None:
        self.connections += 1
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(buf) < length:
                buf += sock.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + buf[:length])
            buf = buf[length:]
            path = head.split(b" ")[1]
            if path == b"/never":
                gevent.sleep(30)
                return
            if path == b"/drop" or (path == b"/drop-once" and not self.dropped):
                self.dropped += 1
                sock.close()
                return
            if path == b"/chunked":
                sock.sendall(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"2\r\n{}\r\n0\r\n\r\n")
            else:
                sock.sendall(OK)

    def stop(self) -> None:
        self.server.stop(timeout=1)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


def send_all(conns: Connections, requests: list[bytes]) -> list[Answer]:
    answers: dict[int, Answer] = {}
    for i, request in enumerate(requests):
        conns.submit(request, answers.__setitem__, i)
    with gevent.Timeout(10):
        while len(answers) < len(requests):
            gevent.sleep(0.01)
    return [answers[i] for i in range(len(requests))]


def test_connections_are_kept_alive_and_reused(server):
    conns = Connections(server.url, connections=4)
    head = conns.head("POST", "/ok", {"Content-Type": "application/json"})
    try:
        for _ in range(3):  # 3 rounds of 4 at once: 4 connections, reused
            answers = send_all(conns, [encode_request(head, b'{"n": 1}')] * 4)
            assert answers == [Answer(200, b"{}")] * 4
        assert server.connections == 4 and len(conns.idle) == 4
        assert server.requests[0].startswith(b"POST /ok HTTP/1.1\r\nHost: 127.0.0.1:")
        assert server.requests[0].endswith(b"Content-Length: 8\r\n\r\n{\"n\": 1}")
        # 10 at once over 4 connections: the others wait for one, none is lost
        chunked = conns.head("POST", "/chunked", {})
        answers = send_all(conns, [encode_request(chunked, b"{}")] * 10)
        assert answers == [Answer(201, b"{}")] * 10 and server.connections == 4
    finally:
        conns.close()


def test_a_used_connection_the_server_closed_is_replaced_and_the_request_sent_again(server):
    conns = Connections(server.url, connections=1)
    ok = encode_request(conns.head("POST", "/ok", {}), b"{}")
    try:
        answers = send_all(conns, [ok])
        # the server closes the used connection as the request arrives: sent again, once
        answers += send_all(conns, [encode_request(conns.head("POST", "/drop-once", {}), b"")])
        assert answers == [Answer(200, b"{}")] * 2
        assert conns.retries == 1 and server.connections == 2 and len(server.requests) == 3
        # on a new connection, or a second time, it is the server's answer: none
        [dropped] = send_all(conns, [encode_request(conns.head("POST", "/drop", {}), b"")])
        assert dropped.status == 0 and isinstance(dropped.error, ConnectionResetError)
        assert conns.retries == 2 and server.dropped == 3
        assert send_all(conns, [ok]) == [Answer(200, b"{}")]
    finally:
        conns.close()


def test_an_unanswered_request_fails_after_the_timeout_and_a_refused_one_at_once(server):
    conns = Connections(server.url, connections=2, network_timeout_s=0.3)
    try:
        never = encode_request(conns.head("GET", "/never", {}), b"")
        [answer] = send_all(conns, [never])
        assert answer.status == 0 and isinstance(answer.error, TimeoutError)
        assert not conns.busy and not conns.idle  # its connection was closed
    finally:
        conns.close()
    port = server.server.server_port
    server.stop()
    refused = Connections(f"http://127.0.0.1:{port}")
    try:
        [answer] = send_all(refused, [b"GET / HTTP/1.1\r\n\r\n"])
        assert answer.status == 0 and isinstance(answer.error, ConnectionRefusedError)
    finally:
        refused.close()


def test_orders_go_on_schedule_into_locusts_stats_and_the_histograms(server):
    n = 120
    send_s = np.arange(n) * 0.004  # 250/s for half a second
    stream = OrderStream(send_s, send_s / 60, np.arange(n) % 2, np.arange(n + 1) * 2,
                         np.tile([0, 1], n), np.ones(2 * n, dtype=int), ("R-A", "R-B"), 1.0, 1.0)
    stats = stats_module().RequestStats(use_response_times_cache=False)

    class Events:
        class request:  # noqa: N801 - Locust's event hook, as the sender fires it
            @staticmethod
            def fire(*, request_type, name, response_time, response_length, exception, **_kw):
                stats.log_request(request_type, name, response_time, response_length)
                if exception:
                    stats.log_error(request_type, name, exception)

    conns = Connections(server.url.replace("127.0.0.1", "localhost"))
    latency, lag, outcomes = Histograms(), Histograms(), Counter[str]()
    orders = OrderSender(conns, Events, stream, client_id="7", headers={"X-Test": "1"},
                         sku_base=1000, latency=latency, outcomes=outcomes)
    try:
        Dispatcher(send_s, submit=orders, lag=lag, counts=outcomes).run()
    finally:
        conns.close()
    assert outcomes["sent"] == outcomes["answered"] == outcomes["orders_created"] == n
    assert stats.entries[(ORDER_NAME, "POST")].num_requests == n
    assert stats.total.num_failures == 0
    assert latency.merged().get_total_count() == lag.merged().get_total_count() == n
    bodies = {r.split(b"\r\n\r\n", 1)[1] for r in server.requests}
    assert b'{"client_id":"7","region":"R-B","lines":[{"sku":1000,"quantity":1},' \
           b'{"sku":1001,"quantity":1}]}' in bodies
    keys = [line for r in server.requests for line in r.split(b"\r\n")
            if line.startswith(b"Idempotency-Key: ")]
    assert len(set(keys)) == n  # one key an order
    assert all(b"X-Test: 1" in r and b"Host: localhost:" in r for r in server.requests)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a key")
def test_https_goes_through_the_tls_pool_with_its_connections_kept(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server = Server(keyfile=str(key), certfile=str(cert))
    conns = connections(server.url, connections=2)
    try:
        assert isinstance(conns, TLSConnections)  # self-signed: not checked, as FastHttpUser
        ok = encode_request(conns.head("POST", "/ok", {}), b"{}")
        assert send_all(conns, [ok] * 6) == [Answer(200, b"{}")] * 6
        assert server.connections <= 2 and len(server.requests) == 6
        [dropped] = send_all(conns, [encode_request(conns.head("POST", "/drop", {}), b"")])
        assert dropped.status == 0
    finally:
        conns.close()
        server.stop()
    server = Server(keyfile=str(key), certfile=str(cert))
    checked = TLSConnections(server.url, insecure=False)
    try:
        [refused] = send_all(checked, [ok])
        assert refused.status == 0 and "CERTIFICATE_VERIFY_FAILED" in str(refused.error)
    finally:
        checked.close()
        server.stop()
