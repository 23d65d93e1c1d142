"""FBS posting lists (v3 offset, v4 cursor), unfulfilled lists, get, get-by-barcode (§5.1-§5.6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from reference_backend import pagination
from reference_backend.deps import DbDep, PostingsRead
from reference_backend.domain_errors import InvalidInput
from reference_backend.postings import pages
from reference_backend.postings import schemas as S
from reference_backend.postings import service as q
from reference_backend.postings.tallies import lifespan as lifespan  # (run by the app)

router = APIRouter(tags=["Ozon: FBS postings"])


def _window(w: S.DateWindow | None) -> dict:
    return {"changed_from": w.from_, "changed_to": w.to} if w is not None else {}


def _filter_v3(f: S.ListFilterV3) -> q.PostingFilter:
    return q.PostingFilter(
        since=f.since,
        to=f.to,
        statuses=(f.status,) if f.status else (),
        warehouse_ids=tuple(f.warehouse_id),
        delivery_method_ids=tuple(f.delivery_method_id),
        provider_ids=tuple(f.provider_id),
        order_id=f.order_id,
        posting_number=f.posting_number,
        offer_id=f.product_offer_id,
        sku=f.product_sku,
        **_window(f.last_changed_status_date),
    )


def _filter_v4(f: S.ListFilterV4) -> q.PostingFilter:
    return q.PostingFilter(
        since=f.since,
        to=f.to,
        statuses=tuple(f.statuses),
        warehouse_ids=tuple(f.warehouse_ids),
        delivery_method_ids=tuple(f.delivery_method_ids),
        provider_ids=tuple(f.provider_ids),
        order_id=f.order_id,
        order_numbers=tuple(f.order_numbers),
        **_window(f.last_changed_status_date),
    )


def _unfulfilled(
    f: S.UnfulfilledFilterV3 | S.UnfulfilledFilterV4, statuses: tuple[str, ...], **ids: tuple
) -> q.PostingFilter:
    if f.cutoff_from and f.cutoff_to and f.cutoff_from > f.cutoff_to:
        raise InvalidInput("cutoff_from must not be after cutoff_to")
    return q.PostingFilter(
        statuses=statuses or q.DEFAULT_UNFULFILLED,
        cutoff_from=f.cutoff_from,
        cutoff_to=f.cutoff_to,
        delivering_from=f.delivering_date_from,
        delivering_to=f.delivering_date_to,
        **ids,
        **_window(f.last_changed_status_date),
    )


def _unfulfilled_v3(f: S.UnfulfilledFilterV3) -> q.PostingFilter:
    return _unfulfilled(
        f,
        (f.status,) if f.status else (),
        warehouse_ids=tuple(f.warehouse_id),
        provider_ids=tuple(f.provider_id),
        delivery_method_ids=tuple(f.delivery_method_id),
    )


def _unfulfilled_v4(f: S.UnfulfilledFilterV4) -> q.PostingFilter:
    return _unfulfilled(
        f,
        tuple(f.statuses),
        warehouse_ids=tuple(f.warehouse_ids),
        provider_ids=tuple(f.provider_ids),
        delivery_method_ids=tuple(f.delivery_method_ids),
    )


def _check_period(since: datetime | None, to: datetime | None) -> None:
    if since is not None and to is not None and since > to:
        raise InvalidInput("filter.since must not be after filter.to")


def _list_v3(postings: list[orjson.Fragment], has_next: bool, _cursor: str,
             _total: int) -> dict[str, Any]:
    return {"result": {"postings": postings, "has_next": has_next}}


def _list_v4(postings: list[orjson.Fragment], has_next: bool, cursor: str,
             _total: int) -> dict[str, Any]:
    return {"postings": postings, "cursor": cursor, "has_next": has_next}


def _unfulfilled_list_v3(postings: list[orjson.Fragment], _has_next: bool, _cursor: str,
                         total: int) -> dict[str, Any]:
    return {"result": {"postings": postings, "count": total}}


def _unfulfilled_list_v4(postings: list[orjson.Fragment], has_next: bool, cursor: str,
                         total: int) -> dict[str, Any]:
    return {"postings": postings, "cursor": cursor, "has_next": has_next, "count": total}


def _v3(seller_id: int, flt: q.PostingFilter, body: S.OffsetListRequest, limit: int,
        envelope: pages.Envelope, *, counted: bool = False) -> pages.PageAsk:
    """A v3 page (offset paging)."""
    return pages.PageAsk(seller_id, flt, limit, body.dir == "desc", body.with_, q.to_v3,
                         envelope, offset=body.offset, counted=counted)


def _v4(seller_id: int, flt: q.PostingFilter, body: S.CursorListRequest, limit: int,
        envelope: pages.Envelope, *, counted: bool = False) -> pages.PageAsk:
    """A v4 page (cursor paging)."""
    return pages.PageAsk(seller_id, flt, limit, body.sort_dir == "desc", body.with_, q.to_v4,
                         envelope, cursor=body.cursor, counted=counted)


def _json(body: bytes) -> Response:
    """A list page's answer (:mod:`.pages`); the declared ``response_model`` documents it."""
    return Response(body, media_type="application/json")


