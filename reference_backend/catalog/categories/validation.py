"""A product import item checked against its category's attributes, as Ozon's import does:
each problem is a per-item error of ``/v1/product/import/info`` (the item fails, the batch
goes on). Items without a category are not checked."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from reference_backend.catalog import schemas as P
from reference_backend.catalog.categories.catalogue import AttributeDef, Catalogue, ProductType


def _error(code: str, message: str, field: str = "attributes",
           attribute: AttributeDef | None = None, attribute_id: int = 0) -> P.ImportError_:
    return P.ImportError_(
        code=code, message=message, field=field, state="imported", level="error",
        attribute_id=attribute.id if attribute else attribute_id,
        attribute_name=attribute.name if attribute else "")


def _value_errors(catalogue: Catalogue, product_type: ProductType, attribute: AttributeDef,
                  values: list[P.AttributeValue]) -> list[P.ImportError_]:
    name = f"attribute {attribute.id} ({attribute.name})"
    if len(values) > (attribute.max_value_count if attribute.is_collection else 1):
        return [_error("TOO_MANY_VALUES", f"{name} takes at most "
                       f"{attribute.max_value_count if attribute.is_collection else 1} value(s)",
                       attribute=attribute)]
    allowed = {v.id: v.value for v in catalogue.values(product_type, attribute)}
    errors = []
    for value in values:
        if allowed:
            if value.dictionary_value_id not in allowed:
                errors.append(_error(
                    "DICTIONARY_VALUE_NOT_FOUND", f"{name}: dictionary_value_id "
                    f"{value.dictionary_value_id} is not in its dictionary (see "
                    "/v1/description-category/attribute/values)", attribute=attribute))
        elif not value.value.strip():
            errors.append(_error("EMPTY_VALUE", f"{name}: value is empty", attribute=attribute))
        elif attribute.type in ("Integer", "Decimal") and not _number(value.value,
                                                                      attribute.type):
            errors.append(_error("INVALID_VALUE", f"{name}: {value.value!r} is not "
                                 f"{'an integer' if attribute.type == 'Integer' else 'a number'}",
                                 attribute=attribute))
    return errors


def _number(text: str, kind: str) -> bool:
    try:
        number = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        return False
    return number.is_finite() and (kind != "Integer" or number == number.to_integral_value())


def attribute_errors(catalogue: Catalogue, item: P.ImportItem) -> list[P.ImportError_]:
    """What is wrong with ``item``'s category and attributes (nothing without a category)."""
    category_id = item.new_description_category_id or item.description_category_id
    if not category_id:
        return []
    product_type = catalogue.product_type(category_id, item.type_id)
    if product_type is None:
        return [_error("DESCRIPTION_CATEGORY_NOT_FOUND",
                       f"type {item.type_id} is not a product type of description category "
                       f"{category_id} (see /v1/description-category/tree)",
                       field="description_category_id")]
    if product_type.disabled:
        return [_error("DESCRIPTION_CATEGORY_DISABLED",
                       f"products cannot be created in type {item.type_id} ({product_type.name})",
                       field="type_id")]
    errors = []
    given: dict[int, list[P.AttributeValue]] = {}
    for attribute in item.attributes:
        given.setdefault(attribute.id, []).extend(attribute.values)
    for attribute_id, values in given.items():
        found = product_type.attribute(attribute_id)
        if found is None:
            errors.append(_error("ATTRIBUTE_NOT_FOUND", f"attribute {attribute_id} does not "
                                 f"belong to type {item.type_id}", attribute_id=attribute_id))
        else:
            errors += _value_errors(catalogue, product_type, found[0], values)
    errors += [_error("ATTRIBUTE_REQUIRED", f"required attribute {a.id} ({a.name}) is missing",
                      attribute=a)
               for a, required in product_type.attributes if required and not given.get(a.id)]
    return errors
