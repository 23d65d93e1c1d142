"""Orders and postings: the list with filters, a posting's page with its history, and the
seller's actions on it (ship into packages, print the label PDF, cancel with a reason).

Each action calls the service the Ozon route calls (``/v4/posting/fbs/ship``,
``/v2/posting/fbs/package-label``, ``/v2/posting/fbs/cancel``, ``/v2/posting/fbs/arbitration``
and ``/v2/posting/fbs/awaiting-delivery``) with the same request model, so the lifecycle's
rules answer exactly as they answer the API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.console.refusals import refusal
from reference_backend.console.session import checked_form
from reference_backend.console.web import (
    _l,
    database,
    flash,
    may,
    person,
    redirect,
    render,
    seller_warehouses,
    translate,
    whole_number,
)
from reference_backend.domain_errors import DomainError
from reference_backend.errors import KIND_STATUS
from reference_backend.permissions import Action, RouteGroup
from reference_backend.postings import schemas as S
from reference_backend.postings import service as postings
from reference_backend.postings.acts import service as acts
from reference_backend.postings.assembly import service as assembly
from reference_backend.postings.labels.service import label_pdf
from reference_backend.postings.status import schemas as C
from reference_backend.postings.status import service as status_service
from reference_backend.tables import OutboxEvent, Package

pages = APIRouter()
PAGE_SIZE = 50

#: Ozon's status names with a label for people (the name itself is always shown too).
STATUS_LABELS = {
    "awaiting_registration": _l("Awaiting registration"),
    "acceptance_in_progress": _l("Acceptance in progress"),
    "awaiting_approve": _l("Awaiting approval"),
    "awaiting_packaging": _l("To assemble"),
    "awaiting_deliver": _l("To hand over"),
    "arbitration": _l("Dispute (arbitration)"),
    "client_arbitration": _l("Buyer dispute"),
    "delivering": _l("Delivering"),
    "driver_pickup": _l("With the driver"),
    "delivered": _l("Delivered"),
    "cancelled": _l("Cancelled"),
    "not_accepted": _l("Not accepted at sorting"),
    "sent_by_seller": _l("Sent by the seller"),
}
STATUS_TONE = {"awaiting_packaging": "warn", "awaiting_deliver": "info", "delivered": "ok",
               "cancelled": "bad", "not_accepted": "bad", "arbitration": "bad",
               "client_arbitration": "bad"}


def _day(text: str | None, *, end: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    moment = datetime.combine(day, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) - timedelta(microseconds=1) if end else moment


@pages.get("/postings")
def posting_list(
    request: Request,
    status: Annotated[str, Query(max_length=40)] = "",
    warehouse: Annotated[str, Query(alias="warehouse_id", max_length=20)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    caller = person(request, RouteGroup.POSTINGS, Action.READ)
    seller_id = caller.identity.seller_id
    warehouse_id = whole_number(warehouse)
    status = status if status in STATUS_LABELS else ""
    flt = postings.PostingFilter(
        statuses=(status,) if status else (), since=_day(since), to=_day(to, end=True),
        warehouse_ids=(warehouse_id,) if warehouse_id else ())
    with database(request).read_session() as session:  # (one snapshot: page and count)
        bundles, has_next = postings.list_offset(
            session.connection(), seller_id, flt, limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE, desc=True)
        total = postings.count(session, seller_id, flt)
    return render(request, "postings.html", {
        "bundles": bundles, "has_next": has_next, "page": page, "total": total,
        "status": status, "warehouse_id": warehouse_id, "since": since, "to": to,
        "warehouses": seller_warehouses(request, seller_id), "now": datetime.now(UTC),
        "statuses": STATUS_LABELS, "tones": STATUS_TONE})


#: The most packages the ship form offers: what ``/v4/posting/fbs/ship`` takes (the form
#: turns to a package a row once there are more packages than lines, so it stays narrow).
MAX_PACKAGES = 100


def _posting_context(request: Request, seller_id: int, number: str, boxes: int = 1) -> dict:
    with database(request).read_session() as session:
        bundle = postings.load_bundle(session, seller_id, number)
        packages = list(session.scalars(
            select(Package).where(Package.posting_id == bundle.posting.id)
            .order_by(Package.position)))
        events = list(session.scalars(
            select(OutboxEvent).where(OutboxEvent.posting_number == number,
                                      OutboxEvent.seller_id == seller_id)
            .order_by(OutboxEvent.id)))
        [offered] = status_service.reasons_for(session, seller_id=seller_id, numbers=[number])
        act_id = acts.act_of_posting(session, bundle.posting.id)
    units = sum(i.quantity for i in bundle.shipped)
    return {"b": bundle, "p": bundle.posting, "packages": packages, "events": events,
            "reasons": offered.reasons,
            "actions": postings.available_actions(bundle.posting.status),
            "statuses": STATUS_LABELS, "tones": STATUS_TONE, "now": datetime.now(UTC),
            "boxes": max(1, min(boxes, units, MAX_PACKAGES)),
            "max_boxes": max(1, min(units, MAX_PACKAGES)), "entered": {}, "act_id": act_id}


@pages.get("/postings/{number}")
def posting_page(request: Request, number: str,
                 packages: Annotated[int, Query(ge=1, le=MAX_PACKAGES)] = 1) -> Response:
    """A posting with its history and actions; ``packages``: columns of the ship form."""
    caller = person(request, RouteGroup.POSTINGS, Action.READ)
    context = _posting_context(request, caller.identity.seller_id, number, packages)
    context["may_write"] = may(caller, RouteGroup.POSTINGS, Action.WRITE)
    return render(request, "posting.html", context)


def _refused(request: Request, seller_id: int, number: str, message: str, *,
             status: int = 409, boxes: int = 1, entered: dict | None = None) -> Response:
    """The posting's page again with the reason (nothing changed)."""
    context = _posting_context(request, seller_id, number, boxes)
    return render(request, "posting.html", {
        **context, "may_write": True, "error": message, "entered": entered or {}},
        status=status)


