"""Acts (carriages): forming one from a delivery method's assembled postings, and reading it
back as Ozon's status, list and posting shapes or as documents. Keyword-only functions over a
SQLAlchemy session; no HTTP here.

An act takes every posting of the delivery method (or, as the 2026 docs allow, of the
warehouse) that is assembled (``awaiting_deliver``) and in no act yet; postings of the same
method still awaiting packaging are left for the next carriage. Forming takes a while, as
on Ozon: ``check-status`` answers ``in_process`` until the act's ``ready_at`` (the act is
made ``act_forming_seconds`` after the request, a setting), then ``ready``; its documents
exist only once it is ready (409 before). An act is ``formed`` until all its postings have
left the warehouse, then ``received``. Once the carrier has taken some of its postings, the
act's postings still not handed over make an *act of mismatch* (``related_docs``, the
digital ``act_of_mismatch`` PDF, digital status ``CONFIRMED_WITH_MISMATCH``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reference_backend.domain_errors import Conflict, InvalidInput, NotFound
from reference_backend.postings.acts import schemas as A
from reference_backend.postings.acts.documents import ActSheet, SheetLine
from reference_backend.postings.service import price_text
from reference_backend.tables import (
    Act,
    ActPosting,
    DeliveryMethod,
    Posting,
    PostingItem,
    Product,
    Seller,
    Warehouse,
    utcnow,
)
from simulator.lifecycle import PostingStatus

ST = PostingStatus
NO_CONTAINERS = "Trying set ContainersCount to not HasEntrustedAcceptance company"


def barcode_text(act_id: int) -> str:
    """The hand-over barcode value (Ozon's ``%303%<n>`` form)."""
    return f"%303%{act_id}"


def _scope(session: Session, seller_id: int, method_or_warehouse: int
           ) -> tuple[Warehouse, DeliveryMethod | None]:
    """The warehouse (and the method) a ``delivery_method_id`` names, else 404."""
    method = session.scalar(select(DeliveryMethod).where(
        DeliveryMethod.id == method_or_warehouse, DeliveryMethod.seller_id == seller_id))
    warehouse_id = method.warehouse_id if method else method_or_warehouse
    warehouse = session.scalar(select(Warehouse).where(
        Warehouse.warehouse_id == warehouse_id, Warehouse.seller_id == seller_id))
    if warehouse is None:
        raise NotFound(f"DELIVERY_METHOD_NOT_FOUND: no delivery method or warehouse "
                       f"{method_or_warehouse}", code="DELIVERY_METHOD_NOT_FOUND")
    return warehouse, method


def _postings_of(seller_id: int, warehouse: Warehouse, method: DeliveryMethod | None,
                 status: PostingStatus):  # type: ignore[no-untyped-def]
    query = select(Posting).where(Posting.seller_id == seller_id, Posting.status == status.value,
                                  Posting.id.not_in(select(ActPosting.posting_id)))
    if method is not None:
        return query.where(Posting.delivery_method_id == method.id)
    return query.where(Posting.warehouse_id == warehouse.warehouse_id)


def create_act(
    session: Session, *, seller_id: int, delivery_method_id: int,
    departure_date: datetime | None = None, containers_count: int = 0,
    now: datetime | None = None, forming: timedelta = timedelta(0),
) -> Act:
    """Form the act of every assembled posting of the method not yet in an act.

    404 ``DELIVERY_METHOD_NOT_FOUND``; 409 ``no_postings`` when nothing is assembled; 400 for
    cargo places at a warehouse without trusted acceptance.
    """
    now = now or utcnow()
    warehouse, method = _scope(session, seller_id, delivery_method_id)
    if containers_count and not warehouse.has_entrusted_acceptance:
        raise InvalidInput(NO_CONTAINERS, code="NO_ENTRUSTED_ACCEPTANCE")
    ready = list(session.scalars(
        _postings_of(seller_id, warehouse, method, ST.AWAITING_DELIVER)
        .order_by(Posting.id).with_for_update()))
    if not ready:
        raise Conflict(f"no_postings: no assembled (awaiting_deliver) postings of delivery "
                       f"method {delivery_method_id} are waiting for an act", code="NO_POSTINGS")
    later = session.scalars(_postings_of(seller_id, warehouse, method, ST.AWAITING_PACKAGING)
                            .order_by(Posting.id)).all()
    act = Act(seller_id=seller_id, delivery_method_id=method.id if method else None,
              warehouse_id=warehouse.warehouse_id, containers_count=containers_count,
              departure_date=departure_date or datetime.combine(now.date(), time(), now.tzinfo),
              next_carriage=[p.posting_number for p in later], created_at=now,
              ready_at=now + forming)
    session.add(act)
    session.flush()
    session.add_all(ActPosting(act_id=act.id, posting_id=p.id) for p in ready)
    session.flush()
    return act


def get_act(session: Session, *, seller_id: int, act_id: int, ready: bool = False) -> Act:
    """The seller's act; ``ready``: 409 ``ACT_NOT_READY`` while it is being formed."""
    act = session.get(Act, act_id)
    if act is None or act.seller_id != seller_id:
        raise NotFound(f"act {act_id} not found", code="ACT_NOT_FOUND")
    if ready and not is_ready(act):
        raise Conflict(f"act {act_id} is still being formed (check-status: in_process); its "
                       "documents exist once it is ready", code="ACT_NOT_READY")
    return act


def is_ready(act: Act, now: datetime | None = None) -> bool:
    return act.ready_at is None or act.ready_at <= (now or utcnow())


def not_handed_over(postings: Sequence[Posting]) -> list[str]:
    """The act's postings the carrier left behind: none until it took at least one of them."""
    if not any(p.shipped_at is not None for p in postings):
        return []
    return [p.posting_number for p in postings
            if p.shipped_at is None and p.status != ST.CANCELLED.value]


def _handover_at(postings: Sequence[Posting]) -> datetime:
    return min(p.shipped_at for p in postings if p.shipped_at is not None)


def act_of_posting(session: Session, posting_id: int) -> int | None:
    """The id of the act a posting is handed over with, if any (a posting is in at most one)."""
    return session.scalar(select(ActPosting.act_id).where(ActPosting.posting_id == posting_id))


def postings_of_act(session: Session, act_id: int) -> list[Posting]:
    return postings_of_acts(session, [act_id])[act_id]


def postings_of_acts(session: Session, act_ids: Sequence[int]) -> dict[int, list[Posting]]:
    """Each act's postings (by id), for all of ``act_ids`` in one query."""
    by_act: dict[int, list[Posting]] = {act_id: [] for act_id in act_ids}
    if act_ids:
        for act_id, posting in session.execute(
                select(ActPosting.act_id, Posting)
                .join(Posting, ActPosting.posting_id == Posting.id)
                .where(ActPosting.act_id.in_(act_ids)).order_by(Posting.id)):
            by_act[act_id].append(posting)
    return by_act


def act_status(session: Session, *, seller_id: int, act_id: int) -> A.ActStatusResult:
    act = get_act(session, seller_id=seller_id, act_id=act_id)
    if not is_ready(act):
        return A.ActStatusResult(status="in_process", added_to_act=[], removed_from_act=[])
    return A.ActStatusResult(
        status="ready",
        added_to_act=[p.posting_number for p in postings_of_act(session, act.id)],
        removed_from_act=list(act.next_carriage or []),
        has_postings_for_next_carriage=bool(act.next_carriage),
    )


def digital_status(session: Session, *, seller_id: int, act_id: int) -> str:
    """``FORMING``, ``FORMED``, or ``CONFIRMED_WITH_MISMATCH`` once the carrier left some of
    the act's postings behind (§14.4)."""
    act = get_act(session, seller_id=seller_id, act_id=act_id)
    if not is_ready(act):
        return "FORMING"
    return "CONFIRMED_WITH_MISMATCH" if not_handed_over(postings_of_act(session, act.id)) \
        else "FORMED"


def _state(act: Act, postings: Sequence[Posting]) -> str:
    """``in_process`` while forming, ``received`` once every posting has left the warehouse,
    ``formed`` before."""
    if not is_ready(act):
        return "in_process"
    gone = all(p.shipped_at is not None or p.status == ST.CANCELLED.value for p in postings)
    return "received" if postings and gone else "formed"


def act_list(session: Session, *, seller_id: int, f: A.ActListFilter, limit: int
             ) -> list[A.ActListItem]:
    """Acts created in ``[date_from, date_to]`` (a bare ``date_to`` counts its whole day),
    oldest first, up to ``limit``; the postings of ``limit`` acts at a time read at once."""
    until = f.date_to
    if until.time() == time() and until.tzinfo is not None:
        until = until.replace(hour=23, minute=59, second=59, microsecond=999999)
    acts = session.scalars(
        select(Act).where(Act.seller_id == seller_id, Act.created_at >= f.date_from,
                          Act.created_at <= until).order_by(Act.id)).all()
    methods = _methods_of(session, acts)
    if f.integration_type:
        acts = [a for a in acts if _integration(methods.get(a.delivery_method_id or -1))
                == f.integration_type]
    items: list[A.ActListItem] = []
    for start in range(0, len(acts), limit):
        items += [item for item in _list_items(session, acts[start:start + limit], methods)
                  if not f.status or item.status in f.status]
        if len(items) >= limit:
            break
    return items[:limit]


def act_page(session: Session, *, seller_id: int, offset: int, limit: int
             ) -> tuple[list[A.ActListItem], int]:
    """A page of the seller's acts, newest first, as ``act/list`` shows them (three queries
    whatever the page's size), and how many acts the seller has."""
    acts = session.scalars(select(Act).where(Act.seller_id == seller_id)
                           .order_by(Act.id.desc()).offset(offset).limit(limit)).all()
    total = session.scalar(select(func.count()).select_from(Act)
                           .where(Act.seller_id == seller_id)) or 0
    return _list_items(session, acts, _methods_of(session, acts)), total


def act_summary(session: Session, *, seller_id: int, act_id: int) -> A.ActListItem:
    """One act as ``act/list`` shows it (its state and related documents), 404 if unknown."""
    act = get_act(session, seller_id=seller_id, act_id=act_id)
    [item] = _list_items(session, [act], _methods_of(session, [act]))
    return item


def _methods_of(session: Session, acts: Sequence[Act]) -> dict[int, DeliveryMethod]:
    """The delivery methods of ``acts`` by id (one query)."""
    ids = {a.delivery_method_id for a in acts if a.delivery_method_id}
    if not ids:
        return {}
    return {m.id: m for m in session.scalars(
        select(DeliveryMethod).where(DeliveryMethod.id.in_(ids)))}


def _integration(method: DeliveryMethod | None) -> str:
    return method.tpl_integration_type if method else "ozon"


def _list_items(session: Session, acts: Sequence[Act], methods: dict[int, DeliveryMethod]
                ) -> list[A.ActListItem]:
    """``acts`` as ``act/list`` shows them; their postings read in one query."""
    postings = postings_of_acts(session, [a.id for a in acts])
    return [_list_item(act, methods.get(act.delivery_method_id or -1), postings[act.id])
            for act in acts]


def _list_item(act: Act, method: DeliveryMethod | None, postings: Sequence[Posting]
               ) -> A.ActListItem:
    status = _state(act, postings)
    changed = max([act.created_at, *(p.status_changed_at for p in postings)])
    return A.ActListItem(
        id=act.id, delivery_method_id=act.delivery_method_id or act.warehouse_id,
        delivery_method_name=method.name if method else "",
        integration_type=_integration(method),
        containers_count=act.containers_count, status=status,
        departure_date=act.departure_date.strftime("%Y-%m-%d"),
        created_at=act.created_at, updated_at=changed,
        has_postings_for_next_carriage=bool(act.next_carriage),
        related_docs=_related_docs(act, status, postings),
    )


def _related_docs(act: Act, status: str, postings: Sequence[Posting]) -> A.RelatedDocs:
    if status == "in_process":
        return A.RelatedDocs(act_of_acceptance=A.RelatedDoc(created_at=act.created_at,
                                                           document_status="FORMING"))
    missing = not_handed_over(postings)
    acceptance = ("CONFIRMED_WITH_MISMATCH" if missing
                  else "ACCEPTED_BY_CARGO_PLACES" if status == "received" else "FORMED")
    return A.RelatedDocs(
        act_of_acceptance=A.RelatedDoc(created_at=act.ready_at or act.created_at,
                                       document_status=acceptance),
        act_of_mismatch=A.RelatedDoc(created_at=_handover_at(postings),
                                     document_status="NEED_TO_SIGN") if missing else None)


def _items(session: Session, postings: Sequence[Posting]) -> dict[int, list[PostingItem]]:
    items: dict[int, list[PostingItem]] = {p.id: [] for p in postings}
    if items:
        for item in session.scalars(select(PostingItem).where(
                PostingItem.posting_id.in_(list(items))).order_by(PostingItem.id)):
            if item.quantity > 0:
                items[item.posting_id].append(item)
    return items


def act_postings(session: Session, *, seller_id: int, act_id: int) -> list[A.ActPostingItem]:
    act = get_act(session, seller_id=seller_id, act_id=act_id)
    postings = postings_of_act(session, act.id)
    items = _items(session, postings)
    return [
        A.ActPostingItem(
            id=act.id, posting_number=p.posting_number, status=p.status,
            multi_box_qty=max(p.multi_box_qty, 1), created_at=p.created_at,
            updated_at=p.status_changed_at,
            products=[A.ActProduct(name=i.name, offer_id=i.offer_id, price=price_text(i.price),
                                   quantity=i.quantity, sku=i.sku) for i in items[p.id]],
        )
        for p in postings
    ]


def act_sheet(session: Session, *, seller_id: int, act_id: int) -> ActSheet:
    """What the act's documents show (409 while it is being formed)."""
    act = get_act(session, seller_id=seller_id, act_id=act_id, ready=True)
    postings = postings_of_act(session, act.id)
    items = _items(session, postings)
    weights = dict(session.execute(select(Product.product_id, Product.weight).where(
        Product.product_id.in_({i.product_id for rows in items.values() for i in rows}))).all())
    warehouse = session.get(Warehouse, act.warehouse_id)
    method = session.get(DeliveryMethod, act.delivery_method_id) if act.delivery_method_id else None
    seller = session.get(Seller, seller_id)
    return ActSheet(
        act_id=act.id, barcode=barcode_text(act.id), seller=seller.name if seller else "",
        warehouse=warehouse.name if warehouse else "",
        delivery_method=method.name if method else "",
        departure=act.departure_date, created_at=act.created_at,
        containers=act.containers_count or len(postings),
        lines=[SheetLine(
            posting_number=p.posting_number, boxes=max(p.multi_box_qty, 1),
            products=[(i.offer_id, i.quantity) for i in items[p.id]],
            weight_g=sum(weights.get(i.product_id, 0) * i.quantity for i in items[p.id]))
            for p in postings],
        missing=not_handed_over(postings),
    )
