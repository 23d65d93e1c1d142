"""Buyers' discount requests: the list by status (reading moves ``NEW`` to ``SEEN``, as
``/v1/actions/discounts-task/list`` does), and the seller's decision on one request (approve
at a price for a quantity, or decline with a comment) through the service of
``/v1/actions/discounts-task/approve`` and ``/decline``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.console.session import checked_form
from reference_backend.console.web import (
    database,
    flash,
    may,
    person,
    redirect,
    render,
    translate,
    whole_number,
)
from reference_backend.permissions import Action, RouteGroup
from reference_backend.promotions import schemas as P
from reference_backend.promotions import service as promotions
from reference_backend.tables import Product

pages = APIRouter()
PAGE_SIZE = 50
OPEN = ("NEW", "SEEN")  # the statuses a seller can still decide
WAITING = "waiting"  # the status filter's value for OPEN (as the v2 list's "NEW")
TaskId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@pages.get("/discount-requests")
def request_list(request: Request, status: Annotated[str, Query(max_length=20)] = "",
                 page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    """One page of requests, oldest first; the ``NEW`` ones shown become ``SEEN``."""
    caller = person(request, RouteGroup.PROMOTIONS, Action.READ)
    seller_id = caller.identity.seller_id
    status = status if status in P.TASK_STATUSES or status == WAITING else ""
    statuses = OPEN if status == WAITING else (status,) if status else None
    with database(request).session() as session:
        rows = promotions.tasks(session, seller_id=seller_id, statuses=statuses, after_id=0,
                                offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
        shown = rows[:PAGE_SIZE]
        tasks = [promotions.task_v1(t) for t in shown]  # as read: before NEW turns SEEN
        products = dict(session.execute(
            select(Product.product_id, Product).where(
                Product.seller_id == seller_id,
                Product.product_id.in_([t.product_id for t in shown]))).tuples().all())
        names = {t.id: (products[t.product_id].name, products[t.product_id].currency_code)
                 for t in shown if t.product_id in products}
        promotions.mark_seen(session, shown)
    return render(request, "discounts.html", {
        "tasks": tasks, "names": names, "status": status, "statuses": P.TASK_STATUSES,
        "open": OPEN, "waiting": WAITING, "page": page, "has_next": len(rows) > PAGE_SIZE,
        "may_write": may(caller, RouteGroup.PROMOTIONS, Action.WRITE)})


def _back(form: FormData) -> str:
    status = str(form.get("status", ""))
    known = status in P.TASK_STATUSES or status == WAITING
    return "/discount-requests" + (f"?status={status}" if known else "")


def _decided(request: Request, form: FormData, decision: P.ApproveItem | P.DeclineItem,
             seller_id: int, done: str) -> Response:
    with database(request).session() as session:
        result = promotions.decide(session, seller_id=seller_id, decisions=[decision])
    if result.fail_details:
        reasons = "; ".join(f.error_for_user for f in result.fail_details)
        message = translate(request, "Request {id} was not decided: {reason}")
        return flash(redirect(_back(form)), message.format(id=decision.id, reason=reasons),
                     "error")
    return flash(redirect(_back(form)), done.format(id=decision.id))


@pages.post("/discount-requests/{task_id}/approve")
async def approve(request: Request, task_id: TaskId) -> Response:
    form = await checked_form(request)
    caller = person(request, RouteGroup.PROMOTIONS, Action.WRITE)
    price = str(form.get("approved_price", "")).strip().replace(",", ".")
    low, high = (whole_number(form.get(f"quantity_{end}")) for end in ("min", "max"))
    try:
        decision = P.ApproveItem(id=task_id, approved_price=price, approved_quantity_min=low,
                                 approved_quantity_max=high,
                                 seller_comment=str(form.get("seller_comment", "")).strip())
    except ValidationError:
        message = translate(request, "Enter the price as a number above 0, the quantities as "
                                     "whole numbers, and a comment of at most 1,000 characters.")
        return flash(redirect(_back(form)), message, "error")
    return _decided(request, form, decision, caller.identity.seller_id,
                    translate(request, "Request {id} approved."))


@pages.post("/discount-requests/{task_id}/decline")
async def decline(request: Request, task_id: TaskId) -> Response:
    form = await checked_form(request)
    caller = person(request, RouteGroup.PROMOTIONS, Action.WRITE)
    try:
        decision = P.DeclineItem(id=task_id,
                                 seller_comment=str(form.get("seller_comment", "")).strip())
    except ValidationError:
        message = translate(request, "Write a comment of at most 1,000 characters.")
        return flash(redirect(_back(form)), message, "error")
    return _decided(request, form, decision, caller.identity.seller_id,
                    translate(request, "Request {id} declined."))
