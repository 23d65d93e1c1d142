"""Promotions (§11) and buyer chats (§12) against a real uvicorn, on SQLite and PostgreSQL,
driven through the public ``ozonapi`` client where it implements a method (raw HTTP for the
2026 methods and the v2 history it lacks).

The seller is seeded from the smoke scenario plus a promotion on one SKU group, so the
seeded calendar is checked too; a platform action running now shows the action price in
buyer orders and in analytics.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from tests.backend_support import (
    SMOKE,
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    seed_smoke,
    seeded_sqlite,
    seller_headers,
    start_server,
)
from tests.test_backend_push import PUSH_ENV, Receiver

ozonapi = pytest.importorskip("ozonapi")

from ozonapi import SellerAPI, SellerAPIConfig  # noqa: E402
from ozonapi.seller.core import APIManager  # noqa: E402
from ozonapi.seller.schemas import actions as ac  # noqa: E402
from ozonapi.seller.schemas import chats as ch  # noqa: E402

PROMO = {"name": "electronics week", "start_hour": 6, "duration_hours": 48, "multiplier": 2.5,
         "sku_groups": ["electronics"]}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


#: base URL -> database URL of the module's servers (for a setting no route changes)
DATABASE_URLS: dict[str, str] = {}


def _scenario_with_promotion(directory: Path) -> Path:
    world = yaml.safe_load(SMOKE.read_text())
    world["demand"]["peaks"].append(PROMO)
    path = directory / "smoke_promo.yaml"
    path.write_text(yaml.safe_dump(world, allow_unicode=True))
    return path


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A real uvicorn over a seller seeded with a promotion calendar, and a webhook receiver."""
    directory = tmp_path_factory.mktemp("promo_chats")
    scenario = _scenario_with_promotion(directory)
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url, creds = seeded_sqlite(directory, scenario=scenario)
        else:
            if not postgres_admin_url():
                pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
            url = stack.enter_context(fresh_postgres_url())
            creds = seed_smoke(url, scenario=scenario)
        server = start_server(url, env=PUSH_ENV)
        stack.callback(server.stop)
        DATABASE_URLS[server.base_url] = url
        receiver = Receiver().start()
        stack.callback(receiver.stop)
        yield server.base_url, creds, receiver


def _api(base_url: str, creds: dict) -> SellerAPI:
    return SellerAPI(config=SellerAPIConfig(
        client_id=creds["client_id"], api_key=creds["api_key"], base_url=base_url,
        max_retries=0, max_requests_per_second=50))


async def _run(base_url: str, creds: dict, steps) -> None:  # type: ignore[no-untyped-def]
    try:
        async with _api(base_url, creds) as api:
            await steps(api)
    finally:
        await SellerAPI.shutdown()
        APIManager._method_rate_limiter_manager = None
        APIManager._session_manager = None


def _order(base_url: str, creds: dict, sku: int, quantity: int = 1) -> dict:
    r = httpx.post(f"{base_url}/marketplace/v1/orders", timeout=10,
                   headers={**platform_headers(creds), "Idempotency-Key": uuid.uuid4().hex},
                   json={"client_id": creds["client_id"], "region": "R-MSK",
                         "lines": [{"sku": sku, "quantity": quantity}]})
    assert r.status_code == 201, r.text
    return r.json()


def _sku_of(c: httpx.Client, product_id: int) -> int:
    r = c.post("/v3/product/info/list", json={"product_id": [product_id]})
    assert r.status_code == 200, r.text
    return r.json()["items"][0]["sources"][0]["sku"]


def _ozon_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= {"code", "message", "details"} and isinstance(body["code"], int)
    return body


# --------------------------------------------------------------------------- promotions


def test_seeded_calendar_is_the_scenarios_promotions(world) -> None:
    base_url, creds, _ = world
    r = httpx.get(f"{base_url}/marketplace/v1/actions", headers=platform_headers(creds),
                  params={"client_id": creds["client_id"]}, timeout=10)
    assert r.status_code == 200, r.text
    seeded = [a for a in r.json()["actions"] if a["title"] == PROMO["name"]]
    assert len(seeded) == 1
    action = seeded[0]
    # smoke starts 2026-11-27T00:00 Moscow time (UTC+3): the promotion runs from 06:00 local
    assert action["date_start"] == "2026-11-27T03:00:00.000Z"
    assert action["date_end"] == "2026-11-29T03:00:00.000Z"
    assert action["sku_groups"] == ["electronics"] and action["demand_multiplier"] == 2.5
    # the flash sale on every group is a demand peak, not a promotion
    assert not [a for a in r.json()["actions"] if a["title"] == "evening flash sale"]


