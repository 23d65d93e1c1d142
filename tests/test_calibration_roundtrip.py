"""The round trip without a backend: scenario S -> 28 simulated days -> the history the
simulator produced -> ``calibrate`` -> scenario S'. S' recovers S within the README's
tolerances, and simulating both on the same seeds gives the same headline KPIs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from simulator.calibration.fitting import calibrate
from simulator.calibration.scenario_writer import scenario_text
from simulator.calibration.simulated_history import simulated_history
from simulator.model import Simulation
from simulator.scenario import Scenario, parse_scenario
from tests.calibration_history import assert_same_headline_kpis

pytestmark = pytest.mark.slow  # four weeks simulated, calibrated, and ten short runs

SMOKE = Path(__file__).resolve().parent.parent / "scenarios" / "smoke.yaml"


def _original() -> Scenario:
    """smoke.yaml over four weeks at 20 orders/h with a flash sale, returns, ample stock."""
    data = yaml.safe_load(SMOKE.read_text())
    data["clock"].update(horizon_hours=28 * 24, drain_hours=24)
    data["demand"].update(baseline_orders_per_hour=20, return_probability=0.06, peaks=[
        {"name": "flash", "start_hour": 20 * 24 + 19, "duration_hours": 2, "multiplier": 3}])
    data["stock"]["initial"] = [{"warehouse": "*", "days_of_cover": 60}]
    data["faults"] = []
    return parse_scenario(data)


@pytest.fixture(scope="module")
def trip():
    original = _original()
    sim = Simulation(original, seed=1)
    sim.run()
    cal = calibrate(simulated_history(sim, sku_id=lambda k: 5_000 + k))
    fitted = parse_scenario(yaml.safe_load(scenario_text(cal, name="fitted")))
    return original, cal, fitted


def test_the_fitted_scenario_recovers_the_original(trip) -> None:
    s, cal, fitted = trip
    d = fitted.demand
    assert d.baseline_orders_per_hour == pytest.approx(s.demand.baseline_orders_per_hour,
                                                       rel=0.05)
    assert np.corrcoef(d.hour_of_day, s.demand.hour_of_day)[0, 1] > 0.95
    [peak] = cal.demand.peaks
    assert peak.hours == 2 and peak.multiplier == pytest.approx(3, rel=0.2)
    assert fitted.catalogue.zipf_exponent == pytest.approx(s.catalogue.zipf_exponent, abs=0.1)
    assert d.cancel_probability == pytest.approx(s.demand.cancel_probability, abs=0.01)
    assert d.return_probability == pytest.approx(s.demand.return_probability, abs=0.01)
    total = sum(r.weight for r in s.network.regions)
    weights = {r.city: r.weight / 100 for r in fitted.network.regions}
    for region in s.network.regions:
        assert weights[region.city] == pytest.approx(region.weight / total, abs=0.02)


def test_simulating_both_on_the_same_seeds_gives_the_same_headline_kpis(trip) -> None:
    s, _, fitted = trip
    assert_same_headline_kpis(s, fitted)
