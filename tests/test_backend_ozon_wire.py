"""Wire compatibility of the Ozon Seller API surface, in process (ASGI, real SQLite).

What real clients send (§1.2: no Content-Type, empty bodies, nulls, ids as strings, enum case,
datetimes with Z or offsets), the shapes strict clients need (Appendix A, Appendix B), paging
ends (§1.7) and the Ozon error body (§1.5). Schemathesis: tests/test_backend_ozon_fuzz.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from reference_backend.app import create_app
from reference_backend.settings import Settings
from tests.backend_support import platform_headers, seeded_sqlite


def words(text: str) -> set[str]:
    return set(text.split())


#: Appendix A, keys of a v3 posting (list) object.
APPENDIX_A = words(
    "addressee analytics_data available_actions barcodes cancellation customer "
    "delivering_date delivery_method financial_data in_process_at is_express is_multibox "
    "legal_info multi_box_qty order_id order_number parent_posting_number posting_number "
    "products quantum_id requirements shipment_date shipment_date_without_delay status "
    "substatus tariffication tpl_integration_type tracking_number "
)
PRODUCT_V3 = words(
    "currency_code is_blr_traceable is_marketplace_buyout mandatory_mark name offer_id "
    "price quantity sku "
)
GET_ONLY = words("additional_data courier delivery_price product_exemplars provider_status ")
V3_STATUSES = words(
    "acceptance_in_progress arbitration awaiting_approve awaiting_deliver "
    "awaiting_packaging awaiting_registration awaiting_verification cancelled "
    "cancelled_from_split_pending client_arbitration delivered delivering driver_pickup "
    "not_accepted sent_by_seller ship_in_process "
)
#: Appendix B / §4.4, keys of a /v3/product/info/list item.
APPENDIX_B = words(
    "barcodes color_image color_index commissions created_at currency_code "
    "description_category_id discounted_fbo_stocks errors external_index_data "
    "has_discounted_fbo_item id images images360 is_archived is_autoarchived is_created "
    "is_discounted is_kgt is_prepayment_allowed is_super marketing_price min_price "
    "model_info moderate_status name offer_id old_price ozon_index_data price price_indexes "
    "primary_image quant_code self_marketplaces_index_data shipment_type sku source sources "
    "status status_description status_failed status_name status_tooltip status_updated_at "
    "statuses stocks type_id updated_at validation_status vat visibility_details "
    "volume_weight "
)
STATUSES_KEYS = words(
    "is_created moderate_status status status_description status_failed status_name "
    "status_tooltip status_updated_at validation_status "
)


class World:
    """A seeded seller, its app and a few postings."""

    def __init__(self, client: TestClient, creds: dict[str, Any]) -> None:
        self.client, self.creds = client, creds
        self.headers = {"Client-Id": creds["client_id"], "Api-Key": creds["api_key"]}
        self.sku0 = creds["sku_base"]
        self.warehouses = sorted(creds["warehouses"].values())

    def post(self, path: str, body: Any = None, **kwargs: Any):  # noqa: ANN201
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if body is not None:
            kwargs["content"] = json.dumps(body).encode()  # no Content-Type unless given
        return self.client.post(path, headers=headers, **kwargs)

    def ok(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = self.post(path, body, **kwargs)
        assert response.status_code == 200, (path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    def order(self, lines: list[tuple[int, int]]) -> str:
        response = self.client.post(
            "/marketplace/v1/orders",
            json={
                "client_id": self.creds["client_id"],
                "region": "R-MSK",
                "lines": [{"sku": s, "quantity": q} for s, q in lines],
            },
            headers={**platform_headers(self.creds), "Idempotency-Key": f"k{id(lines)}"},
        )
        assert response.status_code == 201, response.text
        return response.json()["postings"][0]["posting_number"]


def make_app(directory: Path) -> tuple[Any, dict[str, Any]]:
    """The app over a freshly seeded smoke seller (a copy of the session's seeded template)."""
    url, creds = seeded_sqlite(directory)
    app = create_app(
        Settings(
            database_url=url,
            migrate_on_start=False,
            log_requests=False,
            run_outbox_worker=False,
            log_level="WARNING",
        )
    )
    return app, creds


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    app, creds = make_app(tmp_path_factory.mktemp("ozon_wire"))
    with TestClient(app) as client:
        yield World(client, creds)


# --------------------------------------------------------------------------- §1.2 tolerance


def test_body_without_content_type_is_json(world: World) -> None:
    response = world.client.post(
        "/v1/warehouse/list", content=b'{"limit": 1}', headers=world.headers
    )
    assert response.status_code == 200 and len(response.json()["result"]) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/v2/posting/fbs/cancel-reason/list",
        "/v1/roles",
        "/v2/warehouse/list",
        "/v1/warehouse/list",
        "/v2/delivery-method/list",
        "/v3/product/list",
    ],
)
def test_empty_body_is_an_empty_object(world: World, path: str) -> None:
    assert world.post(path).status_code == 200
    assert world.post(path, headers={"Content-Type": "application/json"}).status_code == 200
    assert world.post(path, {}).status_code == 200


