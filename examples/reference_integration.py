"""A reference Ozon FBS integration: the small service a seller runs beside Ozon.

Written against the Ozon Seller API with the public ``ozonapi-async`` client, nothing
Peakline-specific: it reads ``OZON_API_URL``, ``OZON_CLIENT_ID`` and ``OZON_API_KEY`` and
works the same against Ozon or against Peakline's reference backend. Every ``--poll``
seconds one cycle:

1. lists postings awaiting packaging (``/v3/posting/fbs/unfulfilled/list``, all pages);
2. ships each new one as one package (``/v4/posting/fbs/ship``);
3. fetches the labels of what it shipped (``/v2/posting/fbs/package-label``, 20 a call);
4. keeps stock in sync: reads the stock of the SKUs it just shipped
   (``/v1/product/info/stocks-by-warehouse/fbs``) and sets any (SKU, warehouse) whose free
   stock fell below ``--restock-below`` back to ``--restock-to`` (``/v2/products/stocks``; a
   pair at most once per 30 s, as Ozon allows);
5. reads new returns (``/v1/returns/list``) and counts them.

With ``--push HOST:PORT`` it also listens for Ozon's push notifications (``POST /``, and
``GET /health`` answers 200): a ``TYPE_NEW_POSTING`` or ``TYPE_POSTING_CANCELLED`` starts the
next cycle at once instead of at the next poll, so postings ship sooner. Pushes may come
late or twice; a push only wakes the loop (cycles run one at a time, and a posting already
shipped is never shipped again), so a duplicate costs at most one extra listing, and a late
one is covered by polling. ``--env-file FILE`` reads the connection from a file of
``KEY=value`` lines (waiting for it to appear) instead of the environment: for a service
started before ``peakline rehearse --integration-url`` writes its ``ozon.env``.

Shipments go out over ``--connections`` client instances, one request at a time each:
``ozonapi-async`` 0.89 closes a client's HTTP session when the first of several concurrent
requests of one *instance* finishes, failing the others ("Server disconnected"). A 429 or
a 5xx is retried by the client with backoff; what still fails is logged and tried again
next cycle. It runs until SIGTERM/SIGINT and prints one line per cycle that did work.

    OZON_API_URL=http://127.0.0.1:8000 OZON_CLIENT_ID=... OZON_API_KEY=... \\
        python examples/reference_integration.py --poll 2
    python examples/reference_integration.py --push 127.0.0.1:8081 --env-file out/ozon.env
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiolimiter import AsyncLimiter
from ozonapi import SellerAPI, SellerAPIConfig
from ozonapi.seller.core.exceptions import APIError
from ozonapi.seller.schemas import fbs
from ozonapi.seller.schemas import fbs_assembly_and_labeling as asm
from ozonapi.seller.schemas import prices_and_stocks as ps
from ozonapi.seller.schemas import returns as rt
from ozonapi.seller.schemas.fbs.entities.posting__posting import PostingFBSPosting

LABELS_PER_CALL, STOCK_ITEMS_PER_CALL, PAIR_INTERVAL_S = 20, 100, 31.0


def log(text: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {text}", flush=True)


class Integration:
    """The seller's side of FBS: ship what was ordered, print labels, keep stock up."""

    def __init__(self, apis: list[SellerAPI], *, restock_below: int, restock_to: int,
                 rate: float) -> None:
        self.api = apis[0]
        # one at a time, every 1/rate s: the client's own limiter lets bursts through that
        # Ozon's per-second window answers with 429
        self.pace = AsyncLimiter(1, 1 / rate)
        self.idle: asyncio.Queue[SellerAPI] = asyncio.Queue()
        for api in apis:
            self.idle.put_nowait(api)
        self.restock_below, self.restock_to = restock_below, restock_to
        self.shipped: set[str] = set()
        self.stock_set_at: dict[tuple[int, int], float] = {}
        self.last_return_id = 0

    async def cycle(self) -> None:
        postings = [p for p in await self.awaiting_packaging()
                    if p.posting_number not in self.shipped]
        shipped = [p.posting_number for p, ok in zip(
            postings, await asyncio.gather(*(self.ship(p) for p in postings)), strict=True) if ok]
        labels = await self.fetch_labels(shipped)
        skus = {int(item.sku) for p in postings if p.posting_number in self.shipped
                for item in p.products}
        restocked = await self.sync_stock(skus)
        returns = await self.read_returns()
        if postings or restocked or returns:
            log(f"new {len(postings)}, shipped {len(shipped)}, labels {labels}, "
                f"restocked {restocked}, returns {returns}")

    async def awaiting_packaging(self) -> list[PostingFBSPosting]:
        now = datetime.now(UTC)
        out, offset = [], 0
        while True:
            page = await self.api.posting_fbs_unfulfilled_list_v3(
                fbs.PostingFBSUnfulfilledListV3Request(
                    filter=fbs.PostingFBSUnfulfilledListV3Filter(
                        cutoff_from=now - timedelta(days=30), cutoff_to=now + timedelta(days=30),
                        status="awaiting_packaging"),
                    dir="asc", limit=1000, offset=offset))
            batch = page.result.postings or []
            out += batch
            if len(batch) < 1000:
                return out
            offset += len(batch)

    async def ship(self, posting: PostingFBSPosting) -> bool:
        products = [asm.PostingFBSShipProduct(product_id=int(p.sku), quantity=int(p.quantity))
                    for p in posting.products]
        api = await self.idle.get()
        try:
            await self.pace.acquire()
            await api.posting_fbs_ship(asm.PostingFBSShipRequest(
                posting_number=posting.posting_number,
                packages=[asm.PostingFBSShipProducts(products=products)]))
        except APIError as exc:
            log(f"ship {posting.posting_number} failed: {exc}")
            return False
        finally:
            self.idle.put_nowait(api)
        self.shipped.add(posting.posting_number)
        return True

    async def fetch_labels(self, numbers: list[str]) -> int:
        done = 0
        for i in range(0, len(numbers), LABELS_PER_CALL):
            chunk = numbers[i:i + LABELS_PER_CALL]
            try:
                # Ozon answers this method with the PDF itself; ozonapi-async 0.89's
                # posting_fbs_package_label parses JSON, so the call goes through the
                # client's binary path, as its act and label-file methods do
                label = await self.api._request(  # noqa: SLF001
                    method="post", api_version="v2", endpoint="posting/fbs/package-label",
                    payload=fbs.PostingFBSPackageLabelRequest(posting_number=chunk).model_dump(),
                    response_format="binary")
            except APIError as exc:
                log(f"labels of {len(chunk)} postings failed: {exc}")
                continue
            if label["content"].startswith(b"%PDF"):
                done += len(chunk)
            else:
                log(f"labels of {len(chunk)} postings: the answer is not a PDF")
        return done

    async def sync_stock(self, skus: set[int]) -> int:
        if not skus:
            return 0
        try:
            rows = (await self.api.product_info_stocks_by_warehouse_fbs_v1(
                ps.ProductInfoStocksByWarehouseFBSV1Request(sku=[str(s) for s in skus]))).result
        except APIError as exc:
            log(f"reading stock failed: {exc}")
            return 0
        now = time.monotonic()
        items = []
        for row in rows or []:
            pair = (int(row.sku), int(row.warehouse_id))
            if (row.present or 0) - (row.reserved or 0) >= self.restock_below:
                continue
            if now - self.stock_set_at.get(pair, -PAIR_INTERVAL_S) < PAIR_INTERVAL_S:
                continue
            items.append(ps.ProductsStocksItem(offer_id=row.offer_id, product_id=row.product_id,
                                               stock=self.restock_to,
                                               warehouse_id=row.warehouse_id))
            self.stock_set_at[pair] = now
        updated = 0
        for i in range(0, len(items), STOCK_ITEMS_PER_CALL):
            try:
                answer = await self.api.products_stocks(
                    ps.ProductsStocksRequest(stocks=items[i:i + STOCK_ITEMS_PER_CALL]))
                updated += sum(bool(r.updated) for r in answer.result or [])
            except APIError as exc:
                log(f"stock update failed: {exc}")
        return updated

    async def read_returns(self) -> int:
        try:
            page = await self.api.returns_list(rt.ReturnsListRequest(limit=500))
        except APIError as exc:
            log(f"reading returns failed: {exc}")
            return 0
        new = [r for r in page.returns or [] if int(r.id) > self.last_return_id]
        if new:
            self.last_return_id = max(int(r.id) for r in new)
        return len(new)


