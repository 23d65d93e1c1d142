"""Unit tests of the pure security parts: permission table, passwords, TOTP, API keys,
webhook signatures and sign-in throttling."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_backend import permissions as perm
from reference_backend import security as sec

T0 = datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC)

# --- permission table -----------------------------------------------------------------------


def test_owner_may_do_everything_and_only_owner_manages_accounts_and_webhooks() -> None:
    for group in perm.RouteGroup:
        for action in perm.Action:
            assert perm.is_allowed("owner", group, action)
    for role in perm.Role:
        if role is perm.Role.OWNER:
            continue
        for group in (perm.RouteGroup.ACCOUNTS, perm.RouteGroup.WEBHOOKS):
            assert perm.allowed_actions(role, group) == frozenset()


def test_every_role_can_read_its_own_roles_and_write_implies_read() -> None:
    for role in perm.Role:
        assert perm.is_allowed(role, "roles", "read")
        for group in perm.RouteGroup:
            actions = perm.allowed_actions(role, group)
            assert perm.Action.WRITE not in actions or perm.Action.READ in actions


def test_jobs_match_roles() -> None:
    assert perm.is_allowed("sales", "products", "write")
    assert not perm.is_allowed("sales", "postings", "write")
    assert perm.is_allowed("customer_service", "postings", "write")
    assert perm.is_allowed("customer_service", "returns", "write")
    assert not perm.is_allowed("customer_service", "stocks", "write")
    assert perm.is_allowed("warehouse", "stocks", "write")
    assert perm.is_allowed("warehouse", "postings", "write")
    assert not perm.is_allowed("warehouse", "products", "write")
    for group in perm.RouteGroup:
        if group is not perm.RouteGroup.PROFILE:  # everyone manages their own sign-in
            assert not perm.is_allowed("analyst", group, "write")
    for role in perm.Role:
        assert perm.allowed_actions(role, "profile") == {perm.Action.READ, perm.Action.WRITE}


def test_unknown_role_or_group_is_an_error_not_a_grant() -> None:
    with pytest.raises(ValueError):
        perm.is_allowed("admin", "postings", "read")
    with pytest.raises(ValueError):
        perm.is_allowed("owner", "postingz", "read")
    with pytest.raises(ValueError):
        perm.is_allowed("owner", "postings", "delete")


def test_markdown_table_is_generated_from_the_table() -> None:
    md = perm.permission_table_markdown()
    lines = md.strip().splitlines()
    assert len(lines) == 2 + len(perm.RouteGroup)
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[2:] == [r.value for r in perm.Role]
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        group = perm.RouteGroup(cells[0].strip("`"))
        for role, cell in zip(perm.Role, cells[2:], strict=True):
            expected = {a.value for a in perm.allowed_actions(role, group)}
            shown = set() if cell == "—" else set(cell.split(", "))
            assert shown == expected, (role, group)


def test_ozon_roles_lists_exactly_the_callable_methods() -> None:
    routes = [
        perm.RouteSpec("/v3/posting/fbs/list", perm.RouteGroup.POSTINGS, perm.Action.READ),
        perm.RouteSpec("/v4/posting/fbs/ship", perm.RouteGroup.POSTINGS, perm.Action.WRITE),
        perm.RouteSpec("/v3/product/import", perm.RouteGroup.PRODUCTS, perm.Action.WRITE),
        perm.RouteSpec("/v1/roles", perm.RouteGroup.ROLES, perm.Action.READ),
    ]
    analyst = perm.ozon_roles("analyst", routes)
    assert analyst == [
        {"name": "Posting FBS", "methods": ["/v3/posting/fbs/list"]},
        {"name": "Roles", "methods": ["/v1/roles"]},
    ]
    owner = {r["name"]: r["methods"] for r in perm.ozon_roles("owner", routes)}
    assert owner["Posting FBS"] == ["/v3/posting/fbs/list", "/v4/posting/fbs/ship"]
    assert owner["Product"] == ["/v3/product/import"]


# --- passwords ------------------------------------------------------------------------------


def test_password_hash_is_argon2id_salted_and_verifies() -> None:
    h1 = sec.hash_password("correct horse battery")
    h2 = sec.hash_password("correct horse battery")
    assert h1.startswith("$argon2id$") and h1 != h2
    assert "correct horse" not in h1
    assert sec.verify_password(h1, "correct horse battery")
    assert not sec.verify_password(h1, "correct horse battery!")
    assert not sec.verify_password(None, "correct horse battery")
    assert not sec.verify_password("not-a-hash", "x")
    assert not sec.password_needs_rehash(h1)


def test_weak_passwords_are_refused() -> None:
    for bad in ("short", "aaaaaaaaaaaaaaa", "abababababab"):
        with pytest.raises(sec.WeakPassword):
            sec.check_password_strength(bad)
    sec.check_password_strength("Peak-season 2026")


# --- TOTP -----------------------------------------------------------------------------------


def test_provisioning_uri_round_trips_into_an_authenticator() -> None:
    secret = sec.new_totp_secret()
    uri = sec.totp_provisioning_uri(secret, "cs@seller.example")
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    query = parse_qs(parsed.query)
    assert query["secret"] == [secret] and query["issuer"] == ["Peakline"]
    app = pyotp.parse_uri(uri)  # what an authenticator app does with the QR code
    assert sec.verify_totp(secret, app.at(T0), T0) == sec.totp_step(T0)


def test_totp_window_wrong_codes_and_replay() -> None:
    secret = sec.new_totp_secret()
    step = sec.totp_step(T0)
    def code(dt_s: int) -> str:
        return sec.totp_code(secret, T0 + timedelta(seconds=dt_s))

    assert sec.verify_totp(secret, code(-30), T0) == step - 1
    assert sec.verify_totp(secret, code(30), T0) == step + 1
    assert sec.verify_totp(secret, code(-90), T0) is None
    good = sec.totp_code(secret, T0)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    assert sec.verify_totp(secret, wrong, T0) is None
    for junk in ("", "12345", "abcdef", "1234567"):
        assert sec.verify_totp(secret, junk, T0) is None
    used = sec.verify_totp(secret, good, T0)
    assert used == step
    assert sec.verify_totp(secret, good, T0, last_used_step=used) is None  # single use
    later = T0 + timedelta(seconds=30)
    assert sec.verify_totp(secret, code(30), later, last_used_step=used) == step + 1


# --- API keys -------------------------------------------------------------------------------


def test_api_keys_are_random_and_stored_only_as_digest() -> None:
    keys = {sec.generate_api_key() for _ in range(200)}
    assert len(keys) == 200
    key = keys.pop()
    stored = sec.hash_api_key(key)
    assert key not in stored and len(stored) == 64
    assert sec.api_key_matches(key, stored)
    assert not sec.api_key_matches(sec.generate_api_key(), stored)
    assert sec.key_hint(key) != key and len(sec.key_hint(key)) < 12


# --- signatures -----------------------------------------------------------------------------


def test_signature_verifies_and_detects_forgery() -> None:
    secret = sec.generate_token()
    body = b'{"message_type":"TYPE_NEW_POSTING","posting_number":"12345678-0001-1"}'
    now = int(time.time())
    headers = sec.signature_headers(secret, body, event_id="42", timestamp=now)
    sig = headers[sec.SIGNATURE_HEADER]
    assert sig.startswith("sha256=")
    assert sec.verify_signature(secret, body, event_id="42", timestamp=now, signature=sig, now=now)
    # tampered body, other id, other secret, stale replay, garbage
    tampered = body + b" "
    assert not sec.verify_signature(secret, tampered, event_id="42", timestamp=now, signature=sig)
    assert not sec.verify_signature(secret, body, event_id="43", timestamp=now, signature=sig)
    assert not sec.verify_signature("other", body, event_id="42", timestamp=now, signature=sig)
    assert not sec.verify_signature(
        secret, body, event_id="42", timestamp=now, signature=sig, now=now + 3600
    )
    assert not sec.verify_signature(secret, body, event_id="42", timestamp="x", signature=sig)
    assert not sec.verify_signature(secret, body, event_id="42", timestamp=now, signature="")


@settings(max_examples=50, deadline=None)
@given(body=st.binary(max_size=256), flip=st.integers(min_value=0, max_value=10_000))
def test_any_single_bit_flip_in_body_breaks_the_signature(body: bytes, flip: int) -> None:
    sig = sec.sign_body("s3cret", body, event_id="1", timestamp=1)
    assert sec.verify_signature("s3cret", body, event_id="1", timestamp=1, signature=sig)
    if body:
        i = flip % (len(body) * 8)
        forged = bytearray(body)
        forged[i // 8] ^= 1 << (i % 8)
        assert not sec.verify_signature(
            "s3cret", bytes(forged), event_id="1", timestamp=1, signature=sig
        )


# --- throttling -----------------------------------------------------------------------------

POLICY = sec.ThrottlePolicy(max_delay=timedelta(seconds=30), lockout_failures=10)


def _fails(n: int, start: datetime = T0, every_s: float = 60.0) -> list[sec.Attempt]:
    return [sec.Attempt(start + timedelta(seconds=i * every_s), False) for i in range(n)]


def test_first_failures_are_free_then_delay_grows_and_is_capped() -> None:
    assert sec.sign_in_gate([], T0, POLICY).allowed
    hist = [sec.Attempt(T0 + timedelta(seconds=i), False) for i in range(3)]
    last = hist[-1].at
    assert not sec.sign_in_gate(hist, last, POLICY).allowed  # the 4th attempt waits base_delay
    assert sec.sign_in_gate(hist, last + timedelta(seconds=1), POLICY).allowed
    delays = []
    for n in range(3, 10):
        hist = [sec.Attempt(T0 + timedelta(seconds=i), False) for i in range(n)]
        gate = sec.sign_in_gate(hist, hist[-1].at, POLICY)
        assert not gate.allowed and not gate.locked
        delays.append(gate.retry_after_s)
    assert delays == sorted(delays) and delays[0] == 1.0
    assert max(delays) == POLICY.max_delay.total_seconds()


def test_lockout_after_repeated_failures_then_expires() -> None:
    hist = _fails(POLICY.lockout_failures, every_s=40)
    last = hist[-1].at
    gate = sec.sign_in_gate(hist, last + timedelta(minutes=1), POLICY)
    assert gate.locked and not gate.allowed
    remaining = POLICY.lockout - timedelta(minutes=1)
    assert gate.retry_after_s == pytest.approx(remaining.total_seconds())
    assert sec.sign_in_gate(hist, last + POLICY.lockout, POLICY).allowed


def test_success_resets_and_old_failures_age_out() -> None:
    hist = [*_fails(8, every_s=5), sec.Attempt(T0 + timedelta(seconds=41), True)]
    assert sec.sign_in_gate(hist, T0 + timedelta(seconds=42), POLICY).allowed
    old = _fails(8, start=T0 - timedelta(hours=2), every_s=5)
    assert sec.sign_in_gate(old, T0, POLICY).allowed


@settings(max_examples=100, deadline=None)
@given(gaps=st.lists(st.floats(min_value=0, max_value=600), min_size=0, max_size=30))
def test_gate_property_lock_only_after_enough_failures(gaps: list[float]) -> None:
    t = T0
    hist = []
    for g in gaps:
        t += timedelta(seconds=g)
        hist.append(sec.Attempt(t, False))
    gate = sec.sign_in_gate(hist, t, POLICY)
    failures = sec.recent_failures(hist, t, POLICY)
    if gate.locked:
        assert len(failures) >= POLICY.lockout_failures
    if len(failures) <= POLICY.free_failures - 1:
        assert gate.allowed
    assert gate.retry_after_s <= max(POLICY.lockout, POLICY.max_delay).total_seconds()


def test_readme_shows_the_generated_table_when_it_shows_one() -> None:
    """The README's permission table is this module's output, not a hand-kept copy."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    if "| route group |" not in readme:
        pytest.skip("README has no permission table yet")
    assert perm.permission_table_markdown() in readme
