"""Carrier hand-over documents: form an act for a warehouse or one of its delivery methods and
a departure day, watch it form, then download the act, the waybill, the cargo-place labels and
(once the carrier left postings behind) the act of mismatch.

The services of ``/v2/posting/fbs/act/create``, ``check-status``, ``list``, ``get-postings``,
``get-pdf``, ``get-container-labels`` and ``digital/act/get-pdf``, with the same request model:
an act forms for ``PEAKLINE_ACT_FORMING_SECONDS`` (its page refreshes itself meanwhile) and
its documents answer 409 ``ACT_NOT_READY`` until then, shown as the act's page with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import ValidationError
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.console.postings import STATUS_LABELS, STATUS_TONE
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
from reference_backend.domain_errors import DomainError, NotFound
from reference_backend.errors import KIND_STATUS
from reference_backend.permissions import Action, RouteGroup
from reference_backend.postings.acts import documents
from reference_backend.postings.acts import schemas as A
from reference_backend.postings.acts import service as acts
from reference_backend.postings.acts.documents import ActSheet
from reference_backend.tables import DeliveryMethod, Warehouse

pages = APIRouter()
ActId = Annotated[int, Path(ge=1, le=2**63 - 1)]
#: How often the page of an act being formed reloads itself (a meta refresh: no script).
REFRESH_SECONDS = 2
#: Acts a page of the list shows.
PAGE_SIZE = 50
#: The act's states (``act/list``) with a label for people (the name is shown too).
STATES = {"in_process": _l("Being formed"), "formed": _l("Formed"),
          "received": _l("Taken by the carrier")}
STATE_TONE = {"in_process": "warn", "formed": "info", "received": "ok"}
#: document -> (how it is drawn, its file name as the API names it)
DOCUMENTS: dict[str, tuple[Callable[[ActSheet], bytes], str]] = {
    "act": (documents.act_pdf, "{id}.pdf"),
    "waybill": (documents.waybill_pdf, "{id}_waybill.pdf"),
    "containers": (documents.container_labels_pdf, "carriage-containers-{id}.pdf"),
    "mismatch": (documents.mismatch_pdf, "{id}_act_of_mismatch.pdf"),
}


def _methods(request: Request, seller_id: int) -> list[tuple[Warehouse, list[DeliveryMethod]]]:
    """(warehouse, its delivery methods) for the seller's warehouses, by name."""
    with database(request).read_session() as session:
        methods = list(session.scalars(select(DeliveryMethod).where(
            DeliveryMethod.seller_id == seller_id).order_by(DeliveryMethod.name)))
    return [(w, [m for m in methods if m.warehouse_id == w.warehouse_id])
            for w in seller_warehouses(request, seller_id)]