class PushInbox:
    """Ozon's push notifications: each one about postings wakes the next cycle."""

    WAKING = {"TYPE_NEW_POSTING", "TYPE_POSTING_CANCELLED"}

    def __init__(self, wake: asyncio.Event) -> None:
        self.wake = wake
        self.seen: set[tuple[str, str, str]] = set()
        self.counts: Counter[str] = Counter()

    async def receive(self, request: web.Request) -> web.Response:
        try:
            push = await request.json()
        except ValueError:
            return web.json_response({"error": {"code": "ERROR_PARAMETER_VALUE_MISSED",
                                                "message": "not JSON", "details": None}},
                                     status=400)
        kind = str(push.get("message_type", ""))
        key = (kind, str(push.get("posting_number", "")),
               str(push.get("in_process_at") or push.get("changed_state_date") or ""))
        self.counts["duplicates" if key in self.seen else kind] += 1
        self.seen.add(key)
        if kind in self.WAKING:
            self.wake.set()
        return web.json_response({"result": True})  # Ozon expects this answer

    async def serve(self, address: str) -> web.AppRunner:
        host, _, port = address.rpartition(":")
        app = web.Application()
        app.router.add_post("/", self.receive)
        app.router.add_get("/health", lambda _r: web.json_response({"status": "ok"}))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host or "127.0.0.1", int(port)).start()
        return runner


