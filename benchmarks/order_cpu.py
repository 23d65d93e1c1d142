"""Server CPU per buyer order, in process: the ASGI app driven by many concurrent orders.

The app ``peakline serve`` runs (``create_app``, every middleware, the access log, metrics)
is called straight through ASGI by ``--concurrency`` clients back to back on one event loop
(uvloop, as uvicorn runs it), so group-commit batches form as they do under load. The
requests are the ones ``backend_throughput.py`` sends (its seeded world, baskets and unique
Idempotency-Keys). Prints the process CPU per order (``time.process_time``: the event loop
and, on SQLite, the worker thread), the mean batch size, and ``/ping`` through the same app
as a scale; uvicorn's HTTP parsing is not in these figures (about the same for every
request). ``--profile out.prof`` writes a cProfile of the measured orders (slower; for the
shares, not the totals).

    .venv/bin/python benchmarks/order_cpu.py --pg postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/order_cpu.py --db sqlite --orders 3000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from backend_throughput import (  # noqa: E402
    World,
    analyze,
    fresh_postgres,
    order_factory,
    ping_factory,
    seed,
)

SCENARIO = ROOT / "scenarios" / "smoke.yaml"


def asgi_request(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """An HTTP/1.1 request (as the load generator sends it) as an ASGI scope and body."""
    head, _, body = raw.partition(b"\r\n\r\n")
    request_line, *lines = head.split(b"\r\n")
    method, target, _ = request_line.split(b" ")
    path, _, query = target.partition(b"?")
    headers = [(k.strip().lower(), v.strip()) for k, v in
               (line.split(b":", 1) for line in lines)]
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
             "http_version": "1.1", "method": method.decode(), "scheme": "http",
             "path": path.decode(), "raw_path": path, "query_string": query, "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
             "state": {}}
    return scope, body


async def call(app: Any, raw: bytes) -> int:
    """One request through the app; its status."""
    scope, body = asgi_request(raw)
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # (a client that stays: no disconnect)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def drive(app: Any, factory: Callable[[int], bytes], start: int, count: int,
                concurrency: int, expect: int) -> None:
    """``count`` requests (``factory(start..)``), ``concurrency`` clients back to back."""
    next_i = iter(range(start, start + count))

    async def client() -> None:
        for i in next_i:
            status = await call(app, factory(i))
            if status != expect:
                raise RuntimeError(f"request {i}: status {status}")

    await asyncio.gather(*(client() for _ in range(concurrency)))


def batch_sizes(app: Any) -> tuple[float, float]:
    """(batches, orders) so far, from the group commit's histogram (PostgreSQL only)."""
    registry = app.state.metrics_registry
    count = registry.get_sample_value("peakline_order_batch_orders_count") or 0.0
    total = registry.get_sample_value("peakline_order_batch_orders_sum") or 0.0
    return count, total


async def run(url: str, world: World, args: argparse.Namespace) -> dict[str, float]:
    from reference_backend.app import create_app
    from reference_backend.settings import Settings

    settings = Settings(database_url=url, migrate_on_start=False, json_logs=True,
                        run_outbox_worker=False)
    app = create_app(settings, freeze_gc=True)  # as `peakline serve` runs it
    orders, ping = order_factory(world)(0), ping_factory(0)
    out: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        await drive(app, orders, 0, args.warmup, args.concurrency, 201)
        await drive(app, ping, 0, 2000, args.concurrency, 200)
        n = args.warmup
        for round_ in range(args.rounds):
            t0 = time.process_time()
            await drive(app, ping, 0, args.pings, args.concurrency, 200)
            out[f"ping_us_{round_}"] = (time.process_time() - t0) / args.pings * 1e6
            before = batch_sizes(app)
            profile = cProfile.Profile() if args.profile and round_ == 0 else None
            t0, w0 = time.process_time(), time.perf_counter()
            with profile or contextlib.nullcontext():
                await drive(app, orders, n, args.orders, args.concurrency, 201)
            cpu, wall = time.process_time() - t0, time.perf_counter() - w0
            n += args.orders
            after = batch_sizes(app)
            out[f"order_us_{round_}"] = cpu / args.orders * 1e6
            out[f"order_per_s_{round_}"] = args.orders / wall
            if after[0] > before[0]:
                out[f"batch_{round_}"] = (after[1] - before[1]) / (after[0] - before[0])
            if profile is not None:
                profile.dump_stats(args.profile)
    return out


@contextlib.contextmanager
def database(kind: str, pg: str | None, workdir: Path) -> Iterator[str]:
    if kind == "postgresql":
        if not pg:
            raise SystemExit("--pg URL needed for PostgreSQL")
        with fresh_postgres(pg) as url:
            yield url
    else:
        yield f"sqlite:///{workdir / 'orders.db'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("PEAKLINE_TEST_DATABASE_URL"))
    parser.add_argument("--db", nargs="+", default=["postgresql"],
                        choices=["postgresql", "sqlite"])
    parser.add_argument("--orders", type=int, default=1000, help="orders per measured round")
    parser.add_argument("--rounds", type=int, default=12,
                        help="measured rounds (a busy machine only slows a round: the minimum "
                             "is the figure)")
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--profile", type=Path, help="cProfile of the first round's orders")
    args = parser.parse_args(argv)
    import uvloop

    with tempfile.TemporaryDirectory(prefix="order-cpu-") as tmp:
        workdir = Path(tmp)
        for kind in args.db:
            with database(kind, args.pg, workdir) as url:
                creds = seed(url, SCENARIO, workdir)
                analyze(url)
                world = World.build(SCENARIO, creds)
                with open(workdir / "server.log", "w") as log, \
                        contextlib.redirect_stderr(log):
                    out = uvloop.run(run(url, world, args))
            rounds = range(args.rounds)
            orders = [out[f"order_us_{r}"] for r in rounds]
            pings = [out[f"ping_us_{r}"] for r in rounds]
            batches = [out.get(f"batch_{r}", 0.0) for r in rounds]
            print(f"{kind}: CPU per order {min(orders):.0f} us (min of {len(orders)} rounds; "
                  f"median {statistics.median(orders):.0f}; mean batch "
                  f"{statistics.mean(batches):.1f}; "
                  f"{max(out[f'order_per_s_{r}'] for r in rounds):.0f} orders/s in process); "
                  f"/ping through the app {min(pings):.0f} us; order/ping "
                  f"{min(orders) / min(pings):.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
