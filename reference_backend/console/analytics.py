"""Analytics: revenue and ordered units by day, SKU and warehouse over a period, from the
service behind ``/v1/analytics/data`` (charts drawn as SVG on the server)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.analytics import schemas as A
from reference_backend.analytics.service import MAX_DAYS, analytics_data
from reference_backend.console.charts import bar_chart
from reference_backend.console.refusals import refusal
from reference_backend.console.web import database, person, render, translate
from reference_backend.domain_errors import DomainError
from reference_backend.permissions import Action, RouteGroup

pages = APIRouter()
DEFAULT_DAYS = 30
TOP = 15
METRICS = ["revenue", "ordered_units", "postings", "cancellations", "returns"]


def _period(since: str, to: str) -> tuple[date, date]:
    today = datetime.now(UTC).date()
    try:
        last = date.fromisoformat(to) if to else today
    except ValueError:
        last = today
    try:
        first = date.fromisoformat(since) if since else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last or (last - first).days >= MAX_DAYS:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    return first, last


def _rows(request: Request, seller_id: int, first: date, last: date, dimension: str,
          *, top: int = 1000) -> list[A.AnalyticsRow]:
    req = A.AnalyticsDataRequest(
        date_from=first, date_to=last, dimension=[dimension], metrics=METRICS,
        sort=[A.AnalyticsSort(key="revenue", order="DESC")] if dimension != "day" else [],
        limit=top)
    with database(request).read_session() as session:
        return analytics_data(session, seller_id=seller_id, req=req, limit=top).data


@pages.get("/analytics")
def analytics(request: Request, since: Annotated[str, Query(max_length=10)] = "",
              to: Annotated[str, Query(max_length=10)] = "") -> Response:
    caller = person(request, RouteGroup.ANALYTICS, Action.READ)
    seller_id = caller.identity.seller_id
    first, last = _period(since, to)
    try:
        by_day = {r.dimensions[0].id: r.metrics for r in _rows(request, seller_id, first, last,
                                                                 "day")}
        by_sku = _rows(request, seller_id, first, last, "sku", top=TOP)
        by_warehouse = _rows(request, seller_id, first, last, "warehouse")
    except DomainError as exc:  # pragma: no cover - the period is always valid here
        return render(request, "analytics.html", {"error": refusal(request, exc)}, status=400)
    days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    zero = [0.0] * len(METRICS)
    revenue = [(d[5:], by_day.get(d, zero)[0]) for d in days]
    units = [(d[5:], by_day.get(d, zero)[1]) for d in days]
    totals = [sum(by_day.get(d, zero)[i] for d in days) for i in range(len(METRICS))]
    return render(request, "analytics.html", {
        "since": first.isoformat(), "to": last.isoformat(),
        "totals": dict(zip(METRICS, totals, strict=True)),
        "revenue_chart": bar_chart(translate(request, "Revenue by day"), "RUB", revenue,
                                   money=True),
        "units_chart": bar_chart(translate(request, "Ordered units by day"),
                                 translate(request, "units"), units),
        "warehouse_chart": bar_chart(
            translate(request, "Revenue by warehouse"), "RUB",
            [(r.dimensions[0].name, r.metrics[0]) for r in by_warehouse], label_every=1,
            money=True),
        "by_sku": by_sku, "by_warehouse": by_warehouse, "metrics": METRICS})
