"""Promotions (§11): ``GET /v1/actions``, candidates and products (v1 and 2026 v2), joining
and leaving (v1 and the 2026 methods), buyers' discount requests (list v1/v2, decisions)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from reference_backend import pagination
from reference_backend.deps import DbDep, PromotionsRead, PromotionsWrite
from reference_backend.promotions import schemas as P
from reference_backend.promotions import service
from reference_backend.tables import Product, utcnow

router = APIRouter(tags=["Ozon: promotions"])

#: Page size limits (v1 default 100 per the docs; v2: 1-100 in some clients).
MAX_PAGE = 1000
V2_TASK_LIMITS = (5, 10, 15, 20, 30, 50)


@router.get("/v1/actions", response_model=P.ActionsResponse)
def actions(seller: PromotionsRead, db: DbDep) -> P.ActionsResponse:
    """Promotions the seller can join, with their product counts (a GET without a body)."""
    with db.read_session() as session:
        return P.ActionsResponse(result=service.actions(session, seller_id=seller.seller_id))


def _v1_page(body: P.ProductsPageRequest, seller_id: int, db: DbDep, *, joined: bool
             ) -> P.ProductsPageResponse:
    limit = pagination.resolve_limit(body.limit, default=100, maximum=MAX_PAGE)
    with db.read_session() as session:
        page = service.product_page(session, seller_id=seller_id, action_id=body.action_id,
                                    joined=joined, limit=limit, offset=body.offset or 0,
                                    last_id=body.last_id)
    last = page.rows[-1].product_id if page.rows else _echo_last_id(body.last_id)
    return P.ProductsPageResponse(result=P.ProductsPage(
        products=[service.v1_product(r) for r in page.rows], total=page.total, last_id=last))


def _echo_last_id(last_id: str | None) -> int:
    """The ``last_id`` to answer an empty page with: the one asked with (paging stays put)."""
    text = (last_id or "").strip()
    return int(text) if text.isdigit() else 0


@router.post("/v1/actions/candidates", response_model=P.ProductsPageResponse)
def candidates(body: P.ProductsPageRequest, seller: PromotionsRead, db: DbDep
               ) -> P.ProductsPageResponse:
    """Products that can join the action; pages by ``offset`` (as clients do, although the spec
    says it was switched off) or by numeric ``last_id`` (as the docs do)."""
    return _v1_page(body, seller.seller_id, db, joined=False)


@router.post("/v1/actions/products", response_model=P.ProductsPageResponse)
def products(body: P.ProductsPageRequest, seller: PromotionsRead, db: DbDep
             ) -> P.ProductsPageResponse:
    """Products taking part in the action, at their action price; ``offset`` or ``last_id``."""
    return _v1_page(body, seller.seller_id, db, joined=True)


def _v2_page(body: P.ProductsPageV2Request, seller_id: int, db: DbDep, *, joined: bool
             ) -> P.ProductsPageV2Response:
    limit = pagination.resolve_limit(body.limit, default=100, maximum=MAX_PAGE)
    with db.read_session() as session:
        page = service.product_page(session, seller_id=seller_id, action_id=body.action_id,
                                    joined=joined, limit=limit, last_id=body.last_id)
    last = page.rows[-1].product_id if page.rows else _echo_last_id(body.last_id)
    return P.ProductsPageV2Response(products=[service.v2_product(r) for r in page.rows],
                                    total=page.total, last_id=str(last))


@router.post("/v2/actions/candidates", response_model=P.ProductsPageV2Response)
def candidates_v2(body: P.ProductsPageV2Request, seller: PromotionsRead, db: DbDep
                  ) -> P.ProductsPageV2Response:
    """The 2026 candidates list, without envelope, money as objects, string ``last_id``."""
    return _v2_page(body, seller.seller_id, db, joined=False)


@router.post("/v2/actions/products", response_model=P.ProductsPageV2Response)
def products_v2(body: P.ProductsPageV2Request, seller: PromotionsRead, db: DbDep
                ) -> P.ProductsPageV2Response:
    """The 2026 products list, without envelope, money as objects, string ``last_id``."""
    return _v2_page(body, seller.seller_id, db, joined=True)


@router.post("/v1/actions/products/activate", response_model=P.ChangeResponse)
def activate(body: P.ActivateRequest, seller: PromotionsWrite, db: DbDep) -> P.ChangeResponse:
    """Join products at an action price (at most the action's maximum; ``stock`` 0 = not set);
    per-product rejections with HTTP 200."""
    change = db.write_racing(service.join, seller_id=seller.seller_id, action_id=body.action_id,
                             items=[(i.product_id, i.action_price, i.stock)
                                    for i in body.products])
    return P.ChangeResponse(result=P.ChangeResult(product_ids=change.accepted,
                                                  rejected=change.rejected))


@router.post("/v1/actions/products/deactivate", response_model=P.ChangeResponse)
def deactivate(body: P.DeactivateRequest, seller: PromotionsWrite, db: DbDep
               ) -> P.ChangeResponse:
    """Take products out of an action (refused per product after its freeze date)."""
    with db.session() as session:
        change = service.leave(session, seller_id=seller.seller_id, action_id=body.action_id,
                               product_ids=body.product_ids)
    return P.ChangeResponse(result=P.ChangeResult(product_ids=change.removed,
                                                  rejected=change.rejected))


@router.post("/v1/actions/products/update", response_model=P.UpdateResponse)
def update(body: P.UpdateRequest, seller: PromotionsWrite, db: DbDep) -> P.UpdateResponse:
    """Join or re-price (2026), ``action_price`` being the maximum price; above the action's
    limit the product leaves the action (the boosting tiers are not modelled)."""
    change = db.write_racing(service.join, seller_id=seller.seller_id, action_id=body.action_id,
                             items=[(i.product_id, i.action_price.amount, i.stock)
                                    for i in body.products], remove_above_max=True)
    return P.UpdateResponse(active_product_ids=[str(i) for i in change.accepted],
                            deactivated_product_ids=[str(i) for i in change.removed],
                            rejected=change.rejected)


@router.post("/v2/actions/products/deactivate", response_model=P.DeactivateV2Response)
def deactivate_v2(body: P.DeactivateRequest, seller: PromotionsWrite, db: DbDep
                  ) -> P.DeactivateV2Response:
    """Take products out (2026, string ids), served for every action (Ozon serves promo-code
    actions only)."""
    with db.session() as session:
        change = service.leave(session, seller_id=seller.seller_id, action_id=body.action_id,
                               product_ids=body.product_ids)
    return P.DeactivateV2Response(product_ids=[str(i) for i in change.removed])


@router.post("/v1/actions/discounts-task/list", response_model=P.TasksResponse)
def tasks(body: P.TasksRequest, seller: PromotionsRead, db: DbDep) -> P.TasksResponse:
    """Buyers' discount requests, ``page`` 1-based; ``UNKNOWN`` (sent by some clients by
    default) lists every status (unconfirmed); ``NEW`` requests read become ``SEEN``."""
    limit = pagination.resolve_limit(body.limit, default=50, maximum=MAX_PAGE)
    statuses = None if body.status == "UNKNOWN" else (body.status,)
    with db.session() as session:
        rows = service.tasks(session, seller_id=seller.seller_id, statuses=statuses,
                             after_id=0, offset=max(0, body.page - 1) * limit, limit=limit)
        answer = P.TasksResponse(result=[service.task_v1(t) for t in rows])
        service.mark_seen(session, rows)
        return answer


@router.post("/v2/actions/discounts-task/list", response_model=P.TasksV2Response)
def tasks_v2(body: P.TasksV2Request, seller: PromotionsRead, db: DbDep) -> P.TasksV2Response:
    """The 2026 beta list, paged after ``last_id`` (a request id; paging unconfirmed), limit one
    of 5, 10, 15, 20, 30, 50; ``NEW`` requests read become ``SEEN``."""
    if body.limit not in V2_TASK_LIMITS:
        raise pagination.BadPage(f"limit must be one of {', '.join(map(str, V2_TASK_LIMITS))}")
    statuses = {"ALL": None, "NEW": ("NEW", "SEEN"),
                "APPROVED": ("APPROVED", "PARTLY_APPROVED"),
                "DECLINED": ("DECLINED", "AUTO_DECLINED", "DECLINED_BY_USER")}[body.status]
    now = utcnow()
    with db.session() as session:
        rows = service.tasks(session, seller_id=seller.seller_id, statuses=statuses,
                             after_id=body.last_id, offset=0, limit=body.limit)
        names = dict(session.execute(select(Product.product_id, Product.name).where(
            Product.product_id.in_([t.product_id for t in rows]))).tuples().all())
        answer = P.TasksV2Response(
            tasks=[service.task_v2(t, names.get(t.product_id, ""), now) for t in rows])
        service.mark_seen(session, rows)
        return answer


@router.post("/v1/actions/discounts-task/approve", response_model=P.DecisionResponse)
def approve(body: P.ApproveRequest, seller: PromotionsWrite, db: DbDep) -> P.DecisionResponse:
    """Approve requests in ``NEW``/``SEEN`` (``PARTLY_APPROVED`` when less than asked, which is
    unconfirmed); failures per task with HTTP 200."""
    with db.session() as session:
        return P.DecisionResponse(result=service.decide(
            session, seller_id=seller.seller_id, decisions=list(body.tasks)))


@router.post("/v1/actions/discounts-task/decline", response_model=P.DecisionResponse)
def decline(body: P.DeclineRequest, seller: PromotionsWrite, db: DbDep) -> P.DecisionResponse:
    """Decline requests in ``NEW``/``SEEN`` (approve fields, if sent, are ignored)."""
    with db.session() as session:
        return P.DecisionResponse(result=service.decide(
            session, seller_id=seller.seller_id, decisions=list(body.tasks)))
