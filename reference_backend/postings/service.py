"""Posting queries and their Ozon shapes (v3 list/unfulfilled/get, v4, get-by-barcode).

Reads only. A list page (:mod:`.pages`) is read by the ids of its postings; their posting rows
joined with their warehouses and delivery methods, and their items, are two statements on the
driver's cursor (:mod:`.raw_rows`; :func:`page_bundles`, on the event loop
:func:`apage_bundles`); then pure shaping functions build the answer as wire data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel
from sqlalchemy import Connection, Row, or_, select
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from reference_backend import pagination
from reference_backend.domain_errors import NotFound
from reference_backend.postings import queries
from reference_backend.postings import schemas as S
from reference_backend.raw_rows import Joined, RowsByKey, afetch_together, driver_cursor
from reference_backend.schemas import iso_utc
from reference_backend.tables import DeliveryMethod, Package, Posting, PostingItem, Warehouse
from simulator.lifecycle import PostingStatus, can_transition, is_final

CANCELLATION_TYPES = {"seller", "client", "customer", "ozon", "system", "delivery", ""}
SUBSTATUSES = {
    "posting_acceptance_in_progress",
    "posting_in_arbitration",
    "posting_created",
    "posting_in_carriage",
    "posting_not_in_carriage",
    "posting_registered",
    "posting_transferring_to_delivery",
    "posting_awaiting_passport_data",
    "posting_awaiting_registration",
    "posting_registration_error",
    "posting_split_pending",
    "posting_canceled",
    "posting_in_client_arbitration",
    "posting_delivered",
    "posting_received",
    "posting_conditionally_delivered",
    "posting_in_courier_service",
    "posting_in_pickup_point",
    "posting_on_way_to_city",
    "posting_on_way_to_pickup_point",
    "posting_returned_to_warehouse",
    "posting_transferred_to_courier_service",
    "posting_driver_pick_up",
    "posting_not_in_sort_center",
    "ship_failed",
    "posting_packing",
}
#: Statuses the unfulfilled lists show when no status filter is given.
DEFAULT_UNFULFILLED = ("awaiting_packaging", "awaiting_deliver", "arbitration")

_LABELS = [
    "has_barcode_for_printing",
    "label_download",
    "label_download_big",
    "label_download_small",
]


@functools.cache
def _actions(status: str) -> tuple[str, ...]:
    return tuple(available_actions(status))


def available_actions(status: str) -> list[str]:
    """What the seller may do next with a posting in ``status`` (strict enum values), read
    from the lifecycle's transition table so the two never disagree."""
    try:
        current = PostingStatus(status)
    except ValueError:
        return []
    if is_final(current):
        return []
    actions = ["set_track_number"]
    if can_transition(current, PostingStatus.ARBITRATION):
        actions.append("arbitration")
    if can_transition(current, PostingStatus.CANCELLED):
        actions.append("cancel")
    if current is PostingStatus.AWAITING_PACKAGING:
        actions += ["product_cancel", "ship"]
    if current is PostingStatus.AWAITING_DELIVER:
        actions += _LABELS
        if can_transition(current, PostingStatus.DELIVERING):
            actions.append("non_int_delivering")
    if current is PostingStatus.DELIVERING:
        actions.append("non_int_last_mile")
        if can_transition(current, PostingStatus.DELIVERED):
            actions.append("non_int_delivered")
    if current is PostingStatus.ARBITRATION and can_transition(
        current, PostingStatus.AWAITING_DELIVER
    ):
        actions.append("awaiting_delivery")
    return sorted(actions)


# --------------------------------------------------------------------------- loading


@dataclass
class PostingBundle:
    """A posting with what its Ozon shape needs (ORM objects or plain rows: read only)."""

    posting: Posting | Row[Any]
    items: list[Row[Any]] = field(default_factory=list)
    warehouse: Row[Any] | None = None
    method: Row[Any] | None = None

    @property
    def shipped(self) -> list[Row[Any]]:
        """The lines still in the posting (fully cancelled lines are not shown)."""
        return [i for i in self.items if i.quantity > 0]


