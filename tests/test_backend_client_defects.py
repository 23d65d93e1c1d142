"""The wire defects public clients found (issue 22), over HTTP against a real uvicorn on SQLite
and PostgreSQL.

``ozon-seller`` (strict dataclasses; it hard-codes Ozon's base URL, patched here as the
compatibility notes say) reads the posting with its financial data, the legacy FBS returns
list and the raw label PDF; the rest is plain HTTP as the Ozon docs describe it.
"""

from __future__ import annotations

import base64
import contextlib
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, update

from reference_backend.auth import SELLER_KEY_CACHE_SECONDS
from reference_backend.db import Database
from reference_backend.migrations import alembic_config, downgrade, upgrade
from reference_backend.tables import ApiKey
from tests.backend_support import (
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    running_server,
    seed_smoke,
    seeded_sqlite,
    seller_headers,
)

ozon_seller = pytest.importorskip("ozon_seller")

from ozon_seller import posting_fbs_get, posting_fbs_package_label, returns_fbs  # noqa: E402
from ozon_seller.common import credentials, request_api  # noqa: E402


@dataclass
class Seller:
    base_url: str
    creds: dict[str, Any]
    db_url: str

    @property
    def sku0(self) -> int:
        return self.creds["sku_base"]

    def post(self, path: str, body: Any, **headers: str) -> httpx.Response:
        return httpx.post(self.base_url + path, json=body, timeout=30,
                          headers={**seller_headers(self.creds), **headers})

    def ok(self, path: str, body: Any) -> Any:
        response = self.post(path, body)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def posting(self, number: str) -> dict[str, Any]:
        return self.ok("/v3/posting/fbs/get", {"posting_number": number})["result"]

    def order(self, lines: list[tuple[int, int]]) -> list[str]:
        """A buyer order (marketplace endpoint); its posting numbers."""
        response = httpx.post(
            f"{self.base_url}/marketplace/v1/orders",
            json={"client_id": self.creds["client_id"], "region": "R-MSK",
                  "lines": [{"sku": s, "quantity": q} for s, q in lines]},
            headers={**platform_headers(self.creds), "Idempotency-Key": uuid.uuid4().hex},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return [p["posting_number"] for p in response.json()["postings"]]

    def ship(self, number: str, packages: list[list[tuple[int, int]]]) -> list[str]:
        body = {"posting_number": number, "packages": [
            {"products": [{"product_id": p, "quantity": q} for p, q in pkg]} for pkg in packages]}
        return self.ok("/v4/posting/fbs/ship", body)["result"]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def seller(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[Seller]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url, creds = seeded_sqlite(tmp_path_factory.mktemp("client_defects"))
        else:
            if not postgres_admin_url():
                pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
            url = stack.enter_context(fresh_postgres_url())
            creds = seed_smoke(url)
        yield Seller(stack.enter_context(running_server(url)), creds, url)


@pytest.fixture
def strict_client(seller: Seller, monkeypatch: pytest.MonkeyPatch) -> credentials.Credentials:
    """``ozon-seller`` pointed at the server (it has no base-URL option)."""
    monkeypatch.setattr(request_api, "_API_BASE_URL", seller.base_url)
    return credentials.Credentials(seller.creds["client_id"], seller.creds["api_key"])


def _refused(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    return body["message"]


# --------------------------------------------------------------------------- §2.4 disputes


def test_disputes_only_after_hand_over_and_back_to_awaiting_deliver(seller: Seller) -> None:
    [number] = seller.order([(seller.sku0 + 2, 1)])
    fresh = seller.posting(number)
    assert fresh["status"] == "awaiting_packaging"
    assert "arbitration" not in fresh["available_actions"]
    # before hand-over: neither a dispute nor awaiting-delivery moves it
    _refused(seller.post("/v2/posting/fbs/arbitration", {"posting_number": [number]}), 409)
    message = _refused(
        seller.post("/v2/posting/fbs/awaiting-delivery", {"posting_number": [number]}), 409)
    assert "arbitration" in message
    assert seller.posting(number)["status"] == "awaiting_packaging"

    seller.ship(number, [[(seller.sku0 + 2, 1)]])
    handed_over = seller.posting(number)
    assert "arbitration" in handed_over["available_actions"]
    assert seller.ok("/v2/posting/fbs/arbitration", {"posting_number": [number]}) == {
        "result": True}
    disputed = seller.posting(number)
    assert disputed["status"] == "arbitration"
    assert "awaiting_delivery" in disputed["available_actions"]
    assert seller.ok("/v2/posting/fbs/awaiting-delivery", {"posting_number": [number]}) == {
        "result": True}
    assert seller.posting(number)["status"] == "awaiting_deliver"


# --------------------------------------------------------------------------- §5.3 picking


def test_financial_data_picking_moment_is_a_datetime(
    seller: Seller, strict_client: credentials.Credentials
) -> None:
    [number] = seller.order([(seller.sku0 + 3, 2)])
    answer = posting_fbs_get.get_posting_fbs_data(strict_client, posting_fbs_get.PostingFBSData(
        posting_number=number,
        with_=posting_fbs_get.PostingAdditionalFields(financial_data=True)))
    posting = seller.posting(number)
    [product] = answer.result.financial_data.products
    # no picking service is charged; the moment is when the posting went into processing
    assert product.picking.amount == 0 and product.picking.tag == ""
    assert product.picking.moment.isoformat().startswith(posting["in_process_at"][:19])


# --------------------------------------------------------------------------- §1.4 numbers

POSTING_NUMBER = re.compile(r"^\d{8,10}-\d{4}-\d+$")


def test_split_postings_are_numbered_after_the_order(seller: Seller) -> None:
    a, b = seller.sku0 + 4, seller.sku0 + 5
    [first] = seller.order([(a, 3), (b, 1)])
    order_number = seller.posting(first)["order_number"]
    # partial assembly: one unit goes to a new posting of the order
    part = seller.ok("/v4/posting/fbs/ship/package", {
        "posting_number": first, "products": [{"product_id": a, "quantity": 1}]})["result"]
    assert part == f"{order_number}-2"
    # the rest shipped in three packages: two more postings, the order's next numbers
    shipped = seller.ship(first, [[(a, 1)], [(a, 1)], [(b, 1)]])
    assert shipped == [first, f"{order_number}-3", f"{order_number}-4"]
    for number in [part, *shipped]:
        assert POSTING_NUMBER.match(number), number
        posting = seller.posting(number)
        assert posting["order_number"] == order_number
        assert posting["parent_posting_number"] == ("" if number == first else first)
    assert seller.ship(part, [[(a, 1)]]) == [part]


# --------------------------------------------------------------------------- §5.8 labels


def test_label_form_follows_the_accept_header(
    seller: Seller, strict_client: credentials.Credentials
) -> None:
    [number] = seller.order([(seller.sku0 + 6, 1)])
    seller.ship(number, [[(seller.sku0 + 6, 1)]])
    # a client that hands the raw bytes on (it sends Accept: */*) gets the documented PDF
    pdf = posting_fbs_package_label.get_posting_fbs_package_label(
        strict_client, posting_fbs_package_label.FBSPackageData(posting_number=[number]))
    assert pdf.startswith(b"%PDF")
    # a client generated from the OpenAPI document asks for JSON: the wrapper, same file
    wrapped = seller.post("/v2/posting/fbs/package-label", {"posting_number": [number]},
                          Accept="application/json")
    assert wrapped.headers["content-type"] == "application/json"
    body = wrapped.json()
    assert body["content_type"] == "application/pdf" and body["file_name"].endswith(".pdf")
    assert base64.b64decode(body["file_content"]).startswith(b"%PDF")


# --------------------------------------------------------------------------- §10 legacy returns


def _delivered_and_returned(seller: Seller, sku: int, quantity: int) -> str:
    [number] = seller.order([(sku, quantity)])
    seller.ship(number, [[(sku, quantity)]])
    for event in ("sorting_accepted", "delivered"):
        response = httpx.post(f"{seller.base_url}/marketplace/v1/logistics/events",
                              json={"posting_number": number, "event": event},
                              headers=platform_headers(seller.creds), timeout=30)
        assert response.status_code == 200, response.text
    response = httpx.post(f"{seller.base_url}/marketplace/v1/postings/{number}/return",
                          json={"reason": "не подошёл"}, headers=platform_headers(seller.creds),
                          timeout=30)
    assert response.status_code == 201, response.text
    return number


def test_legacy_fbs_returns_as_clients_call_it(
    seller: Seller, strict_client: credentials.Credentials
) -> None:
    returned = _delivered_and_returned(seller, seller.sku0 + 7, 2)
    other = _delivered_and_returned(seller, seller.sku0 + 8, 1)

    def page(**filter_: Any) -> returns_fbs.GetReturnsCompanyFBSResponseResult:
        return returns_fbs.get_returns_company_fbs(
            strict_client, returns_fbs.PaginatedGetReturnsCompanyFBSFilter(
                filter=returns_fbs.GetReturnsCompanyFBSFilter(**filter_), offset=0, limit=10),
        ).result

    everything = page()
    assert {returned, other} <= {r.posting_number for r in everything.returns}
    assert everything.count == len(everything.returns)
    mine = page(posting_number=[returned])  # a list, as the client sends it
    [item] = mine.returns
    assert mine.count == 1
    assert (item.posting_number, item.sku, item.quantity) == (returned, seller.sku0 + 7, 2)
    assert item.return_reason_name == "не подошёл" and item.status == "MovingToSeller"
    assert item.price > 0 and item.product_name
    assert page(posting_number=[returned, other]).count == 2
    assert page(status="MovingToSeller", posting_number=[returned]).count == 1
    assert page(status="ReceivedBySeller", posting_number=[returned]).count == 0
    assert page(product_offer_id="no-such-offer").count == 0
    # the old single-string form still answers, and junk is an Ozon 400 that changes nothing
    single = seller.ok("/v2/returns/company/fbs", {"filter": {"posting_number": returned}})
    assert [r["posting_number"] for r in single["result"]["returns"]] == [returned]
    _refused(seller.post("/v2/returns/company/fbs", {"filter": {"posting_number": [{}]}}), 400)


# --------------------------------------------------------------------------- §8.3 key expiry


def test_api_keys_expire(seller: Seller) -> None:
    now = datetime.now(UTC)
    seeded = datetime.fromisoformat(seller.ok("/v1/roles", {})["expires_at"])
    assert timedelta(days=364) < seeded - now < timedelta(days=366)  # the default lifetime

    owner = seller_headers(seller.creds)
    me = httpx.get(f"{seller.base_url}/peakline/v1/accounts/me", headers=owner).json()["id"]
    keys = f"{seller.base_url}/peakline/v1/accounts/{me}/api-keys"
    past = httpx.post(keys, headers=owner, json={"expires_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 400 and "expires_at" in past.json()["message"]
    at = (now + timedelta(hours=1)).replace(microsecond=0, tzinfo=None)  # naive: UTC
    issued = httpx.post(keys, headers=owner, json={"name": "short", "expires_at": at.isoformat()})
    assert issued.status_code == 201, issued.text
    key = {"Client-Id": seller.creds["client_id"], "Api-Key": issued.json()["api_key"]}
    roles = httpx.post(f"{seller.base_url}/v1/roles", headers=key, json={})
    assert datetime.fromisoformat(roles.json()["expires_at"]) == at.replace(tzinfo=UTC)

    db = Database(seller.db_url)
    try:  # the hour passes
        with db.session() as session:
            session.execute(update(ApiKey).where(ApiKey.id == issued.json()["id"])
                            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    finally:
        db.dispose()
    time.sleep(SELLER_KEY_CACHE_SECONDS)  # a change made outside the server: seen within that
    expired = httpx.post(f"{seller.base_url}/v1/roles", headers=key, json={})
    assert _refused(expired, 401).startswith("Api-key is deactivated")
    assert expired.json()["code"] == 16
    assert seller.post("/v1/roles", {}).status_code == 200  # the owner's key still works


def test_keys_issued_before_keys_expired_get_a_year(tmp_path: Path) -> None:
    """Migration 0005: a key with no expiry expires a year after it was issued (and the
    migrations rebuild tables on SQLite without cascading deletes to their children)."""
    url, creds = seeded_sqlite(tmp_path)
    before = ScriptDirectory.from_config(alembic_config(url)).get_revision("0005").down_revision
    downgrade(url, before)
    with sqlite3.connect(tmp_path / "peakline.db") as conn:
        conn.execute("UPDATE api_keys SET expires_at = NULL")
    upgrade(url)
    db = Database(url)
    try:
        with db.session() as session:
            keys = session.scalars(select(ApiKey)).all()
            assert keys and all(k.expires_at - k.created_at == timedelta(days=365) for k in keys)
    finally:
        db.dispose()
