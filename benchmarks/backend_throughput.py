"""Backend throughput: buyer orders and posting lists beside a trivial endpoint, same server.

For each database (SQLite file, PostgreSQL) and worker count (1, 2) the benchmark seeds a
fresh database from a scenario (``peakline seed``; stock raised so no order runs short),
starts ``peakline serve`` on 127.0.0.1 and measures, with the raw-asyncio load generator in
``benchmarks/http_loadgen.py`` running in separate processes:

* closed loop (64 connections back to back): the maximum requests/s of ``GET /ping`` (a
  constant answer through the same middleware, no database; measured before and after the
  others, the mean is the trivial rate), ``POST /marketplace/v1/orders`` (unique
  Idempotency-Keys, baskets by the scenario's line counts, SKUs drawn by popularity,
  regions by weight) and the posting lists as integrations poll them, a page of 50 with
  analytics and financial data: ``/v3/posting/fbs/list`` and ``/v4/...`` (the newest of
  the last day), ``/v3/posting/fbs/unfulfilled/list`` and ``/v4/...`` (the newest open);
* a live database under each run: orders are placed for 2 s before the first, and
  ``ANALYZE`` runs before each, as autovacuum would keep the statistics on a live server
  (a plan made while a table was empty -- PostgreSQL's foreign-key checks among them --
  scans it whole, so a database whose statistics lag its growth slows down order by order;
  the PostgreSQL of CI machines runs with autovacuum off);
* open loop at 70 % of each endpoint's maximum (for at least 2,000 requests, up to 15 s):
  requests on a fixed schedule whatever the answers, latency from the *scheduled* send
  time (queueing is not hidden): p50/p95/p99;
* beside each run, the cores its server's processes and PostgreSQL's kept busy on average
  (how near saturation "70 % of max" really is: a group commit's max depends on its batch
  sizes, so the two do not scale alike), and the rate per core the server used.

A bare FastAPI app (one async endpoint, no middleware, one worker) is the scale of "a
trivial FastAPI endpoint": measured first, and its ``/ping`` again right before and after
each setup's runs (a shared machine's speed drifts within minutes; each setup is compared
with the bare runs beside it). Prints a table of rates, latencies and ratios, then the
target verdicts of issue 20 as shares of bare FastAPI's ``/ping``: Peakline's ``/ping`` >=
80 %, orders >= 25 % on PostgreSQL and >= 10 % on SQLite, each posting list >= 10 %, p99 <
50 ms at 70 % of the maximum.

``--history 10000 1000000`` (PostgreSQL) compares fresh databases holding that many postings
of the past year (delivered or cancelled, one or two lines, generated in SQL in seconds):
a server on each, all serving at once; the maxima are found on the first, then every
endpoint runs its open loop at 70 % of that maximum on each server in turn, ``--rounds``
times (3), the order of the servers reversed every other round, so that a drift of the
machine's speed (seen here: 1.5x within minutes) falls on both alike. The verdicts compare
the medians over the rounds of p50 and p99 (target: less than 1.5x); ``/ping``, which no
history touches, is the control: its ratio is the noise of the comparison. ``--explain``
prints the plans of a list page's queries. Everything it starts (servers, load processes,
the PostgreSQL databases) is stopped or dropped at the end. About 6 minutes a setup.

    .venv/bin/python benchmarks/backend_throughput.py                  # SQLite, + PG if env set
    .venv/bin/python benchmarks/backend_throughput.py --pg postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/backend_throughput.py --db postgresql --workers 1 --json out.json
    .venv/bin/python benchmarks/backend_throughput.py --db postgresql --workers 1 \
        --history 10000 1000000 --endpoints ping orders list unfulfilled-v4 --explain
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from http_loadgen import LoadResult, closed_loop, open_loop  # noqa: E402

console = Console() if sys.stdout.isatty() else Console(width=150)
PG_ENV = "PEAKLINE_TEST_DATABASE_URL"
STOCK_BOOST = 10_000_000
OPEN_SHARE = 0.70
#: Targets as shares of bare FastAPI's ``/ping`` rate in the same run (issue 20).
TARGET_PING_RATIO = 0.80
TARGET_ORDER_RATIO = {"postgresql": 0.25, "sqlite": 0.10}
TARGET_LIST_RATIO = 0.10
TARGET_P99_MS = 50.0
#: Latency with a big history against a small one, at the same rate (PostgreSQL).
TARGET_HISTORY_GROWTH = 1.5
ENDPOINTS = ("ping", "orders", "list", "list-v4", "unfulfilled", "unfulfilled-v4")
P99_SAMPLES = 2_000  # requests an open-loop run measures, at least (up to OPEN_MAX_S)
OPEN_MAX_S = 15.0


# --------------------------------------------------------------------------- requests


def _request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if method != "GET":
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def ping_factory(_worker: int):  # type: ignore[no-untyped-def]
    data = _request("GET", "/ping", {})
    return lambda _i: data


@dataclass
class World:
    """What the request factories need: keys, SKUs by popularity, regions by weight."""

    creds: dict[str, Any]
    skus: np.ndarray
    sku_p: np.ndarray
    regions: list[str]
    region_p: np.ndarray
    lines: np.ndarray  # sampled lines per order (the scenario's distribution)
    units: np.ndarray  # sampled units per line

    @classmethod
    def build(cls, scenario_path: Path, creds: dict[str, Any]) -> World:
        from reference_backend.sellers.world import build_catalogue
        from simulator.scenario import load_scenario

        scenario = load_scenario(scenario_path)
        daily = build_catalogue(scenario).daily_units
        weights = np.array([r.weight for r in scenario.network.regions], dtype=float)
        rng = np.random.default_rng(7)
        lines = np.clip(scenario.catalogue.lines_per_order.sample(rng, 20_000), 1, 10)
        units = np.clip(scenario.catalogue.units_per_line.sample(rng, 20_000), 1, 20)
        return cls(creds, creds["sku_base"] + np.arange(len(daily)), daily / daily.sum(),
                   [r.id for r in scenario.network.regions], weights / weights.sum(),
                   lines.astype(int), units.astype(int))


def order_factory(world: World):  # type: ignore[no-untyped-def]
    """A new Idempotency-Key per request (never a replay); 4,096 pre-drawn baskets per process."""
    auth = f"Bearer {world.creds['platform_key']}"

    def make(worker: int):  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(1000 + worker)
        bodies = []
        for _ in range(4096):
            n = int(rng.choice(world.lines))
            skus = rng.choice(world.skus, size=n, p=world.sku_p)
            basket: dict[int, int] = {}
            for sku in skus:
                basket[int(sku)] = basket.get(int(sku), 0) + int(rng.choice(world.units))
            bodies.append(json.dumps({
                "client_id": world.creds["client_id"],
                "region": world.regions[rng.choice(len(world.regions), p=world.region_p)],
                "lines": [{"sku": s, "quantity": q} for s, q in basket.items()],
            }).encode())
        prefix = f"bench-{uuid.uuid4().hex[:12]}-"  # unique per run and load process
        return lambda i: _request("POST", "/marketplace/v1/orders", {
            "Authorization": auth, "Idempotency-Key": f"{prefix}{i}"}, bodies[i % 4096])

    return make


#: The posting lists measured: endpoint name -> (path, a page of 50 as integrations poll it:
#: the newest postings of the last day, or the open ones, with analytics and financial data).
LISTS = {
    "list": ("/v3/posting/fbs/list", "v3"),
    "list-v4": ("/v4/posting/fbs/list", "v4"),
    "unfulfilled": ("/v3/posting/fbs/unfulfilled/list", "v3-open"),
    "unfulfilled-v4": ("/v4/posting/fbs/unfulfilled/list", "v4-open"),
}


def list_body(kind: str) -> dict[str, Any]:
    """The request body of one of :data:`LISTS` (a page of 50, newest first)."""
    now = datetime.now(UTC)
    day = {"since": (now - timedelta(days=1)).isoformat(),
           "to": (now + timedelta(days=1)).isoformat()}
    with_ = {"analytics_data": True, "financial_data": True}
    if kind == "v3":
        return {"dir": "desc", "limit": 50, "offset": 0, "filter": day, "with": with_}
    if kind == "v4":
        return {"sort_dir": "desc", "limit": 50, "filter": day, "with": with_}
    if kind == "v3-open":
        return {"dir": "desc", "limit": 50, "offset": 0, "filter": {}, "with": with_}
    return {"sort_dir": "desc", "limit": 50, "filter": {}, "with": with_}


def list_factory(world: World, endpoint: str):  # type: ignore[no-untyped-def]
    path, kind = LISTS[endpoint]
    data = _request("POST", path, {
        "Client-Id": world.creds["client_id"], "Api-Key": world.creds["api_key"]},
        json.dumps(list_body(kind)).encode())
    return lambda _worker: (lambda _i: data)


# --------------------------------------------------------------------------- databases, servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new database ``peakline_bench_<hex>`` on the server, dropped at exit."""
    import psycopg

    admin_url = admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"peakline_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def peakline() -> list[str]:
    exe = Path(sys.executable).with_name("peakline")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "peakline"]


