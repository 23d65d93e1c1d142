"""The web console over a real uvicorn (httpx, no browser): every page and every action
obeys the one permission table for every role, every form post needs its CSRF token, and
the message catalogues are complete.

Which permission a page needs is listed here once per page (the one its API twin
declares); the expected answer for each role is read from the permission table, and a
console route missing from the list fails the test, so a new page cannot skip it.
"""

from __future__ import annotations

import ast
import html
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import event, update
from starlette.requests import Request
from starlette.routing import Mount

import reference_backend
from reference_backend import domain_errors
from reference_backend.accounts.guard import SignInGuard
from reference_backend.app import create_app
from reference_backend.catalog import schemas as P
from reference_backend.console import acts as console_acts
from reference_backend.console import i18n, refusals
from reference_backend.console import products as console_products
from reference_backend.console.postings import MAX_PACKAGES
from reference_backend.db import Database
from reference_backend.errors import ApiError
from reference_backend.finance import service as finance_service
from reference_backend.notifications.delivery import BadWebhookUrl, check_webhook_url
from reference_backend.permissions import Action, Role, RouteGroup, is_allowed
from reference_backend.postings import schemas as S
from reference_backend.postings.acts import service as acts_service
from reference_backend.security import WeakPassword, check_password_strength, verify_signature
from reference_backend.settings import Settings
from reference_backend.tables import Seller
from tests.backend_support import (
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    seller_headers,
)
from tests.console_support import CSRF, ConsoleWorld, console_world

G, READ, WRITE = RouteGroup, Action.READ, Action.WRITE
CONSOLE = Path(i18n.__file__).parent

#: Console GET pages -> the permission they need (None: any signed-in person).
PAGES: dict[str, tuple[RouteGroup, Action] | None] = {
    "/": None,
    "/profile": (G.PROFILE, READ),
    "/profile/two-factor": (G.PROFILE, READ),
    "/postings": (G.POSTINGS, READ),
    "/postings/{number}": (G.POSTINGS, READ),
    "/postings/{number}/label.pdf": (G.POSTINGS, READ),
    "/acts": (G.POSTINGS, READ),
    "/acts/{act_id}": (G.POSTINGS, READ),
    "/acts/{act_id}/{document}.pdf": (G.POSTINGS, READ),
    "/products": (G.PRODUCTS, READ),
    "/products/{product_id}": (G.PRODUCTS, READ),
    "/products/import": (G.PRODUCTS, WRITE),
    "/stock": (G.STOCKS, READ),
    "/stock/alerts": (G.PLANNING, READ),
    "/stock/replenishment": (G.PLANNING, READ),
    "/stock/plan": (G.PLANNING, READ),
    "/returns": (G.RETURNS, READ),
    "/promotions": (G.PROMOTIONS, READ),
    "/promotions/{action_id}": (G.PROMOTIONS, READ),
    "/chats": (G.CHATS, READ),
    "/chats/{chat_id}": (G.CHATS, READ),
    "/chats/{chat_id}/files/{message_id}": (G.CHATS, READ),
    "/discount-requests": (G.PROMOTIONS, READ),
    "/analytics": (G.ANALYTICS, READ),
    "/finance": (G.FINANCE, READ),
    "/finance/realization": (G.FINANCE, READ),
    "/accounts": (G.ACCOUNTS, READ),
    "/webhooks": (G.WEBHOOKS, READ),
}
#: Console form posts -> the permission they need.
ACTIONS: dict[str, tuple[RouteGroup, Action] | None] = {
    "/sign-in": None,
    "/sign-out": None,
    "/forgot-password": None,
    "/profile/two-factor/start": (G.PROFILE, WRITE),
    "/profile/two-factor/confirm": (G.PROFILE, WRITE),
    "/profile/password": (G.PROFILE, WRITE),
    "/profile/email": (G.PROFILE, WRITE),
    "/postings/{number}/ship": (G.POSTINGS, WRITE),
    "/postings/{number}/cancel": (G.POSTINGS, WRITE),
    "/postings/{number}/arbitration": (G.POSTINGS, WRITE),
    "/postings/{number}/awaiting-delivery": (G.POSTINGS, WRITE),
    "/postings/{number}/cancel-units": (G.POSTINGS, WRITE),
    "/acts": (G.POSTINGS, WRITE),
    "/products/{product_id}/price": (G.PRODUCTS, WRITE),
    "/products/import": (G.PRODUCTS, WRITE),
    "/stock/available": (G.STOCKS, WRITE),
    "/stock/warning-level": (G.PLANNING, WRITE),
    "/stock/plan": (G.PLANNING, READ),
    "/returns/{return_id}": (G.RETURNS, WRITE),
    "/chats/{chat_id}": (G.CHATS, WRITE),
    "/chats/{chat_id}/file": (G.CHATS, WRITE),
    "/chats/{chat_id}/read": (G.CHATS, WRITE),
    "/promotions/{action_id}": (G.PROMOTIONS, WRITE),
    "/discount-requests/{task_id}/approve": (G.PROMOTIONS, WRITE),
    "/discount-requests/{task_id}/decline": (G.PROMOTIONS, WRITE),
    "/accounts": (G.ACCOUNTS, WRITE),
    "/accounts/policy": (G.ACCOUNTS, WRITE),
    "/accounts/{account_id}": (G.ACCOUNTS, WRITE),
    "/accounts/{account_id}/totp-reset": (G.ACCOUNTS, WRITE),
    "/accounts/{account_id}/api-keys": (G.ACCOUNTS, WRITE),
    "/accounts/{account_id}/api-keys/{key_id}/revoke": (G.ACCOUNTS, WRITE),
    "/webhooks": (G.WEBHOOKS, WRITE),
    "/webhooks/{webhook_id}/rotate-secret": (G.WEBHOOKS, WRITE),
    "/webhooks/{webhook_id}/ping": (G.WEBHOOKS, WRITE),
    "/webhooks/{webhook_id}/delete": (G.WEBHOOKS, WRITE),
}
#: Pages anyone may open (signed in or not).
PUBLIC = {"/sign-in", "/language/{lang}", "/forgot-password"}


def console_routes(directory: Path) -> dict[str, set[str]]:
    """path -> methods of the console app's routes, read from the real app."""
    app = create_app(Settings(database_url=f"sqlite:///{directory}/routes.db",
                              migrate_on_start=False))
    [mount] = [r for r in app.routes if isinstance(r, Mount) and r.path == "/console"]
    found: dict[str, set[str]] = {}
    for ctx in iter_route_contexts(mount.app.routes):  # type: ignore[attr-defined]
        route = ctx.original_route
        methods = ctx.methods or getattr(route, "methods", None)
        if isinstance(route, APIRoute) and methods:
            found.setdefault(ctx.path or route.path, set()).update(methods - {"HEAD"})
    return found


