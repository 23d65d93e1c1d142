"""The model against queueing and inventory theory, within 95 % confidence intervals.

Each test builds a small world where the theory applies exactly (``tests/model_worlds.py``)
and runs independent replications (seeds 0..n-1):

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

from simulator.model import Simulation
from simulator.policies.replenishment import BaseStock

from .model_worlds import line_world


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
    per_hour, c, service = 240.0, 2, 0.35  # lambda = 4/min, mu = 1/0.35 per min, rho = 0.7
    scenario = line_world(
        orders_per_hour=per_hour, horizon_hours=24, warmup_hours=2, drain_hours=3,
        sorting={"capacity_per_hour": c * 60 / service, "servers": c,
                 "service_minutes": {"dist": "exponential", "mean": service}},
        to_sorting_hours={"dist": "exponential", "mean": 0.5},
    )
    waits, utilisation = [], []
    for seed in range(6):
        sim = Simulation(scenario, seed)
        result = sim.run()
        visits = sim.world.visits
        rows = visits.rows(sim.network.nodes_of("sorting_centre"))
        rows = rows[visits.joined[rows] >= 2 * 60]
        assert visits.served[rows].all()  # nobody refused
        waits.append(float(visits.waits(rows, sim.end).mean()))
        utilisation.append(result.kpis["sorting_utilisation"])
    theory = erlang_c_wait(per_hour / 60, 1 / service, c)
    mean, half = confidence_interval(waits)
    assert half < 0.15 * theory  # the interval is tight enough to mean something
    assert abs(mean - theory) <= half, (mean, half, theory)
    u_mean, u_half = confidence_interval(utilisation)
    assert abs(u_mean - 0.7) <= max(u_half, 0.01)


@pytest.mark.slow
def test_base_stock_fill_rate_matches_erlang_loss() -> None:
    per_day, lead_days, level = 20.0, 1.0, 22
    scenario = line_world(orders_per_hour=per_day / 24, horizon_hours=24 * 45,
                          warmup_hours=24 * 3, lead_time_days=lead_days, initial_units=level,
                          wave_minutes=60)
    fills = []
    for seed in range(8):
        policy = BaseStock(levels={(0, "WH"): (level - 1, level)})
        sim = Simulation(scenario, seed, replenishment=policy)
        result = sim.run()
        stock = sim.stock
        # the position never exceeds S: on hand - reserved + on order == S at all times
        assert (stock.on_hand - stock.reserved + stock.on_order)[0, 0] == level
        fills.append(result.kpis["line_fill_rate"])
    theory = 1 - erlang_b(level, per_day * lead_days)
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
