"""Accrual operations as pure values: what a sale, a refund or an undelivered posting is
worth to the seller under the :class:`~reference_backend.finance.tariffs.Tariffs`.

Within an operation ``amount = accruals_for_sale + sale_commission + Σ services`` (negative
= charged to the seller). A delivered posting accrues its lines' prices, less the commission
and (FBS) the logistics; a refunded return reverses its lines' prices and their commission,
less (FBS) the return logistics; a posting that came back undelivered costs the return
logistics; a return request the seller refunds or compensates is a refund too. Ids are
stable: ``<source row id> * 10 + kind``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import IntEnum

from reference_backend.finance.tariffs import Tariffs

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class Kind(IntEnum):
    """What an operation records (the last digit of its id)."""

    SALE = 1
    CLIENT_RETURN = 2
    NOT_DELIVERED = 3
    RFBS_REFUND = 4


#: kind -> (Ozon operation_type, operation_type_name, transaction type)
OZON_TYPE = {
    Kind.SALE: ("OperationAgentDeliveredToCustomer", "Доставка покупателю", "orders"),
    Kind.CLIENT_RETURN: ("ClientReturnAgentOperation", "Получение возврата, отмены, невыкупа "
                         "от покупателя", "returns"),
    Kind.NOT_DELIVERED: ("OperationItemReturn", "Доставка и обработка возврата, отмены, "
                         "невыкупа", "returns"),
    Kind.RFBS_REFUND: ("ReturnAgentOperationRFBS", "Возврат перечисления за доставку "
                       "покупателю rFBS", "returns"),
}


@dataclass(frozen=True)
class Line:
    """A product line an operation is about (a returned line carries the refunded amount)."""

    sku: int
    offer_id: str
    name: str
    quantity: int
    amount: Decimal  # price x quantity sold, or the amount refunded


@dataclass(frozen=True)
class Source:
    """The posting an operation belongs to."""

    posting_number: str
    order_date: datetime
    warehouse_id: int
    rfbs: bool


@dataclass(frozen=True)
class Operation:
    operation_id: int
    kind: Kind
    at: datetime
    source: Source
    lines: tuple[Line, ...]
    accruals_for_sale: Decimal
    sale_commission: Decimal
    services: tuple[tuple[str, Decimal], ...] = ()

    @property
    def amount(self) -> Decimal:
        return self.accruals_for_sale + self.sale_commission + sum(
            (price for _, price in self.services), Decimal(0))

    @property
    def operation_type(self) -> str:
        return OZON_TYPE[self.kind][0]

    @property
    def type(self) -> str:
        return OZON_TYPE[self.kind][2]


def sale(row_id: int, at: datetime, source: Source, lines: Sequence[Line],
         tariffs: Tariffs) -> Operation:
    """A delivered posting: its price, less the commission and (FBS) the logistics."""
    price = sum((line.amount for line in lines), Decimal(0))
    services = () if source.rfbs else (
        ("MarketplaceServiceItemDirectFlowLogistic", -tariffs.direct_flow_logistics),
        ("MarketplaceServiceItemDelivToCustomer", -tariffs.last_mile))
    return Operation(row_id * 10 + Kind.SALE, Kind.SALE, at, source, tuple(lines), money(price),
                     -money(price * tariffs.commission_rate(source.rfbs)), services)


def refund(row_id: int, kind: Kind, at: datetime, source: Source, line: Line,
           tariffs: Tariffs, *, carried_back: bool = True,
           back_way: Decimal = Decimal(0)) -> Operation:
    """Money back to the buyer: the refunded amount and its commission reversed, less the
    return logistics when an FBS item was carried back and the buyer's shipping
    (``back_way``) when the seller refunds it."""
    services: list[tuple[str, Decimal]] = []
    if carried_back and not source.rfbs:
        services.append(("MarketplaceServiceItemReturnFlowLogistic",
                         -tariffs.return_flow_logistics))
    if back_way:
        services.append(("MarketplaceServiceItemReturnAfterDelivToCustomer", -money(back_way)))
    return Operation(row_id * 10 + kind, kind, at, source, (line,), -money(line.amount),
                     money(line.amount * tariffs.commission_rate(source.rfbs)), tuple(services))


def not_delivered(row_id: int, at: datetime, source: Source, lines: Sequence[Line],
                  tariffs: Tariffs) -> Operation:
    """A shipped posting that came back undelivered: nothing sold, the way back charged."""
    return Operation(row_id * 10 + Kind.NOT_DELIVERED, Kind.NOT_DELIVERED, at, source,
                     tuple(lines), Decimal(0), Decimal(0),
                     (("MarketplaceServiceItemReturnNotDelivToCustomer",
                       -tariffs.return_flow_logistics),))
