"""Returns processing by the seller: receive into stock or write off; refunds; exchanges.

A return row is created by a buyer's return request or by a shipped posting coming back
(cancelled after shipment, refused at the sorting centre). Processing it once is final:

* ``receive``: the units go back into ``present`` at the posting's warehouse;
* ``write_off``: the units are disposed of (stock unchanged);
* refund amount = price x quantity (what the buyer paid for the returned units);
* ``exchange``: the return is received or written off, no refund, and a replacement order
  for the same SKU and quantity is allocated, reserved and posted (a new posting).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reference_backend.domain_errors import Conflict, NotFound
from reference_backend.orders.service import place_order_in
from reference_backend.stock import rows as stock
from reference_backend.tables import Posting, Return, utcnow

PENDING = ("MovingToSeller", "ArrivedAtReturnPlace")


class Disposition(StrEnum):
    RESTOCK = "restock"
    WRITE_OFF = "write_off"


def refund_amount(price: str, quantity: int) -> str:
    """``price x quantity`` to 2 decimals, as a string (``"1390.00"``)."""
    amount = Decimal(price or "0") * quantity
    return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def get_return(session: Session, *, seller_id: int, return_id: int, lock: bool = False) -> Return:
    query = select(Return).where(Return.id == return_id, Return.seller_id == seller_id)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"return {return_id} not found", code="RETURN_NOT_FOUND",
                       details=[{"return_id": return_id}])
    return row


def _settle(session: Session, row: Return, disposition: Disposition, now: datetime) -> None:
    if row.status not in PENDING:
        raise Conflict(f"return {row.id} was already processed ({row.status})",
                       code="ALREADY_PROCESSED",
                       details=[{"return_id": row.id, "status": row.status}])
    if disposition is Disposition.RESTOCK:
        stock.receive(session, [(row.sku, row.warehouse_id, row.quantity)])
        row.status = "ReceivedBySeller"
    else:
        row.status = "Utilized"
    row.disposition = disposition.value
    row.processed_at = now
    row.status_changed_at = now


def process_return(
    session: Session, *, seller_id: int, return_id: int, disposition: Disposition | str,
    now: datetime | None = None,
) -> Return:
    """Receive (restock) or write off a pending return and fix its refund."""
    now = now or utcnow()
    row = get_return(session, seller_id=seller_id, return_id=return_id, lock=True)
    _settle(session, row, Disposition(disposition), now)
    row.refund_amount = refund_amount(row.price, row.quantity)
    session.flush()
    return row


def exchange(
    session: Session, *, seller_id: int, return_id: int,
    disposition: Disposition | str = Disposition.RESTOCK, now: datetime | None = None,
    shipment_deadline_hours: float = 24.0,
) -> tuple[Return, dict[str, Any]]:
    """Settle the return without a refund and post a replacement of the same units."""
    now = now or utcnow()
    row = get_return(session, seller_id=seller_id, return_id=return_id, lock=True)
    _settle(session, row, Disposition(disposition), now)
    region = session.scalar(select(Posting.region).where(Posting.id == row.posting_id)) or ""
    order = place_order_in(
        session, seller_id=seller_id, region=region, lines=[(row.sku, row.quantity)], now=now,
        deadline=timedelta(hours=shipment_deadline_hours), replaces_return_id=row.id,
    )
    row.refund_amount = "0.00"
    row.exchange_posting_number = order["postings"][0]["posting_number"]
    session.flush()
    return row, order


def return_view(row: Return) -> dict[str, Any]:
    """A return as Peakline's endpoints show it."""
    return {
        "id": row.id, "posting_number": row.posting_number, "order_number": row.order_number,
        "sku": row.sku, "offer_id": row.offer_id, "name": row.name, "quantity": row.quantity,
        "price": row.price, "currency_code": row.currency_code, "type": row.type,
        "reason": row.reason, "status": row.status, "warehouse_id": row.warehouse_id,
        "disposition": row.disposition, "refund_amount": row.refund_amount,
        "exchange_posting_number": row.exchange_posting_number, "barcode": row.barcode,
        "created_at": _iso(row.created_at), "processed_at": _iso(row.processed_at),
    }


def _iso(at: datetime | None) -> str | None:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ") if at else None
