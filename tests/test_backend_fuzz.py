"""Schemathesis over the OpenAPI document of Peakline's own routes: no 500, and every
rejected request (4xx) leaves the database exactly as it was."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from reference_backend.app import create_app
from reference_backend.db import Database
from reference_backend.settings import Settings
from tests.backend_support import platform_headers, seeded_sqlite, seller_headers
from tests.test_backend_marketplace import World


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory):
    url, creds = seeded_sqlite(tmp_path_factory.mktemp("fuzz"))
    app = create_app(Settings(database_url=url, log_requests=False, log_level="ERROR",
                              run_outbox_worker=False, migrate_on_start=False))
    db = Database(url)
    yield app, creds, World(None, creds, db)  # type: ignore[arg-type]
    db.dispose()
    app.state.db.dispose()


def _operations(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(
        path_regex=r"^/(marketplace|peakline)/")
    return [result.ok() for result in schema.get_all_operations()]


def test_no_server_errors_and_rejections_change_nothing(fuzz_world):
    app, creds, world = fuzz_world
    operations = _operations(app)
    assert len(operations) >= 10
    seen: dict[str, set[int]] = {}

    for operation in operations:
        _fuzz(operation, world, creds, seen)
    assert any(400 <= s < 500 for codes in seen.values() for s in codes)


def _fuzz(operation, world, creds, seen) -> None:
    headers = (platform_headers(creds) if operation.path.startswith("/marketplace/")
               else seller_headers(creds))

    @given(case=operation.as_strategy())
    @settings(max_examples=10, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def check(case):
        before = world.snapshot()
        response = case.call(headers={**(case.headers or {}), **headers})
        case.validate_response(response, checks=[not_a_server_error])
        assert response.status_code < 500, response.text
        seen.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)
        if response.status_code >= 400:
            assert response.json()["code"], response.text
            assert world.snapshot() == before, (case.path, response.status_code)

    check()
