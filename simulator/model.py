"""The discrete-event model: actors wired into one ``simpy.Environment``; ``run() -> RunResult``.

A replication is a pure function of ``(scenario, seed)``: every random input comes from its
own ``numpy.random.Generator`` spawned from ``SeedSequence(seed)`` (one stream per kind of
input, so changing one input leaves the others' draws alone), nothing is global, and the same
seed gives an identical result.

Stock and the replenishment prior are planned on the forecast; orders are sampled from the
demand that happens (the scenario's demand, times this replication's demand shock if any).

Order of one run: sample all arrivals of the horizon (vectorised); start the actors (buyers,
warehouses, sorting centres and hubs, carriers of every lane, the replenisher, fault
switches, buyer returns); run the clock to ``horizon + drain``; settle deliveries; collect the
KPIs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import simpy

import simulator.policies  # noqa: F401  (registers the built-in policies)
from simulator.actors.buyers import Buyers
from simulator.actors.carriers import Carrier
from simulator.actors.postings import Postings
from simulator.actors.returns import Returns
from simulator.actors.schedule import CapacityCurve, dated_rates, shift_rates
from simulator.actors.sorting import ServerCentre, WaveNode
from simulator.actors.stock import LedgerStockView, StockLedger
from simulator.actors.suppliers import Replenisher
from simulator.actors.warehouses import Warehouse
from simulator.actors.world import World
from simulator.demand import DemandCurve, build_skus, draw_shock, sample_arrivals
from simulator.metrics import LevelMonitor, RunResult, collect
from simulator.network import HUB_WAVE_MINUTES, LiveNetworkView, Network
from simulator.policies.base import (
    AllocationPolicy,
    ReplenishmentPolicy,
    allocation_policies,
    replenishment_policies,
)
from simulator.scenario import Scenario, hhmm_to_minutes
from simulator.stocking import initial_stock

# new streams go at the end: a child's seed depends on its position only, so appending one
# leaves the draws of the others unchanged
STREAMS = ("arrivals", "regions", "baskets", "skus", "cancels", "transit", "suppliers",
           "service", "returns", "shock")

Progress = Callable[[float, float], None]


def make_streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per kind of random input, spawned from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child)
            for name, child in zip(STREAMS, children, strict=True)}


class Simulation:
    """One replication, built and ready to :meth:`run`; its parts stay inspectable afterwards."""

    def __init__(self, scenario: Scenario, seed: int, *,
                 allocation: AllocationPolicy | None = None,
                 replenishment: ReplenishmentPolicy | None = None) -> None:
        self._began = time.perf_counter()
        self.scenario, self.seed = scenario, seed
        choice = scenario.policies
        self.allocation = allocation or allocation_policies.create(
            choice.allocation.name, choice.allocation.params)
        self.replenishment = replenishment or replenishment_policies.create(
            choice.replenishment.name, choice.replenishment.params)
        self.streams = make_streams(seed)
        clock = scenario.clock
        self.network = net = Network(scenario)
        self.skus = build_skus(scenario.catalogue)
        self.shock = draw_shock(scenario, self.streams["shock"])
        self.curve = DemandCurve(scenario, self.skus, shock=self.shock)
        self.forecast = DemandCurve(scenario, self.skus, scenario.forecast_demand())
        self.arrivals = sample_arrivals(scenario, self.curve, self.streams)
        self.end = clock.horizon_minutes + clock.drain_hours * 60
        self.window = (clock.warmup_hours * 60, clock.horizon_minutes)
        minutes = math.ceil(self.end) + 1

        initial = initial_stock(scenario, self.skus.group, self.skus.group_names,
                                self.forecast.sku_daily_units())
        self.stock = StockLedger(initial, self.window)
        # room for ~1.2 postings an order (some split over warehouses) and their lines
        self.postings = Postings(capacity=int(self.arrivals.count * 1.25) + 64,
                                 line_capacity=int(self.arrivals.sku.size * 1.1) + 64)
        self.env = simpy.Environment()
        self.world = world = World(env=self.env, scenario=scenario, network=net,
                                   streams=self.streams, postings=self.postings,
                                   stock=self.stock, order_region=self.arrivals.region,
                                   end=self.end, window=self.window)

        faults = net.faults.node
        offset = [net.offset[node] for node in net.warehouse_nodes]
        self.warehouse_capacity = [
            CapacityCurve.build(clock, minutes, weekly=shift_rates(w.shifts),
                                faults=faults.get(net.index[w.id], ()), offset=offset[i],
                                dated=dated_rates(w.shifts, clock, minutes, offset[i]))
            for i, w in enumerate(scenario.network.warehouses)]
        mean_per_hour = [float(np.mean(shift_rates(w.shifts))) * 60
                         for w in scenario.network.warehouses]
        self.network_view = LiveNetworkView(net, mean_per_hour)
        n_w = len(scenario.network.warehouses)
        self.warehouses = [
            Warehouse(world, i, spec, self.warehouse_capacity[i], self.network_view)
            for i, spec in enumerate(scenario.network.warehouses)]

        self.sorting_capacity = []
        self.sorting = []
        for sc in scenario.network.sorting_centres:
            node = net.index[sc.id]
            capacity = CapacityCurve.build(clock, minutes, per_hour=sc.capacity_per_hour,
                                           faults=faults.get(node, ()))
            self.sorting_capacity.append(capacity)
            if sc.servers is not None:
                actor = ServerCentre(world, node, servers=sc.servers, service=sc.service_minutes,
                                     capacity=capacity,
                                     tolerance_minutes=sc.late_tolerance_hours * 60,
                                     refuse_when_closed=sc.when_closed == "refuse")
            else:
                actor = WaveNode(world, node, wave_minutes=sc.wave_minutes, capacity=capacity,
                                 cutoffs=[hhmm_to_minutes(c) for c in sc.cutoffs],
                                 tolerance_minutes=sc.late_tolerance_hours * 60,
                                 refuse_when_closed=sc.when_closed == "refuse")
            self.sorting.append(actor)
        self.hubs = [
            WaveNode(world, net.index[h.id], wave_minutes=HUB_WAVE_MINUTES,
                     capacity=CapacityCurve.build(clock, minutes, per_hour=h.capacity_per_hour,
                                                  faults=faults.get(net.index[h.id], ())),
                     cutoffs=[], tolerance_minutes=None, refuse_when_closed=False)
            for h in scenario.network.hubs]
        world.carriers = self.carriers = [Carrier(world, lane) for lane in net.lanes]
        world.returns = self.returns = Returns(world, self.skus.group)
        for start, stop, node in net.faults.closures():
            self.env.process(self._closure(start, stop, node))

        # home[sku, region]: nearest warehouse carrying the SKU; demand priors and lost sales
        home = net.home_warehouse(self.stock.carried)
        weights = np.array([r.weight for r in scenario.network.regions])
        share = np.zeros((self.skus.count, n_w))
        for r, weight in enumerate(weights / weights.sum()):
            share[np.arange(self.skus.count), home[:, r]] += weight
        prior = self.forecast.sku_daily_units()[:, None] * share
        self.replenisher = Replenisher(world, self.replenishment, prior, home, self.skus.group)
        self.buyers = Buyers(world, self.arrivals, self.allocation,
                             LedgerStockView(self.stock, net.warehouse_ids), self.network_view,
                             self.warehouses, self.replenisher)
        self.replenisher.buyers = self.buyers
        self.home_warehouse = home
        self.wall_seconds = 0.0

    def backlog(self, kind: str) -> LevelMonitor:
        """Parcels queued at each node of ``kind`` (``warehouse``, ``sorting_centre``, ``hub``)
        over time, one column per node in scenario order, read from the visit log."""
        return self.world.visits.backlog(self.network.nodes_of(kind))

    def _closure(self, start: float, stop: float, node: int):
        env, world, net = self.env, self.world, self.network
        yield env.timeout(max(start, 0.0))
        world.set_closed(node, True)
        if node in net.warehouse_nodes:
            self.network_view.set_open(net.ids[node], False)
        yield env.timeout(max(stop - env.now, 0.0))
        world.set_closed(node, False)
        if node in net.warehouse_nodes and node not in world.closed:
            self.network_view.set_open(net.ids[node], True)

    def run(self, progress: Progress | None = None) -> RunResult:
        """Run to ``horizon + drain``; ``progress(simulated_minutes, total)`` after each chunk.

        Afterwards ``wall_seconds`` counts from the start of building the simulation (it is
        not part of the result, which depends on the scenario and the seed only).
        """
        chunk = max(60.0, self.end / 200)
        t = 0.0
        while t < self.end:
            t = min(t + chunk, self.end)
            self.env.run(until=t)
            if progress is not None:
                progress(t, self.end)
        self.world.finish_deliveries(self.end)
        self.stock.finish(self.end)
        result = collect(self)
        self.wall_seconds = time.perf_counter() - self._began
        return result


def run(scenario: Scenario, seed: int, *, allocation: AllocationPolicy | None = None,
        replenishment: ReplenishmentPolicy | None = None,
        progress: Progress | None = None) -> RunResult:
    """One replication of ``scenario`` with ``seed``; policy objects override the scenario's."""
    return Simulation(scenario, seed, allocation=allocation,
                      replenishment=replenishment).run(progress)
