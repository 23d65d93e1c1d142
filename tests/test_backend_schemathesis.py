"""Schemathesis over the whole OpenAPI document, every check it has and its stateful phase,
against a real uvicorn on SQLite and on PostgreSQL, seeded with a seller and signed in with its
keys (seller key, platform key: the document's security schemes).

Checks: ``--checks all`` (no server error; status codes, content types, response schemas and
headers as documented; schema-violating requests refused and schema-valid ones accepted; a
deleted resource gone and a created one reachable; a request without its key refused; 405 with
``Allow`` for an undocumented method...). The stateful phase follows the links schemathesis
infers between operations. :data:`RULES_BEYOND_THE_SCHEMA` lists the operations whose 400s
depend on stored data, the clock or another field, which no schema can say: for those (only)
``positive_data_acceptance`` also takes a 400, each with its reason.

The suite runs a small fixed-seed, deterministic sample (``PEAKLINE_SCHEMATHESIS_EXAMPLES``,
default 1 per operation, fuzzing and stateful phases). With PostgreSQL at hand (CI) the SQLite
run takes the stateful phase only: the wire it checks is the same on both databases (the routes,
schemas and checks lie above the service layer), PostgreSQL is the stricter of the two (typed
parameters, string lengths), and SQLite keeps its own fuzzing of every operation in process
(``tests/test_backend_fuzz.py``, ``tests/test_backend_ozon_fuzz.py``: no 5xx, a refusal changes
nothing) and its hostile values (``tests/test_backend_hostile.py``). A long run locally, every
phase on both::

    PEAKLINE_SCHEMATHESIS_EXAMPLES=15 \\
    PEAKLINE_SCHEMATHESIS_PHASES=examples,coverage,fuzzing,stateful \\
        .venv/bin/python -m pytest tests/test_backend_schemathesis.py
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backend_support import (
    ServerProcess,
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    seed_smoke,
    seeded_sqlite,
)

EXAMPLES = int(os.environ.get("PEAKLINE_SCHEMATHESIS_EXAMPLES", "1"))
PHASES = os.environ.get("PEAKLINE_SCHEMATHESIS_PHASES", "fuzzing,stateful")
#: the SQLite run's phases when PostgreSQL takes them all (see above)
BESIDE_POSTGRES = os.environ.get("PEAKLINE_SCHEMATHESIS_PHASES", "stateful")

#: operation -> why a schema-valid request may still get a 400 (Ozon answers such requests
#: with 400 INVALID_ARGUMENT, and so does this server).
RULES_BEYOND_THE_SCHEMA = {
    "POST /peakline/v1/accounts": "the email must be a deliverable address (email-validator)",
    "PATCH /peakline/v1/accounts/me": "the email must be a deliverable address",
    "POST /peakline/v1/accounts/me/password": "the password must be strong enough",
    "POST /peakline/v1/accounts/me/totp/confirm": "the code must be the current one-time code",
    "POST /peakline/v1/accounts/{account_id}/api-keys": "expires_at must be in the future",
    "POST /peakline/v1/webhooks": "the URL's host must resolve",
    "POST /v1/notification/set": "the URL's host must resolve",
    "POST /marketplace/v1/actions": "date_end must be after date_start",
    "POST /marketplace/v1/postings/{posting_number}/return-requests":
        "the return method must be one the posting's delivery offers",
    "POST /v1/returns/rfbs/action/set": "the action must be one the return allows now",
    "POST /v2/posting/fbs/cancel": "the cancel reason must be one the seller may use",
    "POST /v2/posting/fbs/product/cancel": "the cancel reason must be one the seller may use",
    # a cursor or last_id is opaque: only one this server issued reads (Ozon: "the value of
    # the previous response"), which a schema cannot tell from any other string
    "POST /v3/product/list": "last_id must come from a previous page",
    "POST /v4/product/info/attributes": "last_id must come from a previous page",
    "POST /v5/product/info/prices": "cursor must come from a previous page",
    "POST /v4/product/info/stocks": "cursor must come from a previous page",
    "POST /v4/posting/fbs/list": "cursor must come from a previous page",
    "POST /v4/posting/fbs/unfulfilled/list": "cursor must come from a previous page",
    "POST /v2/warehouse/list": "cursor must come from a previous page",
    "POST /v2/delivery-method/list": "cursor must come from a previous page",
    "POST /v3/chat/list": "cursor must come from a previous page",
}
ACCEPTED = ["2XX", "3XX", "400", "401", "403", "404", "409", "429"]


def config(creds: dict) -> str:
    """The schemathesis.toml of a run: keys, generation, the rules above."""
    lines = [
        "[generation]",
        "deterministic = true",
        # a NUL is refused everywhere (400 before any route runs; tests/test_backend_hostile.py
        # sends one in every field of every operation)
        "allow-x00 = false",
        "",
        "[auth.openapi.ClientId]", f'api_key = "{creds["client_id"]}"',
        "[auth.openapi.ApiKey]", f'api_key = "{creds["api_key"]}"',
        "[auth.openapi.PlatformKey]", f'bearer = "{creds["platform_key"]}"',
    ]
    for operation, why in RULES_BEYOND_THE_SCHEMA.items():
        method, path = operation.split(" ", 1)
        lines += ["", f"# {why}", "[[operations]]", f'include-method = "{method}"',
                  f'include-path = "{path}"',
                  f"checks.positive_data_acceptance.expected-statuses = {json.dumps(ACCEPTED)}"]
    return "\n".join(lines) + "\n"


def phases(kind: str) -> str:
    """The phases of the run on ``kind``."""
    return BESIDE_POSTGRES if kind == "sqlite" and postgres_admin_url() else PHASES


@contextlib.contextmanager
def _database(kind: str, tmp_path: Path) -> Iterator[tuple[str, dict]]:
    if kind == "sqlite":
        yield seeded_sqlite(tmp_path)
        return
    if not postgres_admin_url():
        pytest.skip("PEAKLINE_TEST_DATABASE_URL is not set")
    with fresh_postgres_url() as url:
        yield url, seed_smoke(url)


@pytest.mark.slow
@pytest.mark.timeout(600)  # (a loaded machine; the long local run passes --timeout)
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_schemathesis_all_checks_and_stateful(kind: str, tmp_path: Path) -> None:
    run_phases = phases(kind)
    with _database(kind, tmp_path) as (url, creds):
        server = ServerProcess(url, env={"PEAKLINE_SIGNIN_PER_ADDRESS": "1000/minute"})
        server.wait_ready(timeout=240)  # (a loaded machine starts it slowly)
        try:
            base = server.base_url
            for i in range(3):  # postings for the routes to find
                httpx.post(f"{base}/marketplace/v1/orders", timeout=60, json={
                    "client_id": creds["client_id"], "region": "R-MSK",
                    "lines": [{"sku": creds["sku_base"] + i, "quantity": 1}]},
                    headers={**platform_headers(creds), "Idempotency-Key": f"st{i}"},
                ).raise_for_status()
            httpx.get(f"{base}/openapi.json", timeout=120).raise_for_status()  # built once
            (tmp_path / "schemathesis.toml").write_text(config(creds), encoding="utf-8")
            out = subprocess.run(
                [str(Path(sys.executable).parent / "schemathesis"), "--config-file",
                 str(tmp_path / "schemathesis.toml"), "--no-color", "run",
                 f"{base}/openapi.json", "--checks", "all", "--phases", run_phases,
                 "--max-examples", str(EXAMPLES), "--seed", "16", "--workers", "1",
                 "--request-timeout", "60", "--report", "json", "--report-dir",
                 str(tmp_path / "report")],
                cwd=tmp_path, capture_output=True, text=True, timeout=1800)
        finally:
            server.stop()
    assert out.returncode == 0, (out.stdout[-20000:] + out.stderr[-3000:]
                                 + "\nserver:\n" + server.output())
    report = json.loads(next((tmp_path / "report").glob("*.json")).read_text())
    operations = report["operations"]
    assert operations["tested"] > 0 and not operations["errored"]
    if "fuzzing" in run_phases:  # every operation
        assert operations["tested"] == operations["total"] >= 140
    assert report["complete"] and not report["failures"] and not report["errors"]
    for phase in run_phases.split(","):
        assert report["phases"][phase]["status"] == "success", report["phases"]
