"""Replenishment suggestions: the seller's replenishment policy over its recent sales.

For each (SKU, warehouse) the policy from ``simulator.policies`` sees an ``InventoryState``
built from the stock row (present, reserved), open supply orders (on order), the daily
units sold there over the last ``history_days`` (postings not cancelled, by
``in_process_at``) and the seller's supplier lead time. The policy's SKU and warehouse
keys are the scenario's (SKU index, warehouse id) when the seller was seeded from a
scenario, so levels planned by ``peakline plan-stock`` apply unchanged.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reference_backend.domain_errors import InvalidInput, NotFound
from reference_backend.tables import (
    Posting,
    PostingItem,
    Product,
    Seller,
    Stock,
    SupplyOrder,
    Warehouse,
    utcnow,
)
from reference_backend.warehouses.network import replenishment_policy
from simulator.lifecycle import PostingStatus
from simulator.policies import InventoryState


def suggestions(
    session: Session,
    *,
    seller_id: int,
    skus: list[int] | None = None,
    warehouse_ids: list[int] | None = None,
    history_days: int = 14,
    only_positive: bool = False,
    limit: int = 1000,
    offset: int = 0,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Order quantities per (SKU, warehouse), with the inputs the policy saw."""
    now = now or utcnow()
    seller = session.get(Seller, seller_id)
    if seller is None:
        raise NotFound("seller not found", code="SELLER_NOT_FOUND")
    try:
        policy = replenishment_policy(seller.replenishment_policy, seller.replenishment_params)
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput(f"the seller's replenishment policy is unusable: {exc}") from None

    query = (
        select(Stock.sku, Stock.warehouse_id, Stock.present, Stock.reserved, Stock.warning_level,
               Product.scenario_sku, Product.offer_id, Warehouse.code)
        .join(Product, Product.product_id == Stock.product_id)
        .join(Warehouse, Warehouse.warehouse_id == Stock.warehouse_id)
        .where(Stock.seller_id == seller_id)
        .order_by(Stock.sku, Stock.warehouse_id)
    )
    if skus:
        query = query.where(Stock.sku.in_(skus))
    if warehouse_ids:
        query = query.where(Stock.warehouse_id.in_(warehouse_ids))
    rows = session.execute(query.limit(limit).offset(offset)).all()
    if not rows:
        return {"policy": _policy_info(seller), "history_days": history_days, "items": []}
    pair_skus = sorted({r[0] for r in rows})

    since = now - timedelta(days=history_days)
    day = func.date(Posting.in_process_at)
    sold = session.execute(
        select(PostingItem.sku, Posting.warehouse_id, day, func.sum(PostingItem.quantity))
        .join(Posting, Posting.id == PostingItem.posting_id)
        .where(Posting.seller_id == seller_id, Posting.in_process_at >= since,
               Posting.status != PostingStatus.CANCELLED.value, PostingItem.sku.in_(pair_skus))
        .group_by(PostingItem.sku, Posting.warehouse_id, day)
    ).all()
    by_pair: dict[tuple[int, int], dict[str, float]] = defaultdict(dict)
    for sku, wh, d, units in sold:
        by_pair[(sku, wh)][str(d)[:10]] = float(units)
    on_order = dict(
        ((sku, wh), int(q)) for sku, wh, q in session.execute(
            select(SupplyOrder.sku, SupplyOrder.warehouse_id, func.sum(SupplyOrder.quantity))
            .where(SupplyOrder.seller_id == seller_id, SupplyOrder.status == "ordered",
                   SupplyOrder.sku.in_(pair_skus))
            .group_by(SupplyOrder.sku, SupplyOrder.warehouse_id)
        ).all()
    )
    days = [(since + timedelta(days=i + 1)).date().isoformat() for i in range(history_days)]
    hours = (now - seller.created_at).total_seconds() / 3600

    items = []
    for sku, wh, present, reserved, warning, scenario_sku, offer_id, code in rows:
        history = tuple(by_pair.get((sku, wh), {}).get(d, 0.0) for d in days)
        mean = sum(history) / len(history)
        sd = math.sqrt(sum((x - mean) ** 2 for x in history) / max(1, len(history) - 1))
        state = InventoryState(
            sku=scenario_sku if scenario_sku is not None else sku, warehouse=code,
            time_hours=hours, on_hand=present, reserved=reserved,
            on_order=on_order.get((sku, wh), 0), mean_daily_demand=mean, sd_daily_demand=sd,
            lead_time_days=seller.supplier_lead_time_days,
            lead_time_sd_days=seller.supplier_lead_time_sd_days, demand_history=history,
        )
        quantity = max(0, int(policy.order_quantity(state)))
        if only_positive and quantity == 0:
            continue
        items.append({
            "sku": sku, "offer_id": offer_id, "warehouse_id": wh, "present": present,
            "reserved": reserved, "available": present - reserved,
            "on_order": state.on_order, "inventory_position": state.inventory_position,
            "warning_level": warning, "mean_daily_demand": round(mean, 4),
            "sd_daily_demand": round(sd, 4), "suggested_quantity": quantity,
        })
    return {"policy": _policy_info(seller), "history_days": history_days, "items": items}


def _policy_info(seller: Seller) -> dict[str, Any]:
    return {"name": seller.replenishment_policy, "params": seller.replenishment_params,
            "lead_time_days": seller.supplier_lead_time_days}
