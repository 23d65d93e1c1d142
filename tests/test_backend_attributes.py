"""Description categories, attributes and price info (§16) against a real uvicorn, through
the public ``ozonapi`` client: the bundled tree, a type's attributes and dictionary values
(paged, searched), a product import checked against them with per-item errors, the imported
attributes read back by ``/v4/product/info/attributes`` and the prices set by
``/v1/product/import/prices`` read back by ``/v5/product/info/prices``.
"""

from __future__ import annotations

import asyncio

import pytest

from reference_backend.finance.tariffs import Tariffs
from tests.seller_steps import DATABASES, Steps, ozon_client, seeded_steps

pytest.importorskip("ozonapi")

from ozonapi.seller.schemas import attributes_and_characteristics as ac  # noqa: E402
from ozonapi.seller.schemas import prices_and_stocks as ps  # noqa: E402
from ozonapi.seller.schemas import products as pr  # noqa: E402

COFFEE, BEANS = 17028922, 91565
BRAND, TYPE, WEIGHT, COUNTRY = 85, 8229, 7217, 4389
LAVAZZA = 971034861


@pytest.fixture(scope="module", params=DATABASES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    with seeded_steps(request.param, tmp_path_factory.mktemp("attributes")) as steps:
        yield steps


def attr(attribute_id: int, *values: tuple[int, str]) -> dict:
    return {"id": attribute_id, "complex_id": 0,
            "values": [{"dictionary_value_id": d, "value": v} for d, v in values]}


BEANS_OK = [attr(BRAND, (LAVAZZA, "Lavazza")), attr(TYPE, (BEANS, "Кофе в зернах")),
            attr(WEIGHT, (0, "1000")), attr(COUNTRY, (90298, "Италия"), (90299, "Бразилия"))]


def item(offer_id: str, attributes: list[dict], category: int = COFFEE, type_id: int = BEANS
         ) -> dict:
    return {"offer_id": offer_id, "name": f"Кофе {offer_id}", "price": "1290", "vat": "0.2",
            "description_category_id": category, "type_id": type_id, "depth": 250,
            "height": 80, "width": 120, "dimension_unit": "mm", "weight": 1050,
            "weight_unit": "g", "images": ["https://cdn.example/beans.jpg"],
            "attributes": attributes}


def test_tree_attributes_and_values_through_ozonapi(server: Steps) -> None:
    asyncio.run(_dictionary_steps(server))
    raw = server.seller("/v1/description-category/attribute",
                        {"description_category_id": COFFEE, "type_id": BEANS})
    for attribute in raw.json()["result"]:  # one strict client needs all 14 keys, non-null
        assert len(attribute) == 14 and None not in attribute.values()
    clamped = server.seller("/v1/description-category/attribute/values", {
        "attribute_id": BRAND, "description_category_id": COFFEE, "type_id": BEANS,
        "limit": 5000})
    assert clamped.status_code == 200 and clamped.json()["has_next"] is False


async def _dictionary_steps(server: Steps) -> None:
    async with ozon_client(server.base_url, server.creds) as api:
        tree = await api.description_category_tree(ac.DescriptionCategoryTreeRequest())
        food = next(n for n in tree.result if n.category_name == "Продукты питания")
        coffee = next(c for c in food.children if c.description_category_id == COFFEE)
        assert BEANS in [t.type_id for t in coffee.children]
        assert all(n.disabled is False for n in coffee.children)

        attributes = await api.description_category_attribute(
            ac.DescriptionCategoryAttributeRequest(description_category_id=COFFEE,
                                                   type_id=BEANS))
        required = {a.id for a in attributes.result if a.is_required}
        assert required == {BRAND, TYPE, WEIGHT}

        seen, last = [], 0
        while True:
            page = await api.description_category_attribute_values(
                ac.DescriptionCategoryAttributeValuesRequest(
                    attribute_id=BRAND, description_category_id=COFFEE, type_id=BEANS,
                    last_value_id=last, limit=5))
            seen += [v.value for v in page.result]
            if not page.has_next:
                break
            last = page.result[-1].id
        assert len(seen) == len(set(seen)) > 5 and "Нет бренда" in seen
        found = await api.description_category_attribute_values_search(
            ac.DescriptionCategoryAttributeValuesSearchRequest(
                attribute_id=BRAND, description_category_id=COFFEE, type_id=BEANS,
                value="lav", limit=10))
        assert [(v.id, v.value) for v in found.result] == [(LAVAZZA, "Lavazza")]
        types = await api.description_category_attribute_values(
            ac.DescriptionCategoryAttributeValuesRequest(
                attribute_id=TYPE, description_category_id=COFFEE, type_id=BEANS, limit=10))
        assert [(v.id, v.value) for v in types.result] == [(BEANS, "Кофе в зернах")]


@pytest.mark.parametrize(("language", "food", "brand", "no_brand", "beans"), [
    ("EN", "Food", "Brand", "No brand", "Coffee beans"),
    ("zh_hans", "食品", "品牌", "无品牌", "咖啡豆"),
    ("TR", "Gıda", "Marka", "Markasız", "Çekirdek kahve"),
    ("DEFAULT", "Продукты питания", "Бренд", "Нет бренда", "Кофе в зернах"),
])
def test_names_follow_the_language(server: Steps, language: str, food: str, brand: str,
                                   no_brand: str, beans: str) -> None:
    """Names in the request's ``language`` (§16.1), the same ids in every language."""
    tree = server.seller("/v1/description-category/tree", {"language": language}).json()
    top = [(n["description_category_id"], n["category_name"]) for n in tree["result"]]
    assert (17027484, food) in top
    ids = {"description_category_id": COFFEE, "type_id": BEANS, "language": language}
    names = {a["id"]: a["name"] for a in server.seller(
        "/v1/description-category/attribute", ids).json()["result"]}
    assert names[BRAND] == brand
    values = server.seller("/v1/description-category/attribute/values",
                           {**ids, "attribute_id": BRAND, "limit": 100}).json()["result"]
    assert no_brand in [v["value"] for v in values] and "Lavazza" in [v["value"] for v in values]
    found = server.seller("/v1/description-category/attribute/values/search",
                          {**ids, "attribute_id": TYPE, "value": beans[:4], "limit": 5})
    assert [(v["id"], v["value"]) for v in found.json()["result"]] == [(BEANS, beans)]


def test_import_is_checked_against_the_attributes(server: Steps) -> None:
    without_brand = [a for a in BEANS_OK if a["id"] != BRAND]
    bad_brand = [attr(BRAND, (1, "Nobrand")), *without_brand]
    heavy = [*without_brand[:-2], attr(BRAND, (LAVAZZA, "Lavazza")), attr(WEIGHT, (0, "1 кг"))]
    two_types = [attr(TYPE, (BEANS, "Кофе в зернах"), (91566, "Кофе молотый")),
                 attr(BRAND, (LAVAZZA, "")), attr(WEIGHT, (0, "500"))]
    items = [item("BEANS-OK", BEANS_OK), item("NO-BRAND", without_brand),
             item("BAD-BRAND", bad_brand), item("WEIGHT-TEXT", heavy),
             item("TWO-TYPES", two_types), item("UNKNOWN", BEANS_OK, type_id=93243),
             item("ARCHIVED", [], category=17028999, type_id=97001),
             item("EXTRA", [*BEANS_OK, attr(5219, (0, "iPhone 15"))])]
    task = server.seller("/v3/product/import", {"items": items}).json()["result"]["task_id"]
    info = server.seller("/v1/product/import/info", {"task_id": task}).json()["result"]
    outcome = {i["offer_id"]: (i["status"], [(e["code"], e["attribute_id"]) for e in i["errors"]])
               for i in info["items"]}
    assert outcome == {
        "BEANS-OK": ("imported", []),
        "NO-BRAND": ("failed", [("ATTRIBUTE_REQUIRED", BRAND)]),
        "BAD-BRAND": ("failed", [("DICTIONARY_VALUE_NOT_FOUND", BRAND)]),
        "WEIGHT-TEXT": ("failed", [("INVALID_VALUE", WEIGHT)]),
        "TWO-TYPES": ("failed", [("TOO_MANY_VALUES", TYPE)]),
        "UNKNOWN": ("failed", [("DESCRIPTION_CATEGORY_NOT_FOUND", 0)]),
        "ARCHIVED": ("failed", [("DESCRIPTION_CATEGORY_DISABLED", 0)]),
        "EXTRA": ("failed", [("ATTRIBUTE_NOT_FOUND", 5219)]),
    }
    listed = server.seller("/v3/product/list", {"filter": {"offer_id": list(outcome)},
                                                "limit": 100}).json()["result"]["items"]
    assert [i["offer_id"] for i in listed] == ["BEANS-OK"]  # failed items created nothing


def test_attributes_and_prices_read_back_through_ozonapi(server: Steps) -> None:
    offers = ["READ-1", "READ-2"]
    task = server.seller("/v3/product/import", {"items": [item(o, BEANS_OK) for o in offers]})
    assert task.status_code == 200
    prices = server.seller("/v1/product/import/prices", {"prices": [
        {"offer_id": "READ-1", "price": "499", "old_price": "579", "min_price": "450",
         "net_price": "300", "vat": "0.2"}]}).json()["result"]
    assert prices[0]["updated"] is True
    asyncio.run(_read_back(server, offers))
    legacy = server.seller("/v4/product/info/prices", {"filter": {}, "limit": 10})
    assert legacy.status_code == 404 and legacy.json()["code"] == 5


async def _read_back(server: Steps, offers: list[str]) -> None:
    async with ozon_client(server.base_url, server.creds) as api:
        got, last_id = [], ""
        for _ in range(4):
            page = await api.product_info_attributes(pr.ProductInfoAttributesRequest(
                filter=pr.ProductInfoAttributesFilter(offer_id=offers, visibility="ALL"),
                last_id=last_id, limit=1))
            assert page.total == 2 and page.last_id
            if not page.result:
                break
            got += page.result
            last_id = page.last_id
        assert [g.offer_id for g in got] == offers
        first = got[0]
        assert (first.description_category_id, first.type_id) == (COFFEE, BEANS)
        stored = {a.id: [(v.dictionary_value_id, v.value) for v in a.values]
                  for a in first.attributes}
        assert stored[BRAND] == [(LAVAZZA, "Lavazza")]
        assert stored[COUNTRY] == [(90298, "Италия"), (90299, "Бразилия")]
        assert first.images == ["https://cdn.example/beans.jpg"] and first.sku

        priced = await api.product_info_prices(ps.ProductInfoPricesRequest(
            filter=ps.ProductInfoPricesFilter(offer_id=offers, visibility="ALL"), limit=10))
        assert priced.total == 2
        by_offer = {i.offer_id: i for i in priced.items}
        price = by_offer["READ-1"].price
        assert (price.price, price.old_price, price.min_price, price.net_price) == (
            499, 579, 450, 300)
        assert by_offer["READ-2"].price.price == 1290
        tariffs = Tariffs()
        commissions = by_offer["READ-1"].commissions
        assert commissions.sales_percent_fbs == float(tariffs.sales_percent_fbs)
        assert commissions.fbs_deliv_to_customer_amount == float(tariffs.last_mile)
        assert by_offer["READ-1"].volume_weight == pytest.approx(0.25 * 0.08 * 0.12 * 1000 / 5)
        end = await api.product_info_prices(ps.ProductInfoPricesRequest(
            filter=ps.ProductInfoPricesFilter(offer_id=offers), cursor=priced.cursor, limit=10))
        assert end.items == [] and end.cursor


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/v1/description-category/attribute", {"description_category_id": COFFEE,
                                            "type_id": 1}, 404),
    ("/v1/description-category/attribute", {"type_id": BEANS}, 400),
    ("/v1/description-category/attribute/values", {
        "attribute_id": 4180, "description_category_id": COFFEE, "type_id": 999}, 404),
    ("/v1/description-category/attribute/values/search", {
        "attribute_id": BRAND, "description_category_id": COFFEE, "type_id": BEANS,
        "value": "L", "limit": 10}, 400),
    ("/v1/description-category/tree", {"language": "KLINGON"}, 400),
    ("/v5/product/info/prices", {"limit": 10}, 400),
    ("/v4/product/info/attributes", {"filter": {"visibility": ["ALL", "ARCHIVED"]}}, 400),
])
def test_bad_requests_get_ozon_errors(server: Steps, path: str, body: dict, status: int) -> None:
    response = server.seller(path, body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"code", "message", "details"}