def seed(url: str, scenario: Path, workdir: Path) -> dict[str, Any]:
    """``peakline seed`` into ``url``, then every stock row gets plenty of units."""
    from sqlalchemy import create_engine, update

    from reference_backend.db import normalise_url
    from reference_backend.tables import Stock

    out = workdir / f"creds-{uuid.uuid4().hex[:6]}.json"
    subprocess.run([*peakline(), "seed", str(scenario), "--db", url, "--credentials-out",
                    str(out)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(update(Stock).values(present=Stock.present + STOCK_BOOST))
    engine.dispose()
    return json.loads(out.read_text())


#: Past postings: one a day-and-a-bit older each (spread over HISTORY_DAYS), ending before the
#: day the lists ask for; 9 in 10 delivered, 1 in 10 cancelled; one or two lines each.
HISTORY_DAYS = 365
HISTORY_SQL = """
WITH methods AS (
    SELECT row_number() OVER (ORDER BY m.id) - 1 AS k, m.id, m.warehouse_id
    FROM delivery_methods m WHERE m.seller_id = :seller),
regions AS (SELECT ARRAY['Москва', 'Санкт-Петербург', 'Казань', 'Новосибирск',
                         'Екатеринбург'] AS names),
made AS (
    INSERT INTO orders (id, seller_id, region, created_at)
    SELECT :base + g, :seller, (SELECT names FROM regions)[1 + g % 5],
           now() - interval '2 days'
           - interval '1 second' * (CAST(:span_s AS float8) * (:n - g) / :n)
    FROM generate_series(1, :n) AS g
    RETURNING id, region, created_at)
INSERT INTO postings (
    id, posting_number, seller_id, order_id, order_number, parent_posting_number,
    warehouse_id, delivery_method_id, region, status, substatus, previous_substatus,
    tpl_integration_type, tracking_number, is_express, is_multibox, multi_box_qty,
    cancel_reason_id, cancel_reason, cancellation_type, cancellation_initiator,
    cancelled_after_ship, in_process_at, shipment_date, delivering_date, shipped_at,
    delivered_at, cancelled_at, status_changed_at, created_at)
SELECT o.id, o.number || '-1', :seller, o.id, o.number, '', m.warehouse_id, m.id, o.region,
       CASE WHEN o.cancelled THEN 'cancelled' ELSE 'delivered' END,
       CASE WHEN o.cancelled THEN 'posting_canceled' ELSE 'posting_delivered' END,
       '', 'ozon', '', false, false, 0,
       CASE WHEN o.cancelled THEN 402 ELSE 0 END,
       CASE WHEN o.cancelled THEN 'Покупатель отменил заказ' ELSE '' END,
       CASE WHEN o.cancelled THEN 'client' ELSE '' END,
       CASE WHEN o.cancelled THEN 'Клиент' ELSE '' END, false,
       o.created_at, o.created_at + interval '1 day',
       CASE WHEN o.cancelled THEN NULL ELSE o.created_at + interval '1 day' END,
       CASE WHEN o.cancelled THEN NULL ELSE o.created_at + interval '1 day' END,
       CASE WHEN o.cancelled THEN NULL ELSE o.created_at + interval '3 days' END,
       CASE WHEN o.cancelled THEN o.created_at + interval '2 hours' END,
       o.created_at + CASE WHEN o.cancelled THEN interval '2 hours' ELSE interval '3 days' END,
       o.created_at
FROM (SELECT id, region, created_at, id % 10 = 0 AS cancelled,
             lpad((10000000 + id / 10000)::text, 8, '0') || '-'
             || lpad((id % 10000)::text, 4, '0') AS number FROM made) AS o
JOIN methods m ON m.k = o.id % (SELECT count(*) FROM methods)
"""
HISTORY_ITEMS_SQL = """
WITH catalogue AS (
    SELECT row_number() OVER (ORDER BY product_id) - 1 AS k, product_id, sku, offer_id, name,
           price, currency_code
    FROM products WHERE seller_id = :seller)
INSERT INTO posting_items (posting_id, product_id, sku, offer_id, name, quantity,
                           cancelled_quantity, price, currency_code)
SELECT p.id, c.product_id, c.sku, c.offer_id, c.name, 1 + (p.id + line) % 3, 0, c.price,
       c.currency_code
FROM postings p
CROSS JOIN LATERAL generate_series(1, 1 + p.id % 2) AS line
JOIN catalogue c ON c.k = (p.id * 7919 + line * 104729) % (SELECT count(*) FROM catalogue)
WHERE p.id > :base
"""


def add_history(url: str, seller_id: int, postings: int) -> float:
    """``postings`` past postings of ``seller_id`` (PostgreSQL, in two statements), then the
    id sequences past them and fresh statistics. Returns the seconds it took."""
    from sqlalchemy import create_engine, text

    from reference_backend.db import normalise_url

    started = time.monotonic()
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        base = max(conn.execute(text("SELECT coalesce(max(id), 0) FROM orders")).scalar_one(),
                   conn.execute(text("SELECT coalesce(max(id), 0) FROM postings")).scalar_one())
        params = {"seller": seller_id, "base": base, "n": postings,
                  "span_s": HISTORY_DAYS * 86_400}
        conn.execute(text(HISTORY_SQL), params)
        conn.execute(text(HISTORY_ITEMS_SQL), params)
        for table in ("orders", "postings"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return time.monotonic() - started


def explain(url: str, creds: dict[str, Any]) -> None:
    """The plans (``EXPLAIN ANALYZE``) of a posting page's queries, as the lists run them."""
    from sqlalchemy import create_engine, text

    from reference_backend.db import normalise_url
    from reference_backend.postings import queries
    from reference_backend.postings import service as q

    seller, now = creds["seller_id"], datetime.now(UTC)
    day = q.PostingFilter(since=now - timedelta(days=1), to=now + timedelta(days=1))
    open_ = q.PostingFilter(statuses=q.DEFAULT_UNFULFILLED)
    engine = create_engine(normalise_url(url))
    d = engine.dialect
    statements = {
        "list (a day, newest 50)": queries.ids_statement(d, seller, day, desc=True, limit=51),
        "unfulfilled (newest 50)": queries.ids_statement(d, seller, open_, desc=True, limit=51),
        "unfulfilled count": queries.count_statement(d, seller, open_),
    }
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM postings")).scalar_one()
        page = statements["list (a day, newest 50)"]
        ids = [r[0] for r in conn.exec_driver_sql(page.sql, page.params)][:50]
        console.print(f"[bold]Query plans with {total:,} postings[/]", highlight=False)
        for title, statement in statements.items():
            _print_plan(conn, title, statement.sql, statement.params)
        _print_plan(conn, "the page's items", "SELECT * FROM posting_items WHERE posting_id = "
                    "ANY(%s) ORDER BY id", (ids or [0],))
    engine.dispose()


def _print_plan(conn: Any, title: str, sql: str, params: tuple[Any, ...]) -> None:
    plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params).scalars().all()
    console.print(f"[bold]{title}[/]\n" + "\n".join(f"  {line}" for line in plan),
                  highlight=False)


def open_postings(url: str) -> int:
    """Postings awaiting packaging in the database at ``url``."""
    from sqlalchemy import create_engine, text

    from reference_backend.db import normalise_url

    engine = create_engine(normalise_url(url))
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM postings "
                                  "WHERE status = 'awaiting_packaging'")).scalar_one()
    engine.dispose()
    return int(count)