@dataclass(frozen=True)
class _Readers:
    """A page's reads on the driver's cursor (see :mod:`.raw_rows`), per dialect."""

    items: RowsByKey
    warehouses: RowsByKey
    methods: RowsByKey
    #: postings with their warehouse's name and delivery method (``warehouse_name``,
    #: ``method_id``, ...): a list page's postings in one statement
    page: RowsByKey


class _WarehouseRef(NamedTuple):
    warehouse_id: int
    name: str


class _MethodRef(NamedTuple):
    id: int
    name: str
    provider_id: int
    tpl_provider: str


_METHOD_COLUMNS = ("id", "name", "provider_id", "tpl_provider")


_READERS: dict[tuple[str, str], _Readers] = {}


def _readers(conn: Connection) -> _Readers:
    return _readers_for(conn.dialect)


def _readers_for(d: Dialect) -> _Readers:
    readers = _READERS.get((d.name, d.driver))
    if readers is None:
        readers = _READERS[(d.name, d.driver)] = _Readers(
            items=RowsByKey(PostingItem.__table__, "posting_id", d, order_by="id",
                            intern=_INTERNED_ROWS),
            warehouses=RowsByKey(Warehouse.__table__, "warehouse_id", d,
                                 columns=("warehouse_id", "name")),
            methods=RowsByKey(DeliveryMethod.__table__, "id", d, columns=_METHOD_COLUMNS),
            page=RowsByKey(Posting.__table__, "id", d, joined=(
                Joined(Warehouse.__table__, "warehouse_id", "warehouse_id", ("name",),
                       "warehouse_"),
                Joined(DeliveryMethod.__table__, "delivery_method_id", "id", _METHOD_COLUMNS,
                       "method_")), intern=_INTERNED_ROWS),
        )
    return readers


#: Rows of a page kept per reader (:class:`.RowsByKey`): polled pages read the same rows.
_INTERNED_ROWS = 8192


#: The dialect of :meth:`.Database.async_pool`'s connections (psycopg, as the sync engine's).
PG_ASYNC = psycopg_dialect.dialect()


def _bundle(session: Session, postings: Sequence[Posting | Row[Any]]) -> list[PostingBundle]:
    """The postings with their items, warehouses and delivery methods, read as plain rows
    (no ORM objects: building them cost more than the queries on a page of postings)."""
    if not postings:
        return []
    conn = session.connection()
    read = _readers(conn)
    items: dict[int, list[Any]] = {p.id: [] for p in postings}
    for item in read.items.fetch(conn, list(items)):
        items[item.posting_id].append(item)
    warehouses = {w.warehouse_id: w for w in read.warehouses.fetch(
        conn, {p.warehouse_id for p in postings})}
    methods = {m.id: m for m in read.methods.fetch(
        conn, {p.delivery_method_id for p in postings if p.delivery_method_id is not None})}
    return [
        PostingBundle(
            p, items[p.id], warehouses.get(p.warehouse_id), methods.get(p.delivery_method_id or -1)
        )
        for p in postings
    ]


def page_bundles(conn: Connection, ids: Sequence[int]) -> list[PostingBundle]:
    """The postings ``ids`` (in that order) with their items, warehouses and delivery
    methods: two statements."""
    read = _readers(conn)
    return _assembled(ids, read.page.fetch(conn, ids), read.items.fetch(conn, ids))


async def apage_bundles(conn: Any, ids: Sequence[int]) -> list[PostingBundle]:
    """:func:`page_bundles` on a psycopg ``AsyncConnection`` (:meth:`.Database.async_pool`): its two
    statements in one round trip."""
    read = _readers_for(PG_ASYNC)
    rows, items = await afetch_together(conn, (read.page, ids), (read.items, ids))
    return _assembled(ids, rows, items)


def _assembled(ids: Sequence[int], rows: list[Any], item_rows: list[Any]) -> list[PostingBundle]:
    postings = {p.id: p for p in rows}
    items: dict[int, list[Any]] = {i: [] for i in ids}
    for item in item_rows:
        items[item.posting_id].append(item)
    bundles = []
    for i in ids:
        p = postings.get(i)
        if p is None:  # (gone since its id was read: a seller deleted meanwhile)
            continue
        warehouse = (_WarehouseRef(p.warehouse_id, p.warehouse_name)
                     if p.warehouse_name is not None else None)
        method = (_MethodRef(p.method_id, p.method_name, p.method_provider_id,
                             p.method_tpl_provider) if p.method_id is not None else None)
        bundles.append(PostingBundle(p, items[i], warehouse, method))
    return bundles