def test_promotion_prices_orders_and_analytics(world) -> None:  # noqa: PLR0915
    base_url, creds, _ = world
    platform = platform_headers(creds)
    now = datetime.now(UTC)
    created = httpx.post(f"{base_url}/marketplace/v1/actions", headers=platform, timeout=10, json={
        "title": f"Home sale {uuid.uuid4().hex[:6]}", "client_id": creds["client_id"],
        "date_start": (now - timedelta(hours=1)).isoformat(),
        "date_end": (now + timedelta(days=2)).isoformat(),
        "discount_value": 20, "sku_groups": ["home"]})
    assert created.status_code == 201, created.text
    action_id = created.json()["id"]
    bad = httpx.post(f"{base_url}/marketplace/v1/actions", headers=platform, timeout=10, json={
        "title": "backwards", "date_start": now.isoformat(),
        "date_end": (now - timedelta(days=1)).isoformat()})
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_DATES"

    async def steps(api: SellerAPI) -> None:
        listed = {a.id: a for a in (await api.actions()).result}
        assert action_id in listed
        assert listed[action_id].participating_products_count == 0
        potential = listed[action_id].potential_products_count
        assert potential > 0
        # offset paging (as this client does) until an empty page: every home product once
        seen: list[ac.ActionProduct] = []
        offset = 0
        while True:
            page = await api.actions_candidates(ac.ActionsCandidatesRequest(
                action_id=action_id, limit=7, offset=offset))
            if not page.result.products:
                break
            assert page.result.total == potential
            seen += page.result.products
            offset += len(page.result.products)
        assert len(seen) == potential == len({p.id for p in seen})
        first, second = seen[0], seen[1]
        assert first.max_action_price == pytest.approx(round(first.price * 0.8, 2))
        promo_price = round(first.price * 0.75, 2)
        joined = await api.actions_products_activate(ac.ActionsProductsActivateRequest(
            action_id=action_id, products=[
                ac.ActionsProductsActivateProduct(product_id=first.id, action_price=promo_price,
                                                  stock=5),
                ac.ActionsProductsActivateProduct(product_id=second.id,
                                                  action_price=second.price),
                ac.ActionsProductsActivateProduct(product_id=1, action_price=1)]))
        assert joined.result.product_ids == [first.id]
        rejected = {r.product_id: r.reason for r in joined.result.rejected}
        assert set(rejected) == {second.id, 1} and "maximum" in rejected[second.id]
        taking = await api.actions_products(ac.ActionsProductsRequest(
            action_id=action_id, limit=100, offset=0))
        assert [(p.id, p.action_price, p.stock) for p in taking.result.products] == [
            (first.id, promo_price, 5)]
        listed = {a.id: a for a in (await api.actions()).result}
        assert listed[action_id].participating_products_count == 1
        assert listed[action_id].is_participating
        assert listed[action_id].potential_products_count == potential - 1

        with httpx.Client(base_url=base_url, headers=seller_headers(creds), timeout=10) as c:
            sku = _sku_of(c, first.id)
            placed = _order(base_url, creds, sku, 2)
            line = placed["postings"][0]["products"][0]
            assert float(line["price"]) == pytest.approx(promo_price)
            posting = c.post("/v3/posting/fbs/get", json={
                "posting_number": placed["postings"][0]["posting_number"]}).json()["result"]
            assert float(posting["products"][0]["price"]) == pytest.approx(promo_price)
            today = now.date().isoformat()
            stats = c.post("/v1/analytics/data", json={
                "date_from": today, "date_to": today, "dimension": ["action"],
                "metrics": ["revenue", "ordered_units"], "limit": 100}).json()["result"]
            by_action = {row["dimensions"][0]["id"]: row for row in stats["data"]}
            promo_row = by_action[str(action_id)]
            assert promo_row["dimensions"][0]["name"] == created.json()["title"]
            assert promo_row["metrics"][0] >= round(2 * promo_price, 2) - 0.01
            assert promo_row["metrics"][1] >= 2

            # the 2026 methods: v2 lists (last_id paging to an empty page), update, deactivate
            ids, last_id = [], ""
            while True:
                r = c.post("/v2/actions/candidates",
                           json={"action_id": action_id, "limit": 10, "last_id": last_id})
                assert r.status_code == 200, r.text
                body = r.json()
                if not body["products"]:
                    break
                assert body["total"] == potential - 1
                assert isinstance(body["products"][0]["price"]["amount"], str)
                ids += [p["id"] for p in body["products"]]
                last_id = body["last_id"]
            assert len(ids) == potential - 1 and first.id not in ids
            upd = c.post("/v1/actions/products/update", json={"action_id": action_id, "products": [
                {"product_id": second.id, "action_price": {"amount": "1", "currency": "RUB"}},
                {"product_id": first.id,
                 "action_price": {"amount": str(first.price), "currency": "RUB"}}]}).json()
            assert upd["active_product_ids"] == [str(second.id)]
            assert upd["deactivated_product_ids"] == [str(first.id)]
            v2 = c.post("/v2/actions/products", json={"action_id": action_id, "limit": 10}).json()
            assert [(p["id"], p["action_price"]["amount"]) for p in v2["products"]] == [
                (second.id, "1.00")]
            gone = c.post("/v2/actions/products/deactivate",
                          json={"action_id": action_id, "product_ids": [str(second.id)]})
            assert gone.json() == {"product_ids": [str(second.id)]}
            # without the promotion the product sells at its own price again
            again = _order(base_url, creds, sku)["postings"][0]["products"][0]
            assert float(again["price"]) == pytest.approx(first.price)

            # bad requests: Ozon-shaped 4xx, nothing changed
            _ozon_error(c.post("/v1/actions/products/activate",
                               json={"action_id": action_id, "products": []}), 400)
            assert _ozon_error(c.post("/v1/actions/candidates", json={
                "action_id": 999999999, "limit": 5}), 404)["code"] == 5
            _ozon_error(c.post("/v1/actions/candidates", json={
                "action_id": action_id, "last_id": "bnVсbA=="}), 400)
        left = await api.actions_products_deactivate(ac.ActionsProductsDeactivateRequest(
            action_id=action_id, product_ids=[first.id]))
        assert left.result.product_ids == [] and left.result.rejected[0].product_id == first.id

    asyncio.run(_run(base_url, creds, steps))


