"""What a sign-in may cost the server: a rate per client address and a bound on hashing.

A password check is an argon2 verification (tens of milliseconds of CPU and 64 MiB); anyone
can ask for one. Unbounded, 8 clients signing in with random emails (~5/s) took the p50 of
``/v1/warehouse/list`` from 9 ms to 2.7 s. So, per worker process and before any database or
hashing work:

* each client address may start ``per_address`` sign-ins (a moving window, the ``limits``
  library): past it, 429 with ``Retry-After``;
* at most ``concurrent_hashes`` sign-ins run at once and ``max_waiting`` more may wait;
  past that, 429 ``Retry-After: 1`` (the server is busy signing in, not the caller's fault).

The client address is the peer's, or, behind a reverse proxy listed in
``PEAKLINE_TRUSTED_PROXIES``, the one its ``X-Forwarded-For`` names (uvicorn's
``ProxyHeadersMiddleware`` in the app; ``peakline serve`` turns uvicorn's own header handling
off): a header from any other peer is ignored, so it cannot buy a fresh limit.

Guessing one account's password is slowed separately, per (address, email), by the
exponential backoff of :func:`reference_backend.security.sign_in_gate`: an attacker's
failures slow the attacker's address, never the owner's.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from reference_backend.errors import ApiError


class SignInGuard:
    """Admission of sign-ins in one worker process (see the module docstring)."""

    def __init__(self, *, per_address: str, concurrent_hashes: int, max_waiting: int) -> None:
        self.per_address = parse(per_address)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.hashing = asyncio.Semaphore(concurrent_hashes)
        self.max_waiting = max_waiting
        self.waiting = 0

    def admit_address(self, address: str) -> None:
        """Count a sign-in from ``address``; 429 past its rate."""
        if self.limiter.hit(self.per_address, "sign-in", address):
            return
        reset_at = self.limiter.get_window_stats(self.per_address, "sign-in", address).reset_time
        wait = max(1, math.ceil(reset_at - time.time()))
        raise ApiError(429, f"too many sign-ins from this address; retry in {wait} s",
                       code="TOO_MANY_ATTEMPTS", headers={"Retry-After": str(wait)})

    @asynccontextmanager
    async def hashing_slot(self) -> AsyncIterator[None]:
        """Hold one of the hashing slots for the block; 429 when too many already wait."""
        if self.hashing.locked() and self.waiting >= self.max_waiting:
            raise ApiError(429, "the server is busy with other sign-ins; retry in 1 s",
                           code="TOO_MANY_ATTEMPTS", headers={"Retry-After": "1"})
        self.waiting += 1
        try:
            await self.hashing.acquire()
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self.hashing.release()
