"""The permission table, enforced on every route of the real app.

Routes, their groups and actions are read from the app itself (every route's dependency
tree), not from a hand-written list, so a new route is covered the day it is added:

* every seller route declares a permission (only a short list of routes is public);
* a key of each role gets exactly the table's grants on every route: 403 "missing role"
  exactly where the table says no;
* another seller's objects are invisible and untouchable on every route: seller B's owner
  calls every route with seller A's ids filled into the body (from the route's OpenAPI
  schema) and path; nothing of A's comes back, path-addressed objects are 404, and A's
  rows are byte-for-byte unchanged afterwards.

Real uvicorn; SQLite, and PostgreSQL in a fresh database when PEAKLINE_TEST_DATABASE_URL
is set.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import create_engine, text

from reference_backend.app import create_app
from reference_backend.db import normalise_url
from reference_backend.permissions import Action, Role, RouteGroup, is_allowed
from reference_backend.settings import Settings
from tests.backend_support import (
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    seed_smoke,
    seller_headers,
    sqlite_url,
    start_server,
)

ACC = "/peakline/v1/accounts"
PASSWORD = "Peak-season 2026"
MARK = "LEAKMARKER"
#: Routes that take no seller key, and why.
PUBLIC_PATHS = {
    "/health": "liveness",
    "/metrics": "Prometheus scrape",
    f"{ACC}/sign-in": "people sign in here",
    f"{ACC}/password-reset": "people who forgot a password ask for a link here",
    f"{ACC}/password-reset/{{token}}": "the emailed link (the token)",
    "/peakline/v1/package-labels/{task_id}/{token}.pdf": "signed label URL (the token)",
}
PUBLIC_PREFIXES = ("/marketplace/",)  # platform key (Bearer), not seller keys
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
#: A's rows that B must never change (tables with a seller_id column, plus children).
SELLER_TABLES = ("accounts", "api_keys", "webhooks", "warehouses", "delivery_methods",
                 "products", "stock", "orders", "postings", "returns", "label_tasks")


@dataclass(frozen=True)
class Guarded:
    method: str
    path: str
    group: RouteGroup
    action: Action
    path_params: tuple[str, ...]


def _permission(dependant: Any) -> tuple[RouteGroup, Action] | None:
    found = getattr(dependant.call, "peakline_permission", None)
    if found is not None:
        return found
    for sub in dependant.dependencies:
        found = _permission(sub)
        if found is not None:
            return found
    return None


def app_routes(app: Any) -> tuple[list[Guarded], list[tuple[str, str]]]:
    """(guarded routes, unguarded (method, path)) of the app, from its dependency trees."""
    guarded, public = [], []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute):
            continue  # the docs pages
        path = ctx.path or route.path
        for method in sorted((ctx.methods or route.methods) - {"HEAD"}):
            permission = _permission(route.dependant)
            if permission is None:
                public.append((method, path))
            else:
                params = tuple(re.findall(r"{(\w+)", path))
                guarded.append(Guarded(method, path, permission[0], permission[1], params))
    return guarded, public


@dataclass
class World:
    url: str
    client: httpx.Client
    a: dict
    b: dict
    role_keys: dict[Role, dict[str, str]]
    values: dict[str, Any] = field(default_factory=dict)
    openapi: dict = field(default_factory=dict)
    routes: list[Guarded] = field(default_factory=list)
    public: list[tuple[str, str]] = field(default_factory=list)


def _mark_seller(url: str, seller_id: int) -> None:
    """Give A's catalogue and warehouses names nobody else has (the leak detector)."""
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        for table in ("products", "warehouses", "delivery_methods"):
            conn.execute(text(f"UPDATE {table} SET name = :m || ' ' || name "
                              "WHERE seller_id = :s"), {"m": MARK, "s": seller_id})
    engine.dispose()


