"""Schemathesis over every Ozon Seller API route of the app (in process, real SQLite):
generated requests never get a 5xx, and every 4xx carries the Ozon error body."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from tests.backend_support import platform_headers
from tests.test_backend_ozon_wire import make_app

OZON_PATHS = r"^/v[0-9]+/"
FUZZ_EXAMPLES = 6


@pytest.mark.slow
def test_fuzz_every_ozon_route_no_server_errors(tmp_path: Path) -> None:
    """Schemathesis cases for each Ozon operation: never a 5xx; errors are Ozon-shaped."""
    app, creds = make_app(tmp_path)
    headers = {"Client-Id": creds["client_id"], "Api-Key": creds["api_key"]}
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
    for operation in operations:

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case) -> None:  # noqa: ANN001
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.path} {case.body!r} -> "
                    f"{response.status_code} {response.text[:200]}"
                )
            elif response.status_code >= 400:
                body = response.json()
                assert isinstance(body["code"], int) and isinstance(body["message"], str)

        run()
    assert not failures, "\n".join(failures[:10])
