"""Password reset by email, end to end: a real uvicorn (SQLite and PostgreSQL) mails the link
through a real SMTP server (aiosmtpd on 127.0.0.1), and the test follows the link it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from reference_backend.db import Database
from reference_backend.tables import Account, PasswordResetToken
from tests.backend_support import (
    free_port,
    fresh_postgres_url,
    postgres_admin_url,
    running_server,
    seed_smoke,
    seeded_sqlite,
    seller_headers,
)

aiosmtpd = pytest.importorskip("aiosmtpd.controller")

ACCOUNTS = "/peakline/v1/accounts"
LINK = re.compile(r"https?://\S+/peakline/v1/accounts/password-reset/(\S+)")
ANNA, NOBODY = "anna@shop.example", "nobody@shop.example"
FIRST, SECOND = "first-Password-1", "second-Password-2"


class Inbox:
    """aiosmtpd handler: keeps every message; ``delay_s`` holds each one back (a slow server)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.delay_s = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await asyncio.sleep(self.delay_s)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 20.0) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"{len(self.messages)} messages, wanted {count}"
            time.sleep(0.05)
        return self.messages[count - 1]


@dataclass
class World:
    base_url: str
    db_url: str
    creds: dict[str, Any]
    inbox: Inbox
    db: Database = field(init=False)

    def __post_init__(self) -> None:
        self.db = Database(self.db_url)

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.base_url + path, json=body, timeout=30, **kwargs)

    def sign_in(self, password: str) -> httpx.Response:
        return self.post(f"{ACCOUNTS}/sign-in", {"email": ANNA, "password": password})

    def tokens(self) -> list[PasswordResetToken]:
        with self.db.read_session() as session:
            return list(session.scalars(
                select(PasswordResetToken).join(Account).where(Account.email == ANNA)
                .order_by(PasswordResetToken.id)))


@pytest.fixture(scope="module", params=["sqlite",
                                        pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          ) -> Iterator[World]:
    inbox = Inbox()
    smtp = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    with contextlib.ExitStack() as stack:
        stack.callback(smtp.stop)
        if request.param == "sqlite":
            url, creds = seeded_sqlite(tmp_path_factory.mktemp("password_reset"))
        else:
            if not postgres_admin_url():
                pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
            url = stack.enter_context(fresh_postgres_url())
            creds = seed_smoke(url)
        port = free_port()
        base_url = stack.enter_context(running_server(url, port=port, env={
            "PEAKLINE_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
            "PEAKLINE_BASE_URL": f"http://127.0.0.1:{port}",
            "PEAKLINE_PASSWORD_RESET_PER_HOUR": "2",
        }))
        world = World(base_url, url, creds, inbox)
        stack.callback(world.db.dispose)
        created = world.post(ACCOUNTS, {"email": ANNA, "role": "sales", "password": FIRST},
                             headers=seller_headers(creds))
        assert created.status_code == 201, created.text
        yield world


def test_a_reset_link_by_email_sets_the_password_once(world: World) -> None:
    session = world.sign_in(FIRST).json()["token"]
    me = {"Authorization": f"Bearer {session}"}
    assert httpx.get(f"{world.base_url}{ACCOUNTS}/me", headers=me).status_code == 200

    # one answer, as quick, for an unknown email and a known one: the mail goes out later
    world.inbox.delay_s = 2.0
    answers = []
    for email in (NOBODY, ANNA):
        started = time.monotonic()
        answers.append(world.post(f"{ACCOUNTS}/password-reset", {"email": email}))
        assert time.monotonic() - started < 1.5, "the answer waited for the mail"
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json()
    message = world.inbox.wait_for(1)
    world.inbox.delay_s = 0.0
    assert message["To"] == ANNA and "set a new password" in message["Subject"]
    link = LINK.search(message.get_content())
    assert link and link.group(0).startswith(world.base_url)
    url, token = link.group(0), link.group(1)
    [stored] = world.tokens()  # hashed, never the token itself
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.used_at is None and stored.expires_at > datetime.now(UTC)

    # following the link: a form; a weak password is refused and the link still works
    form = httpx.get(url)
    assert form.status_code == 200 and form.headers["content-type"].startswith("text/html")
    assert "Set a new password" in form.text and 'type="password"' in form.text
    weak = httpx.post(url, json={"new_password": "short"})
    assert weak.status_code == 400 and weak.json()["code"] == "WEAK_PASSWORD"
    assert httpx.get(url).status_code == 200

    done = httpx.post(url, json={"new_password": SECOND})
    assert done.status_code == 200, done.text
    assert httpx.get(f"{world.base_url}{ACCOUNTS}/me", headers=me).status_code == 401
    assert world.sign_in(FIRST).status_code == 401
    assert world.sign_in(SECOND).status_code == 200

    again = httpx.post(url, json={"new_password": "third-Password-3"})
    assert again.status_code == 410 and again.json()["code"] == "RESET_LINK_USED"
    used_page = httpx.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert used_page.status_code == 410 and "already used" in used_page.text
    assert httpx.get(url).json()["code"] == "RESET_LINK_USED"  # not a browser: the error body
    unknown = httpx.post(f"{world.base_url}{ACCOUNTS}/password-reset/{'x' * 43}",
                         json={"new_password": "third-Password-3"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "RESET_LINK_UNKNOWN"
    assert world.sign_in(SECOND).status_code == 200


def test_an_expired_link_is_refused_and_links_are_rationed(world: World) -> None:
    before = len(world.inbox.messages)
    assert world.post(f"{ACCOUNTS}/password-reset", {"email": ANNA.upper()}).status_code == 202
    url = LINK.search(world.inbox.wait_for(before + 1).get_content()).group(0)
    latest = world.tokens()[-1]
    with world.db.session() as session:  # half an hour passes
        session.execute(update(PasswordResetToken).where(PasswordResetToken.id == latest.id)
                        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    expired = httpx.post(url, json={"new_password": "third-Password-3"})
    assert expired.status_code == 410 and expired.json()["code"] == "RESET_LINK_EXPIRED"
    assert world.sign_in(SECOND).status_code == 200

    # two links an hour per account (PEAKLINE_PASSWORD_RESET_PER_HOUR=2): the third is not sent
    rationed = world.post(f"{ACCOUNTS}/password-reset", {"email": ANNA})
    assert rationed.status_code == 202
    time.sleep(1.0)
    assert len(world.inbox.messages) == before + 1
    with world.db.read_session() as session:
        count = session.scalar(select(func.count()).select_from(PasswordResetToken))
    assert count == 2