def test_discount_requests_are_decided_once(world) -> None:
    base_url, creds, _ = world
    platform = platform_headers(creds)
    sku = creds["sku_base"] + 3
    with httpx.Client(base_url=base_url, headers=seller_headers(creds), timeout=10) as c:
        price = float(c.post("/v3/product/info/list", json={"sku": [sku]}).json()["items"][0][
            "price"])
    made = []
    for name in ("Anna", "Boris"):
        r = httpx.post(f"{base_url}/marketplace/v1/discount-requests", headers=platform,
                       timeout=10, json={"client_id": creds["client_id"], "sku": sku,
                                         "requested_price": round(price * 0.9, 2),
                                         "quantity_max": 3, "customer_name": name,
                                         "comment": "два в подарок"})
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    too_cheap = httpx.post(f"{base_url}/marketplace/v1/discount-requests", headers=platform,
                           timeout=10, json={"client_id": creds["client_id"], "sku": sku,
                                             "requested_price": price * 2})
    assert too_cheap.status_code == 400

    async def steps(api: SellerAPI) -> None:
        tasks = await api.actions_discounts_task_list_v1(ac.ActionsDiscountsTaskListV1Request(
            status="NEW", page=1, limit=50))
        mine = {t.id: t for t in tasks.result if t.id in made}
        assert set(mine) == set(made)
        assert mine[made[0]].customer_name == "Anna" and mine[made[0]].requested_quantity_max == 3
        assert mine[made[0]].moderated_at is None
        approved = await api.actions_discounts_task_approve(ac.ActionsDiscountsTaskApproveRequest(
            tasks=[ac.ActionsDiscountsTaskApproveTask(
                id=made[0], approved_price=round(price * 0.92, 2), approved_quantity_min=1,
                approved_quantity_max=2, seller_comment="могу 2")]))
        assert approved.result.success_count == 1 and approved.result.fail_count == 0
        declined = await api.actions_discounts_task_decline(ac.ActionsDiscountsTaskDeclineRequest(
            tasks=[ac.ActionsDiscountsTaskDeclineTask(id=made[1]),
                   ac.ActionsDiscountsTaskDeclineTask(id=made[0])]))
        assert declined.result.success_count == 1 and declined.result.fail_count == 1
        assert declined.result.fail_details[0].task_id == made[0]
        page = (await api.actions_discounts_task_list_v1(ac.ActionsDiscountsTaskListV1Request(
            status="UNKNOWN", page=1, limit=50))).result
        prices = {t.id: t.approved_price for t in page}
        assert prices[made[0]] == round(price * 0.92, 2) and prices[made[1]] == 0

    asyncio.run(_run(base_url, creds, steps))
    with httpx.Client(base_url=base_url, headers=seller_headers(creds), timeout=10) as c:
        v1 = c.post("/v1/actions/discounts-task/list", json={"status": "unknown", "limit": 50})
        status = {t["id"]: t["status"] for t in v1.json()["result"]}
        assert status[made[0]] == "PARTLY_APPROVED" and status[made[1]] == "DECLINED"
        v2 = c.post("/v2/actions/discounts-task/list", json={"status": "APPROVED", "limit": 5})
        assert [t["id"] for t in v2.json()["tasks"] if t["id"] in made] == [made[0]]
        assert v2.json()["tasks"][0]["name"]
        _ozon_error(c.post("/v2/actions/discounts-task/list", json={"limit": 7}), 400)