class SplitError(ValueError):
    """The ship form's units are not whole numbers of 0 or more."""


def split_packages(form: FormData) -> list[list[dict]]:
    """The ship form's ``units_<sku>_<package>`` fields as ``/v4/posting/fbs/ship`` packages
    (blank: 0 units; a package left empty is skipped). Whether they add up to the posting is
    the ship service's check, as for the API."""
    boxes: dict[int, list[dict]] = {}
    for key, value in form.multi_items():
        if not key.startswith("units_"):
            continue
        sku_text, _, box_text = key[6:].partition("_")
        text = str(value).strip()
        try:
            sku, box, quantity = int(sku_text), int(box_text), int(text) if text else 0
        except ValueError:
            raise SplitError(key) from None
        if quantity < 0 or not 1 <= box <= MAX_PACKAGES:
            raise SplitError(key)
        if quantity:
            boxes.setdefault(box, []).append({"product_id": sku, "quantity": quantity})
    return [boxes[box] for box in sorted(boxes)]


def _mismatch(request: Request, details: list[dict]) -> str:
    """PACKAGES_MISMATCH's details as a sentence for people."""
    line = translate(request, "SKU {sku}: {placed} of {ordered} units in packages")
    lines = "; ".join(line.format(sku=d["sku"], placed=d["in_packages"], ordered=d["in_posting"])
                      for d in details)
    return translate(request, "Each line's units must all go into packages ({lines}). "
                              "Nothing was shipped.").format(lines=lines)


@pages.post("/postings/{number}/ship")
async def ship(request: Request, number: str) -> Response:
    """Ship the posting: ``units_<sku>_<n>`` units of each line go into package ``n``; a line
    may be split across packages (each package beyond the first becomes a posting)."""
    form = await checked_form(request)
    caller = person(request, RouteGroup.POSTINGS, Action.WRITE)
    seller_id = caller.identity.seller_id
    boxes = whole_number(form.get("packages", 1)) or 1
    entered = {key: str(value) for key, value in form.multi_items() if key.startswith("units_")}

    def refused(message: str, status: int = 409) -> Response:
        return _refused(request, seller_id, number, message, status=status,
                        boxes=min(boxes, MAX_PACKAGES), entered=entered)

    try:
        packed = split_packages(form)
        req = S.ShipRequest.model_validate({
            "posting_number": number, "packages": [{"products": box} for box in packed]})
    except (SplitError, ValidationError):
        return refused(translate(request, "Enter the units of each line in each package as "
                                          "whole numbers (0 or more); put at least one unit "
                                          "into a package."), 400)
    try:
        with database(request).session() as session:
            shipped = assembly.ship(session, seller_id=seller_id, req=req)
    except DomainError as exc:
        if exc.code == "PACKAGES_MISMATCH":
            return refused(_mismatch(request, exc.details), 400)
        return refused(refusal(request, exc), KIND_STATUS.get(exc.kind, 409))
    first = shipped[0].posting.posting_number if shipped else number
    message = translate(request, "Shipped in {count} package(s).").format(count=len(shipped))
    return flash(redirect(f"/postings/{first}"), message)