def analyze(url: str) -> None:
    """Planner statistics for tables that grew during the run (on a live server autovacuum
    keeps them; here the orders were placed seconds ago)."""
    from reference_backend.db import Database

    db = Database(url)
    db.analyze()
    db.dispose()


class Server:
    """A server in its own process group (stopped with every worker it forked)."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [*argv, "--port", str(self.port)], cwd=ROOT, stdout=self.log, stderr=self.log,
            env={**os.environ, **(env or {})}, start_new_session=True)

    def wait(self, path: str = "/ping", timeout: float = 60.0) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}); see {self.log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"server not ready; see {self.log.name}")

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # stray workers of the group
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


@contextlib.contextmanager
def serving(argv: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    server = Server(argv, log, env)
    try:
        yield server.wait()
    finally:
        server.stop()


def bare_app():  # type: ignore[no-untyped-def]
    """``uvicorn --factory``: the scale reference, one constant async FastAPI endpoint."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    app = FastAPI()

    @app.get("/ping")
    async def ping() -> Response:
        return Response(b'{"pong":true}', media_type="application/json")

    return app


# --------------------------------------------------------------------------- measuring


@dataclass
class Row:
    db: str
    workers: int
    endpoint: str
    mode: str  # "max" (closed loop) or "open@70%"
    result: LoadResult
    target_rate: float | None = None
    cores: tuple[float, float] = (float("nan"), float("nan"))  # server, PostgreSQL
    history: int = 0  # postings of past days in the database before the run

    @property
    def setup(self) -> Setup:
        return (self.db, self.workers, self.history)

    def to_dict(self, trivial: float, bare: float) -> dict[str, Any]:
        r = self.result
        return {"db": self.db, "workers": self.workers, "history": self.history,
                "endpoint": self.endpoint,
                "mode": self.mode, "rps": round(r.rate, 1), "target_rps": self.target_rate,
                "p50_ms": r.percentile_ms(50), "p95_ms": r.percentile_ms(95),
                "p99_ms": r.percentile_ms(99), "errors": r.errors,
                "statuses": {str(k): v for k, v in r.statuses.items()},
                "send_lag_p99_ms": r.lag_ms(99),
                "server_cores": round(self.cores[0], 2), "postgres_cores": round(self.cores[1], 2),
                "ratio_to_trivial": round(r.rate / trivial, 4) if trivial else None,
                "ratio_to_bare": round(r.rate / bare, 4) if bare else None}


