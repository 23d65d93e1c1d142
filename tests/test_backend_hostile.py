"""Hostile values over every route of the OpenAPI document, on SQLite and PostgreSQL.

Each class of value the issue-16 probe found a 500 with is put, one field at a time, into an
otherwise plausible request of every operation (bodies, query and path parameters built
from the document, with the seeded seller's real ids): a NUL character, a lone surrogate,
an integer of 2^31 and of 2^63, and a ``Client-Id`` of non-ASCII digits. Every answer must be
a 4xx with the path family's error body, and the database must be exactly as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from reference_backend.app import create_app
from reference_backend.db import Database
from reference_backend.settings import Settings
from reference_backend.tables import Base, Posting, Product, Warehouse
from tests.backend_support import (
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    seed_smoke,
    seeded_sqlite,
    seller_headers,
)

NUL, SURROGATE = "a\x00b", "a\ud800b"
HOSTILE_INTS = (2**31, 2**63)
HOSTILE_CLIENT_ID = "²"  # str.isdigit() accepts it; int() does not (sent as Latin-1 b"\xb2")
METHODS = ("get", "post", "put", "patch", "delete")
#: Routes that read no seller key (the marketplace's take a platform key).
NO_SELLER_KEY = ("/health", "/peakline/v1/accounts/sign-in", "/peakline/v1/accounts/password-reset",
                 "/marketplace/")


class Requests:
    """Plausible requests for the operations of an OpenAPI document, and hostile variants."""

    def __init__(self, document: dict[str, Any], known: dict[str, Any]) -> None:
        self.document, self.known = document, known

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        for key in ("anyOf", "oneOf", "allOf"):
            if key in schema:
                options = [s for s in schema[key] if self.resolve(s).get("type") != "null"]
                return self.resolve(options[0]) if options else {"type": "null"}
        return schema

    def value(self, schema: dict[str, Any], name: str = "") -> Any:
        schema = self.resolve(schema)
        kind = schema.get("type")
        if "enum" in schema:
            return schema["enum"][0]
        if kind == "object":
            props = schema.get("properties", {})
            return {key: self.value(sub, key) for key, sub in props.items()}
        if kind == "array":
            return [self.value(schema.get("items", {}), name)]
        if name in self.known and isinstance(self.known[name], str | int):
            known = self.known[name]
            return known if (kind == "integer") == isinstance(known, int) else str(known)
        if kind == "integer":
            return max(schema.get("minimum", 1), 1)
        if kind == "number":
            return 1.0
        if kind == "boolean":
            return False
        if schema.get("format") == "date-time":
            return "2030-01-01T00:00:00Z"
        return "1" if "pattern" in schema else "x"

    def leaves(self, value: Any, schema: dict[str, Any], path: tuple = ()) -> Iterator[tuple]:
        """(path, JSON type) of every scalar in ``value`` (as built by :meth:`value`)."""
        schema = self.resolve(schema)
        if isinstance(value, dict):
            for key, item in value.items():
                sub = schema.get("properties", {}).get(key, {})
                yield from self.leaves(item, sub, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from self.leaves(item, schema.get("items", {}), (*path, index))
        else:
            yield path, schema.get("type")

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for path, item in self.document["paths"].items():
            for method in METHODS:
                if method in item:
                    yield method, path, item[method]


def _quote(text: str) -> str:
    """Percent-encoded as an attacker would send it (a lone surrogate as its UTF-8 bytes)."""
    return quote(text, safe="", encoding="utf-8", errors="surrogatepass")


def replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


def snapshot(db: Database) -> str:
    """A digest of every row of every table."""
    digest = hashlib.sha256()
    with db.read_connection() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


class Target:
    def __init__(self, client: TestClient, db: Database, creds: dict[str, Any]) -> None:
        self.client, self.db, self.creds = client, db, creds
        self.requests = Requests(client.get("/openapi.json").json(), self._known())

    def _known(self) -> dict[str, Any]:
        creds = self.creds
        order = self.client.post(
            "/marketplace/v1/orders", headers={**platform_headers(creds), "Idempotency-Key": "h1"},
            json={"client_id": creds["client_id"], "region": "R-MSK",
                  "lines": [{"sku": creds["sku_base"], "quantity": 1}]})
        assert order.status_code == 201, order.text
        with self.db.read_session() as session:
            product = session.scalars(select(Product).order_by(Product.product_id)).first()
            warehouse = session.scalars(select(Warehouse)).first()
            posting = session.scalars(select(Posting)).first()
        return {"sku": product.sku, "product_id": product.product_id,
                "offer_id": product.offer_id, "warehouse_id": warehouse.warehouse_id,
                "posting_number": posting.posting_number, "client_id": creds["client_id"]}

    def headers(self, path: str) -> dict[str, str]:
        if path.startswith("/marketplace/"):
            return platform_headers(self.creds)
        return seller_headers(self.creds)

    def send(self, method: str, path: str, operation: dict[str, Any], *, body: Any = None,
             params: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and f"{{{parameter['name']}}}" in path:
                value = (params or {}).pop(parameter["name"], None)
                if value is None:
                    value = self.requests.value(parameter.get("schema", {}), parameter["name"])
                path = path.replace(f"{{{parameter['name']}}}", _quote(str(value)))
        content = None if body is None else json.dumps(body).encode()  # ASCII: \ud800 escaped
        query = urlencode(params or {}, encoding="utf-8", errors="surrogatepass")
        return self.client.request(method, f"{path}?{query}" if query else path, content=content,
                                   headers={**self.headers(path), **(headers or {})})

    def variants(self, method: str, path: str, operation: dict[str, Any], hostile: str):
        """Requests with one hostile value each: ``(where, kwargs for send)``."""
        r = self.requests
        schema = (operation.get("requestBody", {}).get("content", {})
                  .get("application/json", {}).get("schema"))
        body = r.value(schema) if schema else None
        query = {p["name"]: r.value(p.get("schema", {}), p["name"])
                 for p in operation.get("parameters", []) if p["in"] == "query"}
        wanted = "string" if hostile in (NUL, SURROGATE) else "integer"
        new: Any = hostile
        if hostile == HOSTILE_CLIENT_ID:
            yield "Client-Id", {"body": body, "params": query,
                                "headers": {"Client-Id": HOSTILE_CLIENT_ID.encode("latin-1")}}
            return
        for leaf, kind in (r.leaves(body, schema) if schema else ()):
            if kind == wanted or (kind is None and wanted == "string"):
                for new in (HOSTILE_INTS if wanted == "integer" else (hostile,)):
                    yield "body." + ".".join(map(str, leaf)), {
                        "body": replaced(body, leaf, new), "params": dict(query)}
        for parameter in operation.get("parameters", []):
            if parameter["in"] not in ("query", "path") or hostile == SURROGATE:
                continue  # (a URL carries a surrogate as invalid UTF-8: it arrives as U+FFFD)
            if r.resolve(parameter.get("schema", {})).get("type", "string") != wanted:
                continue
            for new in (HOSTILE_INTS if wanted == "integer" else (hostile,)):
                yield parameter["name"], {"body": body,
                                          "params": {**query, parameter["name"]: new}}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql",
                                                               marks=pytest.mark.postgres)])
def target(request, tmp_path_factory) -> Iterator[Target]:
    with _database(request.param, tmp_path_factory) as (url, creds):
        app = create_app(Settings(database_url=url, migrate_on_start=False, log_requests=False,
                                  run_outbox_worker=False, log_level="ERROR"))
        db = Database(url)
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                yield Target(client, db, creds)
        finally:
            db.dispose()


def _database(kind: str, tmp_path_factory):
    import contextlib

    @contextlib.contextmanager
    def sqlite():
        yield seeded_sqlite(tmp_path_factory.mktemp("hostile"))

    @contextlib.contextmanager
    def postgresql():
        if not postgres_admin_url():
            pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
        with fresh_postgres_url() as url:
            yield url, seed_smoke(url)

    return sqlite() if kind == "sqlite" else postgresql()


@pytest.mark.parametrize("hostile", [NUL, SURROGATE, HOSTILE_INTS[0], HOSTILE_CLIENT_ID],
                         ids=["nul", "lone-surrogate", "big-int", "non-ascii-client-id"])
def test_every_route_answers_hostile_values_with_a_4xx_and_changes_nothing(target, hostile):
    failures: list[str] = []
    tried = 0
    for method, path, operation in target.requests.operations():
        if hostile == HOSTILE_CLIENT_ID and path.startswith(NO_SELLER_KEY):
            continue
        before = snapshot(target.db)
        accepted = False
        for where, request in target.variants(method, path, operation, hostile):
            tried += 1
            response = target.send(method, path, operation, **request)
            what = f"{method.upper()} {path} {where}: {response.status_code} {response.text[:150]}"
            if response.status_code < 400:
                accepted = True  # an int64 field takes 2^31 as is; no other value may pass
                if not isinstance(hostile, int):
                    failures.append(what)
                continue
            body = response.json() if response.headers.get("content-type", "").startswith(
                "application/json") else {}
            family_code = str if path.startswith(("/marketplace/", "/peakline/")) else int
            if response.status_code >= 500 or not isinstance(body.get("code"), family_code):
                failures.append(what)
        if not accepted and snapshot(target.db) != before:
            failures.append(f"{method.upper()} {path}: a refused request changed state")
    assert tried > 40
    assert not failures, "\n".join(failures[:30])
