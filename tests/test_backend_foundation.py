"""Backend foundation: migrations on SQLite and PostgreSQL, app wiring, error bodies, CLI."""

from __future__ import annotations

import json
import sqlite3
from typing import Annotated

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from peakline.cli import app as cli_app
from reference_backend.app import create_app
from reference_backend.auth import SellerIdentity, require
from reference_backend.db import Database
from reference_backend.migrations import alembic_config, current_revision, upgrade
from reference_backend.permissions import Action, RouteGroup
from reference_backend.settings import Settings
from reference_backend.tables import Base
from tests.backend_support import (
    SMOKE,
    fresh_postgres_url,
    postgres_admin_url,
    seed_smoke,
    seller_headers,
    sqlite_url,
)


def _check_schema(url: str) -> None:
    upgrade(url)
    upgrade(url)  # idempotent
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert current_revision(url) == head
    db = Database(url)
    try:
        names = set(inspect(db.engine).get_table_names())
        assert set(Base.metadata.tables) <= names
        with db.engine.connect() as conn:  # the migrations build exactly what the models say
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        with db.session() as session:
            reasons = session.execute(text("SELECT count(*) FROM cancel_reasons")).scalar()
        assert reasons >= 7
    finally:
        db.dispose()


def test_migrations_sqlite(tmp_path):
    _check_schema(sqlite_url(tmp_path))


@pytest.mark.postgres
def test_migrations_postgres():
    if not postgres_admin_url():
        pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
    with fresh_postgres_url() as url:
        _check_schema(url)


def test_stock_check_constraint_refuses_oversell(tmp_path):
    url = sqlite_url(tmp_path)
    creds = seed_smoke(url)
    db = Database(url)
    try:
        with pytest.raises(Exception, match="CHECK"), db.session() as session:
            session.execute(text("UPDATE stock SET reserved = present + 1 WHERE sku = :s"),
                            {"s": creds["sku_base"]})
    finally:
        db.dispose()


@pytest.fixture()
def client(tmp_path):
    url = sqlite_url(tmp_path)
    creds = seed_smoke(url)
    app = create_app(Settings(database_url=url, log_requests=False))
    with TestClient(app) as test_client:
        test_client.creds = creds  # type: ignore[attr-defined]
        yield test_client


def test_health_metrics_docs(client):
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/openapi.json").status_code == 200
    client.get("/health")
    metrics = client.get("/metrics").text
    assert "http_request_duration" in metrics or "http_requests_total" in metrics


def test_request_id_echoed(client):
    response = client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert client.get("/health").headers["x-request-id"]


def test_unknown_seller_path_is_ozon_error(client):
    response = client.post("/v9/nothing", content=b"")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == 5 and body["details"] == [] and body["message"]


def test_marketplace_errors_are_peakline_shaped(client):
    response = client.post("/marketplace/v1/nothing", json={})
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "NOT_FOUND" and body["message"] and body["details"] == []


def test_cli_seed_twice_is_an_error_naming_the_seller(tmp_path):
    runner = CliRunner()
    url = sqlite_url(tmp_path)
    out = tmp_path / "creds.json"
    first = runner.invoke(cli_app, ["seed", str(SMOKE), "--db", url, "--credentials-out", str(out)])
    assert first.exit_code == 0, first.output
    creds = json.loads(out.read_text())
    assert {"seller_name", "client_id", "api_key", "platform_key"} <= creds.keys()
    assert creds["seller_name"] == "smoke" and creds["client_id"].isdigit()
    with sqlite3.connect(tmp_path / "peakline.db") as conn:  # planner statistics of the load
        analysed = {row[0] for row in conn.execute("SELECT tbl FROM sqlite_stat1")}
    assert {"stock", "products"} <= analysed
    again = runner.invoke(cli_app, ["seed", str(SMOKE), "--db", url, "--credentials-out",
                                    str(tmp_path / "again.json")])
    assert again.exit_code == 2
    assert "smoke" in again.output and "already exists" in again.output


