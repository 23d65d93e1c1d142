"""Ozon's rate limits (spec §1.6), opt-in: 429 with Ozon's error body and ``Retry-After``,
per Client-Id, per method, nothing changed by a refused request; off by default."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from reference_backend.app import create_app
from reference_backend.settings import Settings
from tests.backend_support import seeded_sqlite, seller_headers


@contextmanager
def serving(directory: Path, **limits: Any) -> Iterator[tuple[TestClient, dict]]:
    url, creds = seeded_sqlite(directory)
    settings = Settings(database_url=url, migrate_on_start=False, log_requests=False,
                        run_outbox_worker=False, log_level="WARNING", **limits)
    with TestClient(create_app(settings)) as client:
        yield client, creds


def _roles(client: TestClient, creds: dict) -> int:
    return client.post("/v1/roles", headers=seller_headers(creds), json={}).status_code


def _assert_throttled(response: Any, per: str, longest_wait: int) -> None:
    assert response.status_code == 429
    assert response.json() == {
        "code": 8, "message": f"You have reached request rate limit per {per}", "details": []}
    assert response.headers["content-type"].startswith("application/json")
    assert 1 <= int(response.headers["retry-after"]) <= longest_wait


def _burst_within_a_second(c: TestClient, creds: dict, n: int) -> list[Any]:
    """``n`` requests sent within one second (tried again, once the window has passed, if a
    busy machine stretched a burst past it)."""
    for _ in range(5):
        started = time.monotonic()
        answers = [c.post("/v1/roles", headers=seller_headers(creds), json={})
                   for _ in range(n)]
        if time.monotonic() - started < 0.9:
            return answers
        time.sleep(1.1)  # the moving window forgets this burst
    pytest.fail(f"{n} requests never fitted in one second")


def test_a_client_over_its_limit_per_second_gets_429s(tmp_path):
    with serving(tmp_path, ozon_rate_limits=True, ozon_rate_limit_per_second=5) as (c, creds):
        answers = _burst_within_a_second(c, creds, 8)
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 3
        _assert_throttled(answers[-1], "second", 1)
        other = {"Client-Id": "999999", "Api-Key": "x"}  # another Client-Id: its own count
        assert c.post("/v1/roles", headers=other, json={}).status_code != 429
        # Peakline's own paths are not Ozon's methods
        assert c.get("/peakline/v1/alerts", headers=seller_headers(creds)).status_code == 200


class Stocks:
    """Two products of the seeded seller at one warehouse: set and read their stock."""

    def __init__(self, client: TestClient, creds: dict) -> None:
        self.client, self.headers = client, seller_headers(creds)
        self.products = client.post("/v4/product/info/stocks", headers=self.headers, json={
            "filter": {"visibility": "ALL"}, "limit": 2}).json()["items"]
        self.warehouse = client.post("/v1/warehouse/list", headers=self.headers,
                                     json={}).json()["result"][0]["warehouse_id"]

    def update(self, *stocks: int) -> Any:
        return self.client.post("/v2/products/stocks", headers=self.headers, json={"stocks": [
            {"product_id": p["product_id"], "warehouse_id": self.warehouse, "stock": n}
            for p, n in zip(self.products, stocks, strict=False)]})  # the first len(stocks)

    def present(self) -> list[int]:
        skus = [p["stocks"][0]["sku"] for p in self.products]
        rows = self.client.post("/v1/product/info/stocks-by-warehouse/fbs",
                                headers=self.headers, json={"sku": skus}).json()["result"]
        by_sku = {r["sku"]: r["present"] for r in rows if r["warehouse_id"] == self.warehouse}
        return [by_sku[s] for s in skus]


def test_a_method_limit_refuses_without_changing_anything(tmp_path):
    limits = {"/v2/products/stocks": "1/minute"}
    with serving(tmp_path, ozon_rate_limits=True, ozon_method_rate_limits=limits) as (c, creds):
        stocks = Stocks(c, creds)
        assert stocks.update(7).status_code == 200
        assert stocks.present()[0] == 7
        _assert_throttled(stocks.update(9), "minute", 60)
        assert stocks.present()[0] == 7
        assert _roles(c, creds) == 200  # other methods keep their own count


def test_a_stock_pair_set_too_soon_is_an_item_error(tmp_path):
    with serving(tmp_path, ozon_rate_limits=True) as (c, creds):
        stocks = Stocks(c, creds)
        first = stocks.update(7)
        assert first.status_code == 200 and first.json()["result"][0]["updated"] is True
        again = stocks.update(9, 4)  # the first pair again at once, the second for the first time
        assert again.status_code == 200
        too_soon, fresh = again.json()["result"]
        assert too_soon["updated"] is False
        assert [e["code"] for e in too_soon["errors"]] == ["TOO_MANY_REQUESTS"]
        assert fresh["updated"] is True and not fresh["errors"]
        assert stocks.present() == [7, 4]


def test_off_by_default(tmp_path):
    with serving(tmp_path) as (c, creds):
        assert {_roles(c, creds) for _ in range(60)} == {200}


def test_workers_share_their_counts_through_redis(tmp_path):
    """Two apps (two worker processes' worth) over one Redis count one Client-Id together
    (a limit per minute, so that a busy machine cannot stretch the requests past its window)."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    shared = {"ozon_rate_limits": True, "ozon_method_rate_limits": {"/v1/roles": "5/minute"},
              "ozon_rate_limit_storage": "async+redis://127.0.0.1:6379"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with serving(tmp_path / "a", **shared) as (first, creds), \
            serving(tmp_path / "b", **shared) as (second, _):
        limits = first.app.state.ozon_limits  # forget counts an earlier run left in Redis
        first.portal.call(limits.limiter.clear, limits.per_method["/v1/roles"],
                          str(creds["client_id"]), "/v1/roles")
        codes = [_roles(client, creds) for _ in range(4) for client in (first, second)]
    assert sorted(codes) == [200] * 5 + [429] * 3


def test_a_price_set_too_often_is_an_item_error(tmp_path):
    with serving(tmp_path, ozon_rate_limits=True) as (c, creds):
        product_id = Stocks(c, creds).products[0]["product_id"]

        def set_price(price: str) -> dict:
            answer = c.post("/v1/product/import/prices", headers=seller_headers(creds), json={
                "prices": [{"product_id": product_id, "price": price}]})
            assert answer.status_code == 200
            return answer.json()["result"][0]

        assert all(set_price(f"{100 + i}")["updated"] for i in range(10))  # 10 an hour
        refused = set_price("999")
        assert refused["updated"] is False
        assert [e["code"] for e in refused["errors"]] == ["TOO_MANY_REQUESTS"]
        info = c.post("/v3/product/info/list", headers=seller_headers(creds),
                      json={"product_id": [product_id]}).json()["items"][0]
        assert float(info["price"]) == 109


def test_products_past_the_daily_quota_fail_with_item_limit_exceeded(tmp_path):
    """A daily quota of 2 products created or updated: the third valid item fails, and an
    invalid item fails for its own reason without using the quota."""
    with serving(tmp_path, ozon_rate_limits=True, ozon_product_import_daily_limit=2) as (c, creds):
        headers = seller_headers(creds)

        def imported(*offers: tuple[str, str]) -> list[dict]:
            task = c.post("/v3/product/import", headers=headers, json={"items": [
                {"offer_id": offer, "name": f"Quota {offer}", "price": price, "vat": "0"}
                for offer, price in offers]})
            assert task.status_code == 200
            info = c.post("/v1/product/import/info", headers=headers,
                          json={"task_id": task.json()["result"]["task_id"]})
            return [(i["offer_id"], i["status"], [e["code"] for e in i["errors"]])
                    for i in info.json()["result"]["items"]]

        assert imported(("Q-1", "100"), ("Q-BAD", "0"), ("Q-2", "100"), ("Q-3", "100")) == [
            ("Q-1", "imported", []), ("Q-BAD", "failed", ["INVALID_PRICE"]),
            ("Q-2", "imported", []), ("Q-3", "failed", ["item_limit_exceeded"])]
        assert imported(("Q-1", "120")) == [("Q-1", "failed", ["item_limit_exceeded"])]
        listed = c.post("/v3/product/list", headers=headers, json={
            "filter": {"offer_id": ["Q-1", "Q-2", "Q-3"], "visibility": "ALL"}, "limit": 10})
        assert sorted(i["offer_id"] for i in listed.json()["result"]["items"]) == ["Q-1", "Q-2"]
        info = c.post("/v3/product/info/list", headers=headers, json={"offer_id": ["Q-1"]})
        assert info.json()["items"][0]["price"] == "100"  # the refused update changed nothing


def test_no_daily_quota_unless_one_is_set(tmp_path):
    with serving(tmp_path, ozon_rate_limits=True) as (c, creds):
        task = c.post("/v3/product/import", headers=seller_headers(creds), json={"items": [
            {"offer_id": f"N-{i}", "name": f"N {i}", "price": "10", "vat": "0"}
            for i in range(100)]})
        info = c.post("/v1/product/import/info", headers=seller_headers(creds),
                      json={"task_id": task.json()["result"]["task_id"]}).json()["result"]
        assert {i["status"] for i in info["items"]} == {"imported"} and info["total"] == 100
