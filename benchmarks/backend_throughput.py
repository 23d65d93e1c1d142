"""Backend throughput: buyer orders and posting lists beside a trivial endpoint, same server.

For each database (SQLite file, PostgreSQL) and worker count (1, 2) the benchmark seeds a
fresh database from a scenario (``peakline seed``; stock raised so no order runs short),
starts ``peakline serve`` on 127.0.0.1 and measures, with the raw-asyncio load generator in
``benchmarks/http_loadgen.py`` running in separate processes:

* closed loop (64 connections back to back): the maximum requests/s of ``GET /ping`` (a
  constant answer through the same middleware, no database; measured before and after the
  others, the mean is the trivial rate), ``POST /marketplace/v1/orders`` (unique
  Idempotency-Keys, baskets by the scenario's line counts, SKUs drawn by popularity,
  regions by weight) and ``POST /v3/posting/fbs/list`` (50 newest postings of the day);
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
  sizes, so the two do not scale alike).

A bare FastAPI app (one async endpoint, no middleware, one worker) is measured too, for the
scale of "a trivial FastAPI endpoint". Prints a table of rates, latencies and ratios to the
trivial endpoint, then the target verdicts (orders >= 20 % of trivial on PostgreSQL; p99 <
50 ms at 70 % of the maximum). Everything it starts (servers, load processes, the PostgreSQL
database) is stopped or dropped at the end. About 4 minutes.

    .venv/bin/python benchmarks/backend_throughput.py                  # SQLite, + PG if env set
    .venv/bin/python benchmarks/backend_throughput.py --pg postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/backend_throughput.py --db postgresql --workers 1 --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
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
TARGET_ORDER_RATIO = 0.20
TARGET_P99_MS = 50.0
ENDPOINTS = ("ping", "orders", "list")
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


def list_factory(world: World):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    body = json.dumps({
        "dir": "desc", "limit": 50, "offset": 0,
        "filter": {"since": (now - timedelta(days=1)).isoformat(),
                   "to": (now + timedelta(days=1)).isoformat()},
        "with": {"analytics_data": False, "financial_data": False},
    }).encode()
    data = _request("POST", "/v3/posting/fbs/list", {
        "Client-Id": world.creds["client_id"], "Api-Key": world.creds["api_key"]}, body)
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

    def to_dict(self, trivial: float) -> dict[str, Any]:
        r = self.result
        return {"db": self.db, "workers": self.workers, "endpoint": self.endpoint,
                "mode": self.mode, "rps": round(r.rate, 1), "target_rps": self.target_rate,
                "p50_ms": r.percentile_ms(50), "p95_ms": r.percentile_ms(95),
                "p99_ms": r.percentile_ms(99), "errors": r.errors,
                "statuses": {str(k): v for k, v in r.statuses.items()},
                "send_lag_p99_ms": r.lag_ms(99),
                "server_cores": round(self.cores[0], 2), "postgres_cores": round(self.cores[1], 2),
                "ratio_to_trivial": round(r.rate / trivial, 4) if trivial else None}


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


def measure(server: Server, factories: dict[str, Any], cfg: Config, db: str, workers: int,
            endpoints: tuple[str, ...], analyze: Any = None) -> tuple[list[Row], float]:
    """Closed loop per endpoint (trivial first and last), then open loop at 70 % of each max."""
    port, meter = server.port, CpuMeter(server.proc.pid)
    rows: list[Row] = []
    maxima: dict[str, float] = {}
    pings: list[float] = []
    order = ["ping", *[e for e in endpoints if e != "ping"]]
    if len(order) > 1:
        order.append("ping")
    if analyze is not None and ("orders" in endpoints or "list" in endpoints):
        # a live database: orders in it (postings to list) and statistics that know them
        closed_loop("127.0.0.1", port, factories["orders"], connections=cfg.connections,
                    processes=cfg.clients, warmup_s=0, duration_s=2)

    def fresh_statistics(name: str) -> None:
        if name != "ping" and analyze is not None:
            analyze()

    for name in order:
        fresh_statistics(name)
        with meter.over() as cores:
            res = closed_loop("127.0.0.1", port, factories[name], connections=cfg.connections,
                              processes=cfg.clients, warmup_s=cfg.warmup,
                              duration_s=cfg.closed)
        _check(res, name, db, workers, "closed")
        if name == "ping":
            pings.append(res.rate)
        rows.append(Row(db, workers, name, "max" if len(pings) < 2 else "max again", res,
                        cores=(cores[0], cores[1])))
        maxima[name] = float(np.mean(pings)) if name == "ping" else res.rate
    trivial = maxima["ping"]
    for name in maxima:
        rate = OPEN_SHARE * maxima[name]
        fresh_statistics(name)
        with meter.over() as cores:
            res = open_loop("127.0.0.1", port, factories[name], rate=rate,
                            processes=cfg.clients, warmup_s=cfg.warmup,
                            duration_s=open_seconds(rate, cfg.open), connections=cfg.connections)
        _check(res, name, db, workers, "open")
        rows.append(Row(db, workers, name, f"open@{OPEN_SHARE:.0%}", res, round(rate, 1),
                        (cores[0], cores[1])))
    console.print(f"  {db} x{workers}: trivial {pings} req/s; "
                  + ", ".join(f"{k} {v:.0f}" for k, v in maxima.items()), highlight=False)
    return rows, trivial


def _check(res: LoadResult, name: str, db: str, workers: int, mode: str) -> None:
    if res.errors:
        console.print(f"[yellow]  {db} x{workers} {name} {mode}: {res.errors} errors "
                      f"{dict(res.statuses)}[/]")


# --------------------------------------------------------------------------- report


def _ms(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:.1f}"


def report(rows: list[Row], trivial: dict[tuple[str, int], float]) -> list[str]:
    table = Table(title="Backend throughput (ratios to GET /ping on the same server, same run)")
    for col in ("db", "workers", "endpoint", "mode", "req/s", "p50 ms", "p95 ms", "p99 ms",
                "errors", "gen lag p99", "client CPU", "server CPU", "PG CPU", "ratio"):
        table.add_column(col, justify="right" if col not in ("db", "endpoint", "mode") else "left")
    for row in rows:
        r = row.result
        base = trivial.get((row.db, row.workers), 0.0)
        rate = f"{r.rate:,.0f}" + (f" / {row.target_rate:,.0f}" if row.target_rate else "")
        table.add_row(row.db, str(row.workers), row.endpoint, row.mode, rate,
                      _ms(r.percentile_ms(50)), _ms(r.percentile_ms(95)),
                      _ms(r.percentile_ms(99)), str(r.errors),
                      _ms(r.lag_ms(99)) if row.target_rate else "", f"{r.client_cpu:.0%}",
                      f"{row.cores[0]:.2f}",
                      f"{row.cores[1]:.2f}" if row.db == "postgresql" else "",
                      f"{r.rate / base:.1%}" if base else "")
    console.print(table)
    console.print("open-loop req/s is 'achieved / scheduled'; latency counts from the scheduled "
                  "send time (a wait for a free connection included); gen lag = how late the "
                  "generator itself took up a scheduled request; client CPU = busiest load "
                  "process, share of one core; server CPU, PG CPU = cores the server's processes "
                  "and PostgreSQL's kept busy on average.")
    verdicts = []
    for (db, workers), base in trivial.items():
        if db == "bare":
            continue
        for row in rows:
            if (row.db, row.workers) != (db, workers) or row.endpoint == "ping":
                continue
            if row.mode == "max" and row.endpoint == "orders" and db == "postgresql":
                ratio = row.result.rate / base
                verdicts.append(_verdict(ratio >= TARGET_ORDER_RATIO,
                                         f"{db} x{workers}: orders {ratio:.1%} of trivial "
                                         f"(target >= {TARGET_ORDER_RATIO:.0%})"))
            if row.mode != "max":
                p99 = row.result.percentile_ms(99)
                verdicts.append(_verdict(p99 < TARGET_P99_MS,
                                         f"{db} x{workers}: {row.endpoint} p99 {_ms(p99)} ms at "
                                         f"{OPEN_SHARE:.0%} of max (target < {TARGET_P99_MS:.0f})"))
    busiest = max(rows, key=lambda r: r.result.client_cpu)
    verdicts.append(_verdict(  # each load process had CPU to spare: it did not cap a rate
        busiest.result.client_cpu < 0.8,
        f"client headroom: busiest load process used {busiest.result.client_cpu:.0%} of a core "
        f"({busiest.db} x{busiest.workers} {busiest.endpoint} {busiest.mode})"))
    for row in rows:  # the generator itself keeps the schedule on the trivial endpoint
        if row.endpoint == "ping" and row.target_rate:
            got = row.result.rate / row.target_rate
            verdicts.append(_verdict(got > 0.97 and row.result.lag_ms(99) < 5,
                                     f"generator check {row.db} x{row.workers}: "
                                     f"{got:.1%} of the scheduled {row.target_rate:,.0f}/s "
                                     f"sent and answered, lag p99 "
                                     f"{row.result.lag_ms(99):.1f} ms"))
    for line in verdicts:
        console.print(line, highlight=False)
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
    trivial: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="peakline-bench-") as tmp:
        workdir = Path(tmp)
        if not args.no_bare:
            argv_bare = [sys.executable, "-m", "uvicorn", "--factory", "--app-dir",
                         str(ROOT / "benchmarks"), "backend_throughput:bare_app",
                         "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"]
            with serving(argv_bare, workdir / "bare.log") as server:
                got, base = measure(server, {"ping": ping_factory}, cfg, "bare", 1,
                                    ("ping",))
                rows += got
                trivial[("bare", 1)] = base
        for db in dbs:
            ctx = (fresh_postgres(args.pg) if db == "postgresql"
                   else contextlib.nullcontext(f"sqlite:///{workdir / 'bench.db'}"))
            with ctx as url:
                creds = seed(url, args.scenario, workdir)
                world = World.build(args.scenario, creds)
                factories = {"ping": ping_factory, "orders": order_factory(world),
                             "list": list_factory(world)}
                for workers in args.workers:
                    serve = [*peakline(), "serve", "--db", url, "--host", "127.0.0.1",
                             "--workers", str(workers)]
                    with serving(serve, workdir / f"{db}-{workers}.log") as server:
                        got, base = measure(server, factories, cfg, db, workers,
                                            tuple(args.endpoints), lambda: analyze(url))
                    rows += got
                    trivial[(db, workers)] = base
    verdicts = report(rows, trivial)
    console.print(f"benchmark took {time.monotonic() - started:.0f} s", highlight=False)
    if args.json:
        args.json.write_text(json.dumps({
            "rows": [r.to_dict(trivial.get((r.db, r.workers), 0.0)) for r in rows],
            "trivial_rps": {f"{d}x{w}": v for (d, w), v in trivial.items()},
            "verdicts": verdicts}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
