"""Carriers: line-haul trucks on scheduled lanes, couriers on continuous ones.

A :class:`Carrier` serves one lane. Scheduled lanes (``departures``, local time of the lane's
origin) run up to ``trucks`` trucks at each departure time; one cycle is: if the destination
is closed, re-route the waiting parcels (``on_node_closed: reroute``) or keep them (``wait``);
otherwise load up to ``trucks x truck_capacity`` waiting parcels first come first served
(parcels cancelled at the warehouse dock are dropped) into as few trucks as hold them, sample
the departure's transit time once (plus any lane-fault delay), and unload them all at the
destination when it arrives. Each parcel costs ``cost_per_parcel_rub`` plus its share of
``cost_per_truck_rub`` of the trucks that left (a half-empty truck costs a whole one).
Continuous lanes (no departures: couriers, last mile) send every parcel as soon as it is
handed over, each with its own sampled transit time; while their destination is closed they
hold parcels and send them when it reopens.

Parcels leaving a warehouse move awaiting_deliver -> delivering when loaded.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.actors.postings import AWAITING_DELIVER, CANCELLED, DELIVERING, RowQueue
from simulator.actors.schedule import call_at, call_batches_at, daily_times
from simulator.actors.world import World
from simulator.metrics import Tally
from simulator.network import REGION, WAREHOUSE, LaneInfo


class Carrier:
    """The trucks or couriers of one lane."""

    def __init__(self, world: World, lane: LaneInfo) -> None:
        self.world = world
        self.lane = lane
        self.queue = RowQueue()
        self.parcels = 0  # parcels carried
        self.trucks = Tally()  # scheduled lanes: parcels per truck that left with any
        self._truck_cost = lane.spec.cost_per_truck_rub
        self._from_warehouse = world.network.kinds[lane.src] == WAREHOUSE
        self._to_region = world.network.kinds[lane.dst] == REGION
        self._rng = world.streams["transit"]
        if lane.continuous:
            world.on_close_change.append(self._on_close_change)
        else:
            world.env.process(self._timetable())

    # ------------------------------------------------------------------ helpers

    def _alive(self, ids: np.ndarray) -> np.ndarray:
        return self.world.postings.status[ids] != CANCELLED

    def _load(self, ids: np.ndarray, t: float, trucks: int = 0) -> None:
        p = self.world.postings
        if self._from_warehouse:
            leaving = ids[p.status[ids] == AWAITING_DELIVER]
            p.transition(leaving, DELIVERING)
            p.shipped[leaving] = t
        cost = self.lane.spec.cost_per_parcel_rub
        if trucks and self._truck_cost:
            cost += trucks * self._truck_cost / ids.size
        p.cost[ids] += cost
        self.parcels += ids.size

    def _transit_minutes(self, n: int, t: float) -> np.ndarray:
        hours = self.lane.spec.transit_hours.sample(self._rng, n)
        return hours * 60 + self.world.network.faults.lane_delay(self.lane.index, t)

    def enqueue(self, ids: np.ndarray, t: float) -> None:
        if self.lane.continuous and not len(self.queue) and self.lane.dst not in self.world.closed:
            self._ship(ids[self._alive(ids)], t)  # nothing waiting: straight on, no queue
            return
        self.queue.push(ids)
        if self.lane.continuous:
            self._send(t)

    # ------------------------------------------------------------------ scheduled lanes

    def _timetable(self):
        world = self.world
        env = world.env
        offset = world.network.offset[self.lane.src]
        for t in daily_times(self.lane.departures, world.scenario.clock, offset, world.end):
            yield env.timeout(t - env.now)
            self._depart(t)

    def _depart(self, t: float) -> None:
        world = self.world
        if self.lane.dst in world.closed:
            if world.network.reroute_on_close and len(self.queue):
                ids, _ = self.queue.take(math.inf, self._alive)
                moved = world.reroute(ids, self.lane.src)
                world.dispatch(ids[moved], self.lane.src, t)
                self.queue.push(ids[~moved])
            return
        spec = self.lane.spec
        ids, _ = self.queue.take(spec.trucks * spec.truck_capacity, self._alive)
        if ids.size == 0:
            return
        trucks = -(-ids.size // spec.truck_capacity)
        self._load(ids, t, trucks)
        for k in range(trucks):
            self.trucks.add(t, min(spec.truck_capacity, ids.size - k * spec.truck_capacity))
        arrival = t + float(self._transit_minutes(1, t)[0])
        times = np.full(ids.size, arrival)
        call_at(world.env, arrival, lambda: world.arrive(ids, times, self.lane.dst))

    # ------------------------------------------------------------------ continuous lanes

    def _send(self, t: float) -> None:
        world = self.world
        if self.lane.dst in world.closed:
            return  # held until the destination reopens
        ids, _ = self.queue.take(math.inf, self._alive)
        self._ship(ids, t)

    def _ship(self, ids: np.ndarray, t: float) -> None:
        """Send ``ids`` (alive, in queue order) now, each with its own transit time."""
        if ids.size == 0:
            return
        world = self.world
        self._load(ids, t)
        times = t + self._transit_minutes(ids.size, t)
        if self._to_region:
            world.postings.hop[ids] += 1
            world.deliver(ids, times)
        else:
            call_batches_at(world.env, times, ids,
                            lambda i, tt: world.arrive(i, tt, self.lane.dst))

    def _on_close_change(self, node: int, closed: bool) -> None:
        if node == self.lane.dst and not closed and len(self.queue):
            self._send(self.world.env.now)
