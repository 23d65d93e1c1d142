"""The model against queueing and inventory theory, within 95 % confidence intervals.

Each test runs a small world where the theory applies exactly (the bundled examples in
``scenarios/examples/``, or ``tests/model_worlds.py``) over independent replications
(seeds 0..n-1):

* M/M/c: single-unit orders arrive as a Poisson process; the warehouse picks every minute with
  unbounded capacity; the lane to the sorting centre is continuous with an exponential transit
  time, so parcels reach the centre as a Poisson process (independent displacements of a
  Poisson process are Poisson). The centre runs in parcel-level mode: ``servers`` = c sorters,
  ``service_minutes`` exponential with mean 1/mu. Mean wait in queue (arrival -> service
  start) against Erlang C.
* Base stock with lost sales: one SKU, single-unit orders at Poisson rate lambda per day,
  constant supplier lead time L, continuous review order-up-to S (one unit ordered per unit
  sold). Demand finding nothing available is lost. Units on order behave as an Erlang loss
  system M/G/S/S with offered load lambda L, so the fill rate is 1 - ErlangB(S, lambda L).
* Little's law on the warehouse backlog: the time-average number of postings waiting for
  picking (the time-weighted backlog series) equals the posting rate times their mean wait
  (created -> picked); exactly over a run that starts and ends empty, and within the CI of
  the difference over a steady-state window.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulator.model import Simulation, run
from simulator.scenario import load_scenario

from .conftest import SCENARIOS
from .model_worlds import line_world

EXAMPLES = SCENARIOS / "examples"


def confidence_interval(values: list[float]) -> tuple[float, float]:
    """Mean and 95 % half-width (Student t) over replications."""
    x = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean()), float(half)


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of M/G/S/S (recursive form)."""
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def test_erlang_formulas() -> None:
    assert erlang_c_wait(lam=0.5, mu=1.0, c=1) == pytest.approx(1.0)  # M/M/1: rho/(mu - lam)
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)


@pytest.mark.slow
def test_mmc_sorting_centre_matches_erlang_c() -> None:
    """The bundled example ``scenarios/examples/mmc_sorting.yaml``, as its README shows it."""
    scenario = load_scenario(EXAMPLES / "mmc_sorting.yaml")
    sc = scenario.network.sorting_centres[0]
    per_hour, c, service = scenario.demand.baseline_orders_per_hour, sc.servers, 0.35
    assert sc.service_minutes.mean == service
    waits, utilisation = [], []
    for seed in range(6):
        result = run(scenario, seed)
        assert result.kpis["parcels_not_accepted"] == 0
        waits.append(result.kpis["sorting_wait_hours_mean"] * 60)
        utilisation.append(result.kpis["sorting_utilisation"])
    theory = erlang_c_wait(per_hour / 60, 1 / service, c)
    assert theory == pytest.approx(0.336, abs=5e-4)  # the value the README quotes
    mean, half = confidence_interval(waits)
    assert half < 0.15 * theory  # the interval is tight enough to mean something
    assert abs(mean - theory) <= half, (mean, half, theory)
    u_mean, u_half = confidence_interval(utilisation)
    assert abs(u_mean - 0.7) <= max(u_half, 0.01)


@pytest.mark.slow
def test_base_stock_fill_rate_matches_erlang_loss() -> None:
    """The bundled example ``scenarios/examples/base_stock_single_sku.yaml`` (fixed levels)."""
    scenario = load_scenario(EXAMPLES / "base_stock_single_sku.yaml")
    per_day = scenario.demand.baseline_orders_per_hour * 24
    lead_days, level = scenario.stock.supplier_lead_time_days.mean, 22
    fills = []
    for seed in range(8):
        sim = Simulation(scenario, seed)
        result = sim.run()
        stock = sim.stock
        # the position never exceeds S: on hand - reserved + on order == S at all times
        assert (stock.on_hand - stock.reserved + stock.on_order)[0, 0] == level
        fills.append(result.kpis["line_fill_rate"])
    theory = 1 - erlang_b(level, per_day * lead_days)
    assert theory == pytest.approx(0.893, abs=5e-4)  # the value the README quotes
    mean, half = confidence_interval(fills)
    assert half < 0.02
    assert abs(mean - theory) <= half, (mean, half, theory)


@pytest.mark.slow
def test_littles_law_on_warehouse_backlog() -> None:
    day = 24 * 60
    scenario = line_world(orders_per_hour=50, horizon_hours=72, warmup_hours=12,
                          pick_per_hour=60, wave_minutes=30, drain_hours=24)
    differences, levels = [], []
    for seed in range(6):
        sim = Simulation(scenario, seed)
        result = sim.run()
        p, n = sim.postings, sim.postings.n
        wait = p.picked[:n] - p.created[:n]
        # exact over the whole run (empty at start and, after the drain, at the end)
        area = sim.backlog("warehouse").mean(0, sim.end)[0] * sim.end
        assert area == pytest.approx(wait.sum(), rel=1e-9)
        # steady-state window: L from the hourly backlog series, lambda and W from postings
        w0, w1 = 12 * 60, 3 * day
        hours = result.series_time * 60
        level = result.series["backlog_warehouse"][(hours >= w0) & (hours < w1), 0].mean()
        inside = (p.created[:n] >= w0) & (p.created[:n] < w1)
        rate = inside.sum() / (w1 - w0)
        differences.append(level - rate * wait[inside].mean())
        levels.append(level)
    mean, half = confidence_interval(differences)
    assert abs(mean) <= half, (mean, half)
    assert half < 0.05 * np.mean(levels)
