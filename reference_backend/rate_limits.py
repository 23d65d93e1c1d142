"""Ozon's request rate limits (opt-in, ``PEAKLINE_OZON_RATE_LIMITS=true``), spec §1.6.

* 50 requests a second per ``Client-Id`` over all Seller API methods, and per-method limits
  (``/v2/products/stocks`` 80 a minute, ``/v1/analytics/data`` 1 a minute): a request over
  one is answered 429 with Ozon's error body and ``Retry-After`` (seconds) by
  :class:`OzonRateLimits`, before any other work, so it changes nothing.
* Per item, as that item's ``TOO_MANY_REQUESTS`` error (the rest of the batch applies): a
  (product, warehouse) pair's stock can be set once per 30 s (``/v2/products/stocks``), a
  product's price 10 times an hour (``/v1/product/import/prices``); and, when a daily quota
  is set, a seller's products created or updated a day (``/v3/product/import``: an item over
  it fails with ``item_limit_exceeded``).

Counted by the ``limits`` library in moving windows, in the worker's memory by default: with
N workers a client gets up to N times the limits, unless the counts are shared
(``PEAKLINE_OZON_RATE_LIMIT_STORAGE=async+redis://127.0.0.1:6379``, the ``redis`` extra).
Peakline's own paths (``/marketplace/``, ``/peakline/``) are not Ozon's and are not limited.
"""

from __future__ import annotations

import math
import re
import time

from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from reference_backend.errors import ozon_error_body

#: Seller API paths: ``/v1/...`` to ``/v5/...`` at the server root.
SELLER_API_PATH = re.compile(r"^/v\d+/")
CLIENT_ID_HEADER = b"client-id"


class OzonLimits:
    """The limits and their counts (one per app)."""

    def __init__(self, *, per_second: int, per_method: dict[str, str],
                 stock_pair_interval_s: int, product_imports_per_day: int | None = None,
                 storage: str = "async+memory://") -> None:
        self.overall = parse(f"{per_second}/second")
        self.per_method = {path: parse(limit) for path, limit in per_method.items()}
        #: per-item limits by kind (see :func:`refused_items`)
        self.per_item = {"stock": RateLimitItemPerSecond(1, stock_pair_interval_s),
                         "price": parse("10/hour")}
        if product_imports_per_day is not None:
            self.per_item["import"] = parse(f"{product_imports_per_day}/day")
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage))

    async def refusal(self, client_id: str, path: str) -> JSONResponse | None:
        """The 429 for a request over a limit of its Client-Id (None: go on)."""
        checks: list[tuple[RateLimitItem, str]] = [(self.overall, "*")]
        if path in self.per_method:
            checks.append((self.per_method[path], path))
        for item, key in checks:
            if not await self.limiter.hit(item, client_id, key):
                stats = await self.limiter.get_window_stats(item, client_id, key)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                return JSONResponse(
                    ozon_error_body(
                        429, f"You have reached request rate limit per {item.GRANULARITY.name}"),
                    status_code=429, headers={"Retry-After": str(wait)})
        return None


async def refused_items(request: Request, kind: str, keys: list[tuple[str, ...]]) -> set[int]:
    """Indexes of the items over their per-item limit of ``kind`` (none when the limits are
    off, or that limit is not set); each item's key names what it changes (a product, a
    product at a warehouse, or nothing: one count for the whole Client-Id)."""
    limits: OzonLimits | None = request.app.state.ozon_limits
    if limits is None or kind not in limits.per_item:
        return set()
    item, client_id = limits.per_item[kind], request.headers.get("client-id", "")
    return {i for i, key in enumerate(keys)
            if not await limits.limiter.hit(item, client_id, kind, *key)}


class OzonRateLimits:
    """Pure ASGI middleware: a Seller API request over its Client-Id's limits gets a 429."""

    def __init__(self, app: ASGIApp, *, limits: OzonLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and SELLER_API_PATH.match(scope["path"]):
            client_id = dict(scope["headers"]).get(CLIENT_ID_HEADER, b"").decode("latin-1")
            if client_id:  # (none: authentication refuses it)
                refusal = await self.limits.refusal(client_id, scope["path"])
                if refusal is not None:
                    await refusal(scope, receive, send)
                    return
        await self.app(scope, receive, send)