#: (database, workers, history postings): one server's measurements
Setup = tuple[str, int, int]
BARE: Setup = ("bare", 1, 0)


@dataclass
class Config:
    warmup: float
    closed: float
    open: float
    connections: int
    clients: int


class CpuMeter:
    """The cores a server's processes, and PostgreSQL's, kept busy on average over a run."""

    def __init__(self, server_pid: int) -> None:
        self.server = psutil.Process(server_pid)

    @staticmethod
    def _cpu_s(processes: list[psutil.Process]) -> float:
        total = 0.0
        for p in processes:
            with contextlib.suppress(psutil.Error):  # gone meanwhile
                times = p.cpu_times()
                total += times.user + times.system
        return total

    def _now(self) -> tuple[float, float, float]:
        postgres = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
        return (time.monotonic(), self._cpu_s([self.server, *self.server.children(True)]),
                self._cpu_s(postgres))

    @contextlib.contextmanager
    def over(self) -> Iterator[list[float]]:
        """Yields a list that holds ``[server cores, PostgreSQL cores]`` once the block ends."""
        before, cores = self._now(), []
        yield cores
        after = self._now()
        wall = after[0] - before[0]
        cores += [(after[1] - before[1]) / wall, (after[2] - before[2]) / wall]


def open_seconds(rate: float, at_least: float) -> float:
    """Long enough for :data:`P99_SAMPLES` requests (a p99 of 500 requests is their 5 worst),
    up to :data:`OPEN_MAX_S`."""
    return max(at_least, min(OPEN_MAX_S, P99_SAMPLES / rate))


