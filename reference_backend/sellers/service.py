"""Sellers: create one (owner account, API key, platform key), or seed one from a scenario.

Seeding builds the scenario's world for the seller: warehouses (scenario nodes) with one
delivery method each, the route table the allocation policy reads, the buyer regions' real
city and region names (what their postings report), the catalogue with its prices (fixed
by ``catalogue.seed``), initial stock by the scenario's rules and warning lines, and its
promotion calendar as the seller's actions. The seller takes the scenario's allocation and
replenishment policies.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from reference_backend import ids
from reference_backend.accounts.service import issue_key
from reference_backend.domain_errors import AlreadyExists, InvalidInput
from reference_backend.permissions import Role
from reference_backend.promotions.service import seed_calendar
from reference_backend.security import hash_api_key
from reference_backend.sellers.world import (
    build_catalogue,
    buyer_places,
    capacity_per_hour,
    initial_stock,
    route_table,
    warning_levels,
)
from reference_backend.settings import Settings
from reference_backend.tables import (
    Account,
    BuyerRegion,
    DeliveryMethod,
    PlatformKey,
    Product,
    Route,
    Seller,
    Stock,
    Warehouse,
)
from simulator.policies import allocation_policies, replenishment_policies
from simulator.scenario import Scenario

_CHUNK = 5000


@dataclass
class SellerCredentials:
    """What ``peakline seed`` prints: how to call the backend as this seller."""

    seller_name: str
    client_id: str
    api_key: str
    platform_key: str
    seller_id: int
    sku_base: int
    base_url: str = ""
    warehouses: dict[str, int] = field(default_factory=dict)  # scenario id -> warehouse_id
    sku_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_policies(allocation: str, a_params: dict, replenishment: str, r_params: dict) -> None:
    try:
        allocation_policies.create(allocation, a_params)
        replenishment_policies.create(replenishment, r_params)
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput(f"bad policy choice: {exc}") from None


def issue_platform_key(session: Session, *, name: str = "") -> str:
    """A new marketplace platform key; returns the key (stored as a hash)."""
    key = "pk_" + secrets.token_urlsafe(24)
    session.add(PlatformKey(key_hash=hash_api_key(key), prefix=key[:10], name=name))
    return key


def create_seller(
    session: Session,
    *,
    name: str,
    settings: Settings,
    scenario_name: str | None = None,
    allocation: tuple[str, dict[str, Any]] | None = None,
    replenishment: tuple[str, dict[str, Any]] | None = None,
    owner_email: str | None = None,
) -> SellerCredentials:
    """An empty seller with an owner account, its API key and a platform key."""
    name = name.strip()
    if not name:
        raise InvalidInput("seller name must not be empty")
    existing = session.scalar(select(Seller.client_id).where(Seller.name == name))
    if existing is not None:
        raise AlreadyExists(
            f"seller {name!r} already exists (client_id {existing})",
            details=[{"seller_name": name, "client_id": existing}],
        )
    a_name, a_params = allocation or (
        settings.default_allocation_policy, dict(settings.default_allocation_params))
    r_name, r_params = replenishment or (
        settings.default_replenishment_policy, dict(settings.default_replenishment_params))
    _check_policies(a_name, a_params, r_name, r_params)
    next_id = (session.scalar(select(func.max(Seller.id))) or 0) + 1
    seller = Seller(
        id=next_id, client_id=ids.client_id_for(next_id), name=name, scenario_name=scenario_name,
        sku_base=ids.sku_base_for(next_id), allocation_policy=a_name, allocation_params=a_params,
        replenishment_policy=r_name, replenishment_params=r_params,
    )
    session.add(seller)
    session.flush()
    owner = Account(seller_id=seller.id, email=owner_email, name="owner", role=Role.OWNER.value)
    session.add(owner)
    session.flush()
    _, api_key = issue_key(session, seller_id=seller.id, account_id=owner.id, name="owner",
                           lifetime=timedelta(days=settings.api_key_lifetime_days))
    platform_key = issue_platform_key(session, name=f"seed:{name}")
    session.flush()
    return SellerCredentials(
        seller_name=name, client_id=seller.client_id, api_key=api_key,
        platform_key=platform_key, seller_id=seller.id, sku_base=seller.sku_base,
        base_url=settings.base_url,
    )


def seed_scenario(
    session: Session, *, scenario: Scenario, settings: Settings, name: str | None = None,
    subscription: str = "PREMIUM_PLUS",
) -> SellerCredentials:
    """A seller named after the scenario, with the scenario's world (see the module doc), and
    its Ozon ``subscription`` (``NONE``, ``PREMIUM``, ``PREMIUM_PLUS``, ``PREMIUM_PRO``).

    Seeding a scenario whose seller already exists raises :class:`AlreadyExists`.
    """
    seller_name = name or scenario.name
    creds = create_seller(
        session, name=seller_name, settings=settings, scenario_name=scenario.name,
        allocation=(scenario.policies.allocation.name, dict(scenario.policies.allocation.params)),
        replenishment=(scenario.policies.replenishment.name,
                       dict(scenario.policies.replenishment.params)),
    )
    seller = session.get(Seller, creds.seller_id)
    assert seller is not None
    lead = scenario.stock.supplier_lead_time_days
    seller.supplier_lead_time_days = float(lead.mean)
    seller.supplier_lead_time_sd_days = float(lead.variance) ** 0.5
    seller.subscription = subscription

    capacity = capacity_per_hour(scenario)
    wh_ids: dict[str, int] = {}
    for index, wh in enumerate(scenario.network.warehouses):
        warehouse_id = ids.warehouse_id_for(seller.id, index)
        wh_ids[wh.id] = warehouse_id
        session.add(Warehouse(
            warehouse_id=warehouse_id, seller_id=seller.id, code=wh.id, name=wh.name,
            city=wh.city, address=f"{wh.city}, {wh.name}", lat=wh.lat, lon=wh.lon,
            capacity_per_hour=capacity[wh.id], is_rfbs=wh.rfbs,
        ))
    session.flush()
    for wh in scenario.network.warehouses:
        session.add(DeliveryMethod(
            id=ids.delivery_method_id_for(wh_ids[wh.id]), seller_id=seller.id,
            warehouse_id=wh_ids[wh.id], name=f"Ozon Логистика, {wh.name}",
        ))
    for code, city, region in buyer_places(scenario):
        session.add(BuyerRegion(seller_id=seller.id, code=code, city=city, region=region))
    for row in route_table(scenario):
        session.add(Route(seller_id=seller.id, warehouse_id=wh_ids[row.warehouse],
                          region=row.region, transit_hours=row.transit_hours,
                          cost_per_parcel=row.cost_per_parcel))
    session.flush()

    catalogue = build_catalogue(scenario)
    product_rows = [
        {
            "seller_id": seller.id, "offer_id": f"SKU-{i:06d}", "sku": seller.sku_base + i,
            "name": f"{catalogue.group_names[catalogue.group[i]].title()} item {i:06d}",
            "scenario_sku": i, "sku_group": catalogue.group_names[catalogue.group[i]],
            "price": f"{catalogue.price[i]:.2f}", "old_price": "0",
            "net_price": f"{catalogue.unit_cost[i]:.2f}", "barcode": _ean13(seller.sku_base + i),
            "weight": max(1, round(float(catalogue.weight_kg[i]) * 1000)), "weight_unit": "g",
            "depth": 200, "height": 100, "width": 150, "dimension_unit": "mm", "vat": "0.2",
            "currency_code": "RUB", "images": [], "attributes": {}, "archived": False,
        }
        for i in range(catalogue.count)
    ]
    for start in range(0, len(product_rows), _CHUNK):
        session.execute(insert(Product), product_rows[start:start + _CHUNK])
    product_ids = dict(session.execute(
        select(Product.sku, Product.product_id).where(Product.seller_id == seller.id)
    ).all())

    units = initial_stock(scenario, catalogue)
    warn = warning_levels(scenario, catalogue)
    stock_rows = []
    for w, wh in enumerate(scenario.network.warehouses):
        for i in range(catalogue.count):
            sku = seller.sku_base + i
            stock_rows.append({
                "seller_id": seller.id, "product_id": product_ids[sku], "sku": sku,
                "warehouse_id": wh_ids[wh.id], "present": int(units[w, i]), "reserved": 0,
                "warning_level": int(warn[w, i]),
            })
    for start in range(0, len(stock_rows), _CHUNK):
        session.execute(insert(Stock), stock_rows[start:start + _CHUNK])
    session.flush()
    seed_calendar(session, seller_id=seller.id, scenario=scenario)
    creds.warehouses = wh_ids
    creds.sku_count = catalogue.count
    return creds


def _ean13(number: int) -> str:
    """A valid EAN-13 barcode derived from ``number``."""
    body = f"46{number % 10**10:010d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)
