"""Inventory-only evaluation of stock plans: the planner screens candidate levels here and
checks the one it would recommend on the full model.

A replication's demand is the full model's own demand stream: the same generators spawned
from the same seed (:func:`simulator.model.make_streams`) and the same sampling
(:func:`simulator.demand.sample_arrivals`), so a seed gives the very orders the full model
would see (common random numbers), sampled once per seed and shared by every candidate plan.
Each line of a counted order (arriving after the warm-up) is booked at its home warehouse:
the nearest by the scenario's routing among those a plan stocks (where the full model sends
it first and books its lost sales). A pair fills ``min(demand, S)``, everything else is lost.

That is the inventory part of the model only: no re-routing to a farther warehouse when the
home one runs out, no replenishment arriving within the horizon, no cancellations putting
units back. The planner corrects for what it leaves out with a paired offset per seed (the
full model's fill rate minus this one's, for the same plan on the same seed) measured when it
confirms a candidate on the full model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulator.demand import DemandCurve, build_skus, draw_shock, sample_arrivals
from simulator.scenario import Scenario


def seed_demand(scenario: Scenario, seed: int) -> np.ndarray:
    """Units demanded per ``[sku, region]`` by the counted orders of replication ``seed``
    (top-level so executors can run it)."""
    from simulator.model import make_streams

    streams = make_streams(seed)
    skus = build_skus(scenario.catalogue)
    curve = DemandCurve(scenario, skus, shock=draw_shock(scenario, streams["shock"]))
    arrivals = sample_arrivals(scenario, curve, streams)
    n_r = len(scenario.network.regions)
    counts = np.diff(arrivals.line_start)
    counted = np.repeat(arrivals.time >= scenario.clock.warmup_hours * 60, counts)
    region = np.repeat(arrivals.region.astype(np.int64), counts)[counted]
    codes = arrivals.sku[counted].astype(np.int64) * n_r + region
    units = np.bincount(codes, weights=arrivals.qty[counted], minlength=skus.count * n_r)
    return units.reshape(skus.count, n_r)


@dataclass
class Screened:
    """A plan on the inventory model: per seed fill rates, per pair demand and lost units
    (``[seed, pair]``, pairs as the plan lists them)."""

    fills: np.ndarray
    demand: np.ndarray
    lost: np.ndarray
    out: np.ndarray  # [seed, pair]: the pair's stock ran out (demand reached S)


class InventoryModel:
    """Plans ``S`` per pair ``(sku[i], warehouse[i])`` evaluated on the demand of ``seeds``."""

    def __init__(self, scenario: Scenario, demand: Sequence[np.ndarray], sku: np.ndarray,
                 warehouse: np.ndarray) -> None:
        from simulator.network import Network

        self.network = Network(scenario)
        self.units = np.stack([np.asarray(d, dtype=float) for d in demand])  # [seed, sku, r]
        self.sku = np.asarray(sku, dtype=np.int64)
        self.warehouse = np.asarray(warehouse, dtype=np.int64)
        self.n_w = len(self.network.warehouse_ids)
        self.codes = self.sku * self.n_w + self.warehouse

    def pair_demand(self, big_s: np.ndarray) -> np.ndarray:
        """Units per ``[seed, sku * W + warehouse]`` with lines at their home warehouse among
        those stocked by the plan (any warehouse for a SKU the plan stocks nowhere)."""
        n_seeds, n_s, n_r = self.units.shape
        carried = np.zeros((n_s, self.n_w), dtype=bool)
        carried.reshape(-1)[self.codes[np.asarray(big_s) > 0]] = True
        home = self.network.home_warehouse(carried)  # [sku, region]
        target = (np.arange(n_s)[:, None] * self.n_w + home).reshape(-1)
        out = np.zeros((n_seeds, n_s * self.n_w))
        for i in range(n_seeds):
            out[i] = np.bincount(target, weights=self.units[i].reshape(-1),
                                 minlength=n_s * self.n_w)
        return out

    def evaluate(self, big_s: np.ndarray) -> Screened:
        """Fill rates and pair losses of the plan ``S`` (initial stock per pair)."""
        demand = self.pair_demand(big_s)
        stock = np.zeros(demand.shape[1])
        stock[self.codes] = np.asarray(big_s, dtype=float)
        filled = np.minimum(demand, stock)
        total = demand.sum(axis=1)
        fills = np.divide(filled.sum(axis=1), total, out=np.full(total.shape, math.nan),
                          where=total > 0)
        pair_d, pair_f = demand[:, self.codes], filled[:, self.codes]
        out = (pair_d >= stock[self.codes]) & (pair_d > 0)
        return Screened(fills, pair_d, pair_d - pair_f, out)
