"""The sign-in limit per client address behind a reverse proxy (real uvicorn, SQLite).

``X-Forwarded-For`` names the client only when the peer is a trusted proxy
(``PEAKLINE_TRUSTED_PROXIES``); from anyone else a spoofed header buys no fresh limit."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from reference_backend.settings import Settings
from tests.backend_support import running_server, seeded_sqlite

PER_ADDRESS = 3
EMAILS = itertools.count()


def _sign_in(client: httpx.Client, forwarded_for: str) -> int:
    """One sign-in with a fresh unknown email (so only the per-address limit can refuse it)."""
    response = client.post("/peakline/v1/accounts/sign-in",
                           json={"email": f"nobody{next(EMAILS)}@example.com",
                                 "password": "not-the-password"},
                           headers={"X-Forwarded-For": forwarded_for})
    if response.status_code == 429:
        assert "from this address" in response.json()["message"], response.text
        assert response.headers["Retry-After"].isdigit()
    return response.status_code


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server trusting 127.0.0.1 as its proxy: its base URL."""
    url, _ = seeded_sqlite(tmp_path_factory.mktemp("proxy"))
    with running_server(url, env={"PEAKLINE_TRUSTED_PROXIES": "127.0.0.1",
                                  "PEAKLINE_SIGNIN_PER_ADDRESS": f"{PER_ADDRESS}/minute"}) as base:
        yield base


def _client(base: str, source: str) -> httpx.Client:
    """A client connecting from ``source`` (any 127.x.y.z is this machine)."""
    return httpx.Client(base_url=base, timeout=30,
                        transport=httpx.HTTPTransport(local_address=source))


def test_a_spoofed_header_from_an_untrusted_peer_gets_no_fresh_limit(behind_proxy: str) -> None:
    with _client(behind_proxy, "127.0.0.2") as client:
        codes = [_sign_in(client, f"203.0.113.{i}") for i in range(PER_ADDRESS + 2)]
    # every request counts against the peer (127.0.0.2), whatever address it claims
    assert codes == [401] * PER_ADDRESS + [429, 429]


def test_a_trusted_proxy_names_each_client(behind_proxy: str) -> None:
    with _client(behind_proxy, "127.0.0.1") as client:
        first = [_sign_in(client, "198.51.100.7") for _ in range(PER_ADDRESS + 1)]
        assert first == [401] * PER_ADDRESS + [429]
        # the client before the proxy is the address limited: a spoofed entry in front of it
        # (the client's own header, passed on by the proxy) changes nothing
        assert _sign_in(client, "203.0.113.9, 198.51.100.7") == 429
        # another client behind the same proxy has its own limit
        assert _sign_in(client, "198.51.100.8") == 401
        # and so has the proxy's own address (not spent by the clients behind it)
        assert _sign_in(client, "") == 401


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert Settings(trusted_proxies="10.0.0.0/8, 127.0.0.1,::1").trusted_proxy_list == [
        "10.0.0.0/8", "127.0.0.1", "::1"]
    with pytest.raises(ValidationError, match="not an IP address or CIDR"):
        Settings(trusted_proxies="proxy.example.com")