# The lists are async: on PostgreSQL a page is read on the event loop (no worker-thread hop);
# on SQLite in a worker thread (:meth:`.Database.reading`). They take the database from the
# request (:func:`.auth.get_db`), not as a dependency: one dependency FastAPI solves per
# request less on what integrations poll all day.


@router.post("/v3/posting/fbs/list", response_model=S.PostingListV3Response)
async def posting_list_v3(body: S.PostingListV3Request, seller: PostingsRead,
                          request: Request) -> Response:
    """Postings of the period (offset paging; ``has_next`` says whether to ask again)."""
    limit = pagination.resolve_limit(body.limit, default=1000, maximum=1000)
    _check_period(body.filter.since, body.filter.to)
    return _json(await pages.list_page(request.app.state.db, _v3(
        seller.seller_id, _filter_v3(body.filter), body, limit, _list_v3)))


@router.post("/v4/posting/fbs/list", response_model=S.PostingListV4Response)
async def posting_list_v4(body: S.PostingListV4Request, seller: PostingsRead,
                          request: Request) -> Response:
    """Postings of the period (cursor paging; the last page keeps a cursor past the end)."""
    limit = pagination.resolve_limit(body.limit, default=100, maximum=1000)
    _check_period(body.filter.since, body.filter.to)
    return _json(await pages.list_page(request.app.state.db, _v4(
        seller.seller_id, _filter_v4(body.filter), body, limit, _list_v4)))


@router.post("/v3/posting/fbs/unfulfilled/list", response_model=S.UnfulfilledListV3Response)
async def unfulfilled_list_v3(
    body: S.UnfulfilledListV3Request, seller: PostingsRead, request: Request
) -> Response:
    """Postings still to process (``count`` = all matching, ``postings`` = this page)."""
    limit = pagination.resolve_limit(body.limit, default=1000, maximum=1000)
    return _json(await pages.list_page(request.app.state.db, _v3(
        seller.seller_id, _unfulfilled_v3(body.filter), body, limit, _unfulfilled_list_v3,
        counted=True)))


@router.post("/v4/posting/fbs/unfulfilled/list", response_model=S.UnfulfilledListV4Response)
async def unfulfilled_list_v4(
    body: S.UnfulfilledListV4Request, seller: PostingsRead, request: Request
) -> Response:
    """Postings still to process (cursor paging, ``count`` of all matching)."""
    limit = pagination.resolve_limit(body.limit, default=100, maximum=1000)
    return _json(await pages.list_page(request.app.state.db, _v4(
        seller.seller_id, _unfulfilled_v4(body.filter), body, limit, _unfulfilled_list_v4,
        counted=True)))


@router.post("/v3/posting/fbs/get", response_model=S.PostingGetResponse)
def posting_get(body: S.PostingGetRequest, seller: PostingsRead, db: DbDep) -> S.PostingGetResponse:
    """One posting by number (404 with the Ozon error body when unknown)."""
    with db.read_session() as session:
        bundle = q.load_bundle(session, seller.seller_id, body.posting_number)
        return S.PostingGetResponse(result=q.to_detail(bundle, body.with_))


@router.post("/v2/posting/fbs/get-by-barcode", response_model=S.GetByBarcodeResponse)
def posting_get_by_barcode(
    body: S.GetByBarcodeRequest, seller: PostingsRead, db: DbDep
) -> S.GetByBarcodeResponse:
    """A posting by barcode: the object under ``result`` and its keys again at the top level."""
    with db.read_session() as session:
        posting = q.to_barcode_posting(q.by_barcode(session, seller.seller_id, body.barcode))
    return S.GetByBarcodeResponse(**posting.model_dump(), result=posting)
