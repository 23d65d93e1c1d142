"""Finance: the accrual operations of a period with their totals (the services of
``/v3/finance/transaction/list`` and ``/totals``, at most one month per request as they
enforce) and the monthly realization report (``/v2/finance/realization``)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.console.refusals import refusal
from reference_backend.console.web import _l, database, person, render, translate
from reference_backend.domain_errors import DomainError
from reference_backend.finance import schemas as F
from reference_backend.finance import service as finance
from reference_backend.finance.tariffs import tariffs
from reference_backend.permissions import Action, RouteGroup
from reference_backend.tables import Seller, utcnow

pages = APIRouter()
PAGE_SIZE = 50
#: Ozon's ``operation_type`` -> what the console calls it.
OPERATION_NAMES = {
    "OperationAgentDeliveredToCustomer": _l("Delivered to the buyer"),
    "ClientReturnAgentOperation": _l("Returned by the buyer"),
    "OperationItemReturn": _l("Return logistics of an undelivered posting"),
    "ReturnAgentOperationRFBS": _l("rFBS refund to the buyer"),
}
#: The totals' buckets in the order shown.
BUCKETS = (
    ("accruals_for_sale", _l("Sales")),
    ("sale_commission", _l("Commission")),
    ("processing_and_delivery", _l("Processing and delivery")),
    ("refunds_and_cancellations", _l("Refunds and cancellations")),
    ("services_amount", _l("Services")),
    ("compensation_amount", _l("Compensation")),
    ("others_amount", _l("Other")),
)
TRANSACTION_TYPES = ("all", "orders", "returns")  # (the others never occur here)


def _day(text: str, default: date) -> date | None:
    """A ``YYYY-MM-DD`` form field (blank: ``default``; not a date: None)."""
    if not text.strip():
        return default
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _currency(request: Request, seller_id: int) -> str:
    with database(request).read_session() as session:
        seller = session.get(Seller, seller_id)
        return seller.currency_code if seller else "RUB"


@pages.get("/finance")
def transactions(request: Request, since: Annotated[str, Query(alias="from", max_length=10)] = "",
                 until: Annotated[str, Query(alias="to", max_length=10)] = "",
                 type: Annotated[str, Query(max_length=10)] = "all",  # noqa: A002
                 page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    """The period's operations and totals (one reading of them): whole days, ``to``
    included."""
    caller = person(request, RouteGroup.FINANCE, Action.READ)
    seller_id = caller.identity.seller_id
    today = utcnow().date()
    first, last = _day(since, today.replace(day=1)), _day(until, today)
    kind = type if type in TRANSACTION_TYPES else "all"
    context: dict[str, object] = {
        "since": first or since, "until": last or until, "type": kind, "types": TRANSACTION_TYPES,
        "page": page, "buckets": BUCKETS, "names": OPERATION_NAMES,
        "currency": _currency(request, seller_id)}
    if first is None or last is None:
        context["period_error"] = translate(request, "Enter the dates as YYYY-MM-DD.")
        return render(request, "finance.html", context, status=400)
    period = {"from": datetime.combine(first, time(), UTC),
              "to": datetime.combine(last, time.max, UTC)}
    try:
        listed = F.TransactionListRequest.model_validate({
            "filter": {"date": period, "transaction_type": kind}, "page": page,
            "page_size": PAGE_SIZE})
        with database(request).read_session() as session:
            result, totals = finance.statement(session, seller_id=seller_id, req=listed,
                                               tariffs=tariffs())
    except DomainError as exc:  # (the service's one-month rule)
        context["period_error"] = translate(
            request, "Choose at most one month, the end not before the start.")
        context["reason"] = refusal(request, exc)
        return render(request, "finance.html", context, status=400)
    except ValidationError:
        context["period_error"] = translate(request, "Enter the dates as YYYY-MM-DD.")
        return render(request, "finance.html", context, status=400)
    values = totals.model_dump()
    return render(request, "finance.html", {
        **context, "result": result, "totals": values, "net": sum(values.values()),
        "has_next": page < result.page_count})


def _month(text: str, today: date) -> tuple[int, int] | None:
    """A ``YYYY-MM`` form field (blank: this month; not a month: None)."""
    if not text.strip():
        return today.year, today.month
    try:
        year, month = (int(part) for part in text.strip().split("-"))
    except ValueError:
        return None
    return (year, month) if 2000 <= year <= 9000 and 1 <= month <= 12 else None


@pages.get("/finance/realization")
def realization(request: Request,
                month: Annotated[str, Query(max_length=7)] = "") -> Response:
    """A month's realization report: sales and returns per SKU."""
    caller = person(request, RouteGroup.FINANCE, Action.READ)
    seller_id = caller.identity.seller_id
    chosen = _month(month, utcnow().date())
    context: dict[str, object] = {"month": month, "currency": _currency(request, seller_id)}
    if chosen is None:
        context["error"] = translate(request, "Choose a month as YYYY-MM.")
        return render(request, "realization.html", context, status=400)
    year, number = chosen
    context["month"] = f"{year:04d}-{number:02d}"
    context["days"] = calendar.monthrange(year, number)[1]
    try:
        with database(request).read_session() as session:
            report = finance.realization(session, seller_id=seller_id, month=number, year=year,
                                         tariffs=tariffs())
    except DomainError as exc:
        message = translate(request, "No report for this month: {reason}")
        context["error"] = message.format(reason=refusal(request, exc))
        return render(request, "realization.html", context, status=404)
    sold = sum(r.delivery_commission.total for r in report.rows if r.delivery_commission)
    back = sum(r.return_commission.total for r in report.rows if r.return_commission)
    return render(request, "realization.html", {
        **context, "report": report, "currency": report.header.currency_sys_name,
        "sold": sold, "back": back})