# --------------------------------------------------------------------------- chats


def _wait_for(receiver: Receiver, message_type: str, count: int, timeout: float = 10) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r.payload for r in receiver.unique() if r.payload["message_type"] == message_type]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{message_type} x{count} not received: {receiver.unique()}")


def test_buyer_chat_through_public_client(world) -> None:  # noqa: PLR0915
    base_url, creds, receiver = world
    seller, platform = seller_headers(creds), platform_headers(creds)
    hook = httpx.post(f"{base_url}/peakline/v1/webhooks", headers=seller, timeout=10,
                      json={"url": receiver.url})
    assert hook.status_code in (200, 201), hook.text
    posting = _order(base_url, creds, creds["sku_base"] + 1)["postings"][0]["posting_number"]
    wrote = httpx.post(f"{base_url}/marketplace/v1/postings/{posting}/chat/messages",
                       headers=platform, timeout=10, json={"text": "Где мой заказ?"})
    assert wrote.status_code == 201, wrote.text
    chat_id = wrote.json()["chat_id"]

    async def steps(api: SellerAPI) -> None:
        listed = await api.chat_list(ch.ChatListRequest(limit=100))
        item = next(i for i in listed.chats if i.chat.chat_id == chat_id)
        assert item.unread_count == 1 and item.chat.chat_type == "Buyer_Seller"
        assert item.first_unread_message_id == int(wrote.json()["message_id"])
        assert listed.total_unread_count >= 1
        v2 = await api.chat_list_v2(ch.ChatListV2Request(limit=100, offset=0))
        assert chat_id in {c.chat_id for c in v2.chats} and v2.total_chats_count >= 1
        history = await api.chat_history(ch.ChatHistoryRequest(chat_id=chat_id, limit=10))
        (first,) = history.messages
        assert first.data == ["Где мой заказ?"] and first.user.type == "Customer"
        assert first.context.order_number == posting.rsplit("-", 1)[0]
        assert (await api.chat_send_message(ch.ChatSendMessageRequest(
            chat_id=chat_id, text="Уже в пути"))).result == "success"
        assert (await api.chat_send_file(ch.ChatSendFileRequest(
            chat_id=chat_id, name="чек.png",
            base64_content=base64.b64encode(PNG).decode()))).result == "success"
        forward = await api.chat_history(ch.ChatHistoryRequest(
            chat_id=chat_id, direction="Forward", limit=10))
        assert [m.user.type for m in forward.messages] == ["Customer", "Seller", "Seller"]
        assert forward.messages[2].is_image and "чек.png" in forward.messages[2].data[0]
        paged = await api.chat_history(ch.ChatHistoryRequest(chat_id=chat_id, limit=1))
        assert paged.has_next and paged.messages[0].message_id == forward.messages[2].message_id
        read = await api.chat_read(ch.ChatReadRequest(chat_id=chat_id,
                                                      from_message_id=first.message_id))
        assert read.unread_count == 0
        again = await api.chat_start(ch.ChatStartRequest(posting_number=posting))
        assert again.result.chat_id == chat_id

    asyncio.run(_run(base_url, creds, steps))

    with httpx.Client(base_url=base_url, headers=seller, timeout=10) as c:
        v2 = c.post("/v2/chat/history", json={"chat_id": chat_id, "limit": 10}).json()
        assert all(m["messageId"] == m["message_id"] for m in v2["messages"])
        link = v2["messages"][0]["data"][0].split("(", 1)[1].rstrip(")")
        file = c.get(link)
        assert file.status_code == 200 and file.content == PNG
        assert file.headers["content-type"] == "image/png"
        # bad requests: Ozon-shaped 4xx, nothing stored
        assert _ozon_error(c.post("/v1/chat/send/message", json={
            "chat_id": "no-such-chat", "text": "x"}), 404)["code"] == 5
        _ozon_error(c.post("/v1/chat/send/message", json={"chat_id": chat_id,
                                                           "text": "x" * 1001}), 400)
        _ozon_error(c.post("/v1/chat/send/file", json={
            "chat_id": chat_id, "name": "a.png", "base64_content": "not base64!"}), 400)
        big = base64.b64encode(b"\0" * (5 * 1024 * 1024 + 1)).decode()
        _ozon_error(c.post("/v1/chat/send/file", json={
            "chat_id": chat_id, "name": "big.bin", "base64_content": big}), 400)
        _ozon_error(c.post("/v1/chat/start", json={"posting_number": "00000000-0000-1"}), 404)
        after = c.post("/v3/chat/history", json={"chat_id": chat_id, "limit": 100}).json()
        assert len(after["messages"]) == 3
        assert c.post("/v1/chat/list", json={"limit": 10}).status_code == 404

    # the buyer sees the answers and reads them; the seller is told
    seen = httpx.get(f"{base_url}/marketplace/v1/postings/{posting}/chat", headers=platform,
                     timeout=10).json()
    assert [m["author"] for m in seen["messages"]] == ["Customer", "Seller", "Seller"]
    read = httpx.post(f"{base_url}/marketplace/v1/postings/{posting}/chat/read",
                      headers=platform, timeout=10)
    assert read.status_code == 200 and read.json()["unread_count"] == 0
    (new,) = _wait_for(receiver, "TYPE_NEW_MESSAGE", 1)
    assert new["chat_id"] == chat_id and new["data"] == ["Где мой заказ?"]
    assert new["seller_id"] == creds["client_id"] and new["chat_type"] == "Buyer_Seller"
    (was_read,) = _wait_for(receiver, "TYPE_MESSAGE_READ", 1)
    assert was_read["chat_id"] == chat_id
    assert was_read["last_read_message_id"] == seen["messages"][-1]["message_id"]


