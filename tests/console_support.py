"""A seeded seller with a person of every role, served by a real uvicorn, for the console
tests: ``console_world(directory)`` -> :class:`ConsoleWorld` (stop it at the end)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from reference_backend.accounts.service import create_sub_account, set_owner_sign_in
from reference_backend.db import Database
from reference_backend.permissions import Role
from reference_backend.promotions.service import create_action
from reference_backend.settings import Settings
from tests.backend_support import (
    ServerProcess,
    free_port,
    platform_headers,
    seed_smoke,
    seeded_sqlite,
    seller_headers,
)

PASSWORD = "Peak-season 2026"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class ConsoleWorld:
    server: ServerProcess
    creds: dict
    #: role -> (email, password) of a person with that role
    people: dict[Role, tuple[str, str]] = field(default_factory=dict)
    chat_id: str = ""  # a buyer chat, once a test starts one
    file_message_id: int = 0  # a file sent in that chat, once a test sends one
    action_id: int = 0  # a promotion of this seller (10 % off, running for 30 days)
    act_id: int = 0  # a hand-over act, once a test forms one
    database_url: str = ""

    def add_person(self, email: str, name: str, role: str, password: str) -> None:
        """A sub-account of this seller, straight in its database."""
        database = Database(self.database_url, Settings(database_url=self.database_url))
        try:
            with database.session() as session:
                create_sub_account(session, seller_id=self.creds["seller_id"], email=email,
                                   name=name, role=role, password=password)
        finally:
            database.dispose()

    def returned(self, sku: int) -> str:
        """A posting of one unit of ``sku`` shipped, delivered and returned by the buyer."""
        [posting] = self.order([(sku, 1)])
        number = posting["posting_number"]
        api, platform = seller_headers(self.creds), platform_headers(self.creds)
        calls = [("/v4/posting/fbs/ship", api, {"posting_number": number, "packages": [
                     {"products": [{"product_id": sku, "quantity": 1}]}]}),
                 ("/marketplace/v1/logistics/events", platform,
                  {"posting_number": number, "event": "sorting_accepted"}),
                 ("/marketplace/v1/logistics/events", platform,
                  {"posting_number": number, "event": "delivered"}),
                 (f"/marketplace/v1/postings/{number}/return", platform, {"reason": "too small"})]
        for path, headers, body in calls:
            answer = httpx.post(self.base_url + path, json=body, headers=headers, timeout=30)
            assert answer.status_code in (200, 201), (path, answer.text)
        return number

    def ship(self, posting: dict) -> None:
        """Assemble ``posting`` (as :meth:`order` returns it) into one package via the API."""
        products = [{"product_id": p["sku"], "quantity": p["quantity"]}
                    for p in posting["products"]]
        answer = httpx.post(self.base_url + "/v4/posting/fbs/ship", timeout=30, json={
            "posting_number": posting["posting_number"], "packages": [{"products": products}]},
            headers=seller_headers(self.creds))
        assert answer.status_code == 200, answer.text

    def form_act(self, warehouse_id: int) -> int:
        """An act of the warehouse's assembled postings via the API (it forms for a while)."""
        answer = httpx.post(self.base_url + "/v2/posting/fbs/act/create", timeout=30,
                            json={"delivery_method_id": warehouse_id},
                            headers=seller_headers(self.creds))
        assert answer.status_code == 200, answer.text
        self.act_id = answer.json()["result"]["id"]
        return self.act_id

    def start_chat(self, posting_number: str) -> str:
        answer = httpx.post(self.base_url + "/v1/chat/start", headers=seller_headers(self.creds),
                            json={"posting_number": posting_number}, timeout=30)
        assert answer.status_code == 200, answer.text
        self.chat_id = answer.json()["result"]["chat_id"]
        return self.chat_id

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def order(self, lines: list[tuple[int, int]], region: str = "R-MSK") -> list[dict]:
        """A buyer order through the marketplace API; its postings."""
        response = httpx.post(
            self.base_url + "/marketplace/v1/orders", timeout=30,
            json={"client_id": self.creds["client_id"], "region": region,
                  "lines": [{"sku": s, "quantity": q} for s, q in lines]},
            headers={**platform_headers(self.creds), "Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 201, response.text
        return response.json()["postings"]

    def signed_in(self, role: Role) -> tuple[httpx.Client, str]:
        """An HTTP client signed in to the console as ``role``, and its CSRF token."""
        client, answer = self.sign_in(*self.people[role])
        assert answer.status_code == 303, answer.text
        return client, CSRF.search(client.get("/console/profile").text).group(1)

    def sign_in(self, email: str, password: str) -> tuple[httpx.Client, httpx.Response]:
        """A client that tried to sign in with ``email`` and ``password``, and the answer."""
        client = httpx.Client(base_url=self.base_url, timeout=30)
        token = CSRF.search(client.get("/console/sign-in").text).group(1)
        answer = client.post("/console/sign-in", data={
            "csrf_token": token, "email": email, "password": password, "next": "/console/"})
        return client, answer

    def discount_request(self, sku: int, price: float, quantities: tuple[int, int] = (1, 2),
                         comment: str = "") -> int:
        """A buyer's discount request on ``sku`` (``NEW``); its id."""
        answer = httpx.post(self.base_url + "/marketplace/v1/discount-requests", timeout=30,
                            headers=platform_headers(self.creds), json={
                                "client_id": self.creds["client_id"], "sku": sku,
                                "requested_price": price, "quantity_min": quantities[0],
                                "quantity_max": quantities[1], "customer_name": "Li Wei",
                                "comment": comment})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def send_file(self, chat_id: str, name: str, content: bytes) -> int:
        """The seller sends a file through the API; the wire id of its message."""
        import base64

        headers = seller_headers(self.creds)
        answer = httpx.post(self.base_url + "/v1/chat/send/file", headers=headers, timeout=30,
                            json={"chat_id": chat_id, "name": name,
                                  "base64_content": base64.b64encode(content).decode()})
        assert answer.status_code == 200, answer.text
        history = httpx.post(self.base_url + "/v3/chat/history", headers=headers, timeout=30,
                             json={"chat_id": chat_id, "limit": 1}).json()
        self.file_message_id = int(history["messages"][0]["message_id"])
        return self.file_message_id

    def buyer_message(self, posting_number: str, text: str) -> None:
        answer = httpx.post(
            f"{self.base_url}/marketplace/v1/postings/{posting_number}/chat/messages",
            headers=platform_headers(self.creds), json={"text": text}, timeout=30)
        assert answer.status_code == 201, answer.text

    def stop(self) -> None:
        self.server.stop()


def console_world(directory: Path, env: dict[str, str] | None = None,
                  database_url: str | None = None) -> ConsoleWorld:
    """The smoke scenario's seller with a running promotion: the owner signs in as
    ``owner@example.com``, each sub-account role as ``<role>@example.com``, all with
    :data:`PASSWORD`; ``env`` goes to the server. SQLite in ``directory`` unless
    ``database_url`` (an empty database) is given."""
    if database_url:
        url, creds = database_url, seed_smoke(database_url)
    else:
        url, creds = seeded_sqlite(directory)
    database = Database(url, Settings(database_url=url))
    people: dict[Role, tuple[str, str]] = {}
    try:
        with database.session() as session:
            _, owner_password = set_owner_sign_in(session, client_id=creds["client_id"],
                                                  email="owner@example.com")
            people[Role.OWNER] = ("owner@example.com", owner_password)
            for role in Role:
                if role is not Role.OWNER:
                    email = f"{role.value}@example.com"
                    create_sub_account(session, seller_id=creds["seller_id"], email=email,
                                       name=role.value.replace("_", " "), role=role.value,
                                       password=PASSWORD)
                    people[role] = (email, PASSWORD)
            now = datetime.now(UTC)
            action = create_action(session, seller_id=creds["seller_id"], title="Winter sale",
                                   date_start=now - timedelta(days=1),
                                   date_end=now + timedelta(days=30), discount_value=10.0)
            action_id = action.id
    finally:
        database.dispose()
    port = free_port()
    server = ServerProcess(url, port=port, env={
        "PEAKLINE_SIGNIN_PER_ADDRESS": "1000/minute", "PEAKLINE_SIGNIN_FREE_FAILURES": "50",
        "PEAKLINE_BASE_URL": f"http://127.0.0.1:{port}", **(env or {})}).wait_ready(120)
    return ConsoleWorld(server, creds, people, action_id=action_id, database_url=url)
