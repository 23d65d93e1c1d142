"""Return requests the seller decides (§13) against a real uvicorn: a buyer files one through
the marketplace for a posting of an rFBS warehouse (the smoke scenario with its warehouses
made rFBS; an FBS posting is refused), the seller decides it through ``ozonapi`` (the v2
methods and ``action/set``). Each decision is allowed only in its state (409 otherwise,
nothing changed); the refund follows the posting's price; a received item goes back to
stock, or is written off when defective; finance shows the refund. The older buyer-return
route and return requests share one cap on the units that can come back.
"""

from __future__ import annotations

import asyncio
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import yaml

from tests.backend_support import (
    SMOKE,
    platform_headers,
    seller_headers,
)
from tests.seller_steps import DATABASES, Steps, ozon_client, seeded_steps

pytest.importorskip("ozonapi")

from ozonapi.seller.core.exceptions import APIConflictError  # noqa: E402
from ozonapi.seller.schemas import returns as rt  # noqa: E402


def rfbs_scenario(folder: Path) -> Path:
    """The smoke scenario with its Moscow warehouse rFBS (the seller delivers; R-MSK's orders
    go there), St Petersburg's FBS."""
    world = yaml.safe_load(SMOKE.read_text(encoding="utf-8"))
    for warehouse in world["network"]["warehouses"]:
        warehouse["rfbs"] = warehouse["id"] == "WH-MSK"
    path = folder / "smoke_rfbs.yaml"
    path.write_text(yaml.safe_dump(world, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=DATABASES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("rfbs")
    with seeded_steps(request.param, folder, scenario=rfbs_scenario(folder)) as steps:
        yield steps


def file(server: Steps, posting: dict, reason_id: int, quantity: int | None = None):
    line = posting["products"][0]
    return server.http.post(
        f"/marketplace/v1/postings/{posting['posting_number']}/return-requests",
        json={"sku": line["sku"], "quantity": quantity, "reason_id": reason_id,
              "comment": "не подошёл размер"}, headers=platform_headers(server.creds))


def present(server: Steps, posting: dict) -> int:
    response = server.http.get("/peakline/v1/warning-levels", headers=seller_headers(
        server.creds), params={"sku": posting["products"][0]["sku"],
                               "warehouse_id": posting["warehouse_id"]})
    return response.json()["items"][0]["present"]


def delivered(server: Steps, quantity: int) -> dict:
    posting = server.order([(server.creds["sku_base"] + 3, quantity)])[0]
    server.deliver(posting)
    return posting


def test_verify_receive_refund_through_v2_methods(server: Steps) -> None:
    posting = delivered(server, 2)
    filed = file(server, posting, reason_id=3)
    assert filed.status_code == 201, filed.text
    assert filed.json()["quantity"] == 2 and filed.json()["state"] == "NewRequest"
    again = file(server, posting, reason_id=3)
    assert again.status_code == 409 and again.json()["code"] == "RETURN_EXCEEDS_DELIVERED"
    before = present(server, posting)
    asyncio.run(_v2_steps(server, posting, filed.json()["return_id"]))
    assert present(server, posting) == before + 2  # not defective: back in stock

    ops = server.seller("/v3/finance/transaction/list", {
        "filter": {"posting_number": posting["posting_number"]}, "page": 1,
        "page_size": 10}).json()["result"]["operations"]
    refund = [op for op in ops if op["operation_type"] == "ReturnAgentOperationRFBS"]
    price = Decimal(posting["products"][0]["price"])
    assert len(refund) == 1 and Decimal(str(refund[0]["accruals_for_sale"])) == -price * 2
    assert sum(Decimal(str(op["accruals_for_sale"])) for op in ops) == 0


async def _v2_steps(server: Steps, posting: dict, return_id: int) -> None:
    line = posting["products"][0]
    async with ozon_client(server.base_url, server.creds) as api:
        listed = await api.returns_rfbs_list(rt.ReturnsRfbsListRequest(
            limit=100, filter=rt.ReturnsRfbsListFilter(group_state=["NEW"])))
        mine = [r for r in listed.returns if r.return_id == return_id]
        assert len(mine) == 1 and mine[0].state.group_state == "New"
        whole = Decimal(line["price"]).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        assert mine[0].product.price == whole

        got = (await api.returns_rfbs_get(rt.ReturnsRfbsGetRequest(return_id=return_id))).returns
        assert sorted(a.id for a in got.available_actions) == [-1, 1, 2, 1020]
        assert got.return_reason.is_defect is False and got.rejection_reason

        with pytest.raises(APIConflictError):  # the item has not been sent back yet
            await api.returns_rfbs_receive_return(
                rt.ReturnsRfbsReceiveReturnRequest(return_id=return_id))
        await api.returns_rfbs_verify(rt.ReturnsRfbsVerifyRequest(
            return_id=return_id, return_method_description="Почтой России до склада"))
        got = (await api.returns_rfbs_get(rt.ReturnsRfbsGetRequest(return_id=return_id))).returns
        assert got.state.state == "ItemOnTheWay" and [a.id for a in got.available_actions] == [3]
        with pytest.raises(APIConflictError):
            await api.returns_rfbs_return_money(rt.ReturnsRfbsReturnMoneyRequest(
                return_id=return_id, return_for_back_way=300))
        await api.returns_rfbs_receive_return(
            rt.ReturnsRfbsReceiveReturnRequest(return_id=return_id))
        await api.returns_rfbs_return_money(rt.ReturnsRfbsReturnMoneyRequest(
            return_id=return_id, return_for_back_way=300))
        done = await api.returns_rfbs_list(rt.ReturnsRfbsListRequest(
            limit=100, filter=rt.ReturnsRfbsListFilter(group_state=["Approved"])))
        assert return_id in [r.return_id for r in done.returns]
        with pytest.raises(APIConflictError):  # finished: nothing more to decide
            await api.returns_rfbs_reject(rt.ReturnsRfbsRejectRequest(
                return_id=return_id, rejection_reason_id=6))


def test_action_set_compensate_and_reject_after_check(server: Steps) -> None:
    posting = delivered(server, 2)
    first = file(server, posting, reason_id=1, quantity=1).json()["return_id"]
    second = file(server, posting, reason_id=1, quantity=1).json()["return_id"]
    before = present(server, posting)
    price = Decimal(posting["products"][0]["price"])

    def act(return_id: int, **body):  # noqa: ANN202
        return server.seller("/v1/returns/rfbs/action/set", {"return_id": return_id, **body})

    too_much = act(first, id=1020, compensation_amount=float(price) + 1)
    assert too_much.status_code == 400, too_much.text
    assert act(first, id=1020, compensation_amount="10.50").status_code == 200
    assert act(first, id=2).status_code == 409  # compensated: the money is settled

    assert act(second, id=1).status_code == 200
    assert act(second, id=3).status_code == 200
    assert act(second, id=-10, rejection_reason_id=5).status_code == 400  # comment required
    still = server.seller("/v2/returns/rfbs/get", {"return_id": second}).json()["returns"]
    assert still["state"]["state"] == "ItemReceived"
    rejected = act(second, id=-10, rejection_reason_id=5, comment="следы использования")
    assert rejected.status_code == 200, rejected.text
    got = server.seller("/v2/returns/rfbs/get", {"return_id": second}).json()["returns"]
    assert got["state"]["state"] == "Rejected" and got["available_actions"] == []
    assert got["rejection_comment"] == "следы использования"
    assert present(server, posting) == before  # nothing restocked

    ops = server.seller("/v3/finance/transaction/list", {
        "filter": {"posting_number": posting["posting_number"], "transaction_type": "returns"},
        "page": 1, "page_size": 10}).json()["result"]["operations"]
    assert [op["accruals_for_sale"] for op in ops] == [-10.5]


def test_defective_item_refunded_after_check_is_written_off(server: Steps) -> None:
    posting = delivered(server, 1)
    return_id = file(server, posting, reason_id=2).json()["return_id"]
    before = present(server, posting)
    for action in (1, 3):
        assert server.seller("/v1/returns/rfbs/action/set",
                             {"return_id": return_id, "id": action}).status_code == 200
    paid = server.seller("/v2/returns/rfbs/return-money",
                         {"return_id": str(return_id), "return_for_back_way": "250"})
    assert paid.status_code == 200 and paid.json() == {}
    assert present(server, posting) == before
    ops = server.seller("/v3/finance/transaction/list", {
        "filter": {"posting_number": posting["posting_number"], "transaction_type": "returns"},
        "page": 1, "page_size": 10}).json()["result"]["operations"]
    assert {"name": "MarketplaceServiceItemReturnAfterDelivToCustomer", "price": -250.0} in (
        ops[0]["services"])


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/v2/returns/rfbs/get", {"return_id": 987654}, 404),
    ("/v2/returns/rfbs/verify", {}, 400),
    ("/v2/returns/rfbs/list", {"limit": 0}, 400),
    ("/v2/returns/rfbs/list", {"limit": 10, "filter": {"group_state": ["Lost"]}}, 400),
    ("/v1/returns/rfbs/action/set", {"return_id": 987654, "id": 99}, 400),
    ("/v2/returns/rfbs/compensate", {"return_id": 987654, "compensation_amount": "x"}, 400),
])
def test_bad_requests_get_ozon_errors(server: Steps, path: str, body: dict, status: int) -> None:
    response = server.seller(path, body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"code", "message", "details"}


