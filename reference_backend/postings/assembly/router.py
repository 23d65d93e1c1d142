"""Assembly (§5.7): ship into packages (v4 and the legacy v3) and partial assembly."""

from __future__ import annotations

from fastapi import APIRouter

from reference_backend.db import Database
from reference_backend.deps import DbDep, PostingsWrite
from reference_backend.postings import schemas as S
from reference_backend.postings.assembly import service
from reference_backend.postings.service import price_text

router = APIRouter(tags=["Ozon: FBS assembly"])


def _ship(body: S.ShipRequest, seller_id: int, db: Database) -> S.ShipResponse:
    with db.session() as session:
        bundles = service.ship(session, seller_id=seller_id, req=body)
        additional = [
            S.ShipAdditionalData(
                posting_number=b.posting.posting_number,
                products=[
                    S.ShipAdditionalProduct(
                        name=i.name,
                        offer_id=i.offer_id,
                        price=price_text(i.price),
                        quantity=i.quantity,
                        sku=i.sku,
                        currency_code=i.currency_code or "RUB",
                    )
                    for i in b.shipped
                ],
            )
            for b in bundles
        ]
    return S.ShipResponse(result=[a.posting_number for a in additional], additional_data=additional)


@router.post("/v4/posting/fbs/ship", response_model=S.ShipResponse)
def posting_ship(body: S.ShipRequest, seller: PostingsWrite, db: DbDep) -> S.ShipResponse:
    """Assemble a posting: one resulting posting per package, all ``awaiting_deliver``."""
    return _ship(body, seller.seller_id, db)


@router.post("/v3/posting/fbs/ship", response_model=S.ShipLegacyResponse)
def posting_ship_v3(body: S.ShipRequest, seller: PostingsWrite, db: DbDep) -> S.ShipLegacyResponse:
    """Legacy assembly (``exemplar_info`` is accepted and ignored)."""
    return S.ShipLegacyResponse(result=_ship(body, seller.seller_id, db).result)


@router.post("/v4/posting/fbs/ship/package", response_model=S.ShipPackageResponse)
def posting_ship_package(
    body: S.ShipPackageRequest, seller: PostingsWrite, db: DbDep
) -> S.ShipPackageResponse:
    """Partial assembly: the listed products move to a new posting (still to assemble)."""
    with db.session() as session:
        number = service.ship_package(session, seller_id=seller.seller_id, req=body)
    return S.ShipPackageResponse(result=number)
