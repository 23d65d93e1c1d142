"""Schemathesis over every Ozon Seller API route of the app (in process, real SQLite):
generated requests never get a 5xx, every 4xx carries the Ozon error body, and a rejected
request leaves the database exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy import func, select

from reference_backend.db import Database
from reference_backend.tables import (
    LabelTask,
    OutboxEvent,
    Package,
    Posting,
    PostingItem,
    Product,
    ProductImportItem,
    ProductImportTask,
    Return,
    Stock,
)
from tests.backend_support import platform_headers
from tests.test_backend_ozon_wire import make_app

OZON_PATHS = r"^/v[0-9]+/"
FUZZ_EXAMPLES = 6
COUNTED = (
    Product,
    ProductImportTask,
    ProductImportItem,
    LabelTask,
    Posting,
    PostingItem,
    Package,
    OutboxEvent,
    Return,
    Stock,
)


def snapshot(db: Database) -> tuple:
    """Everything an Ozon route could change: row counts, stock, statuses, tracking, prices."""
    with db.read_session() as session:
        counts = tuple(session.scalar(select(func.count()).select_from(t)) for t in COUNTED)
        stock = session.execute(
            select(
                func.sum(Stock.present * (Stock.id % 97 + 1)),
                func.sum(Stock.reserved * (Stock.id % 89 + 1)),
            )
        ).one()
        postings = tuple(
            session.execute(
                select(
                    Posting.posting_number,
                    Posting.status,
                    Posting.substatus,
                    Posting.tracking_number,
                ).order_by(Posting.id)
            ).all()
        )
        items = tuple(
            session.execute(
                select(PostingItem.id, PostingItem.quantity).order_by(PostingItem.id)
            ).all()
        )
        prices = tuple(
            session.execute(
                select(Product.product_id, Product.price, Product.name).order_by(Product.product_id)
            ).all()
        )
    return counts, tuple(stock), postings, items, prices


@pytest.mark.slow
def test_fuzz_every_ozon_route(tmp_path: Path) -> None:
    app, creds = make_app(tmp_path)
    headers = {"Client-Id": creds["client_id"], "Api-Key": creds["api_key"]}
    db = Database(app.state.settings.database_url)
    with TestClient(app) as client:  # a few real postings for the routes to find
        for i in range(3):
            client.post(
                "/marketplace/v1/orders",
                json={
                    "client_id": creds["client_id"],
                    "region": "R-MSK",
                    "lines": [{"sku": creds["sku_base"] + i, "quantity": 1}],
                },
                headers={**platform_headers(creds), "Idempotency-Key": f"fuzz{i}"},
            )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=OZON_PATHS)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 45
    failures: list[str] = []
    statuses: set[int] = set()
    try:
        for operation in operations:

            @settings(
                max_examples=FUZZ_EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def run(case) -> None:  # noqa: ANN001
                before = snapshot(db)
                response = case.call(headers=headers)
                statuses.add(response.status_code)
                where = f"{case.method} {case.path} {case.body!r}"[:300]
                if response.status_code >= 500:
                    failures.append(f"{where} -> {response.status_code} {response.text[:200]}")
                elif response.status_code >= 400:
                    body = response.json()
                    assert isinstance(body["code"], int) and isinstance(body["message"], str)
                    assert snapshot(db) == before, (
                        f"{where} -> {response.status_code} changed state"
                    )

            run()
    finally:
        db.dispose()
    assert not failures, "\n".join(failures[:10])
    assert {200, 400} <= statuses
