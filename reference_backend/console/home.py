"""The home page (the seeds' "personal account center"): the store at a glance.

Each block shows only when the caller's role may read what it summarises (the same
permission the matching API route asks for): sales of the last 30 days against the 30
before (analytics), postings to ship and late (postings), stock under its warning line
(planning), returns waiting (returns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.analytics import schemas as A
from reference_backend.analytics.service import analytics_data
from reference_backend.console.charts import bar_chart
from reference_backend.console.web import database, may, person, render, translate
from reference_backend.permissions import RouteGroup
from reference_backend.postings import service as postings
from reference_backend.returns.processing import PENDING
from reference_backend.stock import rows as stock
from reference_backend.tables import Return

pages = APIRouter()

#: Postings a seller still has to ship (to assemble, or assembled and awaiting the courier).
TO_SHIP = ("awaiting_packaging", "awaiting_deliver")
ALERTS_SHOWN = 1000


@dataclass(frozen=True)
class Compared:
    """A figure of the last period and of the one before."""

    now: float
    before: float

    @property
    def change(self) -> float | None:
        return None if not self.before else (self.now - self.before) / self.before * 100


def sales_by_day(session: Session, seller_id: int, days: int, today: datetime) -> list[tuple]:
    """(day, revenue, ordered units, postings) for each of the last ``days`` days."""
    first = (today - timedelta(days=days - 1)).date()
    req = A.AnalyticsDataRequest(date_from=first, date_to=today.date(), dimension=["day"],
                                 metrics=["revenue", "ordered_units", "postings"])
    rows = {r.dimensions[0].id: r.metrics
            for r in analytics_data(session, seller_id=seller_id, req=req, limit=1000).data}
    out = []
    for i in range(days):
        day = (first + timedelta(days=i)).isoformat()
        revenue, units, count = rows.get(day, [0.0, 0.0, 0.0])
        out.append((day, revenue, units, count))
    return out


@pages.get("/")
def home(request: Request) -> Response:
    caller = person(request)
    seller_id = caller.identity.seller_id
    now = datetime.now(UTC)
    context: dict = {}
    with database(request).read_session() as session:
        if may(caller, RouteGroup.ANALYTICS):
            days = sales_by_day(session, seller_id, 60, now)
            previous, last = days[:30], days[30:]
            context["sales"] = {
                name: Compared(sum(d[i] for d in last), sum(d[i] for d in previous))
                for i, name in ((1, "revenue"), (2, "units"), (3, "orders"))}
            context["revenue_chart"] = bar_chart(
                translate(request, "Revenue by day, the last 60 days"), "RUB",
                [(d[0][5:], d[1]) for d in days], faded_before=30, money=True)
            context["units_chart"] = bar_chart(
                translate(request, "Ordered units by day, the last 60 days"),
                translate(request, "units"), [(d[0][5:], d[2]) for d in days], faded_before=30)
        if may(caller, RouteGroup.POSTINGS):
            context["to_ship"] = postings.count(
                session, seller_id, postings.PostingFilter(statuses=TO_SHIP))
            context["late"] = postings.count(
                session, seller_id, postings.PostingFilter(statuses=TO_SHIP, cutoff_to=now))
        if may(caller, RouteGroup.PLANNING):
            context["alerts"] = len(stock.levels(session, seller_id=seller_id, only_alerts=True,
                                                 limit=ALERTS_SHOWN + 1))
            context["alerts_shown"] = ALERTS_SHOWN
        if may(caller, RouteGroup.RETURNS):
            context["returns_waiting"] = session.scalar(
                select(func.count(Return.id)).where(Return.seller_id == seller_id,
                                                    Return.status.in_(PENDING)))
    return render(request, "home.html", context)
