"""Return requests (§13): the list and one request, and the decisions by all eight paths
(the five v2 methods and ``/v1/returns/rfbs/action/set``)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from fastapi import APIRouter

from reference_backend.auth import SellerIdentity
from reference_backend.db import Database
from reference_backend.deps import DbDep, ReturnsRead, ReturnsWrite
from reference_backend.domain_errors import InvalidInput
from reference_backend.returns.rfbs import schemas as R
from reference_backend.returns.rfbs import service
from reference_backend.returns.rfbs.service import Action
from reference_backend.tables import ReturnRequest

router = APIRouter(tags=["Ozon: rFBS return requests"])

EMPTY = R.Empty()


def _product(request: ReturnRequest) -> R.Product:
    """``price`` in whole units: an integer-valued string is what both the string and the
    integer parsers accept (§13.1); refunds use the exact price."""
    price = Decimal(request.price or "0").quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return R.Product(name=request.name, offer_id=request.offer_id, sku=request.sku,
                     currency_code=request.currency_code, price=str(price))


def _list_item(request: ReturnRequest) -> R.ListItem:
    group, name, money = service.STATE_INFO[service.State(request.state)]
    return R.ListItem(
        return_id=request.id, return_number=service.return_number(request),
        posting_number=request.posting_number, order_number=request.order_number,
        created_at=request.created_at, product=_product(request),
        state=R.ListState(group_state=group, state=request.state, state_name=name,
                          money_return_state_name=money))


def _detail(request: ReturnRequest) -> R.Detail:
    reason = service.RETURN_REASONS[request.reason_id]
    return R.Detail(
        return_number=service.return_number(request), posting_number=request.posting_number,
        order_number=request.order_number, created_at=request.created_at,
        product=_product(request),
        state=R.State(state=request.state,
                      state_name=service.STATE_INFO[service.State(request.state)][1]),
        available_actions=[R.Named(id=a.value, name=service.ACTION_NAMES[a])
                           for a in service.available_actions(request)],
        rejection_reason=[R.RejectionReason(id=r.id, name=r.name, hint=r.hint,
                                            is_comment_required=r.flag)
                          for r in service.REJECTION_REASONS.values()],
        return_reason=R.ReturnReason(id=reason.id, name=reason.name, is_defect=reason.flag),
        client_return_method_type=R.Named(
            id=request.return_method_id, name=service.RETURN_METHODS[request.return_method_id]),
        comment=request.comment, rejection_comment=request.rejection_comment,
        return_method_description=request.return_method_description,
        warehouse_id=request.warehouse_id)


def _decide(db: Database, seller: SellerIdentity, return_id: int, **decision) -> R.Empty:
    with db.session() as session:
        service.decide(session, seller_id=seller.seller_id, return_id=return_id, **decision)
    return EMPTY


@router.post("/v2/returns/rfbs/list", response_model=R.ListResponse)
def rfbs_list(body: R.ListRequest, seller: ReturnsRead, db: DbDep) -> R.ListResponse:
    """Return requests after ``last_id``; ``returns`` is an array (the docs' single object
    breaks list parsers, §13.1) and ``product.price`` is in whole units."""
    f = body.filter
    with db.read_session() as session:
        rows = service.list_requests(
            session, seller_id=seller.seller_id, last_id=body.last_id, limit=body.limit,
            group_states=list(f.group_state), since=f.created_at.from_, until=f.created_at.to,
            offer_id=f.offer_id, posting_number=f.posting_number)
        return R.ListResponse(returns=[_list_item(r) for r in rows])


@router.post("/v2/returns/rfbs/get", response_model=R.GetResponse)
def rfbs_get(body: R.ReturnIdRequest, seller: ReturnsRead, db: DbDep) -> R.GetResponse:
    """One return request with the decisions it allows now (``available_actions``)."""
    with db.read_session() as session:
        request = service.get_request(session, seller_id=seller.seller_id,
                                      return_id=body.return_id)
        return R.GetResponse(returns=_detail(request))


@router.post("/v2/returns/rfbs/verify", response_model=R.Empty)
def rfbs_verify(body: R.VerifyRequest, seller: ReturnsWrite, db: DbDep) -> R.Empty:
    """Approve a new request and wait for the item (action 1)."""
    return _decide(db, seller, body.return_id, action=Action.VERIFY,
                   method_description=body.return_method_description)


@router.post("/v2/returns/rfbs/receive-return", response_model=R.Empty)
def rfbs_receive(body: R.ReturnIdRequest, seller: ReturnsWrite, db: DbDep) -> R.Empty:
    """Confirm the item arrived for the check (action 3)."""
    return _decide(db, seller, body.return_id, action=Action.RECEIVE)


@router.post("/v2/returns/rfbs/return-money", response_model=R.Empty)
def rfbs_return_money(body: R.ReturnMoneyRequest, seller: ReturnsWrite, db: DbDep) -> R.Empty:
    """Refund the full price, plus the buyer's shipping for a defect (action 2)."""
    return _decide(db, seller, body.return_id, action=Action.RETURN_MONEY,
                   back_way=body.return_for_back_way)


@router.post("/v2/returns/rfbs/compensate", response_model=R.Empty)
def rfbs_compensate(body: R.CompensateRequest, seller: ReturnsWrite, db: DbDep) -> R.Empty:
    """Refund part of the price; the buyer keeps the item (action 1020)."""
    return _decide(db, seller, body.return_id, action=Action.COMPENSATE,
                   compensation_amount=body.compensation_amount)


@router.post("/v2/returns/rfbs/reject", response_model=R.Empty)
def rfbs_reject(body: R.RejectRequest, seller: ReturnsWrite, db: DbDep) -> R.Empty:
    """Reject with a reason from ``rejection_reason`` (action -1, or -10 after the check)."""
    return _decide(db, seller, body.return_id, reject=True, comment=body.comment,
                   rejection_reason_id=body.rejection_reason_id)


@router.post("/v1/returns/rfbs/action/set", response_model=R.Empty)
def rfbs_action_set(body: R.ActionSetRequest, seller: ReturnsWrite, db: DbDep) -> R.Empty:
    """Perform a decision by its ``available_actions`` id (1, 2, 3, 1020, -1, -10)."""
    try:
        action = Action(body.id)
    except ValueError:
        raise InvalidInput(f"id must be one of {sorted(a.value for a in Action)}",
                           code="UNKNOWN_ACTION") from None
    return _decide(db, seller, body.return_id, action=action, comment=body.comment,
                   rejection_reason_id=body.rejection_reason_id,
                   compensation_amount=body.compensation_amount,
                   back_way=body.return_for_back_way)
