"""Fault injection (reference_backend/faults.py): off by default, each fault at its stated rate,
Ozon-shaped, Peakline's own paths untouched; fault profiles load with clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from scipy import stats

from loadtests.rehearsal.faults import load_fault_profile
from reference_backend.app import create_app
from reference_backend.faults import BUILT_IN, FaultProfile
from reference_backend.settings import Settings
from tests.backend_support import seeded_sqlite, seller_headers


@contextmanager
def serving(directory: Path, faults: dict | None) -> Iterator[tuple[TestClient, dict]]:
    url, creds = seeded_sqlite(directory)
    settings = Settings(database_url=url, migrate_on_start=False, log_requests=False,
                        run_outbox_worker=False, log_level="WARNING",
                        ozon_faults=FaultProfile.model_validate(faults).model_dump_json()
                        if faults else None)
    with TestClient(create_app(settings)) as client:
        yield client, creds


def _within_binomial(hits: int, n: int, rate: float) -> bool:
    low, high = stats.binom.interval(0.999, n, rate)
    return low <= hits <= high


def test_no_faults_unless_a_profile_is_set(tmp_path):
    with serving(tmp_path, None) as (c, creds):
        answers = [c.post("/v1/warehouse/list", headers=seller_headers(creds), json={})
                   for _ in range(50)]
    assert {a.status_code for a in answers} == {200}
    assert not any("x-peakline-fault" in a.headers for a in answers)


def test_each_fault_hits_its_stated_share_of_seller_api_requests(tmp_path):
    profile = {"seed": 4, "slow": {"rate": 0.2, "delay_ms": 0},
               "server_errors": {"rate": 0.05, "burst": 4},
               "throttle_storms": {"rate": 0.03}}
    n = 1500
    with serving(tmp_path, profile) as (c, creds):
        answers = [c.post("/v1/warehouse/list", headers=seller_headers(creds), json={})
                   for _ in range(n)]
        own = [c.get("/health") for _ in range(50)]
    kinds = [a.headers.get("x-peakline-fault") for a in answers]
    errors = [a for a in answers if a.status_code == 503]
    throttled = [a for a in answers if a.status_code == 429]
    assert kinds.count("server_errors") == len(errors)
    assert kinds.count("throttle_storms") == len(throttled)
    # 5xx in runs of about 4 (the share holds over the runs, so the band is wider)
    runs = sum(1 for i, k in enumerate(kinds) if k == "server_errors"
               and (i == 0 or kinds[i - 1] != "server_errors"))
    assert 2.5 <= len(errors) / runs <= 6
    assert 0.025 <= len(errors) / n <= 0.08
    assert _within_binomial(len(throttled), n, 0.03 * (1 - 0.05))
    # slow is drawn for the requests the errors left through
    through = n - len(errors) - len(throttled)
    assert _within_binomial(kinds.count("slow"), through, 0.2)
    body = errors[0].json()
    assert body["message"] == "Service temporarily unavailable" and body["details"] == []
    assert throttled[0].headers["retry-after"] == "1"
    assert {a.status_code for a in own} == {200}  # Peakline's own paths: never


def test_an_import_reports_success_and_fails_later(tmp_path):
    with serving(tmp_path, {"import_fails_later": {"rate": 1.0}}) as (c, creds):
        headers = seller_headers(creds)
        task = c.post("/v3/product/import", headers=headers, json={"items": [
            {"offer_id": "LATE-1", "name": "Late", "price": "100", "vat": "0"}]})
        assert task.status_code == 200 and task.json()["result"]["task_id"]
        info = c.post("/v1/product/import/info", headers=headers,
                      json={"task_id": task.json()["result"]["task_id"]})
    assert info.status_code == 200
    assert info.headers["x-peakline-fault"] == "import_fails_later"
    [item] = info.json()["result"]["items"]
    assert item["status"] == "failed" and item["errors"][0]["code"] == "INTERNAL_ERROR"


def test_built_in_profiles_and_files_load_or_name_the_problem(tmp_path):
    assert set(BUILT_IN) == {"flaky", "black-friday"}
    assert load_fault_profile("black-friday").throttle_storms.burst == 25
    good = tmp_path / "bad-day.yaml"
    good.write_text("name: bad day\nslow: {rate: 0.1, delay_ms: 800}\n")
    assert load_fault_profile(str(good)).slow.delay_ms == 800
    bad = tmp_path / "worse.yaml"
    bad.write_text("slow: {rate: 2}\nthunder: {rate: 0.1}\n")
    with pytest.raises(ValueError) as info:
        load_fault_profile(str(bad))
    text = str(info.value)
    assert str(bad) in text and "slow.rate" in text and "thunder" in text
    with pytest.raises(ValueError, match="neither a built-in"):
        load_fault_profile("tuesday")
