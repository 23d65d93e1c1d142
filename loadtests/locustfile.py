"""Locust users for Peakline: buyers, the seller's staff by role, and carriers.

Run through ``peakline loadtest`` (which passes the options below), or by hand::

    locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8000 \\
        --peakline-scenario scenarios/smoke.yaml --peakline-credentials creds.json

Requests are named ``"METHOD /path"`` with path templates (``{order_number}``), so Locust's
statistics group per endpoint and thresholds can name one. Business refusals the API is
meant to give under load (409 out of stock, a cancel that came too late) count as successes;
they are tallied in the outcome counters instead. The load profile is :class:`ScenarioShape`.
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gevent.lock
import numpy as np
from locust import FastHttpUser, events, task
from locust.runners import WorkerRunner

from loadtests.open_sender import ORDERS
from loadtests.shape import ScenarioShape  # noqa: F401  (Locust picks the shape class up)
from loadtests.world import OUTCOMES, Catalogue, WorkQueues, World, world_option

#: Share of a buyer's ``ask_seller`` turns that write to the seller (buyer chats).
CHAT_GATE = 0.1
DAY = timedelta(days=1)

_world: World | None = None
_queues = WorkQueues()
_catalogue_lock = gevent.lock.Semaphore()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("Peakline")
    group.add_argument("--peakline-scenario", default="", help="scenario YAML file")
    group.add_argument("--peakline-credentials", default="", help="JSON from `peakline seed`")
    group.add_argument("--peakline-shape", default="curve", choices=["curve", "flat"])
    group.add_argument("--peakline-duration", type=float, default=60.0, help="seconds")
    group.add_argument("--peakline-users", type=int, default=50, help="users at the peak rate")
    group.add_argument("--peakline-think", type=float, default=1.0, help="mean think time, s")
    group.add_argument("--peakline-outcomes", default="", help="write outcome counters here")
    # the open model (loadtests/open_locustfile.py)
    group.add_argument("--peakline-seed", type=int, default=1, help="seed of the order stream")
    group.add_argument("--peakline-processes", type=int, default=1,
                       help="Locust processes sharing the order stream (workers, or 1)")
    group.add_argument("--peakline-latency", default="", help="write HDR histograms here")
    group.add_argument("--peakline-drain", type=float, default=25.0,
                       help="seconds after the load allowed for the last answers")


@events.init.add_listener
def _init(environment: Any, **_kw: Any) -> None:
    opts = environment.parsed_options
    if opts is None or isinstance(environment.runner, WorkerRunner):
        return  # a worker receives peakline_world from the master with the spawn message
    if not (opts.peakline_scenario and opts.peakline_credentials):
        sys.stderr.write("peakline: give --peakline-scenario FILE and --peakline-credentials "
                         "FILE (the JSON `peakline seed --credentials-out` wrote)\n")
        raise SystemExit(2)
    opts.peakline_world = world_option(Path(opts.peakline_scenario),
                                       Path(opts.peakline_credentials))


@events.report_to_master.add_listener
def _report(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    data["peakline_outcomes"] = dict(OUTCOMES)
    OUTCOMES.clear()


@events.worker_report.add_listener
def _collect(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    for name, value in data.get("peakline_outcomes", {}).items():
        if name.startswith("max_"):  # a level, not a count: keep the highest
            OUTCOMES[name] = max(OUTCOMES[name], value)
        else:
            OUTCOMES[name] += value


@events.quitting.add_listener
def _write_outcomes(environment: Any, **_kw: Any) -> None:
    opts = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner) or not opts or not opts.peakline_outcomes:
        return
    Path(opts.peakline_outcomes).write_text(json.dumps(dict(sorted(OUTCOMES.items())), indent=2))


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def throttled(resp: Any) -> bool:
    """A 429 (Ozon's rate limits, ``peakline loadtest --ozon-rate-limits``) is counted as
    ``throttled`` in its own row of the stats (``... (429)``), not as an error."""
    if resp.status_code != 429:
        return False
    resp.request_meta["name"] += " (429)"
    OUTCOMES["throttled"] += 1
    resp.success()
    return True


class PeaklineUser(FastHttpUser):
    """Common parts: the world, think time scaled by ``--peakline-think`` and ``think_factor``."""

    abstract = True
    think_factor = 1.0

    def wait_time(self) -> float:
        opts = self.environment.parsed_options
        mean = (opts.peakline_think if opts else 1.0) * self.think_factor
        return self.rng.uniform(0.5 * mean, 1.5 * mean) if mean > 0 else 0.0

    def on_start(self) -> None:
        global _world
        self.rng = random.Random()
        self.np_rng = np.random.default_rng(self.rng.getrandbits(64))
        if _world is None:
            _world = World.from_option(self.environment.parsed_options.peakline_world)
        self.world = _world
        if self.world.catalogue is None:
            with _catalogue_lock:
                if self.world.catalogue is None:
                    self.world.catalogue = self._discover_catalogue()

    # ------------------------------------------------------------------ helpers

    def seller_post(self, path: str, body: dict[str, Any], *roles: str,
                    ok: tuple[int, ...] = (200,)) -> dict[str, Any] | None:
        """POST to the Seller API with the key of the first of ``roles``; JSON or None."""
        headers = self.world.key(*roles).headers
        with self.client.post(path, json=body, headers=headers, name=f"POST {path}",
                              catch_response=True) as resp:
            if throttled(resp):
                return None
            if resp.status_code in ok:
                try:
                    return resp.json()
                except ValueError:
                    resp.failure(f"HTTP {resp.status_code}: response is not JSON")
                    return None
            resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
            return None

    def seller_get(self, path: str, name: str, params: dict[str, Any], *roles: str) -> Any:
        """GET a Peakline seller extra (``/peakline/v1``) with the key of the first of ``roles``."""
        headers = self.world.key(*roles).headers
        with self.client.get(path, params=params, headers=headers, name=f"GET {name}",
                             catch_response=True) as resp:
            if resp.status_code == 200:
                return resp.json()
            resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
            return None

    def _discover_catalogue(self) -> Catalogue:
        rows: dict[int, dict[str, Any]] = {}
        last_id = ""
        for _ in range(1000):
            page = self.seller_post("/v3/product/list", {"filter": {"visibility": "ALL"},
                                    "last_id": last_id, "limit": 1000}, "warehouse", "sales")
            items = (page or {}).get("result", {}).get("items", [])
            for item in items:
                rows[int(item["product_id"])] = dict(item)
            new_last = (page or {}).get("result", {}).get("last_id", "")
            if not items or not new_last or new_last == last_id:
                break
            last_id = new_last
        missing = [pid for pid, row in rows.items() if not row.get("sku")]
        for i in range(0, len(missing), 1000):
            info = self.seller_post("/v3/product/info/list",
                                    {"product_id": missing[i:i + 1000]}, "warehouse", "sales")
            for item in (info or {}).get("items", (info or {}).get("result", {}).get("items", [])):
                pid = int(item["id"])
                sku = item.get("sku") or next(
                    (s.get("sku") for s in item.get("sources") or [] if s.get("sku")), None)
                if pid in rows and sku:
                    rows[pid]["sku"] = int(sku)
        wh = self.seller_post("/v1/warehouse/list", {}, "warehouse", "sales") or {}
        warehouses = [int(w["warehouse_id"]) for w in wh.get("result", [])]
        usable = [r for r in rows.values() if r.get("sku")]
        OUTCOMES["max_catalogue_skus"] = max(OUTCOMES["max_catalogue_skus"], len(usable))
        return Catalogue.build(usable, warehouses, self.world.popularity)

    @property
    def catalogue(self) -> Catalogue:
        assert self.world.catalogue is not None
        return self.world.catalogue


class Buyer(PeaklineUser):
    """A shopper: browses products, places orders (idempotent retries), cancels, returns."""

    weight = 12
    think_factor = 1.0

    def on_start(self) -> None:
        super().on_start()
        self.recent_orders: list[str] = []
        self.recent_postings: list[str] = []
        dem = self.world.scenario.demand
        # cancel_order runs a quarter as often as place_order: gate it at 4 x the share so
        # about that share of orders is cancelled (at least 2 %, so every path is exercised)
        self.cancel_gate = min(1.0, 4 * max(0.02, dem.cancel_probability))
        self.return_gate = min(1.0, 4 * max(0.02, dem.return_probability))

    def _basket(self) -> list[dict[str, int]]:
        cat = self.world.scenario.catalogue
        lines = max(1, min(int(cat.lines_per_order.sample(self.np_rng, 1)[0]), 10))
        units = cat.units_per_line.sample(self.np_rng, lines)
        skus: dict[int, int] = {}
        for i in range(lines):
            sku = self.catalogue.popular_sku(self.rng)
            skus[sku] = skus.get(sku, 0) + max(1, int(units[i]))
        return [{"sku": sku, "quantity": q} for sku, q in skus.items()]

    @task(6)
    def browse(self) -> None:
        if not self.catalogue.skus:
            return
        skus = {self.catalogue.popular_sku(self.rng) for _ in range(self.rng.randint(1, 4))}
        ids = [self.catalogue.product_ids[s] for s in skus]
        self.seller_post("/v3/product/info/list", {"product_id": ids}, "sales", "warehouse")

    @task(4)
    def place_order(self) -> None:
        if not self.catalogue.skus:
            return
        body = {"client_id": self.world.seller_client_id, "region": self.world.region(self.rng),
                "lines": self._basket()}
        key = str(uuid.uuid4())
        first = self._order(body, key)
        if first and self.rng.random() < 0.05:  # a client that timed out and retries
            again = self._order(body, key, replay=True)
            if again is not None and again.get("order_id") != first.get("order_id"):
                OUTCOMES["idempotency_violations"] += 1

    def _order(self, body: dict[str, Any], key: str, replay: bool = False) -> dict[str, Any] | None:
        headers = {**self.world.platform_headers, "Idempotency-Key": key}
        with self.client.post(ORDERS, json=body, headers=headers, name=f"POST {ORDERS}",
                              catch_response=True) as resp:
            if resp.status_code in (200, 201):
                data = resp.json()
                if replay:
                    OUTCOMES["orders_replayed"] += 1
                    return data
                OUTCOMES["orders_created"] += 1
                self.recent_orders = [*self.recent_orders[-9:], data["order_number"]]
                for posting in data.get("postings", []):
                    _queues.offer_to_ship(posting)
                    self.recent_postings = [*self.recent_postings[-9:],
                                            posting["posting_number"]]
                return data
            if resp.status_code == 409 and "OUT_OF_STOCK" in (resp.text or ""):
                OUTCOMES["orders_out_of_stock"] += 1
                resp.success()
                return None
            resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
            return None

    @task(1)
    def cancel_order(self) -> None:
        if not self.recent_orders or self.rng.random() > self.cancel_gate:
            return
        number = self.recent_orders.pop(self.rng.randrange(len(self.recent_orders)))
        with self.client.post(f"{ORDERS}/{number}/cancel", json={"reason": "changed my mind"},
                              headers=self.world.platform_headers,
                              name=f"POST {ORDERS}/{{order_number}}/cancel",
                              catch_response=True) as resp:
            if resp.status_code == 200:
                OUTCOMES["orders_cancelled"] += 1
            elif resp.status_code == 409:
                OUTCOMES["cancels_too_late"] += 1
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")

    @task(1)
    def return_posting(self) -> None:
        if self.rng.random() > self.return_gate:
            return
        number = WorkQueues.take(_queues.delivered)
        if number is None:
            return
        with self.client.post(f"/marketplace/v1/postings/{number}/return",
                              json={"reason": "does not fit"}, headers=self.world.platform_headers,
                              name="POST /marketplace/v1/postings/{posting_number}/return",
                              catch_response=True) as resp:
            if resp.status_code in (200, 201):
                OUTCOMES["returns_opened"] += 1
                for item in resp.json().get("returns", []):
                    _queues.returns.append(str(item["id"]))
            elif resp.status_code == 409:
                OUTCOMES["returns_refused"] += 1
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")


    @task(1)
    def ask_seller(self) -> None:
        """Now and then a buyer writes to the seller about a recent posting (buyer chats)."""
        if not self.recent_postings or self.rng.random() > CHAT_GATE:
            return
        number = self.rng.choice(self.recent_postings)
        with self.client.post(f"/marketplace/v1/postings/{number}/chat/messages",
                              json={"text": "Когда привезёте заказ?"},
                              headers=self.world.platform_headers,
                              name="POST /marketplace/v1/postings/{posting_number}/chat/messages",
                              catch_response=True) as resp:
            if resp.status_code == 201:
                OUTCOMES["chat_messages_from_buyers"] += 1
            else:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")


class WarehouseStaff(PeaklineUser):
    """The seller's warehouse role: lists new postings, ships them, keeps stock up."""

    weight = 3
    think_factor = 1.0

    def _since_to(self) -> dict[str, str]:
        now = _now()
        return {"since": _iso(now - 7 * DAY), "to": _iso(now + DAY)}

    @task(3)
    def list_unfulfilled(self) -> None:
        now = _now()
        body = {"filter": {"cutoff_from": _iso(now - 7 * DAY), "cutoff_to": _iso(now + 7 * DAY),
                           "status": "awaiting_packaging"},
                "dir": "ASC", "limit": 50, "offset": 0}
        page = self.seller_post("/v3/posting/fbs/unfulfilled/list", body, "warehouse")
        for posting in ((page or {}).get("result") or {}).get("postings", [])[:10]:
            _queues.offer_to_ship(posting)

    @task(6)
    def ship(self) -> None:
        raw = WorkQueues.take(_queues.to_ship)
        if raw is None:
            return
        posting = json.loads(raw)
        products = [{"product_id": int(p["sku"]), "quantity": int(p["quantity"])}
                    for p in posting.get("products", []) if p.get("sku")]
        if not products:
            return
        body = {"posting_number": posting["posting_number"], "packages": [{"products": products}]}
        headers = self.world.key("warehouse").headers
        with self.client.post("/v4/posting/fbs/ship", json=body, headers=headers,
                              name="POST /v4/posting/fbs/ship", catch_response=True) as resp:
            if throttled(resp):
                _queues.to_ship.append(raw)  # shipped later
            elif resp.status_code == 200:
                OUTCOMES["postings_shipped"] += 1
                for number in resp.json().get("result", []):
                    _queues.shipped.append(number)
            elif resp.status_code == 409:
                OUTCOMES["ship_refused"] += 1  # cancelled or shipped meanwhile
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")

    @task(2)
    def get_posting(self) -> None:
        if not _queues.shipped:
            return
        number = self.rng.choice(_queues.shipped)
        self.seller_post("/v3/posting/fbs/get", {"posting_number": number,
                         "with": {"analytics_data": False}}, "warehouse")

    @task(1)
    def list_postings(self) -> None:
        self.seller_post("/v4/posting/fbs/list", {"filter": self._since_to(), "limit": 50},
                         "warehouse")

    @task(2)
    def restock(self) -> None:
        cat = self.catalogue
        if not cat.warehouse_ids or not cat.skus:
            return
        stocks = []
        for sku in {cat.popular_sku(self.rng) for _ in range(5)}:
            stocks.append({"product_id": cat.product_ids[sku], "offer_id": cat.offer_ids[sku],
                           "warehouse_id": self.rng.choice(cat.warehouse_ids),
                           "stock": self.rng.randint(200, 1000)})
        answer = self.seller_post("/v2/products/stocks", {"stocks": stocks}, "warehouse")
        for item in (answer or {}).get("result", []):
            if item.get("updated"):
                OUTCOMES["stock_updates"] += 1
            elif any(e.get("code") == "TOO_MANY_REQUESTS" for e in item.get("errors") or ()):
                OUTCOMES["stock_items_throttled"] += 1

    @task(1)
    def stock_info(self) -> None:
        self.seller_post("/v4/product/info/stocks", {"filter": {"visibility": "ALL"},
                         "limit": 100}, "warehouse", "analyst")


class Carrier(PeaklineUser):
    """Sorting centre and last mile: accept shipped postings, then deliver them."""

    weight = 2
    think_factor = 0.5

    def on_start(self) -> None:
        super().on_start()
        self.in_delivery: list[str] = []

    def _event(self, number: str, event: str) -> bool:
        body = {"posting_number": number, "event": event}
        with self.client.post("/marketplace/v1/logistics/events", json=body,
                              headers=self.world.platform_headers,
                              name="POST /marketplace/v1/logistics/events",
                              catch_response=True) as resp:
            if resp.status_code in (200, 201):
                OUTCOMES[f"logistics_{event}"] += 1
                return True
            if resp.status_code == 409:
                OUTCOMES["logistics_refused"] += 1
                resp.success()
                return False
            resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
            return False

    @task
    def move_parcels(self) -> None:
        if self.in_delivery and (self.rng.random() < 0.5 or not _queues.shipped):
            number = self.in_delivery.pop(0)
            if self._event(number, "delivered"):
                _queues.delivered.append(number)
            return
        number = WorkQueues.take(_queues.shipped)
        if number is None:
            return
        if self.rng.random() < 0.01:
            self._event(number, "sorting_refused")
        elif self._event(number, "sorting_accepted"):
            self.in_delivery.append(number)


class Analyst(PeaklineUser):
    """The analyst role: sales analytics and stock on warehouses."""

    weight = 1
    think_factor = 5.0

    @task(2)
    def sales(self) -> None:
        today = _now().date()
        body = {"date_from": str(today - timedelta(days=7)), "date_to": str(today),
                "dimension": ["sku", "day"], "metrics": ["revenue", "ordered_units"],
                "limit": 100, "offset": 0}
        self.seller_post("/v1/analytics/data", body, "analyst")

    @task(1)
    def stock_on_warehouses(self) -> None:
        self.seller_post("/v2/analytics/stock_on_warehouses", {"limit": 100, "offset": 0},
                         "analyst")

    @task(1)
    def replenishment(self) -> None:
        self.seller_get("/peakline/v1/replenishment", "/peakline/v1/replenishment",
                        {"only_positive": "true", "limit": 100}, "analyst", "warehouse")

    @task(1)
    def low_stock_alerts(self) -> None:
        self.seller_get("/peakline/v1/alerts", "/peakline/v1/alerts", {"limit": 100},
                        "analyst", "warehouse")


class CustomerService(PeaklineUser):
    """The customer-service role: returns (list, receive into stock or write off), reasons."""

    weight = 1
    think_factor = 3.0

    @task(3)
    def handle_return(self) -> None:
        return_id = WorkQueues.take(_queues.returns)
        if return_id is None:
            page = self.seller_get("/peakline/v1/returns", "/peakline/v1/returns",
                                   {"status": "MovingToSeller", "limit": 20}, "customer_service")
            for item in (page or {}).get("returns", []):
                _queues.returns.append(str(item["id"]))
            return
        action = "write-off" if self.rng.random() < 0.2 else "receive"
        with self.client.post(f"/peakline/v1/returns/{return_id}/{action}",
                              headers=self.world.key("customer_service").headers,
                              name=f"POST /peakline/v1/returns/{{return_id}}/{action}",
                              catch_response=True) as resp:
            if resp.status_code == 200:
                OUTCOMES[f"returns_{action.replace('-', '_')}"] += 1
            elif resp.status_code == 409:  # another agent processed it first
                OUTCOMES["returns_already_processed"] += 1
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")

    @task(2)
    def answer_chats(self) -> None:
        """Read the chats with unread buyer messages, answer and mark them read."""
        page = self.seller_post("/v3/chat/list", {"filter": {"unread_only": True}, "limit": 10},
                                "customer_service")
        for item in (page or {}).get("chats", [])[:3]:
            chat_id = item["chat"]["chat_id"]
            self.seller_post("/v3/chat/history", {"chat_id": chat_id, "limit": 20},
                             "customer_service")
            if self.seller_post("/v1/chat/send/message",
                                {"chat_id": chat_id, "text": "Заказ в пути, спасибо!"},
                                "customer_service") is not None:
                OUTCOMES["chat_answers"] += 1
            self.seller_post("/v2/chat/read", {"chat_id": chat_id}, "customer_service")

    @task(2)
    def returns_list(self) -> None:
        self.seller_post("/v1/returns/list", {"filter": {}, "limit": 50}, "customer_service")

    @task(1)
    def cancel_reasons(self) -> None:
        self.seller_post("/v2/posting/fbs/cancel-reason/list", {}, "customer_service")
