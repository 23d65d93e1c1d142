"""The allocation policy's view of a seller's network, and the seller's policy objects.

A :class:`SellerNetwork` is built once per seller per process (routes and warehouses rarely
change; allocation policies cache their per-region rankings per network object) and
refreshed every few seconds for the pick backlog (``load``), if its policy asks for it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from reference_backend.tables import (
    BuyerRegion,
    DeliveryMethod,
    Posting,
    PostingItem,
    Route,
    Warehouse,
)
from simulator.lifecycle import PostingStatus
from simulator.policies import allocation_policies, replenishment_policies

if TYPE_CHECKING:
    from reference_backend.db import Database

REFRESH_SECONDS = 5.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarehouseInfo:
    warehouse_id: int
    code: str
    name: str
    delivery_method_id: int | None
    capacity_per_hour: float


class SellerNetwork:
    """``NetworkView`` over a seller's warehouses (keys are ``str(warehouse_id)``).

    Without any route rows (a seller created empty) every warehouse reaches every region
    with transit 0 and cost 0, so policies fall back to stock and warehouse order.
    """

    def __init__(self, session: Session | Connection, seller_id: int) -> None:
        self.seller_id = seller_id
        rows = session.execute(
            select(Warehouse.warehouse_id, Warehouse.code, Warehouse.name,
                   Warehouse.capacity_per_hour, Warehouse.status, Warehouse.paused_at)
            .where(Warehouse.seller_id == seller_id).order_by(Warehouse.warehouse_id)
        ).all()
        methods: dict[int, int] = {}
        for wid, mid in session.execute(
            select(DeliveryMethod.warehouse_id, DeliveryMethod.id)
            .where(DeliveryMethod.seller_id == seller_id).order_by(DeliveryMethod.id)
        ):
            methods.setdefault(wid, mid)
        self.info = {
            str(r[0]): WarehouseInfo(r[0], r[1], r[2], methods.get(r[0]), float(r[3] or 0))
            for r in rows
        }
        self._warehouses = tuple(self.info)
        self._open = {str(r[0]): r[4] == "created" and r[5] is None for r in rows}
        routes = session.execute(
            select(Route.warehouse_id, Route.region, Route.transit_hours, Route.cost_per_parcel)
            .where(Route.seller_id == seller_id)
        ).all()
        self.has_routes = bool(routes)
        self.regions = frozenset(r[1] for r in routes)
        self._transit = {(str(r[0]), r[1]): float(r[2]) for r in routes}
        self._cost = {(str(r[0]), r[1]): float(r[3]) for r in routes}
        #: region code -> (city, region): the real names its postings report
        self.places: dict[str, tuple[str, str]] = {
            code: (city, region) for code, city, region in session.execute(
                select(BuyerRegion.code, BuyerRegion.city, BuyerRegion.region)
                .where(BuyerRegion.seller_id == seller_id))}
        self._load: dict[str, float] = {}
        self.built_at = time.monotonic()
        self.refresh_load(session)

    @property
    def warehouses(self) -> Sequence[str]:
        return self._warehouses

    def transit_hours(self, warehouse: str, region: str) -> float:
        if not self.has_routes:
            return 0.0 if warehouse in self.info else math.inf
        return self._transit.get((warehouse, region), math.inf)

    def cost_per_parcel(self, warehouse: str, region: str) -> float:
        if not self.has_routes:
            return 0.0 if warehouse in self.info else math.inf
        return self._cost.get((warehouse, region), math.inf)

    def place(self, region: str) -> tuple[str, str]:
        """The city and region names of buyers in ``region`` (a code without names: itself)."""
        return self.places.get(region, (region, region))

    def load(self, warehouse: str) -> float:
        self.load_asked = True  # (a policy that never asks costs no backlog queries)
        return self._load.get(warehouse, 0.0)

    def load_due(self, now: float, refresh_seconds: float) -> bool:
        """Whether the backlog is stale and a policy has asked for it since the last read."""
        return self.load_asked and now - self.loaded_at > refresh_seconds

    def is_open(self, warehouse: str) -> bool:
        return self._open.get(warehouse, False)

    def refresh_load(self, session: Session | Connection) -> None:
        """Backlog (units awaiting packaging) in hours of each warehouse's pick capacity."""
        units = dict(session.execute(
            select(Posting.warehouse_id, func.coalesce(func.sum(PostingItem.quantity), 0))
            .join(PostingItem, PostingItem.posting_id == Posting.id)
            .where(Posting.seller_id == self.seller_id,
                   Posting.status == PostingStatus.AWAITING_PACKAGING.value)
            .group_by(Posting.warehouse_id)
        ).all())
        self._load = {
            key: float(units.get(info.warehouse_id, 0)) / info.capacity_per_hour
            for key, info in self.info.items() if info.capacity_per_hour > 0
        }
        self.loaded_at = time.monotonic()
        self.load_asked = False


