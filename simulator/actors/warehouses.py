"""Fulfilment warehouses: wave picking limited by shift capacity, then handover to carriers.

One cycle, every ``wave_minutes``: release a wave of the postings waiting for picking, first
come first served (a posting queues from its creation: a visit in the world's visit log),
up to the pick capacity (units) of the coming ``wave_minutes`` (shift
calendar x capacity faults; capacity a wave leaves unused carries over only while postings
are still waiting and does not fit the next one); take their units off the shelf; after
``pack_minutes``, hand the postings that were not cancelled meanwhile to the first lane of
their route (awaiting_packaging -> awaiting_deliver). A warehouse on another warehouse's route
is a cross-dock: parcels arriving there go straight on.
"""

from __future__ import annotations

import numpy as np

from simulator.actors.postings import AWAITING_DELIVER, AWAITING_PACKAGING, RowQueue
from simulator.actors.schedule import CapacityCurve, call_at
from simulator.actors.world import World
from simulator.metrics import Tally
from simulator.network import LiveNetworkView
from simulator.scenario import Warehouse as WarehouseSpec


class Warehouse:
    """Picks, packs and hands over the postings allocated to one warehouse."""

    def __init__(self, world: World, index: int, spec: WarehouseSpec, capacity: CapacityCurve,
                 view: LiveNetworkView) -> None:
        self.world = world
        self.index = index  # warehouse index (stock column)
        self.node = world.network.warehouse_nodes[index]
        self.spec = spec
        self.capacity = capacity
        self.view = view
        self.queue = RowQueue()
        self.picked_units = Tally()  # units per wave
        self._carry = 0.0
        world.receivers[self.node] = self
        world.env.process(self._waves())

    def accept(self, ids: np.ndarray) -> None:
        """New postings to pick (their stock is already reserved, their queue visits logged:
        the buyers do both for all warehouses at once)."""
        self.queue.push(ids)

    def _waves(self):
        env = self.world.env
        wave = self.spec.wave_minutes
        while env.now < self.world.end:
            self._release(env.now, wave)
            yield env.timeout(wave)

    def _alive(self, ids: np.ndarray) -> np.ndarray:
        return self.world.postings.status[ids] == AWAITING_PACKAGING

    def _release(self, t: float, wave: float) -> None:
        if not len(self.queue):  # nothing to pick: no carry-over either
            self._carry = 0.0
            return
        p = self.world.postings
        budget = self.capacity.between(t, t + wave) + self._carry
        ids, used = self.queue.take(budget, self._alive, lambda rows: p.units[rows])
        self._carry = budget - used if len(self.queue) else 0.0
        if ids.size == 0:
            return
        p.picked[ids] = t
        lines = p.lines_of(ids)
        self.world.stock.pick(p.line_sku[lines], p.line_qty[lines], self.index, t)
        self.picked_units.add(t, used)
        self.world.visits.leave(ids, t, served=True)
        self.view.backlog_units[self.index] -= used
        call_at(self.world.env, t + self.spec.pack_minutes, lambda: self._handover(ids))

    def _handover(self, ids: np.ndarray) -> None:
        p = self.world.postings
        t = self.world.env.now
        ids = ids[p.status[ids] == AWAITING_PACKAGING]  # cancelled meanwhile: restocked
        p.transition(ids, AWAITING_DELIVER)
        p.handover[ids] = t
        self.world.dispatch(ids, self.node, t)

    def receive(self, ids: np.ndarray, times: np.ndarray, t: float) -> None:
        self.world.dispatch(ids, self.node, t)  # cross-dock