def test_freeze_date_only_lets_prices_fall(world) -> None:
    base_url, creds, _ = world
    now = datetime.now(UTC)
    freeze = now + timedelta(seconds=1.5)
    r = httpx.post(f"{base_url}/marketplace/v1/actions", headers=platform_headers(creds),
                   timeout=10, json={"title": "frozen soon", "client_id": creds["client_id"],
                                     "date_start": (now - timedelta(hours=1)).isoformat(),
                                     "date_end": (now + timedelta(days=1)).isoformat(),
                                     "freeze_date": freeze.isoformat()})
    assert r.status_code == 201, r.text
    action_id = r.json()["id"]
    with httpx.Client(base_url=base_url, headers=seller_headers(creds), timeout=10) as c:
        first, second = c.post("/v1/actions/candidates", json={
            "action_id": action_id, "limit": 2}).json()["result"]["products"]

        def join(product: dict, price: float, stock: int = 0) -> dict:
            return c.post("/v1/actions/products/activate", json={"action_id": action_id,
                          "products": [{"product_id": product["id"], "action_price": price,
                                        "stock": stock}]}).json()["result"]

        assert join(first, first["price"] - 10, stock=3)["product_ids"] == [first["id"]]
        time.sleep(max(0.0, (freeze - datetime.now(UTC)).total_seconds()) + 0.1)
        assert "frozen" in join(second, second["price"] - 10)["rejected"][0]["reason"]
        assert "frozen" in join(first, first["price"] - 5, stock=3)["rejected"][0]["reason"]
        assert "frozen" in join(first, first["price"] - 20, stock=2)["rejected"][0]["reason"]
        assert join(first, first["price"] - 20, stock=4)["product_ids"] == [first["id"]]
        left = c.post("/v1/actions/products/deactivate", json={
            "action_id": action_id, "product_ids": [first["id"]]}).json()["result"]
        assert left["product_ids"] == [] and "frozen" in left["rejected"][0]["reason"]
        products = c.post("/v1/actions/products", json={"action_id": action_id}).json()
        assert [(p["id"], p["action_price"], p["stock"]) for p in products["result"]["products"]
                ] == [(first["id"], first["price"] - 20, 4)]