def test_nulls_mean_absent(world: World) -> None:
    world.order([(world.sku0, 1)])
    v4 = world.ok(
        "/v4/posting/fbs/list",
        {"cursor": None, "filter": None, "limit": None, "with": None, "sort_dir": None},
    )
    assert v4["postings"] and v4["cursor"]
    v1 = world.ok("/v1/warehouse/list", {"limit": None, "offset": None, "with": None})
    assert len(v1["result"]) == 2
    v3 = world.ok(
        "/v3/posting/fbs/list",
        {
            "filter": {
                "since": None,
                "to": None,
                "status": None,
                "warehouse_id": None,
                "last_changed_status_date": None,
            },
            "limit": 10,
            "offset": None,
            "dir": None,
            "with": {"analytics_data": None, "barcodes": None, "financial_data": None},
        },
    )
    assert v3["result"]["postings"]
    stocks = world.ok(
        "/v2/products/stocks",
        {
            "stocks": [
                {
                    "offer_id": None,
                    "product_id": None,
                    "stock": 3,
                    "warehouse_id": world.warehouses[0],
                }
            ]
        },
    )
    assert stocks["result"][0]["updated"] is False and stocks["result"][0]["offer_id"] == ""


def test_ids_as_strings_enums_any_case_and_datetime_forms(world: World) -> None:
    number = world.order([(world.sku0 + 3, 1)])
    body = {
        "dir": "DESC",
        "filter": {
            "since": "2024-01-01T00:00:00.000Z",
            "to": "2099-01-01T00:00:00.000000+00:00",
            "status": "AWAITING_PACKAGING",
            "warehouse_id": [str(w) for w in world.warehouses],
        },
        "limit": "50",
        "offset": "0",
    }
    postings = world.ok("/v3/posting/fbs/list", body)["result"]["postings"]
    assert number in [p["posting_number"] for p in postings]
    assert all(p["status"] == "awaiting_packaging" for p in postings)
    v4 = world.ok(
        "/v4/posting/fbs/list",
        {
            "filter": {
                "statuses": ["Awaiting_Packaging"],
                "warehouse_ids": [str(world.warehouses[0])],
            },
            "sort_dir": "desc",
            "limit": 100,
        },
    )
    assert number in [p["posting_number"] for p in v4["postings"]]
    listed = world.ok("/v3/product/list", {"limit": 2})["result"]["items"]
    ids = [str(i["product_id"]) for i in listed]
    info = world.ok(
        "/v4/product/info/stocks", {"filter": {"product_id": ids, "visibility": "all"}, "limit": 10}
    )
    assert [str(i["product_id"]) for i in info["items"]] == ids


# --------------------------------------------------------------------------- Appendix A / B


