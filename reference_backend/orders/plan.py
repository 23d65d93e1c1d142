"""One buyer order without the database: check the lines, allocate, and build its rows.

:func:`allocate` runs the seller's allocation policy (``simulator.policies``, the code the
simulator runs) over the candidate stock rows and the seller's network; :func:`plan_order`
turns the allocation into the rows to write (one posting per warehouse, its items, one
``TYPE_NEW_POSTING`` outbox event each), the stock moves to reserve and the answer body.
Both writers of :mod:`reference_backend.orders.service` (the portable SQLAlchemy one and
the driver-level hot path) write exactly these rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reference_backend import ids, outbox, payloads
from reference_backend.domain_errors import InvalidInput, OutOfStock
from reference_backend.promotions.pricing import ActionMove, settle
from reference_backend.warehouses.network import SellerNetwork
from simulator.lifecycle import PostingStatus
from simulator.policies import Allocation, OrderLine, OrderRequest, Refusal
from simulator.policies.base import MappingStock

MAX_LINES = 100
MAX_QUANTITY = 100_000
AWAITING_PACKAGING = PostingStatus.AWAITING_PACKAGING.value

#: A candidate stock row: sku, warehouse_id, available, product_id, offer_id, name, price
#: (the action price while a promotion runs), currency_code, action_id (or None), the
#: product's own price, the action's units left (None: no limit or no action).
Candidate = tuple[int, int, int, int, str, str, str, str, int | None, str, int | None]


@dataclass(slots=True)
class OrderPlan:
    """The rows of one order; ``items`` name their posting by ``posting_number``."""

    postings: list[dict[str, Any]]
    items: list[dict[str, Any]]
    events: list[dict[str, Any]]
    moves: list[tuple[int, int, int]]  # (sku, warehouse_id, quantity) to reserve
    body: dict[str, Any]
    #: units sold at a limited action's price, to add to its ``sold`` (guarded)
    action_moves: list[ActionMove] = field(default_factory=list)


def check_lines(lines: list[tuple[int, int]]) -> None:
    if not lines:
        raise InvalidInput("an order needs at least one line", code="NO_LINES")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"an order has at most {MAX_LINES} lines")
    for i, (sku, quantity) in enumerate(lines):
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidInput(f"lines[{i}].quantity must be 1..{MAX_QUANTITY}",
                               details=[{"line": i, "sku": sku, "quantity": quantity}])


def allocate(
    *, policy: Any, network: SellerNetwork, region: str, lines: list[tuple[int, int]],
    rows: list[Candidate],
) -> tuple[dict[int, dict[int, int]], dict[int, Candidate]]:
    """Units per warehouse per SKU, and the product of each SKU (from its candidate row).

    Unknown SKUs or region: :class:`InvalidInput`; the policy refuses: :class:`OutOfStock`.
    """
    products = {row[0]: row for row in rows}
    unknown = sorted({sku for sku, _ in lines if sku not in products})
    if unknown:
        raise InvalidInput(f"unknown SKU(s) for this seller: {unknown}", code="UNKNOWN_SKU",
                           details=[{"sku": sku} for sku in unknown])
    if network.has_routes and region not in network.regions:
        raise InvalidInput(f"unknown buyer region {region!r}", code="UNKNOWN_REGION",
                           details=[{"region": region, "known": sorted(network.regions)}])
    view = MappingStock({(row[0], str(row[1])): max(0, row[2]) for row in rows})
    order = OrderRequest(region, tuple(OrderLine(sku, q) for sku, q in lines))
    decision = policy.allocate(order, view, network)
    if isinstance(decision, Refusal) or not isinstance(decision, Allocation):
        raise _out_of_stock(decision, lines, rows, network)
    by_wh: dict[int, dict[int, int]] = defaultdict(dict)
    for pick in decision.picks:
        sku = lines[pick.line][0]
        wh = int(pick.warehouse)
        by_wh[wh][sku] = by_wh[wh].get(sku, 0) + pick.quantity
    return by_wh, products


def plan_order(
    *, seller_id: int, order_id: int, region: str, by_wh: dict[int, dict[int, int]],
    products: dict[int, Candidate], network: SellerNetwork, now: datetime, deadline: timedelta,
    action_taken: dict[tuple[int, int], int] | None = None,
) -> OrderPlan:
    """Postings (by warehouse id order), items, events, moves and the answer of an order.

    Action prices hold while the action's units last (:func:`~reference_backend.promotions.
    pricing.settle`; ``action_taken``: units taken by earlier orders of the same batch).
    """
    units: dict[int, int] = defaultdict(int)
    for per_sku in by_wh.values():
        for sku, quantity in per_sku.items():
            units[sku] += quantity
    products, action_moves = settle(units, products, action_taken)
    order_number = ids.order_number_for(order_id)
    shipment_date = now + deadline
    shipment_iso, now_iso = iso(shipment_date), iso(now)
    postings, items, events, answer = [], [], [], []
    city, area = network.place(region)
    for n, wh in enumerate(sorted(by_wh), start=1):
        posting_number = ids.posting_number_for(order_number, n)
        info = network.info.get(str(wh))
        postings.append({
            "posting_number": posting_number, "seller_id": seller_id, "order_id": order_id,
            "order_number": order_number, "warehouse_id": wh,
            "delivery_method_id": info.delivery_method_id if info else None, "region": region,
            "buyer_city": city, "buyer_region": area,
            "status": AWAITING_PACKAGING, "substatus": "posting_created",
            "in_process_at": now, "shipment_date": shipment_date, "status_changed_at": now,
            "created_at": now,
        })
        products_out = []
        for sku, quantity in sorted(by_wh[wh].items()):
            p = products[sku]
            items.append({"posting_number": posting_number, "product_id": p[3], "sku": sku,
                          "offer_id": p[4], "name": p[5], "quantity": quantity,
                          "cancelled_quantity": 0, "price": p[6], "currency_code": p[7],
                          "action_id": p[8]})
            products_out.append({"sku": sku, "offer_id": p[4], "name": p[5],
                                 "quantity": quantity, "price": p[6], "currency_code": p[7]})
        answer.append({"posting_number": posting_number, "warehouse_id": wh,
                       "status": AWAITING_PACKAGING, "shipment_date": shipment_iso,
                       "products": products_out})
        events.append(outbox.event_row(
            seller_id=seller_id, posting_number=posting_number, now=now,
            payload=payloads.new_posting(
                posting_number=posting_number, products=products_out, in_process_at=now,
                warehouse_id=wh, seller_id=seller_id, shipment_date=shipment_date),
        ))
    moves = [(sku, wh, q) for wh, per_sku in by_wh.items() for sku, q in per_sku.items()]
    body = {"order_id": order_id, "order_number": order_number, "region": region,
            "created_at": now_iso, "postings": answer}
    return OrderPlan(postings, items, events, moves, body, action_moves)


def iso(at: datetime) -> str:
    """``2026-11-27T10:00:00.123Z`` (milliseconds, UTC; ``at`` in UTC or naive)."""
    if at.year < 1000:  # (strftime writes such a year unpadded)
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    return at.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"  # (a third less)


def _out_of_stock(decision: Any, lines: list[tuple[int, int]], rows: list[Candidate],
                  network: SellerNetwork) -> OutOfStock:
    available: dict[int, int] = defaultdict(int)
    for row in rows:
        if network.is_open(str(row[1])):
            available[row[0]] += max(0, row[2])
    failed = set(getattr(decision, "lines", ()) or range(len(lines)))
    details = [
        {"line": i, "sku": sku, "requested": q, "available": available.get(sku, 0)}
        for i, (sku, q) in enumerate(lines) if i in failed
    ]
    reason = getattr(decision, "reason", "out_of_stock")
    return OutOfStock(f"not enough stock to place the order ({reason})", details=details)