def test_concurrent_writers_share_one_chat_and_one_action_row(world) -> None:
    base_url, creds, _ = world
    posting = _order(base_url, creds, creds["sku_base"] + 2)["postings"][0]["posting_number"]
    now = datetime.now(UTC)
    action_id = httpx.post(f"{base_url}/marketplace/v1/actions", headers=platform_headers(creds),
                           timeout=10, json={"title": "race", "client_id": creds["client_id"],
                                             "date_start": (now - timedelta(hours=1)).isoformat(),
                                             "date_end": (now + timedelta(days=1)).isoformat()}
                           ).json()["id"]

    async def burst() -> tuple[list[httpx.Response], list[httpx.Response]]:
        async with httpx.AsyncClient(base_url=base_url, timeout=20) as c:
            product = (await c.post("/v1/actions/candidates", headers=seller_headers(creds),
                                    json={"action_id": action_id, "limit": 1})
                       ).json()["result"]["products"][0]
            messages = [c.post(f"/marketplace/v1/postings/{posting}/chat/messages",
                               headers=platform_headers(creds), json={"text": f"#{i}"})
                        for i in range(6)]
            joins = [c.post("/v1/actions/products/activate", headers=seller_headers(creds),
                            json={"action_id": action_id, "products": [
                                {"product_id": product["id"], "action_price": product["price"]}]})
                     for _ in range(6)]
            return await asyncio.gather(*messages), await asyncio.gather(*joins)

    messages, joins = asyncio.run(burst())
    assert [r.status_code for r in messages] == [201] * 6, [r.text for r in messages]
    assert len({r.json()["chat_id"] for r in messages}) == 1
    assert [r.status_code for r in joins] == [200] * 6, [r.text for r in joins]
    with httpx.Client(base_url=base_url, headers=seller_headers(creds), timeout=10) as c:
        joined = c.post("/v1/actions/products", json={"action_id": action_id}).json()["result"]
        assert joined["total"] == 1
        history = c.post("/v3/chat/history", json={"chat_id": messages[0].json()["chat_id"],
                                                   "limit": 100}).json()
        assert sorted(m["data"][0] for m in history["messages"]) == [f"#{i}" for i in range(6)]


def test_back_dated_orders_sell_at_the_prices_of_their_time(tmp_path) -> None:
    """A replayed history's order (placed inside a caller's session, back-dated) takes the
    action price only when its own time falls inside the action's dates."""
    from sqlalchemy import select

    from reference_backend.db import Database
    from reference_backend.orders.service import place_order_in
    from reference_backend.promotions import service as promotions
    from reference_backend.tables import ActionProduct, Product

    url, creds = seeded_sqlite(tmp_path)
    db = Database(url)
    start = datetime(2026, 11, 27, 3, tzinfo=UTC)
    sku = creds["sku_base"] + 4
    try:
        with db.session() as session:
            product = session.execute(select(Product).where(Product.sku == sku)).scalar_one()
            action = promotions.create_action(
                session, seller_id=creds["seller_id"], title="past", date_start=start,
                date_end=start + timedelta(days=1), discount_value=10)
            session.flush()
            session.add(ActionProduct(
                action_id=action.id, seller_id=creds["seller_id"],
                product_id=product.product_id, action_price="99.50"))
            session.flush()

            def price(at: datetime) -> str:
                body = place_order_in(session, seller_id=creds["seller_id"], region="R-MSK",
                                      lines=[(sku, 1)], now=at)
                return body["postings"][0]["products"][0]["price"]

            assert price(start + timedelta(hours=5)) == "99.50"
            assert price(start - timedelta(hours=1)) == product.price
            assert price(start + timedelta(days=2)) == product.price
    finally:
        db.dispose()


# --------------------------------------------------------------------------- backlog of issue 22


