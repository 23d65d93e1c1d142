"""The whole seller flow over HTTP through public Ozon Seller API client libraries.

A real uvicorn serves the backend on 127.0.0.1 (SQLite); ``ozonapi-async`` (strict pydantic
response models) drives every method it has, pointed at the server only by ``base_url``;
``ozon-sdk`` covers the label methods ozonapi lacks (v3 create, v2 get); the label PDF's JSON
form, which ozonapi parses without asking for it, is fetched with ``Accept: application/json``.
Buyer orders come through the marketplace endpoint. Each step checks what the client parsed,
and the state.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pypdf
import pytest

from tests.backend_support import (
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    running_server,
    seed_smoke,
    seeded_sqlite,
)

ozonapi = pytest.importorskip("ozonapi")
ozon_sdk = pytest.importorskip("ozon_sdk")

from ozonapi import SellerAPI, SellerAPIConfig  # noqa: E402
from ozonapi.seller.core import APIManager  # noqa: E402
from ozonapi.seller.core.exceptions import APIClientError, APIConflictError  # noqa: E402
from ozonapi.seller.schemas import analytics as an  # noqa: E402
from ozonapi.seller.schemas import beta as an_beta  # noqa: E402
from ozonapi.seller.schemas import fbs  # noqa: E402
from ozonapi.seller.schemas import fbs_assembly_and_labeling as asm  # noqa: E402
from ozonapi.seller.schemas import prices_and_stocks as ps  # noqa: E402
from ozonapi.seller.schemas import products as pr  # noqa: E402
from ozonapi.seller.schemas import returns as rt  # noqa: E402
from ozonapi.seller.schemas import rfbs_delivery as rd  # noqa: E402
from ozonapi.seller.schemas import warehouses as wh  # noqa: E402
from ozonapi.seller.schemas.fbs.v3__posting_fbs_get import PostingFBSGetRequestWith  # noqa: E402
from ozonapi.seller.schemas.products.base import (  # noqa: E402
    ProductAttribute,
    ProductAttributeValue,
)

pytestmark = pytest.mark.slow

SINCE = datetime(2020, 1, 1, tzinfo=UTC)
UNTIL = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A real uvicorn over a seeded smoke seller, on SQLite and (when configured) PostgreSQL."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url, creds = seeded_sqlite(tmp_path_factory.mktemp("ozon_flow"))
        else:
            if not postgres_admin_url():
                pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
            url = stack.enter_context(fresh_postgres_url())
            creds = seed_smoke(url)
        base_url = stack.enter_context(running_server(url))
        yield base_url, creds


def order(base_url: str, creds: dict, lines: list[tuple[int, int]], region: str = "R-MSK") -> dict:
    """A buyer order through the marketplace endpoint (not part of the Seller API)."""
    response = httpx.post(
        f"{base_url}/marketplace/v1/orders",
        json={
            "client_id": creds["client_id"],
            "region": region,
            "lines": [{"sku": s, "quantity": q} for s, q in lines],
        },
        headers={**platform_headers(creds), "Idempotency-Key": uuid.uuid4().hex},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def pdf_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_seller_flow_through_public_clients(server) -> None:
    base_url, creds = server
    asyncio.run(_flow(base_url, creds))


async def _flow(base_url: str, creds: dict) -> None:
    config = SellerAPIConfig(
        client_id=creds["client_id"],
        api_key=creds["api_key"],
        base_url=base_url,
        max_retries=0,
        max_requests_per_second=50,
    )
    try:
        async with SellerAPI(config=config) as api:
            await _steps(api, base_url, creds)
    finally:
        await SellerAPI.shutdown()
        # The client keeps per-Client-Id rate limiters (e.g. /v2/warehouse/list: 1 per minute)
        # for the life of the process; the next server in this session reuses the client id.
        APIManager._method_rate_limiter_manager = None
        APIManager._session_manager = None


async def _steps(api: SellerAPI, base_url: str, creds: dict) -> None:  # noqa: PLR0915
    sku0 = creds["sku_base"]
    warehouse_ids = sorted(creds["warehouses"].values())

    # --- warehouses and delivery methods (v1 and v2) -------------------------------------
    v1 = await api.warehouse_list_v1()
    assert sorted(w.warehouse_id for w in v1.result) == warehouse_ids
    v2 = await api.warehouse_list(wh.WarehouseListRequest(limit=100))
    assert sorted(w.warehouse_id for w in v2.warehouses) == warehouse_ids
    dm1 = await api.delivery_method_list_v1(wh.DeliveryMethodListV1Request(limit=50))
    dm2 = await api.delivery_method_list(wh.DeliveryMethodListRequest(limit=50))
    assert {m.warehouse_id for m in dm1.result} == set(warehouse_ids)
    assert {m.id for m in dm2.delivery_methods} == {m.id for m in dm1.result}
    home = warehouse_ids[0]

    # --- product import and its per-item status ------------------------------------------
    item = dict(
        description_category_id=17028922,
        type_id=91565,
        depth=100,
        height=50,
        width=80,
        dimension_unit="mm",
        weight=250,
        weight_unit="g",
        vat="0.20",
        currency_code="RUB",
        new_description_category_id=None,
        images=[],
        attributes=[  # the required ones of "Кофе в зернах" (/v1/description-category/attribute)
            ProductAttribute(id=85, values=[ProductAttributeValue(
                dictionary_value_id=971034861, value="Lavazza")]),
            ProductAttribute(id=8229, values=[ProductAttributeValue(
                dictionary_value_id=91565, value="Кофе в зернах")]),
            ProductAttribute(id=7217, values=[ProductAttributeValue(value="250")]),
        ],
    )
    task = await api.product_import(
        pr.ProductImportRequest(
            items=[
                pr.ProductImportItem(offer_id="COFFEE-250", name="Кофе 250 г", price="279", **item),
                pr.ProductImportItem(
                    offer_id="BAD-OLD-PRICE", name="Чай", price="500", old_price="100", **item
                ),
            ]
        )
    )
    info = await api.product_import_info(pr.ProductImportInfoRequest(task_id=task.result.task_id))
    by_offer = {i.offer_id: i for i in info.result.items}
    assert by_offer["COFFEE-250"].status == "imported" and by_offer["COFFEE-250"].product_id > 0
    assert by_offer["BAD-OLD-PRICE"].status == "failed" and by_offer["BAD-OLD-PRICE"].errors
    coffee_id = by_offer["COFFEE-250"].product_id

    listed = await api.product_list(pr.ProductListRequest(limit=1000))
    assert listed.result.total == creds["sku_count"] + 1
    assert coffee_id in {i.product_id for i in listed.result.items}
    details = await api.product_info_list(pr.ProductInfoListRequest(offer_id=["COFFEE-250"]))
    coffee = details.items[0]
    assert coffee.id == coffee_id and coffee.name == "Кофе 250 г"
    coffee_sku = coffee.sources[0].sku

    prices = await api.product_import_prices(
        ps.ProductImportPricesRequest(
            prices=[
                ps.ProductImportPricesItem(offer_id="COFFEE-250", price="299", old_price="0"),
                ps.ProductImportPricesItem(offer_id="NO-SUCH-OFFER", price="10", old_price="0"),
            ]
        )
    )
    assert [p.updated for p in prices.result] == [True, False]
    assert prices.result[1].errors

    # --- stock update: one bad item does not fail the batch -------------------------------
    stocks = await api.products_stocks(
        ps.ProductsStocksRequest(
            stocks=[
                ps.ProductsStocksItem(
                    offer_id="COFFEE-250", product_id=coffee_id, stock=40, warehouse_id=home
                ),
                ps.ProductsStocksItem(
                    offer_id="COFFEE-250", product_id=coffee_id, stock=5, warehouse_id=999
                ),
            ]
        )
    )
    assert [s.updated for s in stocks.result] == [True, False]
    assert stocks.result[1].errors and not stocks.result[0].errors
    by_wh = await api.product_info_stocks_by_warehouse_fbs_v1(
        ps.ProductInfoStocksByWarehouseFBSV1Request(offer_id=["COFFEE-250"])
    )
    assert [(r.warehouse_id, r.present, r.reserved) for r in by_wh.result] == [(home, 40, 0)]

    # v4 stock info: cursor paging ends with a non-empty cursor answered by an empty page
    seen, cursor, pages = set(), "", 0
    while True:
        page = await api.product_info_stocks(
            ps.ProductInfoStocksRequest(
                cursor=cursor, limit=20, filter=ps.ProductInfoStocksFilter(visibility="ALL")
            )
        )
        pages += 1
        assert page.cursor, "the cursor is never empty"
        if not page.items:
            break
        seen |= {i.product_id for i in page.items}
        cursor = page.cursor
    assert len(seen) == page.total == creds["sku_count"] + 1 and pages == 4

    # --- buyer orders through the marketplace endpoint -----------------------------------
    two_lines = order(base_url, creds, [(coffee_sku, 2), (sku0 + 1, 1)])
    assert len(two_lines["postings"]) == 1
    big = two_lines["postings"][0]["posting_number"]
    singles = [
        order(base_url, creds, [(coffee_sku, 1)])["postings"][0]["posting_number"] for _ in range(5)
    ]
    spb = order(base_url, creds, [(sku0 + 2, 1)], region="R-SPB")

    # --- posting lists: v3 offset paging and filters --------------------------------------
    v3_all, offset = [], 0
    while True:
        page = await api.posting_fbs_list_v3(
            fbs.PostingFBSListV3Request(
                filter=fbs.PostingFBSListV3Filter(
                    since=SINCE, to_=UNTIL, status="awaiting_packaging"
                ),
                limit=3,
                offset=offset,
                dir="asc",
                with_=fbs.PostingFBSFilterWith(
                    analytics_data=True, barcodes=True, financial_data=True
                ),
            )
        )
        v3_all += page.result.postings
        if not page.result.has_next:
            break
        offset += 3
    numbers = [p.posting_number for p in v3_all]
    assert len(numbers) == len(set(numbers)) == 7
    assert {big, *singles} <= set(numbers)
    only_home = await api.posting_fbs_list_v3(
        fbs.PostingFBSListV3Request(
            filter=fbs.PostingFBSListV3Filter(since=SINCE, to_=UNTIL, warehouse_id=[home]),
            limit=100,
        )
    )
    assert {p.delivery_method.warehouse_id for p in only_home.result.postings} == {home}

    # v4 cursor paging: every posting exactly once, then an empty page with a cursor
    v4_all, cursor = [], ""
    for _ in range(20):
        page = await api.posting_fbs_list(
            fbs.PostingFBSListRequest(
                filter=fbs.PostingFBSListFilter(since=SINCE.isoformat(), to=UNTIL.isoformat()),
                limit=2,
                cursor=cursor,
            )
        )
        assert page.cursor
        if not page.postings:
            break
        v4_all += [p.posting_number for p in page.postings]
        cursor = page.cursor
    assert sorted(v4_all) == sorted(numbers)
    unfulfilled = await api.posting_fbs_unfulfilled_list_v3(
        fbs.PostingFBSUnfulfilledListV3Request(
            filter=fbs.PostingFBSUnfulfilledListV3Filter(cutoff_from=SINCE, cutoff_to=UNTIL),
            limit=100,
            offset=0,
        )
    )
    assert unfulfilled.result.count == 7
    unf4 = await api.posting_fbs_unfulfilled_list(
        fbs.PostingFBSUnfulfilledListRequest(
            filter=fbs.PostingFBSUnfulfilledListFilter(
                cutoff_from=SINCE.isoformat(), cutoff_to=UNTIL.isoformat()
            ),
            limit=100,
        )
    )
    assert unf4.count == 7

    got = await api.posting_fbs_get(
        fbs.PostingFBSGetRequest(posting_number=big, with_=PostingFBSGetRequestWith(barcodes=True))
    )
    assert got.result.status == "awaiting_packaging"
    assert sorted(p.quantity for p in got.result.products) == [1, 2]
    by_code = await api.posting_fbs_get_by_barcode(
        fbs.PostingFBSGetByBarcodeRequest(barcode=got.result.barcodes.upper_barcode)
    )
    assert by_code.posting_number == big

    # --- ship into two packages ------------------------------------------------------------
    skus = {p.sku: p for p in got.result.products}
    shipped = await api.posting_fbs_ship(
        asm.PostingFBSShipRequest(
            posting_number=big,
            packages=[
                asm.PostingFBSShipProducts(
                    products=[asm.PostingFBSShipProduct(product_id=coffee_sku, quantity=2)]
                ),
                asm.PostingFBSShipProducts(
                    products=[asm.PostingFBSShipProduct(product_id=sku0 + 1, quantity=1)]
                ),
            ],
        )
    )
    assert (
        len(shipped.result) == 2
        and shipped.result[0] == big
        and set(skus) == {coffee_sku, sku0 + 1}
    )
    second = shipped.result[1]
    for number in shipped.result:
        posting = await api.posting_fbs_get(fbs.PostingFBSGetRequest(posting_number=number))
        assert posting.result.status == "awaiting_deliver"
        assert len(posting.result.products) == 1
    child = await api.posting_fbs_get(fbs.PostingFBSGetRequest(posting_number=second))
    assert child.result.parent_posting_number == big

    # --- label PDF: the documented raw PDF, or the JSON wrapper when Accept asks for JSON ---
    # (ozonapi parses the wrapper but sends ``Accept: */*``, so it gets the PDF: plain HTTP)
    label = httpx.post(
        f"{base_url}/v2/posting/fbs/package-label",
        json={"posting_number": shipped.result},
        headers={"Client-Id": creds["client_id"], "Api-Key": creds["api_key"],
                 "Accept": "application/json"},
    )
    text = pdf_text(base64.b64decode(label.json()["file_content"]))
    assert big in text and second in text
    raw = httpx.post(
        f"{base_url}/v2/posting/fbs/package-label",
        json={"posting_number": [big]},
        headers={"Client-Id": creds["client_id"], "Api-Key": creds["api_key"]},
    )
    assert raw.headers["content-type"].startswith("application/pdf") and big in pdf_text(
        raw.content
    )
    # not assembled yet -> the whole request is refused (an Ozon error body, which ozonapi
    # parses whatever the Accept)
    with pytest.raises(APIClientError):
        await api.posting_fbs_package_label(
            fbs.PostingFBSPackageLabelRequest(posting_number=[singles[0]])
        )
    # async label tasks: v1 and v2 create, v1 get, then the file URL
    created = await api.posting_fbs_package_label_create_v1(
        fbs.PostingFBSPackageLabelCreateV1Request(posting_number=[big])
    )
    task_v1 = await api.posting_fbs_package_label_get(
        fbs.PostingFBSPackageLabelGetRequest(task_id=created.result.task_id)
    )
    assert task_v1.result.status == "completed" and task_v1.result.file_url
    assert big in pdf_text(httpx.get(task_v1.result.file_url).content)
    created_v2 = await api.posting_fbs_package_label_create(
        fbs.PostingFBSPackageLabelCreateRequest(posting_number=[second])
    )
    assert {t.task_type for t in created_v2.result.tasks} == {"big_label", "small_label"}
    async with ozon_sdk.SellerAPI(
        creds["client_id"], creds["api_key"], base_url=base_url, max_retries=0
    ) as sdk:
        v3_tasks = await sdk.posting_fbs_package_label_create(posting_numbers=[second])
        v2_get = await sdk.posting_fbs_package_label_get(task_id=v3_tasks.tasks[0].task_id)
        assert v2_get.status.code == "completed" and v2_get.file_url
        await sdk.posting_fbs_package_label(posting_number=[second])  # this client drops the body

    # --- cancellation: reasons, a whole posting, some items --------------------------------
    reasons = await api.posting_fbs_cancel_reason_list()
    usable = {r.id_ for r in reasons.result if r.is_available_for_cancellation}
    assert {352, 402} <= usable
    per_posting = await api.posting_fbs_cancel_reason(
        fbs.PostingFBSCancelReasonRequest(related_posting_numbers=[singles[0]])
    )
    assert {r.id_ for r in per_posting.result[0].reasons} == usable
    before = await _coffee_stock(api)
    done = await api.posting_fbs_cancel(
        fbs.PostingFBSCancelRequest(posting_number=singles[0], cancel_reason_id=352)
    )
    assert done.result is True
    cancelled = await api.posting_fbs_get(fbs.PostingFBSGetRequest(posting_number=singles[0]))
    assert cancelled.result.status == "cancelled"
    assert cancelled.result.cancellation.cancel_reason_id == 352
    assert cancelled.result.cancellation.cancellation_type == "seller"
    after = await _coffee_stock(api)
    assert (after[0], after[1]) == (before[0], before[1] - 1)  # reservation released
    with pytest.raises(APIConflictError):  # cancelled is final: nothing changes
        await api.posting_fbs_cancel(
            fbs.PostingFBSCancelRequest(posting_number=singles[0], cancel_reason_id=352)
        )
    partial = order(base_url, creds, [(coffee_sku, 3)])["postings"][0]["posting_number"]
    left = await api.posting_fbs_product_cancel(
        fbs.PostingFBSProductCancelRequest(
            posting_number=partial,
            cancel_reason_id=352,
            cancel_reason_message="out of stock",
            items=[fbs.PostingFBSProductCancelItem(sku=coffee_sku, quantity=2)],
        )
    )
    assert left.result == partial
    remaining = await api.posting_fbs_get(fbs.PostingFBSGetRequest(posting_number=partial))
    assert [p.quantity for p in remaining.result.products] == [1]

    # --- rFBS delivery: tracking number, delivering, last mile, delivered ------------------
    tracked = await api.fbs_posting_tracking_number_set(
        rd.FbsPostingTrackingNumberSetRequest(
            tracking_numbers=[
                rd.FbsPostingTrackingNumber(posting_number=big, tracking_number="TRK-0001")
            ]
        )
    )
    assert tracked.result[0].result is True
    for method in (
        api.fbs_posting_delivering,
        api.fbs_posting_last_mile,
        api.fbs_posting_delivered,
    ):
        outcome = await method(rd.FbsPostingNumbersRequest(posting_number=[big, singles[0]]))
        assert [r.result for r in outcome.result] == [True, False]  # cancelled one is refused
    delivered = await api.posting_fbs_get(fbs.PostingFBSGetRequest(posting_number=big))
    assert delivered.result.status == "delivered" and delivered.result.tracking_number == "TRK-0001"

    # --- a dispute on a handed-over posting, and back to awaiting_deliver (§2.4) ------------
    arb = await api.posting_fbs_arbitration(
        fbs.PostingFBSArbitrationRequest(posting_number=[second])
    )
    assert arb.result is True
    disputed = await api.posting_fbs_get(fbs.PostingFBSGetRequest(posting_number=second))
    assert disputed.result.status == "arbitration"
    assert "awaiting_delivery" in disputed.result.available_actions
    back = await api.posting_fbs_awaiting_delivery(
        fbs.PostingFBSAwaitingDeliveryRequest(posting_number=[second])
    )
    assert back.result is True
    with pytest.raises(APIConflictError):  # no longer disputed
        await api.posting_fbs_awaiting_delivery(
            fbs.PostingFBSAwaitingDeliveryRequest(posting_number=[second])
        )
    still = await api.posting_fbs_get(fbs.PostingFBSGetRequest(posting_number=second))
    assert still.result.status == "awaiting_deliver"

    # --- a return of the delivered posting -------------------------------------------------
    back = httpx.post(
        f"{base_url}/marketplace/v1/postings/{big}/return",
        json={"reason": "не подошёл"},
        headers=platform_headers(creds),
    )
    assert back.status_code == 201, back.text
    returns = await api.returns_list(rt.ReturnsListRequest(limit=10))
    assert [r.posting_number for r in returns.returns] == [big]
    assert returns.returns[0].product.sku == coffee_sku and returns.returns[0].product.quantity == 2

    # --- analytics --------------------------------------------------------------------------
    today = datetime.now(UTC).date()
    data = await api.analytics_data(
        an.AnalyticsDataRequest(
            date_from=str(today - timedelta(days=1)),
            date_to=str(today + timedelta(days=1)),
            dimension=["sku"],
            metrics=["revenue", "ordered_units"],
            limit=100,
        )
    )
    coffee_row = next(r for r in data.result.data if r.dimensions[0].id == str(coffee_sku))
    # ordered: 2 (big) + 5 singles + 3 (partial) = 10 units, at 299 RUB
    assert coffee_row.metrics == [2990.0, 10.0]
    assert data.result.totals[1] == sum(r.metrics[1] for r in data.result.data) == 12
    by_day = await api.analytics_data(
        an.AnalyticsDataRequest(
            date_from=str(today - timedelta(days=30)),
            date_to=str(today),
            dimension=["day"],
            metrics=["ordered_units"],
        )
    )
    assert [(r.dimensions[0].id, r.metrics[0]) for r in by_day.result.data] == [
        (today.isoformat(), 12.0)
    ]
    sow = await api.analytics_stock_on_warehouses(an.AnalyticsStockOnWarehousesRequest(limit=1000))
    assert len(sow.result.rows) == creds["sku_count"] * 2 + 1
    turnover = await api.analytics_stocks(an_beta.AnalyticsStocksRequest(skus=[coffee_sku]))
    (row,) = turnover.items
    # sold (not cancelled) in 28 days: 2 (big) + 4 singles + 1 left of the partial = 7 units
    assert (row.warehouse_id, row.ads, row.turnover_grade) == (home, 0.25, "SURPLUS")
    assert (
        row.available_stock_count == (await _coffee_stock(api))[0] - (await _coffee_stock(api))[1]
    )

    # --- the roles of this key --------------------------------------------------------------
    roles = await api.roles()
    methods = {m for role in roles.roles for m in role.methods}
    assert {"/v3/posting/fbs/list", "/v2/products/stocks", "/v1/analytics/data"} <= methods
    assert spb["postings"][0]["warehouse_id"] in warehouse_ids

    # --- partial assembly: part of a posting moves to a new posting -------------------------
    whole = order(base_url, creds, [(coffee_sku, 2)])["postings"][0]["posting_number"]
    split = await api.posting_fbs_ship_package(
        asm.PostingFBSShipPackageRequest(
            posting_number=whole,
            products=[asm.PostingFBSShipPackageProduct(product_id=str(coffee_sku), quantity=1)],
        )
    )
    assert split.result == whole.rsplit("-", 1)[0] + "-2"  # <order_number>-<n> (§1.4)
    parts = [
        (await api.posting_fbs_get(fbs.PostingFBSGetRequest(posting_number=n))).result
        for n in (whole, split.result)
    ]
    assert [(p.status, p.products[0].quantity) for p in parts] == [("awaiting_packaging", 1)] * 2


async def _coffee_stock(api: SellerAPI) -> tuple[int, int]:
    rows = await api.product_info_stocks_by_warehouse_fbs(
        ps.ProductInfoStocksByWarehouseFBSRequest(offer_id=["COFFEE-250"], limit=10)
    )
    assert len(rows.products) == 1
    return rows.products[0].present, rows.products[0].reserved


def test_concurrent_catalogue_writes_stay_consistent(server) -> None:
    """Imports and first stock rows racing from many clients: no 5xx, no duplicate SKU."""
    base_url, creds = server
    headers = {"Client-Id": creds["client_id"], "Api-Key": creds["api_key"]}
    home = sorted(creds["warehouses"].values())[0]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
            imports = [
                client.post(
                    "/v3/product/import",
                    json={
                        "items": [
                            {
                                "offer_id": f"RACE-{i % 4}",
                                "name": f"Race {i}",
                                "price": "100",
                                "vat": "0",
                            }
                        ]
                    },
                )
                for i in range(12)
            ]
            stocks = [
                client.post(
                    "/v2/products/stocks",
                    json={
                        "stocks": [
                            {"offer_id": "COFFEE-250", "stock": 10 + i, "warehouse_id": home},
                            {"offer_id": f"SKU-{i:06d}", "stock": 5, "warehouse_id": home},
                        ]
                    },
                )
                for i in range(8)
            ]
            return await asyncio.gather(*imports, *stocks)

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * len(responses)
    listed = httpx.post(
        f"{base_url}/v3/product/info/list",
        headers=headers,
        json={"offer_id": [f"RACE-{i}" for i in range(4)]},
    ).json()["items"]
    skus = [item["sources"][0]["sku"] for item in listed]
    assert len(listed) == 4 and len(set(skus)) == 4
