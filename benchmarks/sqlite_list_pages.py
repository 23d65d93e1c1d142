"""SQLite posting lists: CPU per request as the day's window grows (flat is the goal).

A seller gets ``--window`` postings in the last day (the newest twelfth still open, the rest
delivered), behind a year of older ones (``--history``) and beside a second seller's postings
interleaved by id. Then the four lists integrations poll (a page of 50 with analytics and
financial data, newest first: the day for ``/v3|v4/posting/fbs/list``, the open ones for the
unfulfilled lists) are asked ``--requests`` times each through the real app (httpx over ASGI,
SQLite reads in worker threads), beside ``/ping``; CPU of the whole process
(``time.process_time``, all threads) per request, and the page's ids statement alone.

    .venv/bin/python benchmarks/sqlite_list_pages.py --window 10000 100000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text

sys.path.append(str(Path(__file__).resolve().parent.parent))  # tests' helpers (appended: a
# PYTHONPATH of another checkout measures that checkout's code)

from reference_backend.app import create_app  # noqa: E402
from reference_backend.db import Database  # noqa: E402
from reference_backend.postings import pages, queries  # noqa: E402
from reference_backend.postings import service as q  # noqa: E402
from reference_backend.settings import Settings  # noqa: E402
from reference_backend.tables import Order, Posting  # noqa: E402
from tests.backend_support import seed_smoke, seller_headers, sqlite_url  # noqa: E402

WITH = {"analytics_data": True, "financial_data": True, "barcodes": False}
LISTS = {
    "list": "/v3/posting/fbs/list",
    "list-v4": "/v4/posting/fbs/list",
    "unfulfilled": "/v3/posting/fbs/unfulfilled/list",
    "unfulfilled-v4": "/v4/posting/fbs/unfulfilled/list",
}


def body(name: str, now: datetime) -> dict[str, Any]:
    """A page of 50 as the benchmark (``backend_throughput.py``) asks it."""
    day = {"since": (now - timedelta(days=1)).isoformat(),
           "to": (now + timedelta(days=1)).isoformat()}
    v4 = name.endswith("v4")
    flt = day if name.startswith("list") else {}
    paging = {"sort_dir": "desc"} if v4 else {"dir": "desc", "offset": 0}
    return {**paging, "limit": 50, "filter": flt, "with": WITH}


def fill(url: str, seller: dict, other: dict, window: int, history: int) -> None:
    """``window`` postings of ``seller`` in the last day and ``history`` in the year before,
    each followed by one of ``other``'s (ids interleaved)."""
    db = Database(url)
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        def warehouse(seller_id: int) -> int:
            return conn.execute(text("SELECT warehouse_id FROM warehouses WHERE seller_id = :s "
                                     "LIMIT 1"), {"s": seller_id}).scalar_one()
        base = conn.execute(text("SELECT coalesce(max(id), 0) FROM postings")).scalar_one()
        homes = {seller["seller_id"]: warehouse(seller["seller_id"]),
                 other["seller_id"]: warehouse(other["seller_id"])}
        total = window + history
        orders, postings = [], []
        for k in range(2 * total):
            seller_id = (seller if k % 2 == 0 else other)["seller_id"]
            i = k // 2  # the seller's k-th posting, oldest first
            if i < history:
                at = now - timedelta(days=2) - timedelta(days=365) * (history - i) / history
            else:
                at = now - timedelta(days=1) * (total - i) / (window + 1)
            open_ = at > now - timedelta(hours=2)
            pid = base + 1 + k
            orders.append({"id": pid, "seller_id": seller_id, "region": "R-MSK",
                           "created_at": at})
            postings.append({
                "id": pid, "posting_number": f"B{pid:09d}-1", "seller_id": seller_id,
                "order_id": pid, "order_number": f"B{pid:09d}",
                "warehouse_id": homes[seller_id], "status":
                "awaiting_packaging" if open_ else "delivered", "in_process_at": at,
                "shipment_date": at + timedelta(days=1), "status_changed_at": at,
                "created_at": at})
        conn.execute(insert(Order), orders)
        conn.execute(insert(Posting), postings)
    db.analyze()
    db.dispose()


def statement_cpu(url: str, seller_id: int, n: int) -> dict[str, float]:
    """CPU ms of a page's ids statement (execute and fetch, driver cursor)."""
    db = Database(url)
    now = datetime.now(UTC)
    day = q.PostingFilter(since=now - timedelta(days=1), to=now + timedelta(days=1))
    open_ = q.PostingFilter(statuses=q.DEFAULT_UNFULFILLED)
    out = {}
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        for name, flt in (("day", day), ("open", open_)):
            st = queries.ids_statement(conn.dialect, seller_id, flt, desc=True, limit=51)
            started = time.process_time()
            for _ in range(n):
                raw.execute(st.sql, st.params).fetchall()
            out[name] = (time.process_time() - started) / n * 1000
    db.dispose()
    return out


async def app_cpu(url: str, creds: dict, n: int) -> dict[str, float]:
    """CPU ms per request through the app, each list and ``/ping``."""
    app = create_app(Settings(database_url=url))
    now = datetime.now(UTC)
    out = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = seller_headers(creds)
            for name, path in {"ping": "/ping", **LISTS}.items():
                async def ask(name: str = name, path: str = path) -> None:
                    if name == "ping":
                        answer = await client.get(path)
                    else:
                        answer = await client.post(path, json=body(name, now), headers=headers)
                    assert answer.status_code == 200, answer.text
                await ask()  # the page written once (then kept)
                started = time.process_time()
                for _ in range(n):
                    await ask()
                out[name] = (time.process_time() - started) / n * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    for window in args.window:
        with tempfile.TemporaryDirectory() as folder:
            url = sqlite_url(Path(folder))
            seller, other = seed_smoke(url), seed_smoke(url, name="other")
            fill(url, seller, other, window, args.history)
            pages.PAGES.clear()
            ids = statement_cpu(url, seller["seller_id"], args.requests)
            cpu = asyncio.run(app_cpu(url, seller, args.requests))
        ping = cpu.pop("ping")
        print(f"window {window:>7,}: ids statement day {ids['day']:.3f} ms, open "
              f"{ids['open']:.3f} ms; per request (CPU ms, x /ping {ping:.3f} ms): "
              + ", ".join(f"{k} {v:.3f} ({v / ping:.1f}x)" for k, v in cpu.items()),
              flush=True)


if __name__ == "__main__":
    main()