def _list_context(request: Request, seller_id: int, page: int = 1) -> dict:
    with database(request).read_session() as session:  # (one snapshot: page and count)
        items, total = acts.act_page(session, seller_id=seller_id,
                                     offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    scopes = _methods(request, seller_id)
    return {"acts": items, "total": total, "page": page, "has_next": page * PAGE_SIZE < total,
            "scopes": scopes, "warehouses": {w.warehouse_id: w.name for w, _ in scopes},
            "today": datetime.now(UTC).date().isoformat(), "states": STATES,
            "tones": STATE_TONE}


@pages.get("/acts")
def act_list(
    request: Request,
    warehouse: Annotated[str, Query(alias="warehouse_id", max_length=20)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The form (``warehouse_id``: the warehouse chosen first) and the acts, newest first."""
    caller = person(request, RouteGroup.POSTINGS, Action.READ)
    context = _list_context(request, caller.identity.seller_id, page)
    context["may_write"] = may(caller, RouteGroup.POSTINGS, Action.WRITE)
    context["chosen"] = whole_number(warehouse)
    return render(request, "acts.html", context)


@pages.post("/acts")
async def act_create(request: Request) -> Response:
    """Form an act (``/v2/posting/fbs/act/create``) and go to its page."""
    form = await checked_form(request)
    caller = person(request, RouteGroup.POSTINGS, Action.WRITE)
    seller_id = caller.identity.seller_id
    scope, day = str(form.get("delivery_method_id", "")), str(form.get("departure_date", ""))
    try:
        departure = datetime.combine(date.fromisoformat(day), time(), UTC) if day else None
        req = A.ActCreateRequest.model_validate({
            "delivery_method_id": scope, "departure_date": departure,
            "containers_count": str(form.get("containers_count", "")).strip() or 0})
    except (ValueError, ValidationError):  # (a bad date, an unknown choice)
        return _list_refused(request, seller_id, 400, translate(
            request, "Choose a warehouse or delivery method and a departure date."))
    try:
        with database(request).session() as session:
            act = acts.create_act(
                session, seller_id=seller_id, delivery_method_id=req.delivery_method_id,
                departure_date=req.departure_date, containers_count=req.containers_count,
                forming=timedelta(seconds=request.app.state.settings.act_forming_seconds))
            act_id = act.id
    except DomainError as exc:
        message = translate(request, "Nothing is assembled there yet: ship postings first.") \
            if exc.code == "NO_POSTINGS" else refusal(request, exc)
        return _list_refused(request, seller_id, KIND_STATUS.get(exc.kind, 400), message)
    notice = translate(request, "Act {id} is being formed.").format(id=act_id)
    return flash(redirect(f"/acts/{act_id}"), notice)


def _list_refused(request: Request, seller_id: int, status: int, message: str) -> Response:
    context = _list_context(request, seller_id)
    return render(request, "acts.html", {**context, "may_write": True, "error": message},
                  status=status)


def _act_context(request: Request, seller_id: int, act_id: int) -> dict:
    with database(request).read_session() as session:
        act = acts.get_act(session, seller_id=seller_id, act_id=act_id)
        warehouse_id = act.warehouse_id
        summary = acts.act_summary(session, seller_id=seller_id, act_id=act_id)
        check = acts.act_status(session, seller_id=seller_id, act_id=act_id)
        on_act = acts.act_postings(session, seller_id=seller_id, act_id=act_id)
    warehouse = next((w.name for w in seller_warehouses(request, seller_id)
                      if w.warehouse_id == warehouse_id), str(warehouse_id))
    forming = check.status == "in_process"
    return {"a": summary, "check": check, "postings": on_act, "warehouse": warehouse,
            "forming": forming, "refresh": REFRESH_SECONDS if forming else None,
            "states": STATES, "tones": STATE_TONE, "posting_statuses": STATUS_LABELS,
            "posting_tones": STATUS_TONE}


@pages.get("/acts/{act_id}")
def act_page(request: Request, act_id: ActId) -> Response:
    caller = person(request, RouteGroup.POSTINGS, Action.READ)
    return render(request, "act.html", _act_context(request, caller.identity.seller_id, act_id))


@pages.get("/acts/{act_id}/{document}.pdf")
def act_document(request: Request, act_id: ActId, document: str) -> Response:
    """The act's ``document`` as a PDF file; the act's page with the reason while it forms."""
    caller = person(request, RouteGroup.POSTINGS, Action.READ)
    seller_id = caller.identity.seller_id
    if document not in DOCUMENTS:
        raise NotFound(f"no document {document!r}")
    draw, name = DOCUMENTS[document]
    try:
        with database(request).read_session() as session:
            sheet = acts.act_sheet(session, seller_id=seller_id, act_id=act_id)
    except DomainError as exc:
        if exc.code != "ACT_NOT_READY":
            raise
        context = _act_context(request, seller_id, act_id)
        message = translate(request, "The act is still being formed: its documents are "
                                     "ready in a moment.")
        return render(request, "act.html", {**context, "error": message}, status=409)
    if document == "mismatch" and not sheet.missing:
        raise NotFound(f"act {act_id} has no act of mismatch")
    return Response(draw(sheet), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name.format(id=act_id)}"'})
