"""Posting list pages are built as wire data (dicts dumped by orjson) instead of through their
pydantic models: the bytes must be exactly what the models would write."""

from __future__ import annotations

import asyncio
import itertools
from collections import namedtuple
from datetime import UTC, datetime
from types import SimpleNamespace

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_backend.app import create_app
from reference_backend.db import Database
from reference_backend.postings import pages
from reference_backend.postings import schemas as S
from reference_backend.postings import service as q
from reference_backend.settings import Settings
from tests.backend_support import (
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    seed_smoke,
)

text = st.text(max_size=12)  # any characters: escapes, non-ASCII, controls
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                     timezones=st.sampled_from([UTC, None]))
prices = st.one_of(
    st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False).map(str),
    st.sampled_from(["", "12.5", "0", "1e3", None]))
ids = st.integers(min_value=0, max_value=2**53)


@st.composite
def bundles(draw: st.DrawFn) -> q.PostingBundle:
    posting = SimpleNamespace(
        id=draw(ids), posting_number=draw(text), order_id=draw(ids), order_number=draw(text),
        status=draw(st.sampled_from([*S.LIST_FILTER_STATUSES, "odd"])),
        substatus=draw(st.sampled_from([*q.SUBSTATUSES, "odd", None])),
        in_process_at=draw(times), shipment_date=draw(times),
        delivering_date=draw(st.none() | times), warehouse_id=draw(ids),
        delivery_method_id=draw(st.none() | ids),
        tpl_integration_type=draw(st.sampled_from(["ozon", "aggregator", "odd", "", None])),
        tracking_number=draw(st.none() | text), is_express=draw(st.booleans()),
        is_multibox=draw(st.booleans()), multi_box_qty=draw(st.none() | st.integers(0, 9)),
        cancellation_type=draw(st.sampled_from(["seller", "buyer", "client", "odd", "", None])),
        cancel_reason_id=draw(st.none() | st.integers(0, 999)), cancel_reason=draw(text),
        cancelled_after_ship=draw(st.booleans()), cancellation_initiator=draw(text),
        region=draw(st.none() | text), buyer_city=draw(st.none() | text),
        buyer_region=draw(st.none() | text),
        parent_posting_number=draw(st.none() | text))
    items = [SimpleNamespace(posting_id=posting.id, name=draw(text), offer_id=draw(text),
                             sku=draw(ids), quantity=draw(st.integers(0, 500)),
                             price=draw(prices), product_id=draw(ids),
                             currency_code=draw(st.sampled_from(["RUB", "USD", "XXX", None])))
             for _ in range(draw(st.integers(0, 3)))]
    warehouse = draw(st.none() | st.builds(SimpleNamespace, warehouse_id=ids, name=text))
    method = draw(st.none() | st.builds(SimpleNamespace, id=ids, name=text, provider_id=ids,
                                        tpl_provider=text))
    return q.PostingBundle(posting, items, warehouse, method)  # type: ignore[arg-type]


withs = st.builds(S.With, analytics_data=st.booleans(), financial_data=st.booleans(),
                  barcodes=st.booleans())


@settings(max_examples=60, deadline=None)
@given(st.lists(bundles(), max_size=3), withs, st.booleans(), ids)
def test_list_pages_are_the_bytes_their_models_write(page, with_, has_next, total) -> None:
    v3 = [q.to_v3(b, with_) for b in page]
    v4 = [q.to_v4(b, with_) for b in page]
    pages = [
        (S.PostingListV3Response, {"result": {"postings": v3, "has_next": has_next}}),
        (S.UnfulfilledListV3Response, {"result": {"postings": v3, "count": total}}),
        (S.PostingListV4Response, {"postings": v4, "cursor": "c", "has_next": has_next}),
        (S.UnfulfilledListV4Response, {"postings": v4, "cursor": "", "has_next": has_next,
                                       "count": total}),
    ]
    for model, data in pages:
        assert orjson.dumps(data) == model.model_validate(data).model_dump_json(
            by_alias=True).encode()


@settings(max_examples=30, deadline=None)
@given(bundles(), withs)
def test_a_detailed_posting_keeps_the_list_postings_keys(bundle, with_) -> None:
    """``/v3/posting/fbs/get`` validates the same wire data through its model."""
    listed = q.to_v3(bundle, with_)
    detail = q.to_detail(bundle, with_).model_dump(mode="json")
    for key, value in listed.items():
        if key == "products":
            assert [{k: p[k] for k in value[0]} for p in detail[key]] == value if value else True
        elif key != "prr_option":
            assert detail[key] == value, key


