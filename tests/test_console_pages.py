"""The web console over a real uvicorn (httpx, no browser): every page and every action
obeys the one permission table for every role, every form post needs its CSRF token, and
the message catalogues are complete.

Which permission a page needs is listed here once per page (the one its API twin
declares); the expected answer for each role is read from the permission table, and a
console route missing from the list fails the test, so a new page cannot skip it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import update
from starlette.routing import Mount

from reference_backend.app import create_app
from reference_backend.console import i18n
from reference_backend.db import Database
from reference_backend.permissions import Action, Role, RouteGroup, is_allowed
from reference_backend.settings import Settings
from reference_backend.tables import Seller
from tests.backend_support import fresh_postgres_url, postgres_admin_url
from tests.console_support import ConsoleWorld, console_world

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
    "/analytics": (G.ANALYTICS, READ),
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
    "/postings/{number}/ship": (G.POSTINGS, WRITE),
    "/postings/{number}/cancel": (G.POSTINGS, WRITE),
    "/products/{product_id}/price": (G.PRODUCTS, WRITE),
    "/products/import": (G.PRODUCTS, WRITE),
    "/stock/available": (G.STOCKS, WRITE),
    "/stock/warning-level": (G.PLANNING, WRITE),
    "/stock/plan": (G.PLANNING, READ),
    "/returns/{return_id}": (G.RETURNS, WRITE),
    "/chats/{chat_id}": (G.CHATS, WRITE),
    "/promotions/{action_id}": (G.PROMOTIONS, WRITE),
    "/accounts": (G.ACCOUNTS, WRITE),
    "/accounts/policy": (G.ACCOUNTS, WRITE),
    "/accounts/{account_id}": (G.ACCOUNTS, WRITE),
    "/accounts/{account_id}/totp-reset": (G.ACCOUNTS, WRITE),
    "/accounts/{account_id}/api-keys": (G.ACCOUNTS, WRITE),
    "/accounts/{account_id}/api-keys/{key_id}/revoke": (G.ACCOUNTS, WRITE),
    "/webhooks": (G.WEBHOOKS, WRITE),
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
    w = console_world(tmp_path_factory.mktemp("console-pages"))
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture(scope="module")
def posting(world: ConsoleWorld) -> str:
    """A posting to assemble, with a buyer chat."""
    [first, *_] = world.order([(world.creds["sku_base"] + 1, 1)])
    world.start_chat(first["posting_number"])
    return first["posting_number"]


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
    for name in ("product_id", "account_id", "key_id", "webhook_id", "return_id"):
        path = path.replace("{" + name + "}", "1")
    return "/console" + path.replace("{number}", posting).replace(
        "{chat_id}", world.chat_id).replace("{action_id}", str(world.action_id))


def _expected(role: Role, permission: tuple[RouteGroup, Action] | None) -> bool:
    return permission is None or is_allowed(role, *permission)


@pytest.mark.parametrize("role", list(Role))
def test_pages_answer_each_role_as_the_permission_table_says(
    world: ConsoleWorld, people: dict, posting: str, role: Role
) -> None:
    client, _ = people[role]
    navigation = client.get("/console/").text
    for path, permission in PAGES.items():
        if path.endswith("label.pdf"):
            continue  # (a label needs a shipped posting: the browser journey downloads one)
        answer = client.get(_url(path, posting, world))
        allowed = _expected(role, permission)
        assert answer.status_code == (200 if allowed else 403), (role, path, answer.text[:300])
        assert "<script" not in answer.text  # light pages: no script at all (limit: 300 KB)
    for section, group in (("/postings", G.POSTINGS), ("/stock", G.STOCKS),
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


def test_a_service_refusal_is_a_page_with_its_reason(
    world: ConsoleWorld, people: dict, posting: str
) -> None:
    """A seller without Premium Plus: the chat page answers 403 with the service's reason
    (as the API does), not a server error; the list stays open."""
    client, _ = people[Role.OWNER]
    database = Database(world.database_url, Settings(database_url=world.database_url))
    try:
        with database.session() as session:
            session.execute(update(Seller).where(Seller.id == world.creds["seller_id"])
                            .values(subscription="NONE"))
        answer = client.get(_url("/chats/{chat_id}", posting, world))
        assert answer.status_code == 403, answer.text[:300]
        assert "Premium Plus" in answer.text and "Nothing was changed" in answer.text
        assert client.get("/console/chats").status_code == 200
    finally:
        with database.session() as session:
            session.execute(update(Seller).where(Seller.id == world.creds["seller_id"])
                            .values(subscription="PREMIUM_PLUS"))
        database.dispose()


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
            world.start_chat(number)
            client, token = world.signed_in(Role.OWNER)
            for path in PAGES:
                if not path.endswith(".pdf"):
                    answer = client.get(_url(path, number, world))
                    assert answer.status_code == 200, (path, answer.text[:300])
            sku = world.creds["sku_base"] + 2
            shipped = client.post(f"/console/postings/{number}/ship", data={
                "csrf_token": token, f"package_{sku}": "1", f"qty_{sku}": "1"})
            assert shipped.status_code == 303
            label = client.get(shipped.headers["location"] + "/label.pdf")
            assert label.content.startswith(b"%PDF")
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


# --- the message catalogues -----------------------------------------------------------------


def _used_messages() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), **i18n.KEYWORDS}
    return {message if isinstance(message, str) else message[0]
            for _, _, message, _, _ in extract_from_dir(
                CONSOLE, method_map=method_map, options_map=options, keywords=keywords)}


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
            import re

            assert set(re.findall(r"{\w+}", message.id)) == set(
                re.findall(r"{\w+}", message.string)), message.id
