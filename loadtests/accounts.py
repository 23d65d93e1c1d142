"""The seller's staff for a load test: one sub-account and API key per role.

``peakline seed`` issues the owner's key. Before the load starts, the owner creates a
sub-account for each role the users act as (warehouse, sales, analyst, customer_service)
through ``/peakline/v1/accounts`` and issues each an API key, so every request runs under the
role a real employee would use and the backend's permission checks are part of the load.
A backend without that API (or a failure) leaves the owner's key standing in for every role.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx

ROLES = ("warehouse", "sales", "analyst", "customer_service")


def provision_roles(base_url: str, credentials: dict[str, Any], *,
                    timeout_s: float = 10.0) -> tuple[list[dict[str, str]], str]:
    """Create a keyed sub-account per role; return ``(accounts, problem)`` (problem '' if none)."""
    owner = {"Client-Id": str(credentials["client_id"]), "Api-Key": credentials["api_key"]}
    tag = secrets.token_hex(4)
    accounts: list[dict[str, str]] = []
    try:
        with httpx.Client(base_url=base_url, headers=owner, timeout=timeout_s) as client:
            for role in ROLES:
                made = client.post("/peakline/v1/accounts", json={
                    "email": f"loadtest-{role.replace('_', '-')}-{tag}@peakline.test",
                    "name": f"load test {role}", "role": role,
                    "password": secrets.token_urlsafe(18),
                })
                if made.status_code != 201:
                    return [], f"creating the {role} account: HTTP {made.status_code}"
                key = client.post(f"/peakline/v1/accounts/{made.json()['id']}/api-keys",
                                  json={"name": f"load test {tag}"})
                if key.status_code != 201:
                    return [], f"issuing the {role} key: HTTP {key.status_code}"
                body = key.json()
                accounts.append({"role": role, "client_id": str(body.get("client_id") or
                                                                credentials["client_id"]),
                                 "api_key": body["api_key"]})
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return [], f"{type(exc).__name__}: {exc}"
    return accounts, ""


def with_role_keys(base_url: str, source: Path, target: Path) -> tuple[Path, list[str], str]:
    """Credentials with per-role keys written to ``target`` (unless ``source`` has them)."""
    credentials = json.loads(source.read_text(encoding="utf-8"))
    if credentials.get("accounts"):
        return source, [a.get("role", "") for a in credentials["accounts"]], ""
    accounts, problem = provision_roles(base_url, credentials)
    if not accounts:
        return source, [], problem
    target.write_text(json.dumps({**credentials, "accounts": accounts}), encoding="utf-8")
    target.chmod(0o600)
    return target, [a["role"] for a in accounts], ""
