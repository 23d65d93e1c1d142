"""A seller's :class:`History` read through the Seller API (an :class:`OzonClient`).

Two moments no posting field carries are read from elsewhere in the public API:

* delivered: the finance operation ``OperationAgentDeliveredToCustomer`` of the posting (its
  ``operation_date``, taken as UTC as Peakline's backend writes it);
* cancelled: a posting's list filter ``last_changed_status_date`` -- a cancelled posting's
  last status change is its cancellation. Windows of it are halved (only where cancelled
  postings are, each starting no earlier than its postings' ``in_process_at``) until each
  cancellation is known to :data:`CANCEL_RESOLUTION`; its moment is taken as the middle of
  its window. At most :data:`CANCEL_REQUESTS` requests are spent on it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.calibration.history import (
    CalibrationError,
    History,
    Line,
    PostingRecord,
    ProductRecord,
    ReturnRecord,
    StockRecord,
    WarehouseRecord,
)
from simulator.calibration.ozon_client import OzonClient

RETURNS_AFTER = timedelta(days=60)  # returns of the period's postings are read this far on
CANCEL_RESOLUTION = timedelta(minutes=15)
CANCEL_REQUESTS = 2000


def parse_time(value: Any) -> datetime | None:
    """An Ozon datetime string (``Z`` or an offset, with or without a fraction), or None."""
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _price(value: Any) -> float:
    """A v4 product price ``{amount, currency}``, or a v3 numeric string."""
    if isinstance(value, dict):
        value = value.get("amount")
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def posting_record(raw: dict) -> PostingRecord:
    analytics = raw.get("analytics_data") or {}
    method = raw.get("delivery_method") or {}
    lines = tuple(Line(int(p["sku"]), int(p["quantity"]), _price(p.get("price")),
                       p.get("name") or "") for p in raw.get("products") or [])
    in_process = parse_time(raw.get("in_process_at"))
    if in_process is None:
        raise CalibrationError(f"posting {raw.get('posting_number')}: no in_process_at")
    return PostingRecord(
        posting_number=raw["posting_number"],
        order_number=raw.get("order_number") or raw["posting_number"].rsplit("-", 1)[0],
        in_process_at=in_process,
        status=raw.get("status") or "",
        lines=lines,
        warehouse_id=analytics.get("warehouse_id") or method.get("warehouse_id"),
        warehouse=analytics.get("warehouse") or method.get("warehouse") or "",
        city=analytics.get("city") or "",
        region=analytics.get("region") or "",
        delivering_date=parse_time(raw.get("delivering_date")),
    )


def return_record(raw: dict) -> ReturnRecord:
    product = raw.get("product") or {}
    logistic = raw.get("logistic") or {}
    return ReturnRecord(
        posting_number=raw.get("posting_number") or "",
        sku=int(product.get("sku") or 0),
        quantity=int(product.get("quantity") or 1),
        returned_at=parse_time(logistic.get("return_date")),
        kind=raw.get("type") or "Unknown",
    )


def warehouse_record(raw: dict) -> WarehouseRecord:
    address = raw.get("address_info") or {}
    lat, lon = address.get("latitude"), address.get("longitude")
    located = bool(lat or lon)
    return WarehouseRecord(int(raw["warehouse_id"]), raw.get("name") or "",
                           float(lat) if located else None, float(lon) if located else None)


def product_record(raw: dict) -> ProductRecord | None:
    sku = raw.get("sku") or next((s.get("sku") for s in raw.get("sources") or []
                                  if s.get("sku")), None)
    if not sku:
        return None
    price = _price(raw.get("price")) or None
    return ProductRecord(int(sku), raw.get("offer_id") or "", raw.get("name") or "", price)


def read_history(client: OzonClient, since: datetime, to: datetime, *,
                 analytics: bool = True) -> History:
    """Postings, returns (up to 60 days after ``to`` or now, so late returns count),
    warehouses, products, current stock and (``analytics``) ordered units per day."""
    postings = [posting_record(raw) for raw in client.postings(since, to)]
    if not postings:
        raise CalibrationError(
            f"no postings between {since:%Y-%m-%d %H:%M} and {to:%Y-%m-%d %H:%M} UTC "
            f"at {client.base_url}: an empty period, nothing to calibrate from")
    numbers = {p.posting_number for p in postings}
    returns_until = min(to + RETURNS_AFTER, datetime.now(UTC))
    delivered = {op["posting"]["posting_number"]: parse_time(op["operation_date"] + "Z")
                 for op in client.deliveries(since, returns_until)
                 if (op.get("posting") or {}).get("posting_number") in numbers
                 and op.get("operation_date")}
    cancelled = cancellation_times(client, since, to, returns_until,
                                   [p for p in postings if p.cancelled])
    postings = [replace(p, delivered_at=delivered.get(p.posting_number),
                        cancelled_at=cancelled.get(p.posting_number)) for p in postings]
    returns = [r for r in map(return_record, client.returns(since, returns_until))
               if r.posting_number in numbers]
    warehouses = [warehouse_record(raw) for raw in client.warehouses()]
    products = [p for p in map(product_record, client.products()) if p is not None]
    skus = sorted({p.sku for p in products} | {line.sku for p in postings for line in p.lines})
    stocks = [StockRecord(int(raw["sku"]), int(raw["warehouse_id"]), int(raw.get("present") or 0),
                          int(raw.get("reserved") or 0)) for raw in client.stocks(skus)]
    units = client.ordered_units_by_day(since.date(), to.date()) if analytics else {}
    return History(since=since, to=to, source=f"Seller API at {client.base_url}",
                   postings=postings, returns=returns, warehouses=warehouses,
                   products=products, stocks=stocks, analytics_units=units,
                   returns_until=returns_until)


def cancellation_times(client: OzonClient, since: datetime, to: datetime, until: datetime,
                       cancelled: list[PostingRecord]) -> dict[str, datetime]:
    """When each cancelled posting of ``[since, to)`` was cancelled (to
    :data:`CANCEL_RESOLUTION`), by halving windows of ``last_changed_status_date`` up to
    ``until`` (see the module doc)."""
    taken = {p.posting_number: p.in_process_at for p in cancelled}
    found: dict[str, datetime] = {}
    budget = CANCEL_REQUESTS
    windows = [(since, until, set(taken))]
    while windows:
        start, end, numbers = windows.pop()
        if not numbers:
            continue
        start = max(start, min(taken[n] for n in numbers))
        if end - start <= CANCEL_RESOLUTION or budget <= 0:
            found.update(dict.fromkeys(numbers, start + (end - start) / 2))
            continue
        middle = start + (end - start) / 2
        budget -= 1
        early = {raw["posting_number"] for raw in client.changed_status(
            since, to, "cancelled", start, middle)} & numbers
        windows += [(start, middle, early), (middle, end, numbers - early)]
    return found