def find_posting(session: Session, seller_id: int, number: str, *, lock: bool = False) -> Posting:
    """The seller's posting by posting number (or by one of its package numbers), else 404."""
    query = select(Posting).where(Posting.seller_id == seller_id, Posting.posting_number == number)
    if lock:
        query = query.with_for_update()
    posting = session.scalars(query).first()
    if posting is None:
        package = session.scalars(
            select(Package)
            .join(Posting, Posting.id == Package.posting_id)
            .where(Package.package_number == number, Posting.seller_id == seller_id)
        ).first()
        if package is not None:
            query = select(Posting).where(Posting.id == package.posting_id)
            posting = session.scalars(query.with_for_update() if lock else query).first()
    if posting is None:
        raise NotFound(f"posting {number} not found", code="POSTING_NOT_FOUND")
    return posting


def load_bundle(session: Session, seller_id: int, number: str) -> PostingBundle:
    return _bundle(session, [find_posting(session, seller_id, number)])[0]


# --------------------------------------------------------------------------- shaping


@functools.lru_cache(maxsize=8192)  # (a catalogue's prices repeat on every page)
def price_text(value: str | None, places: int = 6) -> str:
    try:
        return f"{Decimal(value or '0'):.{places}f}"
    except InvalidOperation:
        return f"{0:.{places}f}"


def barcodes_of(posting: Posting) -> S.Barcodes:
    """The posting's two barcodes (both resolve in get-by-barcode)."""
    return S.Barcodes(upper_barcode=f"%101%{posting.id}", lower_barcode=f"{posting.id:014d}")


# The list pages are built as wire data: each posting a dict in the JSON shape of its model,
# key order and defaults included, filled from copies of templates that pydantic itself
# dumped (below), so ``orjson.dumps`` writes what ``model_dump_json`` would. Validating and
# dumping 50 postings through their models cost more than everything else on the page.
# ``to_detail`` (one posting) still validates through its model.


def wire_template(model: type[BaseModel], **required: Any) -> dict[str, Any]:
    """``model``'s JSON data with its defaults, as pydantic dumps it (``required`` fills the
    fields without a default; a page replaces them)."""
    return model(**required).model_dump(mode="json", by_alias=True)


def _fill(template: dict[str, Any], **values: Any) -> dict[str, Any]:
    """A copy of ``template`` with ``values`` (keys of the template: its order is kept)."""
    filled = template.copy()
    filled.update(values)
    return filled


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIMES = {"in_process_at": _EPOCH, "shipment_date": _EPOCH, "shipment_date_without_delay": _EPOCH}
_REF = {"id": 0, "name": "", "warehouse_id": 0, "warehouse": ""}
_KEYS = {"posting_number": "", "order_id": 0, "order_number": "", "status": ""}
_V3 = wire_template(S.PostingV3, **_KEYS, **_TIMES, delivery_method=_REF)
_V4 = wire_template(S.PostingV4, **_KEYS, **_TIMES, delivery_method=_REF)
_METHOD_REF = wire_template(S.DeliveryMethodRef, **_REF)
_CANCELLATION = wire_template(S.Cancellation)
_ANALYTICS = wire_template(S.AnalyticsData)
_PRODUCT_V3 = wire_template(S.PostingProductV3, name="", offer_id="", sku=0, quantity=0,
                            price="")
_PRODUCT_V4 = wire_template(S.PostingProductV4, name="", offer_id="", sku=0, quantity=0,
                            price={})
_FINANCIAL = wire_template(S.FinancialData)
_FINANCIAL_PRODUCT = wire_template(S.FinancialProduct, picking={"moment": _EPOCH})
_PICKING = wire_template(S.Picking, moment=_EPOCH)
_INTEGRATION_TYPES = {"ozon", "3pl_tracking", "non_integrated", "aggregator", "hybryd"}
_CURRENCIES = {"RUB", "BYN", "KZT", "EUR", "USD", "CNY"}