def test_every_console_route_has_its_permission_listed(tmp_path: Path) -> None:
    routes = console_routes(tmp_path)
    gets = {p for p, m in routes.items() if "GET" in m} - PUBLIC
    posts = {p for p, m in routes.items() if "POST" in m}
    assert gets == set(PAGES), "list the new page's permission in PAGES"
    assert posts == set(ACTIONS), "list the new form post's permission in ACTIONS"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    w = console_world(tmp_path_factory.mktemp("console-pages"),
                      env={"PEAKLINE_PUSH_ALLOW_PRIVATE_TARGETS": "true"})
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture(scope="module")
def posting(world: ConsoleWorld) -> str:
    """A posting to assemble, with a buyer chat holding a file."""
    [first, *_] = world.order([(world.creds["sku_base"] + 1, 1)])
    world.start_chat(first["posting_number"])
    world.send_file(world.chat_id, "invoice.pdf", b"%PDF-1.4 invoice")
    return first["posting_number"]


@pytest.fixture(scope="module")
def act(world: ConsoleWorld) -> int:
    """A hand-over act of one shipped posting (``world.act_id``)."""
    [shipped] = world.order([(world.creds["sku_base"] + 3, 1)])
    world.ship(shipped)
    return world.form_act(shipped["warehouse_id"])


@pytest.fixture(scope="module")
def people(world: ConsoleWorld) -> Iterator[dict[Role, tuple[httpx.Client, str]]]:
    """One signed-in client per role (a sign-in costs an argon2 check)."""
    signed = {role: world.signed_in(role) for role in Role}
    yield signed
    for client, _ in signed.values():
        client.close()


def _url(path: str, posting: str, world: ConsoleWorld) -> str:
    """A console URL for ``path``: the world's posting, chat and promotion, and the first
    seeded product (ids from 1)."""
    for name in ("product_id", "account_id", "key_id", "webhook_id", "return_id", "task_id"):
        path = path.replace("{" + name + "}", "1")
    path = path.replace("{message_id}", str(world.file_message_id))
    return "/console" + path.replace("{number}", posting).replace(
        "{chat_id}", world.chat_id).replace("{action_id}", str(world.action_id)).replace(
        "{act_id}", str(world.act_id)).replace("{document}", "act")


def _formed(get: Callable[[], httpx.Response]) -> httpx.Response:
    """``get()``, again while the act is still being formed (409), for up to 15 s."""
    answer, deadline = get(), time.monotonic() + 15
    while answer.status_code == 409 and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = get()
    return answer


def _expected(role: Role, permission: tuple[RouteGroup, Action] | None) -> bool:
    return permission is None or is_allowed(role, *permission)


@pytest.mark.parametrize("role", list(Role))
def test_pages_answer_each_role_as_the_permission_table_says(
    world: ConsoleWorld, people: dict, posting: str, act: int, role: Role
) -> None:
    client, _ = people[role]
    navigation = client.get("/console/").text
    for path, permission in PAGES.items():
        if path.endswith("label.pdf"):
            continue  # (a label needs a shipped posting: the browser journey downloads one)
        answer = _formed(lambda: client.get(_url(path, posting, world)))  # noqa: B023
        allowed = _expected(role, permission)
        assert answer.status_code == (200 if allowed else 403), (role, path, answer.text[:300])
        assert "<script" not in answer.text  # light pages: no script at all (limit: 300 KB)
    for section, group in (("/postings", G.POSTINGS), ("/acts", G.POSTINGS), ("/stock", G.STOCKS),
                           ("/products", G.PRODUCTS), ("/analytics", G.ANALYTICS),
                           ("/accounts", G.ACCOUNTS), ("/webhooks", G.WEBHOOKS)):
        shown = f'href="/console{section}" data-section' in navigation
        assert shown == is_allowed(role, group, READ), (role, section)


@pytest.mark.parametrize("role", list(Role))
def test_actions_are_refused_to_roles_without_the_permission(
    world: ConsoleWorld, people: dict, posting: str, role: Role
) -> None:
    client, token = people[role]
    sku = world.creds["sku_base"] + 5
    warehouse = next(iter(world.creds["warehouses"].values()))
    refused = 0
    for path, permission in ACTIONS.items():
        if _expected(role, permission) or permission is None:
            continue
        answer = client.post(_url(path, posting, world), data={
            "csrf_token": token, "sku": sku, "warehouse_id": warehouse, "available": 0,
            "warning_level": 7, "reason": 352, "price": "1"})
        assert answer.status_code == 403, (role, path, answer.status_code)
        refused += 1
    stock = client.get(f"/console/stock?sku={sku}")
    if stock.status_code == 200:  # nothing changed: still the seeded stock and warning line
        assert 'name="available" value="0"' not in stock.text
        assert 'name="warning_level" value="7"' not in stock.text


def test_every_form_post_without_its_csrf_token_is_refused_and_changes_nothing(
    world: ConsoleWorld, people: dict, posting: str
) -> None:
    client, token = people[Role.OWNER]
    sku = world.creds["sku_base"] + 6
    warehouse = next(iter(world.creds["warehouses"].values()))
    before = client.get(f"/console/stock?sku={sku}").text
    for path in ACTIONS:
        url = _url(path, posting, world)
        fields = {"sku": sku, "warehouse_id": warehouse, "available": 0, "warning_level": 99,
                  "reason": 352, "email": "owner@example.com", "password": "x"}
        for sent in ({}, {"csrf_token": "0" * 64}, {"csrf_token": token[:-1]}):
            answer = client.post(url, data={**fields, **sent})
            assert answer.status_code == 403, (path, sent, answer.text[:200])
    assert client.get(f"/console/stock?sku={sku}").text.count('value="99"') == 0
    assert client.get(f"/console/stock?sku={sku}").text == before.replace(
        token, token)  # same levels
    page = client.get(f"/console/postings/{posting}").text
    assert "awaiting_packaging" in page  # neither shipped nor cancelled
    # a token is bound to its session: another person's valid token does not work here
    _, other_token = people[Role.WAREHOUSE]
    answer = client.post("/console/stock/warning-level", data={
        "csrf_token": other_token, "sku": sku, "warehouse_id": warehouse, "warning_level": 99})
    assert answer.status_code == 403


def test_a_seller_without_a_chat_subscription_is_told_why(
    world: ConsoleWorld, people: dict, posting: str
) -> None:
    """Without Premium Plus the chat page explains the subscription (the API answers 403
    there) instead of an error page; sending is refused with the service's reason."""
    client, token = people[Role.OWNER]
    database = Database(world.database_url, Settings(database_url=world.database_url))
    chat = _url("/chats/{chat_id}", posting, world)
    try:
        with database.session() as session:
            session.execute(update(Seller).where(Seller.id == world.creds["seller_id"])
                            .values(subscription="NONE"))
        answer = client.get(chat)
        assert answer.status_code == 200, answer.text[:300]
        assert 'id="plan-needed"' in answer.text and "Premium Plus" in answer.text
        assert "subscription: NONE" in answer.text and 'id="reply"' not in answer.text
        listed = client.get("/console/chats")
        assert listed.status_code == 200 and 'id="plan-needed"' in listed.text
        sent = client.post(chat, data={"csrf_token": token, "text": "hello"})
        assert sent.status_code == 303
        assert "this seller has NONE" in client.get(chat).text  # the service's refusal
    finally:
        with database.session() as session:
            session.execute(update(Seller).where(Seller.id == world.creds["seller_id"])
                            .values(subscription="PREMIUM_PLUS"))
        database.dispose()
    assert 'id="plan-needed"' not in client.get(chat).text


