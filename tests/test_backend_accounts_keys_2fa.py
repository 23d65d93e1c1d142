"""API keys, sign-in, TOTP and lockout against a real uvicorn server and a real database
(SQLite file; PostgreSQL in a fresh database when PEAKLINE_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import create_engine, text

from reference_backend.db import normalise_url
from tests.backend_support import (
    fresh_postgres_url,
    postgres_admin_url,
    seed_smoke,
    seller_headers,
    sqlite_url,
    start_server,
)

ACC = "/peakline/v1/accounts"
PASSWORD = "Peak-season 2026"
#: Short limits for tests: 2 free failures per (address, email), then 4 s between
#: attempts (counted from the last failure's answer); no lock. Long enough that three quick
#: attempts fit inside it even when password checks queue on a busy machine.
PACE_S = 4.05
SIGNIN_ENV = {
    "PEAKLINE_SIGNIN_FREE_FAILURES": "2",
    "PEAKLINE_SIGNIN_BASE_DELAY_S": "4",
    "PEAKLINE_SIGNIN_MAX_DELAY_S": "4",
    "PEAKLINE_SIGNIN_PER_ADDRESS": "1000/minute",
    "PEAKLINE_TRUSTED_PROXIES": "127.0.0.1",  # X-Forwarded-For names the client
    "PEAKLINE_RUN_OUTBOX_WORKER": "false",
}


@dataclass
class Env:
    url: str
    client: httpx.Client
    owner: dict[str, str]
    creds: dict


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    if request.param == "postgresql":
        if not postgres_admin_url():
            pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
        ctx = fresh_postgres_url()
    else:
        ctx = _nullcontext(sqlite_url(tmp_path_factory.mktemp("keys2fa")))
    with ctx as url:
        creds = seed_smoke(url)
        server = start_server(url, env=SIGNIN_ENV)
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                yield Env(url, client, seller_headers(creds), creds)
        finally:
            server.stop()


class _nullcontext:
    def __init__(self, value: str) -> None:
        self.value = value

    def __enter__(self) -> str:
        return self.value

    def __exit__(self, *exc: object) -> None:
        pass


def _sub_account(env: Env, email: str, role: str = "analyst") -> int:
    r = env.client.post(ACC, headers=env.owner,
                        json={"email": email, "role": role, "password": PASSWORD, "name": role})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _key(env: Env, account_id: int) -> tuple[int, dict[str, str]]:
    r = env.client.post(f"{ACC}/{account_id}/api-keys", headers=env.owner, json={"name": "bot"})
    assert r.status_code == 201, r.text
    body = r.json()
    return body["id"], {"Client-Id": body["client_id"], "Api-Key": body["api_key"]}


def _sign_in(
    env: Env, email: str, password: str = PASSWORD, code: str | None = None,
    address: str = "192.0.2.1",
) -> httpx.Response:
    """A sign-in from ``address`` (the server trusts X-Forwarded-For from 127.0.0.1)."""
    body = {"email": email, "password": password}
    if code is not None:
        body["totp_code"] = code
    return env.client.post(f"{ACC}/sign-in", json=body, headers={"X-Forwarded-For": address})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- keys -----------------------------------------------------------------------------------


def test_key_is_shown_once_and_stored_only_as_its_hash(env: Env) -> None:
    account = _sub_account(env, "keys-stored@seller.example")
    key_id, headers = _key(env, account)
    key = headers["Api-Key"]
    listed = env.client.get(f"{ACC}/{account}/api-keys", headers=env.owner).json()["api_keys"]
    assert [k["id"] for k in listed] == [key_id]
    assert key not in str(listed) and "api_key" not in listed[0]
    engine = create_engine(normalise_url(env.url))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_keys")).mappings().all()
    engine.dispose()
    mine = next(r for r in rows if r["id"] == key_id)
    assert mine["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    for row in rows:
        assert all(key not in str(value) for value in row.values())
    if env.url.startswith("sqlite"):  # not in the database files either, WAL included
        db_file = Path(env.url.removeprefix("sqlite:///"))
        for path in (db_file, Path(f"{db_file}-wal")):
            if path.exists():
                assert key.encode() not in path.read_bytes()
    assert env.client.post("/v1/roles", headers=headers, json={}).status_code == 200


def test_revocation_disable_and_role_change_apply_to_the_next_request(env: Env) -> None:
    account = _sub_account(env, "keys-revoke@seller.example", role="analyst")
    key_id, headers = _key(env, account)
    assert env.client.post("/v1/roles", headers=headers, json={}).status_code == 200
    r = env.client.delete(f"{ACC}/{account}/api-keys/{key_id}", headers=env.owner)
    assert r.status_code == 200 and r.json()["active"] is False
    revoked = env.client.post("/v1/roles", headers=headers, json={})
    assert revoked.status_code == 401

    _, headers = _key(env, account)
    write = {"stocks": [{"offer_id": "nope", "stock": 1, "warehouse_id": 1}]}
    assert env.client.post("/v2/products/stocks", headers=headers, json=write).status_code == 403
    r = env.client.patch(f"{ACC}/{account}", headers=env.owner, json={"role": "warehouse"})
    assert r.status_code == 200 and r.json()["role"] == "warehouse"
    assert env.client.post("/v2/products/stocks", headers=headers, json=write).status_code == 200

    assert env.client.patch(f"{ACC}/{account}", headers=env.owner,
                            json={"disabled": True}).status_code == 200
    assert env.client.post("/v1/roles", headers=headers, json={}).status_code == 401
    assert _sign_in(env, "keys-revoke@seller.example").status_code == 401
    assert env.client.patch(f"{ACC}/{account}", headers=env.owner,
                            json={"disabled": False}).status_code == 200
    assert env.client.post("/v1/roles", headers=headers, json={}).status_code == 200


def test_owner_cannot_be_edited_or_given_away(env: Env) -> None:
    accounts = env.client.get(ACC, headers=env.owner).json()["accounts"]
    owner = next(a for a in accounts if a["role"] == "owner")
    r = env.client.patch(f"{ACC}/{owner['id']}", headers=env.owner, json={"disabled": True})
    assert r.status_code == 403
    r = env.client.post(ACC, headers=env.owner, json={"email": "second-owner@seller.example",
                                                      "role": "owner", "password": PASSWORD})
    assert r.status_code == 400 and r.json()["code"] == "ROLE_NOT_ASSIGNABLE"
    r = env.client.post(ACC, headers=env.owner, json={"email": "weak@seller.example",
                                                      "role": "sales", "password": "short"})
    assert r.status_code == 400 and r.json()["code"] == "WEAK_PASSWORD"


# --- people: sign-in and TOTP ---------------------------------------------------------------


def test_owner_sets_email_and_password_then_signs_in(env: Env) -> None:
    r = env.client.patch(f"{ACC}/me", headers=env.owner, json={"email": "Owner@Seller.example"})
    assert r.status_code == 200 and r.json()["email"] == "owner@seller.example"
    r = env.client.post(f"{ACC}/me/password", headers=env.owner, json={"new_password": PASSWORD})
    assert r.status_code == 200
    r = _sign_in(env, " OWNER@seller.example ")
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    me = env.client.get(f"{ACC}/me", headers=_bearer(token)).json()
    assert me["role"] == "owner"
    assert env.client.get(ACC, headers=_bearer(token)).status_code == 200


def test_a_changed_password_signs_out_the_other_sessions(env: Env) -> None:
    email = "changer@seller.example"
    _sub_account(env, email, role="analyst")
    here, elsewhere = (_bearer(_sign_in(env, email).json()["token"]) for _ in range(2))
    r = env.client.post(f"{ACC}/me/password", headers=here,
                        json={"current_password": PASSWORD, "new_password": "Fresh-pass 2026"})
    assert r.status_code == 200, r.text
    assert env.client.get(f"{ACC}/me", headers=here).status_code == 200
    assert env.client.get(f"{ACC}/me", headers=elsewhere).status_code == 401


def test_a_new_email_needs_the_current_password(env: Env) -> None:
    email = "mover@seller.example"
    account_id = _sub_account(env, email, role="analyst")
    session = _bearer(_sign_in(env, email).json()["token"])
    _, key = _key(env, account_id)
    for who, body in ((session, {}), (session, {"current_password": "not it"}),
                      (key, {})):
        r = env.client.patch(f"{ACC}/me", headers=who,
                             json={"email": "thief@attacker.example", **body})
        assert r.status_code == 403 and r.json()["code"] == "WRONG_PASSWORD", r.text
    assert env.client.get(f"{ACC}/me", headers=session).json()["email"] == email
    r = env.client.patch(f"{ACC}/me", headers=session, json={"name": "Moved"})
    assert r.status_code == 200 and r.json()["name"] == "Moved"  # a name needs none
    r = env.client.patch(f"{ACC}/me", headers=key, json={
        "email": "Moved@Seller.example", "current_password": PASSWORD})
    assert r.status_code == 200 and r.json()["email"] == "moved@seller.example", r.text
    assert _sign_in(env, "moved@seller.example").status_code == 200


def test_totp_enrolment_then_sign_in_needs_a_good_code(env: Env) -> None:
    email = "cs-totp@seller.example"
    _sub_account(env, email, role="customer_service")
    r = _sign_in(env, email)
    assert r.status_code == 200 and r.json()["totp_enrolment_required"] is False
    session = _bearer(r.json()["token"])
    r = env.client.post(f"{ACC}/me/totp", headers=session)
    assert r.status_code == 200
    uri = r.json()["provisioning_uri"]
    assert uri.startswith("otpauth://totp/Peakline:") and "issuer=Peakline" in uri
    app = pyotp.parse_uri(uri)  # the authenticator app scanning the QR code
    wrong = f"{(int(app.now()) + 500_000) % 1_000_000:06d}"
    r = env.client.post(f"{ACC}/me/totp/confirm", headers=session, json={"code": wrong})
    assert r.status_code == 400 and r.json()["code"] == "INVALID_TOTP_CODE"
    r = env.client.post(f"{ACC}/me/totp/confirm", headers=session, json={"code": app.now()})
    assert r.status_code == 200
    assert env.client.get(f"{ACC}/me", headers=session).json()["totp_enabled"] is True

    missing = _sign_in(env, email)
    assert missing.status_code == 401 and missing.json()["code"] == "TOTP_REQUIRED"
    bad = _sign_in(env, email, code=wrong)
    assert bad.status_code == 401 and bad.json()["code"] == "INVALID_CREDENTIALS"
    # the enrolment code's time step is spent; the app's next code (within the +-1 step
    # drift window) signs in
    good_code = app.at(time.time() + 30)
    time.sleep(PACE_S)  # two failures in a row: the next attempt must wait (throttling)
    good = _sign_in(env, email, code=good_code)
    assert good.status_code == 200, good.text
    replay = _sign_in(env, email, code=good_code)
    assert replay.status_code == 401  # a code is single-use
    wrong_password = _sign_in(env, email, password=PASSWORD + "x", code=app.at(time.time() + 30))
    assert wrong_password.status_code == 401
    assert wrong_password.json() == bad.json()


def test_owner_can_require_2fa_for_every_sub_account(env: Env) -> None:
    email = "wh-2fa@seller.example"
    account = _sub_account(env, email, role="warehouse")
    r = env.client.put(f"{ACC}/policy", headers=env.owner, json={"require_2fa": True})
    assert r.status_code == 200 and r.json() == {"require_2fa": True}
    try:
        r = _sign_in(env, email)
        assert r.status_code == 200 and r.json()["totp_enrolment_required"] is True
        pending = _bearer(r.json()["token"])
        blocked = env.client.get(f"{ACC}/me", headers=pending)
        assert blocked.status_code == 403 and blocked.json()["code"] == "SECOND_FACTOR_REQUIRED"
        uri = env.client.post(f"{ACC}/me/totp", headers=pending).json()["provisioning_uri"]
        code = pyotp.parse_uri(uri).now()
        assert env.client.post(f"{ACC}/me/totp/confirm", headers=pending,
                               json={"code": code}).status_code == 200
        assert env.client.get(f"{ACC}/me", headers=pending).status_code == 200
        assert env.client.post(f"{ACC}/sign-out", headers=pending).status_code == 200
        assert env.client.get(f"{ACC}/me", headers=pending).status_code == 401
        # the owner resets a lost authenticator: enrolment is required again
        r = env.client.post(f"{ACC}/{account}/totp/reset", headers=env.owner)
        assert r.status_code == 200 and r.json()["totp_enabled"] is False
        assert _sign_in(env, email).json()["totp_enrolment_required"] is True
    finally:
        env.client.put(f"{ACC}/policy", headers=env.owner, json={"require_2fa": False})


def _shape(r: httpx.Response) -> tuple[int, str, str]:
    body = r.json()
    return r.status_code, body["code"], re.sub(r"\d+", "N", body["message"])


def _hammer(env: Env, email: str) -> list[tuple[int, str, str]]:
    """2 quick failures, an immediate 3rd (throttled), then paced failures, then a quick one."""
    wrong = partial(_sign_in, env, email, password="wrong password", address="198.51.100.7")
    out = [_shape(wrong()) for _ in range(3)]
    for _ in range(2):
        time.sleep(PACE_S)
        out.append(_shape(wrong()))
    out.append(_shape(wrong()))
    return out


def test_failures_slow_the_guessing_address_not_the_owner_and_never_hint(env: Env) -> None:
    email = "guessed@seller.example"
    _sub_account(env, email, role="sales")
    with ThreadPoolExecutor(2) as pool:  # the same story for a real and an unknown email
        known, unknown = pool.map(partial(_hammer, env), [email, "nobody-here@seller.example"])
    assert known == unknown  # the same answers, code for code, whether or not it exists
    statuses = [s for s, _, _ in known]
    assert statuses == [401, 401, 429, 401, 401, 429]  # paced guesses go on: no lock
    assert known[2][1] == "TOO_MANY_ATTEMPTS" and "throttled" in known[2][2]
    slowed = _sign_in(env, email, address="198.51.100.7")  # the guesser waits, right or wrong
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) >= 1
    assert _sign_in(env, email, address="203.0.113.5").status_code == 200  # the owner does not
    time.sleep(PACE_S)
    assert _sign_in(env, email, address="198.51.100.7").status_code == 200


def test_an_email_of_another_seller_is_neither_refused_nor_revealed(env: Env) -> None:
    email = "shared@people.example"
    mine = _sub_account(env, email, role="sales")
    other = seed_smoke(env.url, name="other seller")
    other_owner = seller_headers(other)
    r = env.client.post(ACC, headers=other_owner,
                        json={"email": email, "role": "analyst", "password": "Other-pass 2026"})
    assert r.status_code == 201, r.text  # as for any free address
    assert r.json()["email"] == email
    theirs = r.json()["id"]
    again = env.client.post(ACC, headers=other_owner,
                            json={"email": email, "role": "sales", "password": PASSWORD})
    assert again.status_code == 409  # within one seller an email names one account
    assert again.json()["code"] == "EMAIL_UNAVAILABLE"
    # each person signs in to their own account: the password tells them apart
    assert _sign_in(env, email).json()["account"]["id"] == mine
    assert _sign_in(env, email, "Other-pass 2026").json()["account"]["id"] == theirs


def test_the_owners_last_key_cannot_be_revoked(env: Env) -> None:
    owner_id = env.client.get(f"{ACC}/me", headers=env.owner).json()["id"]
    keys = env.client.get(f"{ACC}/{owner_id}/api-keys", headers=env.owner).json()["api_keys"]
    active = [k["id"] for k in keys if k["active"]]
    spare_id, spare = _key(env, owner_id)
    for key_id in active:  # every other owner key may go ...
        assert env.client.delete(f"{ACC}/{owner_id}/api-keys/{key_id}",
                                 headers=spare).status_code == 200
    last = env.client.delete(f"{ACC}/{owner_id}/api-keys/{spare_id}", headers=spare)
    assert last.status_code == 409 and last.json()["code"] == "LAST_OWNER_KEY"  # ... not this
    assert env.client.get(f"{ACC}/me", headers=spare).status_code == 200
    env.owner.update(spare)  # (the module's later tests use the key that remains)