def test_v3_posting_has_appendix_a_keys_and_strict_values(world: World) -> None:
    number = world.order([(world.sku0 + 4, 2)])
    body = {
        "filter": {"posting_number": number},
        "limit": 1,
        "offset": 0,
        "with": {"analytics_data": True, "barcodes": True, "financial_data": True},
    }
    (posting,) = world.ok("/v3/posting/fbs/list", body)["result"]["postings"]
    assert set(posting) >= APPENDIX_A
    assert posting["status"] in V3_STATUSES and posting["in_process_at"]
    assert isinstance(posting["tariffication"], dict) and posting["tracking_number"] == ""
    assert posting["cancellation"]["cancellation_type"] == ""
    product = posting["products"][0]
    assert set(product) >= PRODUCT_V3 and isinstance(product["price"], str)
    float(product["price"])
    assert len(posting["requirements"]) == 8
    assert {
        "city",
        "region",
        "is_legal",
        "is_premium",
        "payment_type_group_name",
        "warehouse_id",
        "warehouse",
        "tpl_provider",
        "tpl_provider_id",
    } <= set(posting["analytics_data"])
    assert set(posting["barcodes"]) == {"upper_barcode", "lower_barcode"}
    fin = posting["financial_data"]
    assert len(fin["posting_services"]) == 11
    assert {
        "actions",
        "currency_code",
        "commission_amount",
        "commission_percent",
        "old_price",
        "payout",
        "price",
        "product_id",
        "quantity",
        "total_discount_percent",
        "total_discount_value",
        "client_price",
        "item_services",
        "picking",
    } <= set(fin["products"][0])
    got = world.ok("/v3/posting/fbs/get", {"posting_number": number})["result"]
    assert set(got) >= APPENDIX_A | GET_ONLY
    assert set(got["products"][0]["dimensions"]) == {"height", "length", "weight", "width"}
    assert got["analytics_data"] is None and got["financial_data"] is None
    by_code = world.ok(
        "/v2/posting/fbs/get-by-barcode", {"barcode": posting["barcodes"]["lower_barcode"]}
    )
    for key in (
        "barcodes",
        "created_at",
        "order_id",
        "order_number",
        "posting_number",
        "products",
        "shipment_date",
        "status",
    ):
        assert by_code[key] == by_code["result"][key]


def test_product_info_item_has_appendix_b_keys(world: World) -> None:
    (item,) = world.ok("/v3/product/info/list", {"sku": [str(world.sku0)]})["items"]
    assert set(item) >= APPENDIX_B
    assert set(item["statuses"]) == STATUSES_KEYS
    assert item["price_indexes"]["color_index"].startswith("COLOR_INDEX_")
    assert set(item["stocks"]) == {"has_stock", "stocks"}
    assert set(item["stocks"]["stocks"][0]) == {"present", "reserved", "sku", "source"}
    assert set(item["sources"][0]) == {"sku", "source", "created_at", "quant_code", "shipment_type"}
    assert isinstance(item["price"], str)


def test_batch_answers_carry_every_key(world: World) -> None:
    stock = world.ok(
        "/v2/products/stocks",
        {
            "stocks": [
                {"offer_id": "SKU-000001", "stock": 7, "warehouse_id": world.warehouses[1]},
                {"product_id": 987654321, "stock": 1, "warehouse_id": world.warehouses[1]},
            ]
        },
    )["result"]
    for row in stock:
        assert set(row) == {"warehouse_id", "product_id", "offer_id", "updated", "errors"}
        assert isinstance(row["offer_id"], str)
    assert [r["updated"] for r in stock] == [True, False]
    prices = world.ok(
        "/v1/product/import/prices", {"prices": [{"product_id": 987654321, "price": "10"}]}
    )["result"]
    assert set(prices[0]) == {"product_id", "offer_id", "updated", "errors"}


# --------------------------------------------------------------------------- §1.7 paging ends