def _joined_action(base_url: str, creds: dict, stock: int) -> tuple[int, dict, int]:
    """A running action (10 % off, every product) with the best-stocked SKU joined at its
    maximum price for ``stock`` units: (action id, its candidate row, the SKU)."""
    now = datetime.now(UTC)
    sku = creds["sku_base"]  # the most popular SKU: the most units in stock
    action_id = httpx.post(f"{base_url}/marketplace/v1/actions", headers=platform_headers(creds),
                           timeout=10, json={"title": f"limited {uuid.uuid4().hex[:6]}",
                                             "client_id": creds["client_id"], "discount_value": 10,
                                             "date_start": (now - timedelta(hours=1)).isoformat(),
                                             "date_end": (now + timedelta(days=1)).isoformat()}
                           ).json()["id"]
    with httpx.Client(base_url=base_url, headers=seller_headers(creds), timeout=10) as c:
        product_id = c.post("/v3/product/info/list", json={"sku": [sku]}).json()["items"][0]["id"]
        candidates = c.post("/v1/actions/candidates", json={"action_id": action_id, "limit": 1000}
                            ).json()["result"]["products"]
        product = next(p for p in candidates if p["id"] == product_id)
        joined = c.post("/v1/actions/products/activate", json={"action_id": action_id, "products": [
            {"product_id": product_id, "action_price": product["max_action_price"],
             "stock": stock}]}).json()["result"]
        assert joined["product_ids"] == [product_id], joined
    return action_id, product, sku


def test_action_price_only_while_the_action_stock_lasts(world) -> None:
    """N concurrent one-unit orders against an action stock of k: exactly k sell at the
    action price, the rest above it (the own price, or another running action's: other tests'
    actions run too); a line that does not fit in what is left sells without it; the stock
    cannot drop below the units sold."""
    base_url, creds, _ = world
    k, n = 3, 8
    action_id, product, sku = _joined_action(base_url, creds, stock=k)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as c:
            return await asyncio.gather(*[c.post(
                "/marketplace/v1/orders",
                headers={**platform_headers(creds), "Idempotency-Key": uuid.uuid4().hex},
                json={"client_id": creds["client_id"], "region": "R-MSK",
                      "lines": [{"sku": sku, "quantity": 1}]}) for _ in range(n)])

    placed = asyncio.run(burst())
    assert [r.status_code for r in placed] == [201] * n, [r.text for r in placed]
    prices = [float(p["price"]) for r in placed for posting in r.json()["postings"]
              for p in posting["products"]]
    action_price = product["max_action_price"]
    assert prices.count(action_price) == k, prices
    assert all(p > action_price for p in prices if p != action_price), prices

    with httpx.Client(base_url=base_url, headers=seller_headers(creds), timeout=10) as c:
        def activate(stock: int) -> dict:
            return c.post("/v1/actions/products/activate", json={
                "action_id": action_id, "products": [{
                    "product_id": product["id"], "action_price": product["max_action_price"],
                    "stock": stock}]}).json()["result"]

        below = activate(k - 1)  # below the k units sold: refused, nothing changed
        assert below["product_ids"] == [] and "already sold" in below["rejected"][0]["reason"]
        assert activate(k + 1)["product_ids"] == [product["id"]]  # one unit left
    two = _order(base_url, creds, sku, 2)["postings"][0]["products"][0]
    assert float(two["price"]) > action_price  # 2 units do not fit in the 1 left
    one = _order(base_url, creds, sku, 1)["postings"][0]["products"][0]
    assert float(one["price"]) == pytest.approx(action_price)
    after = _order(base_url, creds, sku, 1)["postings"][0]["products"][0]
    assert float(after["price"]) > action_price


