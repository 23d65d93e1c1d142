"""The served backend: ``peakline serve`` from the CLI (one worker or several), and durability
across a SIGKILL."""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest
from sqlalchemy import func, select

from reference_backend.db import Database
from reference_backend.tables import Order, Posting, PostingItem, Stock
from reference_backend.workers import BALANCED, ReusePortListeners, reuse_port_socket
from simulator.lifecycle import PostingStatus
from tests.backend_support import (
    ROOT,
    ServerProcess,
    free_port,
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    seeded_sqlite,
    seller_headers,
)


def _order_body(creds: dict, sku_offset: int = 0) -> dict:
    return {"client_id": creds["client_id"], "region": "R-MSK",
            "lines": [{"sku": creds["sku_base"] + sku_offset, "quantity": 1}]}


@contextlib.contextmanager
def _peakline_serve(url: str, *options: str, env: dict[str, str] | None = None
                    ) -> Iterator[tuple[subprocess.Popen, str]]:
    """``peakline serve`` on a free port, up (``/health`` answers); stopped by SIGTERM. When
    it does not come up (adaptive wait, up to 120 s) the failure shows what it wrote."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "peakline", "serve", "--db", url, "--port", str(port),
         *options], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, pause = time.monotonic() + 120, 0.05
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(pause)
                pause = min(pause * 1.5, 1.0)
        else:
            process.terminate()
            _, stderr = process.communicate(timeout=20)
            pytest.fail(f"peakline serve did not come up (exit {process.returncode}):\n"
                        f"{stderr.decode(errors='replace')[-3000:]}")
        yield process, base
    finally:
        process.terminate()
        process.wait(20)


@pytest.mark.slow
def test_peakline_serve_cli(tmp_path):
    url, creds = seeded_sqlite(tmp_path)
    with _peakline_serve(url) as (process, base):
        created = httpx.post(base + "/marketplace/v1/orders", json=_order_body(creds),
                             headers=platform_headers(creds))
        assert created.status_code == 201
        alerts = httpx.get(base + "/peakline/v1/alerts", headers=seller_headers(creds))
        assert alerts.status_code == 200
        assert "POST" in httpx.get(base + "/metrics").text
        assert httpx.get(base + "/docs").status_code == 200
    stderr = process.stderr.read().decode()
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught
    assert process.returncode in (0, -15), stderr[-2000:]
    assert "Application shutdown complete" in stderr


def _listening_workers(process: subprocess.Popen, port: int) -> list[list[tuple[str, int]]]:
    """The (status, local port) of each TCP socket of each worker listening on ``port``."""
    sockets = [[(c.status, c.laddr.port) for c in child.net_connections("tcp")]
               for child in psutil.Process(process.pid).children()]
    return [s for s in sockets if (psutil.CONN_LISTEN, port) in s]


def _wait_for_listening_workers(process: subprocess.Popen, port: int, count: int) -> None:
    deadline = time.monotonic() + 120  # (a loaded machine starts workers slowly)
    while len(_listening_workers(process, port)) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{count} workers did not all listen on port {port}")
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.skipif(not BALANCED, reason="the kernel balances SO_REUSEPORT groups on Linux")
def test_serve_spreads_connections_over_its_workers(tmp_path):
    """Each worker listens on a socket of its own and the kernel deals connections out to
    all (on uvicorn's one shared socket, this test saw 32 connections split 2/30)."""
    url, _ = seeded_sqlite(tmp_path)
    with _peakline_serve(url, "--workers", "2") as (process, base):
        port = int(base.rpartition(":")[2])
        _wait_for_listening_workers(process, port, 2)  # /health answers once one is up
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
        try:
            for sock in clients:  # an answer on each: each is accepted by a worker
                sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            workers = _listening_workers(process, port)
            held = sorted(s.count((psutil.CONN_ESTABLISHED, port)) for s in workers)
        finally:
            for sock in clients:
                sock.close()
    assert len(workers) == 2
    assert sum(held) == 32
    assert held[0] >= 4, held  # an even deal: fewer than 4 of 32 has odds of ~3 in a million


def _samples(text: str, name: str) -> list[tuple[str, float]]:
    """(labels, value) of each sample of ``name`` in a Prometheus text answer."""
    return [(line[len(name):].rpartition(" ")[0], float(line.rpartition(" ")[2]))
            for line in text.splitlines() if line.startswith((name + "{", name + " "))]


@pytest.mark.slow
@pytest.mark.skipif(not BALANCED, reason="the kernel balances SO_REUSEPORT groups on Linux")
def test_metrics_of_several_workers_add_up(tmp_path):
    """With two workers, a scrape answered by either counts the requests of both; the push
    queue depth, read from the database when scraped, is there once, not 0 per worker."""
    url, creds = seeded_sqlite(tmp_path)
    with _peakline_serve(url, "--workers", "2",
                         env={"PEAKLINE_PUSH_ALLOW_PRIVATE_TARGETS": "true"}) as (process, base):
        _wait_for_listening_workers(process, int(base.rpartition(":")[2]), 2)
        hook = httpx.post(base + "/peakline/v1/webhooks", headers=seller_headers(creds),
                          json={"url": f"http://127.0.0.1:{free_port()}/nobody-listens"})
        assert hook.status_code == 201, hook.text
        for i in range(24):  # a connection each: the kernel deals them out to both workers
            created = httpx.post(base + "/marketplace/v1/orders", json=_order_body(creds, i % 3),
                                 headers={**platform_headers(creds), "Idempotency-Key": f"m{i}"})
            assert created.status_code == 201, created.text
        scrapes = [httpx.get(base + "/metrics").text for _ in range(6)]
    for text in scrapes:
        orders = [value for labels, value in _samples(text, "http_requests_total")
                  if 'handler="/marketplace/v1/orders"' in labels and 'method="POST"' in labels]
        assert sum(orders) == 24, orders
        depth = _samples(text, "peakline_outbox_pending_events")
        assert len(depth) == 1 and depth[0][1] > 0, depth  # undeliverable events wait


def test_serve_with_workers_names_a_port_in_use(tmp_path):
    url, _ = seeded_sqlite(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "peakline", "serve", "--db", url, "--port", str(port),
             "--workers", "2"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_each_worker_unpickles_a_listening_socket_of_its_own():
    listeners = ReusePortListeners("127.0.0.1", 0)
    assert list(listeners) == []  # the parent holds no listening socket
    with reuse_port_socket("127.0.0.1", 0) as reserved:
        port = reserved.getsockname()[1]
        first, second = (pickle.loads(pickle.dumps(ReusePortListeners("127.0.0.1", port)))
                         for _ in range(2))
        try:
            assert [s.getsockname()[1] for s in (*first, *second)] == [port, port]
            assert first[0].fileno() != second[0].fileno()
        finally:
            for sock in (*first, *second):
                sock.close()


def test_serve_rejects_a_bad_database_url():
    done = subprocess.run(
        [sys.executable, "-m", "peakline", "serve", "--db", "mysql://nope/x"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "DATABASE_URL" in done.stderr


def _stream_orders(base_url: str, creds: dict, answered: list[int], stop: threading.Event) -> None:
    headers = platform_headers(creds)
    with httpx.Client(base_url=base_url, timeout=5) as client:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                response = client.post("/marketplace/v1/orders", headers=headers,
                                       json=_order_body(creds, i % 5))
            except httpx.HTTPError:
                return  # the server died under us
            if response.status_code == 201:
                answered.append(response.json()["order_id"])


def _check_consistent(url: str, answered: list[int]) -> None:
    db = Database(url)
    try:
        with db.read_session() as session:
            stored = set(session.scalars(select(Order.id)))
            assert set(answered) <= stored, "an order answered 201 was lost"
            # every posting has its items; reserved equals the units of open postings
            open_units = dict(
                ((sku, wh), int(q)) for sku, wh, q in session.execute(
                    select(PostingItem.sku, Posting.warehouse_id, func.sum(PostingItem.quantity))
                    .join(Posting, Posting.id == PostingItem.posting_id)
                    .where(Posting.status == PostingStatus.AWAITING_PACKAGING.value)
                    .group_by(PostingItem.sku, Posting.warehouse_id)))
            for sku, wh, present, reserved in session.execute(
                    select(Stock.sku, Stock.warehouse_id, Stock.present, Stock.reserved)):
                assert reserved == open_units.get((sku, wh), 0), (sku, wh)
                assert 0 <= reserved <= present
            assert session.scalar(select(func.count()).select_from(Posting)) == len(stored)
    finally:
        db.dispose()


def _durability(url: str, creds: dict, tmp_path) -> None:
    server = ServerProcess(url, log_path=tmp_path / "server.log").wait_ready()
    answered: list[int] = []
    stop = threading.Event()
    writer = threading.Thread(target=_stream_orders, args=(server.base_url, creds, answered, stop))
    writer.start()
    deadline = time.monotonic() + 20
    while len(answered) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # SIGKILL in the middle of the stream
    stop.set()
    writer.join(10)
    assert len(answered) >= 30
    _check_consistent(url, answered)

    restarted = ServerProcess(url, port=server.port, log_path=tmp_path / "server2.log")
    restarted.wait_ready()
    try:
        again = httpx.post(restarted.base_url + "/marketplace/v1/orders",
                           json=_order_body(creds), headers=platform_headers(creds))
        assert again.status_code == 201
        answered.append(again.json()["order_id"])
    finally:
        restarted.stop()
    _check_consistent(url, answered)


@pytest.mark.slow
def test_sigkill_loses_no_answered_order_sqlite(tmp_path):
    url, creds = seeded_sqlite(tmp_path)
    _durability(url, creds, tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_loses_no_answered_order_postgres(tmp_path):
    if not postgres_admin_url():
        pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
    from tests.backend_support import seed_smoke

    with fresh_postgres_url() as url:
        creds = seed_smoke(url)
        _durability(url, creds, tmp_path)


@pytest.mark.slow
def test_a_taken_port_is_refused_in_one_line_whatever_the_worker_count(tmp_path):
    """Workers bind with SO_REUSEPORT: a second such server used to join the first's group
    silently and the kernel split the traffic between two databases."""
    url, _ = seeded_sqlite(tmp_path)
    (tmp_path / "other").mkdir()
    other_url, _ = seeded_sqlite(tmp_path / "other")
    with _peakline_serve(url, "--workers", "2") as (_, base):
        port = base.rpartition(":")[2]
        for workers in ("2", "1"):
            second = subprocess.run(
                [sys.executable, "-m", "peakline", "serve", "--db", other_url, "--port",
                 port, "--workers", workers], cwd=ROOT, capture_output=True, text=True,
                timeout=120)
            lines = second.stdout.strip().splitlines() + second.stderr.strip().splitlines()
            assert second.returncode == 2, lines
            assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], lines