def test_buyer_filing_is_checked(server: Steps) -> None:
    fresh = server.order([(server.creds["sku_base"] + 3, 1)])[0]
    assert file(server, fresh, reason_id=3).status_code == 409  # not delivered yet
    posting = delivered(server, 1)
    assert file(server, posting, reason_id=99).status_code == 400
    assert server.seller("/v2/returns/rfbs/list", {
        "limit": 50, "filter": {"posting_number": posting["posting_number"]}}).json() == {
        "returns": []}


def old_route_return(server: Steps, posting: dict, quantity: int):
    line = posting["products"][0]
    return server.http.post(
        f"/marketplace/v1/postings/{posting['posting_number']}/return",
        json={"lines": [{"sku": line["sku"], "quantity": quantity}], "reason": "брак"},
        headers=platform_headers(server.creds))


def test_fbs_postings_take_no_return_requests(server: Steps) -> None:
    posting = server.order([(server.creds["sku_base"] + 3, 1)], region="R-SPB")[0]
    server.deliver(posting)
    refused = file(server, posting, reason_id=3)
    assert refused.status_code == 409 and refused.json()["code"] == "NOT_RFBS", refused.text
    assert server.seller("/v2/returns/rfbs/list", {
        "limit": 50, "filter": {"posting_number": posting["posting_number"]}}).json() == {
        "returns": []}
    assert old_route_return(server, posting, 1).status_code == 201  # Ozon's own return route


def test_both_return_routes_share_one_cap(server: Steps) -> None:
    """A unit asked back by a return request cannot come back through the older route, and
    the other way round."""
    posting = delivered(server, 3)
    assert file(server, posting, reason_id=3, quantity=1).status_code == 201
    over = old_route_return(server, posting, 3)
    assert over.status_code == 409 and over.json()["code"] == "RETURN_EXCEEDS_DELIVERED"
    assert over.json()["details"][0]["returnable"] == 2
    assert old_route_return(server, posting, 2).status_code == 201
    again = file(server, posting, reason_id=3)
    assert again.status_code == 409 and again.json()["code"] == "RETURN_EXCEEDS_DELIVERED"
    filed = server.seller("/v2/returns/rfbs/list", {
        "limit": 50, "filter": {"posting_number": posting["posting_number"]}}).json()
    assert len(filed["returns"]) == 1