def _a_objects(w: World) -> None:
    """A's postings (new, shipped, delivered and returned), label task, webhook, accounts."""
    c, owner, pf = w.client, seller_headers(w.a), platform_headers(w.a)
    numbers = []
    for i in range(3):
        body = {"client_id": w.a["client_id"], "region": "R-MSK",
                "lines": [{"sku": w.a["sku_base"] + i, "quantity": 1}]}
        r = c.post("/marketplace/v1/orders", json=body, headers={**pf, "Idempotency-Key": f"a{i}"})
        assert r.status_code == 201, r.text
        numbers.append(r.json()["postings"][0])
    for posting in numbers[1:]:
        products = [{"product_id": p["sku"], "quantity": p["quantity"]}
                    for p in posting["products"]]
        r = c.post("/v4/posting/fbs/ship", headers=owner, json={
            "posting_number": posting["posting_number"], "packages": [{"products": products}]})
        assert r.status_code == 200, r.text
    delivered = numbers[2]["posting_number"]
    for event in ("sorting_accepted", "delivered"):
        r = c.post("/marketplace/v1/logistics/events", headers=pf,
                   json={"posting_number": delivered, "event": event})
        assert r.status_code == 200, r.text
    r = c.post(f"/marketplace/v1/postings/{delivered}/return", headers=pf, json={})
    assert r.status_code == 201, r.text
    return_id = r.json()["returns"][0]["id"]
    r = c.post("/v1/posting/fbs/package-label/create", headers=owner,
               json={"posting_number": [numbers[1]["posting_number"]]})
    assert r.status_code == 200, r.text
    task_id = r.json()["result"]["task_id"]
    r = c.post("/peakline/v1/webhooks", headers=owner,
               json={"url": f"http://127.0.0.1:9/{MARK}-hook"})
    assert r.status_code == 201, r.text
    webhook_id = r.json()["id"]
    r = c.post(ACC, headers=owner, json={"email": f"{MARK.lower()}-a@seller.example",
                                         "name": MARK, "role": "warehouse", "password": PASSWORD})
    assert r.status_code == 201, r.text
    account_id = r.json()["id"]
    r = c.post(f"{ACC}/{account_id}/api-keys", headers=owner, json={"name": MARK})
    key_id = r.json()["id"]
    new = numbers[0]
    product = c.post("/v3/product/list", headers=owner, json={"limit": 1}).json()["result"]
    w.values = {
        "posting_number": new["posting_number"], "order_number": new["posting_number"][:-2],
        "sku": new["products"][0]["sku"], "offer_id": new["products"][0]["offer_id"],
        "product_id": product["items"][0]["product_id"], "warehouse_id": new["warehouse_id"],
        "task_id": task_id, "return_id": return_id, "webhook_id": webhook_id,
        "account_id": account_id, "key_id": key_id, "delivered_posting": delivered,
    }


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    if request.param == "postgresql":
        if not postgres_admin_url():
            pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
        ctx = fresh_postgres_url()
    else:
        ctx = contextlib.nullcontext(sqlite_url(tmp_path_factory.mktemp("matrix")))
    with ctx as url:
        a = seed_smoke(url, name="Seller A")
        b = seed_smoke(url, name="Seller B")
        _mark_seller(url, a["seller_id"])
        app = create_app(Settings(database_url=url, migrate_on_start=False, json_logs=False))
        routes, public = app_routes(app)
        openapi = app.openapi()
        app.state.db.dispose()
        server = start_server(url, env={"PEAKLINE_PUSH_ALLOW_PRIVATE_TARGETS": "true",
                                        "PEAKLINE_RUN_OUTBOX_WORKER": "false"})
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                keys = {Role.OWNER: seller_headers(a)}
                for role in Role:
                    if role is Role.OWNER:
                        continue
                    r = client.post(ACC, headers=keys[Role.OWNER], json={
                        "email": f"{role.value}@a.example", "role": role.value,
                        "password": PASSWORD})
                    assert r.status_code == 201, r.text
                    r = client.post(f"{ACC}/{r.json()['id']}/api-keys", headers=keys[Role.OWNER],
                                    json={})
                    keys[role] = {"Client-Id": a["client_id"], "Api-Key": r.json()["api_key"]}
                w = World(url, client, a, b, keys, openapi=openapi, routes=routes, public=public)
                _a_objects(w)
                yield w
        finally:
            server.stop()


def test_every_seller_route_declares_a_permission(world: World) -> None:
    unguarded = [(m, p) for m, p in world.public
                 if p not in PUBLIC_PATHS and not p.startswith(PUBLIC_PREFIXES)]
    assert unguarded == [], "routes without a permission (auth.require / accounts.deps)"
    groups = {r.group for r in world.routes}
    assert len(world.routes) > 60 and groups == set(RouteGroup), sorted(groups)


def _call(c: httpx.Client, route: Guarded, headers: dict, *, path: dict | None = None,
          body: Any = None) -> httpx.Response:
    url = route.path
    for name in route.path_params:
        value = str((path or {}).get(name, 999_999_999))
        url = re.sub(r"\{" + name + r"(:[^}]*)?\}", value, url)
    if route.method == "GET":
        return c.request(route.method, url, headers=headers)
    return c.request(route.method, url, headers=headers, json={} if body is None else body)


