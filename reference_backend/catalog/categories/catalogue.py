"""The bundled category tree (``categories.json`` beside this module) as lookups.

A category node holds categories or product types (leaves); a type's attributes are the
common ones plus those of every category above it, each required or not. Dictionary
attributes take values from their dictionary; the type attribute (8229) is category
dependent: its one value for a type is the type itself (``dictionary_value_id = type_id``).

Names are Russian, as Ozon shows them by default; ``names.json`` gives them in English,
Simplified Chinese and Turkish, the other ``language`` values of §16.1 (a missing name
stays Russian). Ids are the same in every language.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

TYPE_ATTRIBUTE = 8229
#: The request's ``language`` -> the names to use (``DEFAULT`` is Russian).
LANGUAGES = ("RU", "EN", "ZH_HANS", "TR")
#: Keys of categories.json whose string values are names shown to people.
_NAMED = frozenset({"category_name", "type_name", "name", "description", "group_name"})


@dataclass(frozen=True)
class AttributeDef:
    """An attribute as ``/v1/description-category/attribute`` describes it."""

    id: int
    name: str
    description: str
    type: str
    group_id: int
    group_name: str
    dictionary_id: int
    is_collection: bool
    is_aspect: bool
    category_dependent: bool
    max_value_count: int
    attribute_complex_id: int = 0
    complex_is_collection: bool = False


@dataclass(frozen=True)
class DictValue:
    id: int
    value: str
    info: str = ""
    picture: str = ""


@dataclass(frozen=True)
class ProductType:
    """A leaf of the tree with the category above it and its attributes."""

    category_id: int
    type_id: int
    name: str
    disabled: bool
    attributes: tuple[tuple[AttributeDef, bool], ...]  # (attribute, is_required)

    def attribute(self, attribute_id: int) -> tuple[AttributeDef, bool] | None:
        return next((a for a in self.attributes if a[0].id == attribute_id), None)


@dataclass(frozen=True)
class Catalogue:
    tree: tuple[dict[str, Any], ...]
    types: dict[tuple[int, int], ProductType]
    dictionaries: dict[int, tuple[DictValue, ...]]

    def product_type(self, category_id: int, type_id: int) -> ProductType | None:
        return self.types.get((category_id, type_id))

    def values(self, product_type: ProductType, attribute: AttributeDef) -> tuple[DictValue, ...]:
        """The dictionary values ``attribute`` takes for ``product_type`` (none: free text)."""
        if attribute.id == TYPE_ATTRIBUTE:
            return (DictValue(product_type.type_id, product_type.name),)
        return self.dictionaries.get(attribute.dictionary_id, ())


def _walk(node: dict[str, Any], inherited: list[list[Any]], disabled: bool,
          category_id: int) -> Iterator[tuple[int, dict[str, Any], list[list[Any]], bool]]:
    disabled = disabled or bool(node.get("disabled"))
    if "type_id" in node:
        yield category_id, node, inherited, disabled
        return
    scope = inherited + node.get("attributes", [])
    for child in node.get("children", []):
        yield from _walk(child, scope, disabled, node["description_category_id"])


def _wire_node(node: dict[str, Any]) -> dict[str, Any]:
    if "type_id" in node:
        return {"type_id": node["type_id"], "type_name": node["type_name"],
                "disabled": bool(node.get("disabled")), "children": []}
    return {"description_category_id": node["description_category_id"],
            "category_name": node["category_name"], "disabled": bool(node.get("disabled")),
            "children": [_wire_node(c) for c in node.get("children", [])]}


def parse(data: dict[str, Any]) -> Catalogue:
    attributes = {a["id"]: AttributeDef(**a) for a in data["attributes"]}
    types = {}
    for top in data["tree"]:
        for category_id, leaf, scope, disabled in _walk(top, data["common_attributes"], False, 0):
            types[(category_id, leaf["type_id"])] = ProductType(
                category_id, leaf["type_id"], leaf["type_name"], disabled,
                tuple((attributes[i], bool(required)) for i, required in scope))
    dictionaries = {int(k): tuple(DictValue(i, v) for i, v in values)
                    for k, values in data["dictionaries"].items()}
    return Catalogue(tuple(_wire_node(n) for n in data["tree"]), types, dictionaries)


def _read(name: str) -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def translated(data: Any, names: dict[str, str], key: str = "") -> Any:
    """``categories.json`` data with its names (and dictionary values) from ``names``."""
    if isinstance(data, dict):
        return {k: translated(v, names, k) for k, v in data.items()}
    if isinstance(data, list):
        return [translated(v, names, key) for v in data]
    if isinstance(data, str) and (key in _NAMED or key.isdigit()):  # dictionaries: "<id>"
        return names.get(data, data)
    return data


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str = "RU") -> Catalogue:
    """The bundled catalogue with names in ``language`` (read once per language; ``DEFAULT``
    and unknown values: Russian)."""
    data = _read("categories.json")
    if language in LANGUAGES[1:]:
        data = translated(data, _read("names.json")[language])
    return parse(data)
