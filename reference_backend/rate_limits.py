"""Ozon's request rate limits (opt-in, ``PEAKLINE_OZON_RATE_LIMITS=true``), spec §1.6.

* 50 requests a second per ``Client-Id`` over all Seller API methods, and per-method limits
  (``/v2/products/stocks`` 80 a minute, ``/v1/analytics/data`` 1 a minute): a request over
  one is answered 429 with Ozon's error body and ``Retry-After`` (seconds) by
  :class:`OzonRateLimits`, before any other work, so it changes nothing.
* A (product, warehouse) pair's stock can be set once per 30 s: a faster update of the pair
  is a per-item ``TOO_MANY_REQUESTS`` error of ``/v2/products/stocks`` (the rest of the
  batch applies).

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
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from reference_backend.errors import ozon_error_body

#: Seller API paths: ``/v1/...`` to ``/v5/...`` at the server root.
SELLER_API_PATH = re.compile(r"^/v\d+/")
CLIENT_ID_HEADER = b"client-id"


class OzonLimits:
    """The limits and their counts (one per app)."""

    def __init__(self, *, per_second: int, per_method: dict[str, str],
                 stock_pair_interval_s: int, storage: str = "async+memory://") -> None:
        self.overall = parse(f"{per_second}/second")
        self.per_method = {path: parse(limit) for path, limit in per_method.items()}
        self.stock_pair = RateLimitItemPerSecond(1, stock_pair_interval_s)
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

    async def stock_pair_allowed(self, client_id: str, product: str, warehouse_id: int) -> bool:
        """Counts one stock update of the pair; False when it came too soon after the last."""
        return await self.limiter.hit(self.stock_pair, client_id, "stock-pair", product,
                                      str(warehouse_id))


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