async def read_env_file(path: Path, stop: asyncio.Event) -> dict[str, str]:
    """``KEY=value`` lines of ``path``, once it exists and names all three."""
    wanted = {"OZON_API_URL", "OZON_CLIENT_ID", "OZON_API_KEY"}
    while not stop.is_set():
        with contextlib.suppress(OSError):
            pairs = dict(line.split("=", 1) for line in path.read_text().splitlines()
                         if "=" in line)
            if wanted <= pairs.keys():
                return pairs
        await asyncio.sleep(0.2)
    return {}


async def main(args: argparse.Namespace) -> int:
    stop, wake = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    inbox = PushInbox(wake)
    pushes = await inbox.serve(args.push) if args.push else None
    if pushes:
        log(f"receiving Ozon push notifications on http://{args.push}/")
    env = dict(os.environ)
    if args.env_file:
        log(f"waiting for the connection in {args.env_file}")
        env.update(await read_env_file(args.env_file, stop))
    try:
        config = SellerAPIConfig(
            base_url=env["OZON_API_URL"].rstrip("/"),
            client_id=env["OZON_CLIENT_ID"], api_key=env["OZON_API_KEY"],
            max_retries=3, retry_min_wait=0.2,
            retry_max_wait=2.0, request_timeout=20)
    except KeyError as exc:
        print(f"set {exc.args[0]} (and OZON_API_URL, OZON_CLIENT_ID, OZON_API_KEY)",
              file=sys.stderr)
        return 2
    log(f"polling {config.base_url} every {args.poll:g} s")
    try:
        async with contextlib.AsyncExitStack() as stack:
            apis = [await stack.enter_async_context(SellerAPI(config=config))
                    for _ in range(args.connections)]
            integration = Integration(apis, restock_below=args.restock_below,
                                      restock_to=args.restock_to, rate=args.rate)
            while not stop.is_set():
                wake.clear()  # a push arriving during the cycle wakes the next one
                try:
                    await integration.cycle()
                except APIError as exc:
                    log(f"cycle failed: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop.wait(), wake.wait()), timeout=args.poll)
    finally:
        await SellerAPI.shutdown()
        if pushes:
            await pushes.cleanup()
    counts = ", ".join(f"{k} {v}" for k, v in inbox.counts.items())
    log(f"stopped after shipping {len(integration.shipped)} postings"
        + (f"; pushes: {counts}" if counts else ""))
    return 0


async def _first(*waits: Any) -> None:
    """Until the first of ``waits`` is done (the others are cancelled)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between cycles")
    parser.add_argument("--restock-below", type=int, default=20,
                        help="free stock under which a (SKU, warehouse) is restocked")
    parser.add_argument("--restock-to", type=int, default=200, help="free stock it is set to")
    parser.add_argument("--connections", type=int, default=6,
                        help="client instances shipping side by side")
    parser.add_argument("--rate", type=int, default=30,
                        help="shipments per second at most (Ozon allows 50 requests per "
                        "second per client)")
    parser.add_argument("--push", metavar="HOST:PORT",
                        help="listen here for Ozon push notifications (and GET /health)")
    parser.add_argument("--env-file", type=Path, metavar="FILE",
                        help="read OZON_API_URL, OZON_CLIENT_ID, OZON_API_KEY from FILE "
                        "(KEY=value lines; waits for it to appear)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
