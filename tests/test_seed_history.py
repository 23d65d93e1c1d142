"""``peakline seed SCENARIO --history-days N`` and the round trip it makes possible:
scenario S -> 28 simulated days replayed into the backend -> a real uvicorn -> ``peakline
calibrate`` over the Seller API -> scenario S', which recovers S within the README's
tolerances and gives the same headline KPIs on the same seeds; and what the Seller API
reports agrees with what was replayed (buyers' cities by their real names)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from peakline.cli import app
from simulator.scenario import load_scenario
from tests.backend_support import SMOKE, running_server, seller_headers, sqlite_url
from tests.calibration_history import assert_same_headline_kpis

# a simulated history seeded into a real backend: ~40 s of CPU, minutes on a busy machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

runner = CliRunner()
DAYS = 28
RATE = 6  # orders an hour: 28 days hold ~4,000 orders


def _scenario(path):
    """smoke.yaml at 6 orders an hour with returns and ample stock."""
    data = yaml.safe_load(SMOKE.read_text())
    data["demand"].update(baseline_orders_per_hour=RATE, return_probability=0.06, peaks=[])
    data["stock"]["initial"] = [{"warehouse": "*", "days_of_cover": 4 * DAYS}]
    data["faults"] = []
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed_history")
    scenario = _scenario(folder / "shop.yaml")
    url = sqlite_url(folder)
    creds_file = folder / "creds.json"
    result = runner.invoke(app, ["seed", str(scenario), "--db", url, "--history-days", str(DAYS),
                                 "--credentials-out", str(creds_file)])
    assert result.exit_code == 0, result.output
    with running_server(url) as base:
        yield scenario, json.loads(creds_file.read_text()), base, folder, result.output


def test_the_seller_api_reports_the_replayed_history(seeded) -> None:
    _, creds, base, _, output = seeded
    assert "history:" in output
    since = (datetime.now(UTC) - timedelta(days=DAYS + 1)).isoformat()
    to = datetime.now(UTC).isoformat()
    with httpx.Client(base_url=base, headers=seller_headers(creds), timeout=30) as c:
        page = c.post("/v3/posting/fbs/list", json={
            "filter": {"since": since, "to": to}, "limit": 1000, "offset": 0,
            "with": {"analytics_data": True}}).json()["result"]["postings"]
        returns = c.post("/v1/returns/list", json={"limit": 500}).json()["returns"]
    assert {"delivered", "cancelled"} <= {p["status"] for p in page}
    assert returns and all(r["type"] == "ClientReturn" for r in returns)
    places = {(p["analytics_data"]["city"], p["analytics_data"]["region"]) for p in page}
    assert places == {("Москва", "Московская область"),
                      ("Санкт-Петербург", "Ленинградская область")}


@pytest.fixture(scope="module")
def calibrated(seeded):
    scenario_path, creds, base, folder, _ = seeded
    today = datetime.now(UTC).date()
    out = folder / "fitted.yaml"
    result = runner.invoke(app, ["calibrate", "--ozon-url", base, "--client-id",
                                 creds["client_id"], "--api-key", creds["api_key"],
                                 "--since", (today - timedelta(days=DAYS)).isoformat(),
                                 "--to", (today - timedelta(days=1)).isoformat(),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    return load_scenario(scenario_path), load_scenario(out), out.read_text(), result.output


def test_calibrating_the_seeded_backend_recovers_the_scenario(calibrated) -> None:
    original, fitted, text, output = calibrated
    d, s = fitted.demand, original.demand
    assert d.baseline_orders_per_hour == pytest.approx(s.baseline_orders_per_hour, rel=0.05)
    assert np.corrcoef(d.hour_of_day, s.hour_of_day)[0, 1] > 0.95
    assert fitted.catalogue.zipf_exponent == pytest.approx(original.catalogue.zipf_exponent,
                                                           abs=0.1)
    assert d.cancel_probability == pytest.approx(s.cancel_probability, abs=0.01)
    assert d.return_probability == pytest.approx(s.return_probability, abs=0.01)
    # the cities the backend reported by name are placed, with their weights
    assert "unknown" not in output
    total = sum(r.weight for r in original.network.regions)
    weights = {r.city: r.weight / 100 for r in fitted.network.regions}
    for region in original.network.regions:
        assert weights[region.city] == pytest.approx(region.weight / total, abs=0.02)


def test_delays_are_fitted_from_the_moments_the_seller_api_gives(calibrated) -> None:
    """Cancellation moments (located through ``last_changed_status_date``) and delivery
    moments (finance operations): both delays are fitted, returns counted from delivery."""
    original, fitted, text, _ = calibrated
    d, s = fitted.demand, original.demand
    assert "return_delay_hours (delivered -> return created" in text
    assert d.return_delay_hours.mean == pytest.approx(s.return_delay_hours.mean, rel=0.15)
    assert re.search(r"cancel_delay_hours \(order -> cancelled.*gamma fitted to", text)
    # ~55 cancellations, located to 15 min, those refused after hand-over allowed for: over
    # 12 history seeds the fitted mean strayed -25 % to +42 % (seed 1: +6 % here)
    assert d.cancel_delay_hours.mean == pytest.approx(s.cancel_delay_hours.mean, rel=0.5)


def test_the_calibrated_scenario_gives_the_same_headline_kpis(calibrated) -> None:
    original, fitted, _, _ = calibrated
    assert_same_headline_kpis(original, fitted)
