"""Finance reports from the postings' history: the accrual operations of a period, their
totals and the monthly realization report. Keyword-only functions over a SQLAlchemy
session; no HTTP here. Nothing is stored: every figure is derived on request from the
postings, returns and refunds, so the reports always agree with them.
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from reference_backend.domain_errors import InvalidInput, NotFound
from reference_backend.finance import operations as ops
from reference_backend.finance import schemas as F
from reference_backend.finance.operations import Kind, Line, Operation, Source
from reference_backend.finance.tariffs import Tariffs
from reference_backend.tables import (
    Posting,
    PostingItem,
    Return,
    ReturnRequest,
    Seller,
    Warehouse,
    utcnow,
)

EVER = (datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC))


def _source(posting: Posting, rfbs: bool) -> Source:
    return Source(posting.posting_number, posting.in_process_at, posting.warehouse_id, rfbs)


def _between(column, since: datetime, until: datetime):  # type: ignore[no-untyped-def]
    return column.is_not(None) & (column >= since) & (column <= until)


def _postings(seller_id: int, posting_number: str | None):  # type: ignore[no-untyped-def]
    query = (select(Posting, Warehouse.is_rfbs)
             .join(Warehouse, Warehouse.warehouse_id == Posting.warehouse_id)
             .where(Posting.seller_id == seller_id))
    return query.where(Posting.posting_number == posting_number) if posting_number else query


def _lines(session: Session, posting_ids: Iterable[int]) -> dict[int, list[Line]]:
    lines: dict[int, list[Line]] = defaultdict(list)
    ids = list(posting_ids)
    if ids:
        query = select(PostingItem).where(PostingItem.posting_id.in_(ids), PostingItem.quantity > 0)
        for item in session.scalars(query.order_by(PostingItem.id)):
            lines[item.posting_id].append(Line(item.sku, item.offer_id, item.name, item.quantity,
                                               Decimal(item.price) * item.quantity))
    return lines


def _return_line(row: Return, amount: Decimal) -> Line:
    return Line(row.sku, row.offer_id, row.name, row.quantity, amount)


def operations(
    session: Session, *, seller_id: int, tariffs: Tariffs, since: datetime | None = None,
    until: datetime | None = None, posting_number: str | None = None,
) -> list[Operation]:
    """Every operation of the seller in ``[since, until]``, oldest first."""
    since, until = since or EVER[0], until or EVER[1]
    found: list[Operation] = []
    delivered = session.execute(_postings(seller_id, posting_number).where(
        _between(Posting.delivered_at, since, until))).all()
    lines = _lines(session, (p.id for p, _ in delivered))
    found += [ops.sale(p.id, p.delivered_at, _source(p, rfbs), lines[p.id], tariffs)
              for p, rfbs in delivered]

    returned = session.execute(
        _postings(seller_id, posting_number).add_columns(Return)
        .join(Return, Return.posting_id == Posting.id)
        .where((_between(Return.processed_at, since, until) & (Return.type == "ClientReturn"))
               | (_between(Return.created_at, since, until) & (Return.type == "Cancellation")))
        .order_by(Return.id)).all()
    undelivered: dict[int, tuple[Posting, bool, list[Return]]] = {}
    for posting, rfbs, row in returned:
        if row.type == "Cancellation":
            undelivered.setdefault(posting.id, (posting, rfbs, []))[2].append(row)
        elif Decimal(row.refund_amount or "0") > 0:
            found.append(ops.refund(row.id, Kind.CLIENT_RETURN, row.processed_at,
                                    _source(posting, rfbs),
                                    _return_line(row, Decimal(row.refund_amount)), tariffs))
    found += _request_refunds(session, seller_id, posting_number, since, until, tariffs)
    for posting, rfbs, rows in undelivered.values():
        if not rfbs:
            found.append(ops.not_delivered(
                rows[0].id, rows[0].created_at, _source(posting, rfbs),
                [_return_line(r, Decimal(0)) for r in rows], tariffs))
    return sorted(found, key=lambda op: (op.at, op.operation_id))


def _request_refunds(session: Session, seller_id: int, posting_number: str | None,
                     since: datetime, until: datetime, tariffs: Tariffs) -> list[Operation]:
    """Return requests refunded (item back or kept) or compensated in the period."""
    decided = session.execute(
        _postings(seller_id, posting_number).add_columns(ReturnRequest)
        .join(ReturnRequest, ReturnRequest.posting_id == Posting.id)
        .where(_between(ReturnRequest.decided_at, since, until),
               ReturnRequest.refund_amount.is_not(None))
        .order_by(ReturnRequest.id)).all()
    return [
        ops.refund(row.id, Kind.RFBS_REFUND, row.decided_at, _source(posting, rfbs),
                   Line(row.sku, row.offer_id, row.name,
                        row.quantity if row.state == "MoneyReturned" else 0,
                        Decimal(row.refund_amount)),
                   tariffs, carried_back=row.disposition is not None,
                   back_way=Decimal(row.back_way_amount or "0"))
        for posting, rfbs, row in decided]


def _selected(found: Sequence[Operation], kinds: Sequence[str], transaction_type: str | None
              ) -> list[Operation]:
    wanted = set(kinds)
    return [op for op in found
            if (not wanted or op.operation_type in wanted)
            and transaction_type in (None, "all", op.type)]


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _wire(op: Operation) -> F.Operation:
    return F.Operation(
        operation_id=op.operation_id, operation_type=op.operation_type,
        operation_date=_stamp(op.at), operation_type_name=ops.OZON_TYPE[op.kind][1],
        accruals_for_sale=float(op.accruals_for_sale), sale_commission=float(op.sale_commission),
        amount=float(op.amount), type=op.type,
        posting=F.OperationPosting(
            delivery_schema="RFBS" if op.source.rfbs else "FBS",
            order_date=_stamp(op.source.order_date), posting_number=op.source.posting_number,
            warehouse_id=op.source.warehouse_id),
        items=[F.OperationItem(name=line.name, sku=line.sku) for line in op.lines],
        services=[F.OperationService(name=name, price=float(price)) for name, price in op.services],
    )


def one_month_later(at: datetime) -> datetime:
    """The same moment a calendar month later (the 31st of January: the end of February)."""
    year, month = divmod(at.year * 12 + at.month, 12)
    day = min(at.day, calendar.monthrange(year, month + 1)[1])
    return at.replace(year=year, month=month + 1, day=day)


def check_period(period: F.Period, posting_number: str | None) -> None:
    """Ozon answers at most one month per request (docs, §15.1): a longer period, an end
    before its start, or no period at all without a posting number is refused (400)."""
    since, until = period.from_, period.to
    if since is None and until is None and posting_number:
        return  # one posting's operations, whenever they happened
    if since is None or until is None:
        raise InvalidInput("date.from and date.to are required (at most one month apart) "
                           "unless posting_number is given", code="INVALID_PERIOD")
    if until < since:
        raise InvalidInput("date.to is before date.from", code="INVALID_PERIOD")
    if until > one_month_later(since):
        raise InvalidInput(
            f"the period {since.isoformat()} .. {until.isoformat()} is longer than one month; "
            "request at most one month at a time", code="INVALID_PERIOD")


def _found(session: Session, *, seller_id: int, period: F.Period, posting_number: str | None,
           kinds: Sequence[str], transaction_type: str | None, tariffs: Tariffs
           ) -> list[Operation]:
    """The operations a request selects (its period checked first: at most one month)."""
    check_period(period, posting_number)
    return _selected(operations(session, seller_id=seller_id, tariffs=tariffs,
                                since=period.from_, until=period.to,
                                posting_number=posting_number), kinds, transaction_type)


def transaction_list(session: Session, *, seller_id: int, req: F.TransactionListRequest,
                     tariffs: Tariffs) -> F.TransactionListResult:
    """A page of the period's operations (``page`` is 1-based; at most one month)."""
    f = req.filter
    return _page(_found(session, seller_id=seller_id, period=f.date,
                        posting_number=f.posting_number, kinds=f.operation_type,
                        transaction_type=f.transaction_type, tariffs=tariffs), req)


