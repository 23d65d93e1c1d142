"""Hand-over documents (§14): all ten ``/v2/posting/fbs/act/*`` and ``digital/act/*`` paths."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import Response

from reference_backend import pagination
from reference_backend.db import Database
from reference_backend.deps import DbDep, PostingsRead, PostingsWrite
from reference_backend.domain_errors import NotFound
from reference_backend.postings.acts import documents, service
from reference_backend.postings.acts import schemas as A
from reference_backend.postings.acts.documents import ActSheet

router = APIRouter(tags=["Ozon: FBS hand-over documents"])


def _file(content: bytes, media_type: str, name: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _binary(media_type: str) -> dict:
    return {200: {"content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
                  "description": "the file itself (raw bytes, as §14.3 recommends)"}}


PDF, PNG = _binary("application/pdf"), _binary("image/png")


def _sheet(db: Database, seller_id: int, act_id: int) -> ActSheet:
    with db.read_session() as session:
        return service.act_sheet(session, seller_id=seller_id, act_id=act_id)


def _pdf(db: Database, seller_id: int, act_id: int, render: Callable[[ActSheet], bytes],
         name: str) -> Response:
    return _file(render(_sheet(db, seller_id, act_id)), "application/pdf", name)


@router.post("/v2/posting/fbs/act/create", response_model=A.ActCreateResponse)
def act_create(body: A.ActCreateRequest, seller: PostingsWrite, db: DbDep) -> A.ActCreateResponse:
    """Start forming the act of the method's assembled postings (ready after
    ``PEAKLINE_ACT_FORMING_SECONDS``); ``delivery_method_id`` may also be a warehouse id (2026
    docs)."""
    with db.session() as session:
        act = service.create_act(
            session, seller_id=seller.seller_id, delivery_method_id=body.delivery_method_id,
            departure_date=body.departure_date, containers_count=body.containers_count,
            forming=timedelta(seconds=db.settings.act_forming_seconds))
        return A.ActCreateResponse(result=A.ActId(id=act.id))


@router.post("/v2/posting/fbs/act/check-status", response_model=A.ActStatusResponse)
def act_check_status(body: A.ActIdRequest, seller: PostingsRead, db: DbDep) -> A.ActStatusResponse:
    """``in_process`` while the act is being formed, then ``ready`` with the postings added and
    those left for the next carriage."""
    with db.read_session() as session:
        result = service.act_status(session, seller_id=seller.seller_id, act_id=body.id)
    return A.ActStatusResponse(result=result)


@router.post("/v2/posting/fbs/act/get-pdf", response_class=Response, responses=PDF)
def act_get_pdf(body: A.ActIdRequest, seller: PostingsRead, db: DbDep) -> Response:
    """The act (shipping list) as a raw PDF, as §14.3 recommends (not the docs' JSON
    wrapper)."""
    return _pdf(db, seller.seller_id, body.id, documents.act_pdf, f"{body.id}.pdf")


@router.post("/v2/posting/fbs/act/get-container-labels", response_class=Response,
             responses=PDF)
def act_container_labels(body: A.ActIdRequest, seller: PostingsRead, db: DbDep) -> Response:
    """A label per cargo place (``containers_count``, else one per posting) as a raw PDF."""
    return _pdf(db, seller.seller_id, body.id, documents.container_labels_pdf,
                f"carriage-containers-{body.id}.pdf")


@router.post("/v2/posting/fbs/act/get-barcode", response_class=Response, responses=PNG)
def act_get_barcode(body: A.ActIdRequest, seller: PostingsRead, db: DbDep) -> Response:
    """The hand-over barcode as a raw PNG (Code128; 409 while the act is being formed)."""
    with db.read_session() as session:
        act = service.get_act(session, seller_id=seller.seller_id, act_id=body.id, ready=True)
    png = documents.barcode_png(service.barcode_text(act.id))
    return _file(png, "image/png", f"{act.id}_barcode.png")


@router.post("/v2/posting/fbs/act/get-barcode/text", response_model=A.BarcodeTextResponse)
def act_barcode_text(body: A.ActIdRequest, seller: PostingsRead, db: DbDep
                     ) -> A.BarcodeTextResponse:
    """The hand-over barcode's value (``%303%<act id>``; 409 while the act is being formed)."""
    with db.read_session() as session:
        act = service.get_act(session, seller_id=seller.seller_id, act_id=body.id, ready=True)
    return A.BarcodeTextResponse(result=service.barcode_text(act.id))


@router.post("/v2/posting/fbs/digital/act/check-status", response_model=A.DigitalStatusResponse)
def digital_act_check_status(body: A.ActIdRequest, seller: PostingsRead, db: DbDep
                             ) -> A.DigitalStatusResponse:
    """Switched off by Ozon on 2026-03-22 but still called; ``FORMING``, ``FORMED`` or
    ``CONFIRMED_WITH_MISMATCH`` (no envelope)."""
    with db.read_session() as session:
        status = service.digital_status(session, seller_id=seller.seller_id, act_id=body.id)
    return A.DigitalStatusResponse(id=body.id, status=status)


@router.post("/v2/posting/fbs/digital/act/get-pdf", response_class=Response, responses=PDF)
def digital_act_get_pdf(body: A.DigitalPdfRequest, seller: PostingsRead, db: DbDep) -> Response:
    """Switched off by Ozon on 2026-03-22 but still called; the act, the waybill or the act
    of mismatch (postings on the act not handed over) as a raw PDF, 404 for an act without
    one (and for excess acts: acceptance takes only postings on the act)."""
    if body.doc_type == "waybill":
        return _pdf(db, seller.seller_id, body.id, documents.waybill_pdf,
                    f"{body.id}_waybill.pdf")
    if body.doc_type == "act_of_acceptance":
        return _pdf(db, seller.seller_id, body.id, documents.act_pdf, f"{body.id}.pdf")
    sheet = _sheet(db, seller.seller_id, body.id)  # an unknown act is still a 404 of its own
    if body.doc_type == "act_of_mismatch" and sheet.missing:
        return _file(documents.mismatch_pdf(sheet), "application/pdf",
                     f"{body.id}_act_of_mismatch.pdf")
    raise NotFound(f"act {body.id} has no {body.doc_type}: nothing was found missing or "
                   "in excess at the hand-over", code="DOCUMENT_NOT_FOUND")


@router.post("/v2/posting/fbs/act/list", response_model=A.ActListResponse)
def act_list(body: A.ActListRequest, seller: PostingsRead, db: DbDep) -> A.ActListResponse:
    """Acts created in the period (``date_from``, ``date_to`` as dates or datetimes), oldest
    first, up to ``limit``."""
    limit = pagination.resolve_limit(body.limit, default=50, maximum=1000)
    with db.read_session() as session:
        items = service.act_list(session, seller_id=seller.seller_id, f=body.filter, limit=limit)
    return A.ActListResponse(result=items)


@router.post("/v2/posting/fbs/act/get-postings", response_model=A.ActPostingsResponse)
def act_get_postings(body: A.ActIdRequest, seller: PostingsRead, db: DbDep
                     ) -> A.ActPostingsResponse:
    """The postings an act covers, with their products and current status."""
    with db.read_session() as session:
        result = service.act_postings(session, seller_id=seller.seller_id, act_id=body.id)
    return A.ActPostingsResponse(result=result)
