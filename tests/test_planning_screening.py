"""The planner's inventory-only model against the full simulator, and demand shared across
the variants of one seed (scenarios/smoke.yaml)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.demand import shared_demand
from simulator.experiment import Job, replication_seeds, run_job, t_interval
from simulator.model import Simulation
from simulator.planning import _evaluate, plan_variant
from simulator.scenario import Scenario, load_scenario
from simulator.screening import InventoryModel, seed_demand


@pytest.fixture(scope="module")
def smoke(smoke_path) -> Scenario:
    return load_scenario(smoke_path)


def test_seed_demand_is_the_full_models_demand(smoke):
    """Same seed, same orders: the units per (SKU, region) the model's arrivals hold."""
    sim = Simulation(smoke, 5)
    a = sim.arrivals
    order = np.repeat(np.arange(a.count), np.diff(a.line_start))
    expected = np.zeros((smoke.catalogue.sku_count, len(smoke.network.regions)))
    np.add.at(expected, (a.sku, a.region[order]), a.qty)
    assert np.array_equal(seed_demand(smoke, 5), expected) and expected.sum() > 1000


@pytest.mark.timeout(300)
def test_inventory_model_fill_rate_agrees_with_the_full_model(smoke):
    """Stock of about a mean day's demand per pair (some pairs run out): the inventory model's
    fill rate lies within the full model's confidence interval on the same seeds, and the
    paired gap (what re-routing and cancellations add) is small."""
    seeds = replication_seeds(7, 6)
    warehouses = [w.id for w in smoke.network.warehouses]
    n_w = len(warehouses)
    sku = np.repeat(np.arange(smoke.catalogue.sku_count), n_w)
    wh = np.tile(np.arange(n_w), smoke.catalogue.sku_count)
    inventory = InventoryModel(smoke, [seed_demand(smoke, s) for s in seeds], sku, wh)
    mean = inventory.evaluate(np.ones(len(sku))).demand.mean(axis=0)
    big_s = np.floor(mean).astype(np.int64)
    stocked = big_s > 0
    screened = inventory.evaluate(np.where(stocked, big_s, 0))
    names = [warehouses[w] for w in wh[stocked]]
    variant = plan_variant("s_S", {}, sku[stocked], names, big_s[stocked], big_s[stocked])
    index = {(int(k), w): i for i, (k, w) in enumerate(zip(sku[stocked], names, strict=True))}
    full = _evaluate([run_job(Job(smoke, variant, s, frozenset({"tables"}))) for s in seeds],
                     index)
    inv = t_interval(screened.fills)
    assert 0.85 < full.fill_rate.mean < 0.99  # stock-outs happen: the comparison means something
    assert full.fill_rate.covers(inv.mean)
    gap = t_interval(full.per_seed - screened.fills)
    assert abs(gap.mean) < 0.02
    # lost units land at the same pairs (home warehouses) in both
    lost_full = full.lost / max(full.lost.sum(), 1)
    lost_inv = screened.lost.mean(axis=0) / max(screened.lost.mean(axis=0).sum(), 1)
    assert np.abs(lost_full - lost_inv).sum() < 0.5


def test_shared_demand_gives_the_same_orders_and_generator_states(smoke):
    plain = Simulation(smoke, 9)
    other = smoke.with_overrides(**{"policies.allocation.name": "single_warehouse"})
    with shared_demand():
        first = Simulation(smoke, 9)
        second = Simulation(other, 9)  # another variant: served from the shared sample
        moved = Simulation(smoke.with_overrides(**{"demand.baseline_orders_per_hour": 90}), 9)
    for sim in (first, second):
        for field in ("time", "region", "line_start", "sku", "qty", "cancel_at"):
            assert np.array_equal(getattr(sim.arrivals, field), getattr(plain.arrivals, field))
        assert all(sim.streams[n].bit_generator.state == plain.streams[n].bit_generator.state
                   for n in plain.streams)
    assert second.arrivals.time is not first.arrivals.time  # copies: a run cannot touch another
    assert moved.arrivals.count > plain.arrivals.count  # other demand: sampled afresh