@pytest.mark.parametrize(
    ("path", "items", "cursor_key"),
    [
        ("/v2/warehouse/list", "warehouses", "cursor"),
        ("/v4/product/info/stocks", "items", "cursor"),
        ("/v2/product/info/stocks-by-warehouse/fbs", "products", "cursor"),
    ],
)
def test_cursor_paging_ends_with_a_cursor_and_an_empty_page(
    world: World, path: str, items: str, cursor_key: str
) -> None:
    seen: list[Any] = []
    body: dict[str, Any] = {"limit": 40}
    for _ in range(10):
        page = world.ok(path, body)
        assert page[cursor_key]
        if not page[items]:
            break
        seen += page[items]
        body = {"limit": 40, cursor_key: page[cursor_key]}
    else:
        pytest.fail("paging never reached an empty page")
    assert page[items] == [] and page[cursor_key] == body[cursor_key]
    assert seen and len({json.dumps(i, sort_keys=True) for i in seen}) == len(seen)


def test_product_list_last_id_paging(world: World) -> None:
    seen, last_id = [], ""
    for _ in range(10):
        result = world.ok("/v3/product/list", {"limit": 20, "last_id": last_id})["result"]
        assert result["last_id"]
        if not result["items"]:
            break
        seen += [i["product_id"] for i in result["items"]]
        last_id = result["last_id"]
    assert len(seen) == len(set(seen)) == result["total"]


def test_v3_offset_paging_has_next(world: World) -> None:
    total = len(world.ok("/v3/posting/fbs/list", {"limit": 1000})["result"]["postings"])
    assert total >= 2
    first = world.ok("/v3/posting/fbs/list", {"limit": total - 1, "offset": 0})["result"]
    last = world.ok("/v3/posting/fbs/list", {"limit": total - 1, "offset": total - 1})["result"]
    assert first["has_next"] is True and last["has_next"] is False and len(last["postings"]) == 1


# --------------------------------------------------------------------------- §1.5 errors


def _ozon_error(response, status: int, code: int) -> str:  # noqa: ANN001
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and body["details"] == [] and body["message"]
    return body["message"]


def test_error_bodies(world: World) -> None:
    _ozon_error(world.post("/v3/posting/fbs/get", {"posting_number": "00000000-0000-1"}), 404, 5)
    _ozon_error(world.post("/v3/posting/fbs/list", {"limit": -1}), 400, 3)
    _ozon_error(world.post("/v3/posting/fbs/list", {"filter": {"status": "lost"}}), 400, 3)
    _ozon_error(world.post("/v4/posting/fbs/list", {"cursor": "not-ours"}), 400, 3)
    _ozon_error(world.post("/v3/posting/fbs/list", [1, 2]), 400, 3)
    bad_key = world.post("/v1/roles", {}, headers={"Api-Key": "nope"})
    assert "Invalid Api-Key" in _ozon_error(bad_key, 401, 16)
    _ozon_error(world.post("/v1/roles", {}, headers={"Client-Id": "abc"}), 400, 3)
    _ozon_error(world.post("/v9/no/such/method", {}), 404, 5)


def test_illegal_transition_is_409_and_changes_nothing(world: World) -> None:
    number = world.order([(world.sku0 + 5, 1)])
    before = world.ok("/v3/posting/fbs/get", {"posting_number": number})["result"]
    outcome = world.ok("/v2/fbs/posting/delivered", {"posting_number": [number]})["result"][0]
    assert outcome["result"] is False and "cannot change status" in outcome["error"]
    message = _ozon_error(
        world.post("/v2/posting/fbs/arbitration", {"posting_number": [number, "00000000-0000-9"]}),
        404,
        5,
    )
    assert "00000000-0000-9" in message
    world.ok("/v2/posting/fbs/cancel", {"posting_number": number, "cancel_reason_id": 352})
    _ozon_error(
        world.post("/v2/posting/fbs/awaiting-delivery", {"posting_number": [number]}), 409, 6
    )
    _ozon_error(
        world.post("/v2/posting/fbs/cancel", {"posting_number": number, "cancel_reason_id": 352}),
        409,
        6,
    )
    after = world.ok("/v3/posting/fbs/get", {"posting_number": number})["result"]
    assert before["status"] == "awaiting_packaging" and after["status"] == "cancelled"
    other = world.order([(world.sku0 + 5, 1)])
    _ozon_error(
        world.post("/v2/posting/fbs/cancel", {"posting_number": other, "cancel_reason_id": 401}),
        400,
        3,
    )
    _ozon_error(
        world.post("/v2/posting/fbs/cancel", {"posting_number": other, "cancel_reason_id": 402}),
        400,
        3,
    )
    still = world.ok("/v3/posting/fbs/get", {"posting_number": other})["result"]
    assert still["status"] == "awaiting_packaging"


