"""Assembly: ship a posting into packages, and partial assembly.

Shipping N packages splits the posting Ozon's way: the first package keeps the posting's
number, each further package becomes a posting of the same order numbered
``<order_number>-<n>`` with the order's next free ``n`` (§1.4; ``parent_posting_number`` set)
with its share of the items; every resulting posting then moves to ``awaiting_deliver``
through the lifecycle, and a ``packages`` row ``<posting>-1`` records each one's package.
The reservation is per (SKU, warehouse), so a split moves no stock.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from reference_backend.domain_errors import InvalidInput
from reference_backend.ids import package_number_for, posting_index_of, posting_number_for
from reference_backend.postings import schemas as S
from reference_backend.postings import transitions
from reference_backend.postings.service import PostingBundle, bundles_for, find_posting
from reference_backend.tables import Order, Package, Posting, PostingItem, utcnow
from simulator.lifecycle import PostingStatus

ST = PostingStatus


def _split_request(
    items: Sequence[PostingItem], groups: Sequence[Sequence[tuple[int, int]]], posting: str
) -> list[dict[int, int]]:
    """Map each group's ``(product_id or sku, qty)`` to ``{item.id: qty}``; check the totals."""
    by_key: dict[int, PostingItem] = {}
    for item in items:
        by_key.setdefault(item.product_id, item)
        by_key[item.sku] = item
    out: list[dict[int, int]] = []
    for group in groups:
        share: dict[int, int] = {}
        for key, qty in group:
            item = by_key.get(key)
            if item is None or item.quantity <= 0:
                raise InvalidInput(
                    f"posting {posting} has no product {key}",
                    code="PRODUCT_NOT_IN_POSTING",
                    details=[{"product_id": key}],
                )
            share[item.id] = share.get(item.id, 0) + qty
        out.append(share)
    return out


def _free_posting_index(session: Session, posting: Posting) -> int:
    """The order's next free posting ``n``; the order row is locked so that concurrent
    splits of its postings take turns."""
    session.execute(select(Order.id).where(Order.id == posting.order_id).with_for_update())
    numbers = session.scalars(
        select(Posting.posting_number).where(Posting.order_id == posting.order_id)
    )
    return max((posting_index_of(n) or 0 for n in numbers), default=0) + 1


def _child(posting: Posting, number: str) -> Posting:
    now = utcnow()
    return Posting(
        posting_number=number,
        seller_id=posting.seller_id,
        order_id=posting.order_id,
        order_number=posting.order_number,
        parent_posting_number=posting.posting_number,
        warehouse_id=posting.warehouse_id,
        delivery_method_id=posting.delivery_method_id,
        region=posting.region,
        buyer_city=posting.buyer_city,
        buyer_region=posting.buyer_region,
        status=ST.AWAITING_PACKAGING.value,
        substatus="posting_created",
        tpl_integration_type=posting.tpl_integration_type,
        tracking_number="",
        is_express=posting.is_express,
        in_process_at=posting.in_process_at,
        shipment_date=posting.shipment_date,
        status_changed_at=now,
        created_at=now,
    )


def _move_items(
    session: Session, items: Sequence[PostingItem], share: dict[int, int], target: Posting
) -> None:
    for item in items:
        qty = share.get(item.id, 0)
        if qty:
            item.quantity -= qty
            session.add(
                PostingItem(
                    posting_id=target.id,
                    product_id=item.product_id,
                    sku=item.sku,
                    offer_id=item.offer_id,
                    name=item.name,
                    quantity=qty,
                    price=item.price,
                    currency_code=item.currency_code,
                )
            )


def _drop_empty(session: Session, items: Sequence[PostingItem]) -> None:
    for item in items:
        if item.quantity == 0 and item.cancelled_quantity == 0:
            session.delete(item)


def ship(session: Session, *, seller_id: int, req: S.ShipRequest) -> list[PostingBundle]:
    """Assemble a posting into ``req.packages``; returns the resulting postings in order."""
    posting = find_posting(session, seller_id, req.posting_number, lock=True)
    if posting.status != ST.AWAITING_PACKAGING.value:
        # the lifecycle decides (and words) the refusal
        transitions.change_status(session, posting, ST.AWAITING_DELIVER)
    items = transitions.items_of(session, posting.id)
    groups = [[(p.product_id, p.quantity) for p in pkg.products] for pkg in req.packages]
    shares = _split_request(items, groups, posting.posting_number)
    totals: dict[int, int] = {}
    for share in shares:
        for item_id, qty in share.items():
            totals[item_id] = totals.get(item_id, 0) + qty
    wrong = [
        {"sku": i.sku, "in_posting": i.quantity, "in_packages": totals.get(i.id, 0)}
        for i in items
        if i.quantity != totals.get(i.id, 0)
    ]
    if wrong:
        raise InvalidInput(
            "packages must hold exactly the posting's products "
            "(use /v4/posting/fbs/ship/package for a partial assembly)",
            code="PACKAGES_MISMATCH",
            details=wrong,
        )
    resulting = [posting]
    index = _free_posting_index(session, posting) if len(shares) > 1 else 0
    for share in shares[1:]:
        child = _child(posting, posting_number_for(posting.order_number, index))
        index += 1
        session.add(child)
        session.flush()
        _move_items(session, items, share, child)
        resulting.append(child)
    _drop_empty(session, items)
    session.flush()
    for position, (target, share) in enumerate(zip(resulting, shares, strict=True), start=1):
        transitions.change_status(session, target, ST.AWAITING_DELIVER)
        by_id = {i.id: i for i in items}
        session.add(
            Package(
                posting_id=target.id,
                package_number=package_number_for(target.posting_number, 1),
                position=position,
                products=[
                    {"sku": by_id[item_id].sku, "quantity": qty} for item_id, qty in share.items()
                ],
            )
        )
    if len(resulting) > 1:
        posting.is_multibox = False
    session.flush()
    return bundles_for(session, seller_id, [p.posting_number for p in resulting])


def ship_package(session: Session, *, seller_id: int, req: S.ShipPackageRequest) -> str:
    """Partial assembly: the given products move to a new posting (``awaiting_packaging``)."""
    posting = find_posting(session, seller_id, req.posting_number, lock=True)
    if posting.status != ST.AWAITING_PACKAGING.value:
        raise transitions.IllegalStatusChange(
            f"posting {posting.posting_number} is {posting.status}: only a posting awaiting "
            "packaging can be partly assembled"
        )
    items = transitions.items_of(session, posting.id)
    share = _split_request(
        items, [[(p.product_id, p.quantity) for p in req.products]], posting.posting_number
    )[0]
    by_id = {i.id: i for i in items}
    over = [
        {"sku": by_id[k].sku, "in_posting": by_id[k].quantity, "requested": q}
        for k, q in share.items()
        if q > by_id[k].quantity
    ]
    if over:
        raise InvalidInput("more units requested than the posting holds", details=over)
    if sum(share.values()) == sum(i.quantity for i in items):
        raise InvalidInput(
            "the request covers the whole posting: use /v4/posting/fbs/ship",
            code="NOTHING_TO_SPLIT",
        )
    child = _child(
        posting, posting_number_for(posting.order_number, _free_posting_index(session, posting))
    )
    session.add(child)
    session.flush()
    _move_items(session, items, share, child)
    _drop_empty(session, items)
    session.flush()
    return child.posting_number