def measure(server: Server, factories: dict[str, Any], cfg: Config, setup: Setup,
            endpoints: tuple[str, ...], analyze: Any = None,
            bare: Server | None = None) -> tuple[list[Row], float, dict[str, float]]:
    """Closed loop per endpoint (trivial first and last), then open loop at 70 % of each max.
    With ``bare`` (the bare FastAPI server), its ``/ping`` is measured right before the first
    and right after the last trivial run too (rows ``bare-ping``): on a shared machine the
    rates drift within minutes. Returns the rows, the trivial rate and the open-loop rates
    used."""
    db, workers, history = setup
    port, meter = server.port, CpuMeter(server.proc.pid)
    rows: list[Row] = []
    maxima: dict[str, float] = {}
    pings: list[float] = []
    order = ["ping", *[e for e in endpoints if e != "ping"]]
    if len(order) > 1:
        order.append("ping")

    def bare_ping(mode: str) -> None:
        if bare is None:
            return
        with CpuMeter(bare.proc.pid).over() as cores:
            res = closed_loop("127.0.0.1", bare.port, ping_factory,
                              connections=cfg.connections, processes=cfg.clients,
                              warmup_s=cfg.warmup, duration_s=cfg.closed)
        rows.append(Row(db, workers, "bare-ping", mode, res, cores=(cores[0], cores[1]),
                        history=history))
    if analyze is not None and len(order) > 1:
        # a live database: orders in it (postings to list) and statistics that know them
        closed_loop("127.0.0.1", port, factories["orders"], connections=cfg.connections,
                    processes=cfg.clients, warmup_s=0, duration_s=2)

    def fresh_statistics(name: str) -> None:
        if name != "ping" and analyze is not None:
            analyze()

    bare_ping("max")
    for name in order:
        fresh_statistics(name)
        with meter.over() as cores:
            res = closed_loop("127.0.0.1", port, factories[name], connections=cfg.connections,
                              processes=cfg.clients, warmup_s=cfg.warmup,
                              duration_s=cfg.closed)
        _check(res, name, setup, "closed")
        if name == "ping":
            pings.append(res.rate)
        rows.append(Row(db, workers, name, "max" if len(pings) < 2 else "max again", res,
                        cores=(cores[0], cores[1]), history=history))
        maxima[name] = float(np.mean(pings)) if name == "ping" else res.rate
    bare_ping("max again")
    trivial = maxima["ping"]
    used: dict[str, float] = {}
    for name in maxima:
        rate = used[name] = OPEN_SHARE * maxima[name]
        fresh_statistics(name)
        with meter.over() as cores:
            res = open_loop("127.0.0.1", port, factories[name], rate=rate,
                            processes=cfg.clients, warmup_s=cfg.warmup,
                            duration_s=open_seconds(rate, cfg.open), connections=cfg.connections)
        _check(res, name, setup, "open")
        mode = f"open@{OPEN_SHARE:.0%}"
        rows.append(Row(db, workers, name, mode, res, round(rate, 1), (cores[0], cores[1]),
                        history))
    console.print(f"  {_label(setup)}: trivial {[round(p) for p in pings]} req/s; "
                  + ", ".join(f"{k} {v:.0f}" for k, v in maxima.items()), highlight=False)
    return rows, trivial, used


def _label(setup: Setup) -> str:
    db, workers, history = setup
    return f"{db} x{workers}" + (f" +{history:,} past postings" if history else "")