def _as_rows(bundle: q.PostingBundle) -> q.PostingBundle:
    """The bundle with its posting and items as row tuples (as a page reads them)."""
    def row(name: str, ns: SimpleNamespace) -> tuple:
        return namedtuple(name, vars(ns))(**vars(ns))  # type: ignore[misc]  # noqa: PYI024

    return q.PostingBundle(row("posting", bundle.posting),  # type: ignore[arg-type]
                           [row("item", i) for i in bundle.items], bundle.warehouse,
                           bundle.method)


@settings(max_examples=30, deadline=None)
@given(bundles(), withs, st.sampled_from(S.LIST_FILTER_STATUSES))
def test_cached_postings_are_the_bytes_of_their_rows_now(bundle, with_, status) -> None:
    """Kept JSON is keyed by the rows: the same rows give the same bytes, changed rows (a
    status, an item's quantity) give the changed posting's bytes, never the kept ones."""
    bundle = _as_rows(bundle)
    for shape in (q.to_v3, q.to_v4):
        first = q.wire_postings([bundle], with_, shape)
        assert orjson.dumps(first) == orjson.dumps([shape(bundle, with_)])
        assert q.wire_postings([bundle], with_, shape)[0] is first[0]  # kept
        changed = q.PostingBundle(
            bundle.posting._replace(status=status),  # type: ignore[union-attr]
            [i._replace(quantity=i.quantity + 1) for i in bundle.items],
            bundle.warehouse, bundle.method)
        again = q.wire_postings([changed], with_, shape)
        assert orjson.dumps(again) == orjson.dumps([shape(changed, with_)])


def _envelope(postings: list, has_next: bool, cursor: str, total: int) -> dict:
    return {"postings": postings, "has_next": has_next, "cursor": cursor, "count": total}


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_pages_read_on_the_event_loop_equal_the_thread_path() -> None:
    """PostgreSQL lists read on the async pool (pipelined statements) what the sync path
    reads: the same page bytes (postings, ``has_next``, cursor and count), for each kind of
    filter."""
    if not postgres_admin_url():
        pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
    with fresh_postgres_url() as url:
        creds = seed_smoke(url)
        db = Database(url)
        with TestClient(create_app(Settings(database_url=url))) as client:
            for i in range(12):
                line = {"sku": creds["sku_base"] + i % 3, "quantity": 1}
                assert client.post("/marketplace/v1/orders", json={
                    "client_id": creds["client_id"], "region": "R-MSK", "lines": [line]},
                    headers={**platform_headers(creds), "Idempotency-Key": f"k{i}"},
                ).status_code in (200, 201)
        seller, with_ = creds["seller_id"], S.With(analytics_data=True, financial_data=True)
        filters = [q.PostingFilter(), q.PostingFilter(statuses=q.DEFAULT_UNFULFILLED),
                   q.PostingFilter(statuses=("delivered",)), q.PostingFilter(sku=creds["sku_base"]),
                   q.PostingFilter(warehouse_ids=(1, 2, 3), provider_ids=(24, 1))]

        async def compare() -> int:
            pool, seen = await db.async_pool(), 0
            for f, desc, (limit, offset), counted in itertools.product(
                    filters, (True, False), ((5, 0), (5, 5)), (False, True)):
                asks = [pages.PageAsk(seller, f, limit, desc, with_, q.to_v3, _envelope,
                                      offset=offset, counted=counted),
                        pages.PageAsk(seller, f, limit, desc, with_, q.to_v4, _envelope,
                                      cursor="", counted=counted)]
                for ask in asks:
                    pages.PAGES.clear()
                    with db.read_statements() as conn:
                        sync = pages.read_page(conn, ask)
                    pages.PAGES.clear()
                    async with pool.connection() as aconn:
                        loop = await pages.aread_page(aconn, ask)
                    assert sync == loop
                    seen += len(orjson.loads(sync)["postings"])
            await db.aclose()
            return seen

        try:
            assert asyncio.run(compare()) > 20
        finally:
            db.dispose()
