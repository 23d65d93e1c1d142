"""A forecast apart from the demand that happens: stock is planned on the forecast, orders come
from the demand times a per-replication shock (its own random stream)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulator.demand import DemandCurve, build_skus, draw_shock, sample_arrivals
from simulator.model import Simulation, make_streams, run
from simulator.scenario import ScenarioError, parse_scenario

from .model_worlds import smoke_dict

SHOCK = {"cv": 0.3, "per": ["sku_group", "region"]}


def test_without_a_shock_the_demand_that_happens_is_the_forecast(smoke_path) -> None:
    sc = parse_scenario(smoke_dict())
    sim = Simulation(sc, 1)
    assert sim.shock is None and sc.forecast is None
    assert np.array_equal(sim.curve.rate, sim.forecast.rate)
    plain = DemandCurve(sc, sim.skus)  # the curve of the scenario as written
    assert np.array_equal(sim.curve.rate, plain.rate)
    again = sample_arrivals(sc, plain, make_streams(1))
    assert np.array_equal(again.time, sim.arrivals.time)
    assert np.array_equal(again.sku, sim.arrivals.sku)
    assert np.array_equal(again.region, sim.arrivals.region)


def test_shock_factors_are_lognormal_with_mean_one_and_the_given_cv() -> None:
    d = smoke_dict()
    d["demand"]["shock"] = SHOCK
    sc = parse_scenario(d)
    draws = np.array([draw_shock(sc, np.random.default_rng(seed)) for seed in range(4000)])
    assert draws.shape == (4000, 2, 2)  # [sku group, region]
    flat = draws.reshape(4000, -1)
    assert flat.mean(axis=0) == pytest.approx(np.ones(4), abs=4 * 0.3 / math.sqrt(4000))
    assert flat.std(axis=0) / flat.mean(axis=0) == pytest.approx(np.full(4, 0.3), rel=0.1)
    sigma = math.sqrt(math.log1p(0.09))
    assert stats.kstest(np.log(flat[:, 0]), "norm", args=(-sigma**2 / 2, sigma)).pvalue > 1e-3
    # independent cells; ``per: [region]`` shares one factor across groups
    assert abs(np.corrcoef(flat[:, 0], flat[:, 3])[0, 1]) < 0.1
    d["demand"]["shock"] = {"cv": 0.3, "per": ["region"]}
    one = draw_shock(parse_scenario(d), np.random.default_rng(5))
    assert np.array_equal(one[0], one[1]) and one[0, 0] != one[0, 1]
    # common random numbers: the same seed draws the same normals whatever the CV
    d["demand"]["shock"] = {"cv": 0.6, "per": ["region"]}
    wide = draw_shock(parse_scenario(d), np.random.default_rng(5))
    s1, s2 = math.sqrt(math.log1p(0.09)), math.sqrt(math.log1p(0.36))
    z1 = (np.log(one) + s1**2 / 2) / s1
    z2 = (np.log(wide) + s2**2 / 2) / s2
    assert z1 == pytest.approx(z2)


def test_a_shock_moves_regions_and_groups_as_its_factors_say() -> None:
    d = smoke_dict()
    d["catalogue"]["sku_count"] = 400
    d["demand"]["baseline_orders_per_hour"] = 2000
    sc = parse_scenario(d)
    skus = build_skus(sc.catalogue)
    shock = np.array([[2.0, 0.5], [1.0, 1.0]])  # electronics x2 in Moscow, x0.5 in St P.
    curve = DemandCurve(sc, skus, shock=shock)
    arrivals = sample_arrivals(sc, curve, make_streams(3))
    weights = np.array([r.weight for r in sc.network.regions])
    w = weights / weights.sum()
    mass = skus.group_mass()
    plain = DemandCurve(sc, skus)
    # orders: the rate is sum_r w_r sum_g mass_g F[g, r] of the plain one (no promotions)
    factor = float(w @ (mass @ shock))
    assert curve.rate.sum() == pytest.approx(plain.rate.sum() * factor)
    assert abs(arrivals.count - curve.rate.sum()) < 4 * math.sqrt(curve.rate.sum())
    # a region's share of orders: w_r sum_g mass_g F[g, r]
    share = w * (mass @ shock) / factor
    observed = np.bincount(arrivals.region, minlength=2) / arrivals.count
    assert observed == pytest.approx(share, abs=4 * math.sqrt(0.25 / arrivals.count))
    # within a region, the groups' share of lines tilts by the factor (lines merge little)
    order_of_line = np.repeat(np.arange(arrivals.count), np.diff(arrivals.line_start))
    group = skus.group[arrivals.sku]
    for r in range(2):
        lines = arrivals.region[order_of_line] == r
        expected = mass[0] * shock[0, r] / (mass @ shock[:, r])
        got = (group[lines] == 0).mean()
        assert got == pytest.approx(expected, abs=0.02), r


def test_overriding_demand_leaves_stock_where_the_forecast_put_it(smoke_path) -> None:
    sc = parse_scenario(smoke_dict())
    busy = sc.with_overrides(**{"demand.baseline_orders_per_hour": 240})
    assert busy.forecast_demand().baseline_orders_per_hour == 60
    base, more = Simulation(sc, 1), Simulation(busy, 1)
    assert np.array_equal(base.stock.on_hand, more.stock.on_hand)
    assert np.array_equal(base.replenisher.prior, more.replenisher.prior)
    assert more.arrivals.count > 3 * base.arrivals.count
    # moving the forecast moves the stock
    planned = busy.with_overrides(**{"forecast.baseline_orders_per_hour": 240})
    assert Simulation(planned, 1).stock.on_hand.sum() > 3.5 * base.stock.on_hand.sum()


def test_more_demand_than_forecast_hurts_the_fill_rate_and_is_reported(smoke_path) -> None:
    sc = parse_scenario(smoke_dict())
    plain = run(sc, 1)
    busy = run(sc.with_overrides(**{"demand.baseline_orders_per_hour": 240}), 1)
    assert plain.kpis["demand_vs_forecast"] == pytest.approx(1, abs=0.1)
    assert busy.kpis["demand_vs_forecast"] == pytest.approx(4, rel=0.1)
    assert plain.kpis["line_fill_rate"] > 0.99
    assert busy.kpis["line_fill_rate"] < plain.kpis["line_fill_rate"] - 0.1
    assert busy.kpis["lost_sales_units"] > 100 * max(plain.kpis["lost_sales_units"], 1)


def test_forecast_and_shock_fields_are_checked() -> None:
    d = smoke_dict()
    d["forecast"] = {"baseline_orders_per_hour": 0, "peaks": [
        {"name": "x", "start_hour": 1, "duration_hours": 1, "multiplier": 2,
         "sku_groups": ["toys"]}]}
    d["demand"]["shock"] = {"cv": 0.2, "per": ["sku_group", "sku_group"]}
    with pytest.raises(ScenarioError) as err:
        parse_scenario(d, "w.yaml")
    fields = {field for field, _ in err.value.problems}
    assert {"forecast.baseline_orders_per_hour", "demand.shock.per"} <= fields
    d["forecast"]["baseline_orders_per_hour"] = 50
    d["demand"]["shock"] = {"cv": 0.2, "per": ["warehouse"]}
    with pytest.raises(ScenarioError) as err:
        parse_scenario(d, "w.yaml")
    assert [f for f, _ in err.value.problems] == ["demand.shock.per[0]"]
    d["demand"]["shock"] = {"cv": 0.2}
    with pytest.raises(ScenarioError, match=r"forecast.peaks\[0\].sku_groups: unknown group"):
        parse_scenario(d, "w.yaml")