def _denied(r: httpx.Response) -> bool:
    if r.status_code != 403:
        return False
    body = r.json()
    return body.get("code") in ("PERMISSION_DENIED", 7) and "missing a required role" in body.get(
        "message", "")


def test_every_role_gets_exactly_the_tables_grants_on_every_route(world: World) -> None:
    if not world.url.startswith("sqlite"):
        pytest.skip("a permission decision reads only the key's role: covered on SQLite")
    wrong = []
    for role, headers in world.role_keys.items():
        for route in world.routes:
            r = _call(world.client, route, headers)
            expected = is_allowed(role, route.group, route.action)
            assert r.status_code < 500 and r.status_code != 401, (role, route, r.text)
            if _denied(r) == expected:
                wrong.append((role.value, route.method, route.path, r.status_code))
    assert wrong == [], "role/route outcomes that differ from the permission table"


def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _resolve(options[0], spec) if options else {}
    return schema


def _scalar(value: Any, schema: dict) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return int(value)
    if kind == "string":
        return str(value)
    return value


#: Well-formed values for fields that are not ids (so validation passes and the ids matter).
PLAIN = {"url": "http://127.0.0.1:9/b-hook", "email": "b-new@seller.example", "role": "sales",
         "password": PASSWORD, "new_password": PASSWORD, "code": "000000"}


def _fill(schema: dict, spec: dict, values: dict, depth: int = 0, name: str = "") -> Any:
    """A body for ``schema`` with A's ids in every field named like one."""
    schema = _resolve(schema, spec)
    kind = schema.get("type")
    if kind == "array" or "items" in schema:
        return [_fill(schema.get("items", {}), spec, values, depth + 1)]
    if kind == "object" or "properties" in schema:
        out = {}
        required = set(schema.get("required", []))
        for name, sub in schema.get("properties", {}).items():
            sub_r = _resolve(sub, spec)
            if name in values:
                item = sub_r.get("items")
                if sub_r.get("type") == "array":
                    out[name] = [_scalar(values[name], _resolve(item or {}, spec))]
                else:
                    out[name] = _scalar(values[name], sub_r)
            elif depth < 4 and (name in required or name in PLAIN
                                or sub_r.get("type") in ("object", "array")
                                or "properties" in sub_r):
                out[name] = _fill(sub_r, spec, values, depth + 1, name)
        return out
    if "enum" in schema:
        return schema["enum"][0]
    if name in PLAIN:
        return PLAIN[name]
    return {"integer": 1, "number": 1, "boolean": False}.get(kind, "1")


def _body_for(route: Guarded, spec: dict, values: dict) -> Any:
    operation = spec["paths"].get(route.path, {}).get(route.method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    schema = next(iter(content.values()), {}).get("schema")
    return {} if schema is None else _fill(schema, spec, values)


def _snapshot(url: str, seller_id: int) -> dict[str, list]:
    engine = create_engine(normalise_url(url))
    out = {}
    with engine.connect() as conn:
        for table in SELLER_TABLES:
            out[table] = [tuple(r) for r in conn.execute(
                text(f"SELECT * FROM {table} WHERE seller_id = :s ORDER BY 1"), {"s": seller_id})]
        for table in ("posting_items", "packages"):
            out[table] = [tuple(r) for r in conn.execute(text(
                f"SELECT t.* FROM {table} t JOIN postings p ON p.id = t.posting_id "
                "WHERE p.seller_id = :s ORDER BY t.id"), {"s": seller_id})]
    engine.dispose()
    return out


def test_another_sellers_objects_are_invisible_and_untouchable_on_every_route(
    world: World,
) -> None:
    c, v = world.client, world.values
    a_owner, b_owner = seller_headers(world.a), seller_headers(world.b)
    # the detector works: A sees its own marked data
    own = c.post("/v3/posting/fbs/get", headers=a_owner,
                 json={"posting_number": v["posting_number"]})
    assert own.status_code == 200 and MARK in own.text
    assert MARK in c.get("/peakline/v1/webhooks", headers=a_owner).text
    before = _snapshot(world.url, world.a["seller_id"])
    problems = []
    for route in world.routes:
        body = _body_for(route, world.openapi, v)
        r = _call(c, route, b_owner, path=v, body=body)
        if r.status_code >= 500 or MARK in r.text or MARK.encode() in r.content:
            problems.append((route.method, route.path, r.status_code, r.text[:200]))
        addressed = set(route.path_params) & {"account_id", "key_id", "webhook_id", "return_id"}
        if addressed and r.status_code != 404:
            problems.append((route.method, route.path, r.status_code, "expected 404"))
    assert problems == []
    assert _snapshot(world.url, world.a["seller_id"]) == before
