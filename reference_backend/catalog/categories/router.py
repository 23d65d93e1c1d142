"""Description categories (§16.1-§16.3): the tree, a type's attributes, dictionary values."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from reference_backend.catalog.categories import schemas as C
from reference_backend.catalog.categories.catalogue import (
    AttributeDef,
    ProductType,
    catalogue,
)
from reference_backend.deps import ProductsRead
from reference_backend.domain_errors import NotFound

router = APIRouter(tags=["Ozon: description categories"])

MAX_VALUES_PAGE = 2000


def _type(category_id: int, type_id: int, language: str) -> ProductType:
    found = catalogue(language).product_type(category_id, type_id)
    if found is None:
        raise NotFound(f"type {type_id} of description category {category_id} not found",
                       code="DESCRIPTION_CATEGORY_NOT_FOUND")
    return found


def _attribute(product_type: ProductType, attribute_id: int) -> AttributeDef:
    found = product_type.attribute(attribute_id)
    if found is None:
        raise NotFound(f"attribute {attribute_id} does not belong to type "
                       f"{product_type.type_id}", code="ATTRIBUTE_NOT_FOUND")
    return found[0]


@router.post("/v1/description-category/tree", response_model=C.TreeResponse)
def category_tree(body: C.TreeRequest, seller: ProductsRead) -> C.TreeResponse:
    """The bundled category tree, names in the ``language`` (Russian by default; English,
    Chinese, Turkish); an import takes a leaf's ``type_id`` with the ``description_category_id``
    directly above it."""
    return C.TreeResponse(result=list(catalogue(body.language).tree))


@router.post("/v1/description-category/attribute", response_model=C.AttributeResponse)
def category_attributes(body: C.AttributeRequest, seller: ProductsRead) -> C.AttributeResponse:
    """The attributes of a product type in the ``language``, all 14 keys in every item."""
    product_type = _type(body.description_category_id, body.type_id, body.language)
    return C.AttributeResponse(result=[C.Attribute(**asdict(a), is_required=required)
                                       for a, required in product_type.attributes])


@router.post("/v1/description-category/attribute/values", response_model=C.ValuesResponse)
def attribute_values(body: C.ValuesRequest, seller: ProductsRead) -> C.ValuesResponse:
    """Dictionary values after ``last_value_id`` with ``has_next``; a ``limit`` over 2000 is
    clamped, not refused (one client sends 5000)."""
    product_type = _type(body.description_category_id, body.type_id, body.language)
    attribute = _attribute(product_type, body.attribute_id)
    values = catalogue(body.language).values(product_type, attribute)
    after = [v for v in sorted(values, key=lambda v: v.id) if v.id > body.last_value_id]
    limit = min(body.limit, MAX_VALUES_PAGE)
    return C.ValuesResponse(result=[C.Value(**asdict(v)) for v in after[:limit]],
                            has_next=len(after) > limit)


@router.post("/v1/description-category/attribute/values/search",
             response_model=C.SearchResponse)
def attribute_values_search(body: C.SearchRequest, seller: ProductsRead) -> C.SearchResponse:
    """Dictionary values containing ``value`` (case-insensitive), up to ``limit``."""
    product_type = _type(body.description_category_id, body.type_id, body.language)
    attribute = _attribute(product_type, body.attribute_id)
    values = catalogue(body.language).values(product_type, attribute)
    wanted = body.value.strip().casefold()
    found = [C.Value(**asdict(v)) for v in values if wanted in v.value.casefold()]
    return C.SearchResponse(result=found[:body.limit])