def totals(session: Session, *, seller_id: int, req: F.TotalsRequest, tariffs: Tariffs
           ) -> F.Totals:
    """The period's operations in Ozon's buckets (see :func:`_totals`)."""
    return _totals(_found(session, seller_id=seller_id, period=req.date,
                          posting_number=req.posting_number, kinds=(),
                          transaction_type=req.transaction_type, tariffs=tariffs))


def statement(session: Session, *, seller_id: int, req: F.TransactionListRequest,
              tariffs: Tariffs) -> tuple[F.TransactionListResult, F.Totals]:
    """A page of the period's operations and the totals of all it selects, from one reading
    of the operations (what ``transaction/list`` and ``totals`` answer for the same filter)."""
    f = req.filter
    found = _found(session, seller_id=seller_id, period=f.date, posting_number=f.posting_number,
                   kinds=f.operation_type, transaction_type=f.transaction_type, tariffs=tariffs)
    return _page(found, req), _totals(found)


def _page(found: Sequence[Operation], req: F.TransactionListRequest) -> F.TransactionListResult:
    start = (req.page - 1) * req.page_size
    return F.TransactionListResult(
        operations=[_wire(op) for op in found[start:start + req.page_size]],
        page_count=math.ceil(len(found) / req.page_size), row_count=len(found))