def _check(res: LoadResult, name: str, setup: Setup, mode: str) -> None:
    if res.errors:
        console.print(f"[yellow]  {_label(setup)} {name} {mode}: {res.errors} errors "
                      f"{dict(res.statuses)}[/]")


def compare_histories(servers: dict[int, Server], factories: dict[int, dict[str, Any]],
                      urls: dict[int, str], cfg: Config, db: str, workers: int,
                      endpoints: tuple[str, ...], rounds: int,
                      bare: Server | None) -> tuple[list[Row], dict[Setup, float]]:
    """Maxima on the server with the least history, then each endpoint's open loop at 70 % of
    its maximum on every server in turn, ``rounds`` times (the servers' order reversed every
    other round)."""
    least = min(servers)
    got, trivial, used = measure(servers[least], factories[least], cfg, (db, workers, least),
                                 endpoints, functools.partial(analyze, urls[least]), bare)
    rows = list(got)
    trivials = {(db, workers, least): trivial}
    order = sorted(servers)
    for history in order:  # as many open postings on each as the first one's runs left
        missing = open_postings(urls[least]) - open_postings(urls[history])
        if missing > 0:
            rate = used.get("orders", 500.0)
            open_loop("127.0.0.1", servers[history].port, factories[history]["orders"],
                      rate=rate, processes=cfg.clients, warmup_s=0,
                      duration_s=missing / rate, connections=cfg.connections)
            console.print(f"  {_label((db, workers, history))}: {missing:,} orders placed to "
                          f"match the open postings of the first", highlight=False)
    for k in range(rounds):
        for name, rate in used.items():
            for history in order if k % 2 == 0 else order[::-1]:
                setup = (db, workers, history)
                trivials.setdefault(setup, trivial)
                if name != "ping":
                    analyze(urls[history])
                with CpuMeter(servers[history].proc.pid).over() as cores:
                    res = open_loop("127.0.0.1", servers[history].port, factories[history][name],
                                    rate=rate, processes=cfg.clients, warmup_s=cfg.warmup,
                                    duration_s=open_seconds(rate, cfg.open),
                                    connections=cfg.connections)
                _check(res, name, setup, f"round {k + 1}")
                rows.append(Row(db, workers, name, "open@same", res, round(rate, 1),
                                (cores[0], cores[1]), history))
        console.print(f"  {db} x{workers}: round {k + 1} of {rounds} done", highlight=False)
    return rows, trivials


# --------------------------------------------------------------------------- report


def _ms(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:.1f}"


def bare_rates(rows: list[Row], trivial: dict[Setup, float],
               per_core: bool = False) -> dict[Setup, float]:
    """Each setup's bare FastAPI ``/ping`` rate (or rate per server core): the mean of the
    bare runs beside its own (``bare-ping`` rows), else the one at the start."""
    def rate(row: Row) -> float:
        return row.result.rate / row.cores[0] if per_core else row.result.rate

    first = [rate(r) for r in rows if r.setup == BARE and r.mode == "max"]
    found = {BARE: first[0] if first else 0.0}
    for setup in trivial:
        beside = [rate(r) for r in rows if r.setup == setup and r.endpoint == "bare-ping"]
        found[setup] = float(np.mean(beside)) if beside else found[BARE]
    return found


