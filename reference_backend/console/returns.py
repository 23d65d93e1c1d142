"""Returns and refunds: the list (by status) and the seller's decision on a return waiting
for it (receive into stock, or write off; the refund is fixed either way), through the
service of ``/peakline/v1/returns/{id}/receive`` and ``/write-off``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.console.refusals import refusal
from reference_backend.console.session import checked_form
from reference_backend.console.web import (
    database,
    flash,
    may,
    money,
    person,
    redirect,
    render,
    translate,
)
from reference_backend.domain_errors import DomainError
from reference_backend.permissions import Action, RouteGroup
from reference_backend.returns.processing import PENDING, Disposition, process_return
from reference_backend.tables import Return

pages = APIRouter()
PAGE_SIZE = 50
STATUSES = (*PENDING, "ReceivedBySeller", "Utilized")


@pages.get("/returns")
def return_list(request: Request, status: Annotated[str, Query(max_length=40)] = "",
                page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    caller = person(request, RouteGroup.RETURNS, Action.READ)
    query = select(Return).where(Return.seller_id == caller.identity.seller_id)
    if status in STATUSES:
        query = query.where(Return.status == status)
    with database(request).read_session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list(session.scalars(query.order_by(Return.id.desc())
                                    .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return render(request, "returns.html", {
        "returns": rows, "total": total, "status": status, "statuses": STATUSES, "page": page,
        "has_next": page * PAGE_SIZE < total, "pending": PENDING,
        "may_write": may(caller, RouteGroup.RETURNS, Action.WRITE)})


@pages.post("/returns/{return_id}")
async def decide(request: Request,
                 return_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> Response:
    form = await checked_form(request)
    caller = person(request, RouteGroup.RETURNS, Action.WRITE)
    try:
        disposition = Disposition(str(form.get("disposition", "")))
        with database(request).session() as session:
            row = process_return(session, seller_id=caller.identity.seller_id,
                                 return_id=return_id, disposition=disposition)
            refund = money(request, row.refund_amount, row.currency_code)
    except ValueError:
        return flash(redirect("/returns"), translate(request, "Choose receive or write off."),
                     "error")
    except DomainError as exc:
        if exc.kind == "not_found":
            raise
        return flash(redirect("/returns"), refusal(request, exc), "error")
    message = translate(request, "Return {id} processed; refund {amount}.")
    return flash(redirect("/returns"), message.format(id=return_id, amount=refund))
