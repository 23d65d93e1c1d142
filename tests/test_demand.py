"""Demand: SKU attributes, the rate curve, and sampled arrivals against their theory."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulator.demand import DemandCurve, build_skus, calendar, clock_origin, sample_arrivals
from simulator.model import make_streams
from simulator.scenario import parse_scenario

from .model_worlds import smoke_dict


def _world(**demand) -> dict:
    d = smoke_dict()
    d["catalogue"]["sku_count"] = 400
    d["demand"].update(demand)
    return d


def test_clock_origin_and_calendar() -> None:
    clock = parse_scenario(smoke_dict()).clock  # starts Friday 2026-11-27 00:00
    assert clock_origin(clock) == (4, 0)
    hour, weekday = calendar(clock, np.array([0, 61, 1440 * 3 + 5]))
    assert hour.tolist() == [0, 1, 0] and weekday.tolist() == [4, 4, 0]


def test_sku_attributes_fixed_by_catalogue_seed() -> None:
    cat = parse_scenario(_world()).catalogue
    a, b = build_skus(cat), build_skus(cat)
    assert np.array_equal(a.price, b.price) and np.array_equal(a.popularity, b.popularity)
    other = build_skus(cat.model_copy(update={"seed": 2}))
    assert not np.array_equal(a.price, other.price)
    assert np.bincount(a.group).tolist() == [120, 280]  # shares 0.3 / 0.7 of 400
    electronics = a.group == 0
    assert a.price[electronics].min() >= 1500 and a.price[electronics].max() <= 40000
    assert np.allclose(a.unit_cost, np.round(a.price * 0.6, 2), atol=0.011)
    assert a.popularity.sum() == pytest.approx(1)
    ranked = np.sort(a.popularity)[::-1]
    assert ranked[0] / ranked[9] == pytest.approx(10)  # Zipf exponent 1


def test_rate_curve_shapes_and_expected_orders() -> None:
    sc = parse_scenario(_world())
    curve = DemandCurve(sc, build_skus(sc.catalogue))
    hod = np.asarray(sc.demand.hour_of_day)
    assert curve.rate[8 * 60] == pytest.approx(60 / 60 * hod[8])
    assert curve.rate[19 * 60 + 30] == pytest.approx(3 * hod[19])  # flash sale x3
    hourly = curve.expected_orders(np.arange(25) * 60.0)
    assert hourly[8] == pytest.approx(60 * hod[8])
    assert curve.expected_orders(np.array([0.0, 1e9])).sum() == pytest.approx(curve.rate.sum())


def test_promotion_multiplies_only_its_group() -> None:
    sc = parse_scenario(_world(peaks=[{"name": "promo", "start_hour": 2, "duration_hours": 2,
                                       "multiplier": 5, "sku_groups": ["electronics"]}]))
    skus = build_skus(sc.catalogue)
    curve = DemandCurve(sc, skus)
    mass = skus.group_mass()
    hod = np.asarray(sc.demand.hour_of_day)
    assert curve.rate[150] == pytest.approx(hod[2] * (5 * mass[0] + mass[1]))
    arrivals = sample_arrivals(sc, curve, make_streams(11))
    order_minute = np.repeat(arrivals.time, np.diff(arrivals.line_start)).astype(int)
    in_promo = (order_minute >= 120) & (order_minute < 240)
    group = skus.group[arrivals.sku]
    share_in = (group[in_promo] == 0).mean()
    expected = 5 * mass[0] / (5 * mass[0] + mass[1])
    n = in_promo.sum()
    assert abs(share_in - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
    assert abs((group[~in_promo] == 0).mean() - mass[0]) < 0.03


def test_arrivals_follow_the_curve() -> None:
    sc = parse_scenario(_world(cancel_probability=0.1))
    curve = DemandCurve(sc, build_skus(sc.catalogue))
    counts = []
    for seed in range(3):
        a = sample_arrivals(sc, curve, make_streams(seed))
        assert np.all(np.diff(a.time) >= 0) and a.time.max() < 24 * 60
        counts.append(np.histogram(a.time, np.arange(25) * 60.0)[0])
    observed = np.sum(counts, axis=0)
    expected = 3 * curve.expected_orders(np.arange(25) * 60.0)
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, df=24) > 0.001  # Poisson counts per hour
    # regions by weight, cancellations by probability, cancel after arrival
    weights = np.array([r.weight for r in sc.network.regions])
    share = np.bincount(a.region) / a.count
    assert share[0] == pytest.approx(weights[0] / weights.sum(), abs=0.04)
    cancelled = np.isfinite(a.cancel_at)
    assert cancelled.mean() == pytest.approx(0.1, abs=0.025)
    assert np.all(a.cancel_at[cancelled] > a.time[cancelled])


def test_baskets_and_popularity() -> None:
    sc = parse_scenario(_world(baseline_orders_per_hour=2000))
    skus = build_skus(sc.catalogue)
    curve = DemandCurve(sc, skus)
    a = sample_arrivals(sc, curve, make_streams(5))
    lines = np.diff(a.line_start)
    assert lines.min() >= 1 and lines.max() <= 10
    # 1 + Poisson(0.6) lines per order, fewer after merging repeats of the same SKU
    assert 1.5 < lines.mean() <= 1.6 + 0.01
    assert a.qty.min() >= 1
    for i in range(0, a.count, 997):  # no SKU twice in an order
        skus_of = a.sku[a.line_start[i] : a.line_start[i + 1]]
        assert len(set(skus_of.tolist())) == skus_of.size
    freq = np.bincount(a.sku, minlength=skus.count) / a.sku.size
    top = np.argsort(skus.popularity)[::-1][:5]
    assert np.allclose(freq[top], skus.popularity[top], rtol=0.1)
    assert curve.sku_daily_units().sum() == pytest.approx(2000 * 24 * 1.6 * 1.15)