def report(rows: list[Row], trivial: dict[Setup, float]) -> list[str]:
    bares, bares_per_core = bare_rates(rows, trivial), bare_rates(rows, trivial, per_core=True)
    table = Table(title="Backend throughput (ratios to bare FastAPI's GET /ping, same run)")
    for col in ("db", "workers", "history", "endpoint", "mode", "req/s", "p50 ms", "p95 ms",
                "p99 ms", "errors", "gen lag p99", "client CPU", "server CPU", "PG CPU",
                "per server core", "of own /ping", "of bare /ping"):
        table.add_column(col, justify="right" if col not in ("db", "endpoint", "mode") else "left")
    for row in rows:
        r = row.result
        base, bare = trivial.get(row.setup, 0.0), bares.get(row.setup, 0.0)
        per_core = r.rate / row.cores[0] if row.cores[0] > 0 else float("nan")
        rate = f"{r.rate:,.0f}" + (f" / {row.target_rate:,.0f}" if row.target_rate else "")
        table.add_row(row.db, str(row.workers), f"{row.history:,}", row.endpoint, row.mode, rate,
                      _ms(r.percentile_ms(50)), _ms(r.percentile_ms(95)),
                      _ms(r.percentile_ms(99)), str(r.errors),
                      _ms(r.lag_ms(99)) if row.target_rate else "", f"{r.client_cpu:.0%}",
                      f"{row.cores[0]:.2f}",
                      f"{row.cores[1]:.2f}" if row.db == "postgresql" else "",
                      f"{per_core:,.0f}" if np.isfinite(per_core) else "",
                      f"{r.rate / base:.1%}" if base else "",
                      f"{r.rate / bare:.1%}" if bare and row.mode.startswith("max") else "")
    console.print(table)
    console.print("open-loop req/s is 'achieved / scheduled'; latency counts from the scheduled "
                  "send time (a wait for a free connection included); gen lag = how late the "
                  "generator itself took up a scheduled request; client CPU = busiest load "
                  "process, share of one core; server CPU, PG CPU = cores the server's processes "
                  "and PostgreSQL's kept busy on average; per server core = req/s per core "
                  "the server kept busy; bare-ping = bare FastAPI's /ping measured beside "
                  "(of bare /ping: against their mean); history = postings of past days in "
                  "the database; 'open@same' runs at the rates of the run with the least "
                  "history.")
    verdicts = []
    for row in rows:
        bare = bares.get(row.setup, 0.0)
        if row.db == "bare" or row.endpoint == "bare-ping":
            continue
        label = f"{_label(row.setup)}: {row.endpoint}"
        if row.mode == "max" and bare:
            ratio = row.result.rate / bare
            target = (TARGET_PING_RATIO if row.endpoint == "ping"
                      else TARGET_ORDER_RATIO.get(row.db, 0.0) if row.endpoint == "orders"
                      else TARGET_LIST_RATIO)
            bare_core = bares_per_core.get(row.setup, 0.0)
            per_core = (f"; per server core {row.result.rate / row.cores[0] / bare_core:.1%} "
                        "of bare's" if row.cores[0] > 0 and bare_core > 0 else "")
            verdicts.append(_verdict(ratio >= target, f"{label} {ratio:.1%} of bare FastAPI "
                                     f"/ping (target >= {target:.0%}){per_core}"))
        if row.mode.startswith("open@") and row.mode != "open@same":  # (rounds: below)
            p99 = row.result.percentile_ms(99)
            verdicts.append(_verdict(p99 < TARGET_P99_MS,
                                     f"{label} p99 {_ms(p99)} ms at {row.target_rate:,.0f}/s "
                                     f"({row.mode}; target < {TARGET_P99_MS:.0f})"))
    verdicts += _history_verdicts(rows)
    busiest = max(rows, key=lambda r: r.result.client_cpu)
    verdicts.append(_verdict(  # each load process had CPU to spare: it did not cap a rate
        busiest.result.client_cpu < 0.8,
        f"client headroom: busiest load process used {busiest.result.client_cpu:.0%} of a core "
        f"({_label(busiest.setup)} {busiest.endpoint} {busiest.mode})"))
    for row in rows:  # the generator itself keeps the schedule on the trivial endpoint
        if row.endpoint == "ping" and row.target_rate and row.mode != "open@same":
            got = row.result.rate / row.target_rate
            verdicts.append(_verdict(got > 0.97 and row.result.lag_ms(99) < 5,
                                     f"generator check {_label(row.setup)}: "
                                     f"{got:.1%} of the scheduled {row.target_rate:,.0f}/s "
                                     f"sent and answered, lag p99 "
                                     f"{row.result.lag_ms(99):.1f} ms"))
    for line in verdicts:
        console.print(line, highlight=False)
    return verdicts


def _history_verdicts(rows: list[Row]) -> list[str]:
    """Latency with more history against the least, same database, workers, endpoint and
    rate: medians over the interleaved rounds (rows ``open@same``)."""
    rounds: dict[tuple[str, int, str, int], list[LoadResult]] = {}
    for r in rows:
        if r.mode == "open@same":
            rounds.setdefault((r.db, r.workers, r.endpoint, r.history), []).append(r.result)

    def median(results: list[LoadResult], q: float) -> float:
        return float(np.median([res.percentile_ms(q) for res in results]))

    verdicts = []
    for (db, workers, endpoint, history), big in rounds.items():
        least = min(h for d, w, e, h in rounds if (d, w, e) == (db, workers, endpoint))
        if history == least:
            continue
        small = rounds[(db, workers, endpoint, least)]
        growth = {q: median(big, q) / median(small, q) for q in (50, 99)}
        text = (f"{db} x{workers}: {endpoint} with {history:,} past postings against "
                f"{least:,}, at the same rate, median of {len(big)} interleaved rounds: "
                f"p50 {median(small, 50):.1f} -> {median(big, 50):.1f} ms (x{growth[50]:.2f}), "
                f"p99 {median(small, 99):.1f} -> {median(big, 99):.1f} ms (x{growth[99]:.2f})")
        if endpoint == "ping":  # no history in its path: the comparison's own noise
            verdicts.append("[blue]CONTROL[/] " + text)
        else:
            verdicts.append(_verdict(max(growth.values()) < TARGET_HISTORY_GROWTH,
                                     text + f" (target < x{TARGET_HISTORY_GROWTH})"))
    return verdicts


