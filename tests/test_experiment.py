"""Experiments: CI coverage, paired differences, seeds, sweeps, and every executor agreeing.

These tests run a cheap stand-in model with a known distribution through the same
replication, seeding and CI code as the real model (``Job.model`` names it); tests against
the real simulator live in ``test_experiment_model.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.experiment import (
    Comparison,
    PolicySpec,
    Variant,
    compare,
    holm,
    open_executor,
    paired_difference,
    paired_p_value,
    policy_variants,
    replicate,
    replication_seeds,
    sweep_variants,
    t_interval,
)
from simulator.metrics import RunResult
from simulator.scenario import Scenario, load_scenario

TOY = "tests.test_experiment:toy_model"
TOY_RATE = 4.0  # mean of the toy's Poisson KPI per unit of baseline demand / 60


def toy_model(scenario: Scenario, seed: int, *, allocation=None, replenishment=None,
              progress=None) -> RunResult:
    """A known-distribution stand-in: ``demand`` is the mean of 10 Poisson draws with mean
    ``TOY_RATE * baseline/60``; a policy named ``slow`` adds 1 to ``lead`` (common noise)."""
    rng = np.random.default_rng(seed)
    mean = TOY_RATE * scenario.demand.baseline_orders_per_hour / 60
    demand = float(rng.poisson(mean, 10).mean())
    noise = float(rng.normal(0, 1))
    extra = 1.0 if allocation is not None and getattr(allocation, "name", "") == "slow" else 0.0
    return RunResult(
        scenario=scenario.name, seed=seed, allocation=getattr(allocation, "name", "scenario"),
        replenishment="scenario", horizon_hours=scenario.clock.horizon_hours,
        resolution_minutes=scenario.clock.resolution_minutes,
        kpis={"demand": demand, "lead": 5.0 + noise + extra},
        series_time=np.arange(3.0), series={"orders_placed": np.array([1, 2, 3])},
        samples={"lead_time_hours": np.array([1.0, 2.0])},
        tables={"sku_warehouse": [{"sku": 0, "warehouse": "W", "demand_units": demand}]},
    )


@pytest.fixture(scope="module")
def smoke(smoke_path) -> Scenario:
    return load_scenario(smoke_path)


def test_t_interval_matches_textbook_values():
    e = t_interval([1.0, 2.0, 3.0, 4.0])
    assert e.mean == 2.5
    # t_{0.975, 3} = 3.182446; s = 1.290994
    assert e.half_width == pytest.approx(3.182446 * 1.290994 / 2, rel=1e-5)
    assert e.covers(2.5) and e.significant  # [0.45, 4.55] excludes 0
    assert not t_interval([-1.0, 1.0, 0.5]).significant
    assert math.isinf(t_interval([7.0]).half_width)
    assert t_interval([]).n == 0


def test_ci_covers_the_analytic_mean_at_about_the_stated_rate(smoke):
    """200 experiments of 10 replications: the 95 % t-interval of the toy KPI (mean of 10
    Poisson(4) draws, analytic mean 4) covers 4 in 90-99 % of them."""
    covered = 0
    for experiment in range(200):
        runs = replicate(smoke, reps=10, base_seed=experiment, model=TOY)
        estimate = t_interval(r.kpis["demand"] for r in runs)
        covered += estimate.covers(TOY_RATE)
    assert 0.90 <= covered / 200 <= 0.99


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


class _Spec(PolicySpec):
    """A policy spec whose object is a named stand-in (the toy reads only the name)."""

    def build(self, kind: str):
        return _Named(self.name)


def test_paired_differences_remove_common_noise(smoke):
    """Common random numbers: the same seeds for both arms make the difference exact (the toy's
    only policy effect is +1), while independent seeds leave the noise in."""
    variants = [Variant("fast", _Spec("fast")), Variant("slow", _Spec("slow"))]
    cmp = compare(smoke, variants, reps=12, model=TOY)
    d = cmp.difference(1, "lead")
    assert d.mean == pytest.approx(1.0) and d.half_width == pytest.approx(0.0, abs=1e-12)
    assert d.significant and cmp.verdict(1, "lead") == "different"
    other = compare(smoke, variants[:1], reps=12, base_seed=99, model=TOY)
    independent = paired_difference(cmp.values(1, "lead"), other.values(0, "lead"))
    assert independent.half_width > 0.3


def test_seeds_are_reproducible_distinct_and_prefix_stable():
    a = replication_seeds(7, 5)
    assert a == replication_seeds(7, 5)
    assert len(set(a)) == 5 and all(0 <= s < 2**63 for s in a)
    assert replication_seeds(7, 8)[:5] == a  # more replications extend the same family
    assert not set(a) & set(replication_seeds(7, 5, stream=1))  # fresh seeds for validation
    assert replication_seeds(8, 5) != a


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=30))
def test_interval_contains_the_mean_and_shrinks_with_confidence(values):
    e95, e80 = t_interval(values, 0.95), t_interval(values, 0.80)
    assert e95.low <= e95.mean <= e95.high
    assert e80.half_width <= e95.half_width + 1e-9


def test_policy_variants_and_sweep_labels(smoke):
    variants = policy_variants(["nearest_with_stock", "least_cost"], ["s_S"])
    assert [v.label for v in variants] == ["nearest_with_stock / s_S", "least_cost / s_S"]
    grid = sweep_variants({"demand.baseline_orders_per_hour": [60, 120]}, variants)
    assert len(grid) == 4
    assert grid[3].label == "baseline_orders_per_hour=120 | least_cost / s_S"
    assert grid[3].scenario(smoke).demand.baseline_orders_per_hour == 120


def test_sweep_runs_each_cell_on_common_seeds(smoke, tmp_path):
    variants = sweep_variants({"demand.baseline_orders_per_hour": [60.0, 120.0]},
                              [Variant("scenario")])
    cmp = compare(smoke, variants, reps=6, model=TOY)
    assert [r.seed for r in cmp.runs[0]] == [r.seed for r in cmp.runs[1]] == cmp.seeds
    # doubling demand doubles the toy's Poisson mean: 4 -> 8
    assert cmp.estimate(1, "demand").covers(8.0) or abs(cmp.estimate(1, "demand").mean - 8) < 1
    assert cmp.verdict(1, "demand") == "different"
    data = cmp.to_dict()
    assert data["variants"][1]["vs_baseline"]["demand"]["mean"] > 0
    cmp.write_json(tmp_path / "c.json")
    cmp.write_csv(tmp_path / "c.csv")
    lines = (tmp_path / "c.csv").read_text().splitlines()
    assert lines[0].startswith("variant,kpi,mean,ci_low,ci_high")
    assert len(lines) == 1 + 2 * 2


def test_bad_override_fails_before_running(smoke):
    with pytest.raises(Exception, match="baseline_orders_per_hour"):
        compare(smoke, [Variant("x", overrides=(("demand.baseline_orders_per_hour", -1),))],
                reps=2, model=TOY)


def test_results_keep_only_what_is_asked(smoke):
    bare = replicate(smoke, reps=1, model=TOY)[0]
    assert bare.series == {} and bare.samples == {} and bare.tables == {}
    full = replicate(smoke, reps=1, model=TOY, keep={"series", "samples", "tables"})[0]
    assert full.series and full.samples and full.tables


def _kpis(runs: list[RunResult]) -> list[tuple[int, dict]]:
    return [(r.seed, r.kpis) for r in runs]


def test_process_pool_and_dask_match_serial(smoke):
    from distributed import Client, LocalCluster

    serial = replicate(smoke, reps=4, base_seed=3, model=TOY)
    with open_executor(jobs=2) as pool:
        pooled = replicate(smoke, reps=4, base_seed=3, model=TOY, executor=pool)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client, \
            open_executor(dask=client) as dask:
        distributed = replicate(smoke, reps=4, base_seed=3, model=TOY, executor=dask)
    assert _kpis(pooled) == _kpis(serial) == _kpis(distributed)


def test_open_executor_rejects_zero_jobs():
    with pytest.raises(ValueError), open_executor(jobs=0):
        pass


def failing_model(scenario, seed, **_):
    raise RuntimeError(f"model broke on seed {seed}")


def test_a_failed_replication_is_reported(smoke):
    with pytest.raises(RuntimeError, match="model broke"):
        replicate(smoke, reps=3, model="tests.test_experiment:failing_model")


def test_holm_matches_a_hand_checked_example():
    """p = .01 .04 .03 .005 (m = 4): sorted .005x4 = .02, .01x3 = .03, .03x2 = .06, .04x1 = .04
    -> .06 (kept non-decreasing)."""
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.01, math.nan, 0.04, 0.9])  # an untested KPI is not in the family
    assert math.isnan(adjusted[1])
    assert adjusted[[0, 2, 3]].tolist() == pytest.approx([0.03, 0.08, 0.9])


def test_paired_p_value_agrees_with_scipy_and_skips_equal_pairs():
    from scipy import stats

    a, b = [5.1, 4.8, 6.0, 5.5, 5.9], [4.9, 4.9, 5.2, 5.0, 5.1]
    assert paired_p_value(a, b) == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert math.isnan(paired_p_value([1.0, 2.0], [1.0, 2.0]))  # equal on every seed
    assert paired_p_value([2.0, 3.0], [1.0, 2.0]) == 0.0  # the same difference every time


def _noise_comparison(kpis: int, seed: int) -> Comparison:
    """Two variants whose ``kpis`` KPIs are independent pure noise: no real difference."""
    rng = np.random.default_rng(seed)
    runs = [[RunResult(scenario="noise", seed=i, allocation="a", replenishment="r",
                       horizon_hours=1, resolution_minutes=60,
                       kpis={f"k{j}": float(x) for j, x in enumerate(rng.normal(0, 1, kpis))})
             for i in range(8)] for _ in range(2)]
    return Comparison("noise", [Variant("a"), Variant("b")], list(range(8)), runs)


def test_holm_keeps_39_noise_kpis_from_looking_significant():
    """Unadjusted, about 2 of 39 noise KPIs pass a 5 % test by chance; Holm's correction
    leaves none significant."""
    cmp = _noise_comparison(39, seed=4)
    names = cmp.kpi_names()
    raw = [paired_p_value(cmp.values(1, k), cmp.values(0, k)) for k in names]
    assert sum(p < 0.05 for p in raw) >= 1  # chance alone makes "findings"
    assert cmp.tests == 39
    assert not any(cmp.significant(1, k) for k in names)
    assert all(cmp.verdict(1, k) == "" for k in names)
