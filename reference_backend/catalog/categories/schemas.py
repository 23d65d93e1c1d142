"""Wire shapes of the description-category methods (§16.1-§16.3)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from reference_backend.schemas import Count, Id64, OzonRequest, OzonResponse, ci_enum

Language = ci_enum("DEFAULT", "RU", "EN", "TR", "ZH_HANS")


class TreeRequest(OzonRequest):
    language: Language = "DEFAULT"  # type: ignore[valid-type]


class TreeResponse(OzonResponse):
    result: list[dict[str, Any]] = Field(default_factory=list)


class AttributeRequest(OzonRequest):
    description_category_id: Id64
    type_id: Id64
    language: Language = "DEFAULT"  # type: ignore[valid-type]


class Attribute(OzonResponse):
    id: int
    name: str
    description: str
    type: str
    group_id: int
    group_name: str
    dictionary_id: int
    is_required: bool
    is_collection: bool
    is_aspect: bool
    category_dependent: bool
    attribute_complex_id: int
    max_value_count: int
    complex_is_collection: bool


class AttributeResponse(OzonResponse):
    result: list[Attribute] = Field(default_factory=list)


class ValuesRequest(AttributeRequest):
    attribute_id: Id64
    limit: Annotated[Count, Field(ge=1)] = 2000  # over 2000 is clamped (a client sends 5000)
    last_value_id: Count = 0


class SearchRequest(AttributeRequest):
    attribute_id: Id64
    value: str = Field(min_length=2, max_length=200)
    limit: Annotated[Count, Field(ge=1, le=100)] = 100


class Value(OzonResponse):
    id: int
    value: str
    info: str = ""
    picture: str = ""


class ValuesResponse(OzonResponse):
    result: list[Value] = Field(default_factory=list)
    has_next: bool = False


class SearchResponse(OzonResponse):
    result: list[Value] = Field(default_factory=list)