def test_session_cookie_is_httponly_and_samesite(world: ConsoleWorld) -> None:
    client = httpx.Client(base_url=world.base_url)
    page = client.get("/console/sign-in")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    email, password = world.people[Role.ANALYST]
    answer = client.post("/console/sign-in", data={"csrf_token": token, "email": email,
                                                   "password": password})
    cookie = next(v for k, v in answer.headers.multi_items()
                  if k == "set-cookie" and v.startswith("peakline_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    wrong = httpx.Client(base_url=world.base_url)
    token = wrong.get("/console/sign-in").text.split('name="csrf_token" value="')[1].split('"')[0]
    refused = wrong.post("/console/sign-in", data={"csrf_token": token, "email": email,
                                                   "password": "wrong password"})
    assert refused.status_code == 401 and "peakline_session" not in wrong.cookies
    assert wrong.get("/console/").status_code == 303  # still signed out: to the sign-in page
    # signing out ends the session on the server, not just in the browser
    session_token = client.cookies["peakline_session"]
    csrf = client.get("/console/profile").text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/console/sign-out", data={"csrf_token": csrf})
    replay = httpx.get(world.base_url + "/console/", cookies={"peakline_session": session_token})
    assert replay.status_code == 303


def test_language_follows_the_browser_and_the_switch(world: ConsoleWorld) -> None:
    zh = httpx.get(world.base_url + "/console/sign-in",
                   headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "登录" in zh.text and 'lang="zh-Hans"' in zh.text
    en = httpx.get(world.base_url + "/console/sign-in", headers={"Accept-Language": "en-US"})
    assert "Sign in" in en.text and "登录" not in en.text
    switched = httpx.get(world.base_url + "/console/sign-in", cookies={"peakline_lang": "en"},
                         headers={"Accept-Language": "zh-CN"})
    assert "Sign in" in switched.text


@pytest.mark.postgres
def test_console_on_postgresql(tmp_path: Path) -> None:
    """The owner's pages and a ship, a stock edit and an alert on PostgreSQL."""
    if not postgres_admin_url():
        pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
    with fresh_postgres_url() as url:
        world = console_world(tmp_path, database_url=url)
        try:
            [posting] = world.order([(world.creds["sku_base"] + 2, 1)])
            number = posting["posting_number"]
            world.send_file(world.start_chat(number), "photo.png", b"\x89PNG")
            client, token = world.signed_in(Role.OWNER)
            for path in PAGES:
                if not path.endswith(".pdf") and "{act_id}" not in path:  # (acts: below)
                    answer = client.get(_url(path, number, world))
                    assert answer.status_code == 200, (path, answer.text[:300])
            sku = world.creds["sku_base"] + 2
            shipped = client.post(f"/console/postings/{number}/ship", data={
                "csrf_token": token, f"units_{sku}_1": "1"})
            assert shipped.status_code == 303
            label = client.get(shipped.headers["location"] + "/label.pdf")
            assert label.content.startswith(b"%PDF")
            act = client.post("/console/acts", data={
                "csrf_token": token, "delivery_method_id": str(posting["warehouse_id"])})
            assert act.status_code == 303, act.text[:300]
            assert number in client.get(act.headers["location"]).text
            pdf = _formed(lambda: client.get(act.headers["location"] + "/act.pdf"))
            assert pdf.content.startswith(b"%PDF")
            warehouse = posting["warehouse_id"]
            for path, field, value in (("warning-level", "warning_level", 9),
                                       ("available", "available", 3)):
                edited = client.post(f"/console/stock/{path}", data={
                    "csrf_token": token, "sku": sku, "warehouse_id": warehouse, field: value})
                assert edited.status_code == 303
            alerts = client.get(f"/console/stock/alerts?sku={sku}").text
            assert f'data-sku="{sku}" data-warehouse="{warehouse}"' in alerts
        finally:
            world.stop()


# --- discount requests, finance, chat files, own account, webhooks --------------------------


def _notice(client: httpx.Client, answer: httpx.Response) -> str:
    """The one-time notice of the page a form post redirected to."""
    assert answer.status_code == 303, answer.text[:300]
    page = client.get(answer.headers["location"]).text
    if 'class="notice' not in page:
        return ""
    return html.unescape(page.split('<p class="notice', 1)[1].split("</p>", 1)[0])


def _api_tasks(world: ConsoleWorld) -> dict[int, dict]:
    answer = httpx.post(world.base_url + "/v1/actions/discounts-task/list", json={
        "status": "UNKNOWN", "limit": 100}, headers=seller_headers(world.creds))
    return {t["id"]: t for t in answer.json()["result"]}


def test_discount_requests_are_read_approved_and_declined(
    world: ConsoleWorld, people: dict
) -> None:
    sku = world.creds["sku_base"] + 3
    price = float(_api_product(world, sku)["price"])
    approve, decline, refuse = (world.discount_request(sku, round(price * 0.8, 2), (1, 3),
                                                       comment=f"please {n}")
                                for n in range(3))
    client, token = people[Role.SALES]
    page = client.get("/console/discount-requests?status=NEW").text
    for task in (approve, decline, refuse):
        assert f'data-request="{task}"' in page and f'data-decide="{task}"' in page
    assert "please 0" in page and "NEW" in page
    assert {t["status"] for i, t in _api_tasks(world).items() if i in (approve, decline)} == {
        "SEEN"}  # read in the console: SEEN, as the API's list does
    assert f'data-request="{approve}"' not in client.get(
        "/console/discount-requests?status=NEW").text
    assert f'data-decide="{approve}"' in client.get(
        "/console/discount-requests?status=waiting").text  # NEW and SEEN
    approve_url = f"/console/discount-requests/{approve}/approve"
    wrong = {"csrf_token": token, "approved_price": "abc", "quantity_min": "1",
             "quantity_max": "2"}
    assert "Enter the price as a number" in _notice(client, client.post(approve_url, data=wrong))
    above = {**wrong, "approved_price": f"{price + 1:.2f}"}
    assert "below the product's price" in _notice(client, client.post(approve_url, data=above))
    done = client.post(approve_url, data={**wrong, "approved_price": f"{price * 0.85:.2f}",
                                          "seller_comment": "OK for two"})
    assert f"Request {approve} approved" in _notice(client, done)
    declined = client.post(f"/console/discount-requests/{decline}/decline", data={
        "csrf_token": token, "seller_comment": "price is final"})
    assert f"Request {decline} declined" in _notice(client, declined)
    again = client.post(f"/console/discount-requests/{decline}/decline", data={
        "csrf_token": token})
    assert "only NEW or SEEN" in _notice(client, again)
    tasks = _api_tasks(world)
    assert tasks[approve]["status"] == "PARTLY_APPROVED"  # fewer units than asked
    assert tasks[approve]["approved_price"] == round(price * 0.85, 2)
    assert tasks[approve]["approved_quantity_max"] == 2
    assert tasks[decline]["status"] == "DECLINED"
    assert tasks[decline]["seller_comment"] == "price is final"
    assert tasks[refuse]["status"] == "SEEN"
    analyst, _ = people[Role.ANALYST]  # reads, cannot decide: no forms
    listed = analyst.get("/console/discount-requests").text
    assert f'data-request="{refuse}"' in listed and "data-decide=" not in listed


def _api_product(world: ConsoleWorld, sku: int) -> dict:
    answer = httpx.post(world.base_url + "/v3/product/info/list", json={"sku": [sku]},
                        headers=seller_headers(world.creds))
    return answer.json()["items"][0]


def test_finance_transactions_totals_and_the_realization_report(
    world: ConsoleWorld, people: dict
) -> None:
    sku = world.creds["sku_base"] + 4
    number = world.returned(sku)  # delivered (a sale), then sent back by the buyer
    client, _ = people[Role.ANALYST]
    today = datetime.now(UTC).date()
    period = {"from": str(today - timedelta(days=1)), "to": str(today)}
    page = client.get("/console/finance", params=period)
    assert page.status_code == 200, page.text[:300]
    assert f'href="/console/postings/{number}"' in page.text
    totals = httpx.post(world.base_url + "/v3/finance/transaction/totals", json={"date": {
        "from": f"{period['from']}T00:00:00Z", "to": f"{period['to']}T23:59:59Z"}},
        headers=seller_headers(world.creds)).json()["result"]
    assert totals["accruals_for_sale"] > 0
    sales = page.text.split('data-bucket="accruals_for_sale"')[1].split("</p>")[0]
    assert f"{totals['accruals_for_sale']:,.2f}" in sales  # the API's figure, as money
    zh = client.get("/console/finance", params=period, headers={"Accept-Language": "zh-CN"})
    assert "销售额" in zh.text and f"{totals['accruals_for_sale']:,.2f}" in zh.text
    too_long = client.get("/console/finance", params={"from": "2026-01-01", "to": "2026-03-01"})
    assert too_long.status_code == 400 and "at most one month" in too_long.text
    assert "longer than one month" in too_long.text  # the service's own reason too
    too_long_zh = client.get("/console/finance", headers={"Accept-Language": "zh-CN"},
                             params={"from": "2026-01-01", "to": "2026-03-01"}).text
    assert "超过一个月；每次最多请求一个月" in too_long_zh  # the service's reason, translated
    assert "2026-01-01T00:00:00+00:00" in too_long_zh  # with its values
    assert client.get("/console/finance", params={"from": "1 May"}).status_code == 400
    report = client.get("/console/finance/realization",
                        params={"month": today.strftime("%Y-%m")})
    assert report.status_code == 200 and f'data-sku="{sku}"' in report.text
    later = client.get("/console/finance/realization", params={"month": "2999-01"})
    assert later.status_code == 404 and "does not exist yet" in later.text
    assert client.get("/console/finance/realization?month=13-2026").status_code == 400


@contextmanager
def _in_process(world: ConsoleWorld, client: httpx.Client) -> Iterator[TestClient]:
    """The world's backend in this process (to watch its queries and calls), signed in as
    ``client`` is."""
    app = create_app(Settings(database_url=world.database_url, log_requests=False,
                              run_outbox_worker=False, migrate_on_start=False))
    with TestClient(app, cookies=dict(client.cookies)) as local:
        yield local


def test_the_finance_page_reads_the_operations_once(
    world: ConsoleWorld, people: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict] = []
    read = finance_service.operations
    monkeypatch.setattr(finance_service, "operations",
                        lambda *args, **kwargs: calls.append(kwargs) or read(*args, **kwargs))
    today = datetime.now(UTC).date()
    with _in_process(world, people[Role.ANALYST][0]) as local:
        page = local.get("/console/finance", params={"from": str(today.replace(day=1)),
                                                     "to": str(today)})
    assert page.status_code == 200 and 'data-bucket="accruals_for_sale"' in page.text
    assert len(calls) == 1


def test_chat_files_and_read_marks(world: ConsoleWorld, people: dict, posting: str) -> None:
    client, token = people[Role.CUSTOMER_SERVICE]
    chat = _url("/chats/{chat_id}", posting, world)
    world.buyer_message(posting, "Where is my parcel?")
    page = client.get(chat).text
    assert 'id="unread"' in page and 'class="message theirs unread"' in page
    marked = client.post(chat + "/read", data={"csrf_token": token})
    assert "marked read" in _notice(client, marked)
    page = client.get(chat).text
    assert 'id="unread"' not in page and "message theirs unread" not in page
    listed = httpx.post(world.base_url + "/v3/chat/list", json={"limit": 100},
                        headers=seller_headers(world.creds)).json()["chats"]
    assert [c["unread_count"] for c in listed if c["chat"]["chat_id"] == world.chat_id] == [0]
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    sent = client.post(chat + "/file", data={"csrf_token": token},
                       files={"file": ("label photo.png", photo, "image/png")})
    assert "File sent" in _notice(client, sent)
    page = client.get(chat).text
    link = page.split('class="file" href="')[-1].split('"')[0]
    assert "label photo.png" in page and link.startswith(chat + "/files/")
    download = client.get(link)
    assert download.content == photo and "attachment" in download.headers[
        "content-disposition"]
    unnamed = client.post(chat + "/file", data={"csrf_token": token},
                          files={"file": ("noextension", b"data", "text/plain")})
    assert "file name with an extension" in _notice(client, unnamed)
    empty = client.post(chat + "/file", data={"csrf_token": token},
                        files={"file": ("empty.txt", b"", "text/plain")})
    assert "empty" in _notice(client, empty)
    other = world.file_message_id - 10**6  # not a file of this chat
    assert client.get(f"{chat}/files/{max(other, 1)}").status_code == 404


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_file_is_refused_with_a_page_and_not_stored(
    world: ConsoleWorld, people: dict, posting: str, stream: bool
) -> None:
    client, token = people[Role.CUSTOMER_SERVICE]
    chat = _url("/chats/{chat_id}", posting, world)
    files_before = client.get(chat).text.count('class="file"')
    upload = httpx.Request("POST", world.base_url + chat + "/file", data={"csrf_token": token},
                           files={"file": ("big.bin", b"\0" * (6 * 2**20), "text/plain")})
    body = upload.read()
    content = (body[i:i + 2**16] for i in range(0, len(body), 2**16)) if stream else body
    for lang, text in (("en", "larger than this page accepts (5.06 MiB)"),
                       ("zh-CN", "超过了本页面允许的大小（5.06 MiB）")):
        answer = client.post(chat + "/file", content=content, headers={
            "Content-Type": upload.headers["Content-Type"], "Accept-Language": lang})
        assert answer.status_code == 413 and text in answer.text, answer.text[:300]
        assert 'class="status-code">413' in answer.text
        content = (body[i:i + 2**16] for i in range(0, len(body), 2**16)) if stream else body
    assert client.get(chat).text.count('class="file"') == files_before


def test_own_password_and_email(world: ConsoleWorld) -> None:
    world.add_person("changer@example.com", "Changer", "analyst", "First-pass 2026")
    client, answer = world.sign_in("changer@example.com", "First-pass 2026")
    other_device, _ = world.sign_in("changer@example.com", "First-pass 2026")
    token = CSRF.search(client.get("/console/profile").text).group(1)

    def change(current: str, new: str, again: str | None = None,
               lang: str = "en") -> httpx.Response:
        return client.post("/console/profile/password", headers={"Accept-Language": lang}, data={
            "csrf_token": token, "current_password": current, "new_password": new,
            "new_password_again": new if again is None else again})

    assert "differ" in change("First-pass 2026", "Second-pass 2026", "Other").text
    wrong = change("not my password", "Second-pass 2026")
    assert wrong.status_code == 403 and "current password is wrong" in wrong.text
    weak = change("First-pass 2026", "aaaaaaaaaaaa")
    assert weak.status_code == 400 and "too weak" in weak.text and "4 different" in weak.text
    weak_zh = change("First-pass 2026", "aaaaaaaaaaaa", lang="zh-CN")  # the reason too
    assert "新密码强度不够：密码至少需要使用 4 个不同的字符" in weak_zh.text
    assert "password is changed" in _notice(client, change("First-pass 2026",
                                                           "Second-pass 2026"))
    assert world.sign_in("changer@example.com", "First-pass 2026")[1].status_code == 401
    assert world.sign_in("changer@example.com", "Second-pass 2026")[1].status_code == 303
    # whoever knew the old password is signed out; this device stays signed in
    assert other_device.get("/console/profile").status_code == 303
    assert client.get("/console/profile").status_code == 200

    def email(value: str, current: str = "Second-pass 2026") -> httpx.Response:
        return client.post("/console/profile/email", data={
            "csrf_token": token, "email": value, "current_password": current})

    wrong = email("thief@example.com", "not my password")
    assert wrong.status_code == 403 and "current password is wrong" in wrong.text
    assert email("thief@example.com", "").status_code == 403
    taken = email("owner@example.com")
    assert taken.status_code == 409 and "Another account of this seller" in taken.text
    assert email("not an address").status_code == 400
    assert "changed@example.com" in _notice(client, email(" Changed@Example.com "))
    assert world.sign_in("changed@example.com", "Second-pass 2026")[1].status_code == 303
    zh = client.get("/console/profile", headers={"Accept-Language": "zh-CN"}).text
    assert "修改密码" in zh and "修改登录邮箱" in zh


class _Receiver(BaseHTTPRequestHandler):
    """A webhook receiver answering 200 and keeping what it got."""

    got: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).got.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_secret_rotation_and_test_ping(world: ConsoleWorld, people: dict) -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    client, token = people[Role.OWNER]
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        added = client.post("/console/webhooks", data={"csrf_token": token, "url": url})
        first = added.text.split('<code id="secret">')[1].split("<")[0]
        listed = httpx.get(world.base_url + "/peakline/v1/webhooks",
                           headers=seller_headers(world.creds)).json()["webhooks"]
        [hook] = [h["id"] for h in listed if h["url"] == url]
        rotated = client.post(f"/console/webhooks/{hook}/rotate-secret",
                              data={"csrf_token": token})
        secret = rotated.text.split('<code id="secret">')[1].split("<")[0]
        assert secret != first and "no longer signs" in rotated.text
        assert secret not in client.get("/console/webhooks").text  # shown once
        pinged = client.post(f"/console/webhooks/{hook}/ping", data={"csrf_token": token})
        assert pinged.status_code == 303 and "?ping=" in pinged.headers["location"]
        deadline = time.monotonic() + 30
        page = client.get(pinged.headers["location"]).text
        assert "Test ping sent" in page
        while "delivered</span> HTTP 200" not in page and time.monotonic() < deadline:
            assert 'http-equiv="refresh"' in page  # waiting: the page reloads itself
            time.sleep(0.3)
            page = client.get(pinged.headers["location"]).text
        assert "delivered</span> HTTP 200" in page and 'http-equiv="refresh"' not in page
        pings = [(h, b) for h, b in _Receiver.got if b'"TYPE_PING"' in b]
        headers, body = pings[-1]
        assert verify_signature(secret, body, signature=headers["x-peakline-signature"],
                                event_id=headers["x-peakline-event-id"],
                                timestamp=headers["x-peakline-timestamp"])
        client.post(f"/console/webhooks/{hook}/delete", data={"csrf_token": token})
    finally:
        receiver.shutdown()
# --- hand-over documents, package splits, disputes, money -----------------------------------


def _posting_state(world: ConsoleWorld, number: str) -> dict:
    answer = httpx.post(world.base_url + "/v3/posting/fbs/get", headers=seller_headers(
        world.creds), json={"posting_number": number}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def test_ship_splits_a_line_across_packages_and_refuses_a_bad_split(
    world: ConsoleWorld, people: dict
) -> None:
    client, token = people[Role.WAREHOUSE]
    one, two = world.creds["sku_base"] + 14, world.creds["sku_base"] + 15
    [posting] = world.order([(one, 3), (two, 1)])[:1]
    number = posting["posting_number"]
    skus = {p["sku"] for p in posting["products"]}
    assert skus == {one, two}, "the smoke seller keeps both SKUs in one warehouse"
    form = client.get(f"/console/postings/{number}?packages=2").text
    assert f'name="units_{one}_2"' in form and "Package 2" in form
    for units, reason in (
        ({f"units_{one}_1": "2", f"units_{one}_2": "0", f"units_{two}_1": "1"},
         f"SKU {one}: 2 of 3 units in packages"),  # a unit left out
        ({f"units_{one}_1": "3", f"units_{one}_2": "1", f"units_{two}_1": "1"},
         f"SKU {one}: 4 of 3 units in packages"),  # one too many
        ({f"units_{one}_1": "two", f"units_{two}_1": "1"}, "whole numbers"),
        ({f"units_{one}_1": "-1", f"units_{one}_2": "4", f"units_{two}_1": "1"}, "whole numbers"),
        ({f"units_{one}_1": "0", f"units_{two}_1": "0"}, "at least one unit"),
    ):
        refused = client.post(f"/console/postings/{number}/ship", data={
            "csrf_token": token, "packages": "2", **units})
        assert refused.status_code == 400, (units, refused.text[:300])
        assert reason in refused.text and "Internal" not in refused.text
        assert f'name="units_{one}_2"' in refused.text  # the form again, as it was entered
    assert _posting_state(world, number)["status"] == "awaiting_packaging"  # nothing changed
    zh = client.post(f"/console/postings/{number}/ship", headers={"Accept-Language": "zh-CN"},
                     data={
                         "csrf_token": token, "packages": "2", f"units_{one}_1": "1",
                         f"units_{two}_1": "1"})
    assert zh.status_code == 400 and "未发货" in zh.text
    shipped = client.post(f"/console/postings/{number}/ship", data={
        "csrf_token": token, "packages": "2", f"units_{one}_1": "2", f"units_{one}_2": "1",
        f"units_{two}_1": "", f"units_{two}_2": "1"})
    assert shipped.status_code == 303, shipped.text[:300]
    first = _posting_state(world, number)
    assert first["status"] == "awaiting_deliver"
    assert [(p["sku"], p["quantity"]) for p in first["products"]] == [(one, 2)]
    page = client.get(shipped.headers["location"]).text
    assert "Shipped in 2 package(s)" in page
    child = _posting_state(world, number.rsplit("-", 1)[0] + "-2")  # the order's next number
    assert child["parent_posting_number"] == number and child["status"] == "awaiting_deliver"
    assert sorted((i["sku"], i["quantity"]) for i in child["products"]) == [(one, 1), (two, 1)]


def test_ship_form_offers_as_many_packages_as_the_api_a_package_a_row(
    world: ConsoleWorld, people: dict
) -> None:
    assert S.ShipRequest.model_fields["packages"].metadata[-1].max_length == MAX_PACKAGES
    client, token = people[Role.WAREHOUSE]
    base = world.creds["sku_base"]
    posting = max(world.order([(base + n, 40) for n in range(30, 35)]),
                  key=lambda p: sum(line["quantity"] for line in p["products"]))
    number, lines = posting["posting_number"], posting["products"]
    assert sum(line["quantity"] for line in lines) >= 100
    assert client.get(f"/console/postings/{number}?packages=101").status_code == 400
    form = client.get(f"/console/postings/{number}?packages=100").text
    grid = form.split('id="ship-form"')[1].split("</table>")[0]
    assert 'class="split by-package"' in grid and grid.count("<tr>") == 101  # head + 100
    assert grid.count("</th>") == 1 + len(lines) + 100  # a column a line, not a package
    assert f'name="units_{lines[-1]["sku"]}_100"' in grid and "Package 100" in grid
    units = [line["sku"] for line in lines for _ in range(line["quantity"])]
    packed: dict[str, int] = {}
    for n, sku in enumerate(units):  # a unit a package, what is left into the last
        field = f"units_{sku}_{min(n + 1, 100)}"
        packed[field] = packed.get(field, 0) + 1
    shipped = client.post(f"/console/postings/{number}/ship", data={
        "csrf_token": token, "packages": "100", **packed})
    assert "Shipped in 100 package(s)" in _notice(client, shipped)
    assert _posting_state(world, number)["status"] == "awaiting_deliver"


def test_dispute_opens_and_closes_from_the_posting_page(
    world: ConsoleWorld, people: dict
) -> None:
    client, token = people[Role.CUSTOMER_SERVICE]
    [posting] = world.order([(world.creds["sku_base"] + 16, 1)])
    number = posting["posting_number"]
    page = client.get(f"/console/postings/{number}").text
    assert "open-dispute" not in page  # not handed over yet: no dispute to open
    refused = client.post(f"/console/postings/{number}/arbitration", data={"csrf_token": token})
    assert refused.status_code == 409 and "awaiting_packaging" in refused.text
    assert _posting_state(world, number)["status"] == "awaiting_packaging"
    world.ship(posting)
    assert 'id="open-dispute"' in client.get(f"/console/postings/{number}").text
    opened = client.post(f"/console/postings/{number}/arbitration", data={"csrf_token": token})
    assert opened.status_code == 303
    assert _posting_state(world, number)["status"] == "arbitration"
    page = client.get(opened.headers["location"]).text
    assert "A dispute is open" in page and 'id="end-dispute"' in page
    again = client.post(f"/console/postings/{number}/arbitration", data={"csrf_token": token})
    assert again.status_code == 409  # the lifecycle refuses arbitration -> arbitration
    closed = client.post(f"/console/postings/{number}/awaiting-delivery",
                         data={"csrf_token": token})
    assert closed.status_code == 303
    assert _posting_state(world, number)["status"] == "awaiting_deliver"
    sales, _ = people[Role.SALES]  # may read postings, not write: no dispute buttons
    assert 'id="open-dispute"' not in sales.get(f"/console/postings/{number}").text


def test_some_units_of_a_line_are_cancelled_with_a_reason(
    world: ConsoleWorld, people: dict
) -> None:
    client, token = people[Role.OWNER]
    sku = world.creds["sku_base"] + 18
    [posting] = world.order([(sku, 3)])
    number = posting["posting_number"]
    page = client.get(f"/console/postings/{number}").text
    assert 'id="cancel-units-form"' in page and 'option value="352"' in page  # its reasons
    for fields in ({f"cancel_{sku}": "1"},  # no reason
                   {f"cancel_{sku}": "x", "reason": "352"},
                   {f"cancel_{sku}": "0", "reason": "352"},  # nothing to cancel
                   {f"cancel_{sku}": "4", "reason": "352"}):  # more than the line holds
        refused = client.post(f"/console/postings/{number}/cancel-units",
                              data={"csrf_token": token, **fields})
        assert refused.status_code == 400, (fields, refused.text[:300])
        assert 'class="notice error"' in refused.text
    assert _posting_state(world, number)["products"][0]["quantity"] == 3  # nothing changed
    done = client.post(f"/console/postings/{number}/cancel-units", data={
        "csrf_token": token, f"cancel_{sku}": "1", "reason": "352"})
    assert done.status_code == 303, done.text[:300]
    after = _posting_state(world, number)
    assert after["status"] == "awaiting_packaging" and after["products"][0]["quantity"] == 2
    assert "1 unit(s) cancelled" in client.get(done.headers["location"]).text


def test_acts_are_paged_newest_first_in_a_fixed_number_of_queries(
    world: ConsoleWorld, people: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):  # three acts at least
        [posting] = world.order([(world.creds["sku_base"] + 36, 1)])
        world.ship(posting)
        world.form_act(posting["warehouse_id"])
    client, _ = people[Role.WAREHOUSE]
    statements: list[str] = []

    def acts_on(page: int, size: int) -> tuple[list[int], int]:
        monkeypatch.setattr(console_acts, "PAGE_SIZE", size)
        statements.clear()
        listed = local.get("/console/acts", params={"page": page}).text
        return [int(a) for a in re.findall(r'data-act="(\d+)"', listed)], len(statements)

    with _in_process(world, client) as local:
        event.listen(local.app.state.db.engine, "before_cursor_execute",
                     lambda *args: statements.append(args[2]))
        (one, queries_of_one), (three, queries_of_three) = acts_on(1, 1), acts_on(1, 3)
        assert len(three) == 3 and three == sorted(three, reverse=True) and one == three[:1]
        assert queries_of_one == queries_of_three  # the postings of all acts in one query
        second, _ = acts_on(2, 2)
        assert second == acts_on(1, 4)[0][2:]
        monkeypatch.setattr(console_acts, "PAGE_SIZE", 2)
        assert 'rel="next"' in local.get("/console/acts").text


def test_an_act_forms_and_offers_its_documents(world: ConsoleWorld, people: dict) -> None:
    client, token = people[Role.WAREHOUSE]
    sku = world.creds["sku_base"] + 17
    [posting] = world.order([(sku, 1)])
    warehouse = posting["warehouse_id"]
    empty = client.post("/console/acts", data={"csrf_token": token,
                                               "delivery_method_id": str(warehouse)})
    if empty.status_code == 409:  # nothing assembled (earlier tests' postings are in acts)
        assert "ship postings first" in empty.text
    for bad in ({"delivery_method_id": "x"}, {"delivery_method_id": str(warehouse),
                                               "departure_date": "2026-13-45"}):
        answer = client.post("/console/acts", data={"csrf_token": token, **bad})
        assert answer.status_code == 400 and "departure date" in answer.text
    unknown = client.post("/console/acts", data={"csrf_token": token,
                                                 "delivery_method_id": "999999999"})
    assert unknown.status_code == 404
    [other] = world.order([(sku, 1)])
    world.ship(posting)
    world.ship(other)
    places = client.post("/console/acts", headers={"Accept-Language": "zh-CN"}, data={
        "csrf_token": token, "delivery_method_id": str(warehouse), "containers_count": "2"})
    assert places.status_code == 400 and "该仓库未开通信任验收" in places.text  # (Ozon's text)
    formed = client.post("/console/acts", data={
        "csrf_token": token, "delivery_method_id": str(warehouse),
        "departure_date": "2026-12-24", "containers_count": "0"})
    assert formed.status_code == 303, formed.text[:300]
    act_url = formed.headers["location"]
    act_id = int(act_url.rsplit("/", 1)[1])
    forming = client.get(act_url).text
    assert 'http-equiv="refresh"' in forming and "being formed" in forming
    early = client.get(f"{act_url}/act.pdf")
    if early.status_code == 409:  # (a loaded machine may take the forming seconds already)
        assert "still being formed" in early.text
    pdf = _formed(lambda: client.get(f"{act_url}/act.pdf"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert f'filename="{act_id}.pdf"' in pdf.headers["content-disposition"]
    ready = client.get(act_url).text
    assert 'http-equiv="refresh"' not in ready and 'id="waybill-pdf"' in ready
    assert f'data-posting="{posting["posting_number"]}"' in ready and "Dec 24, 2026" in ready
    assert client.get(f"{act_url}/waybill.pdf").content.startswith(b"%PDF")
    assert client.get(f"{act_url}/containers.pdf").content.startswith(b"%PDF")
    assert client.get(f"{act_url}/mismatch.pdf").status_code == 404  # nothing left behind
    assert 'id="mismatch-pdf"' not in ready
    assert client.get(f"{act_url}/other.pdf").status_code == 404
    assert client.get("/console/acts/999999999").status_code == 404
    listed = client.get("/console/acts").text
    assert f'data-act="{act_id}"' in listed
    on_posting = client.get(f"/console/postings/{posting['posting_number']}").text
    assert f'id="posting-act" href="/console/acts/{act_id}"' in on_posting
    api = httpx.post(world.base_url + "/v2/posting/fbs/act/get-postings", json={"id": act_id},
                     headers=seller_headers(world.creds), timeout=30).json()["result"]
    assert [p["posting_number"] for p in api] == [posting["posting_number"],
                                                  other["posting_number"]]
    zh = client.get(act_url, headers={"Accept-Language": "zh-CN"}).text
    assert "运单（PDF）" in zh and "2026年12月24日" in zh  # the departure in each language
    # the carrier takes the other posting only: this one is missing, an act of mismatch
    taken = httpx.post(world.base_url + "/marketplace/v1/logistics/events", timeout=30,
                       headers=platform_headers(world.creds), json={
                           "posting_number": other["posting_number"],
                           "event": "sorting_accepted"})
    assert taken.status_code in (200, 201), taken.text
    page = client.get(act_url).text
    assert 'id="mismatch-pdf"' in page
    mismatch = client.get(f"{act_url}/mismatch.pdf")
    assert mismatch.status_code == 200 and mismatch.content.startswith(b"%PDF")
    assert f'filename="{act_id}_act_of_mismatch.pdf"' in mismatch.headers["content-disposition"]


@pytest.mark.parametrize(("lang", "value", "currency", "shown"), [
    ("en", "1234.5", "RUB", "₽1,234.50"), ("zh_Hans", "1234.5", "RUB", "₽1,234.50"),
    ("en", 0, "RUB", "₽0.00"), ("en", "12", "USD", "$12.00"), ("zh_Hans", "12", "USD", "US$12.00"),
    ("zh_Hans", "8", "CNY", "¥8.00"), ("en", "-3.2", None, "-₽3.20"), ("en", None, "RUB", ""),
    ("en", "", "RUB", ""), ("en", "n/a", "RUB", "n/a"), ("en", "NaN", "RUB", "NaN"),
])
def test_money_reads_as_people_expect(lang: str, value: object, currency: str | None,
                                      shown: str) -> None:
    assert i18n.money(value, currency, lang) == shown  # type: ignore[arg-type]
    assert "RUB" not in i18n.money(value, currency, lang)  # type: ignore[arg-type]


def test_pages_show_money_with_the_rouble_sign(world: ConsoleWorld, people: dict) -> None:
    client, _ = people[Role.OWNER]
    for lang in ("en", "zh-CN"):
        page = client.get("/console/products", headers={"Accept-Language": lang}).text
        assert re.search(r"₽[\d,]+\.\d\d", page), lang
        assert not re.search(r"RUB\s?[\d]", page), lang


# --- the message catalogues -----------------------------------------------------------------


def _used_messages() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), **i18n.KEYWORDS}
    return {message if isinstance(message, str) else message[0]
            for _, _, message, _, _ in extract_from_dir(
                CONSOLE, method_map=method_map, options_map=options, keywords=keywords)}


#: Code whose messages the console never shows (the buyer and platform APIs, routers, the
#: HTTP error bodies and injected faults).
NOT_SHOWN = ("orders", "marketplace", "console", "migrations", "errors.py", "faults.py")


#: Errors whose text a service turns into a refusal (``str(exc)``), besides domain errors.
CHECK_ERRORS = {"WeakPassword", "BadWebhookUrl"}


class _MessageFinder(ast.NodeVisitor):
    """The messages a module makes: the first argument of a domain error or a check's error,
    the ``message`` of a call (an item error) or of a function of the module taking one;
    each value replaced by "7" (a conditional between two texts gives both), names of texts
    assigned in the function or the module read as those texts."""

    def __init__(self, tree: ast.Module, errors: set[str]) -> None:
        self.errors = errors
        self.takers = {f.name: [a.arg for a in f.args.args].index("message")
                       for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                       and "message" in [a.arg for a in f.args.args]}
        self.scopes = [self._texts_assigned(tree.body)]
        self.found: list[tuple[int, str]] = []

    @staticmethod
    def _texts_assigned(body: list[ast.stmt]) -> dict[str, ast.expr]:
        return {node.targets[0].id: node.value
                for statement in body for node in ast.walk(statement)
                if isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant | ast.JoinedStr)}

    def texts(self, node: ast.expr) -> list[str]:
        """The texts ``node`` can make ([] when it is made elsewhere, e.g. by a library)."""
        if isinstance(node, ast.Constant):
            return [node.value] if isinstance(node.value, str) else []
        if isinstance(node, ast.Name):
            assigned = next((s[node.id] for s in reversed(self.scopes) if node.id in s), None)
            return [] if assigned is None else self.texts(assigned)
        if isinstance(node, ast.IfExp):
            return self.texts(node.body) + self.texts(node.orelse)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return [a + b for a in self.texts(node.left) for b in self.texts(node.right)]
        if isinstance(node, ast.JoinedStr):
            made = [""]
            for part in node.values:
                value = part.value if isinstance(part, ast.FormattedValue) else part
                options = (self.texts(value) if isinstance(value, ast.Name | ast.IfExp)
                           or isinstance(part, ast.Constant) else []) or ["7"]
                made = [m + o for m in made for o in options]
            return made
        return []

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.scopes.append(self._texts_assigned(node.body))
        self.generic_visit(node)
        self.scopes.pop()

    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        index = 0 if name in self.errors else self.takers.get(name)
        given = [k.value for k in node.keywords if k.arg == "message"]
        if index is not None and len(node.args) > index:
            given.append(node.args[index])
        self.found += [(node.lineno, text) for arg in given for text in self.texts(arg)]
        self.generic_visit(node)


def _raised_messages() -> Iterator[tuple[str, str]]:
    """(where, a message as made) of every message a service shows: domain errors, the
    password and webhook URL checks' reasons, per-item errors of imports."""
    errors = CHECK_ERRORS | {
        name for name, value in vars(domain_errors).items()
        if isinstance(value, type) and issubclass(value, domain_errors.DomainError)}
    for path in sorted(Path(reference_backend.__file__).parent.rglob("*.py")):
        parts = path.relative_to(Path(reference_backend.__file__).parent).parts
        if parts[0] in NOT_SHOWN or path.name == "router.py":
            continue
        tree = ast.parse(path.read_text())
        finder = _MessageFinder(tree, errors)
        finder.visit(tree)
        yield from ((f"{path.name}:{line}", text) for line, text in finder.found)


def test_every_message_the_services_show_has_a_translatable_template() -> None:
    raised = list(_raised_messages())
    assert len(raised) > 100
    unlisted = [(where, m) for where, m in raised if refusals.template_of(m) is None]
    assert unlisted == [], "list these in reference_backend/console/refusals.py"
    template, values = refusals.template_of("posting 12-3-1 is delivered: tracking number "
                                            "can no longer be set")
    assert values == {"posting_number": "12-3-1", "status": "delivered"}
    zh = i18n.translations("zh_Hans").gettext(template).format(**values)
    assert zh == "货件 12-3-1 状态为 delivered：已无法设置运单号"
    guard = SignInGuard(per_address="1/minute", concurrent_hashes=1, max_waiting=0)
    guard.admit_address("192.0.2.9")
    with pytest.raises(ApiError) as refused:  # the sign-in guard's 429, shown on pages too
        guard.admit_address("192.0.2.9")
    template, values = refusals.template_of(refused.value.message)
    assert i18n.translations("zh_Hans").gettext(template).format(**values).startswith(
        "此地址登录次数过多")
    zh_request = _request("zh-CN")
    with pytest.raises(WeakPassword) as weak:  # a check's reason (shown on the profile page)
        check_password_strength("short")
    assert refusals.in_language(zh_request, str(weak.value)) == "密码至少需要 10 个字符"
    with pytest.raises(BadWebhookUrl) as bad_url:
        check_webhook_url("https://user:pw@example.com/hook", allow_private=True)
    assert refusals.in_language(zh_request, str(bad_url.value)) == \
        "Webhook 网址中不能包含用户名或密码"
    assert refusals.in_language(zh_request, acts_service.NO_CONTAINERS).startswith(
        "该仓库未开通信任验收")
    assert refusals.in_language(_request("en"), acts_service.NO_CONTAINERS) == \
        acts_service.NO_CONTAINERS


def _request(language: str) -> Request:
    return Request({"type": "http", "headers": [(b"accept-language", language.encode())]})


def test_every_error_of_an_import_row_reads_in_chinese() -> None:
    """Each validation error a product CSV's columns can give has a Chinese text."""
    bad = ["x" * 600, "abc", "-1", "1e999", "nan", "9" * 30]  # (a CSV's empty cell is left out)
    errors = []
    for column in console_products.IMPORT_COLUMNS:
        for value in bad:
            try:
                P.ImportItem.model_validate({"offer_id": "A-1", "name": "n", "price": "1",
                                             column: value})
            except ValidationError as exc:
                errors += exc.errors()
    with pytest.raises(ValidationError) as refused:
        P.ImportItem.model_validate({"name": "n"})
    errors += refused.value.errors()
    assert {e["type"] for e in errors} >= {"missing", "value_error", "string_too_long",
                                           "greater_than_equal", "less_than_equal"}
    for error in errors:
        en, zh = (refusals.field_error(_request(lang), error) for lang in ("en", "zh-CN"))
        assert en.split(": ", 1)[0] == zh.split(": ", 1)[0]  # the field, then why
        assert en != zh and not re.search(r"[a-z]{4}", zh.split(": ", 1)[1]), (en, zh)


def test_import_rows_and_a_webhook_url_refused_in_the_page_language(people: dict) -> None:
    client, token = people[Role.OWNER]
    zh = {"Accept-Language": "zh-CN"}
    refused = client.post("/console/webhooks", headers=zh,
                          data={"csrf_token": token, "url": "ftp://example.com/hook"})
    assert refused.status_code == 400
    assert "Webhook 网址必须是以 http:// 或 https:// 开头的完整网址" in refused.text
    rows = "offer_id,name,price,weight\nZH-1,a,abc,1\nZH-2,b,10,-1\nZH-3,c,0,1\n"
    page = client.post("/console/products/import", headers=zh, data={"csrf_token": token},
                       files={"file": ("p.csv", rows.encode(), "text/csv")}).text
    for shown in ("price: 应为字符串形式的十进制数", "weight: 不能小于 0",
                  "price: price（价格）必须是正的十进制数字符串"):
        assert html.escape(shown, quote=False) in page.replace("&#34;", '"'), shown
    english = client.post("/console/products/import", data={"csrf_token": token},
                          files={"file": ("p.csv", rows.encode(), "text/csv")}).text
    assert "weight: must be at least 0" in english


@pytest.mark.parametrize("lang", list(i18n.LANGUAGES))
def test_catalogue_is_complete_and_up_to_date(lang: str) -> None:
    used = _used_messages()
    with i18n.catalogue_path(lang).open("rb") as po:
        catalogue = read_po(po, locale=lang)
    listed = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id}
    assert used - listed == set(), f"run pybabel extract/update ({lang}): missing msgids"
    assert listed - used == set(), f"obsolete msgids in {lang}"
    if lang == "en":
        return
    untranslated = [m.id for m in catalogue if m.id and (not m.string or m.fuzzy)]
    assert untranslated == [], f"untranslated or fuzzy in {lang}"
    problems = [(m.id, errors) for m, errors in catalogue.check()]
    assert problems == [], "placeholders differ between msgid and msgstr"
    for message in catalogue:  # {name} placeholders of str.format too
        if message.id and "{" in message.id:
            assert set(re.findall(r"{\w+}", message.id)) == set(
                re.findall(r"{\w+}", message.string)), message.id