def _method_ref(b: PostingBundle) -> dict[str, Any]:
    """A ``DeliveryMethodRef``."""
    wh = b.warehouse
    wh_name = wh.name if wh else ""
    if b.method is not None:
        return _fill(_METHOD_REF, id=b.method.id, name=b.method.name,
                     warehouse_id=b.posting.warehouse_id, warehouse=wh_name,
                     tpl_provider_id=b.method.provider_id, tpl_provider=b.method.tpl_provider)
    return _fill(_METHOD_REF, id=b.posting.warehouse_id, name=f"{wh_name} FBS".strip(),
                 warehouse_id=b.posting.warehouse_id, warehouse=wh_name)


def _cancellation(p: Posting) -> dict[str, Any]:
    """A ``Cancellation``."""
    ctype = p.cancellation_type or ""
    if ctype not in CANCELLATION_TYPES:
        ctype = "customer" if ctype in {"buyer", "client"} else "system"
    return _fill(
        _CANCELLATION,
        cancel_reason_id=p.cancel_reason_id or 0,
        cancel_reason=p.cancel_reason or "",
        cancellation_type=ctype,
        cancelled_after_ship=bool(p.cancelled_after_ship),
        affect_cancellation_rating=ctype == "seller",
        cancellation_initiator=p.cancellation_initiator or "",
    )


def _substatus(p: Posting) -> str | None:
    return p.substatus if p.substatus in SUBSTATUSES else None


def _analytics(b: PostingBundle) -> dict[str, Any]:
    """An ``AnalyticsData``."""
    wh = b.warehouse
    return _fill(
        _ANALYTICS,
        city=b.posting.buyer_city or b.posting.region or "",
        region=b.posting.buyer_region or b.posting.region or "",
        warehouse_id=b.posting.warehouse_id,
        warehouse=wh.name if wh else "",
        tpl_provider=b.method.tpl_provider if b.method else "Ozon Логистика",
        tpl_provider_id=b.method.provider_id if b.method else 24,
    )


@dataclass(frozen=True)
class _Charge:
    """What the financial data says of one line."""

    currency_code: str
    price: float
    payout: float
    product_id: int
    quantity: int
    client_price: str


@functools.lru_cache(maxsize=8192)
def _unit_price(value: str | None) -> float:
    return float(Decimal(value or "0"))


def _charges(b: PostingBundle) -> list[_Charge]:
    charges = []
    for item in b.items:
        price = _unit_price(item.price)
        charges.append(_Charge(_currency(item.currency_code), price,
                               round(price * item.quantity, 2), item.product_id,
                               item.quantity, price_text(item.price, 2)))
    return charges


def _financial(b: PostingBundle) -> dict[str, Any]:
    """A ``FinancialData``."""
    picking = _fill(_PICKING, moment=iso_utc(b.posting.in_process_at))
    return _fill(_FINANCIAL, products=[
        _fill(_FINANCIAL_PRODUCT, currency_code=c.currency_code, old_price=c.price,
              payout=c.payout, price=c.price, product_id=c.product_id, quantity=c.quantity,
              client_price=c.client_price, picking=picking)
        for c in _charges(b)])


def _currency(code: str | None) -> str:
    return code if code in _CURRENCIES else "RUB"


def _common(b: PostingBundle, with_: S.With) -> dict[str, Any]:
    """The keys every posting shape shares, as wire data."""
    p = b.posting
    shipment_date = iso_utc(p.shipment_date)
    return {
        "posting_number": p.posting_number,
        "order_id": p.order_id,
        "order_number": p.order_number,
        "status": p.status,
        "substatus": _substatus(p),
        "in_process_at": iso_utc(p.in_process_at),
        "shipment_date": shipment_date,
        "shipment_date_without_delay": shipment_date,
        "delivering_date": iso_utc(p.delivering_date),
        "delivery_method": _method_ref(b),
        "tpl_integration_type": p.tpl_integration_type
        if p.tpl_integration_type in _INTEGRATION_TYPES else "ozon",
        "tracking_number": p.tracking_number or "",
        "is_express": bool(p.is_express),
        "is_multibox": bool(p.is_multibox),
        "multi_box_qty": p.multi_box_qty or 0,
        "available_actions": list(_actions(p.status)),
        "cancellation": _cancellation(p),
        "analytics_data": _analytics(b) if with_.analytics_data else None,
        "barcodes": barcodes_of(p).model_dump() if with_.barcodes else None,
        "parent_posting_number": p.parent_posting_number or "",
    }