@pages.post("/postings/{number}/arbitration")
async def open_dispute(request: Request, number: str) -> Response:
    """Open a dispute (``/v2/posting/fbs/arbitration``): handed over, not scanned in."""
    return await _dispute(request, number, status_service.open_disputes,
                          _l("A dispute is open: the posting is in arbitration."))


@pages.post("/postings/{number}/awaiting-delivery")
async def end_dispute(request: Request, number: str) -> Response:
    """End the dispute (``/v2/posting/fbs/awaiting-delivery``): back to ``awaiting_deliver``."""
    return await _dispute(request, number, status_service.end_disputes,
                          _l("The dispute is closed: the posting waits for the carrier again."))


async def _dispute(request: Request, number: str, move: Callable[..., None],
                   done: str) -> Response:
    await checked_form(request)
    caller = person(request, RouteGroup.POSTINGS, Action.WRITE)
    seller_id = caller.identity.seller_id
    try:
        with database(request).session() as session:
            move(session, seller_id=seller_id, numbers=[number])
    except DomainError as exc:
        if exc.kind == "not_found":
            raise
        return _refused(request, seller_id, number, refusal(request, exc),
                        status=KIND_STATUS.get(exc.kind, 409))
    return flash(redirect(f"/postings/{number}"), translate(request, done))


@pages.get("/postings/{number}/label.pdf")
def label(request: Request, number: str) -> Response:
    caller = person(request, RouteGroup.POSTINGS, Action.READ)
    seller_id = caller.identity.seller_id
    try:
        with database(request).read_session() as session:
            pdf = label_pdf(session, seller_id=seller_id, numbers=[number])
    except DomainError as exc:
        if exc.kind == "not_found":
            raise
        return _refused(request, seller_id, number, refusal(request, exc))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="label-{number}.pdf"'})


@pages.post("/postings/{number}/cancel")
async def cancel(request: Request, number: str) -> Response:
    form = await checked_form(request)
    caller = person(request, RouteGroup.POSTINGS, Action.WRITE)
    seller_id = caller.identity.seller_id
    try:
        req = C.CancelRequest.model_validate({
            "posting_number": number,
            "cancel_reason_id": int(str(form.get("reason", "0")) or 0),
            "cancel_reason_message": str(form.get("message", ""))})
        with database(request).session() as session:
            status_service.cancel(session, seller_id=seller_id, req=req)
    except ValueError:  # (pydantic's ValidationError is one)
        return _refused(request, seller_id, number,
                        translate(request, "Choose a cancellation reason."))
    except DomainError as exc:
        return _refused(request, seller_id, number, refusal(request, exc))
    return flash(redirect(f"/postings/{number}"), translate(request, "The posting is cancelled."))


@pages.post("/postings/{number}/cancel-units")
async def cancel_units(request: Request, number: str) -> Response:
    """Cancel some units of the lines (``/v2/posting/fbs/product/cancel``): ``cancel_<sku>``."""
    form = await checked_form(request)
    caller = person(request, RouteGroup.POSTINGS, Action.WRITE)
    seller_id = caller.identity.seller_id
    entered = {key: str(value) for key, value in form.multi_items()
               if key.startswith("cancel_")}
    try:
        items = [{"sku": int(key[7:]), "quantity": int(value.strip() or 0)}
                 for key, value in entered.items()]
        req = C.ProductCancelRequest.model_validate({
            "posting_number": number,
            "cancel_reason_id": int(str(form.get("reason", "0")) or 0),
            "cancel_reason_message": str(form.get("message", "")),
            "items": [i for i in items if i["quantity"]]})
    except ValueError:  # (pydantic's ValidationError is one)
        return _refused(request, seller_id, number, translate(
            request, "Choose a cancellation reason and enter whole numbers of units to "
                     "cancel (at least one)."), status=400, entered=entered)
    try:
        with database(request).session() as session:
            status_service.cancel_products(session, seller_id=seller_id, req=req)
    except DomainError as exc:
        if exc.kind == "not_found":
            raise
        return _refused(request, seller_id, number, refusal(request, exc),
                        status=KIND_STATUS.get(exc.kind, 409), entered=entered)
    count = sum(i.quantity for i in req.items)
    return flash(redirect(f"/postings/{number}"),
                 translate(request, "{count} unit(s) cancelled.").format(count=count))
