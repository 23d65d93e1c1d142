"""The marketplace around the integration: buyers ordering on schedule, carriers picking up.

:class:`Buyers` sends the scenario's orders (``loadtests.arrivals.OrderStream``) to
``/marketplace/v1/orders`` at their times, each in a task of its own (open arrivals: an order
goes out whether or not earlier ones were answered), and enters the postings in the ledger.
:class:`Carriers` picks up what the integration shipped (``sorting_accepted``) and, for the
scenario's ``return_probability`` share of them, delivers it a second later and has the buyer
return it, so the integration has returns to handle (the rest stay in transit: fewer writes
for the backend to take beside the rehearsal).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import httpx
import numpy as np

from loadtests.arrivals import OrderStream
from loadtests.rehearsal.ledger import Ledger

ORDERS = "/marketplace/v1/orders"


class Buyers:
    """Sends every order of ``stream`` at ``origin + send_s`` (event-loop time)."""

    def __init__(self, client: httpx.AsyncClient, stream: OrderStream,
                 credentials: dict[str, Any], ledger: Ledger, *, deadline_s: float) -> None:
        self.client, self.stream, self.ledger = client, stream, ledger
        self.deadline_s = deadline_s
        self.client_id = str(credentials["client_id"])
        self.sku_base = int(credentials.get("sku_base") or 0)
        self.headers = {"Authorization": f"Bearer {credentials['platform_key']}"}
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        origin = loop.time()
        for i, at in enumerate(self.stream.send_s.tolist()):
            delay = origin + at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self._order(i))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        while self.tasks:
            await asyncio.gather(*list(self.tasks))

    async def _order(self, i: int) -> None:
        stream = self.stream
        body = {"client_id": self.client_id, "region": stream.region_ids[int(stream.region[i])],
                "lines": [{"sku": self.sku_base + sku, "quantity": qty}
                          for sku, qty in stream.basket(i)]}
        try:
            resp = await self.client.post(ORDERS, json=body, headers={
                **self.headers, "Idempotency-Key": str(uuid.uuid4())})
        except httpx.HTTPError:
            self.ledger.orders["failed"] += 1
            return
        if resp.status_code in (200, 201):
            self.ledger.orders["placed"] += 1
            for posting in resp.json().get("postings", []):
                self.ledger.ordered(posting["posting_number"], self.deadline_s)
        elif resp.status_code == 409 and "OUT_OF_STOCK" in resp.text:
            self.ledger.orders["refused_for_stock"] += 1
        else:
            self.ledger.orders["failed"] += 1


class Carriers:
    """Every ``tick_s``: picks up shipped postings, delivers picked ones, opens returns."""

    def __init__(self, client: httpx.AsyncClient, credentials: dict[str, Any], ledger: Ledger,
                 *, return_probability: float, seed: int, tick_s: float = 1.0) -> None:
        self.client, self.ledger, self.tick_s = client, ledger, tick_s
        self.headers = {"Authorization": f"Bearer {credentials['platform_key']}"}
        self.return_probability = return_probability
        self.rng = np.random.default_rng(seed)
        self.picked: set[str] = set()
        self.to_return: set[str] = set()
        self.delivered: set[str] = set()
        self.counts: dict[str, int] = {"picked_up": 0, "delivered": 0, "returns_opened": 0}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.tick_s)

    async def tick(self) -> None:
        to_deliver = [n for n in self.to_return if n not in self.delivered]
        to_pick = [n for n, t in self.ledger.postings.items()
                   if t.shipped_at is not None and n not in self.picked]
        await asyncio.gather(*(self._event(n, "delivered") for n in to_deliver),
                             *(self._event(n, "sorting_accepted") for n in to_pick))

    async def _event(self, number: str, event: str) -> None:
        try:
            resp = await self.client.post("/marketplace/v1/logistics/events", headers=self.headers,
                                          json={"posting_number": number, "event": event})
        except httpx.HTTPError:
            return
        if resp.status_code not in (200, 201):
            return
        if event == "sorting_accepted":
            self.picked.add(number)
            self.counts["picked_up"] += 1
            if self.rng.random() < self.return_probability:
                self.to_return.add(number)
            return
        self.delivered.add(number)
        self.counts["delivered"] += 1
        back = await self.client.post(f"/marketplace/v1/postings/{number}/return",
                                      headers=self.headers, json={"reason": "does not fit"})
        self.counts["returns_opened"] += back.status_code == 201