def _products_v3(b: PostingBundle) -> list[dict[str, Any]]:
    """``PostingProductV3`` items (in a detailed posting, what ``PostingProductDetail``s are
    validated from)."""
    return [
        _fill(_PRODUCT_V3, name=i.name, offer_id=i.offer_id, sku=i.sku, quantity=i.quantity,
              price=price_text(i.price), currency_code=_currency(i.currency_code))
        for i in b.shipped
    ]


def to_v3(b: PostingBundle, with_: S.With) -> dict[str, Any]:
    """A ``PostingV3`` as wire data."""
    return _fill(_V3, **_common(b, with_), products=_products_v3(b),
                 financial_data=_financial(b) if with_.financial_data else None)


#: Postings' JSON by everything it is made of (see :func:`wire_postings`), oldest first.
_WIRE: dict[tuple[Any, ...], orjson.Fragment] = {}
WIRE_CACHE_SIZE = 4096


def wire_postings(bundles: Sequence[PostingBundle], with_: S.With,
                  shape: Callable[[PostingBundle, S.With], dict[str, Any]],
                  ) -> list[orjson.Fragment]:
    """``shape(b, with_)`` (:func:`to_v3` or :func:`to_v4`) of each posting, written as JSON
    (an ``orjson.Fragment``: dumped inside a page, the same bytes as the dict).

    Integrations poll the same pages all day, so each posting's JSON is kept, keyed by the
    shape, the ``with`` flags and the posting's rows themselves (every column of the posting
    and of its items, and the warehouse and delivery-method names joined to it; a page's rows
    are tuples, :mod:`.raw_rows`): a posting whose status, stock lines or anything else
    changed has another key, so nothing is ever invalidated and nothing stale is written.
    Rows that cannot be keyed (ORM objects) are shaped each time.
    """
    flags = (shape, *vars(with_).values())
    out = []
    for b in bundles:
        key = (flags, type(b.posting), b.posting, *b.items)
        try:
            fragment = _WIRE.get(key)
        except TypeError:  # (not hashable)
            out.append(orjson.Fragment(orjson.dumps(shape(b, with_))))
            continue
        if fragment is None:
            fragment = orjson.Fragment(orjson.dumps(shape(b, with_)))
            if len(_WIRE) >= WIRE_CACHE_SIZE:
                del _WIRE[next(iter(_WIRE))]
            _WIRE[key] = fragment
        out.append(fragment)
    return out


def to_detail(b: PostingBundle, with_: S.With) -> S.PostingDetail:
    """``/v3/posting/fbs/get``: the v3 posting with product dimensions and the get-only keys."""
    return S.PostingDetail(
        **_common(b, with_),
        products=_products_v3(b),
        financial_data=_financial(b) if with_.financial_data else None,
        related_postings={"related_posting_numbers": []} if with_.related_postings else None,
    )


def _financial_v4(b: PostingBundle) -> dict[str, Any]:
    return {"products": [
        {
            "actions": [],
            "old_price": c.price,
            "payout": c.payout,
            "price": c.price,
            "product_id": c.product_id,
            "quantity": c.quantity,
            "total_discount_percent": 0,
            "total_discount_value": 0,
            "commission": {"amount": 0.0, "currency": c.currency_code, "percent": 0},
            "customer_price": {"amount": c.client_price, "currency": c.currency_code},
        }
        for c in _charges(b)
    ]}


def to_v4(b: PostingBundle, with_: S.With) -> dict[str, Any]:
    """A ``PostingV4`` as wire data."""
    products = [
        _fill(_PRODUCT_V4, name=i.name, offer_id=i.offer_id, sku=i.sku, quantity=i.quantity,
              price={"amount": price_text(i.price, 2), "currency": _currency(i.currency_code)})
        for i in b.shipped
    ]
    common = _common(b, with_)
    return _fill(_V4, **common, integration_type_flow=common["tpl_integration_type"],
                 products=products,
                 financial_data=_financial_v4(b) if with_.financial_data else None,
                 scanit=b.posting.posting_number)