def test_ship_mismatch_is_refused_and_changes_nothing(world: World) -> None:
    number = world.order([(world.sku0 + 6, 2)])
    _ozon_error(
        world.post(
            "/v4/posting/fbs/ship",
            {
                "posting_number": number,
                "packages": [{"products": [{"product_id": world.sku0 + 6, "quantity": 1}]}],
            },
        ),
        400,
        3,
    )
    got = world.ok("/v3/posting/fbs/get", {"posting_number": number})["result"]
    assert got["status"] == "awaiting_packaging" and got["products"][0]["quantity"] == 2
    part = world.ok(
        "/v4/posting/fbs/ship/package",
        {
            "posting_number": number,
            "products": [{"product_id": str(world.sku0 + 6), "quantity": 1, "exemplarsIds": []}],
        },
    )["result"]
    assert part == number.rsplit("-", 1)[0] + "-2"  # <order_number>-<n> (§1.4)
    shipped = world.ok(
        "/v3/posting/fbs/ship",
        {
            "posting_number": part,
            "packages": [
                {
                    "products": [
                        {
                            "product_id": world.sku0 + 6,
                            "quantity": 1,
                            "exemplar_info": [
                                {"mandatory_mark": "", "gtd": "", "is_gtd_absent": True}
                            ],
                        }
                    ]
                }
            ],
        },
    )
    assert shipped == {"result": [part]}


def test_label_format_negotiation(world: World) -> None:
    number = world.order([(world.sku0 + 7, 1)])
    world.ok(
        "/v4/posting/fbs/ship",
        {
            "posting_number": number,
            "packages": [{"products": [{"product_id": world.sku0 + 7, "quantity": 1}]}],
        },
    )
    def label(accept: str | None, agent: str = "python-httpx") -> Any:
        headers = {"User-Agent": agent, **({"Accept": accept} if accept is not None else {})}
        response = world.post("/v2/posting/fbs/package-label", {"posting_number": [number]},
                              headers=headers)
        assert response.status_code == 200, response.text
        return response

    # the documented raw PDF unless Accept prefers JSON; the user agent plays no part
    for accept in (None, "*/*", "application/pdf", "application/json, application/pdf",
                   "application/json;q=0.5, application/*", "text/html"):
        raw = label(accept, agent="Python/3.11 aiohttp/3.13.1")
        assert raw.headers["content-type"] == "application/pdf", accept
        assert raw.content.startswith(b"%PDF")
    for accept in ("application/json", "application/json, text/plain, */*",
                   "application/pdf;q=0.2, application/json"):
        wrapped = label(accept)
        assert wrapped.headers["content-type"] == "application/json", accept
        body = wrapped.json()
        assert set(body) == {"content_type", "file_name", "file_content"}
        assert body["content_type"] == "application/pdf"
        assert base64.b64decode(body["file_content"]).startswith(b"%PDF")


def test_newer_reason_lists_and_legacy_returns(world: World) -> None:
    reasons = world.ok("/v1/cancel-reason/list", {})
    assert reasons["reasons"] == reasons["result"] and {352, 402} <= {
        r["id"] for r in reasons["reasons"]
    }
    by_posting = world.ok("/v1/cancel-reason/list-by-posting", {"posting_number": "x"})
    assert by_posting["reasons"] == reasons["reasons"]
    legacy = world.ok("/v2/returns/company/fbs", {"filter": None, "limit": 10, "offset": 0})
    assert set(legacy["result"]) == {"returns", "count"}
    assert legacy["result"]["count"] == len(legacy["result"]["returns"])