def test_discount_requests_are_seen_and_bought_at_the_approved_price(world) -> None:
    base_url, creds, _ = world
    platform = platform_headers(creds)
    sku = creds["sku_base"] + 4

    def request_discount(price: float) -> int:
        r = httpx.post(f"{base_url}/marketplace/v1/discount-requests", headers=platform,
                       timeout=10, json={"client_id": creds["client_id"], "sku": sku,
                                         "requested_price": price, "quantity_max": 2})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def buy(task_id: int, quantity: int) -> httpx.Response:
        return httpx.post(f"{base_url}/marketplace/v1/discount-requests/{task_id}/orders",
                          headers=platform, timeout=10,
                          json={"region": "R-MSK", "quantity": quantity})

    with httpx.Client(base_url=base_url, headers=seller_headers(creds), timeout=10) as c:
        price = float(c.post("/v3/product/info/list", json={"sku": [sku]}).json()["items"][0][
            "price"])
        task_id, other = request_discount(round(price * 0.8, 2)), request_discount(price - 1)

        def status(task: int) -> str:
            rows = c.post("/v1/actions/discounts-task/list",
                          json={"status": "UNKNOWN", "page": 1, "limit": 1000}).json()["result"]
            return next(t["status"] for t in rows if t["id"] == task)

        read = c.post("/v2/actions/discounts-task/list", json={"status": "NEW", "limit": 50})
        assert task_id in [t["id"] for t in read.json()["tasks"]]
        assert status(task_id) == "SEEN"  # read once: no longer NEW
        new = c.post("/v1/actions/discounts-task/list", json={"status": "NEW", "page": 1,
                                                              "limit": 1000}).json()["result"]
        assert task_id not in [t["id"] for t in new]

        assert buy(task_id, 1).json()["code"] == "DISCOUNT_NOT_APPROVED"  # not decided yet
        approved = round(price * 0.85, 2)
        c.post("/v1/actions/discounts-task/approve", json={"tasks": [{
            "id": task_id, "approved_price": approved, "approved_quantity_min": 1,
            "approved_quantity_max": 2}]})
        too_many = buy(task_id, 3)
        assert too_many.status_code == 400 and too_many.json()["code"] == "QUANTITY_NOT_APPROVED"
        bought = buy(task_id, 2)
        assert bought.status_code == 201, bought.text
        lines = [p for posting in bought.json()["postings"] for p in posting["products"]]
        assert sum(p["quantity"] for p in lines) == 2
        assert {float(p["price"]) for p in lines} == {approved}
        again = buy(task_id, 1)
        assert again.status_code == 409 and again.json()["code"] == "DISCOUNT_NOT_APPROVED"
        assert status(task_id) == "PURCHASED"
        assert buy(other, 1).status_code == 409  # the other buyer has no approved price
        assert buy(999_999_999, 1).status_code == 404
    ordinary = _order(base_url, creds, sku)["postings"][0]["products"][0]
    assert float(ordinary["price"]) == pytest.approx(price)  # everyone else: the own price


def test_buyer_chats_need_premium_plus(world) -> None:
    """Without Premium Plus (or Pro) history, send, read and start are 403 with Ozon's body;
    the list stays open."""
    from sqlalchemy import update

    from reference_backend.db import Database
    from reference_backend.settings import Settings
    from reference_backend.tables import Seller

    base_url, creds, _ = world
    url = DATABASE_URLS[base_url]
    posting = _order(base_url, creds, creds["sku_base"] + 1)["postings"][0]["posting_number"]
    db = Database(url, Settings(database_url=url))

    def subscribe(plan: str) -> None:
        with db.session() as session:
            session.execute(update(Seller).where(Seller.client_id == creds["client_id"])
                            .values(subscription=plan))

    with httpx.Client(base_url=base_url, headers=seller_headers(creds), timeout=10) as c:
        chat_id = c.post("/v1/chat/start", json={"posting_number": posting}).json()["result"][
            "chat_id"]
        try:
            subscribe("PREMIUM")
            for path, body in [("/v1/chat/start", {"posting_number": posting}),
                               ("/v3/chat/history", {"chat_id": chat_id}),
                               ("/v2/chat/history", {"chat_id": chat_id, "limit": 5}),
                               ("/v1/chat/send/message", {"chat_id": chat_id, "text": "Привет"}),
                               ("/v2/chat/read", {"chat_id": chat_id})]:
                refused = _ozon_error(c.post(path, json=body), 403)
                assert refused["code"] == 7 and "Premium Plus" in refused["message"], path
            assert c.post("/v3/chat/list", json={"limit": 10}).status_code == 200
            subscribe("PREMIUM_PRO")
            sent = c.post("/v1/chat/send/message", json={"chat_id": chat_id, "text": "Добрый день"})
            assert sent.json() == {"result": "success"}
        finally:
            subscribe("PREMIUM_PLUS")
            db.dispose()
    history = httpx.post(f"{base_url}/v3/chat/history", headers=seller_headers(creds), timeout=10,
                         json={"chat_id": chat_id}).json()["messages"]
    assert [m["data"][0] for m in history] == ["Добрый день"]  # nothing sent while refused