def to_barcode_posting(b: PostingBundle) -> S.BarcodePosting:
    p = b.posting
    return S.BarcodePosting(
        posting_number=p.posting_number,
        order_id=p.order_id,
        order_number=p.order_number,
        status=p.status,
        cancel_reason_id=p.cancel_reason_id or 0,
        created_at=p.created_at,
        in_process_at=p.in_process_at,
        shipment_date=p.shipment_date,
        barcodes=barcodes_of(p),
        products=[
            S.BarcodeProduct(
                name=i.name,
                offer_id=i.offer_id,
                price=price_text(i.price),
                quantity=i.quantity,
                sku=i.sku,
            )
            for i in b.shipped
        ],
        analytics_data={
            "city": p.buyer_city or p.region,
            "delivery_type": "Courier",
            "is_legal": False,
            "is_premium": False,
            "payment_type_group_name": "картой онлайн",
            "region": p.buyer_region or p.region,
        },
    )


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class PostingFilter:
    """One filter for every list version (v3 and v4 requests are mapped onto it)."""

    since: datetime | None = None
    to: datetime | None = None
    statuses: tuple[str, ...] = ()
    warehouse_ids: tuple[int, ...] = ()
    delivery_method_ids: tuple[int, ...] = ()
    provider_ids: tuple[int, ...] = ()
    order_id: int | None = None
    order_numbers: tuple[str, ...] = ()
    posting_number: str | None = None
    offer_id: str | None = None
    sku: int | None = None
    changed_from: datetime | None = None
    changed_to: datetime | None = None
    cutoff_from: datetime | None = None
    cutoff_to: datetime | None = None
    delivering_from: datetime | None = None
    delivering_to: datetime | None = None


def list_offset(
    conn: Connection, seller_id: int, f: PostingFilter, *, limit: int, offset: int, desc: bool
) -> tuple[list[PostingBundle], bool]:
    """An offset page of postings and its ``has_next`` (the console's list; the API's lists
    are :mod:`.pages`). The ids first: the database sorts ids (from an index), not whole rows
    (SQLite sorted every row of the window: ~30 ms for 20,000 postings)."""
    ids = _column(conn, queries.ids_statement(conn.dialect, seller_id, f, desc=desc,
                                              limit=limit + 1, offset=offset))
    page = pagination.offset_page(ids, limit)
    return page_bundles(conn, page.items), page.has_next


def count(conn: Connection | Session, seller_id: int, f: PostingFilter) -> int:
    if isinstance(conn, Session):
        conn = conn.connection()
    return int(_column(conn, queries.count_statement(conn.dialect, seller_id, f))[0] or 0)


def _column(conn: Connection, statement: queries.Statement) -> list[Any]:
    """The first column of ``statement``'s rows, on the driver's cursor."""
    with driver_cursor(conn) as cur:
        cur.execute(statement.sql, statement.params)
        return [row[0] for row in cur.fetchall()]


def by_barcode(session: Session, seller_id: int, barcode: str) -> PostingBundle:
    """A posting by its upper/lower barcode, its label barcode (the posting number) or scanit."""
    text = barcode.strip()
    digits = text.isascii()  # (str.isdigit also accepts digits that int() refuses)
    conds = [Posting.posting_number == text]
    if digits and text.startswith("%101%") and text[5:].isdigit():
        conds.append(Posting.id == int(text[5:]))
    elif digits and text.isdigit() and len(text) == 14:
        conds.append(Posting.id == int(text))
    query = select(Posting).where(Posting.seller_id == seller_id, or_(*conds)).limit(1)
    posting = session.scalars(query).first()
    if posting is None:
        raise NotFound(f"no posting with barcode {text}", code="POSTING_NOT_FOUND")
    return _bundle(session, [posting])[0]


def bundles_for(session: Session, seller_id: int, numbers: Iterable[str]) -> list[PostingBundle]:
    """Bundles for ``numbers`` in the given order (404 on the first unknown number)."""
    return _bundle(session, [find_posting(session, seller_id, n) for n in numbers])
