"""The served backend: ``peakline serve`` from the CLI, and durability across a SIGKILL."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import httpx
import pytest
from sqlalchemy import func, select

from reference_backend.db import Database
from reference_backend.tables import Order, Posting, PostingItem, Stock
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


@pytest.mark.slow
def test_peakline_serve_cli(tmp_path):
    url, creds = seeded_sqlite(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", "--db", url, "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("peakline serve did not come up")
        created = httpx.post(base + "/marketplace/v1/orders", json=_order_body(creds),
                             headers=platform_headers(creds))
        assert created.status_code == 201
        alerts = httpx.get(base + "/peakline/v1/alerts", headers=seller_headers(creds))
        assert alerts.status_code == 200
        assert "POST" in httpx.get(base + "/metrics").text
        assert httpx.get(base + "/docs").status_code == 200
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught
    assert process.returncode in (0, -15), stderr.decode()[-2000:]
    assert "Application shutdown complete" in stderr.decode()


def test_serve_rejects_a_bad_database_url():
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "serve", "--db", "mysql://nope/x"],
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
