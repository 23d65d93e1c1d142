"""The tolerant request types (``Count``, ``Id32``, ``Id64``, ``LooseStr``...) keep a field's own
bounds: ``x: Count = Field(ge=1)`` refuses 0 (it used to keep the type's ``ge=0`` silently),
and the OpenAPI document shows the tighter bound as JSON Schema's ``minimum``/``maximum``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError

from reference_backend.schemas import Count, Id32, Id64, LooseStr
from tests.test_backend_ozon_wire import make_app


class Narrowed(BaseModel):
    count: Count = Field(default=1, ge=1)
    annotated: Annotated[Count, Field(ge=1, le=12)] = 1
    id32: Id32 = Field(default=5, ge=5)
    id64: Id64 = Field(default=1, ge=1, le=1000)
    text: LooseStr = Field(default="x", min_length=1, max_length=5)


@pytest.mark.parametrize(("field", "refused", "accepted"), [
    ("count", 0, "1"), ("annotated", 13, "12"), ("id32", 4, "5"), ("id64", 1001, "1000"),
    ("text", "123456", 12345),
])
def test_a_field_narrows_its_tolerant_type_in_either_form(field, refused, accepted) -> None:
    with pytest.raises(ValidationError):
        Narrowed(**{field: refused})
    assert getattr(Narrowed(**{field: accepted}), field) in (int(accepted), str(accepted))


def test_the_type_bounds_still_hold_under_a_field_that_only_narrows_one_side() -> None:
    with pytest.raises(ValidationError):
        Narrowed(count=2**31)  # the type's int32 maximum, under a field that gave ge only
    with pytest.raises(ValidationError):
        Narrowed(text="")


def test_json_schema_shows_the_tighter_bounds_under_standard_keywords() -> None:
    props = Narrowed.model_json_schema()["properties"]
    assert (props["count"]["minimum"], props["count"]["maximum"]) == (1, 2**31 - 1)
    assert (props["annotated"]["minimum"], props["annotated"]["maximum"]) == (1, 12)
    assert (props["id64"]["minimum"], props["id64"]["maximum"]) == (1, 1000)
    text, number = props["text"]["anyOf"]  # a loose string may come as a number
    assert (text["minLength"], text["maxLength"], number["type"]) == (1, 5, "number")
    document = json.dumps(props)
    for extension in ('"ge"', '"le"', '"gt"', '"lt"', '"min_length"', '"max_length"'):
        assert extension not in document


def test_the_server_refuses_a_narrowed_bound_with_a_400(tmp_path: Path) -> None:
    app, creds = make_app(tmp_path)
    headers = {"Client-Id": creds["client_id"], "Api-Key": creds["api_key"]}
    document = app.openapi()
    item = document["components"]["schemas"]["ImportItem"]["properties"]["offer_id"]["anyOf"][0]
    assert (item["minLength"], item["maxLength"]) == (1, 50)  # the field's, not LooseStr's 2000
    limit = document["components"]["schemas"]["AttributesRequest"]["properties"]["limit"]
    attributes, null = limit["anyOf"]  # optional in a request: null means absent
    assert null == {"type": "null"}
    assert (attributes["minimum"], attributes["maximum"]) == (1, 1000)
    with TestClient(app) as client:
        long_offer = client.post("/v3/product/import", headers=headers, json={"items": [{
            "offer_id": "x" * 51, "name": "n", "price": "100", "vat": "0",
            "description_category_id": 17028922, "type_id": 91565}]})
        assert long_offer.status_code == 400, long_offer.text
        assert long_offer.json()["code"] == 3 and "offer_id" in long_offer.json()["message"]
        zero_limit = client.post("/v4/product/info/attributes", headers=headers,
                                 json={"filter": {"visibility": "ALL"}, "limit": 0})
        assert zero_limit.status_code == 400, zero_limit.text
        listed = client.post("/v3/product/list", headers=headers, json={"limit": 1})
        assert listed.status_code == 200 and listed.json()["result"]["total"] > 0