def _totals(found: Sequence[Operation]) -> F.Totals:
    """Operations in Ozon's buckets; the buckets add up to the operations' sum: sales and
    their logistics, every commission, and returns with their logistics."""
    buckets: dict[str, Decimal] = defaultdict(Decimal)
    for op in found:
        buckets["sale_commission"] += op.sale_commission
        services = op.amount - op.accruals_for_sale - op.sale_commission
        if op.type == "orders":
            buckets["accruals_for_sale"] += op.accruals_for_sale
            buckets["processing_and_delivery"] += services
        else:
            buckets["refunds_and_cancellations"] += op.accruals_for_sale + services
    return F.Totals(**{name: float(value) for name, value in buckets.items()})


# --------------------------------------------------------------------------- realization


def _side(lines: Sequence[Line], rate: Decimal) -> F.RealizationSide | None:
    if not lines:
        return None
    amount = sum((line.amount for line in lines), Decimal(0))
    quantity = sum(line.quantity for line in lines)
    commission = ops.money(amount * rate)
    return F.RealizationSide(
        amount=float(amount), commission=float(commission), standard_fee=float(commission),
        price_per_instance=float(ops.money(amount / quantity)) if quantity else 0.0,
        quantity=quantity, total=float(amount - commission))


def realization(session: Session, *, seller_id: int, month: int, year: int, tariffs: Tariffs,
                today: date | None = None) -> F.RealizationResult:
    """Sales and refunds of a month per SKU (the current month so far; 404 after it)."""
    today = today or utcnow().date()
    if (year, month) > (today.year, today.month):
        raise NotFound(f"the realization report for {year}-{month:02d} does not exist yet",
                       code="REPORT_NOT_READY")
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    since = datetime.combine(first, time(), UTC)
    until = datetime.combine(last, time.max, UTC)
    found = operations(session, seller_id=seller_id, tariffs=tariffs, since=since, until=until)
    sold: dict[int, list[Line]] = defaultdict(list)
    back: dict[int, list[Line]] = defaultdict(list)
    rates: dict[int, Decimal] = {}
    for op in found:
        if op.kind in (Kind.SALE, Kind.CLIENT_RETURN, Kind.RFBS_REFUND):
            for line in op.lines:
                (sold if op.kind is Kind.SALE else back)[line.sku].append(line)
                rates[line.sku] = tariffs.commission_rate(op.source.rfbs)
    names = {line.sku: line for lines in (*sold.values(), *back.values()) for line in lines}
    rows = []
    for number, sku in enumerate(sorted(names), start=1):
        line, rate = names[sku], rates[sku]
        per_unit = sold[sku] or back[sku]
        price = sum((x.amount for x in per_unit), Decimal(0)) / max(
            sum(x.quantity for x in per_unit), 1)
        rows.append(F.RealizationRow(
            rowNumber=number, item=F.RealizationItem(name=line.name, offer_id=line.offer_id,
                                                     sku=sku),
            commission_ratio=float(rate), seller_price_per_instance=float(ops.money(price)),
            delivery_commission=_side(sold[sku], rate), return_commission=_side(back[sku], rate)))
    seller = session.get(Seller, seller_id)
    return F.RealizationResult(
        header=F.RealizationHeader(
            number=f"{seller_id}-{year}{month:02d}", doc_date=str(last), start_date=str(first),
            stop_date=str(last), contract_number=f"ИР-{seller_id}",
            contract_date=str(seller.created_at.date()) if seller else "",
            currency_sys_name=seller.currency_code if seller else "RUB",
            receiver_name=seller.name if seller else ""),
        rows=rows)
