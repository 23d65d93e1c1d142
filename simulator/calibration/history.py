"""A seller's history as calibration reads it, whatever the source (Seller API or CSV export).

Flat, source-neutral records: postings with their lines, returns, warehouses, products and
current stock. Times are timezone-aware UTC datetimes, as the Seller API gives them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class CalibrationError(Exception):
    """History that cannot be read or fitted; the message says what and where (exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Line:
    sku: int
    quantity: int
    price: float  # RUB per unit
    name: str = ""


@dataclass(frozen=True)
class PostingRecord:
    """One posting: taken into processing at ``in_process_at``, handed over at
    ``delivering_date`` (None if not yet), ``status`` as in the Seller API."""

    posting_number: str
    order_number: str
    in_process_at: datetime
    status: str
    lines: tuple[Line, ...]
    warehouse_id: int | None = None
    warehouse: str = ""
    city: str = ""
    region: str = ""
    delivering_date: datetime | None = None
    cancelled_at: datetime | None = None  # CSV exports may carry it; the Seller API does not
    packed_at: datetime | None = None  # (a simulated history's: awaiting_deliver from then)
    delivered_at: datetime | None = None  # (a simulated history's)

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


@dataclass(frozen=True)
class ReturnRecord:
    posting_number: str
    sku: int
    quantity: int
    returned_at: datetime | None
    kind: str = "ClientReturn"  # Ozon's return ``type``; "Cancellation" is not a buyer return


@dataclass(frozen=True)
class WarehouseRecord:
    warehouse_id: int
    name: str
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class StockRecord:
    sku: int
    warehouse_id: int
    present: int
    reserved: int = 0


@dataclass(frozen=True)
class Receipt:
    """Units of a SKU a supplier delivered to a warehouse during the period."""

    sku: int
    warehouse_id: int
    units: int


@dataclass(frozen=True)
class ProductRecord:
    sku: int
    offer_id: str = ""
    name: str = ""
    price: float | None = None


@dataclass
class History:
    """Everything calibration reads about one seller over ``[since, to)``."""

    since: datetime
    to: datetime
    source: str  # e.g. "Seller API at http://..." or "CSV export postings.csv"
    postings: list[PostingRecord]
    returns: list[ReturnRecord] = field(default_factory=list)
    warehouses: list[WarehouseRecord] = field(default_factory=list)
    products: list[ProductRecord] = field(default_factory=list)
    stocks: list[StockRecord] = field(default_factory=list)
    #: ordered units per day as the seller's analytics report them (a cross-check), if read
    analytics_units: dict[str, float] = field(default_factory=dict)
    #: returns were read up to this moment (None: ``to``)
    returns_until: datetime | None = None
    receipts: list[Receipt] = field(default_factory=list)