def _verdict(ok: bool, text: str) -> str:
    return ("[green]PASS[/] " if ok else "[red]MISS[/] ") + text


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=os.environ.get(PG_ENV),
                        help=f"PostgreSQL admin URL (default ${PG_ENV}); a fresh database "
                             "is created on it and dropped after")
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgresql"],
                        default=["sqlite", "postgresql"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--endpoints", nargs="+", choices=ENDPOINTS, default=list(ENDPOINTS))
    parser.add_argument("--history", nargs="+", type=int, default=[0], metavar="POSTINGS",
                        help="past postings in the database (PostgreSQL), one fresh database "
                             "and server each, e.g. 10000 1000000: open loops at the rates of "
                             "the first, in interleaved rounds; the verdicts compare their "
                             "latencies")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with two or more --history sizes: interleaved open-loop rounds")
    parser.add_argument("--explain", action="store_true",
                        help="print the query plans of the posting lists (PostgreSQL)")
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "smoke.yaml",
                        help="seeded world (smoke.yaml; peak_day.yaml for 2,000 SKUs)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per run, unmeasured")
    parser.add_argument("--closed", type=float, default=3.0, help="closed-loop seconds")
    parser.add_argument("--open", type=float, default=4.0, help="open-loop seconds")
    parser.add_argument("--connections", type=int, default=64, help="closed-loop connections")
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare FastAPI reference")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    cfg = Config(args.warmup, args.closed, args.open, args.connections, args.clients)
    dbs = [d for d in args.db if d == "sqlite" or args.pg]
    if "postgresql" in args.db and not args.pg:
        console.print(f"[yellow]PostgreSQL skipped: pass --pg URL or set {PG_ENV}[/]")

    started = time.monotonic()
    rows: list[Row] = []
    trivial: dict[Setup, float] = {}
    with tempfile.TemporaryDirectory(prefix="peakline-bench-") as tmp, \
            contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        bare: Server | None = None
        if not args.no_bare:  # kept serving: measured beside each setup too
            argv_bare = [sys.executable, "-m", "uvicorn", "--factory", "--app-dir",
                         str(ROOT / "benchmarks"), "backend_throughput:bare_app",
                         "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"]
            bare = stack.enter_context(serving(argv_bare, workdir / "bare.log"))
            got, trivial[BARE], _ = measure(bare, {"ping": ping_factory}, cfg, BARE, ("ping",))
            rows += got
        for db in dbs:
            histories = sorted(set(args.history)) if db == "postgresql" else [0]
            if db != "postgresql" and args.history != [0]:
                console.print("[yellow]--history: PostgreSQL only; SQLite runs without[/]")
            worlds: dict[int, tuple[str, dict[str, Any], dict[str, Any]]] = {}
            for history in histories:  # every database at once: the servers are compared
                url = stack.enter_context(
                    fresh_postgres(args.pg) if db == "postgresql"
                    else contextlib.nullcontext(f"sqlite:///{workdir / 'bench.db'}"))
                creds = seed(url, args.scenario, workdir)
                if history:
                    took = add_history(url, creds["seller_id"], history)
                    console.print(f"  {db}: {history:,} past postings added in {took:.0f} s",
                                  highlight=False)
                world = World.build(args.scenario, creds)
                worlds[history] = (url, creds, {
                    "ping": ping_factory, "orders": order_factory(world),
                    **{name: list_factory(world, name) for name in LISTS}})
            for workers in args.workers:
                with contextlib.ExitStack() as servers_up:
                    servers = {history: servers_up.enter_context(serving(
                        [*peakline(), "serve", "--db", url, "--host", "127.0.0.1",
                         "--workers", str(workers)], workdir / f"{db}-{workers}-{history}.log"))
                        for history, (url, _, _) in worlds.items()}
                    factories = {h: w[2] for h, w in worlds.items()}
                    urls = {h: w[0] for h, w in worlds.items()}
                    if len(servers) == 1:
                        (history, server), = servers.items()
                        setup = (db, workers, history)
                        got, trivial[setup], _ = measure(
                            server, factories[history], cfg, setup, tuple(args.endpoints),
                            functools.partial(analyze, urls[history]), bare)
                    else:
                        got, trivials = compare_histories(
                            servers, factories, urls, cfg, db, workers,
                            tuple(args.endpoints), args.rounds, bare)
                        trivial.update(trivials)
                rows += got
            if args.explain and db == "postgresql":
                for url, creds, _ in worlds.values():
                    explain(url, creds)
    verdicts = report(rows, trivial)
    console.print(f"benchmark took {time.monotonic() - started:.0f} s", highlight=False)
    if args.json:
        args.json.write_text(json.dumps({
            "rows": [r.to_dict(trivial.get(r.setup, 0.0),
                               bare_rates(rows, trivial).get(r.setup, 0.0)) for r in rows],
            "trivial_rps": {_label(k): v for k, v in trivial.items()},
            "verdicts": verdicts}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