_keys: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def database_key(session: Session | Connection | Engine) -> str:
    """Identifies the database behind a session, connection or engine (process caches are
    per database). Rendered once per engine (it is asked on every order).
    """
    if isinstance(session, Engine):
        engine = session
    else:
        engine = session.engine if isinstance(session, Connection) else session.get_bind().engine
    key = _keys.get(engine)
    if key is None:
        key = _keys[engine] = str(engine.url)
    return key


class NetworkCache:
    """Per-process cache of :class:`SellerNetwork` objects (thread-safe, refreshed by age)."""

    def __init__(self, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.refresh_seconds = refresh_seconds
        self._networks: dict[tuple[str, int], SellerNetwork] = {}
        self._lock = threading.Lock()
        self._refreshing: dict[tuple[str, int], asyncio.Task[SellerNetwork]] = {}

    def get(self, session: Session | Connection, seller_id: int) -> SellerNetwork:
        key = (database_key(session), seller_id)
        network = self._networks.get(key)
        now = time.monotonic()
        if network is None or self._rebuild_due(network, now):
            network = SellerNetwork(session, seller_id)
            with self._lock:
                self._networks[key] = network
        elif network.load_due(now, self.refresh_seconds):
            network.refresh_load(session)
        return network

    async def current(self, db: Database, seller_id: int) -> SellerNetwork:
        """For the event loop: the cached network as it is, with a refresh started in the
        background when it is due. One read at a time per seller: a stale cache must not
        send every request to the database, nor a cold one every request of a burst (they
        all wait for the one read)."""
        key = (database_key(db.engine), seller_id)
        network = self._networks.get(key)
        if network is None:
            return await asyncio.shield(self._read_once(db, seller_id, key))
        now = time.monotonic()
        if self._rebuild_due(network, now) or network.load_due(now, self.refresh_seconds):
            self._read_once(db, seller_id, key)
        return network

    def _read_once(self, db: Database, seller_id: int,
                   key: tuple[str, int]) -> asyncio.Task[SellerNetwork]:
        """The read of ``key`` in flight on this event loop, started if there is none."""
        loop = asyncio.get_running_loop()
        task = self._refreshing.get(key)
        if task is None or task.get_loop() is not loop:
            task = loop.create_task(run_in_threadpool(self._read, db, seller_id))
            self._refreshing[key] = task
            task.add_done_callback(lambda done: self._refreshed(key, done))
        return task

    def _refreshed(self, key: tuple[str, int], task: asyncio.Task[SellerNetwork]) -> None:
        if self._refreshing.get(key) is task:
            del self._refreshing[key]
        if not task.cancelled() and task.exception() is not None:  # the next request retries
            log.warning("seller network refresh failed", exc_info=task.exception())

    def _rebuild_due(self, network: SellerNetwork, now: float) -> bool:
        """Warehouses and routes are re-read every 60 refresh periods."""
        return now - network.built_at > 60 * self.refresh_seconds

    def _read(self, db: Database, seller_id: int) -> SellerNetwork:
        with db.read_connection() as conn:
            return self.get(conn, seller_id)

    def invalidate(self, seller_id: int | None = None) -> None:
        """Forget one seller's network (after its warehouses or routes change) or all."""
        with self._lock:
            for key in list(self._networks):
                if seller_id is None or key[1] == seller_id:
                    self._networks.pop(key, None)


NETWORKS = NetworkCache()

_policies: dict[tuple[str, str, str], Any] = {}
_policies_lock = threading.Lock()


def _policy(kind: str, name: str, params: dict[str, Any]) -> Any:
    key = (kind, name, repr(sorted(params.items())))
    policy = _policies.get(key)
    if policy is None:
        registry = allocation_policies if kind == "allocation" else replenishment_policies
        policy = registry.create(name, params)
        with _policies_lock:
            _policies[key] = policy
    return policy


def allocation_policy(name: str, params: dict[str, Any]) -> Any:
    """The (cached) allocation policy object for a seller's configured name and params."""
    return _policy("allocation", name, params)


def replenishment_policy(name: str, params: dict[str, Any]) -> Any:
    """The (cached) replenishment policy object for a seller's configured name and params."""
    return _policy("replenishment", name, params)