def test_cli_seller_create_and_db_upgrade(tmp_path):
    runner = CliRunner()
    url = sqlite_url(tmp_path)
    result = runner.invoke(cli_app, ["db", "upgrade", "--db", url])
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert result.exit_code == 0 and f"revision {head}" in result.output
    out = tmp_path / "acme.json"
    result = runner.invoke(cli_app, ["seller", "create", "acme", "--db", url,
                                     "--credentials-out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout[result.stdout.index("{"):result.stdout.rindex("}") + 1])[
        "seller_name"] == "acme"
    assert runner.invoke(cli_app, ["seller", "create", "acme", "--db", url, "--credentials-out",
                                   str(tmp_path / "again.json")]).exit_code == 2


def test_seed_writes_keys_only_to_a_private_file_unless_asked(tmp_path):
    runner = CliRunner()
    url, out = sqlite_url(tmp_path), tmp_path / "creds.json"
    result = runner.invoke(cli_app, ["seed", str(SMOKE), "--db", url, "--credentials-out",
                                     str(out)])
    assert result.exit_code == 0, result.output
    creds = json.loads(out.read_text())
    assert creds["api_key"] not in result.output and creds["platform_key"] not in result.output
    assert creds["client_id"] in result.output and oct(out.stat().st_mode & 0o777) == "0o600"
    refused = runner.invoke(cli_app, ["seller", "create", "b", "--db", url,
                                      "--credentials-out", str(out)])  # would lose the keys
    assert refused.exit_code == 2 and "exists" in refused.output
    assert json.loads(out.read_text()) == creds
    shown = runner.invoke(cli_app, ["seller", "owner-key", creds["client_id"], "--db", url,
                                    "--credentials-out", str(tmp_path / "k.json"),
                                    "--show-keys"])
    assert shown.exit_code == 0, shown.output
    new_key = json.loads((tmp_path / "k.json").read_text())["api_key"]
    assert new_key in shown.output and new_key != creds["api_key"]


def test_settings_refuse_a_postgresql_url_without_database_and_hide_passwords(tmp_path):
    runner = CliRunner()
    no_db = runner.invoke(cli_app, ["db", "upgrade", "--db", "postgresql://u:s3cret@127.0.0.1"])
    assert no_db.exit_code == 2 and "must name its database" in no_db.output
    assert "s3cret" not in no_db.output
    down = runner.invoke(cli_app, ["db", "upgrade", "--db",
                                   "postgresql://u:s3cret@127.0.0.1:1/x"])  # nothing listens
    assert down.exit_code == 2 and "s3cret" not in down.output and "***" in down.output


def test_a_misspelt_setting_is_named_with_the_closest_valid_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PEAKLINE_WORKER_THRAEDS", "8")
    result = CliRunner().invoke(cli_app, ["db", "upgrade", "--db", sqlite_url(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "PEAKLINE_WORKER_THRAEDS" in result.output
    assert "PEAKLINE_WORKER_THREADS" in result.output


def test_seller_auth_headers(client):
    router = APIRouter()

    @router.post("/v1/test-auth")
    def probe(seller: Annotated[SellerIdentity, require(RouteGroup.ROLES, Action.READ)]) -> dict:
        return {"seller_id": seller.seller_id, "role": seller.role.value}

    client.app.include_router(router)
    creds = client.creds
    ok = client.post("/v1/test-auth", headers=seller_headers(creds))
    assert ok.status_code == 200 and ok.json()["role"] == "owner"
    bad = client.post("/v1/test-auth", headers={"Client-Id": creds["client_id"], "Api-Key": "x"})
    assert bad.status_code == 401 and bad.json()["code"] == 16
    malformed = client.post("/v1/test-auth", headers={"Client-Id": "abc", "Api-Key": "x"})
    assert malformed.status_code == 400 and malformed.json()["code"] == 3
    other = client.post("/v1/test-auth",
                        headers={"Client-Id": "999999", "Api-Key": creds["api_key"]})
    assert other.status_code == 401


def test_json_body_tolerance_and_limits(client):
    router = APIRouter()

    @router.post("/v1/echo")
    def echo(body: dict) -> dict:
        return body

    client.app.include_router(router)
    # no Content-Type, a text Content-Type and an empty body are all JSON
    assert client.post("/v1/echo", content=b'{"a": 1}').json() == {"a": 1}
    assert client.post("/v1/echo", content=b'{"a": 2}',
                       headers={"Content-Type": "text/plain"}).json() == {"a": 2}
    assert client.post("/v1/echo", content=b"").json() == {}
    assert client.post("/v1/echo", content=b"null").json() == {}
    broken = client.post("/v1/echo", content=b"{oops")
    assert broken.status_code == 400 and broken.json()["code"] == 3
    huge = client.post("/v1/echo", content=b"[" + b"1," * 6_000_000 + b"1]")
    assert huge.status_code == 413 and huge.json()["code"] == 3


def test_heap_is_frozen_again_as_requests_warm_it_up(monkeypatch):
    """A server re-freezes its heap after 1,000 requests and at each doubling up to 64,000:
    what the first requests built lazily stops being scanned by full collections."""
    import asyncio
    import gc

    from reference_backend.middleware import FreezeAfterWarmUp

    freezes: list[int] = []
    served: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda *a: 0)
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(len(served)))

    async def inner(scope, receive, send):
        served.append(1)

    app = FreezeAfterWarmUp(inner, first=4, last=32)

    async def run():
        for _ in range(100):
            await app({"type": "http"}, None, None)
        await app({"type": "lifespan"}, None, None)  # not a request

    asyncio.run(run())
    assert len(served) == 101  # every call passed on
    assert freezes == [3, 7, 15, 31]  # before the 4th, 8th, 16th and 32nd request; none later
