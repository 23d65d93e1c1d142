"""What the load-test users know about the world: keys, regions, catalogue, shared work queues.

The master (or the single local Locust process) reads the scenario and the credentials
``peakline seed`` wrote, and puts them in one JSON option (``peakline_world``) that Locust
forwards to every worker with the spawn message; a worker on another host therefore needs
only the project installed, not the files. The catalogue (SKUs, products, warehouses) is
discovered once per process through the Seller API.

Postings flow between users of one process through :class:`WorkQueues`: buyers create them,
warehouse staff ship them, carriers deliver them, buyers return some; each user also lists
postings through the API, so the queues only save it from searching.
"""

from __future__ import annotations

import json
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.scenario import Scenario, load_scenario, parse_scenario

#: Counters of business outcomes (orders created, out of stock, replayed ...), per process;
#: workers report theirs to the master, which writes the sum at the end.
OUTCOMES: Counter[str] = Counter()


def world_option(scenario_path: Path, credentials_path: Path) -> str:
    """The JSON the master forwards to workers: the scenario and the seed credentials."""
    scenario = load_scenario(scenario_path)
    credentials = json.loads(Path(credentials_path).read_text(encoding="utf-8"))
    return json.dumps({
        "scenario": scenario.model_dump(mode="json", by_alias=True),
        "credentials": credentials,
    })


@dataclass(frozen=True)
class SellerKey:
    """One seller API key: the headers a Seller API request carries, and its role."""

    client_id: str
    api_key: str
    role: str = "owner"

    @property
    def headers(self) -> dict[str, str]:
        return {"Client-Id": str(self.client_id), "Api-Key": self.api_key,
                "Content-Type": "application/json"}


def seller_keys(credentials: dict[str, Any]) -> dict[str, SellerKey]:
    """Keys by role from the seed credentials; the owner's key stands in for missing roles."""
    client_id = str(credentials["client_id"])
    keys = {"owner": SellerKey(client_id, credentials["api_key"], "owner")}
    for listing in ("accounts", "sub_accounts", "api_keys", "keys"):
        items = credentials.get(listing)
        if isinstance(items, dict):
            items = [{"role": role, **(v if isinstance(v, dict) else {"api_key": v})}
                     for role, v in items.items()]
        for item in items or []:
            if isinstance(item, dict) and item.get("api_key") and item.get("role"):
                role = str(item["role"])
                keys.setdefault(role, SellerKey(str(item.get("client_id", client_id)),
                                                item["api_key"], role))
    return keys


@dataclass
class Catalogue:
    """SKUs in popularity order (scenario index order) with their product ids and warehouses."""

    skus: list[int]
    product_ids: dict[int, int]  # sku -> product_id
    offer_ids: dict[int, str]  # sku -> offer_id
    warehouse_ids: list[int]
    cum_weights: list[float] = field(default_factory=list)

    @classmethod
    def build(cls, rows: list[dict[str, Any]], warehouse_ids: list[int],
              popularity: Callable[[int], float]) -> Catalogue:
        rows = sorted(rows, key=lambda r: int(r["sku"]))
        skus = [int(r["sku"]) for r in rows]
        total, cum = 0.0, []
        for sku in skus:
            total += popularity(sku)
            cum.append(total)
        return cls(skus, {int(r["sku"]): int(r["product_id"]) for r in rows},
                   {int(r["sku"]): str(r.get("offer_id", "")) for r in rows},
                   list(warehouse_ids), cum)

    def popular_sku(self, rng: random.Random) -> int:
        """A SKU drawn by popularity (how a buyer's basket line picks one)."""
        return rng.choices(self.skus, cum_weights=self.cum_weights)[0]


@dataclass
class World:
    scenario: Scenario
    platform_key: str
    seller_client_id: str
    keys: dict[str, SellerKey]
    region_ids: list[str]
    region_weights: list[float]
    sku_base: int | None = None
    catalogue: Catalogue | None = None
    _popularity: Any = None

    def popularity(self, sku: int) -> float:
        """Relative demand of an Ozon SKU: the scenario's Zipf popularity of its SKU number.

        Seeded sellers number SKUs ``sku_base + i``; the weights are the simulator's own
        (``simulator.demand.build_skus``), so the load hits the SKUs the model says sell.
        """
        if self._popularity is None:
            self._popularity = _popularity_table(self.scenario)
        index = sku - self.sku_base if self.sku_base is not None else -1
        if 0 <= index < len(self._popularity):
            return float(self._popularity[index])
        return 1.0 / len(self._popularity)  # a product the scenario does not know

    @classmethod
    def from_option(cls, text: str) -> World:
        data = json.loads(text)
        scenario = parse_scenario(data["scenario"])
        credentials = data["credentials"]
        regions = scenario.network.regions
        return cls(
            scenario=scenario,
            platform_key=credentials["platform_key"],
            seller_client_id=str(credentials["client_id"]),
            keys=seller_keys(credentials),
            region_ids=[r.id for r in regions],
            region_weights=[r.weight for r in regions],
            sku_base=credentials.get("sku_base"),
        )

    def key(self, *roles: str) -> SellerKey:
        """The first key among ``roles`` the seed issued, else the owner's."""
        for role in roles:
            if role in self.keys:
                return self.keys[role]
        return self.keys["owner"]

    def region(self, rng: random.Random) -> str:
        return rng.choices(self.region_ids, weights=self.region_weights)[0]

    @property
    def platform_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.platform_key}",
                "Content-Type": "application/json"}


def _popularity_table(scenario: Scenario) -> list[float]:
    try:
        from simulator.demand import build_skus
    except ImportError:  # pragma: no cover - plain Zipf by SKU number
        s = scenario.catalogue.zipf_exponent
        return [1.0 / (i + 1) ** s for i in range(scenario.catalogue.sku_count)]
    return build_skus(scenario.catalogue).popularity.tolist()


class WorkQueues:
    """Posting numbers handed between users of one process (bounded, oldest dropped)."""

    def __init__(self, size: int = 5000) -> None:
        self.to_ship: deque[str] = deque(maxlen=size)
        self.shipped: deque[str] = deque(maxlen=size)
        self.delivered: deque[str] = deque(maxlen=size)
        self.returns: deque[str] = deque(maxlen=size)  # return ids to receive or write off
        self._seen: deque[str] = deque(maxlen=4 * size)
        self._seen_set: set[str] = set()

    def offer_to_ship(self, posting: dict[str, Any]) -> None:
        """Queue a posting for packing unless it was queued already (lists repeat them)."""
        number = str(posting.get("posting_number", ""))
        if not number or number in self._seen_set:
            return
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(number)
        self._seen_set.add(number)
        self.to_ship.append(json.dumps(posting))

    @staticmethod
    def take(queue: deque[str]) -> str | None:
        try:
            return queue.popleft()
        except IndexError:
            return None
