"""``/v1/analytics/data``: revenue, units and postings grouped by day/week/month/year, SKU,
warehouse or posting status, over the postings placed in the period (UTC days).

Every metric of a row belongs to the orders placed in that row's period: ``revenue`` and
``ordered_units`` count what was ordered (cancelled units included), ``cancellations``,
``delivered_units`` and ``returns`` what became of those units, ``postings`` the distinct
postings. Grouped by ``action``, the lines sold at a promotion's price are apart from the
rest. Premium-only traffic metrics are not modelled and answer 0.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from reference_backend.analytics import schemas as A
from reference_backend.domain_errors import InvalidInput
from reference_backend.tables import Action, Posting, PostingItem, Return, Warehouse

MAX_DAYS = 366


@dataclass(frozen=True)
class Fact:
    """One posting line with what became of it."""

    posting_id: int
    day: date
    status: str
    warehouse_id: int
    warehouse: str
    sku: int
    product_id: int
    name: str
    price: float
    ordered: int
    cancelled: int
    delivered: int
    returned: int
    action_id: int = 0
    action: str = ""


def _dim_value(dim: str, f: Fact) -> tuple[str, str]:
    if dim == "sku":
        return str(f.sku), f.name
    if dim == "spu":
        return str(f.product_id), f.name
    if dim == "day":
        return f.day.isoformat(), f.day.isoformat()
    if dim == "week":
        start = f.day - timedelta(days=f.day.weekday())
        return start.isoformat(), f"{start.isoformat()} — {(start + timedelta(days=6)).isoformat()}"
    if dim == "month":
        return f.day.strftime("%Y-%m"), f.day.strftime("%Y-%m")
    if dim == "year":
        return str(f.day.year), str(f.day.year)
    if dim == "warehouse":
        return str(f.warehouse_id), f.warehouse
    if dim == "status":
        return f.status, f.status
    if dim == "action":
        return str(f.action_id), f.action or "no promotion"
    return "", ""


@dataclass
class _Acc:
    names: list[str]
    revenue: float = 0.0
    ordered: int = 0
    cancelled: int = 0
    delivered: int = 0
    returned: int = 0
    postings: set[int] = field(default_factory=set)

    def add(self, f: Fact) -> None:
        self.revenue += f.price * f.ordered
        self.ordered += f.ordered
        self.cancelled += f.cancelled
        self.delivered += f.delivered
        self.returned += f.returned
        self.postings.add(f.posting_id)

    def metric(self, name: str) -> float:
        values: dict[str, float] = {
            "revenue": round(self.revenue, 2),
            "ordered_units": self.ordered,
            "cancellations": self.cancelled,
            "delivered_units": self.delivered,
            "returns": self.returned,
            "postings": len(self.postings),
        }
        return float(values.get(name, 0))


def facts(session: Session, *, seller_id: int, date_from: date, date_to: date) -> Iterable[Fact]:
    """Posting lines of orders placed between the two days (inclusive, UTC)."""
    start = datetime.combine(date_from, time.min, tzinfo=UTC)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
    in_period = (
        Posting.seller_id == seller_id,
        Posting.in_process_at >= start,
        Posting.in_process_at < end,
    )
    returned: dict[tuple[int, int], int] = {
        (pid, sku): int(q or 0)
        for pid, sku, q in session.execute(
            select(Return.posting_id, Return.sku, func.sum(Return.quantity))
            .join(Posting, Posting.id == Return.posting_id)
            .where(*in_period)
            .group_by(Return.posting_id, Return.sku)
        )
    }
    names = dict(
        session.execute(
            select(Warehouse.warehouse_id, Warehouse.name).where(Warehouse.seller_id == seller_id)
        )
        .tuples()
        .all()
    )
    titles = dict(session.execute(
        select(Action.id, Action.title).where(
            or_(Action.seller_id.is_(None), Action.seller_id == seller_id))).tuples().all())
    query = (
        select(
            Posting.id,
            Posting.in_process_at,
            Posting.status,
            Posting.warehouse_id,
            PostingItem.sku,
            PostingItem.product_id,
            PostingItem.name,
            PostingItem.price,
            PostingItem.quantity,
            PostingItem.cancelled_quantity,
            PostingItem.action_id,
        )
        .join(PostingItem, PostingItem.posting_id == Posting.id)
        .where(*in_period)
        .execution_options(yield_per=2000)
    )
    for (pid, at, status, wh, sku, product_id, name, price, qty, cancelled,
         action_id) in session.execute(query):
        try:
            unit = float(Decimal(price or "0"))
        except InvalidOperation:
            unit = 0.0
        yield Fact(
            posting_id=pid,
            day=at.astimezone(UTC).date(),
            status=status,
            warehouse_id=wh,
            warehouse=names.get(wh, ""),
            sku=sku,
            product_id=product_id,
            name=name,
            price=unit,
            ordered=qty + cancelled,
            cancelled=cancelled + (qty if status == "cancelled" else 0),
            delivered=qty if status == "delivered" else 0,
            returned=returned.pop((pid, sku), 0),
            action_id=action_id or 0,
            action=titles.get(action_id or 0, ""),
        )


_OPS: dict[str, Callable[[object, object], bool]] = {
    "EQ": operator.eq,
    "GT": operator.gt,
    "GTE": operator.ge,
    "LT": operator.lt,
    "LTE": operator.le,
}


def analytics_data(
    session: Session, *, seller_id: int, req: A.AnalyticsDataRequest, limit: int
) -> A.AnalyticsResult:
    if req.date_from > req.date_to:
        raise InvalidInput("date_from must not be after date_to")
    if (req.date_to - req.date_from).days >= MAX_DAYS:
        raise InvalidInput(f"the period must be at most {MAX_DAYS} days")
    dims = list(dict.fromkeys(req.dimension)) or ["unknownDimension"]
    metrics = list(req.metrics)
    known = set(dims) | set(metrics)
    for flt in [*req.filters, *req.sort]:
        if flt.key not in known:
            raise InvalidInput(
                f"filter/sort key {flt.key!r} is neither a requested dimension nor a metric"
            )
    groups: dict[tuple[str, ...], _Acc] = {}
    for fact in facts(session, seller_id=seller_id, date_from=req.date_from, date_to=req.date_to):
        values = [_dim_value(d, fact) for d in dims]
        key = tuple(v[0] for v in values)
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = _Acc(names=[v[1] for v in values])
        acc.add(fact)
    rows = [(key, acc, [acc.metric(m) for m in metrics]) for key, acc in groups.items()]
    for flt in req.filters:
        op = _OPS[flt.op]
        if flt.key in metrics:
            i = metrics.index(flt.key)
            try:
                target = float(flt.value)
            except ValueError as exc:
                raise InvalidInput(f"filter value for metric {flt.key} must be a number") from exc
            rows = [r for r in rows if op(r[2][i], target)]
        else:
            i = dims.index(flt.key)
            rows = [r for r in rows if op(r[0][i], flt.value)]
    rows.sort(key=lambda r: r[0])
    for srt in reversed(req.sort):
        reverse = srt.order == "DESC"
        if srt.key in metrics:
            i = metrics.index(srt.key)
            rows.sort(key=lambda r, i=i: r[2][i], reverse=reverse)
        else:
            i = dims.index(srt.key)
            rows.sort(key=lambda r, i=i: r[0][i], reverse=reverse)
    totals = [round(sum(r[2][i] for r in rows), 2) for i in range(len(metrics))]
    page = rows[req.offset : req.offset + limit]
    data = [
        A.AnalyticsRow(
            dimensions=[
                A.DimensionValue(id=k, name=n) for k, n in zip(key, acc.names, strict=True)
            ],
            metrics=values,
        )
        for key, acc, values in page
    ]
    return A.AnalyticsResult(data=data, totals=totals)


def timestamp(now: datetime | None = None) -> str:
    """Ozon's ``timestamp``: ``YYYY-MM-DD hh:mm:ss`` (UTC)."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
