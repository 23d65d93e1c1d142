"""Finance reports (§15) against a real uvicorn, through the public ``ozonapi`` client.

A seller's history is made through the marketplace and Seller API routes: three postings
delivered, one of them returned and refunded, one refused at the sorting centre. The
transactions, their totals and the month's realization report must add up to exactly what
those postings' prices and statuses say under the default tariffs.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from reference_backend.finance.tariffs import Tariffs
from tests.seller_steps import DATABASES, Steps, ozon_client, seeded_steps

pytest.importorskip("ozonapi")

from ozonapi.seller.schemas import finance as fi  # noqa: E402

T = Tariffs()


@pytest.fixture(scope="module", params=DATABASES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    with seeded_steps(request.param, tmp_path_factory.mktemp("finance")) as steps:
        yield steps


def worth(posting: dict) -> Decimal:
    return sum((Decimal(p["price"]) * p["quantity"] for p in posting["products"]), Decimal(0))


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_transactions_add_up_to_the_postings(server: Steps) -> None:
    sku = server.creds["sku_base"]
    sold = [server.order(lines)[0] for lines in ([(sku, 2)], [(sku + 1, 1)], [(sku + 2, 3)])]
    for posting in sold:
        server.deliver(posting)
    refused = server.order([(sku, 1)])[0]
    server.ship(refused)
    server.event(refused["posting_number"], "sorting_refused")
    returned = sold[2]
    made = server.http.post(f"/marketplace/v1/postings/{returned['posting_number']}/return",
                            json={"reason": "не подошёл"},
                            headers={"Authorization": f"Bearer {server.creds['platform_key']}"})
    assert made.status_code == 201, made.text
    return_id = made.json()["returns"][0]["id"]
    received = server.http.post(f"/peakline/v1/returns/{return_id}/receive",
                                headers={"Client-Id": server.creds["client_id"],
                                         "Api-Key": server.creds["api_key"]})
    assert received.status_code == 200, received.text

    sales = sum((worth(p) for p in sold), Decimal(0))
    refund = worth(returned)
    rate = T.sales_percent_fbs / 100
    expected = {
        "accruals": sales - refund,
        "commission": sum((-cents(worth(p) * rate) for p in sold), Decimal(0))
        + cents(refund * rate),
        "services": -3 * (T.direct_flow_logistics + T.last_mile) - 2 * T.return_flow_logistics,
    }
    asyncio.run(_check_reports(server, sold, returned, refused, sales, refund, expected))


async def _check_reports(server: Steps, sold: list[dict], returned: dict, refused: dict,
                         sales: Decimal, refund: Decimal, expected: dict) -> None:
    start = datetime.now(UTC) - timedelta(days=1)  # a month at most (§15.1)
    period = fi.FinancePeriod(from_=start.isoformat(), to=(start + timedelta(days=30)).isoformat())
    async with ozon_client(server.base_url, server.creds) as api:
        listed = await api.finance_transaction_list(fi.FinanceTransactionListRequest(
            filter=fi.FinanceTransactionListFilter(date=period, posting_number="",
                                                   transaction_type=""),
            page=1, page_size=1000))
        ops = listed.result.operations
        assert listed.result.row_count == len(ops) == 5 and listed.result.page_count == 1
        kinds = sorted((op.operation_type, op.posting.posting_number) for op in ops)
        assert kinds == sorted(
            [("OperationAgentDeliveredToCustomer", p["posting_number"]) for p in sold]
            + [("ClientReturnAgentOperation", returned["posting_number"]),
               ("OperationItemReturn", refused["posting_number"])])
        for op in ops:  # within an operation, the parts make the amount
            parts = op.accruals_for_sale + op.sale_commission + sum(s.price for s in op.services)
            assert op.amount == pytest.approx(parts, abs=0.005)
            datetime.strptime(op.operation_date, "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007
        assert sum(Decimal(str(op.accruals_for_sale)) for op in ops) == expected["accruals"]
        assert sum(Decimal(str(op.sale_commission)) for op in ops) == expected["commission"]
        assert sum(Decimal(str(s.price)) for op in ops for s in op.services) == (
            expected["services"])
        total = sum(expected.values(), Decimal(0))
        assert sum(Decimal(str(op.amount)) for op in ops) == total

        totals = (await api.finance_transaction_totals(
            fi.FinanceTransactionTotalsRequest(date=period))).result
        assert Decimal(str(totals.accruals_for_sale)) == sales
        assert Decimal(str(totals.sale_commission)) == expected["commission"]
        buckets = (totals.accruals_for_sale + totals.sale_commission
                   + totals.processing_and_delivery + totals.refunds_and_cancellations
                   + totals.services_amount + totals.compensation_amount
                   + totals.money_transfer + totals.others_amount)
        assert buckets == pytest.approx(float(total), abs=0.005)

        page = await api.finance_transaction_list(fi.FinanceTransactionListRequest(
            filter=fi.FinanceTransactionListFilter(date=period, transaction_type="returns"),
            page=2, page_size=1))
        assert (page.result.row_count, page.result.page_count, len(page.result.operations)) == (
            2, 2, 1)
        one = await api.finance_transaction_list(fi.FinanceTransactionListRequest(
            filter=fi.FinanceTransactionListFilter(posting_number=returned["posting_number"]),
            page=1, page_size=10))
        assert sorted(op.type for op in one.result.operations) == ["orders", "returns"]
        assert sum(op.accruals_for_sale for op in one.result.operations) == 0

        now = datetime.now(UTC)
        report = (await api.finance_realization(
            fi.FinanceRealizationRequest(month=now.month, year=now.year))).result
        assert report.header.start_date == f"{now.year}-{now.month:02d}-01"
        sold_amount = sum(Decimal(str(r.delivery_commission.amount)) for r in report.rows
                          if r.delivery_commission)
        back_amount = sum(Decimal(str(r.return_commission.amount)) for r in report.rows
                          if r.return_commission)
        assert (sold_amount, back_amount) == (sales, refund)
        units = {r.item.sku: r.delivery_commission.quantity for r in report.rows
                 if r.delivery_commission}
        assert units == {p["products"][0]["sku"]: p["products"][0]["quantity"] for p in sold}


@pytest.mark.parametrize(("path", "body"), [
    ("/v3/finance/transaction/list", {"page": 0, "page_size": 10}),
    ("/v3/finance/transaction/list", {"page": 1}),
    ("/v3/finance/transaction/list",
     {"filter": {"date": {"from": "yesterday"}}, "page": 1, "page_size": 10}),
    ("/v3/finance/transaction/totals", {"transaction_type": "gifts"}),
    ("/v3/finance/transaction/list", {"filter": {"date": {
        "from": "2025-01-31T00:00:00Z", "to": "2025-03-01T00:00:00Z"}}, "page": 1,
        "page_size": 10}),  # a month from the 31st of January ends with February
    ("/v3/finance/transaction/totals", {"date": {
        "from": "2025-03-01T00:00:00Z", "to": "2025-02-01T00:00:00Z"}}),
    ("/v3/finance/transaction/totals", {"date": {"from": "2025-03-01T00:00:00Z"}}),
    ("/v3/finance/transaction/list", {"page": 1, "page_size": 10}),
    ("/v2/finance/realization", {"month": 13, "year": 2025}),
    ("/v2/finance/realization", {"month": 1, "year": 2999}),
])
def test_bad_finance_requests_get_ozon_errors(server: Steps, path: str, body: dict) -> None:
    response = server.seller(path, body)
    assert response.status_code in (400, 404), response.text
    assert set(response.json()) == {"code", "message", "details"}


def test_tolerated_forms(server: Steps) -> None:
    """A zone-less datetime (the docs' example), nulls and ``ALL`` in any case are accepted."""
    response = server.seller("/v3/finance/transaction/list", {
        "filter": {"date": {"from": "2019-11-25T10:43:06.51", "to": "2019-12-25T10:43:06"},
                   "operation_type": None, "transaction_type": "ALL"},
        "page": "1", "page_size": 5})
    assert response.status_code == 200, response.text
    assert response.json()["result"]["page_count"] >= 0
    month = server.seller("/v3/finance/transaction/totals", {"date": {
        "from": "2025-01-31T00:00:00Z", "to": "2025-02-28T00:00:00Z"}})  # one month exactly
    assert month.status_code == 200, month.text


def test_a_period_over_one_month_is_refused(server: Steps) -> None:
    """§15.1: at most one month per request; Ozon's error body, code 3 (InvalidArgument)."""
    response = server.seller("/v3/finance/transaction/list", {"filter": {"date": {
        "from": "2025-11-01T00:00:00Z", "to": "2025-12-01T00:00:01Z"}}, "page": 1,
        "page_size": 10})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 3 and "one month" in response.json()["message"]
