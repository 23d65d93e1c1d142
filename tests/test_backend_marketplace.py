"""Marketplace endpoints and seller extras, in-process (TestClient over a real SQLite file).

Each refused request is checked to leave the database exactly as it was.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from reference_backend.app import create_app
from reference_backend.db import Database
from reference_backend.postings import transitions
from reference_backend.settings import Settings
from reference_backend.stock import rows as stock
from reference_backend.tables import (
    IdempotencyKey,
    Order,
    OutboxEvent,
    Posting,
    PostingItem,
    Return,
    Stock,
)
from simulator.lifecycle import PostingStatus
from tests.backend_support import platform_headers, seeded_sqlite, seller_headers

ORDERS = "/marketplace/v1/orders"
EVENTS = "/marketplace/v1/logistics/events"


class World:
    """A seeded smoke seller behind an in-process app."""

    def __init__(self, client: TestClient, creds: dict, db: Database) -> None:
        self.client, self.creds, self.db = client, creds, db
        self.platform = platform_headers(creds)
        self.seller = seller_headers(creds)
        self.sku = creds["sku_base"]
        self.msk, self.spb = creds["warehouses"]["WH-MSK"], creds["warehouses"]["WH-SPB"]

    def order(self, lines, region="R-MSK", key=None, expect=201):
        headers = {**self.platform, **({"Idempotency-Key": key} if key else {})}
        body = {"client_id": self.creds["client_id"], "region": region,
                "lines": [{"sku": s, "quantity": q} for s, q in lines]}
        response = self.client.post(ORDERS, json=body, headers=headers)
        assert response.status_code == expect, response.text
        return response.json()

    def stock_of(self, sku, warehouse):
        with self.db.read_session() as session:
            row = session.execute(select(Stock.present, Stock.reserved).where(
                Stock.sku == sku, Stock.warehouse_id == warehouse)).one()
        return tuple(row)

    def set_present(self, sku, warehouse, present):
        with self.db.session() as session:
            stock.set_present(session, seller_id=self.creds["seller_id"], sku=sku,
                              warehouse_id=warehouse, present=present)

    def move(self, posting_number, *targets):
        with self.db.session() as session:
            posting = transitions.get_posting(session, seller_id=self.creds["seller_id"],
                                              posting_number=posting_number, lock=True)
            for target in targets:
                transitions.change_status(session, posting, target)

    def event(self, posting_number, event, expect=200):
        response = self.client.post(EVENTS, json={"posting_number": posting_number,
                                                  "event": event}, headers=self.platform)
        assert response.status_code == expect, response.text
        return response.json()

    def snapshot(self):
        """Everything a request could have changed (row counts, stock checksums, statuses)."""
        weight = Stock.id % 97 + 1
        with self.db.read_session() as session:
            counts = tuple(session.scalar(select(func.count()).select_from(t)) for t in
                           (Order, Posting, PostingItem, OutboxEvent, Return, IdempotencyKey))
            levels = tuple(session.execute(select(
                func.sum(Stock.present * weight), func.sum(Stock.reserved * weight),
                func.sum(Stock.warning_level * weight))).one())
            statuses = tuple(session.execute(
                select(Posting.status, func.count()).group_by(Posting.status)
                .order_by(Posting.status)).all())
        return counts, levels, statuses


@pytest.fixture()
def world(tmp_path):
    url, creds = seeded_sqlite(tmp_path)
    app = create_app(Settings(database_url=url, log_requests=False, log_level="WARNING",
                              run_outbox_worker=False, migrate_on_start=False))
    db = Database(url)
    with TestClient(app) as client:
        yield World(client, creds, db)
    db.dispose()


def test_order_is_allocated_reserved_and_split(world):
    w = world
    w.set_present(w.sku, w.msk, 3)
    w.set_present(w.sku, w.spb, 10)
    body = w.order([(w.sku, 5), (w.sku + 1, 1)], region="R-MSK")
    assert body["order_number"].count("-") == 1
    postings = {p["warehouse_id"]: p for p in body["postings"]}
    # nearest_with_stock: MSK cannot hold 5 units; the line goes whole to SPB (no split needed)
    assert sum(p["quantity"] for post in body["postings"] for p in post["products"]) == 6
    assert all(p["status"] == "awaiting_packaging" for p in postings.values())
    prefix = body["order_number"] + "-"
    assert all(p["posting_number"].startswith(prefix) for p in postings.values())
    assert all(isinstance(pr["price"], str) for p in postings.values() for pr in p["products"])
    reserved = w.stock_of(w.sku, w.msk)[1] + w.stock_of(w.sku, w.spb)[1]
    assert reserved == 5


def test_short_stock_is_409_and_changes_nothing(world):
    w = world
    w.set_present(w.sku, w.msk, 2)
    w.set_present(w.sku, w.spb, 1)
    before = w.snapshot()
    body = w.order([(w.sku + 1, 1), (w.sku, 4)], key="short", expect=409)
    assert body["code"] == "OUT_OF_STOCK"
    assert body["details"] == [{"line": 1, "sku": w.sku, "requested": 4, "available": 3}]
    assert w.snapshot() == before


@pytest.mark.parametrize("payload", [
    {},
    {"client_id": "100001", "region": "R-MSK", "lines": []},
    {"client_id": "100001", "region": "R-MSK", "lines": [{"sku": 1, "quantity": 0}]},
    {"client_id": "100001", "region": "R-MSK", "lines": [{"sku": "x", "quantity": 1}]},
    {"client_id": "abc", "region": "R-MSK", "lines": [{"sku": 1, "quantity": 1}]},
    {"client_id": "100001", "region": "", "lines": [{"sku": 1, "quantity": 1}]},
    "not an object",
])
def test_bad_order_bodies_are_400_and_change_nothing(world, payload):
    before = world.snapshot()
    response = world.client.post(ORDERS, json=payload, headers=world.platform)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert world.snapshot() == before


def test_unknown_sku_region_or_seller_change_nothing(world):
    w = world
    before = w.snapshot()
    assert w.order([(w.sku + 10**6, 1)], expect=400)["code"] == "UNKNOWN_SKU"
    assert w.order([(w.sku, 1)], region="R-NOWHERE", expect=400)["code"] == "UNKNOWN_REGION"
    response = w.client.post(ORDERS, headers=w.platform, json={
        "client_id": "999999", "region": "R-MSK", "lines": [{"sku": w.sku, "quantity": 1}]})
    assert response.status_code == 404 and response.json()["code"] == "SELLER_NOT_FOUND"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
        response = w.client.post(ORDERS, headers=headers, json={
            "client_id": w.creds["client_id"], "region": "R-MSK",
            "lines": [{"sku": w.sku, "quantity": 1}]})
        assert response.status_code == 401 and response.json()["code"] == "UNAUTHENTICATED"
    assert w.snapshot() == before


def test_idempotency_key_replays_or_conflicts(world):
    w = world
    first = w.order([(w.sku, 2)], key="k-1")
    after_first = w.snapshot()
    again = w.client.post(ORDERS, headers={**w.platform, "Idempotency-Key": "k-1"}, json={
        "client_id": w.creds["client_id"], "region": "R-MSK",
        "lines": [{"sku": w.sku, "quantity": 2}]})
    assert again.status_code == 201 and again.json() == first
    assert again.headers["idempotent-replayed"] == "true"
    other = w.order([(w.sku, 3)], key="k-1", expect=422)
    assert other["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert w.snapshot() == after_first


def test_idempotency_key_is_documented_and_bounded(world):
    """The header is read by hand on this route; it must still be in the OpenAPI document and
    refused beyond 255 characters like a declared header parameter, changing nothing."""
    w = world
    operation = w.client.get("/openapi.json").json()["paths"][ORDERS]["post"]
    (parameter,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert parameter["in"] == "header" and parameter["required"] is False
    assert {"type": "string", "maxLength": 255} in parameter["schema"]["anyOf"]
    before = w.snapshot()
    refused = w.order([(w.sku, 1)], key="k" * 256, expect=400)
    assert refused["code"] == "INVALID_ARGUMENT"
    assert "Idempotency-Key" in str(refused["details"])
    assert w.snapshot() == before
    w.order([(w.sku, 1)], key="k" * 255)  # the longest key is accepted
    blank = w.order([(w.sku, 1)], key="  ")  # a blank key is no key: a new order each time
    assert w.order([(w.sku, 1)], key="  ")["order_id"] != blank["order_id"]


def test_cancel_before_shipment_releases_the_reservation(world):
    w = world
    before = w.stock_of(w.sku, w.msk)
    body = w.order([(w.sku, 3)])
    assert w.stock_of(w.sku, w.msk) == (before[0], before[1] + 3)
    response = w.client.post(f"{ORDERS}/{body['order_number']}/cancel",
                             json={"reason": "changed my mind"}, headers=w.platform)
    assert response.status_code == 200, response.text
    assert [p["status"] for p in response.json()["postings"]] == ["cancelled"]
    assert w.stock_of(w.sku, w.msk) == before
    with w.db.read_session() as session:
        types = session.scalars(select(OutboxEvent.event_type).order_by(OutboxEvent.id)).all()
    assert types == ["TYPE_NEW_POSTING", "TYPE_POSTING_CANCELLED"]
    # cancelling again is a no-op, not a second release
    again = w.client.post(f"{ORDERS}/{body['order_number']}/cancel", headers=w.platform)
    assert again.status_code == 200 and w.stock_of(w.sku, w.msk) == before


def test_cancel_after_shipment_is_409_and_changes_nothing(world):
    w = world
    body = w.order([(w.sku, 1)])
    number = body["postings"][0]["posting_number"]
    w.move(number, PostingStatus.AWAITING_DELIVER)
    w.event(number, "sorting_accepted")
    before = w.snapshot()
    response = w.client.post(f"{ORDERS}/{body['order_number']}/cancel", headers=w.platform)
    assert response.status_code == 409 and response.json()["code"] == "ALREADY_SHIPPED"
    assert w.snapshot() == before
    missing = w.client.post(f"{ORDERS}/99999999-0001/cancel", headers=w.platform)
    assert missing.status_code == 404


def test_logistics_events_follow_the_lifecycle(world):
    w = world
    present, reserved = w.stock_of(w.sku, w.msk)
    number = w.order([(w.sku, 2)])["postings"][0]["posting_number"]
    before = w.snapshot()
    illegal = w.event(number, "delivered", expect=409)
    assert illegal["code"] == "ILLEGAL_TRANSITION"
    assert w.event(number, "sorting_accepted", expect=409)["details"][0]["status"] == \
        "awaiting_packaging"
    assert w.snapshot() == before
    w.move(number, PostingStatus.AWAITING_DELIVER)
    accepted = w.event(number, "sorting_accepted")
    assert accepted["status"] == "delivering"
    assert w.stock_of(w.sku, w.msk) == (present - 2, reserved)  # consumed on hand-over
    assert w.event(number, "delivered")["status"] == "delivered"
    assert w.event(number, "delivered", expect=409)["code"] == "ILLEGAL_TRANSITION"
    missing = w.client.post(EVENTS, json={"posting_number": "1-1", "event": "delivered"},
                            headers=w.platform)
    assert missing.status_code == 404
    bad = w.client.post(EVENTS, json={"posting_number": number, "event": "teleported"},
                        headers=w.platform)
    assert bad.status_code == 400


def test_sorting_refusal_is_not_accepted_and_comes_back_as_a_return(world):
    w = world
    number = w.order([(w.sku, 1)])["postings"][0]["posting_number"]
    w.move(number, PostingStatus.AWAITING_DELIVER)
    assert w.event(number, "sorting_refused")["status"] == "not_accepted"
    pending = w.client.get("/peakline/v1/returns", params={"status": "MovingToSeller"},
                           headers=w.seller).json()["returns"]
    assert [(r["posting_number"], r["type"], r["quantity"]) for r in pending] == [
        (number, "Cancellation", 1)]


def _delivered(w, lines):
    body = w.order(lines)
    number = body["postings"][0]["posting_number"]
    w.move(number, PostingStatus.AWAITING_DELIVER)
    w.event(number, "sorting_accepted")
    w.event(number, "delivered")
    return number, body


def test_return_request_and_processing(world):
    w = world
    number, body = _delivered(w, [(w.sku, 3)])
    price = Decimal(body["postings"][0]["products"][0]["price"])
    present_after_delivery = w.stock_of(w.sku, w.msk)[0]

    first = w.client.post(f"/marketplace/v1/postings/{number}/return", headers=w.platform,
                          json={"lines": [{"sku": w.sku, "quantity": 2}], "reason": "too big"})
    assert first.status_code == 201, first.text
    (ret,) = first.json()["returns"]
    assert ret["status"] == "MovingToSeller" and ret["quantity"] == 2
    before = w.snapshot()
    too_many = w.client.post(f"/marketplace/v1/postings/{number}/return", headers=w.platform,
                             json={"lines": [{"sku": w.sku, "quantity": 2}]})
    assert too_many.status_code == 409 and too_many.json()["code"] == "RETURN_EXCEEDS_DELIVERED"
    assert w.snapshot() == before

    received = w.client.post(f"/peakline/v1/returns/{ret['id']}/receive", headers=w.seller)
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "ReceivedBySeller"
    assert Decimal(received.json()["refund_amount"]) == price * 2
    assert w.stock_of(w.sku, w.msk)[0] == present_after_delivery + 2
    twice = w.client.post(f"/peakline/v1/returns/{ret['id']}/write-off", headers=w.seller)
    assert twice.status_code == 409 and twice.json()["code"] == "ALREADY_PROCESSED"

    rest = w.client.post(f"/marketplace/v1/postings/{number}/return", headers=w.platform)
    (last,) = rest.json()["returns"]
    assert last["quantity"] == 1
    written_off = w.client.post(f"/peakline/v1/returns/{last['id']}/write-off", headers=w.seller)
    assert written_off.json()["status"] == "Utilized"
    assert Decimal(written_off.json()["refund_amount"]) == price
    assert w.stock_of(w.sku, w.msk)[0] == present_after_delivery + 2
    again = w.client.post(f"/marketplace/v1/postings/{number}/return", headers=w.platform)
    assert again.status_code == 409


def test_return_only_for_delivered_postings(world):
    w = world
    number = w.order([(w.sku, 1)])["postings"][0]["posting_number"]
    before = w.snapshot()
    response = w.client.post(f"/marketplace/v1/postings/{number}/return", headers=w.platform)
    assert response.status_code == 409 and response.json()["code"] == "NOT_DELIVERED"
    assert w.snapshot() == before


def test_exchange_posts_a_replacement(world):
    w = world
    number, _ = _delivered(w, [(w.sku + 2, 1)])
    (ret,) = w.client.post(f"/marketplace/v1/postings/{number}/return",
                           headers=w.platform).json()["returns"]
    reserved = w.stock_of(w.sku + 2, w.msk)[1]
    response = w.client.post(f"/peakline/v1/returns/{ret['id']}/exchange", headers=w.seller,
                             json={"disposition": "restock"})
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["returned"]["refund_amount"] == "0.00"
    replacement = out["replacement"]["postings"][0]
    assert out["returned"]["exchange_posting_number"] == replacement["posting_number"]
    assert replacement["status"] == "awaiting_packaging"
    assert w.stock_of(w.sku + 2, w.msk)[1] == reserved + 1


def test_warning_levels_alerts_and_replenishment(world):
    w = world
    levels = w.client.get("/peakline/v1/warning-levels", headers=w.seller,
                          params={"sku": [w.sku], "warehouse_id": [w.msk]}).json()["items"]
    assert len(levels) == 1 and levels[0]["warning_level"] > 0
    result = w.client.put("/peakline/v1/warning-levels", headers=w.seller, json={"items": [
        {"sku": w.sku, "warehouse_id": w.msk, "warning_level": 10**6},
        {"sku": w.sku, "warehouse_id": 12345, "warning_level": 1},
    ]}).json()["result"]
    assert [r["updated"] for r in result] == [True, False]
    assert result[1]["errors"][0]["code"] == "STOCK_NOT_FOUND"
    alerts = w.client.get("/peakline/v1/alerts", headers=w.seller).json()["items"]
    assert any(a["sku"] == w.sku and a["warehouse_id"] == w.msk and a["shortfall"] > 0
               for a in alerts)
    assert all(a["available"] < a["warning_level"] for a in alerts)

    # sell most of a SKU, then the s_S policy suggests refilling to S = 5 days of demand
    w.set_present(w.sku + 5, w.msk, 40)
    for _ in range(6):
        w.order([(w.sku + 5, 6)])
    out = w.client.get("/peakline/v1/replenishment", headers=w.seller,
                       params={"sku": [w.sku + 5], "warehouse_id": [w.msk]}).json()
    (item,) = out["items"]
    assert out["policy"]["name"] == "s_S"
    assert item["mean_daily_demand"] == pytest.approx(36 / 14, abs=1e-3)
    assert item["inventory_position"] == 4
    expected_s_level = round(5 * 36 / 14)
    assert item["suggested_quantity"] == pytest.approx(expected_s_level - 4, abs=1)


def test_seller_routes_need_seller_keys(world):
    w = world
    assert w.client.get("/peakline/v1/alerts").status_code == 401
    assert w.client.get("/peakline/v1/alerts", headers=w.platform).status_code == 401
    assert w.client.get("/peakline/v1/returns/1", headers=w.seller).status_code == 404
